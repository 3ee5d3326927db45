"""Fault specs (`--faults`): garbage gets FaultSpecError and nothing else; good specs round-trip; every
mistake a user makes is refused before the run, saying what to write."""
from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.faults import FaultEvent, FaultSpecError, parse
from emulator.scenario import DEFAULT_START, make_fleet

LAMPS = make_fleet(3, seed=1)
# Pieces a spec is made of, so that the generator reaches past the grammar into names, values and times.
PIECES = st.sampled_from(["1", "2", "9", "*", "LAMP-0002", ":", "-", "led_open", "ledd_open", "soiling",
                          "sensor_stuck", "sensor_stuck_vbat_mv", "clock_drift", "clock_jump", "kit_off",
                          "radio_dead", "brown_out", "=", "0.5", "-3", "nan", "inf", "1e999", "@", "3h", "90m",
                          "2d", "1.5.5", "2026-08-01T18:00", "2026-08-01", "0001-01-01", "9999-12-31T23:59+14:00",
                          "%", "0.3", "1.2.3", "2", ",", ";", " ", "_", "x"])
SPECS = st.one_of(st.text(max_size=40), st.lists(PIECES, max_size=12).map("".join))


def _only_its_own_error(spec: str, **kwargs) -> list[FaultEvent]:
    try:
        return parse(spec, DEFAULT_START, **kwargs)
    except FaultSpecError as e:
        assert str(e) and "\n" not in str(e)
        return []


@settings(max_examples=400, deadline=None)
@given(SPECS)
def test_garbage_gets_a_fault_spec_error_only(spec):
    events = _only_its_own_error(spec)
    assert all(isinstance(ev, FaultEvent) and ev.at_s >= 0 and 0 <= ev.probability <= 1 for ev in events)


@settings(max_examples=400, deadline=None)
@given(SPECS, st.floats(0.01, 40))
def test_garbage_against_a_run_gets_a_fault_spec_error_only(spec, days):
    for ev in _only_its_own_error(spec, lamps=LAMPS, days=days, utc_offset_h=1.0):
        assert ev.at_s < days * 86400
        assert ev.lamp in ("*", "1", "2", "3") or ev.lamp.startswith("LAMP-000")


@pytest.mark.parametrize("spec", ["2:led_open@30h", "2:-led_open@50h", "3:soiling=0.5@1d", "1:clock_jump=-7200@90m",
                                  "*:radio_dead@2d%0.1", "1:sensor_stuck_vbat_mv=12000@45s", "1:brown_out"])
def test_a_label_is_the_spec_without_its_lamp(spec):
    [ev] = parse(spec)
    assert ev.label() == spec.split(":", 1)[1]


@pytest.mark.parametrize("spec, message", [
    ("2:ledd_open@3h", "unknown fault 'ledd_open' in '2:ledd_open@3h': did you mean led_open?"),
    ("2:sensor_stuk_pv_mv", "did you mean sensor_stuck_pv_mv?"),
    ("2:xyzzy", "known faults: led_open, "),
    ("2:sensor_stuck@1h", "sensor_stuck_<reading>"),
    ("5:led_open@3h", "no lamp '5' for '5:led_open@3h': this run has 3 lamp(s): 1-3 or LAMP-0001..LAMP-0003"),
    ("BGI-0001:led_open", "no lamp 'BGI-0001'"),
    ("1:kit_off", "street lamp"),
    ("2:led_open@30h", "30h after the start, but the run lasts 1 day(s)"),
    ("2:led_open@2026-07-31", "before the run's start"),
    ("2:led_open@soon", "bad time"),
    ("2:led_open=1", "takes no value"),
    ("2:radio_dead=1", "takes no value"),
    ("2:soiling=1.5", "outside 0..1"),
    ("2:soiling=nan", "finite"),
    ("2:battery_degraded=0", "capacity_factor"),
    ("2:led_open%1.5", "probability"),
    ("2:led_open%1.2.3", "probability"),
    ("2:clock_drift", "clock_drift=PPM"),
])
def test_mistakes_are_refused_before_the_run(spec, message):
    with pytest.raises(FaultSpecError, match=re.escape(message)):
        parse(spec, DEFAULT_START, lamps=LAMPS, days=1, utc_offset_h=1.0)


def test_an_iso_time_is_in_the_sites_zone_and_counts_from_the_start():
    # DEFAULT_START is 12:00 in Bangui (UTC+1): 18:00 there is six hours in.
    [ev] = parse("2:led_open@2026-08-01T18:00", DEFAULT_START, utc_offset_h=1.0)
    assert ev.at_s == 6 * 3600
    [ev] = parse("2:led_open@2026-08-01T18:00Z", DEFAULT_START, utc_offset_h=1.0)
    assert ev.at_s == 7 * 3600


def test_a_repair_of_every_reading_needs_no_name():
    [ev] = parse("1:-sensor_stuck@2h", lamps=LAMPS, days=1)
    assert ev.clear and ev.fault == "sensor_stuck"
