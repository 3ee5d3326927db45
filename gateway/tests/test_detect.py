"""Detection rules, pure: each rule raises with evidence, clears after the repair, and stays quiet on a
healthy fleet."""
from __future__ import annotations

import pytest

from gateway import daily
from gateway.detect import Detector, Finding
from gateway.faults import (BATTERY_DEGRADED, BATTERY_LOW, CHARGING_FAILURE, COMMUNICATION_FAILURE,
                            CONTROL_GEAR_FAILURE, LAMP_FAILURE, LAMP_UNEXPECTED_ON, LANTERN_NOT_CHARGING,
                            LANTERN_UNUSED, RESET_LOOP, TAMPER, THEFT)
from gateway.registry import Lamp
from gateway.settings import DetectSettings
from gateway.tests.synth import T0, Fleet, decoded, is_night

LAMP = Lamp("L1", 1, bytes(16), status_interval_s=600)  # silence times below are in 600 s intervals


def _window(from_s: int, lamp: Lamp = LAMP, k: int = 11) -> int:
    """The silence window from a lamp's last frame: k frames due on its night/day cadence (11 at 20 % loss)."""
    return daily.silence_window_s(from_s, lamp.status_interval_s, k, 3600)


def _status(t, led_pct, led_ma, fcnt=0, **over):
    fields = {"time_s": t, "led_pct": led_pct, "led_ma": led_ma, "vbat_mv": 13000 - fcnt % 100, "ibat_ma": -900,
              "pv_mv": 0, "soc_pct": 60, "temp_c": 25, "mode": "night", "faults": []}
    fields.update(over)
    return decoded("status", fields, fcnt)


def _run(detector: Detector, fleet: Fleet, steps: int) -> list[Finding]:
    found = []
    for _ in range(steps):
        for s, frame in fleet.step():
            found += detector.observe_frame(s.lamp, frame)
        found += detector.tick([s.lamp for s in fleet.lamps], fleet.t)
    return found


def _summary(found):
    return [(f.lamp_id, f.fault, f.action) for f in found]


def _ticks(detector: Detector, lamps: list[Lamp], start_s: int, end_s: int, every_s: int = 60) -> list[Finding]:
    """A running gateway's ticks after start_s up to end_s (the service ticks every second; a clock that
    jumps further than `clock_step_s` between two readings is a gateway that was not listening)."""
    found = []
    for t in [*range(start_s + every_s, end_s, every_s), end_s]:
        found += detector.tick(lamps, t)
    return found


# ------------------------------------------------------------------ lampFailure


def test_dark_raised_after_two_observations_and_cleared_after_two():
    d = Detector(DetectSettings(raise_after=2, clear_after=2))
    seq = [(100, 0), (100, 0), (100, 0), (100, 830), (100, 830)]
    found = [f for i, (lvl, ma) in enumerate(seq) for f in d.observe_frame(LAMP, _status(600 * i, lvl, ma, i))]
    assert [(f.fault, f.action, f.at_s, f.since_s) for f in found] == [
        (LAMP_FAILURE, "raise", 600, 0), (LAMP_FAILURE, "clear", 2400, 0)]
    assert found[0].evidence["expected_ma"] == 830
    assert found[0].evidence["battery"] == {"vbat_mv": 12999, "soc_pct": 60, "at_s": 600}


def test_one_bad_sample_between_good_ones_raises_nothing():
    d = Detector()
    for i, ma in enumerate([830, 0, 830, 0, 830]):
        assert d.observe_frame(LAMP, _status(600 * i, 100, ma, i)) == []


def test_lamp_off_by_day_is_not_judged_and_dimmed_lamp_is_judged_against_its_level():
    d = Detector(raise_after=1)
    assert d.observe_frame(LAMP, _status(0, 0, 0, 0, mode="day")) == []
    assert d.observe_frame(LAMP, _status(600, 3, 0, 1)) == []
    assert d.observe_frame(LAMP, _status(1200, 40, 330, 2)) == []
    assert d.observe_frame(LAMP, _status(1800, 40, 20, 3))[0].fault == LAMP_FAILURE


