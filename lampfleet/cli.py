"""`lampfleet` command: a table of subcommands, each defined in the module of the component that owns it.

Subcommand modules are imported only when their command runs, so `lampfleet airtime` does not pay for
importing the gateway, and a broken optional dependency of one component cannot break the others.
Each module named here exposes a click command called `command`.
"""
from __future__ import annotations

import importlib
import sys

import click

# name -> (module, one-line help). Keep sorted by user: technicians, crews, engineers.
COMMANDS: dict[str, tuple[str, str]] = {
    "flash": ("tools.cmd_flash", "Flash and provision lamps over USB serial, one or a whole bench."),
    "provision": ("tools.cmd_provision", "Give a lamp its identity, a fresh key, site and settings."),
    "device": ("tools.cmd_device", "Inspect a lamp: info, logs, shell, reset, config get/set."),
    "airtime": ("lampfleet.airtime", "Time on air of a LoRa frame and the daily airtime of a reporting profile."),
    "demo": ("lampfleet.demo", "Broker, gateway and emulated lamps with one fault: watch the alert arrive."),
    "emulate": ("emulator.cli", "Run emulated lamps on simulated sun, battery, LED and radio."),
    "gateway": ("gateway.cli.service", "Run the gateway service: ingest, store, detect, alert."),
    "broker-config": ("gateway.cli.service:broker_config_command",
                      "mosquitto config from the registry: TLS, a login and topics per lamp."),
    "lamps": ("gateway.cli.lamps", "Registry of lamps and kits: list, show, add, import, export (never keys)."),
    "status": ("gateway.cli.status", "Fleet health by site: lit, dimmed, dark, silent."),
    "alerts": ("gateway.cli.alerts", "Alerts: list, acknowledge, resolve, silence, audit trail."),
    "downlink": ("gateway.cli.downlink", "Queue a command or settings for a lamp: test on, time sync, status_interval_s=..."),
    "history": ("gateway.cli.history", "A lamp's readings over time: table, JSON or PNG plot."),
    "users": ("gateway.cli.users", "Console users: add, list, disable, passwd (roles viewer, crew, engineer, admin)."),
    "console": ("gateway.cli.console", "Serve the operations console and the JSON API beside a running gateway."),
    "api-token": ("gateway.cli.api_token", "Bearer tokens for the HTTP API: add (shown once), list, revoke."),
    "bench": ("gateway.bench", "Benchmarks (ingest: frames/s against bare paho, backlog replay)."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module_name, _, attr = COMMANDS[cmd_name][0].partition(":")  # "module" or "module:attribute"
        return getattr(importlib.import_module(module_name), attr or "command")

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup)
@click.version_option(package_name="lampfleet")
def cli() -> None:
    """lampfleet: solar street lamps and safety-kit lanterns, from firmware to crew alerts."""


def main() -> None:
    try:
        cli(standalone_mode=True)
    except KeyboardInterrupt:
        sys.exit(130)
