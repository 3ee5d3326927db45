"""The gateway service against a real mosquitto: frames stored, garbage survived, acknowledgements only
after commit, alerts on MQTT, grouped notifications to a crew, the loopback API, manual actions."""
from __future__ import annotations

import json
import sqlite3
import threading
import urllib.request

import paho.mqtt.client as mqtt
import pytest

from gateway.registry import Lamp
from gateway.service import GatewayService
from gateway.settings import AlertSettings, Crew, Settings
from gateway.tests.conftest import KEY, T0
from gateway.tests.receivers import HttpSink, wait_for
from gateway.tests.synth import Fleet
from lampfleet.broker import Mosquitto, free_port
from telemetry import topics


@pytest.fixture
def broker(tmp_path):
    b = Mosquitto(tmp_path / "broker").start()
    yield b
    b.stop()


class Running:
    def __init__(self, service: GatewayService):
        self.service = service
        self.thread = threading.Thread(target=service.run, daemon=True)

    def __enter__(self) -> GatewayService:
        self.thread.start()
        assert self.service.ready.wait(10)
        return self.service

    def __exit__(self, *exc) -> None:
        self.service.stopping.set()
        self.thread.join(20)
        assert not self.thread.is_alive()


class Client:
    def __init__(self, broker, client_id="test-client", subscribe=None):
        self.messages: list[tuple[str, dict]] = []
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        ready = threading.Event()
        if subscribe:
            self.c.on_connect = lambda c, *_: c.subscribe(subscribe, qos=1)
            self.c.on_subscribe = lambda *_: ready.set()
        else:
            self.c.on_connect = lambda *_: ready.set()
        self.c.on_message = lambda c, u, m: self.messages.append((m.topic, json.loads(m.payload)))
        self.c.connect("127.0.0.1", broker.port)
        self.c.loop_start()
        assert ready.wait(10)

    def publish(self, topic, payload):
        return self.c.publish(topic, payload, qos=1)

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


def test_service_stores_good_frames_and_survives_garbage(broker, tmp_path, lamp1):
    service = GatewayService(Settings(broker_url=broker.url, database=tmp_path / "gw.sqlite3", clock="device"))
    service.gateway.registry.add(Lamp("LAMP-0001", 0x100001, KEY))
    pub = Client(broker, "test-publisher")
    try:
        with Running(service):
            for payload in (b"", b"garbage", bytes(24), lamp1.status(T0), b"\xff" * 60, lamp1.status(T0 + 600)):
                pub.publish("lampfleet/LAMP-0001/up", payload).wait_for_publish(5)
            ingest = service.gateway.ingest
            assert wait_for(lambda: ingest.accepted == 2 and sum(ingest.rejects.values()) == 4)
            assert dict(ingest.rejects) == {"short": 2, "version": 1, "long": 1}
    finally:
        pub.close()
    with sqlite3.connect(tmp_path / "gw.sqlite3") as conn:
        assert conn.execute("SELECT count(*) FROM readings").fetchone()[0] == 2


class CheckingService(GatewayService):
    """Checks, at every acknowledgement, that the acknowledged frames are already committed."""

    violations = 0
    checked = 0

    def _ack(self, batch):
        conn = sqlite3.connect(self.settings.database)
        for topic, payload, *_ in batch:
            lamp = self.gateway.registry.by_id(topic.split("/")[1])
            fcnt = lamp and int.from_bytes(payload[4:6], "little")
            if lamp and not conn.execute("SELECT 1 FROM readings WHERE lamp_id=? AND fcnt % 65536=?",
                                         (lamp.lamp_id, fcnt)).fetchone():
                self.violations += 1
            self.checked += 1
        conn.close()
        super()._ack(batch)


