"""The lamp's shell: the loop, persistence, boot work. `forget` lives here, in the package every shell
module already loaded, so that it costs one function rather than a module."""
# Compiled code lives in the heap (on the unix port, and on a device running .py or .mpy files): about
# 1 KB per 100 lines. Code that runs once at boot (settings validation, boot history) or rarely (the
# sun's times once a day, the night plan at dusk and hourly, gateway requests) is imported where it is
# used and forgotten afterwards; Python imports it again when next needed. CPython keeps everything: its
# tests hold references to these modules. (The learned-state export, hourly, stays: reloading it each
# hour failed now and then on a fragmented 96 KB heap.)
import sys

RARE = ("firmware.core.sun", "firmware.core.profile", "firmware.core.planner",
        "firmware.core.requests", "firmware.shell.requests")


def forget(names):
    """Drop modules from the heap (MicroPython only)."""
    if sys.implementation.name != "micropython":
        return
    for name in names:
        if sys.modules.pop(name, None) is not None:
            parent, _, child = name.rpartition(".")
            pkg = sys.modules.get(parent)
            if pkg is not None and hasattr(pkg, child):
                delattr(pkg, child)
