"""Provisioning: the lamp's /config.json (identity, per-device key, site, profile, settings).

    {"lamp_id": "BGI-0042", "devaddr": 4660, "key_hex": "<32 hex>", "site": "bangui-5e",
     "profile": "street", "settings": {...}}

The key is 128 random bits from `secrets`, generated on the laptop, written to the lamp and handed to
`on_key(lamp_id, devaddr, key_bytes)` (the gateway registry's hook) before the lamp's config is switched,
so the gateway knows a key before any frame uses it. It is never printed, logged or put in a report:
`redacted()` is what may be shown.

Re-provisioning the same lamp keeps its key and devaddr (so a second run changes nothing); a new lamp_id
or `new_key=True` makes a new key. A run interrupted after staging its config reuses the staged key,
so an on_key that already ran is not contradicted by a second, different key.

MQTT (lamps on Wi-Fi or cellular): a "mqtt" object in the settings (`--settings`) becomes the config's
"mqtt" section (firmware/hal/mqtt_config.py): {"server", "wifi_ssid", "wifi_password", "ca_file", "port",
"tls"}. Provisioning adds the lamp's MQTT login, user = lamp id and a password derived from its key
(gateway/link/acl.py `lamp_password`, what `lampfleet broker-config` puts in the broker's passwd), and
the broker's CA from ca_file, as DER in base64. A lamp re-provisioned without "mqtt" keeps its section
(with the password of its current key). TLS is the default; "tls": false only for loopback labs.

Writing it is tools/flash.py's job (`flash(..., code=False)` = provisioning only, as
`tools.device.provision()` and `lampfleet provision` do), in the same atomic switch as the code.
"""
from __future__ import annotations

import base64
import json
import re
import secrets
import ssl
from dataclasses import dataclass, field
from typing import Any, Callable

from tools.errors import ToolError

KEY_BYTES = 16
PROFILES = ("street", "kit")
CONFIG_PATH = "/config.json"
LAMP_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")

OnKey = Callable[[str, int, bytes], None]


@dataclass
class Provisioning:
    lamp_id: str
    site: str = ""
    profile: str = "street"
    settings: dict[str, Any] = field(default_factory=dict)
    devaddr: int | None = None  # None: keep the lamp's, or draw a random one for a new lamp
    new_key: bool = False

    def validate(self) -> None:
        if not LAMP_ID.match(self.lamp_id):
            raise ToolError(f"invalid lamp id {self.lamp_id!r}",
                            "use letters, digits, '-', '_' or '.', at most 32 characters (e.g. BGI-0042)",
                            "bad-argument")
        if self.profile not in PROFILES:
            raise ToolError(f"unknown profile {self.profile!r}", f"choose one of: {', '.join(PROFILES)}",
                            "bad-argument")
        if self.devaddr is not None and not 0 < self.devaddr < 1 << 24:
            raise ToolError(f"devaddr {self.devaddr} is not a 24-bit address", "use 1 .. 16777215",
                            "bad-argument")


def new_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def new_devaddr() -> int:
    return 1 + secrets.randbelow((1 << 24) - 2)


def _usable(cfg: Any, lamp_id: str) -> bool:
    return (isinstance(cfg, dict) and cfg.get("lamp_id") == lamp_id and isinstance(cfg.get("key_hex"), str)
            and len(cfg["key_hex"]) == 2 * KEY_BYTES and isinstance(cfg.get("devaddr"), int))


def build_config(prov: Provisioning, live: Any, staged: Any = None) -> tuple[dict[str, Any], bool]:
    """The config to write, and whether its key differs from the one the lamp uses now.

    `live` is the lamp's /config.json, `staged` one an interrupted run left in the staging area.
    """
    prov.validate()
    live_ok, staged_ok = _usable(live, prov.lamp_id), _usable(staged, prov.lamp_id)
    if prov.new_key:
        # a resumed re-key reuses the key it staged (and may already have registered)
        resumed = staged_ok and not (live_ok and staged["key_hex"] == live["key_hex"])
        key_hex = staged["key_hex"] if resumed else new_key().hex()
    elif live_ok or staged_ok:
        key_hex = (live if live_ok else staged)["key_hex"]
    else:
        key_hex = new_key().hex()
    same = live if live_ok else (staged if staged_ok else None)
    devaddr = prov.devaddr if prov.devaddr is not None else (same["devaddr"] if same else new_devaddr())
    settings = dict(prov.settings)
    mqtt = settings.pop("mqtt", None)
    if mqtt is None and same is not None and isinstance(same.get("mqtt"), dict):
        mqtt = same["mqtt"]
    cfg = {"lamp_id": prov.lamp_id, "devaddr": devaddr, "key_hex": key_hex, "site": prov.site,
           "profile": prov.profile, "settings": settings}
    if mqtt is not None:
        cfg["mqtt"] = mqtt_section(prov.lamp_id, bytes.fromhex(key_hex), mqtt)
    key_changed = not (isinstance(live, dict) and live.get("key_hex") == key_hex)
    return cfg, key_changed


def mqtt_section(lamp_id: str, key: bytes, given: Any) -> dict[str, Any]:
    """The config's "mqtt" section: the technician's connection settings, the lamp's login, the CA."""
    from gateway.link.acl import lamp_password

    if not isinstance(given, dict) or not given.get("server"):
        raise ToolError("settings mqtt needs at least a \"server\" (the broker's host name or IP)",
                        'e.g. --settings \'{"mqtt": {"server": "10.0.0.2", "wifi_ssid": "...", '
                        '"ca_file": "ca.crt"}}\'', "bad-argument")
    section = {k: v for k, v in given.items() if k != "ca_file"}
    section["user"], section["password"] = lamp_id, lamp_password(key)
    if given.get("ca_file"):
        try:
            text = open(given["ca_file"]).read()
            der = ssl.PEM_cert_to_DER_cert(text) if "-----BEGIN" in text else open(given["ca_file"], "rb").read()
        except (OSError, ValueError, UnicodeDecodeError) as e:
            raise ToolError(f"cannot read the broker's CA {given['ca_file']}: {e}",
                            "give the ca.crt that `lampfleet broker-config --make-ca` wrote", "bad-argument") from None
        section["ca"] = base64.b64encode(der).decode()
    if section.get("tls", True) and not section.get("ca"):
        raise ToolError("settings mqtt: TLS needs the broker's CA",
                        'add "ca_file": "/path/to/ca.crt" (or "tls": false on a loopback lab only)', "bad-argument")
    return section


def config_bytes(cfg: dict[str, Any]) -> bytes:
    return json.dumps(cfg, sort_keys=True, separators=(",", ":")).encode()


def redacted(cfg: Any) -> Any:
    """A config safe to print: the key replaced."""
    if not isinstance(cfg, dict):
        return cfg
    out = dict(cfg)
    if "key_hex" in out:
        out["key_hex"] = "<redacted>"
    if isinstance(out.get("mqtt"), dict):
        out["mqtt"] = {k: "<redacted>" if k in ("password", "wifi_password") else v for k, v in out["mqtt"].items()}
    return out
