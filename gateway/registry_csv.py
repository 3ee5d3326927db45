"""CSV import and export of the registry.

Export never writes keys (`keys=True` is for lamps whose keys were made elsewhere: the emulator's). Import
takes the same columns; `key_hex` is accepted only for lamps that provisioning created elsewhere (treat
such a file as a secret and delete it after import). A row for a registered lamp without `key_hex` updates
its metadata and keeps its key. The whole file is checked before anything is written, and applied in one
transaction: a bad line changes nothing.

`last_fcnt` (the highest frame counter accepted) is exported and imported, so that a registry restored from
its export still refuses replays and still finds the counter's upper bits of a lamp past 65,535 frames. It is
taken for lamps the file adds, and for registered lamps that have none; a re-keyed lamp starts from none.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import TextIO

from gateway.registry import METADATA, Lamp, Registry, RegistryError, validate

EXPORT_COLUMNS = ("lamp_id", "devaddr", "kind", "site", "district", "crew", "lat", "lon", "install_date",
                  "profile", "fw_version", "led_max_ma", "status_interval_s", "last_seen_s", "last_fcnt")
IMPORT_COLUMNS = set(EXPORT_COLUMNS) | {"key_hex"}
REQUIRED = ("lamp_id", "devaddr")


def export_csv(lamps: Iterable[Lamp], out: TextIO, keys: bool = False) -> int:
    """`keys`: a key_hex column too, for lamps created elsewhere (emulated lamps: `lampfleet emulate
    --export-registry`); `lampfleet lamps export` never sets it."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS + (("key_hex",) if keys else ()))
    n = 0
    for lamp in lamps:
        row = []
        for col in EXPORT_COLUMNS:
            value = getattr(lamp, col)
            if col == "devaddr":
                value = f"0x{value:06X}"
            row.append("" if value is None else value)
        writer.writerow(row + ([lamp.key.hex()] if keys else []))
        n += 1
    return n


def _parse_value(col: str, text: str, line: int) -> object:
    text = text.strip()
    try:
        if col == "devaddr":
            return int(text, 0)
        if col in ("lat", "lon"):
            return float(text) if text else None
        if col in ("led_max_ma", "status_interval_s"):
            return int(text)
        if col == "last_fcnt":
            if not text:
                return None
            value = int(text)
            if not 0 <= value <= 0xFFFFFFFF:
                raise ValueError
            return value
        if col == "key_hex":
            key = bytes.fromhex(text)
            if len(key) != 16:
                raise ValueError
            return key
    except ValueError:
        what = {"key_hex": "32 hexadecimal digits", "last_fcnt": "a frame counter 0..4294967295 or empty"}.get(
            col, "a number")
        raise RegistryError(f"line {line}: column {col} must be {what}") from None
    return text


def parse_csv(src: TextIO) -> list[tuple[int, dict]]:
    """Rows as (line number, {column: value}) with only the columns present in the file. A binary or
    non-UTF-8 file raises RegistryError, not a traceback."""
    try:
        return _parse_csv(src)
    except (UnicodeDecodeError, csv.Error) as e:
        raise RegistryError(f"not a UTF-8 text CSV ({e.__class__.__name__}: {str(e)[:80]}): export it again "
                            "with `lampfleet lamps export`, or save it as CSV UTF-8") from None


def _parse_csv(src: TextIO) -> list[tuple[int, dict]]:
    reader = csv.DictReader(src)
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        raise RegistryError("empty CSV file: the first line must name the columns")
    unknown = set(header) - IMPORT_COLUMNS
    if unknown:
        raise RegistryError(f"unknown column(s) {', '.join(sorted(unknown))} "
                            f"(known: {', '.join(EXPORT_COLUMNS)}, key_hex)")
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise RegistryError(f"missing column(s) {', '.join(missing)}")
    rows = []
    for raw in reader:
        line = reader.line_num
        values = {}
        for col, text in raw.items():
            if col is None:
                raise RegistryError(f"line {line}: more values than columns")
            col = col.strip()
            if text and "\x00" in text:  # valid UTF-8 but binary all the same (Python's csv takes NUL bytes)
                raise csv.Error(f"line {line}: a NUL byte")
            if col in ("last_seen_s", "fw_version"):
                continue  # reported by the lamps themselves, never imported
            values[col] = _parse_value(col, text or "", line)
        rows.append((line, values))
    return rows


def import_csv(registry: Registry, src: TextIO) -> dict[str, int]:
    """Returns {"added", "updated", "rekeyed"} counts. Raises RegistryError naming the line on any problem."""
    whole: list[Lamp] = []
    metadata: list[Lamp] = []
    counts = {"added": 0, "updated": 0, "rekeyed": 0}
    ids: set[str] = set()
    for line, values in parse_csv(src):
        lamp_id = str(values["lamp_id"])
        try:
            candidate, what = _row_to_lamp(registry, lamp_id, values, ids)
            validate(candidate)
        except (RegistryError, TypeError) as e:
            msg = str(e)
            raise RegistryError(f"line {line}: {msg if msg.startswith(lamp_id) else f'{lamp_id}: {msg}'}") from None
        if what == "restored":  # a registered lamp that had lost its counter: written whole, with it
            whole.append(candidate)
            what = "updated"
        else:
            (metadata if what == "updated" else whole).append(candidate)
        counts[what] += 1
    registry.add_many(whole, metadata)
    return counts


def _row_to_lamp(registry: Registry, lamp_id: str, values: dict, ids: set[str]) -> tuple[Lamp, str]:
    if lamp_id in ids:
        raise RegistryError("appears twice in the file")
    ids.add(lamp_id)
    existing = registry.by_id(lamp_id)
    meta = {k: v for k, v in values.items() if k in METADATA}
    key = values.get("key_hex")
    if existing is None:
        if key is None:
            raise RegistryError("not registered and the file has no key_hex: register new lamps by "
                                "provisioning them (or `lampfleet lamps add`)")
        return Lamp(lamp_id, int(values["devaddr"]), key, last_fcnt=values.get("last_fcnt"), **meta), "added"
    if int(values["devaddr"]) != existing.devaddr:
        raise RegistryError(f"registered with device address {existing.devaddr:#08x}; changing it needs "
                            "re-provisioning")
    if key is not None and key != existing.key:
        # A new key means a re-provisioned device: its frame counter starts again.
        return Lamp(**{**existing.public(), **meta, "key": key, "last_fcnt": None, "last_seen_s": None}), "rekeyed"
    if existing.last_fcnt is None and values.get("last_fcnt") is not None:
        return Lamp(**{**existing.public(), **meta, "key": existing.key, "last_fcnt": values["last_fcnt"]}), "restored"
    return Lamp(**{**existing.public(), **meta, "key": existing.key}), "updated"


def export_text(registry: Registry) -> str:
    out = io.StringIO()
    export_csv(registry.all(), out)
    return out.getvalue()
