"""`lampfleet emulate`: run emulated lamps on simulated sun, weather, battery, LED and radio."""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import click

from emulator.faults import FaultSpecError, for_lamp, parse
from emulator.scenario import Scenario, make_fleet
from emulator.start import StartError, check_in_trace, first_noon, local_text, parse_start


class InputError(click.ClickException):
    """A bad --start, --faults or --export-registry: one line, exit status 2 as for click's usage errors
    (without click's usage banner, which says nothing about what was wrong)."""

    exit_code = 2


def _controller_settings(controller: str) -> dict:
    if controller == "adaptive":
        return {}
    if controller.startswith("fixed:"):
        try:
            pct = int(controller.split(":", 1)[1])
        except ValueError:
            pct = -1
        if 0 <= pct <= 100:
            return {"controller": f"fixed:{pct}"}
    raise click.BadParameter("use 'adaptive' or 'fixed:PCT' with PCT in 0-100", param_hint="--controller")


@click.command("emulate")
@click.option("--lamps", "n_lamps", default=1, show_default=True, type=click.IntRange(1, 100000))
@click.option("--days", default=1.0, show_default=True, type=click.FloatRange(min=0.01))
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--site", default="bangui", show_default=True)
@click.option("--weather", "weather_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Weather trace CSV (timestamp,ghi_w_m2,temp_c).")
@click.option("--controller", default="adaptive", show_default=True, help="adaptive | fixed:PCT")
@click.option("--loss", default=0.0, show_default=True, type=click.FloatRange(0.0, 1.0),
              help="Fraction of frames lost on the way to the network (seeded).")
@click.option("--start", "start_text", metavar="DATE[THH:MM]",
              help="When the run starts: an ISO date (that day at 12:00 in the site's time zone) or date and "
                   "time (naive: the site's zone). Default: 2026-08-01 12:00, or with --weather the trace's "
                   "first noon.")
@click.option("--faults", "--fault", "fault_specs", multiple=True, metavar="SPEC",
              help="LAMP:[-]FAULT[=VALUE][@WHEN], e.g. '2:led_open@30h,3:soiling=0.5@1d'; repeatable. WHEN "
                   "counts from the run's start (--start; by default 12:00 of the first day), so 2:led_open@6h "
                   "is 18:00 that day (docs/emulator.md).")
@click.option("--mode", type=click.Choice(["upy", "fleet"]), default="upy", show_default=True,
              help="upy: the firmware on the MicroPython unix port, one process per lamp; "
                   "fleet: the same firmware source for every lamp in this CPython process.")
@click.option("--interpreter", type=click.Choice(["unix", "wasm32"]), default="unix", show_default=True,
              help="With --mode upy: unix, the 64-bit unix port; wasm32, the 32-bit webassembly port under "
                   "node, whose heap is an ESP32's (docs/emulator.md).")
@click.option("--broker", help="Publish frames to this MQTT broker (mqtt://host:port, or mqtts://host:port for TLS). "
              "A gateway stores them once it knows the lamps: see --export-registry.")
@click.option("--broker-ca", type=click.Path(exists=True, dir_okay=False),
              help="With an mqtts:// broker: the CA that signed its certificate (default: the system's CAs).")
@click.option("--lamp-logins", is_flag=True, help="Each lamp logs in to the broker as itself, with the password "
              "provisioning gives it (derived from its key), as on a broker set up by `lampfleet broker-config`.")
@click.option("--serial", is_flag=True, help="Serve each lamp's console on a pty (blank MicroPython boards "
              "to flash and provision); runs until interrupted.")
@click.option("--speed", default=60.0, show_default=True, type=click.FloatRange(min=0.1),
              help="With --serial: simulated seconds per wall second.")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), help="Keep lamp files here.")
