"""A small HTTP JSON API on loopback for the dashboard: read-only fleet, lamps, history, alerts; plus ack.

    GET  /api/v1/health                      counters: open alerts, spool and outbox backlog
    GET  /api/v1/fleet                       fleet health by site and per lamp (as `lampfleet status`)
    GET  /api/v1/lamps                       registry without keys
    GET  /api/v1/lamps/<id>                  one lamp, its last reading and open alerts
    GET  /api/v1/lamps/<id>/history?since=&until=&limit=   readings (Unix seconds)
    GET  /api/v1/alerts?state=open|all&lamp=<id>
    GET  /api/v1/silences
    POST /api/v1/alerts/<id>/ack             {"by": "name", "comment": "..."}

It binds to loopback only. Every request passes gateway/api/guard.py first: Host allow-list, Origin and
Sec-Fetch-Site checks, a bearer token (gateway/api/tokens.py: `lampfleet api-token add NAME`) for every
write and, unless `api_read_open`, every read; writes take application/json only. The token's name is
the actor in the audit trail. To reach it from elsewhere, put a reverse proxy with TLS in front of it and
name its host in `api_allowed_hosts` (docs/operations.md). Standard library only.
"""
from __future__ import annotations

import json
import logging
import re
import sqlite3
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from gateway import db, fleet
from gateway.alerts import AlertError, Alerts
from gateway.api.guard import MAX_BODY, Policy, Refused, body_length, guard, query_int
from gateway.api.tokens import ApiTokens
from gateway.settings import Settings
from gateway.silences import Silences

log = logging.getLogger("lampfleet.gateway.api")
LOOPBACK = ("127.0.0.1", "::1", "localhost")
__all__ = ["MAX_BODY", "Api", "ApiError", "ApiServer"]

ApiError = Refused  # a request answered with an error status and a one-line reason


