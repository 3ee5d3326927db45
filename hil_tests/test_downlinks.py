"""HIL: downlinks reach real-firmware lamps over MQTT and come back acknowledged.

Two lamps run the firmware on the MicroPython unix port (UpyEmulator) behind mosquitto; the gateway runs
as its own process. Five hours of a day from noon, so the street should be dark-free and the LED off:

    before the run   `lampfleet downlink LAMP-1 --test-on 10` (the operator's CLI)
    at 2 h           LAMP-1: config status_interval_s=300 (the Python API, while the gateway runs);
                     LAMP-2, whose clock was set two hours back at 1 h: time_sync

The gateway publishes each request on lampfleet/<id>/down after the lamp's next uplink; the lamp opens
it, applies it and answers with a dlack, which the gateway's MQTT ingest verifies and uses to close the
entry. Proof from every side: the LED at full light for those 10 minutes of daylight (the emulator's
record of what the firmware commanded), status frames at the gateway 1,800 s apart before the config and
600 s after (by day a lamp reports at twice its status_interval_s: 900 s, then 300 s), the lamp's
config_applied and time_sync events, LAMP-2's frames back on the fleet's time,
and every downlink entry `acked` with result `applied`.

Timing: the emulator runs virtual time far faster than the gateway answers, so the MQTT sink holds a
lamp after each uplink (a receive window in wall time, `MqttSink.await_downlinks`) while a downlink is
expected for it: each request then reaches the lamp with the answer to the uplink it followed.
"""
from __future__ import annotations

import sqlite3
import subprocess
import sys
import time

from emulator.faults import parse
from emulator.mqtt_sink import MqttSink
from emulator.scenario import Scenario, make_fleet
from emulator.upy import UpyEmulator
from gateway.link.downlinks import DownlinkQueue
from hil_tests.stack import GatewayProcess, register

H = 3600.0
REQUEST_AT_S = 2 * H  # virtual time after the start when the config and the time sync are queued
# The lamp's heap. Applying a config reloads the settings validation (firmware/shell/requests.py): with the
# app in ROMFS that fits at 96 KB with 2-4 KB to spare (at 92 KB the lamp's loop fails with a MemoryError
# and the request is lost until the gateway resends it, 10 minutes of wall time later).
HEAP = "96K"


class LedRecord(UpyEmulator):
    """The emulator, remembering the LED level each lamp commanded and for how long."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.led: dict[str, list[tuple[float, float, float]]] = {}  # lamp -> (t_s, dt_s, led_pct)

    def _handle(self, lamp, request):  # type: ignore[no-untyped-def]
        if request.get("op") == "sleep":
            self.led.setdefault(lamp.ident.lamp_id, []).append(
                (lamp.t_s, request["ms"] / 1000.0, request.get("led_pct", 0)))
        super()._handle(lamp, request)


class RequestingSink(MqttSink):
    """The lamps' broker link; at REQUEST_AT_S of virtual time it queues the mid-run requests."""

    def __init__(self, url: str, db_path, start_s: float, lamps: list[str]):
        super().__init__(url, client_id="hil-downlink-lamps")
        self.db_path, self.at_s, self.lamps = db_path, start_s + REQUEST_AT_S, lamps
        self.requested: dict[str, int] = {}

    def __call__(self, lamp_id: str, frame: bytes, t_s: float) -> bool:
        if not self.requested and t_s >= self.at_s:
            queue = DownlinkQueue(self.db_path)
            one, two = self.lamps
            self.requested = {"config": queue.enqueue(one, "config", settings={"status_interval_s": 300}),
                              "time_sync": queue.enqueue(two, "command", command="time_sync")}
            queue.conn.close()
            self.await_downlinks(one, 1)
            self.await_downlinks(two, 1)
            time.sleep(1.3)  # the gateway looks for queued downlinks once a second
        return super().__call__(lamp_id, frame, t_s)


