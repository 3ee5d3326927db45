"""The gateway's SQLite database: schema and connection settings (WAL, one writer)."""
from __future__ import annotations

import sqlite3
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS lamps (
    lamp_id TEXT PRIMARY KEY,
    devaddr INTEGER NOT NULL UNIQUE,
    key BLOB NOT NULL,
    kind TEXT NOT NULL DEFAULT 'street',
    site TEXT NOT NULL DEFAULT '',
    crew TEXT NOT NULL DEFAULT '',
    led_max_ma INTEGER NOT NULL DEFAULT 830,
    status_interval_s INTEGER NOT NULL DEFAULT 600,
    last_fcnt INTEGER,
    last_seen_s INTEGER,
    fw_version TEXT
);
CREATE TABLE IF NOT EXISTS readings (
    lamp_id TEXT NOT NULL, fcnt INTEGER NOT NULL, time_s INTEGER NOT NULL, rx_s REAL NOT NULL,
    vbat_mv INTEGER, ibat_ma INTEGER, led_ma INTEGER, pv_mv INTEGER, soc_pct INTEGER,
    led_pct INTEGER, temp_c INTEGER, mode TEXT, faults TEXT,
    PRIMARY KEY (lamp_id, fcnt)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    lamp_id TEXT NOT NULL, fcnt INTEGER NOT NULL, idx INTEGER NOT NULL, time_s INTEGER NOT NULL,
    code TEXT NOT NULL, action TEXT NOT NULL, value INTEGER, ref INTEGER,
    PRIMARY KEY (lamp_id, fcnt, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS boots (
    lamp_id TEXT NOT NULL, fcnt INTEGER NOT NULL, time_s INTEGER NOT NULL, fw_version TEXT,
    reset_cause TEXT, boot_count INTEGER,
    PRIMARY KEY (lamp_id, fcnt)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    lamp_id TEXT NOT NULL, fault TEXT NOT NULL, state TEXT NOT NULL,
    raised_s INTEGER NOT NULL, resolved_s INTEGER, evidence TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS one_open_alert ON alerts (lamp_id, fault) WHERE state != 'resolved';
CREATE TABLE IF NOT EXISTS rejects (reason TEXT PRIMARY KEY, count INTEGER NOT NULL);
"""


def connect(path: Path | str) -> sqlite3.Connection:
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=5000")
    conn.executescript(SCHEMA)
    return conn
