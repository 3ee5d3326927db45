"""The LED level: the night plan, the battery guard, motion boosts, ramps."""
# - Plan (at dusk, then hourly): the night profile's segments (core/profile.py) dimmed by the energy
#   planner (core/planner.py), or one `fixed:PCT` level; both modules are loaded for the plan only.
# - Guard: two samples below LVD + lvd_guard_mv, or a state of charge within 3 points of the LVD's, hold
#   the lamp at led_min_pct until dawn (graceful dimming rather than load disconnect; not under
#   `fixed:PCT`, which is the comparison baseline).
# - A stuck or impossible battery reading (the sensor fault on vbat or ibat) caps the plan at
#   safe_level_pct, the safe controller's level, until the reading is plausible again.
# - Motion (pir) and the kit's door boost to pir_boost_pct until boost_until_ms.
# - Ramps: switching on, boosts and mode changes are immediate; changes of the plan move by
#   ramp_pct_per_min; non-zero levels below led_min_pct are raised to it (no flicker).
# When to sample next is core/wake.py's.
from firmware.core import modes


def plan(state, now_ms):
    try:
        from firmware.core import planner, profile
    except MemoryError:  # loading the planner needs room: keep the current plan, try again in a minute
        state.replan_ms = now_ms + 60000
        if state.segs is None:
            state.segs = [[now_ms, now_ms + 43200000, state.cfg.safe_level_pct, state.cfg.safe_level_pct, 3]]
        return
    cfg, night, bat = state.cfg, state.night, state.bat
    segs = profile.segments(cfg.night_profile, night.dusk_ms, night.mid_ms, night.dawn_ms, cfg.fixed_pct)
    if cfg.fixed_pct is None:
        for s in segs:
            s[2] = s[3] = s[2] * cfg.night_level_pct // 100
        soc = bat.soc_pct()
        # no harvest history yet (a new lamp): it was sized for its profile, so a day brings a night's need
        history = bat.harvest_mah or [profile.remaining_mah(segs, night.dusk_ms, state.load_full_ma, profile.NOMINAL)]
        budget = planner.budget_mah(cfg, 50 if soc is None else soc, bat.capacity_uah() // 1000, history,
                                    bat.filled, night.dawn_ms - night.dusk_ms, night.dawn_ms - max(now_ms, night.dusk_ms))
        planner.fit(segs, now_ms, budget, state.load_full_ma, cfg.led_min_pct, cfg.surplus_max_pct)
    state.segs = segs
    state.replan_ms = now_ms + 3600000


def target(state, light, now_ms, vbat, ibat, temp):
    cfg = state.cfg
    if light == modes.OFF:
        return 0
    if light == modes.FULL:
        return 100
    if light == modes.MANUAL:
        return cfg.manual_pct
    if light == modes.FIXED_SAFE:
        return cfg.safe_level_pct
    level = cfg.safe_level_pct
    if state.segs:
        level = state.segs[0][3]
        for s in state.segs:  # [start_ms, end_ms, nominal, planned, priority]
            if s[0] <= now_ms:
                level = s[3]
    if cfg.fixed_pct is not None:
        return level
    guard = state.prot.lvd_mv(cfg.battery, ibat, state.bat.r_mohm, temp) + cfg.lvd_guard_mv
    soc = state.bat.soc_pct()
    low = vbat < guard or (soc is not None and soc <= cfg.battery.soc_at_lvd_pct + 3)
    state.guard_n = state.guard_n + 1 if low else 0
    if state.guard_n >= 2:
        state.capped = True
    if state.capped:
        level = min(level, cfg.led_min_pct)
    if state.health.blind:  # vbat or ibat stuck or out of range (core/health.py): no budget to trust
        level = min(level, cfg.safe_level_pct)
    if now_ms < state.boost_until_ms:
        level = max(level, cfg.pir_boost_pct)
    return level


def ramp(state, level, dt_ms, now_ms):
    cfg = state.cfg
    now = state.led_pct
    if 0 < level < cfg.led_min_pct:
        level = cfg.led_min_pct
    if level == 0 or now == 0 or state.mode != modes.NIGHT or (level > now and now_ms < state.boost_until_ms):
        return level
    most = max(1, cfg.ramp_pct_per_min * dt_ms // 60000)
    return max(now - most, min(now + most, level))

