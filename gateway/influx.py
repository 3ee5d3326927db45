"""Optional InfluxDB v2 output: a durable spool in SQLite, shipped in batches by a writer thread.

Why not influx-client's own batching: its buffer lives in memory and a batch is dropped once retries
are exhausted (influxdb-client-python #504, #198). Here, SQLite triggers append a spool row for every
row the store really inserted, in the same transaction (a duplicate frame is ignored by the store and
never spooled). The writer reads the spool in order, writes a batch synchronously, and deletes those
spool rows only after InfluxDB accepted them; while InfluxDB is down it backs off and retries, and the
spool (on disk) keeps growing. A crash between "accepted" and "deleted" re-sends a batch: InfluxDB
overwrites identical points (same series and timestamp), so nothing doubles.

Schema (docs/gateway.md): measurements lamp_status, lamp_event, lamp_boot; tags lamp_id, kind, site,
district (+ code/action for events, reset_cause/fw_version for boots), all low cardinality; readings are
integer fields; the timestamp is the device's, in ms, with the frame counter in the sub-second slot so
two frames of the same minute stay apart and a replay lands on the same point.
"""
from __future__ import annotations

import json
import logging
import sqlite3
import threading
from pathlib import Path

from telemetry import schema

from gateway import db
from gateway.settings import InfluxSettings

log = logging.getLogger("lampfleet.gateway.influx")

TRIGGERS = {
    "spool_readings": "AFTER INSERT ON readings BEGIN INSERT INTO spool (kind, lamp_id, fcnt) "
                      "VALUES ('r', NEW.lamp_id, NEW.fcnt); END",
    "spool_events": "AFTER INSERT ON events WHEN NEW.idx = 0 BEGIN INSERT INTO spool (kind, lamp_id, fcnt) "
                    "VALUES ('e', NEW.lamp_id, NEW.fcnt); END",
    "spool_boots": "AFTER INSERT ON boots BEGIN INSERT INTO spool (kind, lamp_id, fcnt) "
                   "VALUES ('b', NEW.lamp_id, NEW.fcnt); END",
}


def enable_spool(conn: sqlite3.Connection) -> None:
    for name, body in TRIGGERS.items():
        conn.execute(f"CREATE TRIGGER IF NOT EXISTS {name} {body}")


def disable_spool(conn: sqlite3.Connection) -> None:
    for name in TRIGGERS:
        conn.execute(f"DROP TRIGGER IF EXISTS {name}")


def _esc_tag(value: str) -> str:
    return (value or "none").replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def _tags(lamp: tuple, extra: dict[str, str] | None = None) -> str:
    kind, site, district, lamp_id = lamp
    tags = {"district": district, "kind": kind, "lamp_id": lamp_id, "site": site, **(extra or {})}
    return ",".join(f"{k}={_esc_tag(str(v))}" for k, v in sorted(tags.items()))


def _ts_ms(time_s: int, fcnt: int, idx: int = 0) -> int:
    return time_s * 1000 + (fcnt * 8 + idx) % 1000


