"""Load disconnect and reconnect, temperature windows (shared: CPython and MicroPython)."""
from firmware.core.protect import Protect
from firmware.tests.support import MIN_MS, cfg

LFP = cfg().battery
LEAD = cfg({"chemistry": "lead_acid_12v"}).battery


def test_current_compensated_disconnect_after_two_samples():
    p = Protect()
    # 11.95 V under 2.5 A with 40 mohm: the compensated LVD is 12.00 - 0.10 = 11.90 V: stays on.
    assert p.update(LFP, 11950, -2500, 25, 10, 40, 0) == 0 and p.load_on
    assert p.update(LFP, 11850, -2500, 25, 10, 40, MIN_MS) == 0 and p.load_on  # one sample: a dip
    assert p.update(LFP, 11850, -2500, 25, 10, 40, 2 * MIN_MS) == 1 and not p.load_on
    assert p.lvd_mv(LFP, -20000, 100, 25) == LFP.lvd_min_mv  # never below the floor


def test_single_dip_does_not_disconnect():
    p = Protect()
    for i, v in enumerate((11500, 12300, 11500, 12300)):
        assert p.update(LFP, v, -100, 25, 10, 20, i * MIN_MS) == 0
    assert p.load_on


def test_reconnect_needs_voltage_delay_and_charge():
    p = Protect()
    p.update(LFP, 11800, -100, 25, 5, 20, 0)
    p.update(LFP, 11800, -100, 25, 5, 20, MIN_MS)
    assert not p.load_on
    p.off_soc = 5
    assert p.update(LFP, 12700, 0, 25, 20, 20, 2 * MIN_MS) == 0  # above LVR, but only 1 min
    assert p.update(LFP, 12700, 3000, 25, 8, 20, 10 * MIN_MS) == 0  # a charger lifts V; SoC still low
    assert p.update(LFP, 12500, 0, 25, 20, 20, 10 * MIN_MS) == 0  # below LVR
    assert p.update(LFP, 12700, 3000, 25, 16, 20, 11 * MIN_MS) == -1 and p.load_on


def test_lead_acid_thresholds_follow_temperature():
    # -18 mV/C: at 35 C the LVD is 11.70 - 0.18 = 11.52 V, at 15 C 11.88 V.
    p = Protect()
    assert p.lvd_mv(LEAD, 0, 20, 35) == 11520 and p.lvd_mv(LEAD, 0, 20, 15) == 11880
    p.update(LEAD, 11600, 0, 35, 40, 20, 0)
    assert p.update(LEAD, 11600, 0, 35, 40, 20, MIN_MS) == 0 and p.load_on
    p.update(LEAD, 11800, 0, 15, 40, 20, 2 * MIN_MS)
    assert p.update(LEAD, 11800, 0, 15, 40, 20, 3 * MIN_MS) == 1


def test_no_lifepo4_charging_below_zero_with_hysteresis():
    p = Protect()
    p.update(LFP, 13000, 0, 1, 50, 20, 0)
    assert p.charge_on
    p.update(LFP, 13000, 0, -1, 50, 20, MIN_MS)
    assert not p.charge_on
    p.update(LFP, 13000, 0, 2, 50, 20, 2 * MIN_MS)
    assert not p.charge_on  # 3 C of hysteresis
    p.update(LFP, 13000, 0, 4, 50, 20, 3 * MIN_MS)
    assert p.charge_on
    p.update(LFP, 13000, 0, 46, 50, 20, 4 * MIN_MS)
    assert not p.charge_on


def test_load_cut_outside_the_discharge_window():
    p = Protect()
    assert p.update(LFP, 13000, -2000, 61, 50, 20, 0) == 2 and not p.load_on
    assert p.update(LFP, 13000, 0, 58, 50, 20, MIN_MS) == 0  # needs 3 C below the limit
    assert p.update(LFP, 13000, 0, 56, 50, 20, 2 * MIN_MS) == -1 and p.load_on
