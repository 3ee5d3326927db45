"""What every request handler of the web app shares: settings, one SQLite connection per worker thread,
the request policy (gateway/api/guard.py) and the gateway's clock."""
from __future__ import annotations

import sqlite3
import threading
import time

from gateway import db, fleet
from gateway.api.guard import Policy
from gateway.api.tokens import ApiTokens
from gateway.settings import Settings


class Context:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.policy = Policy.of(settings.api_host, settings.api_allowed_hosts, settings.api_read_open)
        self._local = threading.local()

    def conn(self) -> sqlite3.Connection:
        c = getattr(self._local, "conn", None)
        if c is None:
            c = self._local.conn = db.connect(self.settings.database)
        return c

    def now(self) -> int:
        """The gateway's clock (device time for emulated fleets): alerts and silences are judged on it."""
        return fleet.now_s(self.conn(), self.settings)

    def wall(self) -> int:
        """Real time: sessions, logins and rate limits never follow an emulated clock."""
        return int(time.time())

    def verify_token(self, token: str) -> str | None:
        name = ApiTokens(self.conn()).verify(token)
        if name is not None:
            now = self.wall()
            self.conn().execute("UPDATE api_tokens SET last_used_s=? WHERE name=? AND "
                                "(last_used_s IS NULL OR last_used_s < ?)", (now, name, now - 60))
        return name
