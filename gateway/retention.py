"""SQLite retention: daily downsampling of readings, then pruning of raw rows past their retention.

Each run (hourly by default, in the gateway's clock) re-aggregates every local day touched by new
readings since the last run (late and replayed frames included), then deletes raw readings, events and
boots older than `raw_retention_days` (their days are already in `daily`), and delivered outbox rows
older than 30 days. Frames older than the raw horizon are refused at ingest ("stale"): with their rows
gone, the primary key could no longer recognise a replay.
"""
from __future__ import annotations

import sqlite3

from gateway import db
from gateway.daily import DAY_S, local_day
from telemetry.schema import DAY_STATUS_FACTOR

OUTBOX_KEEP_S = 30 * DAY_S

# Energies: each status frame stands for the time since the lamp's previous one (its current held over
# that gap, as gateway/daily.py counts harvest), so day frames at DAY_STATUS_FACTOR times the night
# interval, or a LoRa lamp's stretched cadence, count for what they cover. A gap counts up to three of
# the lamp's day intervals (a few lost frames, not an outage); the first frame of the lamp's readings
# (nothing before it within that) counts one night interval. Readings from that much before :start are
# read for the gaps, only those from :start on are summed. A LoRa lamp registered with the default
# interval while its cadence is stretched to hours counts less than it got: register its cadence.
_AGGREGATE = f"""
WITH g AS (
    SELECT r.*, min(coalesce(r.time_s - lag(r.time_s) OVER (ORDER BY r.time_s, r.fcnt), l.status_interval_s),
                    3 * {DAY_STATUS_FACTOR} * l.status_interval_s) AS dt
    FROM readings r JOIN lamps l ON l.lamp_id = r.lamp_id
    WHERE r.lamp_id = :lamp AND r.time_s >= :start - 3 * {DAY_STATUS_FACTOR} * l.status_interval_s
          AND r.time_s < :end
)
INSERT OR REPLACE INTO daily
SELECT lamp_id, date(time_s + :off, 'unixepoch') AS day, count(*),
       min(vbat_mv), max(vbat_mv), CAST(avg(vbat_mv) AS INTEGER), min(soc_pct), max(soc_pct),
       CAST(sum(CASE WHEN ibat_ma > 0 THEN ibat_ma * dt ELSE 0 END) / 3600 AS INTEGER),
       CAST(sum(CASE WHEN ibat_ma < 0 THEN -ibat_ma * dt ELSE 0 END) / 3600 AS INTEGER),
       CAST(sum(led_ma * dt) / 3600 AS INTEGER),
       CAST(sum(CASE WHEN led_pct >= 5 THEN dt ELSE 0 END) / 60 AS INTEGER),
       max(pv_mv), max(temp_c), group_concat(DISTINCT mode),
       group_concat(DISTINCT CASE WHEN faults != '[]' THEN faults END)
FROM g
WHERE time_s >= :start
GROUP BY lamp_id, day
"""


class Retention:
    def __init__(self, conn: sqlite3.Connection, raw_retention_days: int, utc_offset_s: int, every_s: int = 3600):
        self.conn = conn
        self.raw_retention_s = raw_retention_days * DAY_S
        self.utc_offset_s = utc_offset_s
        self.every_s = every_s
        last = db.meta_get(conn, "retention_last_s")
        self.last_run_s = int(last) if last else None

    def horizon_s(self, now_s: int) -> int:
        """Frames older than this are refused: their raw rows would already be pruned."""
        return now_s - self.raw_retention_s

    def due(self, now_s: int) -> bool:
        return self.last_run_s is None or now_s - self.last_run_s >= self.every_s

    def run(self, now_s: int, dirty_from_s: int | None) -> dict:
        """Aggregate days from `dirty_from_s` (oldest new reading) to today; prune. Returns counts."""
        off = self.utc_offset_s
        start_day = local_day(dirty_from_s, off) if dirty_from_s is not None else local_day(now_s, off) - 1
        if self.last_run_s is not None:
            start_day = min(start_day, local_day(self.last_run_s, off))
        start = start_day * DAY_S - off
        end = (local_day(now_s, off) + 1) * DAY_S - off
        horizon = self.horizon_s(now_s)
        # A day partly pruned already has its aggregate: never recompute it from what is left.
        start = max(start, (local_day(horizon, off) + 1) * DAY_S - off)
        days = pruned = 0
        lamps = [r[0] for r in self.conn.execute("SELECT lamp_id FROM lamps")]
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            for lamp in lamps:
                if start < end:
                    days += self.conn.execute(_AGGREGATE, {"off": off, "lamp": lamp, "start": start, "end": end}).rowcount
                for table in ("readings", "events", "boots"):
                    pruned += self.conn.execute(f"DELETE FROM {table} WHERE lamp_id=? AND time_s < ?",
                                                (lamp, horizon)).rowcount
            self.conn.execute("DELETE FROM outbox WHERE sent_s IS NOT NULL AND created_s < ?", (now_s - OUTBOX_KEEP_S,))
            db.meta_set(self.conn, "retention_last_s", str(now_s))
        self.last_run_s = now_s
        return {"days": days, "pruned": pruned}
