"""Console accounts: a name, a role, a crew (for the crew role), an argon2id password hash.

Why argon2id (argon2-cffi): a console password is chosen by a person, so a stolen database must make each
guess expensive in memory as well as time; argon2id is the memory-hard hash the Password Hashing
Competition chose and OWASP recommends first, and argon2-cffi is its maintained binding. The library's
defaults (RFC 9106 "low memory" profile: 64 MiB, 3 passes) take about 50 ms here, paid at login only:
sessions carry the user afterwards (gateway/console/sessions.py). `check_needs_rehash` upgrades old
hashes on the next good login when the parameters change.

Roles, each including the one before it in what it may see:
    viewer    reads everything (but never a kit's household data: there is none to read)
    crew      reads and acts on the lamps of its own crew only: acknowledge, resolve, repair actions
    engineer  acts on every lamp: downlinks, silences (maintenance windows)
    admin     users and the audit log, besides everything above
"""
from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

ROLES = ("viewer", "crew", "engineer", "admin")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
MIN_PASSWORD = 10
_HASHER = PasswordHasher()
# Verified against when the user does not exist, so that timing does not tell names apart.
_DUMMY_HASH = _HASHER.hash("not a password anyone has")


class UserError(ValueError):
    pass


@dataclass(frozen=True)
class User:
    name: str
    role: str
    crew: str = ""
    language: str = "fr"
    disabled: bool = False

    def can(self, action: str) -> bool:
        """act (ack, resolve, repair), engineer (downlinks, silences on any lamp), admin (users, audit)."""
        need = {"read": "viewer", "act": "crew", "engineer": "engineer", "admin": "admin"}[action]
        return not self.disabled and ROLES.index(self.role) >= ROLES.index(need)

    def sees(self, crew: str) -> bool:
        """Whether this user may see (and, with `can("act")`, act on) a lamp of `crew`."""
        return self.role != "crew" or crew == self.crew


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"a password needs at least {MIN_PASSWORD} characters (a short sentence is best)")
    if len(password) > 1024:
        raise UserError("a password of more than 1024 characters is refused")


class Users:
    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def _audit(self, now_s: int, action: str, actor: str, detail: str) -> None:
        self.conn.execute("INSERT INTO audit (at_s, action, actor, detail) VALUES (?,?,?,?)",
                          (now_s, action, actor, detail))

    def add(self, name: str, password: str, role: str, now_s: int, crew: str = "", language: str = "fr",
            actor: str = "cli") -> User:
        if not NAME.match(name):
            raise UserError(f"invalid user name {name!r}: letters, digits, '.', '_', '-', '@', at most 64")
        if role not in ROLES:
            raise UserError(f"role {role!r} is not one of {', '.join(ROLES)}")
        if role == "crew" and not crew.strip():
            raise UserError("a crew user needs its crew (--crew NAME, as in the lamps' crew column)")
        if language not in ("fr", "en"):
            raise UserError("language must be fr or en")
        check_password(password)
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            if self.conn.execute("SELECT 1 FROM users WHERE name=?", (name,)).fetchone():
                raise UserError(f"user {name!r} exists (lampfleet users passwd {name}, or disable it)")
            self.conn.execute("INSERT INTO users (name, password_hash, role, crew, language, created_s) "
                              "VALUES (?,?,?,?,?,?)", (name, _HASHER.hash(password), role, crew.strip(), language,
                                                       now_s))
            self._audit(now_s, "user-add", actor, f"user {name} role {role}" + (f" crew {crew}" if crew else ""))
        return User(name, role, crew.strip(), language)

    def get(self, name: str) -> User | None:
        row = self.conn.execute("SELECT name, role, crew, language, disabled_s FROM users WHERE name=?",
                                (name,)).fetchone()
        return User(row[0], row[1], row[2], row[3], row[4] is not None) if row else None

    def list(self) -> list[dict]:
        cols = ("name", "role", "crew", "language", "created_s", "disabled_s")
        rows = self.conn.execute(f"SELECT {', '.join(cols)} FROM users ORDER BY name")
        return [dict(zip(cols, r)) for r in rows]

    def disable(self, name: str, now_s: int, actor: str = "cli") -> None:
        with self.conn:
            cur = self.conn.execute("UPDATE users SET disabled_s=? WHERE name=? AND disabled_s IS NULL", (now_s, name))
            if cur.rowcount == 0:
                raise UserError(f"no active user named {name!r} (lampfleet users list)")
            self.conn.execute("DELETE FROM sessions WHERE user=?", (name,))  # logged out everywhere at once
            self._audit(now_s, "user-disable", actor, f"user {name}")

    def passwd(self, name: str, password: str, now_s: int, actor: str = "cli") -> None:
        check_password(password)
        with self.conn:
            cur = self.conn.execute("UPDATE users SET password_hash=?, disabled_s=NULL WHERE name=?",
                                    (_HASHER.hash(password), name))
            if cur.rowcount == 0:
                raise UserError(f"no user named {name!r} (lampfleet users add {name} ...)")
            self.conn.execute("DELETE FROM sessions WHERE user=?", (name,))
            self._audit(now_s, "user-passwd", actor, f"user {name} (enabled)")

    def verify(self, name: str, password: str) -> User | None:
        """The user if the password is right and the account enabled; None otherwise (same time either way)."""
        row = self.conn.execute("SELECT password_hash, disabled_s FROM users WHERE name=?", (name,)).fetchone()
        try:
            _HASHER.verify(row[0] if row else _DUMMY_HASH, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if row is None or row[1] is not None:
            return None
        if _HASHER.check_needs_rehash(row[0]):
            self.conn.execute("UPDATE users SET password_hash=? WHERE name=?", (_HASHER.hash(password), name))
        return self.get(name)
