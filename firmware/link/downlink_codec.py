"""Downlink frames (gateway -> lamp) and the lamp's acknowledgement of them: a proposal for wire format v1.

Same frame as the uplinks and the same cryptography (telemetry/codec.py), with the direction bit set:

    MHDR | DevAddr(3) | DFCnt16(2) | AES-CTR(payload) | MIC(4)

Types 0x8-0xF are downlinks: `schema.direction()` is 1 for them, so B0 and A_i carry dir = 1 and the
keystream differs from any uplink's even at an equal counter. DFCnt is a second 32-bit counter per device,
kept by the gateway and never reused; the lamp accepts a downlink only when its counter (restored from the
16 low bits with `reconstruct_fcnt`) is above the last one it accepted, so a recorded downlink cannot be
replayed. Every downlink payload starts with a 3-byte acknowledgement header, so one radio packet
acknowledges the uplink it answers and carries a command:

    ack_fcnt16 u16   low 16 bits of the uplink counter acknowledged (valid when flags bit 0 is set)
    flags      u8    bit 0: ack_fcnt16 is valid; bit 1: more downlinks are waiting (send again soon)

| type | name    | payload after the header                           | frame bytes |
|------|---------|----------------------------------------------------|-------------|
| 0x8  | config  | dl_id u16, then 1-7 records (key u8, value u32)    | 20-50       |
| 0x9  | command | dl_id u16, command u8, argument u32                | 20          |
| 0xA  | ack     | nothing                                            | 13          |

The lamp answers a config or command with an uplink of type 0x4 (direction 0, the lamp's own frame counter):

| 0x4  | dlack   | dl_id u16, result u8 (0 applied, 1 invalid, 2 unsupported, 3 failed) | 13 |

dl_id is the gateway's queue entry: a downlink resent because its dlack was lost carries a fresh counter and
the same dl_id, and the lamp acknowledges it again without applying it twice. docs/link.md has the rest.
To move into telemetry/: these tables go to schema.py, the functions to codec.py (peek's type check and
decode's payload table gain the new types), and the golden vectors get downlink cases.
"""
import struct

from telemetry import schema as s
from telemetry.codec import _crypt, _mic, as_key, peek, reconstruct_fcnt
from telemetry.errors import EncodeError, FrameError

DLACK = 0x4
CONFIG = 0x8
COMMAND = 0x9
ACK = 0xA
DOWNLINK_NAMES = {CONFIG: "config", COMMAND: "command", ACK: "ack"}
TYPE_NAMES = {DLACK: "dlack", CONFIG: "config", COMMAND: "command", ACK: "ack"}
TYPE_CODES = {"dlack": DLACK, "config": CONFIG, "command": COMMAND, "ack": ACK}
_ALL_TYPE_NAMES = dict(s.TYPE_NAMES)
_ALL_TYPE_NAMES.update(TYPE_NAMES)

FLAG_ACK = 0x01
FLAG_PENDING = 0x02
ACK_HEAD = "<HB"
ACK_HEAD_LEN = 3
CONFIG_RECORD = "<BI"
CONFIG_RECORD_LEN = 5
MAX_CONFIG_RECORDS = 7  # 6 + 3 + 2 + 7 * 5 + 4 = 50 bytes
COMMAND_BODY = "<HBI"
DLACK_BODY = "<HB"

# Settings a config downlink may change (code -> name). Values are unsigned 32-bit integers in the
# setting's own unit; the lamp validates them (firmware/core/config.py) and answers `invalid` if refused.
CONFIG_KEYS = {
    1: "dusk_pv_mv", 2: "dawn_pv_mv", 3: "daylight_confirm_s", 4: "led_max_ma", 5: "night_level_pct",
    6: "sample_s", 7: "night_status_s", 8: "day_status_s", 9: "daily_airtime_ms", 10: "spreading_factor",
}
CONFIG_CODES = {}
for _k, _n in CONFIG_KEYS.items():
    CONFIG_CODES[_n] = _k

# Commands: test_on lights the lamp for `arg` minutes (commissioning), reboot restarts the controller,
# time_sync sets the clock to `arg` Unix seconds (the gateway's time when it built the frame), status_now
# asks for a status frame at once.
COMMANDS = {1: "test_on", 2: "reboot", 3: "time_sync", 4: "status_now"}
COMMAND_CODES = {}
for _k, _n in COMMANDS.items():
    COMMAND_CODES[_n] = _k