def test_test_on_config_and_time_sync_reach_the_lamps_and_are_acknowledged(broker, tmp_path, lamp_backend):
    faults = parse("2:clock_jump=-7200@1h")
    scenario = Scenario(make_fleet(2, seed=71), days=5 / 24, seed=71, faults=faults)
    one, two = (ident.lamp_id for ident in scenario.lamps)
    db_path = tmp_path / "gateway.sqlite3"
    register(db_path, scenario.lamps)
    out = subprocess.run([sys.executable, "-m", "lampfleet", "downlink", one, "--test-on", "10", "--db", str(db_path)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "queued downlink" in out.stdout, out.stdout + out.stderr
    gateway = GatewayProcess(tmp_path, broker.url, db_path).start()
    sink = RequestingSink(broker.url, db_path, scenario.start_s, [one, two])
    sink.await_downlinks(one, 1)
    try:
        emulator = LedRecord(scenario, tmp_path / "lamps", sink, heapsize=HEAP)
        result = emulator.run()
        sink.close()
        gateway.wait_for_counters(sink.last_fcnt16)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # the last dlacks may still be on their way
            with sqlite3.connect(db_path) as conn:
                if not conn.execute("SELECT count(*) FROM downlinks WHERE state='pending'").fetchone()[0]:
                    break
            time.sleep(0.2)
    finally:
        gateway.stop()
    assert [lp["restarts"] for lp in result["lamps"]] == [0, 0], result
    errors = [line for lamp in (one, two) for line in (tmp_path / "lamps" / lamp / "console.log").read_text().splitlines()
              if "error" in line]
    assert not errors, f"a lamp's loop failed (applying a downlink at {HEAP} of heap?): {errors}"

    with sqlite3.connect(db_path) as conn:
        entries = conn.execute("SELECT lamp_id, kind, body, state, result, attempts FROM downlinks ORDER BY id").fetchall()
        readings = {lamp: conn.execute("SELECT time_s, mode FROM readings WHERE lamp_id=? ORDER BY fcnt",
                                       (lamp,)).fetchall() for lamp in (one, two)}
        events = {lamp: conn.execute("SELECT time_s, code, value, ref FROM events WHERE lamp_id=? ORDER BY fcnt, idx",
                                     (lamp,)).fetchall() for lamp in (one, two)}
    # Every request was sent once and acknowledged as applied.
    assert [(e[0], e[1], e[3], e[4], e[5]) for e in entries] == [
        (one, "command", "acked", "applied", 1), (one, "config", "acked", "applied", 1),
        (two, "command", "acked", "applied", 1)], entries

    # test_on: full light at midday for the 10 minutes asked, from the lamp's first minutes; the other lamp dark.
    start = scenario.start_s
    lit = [(t, dt) for t, dt, pct in emulator.led[one] if pct >= 100]
    assert 590 <= sum(dt for _, dt in lit) <= 610 and lit[0][0] - start < 120, lit
    assert not [x for x in emulator.led[two] if x[2] > 0]
    assert not [x for x in emulator.led[one] if 0 < x[2] < 100]

    # config: one config_applied event (value 1: accepted, ref 1: one setting), then by day a status every
    # 2 x 300 s (before it: 2 x 900 s).
    applied = [e for e in events[one] if e[1] == "config_applied"]
    assert len(applied) == 1 and applied[0][2:] == (1, 1), events[one]
    t_cfg = applied[0][0]
    assert abs(t_cfg - (start + REQUEST_AT_S)) < 2 * 1800, (t_cfg, start)  # after an uplink: by day one per 30 min
    times = [t for t, _ in readings[one]]
    before = [b - a for a, b in zip(times, times[1:]) if b <= t_cfg]
    after = [b - a for a, b in zip(times, times[1:]) if a > t_cfg + 300]
    assert len(before) >= 3 and all(1740 <= d <= 1860 for d in before), before
    assert len(after) >= 10 and all(540 <= d <= 660 for d in after), after

    # time_sync: LAMP-2's clock was two hours behind since 1 h; set from the gateway's (fleet's) clock.
    synced = [e for e in events[two] if e[1] == "time_sync"]
    # the fleet's clock (clock = "device") is the newest frame's time: by day up to one 30-min report behind
    assert len(synced) == 1 and 7200 - 1860 <= synced[0][2] <= 7200 + 60, events[two]
    late = [t for t, _ in readings[two] if t > synced[0][0]]
    assert late and abs(late[-1] - times[-1]) <= 2 * 1800 + 60, (late[-1:], times[-1:])  # its lag and its cadence
