"""The lamp controller's real-time clock: what `now_ms()` reads, as opposed to the world's true time.

A healthy RTC reads true time. Two faults make it wrong (emulator/faults.py):

    clock_drift=PPM      from WHEN the RTC runs fast (PPM > 0) or slow by PPM parts per million: an ESP32 on
                         its internal 150 kHz RC oscillator is off by up to 5 % (50,000 ppm), one with a
                         32 kHz crystal by 20-100 ppm. `-clock_drift` stops the drift (crystal replaced); the
                         offset gained so far stays.
    clock_jump=SECONDS   at WHEN the RTC is set SECONDS ahead (negative: behind), e.g. a technician's laptop
                         on the wrong time zone, or a battery swap. `-clock_jump` sets it right again (offset
                         0), as a time sync would; the drift rate, if any, goes on.

`set(t_s, t_ms)` is the firmware setting its RTC (time sync, or the last saved time after a power loss):
the clock reads t_ms at true time t_s from then on, drifting as before.

Only the clock's reading is wrong: the lamp's sleep timer is taken as exact (at 500 ppm a 60 s sleep is
30 ms off), so the emulator's scheduling, and the lockstep of both execution modes, are unchanged. A
clock without faults reads exactly `int(t_s * 1000)`, as before this model existed.
"""
from __future__ import annotations

from bisect import bisect_right

CLOCK_FAULTS = ("clock_drift", "clock_jump")
MAX_PPM = 999_999.0  # -1e6 ppm would stop the clock: a clock never runs backwards by drift


def check(fault: str, value: float | None, clear: bool) -> None:
    """ValueError saying what is wrong with a clock fault's parameters."""
    if clear:
        return
    if value is None:
        unit = "PPM (e.g. clock_drift=500)" if fault == "clock_drift" else "SECONDS (e.g. clock_jump=7200)"
        raise ValueError(f"{fault} needs a value: {fault}={unit}")
    if fault == "clock_drift" and not -MAX_PPM <= value <= MAX_PPM:
        raise ValueError(f"clock_drift={value:g}: the rate must be between -999999 and 999999 ppm")


class LampClock:
    """Piecewise-linear device clock: offset(t) = offset0 + (t - t0) * ppm / 1e6 on each segment.

    Fault events and `set` calls start new segments; readings may be asked for any time (bisect), and
    events are folded in lazily, in time order, as time reaches them."""

    def __init__(self, start_s: float, events: list) -> None:
        for ev in events:
            check(ev.fault, ev.value, ev.clear)
        self._start_s = start_s
        self._pending = sorted(events, key=lambda e: e.at_s)
        self._t0 = [float("-inf")]  # segment start (true time, s)
        self._off = [0.0]  # offset at segment start (s)
        self._ppm = [0.0]

    @property
    def faulty(self) -> bool:
        return bool(self._pending) or len(self._t0) > 1

    def _offset(self, i: int, t_s: float) -> float:
        if self._ppm[i] == 0.0:
            return self._off[i]
        return self._off[i] + (t_s - self._t0[i]) * self._ppm[i] * 1e-6

    def _segment(self, t_s: float, offset_s: float, ppm: float) -> None:
        if t_s <= self._t0[-1]:  # two changes at one instant: the later replaces the earlier
            self._t0.pop(), self._off.pop(), self._ppm.pop()
        self._t0.append(t_s)
        self._off.append(offset_s)
        self._ppm.append(ppm)

    def _fold(self, t_s: float) -> None:
        while self._pending and self._start_s + self._pending[0].at_s <= t_s:
            ev = self._pending.pop(0)
            at = self._start_s + ev.at_s
            now = self._offset(len(self._t0) - 1, at)
            ppm = self._ppm[-1]
            if ev.fault == "clock_drift":
                ppm = 0.0 if ev.clear else float(ev.value)
            else:
                now = 0.0 if ev.clear else now + float(ev.value)
            self._segment(at, now, ppm)

    def offset_s(self, t_s: float) -> float:
        """Device clock minus true time at true time t_s (s)."""
        self._fold(t_s)
        return self._offset(bisect_right(self._t0, t_s) - 1, t_s)

    def read_ms(self, t_s: float) -> int:
        """What the RTC reads at true time t_s, in Unix ms."""
        if not self.faulty:
            return int(t_s * 1000)
        return int((t_s + self.offset_s(t_s)) * 1000)

    def set(self, t_s: float, t_ms: int) -> int:
        """The firmware sets the RTC to t_ms at true time t_s; returns the new reading."""
        self._fold(t_s)
        self._segment(t_s, t_ms / 1000 - t_s, self._ppm[-1])
        return self.read_ms(t_s)
