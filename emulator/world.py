"""One emulated lamp's world: physics, the scenario's faults on their timeline, and the scores.

Both execution modes (MicroPython-in-the-loop and fleet) drive lamps through this class, so the same
seed and scenario give the same world whichever interpreter runs the firmware.
"""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from emulator import faults as fault_specs
from emulator.physics import sun
from emulator.physics.lamp import PRESETS, LampPhysics
from emulator.physics.site import Site, get_site
from emulator.physics.trace import TraceWeather
from emulator.physics.weather import SyntheticWeather
from emulator.rtc import CLOCK_FAULTS, LampClock
from emulator.scenario import LampIdentity, Scenario
from firmware.core.wake import outside

NIGHT_ELEVATION_DEG = -0.833  # the sun's upper limb below the horizon
SENSOR_KEYS = ("vbat_mv", "ibat_ma", "pv_mv", "led_ma", "temp_c", "lux")
# Faults of the lamp's surroundings handled here rather than in the physics: the radio link, the
# enclosure's tamper switch (a reading of 1 while open) and, for kits, a household that does not use its
# lantern (kit_off: it presses the kit's button whenever the lantern comes on, see readings()).
WORLD_FAULTS = ("radio_dead", "tamper", "kit_off")
# What the controller reports after its supply came back (physics' last_interruption -> reset cause).
_RESET_AFTER = {"brown_out": "brown_out", "power_cut": "power_on", "battery_protection": "power_on"}
# A sleeping lamp's HAL reads its banded inputs every minute (hal/esp32.py, peek_ms). The emulator peeks
# that often only where a band can be left within minutes: in dim light (the PV and lux thresholds of
# dusk and dawn sit far below G_DIM), with the battery within 400 mV of its band, and for a kit whose
# household presses the button; elsewhere every 10 minutes. Faults are peeked at the moment they begin.
PEEK_NEAR_S = 60.0
PEEK_FAR_S = 600.0
G_DIM = 50.0  # W/m2
VBAT_NEAR_MV = 400
AWAKE_PER_WAKE_S = 0.05  # the controller's awake time per wake-up (sample, step, report), LED off


def make_weather(scenario: Scenario):
    """The scenario's weather: its trace file, or the site's seeded synthetic weather (shared by all lamps
    of a site, as clouds are)."""
    site = get_site(scenario.site)
    if scenario.weather_file is not None:
        return TraceWeather(scenario.weather_file, default_utc_offset_h=site.utc_offset_h)
    return SyntheticWeather(site, seed=scenario.seed)


def is_night(site: Site, t_s: float) -> bool:
    return sun.solar_position(t_s, site.lat, site.lon).elevation_deg < NIGHT_ELEVATION_DEG


