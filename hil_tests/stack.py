"""Test-side handles on the parts of a running system: gateway process, alert listener, registry.

The same helpers serve every HIL scenario whether lamps are emulated or real boards.
"""
from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt

from emulator.scenario import LampIdentity
from gateway import db
from gateway.registry import Lamp, Registry
from lampfleet.processes import stop_process
from telemetry import topics


def register(db_path: Path, lamps: list[LampIdentity], site: str = "bangui") -> None:
    conn = db.connect(db_path)
    registry = Registry(conn)
    for ident in lamps:
        registry.add(Lamp(ident.lamp_id, ident.devaddr, ident.key, kind=ident.profile, site=site))
    conn.close()


class GatewayProcess:
    """`lampfleet gateway` as a separate process, as it runs in production."""

    def __init__(self, workdir: Path, broker_url: str, db_path: Path, clock: str = "device",
                 detect: dict[str, int] | None = None, toml: str = ""):
        """`detect`: [detect] settings (docs/alert-rules.md), e.g. a lower unused_days for a short run.
        `toml`: the whole gateway.toml instead (broker_url, clock and detect are then not used)."""
        self.workdir = Path(workdir)
        self.db_path = db_path
        self.config = self.workdir / "gateway.toml"
        detect_toml = "".join(f"{key} = {value}\n" for key, value in (detect or {}).items())
        self.config.write_text(toml or (
            f'[gateway]\nbroker_url = "{broker_url}"\ndatabase = "{db_path}"\nclock = "{clock}"\n'
            + (f"[detect]\n{detect_toml}" if detect_toml else "")))
        self.proc: subprocess.Popen | None = None

    def start(self, timeout_s: float = 20.0) -> "GatewayProcess":
        """Start the gateway and wait until it has subscribed, so that no early frame is missed."""
        log_path = self.workdir / "gateway.log"
        offset = log_path.stat().st_size if log_path.exists() else 0
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "lampfleet", "gateway", "--config", str(self.config)],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if b"subscribed" in log_path.read_bytes()[offset:]:
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"gateway did not subscribe: see {log_path}")

    def wait_for_counters(self, expected: dict[str, int], timeout_s: float = 60.0) -> None:
        """Wait until the gateway has stored each lamp's frames up to the given frame counter."""
        deadline = time.monotonic() + timeout_s
        last: dict = {}
        while time.monotonic() < deadline:
            with sqlite3.connect(self.db_path) as conn:
                last = dict(conn.execute("SELECT lamp_id, last_fcnt FROM lamps").fetchall())
            if all(last.get(k) is not None and last[k] >= v for k, v in expected.items()):
                return
            time.sleep(0.2)
        raise TimeoutError(f"gateway stored counters {last}, expected {expected}")

    def stop(self) -> None:
        stop_process(self.proc)
        self.log.close()


class AlertListener:
    """Collects every alert the gateway publishes on MQTT."""

    def __init__(self, broker_url: str, prefix: str = topics.PREFIX):
        host, _, port = broker_url.removeprefix("mqtt://").partition(":")
        self.alerts: list[dict] = []
        self._subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="hil-alert-listener")
        self.client.on_connect = lambda c, *_: c.subscribe(topics.alert("+", prefix), qos=1)
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.on_message = lambda c, u, msg: self.alerts.append(json.loads(msg.payload))
        self.client.connect(host, int(port))
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise TimeoutError("alert listener could not subscribe")

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
