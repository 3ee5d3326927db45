"""Replay attack on the real firmware's frames: an eavesdropper re-publishes frames it captured; the
gateway verifies their MIC (they are genuine), rejects them as replays, counts them, stores nothing."""
from __future__ import annotations

import sqlite3
import time

from emulator.mqtt_sink import MqttSink
from emulator.scenario import Scenario, make_fleet
from emulator.upy import UpyEmulator
from hil_tests.stack import GatewayProcess, register
from telemetry import topics


class _Recorder(MqttSink):
    """The link, plus an eavesdropper keeping a copy of everything on air."""

    def __init__(self, url: str):
        super().__init__(url, client_id="hil-replay-link")
        self.captured: list[tuple[str, bytes]] = []

    def __call__(self, lamp_id: str, frame: bytes, t_s: float) -> None:
        self.captured.append((lamp_id, frame))
        super().__call__(lamp_id, frame, t_s)


def _counts(db_path) -> tuple[int, int, int]:
    with sqlite3.connect(db_path) as conn:
        return (conn.execute("SELECT count(*) FROM readings").fetchone()[0],
                conn.execute("SELECT count(*) FROM boots").fetchone()[0],
                dict(conn.execute("SELECT reason, count FROM rejects").fetchall()).get("replay", 0))


def test_replayed_frames_are_rejected_counted_and_not_stored(broker, tmp_path, lamp_backend):
    scenario = Scenario(make_fleet(1, seed=31), days=1, seed=31)
    db_path = tmp_path / "gateway.sqlite3"
    register(db_path, scenario.lamps)
    gateway = GatewayProcess(tmp_path, broker.url, db_path).start()
    link = _Recorder(broker.url)
    try:
        UpyEmulator(scenario, tmp_path / "lamps", link).run()
        gateway.wait_for_counters(link.last_fcnt16)
        before = _counts(db_path)
        old = [f for _, f in link.captured[:20]]  # the boot frame and the first hours, hours later
        for frame in old:
            link.client.publish(topics.uplink(scenario.lamps[0].lamp_id), frame, qos=1).wait_for_publish(5)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and _counts(db_path)[2] < len(old):
            time.sleep(0.2)
        after = _counts(db_path)
    finally:
        link.close()
        gateway.stop()
    assert before[0] > 50 and before[1] == 1
    assert after[:2] == before[:2]  # nothing stored twice
    assert after[2] == before[2] + len(old)  # every replay counted
