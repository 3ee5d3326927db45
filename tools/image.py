"""Writing the MicroPython firmware image (the .bin from micropython.org) with esptool's Python API.

Only needed for a new or erased board, or a MicroPython upgrade; the lamp application itself goes over
the REPL (tools/flash.py). The image is bootloader + partition table + app, merged; where it goes
depends on the chip (ports/esp32/boards/*/board.json `flash_offset`): 0x1000 on the ESP32, 0x0 on the
S3 and C3. Writing it at the wrong offset boot-loops with `invalid header: 0xffffffff`, so the offset
is never a user option: it follows the chip esptool detects, after checking that the image's own
header names the same chip. esptool verifies every region by MD5 after writing.

Re-flashing MicroPython without erasing keeps the lamp's filesystem (it lives after the app partition),
so config and app survive; the app's .mpy files must then match the new MicroPython (flash checks).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools import errors
from tools.errors import ToolError
from tools.ports import emulated_lamp_info

# esptool CHIP_NAME -> (image offset, MicroPython board build, image header chip id)
CHIPS: dict[str, tuple[int, str, int]] = {
    "ESP32": (0x1000, "ESP32_GENERIC", 0),
    "ESP32-S2": (0x1000, "ESP32_GENERIC_S2", 2),
    "ESP32-C3": (0x0, "ESP32_GENERIC_C3", 5),
    "ESP32-S3": (0x0, "ESP32_GENERIC_S3", 9),
    "ESP32-C6": (0x0, "ESP32_GENERIC_C6", 13),
}
_BY_ID = {chip_id: name for name, (_, _, chip_id) in CHIPS.items()}
IMAGE_MAGIC = 0xE9


@dataclass(frozen=True)
class ImagePlan:
    chip: str
    offset: int
    size: int

    def esptool_args(self, port: str, image: str, baud: int) -> list[str]:
        """The equivalent esptool command line (printed for the technician's notes)."""
        return ["esptool", "--chip", self.chip.lower().replace("-", ""), "--port", port, "--baud", str(baud),
                "write-flash", hex(self.offset), image]


def image_chip(image: bytes) -> str | None:
    """The chip an ESP-IDF image is built for, from its extended header (chip id at byte 12)."""
    if len(image) < 16 or image[0] != IMAGE_MAGIC:
        return None
    (chip_id,) = struct.unpack_from("<H", image, 12)
    return _BY_ID.get(chip_id)


def plan_image(image: bytes, found_chip: str, port: str = "", expected_chip: str | None = None) -> ImagePlan:
    """Where `image` goes on the `found_chip` esptool detected; wrong_chip if they disagree."""
    if len(image) < 16 or image[0] != IMAGE_MAGIC:
        raise ToolError("the firmware file is not an ESP32 image (no 0xE9 header)",
                        "download the .bin for your board from https://micropython.org/download/",
                        "bad-image")
    built_for = image_chip(image)
    if expected_chip and _norm(expected_chip) != _norm(found_chip):
        raise errors.wrong_chip(port, _norm(expected_chip), found_chip, _board_hint(found_chip))
    if built_for and built_for != found_chip:
        raise errors.wrong_chip(port, built_for, found_chip, _board_hint(found_chip))
    if found_chip not in CHIPS:
        raise ToolError(f"{found_chip} is not a lamp controller chip", "use an ESP32, ESP32-S3 or ESP32-C3 board",
                        "wrong-chip")
    return ImagePlan(found_chip, CHIPS[found_chip][0], len(image))


def _norm(chip: str) -> str:
    c = chip.upper().replace("_", "-")
    return c if c.startswith("ESP32-") or c == "ESP32" else c.replace("ESP32", "ESP32-")


def _board_hint(chip: str) -> str:
    return f"{CHIPS[chip][1]}-*.bin" if chip in CHIPS else ""


def write_image(port: str, image_path: str | Path, chip: str | None = None, baud: int = 460800) -> dict[str, Any]:
    """Detect the chip, write the MicroPython image at its offset, verify (MD5), hard-reset."""
    if emulated_lamp_info(port) is not None:
        raise ToolError(f"{port} is an emulated lamp: it has no flash chip to write an image to",
                        "drop --firmware; the emulated lamp already runs MicroPython 1.29", "emulated-port")
    image = Path(image_path).read_bytes()
    try:
        from esptool.cmds import attach_flash, detect_chip, reset_chip, run_stub, write_flash
        from esptool.util import FatalError
    except ImportError as e:
        raise ToolError("esptool is not installed", "pip install 'esptool>=5'", "missing-tool") from e
    try:
        with detect_chip(port, 115200, connect_mode="default-reset") as esp:
            plan = plan_image(image, esp.CHIP_NAME, port, chip)
            esp = run_stub(esp)
            if baud and baud != 115200:
                esp.change_baud(baud)
            attach_flash(esp)
            write_flash(esp, [(plan.offset, image)])
            reset_chip(esp, "hard-reset")
    except FatalError as e:
        text = str(e)
        if "Failed to connect" in text or "No serial data received" in text:
            raise ToolError(f"the chip on {port} does not enter its bootloader ({text.splitlines()[0]})",
                            "hold the BOOT button, tap EN/RST, release BOOT, and run the command again",
                            "no-bootloader") from e
        if "MD5" in text:
            raise ToolError(f"the image did not verify after writing: {text}",
                            "run again with a lower --baud (115200) or another cable", "verify-failed") from e
        raise ToolError(f"esptool: {text}", "run again with --baud 115200", "esptool") from e
    return {"chip": plan.chip, "offset": plan.offset, "bytes": plan.size}
