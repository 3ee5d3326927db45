"""Night timing: learned midnight, clock skew and restored clocks, no location (shared)."""
import gc

from firmware.tests import support as s

s.load_core()
from telemetry import schema  # noqa: E402
from firmware.core import requests  # noqa: E402
from firmware.core.daylight import NIGHT  # noqa: E402
from firmware.core.night import MIN_VALID_MS  # noqa: E402

CLOCK = schema.FAULT_CODES["clock"]
SUN_MID_TOD = 82327  # s of the UTC day: solar midnight in Bangui, 1-2 August 2026 (22:52 UTC)


def test_midnight_is_dusk_plus_six_hours_until_learned():
    state, world = s.lamp(site=None, trusted=False)
    s.run(state, world, 8)
    n = state.night
    assert n.phase == NIGHT and n.mid_ms - n.dusk_ms == 6 * s.HOUR_MS and n.dawn_ms - n.dusk_ms == 12 * s.HOUR_MS


def test_midnight_learned_from_three_pv_nights():
    state, world = s.lamp()
    s.run(state, world, 24 * 3 + 8)
    n = state.night
    assert len(n.mids) == 3 and len(n.lens) == 3
    assert abs(s_tod_diff(n.mid_tod(), SUN_MID_TOD)) < 5 * 60  # the PV detector's own bias
    assert abs(s_tod_diff((n.mid_ms // 1000) % 86400, n.mid_tod())) <= 1
    assert 11 * s.HOUR_MS < n.dawn_ms - n.dusk_ms < 13 * s.HOUR_MS


def s_tod_diff(a, b):
    return (a - b + 43200) % 86400 - 43200


def test_restored_clock_hours_off_is_corrected_by_the_first_pv_night():
    # The RTC lost power; the shell restored the last saved time, 5 hours behind the truth.
    state, world = s.lamp(trusted=False)
    off = -5 * s.HOUR_MS
    events = s.run(state, world, 20, clock_ms=off)
    assert (CLOCK, schema.RAISED) in [e[:2] for e in events]
    assert state.night.sun_at(state.cfg, world.t_ms + off) is not None  # learned its skew
    skew = state.night.skew_s(state.cfg, world.t_ms + off)
    assert abs(skew + 5 * 3600) < 15 * 60
    world.dark_ms = 0  # the first evening was the PV detector's alone (set + 9 min)
    s.run(state, world, 24, clock_ms=off)
    assert world.dark_ms <= 5 * s.MIN_MS  # the second evening lit by the shifted sun (PV bias: minutes)


def test_trusted_clock_drifting_more_than_half_an_hour_raises_the_clock_fault():
    state, world = s.lamp()
    events = s.run(state, world, 24 * 3 + 12, clock_ms=40 * s.MIN_MS)
    assert (CLOCK, schema.RAISED) in [e[:2] for e in events]
    assert world.dark_ms <= 5 * s.MIN_MS  # the sun, shifted by the measured skew, still lights it


def test_time_sync_moves_every_timer_and_reports_the_correction():
    state, world = s.lamp()
    s.run(state, world, 10)
    before = (state.night.dusk_ms, state.night.since_ms, state.segs[0][0], state.last_ms)
    events = requests.sync_clock(state, world.t_ms, world.t_ms + 125000)
    assert events == [(schema.EVENT_CODES["time_sync"], schema.POINT, 125, 0)]
    after = (state.night.dusk_ms, state.night.since_ms, state.segs[0][0], state.last_ms)
    assert [b + 125000 for b in before] == list(after)
    assert state.night.trusted


def test_learned_schedule_without_location_or_clock():
    state, world = s.lamp(site=None, trusted=False)
    s.run(state, world, 24 * 2 + 4)
    n = state.night
    assert len(n.mids) >= 2
    sun = n.sun_at(state.cfg, world.t_ms)
    assert sun is not None and sun[0] is False  # 16:00: day by the learned schedule
    # A reboot at 22:00 with the learned nights restored: the night began at the learned dusk.
    from firmware.core.controller import LampState

    s.run(state, world, 6)
    cfg, mids, lens = state.cfg, list(n.mids), list(n.lens)
    del state, n, sun
    gc.collect()  # the first controller out of the way of the second (a 96 KB heap)
    again = LampState(cfg)
    again.night.mids, again.night.lens = mids, lens
    s.run(again, world, 0.01)
    assert again.night.phase == NIGHT and world.t_ms - again.night.dusk_ms > 3 * s.HOUR_MS


def test_clock_that_was_never_set_is_a_fault_only_where_the_sun_matters():
    state, world = s.lamp(trusted=False)
    world.t_ms = MIN_VALID_MS - s.DAY_MS
    events = s.run(state, world, 1)
    assert (CLOCK, schema.RAISED) in [e[:2] for e in events]
    state = world = events = None  # free the first lamp before the second (a 96 KB heap)
    state, world = s.lamp(site=None, trusted=False)
    world.t_ms = MIN_VALID_MS - s.DAY_MS
    assert CLOCK not in s.codes(s.run(state, world, 1))
