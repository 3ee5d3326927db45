"""Everything the lamp does once, at boot: settings, learned state, the clock, the boot history.

Kept apart from the loop so that on MicroPython its code (and the settings validation it pulls in) can
be dropped from the heap once the lamp runs: see `forget`.
"""
from firmware.core import boots
from firmware.shell import persist, settings

MIN_VALID_MS = 1704067200000  # 2024-01-01 (core/night.py): an ESP32 RTC that lost power restarts in 2000


def make_hal(board):
    if board.get("board", "emulated") == "emulated":
        from firmware.hal.emulated import EmulatedHal

        return EmulatedHal(board)
    from firmware.hal.esp32 import Esp32Hal

    return Esp32Hal(board)


class Boot:
    """What the loop needs from the boot (made by `prepare`). No methods on purpose: a method would
    keep this module's code alive in the heap after `forget`. Events are (name, action name, value,
    ref): telemetry is loaded after the boot work, with the loop."""


def prepare(hal, config, state_file):
    """Settings, saved state, clock trust, boot history and the events they raise, as a Boot."""
    boot = Boot()
    boot.events = []
    profile, site = config.get("profile", "street"), config.get("site")
    boot.cfg, error = settings.load(config.get("settings"), profile, site)
    if error:
        hal.log("config error, running on defaults: %s" % error)
        boot.events.append(("config_applied", "point", 0, 0))
    saved = persist.load(state_file, {})
    if not isinstance(saved, dict):
        saved = {}
    boot.learned = saved.get("learned")
    now_ms = hal.now_ms()
    # An RTC that kept running through the reset is trusted; one that lost power restarts in 2000 and is
    # set to the last saved time: the date is about right, the hour is re-learned from the sun.
    boot.clock_trusted = now_ms >= MIN_VALID_MS
    saved_ms = saved.get("time_ms")
    if not boot.clock_trusted and isinstance(saved_ms, int) and saved_ms >= MIN_VALID_MS:
        hal.set_time_ms(saved_ms)
        now_ms = hal.now_ms()
    boot.history, boot.resets, boot.safe = boots.record_boot(
        saved.get("boots"), now_ms // 1000, hal.reset_cause(), saved.get("crashed") is True)
    if boot.safe:
        hal.log("safe mode: repeated crashes")
        boot.events.append(("safe_mode", "raised", boot.history["crashes"], boot.history["count"] & 0x7FFF))
    return boot


def forget():
    """Drop boot-only modules from the heap (firmware/shell/__init__.py)."""
    from firmware import shell

    settings.forget()
    shell.forget(("firmware.shell.startup", "firmware.core.boots"))
