"""hil_tests/serial_lamp.py's DUT against an emulated lamp's pty: the real MicroPython raw REPL and the
real firmware behind a pseudo-terminal, as a board would be behind /dev/ttyUSB0."""
from __future__ import annotations

import pytest

from hil_tests.serial_lamp import ExpectTimeout, SerialDut, emulated_serial_lamp, parse_backend
from tools.errors import DeviceError


@pytest.fixture(scope="module")
def port(tmp_path_factory):
    with emulated_serial_lamp(tmp_path_factory.mktemp("serial"), seed=9) as port:
        yield port


@pytest.fixture
def dut(port, tmp_path):
    with SerialDut.open(port, log=tmp_path / "console.log") as dut:
        yield dut


def test_a_hard_reset_boots_the_firmware_and_its_console_is_read_line_by_line(dut, tmp_path):
    assert dut.hard_reset() == "en (emulated)"  # the pty has no RTS: the emulator's EN pin
    boot = dut.wait_boot(timeout=30)
    assert boot["lamp_id"] == "LAMP-0001" and boot["reset_cause"] == "power_on", boot
    m = dut.expect(rb"heap: peak (\d+), live (\d+) bytes", timeout=30)
    assert int(m.group(2)) > 10_000
    assert b"booting (power_on)" in (tmp_path / "console.log").read_bytes()


def test_code_runs_in_the_raw_repl_and_the_app_starts_again(dut):
    config = dut.read_json("/config.json")
    assert isinstance(config, dict) and config["lamp_id"] == "LAMP-0001"
    assert dut.read_json("/nothing.json") is None
    names = dut.exec("import os\nprint(sorted(os.listdir('/')))")
    assert "'main.py'" in names and "'state.json'" in names, names
    with pytest.raises(DeviceError, match="ZeroDivisionError"):
        dut.exec("1/0")
    assert dut.wait_boot(timeout=30)["lamp_id"] == "LAMP-0001"  # not left at a prompt


def test_expect_gives_up_in_time_and_shows_what_the_console_printed(dut):
    dut.hard_reset()
    dut.wait_boot(timeout=30)
    with pytest.raises(ExpectTimeout) as err:
        dut.expect("this line is never printed", timeout=2)
    assert "within 2 s" in str(err.value) and dut.port in str(err.value)


@pytest.mark.parametrize("backend, expected", [
    ("serial:/dev/ttyUSB0", ("/dev/ttyUSB0", 115200)),
    ("serial:/dev/ttyACM1@921600", ("/dev/ttyACM1", 921600)),
    ("serial:rfc2217://bench:4000", ("rfc2217://bench:4000", 115200)),
])
def test_backend_names(backend, expected):
    assert parse_backend(backend) == expected


@pytest.mark.parametrize("backend", ["emulator", "serial:", "serial:/dev/ttyUSB0@fast"])
def test_bad_backend_names_say_what_to_write(backend):
    with pytest.raises(ValueError, match="serial:PORT"):
        parse_backend(backend)
