"""State of charge, health, resistance and energy counters (shared: CPython and MicroPython)."""
from firmware.core.battery import Battery, ocv_soc
from firmware.tests.support import MIN_MS, cfg

LFP = cfg().battery.ocv_mv
LEAD = cfg({"chemistry": "lead_acid_12v"}).battery.ocv_mv


def test_ocv_table_interpolation_and_slope():
    assert ocv_soc(LFP, 13568) == (100, 62)
    assert ocv_soc(LFP, 12000)[0] == 2
    assert ocv_soc(LFP, 9000)[0] == 0 and ocv_soc(LFP, 15000)[0] == 100
    assert ocv_soc(LFP, 13060)[1] <= 2  # the flat middle of LiFePO4: 2 mV per %
    assert ocv_soc(LEAD, 12102) == (50, 13)


def test_first_guess_from_voltage_corrected_for_current():
    c = cfg()
    b = Battery(c)
    b.update(c, 12950 - 2000 * 20 // 1000, -2000, 25, 0, 0)  # 12.91 V under 2 A: 12.95 V at rest
    assert 25 <= b.soc_pct() <= 31


def test_coulomb_counting_in_both_directions_with_charge_efficiency():
    c = cfg({"chemistry": "lead_acid_12v", "battery_mah": 100000})
    b = Battery(c)
    b.update(c, 12240, 0, 25, 0, 0)
    assert b.soc_pct() == 60
    start = b.uah
    for i in range(60):
        b.update(c, 13000, 10000, 25, MIN_MS, i * MIN_MS)  # 10 A for an hour at 90 % efficiency
    assert b.uah - start == 9000000
    for i in range(60):
        b.update(c, 12000, -5000, 25, MIN_MS, (60 + i) * MIN_MS)
    assert b.uah - start == 4000000
    assert b.today_mwh == [130000, 60000]


def test_rest_anchors_where_the_table_is_steep_only():
    c = cfg()
    b = Battery(c)
    b.update(c, 13060, 0, 25, 0, 0)  # 50 % by the table, but the table is flat there
    b.uah = b.capacity_uah() * 70 // 100
    for i in range(1, 40):
        b.update(c, 13060, 50, 25, MIN_MS, i * MIN_MS)
    assert b.anchor is None and b.soc_pct() == 70
    for i in range(40, 80):
        b.update(c, 12600, -50, 25, MIN_MS, i * MIN_MS)  # 6-7 %: steep, trusted after 30 min at rest
    assert b.anchor is not None and 5 <= b.soc_pct() <= 8


def test_full_charge_anchor_and_capacity_learning():
    c = cfg()
    b = Battery(c)
    b.update(c, 12900, 0, 25, 0, 0)
    b.load_disconnected(5)  # empty: anchor at 5 %
    assert b.soc_pct() == 5 and b.deep_discharges == 1
    t = 0
    # 30 Ah in reaches "full": the battery holds 30/0.95 Ah: 79 % of its nominal 40 Ah.
    for _ in range(300):
        t += MIN_MS
        b.update(c, 13600, 6061, 25, MIN_MS, t)
    for _ in range(10):
        t += MIN_MS
        b.update(c, 14100, 1000, 25, MIN_MS, t)
    assert b.soc_pct() == 100
    assert 92 <= b.soh_pct <= 96  # a quarter of the way from 100 toward 79


def test_deep_discharges_counted_once_per_recharge():
    c = cfg()
    b = Battery(c)
    b.update(c, 12900, 0, 25, 0, 0)
    for _ in range(5):
        b.load_disconnected(5)  # LVD/LVR oscillation on an empty battery: one deep discharge
    assert b.deep_discharges == 1
    b.uah = b.capacity_uah() * 60 // 100
    b.update(c, 13100, 0, 25, MIN_MS, MIN_MS)
    b.load_disconnected(5)
    assert b.deep_discharges == 2


def test_resistance_learned_from_load_steps():
    c = cfg()
    b = Battery(c)
    for _ in range(12):
        b.learn_r(13200, -30, 13120, -2330)  # 80 mV for 2.3 A: 35 mohm
    assert 33 <= b.r_mohm <= 35
    b.learn_r(13200, -30, 13200, -100)  # too small a step: ignored
    assert 33 <= b.r_mohm <= 35


def test_daily_harvest_and_energy_roll_over():
    c = cfg()
    b = Battery(c)
    b.update(c, 13100, 0, 25, 0, 0)
    b.end_of_day()  # the day the lamp booted in: not a whole day, no harvest recorded
    assert b.harvest_mah == []
    b.end_of_night()
    for i in range(1, 121):
        b.update(c, 13400, 5000, 25, MIN_MS, i * MIN_MS)
    b.end_of_day()
    assert b.harvest_mah == [9900] and b.filled == 0
    b.end_of_night()
    assert b.yesterday_mwh[0] == 134000 and b.today_mwh == [0, 0]
    for _ in range(6):
        b.end_of_night()
        b.end_of_day()
    assert len(b.harvest_mah) == 5
