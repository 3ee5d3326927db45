"""Downlinks waiting for their lamp, in SQLite, until the lamp acknowledges them (dlack, uplink type 0x4).

A config or command is queued with `enqueue`; each time the lamp can be reached (after one of its LoRa
uplinks, or at once over MQTT) `reply()` builds the next downlink frame: the oldest unacknowledged entry,
carrying the acknowledgement of the uplink it answers, under a fresh downlink counter (persisted here,
never reused). An entry stays until the lamp's dlack names its dl_id; it is sent again only after
`resend_after_s` (the lamp queues its dlack behind whatever it still has to send, so the answer may take a
few uplinks), and after `max_attempts` sendings it is marked failed (a late dlack still closes it).
`max_per_day` caps a lamp's downlinks (TTN fair use: 10 a day, acknowledgements included). The frame
format is telemetry/downlink.py (docs/wire-format.md, "Downlinks"); the gateway's ingest reads the dlacks
on every path and calls `acknowledged` (gateway/service.py).
"""
from __future__ import annotations

import contextlib
import functools
import json
import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from telemetry.crypto import DeviceKey
from telemetry.downlink import encode_downlink

log = logging.getLogger("lampfleet.gateway.downlinks")

SCHEMA = """
CREATE TABLE IF NOT EXISTS downlinks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    lamp_id TEXT NOT NULL, kind TEXT NOT NULL, body TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',          -- pending | acked | failed | cancelled
    created_s REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_sent_s REAL,
    done_s REAL, result TEXT
);
CREATE INDEX IF NOT EXISTS downlinks_pending ON downlinks (lamp_id, state, id);
CREATE TABLE IF NOT EXISTS downlink_counters (lamp_id TEXT PRIMARY KEY, next_fcnt INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS downlink_sent (lamp_id TEXT NOT NULL, at_s REAL NOT NULL);
"""


def _locked(method):
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper


