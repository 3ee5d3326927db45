"""The gateway service against a real mosquitto: good frames stored, garbage counted and survived."""
from __future__ import annotations

import threading
import time

import paho.mqtt.client as mqtt
import pytest

from gateway.registry import Lamp
from gateway.service import GatewayService
from gateway.settings import Settings
from gateway.tests.conftest import KEY, T0
from lampfleet.broker import Mosquitto


@pytest.fixture
def broker(tmp_path):
    b = Mosquitto(tmp_path / "broker").start()
    yield b
    b.stop()


def _wait(predicate, timeout_s=10.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_service_stores_good_frames_and_survives_garbage(broker, tmp_path, lamp1):
    service = GatewayService(Settings(broker_url=broker.url, database=tmp_path / "gw.sqlite3", clock="device"))
    service.gateway.registry.add(Lamp("LAMP-0001", 0x100001, KEY))
    thread = threading.Thread(target=service.run, daemon=True)
    thread.start()
    assert service.ready.wait(10)
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-publisher")
    pub.connect("127.0.0.1", broker.port)
    pub.loop_start()
    try:
        for payload in (b"", b"garbage", bytes(24), lamp1.status(T0), b"\xff" * 60, lamp1.status(T0 + 600)):
            pub.publish("lampfleet/LAMP-0001/up", payload, qos=1).wait_for_publish(5)
        ingest = service.gateway.ingest
        assert _wait(lambda: ingest.accepted == 2 and sum(ingest.rejects.values()) == 4)
        assert dict(ingest.rejects) == {"short": 2, "version": 1, "long": 1}
        assert thread.is_alive()
    finally:
        pub.loop_stop()
        pub.disconnect()
        service.stopping.set()
        thread.join(10)
    import sqlite3

    with sqlite3.connect(tmp_path / "gw.sqlite3") as conn:
        assert conn.execute("SELECT count(*) FROM readings").fetchone()[0] == 2
