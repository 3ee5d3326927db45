"""Night profile: configurable steps relative to dusk, solar midnight and dawn, resolved each night
into segments of time (core/lighting.py reads the level of the current one)."""
# A step [anchor, offset_min, level_pct] sets the level from anchor + offset on; the first step's level
# holds from dusk. The default [["dusk", 0, 100], ["dusk", 240, 40], ["dawn", -90, 70]] is full light for
# the busy evening hours, 40 % through the middle of the night and 70 % before dawn (the morning rush).
#
# A segment is [start_ms, end_ms, nominal_pct, planned_pct, priority]. Priority says what the energy
# planner dims first: 1 the middle of the night, 2 the last segment (before dawn), 3 the first
# (evening, dimmed last).
START, END, NOMINAL, PLANNED, PRIORITY = 0, 1, 2, 3, 4


def segments(steps, dusk_ms, mid_ms, dawn_ms, fixed_pct=None):
    """Tonight's segments in time order, covering dusk to dawn."""
    if fixed_pct is not None:
        return [[dusk_ms, dawn_ms, fixed_pct, fixed_pct, 3]]
    base = {"dusk": dusk_ms, "midnight": mid_ms, "dawn": dawn_ms}
    marks = sorted([base[s[0]] + s[1] * 60000, s[2]] for s in steps)
    segs = []
    for i in range(len(marks)):
        start = dusk_ms if i == 0 else min(max(marks[i][0], dusk_ms), dawn_ms)
        end = dawn_ms if i + 1 == len(marks) else min(max(marks[i + 1][0], dusk_ms), dawn_ms)
        if end > start or i == 0:
            segs.append([start, end, marks[i][1], marks[i][1], 1])
    segs[0][PRIORITY] = 3
    if len(segs) > 1:
        segs[-1][PRIORITY] = 2
    return segs


def remaining_mah(segs, now_ms, load_full_ma, column=PLANNED):
    """Battery charge the rest of the night takes at the given levels."""
    pct_s = 0
    for s in segs:
        start = s[START] if s[START] > now_ms else now_ms
        if s[END] > start:
            pct_s += (s[END] - start) // 1000 * s[column]
    return pct_s * load_full_ma // 360000
