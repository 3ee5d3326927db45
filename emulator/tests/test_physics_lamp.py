"""LampPhysics: whole-lamp energy balance, readings, faults, presets."""
from datetime import date, datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.physics import (
    FAULTS, PRESETS, READINGS, SITES, ClearSkyWeather, LampPhysics, LampSpec, Site, SyntheticWeather, get_site,
)
from emulator.physics import bench
from emulator.physics.site import BANGUI
from emulator.physics.sun import sunrise_sunset

CLEAR = ClearSkyWeather(BANGUI)
MIDNIGHT = datetime(2026, 3, 9, 23, 0, tzinfo=timezone.utc).timestamp()  # local midnight, 10 March
RISE, SET = sunrise_sunset(date(2026, 3, 10), BANGUI.lat, BANGUI.lon)


def run(lamp: LampPhysics, t0: float, seconds: float, dt: float = 600.0, led_pct: float = 0.0,
        load_on: bool = False) -> float:
    t = t0
    while t < t0 + seconds - 1e-6:
        lamp.advance(t, dt, led_pct, load_on)
        t += dt
    return t


def test_clear_day_charges_a_half_empty_battery():
    lamp = LampPhysics("street", weather=CLEAR, soc_pct=50)
    run(lamp, MIDNIGHT, 86400)
    assert lamp.energy_pv_available_wh == pytest.approx(450, rel=0.1)  # 80 Wp x ~7 kWh/m2 x derates
    assert 250 <= lamp.energy_in_wh <= 300  # 256 Wh to fill 40 Ah x 12.8 V from 50 %, plus the controller
    assert lamp.soc_pct > 97
    empty = LampPhysics("street", weather=CLEAR, soc_pct=0)
    run(empty, MIDNIGHT, 86400)
    assert 75 <= empty.soc_pct <= 97  # one clear day nearly fills an empty 512 Wh battery


def test_twelve_hour_night_at_full_power_draws_360_wh():
    lamp = LampPhysics("street", weather=CLEAR, soc_pct=100)
    run(lamp, SET, 12 * 3600, led_pct=100, load_on=True)
    assert lamp.energy_led_wh == pytest.approx(360.0, rel=1e-6)
    assert lamp.energy_out_wh == pytest.approx(360 + 12 * 0.157, rel=0.01)
    assert lamp.energy_in_wh < 1.0
    assert 100 - lamp.soc_pct == pytest.approx(100 * 362 / (40 * 13.05), abs=4)
    assert lamp.lumen_hours == pytest.approx(12 * 27 * 150)


def test_mppt_harvests_more_than_pwm():
    kw = {"capacity_ah": 400.0}  # big battery: nothing curtailed
    mppt = LampPhysics(LampSpec(charger="mppt", **kw), weather=CLEAR, soc_pct=20)
    pwm = LampPhysics(LampSpec(charger="pwm", **kw), weather=CLEAR, soc_pct=20)
    run(mppt, MIDNIGHT, 86400)
    run(pwm, MIDNIGHT, 86400)
    assert 1.05 <= mppt.energy_in_wh / pwm.energy_in_wh <= 1.25


@pytest.mark.parametrize("dt", [60.0, 900.0, 3600.0, 86400.0])
def test_step_size_does_not_change_the_energy(dt):
    ref = LampPhysics("street", weather=SyntheticWeather(BANGUI, seed=3), soc_pct=30)
    run(ref, MIDNIGHT, 86400, dt=60.0)
    lamp = LampPhysics("street", weather=SyntheticWeather(BANGUI, seed=3), soc_pct=30)
    run(lamp, MIDNIGHT, 86400, dt=dt)
    assert lamp.energy_in_wh == pytest.approx(ref.energy_in_wh, rel=0.01)
    assert lamp.soc_pct == pytest.approx(ref.soc_pct, abs=0.5)


def stored_wh(lamp: LampPhysics, soc_from: float, soc_to: float) -> float:
    """Energy between two states of charge: the integral of OCV over charge."""
    bat, n = lamp.battery, 1000
    step = (soc_to - soc_from) / n
    return sum(bat.ocv_v(soc_from + (k + 0.5) * step) for k in range(n)) * step / 100 * bat.capacity_ah


