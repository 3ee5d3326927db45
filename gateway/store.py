"""Time-series storage in SQLite: readings, events and boots, idempotent on (lamp, frame counter).

Rows are buffered and written in one transaction per batch, together with each lamp's progress (last
frame counter and time, and the replay window's bitmap: after a restart, a counter whose bit is set was
stored): a duplicate or replayed frame hits the primary key and is ignored, so a backlog replayed twice
never doubles a point. `add` says whether the row is new, so that detection never judges a frame twice. When the InfluxDB output is on, triggers put each row
that was really inserted into the `spool` table inside the same transaction (gateway/influx.py).
"""
from __future__ import annotations

import json
import sqlite3

from gateway.link.replay import ReplayWindow, bits_to_blob
from gateway.registry import Lamp

_NO_FAULTS = "[]"


class Store:
    def __init__(self, conn: sqlite3.Connection, replay: ReplayWindow | None = None):
        self.conn = conn
        self.replay = replay  # its bitmap per lamp is saved with the lamp's progress
        self._readings: list[tuple] = []
        self._events: list[tuple] = []
        self._boots: list[tuple] = []
        self._progress: dict[str, Lamp] = {}
        self.oldest_new_s: int | None = None  # for daily downsampling of late frames
        self.rows = 0

    def stored(self, lamp_id: str, kind: str, fcnt: int) -> bool:
        """Whether the row of (lamp, counter) is in the database already (one primary-key lookup)."""
        table = {"status": "readings", "event": "events", "boot": "boots"}[kind]
        return self.conn.execute(f"SELECT 1 FROM {table} WHERE lamp_id=? AND fcnt=? LIMIT 1",
                                 (lamp_id, fcnt)).fetchone() is not None

    def add(self, lamp: Lamp, frame: dict, rx_s: float, known_new: bool = True) -> bool:
        """Buffer the frame's rows; False (nothing buffered) when they are stored already. `known_new`: the
        replay window vouches that the counter was never stored (the hot path: no lookup); otherwise (a
        window restored without its bitmap) the database is asked."""
        lid, fcnt, kind, t = lamp.lamp_id, frame["fcnt"], frame["type"], frame["time_s"]
        if not known_new and self.stored(lid, kind, fcnt):
            return False
        if kind == "status":
            faults = frame["faults"]
            self._readings.append((lid, fcnt, t, rx_s, frame["vbat_mv"], frame["ibat_ma"], frame["led_ma"],
                                   frame["pv_mv"], frame["soc_pct"], frame["led_pct"], frame["temp_c"],
                                   frame["mode"], json.dumps(faults) if faults else _NO_FAULTS))
            if self.oldest_new_s is None or t < self.oldest_new_s:
                self.oldest_new_s = t
        elif kind == "event":
            for i, ev in enumerate(frame["events"]):
                self._events.append((lid, fcnt, i, t, ev["code"], ev["action"], ev["value"], ev["ref"]))
        elif kind == "boot":
            self._boots.append((lid, fcnt, t, frame["fw_version"], frame["reset_cause"], frame["boot_count"]))
        self._progress[lid] = lamp
        return True

    def progress(self, lamp: Lamp) -> None:
        """A frame that stores no row (a dlack) still moves the lamp's counter: saved with the batch."""
        self._progress[lamp.lamp_id] = lamp

    def pending(self) -> int:
        return len(self._readings) + len(self._events) + len(self._boots)

    def flush(self) -> int:
        """Write everything buffered, and the lamps' progress, in one transaction; return rows offered."""
        n = self.pending()
        if not n and not self._progress:
            return 0
        conn = self.conn
        replay = self.replay
        if replay is not None:
            for lp in self._progress.values():
                top, bits = replay.state(lp.lamp_id)
                # A bitmap that is not the one under last_fcnt would be wrong after a restart: unknown instead.
                lp.replay_bits = bits_to_blob(bits, replay.size) if top is not None and top == lp.last_fcnt else None
        with conn:
            conn.execute("BEGIN")
            conn.executemany("INSERT OR IGNORE INTO readings VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", self._readings)
            conn.executemany("INSERT OR IGNORE INTO events VALUES (?,?,?,?,?,?,?,?)", self._events)
            conn.executemany("INSERT OR IGNORE INTO boots VALUES (?,?,?,?,?,?)", self._boots)
            conn.executemany("UPDATE lamps SET last_fcnt=?, last_seen_s=?, fw_version=?, replay_bits=? "
                             "WHERE lamp_id=?",
                             [(lp.last_fcnt, lp.last_seen_s, lp.fw_version, lp.replay_bits, lp.lamp_id)
                              for lp in self._progress.values()])
        self._readings, self._events, self._boots = [], [], []
        self._progress = {}
        self.rows += n
        return n