def test_firmware_led_open_event_raises_at_once_with_current_evidence():
    d = Detector(raise_after=3)
    ev = decoded("event", {"time_s": 100, "events": [{"code": "led_open", "action": "raised", "value": 0, "ref": 830}]}, 5)
    [f] = d.observe_frame(LAMP, ev)
    assert (f.fault, f.action) == (LAMP_FAILURE, "raise")
    assert f.evidence["led_ma"] == 0 and f.evidence["led_pct"] == 100 and f.evidence["expected_ma"] == 830
    cleared = decoded("event", {"time_s": 900, "events": [{"code": "led_open", "action": "cleared", "value": 830,
                                                           "ref": 830}]}, 6)
    assert [(x.fault, x.action) for x in d.observe_frame(LAMP, cleared)] == [(LAMP_FAILURE, "clear")]


def test_replayed_and_reordered_frames_do_not_flap():
    d = Detector(raise_after=2, clear_after=2)
    bad = [_status(600 * i, 100, 0, i) for i in range(3)]
    good = [_status(600 * i, 100, 830, i) for i in range(3, 6)]
    found = []
    for fr in bad + good + bad + good[:1] + bad[::-1]:
        found += d.observe_frame(LAMP, fr)
    assert [(f.fault, f.action) for f in found] == [(LAMP_FAILURE, "raise"), (LAMP_FAILURE, "clear")]


# ------------------------------------------------------------------ control gear, day burning


def test_led_short_readings_and_driver_event_raise_control_gear_failure():
    d = Detector(raise_after=2)
    found = d.observe_frame(LAMP, _status(0, 50, 900, 0)) + d.observe_frame(LAMP, _status(600, 50, 900, 1))
    assert _summary(found) == [("L1", CONTROL_GEAR_FAILURE, "raise")]
    assert found[0].evidence["led_ma"] == 900 and found[0].evidence["expected_ma"] == 415
    d2 = Detector(raise_after=2)
    ev = decoded("event", {"time_s": 5, "events": [{"code": "driver", "action": "raised", "value": 1, "ref": 0}]}, 0)
    assert _summary(d2.observe_frame(LAMP, ev)) == [("L1", CONTROL_GEAR_FAILURE, "raise")]


def test_day_burning_raises_for_street_lamps_only():
    d = Detector(raise_after=2)
    day = {"pv_mv": 17000, "mode": "day"}
    noon = 11 * 3600  # 12:00 in Bangui: a panel reading daylight at midnight is a sensorFailure instead
    found = [f for i in range(3) for f in d.observe_frame(LAMP, _status(noon + 600 * i, 0, 800, i, **day))]
    assert _summary(found) == [("L1", LAMP_UNEXPECTED_ON, "raise")]
    assert found[0].evidence["pv_mv"] == 17000
    kit = Lamp("K1", 2, bytes(16), kind="kit")
    assert [f for i in range(3) for f in d.observe_frame(kit, _status(noon + 600 * i, 100, 300, i, **day))] == []
    test_mode = [f for i in range(3) for f in Detector().observe_frame(LAMP, _status(noon + 600 * i, 100, 830, i,
                                                                                        pv_mv=17000, mode="test"))]
    assert test_mode == []


# ------------------------------------------------------------------ communication


def test_silence_threshold_comes_from_the_loss_rate():
    d = Detector(DetectSettings(loss_rate=0.2, silence_false_alarm=1e-7))
    assert d.silence_intervals("L1") == 11  # 0.2**10 = 1.02e-7 is not yet below 1e-7
    assert Detector(DetectSettings(loss_rate=0.05, silence_false_alarm=1e-7)).silence_intervals("L1") == 6


