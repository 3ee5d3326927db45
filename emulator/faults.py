"""Fault injection specs: which lamp, which fault, when, with which parameters.

Spec grammar (CLI `--faults`, comma or semicolon separated):

    LAMP:[-]FAULT[=VALUE][@WHEN][%PROB]

LAMP   lamp ID or 1-based index ("2"), or "*" for every lamp
-      the fault is repaired at WHEN instead of injected (a crew's visit)
FAULT  a name from emulator.physics (led_open, led_short, led_stuck_on, panel_disconnected, soiling, ...),
       a fault of the surroundings (emulator/world.py: radio_dead, tamper, and kit_off, a household that
       switches its kit's lantern off whenever it comes on) or of the controller's clock:
         clock_drift=PPM      the RTC runs fast (PPM > 0) or slow by PPM parts per million from WHEN;
                              repaired (-clock_drift): the drift stops, the offset gained so far stays
         clock_jump=SECONDS   the RTC is set SECONDS ahead (negative: behind) at WHEN, e.g. 7200 or -3600;
                              repaired (-clock_jump): the RTC is set right (a time sync)
       (emulator/rtc.py: only what the firmware's now_ms() reads changes, not the world's time)
VALUE  optional parameter (e.g. soiling=0.4); required for clock_drift and clock_jump
WHEN   offset from the run's start ("6h", "90m", "2d", "3600s"; the start is 12:00 local time of the first
       day unless `--start` says otherwise) or an ISO 8601 time (naive: the site's time zone); default: at
       the start
PROB   optional probability 0-1 that the fault happens at all (drawn from the scenario seed)

Examples: "2:led_open@30h", "2:-led_open@50h", "BGI-0003:soiling=0.5@1d", "*:radio_dead@2d%0.1",
"3:clock_drift=500", "4:clock_jump=-7200@2d", "5:led_stuck_on@20h" (day burning), "KIT-0001:kit_off@1d"
"""
from __future__ import annotations

import difflib
import math
import random
import re
from dataclasses import dataclass
from datetime import timedelta, timezone

from emulator import rtc
from emulator.physics.trace import parse_timestamp

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_SPEC = re.compile(
    r"^(?P<lamp>[^:]+):(?P<clear>-?)(?P<fault>[a-z_]+)(?:=(?P<value>[^@%]+))?(?:@(?P<when>[^%]+))?(?:%(?P<prob>[0-9.]+))?$"
)


class FaultSpecError(ValueError):
    pass


@dataclass(frozen=True)
class FaultEvent:
    lamp: str  # lamp ID, 1-based index as text, or "*"
    fault: str
    value: float | None
    at_s: float  # seconds after the scenario start
    probability: float = 1.0
    clear: bool = False  # repair instead of inject

    def applies_to(self, lamp_id: str, index: int) -> bool:
        return self.lamp in ("*", lamp_id, str(index + 1))

    def label(self) -> str:
        """The spec without its lamp, as a result table shows it: "led_open@30h", "-soiling@2d"."""
        text = ("-" if self.clear else "") + self.fault
        if self.value is not None:
            text += f"={self.value:g}"
        if self.at_s:
            unit = next(u for u in "dhms" if u == "s" or self.at_s % _UNITS[u] == 0)
            text += f"@{self.at_s / _UNITS[unit]:g}{unit}"
        return text + (f"%{self.probability:g}" if self.probability < 1 else "")


def _offset_s(part: str, when: str, start_s: float, utc_offset_h: float) -> float:
    m = re.fullmatch(r"\+?(\d+(?:\.\d+)?)([smhd])", when.strip())
    if m:
        return float(m.group(1)) * _UNITS[m.group(2)]
    try:
        at = parse_timestamp(when, timezone(timedelta(hours=utc_offset_h))) - start_s
    except (ValueError, OverflowError):
        raise FaultSpecError(f"bad time in {part!r}: @{when.strip()} is neither an offset from the run's start "
                             "(6h, 90m, 2d, 3600s) nor an ISO 8601 time") from None
    if at < 0:
        raise FaultSpecError(f"bad time in {part!r}: @{when.strip()} is before the run's start")
    return at


def _known() -> tuple[str, ...]:
    # Imported here: emulator.world imports this module.
    from emulator.physics.faults import FAULTS, READINGS
    from emulator.world import WORLD_FAULTS

    return (*FAULTS, *(f"sensor_stuck_{r}" for r in READINGS), *WORLD_FAULTS, *rtc.CLOCK_FAULTS)


def known_faults_text() -> str:
    """The fault names for an error message (sensor_stuck_<reading> once, not once per reading)."""
    return ", ".join(n for n in _known() if not n.startswith("sensor_stuck")) + ", sensor_stuck_<reading>"


