"""HIL scenarios on the real firmware: a fault raised and repaired, and a quiet healthy fleet on a lossy
link. Emulated lamps (`--lamp emulator`) run on the MicroPython unix port; the gateway is the real service."""
from __future__ import annotations

from emulator.faults import parse
from emulator.mqtt_sink import MqttSink
from emulator.physics.site import get_site
from emulator.scenario import Scenario, make_fleet
from emulator.upy import UpyEmulator
from emulator.world import next_sun_event
from hil_tests.stack import AlertListener, GatewayProcess, register


def _run(broker, tmp_path, scenario: Scenario) -> tuple[dict, list[dict]]:
    db_path = tmp_path / "gateway.sqlite3"
    register(db_path, scenario.lamps)
    gateway = GatewayProcess(tmp_path, broker.url, db_path).start()
    listener = AlertListener(broker.url)
    sink = MqttSink(broker.url)
    try:
        result = UpyEmulator(scenario, tmp_path / "lamps", sink).run()
        sink.close()
        gateway.wait_for_counters(sink.last_fcnt16)  # short runs: counters stay below 2^16
    finally:
        gateway.stop()
        listener.close()
    return result, listener.alerts


def test_led_open_is_alerted_then_resolved_after_repair(broker, tmp_path, lamp_backend):
    # LED fails at 15:00 on day 1, a crew replaces it at 15:00 on day 2 (offsets from noon, 11:00 UTC).
    scenario = Scenario(make_fleet(2, seed=21), days=3, seed=21, faults=parse("2:led_open@4h,2:-led_open@28h"))
    result, alerts = _run(broker, tmp_path, scenario)
    faulty = scenario.lamps[1].lamp_id
    mine = [(a["fault"], a["state"]) for a in alerts if a["lamp_id"] == faulty and a["fault"] == "lampFailure"]
    assert mine[:1] == [("lampFailure", "firing")] and ("lampFailure", "resolved") in mine, alerts
    resolved = next(a for a in alerts if a["lamp_id"] == faulty and a["state"] == "resolved")
    site = get_site("bangui")
    repair = scenario.start_s + 28 * 3600
    # Judged again at the first dusk after the repair, and resolved within that night.
    assert repair < resolved["at_s"] <= next_sun_event(site, next_sun_event(site, repair, "sunset"), "sunrise")
    assert [a for a in alerts if a["lamp_id"] == scenario.lamps[0].lamp_id] == []


def test_healthy_fleet_week_with_30_percent_loss_raises_nothing(broker, tmp_path, lamp_backend):
    scenario = Scenario(make_fleet(3, seed=22), days=7, seed=22, loss_rate=0.3)
    result, alerts = _run(broker, tmp_path, scenario)
    assert all(lamp["dark_minutes"] == 0 for lamp in result["lamps"]), result
    assert alerts == []
