"""The gateway's fast decoder gives exactly the answers of telemetry.decode: golden vectors, every valid
frame hypothesis can build, and arbitrary bytes (same dict or same rejection reason)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import telemetry
from telemetry import DeviceKey, FrameError, encode, schema

from gateway.fastcodec import FrameKeys, decode, header

GOLDEN = json.loads((Path(telemetry.__file__).parent / "vectors" / "golden.json").read_text())


def _both(frame: bytes, key: bytes, fcnt: int, rx: int):
    results = []
    for fn in (lambda: telemetry.decode(frame, DeviceKey(key), fcnt, rx), lambda: decode(frame, FrameKeys(key), fcnt, rx)):
        try:
            results.append(("ok", fn()))
        except FrameError as e:
            results.append(("error", e.reason))
    return results


@pytest.mark.parametrize("vec", GOLDEN["frames"] + GOLDEN["garbage"], ids=lambda v: v["name"])
def test_golden_vectors(vec):
    frame, key = bytes.fromhex(vec["frame_hex"]), bytes.fromhex(vec["key_hex"])
    ref, fast = _both(frame, key, vec["fcnt"], vec["rx_time_s"])
    assert fast == ref
    if "decoded" in vec:
        assert fast == ("ok", vec["decoded"])
    else:
        assert fast == ("error", vec["reason"])


_status = st.fixed_dictionaries({
    "time_s": st.integers(1_700_000_000, 1_800_000_000), "vbat_mv": st.integers(0, 0xFFFF),
    "ibat_ma": st.integers(-32768, 32767), "led_ma": st.integers(0, 0xFFFF), "pv_mv": st.integers(0, 25500),
    "soc_pct": st.one_of(st.none(), st.integers(0, 100)), "led_pct": st.integers(0, 100),
    "temp_c": st.integers(-128, 127), "mode": st.integers(0, 15), "faults": st.integers(0, 0xFFF)})
_event = st.fixed_dictionaries({"time_s": st.integers(0, 0xFFFFFFFF), "events": st.lists(st.fixed_dictionaries({
    "code": st.integers(0, 255), "action": st.integers(0, 2), "value": st.integers(-32768, 32767),
    "ref": st.integers(-32768, 32767)}), min_size=1, max_size=schema.MAX_EVENTS)})
_boot = st.fixed_dictionaries({"time_s": st.integers(0, 0xFFFFFFFF), "fw_version": st.tuples(
    st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)).map(lambda v: "%d.%d.%d" % v),
    "reset_cause": st.integers(0, 255), "boot_count": st.integers(0, 0xFFFF), "profile": st.integers(0, 255)})


_dlack = st.fixed_dictionaries({"dl_id": st.integers(0, 0xFFFF), "result": st.integers(0, 255)})


@settings(derandomize=True, max_examples=300, deadline=None)
@given(kind=st.sampled_from(["status", "event", "boot", "dlack"]), data=st.data(),
       key=st.binary(min_size=16, max_size=16), devaddr=st.integers(0, 0xFFFFFF), fcnt=st.integers(0, 0xFFFFFFFF))
def test_valid_frames_decode_identically(kind, data, key, devaddr, fcnt):
    fields = data.draw({"status": _status, "event": _event, "boot": _boot, "dlack": _dlack}[kind])
    frame = encode(kind, devaddr, fcnt, key, fields)
    rx = fields.get("time_s", 1_785_000_000) + 60
    ref, fast = _both(frame, key, fcnt, rx)
    assert ref[0] == "ok" and fast == ref


@settings(derandomize=True, max_examples=400, deadline=None)
@given(frame=st.binary(max_size=60), fcnt=st.integers(0, 0xFFFFFFFF), flip=st.integers(0, 60 * 8))
def test_arbitrary_and_damaged_bytes_get_the_same_answer(frame, fcnt, flip):
    key = bytes(range(16))
    ref, fast = _both(frame, key, fcnt, 1_785_000_000)
    assert fast == ref
    good = encode("status", 0x10, fcnt, key, {"time_s": 1_785_000_000, "vbat_mv": 1, "ibat_ma": 0, "led_ma": 0,
                                              "pv_mv": 0, "soc_pct": 1, "led_pct": 0, "temp_c": 0})
    damaged = bytearray(good)
    damaged[(flip // 8) % len(good)] ^= 1 << (flip % 8)
    ref, fast = _both(bytes(damaged), key, fcnt, 1_785_000_000)
    assert fast == ref


def test_header_rejects_like_peek():
    with pytest.raises(FrameError) as e:
        header("not bytes")  # type: ignore[arg-type]
    assert e.value.reason == "content"
    assert repr(FrameKeys(bytes(16))) == "FrameKeys(<hidden>)"
