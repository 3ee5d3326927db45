"""The registry's side of provisioning: `tools` hands every new device key to `registry_hook()`.

`lampfleet flash` / `lampfleet provision` generate a lamp's key on the laptop and call
`on_key(lamp_id, devaddr, key)` before switching the lamp's config (tools/provision.py), so the gateway
knows the key before any frame uses it. Wire it once: `tools.cli.KEY_HOOK = registry_hook()`.
A new key for a known lamp means a re-provisioned device: its frame counter starts again at 0, so the
registry forgets the old counter. The key is sealed at rest like any other and never printed.
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
        s = settings or load(Path(os.environ["LAMPFLEET_CONFIG"]) if os.environ.get("LAMPFLEET_CONFIG") else None)
        conn = db.connect(s.database)
        try:
            registry = Registry(conn, KeyStore.open(s.master_key_path))
            old = registry.by_id(lamp_id)
            if old is not None and old.key == key and old.devaddr == devaddr:
                return  # re-provisioning that kept the key: nothing changes
            if old is not None:
                lamp = Lamp(**{**old.public(), "devaddr": devaddr, "key": key, "last_fcnt": None,
                               "last_seen_s": None})
            else:
                lamp = Lamp(lamp_id, devaddr, key, **defaults)  # type: ignore[arg-type]
            registry.add(lamp)
        finally:
            conn.close()

    return on_key
