"""Verify and decode uplink frames (status, event, boot and the lamp's dlacks) from every path: MQTT, the
serial bridge and LoRaWAN; count and log every rejection with its reason.

Order matters for security: topic and registry first (cheap, no crypto), then the clear header, then the
MIC over the frame with the reconstructed 32-bit counter, and only then the payload is interpreted.
This is the hot path of the gateway: topics and per-device keys are cached, and decoding uses
gateway/fastcodec.py (same answers as telemetry.decode).
"""
from __future__ import annotations

import logging
from collections import Counter

from telemetry import FrameError, reconstruct_fcnt, topics

from gateway.fastcodec import FrameKeys, decode, header
from gateway.link.lamp_guard import LampGuard
from gateway.link.replay import DUPLICATE, NEW, REPLAY, SUSPICIOUS, ReplayWindow, blob_to_bits
from gateway.registry import Lamp, Registry

log = logging.getLogger("lampfleet.gateway.ingest")

# Rejections decided here, in addition to telemetry.errors.REASONS.
GATEWAY_REASONS = ("topic", "unknown_device", "wrong_device", "stale", "replay", "duplicate", "suspicious",
                   "throttled", "internal_error")
CLOCK_SET_S = 1_577_836_800  # 2020-01-01: device times before this come from an unset clock
# Lamp IDs never carry secrets, but a flood of junk must not flood the log: after this many rejections
# per reason, only every 1000th is logged (all are counted).
LOG_FIRST = 20
# A lamp whose last_fcnt is unknown (a registry restored from an old CSV) may be past 65,535 frames: its
# counter's upper 16 bits are then tried from 1 up to this (64 x 65,536 frames: centuries of reporting).
MAX_EPOCHS = 64


