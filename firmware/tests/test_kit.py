"""The household kit: manual switch, door light, USB output, small cell (shared)."""
from firmware.tests import support as s

s.load_core()
from telemetry import schema  # noqa: E402

M = schema.MODE_CODES


def kit(**world):
    world.setdefault("charge_ma", 1500)
    return s.lamp(profile="kit", site="bangui-4", **world)


def at(h, m=0):
    return s.AUG1_MS + (h * 60 + m) * s.MIN_MS


def press_at(*times_ms):
    done = set()

    def extra(t):
        for p in times_ms:
            if t >= p and p not in done:
                done.add(p)
                return {"button": 1}
        return {}
    return extra


def test_kit_keeps_no_coordinates_but_knows_the_sun():
    state, world = kit()
    assert state.kit is not None and state.cfg.lat_mdeg == 4361 and "lat_mdeg" not in state.cfg.user
    log = []
    s.run(state, world, 8, log=log)
    assert [m for t, m, led in log][-1] == M["night"] and world.dark_ms == 0


def test_button_by_day_lights_until_the_limit_then_auto():
    state, world = kit()
    log = []
    s.run(state, world, 7, extra=press_at(at(13)), log=log)
    modes = [(t, m, led) for t, m, led in log]
    on = [t for t, m, led in modes if m == M["manual_on"]]
    assert on and on[0] >= at(13) and log[-1][1] == M["night"]
    off = [t for t, m, led in modes if t > on[0] and m != M["manual_on"]]
    assert off[0] - on[0] <= state.cfg.manual_max_min * s.MIN_MS + 5 * s.MIN_MS


def test_button_at_night_switches_off_until_dawn():
    state, world = kit()
    log = []
    s.run(state, world, 20, extra=press_at(at(21)), log=log)
    after = [m for t, m, led in log if t >= at(21)]
    assert after[0] == M["manual_off"] and M["night"] not in after[:1]
    assert log[-1][1] == M["day"]  # automatic again after dawn
    led_at_2am = [led for t, m, led in log if t <= at(26)][-1]
    assert led_at_2am == 0


def test_door_opening_at_night_lights_fully():
    state, world = kit()
    door = {"door": 0}

    def extra(t):
        door["door"] = 1 if at(23) <= t < at(23, 2) else 0
        return dict(door)
    log = []
    s.run(state, world, 12, extra=extra, log=log)
    at_23 = [led for t, m, led in log if t <= at(23, 1)][-1]
    assert at_23 == 100
    later = [led for t, m, led in log if t <= at(23, 10)][-1]
    assert later < 100


def test_usb_output_cut_when_the_cell_runs_low():
    state, world = kit(soc_pct=40, clear=lambda d: 0)
    s.run(state, world, 0.1)
    state.bat.anchor_at(40)
    s.run(state, world, 0.2)
    assert state.kit.usb_on
    state.bat.anchor_at(28)
    s.run(state, world, 0.2)
    assert not state.kit.usb_on
    state.bat.anchor_at(33)
    s.run(state, world, 0.2)
    assert not state.kit.usb_on  # 5 points of hysteresis
    state.bat.anchor_at(36)
    s.run(state, world, 0.2)
    assert state.kit.usb_on


def test_hours_of_use_counted():
    state, world = kit()
    s.run(state, world, 24)
    assert 11 * 3600 < state.lit_s < 13 * 3600


def test_one_cell_lvd():
    state, world = kit(soc_pct=6, clear=lambda d: 0)
    state.cfg.fixed_pct = 100
    events = s.run(state, world, 18)
    assert (schema.FAULT_CODES["battery_low"], schema.RAISED) in [e[:2] for e in events]
    low = [e for e in events if e[0] == schema.FAULT_CODES["battery_low"]][0]
    assert 2800 <= low[2] < 3000
