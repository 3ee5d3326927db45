"""Errors of the wire format, split by who is at fault.

FrameError: a frame from the field is not acceptable (truncated, forged, unknown type...). It is the
only exception `decode` raises for any input bytes; `reason` is one of REASONS so that the gateway can
count rejections per reason without parsing messages.
EncodeError: our own code asked for an impossible frame (missing field, unknown type). A bug, not field data.
"""

# Reasons a received frame is refused. Documented in docs/wire-format.md ("Rejections").
REASONS = ("short", "long", "version", "type", "mic", "length", "content")


class FrameError(ValueError):
    def __init__(self, reason, detail=""):
        # MicroPython: call super().__init__ rather than Exception.__init__(self) (cpydiff).
        super().__init__(reason + (": " + detail if detail else ""))
        self.reason = reason
        self.detail = detail


class EncodeError(ValueError):
    pass
