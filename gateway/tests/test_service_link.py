"""The service's radio paths: a LoRa bridge on a serial line (a pty) and a ChirpStack v4 integration on the
same mosquitto, into the same verify/replay/store pipeline as MQTT."""
from __future__ import annotations

import base64
import json
import os
import struct
import time
import tty

import paho.mqtt.client as mqtt

from firmware.bridge import proto
from telemetry.downlink import decode_downlink, peek_downlink
from gateway.registry import Lamp
from gateway.service import GatewayService
from gateway.settings import LinkSettings, Settings
from gateway.tests.conftest import KEY, Lamp1
from gateway.tests.receivers import wait_for
from gateway.tests.test_service_mqtt import Running, broker  # noqa: F401 - fixture

DEV_EUI = "70b3d57ed0000001"


def _readings(service):
    return service.gateway.conn.execute("SELECT fcnt FROM readings WHERE lamp_id='LAMP-0001' ORDER BY fcnt").fetchall()


def _service(tmp_path, broker, link):  # type: ignore[no-untyped-def]  # noqa: F811
    s = Settings(broker_url=f"mqtt://127.0.0.1:{broker.port}", database=tmp_path / "gw.sqlite3", link=link,
                 client_id="gw-link-test")
    service = GatewayService(s)
    service.gateway.registry.add(Lamp("LAMP-0001", 0x100001, KEY, site="bangui"))
    return service


def test_serial_bridge_frames_are_stored_and_replays_refused(tmp_path, broker):  # noqa: F811
    master, slave = os.openpty()
    tty.setraw(slave)
    try:
        service = _service(tmp_path, broker, LinkSettings(serial_ports=[os.ttyname(slave)]))
        lamp = Lamp1()
        now = int(time.time())
        frames = [lamp.status(now - 600 * (3 - i)) for i in range(3)]

        def rx(frame, age_ms=5):
            body = struct.pack(proto.RX_HEAD, age_ms, -97, 30, 868100, 9, 1) + frame
            os.write(master, proto.pack(proto.RX, body))

        with Running(service):
            assert wait_for(lambda: service.bridges and service.bridges[0].connected.is_set())
            for f in frames:
                rx(f)
            rx(frames[1])  # heard again (a second copy within the duplicate window)
            rx(b"\x11\x01\x02")  # garbage from the air
            assert wait_for(lambda: _readings(service) == [(0,), (1,), (2,)])
            ingest = service.gateway.ingest
            assert wait_for(lambda: ingest.rejects["duplicate"] == 1 and ingest.accepted == 3)
            meta = service.gateway.radio_meta["LAMP-0001"]
            assert meta["rssi"] == -97 and meta["snr"] == 7.5 and meta["sf"] == 9
            assert abs(meta["rx_time"] - time.time()) < 10
            assert ingest.rejects["short"] == 1 or sum(ingest.rejects.values()) == 2
            # Each frame heard, the duplicate too, is acknowledged through the bridge in its receive window:
            # an ack downlink (0xA) naming its counter, under the gateway's own downlink counter.
            deframer, acks = proto.Deframer(), []
            os.set_blocking(master, False)
            deadline = time.monotonic() + 5
            while len(acks) < 4 and time.monotonic() < deadline:
                try:
                    data = os.read(master, 4096)
                except BlockingIOError:
                    time.sleep(0.05)
                    continue
                for mtype, body in deframer.feed(data):
                    if mtype == proto.TX:
                        frame = proto.parse_tx(body)[4]
                        head = peek_downlink(frame)
                        acks.append(decode_downlink(frame, KEY, head["fcnt16"]))
            assert [(a["type"], a["ack_fcnt16"]) for a in acks] == [("ack", 0), ("ack", 1), ("ack", 2), ("ack", 1)]
            assert [a["fcnt"] for a in acks] == [0, 1, 2, 3]
    finally:
        os.close(master)
        os.close(slave)


