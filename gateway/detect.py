"""Failed-lamp detection: a pure module over each lamp's recent frames and the current time.

Rules (docs/alert-rules.md), named after TALQ lighting faults:
  lampFailure           LED commanded on (>= 5 %) but its current is below 10 % of the expected value
  communicationFailure  no frame for `silent_after_intervals` status intervals
Flap damping: a rule raises after `raise_after` consecutive bad observations and clears after
`clear_after` good ones. No I/O here: the service feeds observations and acts on the findings.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from gateway.registry import Lamp

LAMP_FAILURE = "lampFailure"
COMMUNICATION_FAILURE = "communicationFailure"
MIN_JUDGED_LEVEL_PCT = 5
DARK_RATIO_PCT = 10


@dataclass(frozen=True)
class Finding:
    lamp_id: str
    fault: str
    action: str  # "raise" or "clear"
    at_s: int  # device time of the observation that decided it
    since_s: int  # when the condition started
    evidence: dict


@dataclass
class _Rule:
    bad: int = 0
    good: int = 0
    since_s: int | None = None
    active: bool = False


@dataclass
class _LampTrack:
    last_frame_s: int | None = None
    rules: dict[str, _Rule] = field(default_factory=dict)

    def rule(self, name: str) -> _Rule:
        return self.rules.setdefault(name, _Rule())


class Detector:
    def __init__(self, raise_after: int = 2, clear_after: int = 2, silent_after_intervals: float = 3.0):
        self.raise_after = raise_after
        self.clear_after = clear_after
        self.silent_after_intervals = silent_after_intervals
        self._tracks: dict[str, _LampTrack] = {}

    def _track(self, lamp_id: str) -> _LampTrack:
        return self._tracks.setdefault(lamp_id, _LampTrack())

    def _observe(self, lamp: Lamp, name: str, bad: bool, at_s: int, evidence: dict) -> list[Finding]:
        rule = self._track(lamp.lamp_id).rule(name)
        if bad:
            rule.good = 0
            rule.bad += 1
            if rule.since_s is None:
                rule.since_s = at_s
            if not rule.active and rule.bad >= self.raise_after:
                rule.active = True
                return [Finding(lamp.lamp_id, name, "raise", at_s, rule.since_s, evidence)]
        else:
            rule.bad = 0
            rule.good += 1
            if not rule.active:
                rule.since_s = None
            elif rule.good >= self.clear_after:
                rule.active = False
                since = at_s if rule.since_s is None else rule.since_s
                rule.since_s = None
                return [Finding(lamp.lamp_id, name, "clear", at_s, since, evidence)]
        return []

    def observe_frame(self, lamp: Lamp, frame: dict) -> list[Finding]:
        """Any authenticated frame proves the lamp talks; status frames are judged for darkness."""
        t = frame.get("time_s")
        track = self._track(lamp.lamp_id)
        findings: list[Finding] = []
        if t is not None:
            if track.last_frame_s is None or t > track.last_frame_s:
                track.last_frame_s = t
            rule = track.rule(COMMUNICATION_FAILURE)
            if rule.active:
                rule.active = False
                findings.append(Finding(lamp.lamp_id, COMMUNICATION_FAILURE, "clear", t,
                                        t if rule.since_s is None else rule.since_s,
                                        {"last_frame_s": t}))
                rule.since_s = None
        if frame["type"] == "status":
            findings += self._judge_light(lamp, frame)
        return findings

    def _judge_light(self, lamp: Lamp, s: dict) -> list[Finding]:
        level = s["led_pct"]
        if level < MIN_JUDGED_LEVEL_PCT:
            return []  # LED off or too dim to judge: neither evidence of failure nor of repair
        expected = lamp.led_max_ma * level // 100
        dark = s["led_ma"] * 100 < expected * DARK_RATIO_PCT
        evidence = {"led_pct": level, "led_ma": s["led_ma"], "expected_ma": expected,
                    "vbat_mv": s["vbat_mv"], "soc_pct": s["soc_pct"], "mode": s["mode"]}
        return self._observe(lamp, LAMP_FAILURE, dark, s["time_s"], evidence)

    def check_silence(self, lamps: list[Lamp], now_s: int) -> list[Finding]:
        findings = []
        for lamp in lamps:
            track = self._track(lamp.lamp_id)
            if track.last_frame_s is None:
                continue  # never heard: nothing to compare against yet
            rule = track.rule(COMMUNICATION_FAILURE)
            silent_s = now_s - track.last_frame_s
            if not rule.active and silent_s > self.silent_after_intervals * lamp.status_interval_s:
                rule.active = True
                rule.since_s = track.last_frame_s
                findings.append(Finding(lamp.lamp_id, COMMUNICATION_FAILURE, "raise", now_s, track.last_frame_s,
                                        {"last_frame_s": track.last_frame_s, "silent_s": silent_s}))
        return findings
