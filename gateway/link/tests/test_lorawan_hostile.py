"""LoRaWAN integration messages from a hostile or broken publisher: every one refused with a reason from
REASONS (never another exception), bad radio metadata dropped to None, and only safe ids reach a downlink
topic."""
import json

import pytest

from gateway.link import lorawan as lw
from gateway.link.tests.test_lorawan import DEVICES, FRAME, chirpstack, tts

CS = "application/17c82e96-be03-4f38-aef3-f83d48582d97/device/0004a30b001c0530/event/up"
TTS = "v3/bangui-lamps@ttn/devices/lamp-0001/up"


def _cs(**changes) -> bytes:
    msg = json.loads(chirpstack())
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = msg
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node[p]
        node[last] = value
    return json.dumps(msg).encode()


def _tts(**changes) -> bytes:
    msg = json.loads(tts())
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = msg
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node[p]
        node[last] = value
    return json.dumps(msg).encode()


def _reason(topic: str, payload: bytes) -> str:
    ing = lw.LorawanIngest(DEVICES)
    assert ing.handle(topic, payload) is None
    (reason,) = ing.rejects
    assert reason in lw.REASONS
    return reason


@pytest.mark.parametrize("payload, reason", [
    (b'{"deviceInfo": 1}', "fields"),
    (b'{"deviceInfo": "x", "fPort": 10}', "fields"),
    (b'{"deviceInfo": []}', "fields"),
    (b"[" * 100_000 + b"]" * 100_000, "size"),
    (b"[" * 30_000 + b"]" * 30_000, "json"),
    (b'{"a":' * 10_000 + b"1" + b"}" * 10_000, "json"),
    (b'{"x": "' + b"[" * 5000 + b'", "deviceInfo": 1}', "fields"),  # brackets inside a string do not nest
    (b'"\\"' * 20_000, "json"),  # an unterminated string full of escapes: still one linear pass
    (b"x" * (lw.MAX_PAYLOAD + 1), "size"),
    (b"\xff\xfe{}", "json"),
    (b"null", "json"),
    (b"1e999999", "json"),
])
def test_malformed_chirpstack_messages_are_refused_with_a_reason(payload, reason):
    assert _reason(CS, payload) == reason


@pytest.mark.parametrize("changes, reason", [
    ({"fPort": True}, "port"), ({"fPort": 10.0}, "port"), ({"fPort": "10"}, "port"),
    ({"data": 7}, "fields"), ({"data": ["AA=="]}, "fields"),
    ({"deviceInfo__devEui": 12}, "fields"), ({"deviceInfo__devEui": "0004a30b001c053\u0661"}, "fields"),
    ({"deviceInfo__devEui": "0004_a30b001c053"}, "fields"), ({"deviceInfo__devEui": " 004a30b001c0530"}, "fields"),
    ({"deviceInfo__applicationId": "a/+/#"}, "fields"), ({"deviceInfo__applicationId": "app\nx"}, "fields"),
    ({"deviceInfo__applicationId": "a\x00b"}, "fields"), ({"deviceInfo__applicationId": "a" * 101}, "fields"),
    ({"deviceInfo__applicationId": {"id": 1}}, "fields"),
])
def test_chirpstack_fields_of_the_wrong_type_or_shape(changes, reason):
    assert _reason(CS, _cs(**changes)) == reason


def test_chirpstack_topic_ids_are_checked_too():
    msg = json.loads(chirpstack())
    del msg["deviceInfo"]["applicationId"]
    assert _reason(CS.replace("17c82e96-be03-4f38-aef3-f83d48582d97", "a#b"), json.dumps(msg).encode()) == "fields"


