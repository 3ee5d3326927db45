"""Files on a lamp over the raw REPL: sha256 listings, verified binary-safe writes, reads.

A small helper (HELPER below) is defined on the device once per session; every later command is one
short call to it. File data travels as base64 inside raw-paste commands, per 4 KiB of file: deflated
first (the device inflates with `deflate.DeflateIO`, window 4 KiB) when the device has `deflate` and it
makes the chunk smaller, so Python sources cost about 0.5 byte on the wire per byte of file, and
arbitrary binary at most 4/3 (mpremote's repr() text costs 1.04 for sources and up to 2.9 for
binary). base64 rather than raw bytes because the REPL's stdin is not 8-bit clean on every board:
Ctrl-C (0x03) interrupts, and the unix port's terminal switches flush typed-ahead input.

After the last chunk the device closes the file, re-reads it from flash and prints its sha256: the
host compares it with its own. Nothing here is atomic by itself: tools/update.py stages and renames.
"""
from __future__ import annotations

import base64
import hashlib
import json
import zlib
from dataclasses import dataclass
from typing import Any, Callable

from tools import errors
from tools.errors import DeviceError, ToolError
from tools.repl import RawRepl

CHUNK = 4096
WBITS = 12  # deflate window: 4 KiB of RAM on the device
ENOSPC = 28
ENOENT = 2

HELPER = """\
import os, sys, binascii, hashlib
try:
    import deflate, io
except ImportError:
    deflate = None
_lf_f = None
_lf_p = None
def _lf_h(p):
    try:
        f = open(p, 'rb')
    except OSError:
        return None
    h = hashlib.sha256()
    b = bytearray(512)
    m = memoryview(b)
    while True:
        n = f.readinto(b)
        if not n:
            break
        h.update(m[:n])
    f.close()
    return binascii.hexlify(h.digest()).decode()
def _lf_md(d):
    q = ''
    for s in d.split('/')[1:]:
        q += '/' + s
        try:
            os.mkdir(q)
        except OSError:
            pass
def _lf_ls(d):
    try:
        es = list(os.ilistdir(d))
    except OSError:
        return
    for e in es:
        p = d.rstrip('/') + '/' + e[0]
        if e[1] & 0x4000:
            _lf_ls(p)
        else:
            print(p, _lf_h(p))
def _lf_hs(*rs):
    for r in rs:
        try:
            st = os.stat(r)
        except OSError:
            continue
        if st[0] & 0x4000:
            _lf_ls(r)
        else:
            print(r, _lf_h(r))
def _lf_o(p):
    global _lf_f, _lf_p
    _lf_md(p[:p.rfind('/')])
    _lf_f = open(p, 'wb')
    _lf_p = p
def _lf_w(d, z):
    d = binascii.a2b_base64(d)
    if z:
        d = deflate.DeflateIO(io.BytesIO(d), deflate.RAW, %(wbits)d).read()
    _lf_f.write(d)
def _lf_c():
    global _lf_f
    _lf_f.close()
    _lf_f = None
    print(_lf_h(_lf_p))
def _lf_r(p):
    f = open(p, 'rb')
    while True:
        b = f.read(576)
        if not b:
            break
        sys.stdout.write(binascii.b2a_base64(b))
    f.close()
def _lf_rm(*ps):
    for p in ps:
        try:
            os.remove(p)
        except OSError:
            pass
def _lf_rmtree(d):
    try:
        es = list(os.ilistdir(d))
    except OSError:
        return
    for e in es:
        p = d.rstrip('/') + '/' + e[0]
        if e[1] & 0x4000:
            _lf_rmtree(p)
        else:
            os.remove(p)
    os.rmdir(d)
""" % {"wbits": WBITS}

PROBE = """\
import json
_i = sys.implementation
_s = os.statvfs('/')
print(json.dumps({'name': _i.name, 'version': list(_i.version[:3]), 'mpy': getattr(_i, '_mpy', None),
    'machine': getattr(_i, '_machine', ''), 'platform': sys.platform, 'block': _s[0],
    'blocks': _s[2], 'free_blocks': _s[3], 'deflate': deflate is not None}))
del _i, _s
"""


@dataclass(frozen=True)
class DeviceInfo:
    name: str
    version: tuple[int, int, int]
    mpy: int | None
    machine: str
    platform: str
    block: int
    blocks: int
    free_blocks: int
    deflate: bool

    @property
    def free_bytes(self) -> int:
        return self.block * self.free_blocks

    @property
    def version_text(self) -> str:
        return ".".join(str(v) for v in self.version)


