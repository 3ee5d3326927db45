"""Detection rules, pure: lamp dark at night and lamp silent, with flap damping."""
from __future__ import annotations

from gateway.detect import COMMUNICATION_FAILURE, LAMP_FAILURE, Detector
from gateway.registry import Lamp

LAMP = Lamp("L1", 1, bytes(16))


def _status(t, led_pct, led_ma):
    return {"type": "status", "time_s": t, "led_pct": led_pct, "led_ma": led_ma, "vbat_mv": 13000,
            "soc_pct": 60, "mode": "night"}


def test_dark_raised_after_two_observations_and_cleared_after_two():
    d = Detector(raise_after=2, clear_after=2)
    seq = [(100, 0), (100, 0), (100, 0), (100, 830), (100, 830)]
    found = [f for i, (lvl, ma) in enumerate(seq) for f in d.observe_frame(LAMP, _status(600 * i, lvl, ma))]
    assert [(f.fault, f.action, f.at_s, f.since_s) for f in found] == [
        (LAMP_FAILURE, "raise", 600, 0), (LAMP_FAILURE, "clear", 2400, 0)]
    assert found[0].evidence["expected_ma"] == 830


def test_one_bad_sample_between_good_ones_raises_nothing():
    d = Detector()
    for i, ma in enumerate([830, 0, 830, 0, 830]):
        assert d.observe_frame(LAMP, _status(600 * i, 100, ma)) == []


def test_lamp_off_by_day_is_not_judged():
    d = Detector(raise_after=1)
    assert d.observe_frame(LAMP, _status(0, 0, 0)) == []
    assert d.observe_frame(LAMP, _status(600, 3, 0)) == []


def test_dimmed_lamp_judged_against_its_level():
    d = Detector(raise_after=1)
    assert d.observe_frame(LAMP, _status(0, 40, 330)) == []
    assert d.observe_frame(LAMP, _status(600, 40, 20))[0].fault == LAMP_FAILURE


def test_silent_lamp_raised_once_and_cleared_by_next_frame():
    d = Detector(silent_after_intervals=3)
    d.observe_frame(LAMP, _status(0, 0, 0))
    assert d.check_silence([LAMP], 1800) == []
    raised = d.check_silence([LAMP], 1801)
    assert [(f.fault, f.action, f.since_s) for f in raised] == [(COMMUNICATION_FAILURE, "raise", 0)]
    assert d.check_silence([LAMP], 5000) == []
    cleared = d.observe_frame(LAMP, _status(6000, 0, 0))
    assert [(f.fault, f.action) for f in cleared] == [(COMMUNICATION_FAILURE, "clear")]


def test_never_heard_lamp_is_not_silent():
    assert Detector().check_silence([LAMP], 10**9) == []
