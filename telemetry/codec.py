"""Encode and decode v1 uplink frames (status, event, boot, dlack). Sans-I/O: bytes and dicts in, bytes
and dicts out. Downlinks (gateway -> lamp) use the same frame and functions: telemetry/downlink.py.

    frame = MHDR | DevAddr(3) | FCnt16(2) | AES-CTR(payload) | MIC(4)

Decoding any bytes either returns a dict or raises FrameError with a reason (see errors.REASONS). The MIC
is checked before the payload is parsed, so forged or damaged payloads are never interpreted.
"""
import struct

from telemetry import schema as s
from telemetry.crypto import DeviceKey, ctr_xor
from telemetry.errors import EncodeError, FrameError


def _block(tag, ftype, devaddr, fcnt, last_byte):
    # LoRaWAN-style B0 / A_i block: tag | 0^4 | dir | devaddr(4, LE) | fcnt(4, LE) | 0 | last_byte
    return struct.pack("<B4xBII", tag, s.direction(ftype), devaddr, fcnt) + bytes((0, last_byte))


def _mic(key, ftype, devaddr, fcnt, msg):
    return key.mic.digest(_block(0x49, ftype, devaddr, fcnt, len(msg)) + msg)[: s.MIC_LEN]


def _crypt(key, ftype, devaddr, fcnt, data):
    return ctr_xor(key.encrypt_block, _block(0x01, ftype, devaddr, fcnt, 0), data)


def as_key(key):
    """Accept a DeviceKey or 16 raw bytes."""
    return key if isinstance(key, DeviceKey) else DeviceKey(key)


# ---------------------------------------------------------------- encoding


def _sat(value, low, high, name):
    if not isinstance(value, int) or isinstance(value, bool):
        raise EncodeError("field %s must be an int, got %r" % (name, value))
    return low if value < low else high if value > high else value


def _code(value, table, name):
    if isinstance(value, int):
        return value
    try:
        return table[value]
    except KeyError:
        raise EncodeError("unknown %s %r" % (name, value))


