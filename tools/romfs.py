"""The application in the lamp's ROMFS partition (MicroPython 1.25+, `vfs.rom_ioctl`), so that its code
runs in place from flash instead of being copied into the heap (docs/firmware.md, "Memory").

The image holds what `/lib` holds (compiled modules, their data files, device libraries) and is mounted
at /rom, ahead of /lib on sys.path. /lib keeps a whole copy: a lamp without a valid image boots that.
"Never a mix" with a partition that is rewritten in place, not renamed:

1. the partition's first block is erased before anything else changes (no ROMFS header: the lamp boots
   /lib, whatever follows);
2. /lib, main.py and the config switch atomically (tools/update.py);
3. the image's other blocks are written and read back by sha256; only then its first block, and the
   whole image is verified once more.

A pull between 1 and 3 leaves a lamp that boots its /lib (old or new, whole) and a next run that writes
the image again; a lamp whose image already matches is not touched ("up-to-date"). Ports expose the
partition either as an object with `ioctl`/`writeblocks` (the ESP32's `esp32.Partition`) or as a buffer
with `rom_ioctl(3..5)` to prepare, write and finish (as mpremote's `romfs deploy` handles both,
micropython tools/mpremote/mpremote/commands.py); both are handled here. Data travels like file data
(tools/devfs.py): base64, deflated when the lamp has `deflate`.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
from collections.abc import Mapping
from dataclasses import dataclass

from tools.devfs import CHUNK, DeviceFs, encode_chunk
from tools.errors import ToolError

LIB = "/lib/"
HEADER = b"\xd2\xcd\x31"

# MicroPython, defined once per session after devfs's HELPER (binascii, hashlib, deflate, io loaded).
ROM_HELPER = """\
import vfs
def _lf_rd():
    if not hasattr(vfs, 'rom_ioctl') or vfs.rom_ioctl(1) < 1:
        return None
    d = vfs.rom_ioctl(2, 0)
    return None if isinstance(d, int) else d
def _lf_rq():
    d = _lf_rd()
    if d is None:
        print(-1, -1)
    elif hasattr(d, 'ioctl'):
        print(d.ioctl(4, 0) * d.ioctl(5, 0), d.ioctl(5, 0))
    else:
        b = vfs.rom_ioctl(6, 0)
        print(len(d), b if b > 0 else len(d))
def _lf_rh(n, bs):
    d = _lf_rd()
    h = hashlib.sha256()
    if hasattr(d, 'ioctl'):
        b = bytearray(bs)
        for i in range(0, n, bs):
            d.readblocks(i // bs, b)
            h.update(memoryview(b)[:min(bs, n - i)])
    else:
        m = memoryview(d)
        for i in range(0, n, 512):
            h.update(m[i:min(n, i + 512)])
    print(binascii.hexlify(h.digest()).decode())
def _lf_rumount():
    try:
        vfs.umount('/rom')
    except OSError:
        pass
def _lf_re(off, n, bs):
    d = _lf_rd()
    if hasattr(d, 'ioctl'):
        for i in range(off, off + n, bs):
            d.ioctl(6, i // bs)
    else:
        vfs.rom_ioctl(3, 0, off, n)
def _lf_rw(off, data, z, bs):
    data = binascii.a2b_base64(data)
    if z:
        data = deflate.DeflateIO(io.BytesIO(data), deflate.RAW, 12).read()
    d = _lf_rd()
    if hasattr(d, 'ioctl'):
        d.writeblocks(off // bs, data, off % bs)
    else:
        vfs.rom_ioctl(4, 0, off, data)
def _lf_rf():
    d = _lf_rd()
    if not hasattr(d, 'ioctl'):
        vfs.rom_ioctl(5, 0)
"""


def image(files: Mapping[str, bytes]) -> bytes:
    """A ROMFS image of the files under /lib/ in `files` (device path -> content), paths relative to /lib."""
    from mpremote.romfs import VfsRomWriter  # type: ignore[import-untyped]

    tree: dict = {}
    for path in sorted(files):
        if path.startswith(LIB):
            *dirs, name = path[len(LIB):].split("/")
            node = tree
            for d in dirs:
                node = node.setdefault(d, {})
            node[name] = files[path]
    writer = VfsRomWriter()

    def add(node: dict) -> None:
        for name in sorted(node):
            if isinstance(node[name], dict):
                writer.opendir(name)
                add(node[name])
                writer.closedir()
            else:
                writer.mkfile(name, node[name])

    with contextlib.redirect_stdout(io.StringIO()):
        add(tree)
        return bytes(writer.finalise())


@dataclass(frozen=True)
class Partition:
    size: int
    block: int


class RomPartition:
    """The lamp's first ROMFS partition, driven over the raw REPL (after DeviceFs.setup())."""

    def __init__(self, fs: DeviceFs) -> None:
        self.fs = fs
        fs.call(ROM_HELPER)
        size, block = (int(x) for x in fs.call("_lf_rq()").split())
        self.partition = Partition(size, block) if size > 0 else None

    def holds(self, data: bytes) -> bool:
        assert self.partition is not None
        digest = self.fs.call(f"_lf_rh({len(data)}, {self.partition.block})", timeout=60).decode().strip()
        return digest == hashlib.sha256(data).hexdigest()

    def invalidate(self) -> None:
        """Erase the first block: no header, so the lamp boots its /lib until the image is whole again."""
        assert self.partition is not None
        self.fs.repl.during = "invalidating the lamp's ROMFS image"
        self.fs.call(f"_lf_rumount()\n_lf_re(0, {self.partition.block}, {self.partition.block})")

    def write(self, data: bytes, progress=None) -> None:
        """The image, header block last, verified; `invalidate()` must have come first."""
        p = self.partition
        assert p is not None
        if len(data) > p.size:
            raise ToolError(f"the application ({len(data)} bytes) does not fit the lamp's ROMFS partition "
                            f"({p.size} bytes)", "flash a MicroPython image with a larger romfs partition, or "
                            "pass --no-romfs to run the application from /lib", "filesystem-full")
        self.fs.repl.during = "writing the lamp's ROMFS image"
        padded = data + b"\xff" * (-len(data) % p.block)
        if len(padded) > p.block:
            self.fs.call(f"_lf_re({p.block}, {len(padded) - p.block}, {p.block})", timeout=60)
            self._send(padded, p.block, len(padded), progress)
            if not self.holds_body(padded):
                raise _unverified()
        self._send(padded, 0, p.block, progress)
        self.fs.call("_lf_rf()")
        if not self.holds(data):
            raise _unverified()

    def _send(self, padded: bytes, start: int, end: int, progress) -> None:
        assert self.partition is not None
        for off in range(start, end, CHUNK):
            payload, flag = encode_chunk(padded[off:min(end, off + CHUNK)], bool(self.fs.compress))
            self.fs.call(f"_lf_rw({off}, {payload!r}, {flag}, {self.partition.block})")
            if progress:
                progress(min(CHUNK, end - off))

    def holds_body(self, padded: bytes) -> bool:
        """sha256 of everything but the first block (the header is written only after this passes)."""
        p = self.partition
        assert p is not None
        out = self.fs.call(f"_lf_rh({len(padded)}, {p.block})", timeout=60).decode().strip()
        expected = hashlib.sha256(b"\xff" * p.block + padded[p.block:]).hexdigest()
        return out == expected


def _unverified() -> ToolError:
    return ToolError("the lamp's ROMFS image did not verify after writing",
                     "run the command again (the lamp boots its /lib meanwhile); if it fails twice, the flash "
                     "may be worn: replace the board", "verify-failed")
