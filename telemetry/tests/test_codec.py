"""Frame encoding and decoding: round trips, saturation, rounding, encoder errors. Shared: CPython and MicroPython."""
from telemetry import schema as s
from telemetry.codec import decode, encode, peek
from telemetry.errors import EncodeError
from telemetry.tests.support import (
    BOOT, DEVADDR, KEY, ROOT, RX, NOW, event_fields, expect_frame_error, header, status_fields, status_frame, unhex,
)


def test_status_round_trip():
    frame = status_frame()
    expected = header("status", 7)
    expected.update(status_fields())
    assert decode(frame, KEY, 7, RX) == expected


def test_status_frame_is_24_bytes():
    assert len(status_frame()) == 24
    assert len(status_frame(faults=list(s.FAULTS), soc_pct=None)) == 24
    assert s.HEADER_LEN + s.STATUS_LEN + s.MIC_LEN == 24


def test_status_modes_and_faults_round_trip():
    for mode in s.MODES:
        frame = status_frame(mode=mode, faults=["led_open", "tamper"])
        got = decode(frame, KEY, 7, RX)
        assert got["mode"] == mode
        assert got["faults"] == ["led_open", "tamper"]
    got = decode(status_frame(faults=list(s.FAULTS)), KEY, 7, RX)
    assert got["faults"] == list(s.FAULTS)
    # A fault bitmap is accepted as well as names; a mode by its code as well as its name.
    got = decode(status_frame(faults=(1 << 9) | 1, mode=2), KEY, 7, RX)
    assert got["faults"] == ["led_open", "tamper"] and got["mode"] == "low_battery"


def test_status_soc_unknown():
    assert decode(status_frame(soc_pct=None), KEY, 7, RX)["soc_pct"] is None
    assert decode(status_frame(soc_pct=0), KEY, 7, RX)["soc_pct"] == 0
    assert decode(status_frame(soc_pct=100), KEY, 7, RX)["soc_pct"] == 100


def test_status_unknown_mode_code_decodes_by_number():
    assert decode(status_frame(mode=11), KEY, 7, RX)["mode"] == "mode_11"


def test_status_time_is_quantised_to_minutes():
    got = decode(status_frame(time_s=NOW + 59), KEY, 7, RX)
    assert got["time_s"] == NOW


def test_event_round_trip_one_and_three_records():
    for n in (1, 3, s.MAX_EVENTS):
        frame = encode("event", DEVADDR, 8, KEY, event_fields(n))
        assert len(frame) == 6 + 4 + 6 * n + 4
        expected = header("event", 8)
        expected.update(event_fields(n))
        assert decode(frame, KEY, 8, RX) == expected


def test_event_defaults_and_codes():
    fields = {"time_s": NOW, "events": [{"code": 40}, {"code": s.EVENT_CODES["safe_mode"], "action": 2}]}
    got = decode(encode("event", DEVADDR, 8, KEY, fields), KEY, 8, RX)
    assert got["events"] == [
        {"code": "code_40", "action": "raised", "value": 0, "ref": 0},
        {"code": "safe_mode", "action": "point", "value": 0, "ref": 0},
    ]


def test_boot_round_trip():
    frame = encode("boot", DEVADDR, 0, KEY, BOOT)
    assert len(frame) == 6 + s.BOOT_LEN + 4
    expected = header("boot", 0)
    expected.update(BOOT)
    assert decode(frame, KEY, 0, RX) == expected


def test_boot_unknown_codes_decode_by_number():
    fields = dict(BOOT)
    fields["reset_cause"] = 9
    fields["profile"] = 7
    got = decode(encode("boot", DEVADDR, 0, KEY, fields), KEY, 0, RX)
    assert got["reset_cause"] == "cause_9" and got["profile"] == "profile_7"


def test_frame_type_by_code_and_raw_key_bytes():
    assert encode(s.STATUS, DEVADDR, 7, ROOT, status_fields()) == status_frame()
    assert decode(status_frame(), ROOT, 7, RX) == decode(status_frame(), KEY, 7, RX)
    assert decode(bytearray(status_frame()), KEY, 7, RX)["vbat_mv"] == 13250


def test_high_counter_bits_are_authenticated_not_sent():
    frame = encode("status", DEVADDR, 0x12345, KEY, status_fields())
    assert frame[4:6] == b"\x45\x23"
    assert decode(frame, KEY, 0x12345, RX)["fcnt"] == 0x12345
    expect_frame_error("mic", decode, frame, KEY, 0x2345, RX)