@click.option("--export-registry", "registry_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the lamps (IDs and keys from --lamps and --seed) as a CSV for `lampfleet lamps "
                   "import FILE` at the gateway, and exit; then run again with --broker.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--optimal", is_flag=True, help="Add each lamp's optimal_lumen_hours (the hindsight optimum on the "
              "run's weather: emulator.oracle, a linear program, seconds) and lumen_ratio (the run's / the optimum's).")
def command(n_lamps, days, seed, site, weather_file, controller, loss, start_text, fault_specs, mode, interpreter,
            broker, broker_ca, lamp_logins, serial, speed, workdir, registry_file, as_json, optimal):
    """Emulate lamps running the real firmware and print lighting and energy results."""
    from emulator.physics.site import SITES

    if site not in SITES:
        raise click.BadParameter(f"unknown site {site!r}; known: {', '.join(sorted(SITES))}", param_hint="--site")
    if interpreter != "unix" and (mode != "upy" or serial):
        raise click.BadParameter("only with --mode upy, without --serial", param_hint="--interpreter")
    if registry_file and (broker or serial):
        raise InputError("--export-registry writes the registry file and exits: import it at the gateway "
                         "(`lampfleet lamps import FILE`), then run the same command with --broker")
    scenario = Scenario(make_fleet(n_lamps, seed), days=days, seed=seed, site=site, weather_file=weather_file,
                        settings=_controller_settings(controller), controller=controller, loss_rate=loss)
    if registry_file:
        _export_registry(scenario, registry_file)
        return
    _set_start(scenario, start_text)
    try:
        scenario.faults = parse(",".join(fault_specs), scenario.start_s, utc_offset_h=SITES[site].utc_offset_h,
                                lamps=scenario.lamps, days=None if serial else days)  # --serial runs on
    except FaultSpecError as e:
        raise InputError(f"--faults: {e}") from None
    sink = None
    if broker:
        from emulator.mqtt_sink import MqttSink
        from gateway.link.acl import lamp_password

        passwords = {ident.lamp_id: lamp_password(ident.key) for ident in scenario.lamps} if lamp_logins else None
        try:
            sink = MqttSink(broker, passwords=passwords, ca_file=broker_ca or "")
        except (OSError, ValueError) as e:
            raise click.ClickException(f"cannot connect to broker {broker}: {e}") from None
    with tempfile.TemporaryDirectory(prefix="lampfleet-emulate-") as tmp:
        if serial:
            _serve(scenario, Path(workdir or tmp), sink, speed)
            if sink:
                sink.close()
            return
        result = _run(scenario, mode, Path(workdir or tmp), sink, quiet=as_json, interpreter=interpreter)
    if sink:
        sink.close()
    result["seed"], result["site"], result["controller"] = seed, site, controller
    result["start"] = local_text(scenario.start_s, SITES[site], sep="T")
    for i, lamp in enumerate(result["lamps"]):  # the same draws as the lamps' worlds made (faults.for_lamp)
        lamp["faults"] = [ev.label() for ev in for_lamp(scenario.faults, lamp["id"], i, seed)]
    if optimal:
        from emulator.oracle import OracleError, add_optimal

        try:
            add_optimal(result, scenario)
        except OracleError as e:
            raise click.ClickException(f"--optimal: {e}") from None
    if as_json:
        json.dump(result, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print_table(result)
        for lamp in result["lamps"] if optimal else ():
            click.echo(f"{lamp['id']}: {lamp['lumen_ratio']:.1%} of the hindsight optimum "
                       f"({lamp['optimal_lumen_hours']:,.0f} lumen-hours)")


def _set_start(scenario: Scenario, start_text: str | None) -> None:
    """--start, or a weather trace's first noon; a start the trace does not cover is refused here, in one
    line naming the trace's range, rather than as a traceback hours into the run."""
    from emulator.physics.site import SITES
    from emulator.world import make_weather

    site = SITES[scenario.site]
    try:
        if start_text:
            scenario.start_s = parse_start(start_text, site)
        if scenario.weather_file is None:
            return
        try:
            trace = make_weather(scenario)  # a bad line fails here, with the file's line number
        except ValueError as e:
            raise click.ClickException(str(e)) from None
        if not start_text:
            scenario.start_s = first_noon(trace.start_s, site)
        check_in_trace(scenario.start_s, scenario.days, trace, site)
    except StartError as e:
        raise InputError(str(e)) from None


def _export_registry(scenario: Scenario, path: Path) -> None:
    """The lamps as `lampfleet lamps import` takes them: the export's columns plus key_hex, so that the
    gateway knows the emulated lamps' keys (derived from the seed, like their IDs)."""
    import os

    from gateway.registry import Lamp
    from gateway.registry_csv import export_csv

    lamps = [Lamp(ident.lamp_id, ident.devaddr, ident.key, kind=ident.profile, site=scenario.site)
             for ident in scenario.lamps]
    try:
        # 0600: the file holds keys (emulation keys, but a gateway that imports them trusts them)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as out:
            export_csv(lamps, out, keys=True)
    except OSError as e:
        raise InputError(f"--export-registry {path}: {e.strerror or e}") from None
    click.echo(f"wrote {len(lamps)} lamps ({lamps[0].lamp_id}..{lamps[-1].lamp_id}, keys of --seed {scenario.seed}) "
               f"to {path}: `lampfleet lamps import {path}` at the gateway, then run with --broker", err=True)


def _run(scenario: Scenario, mode: str, workdir: Path, sink, quiet: bool, interpreter: str = "unix") -> dict:
    from rich.progress import Progress

    with Progress(transient=True, disable=quiet or not sys.stderr.isatty()) as progress:
        task = progress.add_task(f"simulating ({mode})", total=1.0)
        advance = lambda f: progress.update(task, completed=f)  # noqa: E731
        if mode == "fleet":
            from emulator.fleet import FleetEmulator

            return FleetEmulator(scenario, workdir, sink, progress=advance).run()
        from emulator.upy import UpyEmulator

        try:
            return UpyEmulator(scenario, workdir, sink, progress=advance, interpreter=interpreter).run()
        except RuntimeError as e:  # e.g. the 32-bit interpreter is not installed
            raise click.ClickException(str(e)) from None


def _serve(scenario: Scenario, workdir: Path, sink, speed: float) -> None:
    import time

    from emulator.console import serve_serial_lamps, stop_serial_lamps
    from emulator.serial_mode import PacedBus, prepare_serial_lamps

    bus = PacedBus(scenario, {}, sink, speed)
    bus.lamp_dirs = prepare_serial_lamps(scenario, workdir, bus.address)
    bus.start()
    serve_serial_lamps(list(bus.lamp_dirs.values()))
    click.echo(f"# {len(bus.lamp_dirs)} lamps in {workdir}; Ctrl-C to stop", err=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        stop_serial_lamps()
        bus.stop()


# (result key, header): short headers in two lines, units in them, so that the table fits 80 columns with
# the faults beside (one per line, folded if still too long rather than cut off).
TABLE_COLUMNS = (("id", "lamp"), ("frames", "frames"), ("dark_minutes", "dark\nmin"), ("lumen_hours", "lumen\nh"),
                 ("min_soc_pct", "min\nSoC %"), ("energy_in_wh", "in\nWh"), ("energy_out_wh", "out\nWh"))


def _print_table(result: dict) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    start = result["start"].replace("T", " ")
    title = f"{result['lamp_days']:g} lamp-days from {start}, seed {result['seed']}, {result['wall_s']:.1f} s wall"
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 0, 0, 1))
    for key, header in TABLE_COLUMNS:
        table.add_column(header, justify="left" if key == "id" else "right", no_wrap=True)
    table.add_column("faults\ninjected", overflow="fold", min_width=12)
    for lamp in result["lamps"]:
        table.add_row(*(str(lamp.get(key, "")) for key, _ in TABLE_COLUMNS), "\n".join(lamp["faults"]) or "-")
    Console().print(table)
