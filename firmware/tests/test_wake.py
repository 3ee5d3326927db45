"""When the core sleeps: wake-ups per day, the bands that end a sleep (shared: CPython and MicroPython)."""
from firmware.tests import support

support.load_core()
from firmware.core.controller import step  # noqa: E402
from firmware.core.wake import outside  # noqa: E402
from firmware.tests.support import lamp, run  # noqa: E402


def test_the_core_of_a_street_lamp_and_a_kit_asks_for_at_most_96_samples_a_day_and_stays_lit():
    # the core's own wake-ups; the shell's reports add theirs (python -m emulator.bench_wake counts both)
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


def test_a_draining_battery_shortens_the_sleep_to_half_its_time_to_the_lvd():
    state, world = lamp()
    run(state, world, 9)  # 21:00, lit, steady: a long sleep
    out, _ = step(state, world.readings(), world.t_ms)
    assert out["next_ms"] == state.cfg.max_sleep_s * 1000 and "vbat_mv" in out["wake"]
    bat = state.bat
    bat.uah = bat.capacity_uah() * state.cfg.battery.soc_at_lvd_pct // 100 + 200000  # 200 mAh above the LVD's
    inputs = world.readings()
    inputs["ibat_avg_ma"] = -2000  # 6 min to the LVD's charge: sleep 3 at most
    world.t_ms += 60000
    out, _ = step(state, inputs, world.t_ms)
    assert 60000 <= out["next_ms"] <= 180000, out["next_ms"]
