"""The lamp controller core: one pure step per sample.

    outputs, events = step(state, inputs, now_ms)

inputs: dict of integer sensor readings (vbat_mv, ibat_ma, pv_mv, led_ma, temp_c).
now_ms: device clock, Unix epoch milliseconds, passed in by the shell (the core never reads a clock).
outputs: {"led_pct": 0-100, "next_ms": when to sample again}.
events: list of (code, action, value, ref) tuples, codes and actions from telemetry.schema.
`state` is mutated in place: on a 100 KB heap we avoid rebuilding it every minute.
"""
from telemetry import schema
from firmware.core.daylight import NIGHT, Daylight
from firmware.core.diagnosis import LedCheck

MODE_DAY = schema.MODE_CODES["day"]
MODE_NIGHT = schema.MODE_CODES["night"]
DUSK = schema.EVENT_CODES["dusk"]
DAWN = schema.EVENT_CODES["dawn"]


class LampState:
    def __init__(self, cfg):
        self.cfg = cfg
        self.daylight = Daylight()
        self.led_check = LedCheck()
        self.mode = schema.MODE_CODES["boot"]
        self.faults = 0
        self.led_pct = 0  # level commanded by the latest step
        self.applied_pct = 0  # level that was driving the LED while the latest sample was measured


def step(state, inputs, now_ms):
    cfg = state.cfg
    events = []
    # The LED current in this sample was produced by the level commanded at the previous step.
    state.applied_pct = state.led_pct
    state.faults = state.led_check.update(cfg, state.faults, state.applied_pct, inputs["led_ma"], events)
    phase, changed = state.daylight.update(cfg, inputs["pv_mv"], now_ms)
    if phase == NIGHT:
        state.mode = MODE_NIGHT
        state.led_pct = cfg["night_level_pct"]
    else:
        state.mode = MODE_DAY
        state.led_pct = 0
    if changed:
        events.append((DUSK if phase == NIGHT else DAWN, schema.POINT, inputs["pv_mv"] // 100, 0))
    return {"led_pct": state.led_pct, "next_ms": cfg["sample_s"] * 1000}, events
