"""New lamp keys that no registry received yet: kept sealed for the gateway, and a warning until registered.

When `lampfleet flash` / `provision` makes a key and no registry is reachable ($LAMPFLEET_CONFIG unset),
the key must not exist on the lamp only. With the gateway's public key on the laptop
($LAMPFLEET_PUBKEY_FILE, default ~/.config/lampfleet/gateway-key.pub, from `lampfleet lamps
export-pubkey`), the key is sealed to it (gateway/sealed_keys/seal.py) in the pending folder
($LAMPFLEET_PENDING_KEYS, default ~/.local/share/lampfleet/pending-keys/) as <lamp>.lfkey: only that
gateway can open it, with `lampfleet lamps import`. Without the public key, a <lamp>.unregistered note (no
key in it) records that the lamp needs a re-key where the key can be kept.

Either file makes every later flash, provision and `device info` warn about that lamp, so a second run
that finds the lamp "up to date" still says it is not registered. A file goes away when a reachable
registry receives the lamp's key, or holds the same key (compared through `key_check`, never the key).
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from gateway.sealed_keys.seal import SUFFIX, key_check, parse_public_key, read_header, seal, write_private

NOTE_SUFFIX = ".unregistered"


def pending_dir() -> Path:
    if os.environ.get("LAMPFLEET_PENDING_KEYS"):
        return Path(os.environ["LAMPFLEET_PENDING_KEYS"])
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "lampfleet" / "pending-keys"


def pubkey_path() -> Path:
    if os.environ.get("LAMPFLEET_PUBKEY_FILE"):
        return Path(os.environ["LAMPFLEET_PUBKEY_FILE"])
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "lampfleet" / "gateway-key.pub"


@dataclass
class Pending:
    lamp_id: str
    path: Path
    sealed: bool  # True: a .lfkey for the gateway; False: a note, the key is on the lamp only
    key_check: str


def keep(lamp_id: str, devaddr: int, key: bytes, site: str = "", profile: str = "street") -> Pending:
    """Record a key no registry received: sealed for the gateway if its public key is here, else a note."""
    folder = pending_dir()
    now = int(time.time())
    pub = pubkey_path()
    if pub.exists():
        data = seal(parse_public_key(pub.read_text()), lamp_id, devaddr, key, site=site, profile=profile,
                    sealed_s=now)
        path = folder / (lamp_id + SUFFIX)
        write_private(path, data)
        (folder / (lamp_id + NOTE_SUFFIX)).unlink(missing_ok=True)
        return Pending(lamp_id, path, True, key_check(key))
    note = {"format": "lampfleet-unregistered/1", "lamp_id": lamp_id, "devaddr": devaddr,
            "key_check": key_check(key), "since_s": now}
    path = folder / (lamp_id + NOTE_SUFFIX)
    write_private(path, (json.dumps(note) + "\n").encode())
    (folder / (lamp_id + SUFFIX)).unlink(missing_ok=True)  # an older sealed key is no longer the lamp's
    return Pending(lamp_id, path, False, note["key_check"])


def clear(lamp_id: str) -> None:
    for suffix in (SUFFIX, NOTE_SUFFIX):
        (pending_dir() / (lamp_id + suffix)).unlink(missing_ok=True)


def pending() -> list[Pending]:
    folder = pending_dir()
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.iterdir()):
        if path.suffix not in (SUFFIX, NOTE_SUFFIX):
            continue
        try:
            data = path.read_bytes()
            check = read_header(data)["key_check"] if path.suffix == SUFFIX else json.loads(data)["key_check"]
        except (OSError, ValueError, KeyError, TypeError):
            check = ""  # unreadable: still pending, never silently dropped
        found.append(Pending(path.name[: -len(path.suffix)], path, path.suffix == SUFFIX, str(check)))
    return found


def settle(registered: dict[str, str]) -> list[str]:
    """Drop the pending entries whose lamp the registry holds with the same key (lamp id -> key_check of
    the registry's key); returns the lamp ids settled."""
    done = []
    for p in pending():
        if p.key_check and registered.get(p.lamp_id) == p.key_check:
            clear(p.lamp_id)
            done.append(p.lamp_id)
    return done


def warning(entries: list[Pending]) -> str:
    """Two lines per lamp, or two in all for a bench's worth: what is wrong and what to do."""
    if len(entries) > 3:
        names = ", ".join(p.lamp_id for p in entries[:5]) + (", ..." if len(entries) > 5 else "")
        return (f"lampfleet: warning: {len(entries)} lamps are not registered yet ({names}); their keys wait in "
                f"{pending_dir()}\n  hint: copy the .lfkey files to the gateway, run `lampfleet lamps import "
                "FOLDER` there, then delete them here (a .unregistered lamp needs a re-key: --new-key)")
    lines = []
    for p in entries:
        if p.sealed:
            lines.append(f"lampfleet: warning: {p.lamp_id} is not registered yet: its key waits, sealed for the "
                         f"gateway, in {p.path}\n  hint: copy that file to the gateway and run `lampfleet lamps "
                         "import FILE` there, then delete it here")
        else:
            lines.append(f"lampfleet: warning: {p.lamp_id} has a new key that no registry received (it is on the "
                         f"lamp only)\n  hint: re-key it with the registry reachable (LAMPFLEET_CONFIG) or with the "
                         f"gateway's public key in {pubkey_path()}: lampfleet provision --new-key ...")
    return "\n".join(lines)
