"""What becomes of a frame an emulated lamp transmits, the same in every execution mode.

The radio first (the lamp's world: a dead radio, seeded random loss), then the network behind it (the
sink: the broker the gateway reads, or nothing). The lamp learns the outcome, as it does from a broker's
PUBACK or from the acknowledgement in a LoRa receive window, so an undelivered frame stays in its flash
queue and is sent again later (firmware/link/link.py). Downlinks waiting for the lamp come back with the
answer, like a class-A receive window.
"""
from __future__ import annotations

from collections.abc import Callable

from emulator.world import LampWorld

Sink = Callable[[str, bytes, float], object]


def deliver(world: LampWorld, sink: Sink | None, lamp_id: str, frame: bytes, t_s: float) -> bool:
    """True when the frame reached the network (a sink answering False did not take it)."""
    if not world.transmit():
        return False
    return sink is None or sink(lamp_id, frame, t_s) is not False


def downlinks(sink: Sink | None, lamp_id: str) -> list[bytes]:
    """Frames the network holds for the lamp (a sink without a `downlinks` method holds none)."""
    take = getattr(sink, "downlinks", None)
    return list(take(lamp_id)) if take is not None else []
