# Emulated-lamp extension of the unix port's built-in `machine` (the emulator puts this directory first
# on the path; the flash tool never copies it to a device). The built-in has no reset: these functions
# end the interpreter with exit codes that emulator/console.py maps to what an ESP32 does.
import os
import sys

EXIT_HARD_RESET = 75  # machine.reset(): chip reset, ROM banner, main.py runs
EXIT_BOOTLOADER = 77  # machine.bootloader(): ROM download mode until the next hard reset

PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5

_self = sys.modules.pop("machine")
_saved_path = sys.path[:]
sys.path[:] = []
try:
    import machine as _builtin  # with nothing on the path this finds the built-in module
finally:
    sys.path[:] = _saved_path
    sys.modules["machine"] = _self
for _name in dir(_builtin):
    if not _name.startswith("__"):
        globals()[_name] = getattr(_builtin, _name)
del _self, _saved_path, _name


def reset():
    sys.exit(EXIT_HARD_RESET)


def bootloader():
    sys.exit(EXIT_BOOTLOADER)


def soft_reset():
    # SystemExit(0) at the REPL is what the ESP32 port turns into a soft reset; the supervisor does the same.
    raise SystemExit


def reset_cause():
    return int(os.getenv("LAMPFLEET_RESET_CAUSE") or PWRON_RESET)


def unique_id():
    import binascii

    return binascii.unhexlify(os.getenv("LAMPFLEET_UNIQUE_ID") or "240ac4000001")


def freq(*args):
    return 240000000
