"""Detection over days: harvest per local day against the site's peers, kit use, nightly battery capacity,
and the day/night status cadence that silence is judged against.

Pure, like gateway/detect.py which owns it. A "day" is a local calendar day (Bangui: UTC+1). A day is
judged once it has ended and `SETTLE_S` more has passed, so late frames of that day still count.
"""
from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

from telemetry.schema import DAY_STATUS_FACTOR

from gateway.faults import CHARGING_FAILURE, LANTERN_NOT_CHARGING, LANTERN_UNUSED
from gateway.registry import Lamp
from gateway.settings import DetectSettings

if TYPE_CHECKING:
    from gateway.detect import Track

DAY_S = 86400
SETTLE_S = 2 * 3600
MIN_DAY_FRAMES = 12  # a few hours of status frames: fewer and the day says nothing about harvest
MIN_NIGHT_FRAMES = 10
MIN_NIGHT_SOC_DROP = 15
FULL_SOC_PCT = 95
KEEP_DAYS = 4
KEEP_CAPACITIES = 30
# A lamp's "day" cadence follows its own PV-detected phase, which the gateway cannot see: dusk is about
# 18:00 and dawn about 05:30 local in Bangui, earlier or later by the season, the clouds and the
# firmware's confirmation delay. Only between these hours (an hour inside both) is a lamp surely on its
# night cadence; everywhere else the silence rule assumes the longer day interval.
SURE_NIGHT_FROM_S = 19 * 3600
SURE_NIGHT_UNTIL_S = 4 * 3600 + 1800
KEEP_GAPS = 7  # status gaps remembered per phase: the median of 7 shrugs off a status_now or a clock step


def local_day(t_s: int, utc_offset_s: int) -> int:
    return (t_s + utc_offset_s) // DAY_S


def day_name(day: int) -> str:
    return (date(1970, 1, 1) + timedelta(days=day)).isoformat()


def is_midday_hour(t_s: int, utc_offset_s: int) -> bool:
    """08:00-16:00 local: daylight all year at Bangui's latitude, whatever the weather."""
    return 8 <= (t_s + utc_offset_s) % DAY_S // 3600 < 16


def is_midnight_hour(t_s: int, utc_offset_s: int) -> bool:
    """22:00-03:00 local: no sunlight on a panel, whatever the season."""
    hour = (t_s + utc_offset_s) % DAY_S // 3600
    return hour >= 22 or hour < 3


def is_night_hour(t_s: int, utc_offset_s: int) -> bool:
    hour = (t_s + utc_offset_s) % DAY_S // 3600
    return hour >= 18 or hour < 6


# ------------------------------------------------------------------ status cadence and silence


def silence_k(loss_rate: float, false_alarm: float, min_intervals: int) -> int:
    """Frames that must all be lost before silence is more likely a fault than bad luck: the smallest k
    with loss_rate**k < false_alarm, at least min_intervals."""
    return max(min_intervals, math.ceil(math.log(false_alarm) / math.log(loss_rate)))


def _next_due(t: int, night_s: int, day_s: int) -> int:
    """When the status after one sent at local second-of-day `t` is due, at the latest (t may exceed a day).

    Outside the sure night a lamp may be on its day cadence: `day_s`. Inside it `night_s`, except just after
    the sure night begins: a frame sent a moment before then is due `day_s` later, so one sent a moment
    after is not taken to be due any sooner. That keeps the step monotone in t, and a monotone step that
    is never earlier than the lamp's own keeps every later frame of the walk no earlier than the lamp's."""
    sod = t % DAY_S
    since_dusk = (sod - SURE_NIGHT_FROM_S) % DAY_S
    if since_dusk >= (SURE_NIGHT_UNTIL_S - SURE_NIGHT_FROM_S) % DAY_S:
        return t + day_s
    return t + max(night_s, day_s - since_dusk)


@lru_cache(maxsize=16384)
def _window(sod: int, night_s: int, day_s: int, k: int) -> int:
    t = sod
    for _ in range(k):
        t = _next_due(t, night_s, day_s)
    return t - sod


def _day_interval_s(interval_s: int, day_interval_s: int | None) -> int:
    return max(interval_s, day_interval_s if day_interval_s else interval_s * DAY_STATUS_FACTOR)


def silence_window_s(from_s: int, interval_s: int, k: int, utc_offset_s: int,
                     day_interval_s: int | None = None) -> int:
    """Seconds after `from_s` (the last frame heard) by which `k` status frames were due, at the latest.

    Walks k frames forward: `interval_s` in the sure night, `day_interval_s` (default interval_s *
    DAY_STATUS_FACTOR) anywhere near or in the day. Between k*interval_s and k*day_interval_s. Cheap: the
    detector asks for every lamp at every tick, and the answer depends only on the local time of day, so it
    is memoised on that."""
    return _window((from_s + utc_offset_s) % DAY_S, interval_s, _day_interval_s(interval_s, day_interval_s), k)


