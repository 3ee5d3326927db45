"""The gateway's SQLite database: schema, additive migrations and connection settings (WAL, one writer).

Every table the gateway owns is here so that the storage schema reads in one place (docs/gateway.md).
Migrations only add columns and tables: an older database opens, gains the new columns, keeps its rows.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS lamps (
    lamp_id TEXT PRIMARY KEY,
    devaddr INTEGER NOT NULL UNIQUE,
    key BLOB NOT NULL,               -- sealed with the gateway master key (gateway/keystore.py)
    kind TEXT NOT NULL DEFAULT 'street',
    site TEXT NOT NULL DEFAULT '',
    crew TEXT NOT NULL DEFAULT '',
    led_max_ma INTEGER NOT NULL DEFAULT 830,
    status_interval_s INTEGER NOT NULL DEFAULT 900,  -- night; by day x DAY_STATUS_FACTOR (existing rows keep theirs)
    last_fcnt INTEGER,
    last_seen_s INTEGER,
    fw_version TEXT,
    district TEXT NOT NULL DEFAULT '',
    lat REAL,                        -- street lamps only: a kit never stores a position
    lon REAL,
    install_date TEXT NOT NULL DEFAULT '',
    profile TEXT NOT NULL DEFAULT '',
    replay_bits BLOB                 -- replay window bitmap under last_fcnt (gateway/link/replay.py)
);
CREATE TABLE IF NOT EXISTS readings (
    lamp_id TEXT NOT NULL, fcnt INTEGER NOT NULL, time_s INTEGER NOT NULL, rx_s REAL NOT NULL,
    vbat_mv INTEGER, ibat_ma INTEGER, led_ma INTEGER, pv_mv INTEGER, soc_pct INTEGER,
    led_pct INTEGER, temp_c INTEGER, mode TEXT, faults TEXT,
    PRIMARY KEY (lamp_id, fcnt)
) WITHOUT ROWID;
-- No index on time: per-lamp queries walk the primary key (lamp, counter), and every index costs ingest.
DROP INDEX IF EXISTS readings_time;
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
CREATE TABLE IF NOT EXISTS daily (
    lamp_id TEXT NOT NULL, day TEXT NOT NULL, frames INTEGER NOT NULL,
    vbat_min_mv INTEGER, vbat_max_mv INTEGER, vbat_avg_mv INTEGER, soc_min_pct INTEGER, soc_max_pct INTEGER,
    charge_mah INTEGER, discharge_mah INTEGER, led_mah INTEGER, lit_min INTEGER, pv_max_mv INTEGER,
    temp_max_c INTEGER, modes TEXT, faults TEXT,
    PRIMARY KEY (lamp_id, day)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    lamp_id TEXT NOT NULL, fault TEXT NOT NULL, state TEXT NOT NULL,
    raised_s INTEGER NOT NULL, resolved_s INTEGER, evidence TEXT NOT NULL,
    severity TEXT NOT NULL DEFAULT 'major',
    kind TEXT NOT NULL DEFAULT 'street', site TEXT NOT NULL DEFAULT '', district TEXT NOT NULL DEFAULT '',
    crew TEXT NOT NULL DEFAULT '',
    opened_s INTEGER,                -- gateway clock when the alert opened (grouping timers)
    ack_s INTEGER, ack_by TEXT, resolved_by TEXT,
    notified_s INTEGER, last_notified_s INTEGER, notify_count INTEGER NOT NULL DEFAULT 0,
    resolved_notified_s INTEGER, escalated_s INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS one_open_alert ON alerts (lamp_id, fault) WHERE state != 'resolved';
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at_s INTEGER NOT NULL, alert_id INTEGER, lamp_id TEXT, fault TEXT,
    action TEXT NOT NULL, actor TEXT NOT NULL, detail TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS silences (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    matchers TEXT NOT NULL, starts_s INTEGER NOT NULL, ends_s INTEGER NOT NULL,
    created_by TEXT NOT NULL, comment TEXT NOT NULL, created_s INTEGER NOT NULL,
    every TEXT NOT NULL DEFAULT ''   -- recurring window spec (gateway/recurrence.py), '' for a one-off
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_s INTEGER NOT NULL, recipient TEXT NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL,
    notify_type TEXT NOT NULL, alert_ids TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, next_try_s REAL NOT NULL DEFAULT 0, sent_s REAL, last_error TEXT
);
CREATE TABLE IF NOT EXISTS spool (
    id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, lamp_id TEXT NOT NULL, fcnt INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- HTTP API clients (gateway/api/tokens.py): only a SHA-256 of each random token is kept.
CREATE TABLE IF NOT EXISTS api_tokens (
    name TEXT PRIMARY KEY, token_sha256 TEXT NOT NULL UNIQUE, created_s INTEGER NOT NULL,
    revoked_s INTEGER, last_used_s INTEGER
);
-- Console accounts (gateway/console/users.py): argon2id hashes only; a disabled user keeps its row for the audit.
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY, password_hash TEXT NOT NULL, role TEXT NOT NULL, crew TEXT NOT NULL DEFAULT '',
    language TEXT NOT NULL DEFAULT 'fr', created_s INTEGER NOT NULL, disabled_s INTEGER
);
-- Console sessions (gateway/console/sessions.py): the cookie's SHA-256 and the session's CSRF token.
CREATE TABLE IF NOT EXISTS sessions (
    token_sha256 TEXT PRIMARY KEY, user TEXT NOT NULL, csrf TEXT NOT NULL, created_s INTEGER NOT NULL,
    seen_s INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS login_failures (who TEXT NOT NULL, at_s INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS login_failures_who ON login_failures (who, at_s);
CREATE TABLE IF NOT EXISTS rejects (reason TEXT PRIMARY KEY, count INTEGER NOT NULL);
"""

