"""Time-series storage in SQLite: readings, events and boots, idempotent on (lamp, frame counter).

Rows are buffered and written in one transaction per batch; a duplicate or replayed frame hits the
primary key and is ignored, so a backlog replayed twice never doubles a point.
"""
from __future__ import annotations

import json
import sqlite3

from gateway.registry import Lamp

_READING_COLS = ("vbat_mv", "ibat_ma", "led_ma", "pv_mv", "soc_pct", "led_pct", "temp_c", "mode")


class Store:
    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self._readings: list[tuple] = []
        self._events: list[tuple] = []
        self._boots: list[tuple] = []

    def add(self, lamp: Lamp, frame: dict, rx_s: float) -> None:
        lid, fcnt = lamp.lamp_id, frame["fcnt"]
        if frame["type"] == "status":
            self._readings.append((lid, fcnt, frame["time_s"], rx_s, *(frame[c] for c in _READING_COLS),
                                   json.dumps(frame["faults"])))
        elif frame["type"] == "event":
            for i, ev in enumerate(frame["events"]):
                self._events.append((lid, fcnt, i, frame["time_s"], ev["code"], ev["action"], ev["value"], ev["ref"]))
        elif frame["type"] == "boot":
            self._boots.append((lid, fcnt, frame["time_s"], frame["fw_version"], frame["reset_cause"],
                                frame["boot_count"]))

    def flush(self) -> int:
        """Write everything buffered in one transaction; return the number of rows offered."""
        n = len(self._readings) + len(self._events) + len(self._boots)
        if not n:
            return 0
        with self.conn:
            self.conn.execute("BEGIN")
            self.conn.executemany(
                "INSERT OR IGNORE INTO readings VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", self._readings)
            self.conn.executemany("INSERT OR IGNORE INTO events VALUES (?,?,?,?,?,?,?,?)", self._events)
            self.conn.executemany("INSERT OR IGNORE INTO boots VALUES (?,?,?,?,?,?)", self._boots)
        self._readings, self._events, self._boots = [], [], []
        return n
