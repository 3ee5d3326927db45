"""`lampfleet downlink LAMP --time-sync | --test-on MIN | --reboot | --status-now | --battery-replaced |
--set NAME=VALUE ...`:
queue a command or a config change for a lamp.

The request waits in the gateway's database (gateway/link/downlinks.py); the running service publishes it
on `lampfleet/<id>/down` after the lamp's next uplink and resends it until the lamp's dlack closes it
(state `acked`, result `applied`, `invalid` or `unsupported`). Settings and commands: docs/wire-format.md,
"Downlinks".
"""
from __future__ import annotations

from pathlib import Path

import click

from gateway.cli.common import common_options, emit, open_db, settings_from


def _setting(text: str) -> tuple[str, int]:
    name, sep, value = text.partition("=")
    if not sep or not name or not value.strip().isdigit():
        raise click.BadParameter(f"{text!r}: use NAME=VALUE with a whole non-negative VALUE, e.g. status_interval_s=300")
    return name.strip(), int(value)


@click.command("downlink")
@common_options
@click.argument("lamp_id")
@click.option("--time-sync", is_flag=True, help="Set the lamp's clock (the gateway's time when the frame is built).")
@click.option("--test-on", "test_on", type=click.IntRange(1, 24 * 60), metavar="MIN", help="Light the lamp for MIN minutes.")
@click.option("--reboot", is_flag=True, help="Reboot the lamp.")
@click.option("--status-now", is_flag=True, help="Ask for a status frame at once.")
@click.option("--battery-replaced", is_flag=True,
              help="A new battery was fitted: the lamp forgets the old one's health (clears batteryDegraded).")
@click.option("--set", "settings_", multiple=True, metavar="NAME=VALUE",
              help="Change a setting (repeatable, up to 7), e.g. --set status_interval_s=300.")
def command(config_path: Path | None, database: Path | None, as_json: bool, lamp_id: str, time_sync: bool,
            test_on: int | None, reboot: bool, status_now: bool, battery_replaced: bool,
            settings_: tuple[str, ...]) -> None:
    """Queue a command or settings for LAMP; sent after its next uplink, resent until the lamp acknowledges it."""
    chosen = [name for name, on in (("time_sync", time_sync), ("test_on", test_on is not None), ("reboot", reboot),
                                    ("status_now", status_now), ("battery_replaced", battery_replaced),
                                    ("config", bool(settings_))) if on]
    if len(chosen) != 1:
        raise click.UsageError("give exactly one of --time-sync, --test-on MIN, --reboot, --status-now, "
                               "--battery-replaced, --set NAME=VALUE")
    settings = settings_from(config_path, database)
    conn = open_db(settings)
    if conn.execute("SELECT 1 FROM lamps WHERE lamp_id=?", (lamp_id,)).fetchone() is None:
        raise click.ClickException(f"no lamp {lamp_id!r} in the registry")
    from gateway.link.downlinks import DownlinkQueue

    queue = DownlinkQueue(conn)
    cmd = chosen[0]
    try:
        if cmd == "config":
            values = dict(_setting(s) for s in settings_)
            dl_id = queue.enqueue(lamp_id, "config", settings=values)
            data = {"id": dl_id, "lamp_id": lamp_id, "settings": values, "state": "pending"}
            text = ", ".join(f"{k}={v}" for k, v in values.items())
        else:
            dl_id = queue.enqueue(lamp_id, "command", command=cmd, arg=test_on if cmd == "test_on" else 0)
            data = {"id": dl_id, "lamp_id": lamp_id, "command": cmd, "arg": test_on or 0, "state": "pending"}
            text = cmd + (f" ({test_on} min)" if test_on else "")
    except ValueError as e:
        raise click.ClickException(str(e)) from e
    emit(data, as_json, lambda: click.echo(f"queued downlink {dl_id}: {text} for {lamp_id}; sent after its next uplink"))
