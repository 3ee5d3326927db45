"""Finding lamp controllers on the host's serial ports, and recognising an emulated lamp's pty.

ESP32 boards reach the laptop through a USB-serial bridge (CP210x, CH340, FTDI) or the chip's own USB
(Espressif VID 0x303A). `serial.tools.list_ports` gives each port's VID/PID; anything else (Bluetooth
modems, a phone) is not a lamp and is never picked by `--all-ports`.

An emulated lamp (emulator/console.py) is a `/dev/pts/N` with no modem lines; it announces itself with
a control socket named after the pty's device number, which this module finds for the reset path.
"""
from __future__ import annotations

import json
import os
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

# (vid, pid) -> bridge name, as printed in `lampfleet device ports`
KNOWN_ADAPTERS: dict[tuple[int, int], str] = {
    (0x10C4, 0xEA60): "CP210x",
    (0x1A86, 0x7523): "CH340",
    (0x1A86, 0x55D4): "CH9102",
    (0x0403, 0x6001): "FTDI FT232R",
    (0x0403, 0x6015): "FTDI FT231X",
    (0x303A, 0x1001): "ESP32 USB-Serial/JTAG",
    (0x303A, 0x4001): "ESP32 native USB (TinyUSB CDC)",
}
NATIVE_USB_VID = 0x303A


@dataclass(frozen=True)
class LampPort:
    device: str
    adapter: str
    vid: int | None = None
    pid: int | None = None
    serial_number: str | None = None
    emulated: bool = False

    @property
    def native_usb(self) -> bool:
        """The port disappears while the chip resets (the USB device re-enumerates)."""
        return self.vid == NATIVE_USB_VID


def find_lamp_ports() -> list[LampPort]:
    """Every serial port whose VID/PID is a known ESP32 USB-serial adapter, sorted by device name."""
    from serial.tools import list_ports

    found = []
    for p in list_ports.comports():
        if p.vid is None or p.pid is None:
            continue
        name = KNOWN_ADAPTERS.get((p.vid, p.pid))
        if name:
            found.append(LampPort(p.device, name, p.vid, p.pid, p.serial_number))
    return sorted(found, key=lambda lp: lp.device)


def describe_port(device: str) -> LampPort:
    """What we know about one port (the emulator's ptys included)."""
    if emulated_lamp_info(device) is not None:
        return LampPort(device, "emulated lamp", emulated=True)
    for lp in find_lamp_ports():
        if lp.device == device:
            return lp
    return LampPort(device, "unknown")


def _run_dir() -> Path:
    base = os.environ.get("LAMPFLEET_RUN_DIR")
    if base:
        return Path(base)
    return Path(tempfile.gettempdir()) / f"lampfleet-{os.getuid()}"


def emulated_control_path(device: str) -> Path:
    """Where an emulated lamp on `device` listens for `hard-reset`/`info` (named by major-minor, so a
    symlink to the pty finds the same socket)."""
    rdev = os.stat(device).st_rdev
    return _run_dir() / "serial" / f"{os.major(rdev)}-{os.minor(rdev)}.sock"


def _control(device: str, command: str, timeout: float = 2.0) -> str | None:
    try:
        path = emulated_control_path(device)
    except OSError:
        return None
    if not path.exists():
        return None
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(path))
            s.sendall(command.encode() + b"\n")
            reply = b""
            while not reply.endswith(b"\n"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                reply += chunk
        return reply.decode().strip()
    except OSError:
        return None  # a stale socket from an emulator that is gone


def emulated_lamp_info(device: str) -> dict[str, object] | None:
    """The emulator's description of the lamp on `device`, or None for a real (or unknown) port."""
    reply = _control(device, "info")
    if not reply:
        return None
    try:
        info = json.loads(reply)
    except ValueError:
        return None
    return info if isinstance(info, dict) else None


def emulated_hard_reset(device: str) -> bool:
    """Pulse the emulated EN pin; False when `device` is not an emulated lamp."""
    return _control(device, "hard-reset") == "ok"
