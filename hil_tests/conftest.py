"""HIL fixtures: a real broker, the gateway and lamps. `--lamp emulator` (default) runs the firmware on
the MicroPython unix port; `--lamp serial:PORT` is reserved for a real board on a bench."""
from __future__ import annotations

import pytest

from lampfleet.broker import Mosquitto


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--lamp", default="emulator", help="emulator | serial:PORT")


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
