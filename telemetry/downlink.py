"""Downlink frames (gateway -> lamp) and the lamp's answer to them, the dlack, wire format v1. Byte layout:
docs/wire-format.md, "Downlinks" and "Dlack payload".

The uplink frame and cryptography (codec.py) with the direction bit set: types 0x8-0xF have dir = 1 in
B0 and in every A_i, so a downlink's keystream differs from any uplink's at an equal counter. The counter
is a second 32-bit one per device (DFCnt), kept by the gateway. Each payload starts with a 3-byte
acknowledgement header (ack_fcnt16 u16, flags u8), so one packet acknowledges an uplink and carries a
request. The lamp answers a config or command with a dlack: an uplink (schema.DLACK) that codec.encode
and codec.decode build and read like the others, with the payload layout below.

Loaded by the lamp's link and the gateway only (codec imports it when a dlack is encoded or decoded): the
tables here cost a lamp without a link nothing.
"""
import struct

from telemetry.codec import open_frame, peek, seal
from telemetry.errors import EncodeError, FrameError

CONFIG = 0x8
COMMAND = 0x9
ACK = 0xA
TYPE_NAMES = {CONFIG: "config", COMMAND: "command", ACK: "ack"}
TYPE_CODES = {"config": CONFIG, "command": COMMAND, "ack": ACK}

FLAG_ACK = 0x01  # ack_fcnt16 is valid
FLAG_PENDING = 0x02  # more downlinks are waiting: send again soon
ACK_HEAD = "<HB"
ACK_HEAD_LEN = 3
DL_ID = "<H"
CONFIG_RECORD = "<BI"
CONFIG_RECORD_LEN = 5
MAX_CONFIG_RECORDS = 7  # 6 + 3 + 2 + 7 * 5 + 4 = 50 bytes
COMMAND_BODY = "<HBI"
COMMAND_BODY_LEN = 7
DLACK_BODY = "<HB"  # the dlack (uplink) payload: dl_id, result
DLACK_LEN = 3
RESULTS = ("applied", "invalid", "unsupported", "failed")

# Settings a config may change (code -> name, the lamp's own setting names). Values are unsigned 32-bit
# integers in the setting's unit; the lamp validates them and answers `invalid` when it refuses one.
CONFIG_KEYS = {
    1: "dusk_pv_mv", 2: "dawn_pv_mv", 3: "daylight_confirm_s", 4: "led_max_ma", 5: "night_level_pct",
    6: "sample_s", 7: "night_status_s", 8: "day_status_s", 9: "daily_airtime_ms", 10: "spreading_factor",
    11: "status_interval_s",
}
# Commands: test_on lights the lamp for `arg` minutes, reboot restarts the controller, time_sync sets the
# clock to `arg` Unix seconds (the gateway's time when it built the frame), status_now asks for a status.
COMMANDS = {1: "test_on", 2: "reboot", 3: "time_sync", 4: "status_now", 5: "battery_replaced"}


def _codes(table):
    out = {}
    for code, name in table.items():
        out[name] = code
    return out


def _code(value, table, what):
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value <= 255:
            raise EncodeError("%s code must fit in a byte" % what)
        return value
    code = _codes(table).get(value)
    if code is None:
        raise EncodeError("unknown %s %r" % (what, value))
    return code


def _uint(value, high, what):
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= high:
        raise EncodeError("%s must be an integer 0..%d, got %r" % (what, high, value))
    return value


