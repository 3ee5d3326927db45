"""Verify and decode uplink frames; count and log every rejection with its reason.

Order matters for security: topic and registry first (cheap, no crypto), then the clear header, then the
MIC over the frame with the reconstructed 32-bit counter, and only then the payload is interpreted.
"""
from __future__ import annotations

import logging
from collections import Counter

from telemetry import FrameError, decode, peek, reconstruct_fcnt, topics

from gateway.registry import Lamp, Registry

log = logging.getLogger("lampfleet.gateway.ingest")

# Rejections decided here, in addition to telemetry.errors.REASONS.
GATEWAY_REASONS = ("topic", "unknown_device", "wrong_device")


class Ingest:
    def __init__(self, registry: Registry, prefix: str = topics.PREFIX):
        self.registry = registry
        self.prefix = prefix
        self.rejects: Counter[str] = Counter()
        self.accepted = 0

    def _reject(self, reason: str, topic: str, detail: str = "") -> None:
        self.rejects[reason] += 1
        log.warning("rejected frame on %s: %s%s", topic, reason, f" ({detail})" if detail else "")

    def process(self, topic: str, payload: bytes, rx_s: float) -> tuple[Lamp, dict] | None:
        parsed = topics.parse(topic, self.prefix)
        if parsed is None or parsed[1] != "up":
            self._reject("topic", topic)
            return None
        lamp = self.registry.by_id(parsed[0])
        if lamp is None:
            self._reject("unknown_device", topic, parsed[0])
            return None
        try:
            head = peek(payload)
            if head["devaddr"] != lamp.devaddr:
                self._reject("wrong_device", topic, f"frame from device address {head['devaddr']:#08x}")
                return None
            fcnt = reconstruct_fcnt(lamp.last_fcnt, head["fcnt16"])
            frame = decode(payload, lamp.crypto(), fcnt, int(rx_s))
        except FrameError as e:
            self._reject(e.reason, topic, e.detail)
            return None
        if lamp.last_fcnt is None or fcnt > lamp.last_fcnt:
            lamp.last_fcnt = fcnt
        if frame["type"] == "boot":
            lamp.fw_version = frame["fw_version"]
        self.accepted += 1
        return lamp, frame
