"""Every technician-facing error that can be produced here, with its message and hint."""
from __future__ import annotations

import os
import pty
import random
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import serial
from click.testing import CliRunner

from tools.cli import flash_command
from tools.errors import ToolError, from_open_error
from tools.flash import flash


class FakeTty:
    """A pty whose far end is not MicroPython: silent, or streaming garbage and ignoring input."""

    def __init__(self, garbage: bool) -> None:
        self.master, slave = pty.openpty()
        self.path = os.ttyname(slave)
        os.close(slave)
        self.garbage = garbage
        self.stop = False
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        rng = random.Random(7)
        os.set_blocking(self.master, False)
        while not self.stop:
            try:
                os.read(self.master, 4096)
            except OSError:
                pass
            if self.garbage:
                try:
                    os.write(self.master, bytes(rng.choice(b"\x8a\xff\x00~x#@") for _ in range(64)) + b"\r\n")
                except OSError:
                    pass
            time.sleep(0.01)

    def close(self) -> None:
        self.stop = True
        time.sleep(0.03)
        os.close(self.master)


def cli(*args: str):
    return CliRunner().invoke(flash_command, list(args))


def test_no_such_port():
    r = cli("--port", "/dev/ttyUSB97")
    assert r.exit_code == 1
    assert "lampfleet: no serial port /dev/ttyUSB97" in r.stderr and "hint:" in r.stderr


def test_permission_denied(make_lamp):
    lamp = make_lamp()
    os.chmod(lamp.pty_path, 0)
    code = ("from tools.repl import RawRepl\nfrom tools.errors import ToolError\n"
            f"try:\n    RawRepl.open({lamp.pty_path!r})\n"
            "except ToolError as e:\n    print(e.kind)\n    print(e.render())\n")
    cmd = [sys.executable, "-c", code]
    if os.geteuid() == 0:  # root ignores file modes unless it drops CAP_DAC_OVERRIDE
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv")
        cmd = ["setpriv", "--bounding-set=-dac_override,-dac_read_search",
               "--inh-caps=-dac_override,-dac_read_search", *cmd]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=Path(__file__).parents[2], timeout=30)
    assert r.stdout.splitlines()[0] == "permission-denied", r.stdout + r.stderr
    assert "dialout" in r.stdout


def test_permission_error_text_maps_too():
    text = "could not open port /dev/ttyUSB0: [Errno 13] Permission denied"
    err = from_open_error("/dev/ttyUSB0", serial.SerialException(13, text))
    assert err.kind == "permission-denied"


def test_port_busy(make_lamp):
    lamp = make_lamp()
    with serial.Serial(lamp.pty_path, exclusive=True):
        with pytest.raises(ToolError) as e:
            flash(lamp.pty_path, "BGI-001")
    assert e.value.kind == "port-busy" and "in use" in e.value.message


@pytest.mark.parametrize("garbage", [True, False], ids=["garbage", "silent"])
def test_not_micropython(garbage):
    tty = FakeTty(garbage)
    try:
        start = time.monotonic()
        r = cli("--port", tty.path, "--lamp-id", "BGI-001", "--connect-timeout", "1")
        assert time.monotonic() - start < 5
    finally:
        tty.close()
    assert r.exit_code == 1
    assert "does not answer as MicroPython" in r.stderr and "--firmware" in r.stderr
    assert ("it sent nothing" in r.stderr) != garbage


def test_filesystem_full(make_lamp, bus, app_repo):
    lamp = make_lamp(fs_bytes=64 * 1024)
    with pytest.raises(ToolError) as e:
        flash(lamp.pty_path, "BGI-001", board=bus.board("BGI-001"), repo=app_repo)
    assert e.value.kind == "filesystem-full" and "are free" in e.value.message, e.value.message
    # nothing was switched: the lamp holds no half update
    assert not (lamp.lamp_dir / "lib").exists() and not (lamp.lamp_dir / "main.py").exists()


def test_boot_timeout(make_lamp, app_repo):
    mute = socket.socket()
    mute.bind(("127.0.0.1", 0))
    mute.listen(4)  # accepts the lamp's bus connection and never answers its hello
    lamp = make_lamp()
    board = {"board": "emulated", "bus": "127.0.0.1:%d" % mute.getsockname()[1], "lamp": "BGI-001"}
    try:
        with pytest.raises(ToolError) as e:
            flash(lamp.pty_path, "BGI-001", board=board, repo=app_repo, boot_timeout=1.5)
    finally:
        mute.close()
    assert e.value.kind == "timeout" and "boot line" in e.value.message and "device logs" in e.value.hint


def test_firmware_image_on_an_emulated_lamp(make_lamp, tmp_path):
    lamp = make_lamp()
    image = tmp_path / "ESP32_GENERIC.bin"
    image.write_bytes(b"\xe9" + bytes(63))
    with pytest.raises(ToolError) as e:
        flash(lamp.pty_path, "BGI-001", firmware_bin=image)
    assert e.value.kind == "emulated-port" and "drop --firmware" in e.value.hint


def test_device_exception_becomes_an_error_with_errno(make_lamp):
    from tools.device import run_code

    lamp = make_lamp()
    with pytest.raises(ToolError) as e:
        run_code(lamp.pty_path, "open('/nope/x')")
    assert "OSError: [Errno 2] ENOENT" in e.value.message


def test_boot_failure_shows_the_apps_last_error(make_lamp, app_repo):
    lamp = make_lamp()
    board = {"board": "emulated", "bus": "127.0.0.1:1", "lamp": "BGI-001"}  # nothing listens there
    with pytest.raises(ToolError) as e:
        flash(lamp.pty_path, "BGI-001", board=board, repo=app_repo, boot_timeout=10)
    assert e.value.kind == "boot-failed" and "OSError" in e.value.message, e.value.render()


def test_code_only_flash_of_an_unprovisioned_lamp_says_so(make_lamp, bus, app_repo):
    lamp = make_lamp()
    report = flash(lamp.pty_path, board=bus.board("-"), repo=app_repo, boot_timeout=10)
    assert report.status == "flashed" and report.boot == {"provisioned": False, "reset": "en (emulated)"}
    assert not (lamp.lamp_dir / "config.json").exists()
