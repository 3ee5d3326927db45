"""Gateway settings: TOML file, then environment overrides (LAMPFLEET_<SECTION>_<KEY>=value)."""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path


class SettingsError(ValueError):
    pass


@dataclass
class Settings:
    broker_url: str = "mqtt://127.0.0.1:1883"
    client_id: str = "lampfleet-gateway"
    topic_prefix: str = "lampfleet"
    database: Path = Path("var/lampfleet.sqlite3")
    # "wall": now is the gateway's clock. "device": now is the newest device time seen in frames, for
    # emulated fleets running on accelerated virtual time.
    clock: str = "wall"
    # Detection thresholds (docs/alert-rules.md).
    raise_after: int = 2
    clear_after: int = 2
    silent_after_intervals: float = 3.0
    log_level: str = "INFO"
    extra: dict = field(default_factory=dict)

    @property
    def broker_host_port(self) -> tuple[str, int]:
        url = self.broker_url
        if not url.startswith("mqtt://"):
            raise SettingsError(f"broker_url {url!r}: only mqtt://host:port is supported")
        host, _, port = url[len("mqtt://"):].rstrip("/").partition(":")
        try:
            return host or "127.0.0.1", int(port or 1883)
        except ValueError:
            raise SettingsError(f"broker_url {url!r}: port must be a number") from None


def load(path: Path | None = None, env: dict[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    raw: dict = {}
    if path is not None:
        try:
            raw = tomllib.loads(Path(path).read_text())
        except FileNotFoundError:
            raise SettingsError(f"config file {path} not found") from None
        except tomllib.TOMLDecodeError as e:
            raise SettingsError(f"config file {path}: {e}") from None
    flat = dict(raw.get("gateway", {}))
    known = {f.name: f for f in fields(Settings)}
    for key, value in env.items():
        if key.startswith("LAMPFLEET_GATEWAY_"):
            flat[key[len("LAMPFLEET_GATEWAY_"):].lower()] = value
    settings = Settings()
    for key, value in flat.items():
        if key not in known or key == "extra":
            raise SettingsError(f"unknown gateway setting {key!r} (known: {', '.join(sorted(known))})")
        current = getattr(settings, key)
        try:
            if isinstance(current, Path):
                value = Path(value)
            elif isinstance(current, bool):
                value = str(value).lower() in ("1", "true", "yes")
            elif isinstance(current, (int, float)) and not isinstance(value, (int, float)):
                value = type(current)(value)
        except ValueError:
            raise SettingsError(f"setting {key}: {value!r} is not a {type(current).__name__}") from None
        setattr(settings, key, value)
    if settings.clock not in ("wall", "device"):
        raise SettingsError("setting clock must be 'wall' or 'device'")
    settings.broker_host_port  # validate early
    return settings
