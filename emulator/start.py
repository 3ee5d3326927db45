"""When an emulation run starts: `lampfleet emulate --start`, and the span a weather trace covers.

A run starts at 12:00 local time of its first day (scenario.DEFAULT_START: 1 August 2026 in Bangui), so
that the lamps boot by day and the first dusk comes about six hours in. `--start` takes an ISO date (that
day at 12:00 in the site's time zone) or an ISO date and time (naive: the site's time zone; with an offset:
as given). With a weather trace and no `--start`, the run starts at the trace's first noon. Fault times
(`@30h`) count from the start.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from emulator.physics.site import Site
from emulator.physics.trace import parse_timestamp

NOON_H = 12


class StartError(ValueError):
    """A start time the run cannot use, with what to write instead."""


def site_tz(site: Site) -> timezone:
    return timezone(timedelta(hours=site.utc_offset_h))


def local_text(t_s: float, site: Site, sep: str = " ") -> str:
    """`2026-08-01 12:00+01:00`, in the site's zone: how the CLI shows a time (sep="T": ISO 8601, for JSON)."""
    return datetime.fromtimestamp(t_s, site_tz(site)).isoformat(sep=sep, timespec="minutes")


def noon(day: date, site: Site) -> float:
    return datetime(day.year, day.month, day.day, NOON_H, tzinfo=site_tz(site)).timestamp()


def parse_start(text: str, site: Site) -> float:
    """Unix seconds for `--start` TEXT; StartError saying what to write when it is neither form."""
    text = text.strip()
    try:
        # A date alone (fromisoformat also takes 20260801) means its noon, as the default start does.
        return noon(date.fromisoformat(text), site)
    except ValueError:
        pass
    try:
        return parse_timestamp(text, site_tz(site))
    except (ValueError, OverflowError):
        raise StartError(f"--start {text!r}: use an ISO date (2026-08-01, starts at 12:00 {site.name} time) "
                         "or date and time (2026-08-01T18:30)") from None


def first_noon(t_s: float, site: Site) -> float:
    """The first local noon at or after t_s: where a run on a trace starting at t_s begins by default."""
    day = datetime.fromtimestamp(t_s, site_tz(site)).date()
    start = noon(day, site)
    return start if start >= t_s else noon(day + timedelta(days=1), site)


def check_in_trace(start_s: float, days: float, trace, site: Site) -> None:
    """StartError, one line naming the trace's range, unless [start, start + days] lies inside the trace
    (the physics asks the weather for every instant of the run)."""
    span = f"{trace.path.name} covers {local_text(trace.start_s, site)} .. {local_text(trace.end_s, site)}"
    if not trace.start_s <= start_s < trace.end_s:
        raise StartError(f"--start {local_text(start_s, site)} is outside the weather trace: {span}; "
                         "give a --start inside it, or none for its first noon")
    end_s = start_s + days * 86400
    if end_s > trace.end_s:
        room = int((trace.end_s - start_s) / 864) / 100  # whole hundredths of a day, as --days takes them
        fix = f"use --days {room:g} or less, or an earlier --start" if room >= 0.01 else "use an earlier --start"
        raise StartError(f"--days {days:g} from {local_text(start_s, site)} runs past the end of the weather "
                         f"trace: {span}; {fix}")
