"""Verify an uplink that came over a radio path (bridge on serial, LoRaWAN integration) and decide the
answer: MIC first, then the replay window, then delivery, then the downlink that acknowledges it.

    ingest = RadioIngest(lookup, replay, downlinks, deliver)
    verdict, reply = ingest.handle(frame, rx_s)        # reply: downlink frame to send now, or None

lookup(devaddr) -> Device(lamp_id, devaddr, key) or None (the registry); deliver(lamp_id, decoded, frame,
rx_s) stores a new frame (the gateway's store/detect path). A dlack (type 0x4) closes its downlink in the
queue instead. Duplicates (a second bridge, or a resend after a lost acknowledgement) are acknowledged
again but not delivered; replays are neither. Rejections are counted by reason.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable

from firmware.link import downlink_codec as dc  # moves to telemetry with the downlink format
from gateway.link.downlinks import DownlinkQueue
from gateway.link.replay import DUPLICATE, NEW, REPLAY, ReplayWindow
from telemetry import FrameError, decode, reconstruct_fcnt


@dataclass
class Device:
    lamp_id: str
    devaddr: int
    key: object  # telemetry.DeviceKey or 16 bytes


class RadioIngest:
    def __init__(self, lookup: Callable[[int], Device | None], replay: ReplayWindow,
                 downlinks: DownlinkQueue | None, deliver: Callable[[str, dict[str, Any], bytes, float], None]):
        self.lookup = lookup
        self.replay = replay
        self.downlinks = downlinks
        self.deliver = deliver
        self.rejects: Counter[str] = Counter()
        self.verdicts: Counter[str] = Counter()

    def handle(self, frame: bytes, rx_s: float, ack: bool = True) -> tuple[str, bytes | None]:
        """ack False (LoRaWAN: the network server acknowledges, and every downlink counts against TTN's
        fair use) answers only when a config or command is waiting."""
        try:
            head = dc.peek_any(frame)
        except FrameError as e:
            self.rejects[e.reason] += 1
            return e.reason, None
        if head["type"] in ("config", "command", "ack"):
            self.rejects["type"] += 1  # a downlink heard by a bridge (another gateway's, or an echo)
            return "type", None
        fcnt16 = int(head["fcnt16"])
        dev = self.lookup(int(head["devaddr"]))
        if dev is None:
            self.rejects["unknown_device"] += 1
            return "unknown_device", None
        fcnt = reconstruct_fcnt(self.replay.last(dev.lamp_id), fcnt16)
        assert fcnt is not None  # reconstruct_fcnt always answers when given the 16 bits
        try:
            if head["type"] == "dlack":
                decoded = dc.decode_dlack(frame, dev.key, fcnt)
            else:
                decoded = decode(frame, dev.key, fcnt, int(rx_s))
        except FrameError as e:
            self.rejects[e.reason] += 1
            return e.reason, None
        verdict = self.replay.observe(dev.lamp_id, fcnt, frame, rx_s)
        self.verdicts[verdict] += 1
        if verdict == REPLAY:
            self.rejects["replay"] += 1
            return REPLAY, None
        if verdict == NEW:
            if decoded["type"] == "dlack":
                if self.downlinks is not None:
                    self.downlinks.acknowledged(dev.lamp_id, int(decoded["dl_id"]), str(decoded["result"]))
            else:
                self.deliver(dev.lamp_id, decoded, frame, rx_s)
        reply = None
        if self.downlinks is not None:
            reply = self.downlinks.reply(dev.lamp_id, dev.devaddr, dev.key,
                                         ack_fcnt16=fcnt16 if ack else None)
        return (NEW if verdict == NEW else DUPLICATE), reply