RESULTS = ("applied", "invalid", "unsupported", "failed")
MIN_LEN = s.HEADER_LEN + ACK_HEAD_LEN + s.MIC_LEN


def _header(ftype, devaddr, fcnt):
    return struct.pack("<BHBH", (s.VERSION << 4) | ftype, devaddr & 0xFFFF, devaddr >> 16, fcnt & 0xFFFF)


def _seal(ftype, devaddr, fcnt, key, payload):
    if not 0 <= devaddr <= s.MAX_DEVADDR:
        raise EncodeError("device address must fit in 24 bits")
    if not 0 <= fcnt <= 0xFFFFFFFF:
        raise EncodeError("frame counter must fit in 32 bits")
    key = as_key(key)
    msg = _header(ftype, devaddr, fcnt) + _crypt(key, ftype, devaddr, fcnt, payload)
    return msg + _mic(key, ftype, devaddr, fcnt, msg)


def _u32(value, name):
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 0xFFFFFFFF:
        raise EncodeError("%s must be an integer 0..2^32-1, got %r" % (name, value))
    return value


def _code(value, table, what):
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if value not in table:
        raise EncodeError("unknown %s %r" % (what, value))
    return table[value]


def encode_downlink(ftype, devaddr, dl_fcnt, key, fields):
    """Build a downlink. ftype: 'config' | 'command' | 'ack' (or 0x8-0xA); dl_fcnt: the full 32-bit counter.

    fields: ack_fcnt16 (int or None), pending (bool); config: dl_id, settings {name or code: value};
    command: dl_id, command (name or code), arg.
    """
    ftype = _code(ftype, TYPE_CODES, "frame type")
    if ftype not in DOWNLINK_NAMES:
        raise EncodeError("not a downlink type: %r" % ftype)
    ack = fields.get("ack_fcnt16")
    flags = (FLAG_ACK if ack is not None else 0) | (FLAG_PENDING if fields.get("pending") else 0)
    payload = struct.pack(ACK_HEAD, (ack or 0) & 0xFFFF, flags)
    if ftype == CONFIG:
        settings = fields.get("settings") or {}
        if not 1 <= len(settings) <= MAX_CONFIG_RECORDS:
            raise EncodeError("a config downlink carries 1 to %d settings" % MAX_CONFIG_RECORDS)
        payload += struct.pack("<H", _dl_id(fields))
        for name in sorted(settings, key=lambda n: _code(n, CONFIG_CODES, "setting")):
            code = _code(name, CONFIG_CODES, "setting")
            if not 0 <= code <= 255:
                raise EncodeError("setting code must fit in a byte")
            payload += struct.pack(CONFIG_RECORD, code, _u32(settings[name], name))
    elif ftype == COMMAND:
        cmd = _code(fields.get("command"), COMMAND_CODES, "command")
        if not 0 <= cmd <= 255:
            raise EncodeError("command code must fit in a byte")
        payload += struct.pack(COMMAND_BODY, _dl_id(fields), cmd, _u32(fields.get("arg", 0), "arg"))
    return _seal(ftype, devaddr, dl_fcnt, key, payload)


def _dl_id(fields):
    dl_id = fields.get("dl_id")
    if not isinstance(dl_id, int) or not 0 <= dl_id <= 0xFFFF:
        raise EncodeError("dl_id must be an integer 0..65535, got %r" % (dl_id,))
    return dl_id


def encode_dlack(devaddr, fcnt, key, dl_id, result="applied"):
    """The lamp's acknowledgement (uplink type 0x4) of downlink dl_id, under its own frame counter."""
    res = _code(result, {"applied": 0, "invalid": 1, "unsupported": 2, "failed": 3}, "result")
    if not 0 <= dl_id <= 0xFFFF or not 0 <= res <= 255:
        raise EncodeError("dl_id 0..65535 and result 0..255")
    return _seal(DLACK, devaddr, fcnt, key, struct.pack(DLACK_BODY, dl_id, res))


def peek_any(frame):
    """Clear header of any v1 frame this module or telemetry knows: {version, type, devaddr, fcnt16}."""
    return peek(frame, _ALL_TYPE_NAMES)


def _open(frame, key, fcnt, want):
    head = peek_any(frame)
    ftype = TYPE_CODES.get(head["type"])
    if ftype not in want:
        raise FrameError("type", "frame type %s here" % head["type"])
    if fcnt & 0xFFFF != head["fcnt16"]:
        raise FrameError("content", "counter does not match the frame")
    key = as_key(key)
    body = bytes(frame[: len(frame) - s.MIC_LEN])
    if _mic(key, ftype, head["devaddr"], fcnt, body) != bytes(frame[len(frame) - s.MIC_LEN:]):
        raise FrameError("mic", "message integrity code does not match")
    return head, ftype, _crypt(key, ftype, head["devaddr"], fcnt, body[s.HEADER_LEN:])


