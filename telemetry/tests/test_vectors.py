"""The golden vectors (telemetry/vectors/golden.json) against the codec. Shared: CPython and MicroPython.

The same file is what firmware and gateway tests check themselves against, so a codec change that moves
a single byte fails here first.
"""
from telemetry import schema as s
from telemetry.codec import decode, encode, peek
from telemetry.crypto import DeviceKey
from telemetry.errors import REASONS
from telemetry.tests.support import expect_frame_error, golden, tohex, unhex



def test_vectors_file_is_found_and_complete():
    data = golden()
    names = [v["name"] for v in data["frames"]]
    assert len(names) >= 8 and len(set(names)) == len(names)
    assert set(v["decoded"]["type"] for v in data["frames"]) == set(s.TYPE_NAMES.values())
    assert [v for v in data["frames"] if v["fcnt"] > 0xFFFF]
    assert set(v["reason"] for v in data["garbage"]) == set(REASONS)


def test_golden_frames_encode_exactly():
    for v in golden()["frames"]:
        fields = v["decoded"]
        frame = encode(fields["type"], v["devaddr"], v["fcnt"], unhex(v["key_hex"]), fields)
        assert tohex(frame) == v["frame_hex"], v["name"]


def test_golden_frames_decode_exactly():
    for v in golden()["frames"]:
        key = DeviceKey(unhex(v["key_hex"]))
        assert decode(unhex(v["frame_hex"]), key, v["fcnt"], v["rx_time_s"]) == v["decoded"], v["name"]


def test_golden_frames_peek():
    for v in golden()["frames"]:
        head = peek(unhex(v["frame_hex"]))
        assert head["devaddr"] == v["devaddr"] and head["fcnt16"] == v["fcnt"] & 0xFFFF, v["name"]
        assert head["type"] == v["decoded"]["type"] and head["version"] == s.VERSION, v["name"]


def test_golden_frames_fit_the_radio():
    for v in golden()["frames"]:
        n = len(v["frame_hex"]) // 2
        assert n <= s.MAX_FRAME_LEN, v["name"]
        if v["decoded"]["type"] == "status":
            assert n == 24, v["name"]


def test_golden_garbage_is_rejected_with_its_reason():
    for v in golden()["garbage"]:
        e = expect_frame_error(v["reason"], decode, unhex(v["frame_hex"]), unhex(v["key_hex"]), v["fcnt"],
                               v["rx_time_s"])
        assert e.reason in REASONS, v["name"]
