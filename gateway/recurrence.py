"""Recurring time windows (Alertmanager's `time_intervals`) in a compact one-line spec, for maintenance
windows that come back every week or every day: "every Tuesday 08:00-12:00" is `tue 08:00-12:00`.

Grammar: words separated by spaces, in any order, each kind at most once:

    DAYS     mon,tue  mon-fri  sat,sun  fri-mon      weekdays (English; full names too), ranges may wrap
    MONTHS   jan  nov-feb  jun,jul                   months, ranges may wrap
    MDAYS    1  1-7  1,15                            days of the month (1-31), ranges ascending
    TIME     08:00-12:00  22:00-02:00  18:00-24:00    start inclusive, end exclusive; an end before the
                                                     start crosses midnight into the next day
    ZONE     Africa/Bangui (default)  Europe/Paris  UTC      an IANA time zone (wall-clock time)
    daily                                            every day (the same as giving no DAYS)

DAYS, MONTHS and MDAYS choose the day a window STARTS on, so `fri 22:00-02:00` is Friday night into
Saturday morning. Without TIME a chosen day is silenced whole. A window follows the zone's wall clock:
across a daylight-saving change it lasts an hour more or less, and a window inside a skipped hour does
not happen that day (Alertmanager does the same). Bangui has no daylight saving.

Pure: no clock, no I/O. `parse` raises `RecurrenceError` (and nothing else) for any text it refuses.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

DEFAULT_ZONE = "Africa/Bangui"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = date.weekday()
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_FULL = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "january", "february",
         "march", "april", "june", "july", "august", "september", "october", "november", "december")
_NAMES = {**{n: n for n in WEEKDAYS + MONTHS}, **{n: n[:3] for n in _FULL}}
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # a leap year: 29 February happens
_TIME = re.compile(r"([0-9]{1,2}):([0-9]{2})-([0-9]{1,2}):([0-9]{2})")
_ZONE = re.compile(r"UTC|[A-Za-z][A-Za-z0-9_+-]*(?:/[A-Za-z0-9_+-]+)+")
_ITEM = re.compile(r"([a-z]+|[0-9]{1,2})(?:-([a-z]+|[0-9]{1,2}))?")
EXAMPLES = "e.g. 'tue 08:00-12:00', 'mon-fri 22:00-02:00', 'daily 12:00-14:00 Europe/Paris', 'sat,sun'"


class RecurrenceError(ValueError):
    pass


@dataclass(frozen=True)
class Recurrence:
    weekdays: tuple[int, ...] = ()  # 0 = Monday; empty: any day
    months: tuple[int, ...] = ()  # 1 = January; empty: any month
    monthdays: tuple[int, ...] = ()  # 1..31; empty: any day of the month
    start_min: int = 0  # minutes after local midnight
    end_min: int = 1440  # exclusive; <= start_min: the window ends the next day
    zone: str = DEFAULT_ZONE

    def _day_ok(self, d: date) -> bool:
        return ((not self.weekdays or d.weekday() in self.weekdays) and (not self.months or d.month in self.months)
                and (not self.monthdays or d.day in self.monthdays))

    def active(self, t_s: float) -> bool:
        """Is Unix time t_s inside a window?"""
        local = datetime.fromtimestamp(t_s, ZoneInfo(self.zone))
        minute = local.hour * 60 + local.minute
        if self.start_min < self.end_min:
            return self.start_min <= minute < self.end_min and self._day_ok(local.date())
        # Across midnight: the evening part belongs to today's window, the morning part to yesterday's.
        return (minute >= self.start_min and self._day_ok(local.date())) or (
            minute < self.end_min and self._day_ok(local.date() - timedelta(days=1)))

    def next_start(self, t_s: float, horizon_days: int = 400) -> int | None:
        """The first window start at or after t_s within the horizon (None if there is none). A start in a
        skipped daylight-saving hour is reported an hour late: shown to people, never used to decide."""
        zone = ZoneInfo(self.zone)
        today = datetime.fromtimestamp(t_s, zone).date()
        hour, minute = divmod(self.start_min, 60)
        for k in range(horizon_days + 1):
            d = today + timedelta(days=k)
            if self._day_ok(d):
                start = int(datetime(d.year, d.month, d.day, hour, minute, tzinfo=zone).timestamp())
                if start >= t_s and self.active(start):
                    return start
        return None

    def __str__(self) -> str:
        days = [_runs(self.weekdays, WEEKDAYS, 0), _runs(self.months, MONTHS, 1),
                _runs(self.monthdays, None, 0)]
        words = [w for w in days if w] or ["daily"]
        return " ".join(words + [f"{_hhmm(self.start_min)}-{_hhmm(self.end_min)}", self.zone])


def _hhmm(minutes: int) -> str:
    return "%02d:%02d" % divmod(minutes, 60)


def _runs(values: tuple[int, ...], names: tuple[str, ...] | None, base: int) -> str:
    """(0, 1, 2, 3, 4) -> 'mon-fri'; runs of three or more become ranges."""
    out: list[str] = []
    name = (lambda v: names[v - base]) if names else str
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1] == values[j] + 1:
            j += 1
        if j - i >= 2:
            out.append(f"{name(values[i])}-{name(values[j])}")
        else:
            out.extend(name(v) for v in values[i:j + 1])
        i = j + 1
    return ",".join(out)


def _kind(part: str) -> tuple[str, int]:
    if part.isdigit():
        n = int(part)
        if not 1 <= n <= 31:
            raise RecurrenceError(f"day of the month {n}: use 1 to 31")
        return "monthdays", n
    short = _NAMES.get(part)
    if short in WEEKDAYS:
        return "weekdays", WEEKDAYS.index(short)
    if short in MONTHS:
        return "months", MONTHS.index(short) + 1
    raise RecurrenceError(f"{part!r} is not a weekday (mon..sun), a month (jan..dec) or a day of the month")


def _days(word: str) -> tuple[str, tuple[int, ...]]:
    """'mon,wed-fri' -> ('weekdays', (0, 2, 3, 4))."""
    kinds, values = set(), set()
    for item in word.lower().split(","):
        m = _ITEM.fullmatch(item)
        if not m:
            raise RecurrenceError(f"{word!r}: write days as mon,tue or mon-fri and times as HH:MM-HH:MM")
        lo_kind, lo = _kind(m.group(1))
        hi_kind, hi = _kind(m.group(2)) if m.group(2) else (lo_kind, lo)
        if hi_kind != lo_kind:
            raise RecurrenceError(f"range {item!r} mixes a {lo_kind[:-1]} and a {hi_kind[:-1]}")
        kinds.add(lo_kind)
        if lo_kind == "monthdays" and hi < lo:
            raise RecurrenceError(f"days of the month {item!r}: write the range ascending ({hi}-{lo})")
        size, base = {"weekdays": (7, 0), "months": (12, 1), "monthdays": (31, 1)}[lo_kind]
        values.update(base + (lo - base + k) % size for k in range((hi - lo) % size + 1))  # ranges may wrap
    if len(kinds) != 1:
        raise RecurrenceError(f"{word!r} mixes {' and '.join(sorted(kinds))}: separate them with a space")
    return kinds.pop(), tuple(sorted(values))


def _times(word: str) -> tuple[int, int]:
    m = _TIME.fullmatch(word)
    if not m:
        raise RecurrenceError(f"time {word!r}: write HH:MM-HH:MM, e.g. 08:00-12:00 or 22:00-02:00")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
        raise RecurrenceError(f"time {word!r}: hours 00-23 (24:00 as an end), minutes 00-59")
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start == end:
        raise RecurrenceError(f"time {word!r} is empty: for a whole day leave the time out")
    return start, end or 1440  # 22:00-00:00 ends at midnight: the same as 22:00-24:00


def _zone(word: str) -> str:
    if not _ZONE.fullmatch(word):
        raise RecurrenceError(f"time zone {word!r}: use an IANA name like Africa/Bangui or Europe/Paris")
    try:
        ZoneInfo(word)
    except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
        raise RecurrenceError(f"unknown time zone {word!r}: use an IANA name like Africa/Bangui") from None
    return word


@lru_cache(maxsize=256)  # the dispatcher asks every tick for every live recurring silence
def parse(spec: str) -> Recurrence:
    """The Recurrence a spec describes (grammar above); RecurrenceError says what to fix."""
    if not spec.strip():
        raise RecurrenceError(f"empty recurrence: give days and/or a time, {EXAMPLES}")
    seen: set[str] = set()
    days: dict[str, tuple[int, ...]] = {}
    start, end, zone = 0, 1440, DEFAULT_ZONE

    def once(kind: str, word: str) -> None:
        if kind in seen:
            raise RecurrenceError(f"{kind} given twice ({word!r}): give each once, lists with commas (mon,tue)")
        seen.add(kind)

    for word in spec.split():
        if ":" in word:
            once("time", word)
            start, end = _times(word)
        elif "/" in word or word == "UTC":
            once("zone", word)
            zone = _zone(word)
        elif word.lower() == "daily":
            once("daily", word)
        else:
            kind, values = _days(word)
            once(kind, word)
            days[kind] = values
    if "daily" in seen and "weekdays" in days:
        raise RecurrenceError("'daily' and weekdays contradict each other: give one of them")
    r = Recurrence(days.get("weekdays", ()), days.get("months", ()), days.get("monthdays", ()), start, end, zone)
    if not days and (start, end) == (0, 1440):
        raise RecurrenceError("this window never closes: for a plain silence use --duration or --until")
    if r.monthdays and not any(d <= _MONTH_DAYS[m - 1] for m in r.months or range(1, 13) for d in r.monthdays):
        raise RecurrenceError(f"{spec.strip()!r} never happens: no chosen month has those days")
    return r
