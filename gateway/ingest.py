"""Verify and decode uplink frames; count and log every rejection with its reason.

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
from gateway.registry import Lamp, Registry

log = logging.getLogger("lampfleet.gateway.ingest")

# Rejections decided here, in addition to telemetry.errors.REASONS.
GATEWAY_REASONS = ("topic", "unknown_device", "wrong_device", "stale")
# Lamp IDs never carry secrets, but a flood of junk must not flood the log: after this many rejections
# per reason, only every 1000th is logged (all are counted).
LOG_FIRST = 20


class Ingest:
    def __init__(self, registry: Registry, prefix: str = topics.PREFIX):
        self.registry = registry
        self.prefix = prefix
        self.rejects: Counter[str] = Counter()
        self.accepted = 0
        self._topics: dict[str, str] = {}
        self._keys: dict[str, tuple[bytes, FrameKeys]] = {}

    def _reject(self, reason: str, topic: str, detail: str = "") -> None:
        self.rejects[reason] += 1
        n = self.rejects[reason]
        if n <= LOG_FIRST or n % 1000 == 0:
            log.warning("rejected frame on %s: %s%s (%d so far)", topic, reason, f" ({detail})" if detail else "", n)

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

    def _frame_keys(self, lamp: Lamp) -> FrameKeys:
        cached = self._keys.get(lamp.lamp_id)
        if cached is None or cached[0] is not lamp.key:
            cached = (lamp.key, FrameKeys(lamp.key))
            self._keys[lamp.lamp_id] = cached
        return cached[1]

    def process(self, topic: str, payload: bytes, rx_s: float) -> tuple[Lamp, dict] | None:
        lamp_id = self._lamp_id(topic)
        if lamp_id is None:
            return None
        lamp = self.registry.by_id(lamp_id)
        if lamp is None:
            self._reject("unknown_device", topic, lamp_id)
            return None
        try:
            head = header(payload)
            if head[1] != lamp.devaddr:
                self._reject("wrong_device", topic, f"frame from device address {head[1]:#08x}")
                return None
            fcnt = reconstruct_fcnt(lamp.last_fcnt, head[2])
            frame = decode(payload, self._frame_keys(lamp), fcnt, int(rx_s), head)
        except FrameError as e:
            self._reject(e.reason, topic, e.detail)
            return None
        if lamp.last_fcnt is None or fcnt > lamp.last_fcnt:
            lamp.last_fcnt = fcnt
        if frame["type"] == "boot":
            lamp.fw_version = frame["fw_version"]
        self.accepted += 1
        return lamp, frame
