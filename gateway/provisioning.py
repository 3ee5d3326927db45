"""The registry's side of provisioning: `tools` hands every new device key to `registry_hook()`.

`lampfleet flash` / `lampfleet provision` generate a lamp's key on the laptop and call
`on_key(lamp_id, devaddr, key)` before switching the lamp's config (tools/provision.py), so the gateway
knows the key before any frame uses it. Wire it once: `tools.cli.KEY_HOOK = registry_hook()`.
A new key for a known lamp means a re-provisioned device: its frame counter starts again at 0, so the
registry forgets the old counter. The key is sealed at rest like any other and never printed.
`keyed_lamp` is that rule, shared with the import of sealed key files (gateway/sealed_keys/importer.py);
`registered_key_checks` lets the tool see which pending keys the registry now holds.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from gateway import db
from gateway.keystore import KeyStore
from gateway.registry import Lamp, Registry
from gateway.settings import Settings, load

OnKey = Callable[[str, int, bytes], None]


def registry_hook(settings: Settings | None = None, **defaults: object) -> OnKey:
    """An on_key that registers (or re-keys) the lamp. `settings` default: $LAMPFLEET_CONFIG, else the
    defaults; `defaults` fill new lamps' fields (kind, site, crew...)."""

    def on_key(lamp_id: str, devaddr: int, key: bytes) -> None:
        s = _settings(settings)
        conn = db.connect(s.database)
        try:
            registry = Registry(conn, KeyStore.open(s.master_key_path))
            lamp = keyed_lamp(registry, lamp_id, devaddr, key, **defaults)
            if lamp is not None:
                registry.add(lamp)
        finally:
            conn.close()

    return on_key


def _settings(settings: Settings | None) -> Settings:
    return settings or load(Path(os.environ["LAMPFLEET_CONFIG"]) if os.environ.get("LAMPFLEET_CONFIG") else None)


def keyed_lamp(registry: Registry, lamp_id: str, devaddr: int, key: bytes, **defaults: object) -> Lamp | None:
    """The registry entry that gives `lamp_id` this key and address (None: it has them already). A known
    lamp keeps its metadata and starts its frame counter again; a new one takes `defaults`."""
    old = registry.by_id(lamp_id)
    if old is not None and old.key == key and old.devaddr == devaddr:
        return None  # re-provisioning that kept the key: nothing changes
    if old is not None:
        return Lamp(**{**old.public(), "devaddr": devaddr, "key": key, "last_fcnt": None, "last_seen_s": None})
    return Lamp(lamp_id, devaddr, key, **defaults)  # type: ignore[arg-type]


def registered_key_checks(lamp_ids: list[str], settings: Settings | None = None) -> dict[str, str]:
    """lamp id -> key_check (gateway/sealed_keys/seal.py) of the key the registry holds, for those registered: lets
    the technician's tool see that a pending key arrived without reading any key out of the registry."""
    from gateway.sealed_keys.seal import key_check

    s = _settings(settings)
    conn = db.connect(s.database)
    try:
        registry = Registry(conn, KeyStore.open(s.master_key_path, create=False))
        return {lp.lamp_id: key_check(lp.key) for lp in map(registry.by_id, lamp_ids) if lp is not None}
    finally:
        conn.close()
