"""Downlink frames (gateway -> lamp) and the lamp's dlack: round trips, sizes, MIC first, direction, the
golden downlink vectors. Shared: CPython and MicroPython."""
from telemetry import schema as s
from telemetry.codec import _crypt, decode, encode, peek
from telemetry.downlink import (
    ACK, COMMAND, CONFIG, CONFIG_KEYS, MAX_CONFIG_RECORDS, RESULTS, decode_downlink, encode_downlink, peek_downlink,
)
from telemetry.errors import REASONS, EncodeError
from telemetry.tests.support import KEY, OTHER_KEY, expect_frame_error, golden, seal, tohex, unhex

ADDR = 0x1A2B3C


def test_command_round_trip_and_size():
    f = encode_downlink("command", ADDR, 70000, KEY,
                        {"ack_fcnt16": 0x1234, "pending": True, "dl_id": 7, "command": "test_on", "arg": 15})
    assert len(f) == 20 and f[0] == 0x19
    assert peek_downlink(f) == {"version": 1, "type": "command", "devaddr": ADDR, "fcnt16": 70000 & 0xFFFF}
    assert decode_downlink(f, KEY, 70000) == {
        "version": 1, "type": "command", "devaddr": ADDR, "fcnt": 70000, "ack_fcnt16": 0x1234, "pending": True,
        "dl_id": 7, "command": "test_on", "arg": 15}


def test_config_round_trip_largest_frame():
    settings = {"dusk_pv_mv": 4800, "dawn_pv_mv": 6000, "daylight_confirm_s": 300, "led_max_ma": 900,
                "night_level_pct": 70, "night_status_s": 3600, "status_interval_s": 14400}
    f = encode_downlink("config", ADDR, 3, KEY, {"ack_fcnt16": None, "dl_id": 65535, "settings": settings})
    assert len(f) == s.MAX_FRAME_LEN - 1 and f[0] == 0x18
    out = decode_downlink(f, KEY, 3)
    assert out["settings"] == settings and out["ack_fcnt16"] is None and out["dl_id"] == 65535
    assert not out["pending"]


def test_config_records_are_written_in_key_order():
    a = encode_downlink("config", ADDR, 4, KEY, {"dl_id": 1, "settings": {"sample_s": 60, 1: 4000}})
    b = encode_downlink("config", ADDR, 4, KEY, {"dl_id": 1, "settings": {"dusk_pv_mv": 4000, "sample_s": 60}})
    assert a == b


def test_ack_frame_is_13_bytes():
    f = encode_downlink("ack", ADDR, 1, KEY, {"ack_fcnt16": 99})
    assert len(f) == 13 and f[0] == 0x1A
    assert decode_downlink(f, KEY, 1) == {"version": 1, "type": "ack", "devaddr": ADDR, "fcnt": 1,
                                          "ack_fcnt16": 99, "pending": False}


def test_dlack_is_an_uplink_of_13_bytes():
    f = encode("dlack", ADDR, 4321, KEY, {"dl_id": 7, "result": "unsupported"})
    assert len(f) == 13 and f[0] == 0x14
    assert peek(f)["type"] == "dlack"
    assert decode(f, KEY, 4321, 0) == {"version": 1, "type": "dlack", "devaddr": ADDR, "fcnt": 4321, "dl_id": 7,
                                       "result": "unsupported"}
    for code, name in enumerate(RESULTS):
        assert decode(encode("dlack", ADDR, 1, KEY, {"dl_id": 0, "result": code}), KEY, 1, 0)["result"] == name
    assert decode(encode("dlack", ADDR, 1, KEY, {"dl_id": 0, "result": 9}), KEY, 1, 0)["result"] == "result_9"


def test_direction_bit_separates_keystreams():
    # same key, address, counter and plaintext: an uplink type and a downlink type encrypt differently
    plain = bytes(10)
    assert _crypt(KEY, s.EVENT, ADDR, 5, plain) != _crypt(KEY, COMMAND, ADDR, 5, plain)
    assert _crypt(KEY, s.EVENT, ADDR, 5, plain) == _crypt(KEY, s.DLACK, ADDR, 5, plain)  # both uplinks
    assert _crypt(KEY, CONFIG, ADDR, 5, plain) == _crypt(KEY, ACK, ADDR, 5, plain)  # both downlinks


def test_mic_checked_before_anything_else():
    f = encode_downlink("command", ADDR, 9, KEY, {"dl_id": 1, "command": "reboot"})
    for i in range(len(f)):
        bad = bytearray(f)
        bad[i] ^= 0x40 if i else 0x01  # the type nibble stays a downlink type
        expect_frame_error("mic", decode_downlink, bytes(bad), KEY, bad[4] | bad[5] << 8)  # the counter it shows
    expect_frame_error("mic", decode_downlink, f, OTHER_KEY, 9)
    expect_frame_error("mic", decode_downlink, f, KEY, 9 + 0x10000)  # wrong high counter bits
    expect_frame_error("content", decode_downlink, f, KEY, 10)


