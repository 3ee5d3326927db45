"""What a site's lamps report at the same moment: the same sky and the same weather, so a lamp that
harvests a fraction of its neighbours' current, or runs far hotter than they do, has a fault of its own.

Pure, like gateway/detect.py which owns it. The sky changes within minutes (a cloud, the afternoon's
fall), and lamps report at their own offsets in the interval: a status is compared with its site's
statuses written within `window_s` before or after it, so it is judged once the site's frames have
reached `window_s` past it (a few minutes late). Frames that arrive later than that (a backlog after an
outage) are stored, not compared: their moment has passed.
"""
from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass
from typing import Any

BULK_SOC_PCT = 85  # below this a charger passes what the panel gives (no taper): currents compare
WINDOW_S = 120


@dataclass(frozen=True)
class Medians:
    charge_ma: float  # battery charge current of the other lamps charging in bulk (see bulk_charging)
    pv_mv: float  # their panel voltage
    charging: int  # how many lamps that is
    temp_c: float  # battery temperature of every other lamp heard
    heard: int


def bulk_charging(st: dict) -> bool:
    """A status whose charge current measures the panel: by day, the LED off and drawing nothing (a lamp
    burning by day charges less for another reason), the battery not near full."""
    soc = st["soc_pct"]
    return (st["mode"] == "day" and st["led_pct"] == 0 and st["led_ma"] == 0 and soc is not None
            and soc < BULK_SOC_PCT and st["ibat_ma"] > 0)


class _Group:
    def __init__(self) -> None:
        self.recent: deque[tuple[int, str, dict]] = deque()  # (time_s, lamp_id, status), in arrival order
        self.pending: deque[tuple[int, Any, dict]] = deque()  # (time_s, lamp, status) not judged yet
        self.newest_s = 0


class Peers:
    def __init__(self, window_s: int = WINDOW_S):
        self.window_s = window_s
        self._groups: dict[tuple[str, str], _Group] = {}

    def add(self, group: tuple[str, str], lamp: Any, st: dict) -> list[tuple[Any, dict, Medians | None]]:
        """Record a status; return the statuses of the group now judgeable, each with its moment's medians
        over the other lamps (None: nobody else reported then)."""
        g = self._groups.get(group)
        if g is None:
            g = self._groups[group] = _Group()
        t, w = st["time_s"], self.window_s
        if t < g.newest_s - w:
            return []  # late (a backlog): not compared
        g.recent.append((t, lamp.lamp_id, st))
        g.pending.append((t, lamp, st))
        g.newest_s = max(g.newest_s, t)
        out = []
        while g.pending and g.pending[0][0] <= g.newest_s - w:
            t0, who, mine = g.pending.popleft()
            out.append((who, mine, self._medians(g, t0, who.lamp_id)))
        # Keep what a pending status still needs: lamps report in rounds (firmware/shell/app.py: a grid of
        # 15 or 30 min), so a round is judged only when the next one arrives, long after 3 windows.
        keep_s = min(g.newest_s - 3 * w, g.pending[0][0] - w if g.pending else g.newest_s)
        while g.recent and g.recent[0][0] < keep_s:
            g.recent.popleft()
        return out

    def _medians(self, g: _Group, t: int, lamp_id: str) -> Medians | None:
        w = self.window_s
        near = [st for ts, lid, st in g.recent if lid != lamp_id and t - w <= ts <= t + w]
        if not near:
            return None
        charging = [st for st in near if bulk_charging(st)]
        temps = [st["temp_c"] for st in near if st["temp_c"] is not None]
        return Medians(statistics.median(st["ibat_ma"] for st in charging) if charging else 0.0,
                       statistics.median(st["pv_mv"] for st in charging) if charging else 0.0, len(charging),
                       statistics.median(temps) if temps else 0.0, len(temps))
