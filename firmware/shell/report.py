"""The lamp's frames: boot, status and events, encoded and sent on the link (telemetry/ is the format)."""
from telemetry import codec, schema
from firmware.version import FW_VERSION


def send(app, ftype, fields):
    """Into the link's flash queue; straight to the radio when there is no link or the flash write failed."""
    frame = codec.encode(ftype, app.devaddr, app.counter.next(), app.key, fields)
    if app.link is None or app.link.submit(frame, app.hal.now_ms()) is None:
        app.hal.radio_send(frame)


def boot(app):
    hal = app.hal
    cause = hal.reset_cause()
    hal.log("lampfleet %s %s booting (%s)" % (FW_VERSION, app.lamp_id, cause))
    send(app, schema.BOOT, {"time_s": hal.now_ms() // 1000, "fw_version": FW_VERSION, "reset_cause": cause,
                            "boot_count": app.boots["count"], "profile": app.profile})


def events(app, events, now_ms):
    """Event frames, up to six records each."""
    for i in range(0, len(events), schema.MAX_EVENTS):
        records = [{"code": c, "action": a, "value": v, "ref": r} for c, a, v, r in events[i:i + schema.MAX_EVENTS]]
        send(app, schema.EVENT, {"time_s": now_ms // 1000, "events": records})


def status(app, inputs, now_ms):
    """The readings and the LED level that produced them, so that level and current always agree."""
    st = app.state
    send(app, schema.STATUS, {
        "time_s": now_ms // 1000, "vbat_mv": inputs["vbat_mv"], "ibat_ma": inputs["ibat_ma"],
        "led_ma": inputs["led_ma"], "pv_mv": inputs["pv_mv"], "soc_pct": st.bat.soc_pct(),
        "led_pct": st.applied_pct, "temp_c": inputs["temp_c"], "mode": st.mode, "faults": st.faults})
