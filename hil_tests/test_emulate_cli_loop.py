"""The engineer's loop of docs/emulator.md, command by command as they type it: a real mosquitto, the
gateway process with `clock = "device"`, `lampfleet emulate --export-registry`, `lampfleet lamps import`,
`lampfleet emulate --broker`, then `lampfleet alerts`. The gateway stores every frame of the emulated lamps
(none refused as unknown_device) and alerts the injected fault; the same seed run again is a replay.
"""
from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from hil_tests.stack import GatewayProcess

LAMPS, SEED = 3, 12
EMULATE = ["emulate", "--lamps", str(LAMPS), "--seed", str(SEED)]


def lampfleet(*args: str, timeout_s: float = 60) -> str:
    res = subprocess.run([sys.executable, "-m", "lampfleet", *args], capture_output=True, text=True,
                         timeout=timeout_s)
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


def _wait_for_log(path: Path, text: str, timeout_s: float = 15) -> None:
    deadline = time.monotonic() + timeout_s
    while text not in path.read_text():
        assert time.monotonic() < deadline, f"no {text!r} in {path}"
        time.sleep(0.2)


def test_emulated_lamps_reach_a_real_gateway_through_the_exported_registry(broker, tmp_path, lamp_backend):
    db_path = tmp_path / "gateway.sqlite3"
    gateway = GatewayProcess(tmp_path, broker.url, db_path, clock="device")  # writes gateway.toml
    config = str(gateway.config)
    lampfleet(*EMULATE, "--export-registry", str(tmp_path / "lamps.csv"))
    assert "3 added" in lampfleet("lamps", "import", str(tmp_path / "lamps.csv"), "--config", config)
    gateway.start()
    try:
        # A day and a half from noon: LAMP-0002's LED opens at 15:00 and the first dusk (18:04) shows it
        # dark. Over 64 frames a lamp: the gateway has forgotten the first ones' bytes, so the second run
        # below is refused as replays rather than as duplicates (gateway/link/replay.py).
        result = json.loads(lampfleet(*EMULATE, "--days", "1.5", "--fault", "2:led_open@3h",
                                      "--broker", broker.url, "--json"))
        sent = {lamp["id"]: lamp["frames"] for lamp in result["lamps"]}
        gateway.wait_for_counters({lamp_id: frames - 1 for lamp_id, frames in sent.items()}, timeout_s=30)
        alerts = json.loads(lampfleet("alerts", "--config", config, "--json"))
        # The same seed again: the same keys and frame counters from 0, refused as replays.
        lampfleet(*EMULATE, "--days", "0.05", "--broker", broker.url, "--json")
        _wait_for_log(tmp_path / "gateway.log", "replay")
    finally:
        gateway.stop()

    with sqlite3.connect(db_path) as conn:
        stored = dict(conn.execute("SELECT lamp_id, COUNT(*) FROM readings GROUP BY lamp_id").fetchall())
        last = dict(conn.execute("SELECT lamp_id, last_fcnt FROM lamps").fetchall())
    assert set(stored) == set(sent) and all(stored[lamp_id] > 0 for lamp_id in sent), stored
    assert last == {lamp_id: frames - 1 for lamp_id, frames in sent.items()}  # the replayed run stored nothing
    log = (tmp_path / "gateway.log").read_text()
    assert "unknown_device" not in log, log[-2000:]
    assert [(a["lamp_id"], a["fault"]) for a in alerts] == [("LAMP-0002", "lampFailure")], alerts