class NightClock:
    """is_night() for one site, from each local day's sunrise and sunset computed once (hot path)."""

    def __init__(self, site: Site):
        self.site = site
        self._day = None
        self._rise = self._set = 0.0

    def __call__(self, t_s: float) -> bool:
        day = int((t_s + self.site.utc_offset_s) // 86400)
        if day != self._day:
            self._day = day
            date = datetime.fromtimestamp(day * 86400, timezone.utc).date()
            self._rise, self._set = sun.sunrise_sunset(date, self.site.lat, self.site.lon)
        return t_s < self._rise or t_s >= self._set


def next_sun_event(site: Site, t_s: float, which: str) -> float:
    """Unix time of the first sunrise or sunset after t_s."""
    day = datetime.fromtimestamp(t_s + site.utc_offset_s, timezone.utc).date() - timedelta(days=1)
    for _ in range(4):
        rise, set_ = sun.sunrise_sunset(day, site.lat, site.lon)
        t = rise if which == "sunrise" else set_
        if t > t_s:
            return t
        day += timedelta(days=1)
    raise ValueError(f"no {which} after {t_s}")


class LampWorld:
    def __init__(self, scenario: Scenario, ident: LampIdentity, index: int, weather=None):
        self.scenario = scenario
        self.ident = ident
        self.site = get_site(scenario.site)
        spec = PRESETS["kit" if ident.profile == "kit" else "street"]
        self.physics = LampPhysics(spec, self.site, weather or make_weather(scenario),
                                   seed=scenario.seed * 1_000_003 + index)
        chosen = fault_specs.for_lamp(scenario.faults, ident.lamp_id, index, scenario.seed)
        if ident.profile != "kit" and any(e.fault == "kit_off" for e in chosen):
            raise ValueError(f"kit_off: {ident.lamp_id} is a street lamp (its button is the test button); "
                             "the household switch is a kit's")
        # The controller's RTC (clock_drift, clock_jump) is not physics: it only changes what now_ms() reads.
        self.clock = LampClock(scenario.start_s, [e for e in chosen if e.fault in CLOCK_FAULTS])
        self._pending = [e for e in chosen if e.fault not in CLOCK_FAULTS]
        self.dark_minutes = 0.0
        self._is_night = NightClock(self.site)
        self.world_faults: set[str] = set()
        self._loss_rng = random.Random(f"{scenario.seed}:{ident.lamp_id}:loss")
        self._interruptions_seen = 0
        self._led_pct = 0.0  # the level the firmware commanded over the last advance
        self._ibat_avg_ma: int | None = None  # the mean battery current over the last sleep
        self.wakeups = 0

    def _apply_due_faults(self, t_s: float) -> None:
        start = self.scenario.start_s
        while self._pending and start + self._pending[0].at_s <= t_s:
            ev = self._pending.pop(0)
            if ev.fault in WORLD_FAULTS:
                (self.world_faults.discard if ev.clear else self.world_faults.add)(ev.fault)
            elif ev.clear:
                self.physics.clear_fault(ev.fault)
            else:
                self.physics.set_fault(ev.fault, ev.value)

    def lamp_clock_ms(self, t_s: float) -> int:
        """What the lamp's RTC reads at true time t_s (Unix ms): the `t_ms` a runner hands the firmware."""
        return self.clock.read_ms(t_s)

    def set_lamp_clock(self, t_s: float, t_ms: int) -> int:
        """The firmware sets its RTC to t_ms at true time t_s (time sync, restored time); the new reading."""
        return self.clock.set(t_s, t_ms)

    def transmit(self) -> bool:
        """Does the frame the lamp sends now reach the network? (dead radio; random loss, seeded)"""
        if "radio_dead" in self.world_faults:
            return False
        return self.scenario.loss_rate <= 0 or self._loss_rng.random() >= self.scenario.loss_rate

    def take_supply_event(self) -> str | None:
        """The reset cause to boot with if the controller lost its supply since the last call, else None."""
        count = self.physics.supply_interruptions
        if count == self._interruptions_seen:
            return None
        self._interruptions_seen = count
        return _RESET_AFTER.get(self.physics.last_interruption or "", "power_on")

    def readings(self, t_s: float) -> dict:
        self._apply_due_faults(t_s)
        r = self.physics.read(t_s)
        out = {k: r[k] for k in SENSOR_KEYS}
        out["tamper"] = 1 if "tamper" in self.world_faults else 0
        if "kit_off" in self.world_faults and self._led_pct > 0:
            # The household switches the lantern off as soon as it sees it lit: one press of the kit's
            # button (presses since the last sample, as the HAL latches them), read at this sample. The
            # firmware holds manual_off until the next dusk or dawn; at dusk the night mode lights the
            # lantern again and the household presses again: lit for one sample (sample_s) each evening.
            out["button"] = 1
        if self._ibat_avg_ma is not None:
            out["ibat_avg_ma"] = self._ibat_avg_ma
        return out

    def advance(self, t_s: float, dt_s: float, led_pct: float, cpu_awake_s: float | None = None) -> None:
        """Integrate [t_s, t_s + dt_s] with the LED commanded at led_pct; faults apply at their time.
        cpu_awake_s: the controller's awake time in the interval (None: awake throughout)."""
        end = t_s + dt_s
        while t_s < end:
            self._apply_due_faults(t_s)
            nxt = self.scenario.start_s + self._pending[0].at_s if self._pending else end
            step = min(end, nxt if nxt > t_s else end) - t_s
            lit_before = self.physics.lumen_hours
            awake = None if cpu_awake_s is None else cpu_awake_s * step / dt_s
            self.physics.advance(t_s, step, led_pct, load_on=led_pct > 0, cpu_awake_s=awake)
            if self.physics.lumen_hours == lit_before and self._is_night(t_s + step / 2):
                self.dark_minutes += step / 60
            t_s += step
        self._led_pct = led_pct

    def sleep(self, t_s: float, dt_s: float, led_pct: float, wake: dict | None = None) -> float:
        """The firmware sleeps from t_s for up to dt_s with the LED at led_pct, until a reading leaves its
        `wake` band (core/wake.py) or the supply is lost; return the time slept. The controller sleeps
        lightly except AWAKE_PER_WAKE_S per wake-up, and waits awake while the LED is lit (PWM: see
        hal/esp32.py). The mean battery current over the sleep becomes the next readings' ibat_avg_ma."""
        self.wakeups += 1
        self._led_pct = led_pct
        end = t_s + dt_s
        awake = dt_s if led_pct > 0 else min(dt_s, AWAKE_PER_WAKE_S)
        physics = self.physics
        q0, cuts = physics.charge_as, physics.supply_interruptions
        t = t_s
        while t < end:
            step = end - t
            if wake:
                step = min(step, self._peek_s(t, wake, led_pct))
                if self._pending:
                    due = self.scenario.start_s + self._pending[0].at_s - t
                    if due > 0.0:
                        step = min(step, due)
            self.advance(t, step, led_pct, cpu_awake_s=awake * step / dt_s)
            t += step
            if physics.supply_interruptions != cuts or (wake and t < end and outside(wake, self.readings(t))):
                break
        self._ibat_avg_ma = round((physics.charge_as - q0) / (t - t_s) * 1000.0)
        return t - t_s

    def _peek_s(self, t_s: float, wake: dict, led_pct: float) -> float:
        band = wake.get("vbat_mv")
        near_vbat = band is not None and self.physics.v_term * 1000.0 - band[0] < VBAT_NEAR_MV
        pressing = "kit_off" in self.world_faults and led_pct > 0
        if near_vbat or pressing:
            return PEEK_NEAR_S
        sample = self.physics.weather.sample
        g0, g1 = sample(t_s)[0], sample(t_s + PEEK_FAR_S)[0]
        if 0.0 < g0 < G_DIM or 0.0 < g1 < G_DIM or (g0 > 0.0) != (g1 > 0.0):
            return PEEK_NEAR_S
        return PEEK_FAR_S

    def metrics(self) -> dict:
        p = self.physics
        return {
            "dark_minutes": round(self.dark_minutes, 1),
            "lumen_hours": round(p.lumen_hours, 1),
            "min_soc_pct": round(p.min_soc_pct, 1),
            "energy_in_wh": round(p.energy_in_wh, 1),
            "energy_out_wh": round(p.energy_out_wh, 1),
            "controller_wh": round(p.energy_ctrl_wh, 2),
            "wakeups": self.wakeups,
        }
