"""Table-driven energy scenarios on a simulated lamp (shared: CPython and MicroPython).

A 40 Ah LiFePO4 street lamp, 2.3 A at full light, in Bangui from noon on 1 August 2026. The world's panel
gives up to 8 A x the day's clearness (100 %: ~60 Ah of sun a day, far more than the lamp needs).
"""
from firmware.tests import support as s

s.load_core()
from telemetry import schema  # noqa: E402

BATTERY_LOW = schema.FAULT_CODES["battery_low"]
M = schema.MODE_CODES


def night_levels(log, day):
    """(evening level at 20:00, middle of the night at 01:00) of the night that starts on `day`."""
    out = []
    for h in (20, 25):
        t = s.AUG1_MS + day * s.DAY_MS + h * s.HOUR_MS
        out.append([led for tt, m, led in log if tt <= t][-1])
    return out


# name: (settings, world arguments, hours, check(state, world, log, events))
SCENARIOS = {
    "sunny days run the profile in full and more": (
        {}, {"soc_pct": 90}, 72,
        lambda st, w, log, ev: w.dark_ms == 0 and BATTERY_LOW not in s.codes(ev) and night_levels(log, 2)[1] >= 40),
    "rainy week dims gracefully and never goes dark": (
        {"sample_s": 300}, {"soc_pct": 60, "clear": lambda d: 12}, 7 * 24,
        lambda st, w, log, ev: w.dark_ms == 0 and BATTERY_LOW not in s.codes(ev) and w.min_soc >= 5
        and night_levels(log, 6)[1] < night_levels(log, 6)[0] and night_levels(log, 6)[0] < 100),
    "LVD then reconnect with a fixed full-power profile": (
        {"controller": "fixed:100"}, {"soc_pct": 22, "clear": lambda d: 5 if d < 1 else 100}, 48,
        lambda st, w, log, ev: (BATTERY_LOW, schema.RAISED) in [e[:2] for e in ev]
        and (BATTERY_LOW, schema.CLEARED) in [e[:2] for e in ev]
        and M["low_battery"] in [m for t, m, led in log] and st.bat.deep_discharges == 1
        and night_levels(log, 1)[0] == 100),
    "the battery guard dims instead of disconnecting": (
        {"autonomy_days": 0, "plan_floor_pct": 0, "surplus_max_pct": 0}, {"soc_pct": 14, "clear": lambda d: 3}, 24,
        lambda st, w, log, ev: BATTERY_LOW not in s.codes(ev) and w.dark_ms == 0
        and min(led for t, m, led in log if m == M["night"]) == 10 and log[-1][2] == 0),
}


def check(name):
    settings, world_args, hours, ok = SCENARIOS[name]
    state, world = s.lamp(settings, **world_args)
    log = []
    events = s.run(state, world, hours, log=log)
    assert ok(state, world, log, events), (name, [e[:4] for e in events], world.dark_ms, world.min_soc)


def test_sunny_days():
    check("sunny days run the profile in full and more")


def test_rainy_week():
    check("rainy week dims gracefully and never goes dark")


def test_lvd_and_reconnect():
    check("LVD then reconnect with a fixed full-power profile")


def test_battery_guard():
    check("the battery guard dims instead of disconnecting")


def test_status_soc_follows_the_battery():
    state, world = s.lamp(soc_pct=50)
    s.run(state, world, 30)
    assert abs(state.bat.soc_pct() - world.soc_pct()) <= 10, (state.bat.soc_pct(), world.soc_pct())
