"""Power cuts in the middle of a backlog: the firmware's MQTT link (Link + FrameQueue + MqttTransport on the
real MicroPython, umqtt.simple2), a real mosquitto with persistence as docs/operations.md configures it,
and `lampfleet gateway` as its own process. The gateway is killed (SIGKILL) while the lamps queue frames,
then the broker too, losing what it had acknowledged since its last autosave; both come back, and the
gateway is killed once more while it drains the backlog. Every frame every lamp made is stored exactly
once, and every lamp's flash queue ends empty: a lamp forgets a frame only on the gateway's answer.
CPython only (it drives the processes)."""
from __future__ import annotations

import json
import signal
import sqlite3
import time
from pathlib import Path

from emulator.scenario import LampIdentity
from firmware.link.tests.test_mqtt_on_micropython import drain_lines, start_lamp, wait
from hil_tests.stack import GatewayProcess, register
from lampfleet.broker import Mosquitto

LAMPS = 3
FRAMES = 60  # per lamp, one every 100 ms: the lamps are still queueing when the first kill comes


def _identity(i: int) -> LampIdentity:
    return LampIdentity(f"LAMP-{i + 1:04d}", 0x200000 + i, bytes([i + 1] * 16), "street")


def _stored(db_path: Path) -> dict[str, list[int]]:
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute("SELECT lamp_id, fcnt FROM readings ORDER BY lamp_id, fcnt").fetchall()
    out: dict[str, list[int]] = {}
    for lamp_id, fcnt in rows:
        out.setdefault(lamp_id, []).append(fcnt)
    return out


def _count(db_path: Path) -> int:
    try:
        return sum(len(v) for v in _stored(db_path).values())
    except sqlite3.Error:  # the gateway is migrating or writing: ask again
        return 0


def _kill(process) -> None:  # type: ignore[no-untyped-def]
    process.send_signal(signal.SIGKILL)
    process.wait(10)


def test_kill_9_of_gateway_and_broker_mid_backlog_loses_and_doubles_nothing(tmp_path):
    # The broker as deployed: persistent sessions, saved every 300 s (docs/operations.md), so a kill -9
    # loses everything it queued since it started.
    broker = Mosquitto(tmp_path / "broker", extra_config="autosave_interval 300").start()
    db_path = tmp_path / "gateway.db"
    lamps = [_identity(i) for i in range(LAMPS)]
    register(db_path, lamps)
    gateway = GatewayProcess(tmp_path, broker.url, db_path).start()
    procs = []
    try:
        for ident in lamps:
            work = tmp_path / ident.lamp_id
            work.mkdir()
            (work / "lamp.json").write_text(json.dumps({"lamp_id": ident.lamp_id, "devaddr": ident.devaddr,
                                                        "key_hex": ident.key.hex(), "need_downlink": False}))
            procs.append(start_lamp(broker.port, work, FRAMES, 120))
        assert wait(lambda: _count(db_path) >= 3 * LAMPS, 30)
        _kill(gateway.proc)  # mid-batch, with the lamps still queueing
        time.sleep(1.5)
        _kill(broker.proc)  # everything it acknowledged since it started is gone
        time.sleep(1.0)
        broker.start()
        gateway.start()
        assert wait(lambda: _count(db_path) >= LAMPS * FRAMES // 2, 90)
        _kill(gateway.proc)  # once more, while the backlog drains
        gateway.start()
        assert wait(lambda: _count(db_path) == LAMPS * FRAMES, 90), _stored(db_path)
        stored = _stored(db_path)
        assert stored == {ident.lamp_id: list(range(FRAMES)) for ident in lamps}
        for proc, lines in procs:  # each lamp's queue drains to nothing: all answered, nothing dropped
            assert wait(lambda: proc.poll() is not None, 30)
            done = [e for e in drain_lines(lines) if e.get("done")]
            assert done and done[0]["queue"] == 0, done
    finally:
        for proc, _lines in procs:
            if proc.poll() is None:
                proc.kill()
        gateway.stop()
        broker.stop()
