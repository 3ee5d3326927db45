"""Helpers for the firmware tests (shared: CPython and MicroPython): settings, chemistry profiles, and a
small lamp world (battery, panel, LED) to drive the controller through whole days."""
import json

PROFILES_DIR = __file__[: __file__.rfind("/")] + "/../profiles/"
MIN_MS = 60000
HOUR_MS = 3600000
DAY_MS = 86400000
AUG1_MS = 1785538800000  # 2026-08-01 00:00 WAT (UTC+1), rainy season in Bangui
WAT_MS = 3600000
_cache = {}


CORE = ("telemetry", "firmware.core.daylight", "firmware.core.modes", "firmware.core.diagnosis",
        "firmware.core.protect", "firmware.core.battery", "firmware.core.health", "firmware.core.night",
        "firmware.core.lighting", "firmware.core.wake", "firmware.core.controller")


def load_core():
    """Import the controller piece by piece with collections in between, as firmware/main.py does:
    on a 96 KB heap (micropython -X heapsize=96K) one import of it all would not find room."""
    import gc

    for name in CORE:
        gc.collect()
        __import__(name)
    gc.collect()


def chemistry(name="lifepo4_4s"):
    if name not in _cache:
        with open(PROFILES_DIR + name + ".json") as f:
            _cache[name] = json.load(f)
    return _cache[name]


def cfg(settings=None, profile="street", site=None):
    from firmware.core import config

    chem = (settings or {}).get("chemistry") or ("lifepo4_1s" if profile == "kit" else "lifepo4_4s")
    return config.build(settings or {}, profile=profile, site=site, battery=chemistry(chem))


def ocv_mv(table, soc_pct):
    """The world's battery voltage at rest: the chemistry's OCV table (flat: soc, mv, ...)."""
    for i in range(2, len(table), 2):
        if soc_pct <= table[i]:
            return table[i - 1] + (table[i + 1] - table[i - 1]) * (soc_pct - table[i - 2]) // (table[i] - table[i - 2])
    return table[-1]


