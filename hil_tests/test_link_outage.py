"""HIL: store-and-forward on the real firmware. The network is gone for 7 simulated days (nothing a lamp
sends is taken: dead radio path, no acknowledgement), the lamp reboots twice in that week, its LED fails
and is repaired; when the network comes back, every event reaches the real gateway through mosquitto,
exactly once and in the order it happened. Status frames beyond the flash queue's 512 slots are the
ones given up (firmware/link/queue.py: status goes first, events stay)."""
from __future__ import annotations

import sqlite3

from emulator.faults import parse
from emulator.mqtt_sink import MqttSink
from emulator.physics.site import get_site
from emulator.scenario import Scenario, make_fleet
from emulator.upy import UpyEmulator
from emulator.world import next_sun_event
from hil_tests.stack import GatewayProcess, register
from telemetry import peek

DAY = 86400


class RecordingSink(MqttSink):
    """The broker link, remembering what it delivered and in which order."""

    def __init__(self, url: str):
        super().__init__(url)
        self.delivered: list[tuple[str, int]] = []  # (frame type, fcnt16) in delivery order

    def __call__(self, lamp_id: str, frame: bytes, t_s: float) -> bool:
        ok = super().__call__(lamp_id, frame, t_s)
        if ok:
            head = peek(frame)
            self.delivered.append((head["type"], head["fcnt16"]))
        return ok


def test_a_week_without_network_and_two_reboots_loses_no_event(broker, tmp_path, lamp_backend):
    spec = "1:radio_dead@1d,1:led_open@2d,1:brown_out=5@3d,1:-led_open@4d,1:brown_out=5@5d,1:-radio_dead@8d"
    scenario = Scenario(make_fleet(1, seed=31), days=9.5, seed=31, faults=parse(spec))
    lamp = scenario.lamps[0].lamp_id
    db_path = tmp_path / "gateway.sqlite3"
    register(db_path, scenario.lamps)
    gateway = GatewayProcess(tmp_path, broker.url, db_path).start()
    sink = RecordingSink(broker.url)
    try:
        result = UpyEmulator(scenario, tmp_path / "lamps", sink).run()
        sink.close()
        gateway.wait_for_counters(sink.last_fcnt16)
    finally:
        gateway.stop()
    assert result["lamps"][0]["restarts"] == 0, result  # the firmware never crashed (two brown-outs aside)

    # Delivered in order: frame counters only rise (every frame left from the queue's head).
    counters = [fcnt for _, fcnt in sink.delivered]
    assert counters == sorted(counters) and len(set(counters)) == len(counters), counters

    with sqlite3.connect(db_path) as conn:
        events = conn.execute("SELECT fcnt, time_s, code, action FROM events WHERE lamp_id=? ORDER BY fcnt, idx",
                              (lamp,)).fetchall()
        boots = conn.execute("SELECT reset_cause FROM boots WHERE lamp_id=? ORDER BY fcnt", (lamp,)).fetchall()
    # Every dusk and dawn of the run, including the week of silence, each once.
    site = get_site("bangui")
    expected_dusks, t = 0, scenario.start_s
    while (t := next_sun_event(site, t, "sunset")) < scenario.end_s - 3600:
        expected_dusks += 1
    dusks = [e for e in events if e[2] == "dusk"]
    dawns = [e for e in events if e[2] == "dawn"]
    assert len(dusks) == expected_dusks and len(dawns) >= expected_dusks - 1, (dusks, dawns)
    assert len({e[1] // DAY for e in dusks}) == len(dusks)  # one per evening: no duplicate
    # The LED fault raised during the outage (again after the reboot that followed: the lamp diagnoses
    # afresh at boot), then cleared after the repair, in that order.
    led = [e[3] for e in events if e[2] == "led_open"]
    assert led[0] == "raised" and led[-1] == "cleared" and led.count("cleared") == 1, led
    # Event times rise with the counter: stored in the order they happened.
    times = [e[1] for e in events]
    assert times == sorted(times)
    assert [b[0] for b in boots] == ["power_on", "brown_out", "brown_out"], boots
    # The frames of the outage week arrived after it (nothing got through while the network was down).
    outage_end = scenario.start_s + 8 * DAY
    assert any(e[1] < outage_end - 6 * DAY for e in events)