class Api:
    """Request routing over a database, independent of the HTTP server (tested directly too)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._local = threading.local()

    def conn(self) -> sqlite3.Connection:
        c = getattr(self._local, "conn", None)
        if c is None:
            c = self._local.conn = db.connect(self.settings.database)
        return c

    def get(self, path: str, query: dict[str, list[str]]) -> object:
        conn = self.conn()
        q = {k: v[-1] for k, v in query.items()}
        if path == "/api/v1/health":
            return {"ok": True, "now_s": fleet.now_s(conn, self.settings),
                    "open_alerts": conn.execute("SELECT count(*) FROM alerts WHERE state!='resolved'").fetchone()[0],
                    "influx_spool": conn.execute("SELECT count(*) FROM spool").fetchone()[0],
                    "outbox_pending": conn.execute("SELECT count(*) FROM outbox WHERE sent_s IS NULL").fetchone()[0]}
        if path == "/api/v1/fleet":
            return fleet.fleet_status(conn, self.settings)
        if path == "/api/v1/lamps":
            return [lp.public() for lp in fleet.read_lamps(conn)]
        m = re.fullmatch(r"/api/v1/lamps/([A-Za-z0-9._-]{1,32})(/history)?", path)
        if m:
            lamp = next((lp for lp in fleet.read_lamps(conn) if lp.lamp_id == m.group(1)), None)
            if lamp is None:
                raise ApiError(404, f"lamp {m.group(1)} is not registered")
            if m.group(2):
                return fleet.history(conn, lamp.lamp_id, query_int(q, "since"), query_int(q, "until"),
                                     query_int(q, "limit", 2000, minimum=1, maximum=50_000))
            return {**lamp.public(), "last_reading": fleet.latest_reading(conn, lamp.lamp_id),
                    "open_alerts": Alerts(conn).list(False, lamp.lamp_id)}
        if path == "/api/v1/alerts":
            state = q.get("state", "open")
            if state not in ("open", "all"):
                raise ApiError(400, "state must be open or all")
            return Alerts(conn).list(state == "all", q.get("lamp"), query_int(q, "limit", 500, minimum=1, maximum=5000))
        if path == "/api/v1/silences":
            now = fleet.now_s(conn, self.settings)
            return [s.as_dict(now) for s in Silences(conn).all()]
        raise ApiError(404, f"no such resource {path}")

    def verify_token(self, token: str) -> str | None:
        name = ApiTokens(self.conn()).verify(token)
        if name is not None:
            now = int(time.time())
            self.conn().execute("UPDATE api_tokens SET last_used_s=? WHERE name=? AND "
                                "(last_used_s IS NULL OR last_used_s < ?)", (now, name, now - 60))
        return name

    def post(self, path: str, body: bytes, actor: str | None = None) -> object:
        """A write. `actor` is the token's name: the audit names it, with the body's "by" (the person at
        the dashboard) beside it when that differs."""
        m = re.fullmatch(r"/api/v1/alerts/(\d{1,12})/ack", path)
        if not m:
            raise ApiError(404, f"no such action {path}")
        try:
            data = json.loads(body or b"{}")
            if not isinstance(data, dict):
                raise TypeError
            by = str(data.get("by", "")).strip()[:64] if actor else str(data["by"])
            by = "".join(ch for ch in by if ch.isprintable())  # no forged lines in the audit trail
            comment = str(data.get("comment", ""))[:1000]
        except (ValueError, KeyError, TypeError, RecursionError):
            raise ApiError(400, 'body must be JSON like {"by": "name", "comment": "..."}') from None
        if actor:
            by = actor if by in ("", actor) else f"{actor} ({by})"
        conn = self.conn()
        try:
            return Alerts(conn).ack(int(m.group(1)), by, fleet.now_s(conn, self.settings), comment)
        except AlertError as e:
            raise ApiError(404 if "not found" in str(e) else 409, str(e)) from None


class ApiServer:
    def __init__(self, settings: Settings, host: str = "127.0.0.1", port: int = 0):
        if host not in LOOPBACK:
            raise ValueError(f"the API listens on loopback only, not {host!r}: use a reverse proxy for remote access")
        api = Api(settings)
        policy = Policy.of(host, settings.api_allowed_hosts, settings.api_read_open)

        class Handler(BaseHTTPRequestHandler):
            server_version = "lampfleet-api/1"

            def _send(self, status: int, payload: object, headers: dict[str, str] | None = None) -> None:
                body = json.dumps(payload, ensure_ascii=False, default=str).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.send_header("X-Content-Type-Options", "nosniff")
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                if status >= 400 and self.command != "GET":
                    self.send_header("Connection", "close")  # an unread body must not be taken for a request
                    self.close_connection = True
                self.end_headers()
                self.wfile.write(body)

            def _run(self, fn) -> None:  # type: ignore[no-untyped-def]
                try:
                    self._send(200, fn())
                except Refused as e:
                    self._send(e.status, {"error": str(e)}, e.headers)
                except Exception:  # noqa: BLE001 - answer 500, keep serving
                    log.exception("API error on %r", self.path)
                    self._send(500, {"error": "internal error (see the gateway log)"})

            def do_GET(self) -> None:  # noqa: N802
                def run() -> object:
                    guard("GET", self.headers, policy, api.verify_token)
                    url = urlparse(self.path)
                    return api.get(url.path.rstrip("/") or "/", parse_qs(url.query))

                self._run(run)

            def do_POST(self) -> None:  # noqa: N802
                def run() -> object:
                    actor = guard("POST", self.headers, policy, api.verify_token)
                    body = self.rfile.read(body_length(self.headers, policy))
                    return api.post(urlparse(self.path).path.rstrip("/"), body, actor)

                self._run(run)

            def log_message(self, fmt: str, *args: object) -> None:
                log.debug("api %s", fmt % args)

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread: threading.Thread | None = None

    def start(self) -> "ApiServer":
        self._thread = threading.Thread(target=self.server.serve_forever, name="lampfleet-api", daemon=True)
        self._thread.start()
        log.info("API on http://127.0.0.1:%d/api/v1/", self.port)
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