def _chirpstack(frame: bytes, dev_eui=DEV_EUI, port=10) -> bytes:
    return json.dumps({
        "deviceInfo": {"applicationId": "app-1", "devEui": dev_eui, "deviceName": "lamp-1"},
        "fCnt": 7, "fPort": port, "data": base64.b64encode(frame).decode(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "rxInfo": [{"gatewayId": "0016c001f0000001", "rssi": -101, "snr": 4.5}],
        "txInfo": {"frequency": 868100000, "modulation": {"lora": {"spreadingFactor": 9}}},
    }).encode()


def test_chirpstack_uplinks_are_stored_and_downlinks_queued_through_it(tmp_path, broker):  # noqa: F811
    service = _service(tmp_path, broker, LinkSettings(lorawan="chirpstack", lorawan_devices={DEV_EUI: "LAMP-0001"}))
    service.gateway.downlinks.enqueue("LAMP-0001", "command", command="status_now", arg=0)
    service.gateway._refresh_downlinks()
    lamp = Lamp1()
    now = int(time.time())
    good = lamp.status(now - 60)
    down: list[tuple[str, bytes]] = []
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="chirpstack")
    pub.on_message = lambda c, u, m: down.append((m.topic, m.payload))
    pub.connect("127.0.0.1", broker.port)
    pub.subscribe("application/+/device/+/command/down", qos=1)
    pub.loop_start()
    try:
        with Running(service):
            topic = f"application/app-1/device/{DEV_EUI}/event/up"
            pub.publish(topic, _chirpstack(good), qos=1).wait_for_publish(5)
            pub.publish(topic, _chirpstack(good), qos=1).wait_for_publish(5)  # the same uplink again
            pub.publish(f"application/app-1/device/70b3d57ed0000999/event/up",
                        _chirpstack(lamp.status(now), dev_eui="70b3d57ed0000999"), qos=1).wait_for_publish(5)
            pub.publish(topic, _chirpstack(lamp.status(now), port=2), qos=1).wait_for_publish(5)
            assert wait_for(lambda: _readings(service) == [(0,)])
            assert wait_for(lambda: service.gateway.lorawan.rejects == {"unknown_device": 1, "port": 1})
            assert wait_for(lambda: service.gateway.ingest.rejects["duplicate"] == 1)
            meta = service.gateway.radio_meta["LAMP-0001"]
            assert meta["via"] == "chirpstack" and meta["rssi"] == -101 and meta["sf"] == 9
            # the queued command went back through ChirpStack's downlink queue, once (not for the copy)
            assert wait_for(lambda: len(down) == 1)
            time.sleep(0.3)
            topic_down, body = down[0]
            assert topic_down == f"application/app-1/device/{DEV_EUI}/command/down" and len(down) == 1
            item = json.loads(body)
            frame = base64.b64decode(item["data"])
            d = decode_downlink(frame, KEY, peek_downlink(frame)["fcnt16"])
            assert d["type"] == "command" and d["command"] == "status_now" and d["ack_fcnt16"] is None
    finally:
        pub.loop_stop()
        pub.disconnect()


def test_queued_command_is_published_after_the_lamps_next_uplink(tmp_path, broker):  # noqa: F811
    from click.testing import CliRunner

    from telemetry.downlink import decode_downlink
    from lampfleet.cli import cli

    service = _service(tmp_path, broker, LinkSettings())
    out = CliRunner().invoke(cli, ["downlink", "LAMP-0001", "--test-on", "10", "--db", str(tmp_path / "gw.sqlite3"),
                                   "--json"], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    dl_id = json.loads(out.output)["id"]
    bad = CliRunner().invoke(cli, ["downlink", "LAMP-0001", "--reboot", "--time-sync", "--db",
                                   str(tmp_path / "gw.sqlite3")])
    assert bad.exit_code != 0
    got: list[bytes] = []
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="lamp-listener")
    subscribed = __import__("threading").Event()
    sub.on_connect = lambda c, *_: c.subscribe("lampfleet/LAMP-0001/down", qos=1)
    sub.on_subscribe = lambda *_: subscribed.set()
    sub.on_message = lambda c, u, m: got.append(m.payload)
    sub.connect("127.0.0.1", broker.port)
    sub.loop_start()
    try:
        assert subscribed.wait(10)
        with Running(service):
            # the service notices commands queued by the CLI on its next tick (each second)
            assert wait_for(lambda: "LAMP-0001" in service.gateway._downlinks_waiting)
            lamp = Lamp1()
            up = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="lamp-up")
            up.connect("127.0.0.1", broker.port)
            up.loop_start()
            up.publish("lampfleet/LAMP-0001/up", lamp.status(int(time.time()) - 30), qos=1).wait_for_publish(5)
            assert wait_for(lambda: len(got) == 1)
            up.publish("lampfleet/LAMP-0001/up", lamp.status(int(time.time())), qos=1).wait_for_publish(5)
            assert wait_for(lambda: _readings(service) == [(0,), (1,)])
            up.loop_stop()
            up.disconnect()
        d = decode_downlink(got[0], KEY, 0)
        assert d["type"] == "command" and d["command"] == "test_on" and d["arg"] == 10 and d["dl_id"] == dl_id
        assert len(got) == 2  # the second uplink's answer: a bare ack, the command not resent yet
        again = decode_downlink(got[1], KEY, 1)
        assert again["type"] == "ack" and again["ack_fcnt16"] == 1
    finally:
        sub.loop_stop()
        sub.disconnect()
