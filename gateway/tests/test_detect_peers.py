"""The rules that compare a lamp with its site at the same moment (gateway/peers.py), the readings physics
rules out, flap damping by hold-off, and root causes that fold their consequences (through the alert
store on a real SQLite file)."""
from __future__ import annotations

from gateway import daily, db
from gateway.alerts import Alerts
from gateway.detect import Detector
from gateway.faults import (COMMUNICATION_FAILURE, HIGH_TEMPERATURE, LAMP_UNEXPECTED_ON, PANEL_DEGRADED,
                            SENSOR_FAILURE)
from gateway.registry import Lamp
from gateway.tests.synth import decoded

NOON = 1785582000  # 2026-08-01 11:00 UTC, noon in Bangui
SITE = [Lamp(f"L{i}", i, bytes(16), site="bangui") for i in range(1, 6)]


def _day(lamp_i: int, t: int, fcnt: int, ibat: int = 2000, temp: int = 34, pv: int = 15800, **over) -> dict:
    fields = {"time_s": t, "led_pct": 0, "led_ma": 0, "vbat_mv": 13200 + fcnt % 7, "ibat_ma": ibat, "pv_mv": pv,
              "soc_pct": 70, "temp_c": temp, "mode": "day", "faults": []}
    fields.update(over)
    return decoded("status", fields, fcnt)


def _site_run(d: Detector, steps: int, odd: dict, start: int = NOON) -> list:
    """Five lamps reporting 30 s apart every 10 minutes; `odd` overrides lamp 1's readings."""
    found = []
    for k in range(steps):
        for i, lamp in enumerate(SITE):
            over = odd if i == 0 else {}
            found += d.observe_frame(lamp, _day(i, start + 600 * k + 30 * i, k, **over))
    return found


def test_a_panel_giving_a_fifth_of_its_sites_current_is_degraded_and_healthy_ones_are_not():
    found = _site_run(Detector(), 6, {"ibat": 400})
    raised = [(f.lamp_id, f.fault) for f in found if f.action == "raise"]
    assert raised == [("L1", PANEL_DEGRADED)]
    ev = next(f for f in found if f.fault == PANEL_DEGRADED).evidence
    assert ev["share_pct"] == 20 and ev["site_median_ma"] == 2000 and ev["peers"] == 4


def test_a_cut_panel_is_not_called_dirty_and_a_whole_dim_site_is_weather():
    assert not [f for f in _site_run(Detector(), 6, {"ibat": 10, "pv": 0}) if f.fault == PANEL_DEGRADED]
    d = Detector()
    found = []
    for k in range(6):  # an overcast hour: everyone at 150 mA, lamp 1 at 20
        for i, lamp in enumerate(SITE):
            found += d.observe_frame(lamp, _day(i, NOON + 600 * k + 30 * i, k, ibat=20 if i == 0 else 150))
    assert not [f for f in found if f.fault == PANEL_DEGRADED]


def test_a_battery_hotter_than_its_site_is_alerted_but_a_hot_afternoon_for_everyone_is_not():
    found = _site_run(Detector(), 4, {"temp": 47})
    assert [(f.lamp_id, f.fault) for f in found if f.action == "raise"] == [("L1", HIGH_TEMPERATURE)]
    d = Detector()
    hot = []
    for k in range(4):
        for i, lamp in enumerate(SITE):
            hot += d.observe_frame(lamp, _day(i, NOON + 600 * k + 30 * i, k, temp=48))
    assert hot == []


def test_a_frozen_battery_voltage_while_discharging_and_daylight_at_midnight_are_sensor_faults():
    d = Detector()
    night = NOON + 11 * 3600  # 23:00
    frames = [decoded("status", {"time_s": night + 600 * k, "led_pct": 100, "led_ma": 830, "vbat_mv": 12900,
                                 "ibat_ma": -900, "pv_mv": 0, "soc_pct": 60, "temp_c": 25, "mode": "night",
                                 "faults": []}, k) for k in range(9)]
    found = [f for fr in frames for f in d.observe_frame(SITE[0], fr)]
    assert [(f.fault, f.action) for f in found] == [(SENSOR_FAILURE, "raise")]
    assert found[0].evidence["readings"] == ["vbat_mv"] and found[0].at_s == night + 600 * 7
    d = Detector()
    sunny_night = [decoded("status", {"time_s": night + 600 * k, "led_pct": 0, "led_ma": 0, "vbat_mv": 13000 - k,
                                      "ibat_ma": 200, "pv_mv": 15400, "soc_pct": 60, "temp_c": 25, "mode": "day",
                                      "faults": []}, k) for k in range(3)]
    found = [f for fr in sunny_night for f in d.observe_frame(SITE[0], fr)]
    assert [(f.fault, f.evidence["readings"]) for f in found] == [(SENSOR_FAILURE, ["pv_mv"])]


