"""Downlink frames and the lamp's dlack (shared): round trips, MIC first, direction, replay protection."""
import binascii

from telemetry import encode
from telemetry.codec import _crypt
from telemetry.crypto import DeviceKey
from telemetry.errors import EncodeError, FrameError
from firmware.link import downlink_codec as dc

KEY = DeviceKey(bytes(range(16)))
OTHER = DeviceKey(bytes(16))
ADDR = 0x1A2B3C


def expect(reason, fn, *args):
    try:
        fn(*args)
    except FrameError as e:
        assert e.reason == reason, (reason, e.reason, str(e))
        return
    raise AssertionError("expected FrameError %s" % reason)


def test_command_round_trip_and_size():
    f = dc.encode_downlink("command", ADDR, 70000, KEY,
                           {"ack_fcnt16": 0x1234, "pending": True, "dl_id": 7, "command": "test_on", "arg": 15})
    assert len(f) == 20 and f[0] == 0x19
    assert dc.peek_any(f) == {"version": 1, "type": "command", "devaddr": ADDR, "fcnt16": 70000 & 0xFFFF}
    assert dc.decode_downlink(f, KEY, 70000) == {
        "type": "command", "devaddr": ADDR, "fcnt": 70000, "ack_fcnt16": 0x1234, "pending": True,
        "dl_id": 7, "command": "test_on", "arg": 15}


def test_config_round_trip_largest_frame():
    settings = {"dusk_pv_mv": 4800, "dawn_pv_mv": 6000, "daylight_confirm_s": 300, "led_max_ma": 900,
                "night_level_pct": 70, "night_status_s": 3600, "day_status_s": 14400}
    f = dc.encode_downlink("config", ADDR, 3, KEY, {"ack_fcnt16": None, "dl_id": 65535, "settings": settings})
    assert len(f) == 50
    out = dc.decode_downlink(f, KEY, 3)
    assert out["settings"] == settings and out["ack_fcnt16"] is None and out["dl_id"] == 65535
    assert not out["pending"]


def test_ack_frame_is_13_bytes():
    f = dc.encode_downlink("ack", ADDR, 1, KEY, {"ack_fcnt16": 99})
    assert len(f) == 13
    assert dc.decode_downlink(f, KEY, 1)["ack_fcnt16"] == 99


def test_dlack_round_trip():
    f = dc.encode_dlack(ADDR, 4321, KEY, 7, "unsupported")
    assert len(f) == 13 and f[0] == 0x14
    assert dc.decode_dlack(f, KEY, 4321) == {"type": "dlack", "devaddr": ADDR, "fcnt": 4321, "dl_id": 7,
                                             "result": "unsupported"}


def test_direction_bit_separates_keystreams():
    # same key, address, counter and plaintext: an uplink type and a downlink type encrypt differently
    plain = bytes(10)
    assert _crypt(KEY, 0x2, ADDR, 5, plain) != _crypt(KEY, 0x9, ADDR, 5, plain)
    assert _crypt(KEY, 0x2, ADDR, 5, plain) == _crypt(KEY, 0x4, ADDR, 5, plain)  # both uplink


def test_mic_checked_before_anything_else():
    f = dc.encode_downlink("command", ADDR, 9, KEY, {"dl_id": 1, "command": "reboot"})
    for i in range(6, len(f)):
        bad = bytearray(f)
        bad[i] ^= 0x40
        expect("mic", dc.decode_downlink, bytes(bad), KEY, 9)
    expect("mic", dc.decode_downlink, f, OTHER, 9)
    expect("mic", dc.decode_downlink, f, KEY, 9 + 0x10000)  # wrong high counter bits
    expect("content", dc.decode_downlink, f, KEY, 10)


def test_uplinks_are_not_downlinks_and_vice_versa():
    up = encode("boot", ADDR, 9, KEY, {"time_s": 1750000000, "fw_version": "1.0.0"})
    expect("type", dc.decode_downlink, up, KEY, 9)
    down = dc.encode_downlink("ack", ADDR, 9, KEY, {"ack_fcnt16": 1})
    expect("type", dc.decode_dlack, down, KEY, 9)
    expect("type", dc.peek_any, bytes((0x1F,)) + bytes(12))
    expect("version", dc.peek_any, bytes((0x29,)) + bytes(12))
    expect("short", dc.peek_any, bytes(10))
    expect("long", dc.peek_any, bytes(52))
    expect("content", dc.peek_any, "text")


