"""Recurring maintenance windows: the spec grammar, window boundaries (start inclusive, end exclusive,
across midnight, across a daylight-saving change) and garbage that must be refused with RecurrenceError."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.recurrence import Recurrence, RecurrenceError, parse

BANGUI = ZoneInfo("Africa/Bangui")


def at(y, mo, d, h, mi=0, s=0, zone=BANGUI) -> int:
    return int(datetime(y, mo, d, h, mi, s, tzinfo=zone).timestamp())


# 2026-08-04 is a Tuesday, 2026-08-07 a Friday.


@pytest.mark.parametrize("spec, canonical", [
    ("tue 08:00-12:00", "tue 08:00-12:00 Africa/Bangui"),
    ("Tuesday 8:00-12:00 Africa/Bangui", "tue 08:00-12:00 Africa/Bangui"),
    ("mon,tue,wed,thu,fri 22:00-02:00", "mon-fri 22:00-02:00 Africa/Bangui"),
    ("fri-mon", "mon,fri-sun 00:00-24:00 Africa/Bangui"),
    ("daily 12:00-14:00 Europe/Paris", "daily 12:00-14:00 Europe/Paris"),
    ("18:00-00:00", "daily 18:00-24:00 Africa/Bangui"),
    ("nov-feb 1-7,15 UTC", "jan,feb,nov,dec 1-7,15 00:00-24:00 UTC"),
])
def test_specs_parse_to_a_canonical_form_that_parses_back(spec, canonical):
    r = parse(spec)
    assert str(r) == canonical and parse(str(r)) == r


@pytest.mark.parametrize("spec, fragment", [
    ("", "empty recurrence"),
    ("daily", "never closes"),
    ("08:00-08:00", "is empty"),
    ("24:00-02:00", "hours 00-23"),
    ("08:60-09:00", "minutes 00-59"),
    ("8:00-12", "write HH:MM-HH:MM"),
    ("8h-12h", "times as HH:MM-HH:MM"),
    ("mardi 08:00-12:00", "not a weekday"),
    ("mon tue", "weekdays given twice"),
    ("mon,jan", "mixes"),
    ("mon-jan", "mixes a weekday and a month"),
    ("32", "use 1 to 31"),
    ("15-1", "ascending"),
    ("feb 30,31", "never happens"),
    ("daily mon 08:00-09:00", "contradict"),
    ("tue 08:00-12:00 Europe/Pariss", "unknown time zone"),
    ("tue ../etc/passwd", "IANA name"),
])
def test_bad_specs_say_what_to_fix(spec, fragment):
    with pytest.raises(RecurrenceError, match=fragment):
        parse(spec)


def test_window_start_is_inclusive_and_end_exclusive():
    r = parse("tue 08:00-12:00")
    assert not r.active(at(2026, 8, 4, 7, 59, 59))
    assert r.active(at(2026, 8, 4, 8))
    assert r.active(at(2026, 8, 4, 11, 59, 59))
    assert not r.active(at(2026, 8, 4, 12))
    assert not r.active(at(2026, 8, 5, 9))  # Wednesday
    assert r.active(at(2026, 8, 4, 7, zone=timezone.utc))  # 08:00 in Bangui (UTC+1, no daylight saving)
    assert not r.active(at(2026, 8, 4, 11, zone=timezone.utc))  # 12:00 in Bangui


def test_a_window_across_midnight_belongs_to_the_day_it_starts():
    r = parse("fri 22:00-02:00")
    assert not r.active(at(2026, 8, 7, 21, 59, 59))
    assert r.active(at(2026, 8, 7, 22))
    assert r.active(at(2026, 8, 8, 1, 59, 59))  # Saturday morning: Friday's window
    assert not r.active(at(2026, 8, 8, 2))
    assert not r.active(at(2026, 8, 8, 22))  # Saturday evening: not chosen
    assert not r.active(at(2026, 8, 7, 1))  # Friday morning is Thursday's window
    daily = parse("22:00-02:00")
    assert all(daily.active(at(2026, 8, d, 23)) and daily.active(at(2026, 8, d, 0, 30)) for d in range(1, 31))
    assert not daily.active(at(2026, 8, 4, 12))
    to_midnight = parse("22:00-00:00")
    assert to_midnight.active(at(2026, 8, 4, 23, 59, 59)) and not to_midnight.active(at(2026, 8, 5, 0))


def test_months_and_days_of_the_month():
    r = parse("jan 1-7 08:00-09:00")
    assert r.active(at(2027, 1, 3, 8, 30))
    assert not r.active(at(2027, 2, 3, 8, 30)) and not r.active(at(2027, 1, 8, 8, 30))
    assert parse("feb 29").active(at(2028, 2, 29, 12)) and not parse("feb 29").active(at(2028, 3, 1, 12))


def test_windows_follow_the_wall_clock_of_their_zone():
    paris = ZoneInfo("Europe/Paris")
    summer_6h_utc = at(2026, 8, 4, 6, zone=timezone.utc)  # 08:00 in Paris (CEST), 07:00 in Bangui
    assert parse("tue 08:00-12:00 Europe/Paris").active(summer_6h_utc)
    assert not parse("tue 08:00-12:00 Africa/Bangui").active(summer_6h_utc)
    kolkata = parse("tue 08:00-12:00 Asia/Kolkata")  # UTC+05:30, no daylight saving
    assert kolkata.active(at(2026, 8, 4, 2, 30, zone=timezone.utc))
    assert not kolkata.active(at(2026, 8, 4, 2, 29, 59, zone=timezone.utc))
    night = parse("daily 02:00-03:00 Europe/Paris")
    # 29 March 2026: clocks jump from 02:00 to 03:00, the window does not happen that night.
    spring = [at(2026, 3, 29, 0, zone=timezone.utc) + 300 * k for k in range(36)]  # 00:00-03:00 UTC
    assert not any(night.active(t) for t in spring)
    # 25 October 2026: 02:00-03:00 happens twice, the window lasts two hours (00:00-02:00 UTC).
    assert night.active(at(2026, 10, 25, 0, zone=timezone.utc))
    assert night.active(at(2026, 10, 25, 1, 30, zone=timezone.utc))
    assert not night.active(at(2026, 10, 25, 2, zone=timezone.utc))
    assert not night.active(at(2026, 10, 24, 23, 59, 59, zone=timezone.utc))
    assert night.next_start(at(2026, 10, 24, 12, zone=paris)) == at(2026, 10, 25, 0, zone=timezone.utc)


def test_next_start():
    r = parse("tue 08:00-12:00")
    assert r.next_start(at(2026, 8, 5, 9)) == at(2026, 8, 11, 8)  # Wednesday: next Tuesday
    assert r.next_start(at(2026, 8, 4, 8)) == at(2026, 8, 4, 8)  # at the start: this one
    assert r.next_start(at(2026, 8, 4, 9)) == at(2026, 8, 11, 8)  # inside: the following one
    assert parse("fri 22:00-02:00").next_start(at(2026, 8, 8, 1)) == at(2026, 8, 14, 22)
    assert parse("feb 29").next_start(at(2026, 8, 1, 0)) is None  # not within the 400-day horizon


# ------------------------------------------------------------------ properties

_WORDS = st.sampled_from([
    "mon", "tue", "sun", "Monday", "fri-mon", "mon-fri", "sat,sun", "jan", "nov-feb", "feb", "1", "31", "1-7",
    "15,30", "0", "32", "7-1", "daily", "08:00-12:00", "22:00-02:00", "00:00-24:00", "24:00-01:00", "9:5-10:00",
    "12:00-12:00", "Africa/Bangui", "Europe/Paris", "UTC", "Nowhere/Land", "/", "a/", "mon,", ",", "-", "mon-",
    "--", ":", "1:00", "utc", "é", "٣", "mon-tue-wed", "x" * 60, "\x00",
])


def _check(spec: str) -> None:
    try:
        r = parse(spec)
    except RecurrenceError:
        return
    assert isinstance(r, Recurrence) and parse(str(r)) == r
    t = at(2026, 8, 4, 10)
    assert r.active(t) in (True, False)
    nxt = r.next_start(t, horizon_days=60)
    assert nxt is None or (nxt >= t and r.active(nxt))


@settings(derandomize=True, max_examples=400, deadline=None)
@given(st.text(max_size=40))
def test_any_text_parses_or_raises_recurrence_error(spec):
    _check(spec)


@settings(derandomize=True, max_examples=400, deadline=None)
@given(st.lists(_WORDS, max_size=5), st.sampled_from([" ", "  ", "\t", " \n"]))
def test_near_miss_specs_parse_or_raise_recurrence_error(words, sep):
    _check(sep.join(words))
