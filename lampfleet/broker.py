"""Start an MQTT broker for the demo and the tests: mosquitto when installed, else an embedded one.

Each broker listens on a free loopback port with its own config and data directory, so tests and demos
never touch a system broker or each other.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

from lampfleet.processes import stop_process


def parse_url(url: str) -> tuple[str, int, bool]:
    """mqtt://host[:port] or mqtts://host[:port] -> (host, port, tls); ValueError saying what to write."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("mqtt", "mqtts"):
        raise ValueError(f"{url!r}: use mqtts://host:8883 (TLS) or mqtt://host:1883")
    host, _, port = rest.rstrip("/").partition(":")
    tls = scheme == "mqtts"
    try:
        return host or "127.0.0.1", int(port or (8883 if tls else 1883)), tls
    except ValueError:
        raise ValueError(f"{url!r}: port must be a number") from None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout_s} s")


def find_mosquitto() -> str | None:
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).exists()), None)


class Mosquitto:
    """A private mosquitto process. `extra_config` lines are appended (ACLs, password file...)."""

    kind = "mosquitto"

    def __init__(self, workdir: Path, port: int | None = None, extra_config: str = "", persistence: bool = True):
        self.workdir = Path(workdir)
        self.port = port or free_port()
        self.extra_config = extra_config
        self.persistence = persistence
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> "Mosquitto":
        exe = find_mosquitto()
        if exe is None:
            raise FileNotFoundError("mosquitto is not installed (apt-get install mosquitto)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "mosquitto.conf"
        extra_config = self.extra_config
        lines = [f"listener {self.port} 127.0.0.1", "allow_anonymous true",
                 # As root, mosquitto would drop to the `mosquitto` user and could not write its session
                 # store in our directory: persistent sessions would not survive a broker restart.
                 *(["user root"] if os.geteuid() == 0 and "\nuser " not in "\n" + extra_config else []),
                 f"persistence {'true' if self.persistence else 'false'}",
                 f"persistence_location {self.workdir}/", "max_queued_messages 0", self.extra_config]
        if "allow_anonymous" in self.extra_config:
            lines.remove("allow_anonymous true")
        conf.write_text("\n".join(lines) + "\n")
        self.log = open(self.workdir / "mosquitto.log", "ab")
        self.proc = subprocess.Popen([exe, "-c", str(conf)], stdout=self.log, stderr=subprocess.STDOUT)
        try:
            wait_for_port(self.port)
        except TimeoutError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        stop_process(self.proc, 5)
        if getattr(self, "log", None):
            self.log.close()


class EmbeddedBroker:
    """amqtt running in a background thread: the demo's fallback when mosquitto cannot be installed."""

    kind = "embedded (amqtt)"

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> "EmbeddedBroker":
        from amqtt.broker import Broker

        config = {"listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}},
                  "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}}}
        self._loop = asyncio.new_event_loop()
        started = threading.Event()

        def serve() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            self._broker = Broker(config, loop=self._loop)
            self._loop.run_until_complete(self._broker.start())
            started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, name="embedded-broker", daemon=True)
        self._thread.start()
        started.wait(10)
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        fut = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop)
        try:
            fut.result(timeout=5)
        except Exception:  # noqa: BLE001 - shutting down anyway
            pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread:
            self._thread.join(timeout=5)


def start_broker(workdir: Path, allow_embedded: bool = True):
    """mosquitto if present, else the embedded broker (when allowed)."""
    if find_mosquitto():
        return Mosquitto(workdir).start()
    if not allow_embedded:
        raise FileNotFoundError("mosquitto is not installed (apt-get install mosquitto)")
    return EmbeddedBroker().start()
