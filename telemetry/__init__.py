"""The lampfleet wire format, v1: compact, encrypted, authenticated frames between lamps and gateway.

Runs unchanged on the ESP32, the MicroPython unix port and CPython (standard library subset only).
"""
from telemetry.codec import decode, encode, peek, reconstruct_fcnt  # noqa: F401
from telemetry.crypto import DeviceKey  # noqa: F401
from telemetry.errors import EncodeError, FrameError  # noqa: F401
