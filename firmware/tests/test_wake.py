"""When the core sleeps: wake-ups per day, the bands that end a sleep (shared: CPython and MicroPython)."""
from firmware.tests import support

support.load_core()
from firmware.core.controller import step  # noqa: E402
from firmware.core.wake import outside  # noqa: E402
from firmware.tests.support import HOUR_MS, lamp, run  # noqa: E402


def test_street_and_kit_wake_at_most_96_times_a_day_and_stay_lit():
    for profile in ("street", "kit"):
        state, world = lamp(profile=profile)
        run(state, world, 24)  # the first night learns the load, the first day the battery
        world.samples = 0
        run(state, world, 48)
        assert world.samples / 2 <= 96, (profile, world.samples / 2)
        assert world.dark_ms == 0, profile


def test_dusk_wakes_a_sleeping_lamp_at_the_threshold():
    state, world = lamp()
    run(state, world, 3)  # 15:00: sunny afternoon, asleep for up to half an hour
    out, _ = step(state, world.readings(), world.t_ms)
    assert out["next_ms"] > 10 * 60000
    lo, hi = out["wake"]["pv_mv"]
    assert lo == state.cfg.dusk_pv_mv
    assert outside(out["wake"], {"pv_mv": lo - 1}) and not outside(out["wake"], {"pv_mv": lo})


def test_motion_and_presses_always_wake():
    state, world = lamp()
    run(state, world, 9)  # 21:00, lit
    out, _ = step(state, world.readings(), world.t_ms)
    assert outside(out["wake"], {"pir": 1}) and outside(out["wake"], {"button": 1})
    assert not outside(out["wake"], {})  # a key the HAL did not report is inside


def test_a_draining_battery_shortens_the_sleep():
    state, world = lamp(soc_pct=15)
    run(state, world, 9)
    out, _ = step(state, world.readings(), world.t_ms)
    assert out["next_ms"] <= HOUR_MS
    assert "vbat_mv" in out["wake"]
