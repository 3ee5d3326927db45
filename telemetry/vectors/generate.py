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

from telemetry import codec, decode, encode
from telemetry.downlink import decode_downlink, encode_downlink
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
    ("dlack_applied", KEY_A, "dlack", 0x000101, 1235, NIGHT_RX, {"dl_id": 42, "result": "applied"}),
    ("dlack_unsupported_last_dl_id", KEY_C, "dlack", 0xFFFFFE, 0x10005, DAY_RX,
     {"dl_id": 65535, "result": "unsupported"}),
)

# Downlinks (gateway -> lamp): name, key, frame type, device address, full downlink counter, fields.
DOWNLINKS = (
    ("command_test_on_10_min", KEY_A, "command", 0x000101, 17,
     {"ack_fcnt16": 1234, "pending": False, "dl_id": 42, "command": "test_on", "arg": 10}),
    ("command_time_sync_more_waiting", KEY_B, "command", 0x0A0B0C, 0x10005,
     {"ack_fcnt16": 87, "pending": True, "dl_id": 7, "command": "time_sync", "arg": NIGHT_RX}),
    ("command_reboot_without_ack", KEY_C, "command", 0xFFFFFE, 0,
     {"ack_fcnt16": None, "pending": False, "dl_id": 0, "command": "reboot", "arg": 0}),
    ("config_status_interval", KEY_A, "config", 0x000101, 18,
     {"ack_fcnt16": 1236, "pending": False, "dl_id": 43, "settings": {"status_interval_s": 300}}),
    ("config_seven_settings_largest_frame", KEY_C, "config", 0xFFFFFE, 1,
     {"ack_fcnt16": None, "pending": True, "dl_id": 65535, "settings": {
         "dusk_pv_mv": 4800, "dawn_pv_mv": 6000, "daylight_confirm_s": 300, "led_max_ma": 900,
         "night_level_pct": 70, "sample_s": 60, "status_interval_s": 1800}}),
    ("ack_only", KEY_B, "ack", 0x0A0B0C, 0x10006, {"ack_fcnt16": 88, "pending": False}),
)


def _frame(name):
    for row in FRAMES:
        if row[0] == name:
            _, key, ftype, devaddr, fcnt, _rx, fields = row
            return encode(ftype, devaddr, fcnt, binascii.unhexlify(key), fields)
    raise KeyError(name)


def _downlink(name):
    for row in DOWNLINKS:
        if row[0] == name:
            _, key, ftype, devaddr, fcnt, fields = row
            return encode_downlink(ftype, devaddr, fcnt, binascii.unhexlify(key), fields)
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
        ("type_unassigned_uplink_5", KEY_A, 1234, b"\x15" + night[1:], "type"),
        ("type_downlink_8", KEY_A, 1234, b"\x18" + night[1:], "type"),
        ("type_downlink_command", KEY_A, 17, _downlink("command_test_on_10_min"), "type"),
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
        ("length_dlack_payload_4_bytes", KEY_A, 1235, seal(0x14, 0x000101, 1235, key_a, bytes(4)), "length"),
        ("content_event_action_3", KEY_A, 1235,
         seal(0x12, 0x000101, 1235, key_a, binascii.unhexlify("c85e4d68" "09030100" "0000")), "content"),
        ("content_counter_does_not_match_frame", KEY_A, 1235, night, "content"),
    )


def _as_uplink(mhdr, devaddr, fcnt, key, payload):
    """A downlink header around a payload encrypted and signed as if it were an uplink (direction 0)."""
    key = codec.as_key(key)
    head = bytes((mhdr, devaddr & 0xFF, (devaddr >> 8) & 0xFF, devaddr >> 16, fcnt & 0xFF, (fcnt >> 8) & 0xFF))
    msg = head + codec._crypt(key, 0x1, devaddr, fcnt, payload)
    return msg + codec._mic(key, 0x1, devaddr, fcnt, msg)


def _downlink_garbage():
    cmd = _downlink("command_test_on_10_min")  # key A, devaddr 0x000101, downlink counter 17
    key_a = binascii.unhexlify(KEY_A)
    command = binascii.unhexlify("d20401" "2a00" "01" "0a000000")  # the plaintext of cmd
    # name, key, counter given to decode_downlink, frame, expected reason
    return (
        ("short_header_and_mic_only", KEY_A, 17, cmd[:6] + cmd[-4:], "short"),
        ("long_52_bytes", KEY_A, 17, cmd + bytes(32), "long"),
        ("version_2", KEY_A, 17, b"\x29" + cmd[1:], "version"),
        ("type_uplink_status", KEY_A, 1234, _frame("status_night_healthy"), "type"),
        ("type_dlack_is_an_uplink", KEY_A, 1235, _frame("dlack_applied"), "type"),
        ("type_unassigned_downlink_b", KEY_A, 17, b"\x1b" + cmd[1:], "type"),
        ("mic_argument_bit_flipped", KEY_A, 17, _flip(cmd, 13, 0x01), "mic"),
        ("mic_command_changed_to_config", KEY_A, 17, _flip(cmd, 0, 0x01), "mic"),
        ("mic_wrong_key", KEY_B, 17, cmd, "mic"),
        ("mic_wrong_counter_high_bits", KEY_A, 17 + 0x10000, cmd, "mic"),
        ("mic_sealed_as_an_uplink", KEY_A, 17, _as_uplink(0x19, 0x000101, 17, key_a, command), "mic"),
        ("length_ack_with_a_payload", KEY_A, 19, seal(0x1A, 0x000101, 19, key_a, bytes(4)), "length"),
        ("length_ack_header_cut", KEY_A, 19, seal(0x1A, 0x000101, 19, key_a, bytes(2)), "length"),
        ("length_command_6_bytes", KEY_A, 19, seal(0x19, 0x000101, 19, key_a, bytes(9)), "length"),
        ("length_config_without_settings", KEY_A, 19, seal(0x18, 0x000101, 19, key_a, bytes(5)), "length"),
        ("length_config_half_a_setting", KEY_A, 19, seal(0x18, 0x000101, 19, key_a, bytes(8)), "length"),
        ("content_counter_does_not_match_frame", KEY_A, 18, cmd, "content"),
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
    downlinks = []
    for name, key, _ftype, devaddr, fcnt, _fields in DOWNLINKS:
        frame = _downlink(name)
        downlinks.append({
            "name": name, "key_hex": key, "devaddr": devaddr, "fcnt": fcnt,
            "frame_hex": binascii.hexlify(frame).decode(),
            "decoded": decode_downlink(frame, binascii.unhexlify(key), fcnt),
        })
    downlink_garbage = []
    for name, key, fcnt, frame, reason in _downlink_garbage():
        downlink_garbage.append({"name": name, "key_hex": key, "fcnt": fcnt,
                                 "frame_hex": binascii.hexlify(frame).decode(), "reason": reason})
    return {
        "about": "Wire format v1 golden vectors. Generated by `python -m telemetry.vectors.generate`; "
                 "see docs/wire-format.md. Do not edit by hand.",
        "frames": frames,
        "garbage": garbage,
        "downlinks": downlinks,
        "downlink_garbage": downlink_garbage,
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
