"""Fault names, their parameters, and the check that turns `LampPhysics.set_fault(...)` arguments into a
(name, params) pair; the effects are applied in lamp.py.

Faults (`set_fault(fault, value=None, /, **params)`, `clear_fault(fault)`); `value` is the primary parameter:
    led_open, led_short, driver_fault              LED / driver faults (led.py)
    led_stuck_on (level=1.0)                       driver or relay stuck on: the LED draws current and gives
                                                   light at `level` (0..1 of full) whatever the PWM command,
                                                   by day too (day burning), as long as the battery supplies it
    panel_disconnected                             panel stolen or cable cut: 0 V, 0 W
    soiling (fraction=0.3)                         dust on the panel, 0..1
    battery_degraded (capacity_factor=0.5)         usable capacity as a fraction of nominal
    sensor_stuck (name=<reading>, value=None)      a reading frozen at value (None: at its current value);
                                                   also spelled sensor_stuck_<reading>, e.g. sensor_stuck_vbat_mv
    over_temperature (offset_c=25.0)               battery/enclosure hotter than the weather explains
    power_cut                                      battery disconnected: controller unpowered, no charging
    brown_out (duration_s=1.0)                     supply dip: the controller is off for duration_s from the
                                                   end of the last advance, then resets; clears itself
Unknown names or parameters raise ValueError naming the known ones.
"""
from __future__ import annotations

from typing import Any

FAULTS = ("led_open", "led_short", "driver_fault", "led_stuck_on", "panel_disconnected", "soiling",
          "battery_degraded", "sensor_stuck", "over_temperature", "power_cut", "brown_out")
# fault -> (primary parameter, default): `value` in set_fault(name, value) fills the primary parameter
PARAMS = {"soiling": ("fraction", 0.3), "battery_degraded": ("capacity_factor", 0.5),
          "over_temperature": ("offset_c", 25.0), "brown_out": ("duration_s", 1.0),
          "sensor_stuck": ("value", None), "led_stuck_on": ("level", 1.0)}
READINGS = ("vbat_mv", "ibat_ma", "pv_mv", "led_ma", "temp_c", "lux")
_STUCK = "sensor_stuck_"


def canonical(name: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """`sensor_stuck_<reading>` -> ("sensor_stuck", {"name": reading, ...}); unknown names raise."""
    if name.startswith(_STUCK):
        params = {"name": name[len(_STUCK):], **params}
        name = "sensor_stuck"
    if name not in FAULTS:
        raise ValueError(f"unknown fault {name!r}: known faults are {', '.join(FAULTS)}")
    return name, params


def resolve(name: str, value: Any, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Validate a fault and fill its parameters' defaults; ValueError with what to do otherwise."""
    name, params = canonical(name, params)
    if "value" in params and name in PARAMS and PARAMS[name][0] != "value":
        value = params.pop("value")  # `value=` names the primary parameter of any fault
    allowed = {PARAMS[name][0]} if name in PARAMS else set()
    if name == "sensor_stuck":
        allowed.add("name")
    if value is not None:
        if name not in PARAMS:
            raise ValueError(f"fault {name!r} takes no value")
        params = {**params, PARAMS[name][0]: value}
    extra = set(params) - allowed
    if extra:
        raise ValueError(f"fault {name!r}: unknown parameter(s) {', '.join(sorted(extra))}")
    if name in PARAMS:
        key, default = PARAMS[name]
        params = {key: default, **params}
    if name == "sensor_stuck" and params.get("name") not in READINGS:
        raise ValueError(f"sensor_stuck needs name= one of {', '.join(READINGS)}")
    if name == "led_stuck_on" and not 0.0 <= float(params["level"]) <= 1.0:
        raise ValueError(f"led_stuck_on level must be 0..1 (fraction of full light), not {params['level']!r}")
    return name, params
