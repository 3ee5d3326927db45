"""mosquitto's dynamic-security plugin file (dynamic-security.json): one client per login, each bound to
its client id, and one role per client listing exactly its topics.

Why this plugin rather than password_file + acl_file + `use_username_as_clientid`: that option makes a
client's id its user name, but mosquitto 2.0.11 then discards an offline session when an ANONYMOUS
clean-start CONNECT names its id (refused, yet its queued messages are gone: reproduced with 2.0.11
while building this, for MQTT 3.1.1 and 5 alike). The plugin refuses a login whose client id is not the one bound to it, and an
anonymous client, before any session is touched, so neither a stranger nor a stolen lamp's credentials
can take over or wipe the gateway's (or another lamp's) session.

Access is denied unless a role allows it, for publishing, receiving and subscribing alike; a lamp's
subscription to another lamp's downlinks is refused outright. Passwords are stored as the plugin
expects: PBKDF2-SHA512, 64-byte digest, 12-byte salt, base64 (an existing mosquitto `$7$` hash is taken
over as it is, so a registry that keeps only hashes works too).
"""
from __future__ import annotations

import base64
import hashlib
import os
from typing import Any

ITERATIONS = 101  # mosquitto's own default; every password here is 144 random bits, not a human's


def _password_fields(password: str) -> dict[str, Any]:
    if password.startswith("$7$"):
        _, _, iterations, salt, digest = password.split("$")
        return {"password": digest, "salt": salt, "iterations": int(iterations)}
    salt = os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, ITERATIONS, 64)
    return {"password": base64.b64encode(digest).decode(), "salt": base64.b64encode(salt).decode(),
            "iterations": ITERATIONS}


def _acl(kind: str, topic: str) -> dict[str, Any]:
    return {"acltype": kind, "topic": topic, "priority": 0, "allow": True}


def publish(topic: str) -> list[dict[str, Any]]:
    return [_acl("publishClientSend", topic)]


def read(topic: str, literal: bool = False) -> list[dict[str, Any]]:
    """Subscribe to topic (a pattern: wildcard subscriptions under it are allowed; literal: exactly it)
    and receive what is published there."""
    return [_acl("subscribeLiteral" if literal else "subscribePattern", topic), _acl("publishClientReceive", topic)]


def document(clients: dict[str, tuple[str, list[dict[str, Any]]]]) -> dict[str, Any]:
    """clients: user name -> (password or $7$ hash, ACL entries). Each client id is its user name."""
    return {
        "defaultACLAccess": {"publishClientSend": False, "publishClientReceive": False, "subscribe": False,
                             "unsubscribe": True},
        "clients": [{"username": name, "clientid": name, **_password_fields(password),
                     "roles": [{"rolename": name}]} for name, (password, _) in sorted(clients.items())],
        "groups": [],
        "roles": [{"rolename": name, "acls": acls} for name, (_, acls) in sorted(clients.items())],
    }
