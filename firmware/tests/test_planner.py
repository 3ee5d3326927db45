"""Night profile segments and the energy planner (shared: CPython and MicroPython)."""
from firmware.core import planner, profile
from firmware.tests.support import HOUR_MS, cfg

DUSK = 1785603600000  # 2026-08-01 18:00 WAT
DAWN = DUSK + 12 * HOUR_MS
MID = DUSK + 6 * HOUR_MS
STEPS = [["dusk", 0, 100], ["dusk", 240, 40], ["dawn", -90, 70]]


def test_segments_follow_the_anchors_and_priorities():
    segs = profile.segments(STEPS, DUSK, MID, DAWN)
    assert [s[0] for s in segs] == [DUSK, DUSK + 4 * HOUR_MS, DAWN - 90 * 60000]
    assert [s[2] for s in segs] == [100, 40, 70] and [s[4] for s in segs] == [3, 1, 2]
    assert segs[-1][1] == DAWN


def test_first_step_holds_from_dusk_and_short_nights_clip():
    steps = [["dusk", 30, 80], ["midnight", 0, 30]]
    segs = profile.segments(steps, DUSK, MID, DAWN)
    assert segs[0][:3] == [DUSK, MID, 80] and segs[1][:3] == [MID, DAWN, 30]
    segs = profile.segments([["dusk", 0, 100], ["dusk", 900, 10]], DUSK, MID, DAWN)
    assert len(segs) == 1 and segs[0][1] == DAWN


def test_fixed_level_replaces_the_profile():
    assert profile.segments(STEPS, DUSK, MID, DAWN, 60) == [[DUSK, DAWN, 60, 60, 3]]


def test_nominal_night_charge():
    segs = profile.segments(STEPS, DUSK, MID, DAWN)
    # 4 h x 100 % + 6.5 h x 40 % + 1.5 h x 70 % of 2300 mA
    assert profile.remaining_mah(segs, DUSK, 2300) == 9200 + 5980 + 2415


def test_dims_the_middle_first_then_dawn_then_evening():
    for budget, levels in ((17595, [100, 40, 70]), (15000, [100, 22, 70]), (12000, [100, 10, 37]),
                           (9000, [77, 10, 10]), (1000, [10, 10, 10])):
        segs = profile.segments(STEPS, DUSK, MID, DAWN)
        planner.fit(segs, DUSK, budget, 2300, 10, 0)
        assert [s[3] for s in segs] == levels, (budget, [s[3] for s in segs])
        if budget >= 2760:
            assert profile.remaining_mah(segs, DUSK, 2300, 3) <= budget


def test_spare_budget_brightens_up_to_the_cap():
    segs = profile.segments(STEPS, DUSK, MID, DAWN)
    planner.fit(segs, DUSK, 30000, 2300, 10, 100)
    assert [s[3] for s in segs] == [100, 100, 100]
    segs = profile.segments(STEPS, DUSK, MID, DAWN)
    planner.fit(segs, DUSK, 20000, 2300, 10, 100)
    assert segs[0][3] == 100 and 40 < segs[1][3] < 70 and 70 < segs[2][3] < 100
    segs = profile.segments(STEPS, DUSK, MID, DAWN)
    planner.fit(segs, DUSK, 30000, 2300, 10, 0)
    assert [s[3] for s in segs] == [100, 40, 70]


def test_replanning_mid_night_only_counts_what_is_left():
    segs = profile.segments(STEPS, DUSK, MID, DAWN)
    now = DUSK + 8 * HOUR_MS
    planner.fit(segs, now, 2000, 2300, 10, 0)
    assert segs[0][3] == 100  # the evening is over: untouched
    assert profile.remaining_mah(segs, now, 2300) <= 2000


def test_budget_spreads_the_battery_and_the_median_day_over_tonight_and_three_more_nights():
    c = cfg()
    night = 12 * HOUR_MS
    # usable: SoC - 5 % (LiFePO4 LVD) - 10 % (plan_floor_pct) of 40 Ah; 4 nights share it with 3 days of income
    assert planner.budget_mah(c, 60, 40000, [], 0, night, night) == 18000 // 4
    assert planner.budget_mah(c, 60, 40000, [20000, 6000, 9000], 0, night, night) == (18000 + 3 * 9000) // 4
    # a day that filled the battery counts as a full battery's worth: the median day is then 20000 mAh
    assert planner.budget_mah(c, 60, 40000, [20000, 6000, 9000], 0b001, night, night) == 18000  # at most usable
    assert planner.budget_mah(c, 20, 40000, [], 0, night, night) < 5000
    assert planner.budget_mah(c, 10, 40000, [30000], 0, night, night) < 0  # below the floor: led_min_pct


def test_replanned_mid_night_the_rate_holds():
    c = cfg()
    night = 12 * HOUR_MS
    dusk = planner.budget_mah(c, 60, 40000, [9000], 0, night, night)
    spent_half = dusk // 2 * 100 // 40000  # SoC points the first half took
    half = planner.budget_mah(c, 60 - spent_half, 40000, [9000], 0, night, night // 2)
    assert abs(half - dusk // 2) <= 400, (dusk, half)
