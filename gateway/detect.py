"""Failed-lamp detection: a pure module over each lamp's frames, the current time and the site's peers.

The service feeds `observe_frame(lamp, frame)` for every accepted frame and calls `tick(lamps, now_s)`
regularly; both return findings (raise or clear one fault of one lamp, with evidence). No I/O, no clock:
`now_s` is the gateway's clock (wall, or device time for emulated fleets). Rules, thresholds and
evidence: docs/alert-rules.md. Fault names: gateway/faults.py (TALQ 2.7.1 where it has one).

Damping: a rule raises after `raise_after` bad observations in a row and clears after `clear_after`
good ones. Firmware fault events count as decisive (the lamp already debounced them), so they raise and
clear at once. Frames older than what a rule has already judged are stored but not judged again, so a
replayed backlog or a QoS 1 redelivery cannot flap an alert.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from gateway import daily
from gateway.faults import (BATTERY_DEGRADED, BATTERY_LOW, CHARGING_FAILURE, COMMUNICATION_FAILURE,
                            CONTROL_GEAR_FAILURE, HIGH_TEMPERATURE, LAMP_FAILURE, LAMP_UNEXPECTED_ON,
                            LANTERN_NOT_CHARGING, PANEL_DEGRADED, RESET_LOOP, SENSOR_FAILURE, TAMPER, THEFT)
from gateway.peers import Peers, bulk_charging
from gateway.registry import Lamp
from gateway.settings import DetectSettings

__all__ = ["Detector", "Finding", "LAMP_FAILURE", "COMMUNICATION_FAILURE"]

MIN_JUDGED_LEVEL_PCT = 5  # below this the LED current is in the sensor's noise (firmware does the same)
ABNORMAL_BOOTS = ("watchdog", "brown_out")
DISCONNECT_DEDUP_S = 3600
DAY_CLEAR_HOLD_OFF_S = 20 * 3600  # a good day clears a day-judged fault only if it started after the last bad sign
PANEL_MIN_PEERS = 3  # fewer lamps charging at the same moment: one odd reading moves their median too far
STUCK_DISCHARGE_MA = -50  # a battery current at least this far below zero moves any real battery's voltage
# Faults that drain or starve the battery: while one is open, load disconnects are its consequence and
# raise no batteryLevelTooLow of their own (one visit, one work order).
BATTERY_LOW_CAUSES = (CHARGING_FAILURE, LANTERN_NOT_CHARGING, CONTROL_GEAR_FAILURE, LAMP_UNEXPECTED_ON)
# Root causes: while one of these is open on a lamp, the fault it names is its consequence (a battery
# drained by day burning goes silent at night; a panel too dirty or a battery too hot to charge ends as
# "not charging"): folded into the root's alert, counted there, never sent on its own.
_DRAINS = (LAMP_UNEXPECTED_ON, CONTROL_GEAR_FAILURE, BATTERY_LOW)
_STARVES = (PANEL_DEGRADED, HIGH_TEMPERATURE, LAMP_UNEXPECTED_ON, CONTROL_GEAR_FAILURE)
ROOT_CAUSES = {COMMUNICATION_FAILURE: _DRAINS, CHARGING_FAILURE: _STARVES, LANTERN_NOT_CHARGING: _STARVES,
               LAMP_FAILURE: (LAMP_UNEXPECTED_ON, BATTERY_LOW)}
Evidence = Callable[[], dict]
_NONE: list = []  # shared empty result: callers only extend lists with it


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
    folded_into: str = ""  # active as the consequence of this open root cause (ROOT_CAUSES): not alerted
    judged_s: int = -1  # newest observation time judged by this rule
    last_bad_s: int = -1  # newest bad observation: a rule with a hold-off clears this long after it


@dataclass
class Track:
    """What the detector remembers about one lamp."""

    last_frame_s: int | None = None
    # The gateway's clock at the newest arrival (0: not heard since the gateway started). Silence is judged
    # on it, never on the lamp's own clock: queued frames arrive late yet prove contact, and a lamp whose
    # clock is ahead or behind is heard when it is heard.
    heard_s: int = 0
    last_status: dict | None = None
    last_mode: str | None = None
    rules: dict[str, _Rule] = field(default_factory=dict)
    disconnects: list[int] = field(default_factory=list)
    boots: list[tuple[int, str]] = field(default_factory=list)
    tamper_s: int | None = None
    fcnts: list[int] = field(default_factory=list)
    days: daily.LampDays = field(default_factory=daily.LampDays)
    gaps: daily.StatusGaps = field(default_factory=daily.StatusGaps)  # the cadence the lamp shows
    vbat_same: int = 0  # status frames in a row with the same battery voltage while discharging
    sensor_bad: dict[str, bool] = field(default_factory=dict)  # sensorFailure's last verdict per reading

    def rule(self, name: str) -> _Rule:
        r = self.rules.get(name)
        if r is None:
            r = self.rules[name] = _Rule()
        return r


class Detector:
    def __init__(self, settings: DetectSettings | None = None, utc_offset_s: int = 3600, **overrides: float):
        s = settings or DetectSettings()
        for key, value in overrides.items():  # Detector(raise_after=1) in tests and old callers
            if key == "silent_after_intervals":
                key, value = "min_silent_intervals", int(value)
            setattr(s, key, value)
        self.s = s
        self.utc_offset_s = utc_offset_s
        self.started_s: int | None = None  # the gateway's clock at the first tick
        # Silence counts from here at the earliest: the start, moved forward by every step of the gateway's
        # clock (see _clock); `clock_s` is the newest reading of that clock (a tick or an arrival).
        self.listening_s: int | None = None
        self.clock_s: int | None = None
        self.tracks: dict[str, Track] = {}
        self.days = daily.DayJudge(s, utc_offset_s)
        self.peers = Peers()

    # ------------------------------------------------------------ plumbing

    def track(self, lamp_id: str) -> Track:
        t = self.tracks.get(lamp_id)
        if t is None:
            t = self.tracks[lamp_id] = Track()
        return t

    def _battery(self, track: Track) -> dict:
        st = track.last_status
        if st is None:
            return {}
        return {"vbat_mv": st["vbat_mv"], "soc_pct": st["soc_pct"], "at_s": st["time_s"]}

    def _finding(self, lamp_id: str, track: Track, fault: str, action: str, at_s: int, since_s: int,
                 evidence: dict) -> Finding:
        evidence.setdefault("battery", self._battery(track))
        return Finding(lamp_id, fault, action, at_s, since_s, evidence)

    def _observe(self, lamp: Lamp, track: Track, name: str, bad: bool, at_s: int, evidence: Evidence,
                 decisive: bool = False, hold_off_s: int = 0) -> list[Finding]:
        """One observation of a rule. `hold_off_s`: a raised rule clears only once its condition has also
        been absent that long (a condition that comes and goes keeps one alert open, not many)."""
        rule = track.rules.get(name)
        if rule is None:
            if not bad:
                return _NONE  # the common case: a healthy observation of a rule that never fired
            rule = track.rules[name] = _Rule()
        if at_s < rule.judged_s:
            return []  # older than what this rule already judged: replay or redelivery
        rule.judged_s = at_s
        if bad:
            rule.good = 0
            rule.last_bad_s = at_s
            rule.bad = max(rule.bad + 1, self.s.raise_after if decisive else 0)
            if rule.since_s is None:
                rule.since_s = at_s
            if not rule.active and rule.bad >= self.s.raise_after:
                return [self._raised(lamp, track, name, rule, at_s, rule.since_s, evidence())]
        else:
            rule.bad = 0
            rule.good = max(rule.good + 1, self.s.clear_after if decisive else 0)
            if not rule.active:
                rule.since_s = None
            elif rule.good >= self.s.clear_after and at_s - rule.last_bad_s >= hold_off_s:
                return self._cleared(lamp, track, name, rule, at_s, evidence())
        return []

    def _raised(self, lamp: Lamp, track: Track, name: str, rule: _Rule, at_s: int, since_s: int,
                evidence: dict) -> Finding:
        """The rule goes active: a "raise", or a "fold" into an open root cause (ROOT_CAUSES)."""
        rule.active = True
        root = next((c for c in ROOT_CAUSES.get(name, ()) if (r := track.rules.get(c)) is not None and r.active
                     and not r.folded_into), "")
        rule.folded_into = root
        if root:
            evidence = {**evidence, "root": root}
        return self._finding(lamp.lamp_id, track, name, "fold" if root else "raise", at_s, since_s, evidence)

    def _cleared(self, lamp: Lamp, track: Track, name: str, rule: _Rule, at_s: int, evidence: dict) -> list[Finding]:
        """The rule goes inactive. Its folded consequences are forgotten, to be judged afresh on their own."""
        rule.active = False
        since = at_s if rule.since_s is None else rule.since_s
        rule.since_s = None
        folded, rule.folded_into = rule.folded_into, ""
        for other in [n for n, r in track.rules.items() if r.folded_into == name]:
            del track.rules[other]
        return [] if folded else [self._finding(lamp.lamp_id, track, name, "clear", at_s, since, evidence)]

    def active(self, lamp_id: str) -> list[str]:
        t = self.tracks.get(lamp_id)
        return sorted(n for n, r in t.rules.items() if r.active) if t else []

    def reset(self, lamp_id: str, fault: str) -> None:
        """Forget a rule's state (a crew resolved the alert by hand): it is judged again from scratch."""
        t = self.tracks.get(lamp_id)
        if t is None:
            return
        t.rules.pop(fault, None)
        for other in [n for n, r in t.rules.items() if r.folded_into == fault]:
            del t.rules[other]  # its consequences are judged afresh
        if fault == BATTERY_LOW:
            t.disconnects.clear()
        elif fault == RESET_LOOP:
            t.boots.clear()
        elif fault in (TAMPER, THEFT):
            t.tamper_s = None
        elif fault == BATTERY_DEGRADED:
            t.days.capacities.clear()

    def _listen_from(self, now_s: int) -> None:
        self.listening_s = now_s if self.listening_s is None else max(self.listening_s, now_s)

    def _clock(self, now_s: int) -> None:
        """One reading of the gateway's clock (a tick, an arrival). A jump forward of more than
        `clock_step_s` since the last reading is time the gateway did not listen: it was stopped, stalled or
        suspended, its clock was stepped, or, with the device clock, a lamp whose clock is ahead was heard
        (the fleet's newest device time jumps with it). Silence counts from after the jump, as after a
        restart: nobody can be silent for time the gateway was not listening."""
        last = self.clock_s
        if last is not None and now_s - last > self.s.clock_step_s:
            self._listen_from(now_s)
        if last is None or now_s > last:
            self.clock_s = now_s

    # ------------------------------------------------------------ frames

    def observe_frame(self, lamp: Lamp, frame: dict, heard_s: int | None = None) -> list[Finding]:
        """Any authenticated frame proves the lamp talks; each frame type feeds its rules. `heard_s`: the
        gateway's clock when the frame arrived (proof of life dates from then); without it the frame's
        own time stands for it (callers whose clock is the lamps')."""
        track = self.track(lamp.lamp_id)
        t = frame.get("time_s")
        findings: list[Finding] = []
        fcnts = track.fcnts
        fcnts.append(frame["fcnt"])
        if len(fcnts) > 64:
            del fcnts[:32]
        if t is None:
            return findings
        # Contact is back when a frame is heard, not when it was written: after a radio repair the lamp's
        # queue arrives oldest first, stamped before the alert was even raised; a lamp whose clock was set
        # back sends times older than its last frame. Any authenticated frame is proof of life.
        back_s = t if heard_s is None else heard_s
        self._clock(back_s)
        before_s = max(track.heard_s, self.listening_s or 0)
        track.heard_s = max(track.heard_s, back_s)
        if track.last_frame_s is None or t > track.last_frame_s:
            track.last_frame_s = t
        for name in (COMMUNICATION_FAILURE, THEFT):
            rule = track.rules.get(name)
            if rule is not None and rule.active:
                findings += self._cleared(lamp, track, name, rule, back_s,
                                          {"frame_s": t, "silent_s": max(0, back_s - before_s)})
        kind = frame["type"]
        if kind == "status":
            findings += self._status(lamp, track, frame)
        elif kind == "event":
            findings += self._events(lamp, track, frame)
        elif kind == "boot":
            findings += self._boot(lamp, track, frame)
        return findings

    def _status(self, lamp: Lamp, track: Track, st: dict) -> list[Finding]:
        t = st["time_s"]
        prev = track.last_status
        if prev is not None and t <= prev["time_s"]:
            return []  # replayed or reordered: stored, already judged
        track.last_status = st
        s = self.s
        out: list[Finding] = []
        level, led_ma, mode, faults = st["led_pct"], st["led_ma"], st["mode"], st["faults"]
        expected = lamp.led_max_ma * level // 100

        def ev() -> dict:
            return {"led_pct": level, "led_ma": led_ma, "expected_ma": expected, "vbat_mv": st["vbat_mv"],
                    "soc_pct": st["soc_pct"], "pv_mv": st["pv_mv"], "mode": mode, "faults": list(faults)}

        if level >= MIN_JUDGED_LEVEL_PCT:
            dark = led_ma * 100 < expected * s.dark_ratio_pct
            out += self._observe(lamp, track, LAMP_FAILURE, dark, t, ev)
            gear = led_ma * 100 > expected * s.short_ratio_pct or "led_short" in faults or "driver" in faults
            out += self._observe(lamp, track, CONTROL_GEAR_FAILURE, gear, t, ev)
        elif "led_short" in faults or "driver" in faults:
            out += self._observe(lamp, track, CONTROL_GEAR_FAILURE, True, t, ev)
        daylight = st["pv_mv"] >= s.day_pv_mv and (mode != "night" or daily.is_midday_hour(t, self.utc_offset_s))
        if lamp.kind != "kit" and daylight and mode not in ("test", "manual_on"):
            on = led_ma * 100 >= lamp.led_max_ma * s.on_ratio_pct
            out += self._observe(lamp, track, LAMP_UNEXPECTED_ON, on, t, ev)
        if mode == "low_battery" and track.last_mode not in (None, "low_battery"):
            out += self._disconnect(lamp, track, t, "mode low_battery")
        track.last_mode = mode
        out += self._observe(lamp, track, TAMPER, "tamper" in faults, t, ev)
        out += self._against_peers(lamp, st)
        out += self._implausible(lamp, track, st, prev)
        if "battery_degraded" in faults:
            out += self._observe(lamp, track, BATTERY_DEGRADED, True, t, ev, decisive=True)
        if "reset_loop" in faults:
            out += self._observe(lamp, track, RESET_LOOP, True, t, ev, decisive=True)
        track.gaps.add(st["fcnt"], t, mode)
        capacity = track.days.add_status(lamp, st, self.utc_offset_s, self.cadence_s(lamp, track)[1])
        if capacity is not None:
            out += self._capacity(lamp, track, t)
        return out

    def _against_peers(self, lamp: Lamp, st: dict) -> list[Finding]:
        """panelDegraded and highTemperature: a lamp against its site's other lamps at the same moment
        (gateway/peers.py judges each status a few minutes late, once the site's frames around it are in)."""
        s = self.s
        out: list[Finding] = []
        for who, mine, m in self.peers.add((lamp.site, lamp.kind), lamp, st):
            track, t, temp = self.track(who.lamp_id), mine["time_s"], mine["temp_c"]
            if temp is not None:
                if m is not None and m.heard >= s.charging_min_peers:  # hotter than the weather explains, and
                    # within temp_peer_delta_c of the charge limit: the sun will take it over before long
                    hot = temp - m.temp_c >= s.temp_peer_delta_c and temp > s.temp_max_c - s.temp_peer_delta_c
                else:
                    hot = temp > s.temp_max_c + s.temp_peer_delta_c
                out += self._observe(who, track, HIGH_TEMPERATURE, hot, t, lambda m=m, temp=temp: {
                    "temp_c": temp, "temp_max_c": s.temp_max_c, "site_median_c": None if m is None else m.temp_c,
                    "peers": 0 if m is None else m.heard}, hold_off_s=s.clear_hold_off_s)
            if (bulk_charging(mine) and m is not None and m.charging >= max(PANEL_MIN_PEERS, s.charging_min_peers)
                    and m.charge_ma >= s.panel_min_ma and mine["pv_mv"] * 100 >= m.pv_mv * 70):
                share = mine["ibat_ma"] * 100 / m.charge_ma
                out += self._observe(who, track, PANEL_DEGRADED, share < s.panel_ratio_pct, t,
                                     lambda m=m, mine=mine, share=share: {
                    "charge_ma": mine["ibat_ma"], "site_median_ma": round(m.charge_ma), "share_pct": round(share),
                    "pv_mv": mine["pv_mv"], "site_pv_median_mv": round(m.pv_mv), "peers": m.charging},
                    hold_off_s=s.clear_hold_off_s)
        return out

    def _implausible(self, lamp: Lamp, track: Track, st: dict, prev: dict | None) -> list[Finding]:
        """sensorFailure: a reading physics rules out. The battery voltage does not move while the battery
        discharges (a charger may hold it by day, so charging frames are not judged); or the panel reads
        daylight in the middle of the night (22:00-03:00 local), when the firmware would never see dusk; or
        the lamp's own `sensor` flag (a reading out of range, vbat or ibat frozen across load steps, a PV
        reading that contradicts the sun: firmware/core/health.py)."""
        s, t = self.s, st["time_s"]
        discharging = prev is not None and st["ibat_ma"] <= STUCK_DISCHARGE_MA
        midnight = daily.is_midnight_hour(t, self.utc_offset_s)
        verdicts = track.sensor_bad  # per reading, its last verdict: each is judged only when it can be
        lamp_says = "sensor" in st["faults"]  # the firmware's own: out of range, frozen across load steps
        rule = track.rules.get(SENSOR_FAILURE)
        if not (discharging or midnight or lamp_says or (rule is not None and rule.active)):
            return _NONE
        verdicts["firmware"] = lamp_says
        if discharging:
            track.vbat_same = track.vbat_same + 1 if st["vbat_mv"] == prev["vbat_mv"] else 0  # type: ignore[index]
            verdicts["vbat_mv"] = track.vbat_same >= s.sensor_stuck_frames
        if midnight:
            verdicts["pv_mv"] = st["pv_mv"] >= s.day_pv_mv
        bad = sorted(r for r, v in verdicts.items() if v)
        n = track.vbat_same
        return self._observe(lamp, track, SENSOR_FAILURE, bool(bad), t, lambda: {
            "readings": bad, "vbat_mv": st["vbat_mv"], "pv_mv": st["pv_mv"], "frames": n + 1,
            "ibat_ma": st["ibat_ma"]}, hold_off_s=s.clear_hold_off_s)

    def _disconnect(self, lamp: Lamp, track: Track, t: int, why: str) -> list[Finding]:
        s = self.s
        if track.disconnects and abs(t - track.disconnects[-1]) < DISCONNECT_DEDUP_S:
            return []
        track.disconnects.append(t)
        track.disconnects[:] = [d for d in track.disconnects if d > t - s.disconnect_window_s]
        n = len(track.disconnects)
        if n < s.disconnects:
            return []
        causes = [c for c in BATTERY_LOW_CAUSES if (r := track.rules.get(c)) is not None and r.active]
        if causes:
            return []  # inhibited: the open alert for the cause explains the flat battery
        return self._observe(lamp, track, BATTERY_LOW, True, t, lambda: {
            "disconnects": n, "window_s": s.disconnect_window_s, "last": why,
            "times_s": list(track.disconnects)}, decisive=True)

    def _capacity(self, lamp: Lamp, track: Track, t: int) -> list[Finding]:
        s = self.s
        caps = track.days.capacities
        if len(caps) < s.capacity_nights + 1:
            return []
        best = max(caps)
        recent = sorted(caps[-s.capacity_nights:])[s.capacity_nights // 2]
        bad = recent * 100 < best * s.capacity_drop_pct
        # Nightly estimates scatter around the threshold, and the firmware's own flag (in every status)
        # may say otherwise: the estimate clears the alert only after a day with no sign of wear at all.
        return self._observe(lamp, track, BATTERY_DEGRADED, bad, t, lambda: {
            "capacity_mah": recent, "best_capacity_mah": best, "nights": len(caps)}, decisive=True,
            hold_off_s=daily.DAY_S)

    def _events(self, lamp: Lamp, track: Track, fr: dict) -> list[Finding]:
        t = fr["time_s"]
        out: list[Finding] = []
        charging = LANTERN_NOT_CHARGING if lamp.kind == "kit" else CHARGING_FAILURE
        targets = {"led_open": LAMP_FAILURE, "led_short": CONTROL_GEAR_FAILURE, "driver": CONTROL_GEAR_FAILURE,
                   "battery_degraded": BATTERY_DEGRADED, "pv_not_charging": charging,
                   "reset_loop": RESET_LOOP, "tamper": TAMPER}
        for e in fr["events"]:
            code, action = e["code"], e["action"]
            if code == "battery_low" and action == "raised":
                out += self._disconnect(lamp, track, t, "event battery_low")
            elif code == "safe_mode":
                out += self._observe(lamp, track, RESET_LOOP, True, t, lambda e=e: {
                    "event": "safe_mode", "value": e["value"]}, decisive=True)
            elif code in targets and action in ("raised", "cleared"):
                if code == "tamper" and action == "raised":
                    track.tamper_s = t
                flags = track.last_status["faults"] if track.last_status is not None else ()
                if action == "cleared" and any(targets.get(f) == targets[code] for f in flags if f != code):
                    continue  # another of the lamp's flags keeps the same fault (led_short ends, driver stays)

                def ev(e: dict = e) -> dict:
                    d = {"event": e["code"], "action": e["action"], "value": e["value"], "ref": e["ref"]}
                    if e["code"] in ("led_open", "led_short"):
                        d.update(led_ma=e["value"], expected_ma=e["ref"],
                                 led_pct=e["ref"] * 100 // max(lamp.led_max_ma, 1))
                    return d

                out += self._observe(lamp, track, targets[code], action == "raised", t, ev, decisive=True)
        return out

    def _boot(self, lamp: Lamp, track: Track, fr: dict) -> list[Finding]:
        t, cause = fr["time_s"], fr["reset_cause"]
        if cause not in ABNORMAL_BOOTS:
            return []
        s = self.s
        track.boots.append((t, cause))
        track.boots[:] = [b for b in track.boots if b[0] > t - s.boot_loop_window_s]
        if len(track.boots) < s.boot_loop_count:
            return []
        return self._observe(lamp, track, RESET_LOOP, True, t, lambda: {
            "boots": len(track.boots), "window_s": s.boot_loop_window_s,
            "causes": sorted({c for _, c in track.boots}), "boot_count": fr["boot_count"]}, decisive=True)

    # ------------------------------------------------------------ time

    def loss_rate(self, lamp_id: str) -> float:
        """The expected loss, or the lamp's own (from the gaps in its last frame counters) if it is worse."""
        p = self.s.loss_rate
        fc = self.tracks[lamp_id].fcnts if lamp_id in self.tracks else []
        if len(fc) >= 20:
            span = max(fc) - min(fc) + 1
            p = max(p, min(0.9, 1 - len(set(fc)) / span))
        return p

    def silence_intervals(self, lamp_id: str) -> int:
        """k such that loss_rate**k < silence_false_alarm, with the lamp's own loss if it is worse."""
        s = self.s
        return daily.silence_k(self.loss_rate(lamp_id), s.silence_false_alarm, s.min_silent_intervals)

    def cadence_s(self, lamp: Lamp, track: Track) -> tuple[int, int]:
        """(night, day) status intervals of the lamp: the registry's, or the longer ones it shows (LoRa)."""
        return daily.cadence_s(lamp.status_interval_s, track.gaps)

    def tick(self, lamps: Iterable[Lamp], now_s: int) -> list[Finding]:
        """Rules that depend on time passing: silence, theft, reboot loops ending, daily harvest and use."""
        if self.started_s is None:
            self.started_s = now_s
            self._listen_from(now_s)
        self._clock(now_s)
        lamps = list(lamps)
        out: list[Finding] = []
        for lamp in lamps:
            track = self.track(lamp.lamp_id)
            if track.last_frame_s is None:
                if lamp.last_seen_s is None:
                    continue  # never heard: nothing to compare against yet
                track.last_frame_s = lamp.last_seen_s
            out += self._silence(lamp, track, now_s)
            low = track.rules.get(BATTERY_LOW)
            if low is not None and low.active:
                recent = [d for d in track.disconnects if d > now_s - self.s.disconnect_window_s]
                if len(recent) < self.s.disconnects:
                    out += self._observe(lamp, track, BATTERY_LOW, False, now_s, lambda n=len(recent): {
                        "disconnects": n, "window_s": self.s.disconnect_window_s}, decisive=True)
            boot_rule = track.rules.get(RESET_LOOP)
            # The firmware keeps its reset_loop flag for a day of uptime, longer than the boot window: the
            # loop is over when both agree, or the next status frame would raise it again (a flapping alert).
            flagged = track.last_status is not None and "reset_loop" in track.last_status["faults"]
            if boot_rule is not None and boot_rule.active and not flagged and not any(
                    b[0] > now_s - self.s.boot_loop_window_s for b in track.boots):
                out += self._observe(lamp, track, RESET_LOOP, False, now_s, lambda: {
                    "quiet_s": self.s.boot_loop_window_s}, decisive=True)
        for lamp, fault, bad, at_s, evidence in self.days.judge(lamps, self.tracks, now_s):
            # A judged day is dated by its last frame: a charging fault that began during that day (the
            # firmware's event at noon, after a good morning) is not cleared by the day's total.
            hold = DAY_CLEAR_HOLD_OFF_S if fault in (CHARGING_FAILURE, LANTERN_NOT_CHARGING) else 0
            out += self._observe(lamp, self.track(lamp.lamp_id), fault, bad, at_s, lambda e=evidence: e,
                                 decisive=True, hold_off_s=hold)
        return out

    def _silence(self, lamp: Lamp, track: Track, now_s: int) -> list[Finding]:
        s = self.s
        assert track.last_frame_s is not None
        # Silence is the gateway's time since it last heard the lamp, counted from the gateway's own start
        # (or the end of a step of its clock) at the earliest: a restart never declares the whole fleet
        # silent (ThingsBoard #13715). The lamp's device time (last_frame_s) only dates the alert.
        reference = max(track.heard_s, self.listening_s if self.listening_s is not None else now_s)
        silent_s = now_s - reference
        # Frames due are counted on the lamp's cadence, night and day (daily.silence_window_s), walked from
        # the reference on the gateway's clock: that clock, not the lamp's, says whether it is night.
        night_s, day_s = self.cadence_s(lamp, track)
        off = self.utc_offset_s
        out: list[Finding] = []
        theft = track.rule(THEFT)
        night = track.last_status is not None and track.last_status["mode"] == "night" or \
            daily.is_night_hour(track.last_frame_s, off)
        if (not theft.active and track.tamper_s is not None and night
                and track.last_frame_s - track.tamper_s <= s.tamper_window_s
                and silent_s > daily.silence_window_s(reference, night_s, s.theft_silent_intervals, off, day_s)):
            theft.active = True
            theft.since_s = track.last_frame_s
            out.append(self._finding(lamp.lamp_id, track, THEFT, "raise", now_s, track.last_frame_s, {
                "tamper_s": track.tamper_s, "last_frame_s": track.last_frame_s, "last_heard_s": track.heard_s or None,
                "silent_s": silent_s}))
        comm = track.rule(COMMUNICATION_FAILURE)
        if comm.active or theft.active:
            return out
        k = self.silence_intervals(lamp.lamp_id)
        window_s = daily.silence_window_s(reference, night_s, k, off, day_s)
        if silent_s > window_s:
            comm.since_s = track.last_frame_s
            out.append(self._raised(lamp, track, COMMUNICATION_FAILURE, comm, now_s, track.last_frame_s, {
                "last_frame_s": track.last_frame_s, "last_heard_s": track.heard_s or None, "silent_s": silent_s,
                "missed_intervals": daily.frames_due(reference, silent_s, night_s, off, day_s),
                "needed_intervals": k, "loss_rate": self.loss_rate(lamp.lamp_id), "window_s": window_s,
                "interval_s": night_s, "day_interval_s": day_s}))
        return out
