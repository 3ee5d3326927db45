"""A lamp on a serial port as the device under test (DUT), in the spirit of pytest-embedded's `dut`: read
its console with `expect()` and a timeout, reset it through its EN pin, run code in its raw REPL.

    with SerialDut.open("/dev/ttyUSB0") as dut:        # or SerialDut.from_backend("serial:/dev/ttyUSB0")
        dut.hard_reset()
        boot = dut.wait_boot()                         # {"version", "lamp_id", "reset_cause"}
        dut.expect(rb"heap: peak (\\d+)", timeout=120)
        files = dut.exec("import os; print(os.listdir('/'))")

The port is opened with pyserial through tools/repl.RawRepl (the technician tools' serial link: port
errors in words, raw REPL and raw-paste), and reset as `lampfleet flash` resets (tools/flash.hard_reset):
RTS pulses EN with DTR released on a UART bridge; on an emulated lamp's pty, which has no modem lines,
the emulator's control socket plays the EN pin. `emulated_serial_lamp()` starts such a lamp with the
firmware installed (emulator/console.py, as `lampfleet emulate --serial` does), so the same tests run
against a pty speaking the real MicroPython raw REPL here and against a board on a bench.

`--lamp serial:PORT[@BAUD]` selects a board (hil_tests/conftest.py).
"""
from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from tools.flash import BOOT_LINE, hard_reset
from tools.repl import RawRepl

Pattern = str | bytes | re.Pattern


class ExpectTimeout(TimeoutError):
    """`expect()` gave up; `.output` is what the console printed while it waited."""

    def __init__(self, port: str, pattern: re.Pattern, timeout: float, output: bytes):
        tail = output[-600:].decode(errors="replace")
        super().__init__(f"{port}: no {pattern.pattern!r} within {timeout:g} s; the console printed:\n{tail}")
        self.output = output


def _compile(pattern: Pattern) -> re.Pattern:
    if isinstance(pattern, re.Pattern):
        if isinstance(pattern.pattern, bytes):
            return pattern
        return re.compile(pattern.pattern.encode(), pattern.flags & ~re.UNICODE)
    return re.compile(pattern.encode() if isinstance(pattern, str) else pattern)


def parse_backend(backend: str) -> tuple[str, int]:
    """`serial:/dev/ttyUSB0` or `serial:/dev/ttyUSB0@921600` -> (port, baud rate)."""
    if not backend.startswith("serial:") or len(backend) <= len("serial:"):
        raise ValueError(f"lamp backend {backend!r}: expected serial:PORT or serial:PORT@BAUD")
    port, _, baud = backend[len("serial:"):].partition("@")
    if baud and not baud.isdigit():
        raise ValueError(f"lamp backend {backend!r}: the baud rate after @ must be a number: serial:PORT@BAUD")
    return port, int(baud or 115200)