def test_energy_balance_over_a_day_and_night():
    lamp = LampPhysics("street", weather=CLEAR, soc_pct=40)
    run(lamp, MIDNIGHT + 6 * 3600, 12 * 3600)
    day_soc = lamp.soc_pct
    charge_in = lamp.energy_in_wh - lamp.energy_out_wh
    # charging loses 1 % coulombic + I^2 R; the balance must close within a few percent
    assert stored_wh(lamp, 40, day_soc) == pytest.approx(charge_in, rel=0.03)
    out0 = lamp.energy_out_wh
    run(lamp, SET, 11 * 3600, led_pct=60, load_on=True)
    assert stored_wh(lamp, lamp.soc_pct, day_soc) == pytest.approx(lamp.energy_out_wh - out0, rel=0.03)


def test_readings_are_integers_and_plausible():
    lamp = LampPhysics("street", weather=CLEAR, soc_pct=50, seed=1)
    t = run(lamp, MIDNIGHT, 3600 * 2)
    night = lamp.read(t)
    assert set(night) == set(READINGS) | {"soc_true_pct"}
    assert all(isinstance(night[k], int) for k in READINGS)
    assert night["pv_mv"] == 0 and night["lux"] == 0 and night["led_ma"] == 0
    assert 13000 <= night["vbat_mv"] <= 13120  # OCV at 50 % = 13.06 V, tiny controller load
    assert -30 <= night["ibat_ma"] <= 0
    lamp.advance(t, 600, 100, True)
    lit = lamp.read(t + 600)
    assert 890 <= lit["led_ma"] <= 910
    assert -2400 <= lit["ibat_ma"] <= -2250  # 30.2 W at ~12.99 V
    assert lit["vbat_mv"] < night["vbat_mv"] - 50
    noon = MIDNIGHT + 12.5 * 3600
    run(lamp, t + 600, noon - t - 600)
    day = lamp.read(noon)
    assert day["lux"] == 65535  # saturated light sensor
    assert 14500 <= day["pv_mv"] <= 17500  # MPPT operating point
    assert day["ibat_ma"] > 3000
    assert 28 <= day["temp_c"] <= 45
    assert isinstance(day["soc_true_pct"], float)


def test_full_battery_sits_at_absorption_then_rests():
    lamp = LampPhysics("street", weather=CLEAR, soc_pct=96)
    run(lamp, MIDNIGHT + 7 * 3600, 2 * 3600)
    mid = lamp.read(MIDNIGHT + 9 * 3600)
    assert 99 <= mid["soc_true_pct"]
    run(lamp, MIDNIGHT + 9 * 3600, 4 * 3600)
    r = lamp.read(MIDNIGHT + 13 * 3600)
    assert abs(r["ibat_ma"]) < 20 and 13500 <= r["vbat_mv"] <= 13600  # LiFePO4 full, charging stopped
    pv = r["pv_mv"]
    assert pv > 18000  # nothing drawn from the panel: it sits at V_oc


def test_pv_voltage_crosses_a_dusk_threshold_just_after_sunset():
    lamp = LampPhysics("street", weather=CLEAR, soc_pct=100)
    run(lamp, MIDNIGHT, SET - 1800 - MIDNIGHT)
    t = SET - 1800
    crossing = None
    while t < SET + 3600:
        lamp.advance(t, 60, 0, False)
        t += 60
        if lamp.read(t)["pv_mv"] < 5000:
            crossing = t
            break
    assert crossing is not None and 0 <= crossing - SET <= 15 * 60
    lux = LampPhysics("street", weather=CLEAR).read(SET)["lux"]
    assert 150 <= lux <= 500  # sun centre 0.833 deg below the horizon: ~240 lux (AMS: 410-585 at 0 deg)


def test_battery_temperature_lags_and_heats_in_sun():
    lamp = LampPhysics("street", weather=CLEAR, soc_pct=50)
    temps = {}
    t = MIDNIGHT
    for _ in range(144):
        lamp.advance(t, 600, 0, False)
        t += 600
        temps[round((t - MIDNIGHT) / 3600, 2)] = lamp.battery.temp_c
    hottest = max(temps, key=temps.get)
    assert 15 <= hottest <= 18  # ambient peaks at 15:00, the battery box later
    assert max(temps.values()) > CLEAR.temp_c(MIDNIGHT + 15 * 3600) + 2


def test_same_seed_same_readings():
    def trace(seed):
        lamp = LampPhysics("street", seed=seed)
        out, t = [], MIDNIGHT
        for k in range(300):
            lamp.advance(t, 300, 50 if k % 2 else 0, True, radio_tx_ms=100 if k % 5 == 0 else 0)
            t += 300
            out.append(lamp.read(t))
        return out, lamp.totals()
    assert trace(4) == trace(4)
    assert trace(4) != trace(5)