def test_wrong_lengths_with_a_genuine_mic():
    # seal payloads of the wrong size with a valid MIC: the length check after the MIC refuses them
    for ftype, size in ((dc.ACK, 4), (dc.COMMAND, 9), (dc.CONFIG, 9), (dc.CONFIG, 11), (dc.ACK, 2)):
        f = dc._seal(ftype, ADDR, 2, KEY, bytes(size))
        expect("length", dc.decode_downlink, f, KEY, 2)
    expect("length", dc.decode_dlack, dc._seal(dc.DLACK, ADDR, 2, KEY, bytes(4)), KEY, 2)


def test_unknown_codes_read_back_by_number():
    f = dc.encode_downlink("config", ADDR, 2, KEY, {"dl_id": 1, "settings": {200: 5}})
    assert dc.decode_downlink(f, KEY, 2)["settings"] == {"key_200": 5}
    f = dc.encode_downlink("command", ADDR, 2, KEY, {"dl_id": 1, "command": 77})
    assert dc.decode_downlink(f, KEY, 2)["command"] == "command_77"


def test_encode_errors():
    bad = [
        ("config", {"dl_id": 1, "settings": {}}),
        ("config", {"dl_id": 1, "settings": {"nonsense": 1}}),
        ("config", {"dl_id": 1, "settings": {"sample_s": -1}}),
        ("command", {"dl_id": 70000, "command": "reboot"}),
        ("command", {"dl_id": 1, "command": "dance"}),
        ("status", {}),
    ]
    for ftype, fields in bad:
        try:
            dc.encode_downlink(ftype, ADDR, 1, KEY, fields)
        except EncodeError:
            continue
        raise AssertionError((ftype, fields))


def test_guard_accepts_rising_counters_and_refuses_replays():
    g = dc.DownlinkGuard(ADDR, KEY)
    f1 = dc.encode_downlink("command", ADDR, 5, KEY, {"dl_id": 3, "command": "status_now"})
    out = g.open(f1)
    assert out["command"] == "status_now" and not out["seen"]
    expect("replay", g.open, f1)
    resent = dc.encode_downlink("command", ADDR, 6, KEY, {"dl_id": 3, "command": "status_now"})
    assert g.open(resent)["seen"]  # same dl_id under a new counter: acknowledge, do not apply again
    for n in (30000, 60000, 0x10002):  # across the 16-bit wrap, in steps under 32768
        assert g.open(dc.encode_downlink("ack", ADDR, n, KEY, {"ack_fcnt16": 1}))["fcnt"] == n
    expect("mic", g.open, dc.encode_downlink("ack", ADDR, 0x10002 + 40000, KEY, {"ack_fcnt16": 1}))
    g2 = dc.DownlinkGuard(ADDR, KEY, g.state())  # survives a reboot through state()
    expect("replay", g2.open, dc.encode_downlink("ack", ADDR, 0x10002, KEY, {"ack_fcnt16": 1}))
    expect("mic", g2.open, resent)  # an old frame maps to a counter ahead, whose MIC it cannot have
    other = dc.encode_downlink("ack", ADDR + 1, 0x10003, KEY, {"ack_fcnt16": 1})
    expect("wrong_device", g2.open, other)
    forged = dc.encode_downlink("ack", ADDR, 0x10003, OTHER, {"ack_fcnt16": 1})
    expect("mic", g2.open, forged)
    expect("type", g2.open, dc.encode_dlack(ADDR, 1, KEY, 1))


def test_worked_example_in_docs():
    # docs/link.md "Worked example": the same inputs give these bytes.
    key = DeviceKey(binascii.unhexlify("000102030405060708090a0b0c0d0e0f"))
    f = dc.encode_downlink("command", 0x000101, 17, key,
                           {"ack_fcnt16": 1234, "pending": False, "dl_id": 42, "command": "test_on", "arg": 10})
    assert binascii.hexlify(f).decode() == WORKED_EXAMPLE_HEX


WORKED_EXAMPLE_HEX = "190101001100b31c29de5e135c4c6ddc54cd1466"
