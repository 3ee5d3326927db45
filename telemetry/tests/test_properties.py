"""Properties of the codec over generated inputs (hypothesis, deterministic runs). CPython only."""
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from telemetry import schema as s
from telemetry.codec import decode, encode, reconstruct_fcnt, reconstruct_time_min
from telemetry.crypto import DeviceKey
from telemetry.errors import REASONS, FrameError

KEY = DeviceKey(bytes(range(16)))
RX = 1750000000
U32 = 0xFFFFFFFF

deterministic = settings(derandomize=True, database=None, max_examples=400, deadline=None,
                         suppress_health_check=[HealthCheck.too_slow])

fcnts = st.integers(0, U32)
devaddrs = st.integers(0, s.MAX_DEVADDR)
i16 = st.integers(-32768, 32767)
u16 = st.integers(0, 0xFFFF)


def _clamp(x, lo, hi):
    return max(lo, min(hi, x))


def status_on_grid():
    """Status fields that survive the trip exactly: whole minutes near RX, pv in 100 mV steps."""
    return st.fixed_dictionaries({
        "time_s": st.integers(RX // 60 + 1440 - 0xFFFF, RX // 60 + 1440).map(lambda m: m * 60),
        "vbat_mv": u16, "ibat_ma": i16, "led_ma": u16,
        "pv_mv": st.integers(0, 255).map(lambda dv: dv * 100),
        "soc_pct": st.one_of(st.none(), st.integers(0, 254)),
        "led_pct": st.integers(0, 100), "temp_c": st.integers(-128, 127),
        "mode": st.sampled_from(s.MODES),
        "faults": st.sets(st.sampled_from(s.FAULTS)).map(lambda f: [n for n in s.FAULTS if n in f]),
    })


def events():
    record = st.fixed_dictionaries({
        "code": st.sampled_from(sorted(s.EVENT_CODES)), "action": st.sampled_from(s.ACTIONS),
        "value": i16, "ref": i16,
    })
    return st.fixed_dictionaries({"time_s": st.integers(0, U32), "events": st.lists(record, min_size=1, max_size=6)})


def boots():
    return st.fixed_dictionaries({
        "time_s": st.integers(0, U32),
        "fw_version": st.tuples(*[st.integers(0, 255)] * 3).map(lambda v: "%d.%d.%d" % v),
        "reset_cause": st.sampled_from(s.RESET_CAUSES), "boot_count": u16,
        "profile": st.sampled_from(s.PROFILES),
    })


def any_valid_frame():
    kinds = st.one_of(
        st.tuples(st.just("status"), status_on_grid()),
        st.tuples(st.just("event"), events()),
        st.tuples(st.just("boot"), boots()),
    )
    return st.tuples(kinds, devaddrs, fcnts).map(lambda t: (encode(t[0][0], t[1], t[2], KEY, t[0][1]), t[2]))


def decode_refuses_cleanly(frame, fcnt):
    """decode either accepts or raises FrameError with a listed reason; anything else fails the test."""
    try:
        decode(frame, KEY, fcnt, RX)
    except FrameError as e:
        assert e.reason in REASONS
        return e.reason
    return None


@deterministic
@given(st.binary(max_size=80), fcnts)
def test_decode_of_arbitrary_bytes_raises_only_frame_error(data, fcnt):
    decode_refuses_cleanly(data, fcnt)


@deterministic
@given(st.binary(min_size=11, max_size=51), fcnts)
def test_decode_of_well_formed_headers_raises_only_frame_error(body, fcnt):
    # A valid-looking header and counter so that the bytes reach the MIC check, not just the length.
    frame = bytes((0x10 | (body[0] % 3 + 1),)) + body[1:4] + (fcnt & 0xFFFF).to_bytes(2, "little") + body[6:]
    assert decode_refuses_cleanly(frame, fcnt) == "mic"


@deterministic
@given(any_valid_frame(), st.data())
def test_any_single_bit_flip_is_refused(frame_fcnt, data):
    frame, fcnt = frame_fcnt
    index = data.draw(st.integers(0, len(frame) - 1))
    mutated = bytearray(frame)
    mutated[index] ^= 1 << data.draw(st.integers(0, 7))
    assert decode_refuses_cleanly(bytes(mutated), fcnt) is not None


@deterministic
@given(any_valid_frame(), st.data())
def test_truncations_and_extensions_are_refused(frame_fcnt, data):
    frame, fcnt = frame_fcnt
    cut = data.draw(st.integers(0, len(frame) - 1))
    assert decode_refuses_cleanly(frame[:cut], fcnt) is not None
    extra = data.draw(st.binary(min_size=1, max_size=40))
    assert decode_refuses_cleanly(frame + extra, fcnt) is not None


@deterministic
@given(status_on_grid(), devaddrs, fcnts)
def test_status_round_trip_on_the_quantised_grid(fields, devaddr, fcnt):
    frame = encode("status", devaddr, fcnt, KEY, fields)
    assert len(frame) == 24
    expected = {"version": 1, "type": "status", "devaddr": devaddr, "fcnt": fcnt}
    expected.update(fields)
    assert decode(frame, KEY, fcnt, RX) == expected


@deterministic
@given(events(), devaddrs, fcnts)
def test_event_round_trip(fields, devaddr, fcnt):
    got = decode(encode("event", devaddr, fcnt, KEY, fields), KEY, fcnt, RX)
    assert (got["time_s"], got["events"]) == (fields["time_s"], fields["events"])


@deterministic
@given(boots(), devaddrs, fcnts)
def test_boot_round_trip(fields, devaddr, fcnt):
    got = decode(encode("boot", devaddr, fcnt, KEY, fields), KEY, fcnt, RX)
    assert {k: got[k] for k in fields} == fields


@deterministic
@given(st.fixed_dictionaries({
    "vbat_mv": st.integers(-10**6, 10**6), "ibat_ma": st.integers(-10**6, 10**6),
    "led_ma": st.integers(-10**6, 10**6), "pv_mv": st.integers(-10**6, 10**6),
    "led_pct": st.integers(-1000, 1000), "temp_c": st.integers(-1000, 1000),
}))
def test_status_saturates_instead_of_failing(raw):
    fields = dict(raw, time_s=RX, soc_pct=50, mode="night", faults=[])
    got = decode(encode("status", 1, 1, KEY, fields), KEY, 1, RX)
    assert got["vbat_mv"] == _clamp(raw["vbat_mv"], 0, 0xFFFF)
    assert got["ibat_ma"] == _clamp(raw["ibat_ma"], -32768, 32767)
    assert got["led_ma"] == _clamp(raw["led_ma"], 0, 0xFFFF)
    assert got["pv_mv"] == _clamp((raw["pv_mv"] + 50) // 100, 0, 255) * 100
    assert got["led_pct"] == _clamp(raw["led_pct"], 0, 100)
    assert got["temp_c"] == _clamp(raw["temp_c"], -128, 127)


@deterministic
@given(st.one_of(st.none(), fcnts), u16)
def test_reconstruct_fcnt_keeps_low_bits_and_range(last, fcnt16):
    full = reconstruct_fcnt(last, fcnt16)
    assert 0 <= full <= U32
    assert full & 0xFFFF == fcnt16


@deterministic
@given(fcnts, st.integers(-32767, 32767))
def test_reconstruct_fcnt_finds_any_counter_within_half_the_window(last, delta):
    true = last + 1 + delta
    if 0 <= true <= U32:
        assert reconstruct_fcnt(last, true & 0xFFFF) == true


@deterministic
@given(fcnts, u16)
def test_reconstruct_fcnt_picks_the_nearest_candidate(last, fcnt16):
    full = reconstruct_fcnt(last, fcnt16)
    for other in (full - 0x10000, full + 0x10000):
        if 0 <= other <= U32:
            assert abs(full - (last + 1)) <= abs(other - (last + 1))


@deterministic
@given(st.integers(0, 2**34), st.integers(-0xFFFF + 1441, 1440))
def test_reconstruct_time_min_within_window(rx_s, offset_min):
    device_min = rx_s // 60 + offset_min
    if device_min >= 0:
        assert reconstruct_time_min(device_min & 0xFFFF, rx_s) == device_min