@pytest.mark.parametrize("protocol", [5, 4])
def test_frames_are_acknowledged_only_after_their_batch_is_committed(broker, tmp_path, protocol):
    fleet = Fleet(5)
    service = CheckingService(Settings(broker_url=broker.url, database=tmp_path / "gw.sqlite3", clock="device",
                                       mqtt_protocol=protocol))
    for s in fleet.lamps:
        service.gateway.registry.add(s.lamp)
    pub = Client(broker, "test-publisher")
    sent = [(s.lamp_id, fleet.encoded(s, f)) for _ in range(40) for s, f in fleet.step() if f["type"] == "status"]
    try:
        with Running(service):
            for lamp_id, raw in sent:
                pub.publish(topics.uplink(lamp_id), raw)
            assert wait_for(lambda: service.acked == len(sent), 20), (service.acked, len(sent), service.gateway.ingest.accepted)
    finally:
        pub.close()
    assert service.checked == len(sent) and service.violations == 0


def test_alerts_notifications_api_and_manual_actions_through_the_service(broker, tmp_path):
    fleet = Fleet(4, seed=9)
    hook = HttpSink().start()
    api_port = free_port()
    settings = Settings(broker_url=broker.url, database=tmp_path / "gw.sqlite3", clock="device", grace_s=0,
                        api_port=api_port, alerts=AlertSettings(group_wait_s=0, group_interval_s=0),
                        crews={"nord": Crew("nord", urls=[hook.url()])})
    service = GatewayService(settings)
    for s in fleet.lamps:
        service.gateway.registry.add(s.lamp)
    listener = Client(broker, "alert-listener", subscribe=topics.alert("+"))
    pub = Client(broker, "test-publisher")
    api = f"http://127.0.0.1:{api_port}/api/v1"
    from gateway import db as gwdb
    from gateway.api.tokens import ApiTokens

    token_conn = gwdb.connect(settings.database)
    auth = {"Authorization": "Bearer " + ApiTokens(token_conn).add("dashboard", 0)}
    token_conn.close()
    try:
        with Running(service):
            fleet[2].faults.add("led_open")
            for _ in range(50):  # noon to about 20:00: the faulty lamp is dark after dusk
                for s, f in fleet.step():
                    pub.publish(topics.uplink(s.lamp_id), fleet.encoded(s, f))
            assert wait_for(lambda: any(m[1]["state"] == "firing" for m in listener.messages), 20)
            firing = [m for _t, m in listener.messages if m["state"] == "firing"]
            assert [(m["lamp_id"], m["fault"]) for m in firing] == [(fleet[2].lamp_id, "lampFailure")]
            assert wait_for(lambda: len(hook.posts) == 1, 20)
            assert hook.posts[0]["title"] == "lampfleet nord - Lakouanga: 1 panne(s)"

            with urllib.request.urlopen(urllib.request.Request(f"{api}/alerts", headers=auth)) as r:
                [alert] = json.load(r)
            req = urllib.request.Request(f"{api}/alerts/{alert['id']}/ack", method="POST",
                                         headers={**auth, "Content-Type": "application/json"},
                                         data=json.dumps({"by": "Jean", "comment": "en route"}).encode())
            with urllib.request.urlopen(req) as r:
                assert json.load(r)["state"] == "acknowledged"
            assert wait_for(lambda: any(m[1]["state"] == "acknowledged" for m in listener.messages), 10)
            with urllib.request.urlopen(urllib.request.Request(f"{api}/fleet", headers=auth)) as r:
                fleet_view = json.load(r)
            assert fleet_view["sites"][0]["dark"] == 1

            # The crew says it is repaired, but it is not: the gateway judges again and opens a new alert.
            from gateway import db
            from gateway.alerts import Alerts

            other = db.connect(settings.database)
            Alerts(other).resolve(alert["id"], "Jean", service.gateway.now_s(), "fait")
            other.close()
            assert wait_for(lambda: any(m[1]["state"] == "resolved" for m in listener.messages), 10)
            for _ in range(3):
                for s, f in fleet.step():
                    pub.publish(topics.uplink(s.lamp_id), fleet.encoded(s, f))
            assert wait_for(lambda: sum(m[1]["state"] == "firing" for m in listener.messages) == 2, 20)
    finally:
        pub.close()
        listener.close()
        hook.stop()
