"""Registry of lamps and kits: identity, device address, key, place, crew, expected behaviour.

Keys are sealed at rest (gateway/keystore.py) and hidden from `repr`; nothing here logs them. Kits belong
to vulnerable households: they carry a district, never coordinates, and `add` refuses a kit with a
position. Provisioning (issue "Technician tools") creates keys and registers lamps through `add`;
`key_for_provisioning` is the one way to read a key back out, for writing it to the device.
"""
from __future__ import annotations

import re
import secrets
import sqlite3
from dataclasses import dataclass, field, fields
from datetime import date
from pathlib import Path

from telemetry import DeviceKey, topics

from gateway import db
from gateway.keystore import KeyStore, KeyStoreError

KINDS = ("street", "kit", "bridge")


@dataclass
class Lamp:
    lamp_id: str
    devaddr: int
    key: bytes = field(repr=False)
    kind: str = "street"
    site: str = ""
    crew: str = ""
    led_max_ma: int = 830
    # The firmware's night status interval (by day it reports telemetry.schema.DAY_STATUS_FACTOR times
    # less often); a LoRa lamp's cadence is stretched for its airtime and the detector learns it.
    status_interval_s: int = 900
    last_fcnt: int | None = None
    last_seen_s: int | None = None
    fw_version: str | None = None
    district: str = ""
    lat: float | None = None
    lon: float | None = None
    install_date: str = ""
    profile: str = ""
    # The replay window's bitmap under last_fcnt (gateway/link/replay.py), saved with every batch so that a
    # restart still knows which recent counters were stored; None: unknown (an older database, a new lamp).
    replay_bits: bytes | None = field(default=None, repr=False, compare=False)
    device_key: DeviceKey | None = field(default=None, repr=False, compare=False)

    def crypto(self) -> DeviceKey:
        if self.device_key is None:
            self.device_key = DeviceKey(self.key)
        return self.device_key

    @property
    def place(self) -> str:
        """Where a crew goes: district and site; a kit never has more than its district."""
        return ", ".join(p for p in (self.district, self.site) if p)

    def public(self) -> dict:
        """Everything but the key, for CLI, API and CSV."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("key", "device_key", "replay_bits")}


COLUMNS = ("lamp_id", "devaddr", "key", "kind", "site", "crew", "led_max_ma", "status_interval_s",
           "last_fcnt", "last_seen_s", "fw_version", "district", "lat", "lon", "install_date", "profile",
           "replay_bits")
# Stored frames keyed by (lamp_id, fcnt): renumbered when a lamp is re-keyed (Registry._archive_frames).
FRAME_TABLES = ("readings", "events", "boots")
_PROGRESS = ("last_fcnt", "last_seen_s", "fw_version", "replay_bits")
# What an operator may change without re-provisioning.
METADATA = ("kind", "site", "crew", "led_max_ma", "status_interval_s", "district", "lat", "lon", "install_date",
            "profile")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class RegistryError(ValueError):
    pass


def validate(lamp: Lamp) -> None:
    """Raise RegistryError with a sentence naming the lamp and the field."""
    lid = lamp.lamp_id
    if not isinstance(lid, str) or not topics.valid_lamp_id(lid):
        raise RegistryError(f"{lid!r}: lamp ID must be 1-32 letters, digits, '-', '_' or '.'")
    if len(lamp.key) != 16:
        raise RegistryError(f"{lid}: key must be 16 bytes")
    if not 0 < lamp.devaddr <= 0xFFFFFF:
        raise RegistryError(f"{lid}: device address must be 1..0xFFFFFF")
    if lamp.kind not in KINDS:
        raise RegistryError(f"{lid}: kind {lamp.kind!r} is not one of {', '.join(KINDS)}")
    if lamp.kind == "kit" and (lamp.lat is not None or lamp.lon is not None):
        raise RegistryError(f"{lid}: a safety kit stores its district only, never coordinates: "
                            "leave lat and lon empty")
    if (lamp.lat is None) != (lamp.lon is None):
        raise RegistryError(f"{lid}: give both lat and lon, or neither")
    if lamp.lat is not None and not (-90 <= lamp.lat <= 90 and -180 <= lamp.lon <= 180):  # type: ignore[operator]
        raise RegistryError(f"{lid}: coordinates {lamp.lat}, {lamp.lon} are out of range")
    if lamp.install_date:
        try:
            if not _DATE.match(lamp.install_date):
                raise ValueError
            date.fromisoformat(lamp.install_date)
        except ValueError:
            raise RegistryError(f"{lid}: install date {lamp.install_date!r} must be YYYY-MM-DD") from None
    if lamp.led_max_ma <= 0 or lamp.status_interval_s <= 0:
        raise RegistryError(f"{lid}: led_max_ma and status_interval_s must be positive")


def new_key() -> bytes:
    return secrets.token_bytes(16)


class Registry:
    def __init__(self, conn: sqlite3.Connection, keystore: KeyStore | None = None):
        self.conn = conn
        self.keystore = keystore or default_keystore(conn)
        self._by_id: dict[str, Lamp] = {}
        self._by_addr: dict[int, Lamp] = {}
        self.version = ""
        self.reload()
        self._check_master_key()

    def _check_master_key(self) -> None:
        """The database names the master key its lamp keys are sealed under (KeyStore.fingerprint): opening
        it with another key file is refused, even while no lamp is registered yet."""
        if self.keystore.path is None:
            return  # an in-memory database's ephemeral key
        known = db.meta_get(self.conn, "master_key_fingerprint")
        if known is None:  # the first open with a key file, or a database from before the check (its lamps
            # were all unsealed by reload() just now, so this key is theirs)
            db.meta_set(self.conn, "master_key_fingerprint", self.keystore.fingerprint)
        elif known != self.keystore.fingerprint:
            raise KeyStoreError(
                f"the lamp keys in this database are sealed under another master key than {self.keystore.path}: "
                "use the gateway's own settings (--config /etc/lampfleet/gateway.toml, master_key_file) or "
                "restore that key file from its backup")

    def _lamp(self, row: tuple) -> Lamp:
        values = dict(zip(COLUMNS, row))
        blob = values["key"]
        if KeyStore.is_sealed(blob):
            values["key"] = self.keystore.unseal(values["lamp_id"], blob)
        else:  # a row from before keys were sealed: seal it now
            values["key"] = bytes(blob)
            self.conn.execute("UPDATE lamps SET key=? WHERE lamp_id=?",
                              (self.keystore.seal(values["lamp_id"], values["key"]), values["lamp_id"]))
        return Lamp(**values)

    def reload(self) -> None:
        """Re-read the table (another process may have imported lamps). In-memory progress (last frame
        counter and time) is kept when it is ahead of the database."""
        rows = self.conn.execute(f"SELECT {', '.join(COLUMNS)} FROM lamps").fetchall()
        fresh = {}
        for row in rows:
            lamp = self._lamp(row)
            old = self._by_id.get(lamp.lamp_id)
            if old is not None and old.key == lamp.key:
                # Same identity: keep the object (and its cached DeviceKey) and take the new metadata.
                for name in COLUMNS:
                    if name in _PROGRESS:
                        continue
                    setattr(old, name, getattr(lamp, name))
                if (lamp.last_fcnt or -1) > (old.last_fcnt or -1):
                    old.last_fcnt, old.replay_bits = lamp.last_fcnt, lamp.replay_bits
                if (lamp.last_seen_s or 0) > (old.last_seen_s or 0):
                    old.last_seen_s = lamp.last_seen_s
                lamp = old
            fresh[lamp.lamp_id] = lamp
        self._by_id = fresh
        self._by_addr = {lamp.devaddr: lamp for lamp in fresh.values()}
        self.version = db.meta_get(self.conn, "registry_version", "0") or "0"

    def changed_elsewhere(self) -> bool:
        return (db.meta_get(self.conn, "registry_version", "0") or "0") != self.version

    def _bump(self) -> None:
        self.version = str(int(self.version or "0") + 1)
        db.meta_set(self.conn, "registry_version", self.version)

    def add(self, lamp: Lamp) -> None:
        """Insert or replace a lamp with every field as given (provisioning, re-provisioning)."""
        self.add_many([lamp])

    def add_many(self, lamps: list[Lamp], metadata_only: list[Lamp] | None = None) -> None:
        """All or nothing, in one transaction. `lamps` are written whole (sealed key, progress as given);
        `metadata_only` lamps must be registered already and only their metadata columns change."""
        metadata_only = metadata_only or []
        seen_addr: dict[int, str] = {}
        incoming = {x.lamp_id for x in lamps}
        for lamp in [*lamps, *metadata_only]:
            validate(lamp)
            other = self._by_addr.get(lamp.devaddr)
            if other is not None and other.lamp_id != lamp.lamp_id and other.lamp_id not in incoming:
                raise RegistryError(f"{lamp.lamp_id}: device address {lamp.devaddr:#08x} already used by {other.lamp_id}")
            if seen_addr.setdefault(lamp.devaddr, lamp.lamp_id) != lamp.lamp_id:
                raise RegistryError(f"{lamp.lamp_id}: device address {lamp.devaddr:#08x} also given to "
                                    f"{seen_addr[lamp.devaddr]}")
        for lamp in metadata_only:
            if lamp.lamp_id not in self._by_id:
                raise RegistryError(f"{lamp.lamp_id}: not registered")
        sql = f"INSERT OR REPLACE INTO lamps ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
        rows = []
        for lamp in lamps:
            values = [getattr(lamp, c) for c in COLUMNS]
            values[COLUMNS.index("key")] = self.keystore.seal(lamp.lamp_id, lamp.key)
            rows.append(values)
        meta_sql = f"UPDATE lamps SET {', '.join(f'{c}=?' for c in METADATA)} WHERE lamp_id=?"
        meta_rows = [[getattr(lamp, c) for c in METADATA] + [lamp.lamp_id] for lamp in metadata_only]
        rekeyed = [lp.lamp_id for lp in lamps if (old := self._by_id.get(lp.lamp_id)) is not None and old.key != lp.key]
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.executemany(sql, rows)
            self.conn.executemany(meta_sql, meta_rows)
            for lamp_id in rekeyed:
                self._archive_frames(lamp_id)
            self._bump()
        for lamp in lamps:
            old = self._by_id.get(lamp.lamp_id)
            if old is not None:
                self._by_addr.pop(old.devaddr, None)
            self._by_id[lamp.lamp_id] = lamp
            self._by_addr[lamp.devaddr] = lamp
        for lamp in metadata_only:
            target = self._by_id[lamp.lamp_id]
            for c in METADATA:
                setattr(target, c, getattr(lamp, c))

    def _archive_frames(self, lamp_id: str) -> None:
        """A re-keyed lamp counts its frames from 0 again: move what it stored under its earlier keys to
        negative counters, in the same order, so that the new frames (lamp, counter) do not meet old rows and
        get dropped as duplicates. History reads by time and is unchanged. Every value moves below every old
        one, so the update never collides with a row it has not moved yet."""
        each = " UNION ALL ".join(f"SELECT min(fcnt) AS lo, max(fcnt) AS hi FROM {t} WHERE lamp_id=?1"
                                  for t in FRAME_TABLES)
        low, high = self.conn.execute(f"SELECT min(lo), max(hi) FROM ({each})", (lamp_id,)).fetchone()
        if high is None:
            return
        offset = high + 1 + max(0, -low)
        for table in FRAME_TABLES:
            self.conn.execute(f"UPDATE {table} SET fcnt = fcnt - ? WHERE lamp_id=?", (offset, lamp_id))

    def update(self, lamp_id: str, **changes: object) -> Lamp:
        """Change metadata of a registered lamp (not its key, address or progress)."""
        lamp = self._by_id.get(lamp_id)
        if lamp is None:
            raise RegistryError(f"{lamp_id}: not registered (lampfleet lamps list)")
        bad = set(changes) - set(METADATA)
        if bad:
            raise RegistryError(f"{lamp_id}: cannot change {', '.join(sorted(bad))} this way")
        candidate = Lamp(**{**{c: getattr(lamp, c) for c in COLUMNS}, **changes})  # type: ignore[arg-type]
        validate(candidate)
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            if changes:
                sets = ", ".join(f"{k}=?" for k in changes)
                self.conn.execute(f"UPDATE lamps SET {sets} WHERE lamp_id=?", (*changes.values(), lamp_id))
            self._bump()
        for k, v in changes.items():
            setattr(lamp, k, v)
        return lamp

    def remove(self, lamp_id: str) -> None:
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute("DELETE FROM lamps WHERE lamp_id=?", (lamp_id,))
            self._bump()
        lamp = self._by_id.pop(lamp_id, None)
        if lamp is not None:
            self._by_addr.pop(lamp.devaddr, None)

    def by_id(self, lamp_id: str) -> Lamp | None:
        return self._by_id.get(lamp_id)

    def by_devaddr(self, devaddr: int) -> Lamp | None:
        return self._by_addr.get(devaddr)

    def all(self) -> list[Lamp]:
        return sorted(self._by_id.values(), key=lambda lamp: lamp.lamp_id)

    def key_for_provisioning(self, lamp_id: str) -> bytes:
        """The device key, for writing it to the lamp during provisioning. Never print or log it."""
        lamp = self._by_id.get(lamp_id)
        if lamp is None:
            raise RegistryError(f"{lamp_id}: not registered")
        return lamp.key

    def save_progress(self, lamp: Lamp) -> None:
        self.conn.execute(
            "UPDATE lamps SET last_fcnt=?, last_seen_s=?, fw_version=? WHERE lamp_id=?",
            (lamp.last_fcnt, lamp.last_seen_s, lamp.fw_version, lamp.lamp_id),
        )

    def save_progress_many(self, lamps: list[Lamp]) -> None:
        self.conn.executemany(
            "UPDATE lamps SET last_fcnt=?, last_seen_s=?, fw_version=? WHERE lamp_id=?",
            [(lamp.last_fcnt, lamp.last_seen_s, lamp.fw_version, lamp.lamp_id) for lamp in lamps],
        )


def default_keystore(conn: sqlite3.Connection) -> KeyStore:
    """The master key beside the database file (Settings.master_key_path's default), or an ephemeral
    one for an in-memory database."""
    path = db.database_path(conn)
    if not path:
        return KeyStore.ephemeral()
    return KeyStore.open(Path(path + ".masterkey"))


__all__ = ["KINDS", "Lamp", "Registry", "RegistryError", "KeyStoreError", "new_key", "validate"]
