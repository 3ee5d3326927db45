"""HIL fixtures: a real broker, the gateway and lamps. `--lamp emulator` (default) runs the firmware on
the MicroPython unix port; `--lamp serial:PORT` is reserved for a real board on a bench."""
from __future__ import annotations

import pytest

from lampfleet.broker import Mosquitto


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--lamp", default="emulator", help="emulator | serial:PORT[@BAUD]")


@pytest.fixture
def lamp_backend(request: pytest.FixtureRequest) -> str:
    backend = request.config.getoption("--lamp")
    if backend != "emulator":
        pytest.skip(f"lamp backend {backend!r} is not available in this suite yet")
    return backend


@pytest.fixture
def broker(tmp_path):
    b = Mosquitto(tmp_path / "broker").start()
    yield b
    b.stop()


@pytest.fixture
def dut(request: pytest.FixtureRequest, tmp_path):
    """The lamp as a serial device under test (hil_tests/serial_lamp.py): the board given by
    `--lamp serial:PORT[@BAUD]`, else an emulated lamp with the firmware, on a pty."""
    from hil_tests.serial_lamp import SerialDut, emulated_serial_lamp

    backend = request.config.getoption("--lamp")
    log = tmp_path / "console.log"
    if backend == "emulator":
        with emulated_serial_lamp(tmp_path / "lamp") as port, SerialDut.open(port, log=log) as d:
            yield d
    else:
        with SerialDut.from_backend(backend, log=log) as d:
            yield d
