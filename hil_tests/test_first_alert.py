"""Foundation path end to end: emulated lamps -> mosquitto -> gateway -> lamp-dark alert.

Two lamps run the real firmware on the MicroPython unix port for three simulated days in Bangui.
Lamp 2's LED goes open-circuit at 15:00 on the first afternoon; the gateway must raise `lampFailure`
for it during the first night, and lamp 1 must raise nothing at all.
"""
from __future__ import annotations

from emulator.faults import parse
from emulator.mqtt_sink import MqttSink
from emulator.physics.site import get_site
from emulator.scenario import Scenario, make_fleet
from emulator.upy import UpyEmulator
from emulator.world import next_sun_event
from hil_tests.stack import AlertListener, GatewayProcess, register

FAULT_AT_S = 4 * 3600  # 15:00 WAT, the scenario starts at 11:00 UTC (noon WAT)


def test_led_open_alert_in_first_night_and_healthy_lamp_quiet(broker, tmp_path, lamp_backend):
    lamps = make_fleet(2, seed=7)
    # Half brightness: a budget lamp in the rainy season cannot burn full power for three nights.
    scenario = Scenario(lamps, days=3, seed=7, faults=parse(f"2:led_open@{FAULT_AT_S}s"),
                        settings={"night_level_pct": 50})
    db_path = tmp_path / "gateway.sqlite3"
    register(db_path, lamps)
    gateway = GatewayProcess(tmp_path, broker.url, db_path).start()
    listener = AlertListener(broker.url)
    sink = MqttSink(broker.url)
    try:
        result = UpyEmulator(scenario, tmp_path / "lamps", sink).run()
        sink.close()
        gateway.wait_for_counters({lp["id"]: lp["frames"] - 1 for lp in result["lamps"]})
    finally:
        gateway.stop()
        listener.close()

    assert all(lp["restarts"] == 0 for lp in result["lamps"]), result
    faulty, healthy = lamps[1].lamp_id, lamps[0].lamp_id
    assert [a for a in listener.alerts if a["lamp_id"] == healthy] == []
    dark = [a for a in listener.alerts if a["lamp_id"] == faulty]
    assert [(a["fault"], a["state"]) for a in dark] == [("lampFailure", "firing")], dark

    fault_t = scenario.start_s + FAULT_AT_S
    dusk = next_sun_event(get_site("bangui"), fault_t, "sunset")
    dawn = next_sun_event(get_site("bangui"), dusk, "sunrise")
    assert dusk <= dark[0]["at_s"] <= dawn, (dusk, dark[0], dawn)
    assert dark[0]["evidence"]["led_ma"] == 0 and dark[0]["evidence"]["led_pct"] >= 5
