"""Replay window over reconstructed 32-bit frame counters, per device. Call it after the MIC check.

A device's counters only rise; the window remembers the highest accepted one and which of the `size`
counters below it were seen, so frames that arrive out of order (two bridges, a LoRaWAN server and a
bridge, a queue draining after an outage) are still accepted once, and every copy after the first is
refused. Refusals are told apart for the counters:

    duplicate   the same bytes again, however late: several bridges heard it, or the lamp resent a frame
                whose acknowledgement was lost (a lamp resends its head frame until the gateway answers,
                up to an hour apart, so it must be answered again: a verbatim copy stores nothing and
                only earns the lamp an acknowledgement it already had); after a restart, a counter the persisted bitmap says
                was stored, or one under the window within `dup_window_s` of the first frame after it (an
                MQTT redelivery of a batch committed just before a crash). Benign: drop it, but
                acknowledge it again.
    replay      different bytes under a counter already used, or a used counter whose bytes are forgotten, or a counter
                below the window: an attack, or a lamp that lost its counter (flash wiped).
    suspicious  authentic, but more than `max_gap` counters above the top: held, not stored, the window
                does not move. A second authentic frame that continues it (above it by at most
                `confirm_gap`) accepts both (see `take_released`). One frame alone, a forged one (a leaked
                key, a brute-forced MIC) included, can therefore never push the window past the genuine
                lamp's next counters and lock it out.

Why `max_gap` = 256, the window size: a jump of at most the window size leaves the lamp's own next counters
inside the window, unseen, so they are still accepted: no single frame, forged or not, can lock a lamp out.
Genuine lamps jump further only after a reboot (at most 32, firmware/shell/counter.py BLOCK) or when their
512-slot flash queue (firmware/link/queue.py) evicted frames during a long outage (more than 256 frames: two
days at a 10-minute interval); either way the rest of the queue follows at once, and its second frame
confirms the first. Held frames must be acknowledged (a LoRa lamp resends an unanswered frame forever).
The bitmap is persisted with every batch (gateway/store.py), in the transaction that stores the rows: after a
restart, bit set means row stored.
"""
from __future__ import annotations

import threading
import zlib
from dataclasses import dataclass, field

NEW, DUPLICATE, REPLAY, SUSPICIOUS = "new", "duplicate", "replay", "suspicious"
MAX_FCNT_GAP = 256
CONFIRM_GAP = 64  # the confirming frame may follow a few lost frames later
MAX_HELD = 4  # held frames per device (oldest dropped first)


@dataclass
class _Device:
    top: int | None = None
    bits: int = 0  # bit i set: counter top - 1 - i was accepted
    recent: dict[int, tuple[float, int]] = field(default_factory=dict)  # fcnt -> (first rx_s, crc32)
    restored: int | None = None  # top when restored from storage: bytes and arrivals at or under it are unknown
    restored_rx: float | None = None  # arrival of the first frame judged after the restore
    unsure: int | None = None  # restored without a bitmap (an older database): at or under this, maybe stored
    held: dict[int, tuple[int, object]] = field(default_factory=dict)  # suspicious fcnt -> (crc32, data)
    released: list[object] = field(default_factory=list)  # data of held frames a confirmation accepted
    contradicted: list[int] = field(default_factory=list)  # held counters the lamp's own frames went under


