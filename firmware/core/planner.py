"""Energy planner: how much charge tonight may take, and where the profile gives light up first."""
# At dusk (and again every hour, from the measured state of charge) the budget is
#
#     budget = (SoC - LVD SoC - plan_floor_pct) x capacity           charge above the planning floor
#              - autonomy_days x night x reserve_level_pct x I_full    a reserve: N more nights, dimmed
#              + min(harvest of the last 3 days) / 2                   half of what even a bad day brought
#
# When the profile needs more than the budget, segments are dimmed in priority order (middle of the night
# first, then the pre-dawn segment, the evening last), each group scaled evenly toward `led_min_pct`.
# The lamp never plans to go dark: below the floor it still runs every segment at `led_min_pct`, and the
# battery's own guard (controller: LVD + lvd_guard_mv) holds it there rather than reaching load disconnect.
#
# In a run of dull days the battery settles where each night spends about the day's harvest, above
# the reserve; after sunny days the budget exceeds the profile and the profile is run in full.
from firmware.core.profile import END, NOMINAL, PLANNED, PRIORITY, START, remaining_mah


def budget_mah(cfg, soc_pct, capacity_mah, harvest_mah, night_ms, load_full_ma):
    usable = (soc_pct - cfg.battery.soc_at_lvd_pct - cfg.plan_floor_pct) * capacity_mah // 100
    reserve = cfg.autonomy_days * cfg.reserve_level_pct * load_full_ma * (night_ms // 1000) // 360000
    income = min(harvest_mah[-3:]) // 2 if harvest_mah else 0
    return usable - reserve + income


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
