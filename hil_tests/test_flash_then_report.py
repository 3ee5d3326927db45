"""Technician path end to end: a blank emulated board is flashed and provisioned over its serial
console, boots, and reports to the gateway under its new identity and key."""
from __future__ import annotations

import sqlite3
import time

from emulator.console import SerialLamp
from emulator.mqtt_sink import MqttSink
from emulator.scenario import Scenario, make_fleet
from emulator.serial_mode import PacedBus, prepare_serial_lamps
from gateway import db
from gateway.registry import Lamp, Registry
from hil_tests.stack import GatewayProcess
from tools.device import reset
from tools.flash import flash


def test_flashed_lamp_reports_with_its_provisioned_identity(broker, tmp_path, lamp_backend):
    scenario = Scenario(make_fleet(1, seed=3), days=30, seed=3)
    sink = MqttSink(broker.url, client_id="hil-serial-bus")
    bus = PacedBus(scenario, {}, sink, speed=3000.0)
    bus.lamp_dirs = prepare_serial_lamps(scenario, tmp_path / "lamps", bus.address)
    bus.start()
    lamp = SerialLamp(bus.lamp_dirs["LAMP-0001"])
    port = lamp.start()
    db_path = tmp_path / "gateway.sqlite3"
    registered = []

    def register_key(lamp_id: str, devaddr: int, key: bytes) -> None:
        conn = db.connect(db_path)
        Registry(conn).add(Lamp(lamp_id, devaddr, key, site="bangui"))
        conn.close()
        registered.append((lamp_id, devaddr))

    gateway = None
    try:
        lamp.wait_ready(15)
        report = flash(port, "BGI-0042", "bangui", "street", on_key=register_key, devaddr=0x2A0042, reset=False)
        assert report.status == "flashed", report.as_dict()
        assert registered == [("BGI-0042", 0x2A0042)] and report.key_registered
        gateway = GatewayProcess(tmp_path, broker.url, db_path).start()
        boot = reset(port, watch=True, timeout=30)
        assert "BGI-0042" in str(boot)
        deadline = time.monotonic() + 60
        stored = (0, 0)
        while time.monotonic() < deadline:
            with sqlite3.connect(db_path) as conn:
                stored = (conn.execute("SELECT count(*) FROM boots WHERE lamp_id='BGI-0042'").fetchone()[0],
                          conn.execute("SELECT count(*) FROM readings WHERE lamp_id='BGI-0042'").fetchone()[0])
            if stored[0] >= 1 and stored[1] >= 2:
                break
            time.sleep(0.3)
        assert stored[0] >= 1 and stored[1] >= 2, stored
        with sqlite3.connect(db_path) as conn:
            rejects = conn.execute("SELECT count(*) FROM rejects").fetchone()[0]
        assert rejects == 0
    finally:
        if gateway:
            gateway.stop()
        lamp.stop()
        bus.stop()
        sink.close()
