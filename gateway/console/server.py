"""The web server: uvicorn running the console and API app (gateway/console/app.py) on a thread of the
gateway process, on a socket bound before start so that port 0 (tests) gives a free port at once.

Loopback only unless the operator gives a certificate (tls_cert_file, tls_key_file): then it serves
HTTPS on any address. Without one, reach it from elsewhere through a reverse proxy with TLS
(docs/console.md).
"""
from __future__ import annotations

import logging
import socket
import threading
import time

import uvicorn

from gateway.console.app import build_app
from gateway.settings import Settings

log = logging.getLogger("lampfleet.gateway.console")
LOOPBACK = ("127.0.0.1", "::1", "localhost")


class WebServer:
    def __init__(self, settings: Settings, host: str = "127.0.0.1", port: int = 0):
        tls = bool(settings.tls_cert_file and settings.tls_key_file)
        if host not in LOOPBACK and not tls:
            raise ValueError(f"the console and API listen on loopback only, not {host!r}, unless tls_cert_file and "
                             "tls_key_file are set: or use a reverse proxy for remote access")
        self.app = build_app(settings)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1" if host == "localhost" else host, port))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.scheme = "https" if tls else "http"
        self.url = f"{self.scheme}://{'[' + host + ']' if ':' in host else host}:{self.port}/"
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off",
                                timeout_graceful_shutdown=2, server_header=False,
                                ssl_certfile=settings.tls_cert_file or None, ssl_keyfile=settings.tls_key_file or None)
        self.server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def start(self) -> "WebServer":
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                        name="lampfleet-web", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline and self._thread.is_alive():
            time.sleep(0.01)
        if not self.server.started:
            raise RuntimeError("the web server did not start (see the log)")
        log.info("console on %s (API: %sapi/v1/)", self.url, self.url)
        return self

    def stop(self) -> None:
        self.app.state.stopping = True
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.sock.close()
