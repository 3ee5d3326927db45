"""Replay window over reconstructed 32-bit frame counters, per device. Call it after the MIC check.

A device's counters only rise; the window remembers the highest accepted one and which of the `size`
counters below it were seen, so frames that arrive out of order (two bridges, a LoRaWAN server and a
bridge, a queue draining after an outage) are still accepted once, and every copy after the first is
refused. Refusals are told apart for the counters:

    duplicate   the same bytes again within `dup_window_s`: several bridges heard it, or the lamp resent a
                frame whose acknowledgement was lost. Benign: drop it, but acknowledge it again.
    replay      the same counter later, or different bytes under a counter already used, or a counter
                below the window: an attack, or a lamp that lost its counter (flash wiped).
"""
from __future__ import annotations

import threading
import zlib
from dataclasses import dataclass, field

NEW, DUPLICATE, REPLAY = "new", "duplicate", "replay"


@dataclass
class _Device:
    top: int | None = None
    bits: int = 0  # bit i set: counter top - 1 - i was accepted
    recent: dict[int, tuple[float, int]] = field(default_factory=dict)  # fcnt -> (first rx_s, crc32)
    restored: bool = False  # top came from storage (a restart): its bytes and arrival are unknown


class ReplayWindow:
    def __init__(self, size: int = 256, dup_window_s: float = 600.0):
        self.size = size
        self.dup_window_s = dup_window_s
        self._dev: dict[str, _Device] = {}
        self.counts = {NEW: 0, DUPLICATE: 0, REPLAY: 0}
        self._lock = threading.Lock()  # bridge reader threads and the MQTT worker may share one window

    def _seen(self, d: _Device, fcnt: int) -> bool | None:
        """True/False inside the window, None below it."""
        if d.top is None or fcnt > d.top:
            return False
        if fcnt == d.top:
            return True
        back = d.top - 1 - fcnt
        if back >= self.size:
            return None
        return bool(d.bits >> back & 1)

    def check(self, device: str, fcnt: int, frame: bytes, rx_s: float) -> str:
        """Verdict for an authentic frame; does not record it (see accept)."""
        d = self._dev.get(device)
        if d is None:
            return NEW
        seen = self._seen(d, fcnt)
        if seen is False:
            return NEW
        first = d.recent.get(fcnt)
        if fcnt == d.top and first is None and d.restored:
            # The last frame stored before a restart, delivered again (an MQTT redelivery after a crash):
            # like the counters under it, taken as new; the store's (lamp, fcnt) key keeps it once.
            return NEW
        if seen and first is not None and first[1] == zlib.crc32(frame) and rx_s - first[0] <= self.dup_window_s:
            return DUPLICATE
        return REPLAY

    def accept(self, device: str, fcnt: int, frame: bytes, rx_s: float) -> None:
        d = self._dev.setdefault(device, _Device())
        if d.top is None:
            d.top = fcnt
        elif fcnt > d.top:
            shift = fcnt - d.top
            d.bits = ((d.bits << shift) | (1 << (shift - 1))) & ((1 << self.size) - 1) if shift <= self.size else 0
            d.top = fcnt
        elif fcnt < d.top:
            d.bits |= 1 << (d.top - 1 - fcnt)
        d.recent[fcnt] = (rx_s, zlib.crc32(frame))
        while len(d.recent) > 64:  # forget the earliest recorded (insertion order: no sort per frame)
            del d.recent[next(iter(d.recent))]

    def observe(self, device: str, fcnt: int, frame: bytes, rx_s: float) -> str:
        """check() then accept() when new, atomically; counts the verdicts."""
        with self._lock:
            verdict = self.check(device, fcnt, frame, rx_s)
            if verdict == NEW:
                self.accept(device, fcnt, frame, rx_s)
            self.counts[verdict] += 1
        return verdict

    def last(self, device: str) -> int | None:
        d = self._dev.get(device)
        return None if d is None else d.top

    def state(self, device: str) -> tuple[int | None, int]:
        """(highest counter, bitmap) to persist with the device (the registry's last_fcnt and one integer)."""
        d = self._dev.get(device)
        return (None, 0) if d is None else (d.top, d.bits)

    def restore(self, device: str, top: int | None, bits: int = 0) -> None:
        self._dev[device] = _Device(top, bits, restored=top is not None)
