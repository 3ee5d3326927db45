"""Per-lamp security bookkeeping for ingest: MIC failures (rate-limited and alerted), replay refusals (a
lamp whose flash was wiped restarts its counter at 0), and counter jumps the lamp's own frames contradict.

Ingest sits below the detector: the guard keeps its findings in a list that the Gateway drains at every
flush and hands to the alert lifecycle like the detector's (docs/alert-rules.md, "Security").

Rate limit: a token bucket per lamp, charged by MIC *failures* only (`FAIL_BURST` tokens, one back every
`FAIL_REFILL_S`). A genuine lamp never fails, so its frames, a backlog drained at full speed included, are
never slowed. An empty bucket drops that lamp's frames before any crypto (`throttled`, counted) until a
token is back: the trickle means one verification every 2 s, about 43,000 a day, so brute-forcing a 4-byte
MIC (2^31 tries on average) takes over a century instead of a day. The price: while someone floods a lamp's
topic with forgeries, a genuine frame is only tried when a token is there. Flooding needs publish access to
that lamp's own topic (the broker's ACL gives it to the lamp's credentials only) or a radio ignoring its
duty cycle; lamps resend what is not acknowledged, and the operator is alerted either way.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from gateway.detect import Finding
from gateway.faults import AUTH_FAILURES, REPLAY_REFUSED
from gateway.registry import Lamp

FAIL_BURST = 20
FAIL_REFILL_S = 2.0
AUTH_WINDOW_S = 600  # failures counted over 10 minutes of the gateway's clock
AUTH_ALERT_FAILURES = 20  # ... this many raise the alert (an attack)
AUTH_ALERT_IN_A_ROW = 6  # ... or this many in a row with no good frame between (a wrong key: 1 h at 10 min)
REPLAY_WINDOW_S = 3600
REPLAY_ALERT = 3  # replays refused within the hour: a wiped lamp at a 10-minute interval alerts in 30 min


@dataclass
class _State:
    tokens: float = FAIL_BURST
    refilled: float = 0.0  # monotonic time of the last refill
    fail_start_s: float = 0.0  # start of the current counting window (gateway clock)
    fails: int = 0  # in that window
    in_a_row: int = 0
    last_fail_s: float = 0.0
    throttled: int = 0
    replay_start_s: float = 0.0
    replays: int = 0
    last_replay_s: float = 0.0
    auth_alert: bool = False
    sticky: bool = False  # the alert says someone else holds a valid MIC: only a new key or a person clears it
    replay_alert: bool = False


class LampGuard:
    def __init__(self, clock=time.monotonic, auth_failures: int = AUTH_ALERT_FAILURES,  # type: ignore[no-untyped-def]
                 auth_window_s: int = AUTH_WINDOW_S, auth_in_a_row: int = AUTH_ALERT_IN_A_ROW,
                 replay_alert: int = REPLAY_ALERT):
        """The alert thresholds are [detect] settings (docs/alert-rules.md); the rate limit is not."""
        self._clock = clock
        self.auth_failures, self.auth_window_s, self.auth_in_a_row = auth_failures, auth_window_s, auth_in_a_row
        self.replay_alert = replay_alert
        self._lamps: dict[str, _State] = {}
        self.findings: list[tuple[Lamp, Finding]] = []

    def take_findings(self) -> list[tuple[Lamp, Finding]]:
        out, self.findings = self.findings, []
        return out

    def _state(self, lamp_id: str) -> _State:
        st = self._lamps.get(lamp_id)
        if st is None:
            st = self._lamps[lamp_id] = _State(refilled=self._clock())
        return st

    def allow(self, lamp_id: str) -> bool:
        """May this lamp's frame be verified now? Cheap; only lamps that failed have a state."""
        st = self._lamps.get(lamp_id)
        if st is None or st.tokens >= 1:
            return True
        now = self._clock()
        st.tokens = min(FAIL_BURST, st.tokens + (now - st.refilled) / FAIL_REFILL_S)
        st.refilled = now
        if st.tokens >= 1:
            return True
        st.throttled += 1
        return False

    def _raise(self, lamp: Lamp, fault: str, at_s: float, since_s: float, evidence: dict[str, object]) -> None:
        self.findings.append((lamp, Finding(lamp.lamp_id, fault, "raise", int(at_s), int(since_s), evidence)))

    def _clear(self, lamp: Lamp, fault: str, at_s: float, evidence: dict[str, object]) -> None:
        self.findings.append((lamp, Finding(lamp.lamp_id, fault, "clear", int(at_s), int(at_s), evidence)))

    def mic_failed(self, lamp: Lamp, rx_s: float) -> None:
        st = self._state(lamp.lamp_id)
        now = self._clock()
        st.tokens = min(FAIL_BURST, st.tokens + (now - st.refilled) / FAIL_REFILL_S) - 1
        st.refilled = now
        if rx_s - st.fail_start_s > self.auth_window_s:
            st.fail_start_s, st.fails = rx_s, 0
        st.fails += 1
        st.in_a_row += 1
        st.last_fail_s = rx_s
        if not st.auth_alert and (st.fails >= self.auth_failures or st.in_a_row >= self.auth_in_a_row):
            st.auth_alert = True
            self._raise(lamp, AUTH_FAILURES, rx_s, st.fail_start_s, {
                "reason": "mic", "failures": st.fails, "window_s": self.auth_window_s, "in_a_row": st.in_a_row,
                "throttled": st.throttled})

    def counter_jump_contradicted(self, lamp: Lamp, held: list[int], last_fcnt: int | None, rx_s: float) -> None:
        """Authentic frames ahead of the window that the lamp's own next frames went under: someone else
        holds a valid MIC (a leaked key, or a brute-forced MIC)."""
        st = self._state(lamp.lamp_id)
        if st.auth_alert:
            return
        st.auth_alert = st.sticky = True
        st.last_fail_s = rx_s
        self._raise(lamp, AUTH_FAILURES, rx_s, rx_s, {
            "reason": "counter_jump", "held_fcnt": sorted(held), "last_fcnt": last_fcnt})

    def replayed(self, lamp: Lamp, fcnt: int, last_fcnt: int | None, rx_s: float) -> None:
        st = self._state(lamp.lamp_id)
        if rx_s - st.replay_start_s > REPLAY_WINDOW_S:
            st.replay_start_s, st.replays = rx_s, 0
        st.replays += 1
        st.last_replay_s = rx_s
        if not st.replay_alert and st.replays >= self.replay_alert:
            st.replay_alert = True
            self._raise(lamp, REPLAY_REFUSED, rx_s, st.replay_start_s, {
                "refused": st.replays, "window_s": REPLAY_WINDOW_S, "fcnt": fcnt, "last_fcnt": last_fcnt})

    def authentic(self, lamp: Lamp, rx_s: float) -> None:
        """A frame verified and accepted: clears what a quiet window allows."""
        st = self._lamps.get(lamp.lamp_id)
        if st is None:
            return
        st.in_a_row = 0
        if st.auth_alert and not st.sticky and rx_s - st.last_fail_s > self.auth_window_s:
            st.auth_alert = False
            self._clear(lamp, AUTH_FAILURES, rx_s, {"quiet_s": int(rx_s - st.last_fail_s)})
        if st.replay_alert and rx_s - st.last_replay_s > REPLAY_WINDOW_S:
            st.replay_alert = False
            self._clear(lamp, REPLAY_REFUSED, rx_s, {"quiet_s": int(rx_s - st.last_replay_s)})

    def rekeyed(self, lamp: Lamp, rx_s: float) -> None:
        """A new key (re-provisioned): old failures and replays say nothing about it; open alerts clear."""
        st = self._lamps.pop(lamp.lamp_id, None)
        if st is None:
            return
        if st.auth_alert:
            self._clear(lamp, AUTH_FAILURES, rx_s, {"rekeyed": True})
        if st.replay_alert:
            self._clear(lamp, REPLAY_REFUSED, rx_s, {"rekeyed": True})

    def restore_open(self, lamp_id: str, fault: str) -> None:
        """After a restart: an open alert of ours, so that a quiet window clears it."""
        if fault == AUTH_FAILURES:
            self._state(lamp_id).auth_alert = True
        elif fault == REPLAY_REFUSED:
            self._state(lamp_id).replay_alert = True

    def reset(self, lamp_id: str, fault: str) -> None:
        """A person resolved the alert: judged again from scratch (it re-opens if the cause goes on)."""
        st = self._lamps.get(lamp_id)
        if st is None:
            return
        if fault == AUTH_FAILURES:
            st.auth_alert, st.sticky, st.fails, st.in_a_row = False, False, 0, 0
        elif fault == REPLAY_REFUSED:
            st.replay_alert, st.replays = False, 0