def frames_due(from_s: int, silent_s: int, interval_s: int, utc_offset_s: int,
               day_interval_s: int | None = None) -> int:
    """Status frames surely due within `silent_s` after from_s (the walk of silence_window_s): evidence."""
    day_s = _day_interval_s(interval_s, day_interval_s)
    start = t = (from_s + utc_offset_s) % DAY_S
    n = 0
    while (t := _next_due(t, interval_s, day_s)) - start <= silent_s:
        n += 1
    return n


@dataclass
class StatusGaps:
    """The cadence a lamp shows: recent gaps between its status frames, night and day apart.

    Only gaps between frames with consecutive counters count: nothing was lost or sent between them, so
    each is exactly one of the lamp's intervals (a LoRa lamp's, stretched for its airtime budget, is hours,
    whatever its registry row says). The frame's mode says which cadence the firmware chose when it sent
    it; other modes (low battery, test, a kit switched by hand) say nothing."""

    last: tuple[int, int, str] | None = None  # (fcnt, time_s, mode) of the newest status
    night: list[int] = field(default_factory=list)
    day: list[int] = field(default_factory=list)

    def add(self, fcnt: int, time_s: int, mode: str) -> None:
        last = self.last
        if last is not None and fcnt == last[0] + 1 and time_s > last[1]:
            gaps = self.night if last[2] == "night" else self.day if last[2] == "day" else None
            if gaps is not None:
                gaps.append(time_s - last[1])
                del gaps[:-KEEP_GAPS]
        if last is None or fcnt > last[0]:
            self.last = (fcnt, time_s, mode)

    def interval_s(self, night: bool) -> int:
        """The lamp's interval in that phase (0: not seen yet). The larger of the median and the newest gap:
        a LoRa lamp whose budget runs low doubles its interval at once, and the median would lag behind."""
        gaps = self.night if night else self.day
        return max(statistics.median_low(gaps), gaps[-1]) if gaps else 0


def cadence_s(interval_s: int, gaps: StatusGaps | None) -> tuple[int, int]:
    """(night, day) status intervals to judge silence by: the registry's (day = DAY_STATUS_FACTOR times),
    or the lamp's own when it shows longer ones. Never shorter than the registry's: a lamp reporting more
    often than registered is heard more often, which is no reason to call it silent sooner."""
    night_s, day_s = interval_s, interval_s * DAY_STATUS_FACTOR
    if gaps is not None:
        night_s = max(night_s, gaps.interval_s(True))
        day_s = max(day_s, gaps.interval_s(False), night_s)
    return night_s, day_s


@dataclass
class DaySummary:
    frames: int = 0
    harvest_mah: float = 0.0
    pv_max_mv: int = 0
    soc_max_pct: int = 0
    used: bool = False
    last_s: int = 0


@dataclass
class LampDays:
    day: int | None = None
    current: DaySummary = field(default_factory=DaySummary)
    done: dict[int, DaySummary] = field(default_factory=dict)
    judged_upto: int = -1
    first_day: int | None = None
    last_used_day: int | None = None
    last_t: int | None = None
    # Night discharge for the capacity estimate.
    night_mah: float = 0.0
    night_frames: int = 0
    night_soc_start: int | None = None
    night_soc_end: int | None = None
    capacities: list[int] = field(default_factory=list)

    def add_status(self, lamp: Lamp, st: dict, utc_offset_s: int, longest_s: int = 0) -> int | None:
        """Account one status frame (in time order); return a capacity estimate when a night just ended.

        Each frame stands for the time since the one before, up to three of the lamp's longest intervals
        (`longest_s`, default its day interval): a few lost frames still count, an outage does not."""
        t = st["time_s"]
        interval = lamp.status_interval_s
        cap = 3 * max(longest_s, interval * DAY_STATUS_FACTOR)
        dt = interval if self.last_t is None else min(max(t - self.last_t, 0), cap)
        self.last_t = t
        day = local_day(t, utc_offset_s)
        if self.day != day:
            if self.day is not None:
                self.done[self.day] = self.current
                for old in [d for d in self.done if d < day - KEEP_DAYS]:
                    del self.done[old]
            self.day, self.current = day, DaySummary()
            if self.first_day is None:
                self.first_day = day
        cur = self.current
        ibat, soc = st["ibat_ma"], st["soc_pct"]
        cur.frames += 1
        cur.last_s = t
        if ibat > 0:
            cur.harvest_mah += ibat * dt / 3600
        cur.pv_max_mv = max(cur.pv_max_mv, st["pv_mv"])
        if soc is not None:
            cur.soc_max_pct = max(cur.soc_max_pct, soc)
        # manual_off lit: the household's press had not yet been read when the frame was measured (a kit
        # lights at dusk and is switched off at its next sample): that minute is no use
        if (st["led_pct"] >= 5 and st["mode"] != "manual_off") or st["mode"] == "manual_on":
            cur.used = True
            self.last_used_day = day
        return self._night(st, dt)

    def _night(self, st: dict, dt: int) -> int | None:
        mode, soc, ibat = st["mode"], st["soc_pct"], st["ibat_ma"]
        if mode in ("night", "low_battery"):
            if self.night_soc_start is None:
                self.night_soc_start, self.night_mah, self.night_frames = soc, 0.0, 0
            if ibat < 0:
                self.night_mah += -ibat * dt / 3600
            self.night_frames += 1
            self.night_soc_end = soc
            return None
        if mode != "day" or self.night_soc_start is None:
            return None
        start, end, mah, frames = self.night_soc_start, self.night_soc_end, self.night_mah, self.night_frames
        self.night_soc_start = self.night_soc_end = None
        if start is None or end is None or frames < MIN_NIGHT_FRAMES or start - end < MIN_NIGHT_SOC_DROP:
            return None
        capacity = int(mah * 100 / (start - end))
        self.capacities.append(capacity)
        del self.capacities[:-KEEP_CAPACITIES]
        return capacity