def test_the_lamps_own_sensor_flag_raises_a_sensor_fault_and_its_clearing_resolves_it():
    d = Detector()
    noon = NOON + 3600  # 13:00: neither discharging nor midnight, only the lamp's flag can tell

    def frame(k: int, faults: list[str]) -> dict:
        return decoded("status", {"time_s": noon + 1800 * k, "led_pct": 0, "led_ma": 0, "vbat_mv": 13300 + k,
                                  "ibat_ma": 900, "pv_mv": 17000, "soc_pct": 70, "temp_c": 31, "mode": "day",
                                  "faults": faults}, k)
    found = [f for k in range(8) for f in d.observe_frame(SITE[0], frame(k, ["sensor"] if 1 <= k <= 3 else []))]
    assert [(f.fault, f.action) for f in found] == [(SENSOR_FAILURE, "raise"), (SENSOR_FAILURE, "clear")]
    assert found[0].evidence["readings"] == ["firmware"] and found[0].since_s == noon + 1800  # raised at its 2nd frame
    assert found[1].at_s >= noon + 1800 * 3 + 3600  # an hour after the last flagged frame (the hold-off)


def test_a_condition_that_comes_and_goes_keeps_one_alert_until_an_hour_without_it():
    d = Detector()
    found = []
    dirty = {0, 1, 3, 4, 6, 7}  # dirty, dirty, clean, dirty... every 10 minutes, then clean for good
    for k in range(24):
        found += _site_run(d, 1, {"ibat": 400} if k in dirty else {}, start=NOON + 600 * k)
    mine = [(f.fault, f.action, f.at_s) for f in found if f.lamp_id == "L1"]
    assert [(fault, action) for fault, action, _ in mine] == [(PANEL_DEGRADED, "raise"), (PANEL_DEGRADED, "clear")]
    last_dirty = NOON + 600 * max(dirty)
    assert mine[1][2] >= last_dirty + 3600  # the clean frames in between did not resolve it


def test_silence_of_a_lamp_burning_by_day_is_folded_into_that_alert(tmp_path):
    conn = db.connect(tmp_path / "gw.sqlite3")
    alerts = Alerts(conn)
    lamp, d = SITE[0], Detector()
    d.tick([lamp], NOON)  # the gateway is listening from here
    for k in range(3):  # LED drawing in full daylight: lampUnexpectedOn
        for f in d.observe_frame(lamp, _day(0, NOON + 600 * k, k, ibat=-300, led_ma=830)):
            alerts.apply(lamp, f)
    assert alerts.open_alerts() == [(lamp.lamp_id, LAMP_UNEXPECTED_ON)]
    # silent (drained) after the 11 frames its day cadence owed: 11 day intervals from its last frame
    end = NOON + 1200 + daily.silence_window_s(NOON + 1200, lamp.status_interval_s, 11, 3600) + 120
    folded = [f for t in range(NOON + 1260, end, 60) for f in d.tick([lamp], t)]
    assert [(f.fault, f.action, f.evidence["root"]) for f in folded] == [
        (COMMUNICATION_FAILURE, "fold", LAMP_UNEXPECTED_ON)]
    for f in folded:
        alerts.apply(lamp, f)
    assert alerts.open_alerts() == [(lamp.lamp_id, LAMP_UNEXPECTED_ON)]  # no alert of its own, nothing sent
    assert alerts.list(lamp_id=lamp.lamp_id)[0]["evidence"]["follow_on"] == {COMMUNICATION_FAILURE: 1}
    back = d.observe_frame(lamp, _day(0, end, 16, ibat=-300, led_ma=830))
    assert [f for f in back if f.fault == COMMUNICATION_FAILURE] == []  # its end is not sent either
    conn.close()
