"""Rewrite telemetry/vectors/golden.json: frames and rejections that every tier checks byte for byte.

    python -m telemetry.vectors.generate          # rewrite the file
    python -m telemetry.vectors.generate --check  # exit 1 if the checked-in file is stale

The output depends only on the tables below and the codec, so regenerating an unchanged codec gives the
same bytes. A diff in golden.json is a change of the wire format: review it as one (see schema.py).
Times are Bangui local (UTC+1) in the comments, Unix seconds in the data.
"""
import binascii
import json
import sys
from pathlib import Path

from telemetry import decode, encode
from telemetry.tests.support import seal

PATH = Path(__file__).with_name("golden.json")

KEY_A = "000102030405060708090a0b0c0d0e0f"
KEY_B = "2b7e151628aed2a6abf7158809cf4f3c"  # the RFC 4493 example key
KEY_C = "c0ffee00ba5eba11deadbeef01234567"

NIGHT_RX = 1749933000  # 2025-06-14 21:30
DAY_RX = 1749976200  # 2025-06-15 09:30
WRAP_RX = 1749811200 + 180  # 2025-06-13 11:43, three minutes after the 16-bit minute counter wrapped


def _status(time_s, mode, vbat_mv, ibat_ma, led_ma, pv_mv, soc_pct, led_pct, temp_c, faults=()):
    return {
        "time_s": time_s, "mode": mode, "vbat_mv": vbat_mv, "ibat_ma": ibat_ma, "led_ma": led_ma,
        "pv_mv": pv_mv, "soc_pct": soc_pct, "led_pct": led_pct, "temp_c": temp_c, "faults": list(faults),
    }


def _event(code, action, value=0, ref=0):
    return {"code": code, "action": action, "value": value, "ref": ref}


# name, key, frame type, device address, full frame counter, receive time, fields
FRAMES = (
    ("status_night_healthy", KEY_A, "status", 0x000101, 1234, NIGHT_RX,
     _status(NIGHT_RX - 60, "night", 12980, -1650, 1450, 300, 78, 70, 26)),
    ("status_day_charging", KEY_A, "status", 0x000101, 1301, DAY_RX,
     _status(DAY_RX - 120, "day", 13650, 3200, 0, 18400, 64, 0, 41)),
    ("status_faults_led_open_tamper", KEY_B, "status", 0x0A0B0C, 87, NIGHT_RX,
     _status(NIGHT_RX - 60, "night", 12710, -40, 0, 200, 71, 100, 29, ("led_open", "tamper"))),
    ("status_soc_unknown_negative_temp", KEY_C, "status", 0xFFFFFE, 3, DAY_RX,
     _status(DAY_RX - 60, "safe", 12400, 150, 0, 17100, None, 0, -7, ("sensor",))),
    ("status_fcnt_0x12345", KEY_A, "status", 0x123456, 0x12345, NIGHT_RX,
     _status(NIGHT_RX, "night", 12870, -1500, 1300, 0, 75, 60, 25)),
    ("status_time_across_minute_wrap", KEY_B, "status", 0x0A0B0C, 88, WRAP_RX,
     _status(WRAP_RX - 300, "day", 13420, 2750, 0, 17800, 55, 0, 38)),
    ("event_one_record", KEY_B, "event", 0x0A0B0C, 86, NIGHT_RX,
     {"time_s": NIGHT_RX - 95, "events": [_event("tamper", "raised", 1, 0)]}),
    ("event_three_records", KEY_A, "event", 0x000101, 1233, NIGHT_RX,
     {"time_s": NIGHT_RX - 1800, "events": [
         _event("dusk", "point", 1900, 2400),
         _event("led_open", "raised", 0, 1450),
         _event("battery_low", "cleared", 12650, 12600),
     ]}),
    ("event_six_records_largest_frame", KEY_C, "event", 0xFFFFFE, 4, DAY_RX,
     {"time_s": DAY_RX - 7, "events": [
         _event("safe_mode", "point", 3, 0),
         _event("reset_loop", "raised", 3, 600),
         _event("clock", "raised", 0, 0),
         _event("time_sync", "point", -42, 0),
         _event("clock", "cleared", 0, 0),
         _event("config_applied", "point", 7, 2),
     ]}),
    ("boot_after_watchdog_reset", KEY_A, "boot", 0x000101, 1300, DAY_RX,
     {"time_s": DAY_RX - 200, "fw_version": "1.4.2", "reset_cause": "watchdog", "boot_count": 23,
      "profile": "street"}),
    ("boot_kit_power_on", KEY_C, "boot", 0xFFFFFE, 0, DAY_RX,
     {"time_s": 0, "fw_version": "1.4.2", "reset_cause": "power_on", "boot_count": 1, "profile": "kit"}),
)