# -- faults -----------------------------------------------------------------------------------------


def night_lamp(**kw) -> tuple[LampPhysics, float]:
    lamp = LampPhysics("street", weather=CLEAR, soc_pct=kw.pop("soc_pct", 70), **kw)
    t = run(lamp, SET, 3600, led_pct=80, load_on=True)
    return lamp, t


def test_unknown_fault_and_bad_parameters_raise():
    lamp = LampPhysics("street", weather=CLEAR)
    with pytest.raises(ValueError, match="unknown fault 'radio_dead'"):
        lamp.set_fault("radio_dead")
    with pytest.raises(ValueError, match="unknown fault"):
        lamp.clear_fault("nope")
    with pytest.raises(ValueError, match="takes no value"):
        lamp.set_fault("led_open", 1.0)
    with pytest.raises(ValueError, match="unknown parameter"):
        lamp.set_fault("soiling", level=0.2)
    with pytest.raises(ValueError, match="sensor_stuck needs name"):
        lamp.set_fault("sensor_stuck", value=3)
    with pytest.raises(ValueError, match="sensor_stuck needs name"):
        lamp.set_fault("sensor_stuck_rssi", 3)
    assert set(FAULTS) >= {"led_open", "led_short", "driver_fault", "panel_disconnected", "soiling",
                           "battery_degraded", "sensor_stuck", "over_temperature", "power_cut", "brown_out"}


@pytest.mark.parametrize("fault", ["led_open", "led_short", "driver_fault"])
def test_led_faults_show_in_current_and_light(fault):
    lamp, t = night_lamp()
    lumen_hours = lamp.lumen_hours
    lamp.set_fault(fault)
    assert fault in lamp.faults
    lamp.advance(t, 600, 80, True)
    r = lamp.read(t + 600)
    assert lamp.lumen_hours == lumen_hours
    if fault == "led_short":
        assert r["led_ma"] > 1.5 * 720
    else:
        assert r["led_ma"] == 0
    lamp.clear_fault(fault)
    assert fault not in lamp.faults
    lamp.advance(t + 600, 600, 80, True)
    assert 700 <= lamp.read(t + 1200)["led_ma"] <= 740


def test_led_stuck_on_burns_by_day_at_its_level_whatever_the_command():
    noon = MIDNIGHT + 12 * 3600
    lamp = LampPhysics("street", weather=CLEAR, soc_pct=70)
    lamp.advance(noon, 600, 0, False)
    assert lamp.read(noon + 600)["led_ma"] == 0
    lamp.set_fault("led_stuck_on")
    assert lamp.faults["led_stuck_on"] == {"level": 1.0}
    lumen_hours, led_wh = lamp.lumen_hours, lamp.energy_led_wh
    lamp.advance(noon + 600, 3600, 0, False)  # commanded off
    assert 880 <= lamp.read(noon + 4200)["led_ma"] <= 920  # full current (900 mA), in daylight
    assert lamp.lumen_hours - lumen_hours > 3000 and lamp.energy_led_wh - led_wh == pytest.approx(30.0)
    lamp.set_fault("led_stuck_on", 0.5)  # stuck at half: the command changes nothing
    lamp.advance(noon + 4200, 600, 100, True)
    assert 440 <= lamp.read(noon + 4800)["led_ma"] <= 460
    with pytest.raises(ValueError, match="0..1"):
        lamp.set_fault("led_stuck_on", 2)
    lamp.clear_fault("led_stuck_on")
    assert "led_stuck_on" not in lamp.faults
    lamp.advance(noon + 4800, 600, 0, False)
    assert lamp.read(noon + 5400)["led_ma"] == 0


def test_panel_disconnected_and_soiling():
    noon = MIDNIGHT + 12 * 3600
    lamp = LampPhysics("street", weather=CLEAR, soc_pct=30)
    lamp.set_fault("panel_disconnected")
    run(lamp, noon, 3600)
    r = lamp.read(noon + 3600)
    assert r["pv_mv"] == 0 and r["ibat_ma"] < 0 and lamp.energy_in_wh == 0
    lamp.clear_fault("panel_disconnected")
    clean = LampPhysics("street", weather=CLEAR, soc_pct=30)
    dirty = LampPhysics("street", weather=CLEAR, soc_pct=30)
    dirty.set_fault("soiling", 0.4)
    assert dirty.faults == {"soiling": {"fraction": 0.4}}
    run(clean, noon, 3600)
    run(dirty, noon, 3600)
    assert dirty.energy_in_wh / clean.energy_in_wh == pytest.approx(0.6, abs=0.04)


