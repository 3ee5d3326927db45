"""`lampfleet lamps import FILE.lfkey ...`: register keys that technicians' tools sealed for this gateway.

A sealed file (gateway/sealed_keys/seal.py) names the lamp, its device address, site and profile in clear and
holds its key encrypted to this gateway's export key. Import opens every file first and writes nothing
unless all open (all or nothing, like the CSV import); for a lamp named twice, the newest seal wins. A
known lamp with a different key is re-keyed (its frame counter starts again, as at re-provisioning);
one that already has the key is left alone, so importing the same file twice changes nothing.
"""
from __future__ import annotations

from pathlib import Path

import click

from gateway.sealed_keys.seal import SUFFIX, KeyExportError, gateway_private_key, open_sealed
from gateway.provisioning import keyed_lamp
from gateway.registry import Lamp, Registry, RegistryError
from gateway.settings import Settings


def is_key_import(path: Path) -> bool:
    if path.is_dir() or path.suffix == SUFFIX:
        return True
    try:
        with open(path, "rb") as f:
            head = f.read(200)
    except OSError:
        return False
    return b'"lampfleet-sealed-key/' in head


def sealed_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            found = sorted(p.glob("*" + SUFFIX))
            if not found:
                raise click.ClickException(f"{p}: no {SUFFIX} files in this folder")
            files += found
        else:
            files.append(p)
    return files


def import_sealed(registry: Registry, settings: Settings, files: list[Path]) -> dict[str, int]:
    try:
        private = gateway_private_key(settings.master_key_path)
    except Exception as e:  # noqa: BLE001 - KeyStoreError: missing or unreadable master key, said plainly
        raise click.ClickException(str(e)) from None
    newest: dict[str, tuple[int, Lamp | None]] = {}
    counts = {"added": 0, "rekeyed": 0, "unchanged": 0}
    for path in files:
        try:
            data = path.read_bytes()
            sealed = open_sealed(private, data)
        except (OSError, KeyExportError) as e:
            raise click.ClickException(f"{path}: {e}; nothing was imported") from None
        if sealed.lamp_id in newest and newest[sealed.lamp_id][0] > sealed.sealed_s:
            continue
        kind = sealed.profile if sealed.profile in ("street", "kit") else "street"
        lamp = keyed_lamp(registry, sealed.lamp_id, sealed.devaddr, sealed.key, kind=kind, site=sealed.site)
        newest[sealed.lamp_id] = (sealed.sealed_s, lamp)
    changes = [lamp for _t, lamp in newest.values() if lamp is not None]
    for lamp_id, (_t, lamp) in newest.items():
        if lamp is None:
            counts["unchanged"] += 1
        else:
            counts["rekeyed" if registry.by_id(lamp_id) is not None else "added"] += 1
    try:
        registry.add_many(changes)
    except RegistryError as e:
        raise click.ClickException(f"{e}; nothing was imported") from None
    return counts