def test_uplinks_are_not_downlinks_and_vice_versa():
    up = encode("boot", ADDR, 9, KEY, {"time_s": 1750000000, "fw_version": "1.0.0"})
    expect_frame_error("type", decode_downlink, up, KEY, 9)
    expect_frame_error("type", decode_downlink, encode("dlack", ADDR, 9, KEY, {"dl_id": 1}), KEY, 9)
    down = encode_downlink("ack", ADDR, 9, KEY, {"ack_fcnt16": 1})
    expect_frame_error("type", decode, down, KEY, 9, 0)
    expect_frame_error("type", peek, down)
    for mhdr in (0x1B, 0x1F, 0x14, 0x10):
        expect_frame_error("type", peek_downlink, bytes((mhdr,)) + bytes(12))
    expect_frame_error("version", peek_downlink, bytes((0x29,)) + bytes(12))
    expect_frame_error("short", peek_downlink, bytes(10))
    expect_frame_error("long", peek_downlink, bytes(52))
    expect_frame_error("content", peek_downlink, "text")


def test_wrong_lengths_with_a_genuine_mic():
    # payloads of the wrong size with a valid MIC: the length check after the MIC refuses them
    for mhdr, size in ((0x1A, 4), (0x1A, 2), (0x19, 9), (0x19, 11), (0x18, 5), (0x18, 9), (0x18, 11), (0x18, 3)):
        expect_frame_error("length", decode_downlink, seal(mhdr, ADDR, 2, KEY, bytes(size)), KEY, 2)
    for size in (1, 2, 4, 9):
        expect_frame_error("length", decode, seal(0x14, ADDR, 2, KEY, bytes(size)), KEY, 2, 0)


def test_unknown_codes_read_back_by_number():
    f = encode_downlink("config", ADDR, 2, KEY, {"dl_id": 1, "settings": {200: 5}})
    assert decode_downlink(f, KEY, 2)["settings"] == {"key_200": 5}
    f = encode_downlink("command", ADDR, 2, KEY, {"dl_id": 1, "command": 77})
    assert decode_downlink(f, KEY, 2)["command"] == "command_77"


def test_every_config_key_round_trips():
    names = [CONFIG_KEYS[k] for k in sorted(CONFIG_KEYS)]
    for i in range(0, len(names), MAX_CONFIG_RECORDS):
        settings = {}
        for j, name in enumerate(names[i:i + MAX_CONFIG_RECORDS]):
            settings[name] = 0xFFFFFFFF - j
        f = encode_downlink("config", ADDR, 5, KEY, {"dl_id": 3, "settings": settings})
        assert decode_downlink(f, KEY, 5)["settings"] == settings


def test_encode_errors():
    bad = [
        ("config", {"dl_id": 1, "settings": {}}),
        ("config", {"dl_id": 1, "settings": {"nonsense": 1}}),
        ("config", {"dl_id": 1, "settings": {"sample_s": -1}}),
        ("config", {"dl_id": 1, "settings": {"sample_s": 1, 6: 2}}),  # the same setting twice
        ("config", {"dl_id": 1, "settings": {300: 1}}),
        ("config", {"settings": {"sample_s": 1}}),  # no dl_id
        ("config", {"dl_id": 1, "settings": dict((CONFIG_KEYS[k], 1) for k in sorted(CONFIG_KEYS)[:8])}),
        ("command", {"dl_id": 70000, "command": "reboot"}),
        ("command", {"dl_id": 1, "command": "dance"}),
        ("command", {"dl_id": 1, "command": "test_on", "arg": -1}),
        ("command", {"dl_id": 1, "command": True}),
        ("ack", {"ack_fcnt16": 70000}),
        ("status", {}),
        ("dlack", {"dl_id": 1}),
        (0x4, {"dl_id": 1}),
    ]
    for ftype, fields in bad:
        try:
            encode_downlink(ftype, ADDR, 1, KEY, fields)
        except EncodeError:
            continue
        raise AssertionError((ftype, fields))
    for fields in ({}, {"dl_id": -1}, {"dl_id": 65536}, {"dl_id": 1, "result": "maybe"}, {"dl_id": 1, "result": 256}):
        try:
            encode("dlack", ADDR, 1, KEY, fields)
        except EncodeError:
            continue
        raise AssertionError(fields)


def test_golden_downlinks_encode_and_decode_exactly():
    vectors = golden()["downlinks"]
    assert set(v["decoded"]["type"] for v in vectors) == {"config", "command", "ack"}
    assert [v for v in vectors if v["fcnt"] > 0xFFFF] and [v for v in vectors if v["decoded"]["pending"]]
    for v in vectors:
        key = unhex(v["key_hex"])
        fields = v["decoded"]
        frame = encode_downlink(fields["type"], v["devaddr"], v["fcnt"], key, fields)
        assert tohex(frame) == v["frame_hex"], v["name"]
        assert decode_downlink(frame, key, v["fcnt"]) == fields, v["name"]
        head = peek_downlink(frame)
        assert head["devaddr"] == v["devaddr"] and head["fcnt16"] == v["fcnt"] & 0xFFFF, v["name"]
        assert len(frame) <= s.MAX_FRAME_LEN, v["name"]


def test_golden_downlink_garbage_is_rejected_with_its_reason():
    vectors = golden()["downlink_garbage"]
    assert set(v["reason"] for v in vectors) == set(REASONS)
    for v in vectors:
        expect_frame_error(v["reason"], decode_downlink, unhex(v["frame_hex"]), unhex(v["key_hex"]), v["fcnt"])