class Ingest:
    def __init__(self, registry: Registry, prefix: str = topics.PREFIX, guard: LampGuard | None = None):
        self.registry = registry
        self.prefix = prefix
        self.rejects: Counter[str] = Counter()
        self.accepted = 0
        self._topics: dict[str, str] = {}
        self._keys: dict[str, tuple[bytes, FrameKeys]] = {}
        # Replay window after the MIC check (gateway/link/replay.py). Its state is rebuilt from the registry's
        # last_fcnt and replay_bits (persisted with every batch) the first time a lamp is seen and whenever
        # its key changes. A database from before the bitmap: frames under the old top are taken as new but
        # `maybe_stored`, and the gateway asks the store before judging them.
        self.replay = ReplayWindow()
        self.guard = guard or LampGuard()  # MIC failures, replays, counter jumps: rate limit and findings
        self.maybe_stored = False  # about the frame `check` just returned
        self.released: list[tuple[Lamp, dict]] = []  # held frames a confirmation accepted: store them too
        self.stale_before = 0  # frames older than this (the raw horizon) are refused as `stale`; set by tick()

    def _reject(self, reason: str, topic: str, detail: str = "") -> None:
        self.rejects[reason] += 1
        n = self.rejects[reason]
        if n <= LOG_FIRST or n % 1000 == 0:
            # %.100r: topics and details are the sender's text; escaped (a newline cannot forge a log line), cut short
            log.warning("rejected frame on %.100r: %s%s (%d so far)", topic, reason,
                        " (%.100r)" % detail if detail else "", n)

    def _lamp_id(self, topic: str) -> str | None:
        lamp_id = self._topics.get(topic)
        if lamp_id is not None:
            return lamp_id
        parsed = topics.parse(topic, self.prefix)
        if parsed is None or parsed[1] != "up":
            self._reject("topic", topic)
            return None
        if self.registry.by_id(parsed[0]) is not None and len(self._topics) < 100_000:
            self._topics[topic] = parsed[0]
        return parsed[0]

    def _frame_keys(self, lamp: Lamp, rx_s: float = 0) -> FrameKeys:
        cached = self._keys.get(lamp.lamp_id)
        if cached is None or cached[0] is not lamp.key:
            if cached is None or cached[0] != lamp.key:  # a new lamp or a new key (re-provisioned)
                self.replay.restore(lamp.lamp_id, lamp.last_fcnt, blob_to_bits(lamp.replay_bits))
                if cached is not None:
                    self.guard.rekeyed(lamp, rx_s)
            cached = (lamp.key, FrameKeys(lamp.key))
            self._keys[lamp.lamp_id] = cached
        return cached[1]

    def process(self, topic: str, payload: bytes, rx_s: float) -> tuple[Lamp, dict] | None:
        lamp = self.lamp_for_topic(topic)
        return None if lamp is None else self.verify(lamp, payload, rx_s, topic)

    def lamp_for_topic(self, topic: str) -> Lamp | None:
        """The registered lamp an MQTT uplink topic names (refusals counted)."""
        lamp_id = self._lamp_id(topic)
        if lamp_id is None:
            return None
        lamp = self.registry.by_id(lamp_id)
        if lamp is None:
            self._reject("unknown_device", topic, lamp_id)
        return lamp

    def lamp_for_frame(self, payload: bytes, where: str) -> Lamp | None:
        """The lamp a radio frame claims to come from (clear header's DevAddr), for paths without a topic."""
        try:
            head = header(payload)
        except FrameError as e:
            self._reject(e.reason, where, e.detail)
            return None
        lamp = self.registry.by_devaddr(head[1])
        if lamp is None:
            self._reject("unknown_device", where, f"device address {head[1]:#08x}")
        return lamp

    def verify(self, lamp: Lamp, payload: bytes, rx_s: float, where: str) -> tuple[Lamp, dict] | None:
        """Clear header, MIC, raw horizon, replay window; the decoded frame when it is new."""
        frame = self.check(lamp, payload, rx_s, where)[1]
        return None if frame is None else (lamp, frame)

    def check(self, lamp: Lamp, payload: bytes, rx_s: float, where: str) -> tuple[str, dict | None]:
        """`verify` with its verdict: ("new", decoded frame), ("duplicate", None) or (reason refused, None).
        Every uplink type, the lamp's dlacks included, is verified here and nowhere else."""
        guard = self.guard
        try:
            head = header(payload)
            if head[1] != lamp.devaddr:
                self._reject("wrong_device", where, f"frame from device address {head[1]:#08x}")
                return "wrong_device", None
            if not guard.allow(lamp.lamp_id):  # too many MIC failures lately: no crypto for now
                self.rejects["throttled"] += 1
                return "throttled", None
            keys = self._frame_keys(lamp, rx_s)
            fcnt = reconstruct_fcnt(lamp.last_fcnt, head[2])
            try:
                frame = decode(payload, keys, fcnt, int(rx_s), head)
            except FrameError as e:
                if e.reason != "mic":
                    raise
                found = self._higher_epoch(lamp, payload, keys, fcnt, rx_s, head)
                if found is None:
                    if self._counter_went_back(payload, keys, fcnt, rx_s, head):
                        self._reject("replay", where, f"counter {head[2]} after {lamp.last_fcnt}: counter reset?")
                        guard.replayed(lamp, head[2], lamp.last_fcnt, rx_s)
                        return "replay", None
                    guard.mic_failed(lamp, rx_s)
                    raise
                fcnt, frame = found
        except FrameError as e:
            self._reject(e.reason, where, e.detail)
            return e.reason, None
        # Older than the raw horizon: its row may be pruned already, so the store could not recognise it.
        # A device whose clock was never set (before 2020) is kept: its frames still say something. A dlack
        # carries no time: the replay window alone judges it.
        t = frame.get("time_s")
        if t is not None and CLOCK_SET_S < t < self.stale_before:
            self.rejects["stale"] += 1
            return "stale", None
        replay = self.replay
        verdict = replay.observe(lamp.lamp_id, fcnt, payload, rx_s, frame)
        if verdict != NEW:
            if verdict == DUPLICATE:  # benign (QoS 1 redelivery, a second bridge, a resend): counted, not logged
                self.rejects[DUPLICATE] += 1
            else:
                last = replay.last(lamp.lamp_id)
                self._reject(verdict, where, f"counter {fcnt}, last {last}")
                if verdict == REPLAY:
                    guard.replayed(lamp, fcnt, last, rx_s)
            return verdict, None
        self.maybe_stored = replay.unsure(lamp.lamp_id, fcnt)
        jumped = replay.take_contradicted(lamp.lamp_id)
        if jumped:
            guard.counter_jump_contradicted(lamp, jumped, lamp.last_fcnt, rx_s)
        for held in replay.take_released(lamp.lamp_id):  # a confirmed jump: the held frame is stored first
            self.released.append((lamp, held))
            self.accepted += 1
        if lamp.last_fcnt is None or fcnt > lamp.last_fcnt:
            lamp.last_fcnt = fcnt
        if frame["type"] == "boot":
            lamp.fw_version = frame["fw_version"]
        guard.authentic(lamp, rx_s)
        self.accepted += 1
        return NEW, frame

    def _counter_went_back(self, payload: bytes, keys: FrameKeys, fcnt: int, rx_s: float,
                           head: tuple[int, int, int]) -> bool:
        """A failed MIC at upper bits > 0 that verifies at 0: the lamp's counter restarted (flash wiped), far
        enough under last_fcnt that reconstruct_fcnt looked above it. One more CMAC, on failures only."""
        if fcnt <= 0xFFFF:
            return False
        try:
            decode(payload, keys, head[2], int(rx_s), head)
        except FrameError as e:
            return e.reason != "mic"
        return True

    def _higher_epoch(self, lamp: Lamp, payload: bytes, keys: FrameKeys, fcnt: int, rx_s: float,
                      head: tuple[int, int, int]) -> tuple[int, dict] | None:
        """The slow path for a lamp with no known counter whose MIC failed at upper bits 0: try the next
        MAX_EPOCHS values of the upper 16 bits (telemetry.reconstruct_fcnt assumes 0 without last_fcnt)."""
        if lamp.last_fcnt is not None or fcnt > 0xFFFF:
            return None
        for epoch in range(1, MAX_EPOCHS + 1):
            cand = epoch << 16 | fcnt
            try:
                return cand, decode(payload, keys, cand, int(rx_s), head)
            except FrameError as e:
                if e.reason != "mic":
                    return None
        return None
