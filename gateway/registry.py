"""Registry of lamps and kits: identity, device address, key, site, crew, expected behaviour.

Keys stay inside the gateway: `Lamp.__repr__` hides them and nothing here logs them.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from telemetry import DeviceKey


@dataclass
class Lamp:
    lamp_id: str
    devaddr: int
    key: bytes = field(repr=False)
    kind: str = "street"
    site: str = ""
    crew: str = ""
    led_max_ma: int = 830
    status_interval_s: int = 600
    last_fcnt: int | None = None
    last_seen_s: int | None = None
    fw_version: str | None = None
    device_key: DeviceKey | None = field(default=None, repr=False, compare=False)

    def crypto(self) -> DeviceKey:
        if self.device_key is None:
            self.device_key = DeviceKey(self.key)
        return self.device_key


_COLUMNS = ("lamp_id", "devaddr", "key", "kind", "site", "crew", "led_max_ma", "status_interval_s",
            "last_fcnt", "last_seen_s", "fw_version")


class RegistryError(ValueError):
    pass


class Registry:
    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self._by_id: dict[str, Lamp] = {}
        self._by_addr: dict[int, Lamp] = {}
        self.reload()

    def reload(self) -> None:
        rows = self.conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM lamps").fetchall()
        self._by_id = {r[0]: Lamp(*r) for r in rows}
        self._by_addr = {lamp.devaddr: lamp for lamp in self._by_id.values()}

    def add(self, lamp: Lamp) -> None:
        if len(lamp.key) != 16:
            raise RegistryError(f"{lamp.lamp_id}: key must be 16 bytes")
        if not 0 < lamp.devaddr <= 0xFFFFFF:
            raise RegistryError(f"{lamp.lamp_id}: device address must be 1..0xFFFFFF")
        other = self._by_addr.get(lamp.devaddr)
        if other is not None and other.lamp_id != lamp.lamp_id:
            raise RegistryError(f"{lamp.lamp_id}: device address {lamp.devaddr:#08x} already used by {other.lamp_id}")
        values = [getattr(lamp, c) for c in _COLUMNS]
        self.conn.execute(
            f"INSERT OR REPLACE INTO lamps ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
            values,
        )
        self.reload()

    def by_id(self, lamp_id: str) -> Lamp | None:
        return self._by_id.get(lamp_id)

    def by_devaddr(self, devaddr: int) -> Lamp | None:
        return self._by_addr.get(devaddr)

    def all(self) -> list[Lamp]:
        return sorted(self._by_id.values(), key=lambda lamp: lamp.lamp_id)

    def save_progress(self, lamp: Lamp) -> None:
        self.conn.execute(
            "UPDATE lamps SET last_fcnt=?, last_seen_s=?, fw_version=? WHERE lamp_id=?",
            (lamp.last_fcnt, lamp.last_seen_s, lamp.fw_version, lamp.lamp_id),
        )
