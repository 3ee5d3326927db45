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
WHEN   offset from the start ("6h", "90m", "2d", "3600s") or ISO 8601 time; default: at the start
PROB   optional probability 0-1 that the fault happens at all (drawn from the scenario seed)

Examples: "2:led_open@30h", "2:-led_open@50h", "BGI-0003:soiling=0.5@1d", "*:radio_dead@2d%0.1",
"3:clock_drift=500", "4:clock_jump=-7200@2d", "5:led_stuck_on@20h" (day burning), "KIT-0001:kit_off@1d"
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import datetime

from emulator import rtc

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


def _offset_s(when: str, start_s: float) -> float:
    m = re.fullmatch(r"\+?(\d+(?:\.\d+)?)([smhd])", when.strip())
    if m:
        return float(m.group(1)) * _UNITS[m.group(2)]
    try:
        return datetime.fromisoformat(when.strip()).timestamp() - start_s
    except ValueError:
        raise FaultSpecError(f"bad time {when!r}: use an offset like 6h, 90m, 2d or an ISO 8601 time") from None


def parse(spec: str, start_s: float = 0.0) -> list[FaultEvent]:
    events = []
    for part in filter(None, (p.strip() for p in re.split(r"[,;]", spec or ""))):
        m = _SPEC.match(part)
        if not m:
            raise FaultSpecError(f"bad fault spec {part!r}: expected LAMP:[-]FAULT[=VALUE][@WHEN][%PROB]")
        value = m.group("value")
        prob = float(m.group("prob")) if m.group("prob") else 1.0
        if not 0.0 <= prob <= 1.0:
            raise FaultSpecError(f"bad probability in {part!r}: must be between 0 and 1")
        try:
            fvalue = float(value) if value is not None else None
        except ValueError:
            raise FaultSpecError(f"bad value in {part!r}: must be a number") from None
        at = _offset_s(m.group("when"), start_s) if m.group("when") else 0.0
        if m.group("fault") in rtc.CLOCK_FAULTS:
            try:
                rtc.check(m.group("fault"), fvalue, bool(m.group("clear")))
            except ValueError as e:
                raise FaultSpecError(f"bad fault spec {part!r}: {e}") from None
        events.append(FaultEvent(m.group("lamp"), m.group("fault"), fvalue, at, prob, bool(m.group("clear"))))
    return events


def for_lamp(events: list[FaultEvent], lamp_id: str, index: int, seed: int) -> list[FaultEvent]:
    """The events that happen to this lamp, probabilities drawn deterministically from the seed."""
    rng = random.Random(f"{seed}:{lamp_id}:faults")
    chosen = []
    for ev in events:
        if ev.applies_to(lamp_id, index) and rng.random() < ev.probability:
            chosen.append(ev)
    return sorted(chosen, key=lambda e: e.at_s)
