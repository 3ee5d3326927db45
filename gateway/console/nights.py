"""Night-by-night lighting from the raw readings: hours lit and minutes dark per lamp and night.

A night is named by the local date of its evening (the readings from 18:00 to 06:00 local, shifted by
12 h so that one night is one date). A status frame stands for one status interval. Lit: the LED is
commanded (>= 5 %) and draws at least `dark_ratio_pct` of the current that command should give. Dark: the
lamp itself says it is night (mode night or low_battery) and is not lit. A night is "lit in full" when it
has lit frames and no dark one (reports for the agency: dusk to dawn, no dark minutes).
"""
from __future__ import annotations

import sqlite3

from gateway.daily import DAY_S

_NIGHTS = """
SELECT r.lamp_id, date(r.time_s + :off - 43200, 'unixepoch') AS night,
       sum(CASE WHEN r.led_pct >= 5 AND r.led_ma * 100 >= (l.led_max_ma * r.led_pct / 100) * :ratio
                THEN 1 ELSE 0 END) * l.status_interval_s / 3600.0 AS lit_h,
       sum(CASE WHEN r.mode IN ('night', 'low_battery') AND NOT (r.led_pct >= 5 AND
                r.led_ma * 100 >= (l.led_max_ma * r.led_pct / 100) * :ratio) THEN 1 ELSE 0 END)
           * l.status_interval_s / 60 AS dark_min
FROM readings r JOIN lamps l ON l.lamp_id = r.lamp_id
WHERE {where} AND r.time_s >= :start AND r.time_s < :end
  AND ((r.time_s + :off) % 86400 >= 64800 OR (r.time_s + :off) % 86400 < 21600)
GROUP BY r.lamp_id, night ORDER BY r.lamp_id, night
"""


def nights(conn: sqlite3.Connection, start_s: int, end_s: int, utc_offset_s: int, dark_ratio_pct: int,
           lamp_id: str | None = None, site: str | None = None) -> list[dict]:
    """[{lamp_id, night, lit_h, dark_min, full}] for the nights whose evenings fall in [start_s, end_s)."""
    where, args = "1", {}
    if lamp_id is not None:
        where, args = "r.lamp_id = :lamp", {"lamp": lamp_id}
    elif site is not None:
        where, args = "l.site = :site", {"site": site}
    rows = conn.execute(_NIGHTS.format(where=where), {"off": utc_offset_s, "ratio": dark_ratio_pct,
                                                      "start": start_s, "end": end_s + DAY_S // 2, **args})
    return [{"lamp_id": lid, "night": night, "lit_h": round(lit, 1), "dark_min": int(dark),
             "full": lit > 0 and dark == 0} for lid, night, lit, dark in rows]


def last_night_bounds(now_s: int, utc_offset_s: int) -> tuple[int, int]:
    """The last night that has ended (its evening 18:00 to the next 06:00 local) by now_s."""
    local = now_s + utc_offset_s
    morning = local - local % DAY_S + 6 * 3600  # today 06:00 local
    if local < morning:
        morning -= DAY_S
    start = morning - 12 * 3600 - utc_offset_s
    return start, start + 12 * 3600
