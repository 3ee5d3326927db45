"""`lampfleet demo`: the whole chain on one machine in about a minute.

A broker (mosquitto when installed, else an embedded one), the gateway, and a few lamps running the
real firmware on the MicroPython unix port over two accelerated days in Bangui; one lamp's LED fails
open in the first afternoon, and the gateway's alert is printed as soon as it is raised.
"""
from __future__ import annotations

import json
import logging
import tempfile
import threading
import time
from pathlib import Path

import click
import paho.mqtt.client as mqtt
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from telemetry import topics

console = Console()


@click.command("demo")
@click.option("--lamps", default=3, show_default=True, help="Number of emulated lamps.")
@click.option("--days", default=2.0, show_default=True, help="Simulated days.")
@click.option("--seed", default=1, show_default=True, help="Seed for weather and lamp variation.")
@click.option("--workdir", type=click.Path(path_type=Path), help="Keep files here instead of a temp dir.")
@click.option("--console", "with_console", is_flag=True,
              help="Serve the operations console during the run and after it, until Ctrl-C (prints its URL and a "
                   "demo login).")
@click.option("--port", default=8088, show_default=True, help="The console's port (with --console; 0: any free one).")
def command(lamps: int, days: float, seed: int, workdir: Path | None, with_console: bool, port: int) -> None:
    """Broker + gateway + emulated lamps with an injected LED fault: watch the alert arrive."""
    if lamps < 2:
        raise click.BadParameter("at least 2 lamps: one healthy, one faulty", param_hint="--lamps")
    with tempfile.TemporaryDirectory(prefix="lampfleet-demo-") as tmp:
        run_demo(lamps, days, seed, Path(workdir or tmp), console_port=port if with_console else None)


def _demo_user(database: Path) -> tuple[str, str]:
    """An admin for the demo's console, with a fresh password (printed once, like an API token)."""
    import secrets

    from gateway import db
    from gateway.console.users import Users

    conn = db.connect(database)
    password = secrets.token_urlsafe(9)
    users = Users(conn)
    if users.get("demo") is None:
        users.add("demo", password, "admin", int(time.time()), actor="demo")
    else:
        users.passwd("demo", password, int(time.time()), actor="demo")
    conn.close()
    return "demo", password


def run_demo(n_lamps: int, days: float, seed: int, workdir: Path, console_port: int | None = None) -> list[dict]:
    from emulator.faults import parse
    from emulator.mqtt_sink import MqttSink
    from emulator.scenario import Scenario, make_fleet
    from emulator.upy import UpyEmulator
    from gateway.registry import Lamp
    from gateway.service import GatewayService
    from gateway.settings import Settings
    from lampfleet.broker import start_broker

    workdir.mkdir(parents=True, exist_ok=True)
    # The gateway's log goes to a file; the terminal shows the alerts as crews would receive them.
    logging.basicConfig(filename=workdir / "gateway.log", level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    broker = start_broker(workdir / "broker")
    console.print(f"[bold]broker[/]   {broker.kind} on {broker.url}")
    fleet = make_fleet(n_lamps, seed)
    faulty = fleet[-1].lamp_id
    settings = Settings(broker_url=broker.url, database=workdir / "gateway.sqlite3", clock="device",
                        # the embedded fallback broker (amqtt) speaks MQTT 3.1.1 only
                        mqtt_protocol=5 if broker.kind == "mosquitto" else 4)
    if console_port is not None:
        from lampfleet.broker import free_port

        settings.api_port = console_port or free_port()
    service = GatewayService(settings)
    for i, ident in enumerate(fleet):
        # along a street of Lakouanga, 40 m apart, so that the console's map has something to show
        service.gateway.registry.add(Lamp(ident.lamp_id, ident.devaddr, ident.key, site="bangui",
                                          district="Lakouanga", crew="nord", lat=4.3612 + 0.00036 * i,
                                          lon=18.5560 + 0.0001 * i))
    gw_thread = threading.Thread(target=service.run, name="gateway", daemon=True)
    gw_thread.start()
    service.ready.wait(10)
    console.print(f"[bold]gateway[/]  SQLite {settings.database}, device clock")
    if console_port is not None:
        name, password = _demo_user(settings.database)
        console.print(f"[bold]console[/]  http://127.0.0.1:{settings.api_port}/  log in as [bold]{name}[/] with "
                      f"password [bold]{password}[/]")

    alerts: list[dict] = []
    host, port = settings.broker_host_port
    listener = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="lampfleet-demo-alerts")
    subscribed = threading.Event()
    listener.on_connect = lambda c, *_: c.subscribe(topics.alert("+"), qos=1)
    listener.on_subscribe = lambda *_: subscribed.set()

    def on_alert(client, userdata, msg) -> None:
        alert = json.loads(msg.payload)
        alerts.append(alert)
        colour = "red" if alert["state"] == "firing" else "green"
        console.print(f"[bold {colour}]ALERTE[/] {alert['message']}  [dim]{alert['fault']}[/]")

    listener.on_message = on_alert
    listener.connect(host, port)
    listener.loop_start()
    subscribed.wait(10)

    scenario = Scenario(fleet, days=days, seed=seed, faults=parse(f"{faulty}:led_open@4h"))
    console.print(f"[bold]lamps[/]    {n_lamps} on the MicroPython unix port, {days:g} days from "
                  f"noon 1 Aug 2026 (Bangui); {faulty}: LED open at 15:00")
    sink = MqttSink(broker.url)
    try:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("simulating", total=1.0)
            result = UpyEmulator(scenario, workdir / "lamps", sink,
                                 progress=lambda f: progress.update(task, completed=f)).run()
        sink.close()
        expected = {lp["id"]: lp["frames"] - 1 for lp in result["lamps"]}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            stored = {lamp.lamp_id: lamp.last_fcnt for lamp in service.gateway.registry.all()}
            if all((stored.get(k) or -1) >= v for k, v in expected.items()):
                break
            time.sleep(0.2)
        time.sleep(0.5)
        if console_port is not None:
            console.print(f"[bold]console[/]  still on http://127.0.0.1:{settings.api_port}/ : Ctrl-C to stop")
            try:
                while True:
                    time.sleep(1)
            except KeyboardInterrupt:
                pass
    finally:
        service.stopping.set()
        gw_thread.join(10)
        listener.loop_stop()
        listener.disconnect()
        broker.stop()
    table = Table(title=f"{result['lamp_days']:g} lamp-days in {result['wall_s']:.1f} s")
    for col in ("lamp", "frames", "lumen-h", "min SoC %", "dark min", "alerts"):
        table.add_column(col)
    for lp in result["lamps"]:
        n = sum(1 for a in alerts if a["lamp_id"] == lp["id"])
        table.add_row(lp["id"], str(lp["frames"]), f"{lp['lumen_hours']:.0f}", f"{lp['min_soc_pct']:.0f}",
                      f"{lp['dark_minutes']:.0f}", str(n))
    console.print(table)
    if not any(a["lamp_id"] == faulty and a["state"] == "firing" for a in alerts):
        raise click.ClickException(f"no alert was raised for {faulty}: see {workdir}")
    return alerts
