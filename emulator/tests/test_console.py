"""The emulated serial console against unmodified mpremote (PyPI) and a plain pyserial client."""
from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import time
from pathlib import Path

import pytest
import serial

from emulator.console import SerialLamp, default_micropython, serve_serial_lamps, stop_serial_lamps
from tools.ports import describe_port, emulated_hard_reset, emulated_lamp_info

MPREMOTE = [sys.executable, "-m", "mpremote"]
TICKER = 'import time\nn = 0\nwhile True:\n    print("tick", n)\n    n += 1\n    time.sleep(0.05)\n'


def mpremote(port: str, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*MPREMOTE, "connect", port, *args], capture_output=True, text=True, timeout=timeout)


def read_until(ser: serial.Serial, ending: bytes, timeout: float = 5.0) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout
    while not data.endswith(ending) and ending not in data:
        if time.monotonic() > deadline:
            raise AssertionError(f"no {ending!r} in {data[-400:]!r}")
        data += ser.read(max(1, ser.in_waiting))
    return data


@pytest.fixture
def lamp(tmp_path: Path):
    with SerialLamp(tmp_path / "lamp", default_micropython()) as lamp:
        lamp.wait_ready()
        yield lamp


def test_mpremote_ls_cp_cat_sha256_exec(lamp: SerialLamp, tmp_path: Path) -> None:
    port = lamp.pty_path
    blob = bytes(range(256)) * 20 + b"\x03\x04\x1a\x00"  # control bytes survive the transfer
    (tmp_path / "blob.bin").write_bytes(blob)
    (tmp_path / "hello.txt").write_text("hello lamp\n")
    r = mpremote(port, "mkdir", ":lib", "+", "cp", str(tmp_path / "blob.bin"), ":/lib/blob.bin",
                 "+", "cp", str(tmp_path / "hello.txt"), ":hello.txt")
    assert r.returncode == 0, r.stderr
    assert (lamp.lamp_dir / "lib" / "blob.bin").read_bytes() == blob  # "/" is the lamp directory
    r = mpremote(port, "sha256sum", ":/lib/blob.bin")
    assert hashlib.sha256(blob).hexdigest() in r.stdout, r.stdout + r.stderr
    r = mpremote(port, "cat", ":hello.txt")
    assert r.stdout == "hello lamp\n", r.stderr
    r = mpremote(port, "ls", ":/lib")
    assert "5124 blob.bin" in r.stdout, r.stdout
    r = mpremote(port, "exec", "import os, sys; print(sorted(os.listdir('/')), sys.path, os.getcwd())")
    assert r.stdout.strip() == "['hello.txt', 'lib'] ['', '.frozen', '/lib'] /", r.stderr
    r = mpremote(port, "exec", "1/0")
    assert r.returncode == 1 and "ZeroDivisionError" in r.stdout + r.stderr


def test_mpremote_reset_is_a_hard_reset_and_files_persist(lamp: SerialLamp) -> None:
    port = lamp.pty_path
    (lamp.lamp_dir / "lib").mkdir()
    (lamp.lamp_dir / "lib" / "greet.py").write_text("WORD = 'mbote'\n")
    boots = lamp.boots
    r = mpremote(port, "reset")
    assert r.returncode == 0, r.stderr
    lamp.wait_ready(after_boots=boots + 1)  # mpremote soft-resets first, then machine.reset()
    assert lamp.last_boot == "sw_reset"
    r = mpremote(port, "exec", "import machine, greet; print(machine.reset_cause(), greet.WORD)")
    assert r.stdout.strip() == "5 mbote", r.stdout + r.stderr  # machine.SOFT_RESET, as an ESP32 says


def test_main_py_runs_after_reset_and_ctrl_c_stops_it(lamp: SerialLamp) -> None:
    (lamp.lamp_dir / "main.py").write_text(TICKER)
    with serial.Serial(lamp.pty_path, timeout=0.2) as ser:
        lamp.hard_reset(wait=True)
        out = read_until(ser, b"tick 2")
        assert b"rst:0x1 (POWERON_RESET)" in out
        ser.write(b"\r\x03")
        out = read_until(ser, b">>> ")
        assert b"KeyboardInterrupt" in out
        ser.write(b"print(n > 1)\r")
        assert b"True" in read_until(ser, b"True")
    # mpremote's connect sequence interrupts a running main.py too
    lamp.hard_reset(wait=True)
    r = mpremote(lamp.pty_path, "exec", "print('alive')")
    assert r.stdout.strip() == "alive", r.stderr


def test_soft_reset_from_raw_repl_skips_main_py_friendly_one_runs_it(lamp: SerialLamp) -> None:
    (lamp.lamp_dir / "main.py").write_text("print('main ran')\n")
    with serial.Serial(lamp.pty_path, timeout=0.2) as ser:
        ser.write(b"\r\x03\r\x01")
        read_until(ser, b"raw REPL; CTRL-B to exit\r\n>")
        ser.write(b"\x04")
        out = read_until(ser, b"raw REPL; CTRL-B to exit\r\n>")
        assert out.endswith(b"OK\r\nMPY: soft reboot\r\nraw REPL; CTRL-B to exit\r\n>")
        assert b"main ran" not in out
        ser.write(b"\x02")
        read_until(ser, b">>> ")
        ser.write(b"\x04")
        out = read_until(ser, b">>> ")
        assert b"MPY: soft reboot" in out and b"main ran" in out


