"""Faults in the gateway's surroundings, proved with frame counters: the gateway killed with SIGKILL in the
middle of a batch, the broker restarted, InfluxDB down for a while. Afterwards every frame is stored
exactly once in SQLite and written exactly once to the InfluxDB-protocol server.

The lamps here are the gateway tests' synthetic lamps (real encrypted frames over the real broker); the
gateway runs as `lampfleet gateway` in its own process, as in production.
"""
from __future__ import annotations

import os
import sqlite3
import threading
import time

import paho.mqtt.client as mqtt
import pytest

from gateway import db
from gateway.registry import Registry
from gateway.tests.synth import Fleet
from gateway.tests.vm import VictoriaMetrics
from hil_tests.stack import GatewayProcess
from lampfleet.broker import Mosquitto
from telemetry import topics

LAMPS, STEPS = 20, 300


@pytest.fixture
def broker(tmp_path):
    # Run as root, mosquitto drops to the `mosquitto` user and then cannot save its persistence file in a
    # root-owned temporary directory: it would lose every session on restart. Stay root for this test.
    b = Mosquitto(tmp_path / "broker", extra_config="user root" if os.geteuid() == 0 else "").start()
    yield b
    b.stop()


def _stored(db_path) -> int:
    with sqlite3.connect(db_path) as conn:
        return conn.execute("SELECT count(*) FROM readings").fetchone()[0]


def _wait(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise TimeoutError(what)


class Publisher:
    """The lamps' side: QoS 1 with a persistent session, so a broker restart loses nothing either."""

    def __init__(self, broker_url: str):
        host, _, port = broker_url.removeprefix("mqtt://").partition(":")
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="hil-lamps", clean_session=False)
        self.client.max_inflight_messages_set(200)
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(0.2, 1)
        self.client.connect(host, int(port))
        self.client.loop_start()
        self.infos: list = []

    def publish(self, lamp_id: str, payload: bytes) -> None:
        self.infos.append(self.client.publish(topics.uplink(lamp_id), payload, qos=1))

    def wait_all(self, timeout_s: float = 60) -> None:
        _wait(lambda: all(i.is_published() for i in self.infos), timeout_s, "publisher could not deliver everything")

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def test_kill_9_broker_restart_and_influx_outage_lose_and_double_nothing(broker, tmp_path, monkeypatch):
    vm = VictoriaMetrics(tmp_path / "vm")  # port chosen, server not started: InfluxDB is down at first
    monkeypatch.setenv("LAMPFLEET_INFLUX_URL", vm.url)
    monkeypatch.setenv("LAMPFLEET_INFLUX_MAX_BACKOFF_S", "0.5")
    fleet = Fleet(LAMPS, seed=5)
    db_path = tmp_path / "gateway.sqlite3"
    conn = db.connect(db_path)
    registry = Registry(conn)
    for s in fleet.lamps:
        registry.add(s.lamp)
    conn.close()
    steps = [(s.lamp_id, fleet.encoded(s, f), f["type"]) for _ in range(STEPS) for s, f in fleet.step()]
    boots = [(lid, raw) for lid, raw, kind in steps if kind == "boot"]
    frames = [(lid, raw) for lid, raw, kind in steps if kind == "status"]
    statuses = LAMPS * STEPS
    gateway = GatewayProcess(tmp_path, broker.url, db_path).start()
    pub = Publisher(broker.url)
    try:
        for lamp_id, payload in boots:  # the gateway is up once it stored them
            pub.publish(lamp_id, payload)
        _wait(lambda: _stored(db_path) == 0 and sqlite3.connect(db_path).execute(
            "SELECT count(*) FROM boots").fetchone()[0] == LAMPS, 60, "gateway did not start")
        feeder = threading.Thread(target=lambda: [pub.publish(*f) for f in frames], daemon=True)
        feeder.start()

        _wait(lambda: _stored(db_path) > statuses // 5, 60, "no progress before the kill")
        # InfluxDB really is down: what could not be written waits in the on-disk spool.
        _wait(lambda: sqlite3.connect(db_path).execute("SELECT count(*) FROM spool").fetchone()[0] > 0, 30,
              "nothing spooled while InfluxDB was down")
        gateway.proc.kill()  # SIGKILL in the middle of the stream: batches in flight, acks not sent
        gateway.proc.wait()
        killed_at = _stored(db_path)
        gateway = GatewayProcess(tmp_path, broker.url, db_path).start()

        _wait(lambda: _stored(db_path) > killed_at + statuses // 5, 60, "no progress after the restart")
        broker.stop()  # mosquitto saves its sessions (the gateway's queue included) and goes away
        time.sleep(0.5)
        broker.start()
        vm.start()  # InfluxDB comes back after minutes of spooling (seconds here)

        feeder.join(60)
        pub.wait_all()
        _wait(lambda: _stored(db_path) >= statuses, 120, f"stored {_stored(db_path)} of {statuses}")
        time.sleep(1.0)  # anything doubled would show now
        with sqlite3.connect(db_path) as c:
            per_lamp = dict(c.execute("SELECT lamp_id, count(*) FROM readings GROUP BY lamp_id"))
            fcnts = {lid: sorted(f for (f,) in c.execute("SELECT fcnt FROM readings WHERE lamp_id=?", (lid,)))
                     for lid in per_lamp}
        assert per_lamp == {s.lamp_id: STEPS for s in fleet.lamps}
        assert all(fc == list(range(1, STEPS + 1)) for fc in fcnts.values())  # fcnt 0 is the boot frame

        counts = vm.wait_count("lamp_status_vbat_mv", statuses, timeout_s=60)
        assert counts == {s.lamp_id: STEPS for s in fleet.lamps}
        _wait(lambda: sqlite3.connect(db_path).execute("SELECT count(*) FROM spool").fetchone()[0] == 0, 30,
              "spool not drained")
    finally:
        pub.close()
        gateway.stop()
        vm.stop()
