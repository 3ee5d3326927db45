"""Gateway requests to a running lamp (downlink commands and settings), loaded when one arrives.

The link layer (firmware/link) decodes a downlink and calls `command(app, name, arg)` or
`apply_settings(app, changes)`; the answer feeds its dlack (applied / invalid / unsupported).
"""
from telemetry import schema
from firmware.core import requests as core_requests


def command(app, name, arg):
    """test_on (arg minutes), time_sync (arg Unix seconds), status_now, battery_replaced, reboot; 'applied' or
    'unsupported'."""
    hal, now_ms = app.hal, app.hal.now_ms()
    if name == "test_on":
        core_requests.test_on(app.state, now_ms, arg)
    elif name == "time_sync":
        hal.set_time_ms(arg * 1000)
        new_ms = hal.now_ms()
        d = new_ms - now_ms
        app.pending += core_requests.sync_clock(app.state, now_ms, new_ms)
        app.state.night.trusted = True
        # the shell's own timers move with the clock (a clock set back must not hold the next status)
        app.next_status_ms += d
        app.stable_ms += d
    elif name == "status_now":
        app.next_status_ms = 0
    elif name == "battery_replaced":
        core_requests.battery_replaced(app.state)
        app.save(now_ms)
    elif name == "reboot" and hasattr(hal, "reset"):
        app.save(now_ms)
        hal.reset()
    else:
        return "unsupported"
    return "applied"


def apply_settings(app, changes):
    """New settings over the current ones; 'applied', 'unsupported' (a name this firmware does not know)
    or 'invalid'; in both refusals nothing changes."""
    import gc

    from firmware.core.config import DEFAULTS
    from firmware.shell import settings

    for name in changes:
        if name not in DEFAULTS:
            app.hal.log("settings refused: unknown %s" % name)
            return "unsupported"
    gc.collect()  # the new settings are built while the current ones still hold: room for both
    new = dict(app.cfg.user)
    new.update(changes)
    cfg, error = settings.load(new, app.profile, app.site, strict=True)
    settings.forget()
    if error is None:
        app.cfg = app.state.cfg = cfg
    else:
        app.hal.log("settings refused: %s" % error)
    app.pending.append((schema.EVENT_CODES["config_applied"], schema.POINT, 1 if error is None else 0, len(changes)))
    return "applied" if error is None else "invalid"
