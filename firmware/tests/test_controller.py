"""Controller core: lighting and LED diagnosis across samples (shared: CPython and MicroPython)."""
from firmware.tests import support

support.load_core()
from firmware.core.controller import LampState, step  # noqa: E402
from firmware.tests.support import cfg as build_cfg  # noqa: E402
from telemetry import schema

MIN = 60000
LED_OPEN = schema.FAULT_CODES["led_open"]
LED_SHORT = schema.FAULT_CODES["led_short"]


def _inputs(pv_mv, led_ma):
    return {"vbat_mv": 13500, "ibat_ma": -2000, "pv_mv": pv_mv, "led_ma": led_ma, "temp_c": 27}


def _night(led_ma_for_level, minutes=10, state=None):
    state = state or LampState(build_cfg())
    all_events = []
    level = 0
    for m in range(minutes):
        out, events = step(state, _inputs(500, led_ma_for_level(level)), m * MIN)
        level = out["led_pct"]
        all_events.extend(events)
    return state, all_events


def test_night_lights_full_and_samples_again_a_minute_after_switching_on():
    state = LampState(build_cfg())
    out, events = step(state, _inputs(500, 0), 0)
    assert (out["led_pct"], out["next_ms"]) == (100, 60000)
    assert out["wake"]["pv_mv"][1] == 6000  # dawn's threshold ends any sleep
    assert events == [(schema.EVENT_CODES["dusk"], schema.POINT, 5, 0)]


def test_healthy_led_raises_nothing():
    state, events = _night(lambda level: 830 * level // 100)
    assert state.faults == 0
    assert [e for e in events if e[0] < 32] == []


def test_open_led_raised_after_three_samples_with_evidence():
    state, events = _night(lambda level: 0, minutes=6)
    faults = [e for e in events if e[0] == LED_OPEN]
    assert faults == [(LED_OPEN, schema.RAISED, 0, 830)]
    assert state.faults == 1 << LED_OPEN


def test_open_led_cleared_after_repair():
    state, _ = _night(lambda level: 0, minutes=6)
    state, events = _night(lambda level: 830 * level // 100, minutes=6, state=state)
    assert (LED_OPEN, schema.CLEARED, 830, 830) in events
    assert state.faults == 0


def test_short_led_detected():
    state, events = _night(lambda level: 2000 if level else 0, minutes=6)
    assert [e[:2] for e in events if e[0] == LED_SHORT] == [(LED_SHORT, schema.RAISED)]


def test_single_noisy_sample_raises_nothing():
    readings = iter([0, 0, 830, 0, 830, 830, 830, 830])
    state, events = _night(lambda level: next(readings), minutes=8)
    assert state.faults == 0


def test_led_judged_on_the_level_that_was_applied():
    # At the dusk sample the LED was still off: zero current then is not a fault.
    state = LampState(build_cfg({"led_fault_samples": 1}))
    step(state, _inputs(19000, 0), 0)
    for m in range(1, 7):  # dusk confirmed at minute 6: LED commanded on, nothing judged yet
        step(state, _inputs(500, 0), m * MIN)
    assert state.led_pct == 100 and state.applied_pct == 0 and state.faults == 0
    step(state, _inputs(500, 0), 7 * MIN)
    assert state.applied_pct == 100 and state.faults == 1 << LED_OPEN