def test_silent_lamp_raised_once_with_evidence_and_cleared_by_next_frame():
    d = Detector(DetectSettings(loss_rate=0.2, silence_false_alarm=1e-7))
    d.tick([LAMP], 0)  # the gateway starts
    d.observe_frame(LAMP, _status(0, 0, 0, 0))
    assert _ticks(d, [LAMP], 0, 6600) == []
    [raised] = d.tick([LAMP], 6601)
    assert (raised.fault, raised.action, raised.since_s) == (COMMUNICATION_FAILURE, "raise", 0)
    assert raised.evidence["needed_intervals"] == 11 and raised.evidence["silent_s"] == 6601
    assert _ticks(d, [LAMP], 6601, 9000) == []
    cleared = d.observe_frame(LAMP, _status(9600, 0, 0, 16))
    assert _summary(cleared) == [("L1", COMMUNICATION_FAILURE, "clear")]


def test_lamp_with_a_lossy_link_gets_a_longer_silence_threshold():
    d = Detector(DetectSettings(loss_rate=0.2))
    for i in range(40):
        if i % 2 == 0:  # half its frames are lost
            d.observe_frame(LAMP, _status(600 * i, 0, 0, i))
    assert d.silence_intervals("L1") >= 22  # about half lost: 0.5**23 < 1e-7, instead of 11 intervals


def test_never_heard_lamp_is_not_silent_and_restart_gives_everyone_a_fresh_start():
    assert Detector().tick([LAMP], 10**9) == []
    heard_long_ago = Lamp("L2", 2, bytes(16), status_interval_s=600, last_seen_s=1000)
    d = Detector()
    assert d.tick([heard_long_ago], 10**6) == []  # restart: silence counts from now
    w = _window(10**6, heard_long_ago)  # 14:46 local: day cadence, 11 x 1200 s
    assert w == 11 * 1200
    assert _ticks(d, [heard_long_ago], 10**6, 10**6 + w) == []
    [f] = d.tick([heard_long_ago], 10**6 + w + 1)
    assert (f.fault, f.since_s) == (COMMUNICATION_FAILURE, 1000)


# ------------------------------------------------------------------ battery


def test_two_load_disconnects_in_a_week_raise_battery_low_and_it_clears_when_they_age_out():
    d = Detector()
    frames = [_status(0, 100, 830, 0), _status(600, 0, 0, 1, mode="low_battery"),
              _status(40000, 100, 830, 2), _status(86400, 0, 0, 3, mode="low_battery")]
    found = [f for fr in frames for f in d.observe_frame(LAMP, fr)]
    assert _summary(found) == [("L1", BATTERY_LOW, "raise")]
    assert found[0].evidence["disconnects"] == 2
    assert d.tick([LAMP], 86400 + 3600) == []
    later = d.tick([LAMP], 600 + 7 * 86400 + 1)
    assert ("L1", BATTERY_LOW, "clear") in _summary(later)


def test_battery_low_events_within_an_hour_count_once():
    d = Detector()
    ev = [decoded("event", {"time_s": t, "events": [{"code": "battery_low", "action": "raised", "value": 11900,
                                                     "ref": 12000}]}, i) for i, t in enumerate((0, 1200, 2400))]
    assert [f for e in ev for f in d.observe_frame(LAMP, e)] == []


def test_falling_capacity_raises_battery_degraded():
    fleet = Fleet(1)
    s = fleet[0]
    d = Detector(DetectSettings(capacity_nights=3))
    found = _run(d, fleet, 144 * 4)
    assert found == [] and len(d.track(s.lamp_id).days.capacities) >= 3
    s.capacity_mah = 12000  # the battery loses 40 % of its capacity
    found = _run(d, fleet, 144 * 4)
    assert _summary(found) == [(s.lamp_id, BATTERY_DEGRADED, "raise")]
    assert found[0].evidence["capacity_mah"] < 0.7 * found[0].evidence["best_capacity_mah"]


# ------------------------------------------------------------------ charging, kits