@pytest.mark.parametrize("changes", [
    {"rxInfo": 5}, {"rxInfo": [1, "x", None]}, {"rxInfo__0__rssi": True}, {"rxInfo__0__rssi": "-97"},
    {"rxInfo__0__rssi": 10**9}, {"rxInfo__0__snr": float("nan")}, {"rxInfo__0__gatewayId": 7},
    {"txInfo": "x"}, {"txInfo__modulation": []}, {"txInfo__modulation__lora": 1},
    {"txInfo__modulation__lora__spreadingFactor": 13}, {"txInfo__modulation__lora__spreadingFactor": 9.0},
    {"txInfo__frequency": "868500000"}, {"txInfo__frequency": 5}, {"txInfo__frequency": True},
    {"fCnt": "42"}, {"fCnt": -1}, {"time": 5}, {"time": "year 10000"}, {"time": "9999-12-31T23:59:59+23:59"},
])
def test_bad_chirpstack_metadata_is_dropped_not_trusted(changes):
    ing = lw.LorawanIngest(DEVICES)
    up = ing.handle(CS, _cs(**changes), now=1_750_000_000.0)
    assert up is not None and up.frame == FRAME
    for r in up.rx:
        assert r["rssi"] is None or (type(r["rssi"]) in (int, float) and -200 <= r["rssi"] <= 50)
        assert r["snr"] is None or (type(r["snr"]) in (int, float) and -50 <= r["snr"] <= 50)
        assert isinstance(r["gateway"], str)
    assert up.sf is None or 5 <= up.sf <= 12
    assert up.freq_hz is None or type(up.freq_hz) is int
    assert up.lorawan_fcnt is None or type(up.lorawan_fcnt) is int
    assert isinstance(up.rx_time, float)


@pytest.mark.parametrize("changes, reason", [
    ({"end_device_ids": 1}, "fields"), ({"uplink_message": [1]}, "fields"),
    ({"end_device_ids__dev_eui": None}, "fields"), ({"uplink_message__f_port": "10"}, "port"),
    ({"uplink_message__frm_payload": {}}, "fields"), ({"end_device_ids__device_id": "d/#"}, "fields"),
    ({"end_device_ids__device_id": "lamp\r\n1"}, "fields"),
])
def test_tts_fields_of_the_wrong_type_or_shape(changes, reason):
    assert _reason(TTS, _tts(**changes)) == reason


@pytest.mark.parametrize("changes", [
    {"uplink_message__rx_metadata": {"a": 1}}, {"uplink_message__rx_metadata__0__gateway_ids": "gw"},
    {"uplink_message__settings": 3}, {"uplink_message__settings__frequency": "86810000x"},
    {"uplink_message__settings__frequency": "9" * 30}, {"uplink_message__settings__data_rate": []},
    {"uplink_message__settings__frequency": "86810000\u00b2"}, {"uplink_message__settings__frequency": "\u0668" * 9},
    {"uplink_message__received_at": ["t"]}, {"uplink_message__f_cnt": 1.5},
])
def test_bad_tts_metadata_is_dropped_not_trusted(changes):
    up = lw.LorawanIngest(DEVICES).handle(TTS, _tts(**changes))
    assert up is not None and up.frame == FRAME
    assert up.freq_hz is None or type(up.freq_hz) is int


def test_tts_application_id_in_the_topic_must_be_safe():
    assert _reason("v3/app\x01/devices/lamp-0001/up", tts()) == "fields"


def test_metadata_lists_are_bounded():
    up = lw.LorawanIngest(DEVICES).handle(CS, _cs(rxInfo=[{"gatewayId": "g" * 300, "rssi": -90}] * 100))
    assert up is not None and len(up.rx) == lw.MAX_RX and len(up.rx[0]["gateway"]) == lw.MAX_TEXT


def test_refusals_are_logged_escaped(caplog):
    ing = lw.LorawanIngest(DEVICES)
    with caplog.at_level("WARNING", logger="lampfleet.gateway.lorawan"):
        ing.handle("application/x\n2026-01-01 forged line/device/y/event/join", b"{}")
    assert len(caplog.records) == 1
    line = caplog.records[0].getMessage()
    assert "\n" not in line and "\\n2026" in line
