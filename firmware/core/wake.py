"""When the controller must look again: how long nothing can change, and the readings that end it sooner.
"""
# next_wake() returns (ms, bands). `ms`: the sleep after which a decision could change on time alone.
# `bands`: {input name: (lo, hi)}; a reading outside its band (outside(): lo <= x <= hi is inside) can
# change a decision, so the HAL ends the sleep when it sees one (docs/firmware.md, "Sleep").
#
# Short sleeps (sample_s) only while something counts samples: a ramp, a switch-on (the load step
# teaches the battery's resistance), the boot's first sample, a non-steady mode, and any verdict waiting
# for its count (the LVD's two samples, the guard's two, a fault judge, the PV checks). Otherwise the
# earliest of: the dusk/dawn confirmation's end, the plan's next step, the end of a boost, a test or
# the kit's manual light, the sun's times that the night decision and the panel checks use, the full
# and rest anchors, the LVD's reconnection delay, half the time the battery needs to reach the LVD's
# charge at the present draw, and `max_sleep_s`. The hourly re-plan waits for the next wake-up.
from firmware.core import modes
from firmware.core.daylight import DAY, NIGHT, thresholds
from firmware.core.night import GUARD_S

BIG = 1 << 30
STEADY = (modes.DAY, modes.NIGHT, modes.LOW)
# Where a decision depends on the time of day (s from sunset, from sunrise; None: the astro window):
# the sun's night (core/night.py) and the panel checks' full day and deep night (core/health.py).
SUNSET_OFFSETS = (-7200, None, -GUARD_S, 3 * 3600)
SUNRISE_OFFSETS = (-3 * 3600, GUARD_S, None, 7200)


def outside(bands, readings):
    """True when a reading left its band."""
    for name in bands:
        lo, hi = bands[name]
        if not lo <= readings.get(name, lo) <= hi:
            return True
    return False


def next_wake(state, inputs, sun, now_ms, level):
    """(ms, bands) after a step whose plan asked for `level` (state.led_pct is the ramped level)."""
    cfg = state.cfg
    short = cfg.sample_s * 1000
    bands = {}
    _light_band(state, inputs, bands)
    _battery_bands(state, inputs, bands)
    _led_band(state, inputs, bands)
    _input_bands(state, inputs, bands)
    counting = (state.led_pct != level or (state.led_pct and not state.applied_pct)
                or state.last_ms == state.started_ms or state.mode not in STEADY or state.diag.pending
                or state.prot.low or state.guard_n == 1 or 0 < state.health.pv_stuck_n or 0 < state.health.pv_night_n)
    horizon = now_ms + (short if counting else cfg.max_sleep_s * 1000)
    at = []
    daylight = state.night.daylight
    if daylight.pending_since_ms is not None:
        at.append(daylight.pending_since_ms + cfg.daylight_confirm_s * 1000)
    if state.night.phase == NIGHT and state.segs:
        for s in state.segs:
            at.append(s[0])
    at.append(state.boost_until_ms)
    at.append(state.test_until_ms)
    if state.kit and state.kit.manual == "on":
        at.append(state.kit.until_ms)
    if sun is not None:
        window = cfg.astro_window_min * 60
        for off in SUNSET_OFFSETS:
            at.append((sun[1] + (-window if off is None else off)) * 1000)
        for off in SUNRISE_OFFSETS:
            at.append((sun[2] + (window if off is None else off)) * 1000)
    bat, prot = state.bat, state.prot
    if bat.full_ms is not None:
        at.append(bat.full_ms + 300000)
    if bat.rest_ms is not None:
        at.append(bat.rest_ms + cfg.battery.rest_s * 1000)
    if not prot.load_on:
        at.append(prot.off_ms + cfg.battery.reconnect_delay_s * 1000)
    ibat = inputs.get("ibat_avg_ma", inputs["ibat_ma"])
    if ibat < 0 and bat.uah is not None:
        above_uah = bat.uah - bat.capacity_uah() * cfg.battery.soc_at_lvd_pct // 100
        at.append(now_ms + max(short, above_uah * 1800 // -ibat))  # half of uAh/mA x 3600 ms
    wake = horizon
    for t in at:
        if now_ms < t < wake:
            wake = t
    return max(1000, wake - now_ms), bands


def _band(bands, name, lo, hi, value):
    """Add (lo, hi) unless the reading is already outside it (waking at once would spin)."""
    if lo <= value <= hi:
        bands[name] = (lo, hi)


def _light_band(state, inputs, bands):
    """The PV detector's threshold, in the direction that would start (or, pending, reset) a change."""
    cfg = state.cfg
    daylight = state.night.daylight
    name = "lux" if cfg.light_sensor else "pv_mv"
    dusk, dawn = thresholds(cfg)
    pending = daylight.pending_since_ms is not None
    if daylight.phase == DAY:
        lo, hi = (-BIG, dusk - 1) if pending else (dusk, BIG)
    elif daylight.phase == NIGHT:
        lo, hi = (dawn + 1, BIG) if pending else (-BIG, dawn)
    else:
        return
    _band(bands, name, lo, hi, inputs[name])


def _battery_bands(state, inputs, bands):
    """Voltage: the guard (or the LVD once capped) and the full-charge level; LVR while disconnected.
    Temperature: between the neighbouring limits of the chemistry and the over-temperature fault."""
    cfg, prot, p = state.cfg, state.prot, state.cfg.battery
    vbat, temp = inputs["vbat_mv"], inputs["temp_c"]
    if prot.load_on:
        lvd = prot.lvd_mv(p, inputs["ibat_ma"], state.bat.r_mohm, temp)
        lo = lvd if state.capped or cfg.fixed_pct is not None else lvd + cfg.lvd_guard_mv
        full = p.full_mv + p.temp_comp_mv_per_c * (temp - 25)
        _band(bands, "vbat_mv", lo, full - 1 if vbat < full else BIG, vbat)
    else:
        _band(bands, "vbat_mv", -BIG, p.lvr_mv + p.temp_comp_mv_per_c * (temp - 25) - 1, vbat)
    lo, hi = -BIG, BIG
    for limit in (p.charge_min_c, p.charge_max_c, p.discharge_min_c, p.discharge_max_c, cfg.over_temp_c):
        for t in (limit - 5, limit - 3, limit, limit + 3):
            if lo < t < temp:
                lo = t
            elif temp < t < hi:
                hi = t
    _band(bands, "temp_c", lo + 1, hi - 1, temp)


def _led_band(state, inputs, bands):
    """Lit and steady: between the open and short limits; off: no stray current (the driver check)."""
    cfg, pct = state.cfg, state.led_pct
    if pct != state.applied_pct:
        return
    led = inputs["led_ma"]
    if pct >= 5:
        expected = cfg.led_max_ma * pct // 100
        _band(bands, "led_ma", expected * cfg.led_open_ratio_pct // 100 + 1,
              expected * cfg.led_short_ratio_pct // 100, led)
    elif pct == 0:
        _band(bands, "led_ma", -BIG, cfg.led_max_ma // 10, led)


def _input_bands(state, inputs, bands):
    """Presses, and at night motion (counts since the last sample: any count wakes, whether or not this
    sample had the key); the door at night and the switches where fitted (levels: any change wakes)."""
    night = state.night.phase == NIGHT
    bands["button"] = (0, 0)
    if night:
        bands["pir"] = (0, 0)
    for name in ("door", "tamper", "driver_fault"):
        if name in inputs and (night or name != "door"):
            v = inputs[name]
            bands[name] = (v, v)