def test_panel_gone_raises_charging_failure_after_the_day_and_clears_after_a_good_day():
    fleet = Fleet(4)
    d = Detector()
    assert _run(d, fleet, 144) == []
    fleet[2].faults.add("panel_gone")  # at noon: judged on the first whole day without harvest
    found = _run(d, fleet, 144 + 96)
    assert _summary(found) == [(fleet[2].lamp_id, CHARGING_FAILURE, "raise")]
    ev = found[0].evidence
    assert ev["harvest_mah"] == 0 and ev["site_median_mah"] > 1000 and ev["peers"] == 3
    fleet[2].faults.clear()
    assert _summary(_run(d, fleet, 144 + 24)) == [(fleet[2].lamp_id, CHARGING_FAILURE, "clear")]


def test_no_charging_failure_when_the_whole_site_had_a_storm():
    fleet = Fleet(4)
    d = Detector()
    for s in fleet.lamps:
        s.faults.add("storm")
    fleet[1].faults.add("panel_gone")
    assert _run(d, fleet, 144 * 2) == []


def test_kits_not_charging_and_unused():
    kits = Fleet(3, kind="kit", prefix="KIT")
    d = Detector(DetectSettings(unused_days=3))
    kits[0].faults.add("panel_gone")
    kits[1].faults.add("unused")
    found = _run(d, kits, 144 * 5)
    assert (kits[0].lamp_id, LANTERN_NOT_CHARGING, "raise") in _summary(found)
    assert (kits[1].lamp_id, LANTERN_UNUSED, "raise") in _summary(found)
    assert all(f.fault not in (CHARGING_FAILURE, LAMP_UNEXPECTED_ON) for f in found)
    kits[1].faults.clear()
    assert (kits[1].lamp_id, LANTERN_UNUSED, "clear") in _summary(_run(d, kits, 144 * 2))


# ------------------------------------------------------------------ tamper, theft, boot loop


def test_tamper_then_silence_at_night_is_theft_not_a_radio_fault():
    d = Detector()
    night = T0 + 8 * 3600  # 20:00 in Bangui
    assert is_night(night)
    d.tick([LAMP], night - 3600)
    d.observe_frame(LAMP, _status(night - 600, 100, 830, 0))
    tamper = decoded("event", {"time_s": night, "events": [{"code": "tamper", "action": "raised", "value": 0,
                                                            "ref": 0}]}, 1)
    assert _summary(d.observe_frame(LAMP, tamper)) == [("L1", TAMPER, "raise")]
    found = d.tick([LAMP], night + 1201) + d.tick([LAMP], night + 7 * 3600)
    assert _summary(found) == [("L1", THEFT, "raise")]
    assert found[0].evidence["tamper_s"] == night
    assert (THEFT, "clear") in [(f.fault, f.action) for f in d.observe_frame(LAMP, _status(night + 8 * 3600, 0, 0, 2))]


def test_boot_loop_raises_on_watchdog_boots_and_clears_after_a_quiet_window():
    fleet = Fleet(1)
    s = fleet[0]
    d = Detector()
    assert d.observe_frame(s.lamp, fleet.boot(s, T0, "power_on")) == []
    found = []
    for i, cause in enumerate(("watchdog", "brown_out", "watchdog")):
        found += d.observe_frame(s.lamp, fleet.boot(s, T0 + 600 * (i + 1), cause, i + 2))
    assert _summary(found) == [(s.lamp_id, RESET_LOOP, "raise")]
    assert found[0].evidence["causes"] == ["brown_out", "watchdog"] and found[0].evidence["boots"] == 3
    assert d.tick([s.lamp], T0 + 3 * 3600) == []
    later = d.tick([s.lamp], T0 + 1800 + 6 * 3600 + 1)
    assert (s.lamp_id, RESET_LOOP, "clear") in _summary(later)


