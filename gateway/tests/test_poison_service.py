"""Poison messages against the running service and a real mosquitto: the LoRaWAN payloads that used to stop
the gateway (and again at every restart, as the broker redelivered them) are refused and acknowledged, and
the next genuine frame is stored. A message whose handling raises is contained: counted as
`internal_error`, acknowledged, never stored, and the rest of its batch goes on."""
from __future__ import annotations

import base64
import json
import logging
import time

import paho.mqtt.client as mqtt

from gateway.registry import Lamp
from gateway.service import GatewayService
from gateway.settings import LinkSettings, Settings
from gateway.tests.conftest import KEY, Lamp1
from gateway.tests.receivers import wait_for
from gateway.tests.test_service_mqtt import Running, broker  # noqa: F401 - fixture

DEV_EUI = "70b3d57ed0000001"
APP = "17c82e96-be03-4f38-aef3-f83d48582d97"
TOPIC = f"application/{APP}/device/{DEV_EUI}/event/up"


def _service(tmp_path, broker):  # type: ignore[no-untyped-def]  # noqa: F811
    s = Settings(broker_url=f"mqtt://127.0.0.1:{broker.port}", database=tmp_path / "gw.sqlite3",
                 client_id="gw-poison-test",
                 link=LinkSettings(lorawan="chirpstack", lorawan_devices={DEV_EUI: "LAMP-0001"}))
    service = GatewayService(s)
    service.gateway.registry.add(Lamp("LAMP-0001", 0x100001, KEY, site="bangui"))
    return service


def _genuine(frame: bytes) -> bytes:
    return json.dumps({"deviceInfo": {"applicationId": APP, "devEui": DEV_EUI}, "fCnt": 7, "fPort": 10,
                       "data": base64.b64encode(frame).decode(),
                       "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                       "rxInfo": [{"gatewayId": "0016c001f0000001", "rssi": -101, "snr": 4.5}],
                       "txInfo": {"frequency": 868100000, "modulation": {"lora": {"spreadingFactor": 9}}}}).encode()


def _publisher(broker):  # type: ignore[no-untyped-def]  # noqa: F811
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="chirpstack")
    pub.connect("127.0.0.1", broker.port)
    pub.loop_start()
    return pub


def _stored(service) -> list[int]:  # type: ignore[no-untyped-def]
    return [r[0] for r in service.gateway.conn.execute(
        "SELECT fcnt FROM readings WHERE lamp_id='LAMP-0001' ORDER BY fcnt")]


def _table(service) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return dict(service.gateway.conn.execute("SELECT reason, count FROM rejects"))


def test_crashing_lorawan_payloads_are_refused_and_the_next_genuine_frame_stored(tmp_path, broker):  # noqa: F811
    service = _service(tmp_path, broker)
    lamp = Lamp1()
    now = int(time.time())
    poison = [
        b'{"deviceInfo": 1}',
        b"[" * 30_000 + b"]" * 30_000,  # under the size bound: json.loads alone would raise RecursionError
        b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
        b'{"deviceInfo": {"devEui": "' + DEV_EUI.encode() + b'"}, "pad": "' + b"x" * 1_000_000 + b'"}',
        _genuine(lamp.status(now - 120)).replace(APP.encode(), b"evil/+/#"),
        _genuine(lamp.status(now - 110)).replace(b'"rssi": -101', b'"rssi": "loud"').replace(b'"fPort": 10', b'"fPort": true'),
        b"\xff\xfe\x00garbage",
    ]
    pub = _publisher(broker)
    try:
        with Running(service):
            for payload in poison:
                pub.publish(TOPIC, payload, qos=1).wait_for_publish(5)
            pub.publish(TOPIC, _genuine(lamp.status(now - 60)), qos=1).wait_for_publish(5)
            assert wait_for(lambda: _stored(service) == [2])
            assert service.gateway.lorawan.rejects == {"fields": 2, "json": 3, "size": 1, "port": 1}
            assert wait_for(lambda: service.acked == len(poison) + 1)  # the poison too: never redelivered
            time.sleep(0.2)
            assert service.gateway.ingest.rejects["internal_error"] == 0
    finally:
        pub.loop_stop()
        pub.disconnect()
    # A restart finds nothing to redeliver: the broker's session holds no poison.
    service = _service(tmp_path, broker)
    with Running(service):
        time.sleep(0.5)
        assert service.acked == 0 and sum(service.gateway.lorawan.rejects.values()) == 0


def test_a_message_whose_handling_raises_is_counted_acknowledged_and_skipped(tmp_path, broker, caplog):  # noqa: F811
    service = _service(tmp_path, broker)
    handle = service.gateway.handle

    def faulty(topic, payload, rx_s=None):  # type: ignore[no-untyped-def]
        # Fault injection: stands for a bug not yet found, somewhere below `handle`.
        if payload.startswith(b"boom"):
            raise KeyError("line\n2026-01-01 00:00:00 WARNING forged")
        return handle(topic, payload, rx_s)

    service.gateway.handle = faulty  # type: ignore[method-assign]
    lamp = Lamp1()
    now = int(time.time())
    pub = _publisher(broker)
    try:
        with caplog.at_level(logging.ERROR, logger="lampfleet.gateway"), Running(service):
            pub.publish(TOPIC, _genuine(lamp.status(now - 120)), qos=1).wait_for_publish(5)
            pub.publish(TOPIC, b"boom one", qos=1).wait_for_publish(5)  # (mosquitto refuses control characters in topics)
            pub.publish(TOPIC, b"boom two", qos=1).wait_for_publish(5)
            pub.publish(TOPIC, _genuine(lamp.status(now - 60)), qos=1).wait_for_publish(5)
            assert wait_for(lambda: _stored(service) == [0, 1])
            assert wait_for(lambda: service.acked == 4)
            assert wait_for(lambda: _table(service).get("internal_error") == 2)  # lands in the rejects table
    finally:
        pub.loop_stop()
        pub.disconnect()
    errors = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert len(errors) == 2 and all("KeyError" in e and "\n" not in e and "forged" not in e.split("KeyError")[1]
                                    for e in errors)


def test_a_serial_bridge_uplink_whose_handling_raises_gets_no_answer_and_is_counted(tmp_path, broker):  # noqa: F811
    from gateway.link.serial_bridge import RxMeta

    service = _service(tmp_path, broker)  # not running: the bridge's reader thread calls in directly

    def faulty(*args, **kwargs):  # type: ignore[no-untyped-def]  # fault injection, as above
        raise ZeroDivisionError("x")

    service.gateway.answer_lamp = faulty  # type: ignore[method-assign]
    meta = RxMeta("/dev/ttyUSB0", time.time(), -90, 5.0, 868100, 9)
    assert service._on_bridge_uplink(Lamp1().status(int(time.time())), meta) is None
    assert service.gateway.ingest.rejects["internal_error"] == 1
    service.gateway.close()


def test_untrusted_text_is_logged_escaped(tmp_path, caplog):
    from gateway.service import Gateway

    gw = Gateway(Settings(database=tmp_path / "gw.sqlite3", clock="device"))
    with caplog.at_level(logging.WARNING, logger="lampfleet.gateway.ingest"):
        gw.handle("lampfleet/x\n2026-01-01 00:00:00 WARNING forged/up", b"", 1)
        gw.handle("lampfleet/LAMP-\x1b[31m0001/up", b"", 1)
        gw.handle("lampfleet/" + "L" * 5000 + "/up", b"", 1)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3 and all("\n" not in m and "\x1b" not in m and len(m) < 300 for m in lines)
    assert "\\n2026" in lines[0] and "\\x1b" in lines[1]
    gw.close()
