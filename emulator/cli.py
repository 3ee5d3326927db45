"""`lampfleet emulate`: run emulated lamps on simulated sun, weather, battery, LED and radio."""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import click

from emulator.faults import FaultSpecError, parse
from emulator.scenario import Scenario, make_fleet


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
@click.option("--faults", "fault_spec", default="", help="e.g. '2:led_open@30h,3:soiling=0.5@1d' (docs/emulator.md)")
@click.option("--mode", type=click.Choice(["upy", "fleet"]), default="upy", show_default=True,
              help="upy: the firmware on the MicroPython unix port, one process per lamp; "
                   "fleet: the same firmware source for every lamp in this CPython process.")
@click.option("--interpreter", type=click.Choice(["unix", "wasm32"]), default="unix", show_default=True,
              help="With --mode upy: unix, the 64-bit unix port; wasm32, the 32-bit webassembly port under "
                   "node, whose heap is an ESP32's (docs/emulator.md).")
@click.option("--broker", help="Publish frames to this MQTT broker (mqtt://host:port, or mqtts://host:port for TLS).")
@click.option("--broker-ca", type=click.Path(exists=True, dir_okay=False),
              help="With an mqtts:// broker: the CA that signed its certificate (default: the system's CAs).")
@click.option("--lamp-logins", is_flag=True, help="Each lamp logs in to the broker as itself, with the password "
              "provisioning gives it (derived from its key), as on a broker set up by `lampfleet broker-config`.")
@click.option("--serial", is_flag=True, help="Serve each lamp's console on a pty (blank MicroPython boards "
              "to flash and provision); runs until interrupted.")
@click.option("--speed", default=60.0, show_default=True, type=click.FloatRange(min=0.1),
              help="With --serial: simulated seconds per wall second.")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), help="Keep lamp files here.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def command(n_lamps, days, seed, site, weather_file, controller, loss, fault_spec, mode, interpreter, broker, broker_ca,
            lamp_logins, serial, speed, workdir, as_json):
    """Emulate lamps running the real firmware and print lighting and energy results."""
    from emulator.physics.site import SITES

    if site not in SITES:
        raise click.BadParameter(f"unknown site {site!r}; known: {', '.join(sorted(SITES))}", param_hint="--site")
    if interpreter != "unix" and (mode != "upy" or serial):
        raise click.BadParameter("only with --mode upy, without --serial", param_hint="--interpreter")
    scenario = Scenario(make_fleet(n_lamps, seed), days=days, seed=seed, site=site, weather_file=weather_file,
                        settings=_controller_settings(controller), controller=controller, loss_rate=loss)
    try:
        scenario.faults = parse(fault_spec, scenario.start_s)
        if weather_file is not None:
            from emulator.world import make_weather

            make_weather(scenario)  # fail early, with the file's line number, before starting lamps
    except (FaultSpecError, ValueError) as e:
        raise click.ClickException(str(e)) from None
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
    if as_json:
        json.dump(result, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print_table(result)


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


def _print_table(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{result['lamp_days']:g} lamp-days, {result['wall_s']:.1f} s wall")
    cols = ("id", "frames", "dark_minutes", "lumen_hours", "min_soc_pct", "energy_in_wh", "energy_out_wh")
    for col in cols:
        table.add_column(col)
    for lamp in result["lamps"]:
        table.add_row(*(str(lamp.get(c, "")) for c in cols))
    Console().print(table)