def decode_downlink(frame, key, dl_fcnt):
    """Verify (MIC first) and decode a downlink under the full counter dl_fcnt; raises FrameError."""
    head, ftype, p = _open(frame, key, dl_fcnt, DOWNLINK_NAMES)
    if len(p) < ACK_HEAD_LEN:
        raise FrameError("length", "downlink payload of %d bytes" % len(p))
    ack, flags = struct.unpack(ACK_HEAD, p[:ACK_HEAD_LEN])
    out = {"type": head["type"], "devaddr": head["devaddr"], "fcnt": dl_fcnt,
           "ack_fcnt16": ack if flags & FLAG_ACK else None, "pending": bool(flags & FLAG_PENDING)}
    body = p[ACK_HEAD_LEN:]
    if ftype == ACK:
        if body:
            raise FrameError("length", "ack payload of %d bytes" % len(p))
    elif ftype == COMMAND:
        if len(body) != 7:
            raise FrameError("length", "command payload of %d bytes" % len(p))
        dl_id, cmd, arg = struct.unpack(COMMAND_BODY, body)
        out["dl_id"] = dl_id
        out["command"] = COMMANDS.get(cmd, "command_%d" % cmd)
        out["arg"] = arg
    else:
        n = len(body) - 2
        if n < CONFIG_RECORD_LEN or n % CONFIG_RECORD_LEN or n // CONFIG_RECORD_LEN > MAX_CONFIG_RECORDS:
            raise FrameError("length", "config payload of %d bytes" % len(p))
        out["dl_id"] = struct.unpack("<H", body[:2])[0]
        settings = {}
        for i in range(2, len(body), CONFIG_RECORD_LEN):
            code, value = struct.unpack(CONFIG_RECORD, body[i:i + CONFIG_RECORD_LEN])
            settings[CONFIG_KEYS.get(code, "key_%d" % code)] = value
        out["settings"] = settings
    return out


def decode_dlack(frame, key, fcnt):
    """Verify and decode the lamp's acknowledgement of a downlink (uplink type 0x4)."""
    head, _ftype, p = _open(frame, key, fcnt, (DLACK,))
    if len(p) != 3:
        raise FrameError("length", "dlack payload of %d bytes" % len(p))
    dl_id, res = struct.unpack(DLACK_BODY, p)
    return {"type": "dlack", "devaddr": head["devaddr"], "fcnt": fcnt, "dl_id": dl_id,
            "result": RESULTS[res] if res < len(RESULTS) else "result_%d" % res}


class DownlinkGuard:
    """The lamp's side of downlink replay protection: a counter that only goes up, and the dl_ids applied
    recently (a resent command is acknowledged again, not applied twice). `state()` is what to persist."""

    RECENT = 8

    def __init__(self, devaddr, key, state=None):
        self.devaddr = devaddr
        self.key = as_key(key)
        state = state or {}
        self.last_fcnt = state.get("last_fcnt")
        self.recent = list(state.get("recent", []))

    def open(self, frame):
        """Decode and accept a downlink for this lamp, or raise FrameError (reasons as decode's, plus
        `wrong_device` and `replay`). The returned dict has `seen` True for a dl_id applied before."""
        head = peek_any(frame)
        if head["type"] not in ("config", "command", "ack"):
            raise FrameError("type", "not a downlink: %s" % head["type"])
        if head["devaddr"] != self.devaddr:
            raise FrameError("wrong_device", "downlink for 0x%06x" % head["devaddr"])
        fcnt = reconstruct_fcnt(self.last_fcnt, head["fcnt16"])
        out = decode_downlink(frame, self.key, fcnt)
        if self.last_fcnt is not None and fcnt <= self.last_fcnt:
            raise FrameError("replay", "downlink counter %d, last accepted %d" % (fcnt, self.last_fcnt))
        self.last_fcnt = fcnt
        if "dl_id" in out:
            out["seen"] = out["dl_id"] in self.recent
            if not out["seen"]:
                self.recent = (self.recent + [out["dl_id"]])[-self.RECENT:]
        return out

    def state(self):
        return {"last_fcnt": self.last_fcnt, "recent": list(self.recent)}
