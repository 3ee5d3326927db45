"""Read-side queries shared by the CLI and the HTTP API: lamps without keys, fleet health, history.

Nothing here needs the master key: people who read the fleet's state never touch device keys.
"""
from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter

from gateway import daily
from gateway.registry import COLUMNS, Lamp
from gateway.settings import Settings

STATES = ("lit", "dimmed", "dark", "day", "off", "silent", "never_heard")
READING_COLS = ("fcnt", "time_s", "vbat_mv", "ibat_ma", "led_ma", "pv_mv", "soc_pct", "led_pct", "temp_c", "mode",
                "faults")


def read_lamps(conn: sqlite3.Connection) -> list[Lamp]:
    """Every lamp's metadata and progress; `key` is left empty."""
    cols = [c for c in COLUMNS if c != "key"]
    rows = conn.execute(f"SELECT {', '.join(cols)} FROM lamps ORDER BY lamp_id").fetchall()
    return [Lamp(**dict(zip(cols, r)), key=b"") for r in rows]


def now_s(conn: sqlite3.Connection, settings: Settings) -> int:
    """The gateway's clock: wall time, or the newest device time for emulated fleets."""
    if settings.clock == "device":
        row = conn.execute("SELECT max(last_seen_s) FROM lamps").fetchone()
        return int(row[0] or 0)
    return int(time.time())


def silent_after_s(lamp: Lamp, settings: Settings, gaps: daily.StatusGaps | None = None) -> int:
    """Seconds after the lamp was last heard by which it counts as silent: the detector's window
    (daily.silence_window_s, walked from last_seen_s on the lamp's night/day cadence), at the expected loss
    rate. `gaps`: the cadence its recent readings show (recent_gaps), as the detector learns it."""
    d = settings.detect_settings()
    k = daily.silence_k(d.loss_rate, d.silence_false_alarm, d.min_silent_intervals)
    night_s, day_s = daily.cadence_s(lamp.status_interval_s, gaps)
    return daily.silence_window_s(lamp.last_seen_s or 0, night_s, k, settings.alerts.utc_offset_s, day_s)


def recent_gaps(conn: sqlite3.Connection, lamp_id: str, frames: int = 4 * daily.KEEP_GAPS) -> daily.StatusGaps:
    """The status cadence the lamp's newest readings show (its last frame counters: a primary-key walk)."""
    gaps = daily.StatusGaps()
    rows = conn.execute("SELECT fcnt, time_s, mode FROM readings WHERE lamp_id=? ORDER BY fcnt DESC LIMIT ?",
                        (lamp_id, frames)).fetchall()
    for fcnt, time_s, mode in reversed(rows):
        gaps.add(fcnt, time_s, mode)
    return gaps


def latest_reading(conn: sqlite3.Connection, lamp_id: str) -> dict | None:
    row = conn.execute(f"SELECT {', '.join(READING_COLS)} FROM readings WHERE lamp_id=? ORDER BY time_s DESC, fcnt DESC "
                       "LIMIT 1", (lamp_id,)).fetchone()
    if row is None:
        return None
    d = dict(zip(READING_COLS, row))
    d["faults"] = json.loads(d["faults"]) if d["faults"] else []
    return d


def classify(lamp: Lamp, reading: dict | None, now: int, settings: Settings,
             gaps: daily.StatusGaps | None = None) -> str:
    if lamp.last_seen_s is None or reading is None:
        return "never_heard"
    if now - lamp.last_seen_s > silent_after_s(lamp, settings, gaps):
        return "silent"
    level = reading["led_pct"]
    if level >= 5:
        expected = lamp.led_max_ma * level // 100
        if reading["led_ma"] * 100 < expected * settings.detect.dark_ratio_pct:
            return "dark"
        return "lit" if level >= 90 else "dimmed"
    if reading["mode"] == "low_battery":
        return "dark"
    return "day" if reading["mode"] == "day" else "off"


def fleet_status(conn: sqlite3.Connection, settings: Settings) -> dict:
    now = now_s(conn, settings)
    lamps = read_lamps(conn)
    open_alerts = Counter(r[0] for r in conn.execute("SELECT lamp_id FROM alerts WHERE state != 'resolved'"))
    sites: dict[str, dict] = {}
    per_lamp = []
    for lamp in lamps:
        reading = latest_reading(conn, lamp.lamp_id)
        state = classify(lamp, reading, now, settings, recent_gaps(conn, lamp.lamp_id))
        site = sites.setdefault(lamp.site or "-", {"site": lamp.site or "-", "lamps": 0, "alerts": 0,
                                                    **{s: 0 for s in STATES}})
        site["lamps"] += 1
        site[state] += 1
        site["alerts"] += open_alerts.get(lamp.lamp_id, 0)
        per_lamp.append({"lamp_id": lamp.lamp_id, "kind": lamp.kind, "site": lamp.site, "district": lamp.district,
                         "state": state, "last_seen_s": lamp.last_seen_s, "open_alerts": open_alerts.get(lamp.lamp_id, 0),
                         "reading": reading})
    return {"now_s": now, "sites": sorted(sites.values(), key=lambda s: s["site"]), "lamps": per_lamp}


def history(conn: sqlite3.Connection, lamp_id: str, since_s: int | None = None, until_s: int | None = None,
            limit: int = 10_000) -> list[dict]:
    where, args = ["lamp_id = ?"], [lamp_id]
    if since_s is not None:
        where.append("time_s >= ?")
        args.append(since_s)
    if until_s is not None:
        where.append("time_s < ?")
        args.append(until_s)
    rows = conn.execute(f"SELECT {', '.join(READING_COLS)} FROM readings WHERE {' AND '.join(where)} "
                        f"ORDER BY time_s DESC, fcnt DESC LIMIT ?", (*args, limit)).fetchall()
    out = []
    for r in reversed(rows):
        d = dict(zip(READING_COLS, r))
        d["faults"] = json.loads(d["faults"]) if d["faults"] else []
        out.append(d)
    return out


def daily_history(conn: sqlite3.Connection, lamp_id: str, limit: int = 366) -> list[dict]:
    cols = ("day", "frames", "vbat_min_mv", "vbat_max_mv", "vbat_avg_mv", "soc_min_pct", "soc_max_pct", "charge_mah",
            "discharge_mah", "led_mah", "lit_min", "pv_max_mv", "temp_max_c", "modes", "faults")
    rows = conn.execute(f"SELECT {', '.join(cols)} FROM daily WHERE lamp_id=? ORDER BY day DESC LIMIT ?",
                        (lamp_id, limit)).fetchall()
    return [dict(zip(cols, r)) for r in reversed(rows)]


def read_lamp(conn: sqlite3.Connection, lamp_id: str) -> Lamp | None:
    """One lamp's metadata and progress (`key` left empty), or None."""
    cols = [c for c in COLUMNS if c != "key"]
    row = conn.execute(f"SELECT {', '.join(cols)} FROM lamps WHERE lamp_id=?", (lamp_id,)).fetchone()
    return Lamp(**dict(zip(cols, row)), key=b"") if row else None
