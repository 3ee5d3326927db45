"""Login sessions and their CSRF tokens, kept server-side in SQLite; login rate limiting.

The cookie holds 256 random bits; the database keeps only their SHA-256 (as gateway/api/tokens.py does
for API tokens), so a copy of the database opens no session. A session ends after IDLE_S without a
request or MAX_AGE_S in all, at logout, and when its user is disabled or gets a new password.

CSRF: each session has its own random token, put in every form of the console (hidden `csrf` field) and
sent by htmx as the `X-CSRF-Token` header; every state-changing request must carry it (synchronizer-token
pattern), on top of the SameSite=Strict cookie and the Origin check of gateway/api/guard.py.

Rate limit: at most FAILURES_PER_NAME failed logins per user name and FAILURES_PER_CLIENT per client
address within WINDOW_S; beyond that a login is refused without checking the password.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
from dataclasses import dataclass

IDLE_S = 12 * 3600
MAX_AGE_S = 7 * 86400
WINDOW_S = 15 * 60
FAILURES_PER_NAME = 5
FAILURES_PER_CLIENT = 20
COOKIE = "lampfleet_session"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Session:
    user: str
    csrf: str

    def csrf_ok(self, sent: str | None) -> bool:
        return bool(sent) and hmac.compare_digest(self.csrf.encode(), str(sent).encode("utf-8", "surrogatepass"))


class Sessions:
    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def open(self, user: str, now_s: int) -> str:
        token = secrets.token_urlsafe(32)
        with self.conn:
            self.conn.execute("DELETE FROM sessions WHERE seen_s < ? OR created_s < ?", (now_s - IDLE_S,
                                                                                         now_s - MAX_AGE_S))
            self.conn.execute("INSERT INTO sessions (token_sha256, user, csrf, created_s, seen_s) VALUES (?,?,?,?,?)",
                              (_digest(token), user, secrets.token_urlsafe(24), now_s, now_s))
        return token

    def get(self, token: str | None, now_s: int) -> Session | None:
        if not token or len(token) > 200:
            return None
        digest = _digest(token)
        row = self.conn.execute("SELECT user, csrf, created_s, seen_s FROM sessions WHERE token_sha256=?",
                                (digest,)).fetchone()
        if row is None:
            return None
        user, csrf, created, seen = row
        if now_s - seen > IDLE_S or now_s - created > MAX_AGE_S:
            self.conn.execute("DELETE FROM sessions WHERE token_sha256=?", (digest,))
            return None
        if now_s - seen > 60:  # one write a minute at most, not one per request
            self.conn.execute("UPDATE sessions SET seen_s=? WHERE token_sha256=?", (now_s, digest))
        return Session(user, csrf)

    def close(self, token: str | None) -> None:
        if token:
            self.conn.execute("DELETE FROM sessions WHERE token_sha256=?", (_digest(token),))


class LoginLimiter:
    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def _count(self, who: str, now_s: int) -> int:
        return self.conn.execute("SELECT count(*) FROM login_failures WHERE who=? AND at_s > ?",
                                 (who, now_s - WINDOW_S)).fetchone()[0]

    def blocked(self, name: str, client: str, now_s: int) -> bool:
        return (self._count("user:" + name.lower(), now_s) >= FAILURES_PER_NAME
                or self._count("client:" + client, now_s) >= FAILURES_PER_CLIENT)

    def failed(self, name: str, client: str, now_s: int) -> None:
        with self.conn:
            self.conn.execute("DELETE FROM login_failures WHERE at_s <= ?", (now_s - WINDOW_S,))
            self.conn.executemany("INSERT INTO login_failures (who, at_s) VALUES (?, ?)",
                                  [("user:" + name.lower()[:64], now_s), ("client:" + client[:64], now_s)])

    def succeeded(self, name: str) -> None:
        self.conn.execute("DELETE FROM login_failures WHERE who=?", ("user:" + name.lower(),))
