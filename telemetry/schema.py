"""Wire format v1: frame types, payload layouts, modes, faults, events. The single source of truth.

Byte-level description and a worked example: docs/wire-format.md. Change this table, change the doc,
regenerate the golden vectors (python -m telemetry.vectors.generate) and bump VERSION if old frames
would decode differently. The downlinks' own tables (config keys, commands) are in telemetry/downlink.py,
which only the lamp's link and the gateway load.
"""

VERSION = 1

HEADER_LEN = 6  # MHDR(1) + device address(3, LE) + frame counter low 16 bits(2, LE)
MIC_LEN = 4
MAX_FRAME_LEN = 51  # EU868 DR0-DR2 maximum payload: every frame fits at SF12
MAX_DEVADDR = 0xFFFFFF
# A lamp reports every `status_interval_s` at night and DAY_STATUS_FACTOR times that by day (nothing changes
# fast by day; the gateway's silence rule counts the frames due with the same factor, gateway/daily.py).
DAY_STATUS_FACTOR = 2

# Frame types (low nibble of MHDR). 0x1-0x7 travel lamp -> gateway (uplinks, decoded by codec.py),
# 0x8-0xF gateway -> lamp (downlinks, telemetry/downlink.py).
STATUS = 0x1
EVENT = 0x2
BOOT = 0x3
DLACK = 0x4  # the lamp's answer to a config or command downlink: its payload is in telemetry/downlink.py
TYPE_NAMES = {STATUS: "status", EVENT: "event", BOOT: "boot", DLACK: "dlack"}
TYPE_CODES = {"status": STATUS, "event": EVENT, "boot": BOOT, "dlack": DLACK}


def direction(ftype):
    """0 for uplink frame types, 1 for downlink ones (bit 3 of the type)."""
    return (ftype >> 3) & 1


# STATUS payload, 14 bytes: struct layout and the fields in that order.
STATUS_STRUCT = "<HHhHBBBbH"
STATUS_LEN = 14
# name, low, high: values outside are saturated by the encoder (a sensor spike must never stop a lamp
# from reporting). pv is sent in decivolts and soc 255 means "unknown".
STATUS_FIELDS = (
    ("time_min16", 0, 0xFFFF),
    ("vbat_mv", 0, 0xFFFF),
    ("ibat_ma", -32768, 32767),
    ("led_ma", 0, 0xFFFF),
    ("pv_dv", 0, 255),
    ("soc_pct", 0, 255),
    ("led_pct", 0, 100),
    ("temp_c", -128, 127),
    ("state", 0, 0xFFFF),
)
SOC_UNKNOWN = 255

# EVENT payload: time_s u32, then 1..MAX_EVENTS records of (code u8, action u8, value i16, ref i16).
EVENT_HEAD_STRUCT = "<I"
EVENT_RECORD_STRUCT = "<BBhh"
EVENT_RECORD_LEN = 6
MAX_EVENTS = 6  # 6 + 4 + 6*6 + 4 = 50 <= MAX_FRAME_LEN
ACTIONS = ("cleared", "raised", "point")
CLEARED = 0
RAISED = 1
POINT = 2

# BOOT payload, 11 bytes.
BOOT_STRUCT = "<IBBBBHB"
BOOT_LEN = 11
BOOT_FIELDS = ("time_s", "fw_major", "fw_minor", "fw_patch", "reset_cause", "boot_count", "profile")

# Operating modes: bits 0-3 of the status `state` word.
MODES = (
    "day",          # 0 lamp off, charging
    "night",        # 1 lamp lit by the night profile
    "low_battery",  # 2 load disconnected (LVD) until reconnect
    "safe",         # 3 safe mode after repeated crashes: fixed conservative profile
    "test",         # 4 commissioning test-on
    "manual_on",    # 5 kit: switched on by hand
    "manual_off",   # 6 kit: switched off by hand
    "boot",         # 7 starting up
)
MODE_CODES = {}
for _i, _name in enumerate(MODES):
    MODE_CODES[_name] = _i

# Fault flags: bits 4-15 of the status `state` word (fault i is bit 4+i). The same index is the event
# code of that fault being raised or cleared.
FAULTS = (
    "led_open",          # 0 LED commanded on, no current
    "led_short",         # 1 LED current far above the commanded level
    "driver",            # 2 LED driver reports a fault
    "pv_not_charging",   # 3 no harvest on a bright day: panel disconnected, stolen or shaded
    "battery_degraded",  # 4 capacity lost or voltage collapses under load
    "battery_low",       # 5 load disconnected to protect the battery
    "sensor",            # 6 a sensor stuck or out of range
    "over_temp",         # 7 enclosure or battery too hot
    "reset_loop",        # 8 repeated watchdog or brown-out resets
    "tamper",            # 9 enclosure opened
    "clock",             # 10 clock not set or drifting
    "storage",           # 11 flash write failed
)
FAULT_CODES = {}
for _i, _name in enumerate(FAULTS):
    FAULT_CODES[_name] = _i

# Event codes at and above 32 are point events that are not faults.
POINT_EVENTS = {32: "dusk", 33: "dawn", 34: "time_sync", 35: "config_applied", 36: "safe_mode"}
EVENT_NAMES = {}
for _i, _name in enumerate(FAULTS):
    EVENT_NAMES[_i] = _name
for _code, _name in POINT_EVENTS.items():
    EVENT_NAMES[_code] = _name
EVENT_CODES = {}
for _code, _name in EVENT_NAMES.items():
    EVENT_CODES[_name] = _code

# machine.reset_cause() values on the ESP32 port, and what the boot frame says.
RESET_CAUSES = ("unknown", "power_on", "hard", "watchdog", "deep_sleep", "soft", "brown_out")
PROFILES = ("street", "kit", "bridge")


def pack_state(mode, faults):
    """mode: int 0-15; faults: int bitmap of FAULTS indices."""
    return (mode & 0x0F) | ((faults & 0x0FFF) << 4)


def fault_names(bitmap):
    return [FAULTS[i] for i in range(len(FAULTS)) if bitmap & (1 << i)]


def fault_bitmap(names):
    bits = 0
    for name in names:
        bits |= 1 << FAULT_CODES[name]
    return bits
