"""Energy planner: how much charge tonight may take, and where the profile gives light up first."""
# At dusk (and again every hour, from the measured state of charge) the charge above the planning floor
# and the income the coming days can be counted on are spread over the rest of tonight and
# `autonomy_days` more nights:
#
#     per night = (usable + autonomy_days x income) / (left + autonomy_days)     left: tonight's fraction to come
#     usable    = (SoC - LVD SoC - plan_floor_pct) x capacity
#     income    = the median day of harvest in the lamp's recent history (up to 5 days); a day that
#                 filled the battery counts as a full battery's worth (its harvest was what the battery
#                 could take, a floor of what the sun gave). One dull day then changes little (the spread
#                 over the nights absorbs it); a run of them lowers the income at once.
#     budget    = per night x left, at most `usable` (tonight has no income)
#
# The reserve is therefore what the weather has done lately, not a fixed share: after a run of dull days
# the income is small and each night takes a part of what is left, so no night falls to the minimum
# while others run near full; in sunny weather the income refills each night's spend and the profile
# runs in full (or brighter, up to surplus_max_pct, with energy the battery could not keep). Re-planned
# mid-night, the same rate comes out for the hours that remain. Measured against the hindsight optimum:
# docs/firmware.md, "Energy planner".
#
# When the profile needs more than the budget, segments are dimmed in priority order (middle of the night
# first, then the pre-dawn segment, the evening last), each group scaled evenly toward `led_min_pct`.
# The lamp never plans to go dark: below the floor it still runs every segment at `led_min_pct`, and the
# battery's own guard (controller: LVD + lvd_guard_mv) holds it there rather than reaching load disconnect.
from firmware.core.profile import END, NOMINAL, PLANNED, PRIORITY, START, remaining_mah


def budget_mah(cfg, soc_pct, capacity_mah, harvest_mah, filled, night_ms, left_ms):
    """mAh the rest of tonight may take; `left_ms` of the `night_ms` remain; `filled`: see Battery."""
    floor_pct = cfg.battery.soc_at_lvd_pct + cfg.plan_floor_pct
    usable = (soc_pct - floor_pct) * capacity_mah // 100
    full = (100 - floor_pct) * capacity_mah // 100
    n = len(harvest_mah)
    days_in = sorted(full if filled >> (n - 1 - i) & 1 else min(full, harvest_mah[i]) for i in range(n))
    income = days_in[n // 2] if n else 0
    days = cfg.autonomy_days
    left = max(0, min(night_ms, left_ms)) * 1000 // max(1, night_ms)  # per mille of the night
    return min(usable, (usable + days * income) * left // (left + days * 1000))


def fit(segs, now_ms, budget, load_full_ma, min_pct, max_pct=100):
    """Set each segment's planned level so that the rest of the night takes at most `budget` mAh; with
    budget to spare, raise every segment evenly toward max_pct (energy the battery could not keep)."""
    for s in segs:
        s[PLANNED] = s[NOMINAL]
    spare = budget - remaining_mah(segs, now_ms, load_full_ma)
    if spare > 0:
        _raise(segs, now_ms, spare, load_full_ma, max_pct)
        return
    for prio in (1, 2, 3):
        excess = remaining_mah(segs, now_ms, load_full_ma) - budget
        if excess <= 0:
            return
        group = [s for s in segs if s[PRIORITY] == prio and s[END] > now_ms and s[NOMINAL] > min_pct]
        flex = 0
        for s in group:
            start = s[START] if s[START] > now_ms else now_ms
            flex += (s[END] - start) // 1000 * (s[NOMINAL] - min_pct)
        flex = flex * load_full_ma // 360000
        for s in group:
            if excess >= flex:
                s[PLANNED] = min_pct
            else:
                s[PLANNED] = min_pct + (s[NOMINAL] - min_pct) * (flex - excess) // flex


def _raise(segs, now_ms, spare, load_full_ma, max_pct):
    room = 0
    for s in segs:
        start = s[START] if s[START] > now_ms else now_ms
        if s[END] > start and s[NOMINAL] < max_pct:
            room += (s[END] - start) // 1000 * (max_pct - s[NOMINAL])
    room = room * load_full_ma // 360000
    if room <= 0:
        return
    for s in segs:
        if s[NOMINAL] < max_pct:
            s[PLANNED] = s[NOMINAL] + (max_pct - s[NOMINAL]) * min(spare, room) // room