def test_battery_degraded():
    lamp = LampPhysics("street", weather=CLEAR, soc_pct=100)
    lamp.set_fault("battery_degraded", capacity_factor=0.25)
    assert lamp.battery.capacity_ah == pytest.approx(10.0)
    run(lamp, SET, 4 * 3600, led_pct=100, load_on=True)  # 120 Wh from a 128 Wh battery
    assert lamp.soc_pct < 10


def test_sensor_stuck_value_and_frozen():
    lamp, t = night_lamp()
    lamp.set_fault("sensor_stuck", name="vbat_mv", value=12000)
    lamp.set_fault("sensor_stuck_temp_c")  # frozen at the current value
    frozen = lamp.read(t)["temp_c"]
    run(lamp, t, 6 * 3600, led_pct=80, load_on=True)
    r = lamp.read(t + 6 * 3600)
    assert r["vbat_mv"] == 12000 and r["temp_c"] == frozen
    lamp.clear_fault("sensor_stuck_vbat_mv")
    assert lamp.read(t + 6 * 3600)["vbat_mv"] != 12000
    assert "sensor_stuck" in lamp.faults
    lamp.clear_fault("sensor_stuck")
    assert "sensor_stuck" not in lamp.faults


def test_over_temperature_stops_lifepo4_charging():
    lamp = LampPhysics("street", weather=CLEAR, soc_pct=30)
    lamp.set_fault("over_temperature", 30.0)
    t = run(lamp, MIDNIGHT + 6 * 3600, 6 * 3600)
    r = lamp.read(t)
    assert r["temp_c"] > 50
    assert r["ibat_ma"] <= 0  # BMS refuses to charge above 45 C
    lamp.clear_fault("over_temperature")
    run(lamp, t, 3 * 3600)
    assert lamp.read(t + 3 * 3600)["temp_c"] < r["temp_c"] - 8  # 3 h lag toward ~40 C


def test_power_cut_unpowers_the_controller():
    lamp, t = night_lamp()
    assert lamp.powered and lamp.supply_interruptions == 0
    lamp.set_fault("power_cut")
    assert not lamp.powered and lamp.supply_interruptions == 1 and lamp.last_interruption == "power_cut"
    out = lamp.energy_out_wh
    run(lamp, t, 3600, led_pct=80, load_on=True)
    assert lamp.energy_out_wh == out and lamp.read(t + 3600)["vbat_mv"] == 0
    lamp.clear_fault("power_cut")
    assert lamp.powered and lamp.supply_interruptions == 1


def test_brown_out_resets_and_clears_itself():
    lamp, t = night_lamp()
    lamp.set_fault("brown_out", duration_s=0)
    assert lamp.supply_interruptions == 1 and lamp.powered and lamp.last_interruption == "brown_out"
    lamp.set_fault("brown_out")  # default: off for 1 s, long enough to be seen
    assert lamp.supply_interruptions == 2 and not lamp.powered and "brown_out" in lamp.faults
    lamp.set_fault("brown_out", duration_s=1200)
    assert lamp.supply_interruptions == 3 and not lamp.powered
    out, lit = lamp.energy_out_wh, lamp.lumen_hours
    run(lamp, t, 1200, led_pct=80, load_on=True)
    assert lamp.energy_out_wh == out  # nothing ran while the supply was down
    assert lamp.powered and "brown_out" not in lamp.faults
    lamp.set_fault("brown_out", duration_s=150)
    lamp.advance(t + 1200, 600, 80, True)
    per_step = 600 / 3600 * lamp.led.lumens(80)
    assert lamp.lumen_hours - lit == pytest.approx(0.75 * per_step)  # lit for the last 450 s of 600


def test_bms_cuts_an_empty_battery_and_the_sun_brings_it_back():
    lamp = LampPhysics("street", weather=CLEAR, soc_pct=8)
    t = run(lamp, SET, 3 * 3600, led_pct=100, load_on=True)
    assert not lamp.powered and lamp.supply_interruptions == 1
    assert lamp.last_interruption == "battery_protection"
    assert lamp.soc_pct < 0.5 and lamp.read(t)["led_ma"] == 0
    t = run(lamp, t, RISE + 86400 + 2 * 3600 - t, led_pct=100, load_on=True)
    assert lamp.powered and lamp.supply_interruptions == 1
    assert lamp.min_soc_pct < 0.5