def test_raw_paste_and_ctrl_c_interrupts_running_code(lamp: SerialLamp) -> None:
    with serial.Serial(lamp.pty_path, timeout=0.2) as ser:
        ser.write(b"\r\x03\r\x01")
        read_until(ser, b"raw REPL; CTRL-B to exit\r\n>")
        ser.write(b"\x05A\x01")
        assert read_until(ser, b"\x01") == b"R\x01\x80\x00\x01"
        ser.write(b"import time\nwhile True: time.sleep_ms(5)\n\x04")
        assert read_until(ser, b"\x04") == b"\x04"  # raw paste: compiled
        time.sleep(0.2)
        ser.write(b"\x03")
        out = read_until(ser, b"\x04>")
        assert b"KeyboardInterrupt" in out


def test_control_socket_hard_reset_and_info(lamp: SerialLamp) -> None:
    info = emulated_lamp_info(lamp.pty_path)
    assert info and info["lamp_dir"] == str(lamp.lamp_dir)
    assert describe_port(lamp.pty_path).emulated
    boots = lamp.boots
    assert emulated_hard_reset(lamp.pty_path)
    lamp.wait_ready()
    assert lamp.boots == boots + 1 and lamp.last_boot == "power_on"
    assert emulated_lamp_info("/dev/null") is None


def test_bootloader_waits_for_download_until_hard_reset(lamp: SerialLamp) -> None:
    with serial.Serial(lamp.pty_path, timeout=0.2) as ser:
        ser.write(b"\r\x03\r\x01")
        read_until(ser, b"raw REPL; CTRL-B to exit\r\n>")
        ser.write(b"import machine\nmachine.bootloader()\x04")
        assert b"waiting for download" in read_until(ser, b"waiting for download\r\n")
        lamp.hard_reset(wait=True)
        ser.write(b"\r\x03")
        read_until(ser, b">>> ")


def test_filesystem_full_raises_enospc(tmp_path: Path) -> None:
    with SerialLamp(tmp_path / "small", fs_bytes=64 * 1024) as lamp:
        lamp.wait_ready()
        r = mpremote(lamp.pty_path, "exec", "import os\nprint(os.statvfs('/')[2])\n"
                     "f = open('/big', 'wb')\ntry:\n for i in range(40): f.write(bytes(4096))\n"
                     "except OSError as e: print('errno', e.errno)\nf.close()")
        assert r.stdout.split() == ["16", "errno", "28"], r.stdout + r.stderr


def test_output_without_a_listener_is_discarded(lamp: SerialLamp) -> None:
    (lamp.lamp_dir / "main.py").write_text(TICKER)
    lamp.hard_reset(wait=True)
    time.sleep(0.3)  # ticks 0..5 go nowhere, like a UART nobody listens to
    with serial.Serial(lamp.pty_path, timeout=0.2) as ser:
        out = read_until(ser, b"\n", timeout=2)
        assert b"tick 0\n" not in out and b"POWERON" not in out


def test_serve_serial_lamps_prints_one_line_per_lamp(tmp_path: Path) -> None:
    dirs = [tmp_path / "a", tmp_path / "b"]
    for i, d in enumerate(dirs):
        d.mkdir()
        (d / "config.json").write_text('{"lamp_id": "BGI-%03d"}' % i)
    out = io.StringIO()
    try:
        served = serve_serial_lamps(dirs, out=out)
        assert [lid for lid, _ in served] == ["BGI-000", "BGI-001"]
        assert out.getvalue().splitlines() == [f"{lid} {path}" for lid, path in served]
        r = mpremote(served[1][1], "exec", "import json; print(json.load(open('/config.json'))['lamp_id'])")
        assert r.stdout.strip() == "BGI-001", r.stderr
    finally:
        stop_serial_lamps()


def test_main_py_gets_the_heap_of_a_bare_interpreter(lamp: SerialLamp, tmp_path: Path) -> None:
    probe = "import gc\ngc.collect()\nprint('free', gc.mem_free())\n"
    (lamp.lamp_dir / "main.py").write_text(probe)
    (tmp_path / "main.py").write_text(probe)
    bare = subprocess.run([default_micropython(), "-X", "heapsize=96K", "main.py"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=10).stdout
    with serial.Serial(lamp.pty_path, timeout=0.2) as ser:
        lamp.hard_reset(wait=True)
        out = read_until(ser, b">>> ")
    emulated = int(out.split(b"free ")[1].split()[0])
    assert abs(emulated - int(bare.split()[1])) < 1536, (emulated, bare)  # the emulation layer costs no heap