def test_boot_loop_stays_raised_while_the_firmware_still_flags_it():
    d = Detector()
    for i in range(3):
        d.observe_frame(LAMP, decoded("boot", {"time_s": T0 + 600 * i, "fw_version": "1", "reset_cause": "brown_out",
                                               "boot_count": i + 2}, i))
    flagged = 7 * 3600  # past the 6 h window, within the firmware's day of uptime
    d.observe_frame(LAMP, _status(T0 + flagged, 0, 0, 3, faults=["reset_loop"]))
    assert d.tick([LAMP], T0 + flagged + 1) == []  # clearing now would reopen at the next status frame
    assert d.observe_frame(LAMP, _status(T0 + flagged + 600, 0, 0, 4, faults=["reset_loop"])) == []
    cleared = decoded("event", {"time_s": T0 + 25 * 3600, "events": [
        {"code": "reset_loop", "action": "cleared", "value": 3, "ref": 60}]}, 5)
    assert _summary(d.observe_frame(LAMP, cleared)) == [("L1", RESET_LOOP, "clear")]


def test_contact_is_back_when_a_queued_frame_is_heard_not_when_it_was_written():
    d = Detector()
    d.tick([LAMP], T0)
    d.observe_frame(LAMP, _status(T0, 0, 0, 0))
    w = _window(T0) + 60
    [raised] = _ticks(d, [LAMP], T0, T0 + w)
    assert raised.fault == COMMUNICATION_FAILURE
    assert _ticks(d, [LAMP], T0 + w, T0 + 4 * 3600) == []
    # The radio is repaired at T0 + 4 h; the lamp's queue arrives oldest first.
    [cleared] = d.observe_frame(LAMP, _status(T0 + 600, 0, 0, 1), heard_s=T0 + 4 * 3600)
    assert (cleared.fault, cleared.action, cleared.at_s) == (COMMUNICATION_FAILURE, "clear", T0 + 4 * 3600)
    assert cleared.evidence["frame_s"] == T0 + 600
    assert d.tick([LAMP], T0 + 4 * 3600 + 300) == []  # silence counts from the arrival: no second alert


def test_silence_is_judged_on_when_the_gateway_heard_the_lamp_not_on_the_lamps_clock():
    ahead, behind = Lamp("L1", 1, bytes(16), status_interval_s=600), Lamp("L2", 2, bytes(16), status_interval_s=600)
    lamps = [ahead, behind]
    d = Detector()
    d.tick(lamps, T0)
    found = []
    for i in range(1, 60):  # every 10 minutes of the gateway's (wall) clock; the lamps' clocks are +-2 h off
        now = T0 + 600 * i
        if i <= 20:  # the lamp whose clock is ahead falls silent after its 20th report
            found += d.observe_frame(ahead, _status(now + 7200, 0, 0, i), heard_s=now)
        found += d.observe_frame(behind, _status(now - 7200, 0, 0, i), heard_s=now)
        found += _ticks(d, lamps, now - 600, now)
    [raised] = found  # the lamp behind, heard all along, is never silent
    last_heard = T0 + 600 * 20
    assert (raised.lamp_id, raised.fault) == ("L1", COMMUNICATION_FAILURE)
    # 11 frames (by day: 11 x 20 min) after it was last heard, not 2 h later as its own clock would have it
    w = _window(last_heard, ahead)
    assert last_heard + w < raised.at_s <= last_heard + w + 60
    assert raised.since_s == last_heard + 7200 and raised.evidence["last_heard_s"] == last_heard