# -- presets, kit, sites ----------------------------------------------------------------------------


def test_presets_and_spec_validation():
    assert set(PRESETS) == {"street", "street_lead_acid", "kit"}
    street = LampSpec()
    assert (street.led_w, street.panel_wp, street.chemistry, street.capacity_ah, street.charger) == \
        (30.0, 80.0, "lifepo4", 40.0, "mppt")
    assert street.nominal_v == pytest.approx(12.8)
    kit = LampSpec.kit()
    assert (kit.kind, kit.led_w, kit.panel_wp, kit.cells, kit.capacity_ah) == ("kit", 1.5, 6.0, 1, 6.0)
    assert kit.nominal_v == pytest.approx(3.2)
    assert LampSpec.street(capacity_ah=60).capacity_ah == 60
    for bad in ({"kind": "pole"}, {"chemistry": "nimh"}, {"charger": "shunt"}, {"capacity_ah": 0},
                {"initial_soc_pct": 120}):
        with pytest.raises(ValueError):
            LampSpec(**bad)
    with pytest.raises(ValueError, match="unknown lamp preset"):
        LampPhysics("lantern")


def test_kit_lantern_and_usb_output():
    kit = LampPhysics("kit", weather=CLEAR, soc_pct=100)
    run(kit, SET, 4 * 3600, led_pct=100, load_on=True)
    assert kit.energy_led_wh == pytest.approx(6.0)
    assert 400 <= kit.read(SET + 4 * 3600)["led_ma"] <= 500
    assert 3100 <= kit.read(SET + 4 * 3600)["vbat_mv"] <= 3350
    kit.set_aux_load(2.5)
    before = kit.energy_out_wh
    run(kit, SET + 4 * 3600, 3600)
    assert kit.energy_out_wh - before == pytest.approx(2.5 + 0.157, abs=0.01)
    with pytest.raises(ValueError, match="USB load"):
        kit.set_aux_load(10)
    with pytest.raises(ValueError, match="USB load"):
        LampPhysics("street").set_aux_load(1)
    day = LampPhysics("kit", weather=CLEAR, soc_pct=10)
    run(day, MIDNIGHT + 6 * 3600, 12 * 3600)
    assert day.soc_pct > 80  # a clear day fills the 19 Wh lantern


def test_lead_acid_street_lamp():
    lamp = LampPhysics("street_lead_acid", weather=CLEAR, soc_pct=60)
    run(lamp, MIDNIGHT, 86400)
    r = lamp.read(MIDNIGHT + 86400)
    assert 12100 <= r["vbat_mv"] <= 12800 and lamp.soc_pct > 80


def test_sites():
    assert SITES["bangui"] is BANGUI and get_site("bangui") is BANGUI
    assert (BANGUI.lat, BANGUI.lon, BANGUI.utc_offset_h) == (4.3612, 18.555, 1.0)
    with pytest.raises(ValueError, match="unknown site"):
        get_site("paris")
    with pytest.raises(ValueError):
        Site("x", 95.0, 0.0)
    with pytest.raises(ValueError, match="12 values"):
        Site("x", 0.0, 0.0, linke_monthly=(3.0,))


def test_benchmark_runs():
    out = bench.run(days=0.25, lamps=1, repeats=1)
    assert out["steps_per_s"] > 0 and out["lamp_days_per_s_at_600s_step"] > 0


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.floats(1, 7200), st.floats(0, 100), st.booleans(), st.floats(0, 3000)),
                min_size=1, max_size=40), st.floats(0, 100))
def test_any_schedule_keeps_the_state_sane(steps, soc):
    lamp = LampPhysics("street", soc_pct=soc, seed=1)
    t = MIDNIGHT
    for dt, pct, on, tx in steps:
        lamp.advance(t, dt, pct, on, radio_tx_ms=min(tx, dt * 1000))
        t += dt
        r = lamp.read(t)
        assert 0.0 <= r["soc_true_pct"] <= 100.0
        assert all(isinstance(r[k], int) for k in READINGS)
        assert r["vbat_mv"] <= 14300 and r["pv_mv"] >= 0 and r["lux"] >= 0
    assert lamp.energy_in_wh >= 0 and lamp.energy_out_wh >= 0
    assert lamp.energy_in_wh <= lamp.energy_pv_available_wh + 1e-9
