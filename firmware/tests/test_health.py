"""Self-diagnosis: every fault raised and cleared with evidence (shared: CPython and MicroPython)."""
from firmware.tests import support as s

s.load_core()
from telemetry import schema  # noqa: E402
from firmware.core.controller import step  # noqa: E402

F = schema.FAULT_CODES


def raised(events, name):
    return [e for e in events if e[0] == F[name] and e[1] == schema.RAISED]


def cleared(events, name):
    return [e for e in events if e[0] == F[name] and e[1] == schema.CLEARED]


def test_stolen_panel_on_a_bright_day():
    state, world = s.lamp(start_ms=s.AUG1_MS + 7 * s.HOUR_MS, pv_fn=lambda t, pv: 0, charge_ma=0)
    events = s.run(state, world, 6)
    [(code, action, value, ref)] = raised(events, "pv_not_charging")
    assert value == 0 and ref <= 0  # PV at 0 dV, no charge current
    state2, world2 = s.lamp(start_ms=s.AUG1_MS + 7 * s.HOUR_MS)
    assert not raised(s.run(state2, world2, 6), "pv_not_charging")  # a healthy panel on a dull day: nothing


def test_panel_back_clears_the_fault():
    state, world = s.lamp(start_ms=s.AUG1_MS + 7 * s.HOUR_MS, charge_ma=0, pv_fn=lambda t, pv: 0)
    s.run(state, world, 4)
    world.charge_ma, world.pv_fn = 8000, None
    assert cleared(s.run(state, world, 1), "pv_not_charging")


def test_over_temperature_with_hysteresis_and_cold_charging():
    state, world = s.lamp()
    hot = {"temp_c": 65}
    events = s.run(state, world, 0.5, extra=lambda t: hot)
    assert raised(events, "over_temp")[0][2:] == (65, 50)
    hot["temp_c"] = 47
    assert not cleared(s.run(state, world, 0.5, extra=lambda t: hot), "over_temp")
    hot["temp_c"] = 44
    assert cleared(s.run(state, world, 0.5, extra=lambda t: hot), "over_temp")
    events = s.run(state, world, 0.5, extra=lambda t: {"temp_c": -2})
    assert raised(events, "over_temp")[0][2:] == (-2, 0) and not state.charge_on


def test_tamper_switch():
    state, world = s.lamp()
    events = s.run(state, world, 0.5, extra=lambda t: {"tamper": 1})
    assert raised(events, "tamper")
    assert cleared(s.run(state, world, 0.5, extra=lambda t: {"tamper": 0}), "tamper")


def test_sensor_out_of_range_names_the_sensor():
    state, world = s.lamp()
    events = s.run(state, world, 0.5, extra=lambda t: {"vbat_mv": 25000})
    assert raised(events, "sensor")[0][2:] == (25000, 0)


def test_frozen_battery_sensors_across_load_steps():
    state, world = s.lamp()
    frozen = {"vbat_mv": 13111, "ibat_ma": -30}
    events = s.run(state, world, 24 * 3 + 8, extra=lambda t: frozen)
    assert raised(events, "sensor")
    # the battery management is blind: the night runs at the safe level at most, never dark
    assert state.health.blind and 0 < state.led_pct <= state.cfg.safe_level_pct, state.led_pct


def test_battery_degraded_by_health_or_resistance():
    state, world = s.lamp()
    state.bat.soh_pct = 55
    e = s.run(state, world, 0.1)
    assert raised(e, "battery_degraded")[0][2:] == (55, 20)
    state.bat.soh_pct, state.bat.r_mohm = 95, 250
    assert raised(s.run(state, world, 0.1), "battery_degraded") == [] and state.faults & (1 << F["battery_degraded"])
    state.bat.r_mohm = 30
    assert cleared(s.run(state, world, 0.1), "battery_degraded")


def test_voltage_collapse_under_load():
    state, world = s.lamp(start_ms=s.AUG1_MS + 20 * s.HOUR_MS)
    s.run(state, world, 0.5)
    state.bat.anchor_at(80)  # the coulomb count says 80 %...
    events = s.run(state, world, 0.1, extra=lambda t: {"vbat_mv": 11000})  # ...the voltage says empty
    assert raised(events, "battery_low") and raised(events, "battery_degraded")


def test_led_driver_current_while_off():
    state, world = s.lamp()
    events = s.run(state, world, 0.2, extra=lambda t: {"led_ma": 500})
    assert raised(events, "driver")[0][2:] == (500, 0)
    events = s.run(state, world, 0.2, extra=lambda t: {"driver_fault": 0})
    assert cleared(events, "driver")


def test_reset_loop_reported_then_cleared_after_a_stable_day():
    state, world = s.lamp()
    state.health.resets = 4
    events = s.run(state, world, 0.1)
    assert raised(events, "reset_loop")[0][2:] == (4, 60)
    assert cleared(s.run(state, world, 25), "reset_loop")


def test_faults_in_the_status_word():
    state, world = s.lamp()
    out, events = step(state, dict(world.readings(), tamper=1), world.t_ms)
    out, events = step(state, dict(world.readings(), tamper=1), world.t_ms + 60000)
    assert state.faults == 1 << F["tamper"]
    assert schema.fault_names(state.faults) == ["tamper"]
