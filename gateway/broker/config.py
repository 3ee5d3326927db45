"""The broker's configuration from the registry: mosquitto.conf and dynamic-security.json
(`lampfleet broker-config`).

Who may do what (enforced by mosquitto with the files written here; docs/operations.md, "Threat model"):

    lamp <id>        write <prefix>/<id>/up and /status, read <prefix>/<id>/down          (its own only)
    gateway          read and write <prefix>/#; read the LoRaWAN integration's uplinks and write its
                     downlinks (ChirpStack application/+/device/+/..., TTS v3/+/devices/+/...)
    chirpstack, tts  their own topic tree only (application/#, v3/#): never a lamp's topics
    anonymous        refused

Logins, client ids and topics are held by mosquitto's dynamic-security plugin (dynsec.py says why not
password_file + acl_file): every client id is bound to its user name, so nobody can take over or wipe
another client's session. The gateway connects with client id = its user name to match.

A lamp's MQTT password is derived from its device key (gateway/link/acl.py `lamp_password`), so the
registry, which holds every key sealed, is also the store of every lamp's password; the broker's file
holds only salted PBKDF2 hashes. Integration and gateway passwords are kept in `<name>.password` files
(0600) beside the output, reused on the next run so that regenerating after adding lamps rotates nothing.
"""
from __future__ import annotations

import glob
import json
import os
import shutil
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from telemetry import topics

from gateway.broker import dynsec
from gateway.link import acl

TLS_PORT = 8883
# Persistence: mosquitto writes its whole in-memory state (sessions, subscriptions, queued messages) every
# AUTOSAVE_S and on a clean stop. A kill -9 or a power cut loses what changed since the last save; lamps
# keep every frame until the gateway acknowledges storing it, and the gateway resends downlinks until a
# lamp acknowledges them, so the broker's copy is not the only one. Five minutes bounds the resend after a
# crash while keeping an SD card's writes low when a long gateway outage has queued a large backlog
# (each save rewrites all of it).
AUTOSAVE_S = 300
MAX_QUEUED = 200000  # frames kept for a stopped gateway: 1.4 days of 1,000 lamps at one frame / 10 min
INTEGRATION_TREES = {"chirpstack": "application/#", "tts": "v3/#"}
# What the gateway itself subscribes to and publishes on, per integration (gateway/link/lorawan.py).
GATEWAY_LORAWAN = {
    "chirpstack": ("application/+/device/+/event/up", "application/+/device/+/command/down"),
    "tts": ("v3/+/devices/+/up", "v3/+/devices/+/down/push"),
}


@dataclass
class Listener:
    port: int = TLS_PORT
    bind: str = ""  # "" = every interface
    cert: Path | None = None  # server certificate and key: a TLS listener; None: plain, loopback only
    key: Path | None = None


@dataclass
class BrokerFiles:
    """What to write. Paths in mosquitto.conf are install_dir's (where the files will live)."""
    lamps: dict[str, str]  # lamp id -> password (or an existing mosquitto $7$ hash)
    gateway_user: str
    gateway_password: str
    integrations: dict[str, str] = field(default_factory=dict)  # "chirpstack"/"tts" -> password
    listeners: list[Listener] = field(default_factory=list)
    install_dir: Path | None = None
    data_dir: Path = Path("/var/lib/mosquitto")
    log_file: str = "/var/log/mosquitto/mosquitto.log"
    pid_file: str = "/run/mosquitto/mosquitto.pid"
    run_as: str | None = None
    prefix: str = topics.PREFIX
    plugin: str = ""  # the dynamic-security plugin's path on the broker host ("" = found here, or Debian's)


def plugin_path() -> str:
    """Where Debian (and most builds) install the dynamic-security plugin."""
    found = sorted(glob.glob("/usr/lib/*/mosquitto_dynamic_security.so") +
                   glob.glob("/usr/lib/mosquitto_dynamic_security.so") +
                   glob.glob("/usr/local/lib/mosquitto_dynamic_security.so"))
    arch = sysconfig.get_config_var("MULTIARCH") or "x86_64-linux-gnu"
    return found[0] if found else f"/usr/lib/{arch}/mosquitto_dynamic_security.so"


