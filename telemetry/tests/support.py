"""Helpers for the shared telemetry tests (CPython pytest and the MicroPython runner alike)."""
import binascii

from telemetry import codec
from telemetry.codec import encode
from telemetry.crypto import DeviceKey
from telemetry.errors import FrameError


def unhex(text):
    return binascii.unhexlify(text.replace(" ", ""))


def tohex(data):
    return binascii.hexlify(data).decode()


# ---------------------------------------------------------------- sample lamp and frames

ROOT = unhex("000102030405060708090a0b0c0d0e0f")
KEY = DeviceKey(ROOT)
OTHER_KEY = DeviceKey(unhex("0f0e0d0c0b0a09080706050403020100"))
DEVADDR = 0x1A2B3C
RX = 1750000000  # 2025-06-15 15:06:40 UTC
NOW = RX - 40  # device time when sent: 1749999960 is a whole minute


def status_fields(**changes):
    fields = {
        "time_s": NOW, "vbat_mv": 13250, "ibat_ma": -1830, "led_ma": 1520, "pv_mv": 400,
        "soc_pct": 87, "led_pct": 60, "temp_c": 27, "mode": "night", "faults": [],
    }
    fields.update(changes)
    return fields


def event_fields(n=1):
    events = [
        {"code": "led_open", "action": "raised", "value": 0, "ref": 1500},
        {"code": "dusk", "action": "point", "value": 4200, "ref": -7},
        {"code": "battery_low", "action": "cleared", "value": 12650, "ref": 12000},
    ]
    return {"time_s": NOW, "events": (events * 3)[:n]}


BOOT = {"time_s": NOW, "fw_version": "1.4.2", "reset_cause": "watchdog", "boot_count": 17, "profile": "street"}


def status_frame(fcnt=7, **changes):
    return encode("status", DEVADDR, fcnt, KEY, status_fields(**changes))


def header(ftype, fcnt):
    return {"version": 1, "type": ftype, "devaddr": DEVADDR, "fcnt": fcnt}


def flip(frame, index, bit=0):
    out = bytearray(frame)
    out[index] ^= 1 << bit
    return bytes(out)


# ---------------------------------------------------------------- assertions and frame surgery


def expect_frame_error(reason, fn, *args):
    """Call fn(*args); assert it raises FrameError with this reason, and return the error."""
    try:
        result = fn(*args)
    except FrameError as e:
        assert e.reason == reason, "expected FrameError %r, got %r (%s)" % (reason, e.reason, e)
        return e
    raise AssertionError("expected FrameError %r, got a result: %r" % (reason, result))


def seal(mhdr, devaddr, fcnt, key, payload):
    """A frame with a valid MIC around any payload: lets tests reach the checks made after the MIC."""
    key = codec.as_key(key)
    ftype = mhdr & 0x0F
    head = bytes((mhdr, devaddr & 0xFF, (devaddr >> 8) & 0xFF, devaddr >> 16, fcnt & 0xFF, (fcnt >> 8) & 0xFF))
    msg = head + codec._crypt(key, ftype, devaddr, fcnt, payload)
    return msg + codec._mic(key, ftype, devaddr, fcnt, msg)


def _parent(path):
    i = path.rfind("/")
    return path[:i] if i > 0 else ("/" if i == 0 else ".")


def vectors_path():
    """telemetry/vectors/golden.json, found from this file so any working directory will do."""
    return _parent(_parent(__file__)) + "/vectors/golden.json"


_golden = []


def golden():
    """The golden vectors, read once."""
    if not _golden:
        import json

        with open(vectors_path()) as f:
            _golden.append(json.load(f))
    return _golden[0]