def encode_chunk(chunk: bytes, allow_deflate: bool) -> tuple[bytes, int]:
    """base64 of the chunk, deflated (flag 1) when that is smaller."""
    plain = base64.b64encode(chunk)
    if allow_deflate and len(chunk) > 64:
        c = zlib.compressobj(9, zlib.DEFLATED, -WBITS, 9)
        packed = base64.b64encode(c.compress(chunk) + c.flush())
        if len(packed) < len(plain):
            return packed, 1
    return plain, 0


def blocks_for(size: int, block: int = 4096) -> int:
    return (size + block - 1) // block


class DeviceFs:
    """Filesystem operations on a connected lamp. Call `setup()` after every (soft) reset."""

    def __init__(self, repl: RawRepl, compress: bool | None = None) -> None:
        self.repl = repl
        self.compress = compress  # None: when the device has deflate
        self.info: DeviceInfo | None = None

    def setup(self) -> DeviceInfo:
        self.repl.during = "preparing the lamp"
        self.repl.exec(HELPER)
        raw = json.loads(self.repl.exec(PROBE))
        raw["version"] = tuple(raw["version"])
        self.info = DeviceInfo(**raw)
        if self.compress is None:
            self.compress = self.info.deflate
        return self.info

    def call(self, code: str, timeout: float = 10.0) -> bytes:
        try:
            return self.repl.exec(code, timeout)
        except DeviceError as e:
            if e.errno == ENOSPC:
                raise errors.filesystem_full(0, self.free_bytes()) from e
            raise

    def free_bytes(self) -> int:
        try:
            out = self.repl.exec("_s = os.statvfs('/'); print(_s[0] * _s[3])")
            return int(out)
        except (ToolError, ValueError):
            return -1

    def hashes(self, *roots: str) -> dict[str, str | None]:
        """sha256 (hex) of every file at or below each root; roots that do not exist are skipped."""
        self.repl.during = "comparing the lamp's files"
        out = self.call("_lf_hs(%s)" % ", ".join(repr(r) for r in roots), timeout=30)
        result: dict[str, str | None] = {}
        for line in out.decode().splitlines():
            path, _, digest = line.strip().rpartition(" ")
            if path:
                result[path] = None if digest == "None" else digest
        return result

    def write(self, path: str, data: bytes, progress: Callable[[int], None] | None = None) -> None:
        """Write `path` (creating its directories) and verify it by sha256 re-read from flash."""
        self.repl.during = f"writing {path}"
        chunks = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)] or [b""]
        device_hash = ""
        for i, chunk in enumerate(chunks):
            calls = [f"_lf_o({path!r})"] if i == 0 else []
            if chunk:
                payload, flag = encode_chunk(chunk, bool(self.compress))
                calls.append(f"_lf_w({payload!r},{flag})")
            if i == len(chunks) - 1:
                calls.append("_lf_c()")
            out = self.call("\n".join(calls))
            if progress:
                progress(len(chunk))
            device_hash = out.decode().strip()
        expected = hashlib.sha256(data).hexdigest()
        if device_hash != expected:
            raise ToolError(
                f"{path} did not verify on the lamp (sha256 {device_hash[:12]} instead of {expected[:12]})",
                "run the command again; if it fails twice, the lamp's flash may be worn: replace the board",
                "verify-failed",
            )

    def read(self, path: str) -> bytes:
        self.repl.during = f"reading {path}"
        try:
            out = self.repl.exec(f"_lf_r({path!r})", timeout=30)
        except DeviceError as e:
            if e.errno == ENOENT:
                raise FileNotFoundError(path) from e
            raise
        return base64.b64decode(b"".join(out.split()))

    def read_json(self, path: str) -> Any:
        """Parsed JSON file, or None when it is missing or not valid JSON."""
        try:
            return json.loads(self.read(path))
        except (FileNotFoundError, ValueError):
            return None

    def rename(self, old: str, new: str) -> None:
        self.call(f"os.rename({old!r}, {new!r})")

    def remove(self, *paths: str) -> None:
        if paths:
            self.call("_lf_rm(%s)" % ", ".join(repr(p) for p in paths))

    def rmtree(self, path: str) -> None:
        self.call(f"_lf_rmtree({path!r})")