class DayJudge:
    def __init__(self, settings: DetectSettings, utc_offset_s: int):
        self.s = settings
        self.utc_offset_s = utc_offset_s

    def judge(self, lamps: Iterable[Lamp], tracks: dict[str, Track], now_s: int
              ) -> Iterator[tuple[Lamp, str, bool, int, dict]]:
        """(lamp, fault, bad, at_s, evidence) for every lamp-day that ended and was not judged yet."""
        settled = local_day(now_s - SETTLE_S, self.utc_offset_s) - 1  # last day that is over and settled
        groups: dict[tuple[str, str], list[Lamp]] = {}
        for lamp in lamps:
            if lamp.lamp_id in tracks:
                groups.setdefault((lamp.site, lamp.kind), []).append(lamp)
        for members in groups.values():
            for lamp in members:
                days = tracks[lamp.lamp_id].days
                todo = sorted(d for d in days.done if days.judged_upto < d <= settled)
                for day in todo:
                    yield from self._charging(lamp, day, members, tracks)
                    if lamp.kind == "kit":
                        yield from self._use(lamp, day, days)
                    days.judged_upto = day

    def _charging(self, lamp: Lamp, day: int, members: list[Lamp], tracks: dict[str, Track]
                  ) -> Iterator[tuple[Lamp, str, bool, int, dict]]:
        s = self.s
        mine = tracks[lamp.lamp_id].days.done[day]
        if mine.frames < MIN_DAY_FRAMES:
            return
        peers = [tracks[p.lamp_id].days.done[day] for p in members
                 if p.lamp_id != lamp.lamp_id and day in tracks[p.lamp_id].days.done
                 and tracks[p.lamp_id].days.done[day].frames >= MIN_DAY_FRAMES]
        if len(peers) < s.charging_min_peers:
            return
        median_mah = statistics.median(p.harvest_mah for p in peers)
        median_pv = statistics.median(p.pv_max_mv for p in peers)
        if median_mah < s.charging_min_mah:
            return  # the site did not harvest either (storm, dust): nothing to compare
        low_harvest = mine.harvest_mah * 100 < median_mah * s.charging_ratio_pct and mine.soc_max_pct < FULL_SOC_PCT
        dark_panel = mine.pv_max_mv * 100 < median_pv * s.charging_ratio_pct
        fault = LANTERN_NOT_CHARGING if lamp.kind == "kit" else CHARGING_FAILURE
        yield lamp, fault, low_harvest or dark_panel, mine.last_s, {
            "day": day_name(day), "harvest_mah": round(mine.harvest_mah), "site_median_mah": round(median_mah),
            "pv_max_mv": mine.pv_max_mv, "site_pv_median_mv": round(median_pv), "soc_max_pct": mine.soc_max_pct,
            "peers": len(peers)}

    def _use(self, lamp: Lamp, day: int, days: LampDays) -> Iterator[tuple[Lamp, str, bool, int, dict]]:
        summary = days.done[day]
        if summary.used:
            yield lamp, LANTERN_UNUSED, False, summary.last_s, {"day": day_name(day), "used": True}
            return
        since = days.last_used_day if days.last_used_day is not None else days.first_day
        if since is None:
            return
        unused = day - since if days.last_used_day is not None else day - since + 1
        if unused >= self.s.unused_days:
            yield lamp, LANTERN_UNUSED, True, summary.last_s, {
                "days_unused": unused, "last_used_day": day_name(days.last_used_day) if days.last_used_day
                is not None else None}
