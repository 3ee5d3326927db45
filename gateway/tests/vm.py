"""VictoriaMetrics (Debian package `victoria-metrics`) as a test InfluxDB: it accepts the InfluxDB v2 write
API unchanged and returns what it stored from /api/v1/export. Started on a free loopback port with its
own data directory, stopped by the test."""
from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

from lampfleet.broker import free_port, wait_for_port
from lampfleet.processes import stop_process


def find_victoria_metrics() -> str:
    exe = shutil.which("victoria-metrics") or ("/usr/bin/victoria-metrics" if Path("/usr/bin/victoria-metrics").exists()
                                               else None)
    if exe is None:
        raise FileNotFoundError("victoria-metrics is not installed (apt-get install victoria-metrics)")
    return exe


class VictoriaMetrics:
    def __init__(self, workdir: Path, port: int | None = None):
        self.workdir = Path(workdir)
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "VictoriaMetrics":
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log = open(self.workdir / "vm.log", "ab")
        # Emulated fleets live in the past or the future of the wall clock: keep everything. Dedup at 1 ms
        # makes a re-sent point (same series, same timestamp) count once, as InfluxDB does.
        self.proc = subprocess.Popen([find_victoria_metrics(), f"-httpListenAddr=127.0.0.1:{self.port}",
                                      f"-storageDataPath={self.workdir / 'data'}", "-retentionPeriod=100y",
                                      "-dedup.minScrapeInterval=1ms", "-search.latencyOffset=0s",
                                      "-loggerLevel=ERROR"], stdout=self.log, stderr=subprocess.STDOUT)
        wait_for_port(self.port, 20)
        return self

    def stop(self) -> None:
        stop_process(self.proc)
        if getattr(self, "log", None):
            self.log.close()

    def export(self, match: str = '{__name__=~"lamp_.*"}') -> list[dict]:
        """Every series matching, as {"metric": {...}, "values": [...], "timestamps": [...]}."""
        urllib.request.urlopen(f"{self.url}/internal/force_flush", timeout=10).read()
        q = urllib.parse.urlencode({"match[]": match, "start": "0"})
        with urllib.request.urlopen(f"{self.url}/api/v1/export?{q}", timeout=30) as r:
            return [json.loads(line) for line in r.read().decode().splitlines() if line.strip()]

    def count(self, metric: str) -> dict[str, int]:
        """Samples per lamp_id for one metric name."""
        out: dict[str, int] = {}
        for series in self.export(f'{{__name__="{metric}"}}'):
            lamp = series["metric"].get("lamp_id", "")
            out[lamp] = out.get(lamp, 0) + len(series["timestamps"])
        return out

    def wait_count(self, metric: str, total: int, timeout_s: float = 30.0) -> dict[str, int]:
        deadline = time.monotonic() + timeout_s
        counts: dict[str, int] = {}
        while time.monotonic() < deadline:
            counts = self.count(metric)
            if sum(counts.values()) >= total:
                return counts
            time.sleep(0.3)
        return counts
