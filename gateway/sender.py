"""Delivers the outbox through Apprise, on its own thread and its own database connection.

One outbox row per (message, URL), so a failing SMS gateway is retried alone and the email that went
through is not sent twice. Retries back off exponentially (5 s doubling, capped at 10 min) in wall time:
delivery is real I/O even when the gateway runs on an emulated fleet's clock. URLs hold credentials:
they come from the settings at send time, are never stored in the database and never logged.
"""
from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from gateway import db
from gateway.notify import url_id

log = logging.getLogger("lampfleet.gateway.sender")
BACKOFF_FIRST_S = 5.0
BACKOFF_MAX_S = 600.0
MAX_ATTEMPTS = 50

# Apprise logs the URL of a failing service at some levels: keep its logger out of ours.
logging.getLogger("apprise").setLevel(logging.CRITICAL)


def deliver(urls: list[str], title: str, body: str, notify_type: str) -> tuple[bool, str]:
    import apprise

    a = apprise.Apprise()
    for url in urls:
        if not a.add(url):
            return False, "URL not understood by Apprise (check its scheme)"
    kinds = {"failure": apprise.NotifyType.FAILURE, "warning": apprise.NotifyType.WARNING,
             "success": apprise.NotifyType.SUCCESS, "info": apprise.NotifyType.INFO}
    ok = a.notify(body=body, title=title, notify_type=kinds.get(notify_type, apprise.NotifyType.INFO),
                  body_format=apprise.NotifyFormat.TEXT)
    return bool(ok), "" if ok else "delivery failed (see the receiving service)"


class Sender:
    def __init__(self, database: Path | str, urls_for: Callable[[str], list[str]],
                 send: Callable[[list[str], str, str, str], tuple[bool, str]] = deliver):
        self.database = database
        self.urls_for = urls_for
        self.send = send
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.sent = 0
        self.failed = 0
        self._thread: threading.Thread | None = None

    def start(self) -> "Sender":
        self._thread = threading.Thread(target=self.run, name="lampfleet-sender", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()
        if self._thread is not None:
            self._thread.join(30)

    def run(self) -> None:
        conn = db.connect(self.database)
        try:
            while not self.stopping.is_set():
                if not self.send_due(conn):
                    self.wake.wait(1.0)
                    self.wake.clear()
        finally:
            conn.close()

    def send_due(self, conn: sqlite3.Connection, now: float | None = None) -> int:
        """Send every due row once; return how many were attempted."""
        now = time.time() if now is None else now
        rows = conn.execute(
            "SELECT id, recipient, title, body, notify_type, attempts FROM outbox "
            "WHERE sent_s IS NULL AND attempts < ? AND next_try_s <= ? ORDER BY id LIMIT 50",
            (MAX_ATTEMPTS, now)).fetchall()
        for oid, recipient, title, body, notify_type, attempts in rows:
            if self.stopping.is_set():
                break
            target, _, uid = recipient.partition("#")
            urls = [u for u in self.urls_for(target) if url_id(u) == uid]
            if not urls:
                ok, error = False, f"no configured URL for {target} any more"
                attempts = MAX_ATTEMPTS - 1
            else:
                try:
                    ok, error = self.send(urls, title, body, notify_type)
                except Exception as e:  # noqa: BLE001 - a plugin bug must not kill the sender
                    ok, error = False, type(e).__name__
            if ok:
                conn.execute("UPDATE outbox SET sent_s=?, attempts=attempts+1, last_error=NULL WHERE id=?",
                             (time.time(), oid))
                self.sent += 1
                log.info("notification %d sent to %s", oid, target)
            else:
                delay = min(BACKOFF_FIRST_S * 2 ** attempts, BACKOFF_MAX_S)
                conn.execute("UPDATE outbox SET attempts=attempts+1, next_try_s=?, last_error=? WHERE id=?",
                             (time.time() + delay, error, oid))
                self.failed += 1
                log.warning("notification %d to %s failed (%s), retry in %.0f s", oid, target, error, delay)
        return len(rows)
