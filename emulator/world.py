"""One emulated lamp's world: physics, the scenario's faults on their timeline, and the scores.

Both execution modes (MicroPython-in-the-loop and fleet) drive lamps through this class, so the same
seed and scenario give the same world whichever interpreter runs the firmware.
"""
from __future__ import annotations

from emulator import faults as fault_specs
from emulator.physics import lamp as physics_lamp
from emulator.physics import sun, weather as weather_mod
from emulator.scenario import LampIdentity, Scenario

MAX_STEP_S = 900.0  # physics is accurate for steps up to 15 minutes


def make_weather(scenario: Scenario):
    if scenario.weather_file is not None:
        return weather_mod.TraceWeather(scenario.weather_file)
    return weather_mod.SyntheticWeather(physics_lamp.SITES[scenario.site], seed=scenario.seed)


class LampWorld:
    def __init__(self, scenario: Scenario, ident: LampIdentity, index: int, weather=None):
        self.scenario = scenario
        self.ident = ident
        self.site = physics_lamp.SITES[scenario.site]
        spec = physics_lamp.LampSpec.preset(ident.profile)
        self.physics = physics_lamp.LampPhysics(spec, self.site, weather or make_weather(scenario),
                                                seed=scenario.seed * 1_000_003 + index)
        self._pending = fault_specs.for_lamp(scenario.faults, ident.lamp_id, index, scenario.seed)
        self.dark_minutes = 0.0
        self.lit_night_minutes = 0.0

    def _apply_due_faults(self, t_s: float) -> None:
        start = self.scenario.start_s
        while self._pending and start + self._pending[0].at_s <= t_s:
            ev = self._pending.pop(0)
            params = {} if ev.value is None else {"value": ev.value}
            self.physics.set_fault(ev.fault, **params)

    def readings(self, t_s: float) -> dict:
        self._apply_due_faults(t_s)
        r = self.physics.read(t_s)
        return {k: int(r[k]) for k in ("vbat_mv", "ibat_ma", "pv_mv", "led_ma", "temp_c")}

    def advance(self, t_s: float, dt_s: float, led_pct: float) -> None:
        end = t_s + dt_s
        while t_s < end:
            self._apply_due_faults(t_s)
            step = min(MAX_STEP_S, end - t_s)
            self.physics.advance(t_s, step, led_pct, load_on=led_pct > 0)
            if sun.elevation_deg(self.site, t_s + step / 2) < -0.833:
                if led_pct > 0:
                    self.lit_night_minutes += step / 60
                else:
                    self.dark_minutes += step / 60
            t_s += step

    def metrics(self) -> dict:
        p = self.physics
        return {
            "dark_minutes": round(self.dark_minutes, 1),
            "lumen_hours": round(p.lumen_hours, 1),
            "min_soc_pct": round(p.min_soc_pct, 1),
            "energy_in_wh": round(p.energy_in_wh, 1),
            "energy_out_wh": round(p.energy_out_wh, 1),
        }