def test_same_fields_different_counter_different_ciphertext():
    a = status_frame(fcnt=7)
    b = status_frame(fcnt=8)
    assert a[6:20] != b[6:20]


def test_peek_reads_header_without_key():
    frame = encode("boot", 0xABCDEF, 0x10203, KEY, BOOT)
    assert frame[:6] == unhex("13efcdab0302")
    assert peek(frame) == {"version": 1, "type": "boot", "devaddr": 0xABCDEF, "fcnt16": 0x0203}


# ---------------------------------------------------------------- saturation and rounding


def test_status_saturates_out_of_range_values():
    frame = status_frame(vbat_mv=70000, ibat_ma=-40000, led_ma=-5, pv_mv=99999, led_pct=180, temp_c=-300)
    got = decode(frame, KEY, 7, RX)
    assert (got["vbat_mv"], got["ibat_ma"], got["led_ma"]) == (65535, -32768, 0)
    assert (got["pv_mv"], got["led_pct"], got["temp_c"]) == (25500, 100, -128)
    got = decode(status_frame(ibat_ma=40000, temp_c=300, led_pct=-1, pv_mv=-1000), KEY, 7, RX)
    assert (got["ibat_ma"], got["temp_c"], got["led_pct"], got["pv_mv"]) == (32767, 127, 0, 0)


def test_event_and_boot_saturate():
    fields = {"time_s": -5, "events": [{"code": "dusk", "action": "point", "value": 99999, "ref": -99999}]}
    got = decode(encode("event", DEVADDR, 8, KEY, fields), KEY, 8, RX)
    assert got["time_s"] == 0
    assert (got["events"][0]["value"], got["events"][0]["ref"]) == (32767, -32768)
    fields = dict(BOOT)
    fields.update({"boot_count": 123456, "fw_version": "300.2.1", "time_s": 1 << 40})
    got = decode(encode("boot", DEVADDR, 0, KEY, fields), KEY, 0, RX)
    assert (got["boot_count"], got["fw_version"], got["time_s"]) == (65535, "255.2.1", 0xFFFFFFFF)


def test_pv_decivolt_rounding():
    cases = ((0, 0), (49, 0), (50, 100), (149, 100), (150, 200), (18349, 18300), (18350, 18400),
             (25549, 25500), (25550, 25500))
    for pv_mv, expected in cases:
        assert decode(status_frame(pv_mv=pv_mv), KEY, 7, RX)["pv_mv"] == expected, pv_mv


def test_encode_errors_are_encode_errors():
    bad = (
        ("status", DEVADDR, 1, {"vbat_mv": 1}),
        ("status", DEVADDR, 1, status_fields(vbat_mv=True)),
        ("status", DEVADDR, 1, status_fields(vbat_mv=12.5)),
        ("status", DEVADDR, 1, status_fields(mode="party")),
        ("status", DEVADDR, 1, status_fields(time_s="noon")),
        ("status", 1 << 24, 1, status_fields()),
        ("status", -1, 1, status_fields()),
        ("status", DEVADDR, 1 << 32, status_fields()),
        ("status", DEVADDR, -1, status_fields()),
        ("downlink", DEVADDR, 1, status_fields()),
        (0x9, DEVADDR, 1, status_fields()),
        ("event", DEVADDR, 1, {"time_s": 0, "events": []}),
        ("event", DEVADDR, 1, event_fields(s.MAX_EVENTS + 1)),
        ("event", DEVADDR, 1, {"time_s": 0, "events": [{"code": "nope"}]}),
        ("event", DEVADDR, 1, {"time_s": 0, "events": [{"code": 1, "action": "maybe"}]}),
        ("boot", DEVADDR, 1, {"time_s": 0}),
        ("boot", DEVADDR, 1, {"time_s": 0, "fw_version": "1.2"}),
        ("boot", DEVADDR, 1, {"time_s": 0, "fw_version": "1.2.3", "profile": "castle"}),
    )
    for ftype, devaddr, fcnt, fields in bad:
        try:
            encode(ftype, devaddr, fcnt, KEY, fields)
        except EncodeError:
            continue
        raise AssertionError("encoded %r %r" % (ftype, fields))