class ReplayWindow:
    def __init__(self, size: int = 256, dup_window_s: float = 600.0, max_gap: int = MAX_FCNT_GAP,
                 confirm_gap: int = CONFIRM_GAP):
        self.size = size
        self.dup_window_s = dup_window_s
        self.max_gap = max_gap
        self.confirm_gap = confirm_gap
        self._dev: dict[str, _Device] = {}
        self.counts = {NEW: 0, DUPLICATE: 0, REPLAY: 0, SUSPICIOUS: 0}
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

    def _confirms(self, d: _Device, fcnt: int) -> bool:
        return any(h < fcnt <= h + self.confirm_gap for h in d.held)

    def check(self, device: str, fcnt: int, frame: bytes, rx_s: float) -> str:
        """Verdict for an authentic frame; does not record it (see accept)."""
        d = self._dev.get(device)
        if d is None:
            return NEW
        if d.restored_rx is None:
            d.restored_rx = rx_s
        seen = self._seen(d, fcnt)
        if seen is False:
            if d.top is not None and fcnt - d.top > self.max_gap and not self._confirms(d, fcnt):
                return SUSPICIOUS
            return NEW
        first = d.recent.get(fcnt)
        if d.restored is not None and fcnt <= d.restored and first is None:
            # Stored before the restart (the bitmap is committed with the rows), or under the window soon after
            # it (a committed backlog batch redelivered after a crash holds counters far under the top): an MQTT
            # redelivery, or a replay; either way nothing to store or judge, and no reason to alarm anyone.
            if seen or (seen is None and rx_s - d.restored_rx <= self.dup_window_s):
                return DUPLICATE
        if seen and first is not None and first[1] == zlib.crc32(frame):
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

    def _hold(self, d: _Device, fcnt: int, frame: bytes, data: object) -> None:
        if fcnt not in d.held:
            d.held[fcnt] = (zlib.crc32(frame), data)
            while len(d.held) > MAX_HELD:
                del d.held[next(iter(d.held))]

    def _release(self, device: str, d: _Device, fcnt: int, rx_s: float) -> None:
        """A confirmed jump: the held frames under `fcnt` are accepted first, oldest first."""
        for h in sorted(x for x in d.held if x < fcnt):
            crc, data = d.held.pop(h)
            self.accept(device, h, b"", rx_s)
            d.recent[h] = (rx_s, crc)
            d.released.append(data)
            self.counts[NEW] += 1

    def observe(self, device: str, fcnt: int, frame: bytes, rx_s: float, data: object = None) -> str:
        """check() then accept() when new, atomically; counts the verdicts. `data` (the decoded frame) is
        kept with a held frame and handed back by take_released() when a confirmation accepts it."""
        with self._lock:
            verdict = self.check(device, fcnt, frame, rx_s)
            if verdict == NEW:
                d = self._dev.get(device)
                if d is not None and d.held:
                    if d.top is not None and fcnt - d.top > self.max_gap:
                        self._release(device, d, fcnt, rx_s)
                    else:  # the lamp goes on under the held counters: they were not its own
                        d.contradicted.extend(h for h in d.held if h > fcnt)
                        for h in [h for h in d.held if h > fcnt]:
                            del d.held[h]
                self.accept(device, fcnt, frame, rx_s)
            elif verdict == SUSPICIOUS:
                self._hold(self._dev[device], fcnt, frame, data)
            self.counts[verdict] += 1
        return verdict

    def take_released(self, device: str) -> list[object]:
        """Held frames accepted by the last confirmation (their `data`), oldest first; emptied."""
        d = self._dev.get(device)
        if d is None or not d.released:
            return []
        out, d.released = d.released, []
        return out

    def take_contradicted(self, device: str) -> list[int]:
        d = self._dev.get(device)
        if d is None or not d.contradicted:
            return []
        out, d.contradicted = d.contradicted, []
        return out

    def unsure(self, device: str, fcnt: int) -> bool:
        """Accepted, but the row may be stored already: restored without a bitmap, at or under the old top."""
        d = self._dev.get(device)
        return d is not None and d.unsure is not None and fcnt <= d.unsure

    def last(self, device: str) -> int | None:
        d = self._dev.get(device)
        return None if d is None else d.top

    def state(self, device: str) -> tuple[int | None, int]:
        """(highest counter, bitmap) to persist with the device (the registry's last_fcnt and replay_bits)."""
        d = self._dev.get(device)
        return (None, 0) if d is None else (d.top, d.bits)

    def restore(self, device: str, top: int | None, bits: int | None = 0) -> None:
        """State from storage. bits None: unknown (a database from before the bitmap was persisted)."""
        self._dev[device] = _Device(top, bits or 0, restored=top, unsure=top if bits is None else None)


def bits_to_blob(bits: int, size: int = 256) -> bytes:
    return bits.to_bytes((size + 7) // 8, "little")


def blob_to_bits(blob: bytes | None) -> int | None:
    return None if blob is None else int.from_bytes(blob, "little")
