"""What a sample changes besides the light: clock steps, protection, load learning, dusk and dawn,
inputs, the clock's health. Called by core/controller.step, in that order of the step."""
from telemetry import schema
from firmware.core import lighting, modes
from firmware.core.daylight import NIGHT
from firmware.core.night import MIN_VALID_MS

BATTERY_LOW = schema.FAULT_CODES["battery_low"]


def elapsed(state, now_ms):
    """ms since the previous sample; a clock jump (backwards, or well past the longest sleep) counts as
    one sample period."""
    last = state.last_ms
    state.last_ms = now_ms
    if last is None:
        state.started_ms = now_ms
        return 0
    dt = now_ms - last
    if dt < 0 or dt > 2 * state.cfg.max_sleep_s * 1000 + 60000:
        return state.cfg.sample_s * 1000
    return dt


def dusk_or_dawn(state, pv, now_ms, events):
    night, bat = state.night, state.bat
    dusk = night.phase == NIGHT
    events.append((schema.EVENT_CODES["dusk" if dusk else "dawn"], schema.POINT, pv // 100, night.src))
    if state.kit:
        state.kit.manual = None
    state.capped = False
    booting = state.mode == modes.BOOT
    if dusk:
        if not booting:
            bat.end_of_day()
        lighting.plan(state, now_ms)
    elif not booting:
        bat.end_of_night()


def inputs(state, cfg, readings, now_ms):
    """Motion, the kit's switch and door, a street lamp's test button."""
    at_night = state.night.phase == NIGHT
    if readings.get("pir") and at_night and cfg.pir_hold_s:
        state.boost_until_ms = now_ms + cfg.pir_hold_s * 1000
    if state.kit:
        boost = state.kit.update(cfg, readings, state.led_pct > 0, now_ms, state.bat.soc_pct(), state.prot.load_on)
        if boost and at_night:
            state.boost_until_ms = boost
    elif readings.get("button", 0):
        state.test_until_ms = now_ms + 60000


def protect(state, cfg, vbat, ibat, temp, now_ms, events):
    p, bat, prot = cfg.battery, state.bat, state.prot
    soc = bat.soc_pct()
    change = prot.update(p, vbat, ibat, temp, soc, bat.r_mohm, now_ms)
    if change == 1:
        state.health.collapse = bat.anchor is not None and soc >= 50
        bat.load_disconnected(p.soc_at_lvd_pct)
        prot.off_soc = bat.soc_pct()
    if change > 0:
        limit = prot.lvd_mv(p, ibat, bat.r_mohm, temp) if change == 1 else p.discharge_max_c
        state.diag.set(BATTERY_LOW, True, vbat if change == 1 else temp, limit, events)
    elif change < 0:
        state.diag.set(BATTERY_LOW, False, vbat, p.lvr_mv, events)


def learn_load(state, cfg, applied, vbat, ibat):
    """Battery resistance from the step when the LED switches on; LED load from steady night samples."""
    prev = state.prev
    state.prev = (applied, vbat, ibat)
    if prev is None or prev[2] > 0 or ibat > 0:  # the panel charging would hide the load
        return
    if prev[0] == 0 and applied >= 30:
        state.bat.learn_r(prev[1], prev[2], vbat, ibat)
        state.health.load_step(prev[1], prev[2], vbat, ibat)
    elif prev[0] == applied >= 20 and ibat < 0:
        load = state.load_full_ma + (-ibat * 100 // applied - state.load_full_ma) // 16
        state.load_full_ma = max(cfg.load_full_ma // 4, min(cfg.load_full_ma * 4, load))


def clock_bad(state, cfg, now_ms):
    if cfg.lat_mdeg is None:
        return False
    night = state.night
    if now_ms < MIN_VALID_MS or (not night.trusted and not night.mids):
        return True
    skew = night.skew_s(cfg, now_ms)
    return len(night.mids) >= 3 and skew is not None and not -1800 < skew < 1800