class DownlinkQueue:
    """Thread-safe: a bridge's reader thread builds replies while the API thread queues commands."""

    def __init__(self, conn_or_path: sqlite3.Connection | str | Path, max_attempts: int = 8,
                 max_per_day: int | None = None, resend_after_s: float = 600.0, clock=time.time, time_source=None):
        """clock paces resends and the daily cap; time_source (default: clock) is the time a time_sync sets
        the lamp to, e.g. an emulated fleet's virtual time while resends follow the wall clock."""
        self._lock = threading.RLock()
        self.conn = (conn_or_path if isinstance(conn_or_path, sqlite3.Connection)
                     else sqlite3.connect(conn_or_path, check_same_thread=False))
        self.conn.executescript(SCHEMA)
        self.max_attempts = max_attempts
        self.max_per_day = max_per_day
        self.resend_after_s = resend_after_s
        self.clock = clock
        self.time_source = time_source or clock
        self._in_replies = False  # replies() holds one transaction around every reply
        self._keys: dict[bytes, DeviceKey] = {}  # raw key -> its key schedule, for bare_acks

    # ------------------------------------------------------------------ queueing

    @_locked
    def enqueue(self, lamp_id: str, kind: str, **fields) -> int:
        """kind 'config' (settings={name: value}) or 'command' (command=name, arg=int); returns the id.
        Checked now by encoding it once, so a bad request fails here and not at the lamp."""
        if kind not in ("config", "command"):
            raise ValueError("a downlink is a 'config' or a 'command'")
        encode_downlink(kind, 0, 0, bytes(16), dict(fields, dl_id=0))
        with self.conn:
            cur = self.conn.execute("INSERT INTO downlinks (lamp_id, kind, body, created_s) VALUES (?, ?, ?, ?)",
                                    (lamp_id, kind, json.dumps(fields), self.clock()))
        return int(cur.lastrowid or 0)

    @_locked
    def pending(self, lamp_id: str) -> list[dict[str, Any]]:
        rows = self.conn.execute("SELECT id, kind, body, attempts, last_sent_s FROM downlinks WHERE lamp_id=? "
                                 "AND state='pending' ORDER BY id", (lamp_id,)).fetchall()
        return [{"id": r[0], "kind": r[1], "fields": json.loads(r[2]), "attempts": r[3], "last_sent_s": r[4]}
                for r in rows]

    @_locked
    def cancel(self, dl_id: int) -> None:
        with self.conn:
            self.conn.execute("UPDATE downlinks SET state='cancelled', done_s=? WHERE id=? AND state='pending'",
                              (self.clock(), dl_id))

    @_locked
    def state(self, dl_id: int) -> tuple[str, str | None]:
        row = self.conn.execute("SELECT state, result FROM downlinks WHERE id=?", (dl_id,)).fetchone()
        return (row[0], row[1]) if row else ("unknown", None)

    # ------------------------------------------------------------------ counters and quota

    def _next_fcnt(self, lamp_id: str) -> int:
        row = self.conn.execute("SELECT next_fcnt FROM downlink_counters WHERE lamp_id=?", (lamp_id,)).fetchone()
        fcnt = row[0] if row else 0
        self.conn.execute("INSERT OR REPLACE INTO downlink_counters (lamp_id, next_fcnt) VALUES (?, ?)",
                          (lamp_id, fcnt + 1))
        return fcnt

    @_locked
    def sent_today(self, lamp_id: str, now: float) -> int:
        return self.conn.execute("SELECT count(*) FROM downlink_sent WHERE lamp_id=? AND at_s > ?",
                                 (lamp_id, now - 86400)).fetchone()[0]

    # ------------------------------------------------------------------ building and acknowledging

    @_locked
    def reply(self, lamp_id: str, devaddr: int, key, ack_fcnt16: int | None = None) -> bytes | None:
        """The downlink to send now: the oldest pending entry (with the ack), a bare ack, or None."""
        now = self.clock()
        with contextlib.nullcontext() if self._in_replies else self.conn:
            if self.max_per_day is not None and self.sent_today(lamp_id, now) >= self.max_per_day:
                return None
            self.conn.execute("UPDATE downlinks SET state='failed', done_s=? WHERE lamp_id=? AND state='pending' "
                              "AND attempts >= ?", (now, lamp_id, self.max_attempts))
            waiting = self.pending(lamp_id)
            todo = [e for e in waiting if e["last_sent_s"] is None or now - e["last_sent_s"] >= self.resend_after_s]
            if not todo and ack_fcnt16 is None:
                return None
            fields = {"ack_fcnt16": ack_fcnt16, "pending": len(todo) > 1}
            kind = "ack"
            entry = None
            if todo:
                entry = todo[0]
                kind = entry["kind"]
                fields.update(entry["fields"], dl_id=entry["id"] & 0xFFFF)
                if kind == "command" and fields.get("command") == "time_sync":
                    fields["arg"] = int(self.time_source())  # the time when the frame is built, not when queued
                self.conn.execute("UPDATE downlinks SET attempts=attempts+1, last_sent_s=? WHERE id=?",
                                  (now, entry["id"]))
            dl_fcnt = self._next_fcnt(lamp_id)
            frame = encode_downlink(kind, devaddr, dl_fcnt, key, fields)
            if entry is not None:
                log.info("downlink %d (%s) to %s, sending %d, counter %d", entry["id"], kind, lamp_id,
                         entry["attempts"] + 1, dl_fcnt)
            self.conn.execute("INSERT INTO downlink_sent (lamp_id, at_s) VALUES (?, ?)", (lamp_id, now))
            self.conn.execute("DELETE FROM downlink_sent WHERE at_s < ?", (now - 2 * 86400,))
        return frame

    @_locked
    def bare_acks(self, uplinks: list[tuple[str, int, Any, int]]) -> list[bytes]:
        """Bare acks for (lamp_id, devaddr, key, ack_fcnt16) of lamps with nothing queued: the MQTT answers
        of a batch, about one per frame in a backlog, so in one transaction, with one counter read and one
        write for all and the devices' key schedules cached. Not counted against max_per_day (that is
        LoRaWAN's downlink quota; MQTT has no airtime)."""
        if not uplinks:
            return []
        ids = [u[0] for u in uplinks]
        counters: dict[str, int] = {}
        for i in range(0, len(ids), 500):  # under SQLite's limit of bound parameters
            chunk = ids[i:i + 500]
            counters.update(self.conn.execute(
                f"SELECT lamp_id, next_fcnt FROM downlink_counters WHERE lamp_id IN ({','.join('?' * len(chunk))})",
                chunk).fetchall())
        frames = []
        for lamp_id, devaddr, key, ack16 in uplinks:
            fcnt = counters.get(lamp_id, 0)
            counters[lamp_id] = fcnt + 1
            frames.append(encode_downlink("ack", devaddr, fcnt, self._device_key(key),
                                          {"ack_fcnt16": ack16, "pending": False}))
        with self.conn:
            self.conn.executemany("INSERT OR REPLACE INTO downlink_counters (lamp_id, next_fcnt) VALUES (?, ?)",
                                  [(lamp_id, counters[lamp_id]) for lamp_id in dict.fromkeys(ids)])
        return frames

    def _device_key(self, key: Any) -> DeviceKey:
        cached = self._keys.get(bytes(key)) if not isinstance(key, DeviceKey) else key
        if cached is None:
            if len(self._keys) >= 100_000:
                self._keys.clear()
            cached = self._keys[bytes(key)] = DeviceKey(bytes(key))
        return cached

    @_locked
    def replies(self, uplinks: list[tuple[str, int, Any, int | None]]) -> list[bytes | None]:
        """reply() for each (lamp_id, devaddr, key, ack_fcnt16), in one transaction: the answers to a batch
        of MQTT uplinks, built after the batch is committed."""
        self._in_replies = True
        try:
            with self.conn:
                return [self.reply(*uplink) for uplink in uplinks]
        finally:
            self._in_replies = False

    @_locked
    def acknowledged(self, lamp_id: str, dl_id16: int, result: str) -> int | None:
        """The lamp's dlack for dl_id16 (the low 16 bits of an id): returns the entry's id, or None when it
        names nothing open (a repeated dlack)."""
        row = self.conn.execute("SELECT id FROM downlinks WHERE lamp_id=? AND state IN ('pending', 'failed') "
                                "AND (id & 65535)=? ORDER BY id DESC LIMIT 1", (lamp_id, dl_id16)).fetchone()
        if row is None:
            return None
        with self.conn:
            self.conn.execute("UPDATE downlinks SET state='acked', done_s=?, result=? WHERE id=?",
                              (self.clock(), result, row[0]))
        return int(row[0])
