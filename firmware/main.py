# Device entry point: the flash tool copies this file to /main.py on the lamp.
#
# Memory (docs/firmware.md, "Memory"): compiling from source leaves garbage between long-lived code
# objects, and on a 100 KB heap the last import must still find contiguous room. So the boot work comes
# first, while the heap is empty (settings validation is the largest compile of all, and is dropped
# afterwards); then the loop's modules one at a time, dependencies first, with a collection after each.
# Should they still not fit, a minimal controller keeps the street lit (shell/fallback.py).
import gc

from firmware.shell import persist, startup

board = persist.load("board.json")
config = persist.load("config.json")
if board is None or config is None:
    print("lampfleet: not provisioned (missing board.json or config.json)")
else:
    hal = startup.make_hal(board)
    try:
        boot = startup.prepare(hal, config, "state.json")
    except Exception as e:  # noqa: BLE001 - a broken install must not leave the street dark
        from firmware.shell import fallback

        fallback.run(hal, None, "boot failed: %r" % e)
    startup.forget()
    del startup
    try:
        for _name in ("telemetry", "firmware.core.daylight", "firmware.core.modes", "firmware.core.diagnosis",
                      "firmware.core.protect", "firmware.core.battery", "firmware.core.health",
                      "firmware.core.night", "firmware.core.lighting", "firmware.core.sample", "firmware.core.controller",
                      "firmware.shell.counter", "firmware.version", "firmware.shell.report"):
            gc.collect()
            __import__(_name)
        gc.collect()
        from firmware.shell.app import App

        gc.collect()
        app = App(hal, config, boot)
    except MemoryError as e:
        gc.collect()
        from firmware.shell import fallback

        fallback.run(hal, boot.cfg, repr(e))
    del boot, config, board, App, _name
    gc.collect()
    app.run()