def clients(files: BrokerFiles) -> dict[str, Any]:
    """The dynamic-security document: each login with exactly its topics."""
    p = files.prefix
    gateway = dynsec.publish(f"{p}/#") + dynsec.read(f"{p}/#")
    for name in sorted(files.integrations):
        up, down = GATEWAY_LORAWAN[name]
        gateway += dynsec.read(up) + dynsec.publish(down)
    users: dict[str, tuple[str, list[dict[str, Any]]]] = {files.gateway_user: (files.gateway_password, gateway)}
    for name, password in files.integrations.items():
        tree = INTEGRATION_TREES[name]
        users[name] = (password, dynsec.publish(tree) + dynsec.read(tree))
    for lamp_id, password in files.lamps.items():
        own = dynsec.publish(topics.uplink(lamp_id, p)) + dynsec.publish(topics.status(lamp_id, p))
        users[lamp_id] = (password, own + dynsec.read(topics.downlink(lamp_id, p), literal=True))
    return dynsec.document(users)


def mosquitto_conf(files: BrokerFiles) -> str:
    d = files.install_dir
    assert d is not None
    out = ["# generated by lampfleet broker-config: replaces /etc/mosquitto/mosquitto.conf (docs/operations.md)",
           "per_listener_settings false", "allow_anonymous false",
           "# logins, client ids bound to them, and each login's topics: dynamic-security.json",
           f"plugin {files.plugin or plugin_path()}", f"plugin_opt_config_file {d / 'dynamic-security.json'}", "",
           "persistence true", f"persistence_location {str(files.data_dir).rstrip('/')}/",
           f"autosave_interval {AUTOSAVE_S}", "autosave_on_changes false",
           f"max_queued_messages {MAX_QUEUED}", "persistent_client_expiration 30d", ""]
    if files.pid_file:
        out.append(f"pid_file {files.pid_file}")
    if files.log_file:
        out.append(f"log_dest file {files.log_file}")
    if files.run_as:
        out.append(f"user {files.run_as}")
    for lst in files.listeners:
        out.append("")
        if lst.cert is None:
            out += [f"listener {lst.port} {lst.bind or '127.0.0.1'}"]
        else:
            out += [f"listener {lst.port}{' ' + lst.bind if lst.bind else ''}",
                    f"certfile {d / 'server.crt'}", f"keyfile {d / 'server.key'}", "tls_version tlsv1.2"]
    return "\n".join(out) + "\n"


def check(files: BrokerFiles) -> None:
    """Names that would collide or break the files: ValueError saying which."""
    for lamp_id in files.lamps:
        if not topics.valid_lamp_id(lamp_id):
            raise ValueError(f"{lamp_id!r} is not a valid lamp id")
    for name in files.integrations:
        if name not in INTEGRATION_TREES:
            raise ValueError(f"unknown LoRaWAN integration {name!r}: chirpstack or tts")
    seen: set[str] = set()
    for name in [*files.lamps, files.gateway_user, *files.integrations]:
        if not name or any(c in name for c in "+#/\n\r\0"):
            raise ValueError(f"MQTT user name {name!r} may not contain + # / or control characters")
        if name in seen:
            raise ValueError(f"MQTT user name {name!r} is used twice (a lamp id, the gateway's mqtt_username or "
                             "an integration): rename one")
        seen.add(name)
    for lst in files.listeners:
        if lst.cert is None and lst.bind not in ("", "127.0.0.1", "::1", "localhost"):
            raise ValueError(f"a plain (non-TLS) listener on {lst.bind}: passwords would cross the network in "
                             "clear; give certificates or keep it on loopback")


def write(files: BrokerFiles, out: Path, tls_files: dict[str, Path] | None = None) -> list[Path]:
    """Write mosquitto.conf, dynamic-security.json (and copies of the TLS files) into out; returns what was
    written."""
    check(files)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if files.install_dir is None:
        files.install_dir = out.resolve()
    doc = out / "dynamic-security.json"
    fd = os.open(doc, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    with os.fdopen(fd, "w") as f:
        json.dump(clients(files), f, indent=1)
    os.chmod(doc, 0o640)  # hashes only, but the broker's group alone needs them: chgrp mosquitto
    written = [out / "mosquitto.conf", doc]
    for role, name in (("cert", "server.crt"), ("key", "server.key"), ("ca", "ca.crt")):
        src = (tls_files or {}).get(role)
        if src is not None and Path(src).resolve() != (out / name).resolve():
            shutil.copyfile(src, out / name)
        if src is not None:
            os.chmod(out / name, 0o640 if role == "key" else 0o644)
            written.append(out / name)
    (out / "mosquitto.conf").write_text(mosquitto_conf(files))
    return written


def kept_password(path: Path) -> str:
    """The password in path (a `<name>.password` file), made and saved (0600) on first use."""
    path = Path(path)
    if path.exists():
        text = path.read_text().strip()
        if text:
            return text
    password = acl.new_password()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(password + "\n")
    return password

