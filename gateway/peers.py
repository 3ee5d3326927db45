"""What a site's lamps report at about the same time: the same sky and the same weather, so a lamp that
harvests a fraction of its neighbours' current, or runs far hotter than they do, has a fault of its own.

Pure, like gateway/detect.py which owns it. Each (site, kind) group keeps the newest status of each of
its lamps; the medians over the lamps heard within one report interval are computed once per group and
interval slot, so judging a frame costs a dictionary look-up, not a pass over the site.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass

BULK_SOC_PCT = 85  # below this a charger passes what the panel gives (no taper): currents compare


@dataclass(frozen=True)
class Medians:
    charge_ma: float  # battery charge current of the peers charging in bulk, LED off, by day
    pv_mv: float  # their panel voltage
    charging: int  # how many peers that is
    temp_c: float  # battery temperature of every peer heard
    heard: int


def bulk_charging(st: dict) -> bool:
    """A status whose charge current measures the panel: by day, the LED off and drawing nothing (a lamp
    burning by day charges less for another reason), the battery not near full."""
    soc = st["soc_pct"]
    return (st["mode"] == "day" and st["led_pct"] == 0 and st["led_ma"] == 0 and soc is not None
            and soc < BULK_SOC_PCT and st["ibat_ma"] > 0)


class Peers:
    def __init__(self) -> None:
        self._latest: dict[tuple[str, str], dict[str, dict]] = {}
        self._cache: dict[tuple[str, str], tuple[int, Medians | None]] = {}

    def add(self, group: tuple[str, str], lamp_id: str, st: dict) -> None:
        self._latest.setdefault(group, {})[lamp_id] = st

    def medians(self, group: tuple[str, str], t_s: int, interval_s: int) -> Medians | None:
        """The group's medians over the statuses written in the interval before t_s's slot (None: nobody)."""
        slot = t_s // interval_s
        cached = self._cache.get(group)
        if cached is not None and cached[0] == slot:
            return cached[1]
        since = (slot - 1) * interval_s
        fresh = [st for st in self._latest.get(group, {}).values() if st["time_s"] >= since]
        charging = [st for st in fresh if bulk_charging(st)]
        m = None
        if fresh:
            m = Medians(statistics.median(st["ibat_ma"] for st in charging) if charging else 0.0,
                        statistics.median(st["pv_mv"] for st in charging) if charging else 0.0, len(charging),
                        statistics.median(st["temp_c"] for st in fresh), len(fresh))
        self._cache[group] = (slot, m)
        return m
