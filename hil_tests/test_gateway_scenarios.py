"""Detection scenarios through the real broker and the gateway process: every rule fires for the right
lamp, soon after the fault becomes observable, and resolves after the repair; a healthy fleet month at
20 % packet loss raises nothing.

Lamps here are the gateway tests' synthetic lamps (gateway/tests/synth.py: real encrypted frames, a
simple sun and battery), so these scenarios do not wait for the firmware emulator; the same scenarios
with the real firmware belong next to hil_tests/test_first_alert.py.
"""
from __future__ import annotations

import time

import paho.mqtt.client as mqtt

from gateway import db
from gateway.registry import Registry
from gateway.tests.synth import Fleet, is_night
from hil_tests.stack import AlertListener, GatewayProcess
from telemetry import topics


class Lamps:
    """Publishes synthetic lamps' frames as their links would (QoS 1)."""

    def __init__(self, broker_url: str, fleets: list[Fleet], db_path, loss: float = 0.0):
        host, _, port = broker_url.removeprefix("mqtt://").partition(":")
        self.fleets = fleets
        conn = db.connect(db_path)
        registry = Registry(conn)
        for f in fleets:
            for s in f.lamps:
                registry.add(s.lamp)
        conn.close()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="hil-synth-lamps")
        self.client.max_inflight_messages_set(200)
        self.client.max_queued_messages_set(0)
        self.client.connect(host, int(port))
        self.client.loop_start()
        self.last = None
        self.sent = 0

    def send(self, fleet: Fleet, lamp, frame: dict) -> None:
        self.last = self.client.publish(topics.uplink(lamp.lamp_id), fleet.encoded(lamp, frame), qos=1)
        self.sent += 1

    def step(self) -> None:
        for f in self.fleets:
            for s, frame in f.step():
                self.send(f, s, frame)

    def close(self) -> None:
        if self.last is not None:
            self.last.wait_for_publish(60)
        self.client.loop_stop()
        self.client.disconnect()


def _settle(gateway: GatewayProcess, lamps: Lamps, timeout_s: float = 120) -> None:
    import sqlite3

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with sqlite3.connect(gateway.db_path) as conn:
            stored = sum(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("readings", "boots")) + \
                conn.execute("SELECT count(DISTINCT lamp_id || fcnt) FROM events").fetchone()[0]
        if stored >= lamps.sent:
            time.sleep(2.5)  # two gateway ticks: time rules and the last alerts
            return
        time.sleep(0.2)
    raise TimeoutError(f"gateway stored {stored} of {lamps.sent} frames")


def test_each_fault_alerts_the_right_lamp_soon_and_resolves_after_repair(broker, tmp_path, monkeypatch):
    monkeypatch.setenv("LAMPFLEET_DETECT_UNUSED_DAYS", "2")
    street = Fleet(10, seed=11)
    kits = Fleet(3, seed=12, kind="kit", prefix="KIT")
    street[6].capacity_mah = 6000  # a worn battery: the load is cut every night
    kits[1].faults.add("unused")
    db_path = tmp_path / "gateway.sqlite3"
    lamps = Lamps(broker.url, [street, kits], db_path)
    gateway = GatewayProcess(tmp_path, broker.url, db_path).start()
    listener = AlertListener(broker.url)
    observable: dict[tuple[str, str], int] = {}
    interval = 600
    try:
        for step in range(3 * 144 + 12):
            t = street.t
            if step == 24:  # 15:00 on day 1
                street[0].faults.add("led_open")
                street[1].faults.add("led_short")
            if step == 67:  # about 22:10 on day 1, at night
                assert is_night(t)
                lamps.send(street, street[4], street.event(street[4], t, "tamper"))
                street[4].faults.add("radio_dead")
                street[3].faults.add("radio_dead")
            if step == 80:  # a controller crashing again and again
                for k, cause in enumerate(("watchdog", "watchdog", "brown_out")):
                    lamps.send(street, street[5], street.boot(street[5], t + 60 * k, cause, 5 + k))
            if step == 100:  # 03:40 on day 2: panels stolen before sunrise
                street[7].faults.add("panel_gone")
                kits[0].faults.add("panel_gone")
            if step == 150:  # 12:00 day 2: relay stuck on
                street[2].faults.add("day_burning")
                street[0].faults.clear()  # the crew replaced the LED
            if step == 200:
                street[2].faults.clear()
            lamps.step()
            for s, fault, visible in ((street[0], "lampFailure", "led_open"), (street[1], "controlGearFailure",
                                                                               "led_short")):
                if visible in s.faults and is_night(t) and (s.lamp_id, fault) not in observable:
                    observable[(s.lamp_id, fault)] = t - t % 60
            if "day_burning" in street[2].faults and not is_night(t):
                observable.setdefault((street[2].lamp_id, "lampUnexpectedOn"), t - t % 60)
        lamps.close()
        _settle(gateway, lamps)
    finally:
        gateway.stop()
        listener.close()

    firing = {(a["lamp_id"], a["fault"]): a for a in listener.alerts if a["state"] == "firing"}
    resolved = {(a["lamp_id"], a["fault"]) for a in listener.alerts if a["state"] == "resolved"}
    L = lambda i: street[i].lamp_id  # noqa: E731
    expected = {
        (L(0), "lampFailure"), (L(1), "controlGearFailure"), (L(2), "lampUnexpectedOn"),
        (L(3), "communicationFailure"), (L(4), "tamperDetected"), (L(4), "theftSuspected"),
        (L(5), "deviceResetLoop"), (L(6), "batteryLevelTooLow"), (L(7), "chargingFailure"),
        (kits[0].lamp_id, "lanternNotCharging"), (kits[1].lamp_id, "lanternUnused"),
    }
    assert set(firing) == expected, sorted(set(firing) ^ expected)
    for key, seen in observable.items():  # alerted within one report interval of becoming observable
        assert seen <= firing[key]["at_s"] <= seen + interval, (key, seen, firing[key]["at_s"])
    assert {(L(0), "lampFailure"), (L(2), "lampUnexpectedOn"), (L(5), "deviceResetLoop")} <= resolved
    assert firing[(L(0), "lampFailure")]["message"].startswith(f"PANNE {L(0)} (Lakouanga, bangui)")
    assert firing[(L(4), "theftSuspected")]["evidence"]["tamper_s"] > 0


def test_a_healthy_fleet_month_at_20_percent_loss_raises_nothing(broker, tmp_path):
    fleet = Fleet(6, seed=21, loss=0.2)
    for s in fleet.lamps[::2]:
        s.level_after_midnight = 40
    db_path = tmp_path / "gateway.sqlite3"
    lamps = Lamps(broker.url, [fleet], db_path)
    gateway = GatewayProcess(tmp_path, broker.url, db_path).start()
    listener = AlertListener(broker.url)
    try:
        for _ in range(30 * 144):
            lamps.step()
        lamps.close()
        _settle(gateway, lamps, timeout_s=240)
    finally:
        gateway.stop()
        listener.close()
    assert listener.alerts == []
