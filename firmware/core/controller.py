"""The lamp controller core: one pure step per sample."""
#     outputs, events = step(state, inputs, now_ms)
#
# inputs: integer readings vbat_mv, ibat_ma (+ charging), pv_mv, led_ma, temp_c; where the board has
# them also pir (motion since the last sample), button (presses since the last sample), door (1 open),
# tamper (1 open), driver_fault (1 fault). now_ms: device clock, Unix epoch ms (the core never reads a
# clock). outputs: {"led_pct": 0-100, "next_ms": how long the shell may sleep, "wake": the readings'
# bands that end the sleep sooner (core/wake.py; None: none)}; the shell also applies
# state.charge_on and state.kit.usb_on. events: (code, action, value, ref) tuples (telemetry.schema).
# `state` is mutated in place. safe_step() is safe mode's controller: PV dusk/dawn, battery protection
# and one level, so that a bug in the full controller cannot keep a street dark.
from telemetry import schema
from firmware.core import lighting, modes, sample, wake
from firmware.core.battery import Battery
from firmware.core.daylight import LUX_MAX, NIGHT, Daylight, reading
from firmware.core.diagnosis import Faults, check_led
from firmware.core.health import Health
from firmware.core.night import Night
from firmware.core.protect import Protect

BATTERY_LOW = schema.FAULT_CODES["battery_low"]


class LampState:
    def __init__(self, cfg):
        self.cfg = cfg
        self.night = Night()
        self.bat = Battery(cfg)
        self.prot = Protect()
        self.diag = Faults()
        self.health = Health()
        self.kit = None
        if cfg.profile == "kit":
            from firmware.core.kit import Kit  # street lamps never load it

            self.kit = Kit()
        self.mode = modes.BOOT
        self.faults = 0
        self.led_pct = 0  # level commanded by the latest step
        self.applied_pct = 0  # level that was driving the LED while the latest sample was measured
        self.segs = None  # tonight's plan (core/lighting.py)
        self.replan_ms = 0
        self.capped = False
        self.guard_n = 0
        self.boost_until_ms = 0
        self.test_until_ms = 0
        self.safe = False
        self.safe_parts = None
        self.last_ms = None
        self.started_ms = None
        self.prev = None  # (applied_pct, vbat_mv, ibat_ma) of the previous sample
        self.load_full_ma = cfg.load_full_ma
        self.lit_s = 0
        self.lit_ms = 0
        self.charge_on = True


def step(state, inputs, now_ms):
    if state.safe:
        return safe_step(state, inputs, now_ms)
    cfg = state.cfg
    events = []
    dt_ms = sample.elapsed(state, now_ms)
    vbat, ibat, pv, temp = inputs["vbat_mv"], inputs["ibat_ma"], inputs["pv_mv"], inputs["temp_c"]
    state.applied_pct = applied = state.led_pct
    night, bat, diag, health = state.night, state.bat, state.diag, state.health
    diag.pending = False
    sun = night.sun_at(cfg, now_ms)
    pv_ok = health.sensors(cfg, diag, inputs, sun, now_ms // 1000, events)
    light = reading(cfg, inputs)
    light_ok = 0 <= light <= LUX_MAX if cfg.light_sensor else pv_ok
    bat.update(cfg, vbat, ibat, temp, dt_ms, now_ms, inputs.get("ibat_avg_ma"))
    check_led(cfg, diag, applied, inputs["led_ma"], inputs.get("driver_fault"), events)
    sample.protect(state, cfg, vbat, ibat, temp, now_ms, events)
    sample.learn_load(state, cfg, applied, vbat, ibat)
    if night.update(cfg, light, light_ok, now_ms, sun):
        sample.dusk_or_dawn(state, pv, now_ms, events)
    elif night.phase == NIGHT and now_ms >= state.replan_ms:
        lighting.plan(state, now_ms)
    sample.inputs(state, cfg, inputs, now_ms)
    kit = state.kit
    state.mode, light = modes.next_mode(state.mode, {
        "load_off": not state.prot.load_on, "test": now_ms < state.test_until_ms, "night": night.phase == NIGHT,
        "manual_on": kit and kit.manual == "on", "manual_off": kit and kit.manual == "off"})
    level = lighting.target(state, light, now_ms, vbat, ibat, temp)
    state.led_pct = lighting.ramp(state, level, dt_ms, now_ms)
    if state.led_pct:
        state.lit_ms += dt_ms
        state.lit_s += state.lit_ms // 1000
        state.lit_ms %= 1000
    health.check(state, inputs, sun, now_ms, dt_ms, sample.clock_bad(state, cfg, now_ms),
                 night.skew_s(cfg, now_ms), events)
    state.faults = diag.bits
    state.charge_on = state.prot.charge_on
    sleep_ms, bands = wake.next_wake(state, inputs, sun, now_ms, level)
    return {"led_pct": state.led_pct, "next_ms": sleep_ms, "wake": bands}, events


def set_fault(state, code, on, value, ref):
    """A fault seen by the shell (storage): same bookkeeping and events as the core's own."""
    events = []
    state.diag.set(code, on, value, ref, events)
    state.faults = state.diag.bits
    return events


def safe_step(state, inputs, now_ms):
    """Safe mode: PV dusk/dawn, battery protection by voltage, `safe_level_pct` all night."""
    cfg = state.cfg
    events = []
    if state.safe_parts is None:
        state.safe_parts = (Daylight(), Protect())  # fresh: the full controller's may be corrupt
    daylight, prot = state.safe_parts
    state.applied_pct = state.led_pct
    phase = daylight.update(cfg, reading(cfg, inputs), now_ms)[0]
    if prot.update(cfg.battery, inputs["vbat_mv"], inputs["ibat_ma"], inputs["temp_c"], 100, 0, now_ms):
        state.diag.set(BATTERY_LOW, not prot.load_on, inputs["vbat_mv"], cfg.battery.lvd_mv, events)
        state.faults = state.diag.bits
    state.mode = modes.SAFE if prot.load_on else modes.LOW
    state.led_pct = cfg.safe_level_pct if phase == NIGHT and prot.load_on else 0
    state.charge_on = prot.charge_on
    return {"led_pct": state.led_pct, "next_ms": cfg.sample_s * 1000, "wake": None}, events