def _check_fault(part: str, fault: str, value: float | None, clear: bool) -> None:
    """FaultSpecError unless the world would take this fault as written: the physics, the world or the
    RTC refuses bad names and values only when the fault happens, hours into a run."""
    from emulator.physics.faults import READINGS
    from emulator.physics.lamp import LampPhysics
    from emulator.world import WORLD_FAULTS

    if fault == "sensor_stuck" and not clear:  # the physics' name= parameter has no place in a spec: the name says it
        raise FaultSpecError(f"bad fault spec {part!r}: name the reading, sensor_stuck_<reading> with <reading> "
                             f"one of {', '.join(READINGS)}")
    if fault not in _known():
        close = difflib.get_close_matches(fault, _known(), n=1)
        hint = f"did you mean {close[0]}?" if close else f"known faults: {known_faults_text()}"
        raise FaultSpecError(f"unknown fault {fault!r} in {part!r}: {hint}")
    if value is not None and not math.isfinite(value):
        raise FaultSpecError(f"bad value in {part!r}: must be a finite number")
    try:
        if fault in rtc.CLOCK_FAULTS:
            rtc.check(fault, value, clear)
        elif fault in WORLD_FAULTS:
            if value is not None:
                raise ValueError(f"{fault} takes no value")
        elif not clear:
            LampPhysics().set_fault(fault, value)  # a scratch lamp: the physics' own checks, at parse time
    except ValueError as e:
        raise FaultSpecError(f"bad fault spec {part!r}: {e}") from None


def _check_lamp(part: str, ev: FaultEvent, lamps) -> None:
    """FaultSpecError unless the spec names a lamp of the run (and kit_off a kit)."""
    ids = [ident.lamp_id for ident in lamps]
    chosen = [ident for i, ident in enumerate(lamps) if ev.applies_to(ident.lamp_id, i)]
    if not chosen:
        which = f"1-{len(ids)} or {ids[0]}..{ids[-1]}" if len(ids) > 1 else f"1 or {ids[0]}"
        raise FaultSpecError(f"no lamp {ev.lamp!r} for {part!r}: this run has {len(ids)} lamp(s): {which}, or *")
    if ev.fault == "kit_off" and any(ident.profile != "kit" for ident in chosen):
        raise FaultSpecError(f"bad fault spec {part!r}: kit_off is a household's switch on a safety kit; "
                             "the lamp is a street lamp")


def parse(spec: str, start_s: float = 0.0, *, utc_offset_h: float = 0.0, lamps=None,
          days: float | None = None) -> list[FaultEvent]:
    """FaultEvents for SPEC; FaultSpecError (and no other exception) naming the bad part and what to write.

    ISO times without an offset are in UTC+`utc_offset_h` (the site's zone). With `lamps` (the run's
    LampIdentity list), every spec must name one of them; with `days`, every fault must fall inside the run.
    """
    events = []
    for part in filter(None, (p.strip() for p in re.split(r"[,;]", spec or ""))):
        m = _SPEC.match(part)
        if not m:
            raise FaultSpecError(f"bad fault spec {part!r}: expected LAMP:[-]FAULT[=VALUE][@WHEN][%PROB], "
                                 "e.g. 2:led_open@30h")
        value, fault, clear = m.group("value"), m.group("fault"), bool(m.group("clear"))
        try:
            prob = float(m.group("prob")) if m.group("prob") else 1.0
        except ValueError:
            prob = -1.0
        if not 0.0 <= prob <= 1.0:
            raise FaultSpecError(f"bad probability in {part!r}: must be a number between 0 and 1")
        try:
            fvalue = float(value) if value is not None else None
        except ValueError:
            raise FaultSpecError(f"bad value in {part!r}: must be a number") from None
        _check_fault(part, fault, fvalue, clear)
        at = _offset_s(part, m.group("when"), start_s, utc_offset_h) if m.group("when") else 0.0
        if days is not None and at >= days * 86400:
            raise FaultSpecError(f"bad time in {part!r}: {at / 3600:g}h after the start, but the run lasts "
                                 f"{days:g} day(s) ({days * 24:g}h)")
        ev = FaultEvent(m.group("lamp"), fault, fvalue, at, prob, clear)
        if lamps is not None:
            _check_lamp(part, ev, lamps)
        events.append(ev)
    return events


def for_lamp(events: list[FaultEvent], lamp_id: str, index: int, seed: int) -> list[FaultEvent]:
    """The events that happen to this lamp, probabilities drawn deterministically from the seed."""
    rng = random.Random(f"{seed}:{lamp_id}:faults")
    chosen = []
    for ev in events:
        if ev.applies_to(lamp_id, index) and rng.random() < ev.probability:
            chosen.append(ev)
    return sorted(chosen, key=lambda e: e.at_s)
