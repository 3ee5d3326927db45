"""Raw REPL and raw-paste transport to a MicroPython board over pyserial.

Written from the protocol (shared/runtime/pyexec.c; docs/reference/repl.rst), the same bytes mpremote
sends, with what mpremote leaves out: every failure is a ToolError with a hint, the link is counted
byte by byte (`bytes_out`, `bytes_in`), and a device-side exception becomes `DeviceError` with its
errno. The transport knows nothing about files; tools/devfs.py builds on `exec`.

    host                              device
    \\r \\x03 (twice)                  interrupts main.py, friendly prompt
    \\r \\x01                          "raw REPL; CTRL-B to exit\\r\\n>"
    \\x05 A \\x01                       "R\\x01" + window (uint16 LE) + "\\x01"   (raw-paste)
    code, at most the granted window  "\\x01" each time a window is consumed
    \\x04                              "\\x04" once compiled
                                      stdout "\\x04" stderr "\\x04" ">"
"""
from __future__ import annotations

import os
import re
import struct
import time
from typing import Any, Callable

import serial

from tools import errors
from tools.errors import DeviceError, ToolError

RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
_RAW_PROMPT = RAW_BANNER + b">"
_EXC_LINE = re.compile(rb"^(\w+(?:\.\w+)*): ?(.*)$")
_ERRNO = re.compile(rb"^\[Errno (\d+)\]|^(\d+)$")
# Everything pyserial (or a port closed under our feet by another thread) can raise mid-transfer.
_LINK_ERRORS: tuple[type[BaseException], ...] = (serial.SerialException, OSError, TypeError, ValueError,
                                                 AttributeError)


def parse_device_error(stderr: bytes) -> DeviceError:
    """Turn a MicroPython traceback into DeviceError('OSError', 28, text)."""
    lines = [ln.strip() for ln in stderr.strip().splitlines() if ln.strip()]
    exc_type, code = "Exception", None
    if lines:
        m = _EXC_LINE.match(lines[-1])
        if m:
            exc_type = m.group(1).decode(errors="replace")
            e = _ERRNO.match(m.group(2))
            if e:
                code = int(e.group(1) or e.group(2))
    return DeviceError(exc_type, code, stderr.decode(errors="replace"))