class World:
    """A lamp in Bangui. The panel gives 19 V and up to `charge_ma` x the day's clearness, PV voltage
    ramping over 40 min around sunrise and sunset; the battery follows its OCV table with R = 20 mohm;
    the LED takes load_full_ma at 100 %, the controller 30 mA. `pv_fn(t_ms, pv_mv)` may override the
    PV reading (sensor faults, storms, headlights); `clear(day_index)` gives a day's clearness."""

    def __init__(self, c, soc_pct=80, start_ms=AUG1_MS + 12 * HOUR_MS, charge_ma=8000, clear=None, pv_fn=None,
                 lux_fn=None):
        self.cfg = c
        self.table = c.battery.ocv_mv
        self.cap_uah = c.battery_mah * 1000
        self.q_uah = self.cap_uah * soc_pct // 100
        self.t_ms = start_ms
        self.start_ms = start_ms
        self.charge_ma = charge_ma
        self.clear = clear or (lambda d: 100)
        self.pv_fn = pv_fn
        self.lux_fn = lux_fn  # (t_ms, lux) -> lux: a light sensor's own story (default: the sky's light)
        self.led_pct = 0
        self.load_ma = c.load_full_ma
        self.dark_ms = 0  # astronomical night with the LED off
        self.min_soc = soc_pct
        self.samples = 0  # core steps taken by run()
        self._days = {}

    def soc_pct(self):
        return self.q_uah * 100 // self.cap_uah

    def _sun(self, t_ms):
        day = (t_ms // 1000 + 18555 * 240 // 1000) // 86400
        if day not in self._days:
            from firmware.core import sun

            self._days = {day: sun.events_s(day, 4361, 18555, 833)}
        return self._days[day]

    def _light(self, t_ms):
        """(pv_mv, charge_ma) now."""
        rise, set_ = self._sun(t_ms)
        t = t_ms // 1000
        if t < rise - 1200 or t > set_ + 1200:
            pv = 0
        else:
            pv = min(19000, 19000 * (t - rise + 1200) // 3600, 19000 * (set_ + 1200 - t) // 3600)
        chg = 0
        if rise < t < set_:
            x = (t - rise) * 1000 // (set_ - rise)
            shape = 4 * x * (1000 - x) // 1000  # 0..1000, a parabola for the sine
            chg = self.charge_ma * shape // 1000 * self.clear((t_ms - self.start_ms) // DAY_MS) // 100
        return pv, chg

    def readings(self):
        pv, chg = self._light(self.t_ms)
        if self.q_uah >= self.cap_uah:
            chg = 0
        load = (self.load_ma * self.led_pct // 100 if self.q_uah > 0 else 0) + 30
        ibat = chg - load
        vbat = ocv_mv(self.table, self.q_uah * 100 // self.cap_uah) + ibat * 20 // 1000
        lux = pv // 10  # the sky: ~500 lx when the panel gives the PV dusk threshold
        if self.pv_fn is not None:
            pv = self.pv_fn(self.t_ms, pv)
        if self.lux_fn is not None:
            lux = self.lux_fn(self.t_ms, lux)
        return {"vbat_mv": vbat, "ibat_ma": ibat, "pv_mv": pv, "lux": lux,
                "led_ma": self.cfg.led_max_ma * self.led_pct // 100, "temp_c": 28}

    def advance(self, dt_ms, led_pct):
        ibat = self.readings()["ibat_ma"]
        self.led_pct = led_pct
        rise, set_ = self._sun(self.t_ms)
        t = self.t_ms // 1000
        if (t < rise or t > set_) and led_pct == 0:
            self.dark_ms += dt_ms
        self.q_uah = max(0, min(self.cap_uah, self.q_uah + ibat * dt_ms // 3600))
        self.t_ms += dt_ms
        self.min_soc = min(self.min_soc, self.soc_pct())


PEEK_MS = 60000  # a sleeping HAL reads its banded inputs every minute (hal/esp32.py)


def run(state, world, hours, extra=None, log=None, clock_ms=0):
    """Step the controller on the world for `hours`, honouring next_ms and the wake bands as the HAL
    does (a peek a minute); returns all events.

    extra(t_ms) may add inputs (pir, button...); log, a list, collects (t_ms, mode, led_pct) at each
    change of mode or level (every sample would not fit a 96 KB heap); clock_ms: the lamp's clock
    error (it sees world time + clock_ms)."""
    from firmware.core.controller import step
    from firmware.core.wake import outside

    events = []
    latched = {}  # presses and motion seen while asleep: the HAL counts them for the next sample
    end = world.t_ms + hours * HOUR_MS
    while world.t_ms < end:
        inputs = world.readings()
        if extra is not None:
            inputs.update(extra(world.t_ms))
        for name in latched:
            inputs[name] = inputs.get(name, 0) + latched[name]
        latched = {}
        out, ev = step(state, inputs, world.t_ms + clock_ms)
        world.samples += 1
        events.extend(ev)
        if log is not None and (not log or log[-1][1:] != (state.mode, out["led_pct"])):
            log.append((world.t_ms, state.mode, out["led_pct"]))
        left, bands = out["next_ms"], out["wake"]
        while left > 0:
            n = min(left, PEEK_MS) if bands else left
            world.advance(n, out["led_pct"])
            left -= n
            if bands and left > 0:
                peek = world.readings()
                if extra is not None:
                    peek.update(extra(world.t_ms))
                for name in ("pir", "button"):
                    if peek.get(name):
                        latched[name] = latched.get(name, 0) + peek[name]
                if outside(bands, peek):
                    break
    return events


def lamp(settings=None, profile="street", site="bangui", trusted=True, **world_args):
    """A fresh LampState (clock trusted unless told) and a World around it."""
    import gc

    from firmware.core.controller import LampState

    gc.collect()  # the previous test's lamp: on a 96 KB heap its garbage would fragment this one

    c = cfg(settings, profile, site)
    state = LampState(c)
    state.night.trusted = trusted
    return state, World(c, **world_args)


def codes(events, action=None):
    return [e[0] for e in events if action is None or e[1] == action]