def _frame(name):
    for row in FRAMES:
        if row[0] == name:
            _, key, ftype, devaddr, fcnt, _rx, fields = row
            return encode(ftype, devaddr, fcnt, binascii.unhexlify(key), fields)
    raise KeyError(name)


def _flip(frame, index, mask=1):
    out = bytearray(frame)
    out[index] ^= mask
    return bytes(out)


def _garbage():
    night = _frame("status_night_healthy")  # key A, fcnt 1234
    event = _frame("event_one_record")  # key B, fcnt 86
    key_a = binascii.unhexlify(KEY_A)
    # name, key, counter given to decode, frame, expected reason
    return (
        ("short_empty", KEY_A, 1234, b"", "short"),
        ("short_header_and_mic_only", KEY_A, 1234, night[:6] + night[-4:], "short"),
        ("long_52_bytes", KEY_A, 1234, night + bytes(28), "long"),
        ("version_0", KEY_A, 1234, b"\x01" + night[1:], "version"),
        ("version_2", KEY_A, 1234, b"\x21" + night[1:], "version"),
        ("type_unassigned_uplink_4", KEY_A, 1234, b"\x14" + night[1:], "type"),
        ("type_downlink_8", KEY_A, 1234, b"\x18" + night[1:], "type"),
        ("mic_payload_bit_flipped", KEY_A, 1234, _flip(night, 10, 0x40), "mic"),
        ("mic_devaddr_bit_flipped", KEY_A, 1234, _flip(night, 1, 0x01), "mic"),
        ("mic_type_bit_flipped", KEY_A, 1234, _flip(night, 0, 0x02), "mic"),
        ("mic_tag_bit_flipped", KEY_A, 1234, _flip(night, 23, 0x80), "mic"),
        ("mic_wrong_key", KEY_C, 1234, night, "mic"),
        ("mic_wrong_counter_high_bits", KEY_A, 1234 + 0x10000, night, "mic"),
        ("mic_event_truncated", KEY_B, 86, event[:-1], "mic"),
        ("length_status_payload_13_bytes", KEY_A, 1235, seal(0x11, 0x000101, 1235, key_a, bytes(13)), "length"),
        ("length_event_without_records", KEY_A, 1235, seal(0x12, 0x000101, 1235, key_a, bytes(4)), "length"),
        ("length_boot_payload_12_bytes", KEY_A, 1235, seal(0x13, 0x000101, 1235, key_a, bytes(12)), "length"),
        ("content_event_action_3", KEY_A, 1235,
         seal(0x12, 0x000101, 1235, key_a, binascii.unhexlify("c85e4d68" "09030100" "0000")), "content"),
        ("content_counter_does_not_match_frame", KEY_A, 1235, night, "content"),
    )


def build():
    frames = []
    for name, key, ftype, devaddr, fcnt, rx, fields in FRAMES:
        frame = _frame(name)
        frames.append({
            "name": name, "key_hex": key, "devaddr": devaddr, "fcnt": fcnt, "rx_time_s": rx,
            "frame_hex": binascii.hexlify(frame).decode(),
            "decoded": decode(frame, binascii.unhexlify(key), fcnt, rx),
        })
    garbage = []
    for name, key, fcnt, frame, reason in _garbage():
        garbage.append({
            "name": name, "key_hex": key, "fcnt": fcnt, "rx_time_s": NIGHT_RX,
            "frame_hex": binascii.hexlify(frame).decode(), "reason": reason,
        })
    return {
        "about": "Wire format v1 golden vectors. Generated by `python -m telemetry.vectors.generate`; "
                 "see docs/wire-format.md. Do not edit by hand.",
        "frames": frames,
        "garbage": garbage,
    }


def render():
    return json.dumps(build(), indent=1, sort_keys=True) + "\n"


def main(argv):
    text = render()
    if "--check" in argv:
        if not PATH.exists() or PATH.read_text() != text:
            print("%s is stale: run python -m telemetry.vectors.generate" % PATH)
            return 1
        print("%s is up to date" % PATH)
        return 0
    PATH.write_text(text)
    print("wrote %s" % PATH)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
