"""The broker restarted and the gateway killed with SIGKILL while real-firmware lamps keep reporting:
every frame the lamps sent is stored exactly once, those sent while the broker or the gateway was down
included.

Three lamps run the firmware on the MicroPython unix port for two days; their link to mosquitto is a
QoS 1 client with a persistent session (what the lamps' MQTT link does: frames wait in the link while
the broker is away). The infrastructure faults are scheduled in the lamps' virtual time, from the
emulator's progress callback, so the same frames fall in the same windows on every run:

    10 h - 14 h   mosquitto stopped (it saves its sessions, the gateway's queue included), then started
    20 h - 26 h   the gateway killed with SIGKILL (batches in flight, acknowledgements not sent), then
                  started again: the broker kept what arrived for its persistent session meanwhile

Frame counters prove it: per lamp, the counters stored in readings, events and boots are exactly the
counters sent, each once; what arrived twice (QoS 1 redelivery after the kill) was counted as a
duplicate and dropped.

Helpers here (not in stack.py): `PersistentLink` (the lamps' side) and `Timeline` (actions at virtual
times).
"""
from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt

from emulator.scenario import Scenario, make_fleet
from emulator.upy import UpyEmulator
from hil_tests.stack import GatewayProcess, register
from telemetry import peek, topics

DAYS = 2.0
SEED = 61
H = 3600.0


class PersistentLink:
    """The lamps' link to the broker: QoS 1, persistent session, frames queued while disconnected.
    Records each frame's counter and the phase (what was down) it was sent in."""

    def __init__(self, broker_url: str, client_id: str = "hil-restart-lamps"):
        host, _, port = broker_url.removeprefix("mqtt://").partition(":")
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        self.client.max_inflight_messages_set(100)
        self.client.max_queued_messages_set(0)  # no limit: nothing is dropped while the broker is away
        self.client.reconnect_delay_set(0.2, 1)
        # Acknowledgements by message id: a frame published while disconnected has an error code in its
        # MQTTMessageInfo, yet it is queued and sent after the reconnection.
        self.acked: set[int] = set()
        self.client.on_publish = lambda client, userdata, mid, *rest: self.acked.add(mid)
        self.client.connect(host, int(port), keepalive=30)
        self.client.loop_start()
        self.phase = "up"
        self.sent: list[tuple[str, int, str]] = []  # (lamp, fcnt16, phase)
        self._mids: list[int] = []

    def __call__(self, lamp_id: str, frame: bytes, t_s: float) -> None:  # None: taken (paho queues it)
        self._mids.append(self.client.publish(topics.uplink(lamp_id), frame, qos=1).mid)
        self.sent.append((lamp_id, peek(frame)["fcnt16"], self.phase))

    def last_fcnt16(self) -> dict[str, int]:
        return {lamp_id: fcnt for lamp_id, fcnt, _ in self.sent}

    def wait_all(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not self.acked.issuperset(self._mids):
            if time.monotonic() > deadline:
                left = len(set(self._mids) - self.acked)
                raise TimeoutError(f"{left} frames never acknowledged by the broker")
            time.sleep(0.05)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class Timeline:
    """Actions at virtual times (s after the scenario start), run by the emulator's progress callback:
    the emulator waits while an action runs, so each falls between the same two samples on every run."""

    def __init__(self, scenario: Scenario, actions: list[tuple[float, Callable[[], None]]]):
        self.span = scenario.end_s - scenario.start_s
        self.actions = sorted(actions, key=lambda a: a[0])
        self.done = 0

    def __call__(self, fraction: float) -> None:
        while self.done < len(self.actions) and fraction * self.span >= self.actions[self.done][0]:
            self.actions[self.done][1]()
            self.done += 1


def _stored(db_path) -> dict[str, list[int]]:
    """Per lamp, the frame counters stored (readings, boots, events; an event frame holds several rows)."""
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute("SELECT lamp_id, fcnt FROM readings UNION ALL SELECT lamp_id, fcnt FROM boots "
                            "UNION ALL SELECT DISTINCT lamp_id, fcnt FROM events").fetchall()
    out: dict[str, list[int]] = {}
    for lamp_id, fcnt in rows:
        out.setdefault(lamp_id, []).append(fcnt)
    return {k: sorted(v) for k, v in out.items()}


def test_broker_restart_and_gateway_kill_9_lose_and_double_nothing(broker, tmp_path, lamp_backend):
    scenario = Scenario(make_fleet(3, seed=SEED), days=DAYS, seed=SEED)
    db_path = tmp_path / "gateway.sqlite3"
    register(db_path, scenario.lamps)
    gateways = [GatewayProcess(tmp_path, broker.url, db_path).start()]
    link = PersistentLink(broker.url)

    def phase(name: str, action: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            action()
            link.phase = name
        return run

    def kill_gateway() -> None:
        proc = gateways[-1].proc
        assert proc is not None
        proc.kill()
        proc.wait()
        gateways[-1].stop()  # closes its log

    timeline = Timeline(scenario, [
        (10 * H, phase("broker down", broker.stop)),
        (14 * H, phase("up", broker.start)),
        (20 * H, phase("gateway down", kill_gateway)),
        (26 * H, phase("up", lambda: gateways.append(GatewayProcess(tmp_path, broker.url, db_path).start()))),
    ])
    try:
        result = UpyEmulator(scenario, tmp_path / "lamps", link, progress=timeline).run()
        assert timeline.done == 4
        link.wait_all()
        gateways[-1].wait_for_counters(link.last_fcnt16())
        time.sleep(1.0)  # anything stored twice would show now
        stored = _stored(db_path)
        with sqlite3.connect(db_path) as conn:
            rejects = dict(conn.execute("SELECT reason, count FROM rejects"))
    finally:
        link.close()
        gateways[-1].stop()

    assert all(lp["restarts"] == 0 for lp in result["lamps"]), result
    by_phase = {p: sum(1 for *_, ph in link.sent if ph == p) for p in ("up", "broker down", "gateway down")}
    assert by_phase["broker down"] >= 3 * 10 and by_phase["gateway down"] >= 3 * 10, by_phase  # 15 min by night, 30 by day
    for ident in scenario.lamps:
        sent = [fcnt for lamp_id, fcnt, _ in link.sent if lamp_id == ident.lamp_id]
        assert sent == sorted(set(sent)) and sent[0] == 0  # counters from the boot frame on, each once
        assert stored[ident.lamp_id] == sent, ident.lamp_id  # every frame stored, and only once
    assert set(rejects) <= {"duplicate"}, rejects  # redeliveries only: no replay, MIC or stale rejection