def encode_downlink(ftype, devaddr, dl_fcnt, key, fields):
    """Build a downlink. ftype: 'config' | 'command' | 'ack' (or 0x8-0xA); dl_fcnt: the full 32-bit
    downlink counter. fields: ack_fcnt16 (int, or None for no acknowledgement), pending (bool);
    config: dl_id, settings {name or code: value}; command: dl_id, command (name or code), arg."""
    ftype = TYPE_CODES.get(ftype, ftype)
    if ftype not in TYPE_NAMES:
        raise EncodeError("not a downlink type: %r" % (ftype,))
    ack = fields.get("ack_fcnt16")
    flags = (FLAG_ACK if ack is not None else 0) | (FLAG_PENDING if fields.get("pending") else 0)
    payload = struct.pack(ACK_HEAD, _uint(ack or 0, 0xFFFF, "ack_fcnt16"), flags)
    if ftype == CONFIG:
        settings = fields.get("settings") or {}
        if not 1 <= len(settings) <= MAX_CONFIG_RECORDS:
            raise EncodeError("a config downlink carries 1 to %d settings" % MAX_CONFIG_RECORDS)
        records = sorted((_code(name, CONFIG_KEYS, "setting"), _uint(value, 0xFFFFFFFF, str(name)))
                         for name, value in settings.items())
        for i in range(1, len(records)):
            if records[i][0] == records[i - 1][0]:
                raise EncodeError("setting %d given twice" % records[i][0])
        payload += struct.pack(DL_ID, _uint(fields.get("dl_id"), 0xFFFF, "dl_id"))
        for code, value in records:
            payload += struct.pack(CONFIG_RECORD, code, value)
    elif ftype == COMMAND:
        payload += struct.pack(COMMAND_BODY, _uint(fields.get("dl_id"), 0xFFFF, "dl_id"),
                               _code(fields.get("command"), COMMANDS, "command"),
                               _uint(fields.get("arg", 0), 0xFFFFFFFF, "arg"))
    return seal(ftype, devaddr, dl_fcnt, key, payload)


def peek_downlink(frame):
    """Clear header of a downlink, {version, type, devaddr, fcnt16}; FrameError `type` for an uplink."""
    return peek(frame, TYPE_NAMES)


def decode_downlink(frame, key, dl_fcnt):
    """Verify (MIC first) and decode a downlink under the full counter dl_fcnt; raises FrameError with
    the reasons of codec.decode. Unknown setting and command codes read back as key_<n>, command_<n>."""
    head, ftype, p = open_frame(frame, key, dl_fcnt, TYPE_NAMES)
    n = len(p) - ACK_HEAD_LEN
    if ftype == ACK:
        ok = n == 0
    elif ftype == COMMAND:
        ok = n == COMMAND_BODY_LEN
    else:
        k = n - 2
        ok = k > 0 and k % CONFIG_RECORD_LEN == 0 and k // CONFIG_RECORD_LEN <= MAX_CONFIG_RECORDS
    if not ok:
        raise FrameError("length", "%s payload of %d bytes" % (head["type"], len(p)))
    ack, flags = struct.unpack(ACK_HEAD, p[:ACK_HEAD_LEN])
    out = {"version": head["version"], "type": head["type"], "devaddr": head["devaddr"], "fcnt": dl_fcnt,
           "ack_fcnt16": ack if flags & FLAG_ACK else None, "pending": bool(flags & FLAG_PENDING)}
    if ftype == COMMAND:
        dl_id, cmd, arg = struct.unpack(COMMAND_BODY, p[ACK_HEAD_LEN:])
        out["dl_id"] = dl_id
        out["command"] = COMMANDS.get(cmd, "command_%d" % cmd)
        out["arg"] = arg
    elif ftype == CONFIG:
        out["dl_id"] = struct.unpack(DL_ID, p[ACK_HEAD_LEN:ACK_HEAD_LEN + 2])[0]
        settings = {}
        for i in range(ACK_HEAD_LEN + 2, len(p), CONFIG_RECORD_LEN):
            code, value = struct.unpack(CONFIG_RECORD, p[i:i + CONFIG_RECORD_LEN])
            settings[CONFIG_KEYS.get(code, "key_%d" % code)] = value
        out["settings"] = settings
    return out


def dlack_payload(fields):
    """The dlack's payload: dl_id (0-65535) and result (a RESULTS name or a code 0-255); codec.encode's."""
    dl_id = fields.get("dl_id")
    result = fields.get("result", 0)
    code = result if isinstance(result, int) and not isinstance(result, bool) else None
    if code is None and result in RESULTS:
        code = RESULTS.index(result)
    if code is None or not 0 <= code <= 255:
        raise EncodeError("unknown dlack result %r" % (result,))
    return struct.pack(DLACK_BODY, _uint(dl_id, 0xFFFF, "dl_id"), code)


def decode_dlack_payload(payload, out):
    """dl_id and result into `out` (codec.decode's, after the MIC); unknown results read back as result_<n>."""
    if len(payload) != DLACK_LEN:
        raise FrameError("length", "dlack payload of %d bytes" % len(payload))
    dl_id, code = struct.unpack(DLACK_BODY, payload)
    out["dl_id"] = dl_id
    out["result"] = RESULTS[code] if code < len(RESULTS) else "result_%d" % code