def _status_payload(f):
    try:
        faults = f.get("faults", 0)
        if not isinstance(faults, int):
            faults = s.fault_bitmap(faults)
        soc = f.get("soc_pct")
        raw = {
            "time_min16": (f["time_s"] // 60) & 0xFFFF,
            "vbat_mv": f["vbat_mv"],
            "ibat_ma": f["ibat_ma"],
            "led_ma": f["led_ma"],
            "pv_dv": (f["pv_mv"] + 50) // 100,
            "soc_pct": s.SOC_UNKNOWN if soc is None else soc,
            "led_pct": f["led_pct"],
            "temp_c": f["temp_c"],
            "state": s.pack_state(_code(f.get("mode", 0), s.MODE_CODES, "mode"), faults),
        }
    except KeyError as e:
        raise EncodeError("status frame needs field %s" % e.args[0])
    except TypeError:
        raise EncodeError("status field of the wrong type in %r" % (f,))
    values = [_sat(raw[name], lo, hi, name) for name, lo, hi in s.STATUS_FIELDS]
    return struct.pack(s.STATUS_STRUCT, *values)


def _event_payload(f):
    events = f.get("events") or []
    if not 1 <= len(events) <= s.MAX_EVENTS:
        raise EncodeError("an event frame carries 1 to %d events" % s.MAX_EVENTS)
    parts = [struct.pack(s.EVENT_HEAD_STRUCT, _sat(f.get("time_s", -1), 0, 0xFFFFFFFF, "time_s"))]
    for ev in events:
        code = _code(ev["code"], s.EVENT_CODES, "event code")
        action = _code(ev.get("action", s.RAISED), {"cleared": 0, "raised": 1, "point": 2}, "action")
        parts.append(struct.pack(
            s.EVENT_RECORD_STRUCT,
            _sat(code, 0, 255, "code"), _sat(action, 0, 2, "action"),
            _sat(ev.get("value", 0), -32768, 32767, "value"),
            _sat(ev.get("ref", 0), -32768, 32767, "ref"),
        ))
    return b"".join(parts)


def _boot_payload(f):
    try:
        major, minor, patch = [int(x) for x in str(f["fw_version"]).split(".")]
        values = (
            _sat(f["time_s"], 0, 0xFFFFFFFF, "time_s"),
            _sat(major, 0, 255, "fw_major"), _sat(minor, 0, 255, "fw_minor"), _sat(patch, 0, 255, "fw_patch"),
            _sat(_code(f.get("reset_cause", 0), _index(s.RESET_CAUSES), "reset cause"), 0, 255, "reset_cause"),
            _sat(f.get("boot_count", 0), 0, 0xFFFF, "boot_count"),
            _sat(_code(f.get("profile", 0), _index(s.PROFILES), "profile"), 0, 255, "profile"),
        )
    except KeyError as e:
        raise EncodeError("boot frame needs field %s" % e.args[0])
    except ValueError:
        raise EncodeError("fw_version must look like 1.2.3")
    return struct.pack(s.BOOT_STRUCT, *values)


def _index(names):
    table = {}
    for i, name in enumerate(names):
        table[name] = i
    return table


_PAYLOAD_ENCODERS = {s.STATUS: _status_payload, s.EVENT: _event_payload, s.BOOT: _boot_payload}


def encode(ftype, devaddr, fcnt, key, fields):
    """Build an uplink frame. ftype: type code or name; fcnt: the full 32-bit frame counter."""
    ftype = _code(ftype, s.TYPE_CODES, "frame type")
    if ftype == s.DLACK:
        # The dlack's layout lives with the downlinks: a lamp without a link never loads it.
        from telemetry.downlink import dlack_payload

        return seal(ftype, devaddr, fcnt, key, dlack_payload(fields))
    if ftype not in _PAYLOAD_ENCODERS:
        raise EncodeError("cannot encode frame type %r" % ftype)
    return seal(ftype, devaddr, fcnt, key, _PAYLOAD_ENCODERS[ftype](fields))


def seal(ftype, devaddr, fcnt, key, payload):
    """Header, encrypted payload and MIC around a payload already laid out (uplinks and downlinks)."""
    if not 0 <= devaddr <= s.MAX_DEVADDR:
        raise EncodeError("device address must fit in 24 bits")
    if not 0 <= fcnt <= 0xFFFFFFFF:
        raise EncodeError("frame counter must fit in 32 bits")
    key = as_key(key)
    header = struct.pack("<BHBH", (s.VERSION << 4) | ftype, devaddr & 0xFFFF, devaddr >> 16, fcnt & 0xFFFF)
    msg = header + _crypt(key, ftype, devaddr, fcnt, payload)
    return msg + _mic(key, ftype, devaddr, fcnt, msg)


# ---------------------------------------------------------------- decoding


def peek(frame, type_names=None):
    """Check the clear-text header and return {version, type, devaddr, fcnt16}; no key needed.

    Used by the gateway to find the device (and its key) before `decode`. `type_names` (code -> name)
    widens the accepted frame types, e.g. for the link layer's downlink and acknowledgement frames.
    """
    if not isinstance(frame, (bytes, bytearray)):
        raise FrameError("content", "frame must be bytes")
    n = len(frame)
    if n < s.HEADER_LEN + s.MIC_LEN + 1:
        raise FrameError("short", "%d bytes" % n)
    if n > s.MAX_FRAME_LEN:
        raise FrameError("long", "%d bytes" % n)
    mhdr = frame[0]
    version = mhdr >> 4
    if version != s.VERSION:
        raise FrameError("version", "version %d, expected %d" % (version, s.VERSION))
    ftype = mhdr & 0x0F
    names = s.TYPE_NAMES if type_names is None else type_names
    if ftype not in names:
        raise FrameError("type", "frame type 0x%x" % ftype)
    lo, hi, fcnt16 = struct.unpack("<HBH", frame[1:6])
    return {"version": version, "type": names[ftype], "devaddr": lo | (hi << 16), "fcnt16": fcnt16}


def reconstruct_fcnt(last_fcnt, fcnt16):
    """Full 32-bit counter from its low 16 bits: the candidate nearest to last_fcnt + 1.

    A lamp may lose up to 32767 frames in a row (about 7 months at one frame per 10 minutes) before its
    counter is misread, and a misread counter fails the MIC instead of being accepted.
    """
    if last_fcnt is None:
        return fcnt16
    expected = last_fcnt + 1
    base = (expected & ~0xFFFF) | fcnt16
    best = None
    # base itself may pass 0xFFFFFFFF when last_fcnt is near the top: every candidate is range-checked.
    for cand in (base, base - 0x10000, base + 0x10000):
        if 0 <= cand <= 0xFFFFFFFF and (best is None or abs(cand - expected) < abs(best - expected)):
            best = cand
    return best


def reconstruct_time_min(time_min16, rx_time_s):
    """Full device minutes from the low 16 bits, given the receive time.

    The answer lies in (rx - 65536 + 1440, rx + 1440] minutes: frames may be delayed up to about 44 days
    (store-and-forward) and the device clock may run up to a day ahead of the gateway's.
    """
    rx_min = rx_time_s // 60
    cand = (rx_min & ~0xFFFF) | time_min16
    if cand > rx_min + 1440:
        cand -= 0x10000
    elif cand <= rx_min + 1440 - 0x10000:
        cand += 0x10000
    return cand


def open_frame(frame, key, fcnt, type_names=None):
    """Clear header, counter and MIC checked, payload decrypted: (header dict, type code, payload).

    The common first half of `decode` and `downlink.decode_downlink` (type_names as for `peek`)."""
    head = peek(frame, type_names)
    ftype = frame[0] & 0x0F
    if fcnt & 0xFFFF != head["fcnt16"]:
        raise FrameError("content", "counter does not match the frame")
    key = as_key(key)
    body = bytes(frame[: len(frame) - s.MIC_LEN])
    if _mic(key, ftype, head["devaddr"], fcnt, body) != bytes(frame[len(frame) - s.MIC_LEN:]):
        raise FrameError("mic", "message integrity code does not match")
    return head, ftype, _crypt(key, ftype, head["devaddr"], fcnt, body[s.HEADER_LEN:])


def decode(frame, key, fcnt, rx_time_s):
    """Verify and decode an uplink frame.

    key: the device's DeviceKey (or 16 bytes); fcnt: the full 32-bit counter (see reconstruct_fcnt);
    rx_time_s: receive time in Unix seconds, used to restore the status frame's full timestamp.
    Raises FrameError for anything that is not a valid frame for this key and counter.
    """
    head, ftype, payload = open_frame(frame, key, fcnt)
    out = {"version": head["version"], "type": head["type"], "devaddr": head["devaddr"], "fcnt": fcnt}
    if ftype == s.STATUS:
        _decode_status(payload, rx_time_s, out)
    elif ftype == s.EVENT:
        _decode_event(payload, out)
    elif ftype == s.BOOT:
        _decode_boot(payload, out)
    else:
        from telemetry.downlink import decode_dlack_payload

        decode_dlack_payload(payload, out)
    return out


def _name(table, i, prefix):
    return table[i] if 0 <= i < len(table) else prefix + str(i)


def _decode_status(payload, rx_time_s, out):
    if len(payload) != s.STATUS_LEN:
        raise FrameError("length", "status payload of %d bytes" % len(payload))
    values = struct.unpack(s.STATUS_STRUCT, payload)
    raw = {}
    for (name, _lo, _hi), value in zip(s.STATUS_FIELDS, values):
        raw[name] = value
    state = raw["state"]
    out["time_s"] = reconstruct_time_min(raw["time_min16"], rx_time_s) * 60
    out["vbat_mv"] = raw["vbat_mv"]
    out["ibat_ma"] = raw["ibat_ma"]
    out["led_ma"] = raw["led_ma"]
    out["pv_mv"] = raw["pv_dv"] * 100
    out["soc_pct"] = None if raw["soc_pct"] == s.SOC_UNKNOWN else raw["soc_pct"]
    out["led_pct"] = raw["led_pct"]
    out["temp_c"] = raw["temp_c"]
    out["mode"] = _name(s.MODES, state & 0x0F, "mode_")
    out["faults"] = s.fault_names(state >> 4)


def _decode_event(payload, out):
    n = len(payload) - 4
    if n <= 0 or n % s.EVENT_RECORD_LEN or n // s.EVENT_RECORD_LEN > s.MAX_EVENTS:
        raise FrameError("length", "event payload of %d bytes" % len(payload))
    out["time_s"] = struct.unpack(s.EVENT_HEAD_STRUCT, payload[:4])[0]
    events = []
    for i in range(4, len(payload), s.EVENT_RECORD_LEN):
        code, action, value, ref = struct.unpack(s.EVENT_RECORD_STRUCT, payload[i:i + s.EVENT_RECORD_LEN])
        if action > s.POINT:
            raise FrameError("content", "event action %d" % action)
        events.append({
            "code": s.EVENT_NAMES.get(code, "code_" + str(code)),
            "action": s.ACTIONS[action], "value": value, "ref": ref,
        })
    out["events"] = events


def _decode_boot(payload, out):
    if len(payload) != s.BOOT_LEN:
        raise FrameError("length", "boot payload of %d bytes" % len(payload))
    t, major, minor, patch, cause, count, profile = struct.unpack(s.BOOT_STRUCT, payload)
    out["time_s"] = t
    out["fw_version"] = "%d.%d.%d" % (major, minor, patch)
    out["reset_cause"] = _name(s.RESET_CAUSES, cause, "cause_")
    out["boot_count"] = count
    out["profile"] = _name(s.PROFILES, profile, "profile_")