def test_a_device_clock_that_jumps_with_a_lamp_ahead_declares_nobody_silent():
    """With the device clock (emulated fleets) the gateway's now is the newest device time heard: a lamp
    whose clock is 2 h ahead moves it 2 h at once. That jump is not silence of the others."""
    right, ahead, quiet = (Lamp(f"L{i}", i, bytes(16), status_interval_s=600) for i in (1, 2, 3))
    lamps = [right, ahead, quiet]
    d = Detector()
    for n, lamp in enumerate((right, quiet)):
        d.observe_frame(lamp, _status(T0, 0, 0, 0), heard_s=T0)
    d.tick(lamps, T0)
    now = T0 + 60 + 7200
    found = d.observe_frame(ahead, _status(now, 0, 0, 0), heard_s=now)  # its boot: the fleet's now jumps
    found += d.tick(lamps, now)
    for i in range(1, 30):  # then every lamp but `quiet` reports every 10 minutes, heard at the fleet's now
        now = T0 + 60 + 7200 + 600 * i
        found += d.observe_frame(ahead, _status(now, 0, 0, i), heard_s=now)
        found += d.observe_frame(right, _status(now - 7200, 0, 0, i), heard_s=now)
        found += _ticks(d, lamps, now - 600, now, every_s=300)
    [raised] = found
    assert (raised.lamp_id, raised.fault, raised.since_s) == ("L3", COMMUNICATION_FAILURE, T0)
    # silence counts from the jump, as from a restart: the gateway heard nobody in between
    assert raised.evidence["silent_s"] > _window(T0 + 60 + 7200, quiet)
    assert raised.at_s - raised.evidence["silent_s"] == T0 + 60 + 7200


def test_a_gateway_that_was_not_listening_declares_nobody_silent():
    d = Detector()
    d.tick([LAMP], T0)
    d.observe_frame(LAMP, _status(T0, 0, 0, 0), heard_s=T0)
    assert _ticks(d, [LAMP], T0, T0 + 600) == []
    back = T0 + 600 + 3 * 3600  # suspended (or its clock stepped) for 3 h: nobody was heard meanwhile
    assert d.tick([LAMP], back) == []
    w = _window(back)
    [raised] = _ticks(d, [LAMP], back, back + w + 600)
    assert raised.fault == COMMUNICATION_FAILURE and back + w < raised.at_s <= back + w + 60


# ------------------------------------------------------------------ manual resolution, whole fleet


def test_manual_reset_judges_the_rule_again():
    d = Detector(raise_after=2)
    for i in range(3):
        d.observe_frame(LAMP, _status(600 * i, 100, 0, i))
    d.reset("L1", LAMP_FAILURE)
    assert d.observe_frame(LAMP, _status(1800, 100, 0, 3)) == []
    assert _summary(d.observe_frame(LAMP, _status(2400, 100, 0, 4))) == [("L1", LAMP_FAILURE, "raise")]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_healthy_fleet_month_with_20_percent_loss_raises_nothing(seed):
    fleet = Fleet(6, seed=seed, loss=0.2)
    for s in fleet.lamps[::2]:
        s.level_after_midnight = 40  # dimmed after midnight: a profile, not a fault
    d = Detector(DetectSettings(loss_rate=0.2))
    assert _run(d, fleet, 144 * 30) == []


def test_each_injected_fault_in_a_fleet_is_alerted_for_the_right_lamp_only():
    fleet = Fleet(6, seed=4, loss=0.2)
    d = Detector()
    _run(d, fleet, 30)  # afternoon, all well
    fleet[1].faults.add("led_open")
    fleet[3].faults.add("radio_dead")
    fleet[4].faults.add("day_burning")
    found = _run(d, fleet, 144)
    raised = {(f.lamp_id, f.fault) for f in found if f.action == "raise"}
    assert raised == {(fleet[1].lamp_id, LAMP_FAILURE), (fleet[3].lamp_id, COMMUNICATION_FAILURE),
                      (fleet[4].lamp_id, LAMP_UNEXPECTED_ON)}


def test_disconnects_caused_by_an_open_fault_do_not_raise_battery_low():
    d = Detector(raise_after=1)
    found = d.observe_frame(LAMP, _status(0, 50, 900, 0))  # LED short: draws far too much
    frames = [_status(600, 0, 0, 1, mode="low_battery"), _status(40000, 100, 830, 2),
              _status(86400, 0, 0, 3, mode="low_battery")]
    found += [f for fr in frames for f in d.observe_frame(LAMP, fr)]
    assert _summary(found) == [("L1", CONTROL_GEAR_FAILURE, "raise")]
