"""Device keys sealed for the gateway, for lamps provisioned where no registry is reachable.

The gateway has an X25519 key pair derived from its master key (HKDF), so it needs no storage of its own
and the master key's backup covers it. `lampfleet lamps export-pubkey` prints the public half; the
technician's laptop keeps it (it is not a secret) and seals every new key it cannot register to it:

    file = seal(public_key, "BGI-0042", devaddr, key, site="bangui-5e", profile="street")
    lamp = open_sealed(private_key, file)              # at the gateway: `lampfleet lamps import FILE`

Sealing is ECIES-like: a fresh ephemeral X25519 key per file, HKDF-SHA256 of the shared secret, and
AES-256-GCM over the 16-byte key with every other field of the file as associated data (a changed lamp
id, address or site makes the file fail to open). The laptop keeps no private key, so a stolen laptop
cannot read the keys back. `key_check` (a truncated hash of the key, which says nothing about a random
128-bit key) lets the laptop see that the registry holds the same key without reading it.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

FORMAT = "lampfleet-sealed-key/1"
PUBKEY_TAG = "lampfleet-x25519"
SUFFIX = ".lfkey"
KEY_LEN = 16
_INFO = b"lampfleet sealed device key v1"
_RAW = serialization.Encoding.Raw, serialization.PublicFormat.Raw


class KeyExportError(ValueError):
    pass


@dataclass
class SealedKey:
    lamp_id: str
    devaddr: int
    key: bytes = field(repr=False)
    site: str = ""
    profile: str = "street"
    sealed_s: int = 0


def key_check(key: bytes) -> str:
    return hashlib.sha256(b"lampfleet key check\0" + key).hexdigest()[:16]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def gateway_private_key(master_key_path: Path | str) -> X25519PrivateKey:
    """The gateway's export key, derived from its master key file (read by KeyStore.open's checks first)."""
    from gateway.keystore import KeyStore

    store = KeyStore.open(master_key_path, create=False)
    assert store.path is not None
    master = store.path.read_bytes()
    seed = HKDF(hashes.SHA256(), 32, salt=None, info=b"lampfleet key export x25519 v1").derive(master)
    return X25519PrivateKey.from_private_bytes(seed)


def fingerprint(public: X25519PublicKey) -> str:
    return hashlib.sha256(public.public_bytes(*_RAW)).hexdigest()[:16]


def public_key_text(private: X25519PrivateKey) -> str:
    pub = private.public_key()
    return f"{PUBKEY_TAG} {_b64(pub.public_bytes(*_RAW))} {fingerprint(pub)}\n"


def parse_public_key(text: str) -> X25519PublicKey:
    parts = text.split()
    try:
        if len(parts) < 2 or parts[0] != PUBKEY_TAG:
            raise ValueError
        return X25519PublicKey.from_public_bytes(_unb64(parts[1]))
    except ValueError:
        raise KeyExportError(f"not a gateway public key (expected '{PUBKEY_TAG} ...' from "
                             "`lampfleet lamps export-pubkey`)") from None


def _aead_key(shared: bytes, ephemeral: bytes, recipient: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt=ephemeral + recipient, info=_INFO).derive(shared)


def _header_bytes(header: dict) -> bytes:
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode()


def seal(public: X25519PublicKey, lamp_id: str, devaddr: int, key: bytes, *, site: str = "",
         profile: str = "street", sealed_s: int = 0) -> bytes:
    if len(key) != KEY_LEN:
        raise KeyExportError(f"a device key has {KEY_LEN} bytes")
    eph = X25519PrivateKey.generate()
    eph_raw, pub_raw = eph.public_key().public_bytes(*_RAW), public.public_bytes(*_RAW)
    header = {"format": FORMAT, "lamp_id": lamp_id, "devaddr": devaddr, "site": site, "profile": profile,
              "sealed_s": sealed_s, "key_check": key_check(key), "recipient": fingerprint(public),
              "ephemeral": _b64(eph_raw), "nonce": _b64(secrets.token_bytes(12))}
    sealed = AESGCM(_aead_key(eph.exchange(public), eph_raw, pub_raw)).encrypt(
        _unb64(header["nonce"]), key, _header_bytes(header))
    return (json.dumps({**header, "sealed": _b64(sealed)}, indent=1) + "\n").encode()


def read_header(data: bytes) -> dict:
    """The file's clear fields (lamp id, address, key_check...), checked for shape; raises KeyExportError."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        doc = None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise KeyExportError(f"not a sealed key file ({FORMAT})")
    types = {"lamp_id": str, "devaddr": int, "site": str, "profile": str, "sealed_s": int, "key_check": str,
             "recipient": str, "ephemeral": str, "nonce": str, "sealed": str}
    for name, kind in types.items():
        if not isinstance(doc.get(name), kind) or isinstance(doc.get(name), bool):
            raise KeyExportError(f"sealed key file: field {name!r} is missing or not a {kind.__name__}")
    return doc


def open_sealed(private: X25519PrivateKey, data: bytes) -> SealedKey:
    doc = read_header(data)
    header = {k: v for k, v in doc.items() if k != "sealed"}
    mine = fingerprint(private.public_key())
    if doc["recipient"] != mine:
        raise KeyExportError(f"{doc['lamp_id']}: sealed for another gateway (key {doc['recipient']}, this "
                             f"gateway's is {mine}): import it there, or re-key the lamp")
    try:
        eph = X25519PublicKey.from_public_bytes(_unb64(doc["ephemeral"]))
        shared = private.exchange(eph)
        aead_key = _aead_key(shared, _unb64(doc["ephemeral"]), private.public_key().public_bytes(*_RAW))
        key = AESGCM(aead_key).decrypt(_unb64(doc["nonce"]), _unb64(doc["sealed"]), _header_bytes(header))
    except (InvalidTag, ValueError):
        raise KeyExportError(f"{doc['lamp_id']}: the sealed key file is damaged or was altered") from None
    if len(key) != KEY_LEN or key_check(key) != doc["key_check"]:
        raise KeyExportError(f"{doc['lamp_id']}: the sealed key file is damaged")
    return SealedKey(doc["lamp_id"], doc["devaddr"], key, doc["site"], doc["profile"], doc["sealed_s"])


def write_private(path: Path, data: bytes) -> None:
    """Write `data` to `path` readable by its owner only, atomically (a crash leaves the old file or none)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
