"""Known values for the component models: panel, charger, battery, LED, controller consumption."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.physics.battery import LEAD_ACID, LIFEPO4, Battery
from emulator.physics.charger import Charger
from emulator.physics.consumption import ControllerLoad
from emulator.physics.led import LedDriver
from emulator.physics.panel import Panel

# -- panel ------------------------------------------------------------------------------------------


def test_panel_power_at_stc_and_temperature_derating():
    p = Panel(80, mismatch=0.0)
    # STC: 1000 W/m2 at cell 25 C. NOCT model: T_cell = T_amb + 25/800 G -> ambient -6.25 C gives 25 C
    assert p.mpp(1000, -6.25)[0] == pytest.approx(80.0)
    assert p.cell_temp_c(800, 20) == pytest.approx(45.0)  # NOCT conditions
    # -0.4 %/C: cell 55 C -> 30 C above -> 88 %
    amb = 55 - 25 / 800 * 1000
    assert p.mpp(1000, amb)[0] == pytest.approx(80 * 0.88)
    assert p.mpp(500, 30)[0] == pytest.approx(80 * 0.5 * (1 - 0.004 * (30 + 500 * 25 / 800 - 25)))


def test_panel_soiling_and_mismatch():
    p = Panel(80)
    clean = p.mpp(800, 30)[0]
    p.set_soiling(0.25)
    dirty = p.mpp(800, 30)[0]
    assert 0.74 < dirty / clean < 0.78  # 25 % less light, and a slightly cooler cell
    with pytest.raises(ValueError):
        p.set_soiling(1.5)
    assert Panel(80).mpp(1000, -6.25)[0] == pytest.approx(80 * 0.97)


def test_panel_open_circuit_voltage():
    p = Panel(80)  # 36 cells
    assert 19.0 <= p.voc_v(1000, 30) <= 22.5  # hot cell in full sun
    assert p.voc_v(1000, -6.25) == pytest.approx(22.0, abs=0.05)  # STC
    assert p.voc_v(10, 25) > 15.0
    assert p.voc_v(1, 25) < 5.0  # falls steeply in deep twilight
    assert p.voc_v(0, 25) == 0.0
    volts = [p.voc_v(g / 10, 25) for g in range(0, 2001, 7)]  # rises with light until cell heating wins
    assert volts == sorted(volts)
    p.connected = False
    assert p.voc_v(1000, 25) == 0.0 and p.mpp(1000, 25) == (0.0, 0.0)


# -- charger ----------------------------------------------------------------------------------------


def charger(kind="mppt", chem=LIFEPO4, cells=4, ah=40.0, max_a=10.0):
    return Charger(kind, chem, cells, ah, max_a)


def test_mppt_beats_pwm_by_the_expected_margin():
    p = Panel(80)
    p_mp, i_mp = p.mpp(1000, -6.25)  # STC cell temperature
    mppt = charger("mppt").bus_power_w(p_mp, i_mp, 22.0, 13.3)
    pwm = charger("pwm").bus_power_w(p_mp, i_mp, 22.0, 13.3)
    assert mppt == pytest.approx(0.95 * p_mp)
    assert 0.72 <= pwm / p_mp <= 0.80  # physics.md 6: PWM 70-80 %
    hot_mp, hot_i = p.mpp(1000, 35)  # Bangui afternoon: hot cells lose voltage PWM does not use
    assert 0.85 <= charger("pwm").bus_power_w(hot_mp, hot_i, 19.5, 13.3) / (0.95 * hot_mp) <= 0.97


def test_no_charging_without_voltage_margin():
    assert charger().bus_power_w(5.0, 0.3, 13.5, 13.2) == 0.0
    assert charger().bus_power_w(5.0, 0.3, 13.8, 13.2) > 0.0


def test_charge_voltages_and_temperature_compensation():
    assert charger().cv_voltage_v(25) == pytest.approx(14.2)
    assert charger().cv_voltage_v(40) == pytest.approx(14.2)  # LiFePO4: no compensation
    la = charger(chem=LEAD_ACID, cells=6, ah=100)
    assert la.cv_voltage_v(25) == pytest.approx(14.4)
    assert la.cv_voltage_v(35) == pytest.approx(14.4 - 0.18)  # -18 mV/C per 12 V block
    assert la.cv_voltage_v(15) == pytest.approx(14.58)
    la.full = True
    assert la.cv_voltage_v(25) == pytest.approx(13.8)  # float


def test_acceptance_taper_full_and_recharge():
    c = charger()
    assert c.acceptance_a(50, 25) == 10.0  # charger rating < 0.5 C = 20 A
    assert c.acceptance_a(97.5, 25) == pytest.approx(5.0)  # halfway down the 95..100 % taper
    assert c.acceptance_a(100, 25) == 0.0
    assert c.acceptance_a(98, 25) == 0.0  # full: waits for the recharge threshold
    assert c.acceptance_a(96.9, 25) > 0.0
    la = charger(chem=LEAD_ACID, cells=6, ah=100)
    assert la.acceptance_a(50, 25) == pytest.approx(10.0)
    assert la.acceptance_a(90, 25) == pytest.approx(5.0)  # absorption from 80 %


def test_no_lifepo4_charging_below_zero_or_above_45():
    c = charger()
    assert c.acceptance_a(50, -1.0) == 0.0
    assert c.acceptance_a(50, 2.0) == 0.0  # hysteresis: needs 5 C
    assert c.acceptance_a(50, 6.0) > 0.0
    assert c.acceptance_a(50, 46.0) == 0.0
    assert c.acceptance_a(50, 42.0) == 0.0
    assert c.acceptance_a(50, 39.0) > 0.0
    assert charger(chem=LEAD_ACID, cells=6).acceptance_a(50, -1.0) > 0.0


def test_unknown_charger_kind():
    with pytest.raises(ValueError, match="mppt"):
        Charger("shunt", LIFEPO4, 4, 40, 10)


# -- battery ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("soc,volts", [(100, 13.568), (95, 13.256), (50, 13.060), (20, 12.852), (5, 12.528),
                                       (0, 11.332), (52.5, 13.066), (2.5, 11.930)])
def test_lifepo4_ocv_table(soc, volts):
    assert Battery("lifepo4", 40).ocv_v(soc) == pytest.approx(volts, abs=1e-3)


@pytest.mark.parametrize("soc,volts", [(100, 12.732), (50, 12.102), (0, 10.5), (75, 12.435), (10, 11.508)])
def test_lead_acid_ocv_table(soc, volts):
    assert Battery("lead_acid", 100).ocv_v(soc) == pytest.approx(volts, abs=2e-3)


def test_kit_cell_ocv():
    assert Battery("lifepo4", 6, cells=1).ocv_v(50) == pytest.approx(3.265)


@given(st.floats(0, 100), st.floats(0, 100))
def test_ocv_is_monotonic(a, b):
    for chem in ("lifepo4", "lead_acid"):
        bat = Battery(chem, 40)
        if a <= b:
            assert bat.ocv_v(a) <= bat.ocv_v(b)


def test_coulomb_counting_resistance_and_power():
    bat = Battery("lifepo4", 40, soc_pct=50)
    assert bat.r_ohm == pytest.approx(4 * 0.2 / 40 + 0.010)  # 30 mohm
    assert bat.terminal_v(-10) == pytest.approx(13.060 - 0.3)
    bat.step(-4.0, 3600)  # 4 Ah out
    assert bat.soc_pct == pytest.approx(40.0, abs=0.01)
    bat.step(10.0, 3600)  # 10 Ah in, 99 % coulombic efficiency
    assert bat.charge_ah == pytest.approx(16 + 9.9, abs=0.01)
    i = bat.current_for_power(-30.0)
    assert i * bat.terminal_v(i) == pytest.approx(-30.0)
    i = bat.current_for_power(60.0)
    assert i * bat.terminal_v(i) == pytest.approx(60.0)


def test_self_discharge_per_month():
    bat = Battery("lifepo4", 40, soc_pct=100, temp_c=25)
    for _ in range(30):
        bat.step(0.0, 86400)
    assert 100 - bat.soc_pct == pytest.approx(2.5, abs=0.05)
    la = Battery("lead_acid", 100, soc_pct=100, temp_c=35)  # doubles per +10 C
    for _ in range(30):
        la.step(0.0, 86400)
    assert 100 - la.soc_pct == pytest.approx(10.0, abs=0.3)


def test_degrade_and_cycle_fade():
    bat = Battery("lifepo4", 40, soc_pct=100)
    r0 = bat.r_ohm
    bat.degrade(0.5)
    assert bat.capacity_ah == pytest.approx(20.0) and bat.soc_pct == pytest.approx(100.0)
    assert bat.r_ohm > r0
    with pytest.raises(ValueError):
        bat.degrade(0.0)
    fresh = Battery("lifepo4", 40, soc_pct=100)
    for _ in range(100):  # 100 full cycles
        fresh.step(-40.0, 3600)
        fresh.step(40.0 / 0.99, 3600)
    assert fresh.capacity_ah == pytest.approx(40 * (1 - 100 * 0.2 / 3000), rel=1e-3)


def test_bms_cuts_at_empty_and_releases_at_3_10_v_per_cell():
    bat = Battery("lifepo4", 40, soc_pct=0.01)
    bat.step(-2.0, 3600)
    assert bat.protect(-2.0) and not bat.output_on
    bat.step(1.0, 600)
    assert not bat.protect(1.0) and not bat.output_on  # 0.4 % SoC: OCV still below 12.4 V
    while not bat.protect(5.0):
        bat.step(5.0, 60)
    assert bat.output_on and bat.ocv_v() >= 12.4
    # under-voltage on the terminals: a heavy load on a low battery
    low = Battery("lifepo4", 40, soc_pct=1)
    assert low.protect(-60.0) and not low.output_on  # 11.6 V - 60 A * 30 mohm < 10.0 V


def test_unknown_chemistry():
    with pytest.raises(ValueError, match="chemistry"):
        Battery("nimh", 10)


# -- LED --------------------------------------------------------------------------------------------


def test_led_power_flux_and_current():
    led = LedDriver(30.0, 30.0)
    assert led.input_w(100) == pytest.approx(30.0)
    assert led.input_w(50) == pytest.approx(15.29, abs=0.01)
    assert led.input_w(0) == pytest.approx(0.59, abs=0.01)  # driver idle while switched on
    assert led.input_w(100, on=False) == 0.0
    assert led.current_ma(100) == pytest.approx(900.0)  # 27 W into a 30 V string
    assert led.current_ma(50) == pytest.approx(450.0)
    assert led.lumens(100) == pytest.approx(27 * 150)
    assert led.lumens(50) / led.lumens(100) == pytest.approx(0.5 * 1.075)  # higher efficacy at low current
    assert led.input_w(140) == led.input_w(100) and led.input_w(-5) == led.input_w(0)


def test_led_faults():
    led = LedDriver(30.0, 30.0)
    led.open = True
    assert led.evaluate(80, True) == pytest.approx((0.59, 0.0, 0.0), abs=0.01)
    led.open, led.short = False, True
    w, lm, ma = led.evaluate(50, True)
    assert lm == 0.0 and ma == pytest.approx(810.0) and w < 3.0
    assert led.current_ma(10) == pytest.approx(270.0)  # at least 30 % of rated
    led.short, led.driver_fault = False, True
    assert led.evaluate(100, True) == (0.0, 0.0, 0.0)


# -- controller consumption -------------------------------------------------------------------------


def test_controller_consumption():
    c = ControllerLoad()
    assert c.rail_ma(600) == pytest.approx(40.5, abs=0.01)
    assert c.battery_w(600) == pytest.approx(3.3 * 0.0405 / 0.85, rel=1e-3)
    assert c.battery_ma(12.8, 600) == pytest.approx(12.3, abs=0.05)
    assert c.rail_ma(600, cpu_awake_s=0) == pytest.approx(1.3, abs=0.01)  # light sleep + board
    deep = ControllerLoad(sleep_ma=0.010, board_ma=0.0)
    assert deep.rail_ma(3600, cpu_awake_s=0) == pytest.approx(0.0102, abs=1e-4)
    # one SF12 frame of 1.48 s at 120 mA in a 10 min interval, CPU otherwise asleep
    assert c.rail_ma(600, cpu_awake_s=1.48, radio_tx_ms=1480) == pytest.approx(
        0.5 + (40 * 1.48 + 0.8 * 598.52 + 120 * 1.48 + 0.0002 * 598.52) / 600, rel=1e-6)
    assert c.rail_ma(60, wifi_tx_ms=1000) == pytest.approx(40.5 + 200 / 60, rel=1e-3)
    assert c.rail_ma(0) == 0.0


@settings(max_examples=50)
@given(st.floats(1, 3600), st.floats(0, 3600), st.floats(0, 5000))
def test_consumption_is_bounded_by_its_extremes(dt, awake, tx):
    c = ControllerLoad()
    ma = c.rail_ma(dt, cpu_awake_s=awake, radio_tx_ms=min(tx, dt * 1000))
    assert c.sleep_ma + c.board_ma - 1e-9 <= ma <= c.cpu_active_ma + c.lora_tx_ma + c.board_ma + 1e-6
