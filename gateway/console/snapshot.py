"""The fleet at a glance for the console: one row per lamp with its state, read in one SQL statement.

`fleet.fleet_status` asks for each lamp's latest reading one by one, ordered by time; at 10,000 lamps the
console cannot wait for that on every page. Here one query takes each lamp's reading with the highest
frame counter (a primary-key seek per lamp), its open alert count, and the state is classified as
`lampfleet status` does (gateway/fleet.py), plus `maintenance` for a lamp under an active silence. The
snapshot is cached for CACHE_S: lists, filters, sorting and pages work on it in memory.
"""
from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass

from gateway import fleet
from gateway.registry import Lamp
from gateway.settings import Settings
from gateway.silences import Silences

CACHE_S = 5.0
STATES = ("lit", "dimmed", "dark", "silent", "maintenance", "day", "off", "never_heard")
BAD_STATES = ("dark", "silent", "never_heard")

_SQL = """
SELECT l.lamp_id, l.kind, l.site, l.crew, l.district, l.lat, l.lon, l.last_seen_s, l.led_max_ma,
       l.status_interval_s, l.fw_version, l.profile,
       r.time_s, r.vbat_mv, r.ibat_ma, r.led_ma, r.pv_mv, r.soc_pct, r.led_pct, r.temp_c, r.mode, r.faults,
       (SELECT count(*) FROM alerts a WHERE a.lamp_id = l.lamp_id AND a.state != 'resolved')
FROM lamps l
LEFT JOIN readings r ON r.lamp_id = l.lamp_id
     AND r.fcnt = (SELECT max(fcnt) FROM readings x WHERE x.lamp_id = l.lamp_id)
WHERE l.kind != 'bridge'
ORDER BY l.lamp_id
"""
_READING = ("time_s", "vbat_mv", "ibat_ma", "led_ma", "pv_mv", "soc_pct", "led_pct", "temp_c", "mode", "faults")


@dataclass(frozen=True)
class LampRow:
    lamp_id: str
    kind: str
    site: str
    crew: str
    district: str
    lat: float | None
    lon: float | None
    last_seen_s: int | None
    fw_version: str | None
    profile: str
    state: str
    alerts: int
    reading: dict | None

    def labels(self) -> dict[str, str]:
        return {"lamp_id": self.lamp_id, "site": self.site, "district": self.district, "crew": self.crew,
                "kind": self.kind}


def read(conn: sqlite3.Connection, settings: Settings, now_s: int) -> list[LampRow]:
    silences = Silences(conn)
    active = silences.active(now_s)
    out = []
    for row in conn.execute(_SQL):
        (lamp_id, kind, site, crew, district, lat, lon, last_seen, led_max, interval, fw, profile) = row[:12]
        reading = dict(zip(_READING, row[12:22])) if row[12] is not None else None
        if reading is not None:
            reading["faults"] = json.loads(reading["faults"]) if reading["faults"] else []
        lamp = Lamp(lamp_id, 0, b"", kind=kind, led_max_ma=led_max, status_interval_s=interval, last_seen_s=last_seen)
        state = fleet.classify(lamp, reading, now_s, settings)
        r = LampRow(lamp_id, kind, site, crew, district, None if kind == "kit" else lat, None if kind == "kit" else lon,
                    last_seen, fw, profile, state, row[22], reading)
        if active and silences.silencing(r.labels(), now_s, active) is not None:
            r = LampRow(**{**r.__dict__, "state": "maintenance"})
        out.append(r)
    return out


class SnapshotCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._at = -1e9
        self._key: tuple = ()
        self._rows: list[LampRow] = []

    def get(self, conn: sqlite3.Connection, settings: Settings, now_s: int) -> list[LampRow]:
        # A new alert or a change of the registry shows at once; readings within CACHE_S.
        key = (conn.execute("SELECT coalesce(max(id), 0) FROM audit").fetchone()[0],
               conn.execute("SELECT value FROM meta WHERE key='registry_version'").fetchone())
        with self._lock:
            if key == self._key and time.monotonic() - self._at < CACHE_S:
                return self._rows
        rows = read(conn, settings, now_s)
        with self._lock:
            self._rows, self._key, self._at = rows, key, time.monotonic()
        return rows
