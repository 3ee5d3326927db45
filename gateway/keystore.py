"""Device keys at rest: sealed with AES-256-GCM under a gateway master key kept in a 0600 file.

A copy of the database (a backup, a laptop export) is useless without the master key file, and a sealed
key moved onto another lamp's row fails to open: the lamp ID is the associated data. Keys in clear exist
only in the gateway's memory. Nothing here logs or prints a key; errors name the lamp and the file.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"LK1"
NONCE_LEN = 12
MASTER_LEN = 32
KEY_LEN = 16


class KeyStoreError(Exception):
    pass


class KeyStore:
    def __init__(self, master: bytes, path: Path | None = None):
        if len(master) != MASTER_LEN:
            raise KeyStoreError(f"master key must be {MASTER_LEN} bytes")
        self._aead = AESGCM(master)
        self.path = path
        # Names this master key without revealing it: the database records it with the first sealed key, so
        # a registry opened with another key file fails at once instead of sealing new lamps under a key the
        # gateway does not hold (gateway/registry.py).
        self.fingerprint = hmac.new(master, b"lampfleet master key check v1", hashlib.sha256).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"KeyStore({self.path or 'in memory'})"

    @classmethod
    def open(cls, path: Path | str, create: bool = True) -> "KeyStore":
        """Load the master key file, creating it (mode 0600) when missing and `create` is set."""
        path = Path(path)
        if not path.exists():
            if not create:
                raise KeyStoreError(f"master key file {path} not found: run the gateway once to create it, "
                                    "or restore it from your backup")
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # another process created it first: read theirs
            except OSError as e:  # e.g. /etc read-only to the service (systemd ProtectSystem=strict)
                raise KeyStoreError(f"cannot create the master key file {path} ({e.strerror}): create it once "
                                    "as the gateway's user (docs/operations.md, Configuration), or set "
                                    "master_key_file") from None
            else:
                with os.fdopen(fd, "wb") as f:
                    f.write(secrets.token_bytes(MASTER_LEN))
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise KeyStoreError(f"master key file {path} is readable by other users (mode {mode:o}): "
                                f"chmod 600 {path}")
        master = path.read_bytes()
        if len(master) != MASTER_LEN:
            raise KeyStoreError(f"master key file {path} is damaged ({len(master)} bytes, expected {MASTER_LEN})")
        return cls(master, path)

    @classmethod
    def ephemeral(cls) -> "KeyStore":
        """For in-memory databases (tests, benchmarks): the key lives and dies with the process."""
        return cls(secrets.token_bytes(MASTER_LEN))

    def seal(self, lamp_id: str, key: bytes) -> bytes:
        if len(key) != KEY_LEN:
            raise KeyStoreError(f"{lamp_id}: device key must be {KEY_LEN} bytes")
        nonce = secrets.token_bytes(NONCE_LEN)
        return MAGIC + nonce + self._aead.encrypt(nonce, bytes(key), lamp_id.encode())

    def unseal(self, lamp_id: str, blob: bytes) -> bytes:
        blob = bytes(blob)
        if not blob.startswith(MAGIC):
            raise KeyStoreError(f"{lamp_id}: stored key is not sealed")
        nonce, sealed = blob[len(MAGIC):len(MAGIC) + NONCE_LEN], blob[len(MAGIC) + NONCE_LEN:]
        try:
            return self._aead.decrypt(nonce, sealed, lamp_id.encode())
        except InvalidTag:
            where = f" with {self.path}" if self.path else ""
            raise KeyStoreError(f"{lamp_id}: stored key cannot be opened{where}: wrong master key file, "
                                "or the row was copied from another lamp") from None

    @staticmethod
    def is_sealed(blob: bytes) -> bool:
        return bytes(blob).startswith(MAGIC)