class SerialDut:
    def __init__(self, repl: RawRepl, port: str, log: Path | None = None):
        self.repl = repl
        self.port = port
        self.output = bytearray()  # everything the console printed since the port was opened
        self._pending = bytearray()  # output not yet consumed by a match
        self._log: IO[bytes] | None = open(log, "ab") if log else None

    @classmethod
    def open(cls, port: str, baudrate: int = 115200, log: Path | None = None) -> "SerialDut":
        return cls(RawRepl.open(port, baudrate), port, log)

    @classmethod
    def from_backend(cls, backend: str, log: Path | None = None) -> "SerialDut":
        port, baud = parse_backend(backend)
        return cls.open(port, baud, log)

    # ------------------------------------------------------------------ console
    def _read(self) -> bytes:
        data = self.repl.read_some()  # up to ~50 ms for the first byte
        if data:
            self.output += data
            self._pending += data
            if self._log:
                self._log.write(data)
                self._log.flush()
        return data

    def expect(self, pattern: Pattern, timeout: float = 30.0) -> re.Match:
        """The first match of `pattern` (a regex; str, bytes or compiled) in the console output after the
        previous match; the output up to its end is consumed. ExpectTimeout after `timeout` seconds."""
        regex = _compile(pattern)
        deadline = time.monotonic() + timeout
        start = len(self.output) - len(self._pending)
        while True:
            m = regex.search(bytes(self._pending))  # a copy: a match reads its groups from its string
            if m:
                del self._pending[:m.end()]
                return m
            if time.monotonic() > deadline:
                raise ExpectTimeout(self.port, regex, timeout, bytes(self.output[start:]))
            self._read()

    def expect_exact(self, text: str | bytes, timeout: float = 30.0) -> bytes:
        return self.expect(re.escape(text.encode() if isinstance(text, str) else text), timeout).group(0)

    def write(self, data: str | bytes) -> None:
        self.repl.write(data.encode() if isinstance(data, str) else data)

    # ------------------------------------------------------------------ board control
    def hard_reset(self, method: str = "auto") -> str:
        """Reset like the EN button; returns how ("en", "en (emulated)" or "machine.reset()"). Output
        from before the reset is dropped, so that `expect()` sees the new boot only."""
        how = hard_reset(self.repl, self.port, method)
        self._pending.clear()
        return how

    def wait_boot(self, timeout: float = 30.0) -> dict[str, str]:
        """The firmware's boot line (`lampfleet <version> <lamp> booting (<reset cause>)`)."""
        m = self.expect(BOOT_LINE, timeout)
        version, lamp_id, cause = (g.decode(errors="replace") for g in m.groups())
        return {"version": version, "lamp_id": lamp_id, "reset_cause": cause}

    def exec(self, code: str, timeout: float = 10.0) -> str:
        """Stop the app (Ctrl-C), run `code` in the raw REPL, start the app again (as `lampfleet device`
        does: a lamp must not be left at a prompt); return what the code printed. A device exception
        raises tools.errors.DeviceError."""
        self._pending.clear()
        try:
            if not self.repl.in_raw_repl:
                self.repl.enter_raw_repl(soft_reset=True)  # a clean heap, as tools/device.py's session gives
            out = self.repl.exec(code, timeout)
        finally:
            if self.repl.in_raw_repl:
                self.repl.restart_app()
        return out.decode(errors="replace")

    def read_json(self, path: str) -> object:
        """A JSON file from the lamp's flash (None if absent)."""
        text = self.exec(f"try:\n    print(open({path!r}).read())\nexcept OSError:\n    print('null')\n")
        return json.loads(text)

    def close(self) -> None:
        self.repl.close()
        if self._log:
            self._log.close()

    def __enter__(self) -> "SerialDut":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def emulated_serial_lamp(workdir: Path, seed: int = 1, speed: float = 600.0, sink=None) -> Iterator[str]:
    """An emulated lamp with the firmware installed, on a pty: yields the port path.

    Its world runs paced (`speed` simulated seconds per wall second) from the scenario start; frames go
    to `sink(lamp_id, frame, t_s)` if given."""
    from emulator.console import SerialLamp
    from emulator.scenario import Scenario, make_fleet
    from emulator.serial_mode import PacedBus, prepare_serial_lamps
    from emulator.upy import build_firmware, find_micropython

    scenario = Scenario(make_fleet(1, seed=seed), days=30, seed=seed)
    ident = scenario.lamps[0]
    bus = PacedBus(scenario, {}, sink, speed=speed)
    bus.lamp_dirs = prepare_serial_lamps(scenario, Path(workdir), bus.address)
    lamp_dir = bus.lamp_dirs[ident.lamp_id]
    build_firmware(find_micropython(), lamp_dir)  # /main.py and /lib as the flash tool lays them out
    (lamp_dir / "config.json").write_text(json.dumps({
        "lamp_id": ident.lamp_id, "devaddr": ident.devaddr, "key_hex": ident.key.hex(), "site": scenario.site,
        "profile": ident.profile, "settings": {}}))
    bus.start()
    lamp = SerialLamp(lamp_dir)
    try:
        port = lamp.start()
        lamp.wait_ready(15)
        yield port
    finally:
        lamp.stop()
        bus.stop()
