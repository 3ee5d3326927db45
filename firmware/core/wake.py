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


def outside(bands, readings):
    """True when a reading left its band."""
    for name in bands:
        lo, hi = bands[name]
        if not lo <= readings.get(name, lo) <= hi:
            return True
    return False


def next_wake(state, inputs, sun, now_ms, level):
    """(ms, bands) after a step whose plan asked for `level` (state.led_pct is the ramped level)."""
    cfg, bat, prot, p = state.cfg, state.bat, state.prot, state.cfg.battery
    short = cfg.sample_s * 1000
    daylight = state.night.daylight
    health = state.health
    counting = (state.led_pct != level or (state.led_pct and not state.applied_pct)
                or state.last_ms == state.started_ms or state.mode not in STEADY or state.diag.pending
                or prot.low or state.guard_n == 1 or health.pv_stuck_n or health.pv_night_n)
    at = [now_ms + (short if counting else cfg.max_sleep_s * 1000), state.boost_until_ms, state.test_until_ms]
    if daylight.pending_since_ms is not None:
        at.append(daylight.pending_since_ms + cfg.daylight_confirm_s * 1000)
    if state.night.phase == NIGHT and state.segs:
        for seg in state.segs:
            at.append(seg[0])
    if state.kit and state.kit.manual == "on":
        at.append(state.kit.until_ms)
    if sun is not None:
        # the sun's night (core/night.py: a minute inside, the astro window) and the panel checks' full
        # day and deep night (core/health.py)
        w = cfg.astro_window_min * 60
        for t in (sun[1] - 7200, sun[1] - w, sun[1] - GUARD_S, sun[1] + 10800, sun[2] - 10800, sun[2] + GUARD_S,
                  sun[2] + w, sun[2] + 7200):
            at.append(t * 1000)
    if bat.full_ms is not None:
        at.append(bat.full_ms + 300000)
    if bat.rest_ms is not None:
        at.append(bat.rest_ms + p.rest_s * 1000)
    if not prot.load_on:
        at.append(prot.off_ms + p.reconnect_delay_s * 1000)
    ibat = inputs.get("ibat_avg_ma", inputs["ibat_ma"])
    if ibat < 0 and bat.uah is not None:
        above_uah = bat.uah - bat.capacity_uah() * p.soc_at_lvd_pct // 100
        at.append(now_ms + max(short, above_uah * 1800 // -ibat))  # half of uAh/mA x 3600 ms
    wake = at[0]
    for t in at:
        if now_ms < t < wake:
            wake = t
    return max(1000, wake - now_ms), _bands(state, inputs)


def _bands(state, inputs):
    """The readings that would change a decision, each in the direction that matters; a band the reading
    is already outside of is left out (waking at once would spin)."""
    cfg, prot, p = state.cfg, state.prot, state.cfg.battery
    night = state.night.phase == NIGHT
    bands = {"button": (0, 0)}  # presses, and at night motion: counts since the last sample
    if night:
        bands["pir"] = (0, 0)
    for name in ("door", "tamper", "driver_fault"):  # levels: any change
        if name in inputs and (night or name != "door"):
            bands[name] = (inputs[name], inputs[name])
    # light: the PV detector's threshold, the way that would start a change (or, pending, reset it)
    daylight = state.night.daylight
    dusk, dawn = thresholds(cfg)
    lo, hi = -BIG, BIG
    if daylight.phase == DAY:
        lo, hi = (-BIG, dusk - 1) if daylight.pending_since_ms is not None else (dusk, BIG)
    elif daylight.phase == NIGHT:
        lo, hi = (dawn + 1, BIG) if daylight.pending_since_ms is not None else (-BIG, dawn)
    want = [("lux" if cfg.light_sensor else "pv_mv", lo, hi)]
    # battery: the guard (the LVD once capped, or under a fixed level) up to the full-charge level; LVR
    # while disconnected
    vbat, temp = inputs["vbat_mv"], inputs["temp_c"]
    comp = p.temp_comp_mv_per_c * (temp - 25)
    if prot.load_on:
        lvd = prot.lvd_mv(p, inputs["ibat_ma"], state.bat.r_mohm, temp)
        full = p.full_mv + comp
        want.append(("vbat_mv", lvd if state.capped or cfg.fixed_pct is not None else lvd + cfg.lvd_guard_mv,
                     full - 1 if vbat < full else BIG))
    else:
        want.append(("vbat_mv", -BIG, p.lvr_mv + comp - 1))
    # temperature: between the neighbouring chemistry and over-temperature limits (with their hysteresis)
    lo, hi = -BIG, BIG
    for limit in (p.charge_min_c, p.charge_max_c, p.discharge_min_c, p.discharge_max_c, cfg.over_temp_c):
        for t in (limit - 5, limit - 3, limit, limit + 3):
            if lo < t < temp:
                lo = t
            elif temp < t < hi:
                hi = t
    want.append(("temp_c", lo + 1, hi - 1))
    # LED: lit and steady, between the open and short limits; off, no stray current (the driver check)
    pct = state.led_pct
    if pct == state.applied_pct and (pct >= 5 or pct == 0):
        expected = cfg.led_max_ma * pct // 100
        want.append(("led_ma", expected * cfg.led_open_ratio_pct // 100 + 1 if pct else -BIG,
                     expected * cfg.led_short_ratio_pct // 100 if pct else cfg.led_max_ma // 10))
    for name, lo, hi in want:
        if lo <= inputs[name] <= hi:
            bands[name] = (lo, hi)
    return bands
