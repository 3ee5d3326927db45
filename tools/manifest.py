"""A MicroPython freeze manifest for the lamp application: `python -m tools.manifest [OUT]`.

Frozen into a MicroPython firmware image (`make -C ports/esp32 BOARD=ESP32_GENERIC FROZEN_MANIFEST=OUT`),
the application's bytecode, its code objects and its names all live in flash. The heap holds only the
objects the code creates: about 24 KB live for this firmware on a 32-bit build, where the same modules
loaded from ROMFS keep about 43 KB live (their names are interned into heap pools and their code objects
are built at import) and from /lib more still (docs/firmware.md, "Memory").

The modules are exactly those `lampfleet flash` installs under /lib (tools/build.app_sources), under the
same package paths. Data files are not modules and are not frozen: the firmware reads its chemistry
profiles from lib/firmware/profiles/ under the lamp's root, where `lampfleet flash` installs them
(firmware/shell/settings.py).
"""
from __future__ import annotations

import sys
from pathlib import Path

from tools.build import app_sources


def manifest() -> str:
    lines = ["# MicroPython freeze manifest of the lampfleet application (python -m tools.manifest)."]
    for device_path, source in sorted(app_sources().items()):
        module = device_path.removeprefix("/lib/") + ".py"  # e.g. firmware/shell/app.py
        source = source.resolve()
        if not source.as_posix().endswith("/" + module):
            raise ValueError(f"{source}: not laid out as its device path {device_path}")
        root = source.as_posix()[: -len(module) - 1]
        lines.append(f"freeze({root!r}, {module!r})")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    text = manifest()
    if argv:
        Path(argv[0]).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
