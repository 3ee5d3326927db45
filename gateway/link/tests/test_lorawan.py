"""LoRaWAN integrations: ChirpStack v4 and The Things Stack v3 uplink JSON to our frame, downlink JSON back.
Fixtures are written in the field shapes of ChirpStack's integration.proto (JSON mapping, camelCase) and
the TTS MQTT server documentation (snake_case)."""
import base64
import json

import pytest

from gateway.link import lorawan as lw
from telemetry import DeviceKey, decode, encode

KEY = DeviceKey(bytes(range(16)))
FRAME = encode("status", 0x100001, 7, KEY, {"time_s": 1750000000, "vbat_mv": 13000, "ibat_ma": 0, "led_ma": 0,
                                            "pv_mv": 0, "soc_pct": 80, "led_pct": 0, "temp_c": 25, "mode": "day"})
DEVICES = lw.DevEuiMap({"0004A30B001C0530": "LAMP-0001"})


def chirpstack(frame=FRAME, fport=10, dev_eui="0004a30b001c0530"):
    return json.dumps({
        "deduplicationId": "3ac7e3c4-4401-4b8d-9386-a5c902f9202d", "time": "2025-06-15T15:06:40.123456+00:00",
        "deviceInfo": {"tenantId": "52f14cd4-c6f1-4fbd-8f87-4025e1d49242", "tenantName": "Bangui",
                       "applicationId": "17c82e96-be03-4f38-aef3-f83d48582d97", "applicationName": "lamps",
                       "deviceProfileId": "14855bf7-d10d-4aee-b618-ebfcb64dc7ad", "deviceProfileName": "street",
                       "deviceName": "LAMP-0001", "devEui": dev_eui, "tags": {}},
        "devAddr": "00189440", "adr": True, "dr": 3, "fCnt": 42, "fPort": fport, "confirmed": False,
        "data": base64.b64encode(frame).decode(),
        "rxInfo": [{"gatewayId": "0016c001ff10a235", "uplinkId": 4217106255, "rssi": -97, "snr": 7.5,
                    "channel": 2, "location": {}, "context": "EFwMtA==", "crcStatus": "CRC_OK"}],
        "txInfo": {"frequency": 868500000, "modulation": {"lora": {"bandwidth": 125000, "spreadingFactor": 9,
                                                                      "codeRate": "CR_4_5"}}},
    }).encode()


def tts(frame=FRAME, fport=10):
    return json.dumps({
        "end_device_ids": {"device_id": "lamp-0001", "application_ids": {"application_id": "bangui-lamps"},
                           "dev_eui": "0004A30B001C0530", "dev_addr": "260B1234"},
        "correlation_ids": ["as:up:01H..."], "received_at": "2025-06-15T15:06:40.787756681Z",
        "uplink_message": {
            "session_key_id": "AXA...", "f_port": fport, "f_cnt": 42, "frm_payload": base64.b64encode(frame).decode(),
            "rx_metadata": [{"gateway_ids": {"gateway_id": "bangui-gw-1", "eui": "B827EBFFFE61A1B2"},
                             "time": "2025-06-15T15:06:40.700Z", "rssi": -103, "channel_rssi": -103, "snr": 4.2}],
            "settings": {"data_rate": {"lora": {"bandwidth": 125000, "spreading_factor": 9, "coding_rate": "4/5"}},
                         "frequency": "868100000"},
            "received_at": "2025-06-15T15:06:40.750012345Z", "consumed_airtime": "0.205824s"},
    }).encode()


def test_chirpstack_uplink():
    up = lw.LorawanIngest(DEVICES).handle("application/17c82e96-be03-4f38-aef3-f83d48582d97/device/"
                                          "0004a30b001c0530/event/up", chirpstack())
    assert up is not None and up.lamp_id == "LAMP-0001" and up.frame == FRAME
    assert up.rx == [{"gateway": "0016c001ff10a235", "rssi": -97, "snr": 7.5}]
    assert (up.sf, up.freq_hz, up.lorawan_fcnt) == (9, 868500000, 42)
    assert up.rx_time == pytest.approx(1750000000.123456)
    assert decode(up.frame, KEY, 7, int(up.rx_time))["vbat_mv"] == 13000


def test_tts_uplink_with_nanoseconds():
    up = lw.LorawanIngest(DEVICES).handle("v3/bangui-lamps@ttn/devices/lamp-0001/up", tts())
    assert up is not None and up.frame == FRAME and up.lamp_id == "LAMP-0001"
    assert up.rx == [{"gateway": "bangui-gw-1", "rssi": -103, "snr": 4.2}]
    assert (up.sf, up.freq_hz) == (9, 868100000)
    assert up.rx_time == pytest.approx(1750000000.750012)


def test_rejections_are_counted_by_reason():
    ing = lw.LorawanIngest(DEVICES)
    cs = "application/x/device/0004a30b001c0530/event/up"
    assert ing.handle(cs, b"{not json") is None
    assert ing.handle(cs, chirpstack(fport=1)) is None
    assert ing.handle(cs, chirpstack(dev_eui="ffffffffffffffff")) is None
    assert ing.handle(cs, chirpstack().replace(b'"data": "', b'"data": "%%')) is None
    assert ing.handle("application/x/device/y/event/join", b"{}") is None
    assert ing.handle("v3/app/devices/d/up", b'{"end_device_ids": {}}') is None
    assert ing.handle("something/else", b"") is None
    assert ing.rejects == {"json": 1, "port": 1, "unknown_device": 1, "fields": 2, "topic": 2}
    assert ing.accepted == 0


def test_downlinks_through_each_integration():
    ing = lw.LorawanIngest(DEVICES)
    up = ing.handle("application/app-1/device/0004a30b001c0530/event/up", chirpstack())
    topic, body = lw.downlink_for(up, b"\x1a\x01\x02")
    assert topic == "application/17c82e96-be03-4f38-aef3-f83d48582d97/device/0004a30b001c0530/command/down"
    assert json.loads(body) == {"devEui": "0004a30b001c0530", "confirmed": False, "fPort": 10, "data": "GgEC"}
    up = ing.handle("v3/bangui-lamps@ttn/devices/lamp-0001/up", tts())
    topic, body = lw.downlink_for(up, b"\x1a\x01\x02")
    assert topic == "v3/bangui-lamps@ttn/devices/lamp-0001/down/push"
    assert json.loads(body) == {"downlinks": [{"f_port": 10, "frm_payload": "GgEC", "priority": "NORMAL"}]}
