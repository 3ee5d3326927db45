"""Gateway settings: a TOML file, then environment overrides.

    [gateway]   broker, database, clock, MQTT session, API, grace period (flat `Settings` fields)
    [detect]    detection thresholds (docs/alert-rules.md)
    [alerts]    grouping, repeat, escalation, language (Alertmanager-like, in the gateway's clock)
    [storage]   SQLite retention and daily downsampling
    [influx]    optional InfluxDB v2 output (url empty = off)
    [crews.NAME] urls = ["mailto://...", "tgram://..."], language = "fr", supervisor_urls = [...]

Environment: LAMPFLEET_<SECTION>_<KEY>=value, e.g. LAMPFLEET_GATEWAY_BROKER_URL, LAMPFLEET_ALERTS_GROUP_WAIT_S,
LAMPFLEET_INFLUX_TOKEN (secrets such as the InfluxDB token belong in the environment, not the file).
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any


class SettingsError(ValueError):
    pass


@dataclass
class DetectSettings:
    # Flap damping: raise after K bad observations, clear after M good ones.
    raise_after: int = 2
    clear_after: int = 2
    # communicationFailure: silent for k status intervals where loss_rate**k < silence_false_alarm, and
    # at least min_silent_intervals. 0.2**10 = 1e-7: a fleet of 1,000 lamps sends 4.3 M status frames a
    # month, so a healthy fleet at 20 % loss sees well under one false alarm a month.
    loss_rate: float = 0.2
    silence_false_alarm: float = 1e-7
    min_silent_intervals: int = 3
    # Silence is judged on the gateway's clock (when a lamp was last heard). A jump of that clock by more
    # than this between two readings (ticks, arrivals) is time the gateway did not listen (stopped,
    # suspended, clock stepped; with the device clock, a lamp whose clock is ahead): silence counts from
    # after it, as after a restart. The service reads its clock every second (device clock: every 5 device
    # minutes at most, plus the spacing of frames).
    clock_step_s: int = 1800
    # lampUnexpectedOn: LED drawing current while the panel sees daylight. A frame the firmware sent in
    # night mode counts only between 08:00 and 16:00 local time: a panel's voltage reads 8-13 V in the
    # first and last light (dusk under cloud, half an hour before sunrise), when the firmware rightly
    # keeps the lamp lit, and every lamp would be "on by day".
    day_pv_mv: int = 8000
    on_ratio_pct: int = 10
    # lampFailure / controlGearFailure from readings, relative to the commanded current.
    dark_ratio_pct: int = 10
    short_ratio_pct: int = 160
    # batteryLevelTooLow: this many load disconnects within the window.
    disconnects: int = 2
    disconnect_window_s: int = 7 * 86400
    # batteryDegraded: nightly capacity estimate below this share of the lamp's own best estimate.
    capacity_drop_pct: int = 70
    capacity_nights: int = 3
    # chargingFailure / lanternNotCharging: harvest below this share of the site's median on a day the
    # site's lamps harvested at least charging_min_mah.
    charging_ratio_pct: int = 20
    charging_min_mah: int = 500
    charging_min_peers: int = 2
    # panelDegraded (soiling, a cracked or shaded panel): charging in bulk at under panel_ratio_pct of
    # the current its site's lamps charge at in the same report interval (same sky), with the panel's
    # voltage there (a cut cable is chargingFailure), while they charge at panel_min_ma at least.
    panel_ratio_pct: int = 50
    panel_min_ma: int = 300
    # highTemperature: the battery temp_peer_delta_c hotter than its site's lamps at the same moment (hotter
    # than the weather explains) and above temp_max_c - temp_peer_delta_c (LiFePO4 stops charging at
    # temp_max_c = 45 C: the afternoon sun will take it there); with no site to compare, temp_peer_delta_c
    # above temp_max_c. A whole site hot together is weather, not a fault of one lamp.
    temp_max_c: int = 45
    temp_peer_delta_c: int = 10
    # sensorFailure: the battery voltage reads the same in this many status frames in a row while the
    # battery is discharging (a real battery's voltage falls).
    sensor_stuck_frames: int = 6
    # panelDegraded, highTemperature, sensorFailure resolve only once their condition has been absent for
    # this long (flap damping).
    clear_hold_off_s: int = 3600
    # deviceResetLoop: this many watchdog / brown-out boots within the window.
    boot_loop_count: int = 3
    boot_loop_window_s: int = 6 * 3600
    # theftSuspected: silent at night this many intervals after a tamper event within tamper_window_s.
    theft_silent_intervals: int = 2
    tamper_window_s: int = 6 * 3600
    # lanternUnused: a kit reporting but never switched on for this many days.
    unused_days: int = 7
    # authenticationFailures: this many MIC failures within auth_window_s of the gateway's clock, or
    # auth_in_a_row with no good frame between (a lamp with a wrong key); replayRefused: this many refused
    # replays within an hour (a wiped lamp). Defaults in gateway/link/lamp_guard.py.
    auth_failures: int = 20
    auth_window_s: int = 600
    auth_in_a_row: int = 6
    replay_alert: int = 3


@dataclass
class AlertSettings:
    group_wait_s: int = 30
    group_interval_s: int = 300
    repeat_interval_s: int = 4 * 3600
    escalate_after_s: int = 12 * 3600
    send_resolved: bool = True
    language: str = "fr"
    default_crew: str = "default"
    supervisor_urls: list[str] = field(default_factory=list)
    # Local time for messages and for "days" (Bangui: West Africa Time, UTC+1, no DST).
    utc_offset_s: int = 3600


@dataclass
class StorageSettings:
    raw_retention_days: int = 90
    downsample_every_s: int = 3600


@dataclass
class InfluxSettings:
    url: str = ""
    token: str = ""
    org: str = "lampfleet"
    bucket: str = "lampfleet"
    batch_size: int = 5000
    timeout_s: float = 10.0
    max_backoff_s: float = 60.0


@dataclass
class LinkSettings:
    """[link]: radio paths beside MQTT (docs/link.md). serial_ports: LoRa bridges on USB serial (give the
    /dev/serial/by-id/... paths); lorawan: "chirpstack" | "tts" | "" (off), its uplinks read from the same
    broker; lorawan_devices: DevEUI (hex) -> lamp id."""
    serial_ports: list[str] = field(default_factory=list)
    serial_baudrate: int = 115200
    lorawan: str = ""
    lorawan_devices: dict = field(default_factory=dict)


@dataclass
class Crew:
    name: str
    urls: list[str] = field(default_factory=list)
    language: str = ""
    supervisor_urls: list[str] = field(default_factory=list)


@dataclass
class Settings:
    broker_url: str = "mqtt://127.0.0.1:1883"  # mqtts://host:8883 for TLS (docs/operations.md, "mosquitto")
    client_id: str = "lampfleet-gateway"  # with mqtt_username, the client id IS the user name (broker-config)
    # MQTT login: the password from $LAMPFLEET_MQTT_PASSWORD, else the first line of mqtt_password_file;
    # mqtt_ca_file: the CA that signed the broker's certificate (mqtts://; empty: the system's CAs).
    mqtt_username: str = ""
    mqtt_password_file: str = ""
    mqtt_ca_file: str = ""
    mqtt_password: str = field(default="", repr=False)  # resolved by load(), never read from the TOML file
    topic_prefix: str = "lampfleet"
    database: Path = Path("var/lampfleet.sqlite3")
    # Master key that encrypts device keys at rest; empty = "master.key" beside the settings file (e.g.
    # /etc/lampfleet/master.key), away from the database and its backups (master_key_path).
    master_key_file: str = ""
    # "wall": now is the gateway's clock. "device": now is the newest device time seen in frames, for
    # emulated fleets running on accelerated virtual time.
    clock: str = "wall"
    # MQTT: protocol 5 lets the gateway hold up to receive_maximum unacknowledged messages (acked only
    # after the batch is committed); the broker keeps the session (and queued frames) this long.
    mqtt_protocol: int = 5
    receive_maximum: int = 2000
    session_expiry_s: int = 30 * 86400
    # After a restart: alerts are recorded but crews are not notified until this has passed.
    grace_s: int = 900
    # Loopback JSON API (0 = off; docs/operations.md "HTTP API"). Host names a request may name besides
    # loopback and api_host (a reverse proxy's public name): any other Host is refused (DNS rebinding).
    api_host: str = "127.0.0.1"
    api_port: int = 0
    api_allowed_hosts: list[str] = field(default_factory=list)
    # true: GET without a bearer token is allowed (the API listens on loopback only). Writes always need one.
    api_read_open: bool = False
    # The console and API over TLS (a PEM certificate and its key): then api_host may be any address the
    # crews' phones reach. console_https: a reverse proxy serves HTTPS in front (cookies marked Secure).
    tls_cert_file: str = ""
    tls_key_file: str = ""
    console_https: bool = False
    # Kept here for compatibility; [detect] raise_after/clear_after win when given.
    raise_after: int = 2
    clear_after: int = 2
    silent_after_intervals: float = 3.0
    log_level: str = "INFO"
    detect: DetectSettings = field(default_factory=DetectSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    influx: InfluxSettings = field(default_factory=InfluxSettings)
    link: LinkSettings = field(default_factory=LinkSettings)
    crews: dict[str, Crew] = field(default_factory=dict)
    config_file: Path | None = None  # the TOML these settings were loaded from
    extra: dict = field(default_factory=dict)

    @property
    def broker_host_port(self) -> tuple[str, int]:
        from lampfleet.broker import parse_url

        try:
            host, port, _ = parse_url(self.broker_url)
        except ValueError as e:
            raise SettingsError(f"broker_url {e}") from None
        return host, port

    @property
    def broker_tls(self) -> bool:
        return self.broker_url.startswith("mqtts://")

    @property
    def mqtt_client_id(self) -> str:
        """The broker binds client ids to user names (use_username_as_clientid): log in as what you are."""
        return self.mqtt_username or self.client_id

    @property
    def master_key_path(self) -> Path:
        """master_key_file; by default "master.key" in the settings file's directory. A gateway set up
        before that default keeps "<database>.masterkey" while it exists (the check in gateway/registry.py
        refuses any other key for its lamps); so does a command given only --db, with no settings file."""
        if self.master_key_file:
            return Path(self.master_key_file)
        beside_db = Path(str(self.database) + ".masterkey")
        if self.config_file is None:
            return beside_db
        default = Path(self.config_file).parent / "master.key"
        return beside_db if beside_db.exists() and not default.exists() else default

    def detect_settings(self) -> DetectSettings:
        """[detect], with the legacy [gateway] damping values when [detect] left them at default."""
        d, default = self.detect, DetectSettings()
        return replace(
            d,
            raise_after=self.raise_after if d.raise_after == default.raise_after else d.raise_after,
            clear_after=self.clear_after if d.clear_after == default.clear_after else d.clear_after,
            min_silent_intervals=max(d.min_silent_intervals, int(self.silent_after_intervals)),
        )


_SECTIONS = {"detect": DetectSettings, "alerts": AlertSettings, "storage": StorageSettings, "influx": InfluxSettings,
             "link": LinkSettings}
_NESTED = {"detect", "alerts", "storage", "influx", "link", "crews", "extra"}


def _coerce(section: str, key: str, current: Any, value: Any) -> Any:
    try:
        if isinstance(current, Path):
            return Path(value)
        if isinstance(current, bool):
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
                return str(value).lower() in ("1", "true", "yes", "on")
            raise ValueError
        if isinstance(current, (int, float)):
            if isinstance(value, bool):
                raise ValueError
            if isinstance(current, int) and isinstance(value, float):
                if not value.is_integer():
                    raise ValueError
                return int(value)
            return type(current)(value)
        if isinstance(current, list):
            if isinstance(value, str):
                return [v.strip() for v in value.split(",") if v.strip()]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError
            return value
        if isinstance(current, str) and not isinstance(value, str):
            raise ValueError
        return value
    except (ValueError, TypeError):
        raise SettingsError(f"setting [{section}] {key}: {value!r} is not a {type(current).__name__}") from None


def _apply(obj: Any, section: str, values: dict[str, Any], skip: frozenset[str] | set[str] = frozenset()) -> None:
    known = {f.name for f in fields(obj)} - skip
    for key, value in values.items():
        if key not in known:
            raise SettingsError(f"unknown {section} setting {key!r} (known: {', '.join(sorted(known))})")
        setattr(obj, key, _coerce(section, key, getattr(obj, key), value))


def _crews(raw: Any) -> dict[str, Crew]:
    if not isinstance(raw, dict):
        raise SettingsError("[crews] must be tables: [crews.NAME] urls = [...]")
    crews = {}
    for name, table in raw.items():
        if not isinstance(table, dict):
            raise SettingsError(f"[crews.{name}] must be a table with urls = [...]")
        crew = Crew(name)
        _apply(crew, f"crews.{name}", table, skip={"name"})
        if crew.language and crew.language not in ("fr", "en"):
            raise SettingsError(f"[crews.{name}] language must be 'fr' or 'en'")
        crews[name] = crew
    return crews


def load(path: Path | str | None = None, env: dict[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    raw: dict = {}
    if path is not None:
        try:
            raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SettingsError(f"config file {path} not found") from None
        except tomllib.TOMLDecodeError as e:
            raise SettingsError(f"config file {path}: {e}") from None
        except UnicodeDecodeError as e:
            raise SettingsError(f"config file {path} is not UTF-8 text (byte {e.start}); save it as UTF-8") from None
        except OSError as e:  # a directory, no permission
            raise SettingsError(f"config file {path}: cannot read it ({e.strerror})") from None
    unknown = set(raw) - {"gateway", *_SECTIONS, "crews"}
    if unknown:
        raise SettingsError(f"unknown section [{sorted(unknown)[0]}] (known: gateway, {', '.join(_SECTIONS)}, crews)")
    sections: dict[str, dict] = {"gateway": dict(raw.get("gateway", {}))}
    for name in _SECTIONS:
        sections[name] = dict(raw.get(name, {}))
    for key, value in env.items():
        if not key.startswith("LAMPFLEET_"):
            continue
        section, _, name = key[len("LAMPFLEET_"):].lower().partition("_")
        if section in sections and name:
            sections[section][name] = value
    settings = Settings(config_file=Path(path) if path is not None else None)
    _apply(settings, "gateway", sections["gateway"], skip=_NESTED | {"mqtt_password", "config_file"})
    for name, cls in _SECTIONS.items():
        _apply(getattr(settings, name), name, sections[name])
    settings.crews = _crews(raw.get("crews", {}))
    settings.mqtt_password = _mqtt_password(settings, env)
    validate(settings)
    return settings


def _mqtt_password(settings: Settings, env: Any) -> str:
    if env.get("LAMPFLEET_MQTT_PASSWORD"):
        return env["LAMPFLEET_MQTT_PASSWORD"]
    if not settings.mqtt_password_file:
        return ""
    try:
        lines = Path(settings.mqtt_password_file).read_text().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise SettingsError(f"setting mqtt_password_file: cannot read {settings.mqtt_password_file} "
                            f"({getattr(e, 'strerror', None) or e}); fix the path or its permissions") from None
    if not lines or not lines[0].strip():
        raise SettingsError(f"setting mqtt_password_file: {settings.mqtt_password_file} is empty; put the "
                            "gateway's MQTT password on its first line (lampfleet broker-config writes one)")
    return lines[0].strip()


def _validate_mqtt(settings: Settings) -> None:
    host, _ = settings.broker_host_port
    if settings.mqtt_username and not settings.mqtt_password:
        raise SettingsError("setting mqtt_username needs a password: set mqtt_password_file or "
                            "$LAMPFLEET_MQTT_PASSWORD")
    if settings.mqtt_password and not settings.mqtt_username:
        raise SettingsError("an MQTT password is set but no mqtt_username: set mqtt_username (the gateway's "
                            "user in the broker's password file)")
    if settings.mqtt_ca_file:
        if not settings.broker_tls:
            raise SettingsError(f"setting mqtt_ca_file needs a TLS broker_url (mqtts://{host}:8883), "
                                f"not {settings.broker_url!r}")
        if not os.access(settings.mqtt_ca_file, os.R_OK):
            raise SettingsError(f"setting mqtt_ca_file: cannot read {settings.mqtt_ca_file}; fix the path "
                                "(the broker's ca.crt) or its permissions")
    loopback = host in ("127.0.0.1", "::1", "localhost")
    if settings.mqtt_password and not settings.broker_tls and not loopback:
        raise SettingsError(f"broker_url {settings.broker_url!r} is plain MQTT to another machine: the gateway's "
                            f"password would cross the network in clear; use mqtts://{host}:8883")


def validate(settings: Settings) -> None:
    if settings.clock not in ("wall", "device"):
        raise SettingsError("setting clock must be 'wall' or 'device'")
    if settings.mqtt_protocol not in (4, 5):
        raise SettingsError("setting mqtt_protocol must be 5 (MQTT v5) or 4 (MQTT 3.1.1)")
    if settings.alerts.language not in ("fr", "en"):
        raise SettingsError("setting [alerts] language must be 'fr' or 'en'")
    d = settings.detect
    if not 0.0 < d.loss_rate < 1.0:
        raise SettingsError("setting [detect] loss_rate must be between 0 and 1 (exclusive)")
    if not 0.0 < d.silence_false_alarm < 1.0:
        raise SettingsError("setting [detect] silence_false_alarm must be between 0 and 1 (exclusive)")
    for name in ("raise_after", "clear_after"):
        if getattr(d, name) < 1 or getattr(settings, name) < 1:
            raise SettingsError(f"setting {name} must be at least 1")
    if settings.storage.raw_retention_days < 1:
        raise SettingsError("setting [storage] raw_retention_days must be at least 1")
    if settings.influx.url and not settings.influx.url.startswith(("http://", "https://")):
        raise SettingsError(f"setting [influx] url {settings.influx.url!r} must start with http:// or https://")
    if settings.link.lorawan not in ("", "chirpstack", "tts"):
        raise SettingsError(f"setting [link] lorawan {settings.link.lorawan!r} must be 'chirpstack', 'tts' or empty")
    devices = settings.link.lorawan_devices
    if not isinstance(devices, dict) or not all(isinstance(v, str) for v in devices.values()):
        raise SettingsError("setting [link] lorawan_devices must map DevEUIs to lamp ids")
    if bool(settings.tls_cert_file) != bool(settings.tls_key_file):
        raise SettingsError("settings tls_cert_file and tls_key_file go together (the certificate and its key)")
    if settings.api_host not in ("127.0.0.1", "::1", "localhost") and not settings.tls_cert_file:
        raise SettingsError(f"setting api_host {settings.api_host!r}: without TLS the console and API listen on "
                            "loopback only (127.0.0.1, ::1 or localhost); give tls_cert_file and tls_key_file, or "
                            "reach it through a reverse proxy with TLS (docs/console.md)")
    settings.broker_host_port  # validate early
    _validate_mqtt(settings)