class RawRepl:
    """A connection to one board. Not thread-safe; one per port.

    Args:
        ser: an open pyserial port (or anything with read/write/in_waiting/close), timeout ~0.05 s.
        port: the name used in messages.
    """

    def __init__(self, ser: Any, port: str = "") -> None:
        self.ser = ser
        self.port = port or str(getattr(ser, "port", "?"))
        self.bytes_out = 0
        self.bytes_in = 0
        self.execs = 0
        self.use_raw_paste = True
        self.in_raw_repl = False
        self.during = "connecting"  # what we were doing, for link-lost messages
        self.boot_output = b""  # what boot.py printed during the last soft reset
        self.on_io: Callable[[RawRepl], None] | None = None  # called after each read/write (tests)
        self._rx = bytearray()

    # ------------------------------------------------------------------ opening and closing
    @classmethod
    def open(cls, port: str, baudrate: int = 115200, exclusive: bool = True) -> "RawRepl":
        """Open `port` (a device path or a pyserial URL such as rfc2217://host:4000)."""
        if "://" not in port and not os.path.exists(port):
            raise errors.no_such_port(port)
        try:
            ser = serial.serial_for_url(port, baudrate=baudrate, timeout=0.05, exclusive=exclusive,
                                        do_not_open=True)
            ser.open()  # asserts DTR and RTS: on an ESP32 auto-reset circuit that is "no reset"
        except (serial.SerialException, OSError, ValueError) as e:
            raise errors.from_open_error(port, e) from e
        return cls(ser, port)

    def close(self) -> None:
        try:
            # Release RTS before DTR, as mpremote does: some CP210x drivers would otherwise pulse EN.
            self.ser.rts = False
            self.ser.dtr = False
        except _LINK_ERRORS:
            pass  # a pty has no modem lines (ENOTTY)
        try:
            self.ser.close()
        except _LINK_ERRORS:
            pass

    def __enter__(self) -> "RawRepl":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ bytes
    def write(self, data: bytes) -> None:
        try:
            self.ser.write(data)
        except _LINK_ERRORS as e:
            raise errors.link_lost(self.port, self.during) from e
        self.bytes_out += len(data)
        if self.on_io:
            self.on_io(self)

    def read_some(self) -> bytes:
        """What is waiting, or up to one read timeout (~50 ms) for the first byte."""
        if self._rx:
            data = bytes(self._rx)
            self._rx.clear()
            return data
        try:
            n = self.ser.in_waiting
            data = self.ser.read(n or 1)
        except _LINK_ERRORS as e:
            raise errors.link_lost(self.port, self.during) from e
        self.bytes_in += len(data)
        if data and self.on_io:
            self.on_io(self)
        return data

    def read_until(self, ending: bytes, timeout: float = 10.0, overall: float | None = None) -> bytes:
        """Bytes up to and including `ending`. `timeout` is the allowed silence, `overall` the total.

        Raises ToolError(kind="timeout") carrying what was read in `.partial`.
        """
        data = bytearray()
        start = last = time.monotonic()
        while True:
            i = data.find(ending)
            if i >= 0:
                end = i + len(ending)
                self._rx[:0] = data[end:]
                return bytes(data[:end])
            chunk = self.read_some()
            now = time.monotonic()
            if chunk:
                data += chunk
                last = now
            if now - last > timeout or (overall is not None and now - start > overall):
                err = errors.timeout(f"waiting for the lamp on {self.port} ({self.during})")
                err.partial = bytes(data)
                raise err

    def read_exact(self, n: int, timeout: float = 5.0) -> bytes:
        data = bytearray()
        last = time.monotonic()
        while len(data) < n:
            chunk = self.read_some()
            if chunk:
                data += chunk
                last = time.monotonic()
            elif time.monotonic() - last > timeout:
                raise errors.timeout(f"waiting for the lamp on {self.port} ({self.during})")
        self._rx[:0] = data[n:]
        return bytes(data[:n])

    def drain(self, quiet: float = 0.1, limit: float = 2.0) -> bytes:
        """Read and return whatever arrives until the line is quiet for `quiet` seconds."""
        data = bytearray()
        start = last = time.monotonic()
        while time.monotonic() - last < quiet and time.monotonic() - start < limit:
            chunk = self.read_some()
            if chunk:
                data += chunk
                last = time.monotonic()
        return bytes(data)

    # ------------------------------------------------------------------ REPL modes
    def enter_raw_repl(self, soft_reset: bool = False, timeout: float = 10.0) -> None:
        """Interrupt whatever runs and enter the raw REPL; optionally soft-reset for a clean heap.

        The default timeout leaves a lamp between two sleeps (firmware/hal/esp32.py: awake for its first
        10 minutes after a reset, then asleep up to a minute at a time) room to hear a Ctrl-C.

        A soft reset from the raw REPL runs boot.py but not main.py, so the app stays stopped.
        """
        self.during = "entering the raw REPL"
        seen = bytearray()
        deadline = time.monotonic() + timeout
        while True:
            self.write(b"\r\x03")
            time.sleep(0.05)
            self.write(b"\x03")  # a second Ctrl-C for a program that caught the first
            seen += self.drain(quiet=0.1, limit=0.5)
            self.write(b"\r\x01")
            left = deadline - time.monotonic()
            try:
                seen += self.read_until(_RAW_PROMPT, timeout=min(1.0, max(left, 0.2)), overall=max(left, 0.2))
                break
            except ToolError as e:
                if e.kind != "timeout":
                    raise
                seen += e.partial
            if time.monotonic() >= deadline:
                raise errors.not_micropython(self.port, bytes(seen[-200:]))
        # A slow lamp may answer an earlier Ctrl-A late: a second banner left in the buffer would be taken
        # for the answer to the raw-paste request and push every later answer two bytes off.
        self.drain(quiet=0.1, limit=1.0)
        self.in_raw_repl = True
        if soft_reset:
            self.during = "soft-resetting the lamp"
            self.write(b"\x04")
            self.read_until(b"soft reboot\r\n", timeout=10)
            self.boot_output = self.read_until(_RAW_PROMPT, timeout=15)[: -len(_RAW_PROMPT)]  # boot.py's output

    def exit_raw_repl(self) -> None:
        self.write(b"\r\x02")
        self.in_raw_repl = False

    def restart_app(self) -> None:
        """Leave the raw REPL and soft-reset from the friendly one, which runs main.py again: a lamp must
        not be left sitting at a prompt with its light logic stopped."""
        self.write(b"\r\x02")
        self.drain(quiet=0.05, limit=0.5)
        self.write(b"\x04")
        self.in_raw_repl = False

    # ------------------------------------------------------------------ running code
    def _send_code(self, code: bytes) -> None:
        self._discard_waiting()  # the raw REPL says nothing unasked: anything waiting is stale
        if self.use_raw_paste:
            self.write(b"\x05A\x01")
            answer = self.read_exact(2)
            if answer == b"R\x01":
                self._raw_paste(code)
                return
            if answer != b"R\x00":
                # An old firmware echoed the command: it is now at a fresh raw prompt.
                self.read_until(b"w REPL; CTRL-B to exit\r\n>", timeout=2)
            self.use_raw_paste = False
        for i in range(0, len(code), 256):
            self.write(code[i : i + 256])
            time.sleep(0.01)  # plain raw mode has no flow control: pace like mpremote
        self.write(b"\x04")
        answer = self.read_exact(2)
        if answer != b"OK":
            raise ToolError(f"the lamp on {self.port} refused the command ({answer!r})",
                            "run the command again", "protocol")

    def _raw_paste(self, code: bytes) -> None:
        window = struct.unpack("<H", self.read_exact(2))[0]
        remain = window
        i = 0
        while i < len(code):
            while remain == 0 or self._has_input():
                flag = self.read_exact(1)
                if flag == b"\x01":
                    remain += window
                elif flag == b"\x04":  # the device stopped reading (compile error): acknowledge
                    self.write(b"\x04")
                    return
                else:
                    raise ToolError(f"unexpected {flag!r} from the lamp during raw paste",
                                    "run the command again", "protocol")
            n = min(remain, len(code) - i)
            self.write(code[i : i + n])
            i += n
            remain -= n
        self.write(b"\x04")
        self.read_until(b"\x04", timeout=10)  # compiled (window flags may come first)

    def _discard_waiting(self) -> None:
        self._rx.clear()
        while self._has_input():
            self.read_some()

    def _has_input(self) -> bool:
        if self._rx:
            return True
        try:
            return bool(self.ser.in_waiting)
        except _LINK_ERRORS as e:
            raise errors.link_lost(self.port, self.during) from e

    def exec_raw(self, code: str | bytes, timeout: float = 10.0) -> tuple[bytes, bytes]:
        """Run code in the raw REPL; return (stdout, stderr). `timeout` = allowed silence."""
        if not self.in_raw_repl:
            self.enter_raw_repl()
        data = code.encode() if isinstance(code, str) else code
        self.execs += 1
        self._send_code(data)
        out = self.read_until(b"\x04", timeout=timeout)[:-1]
        err = self.read_until(b"\x04", timeout=timeout)[:-1]
        self.read_until(b">", timeout=timeout)
        return out, err

    def exec(self, code: str | bytes, timeout: float = 10.0) -> bytes:
        """Run code; return its stdout; raise DeviceError if it raised."""
        out, err = self.exec_raw(code, timeout)
        if err:
            raise parse_device_error(err)
        return out

    def exec_no_follow(self, code: str | bytes) -> None:
        """Send code and return once it is accepted (for machine.reset())."""
        if not self.in_raw_repl:
            self.enter_raw_repl()
        self._send_code(code.encode() if isinstance(code, str) else code)
        self.in_raw_repl = False

    def interrupt(self) -> bytes:
        """Ctrl-C a running command and collect what it printed."""
        self.write(b"\x03")
        return self.drain(quiet=0.2, limit=3.0)
