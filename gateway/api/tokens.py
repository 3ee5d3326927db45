"""API bearer tokens: one per client (a dashboard, a script), named, stored only as a SHA-256 hash.

    token = ApiTokens(conn).add("dashboard", now_s)   # shown once, never stored in clear
    ApiTokens(conn).verify(token)                      # -> "dashboard", or None if unknown or revoked

A token is 256 random bits, so a plain SHA-256 is enough to make a stolen database useless for calling
the API (no dictionary can reach it, a slow hash would only cost every request). The lookup is by hash,
and the stored hash is compared with `hmac.compare_digest`, so timing says nothing about a near miss.
Revoked tokens keep their row (and name) for the audit trail.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3

PREFIX = "lft_"  # recognisable in a leaked log or a config file, so it can be found and revoked
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


class TokenError(ValueError):
    pass


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class ApiTokens:
    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def add(self, name: str, now_s: int) -> str:
        """A new token for `name`, returned once. A revoked name may be given a new token."""
        if not NAME.match(name):
            raise TokenError(f"invalid token name {name!r}: letters, digits, '.', '_', '-', '@', at most 64")
        row = self.conn.execute("SELECT revoked_s FROM api_tokens WHERE name=?", (name,)).fetchone()
        if row is not None and row[0] is None:
            raise TokenError(f"token {name!r} exists: revoke it first (lampfleet api-token revoke {name})")
        token = PREFIX + secrets.token_urlsafe(32)
        self.conn.execute("INSERT OR REPLACE INTO api_tokens (name, token_sha256, created_s, revoked_s, last_used_s)"
                          " VALUES (?, ?, ?, NULL, NULL)", (name, token_hash(token), now_s))
        return token

    def revoke(self, name: str, now_s: int) -> None:
        cur = self.conn.execute("UPDATE api_tokens SET revoked_s=? WHERE name=? AND revoked_s IS NULL",
                                (now_s, name))
        if cur.rowcount == 0:
            raise TokenError(f"no active token named {name!r} (lampfleet api-token list)")

    def list(self) -> list[dict]:
        rows = self.conn.execute("SELECT name, created_s, revoked_s, last_used_s FROM api_tokens ORDER BY name")
        return [dict(zip(("name", "created_s", "revoked_s", "last_used_s"), r)) for r in rows]

    def verify(self, token: str) -> str | None:
        """The name of the active token `token`, or None."""
        if not token.startswith(PREFIX) or len(token) > 200:
            return None
        digest = token_hash(token)
        row = self.conn.execute("SELECT name, token_sha256 FROM api_tokens WHERE token_sha256=? AND revoked_s IS NULL",
                                (digest,)).fetchone()
        if row is None or not hmac.compare_digest(row[1], digest):
            return None
        return row[0]

    def touch(self, name: str, now_s: int) -> None:
        """Remember when a token was last used (shown by `list`, to find tokens nobody uses any more)."""
        self.conn.execute("UPDATE api_tokens SET last_used_s=? WHERE name=?", (now_s, name))
