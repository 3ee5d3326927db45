"""What the gateway may ask of the core (downlink commands), loaded only when one arrives."""
from telemetry import schema


def sync_clock(state, old_ms, new_ms):
    """The shell set the clock from old_ms to new_ms (time sync): keep every timer coherent."""
    d = new_ms - old_ms
    night = state.night
    night.mids = [(m + d // 1000) % 86400 for m in night.mids]
    for obj, name in ((night, "since_ms"), (night, "dusk_ms"), (night, "mid_ms"), (night, "dawn_ms"),
                      (night, "pv_dusk_ms"), (night.daylight, "pending_since_ms")):
        if getattr(obj, name) is not None:
            setattr(obj, name, getattr(obj, name) + d)
    night.trusted = True
    for name in ("last_ms", "started_ms", "replan_ms", "boost_until_ms", "test_until_ms"):
        if getattr(state, name) is not None:
            setattr(state, name, getattr(state, name) + d)
    state.prot.off_ms += d
    if state.kit:
        state.kit.until_ms += d
    for s in state.segs or ():
        s[0] += d
        s[1] += d
    return [(schema.EVENT_CODES["time_sync"], schema.POINT, max(-32768, min(32767, d // 1000)), 0)]


def test_on(state, now_ms, minutes):
    """Commissioning: full light for `minutes`."""
    state.test_until_ms = now_ms + minutes * 60000


def battery_replaced(state):
    """A crew fitted a new battery: forget what was learnt of the old one (health, resistance, charge);
    the new one's is learnt from here, and battery_degraded clears at the next sample."""
    from firmware.core.battery import Battery

    old = state.bat
    state.bat = Battery(state.cfg)
    state.bat.deep_discharges = old.deep_discharges  # the lamp's history, not the battery's
    state.health.collapse = False