def build_lines(conn: sqlite3.Connection, spool: list[tuple[int, str, str, int]]) -> list[str]:
    """Line protocol for spool rows (id, kind, lamp_id, fcnt); rows whose data is gone are skipped."""
    lamps = {r[0]: r[1:] for r in conn.execute("SELECT lamp_id, kind, site, district, lamp_id FROM lamps")}
    lines = []
    for _id, kind, lamp_id, fcnt in spool:
        lamp = lamps.get(lamp_id, ("street", "", "", lamp_id))
        if kind == "r":
            row = conn.execute("SELECT time_s, vbat_mv, ibat_ma, led_ma, pv_mv, soc_pct, led_pct, temp_c, mode, faults "
                               "FROM readings WHERE lamp_id=? AND fcnt=?", (lamp_id, fcnt)).fetchone()
            if row is None:
                continue
            t, vbat, ibat, led_ma, pv, soc, pct, temp, mode, faults = row
            fields = [f"vbat_mv={vbat}i", f"ibat_ma={ibat}i", f"led_ma={led_ma}i", f"pv_mv={pv}i",
                      f"led_pct={pct}i", f"temp_c={temp}i", f"mode_code={schema.MODE_CODES.get(mode, 15)}i",
                      f"faults_bits={schema.fault_bitmap(n for n in json.loads(faults) if n in schema.FAULT_CODES)}i",
                      f"fcnt={fcnt}i"]
            if soc is not None:
                fields.append(f"soc_pct={soc}i")
            lines.append(f"lamp_status,{_tags(lamp)} {','.join(fields)} {_ts_ms(t, fcnt)}")
        elif kind == "e":
            for idx, t, code, action, value, ref in conn.execute(
                    "SELECT idx, time_s, code, action, value, ref FROM events WHERE lamp_id=? AND fcnt=? ORDER BY idx",
                    (lamp_id, fcnt)):
                tags = _tags(lamp, {"code": code, "action": action})
                lines.append(f"lamp_event,{tags} value={value}i,ref={ref}i,fcnt={fcnt}i {_ts_ms(t, fcnt, idx)}")
        else:
            row = conn.execute("SELECT time_s, fw_version, reset_cause, boot_count FROM boots WHERE lamp_id=? AND fcnt=?",
                               (lamp_id, fcnt)).fetchone()
            if row is None:
                continue
            t, fw, cause, count = row
            tags = _tags(lamp, {"reset_cause": cause, "fw_version": fw})
            lines.append(f"lamp_boot,{tags} boot_count={count}i,fcnt={fcnt}i {_ts_ms(t, fcnt)}")
    return lines


class InfluxWriter:
    """Ships the spool to InfluxDB on its own thread and connection."""

    def __init__(self, settings: InfluxSettings, database: Path | str):
        self.s = settings
        self.database = database
        self.stopping = threading.Event()
        self.written = 0
        self.failures = 0
        self.backoff_s = 0.0
        self._thread: threading.Thread | None = None

    def start(self) -> "InfluxWriter":
        self._thread = threading.Thread(target=self.run, name="lampfleet-influx", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(30)

    def _client(self):  # type: ignore[no-untyped-def]
        from influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import SYNCHRONOUS

        client = InfluxDBClient(url=self.s.url, token=self.s.token or "none", org=self.s.org,
                                timeout=int(self.s.timeout_s * 1000), enable_gzip=True)
        return client, client.write_api(write_options=SYNCHRONOUS)

    def run(self) -> None:
        conn = db.connect(self.database)
        client, write_api = self._client()
        try:
            while not self.stopping.is_set():
                shipped = self.ship_once(conn, write_api)
                if shipped == 0:
                    self.stopping.wait(self.backoff_s or 0.5)
        finally:
            client.close()
            conn.close()

    def ship_once(self, conn: sqlite3.Connection, write_api) -> int:  # type: ignore[no-untyped-def]
        """Write one batch from the spool; return the number of spool rows shipped (0: nothing or failed)."""
        spool = conn.execute("SELECT id, kind, lamp_id, fcnt FROM spool ORDER BY id LIMIT ?",
                             (self.s.batch_size,)).fetchall()
        if not spool:
            return 0
        lines = build_lines(conn, spool)
        if lines:
            try:
                write_api.write(bucket=self.s.bucket, org=self.s.org, record=lines, write_precision="ms")
            except Exception as e:  # noqa: BLE001 - any failure: keep the spool, back off, retry
                self.failures += 1
                self.backoff_s = min(max(self.backoff_s * 2, 0.5), self.s.max_backoff_s)
                log.warning("InfluxDB write failed (%s); %d rows kept in the spool, retry in %.1f s",
                            type(e).__name__, len(spool), self.backoff_s)
                return 0
        conn.execute("DELETE FROM spool WHERE id <= ?", (spool[-1][0],))
        self.backoff_s = 0.0
        self.written += len(lines)
        return len(spool)

    def pending(self, conn: sqlite3.Connection) -> int:
        return conn.execute("SELECT count(*) FROM spool").fetchone()[0]


__all__ = ["InfluxWriter", "build_lines", "enable_spool", "disable_spool"]