# Columns added after the first release, (table, column, declaration): applied when missing.
MIGRATIONS = [
    ("lamps", "district", "TEXT NOT NULL DEFAULT ''"),
    ("lamps", "lat", "REAL"),
    ("lamps", "lon", "REAL"),
    ("lamps", "install_date", "TEXT NOT NULL DEFAULT ''"),
    ("lamps", "profile", "TEXT NOT NULL DEFAULT ''"),
    ("lamps", "replay_bits", "BLOB"),
    ("alerts", "severity", "TEXT NOT NULL DEFAULT 'major'"),
    ("alerts", "kind", "TEXT NOT NULL DEFAULT 'street'"),
    ("alerts", "site", "TEXT NOT NULL DEFAULT ''"),
    ("alerts", "district", "TEXT NOT NULL DEFAULT ''"),
    ("alerts", "crew", "TEXT NOT NULL DEFAULT ''"),
    ("alerts", "opened_s", "INTEGER"),
    ("alerts", "ack_s", "INTEGER"),
    ("alerts", "ack_by", "TEXT"),
    ("alerts", "resolved_by", "TEXT"),
    ("alerts", "notified_s", "INTEGER"),
    ("alerts", "last_notified_s", "INTEGER"),
    ("alerts", "notify_count", "INTEGER NOT NULL DEFAULT 0"),
    ("alerts", "resolved_notified_s", "INTEGER"),
    ("alerts", "escalated_s", "INTEGER"),
    ("silences", "every", "TEXT NOT NULL DEFAULT ''"),
]


def _migrate(conn: sqlite3.Connection) -> None:
    columns: dict[str, set[str]] = {}
    for table, column, decl in MIGRATIONS:
        if table not in columns:
            columns[table] = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        if column not in columns[table]:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")
            columns[table].add(column)


def connect(path: Path | str) -> sqlite3.Connection:
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=10000")
    # Up to 64 MB of page cache (allocated as used): inserts into a large (lamp, counter) key stay in
    # memory instead of re-reading pages; about a third less time per stored frame.
    conn.execute("PRAGMA cache_size=-65536")
    # Tables first, then columns of older databases, then the indexes that may name those columns.
    statements = [s for s in SCHEMA.split(";\n") if s.strip()]
    for stmt in statements:
        if stmt.lstrip().startswith("CREATE TABLE"):
            conn.execute(stmt)
    _migrate(conn)
    for stmt in statements:
        if not stmt.lstrip().startswith("CREATE TABLE"):
            conn.execute(stmt)
    return conn


def database_path(conn: sqlite3.Connection) -> str:
    """The file behind the connection's main database ('' for an in-memory one)."""
    for _seq, name, file in conn.execute("PRAGMA database_list"):
        if name == "main":
            return file or ""
    return ""


def meta_get(conn: sqlite3.Connection, key: str, default: str | None = None) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
    return row[0] if row else default


def meta_set(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))
