"""Uplinks and downlinks through a LoRaWAN network server's MQTT integration.

A lamp on LoRaWAN sends our usual frame as its FRMPayload on FPort 10 (`FPORT`); the network server has
already checked LoRaWAN's own MIC and counters, and we check ours as for any other link. Devices are
mapped by DevEUI (16 hex digits, any case) to lamp ids.

ChirpStack v4 (integration.mqtt, json = true):
    up    application/{application_id}/device/{dev_eui}/event/up
          {"deduplicationId", "time", "deviceInfo": {"devEui", "applicationId", ...}, "devAddr", "fCnt",
           "fPort", "data": base64, "rxInfo": [{"gatewayId", "rssi", "snr"}], "txInfo": {"frequency",
           "modulation": {"lora": {"spreadingFactor", "bandwidth"}}}}
    down  application/{application_id}/device/{dev_eui}/command/down
          {"devEui", "confirmed", "fPort", "data": base64}
The Things Stack v3 (MQTT server; `app@tenant` on multi-tenant deployments):
    up    v3/{application_id}[@{tenant}]/devices/{device_id}/up
          {"end_device_ids": {"device_id", "dev_eui", "application_ids": {"application_id"}},
           "received_at", "uplink_message": {"f_port", "f_cnt", "frm_payload": base64,
           "rx_metadata": [{"gateway_ids": {"gateway_id"}, "rssi", "snr"}], "settings": {...}}}
    down  v3/{application_id}[@{tenant}]/devices/{device_id}/down/push
          {"downlinks": [{"f_port", "frm_payload": base64, "priority": "NORMAL"}]}
(Field shapes from ChirpStack's integration.proto and TTS's MQTT server documentation.)
Downlinks count against TTN's fair use (10 a day including acknowledgements): the downlink queue's
`max_per_day` keeps under it.
"""
from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

FPORT = 10
CHIRPSTACK_UP = "application/+/device/+/event/up"
TTS_UP = "v3/+/devices/+/up"
REASONS = ("json", "fields", "port", "unknown_device", "topic")


class LorawanError(ValueError):
    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass
class LorawanUplink:
    source: str  # "chirpstack" | "tts"
    lamp_id: str
    dev_eui: str
    frame: bytes
    rx_time: float
    lorawan_fcnt: int | None
    rx: list[dict[str, Any]] = field(default_factory=list)  # [{"gateway", "rssi", "snr"}]
    sf: int | None = None
    freq_hz: int | None = None
    reply_to: dict[str, str] = field(default_factory=dict)  # what a downlink needs (application, device)


def _time(text: str | None, default: float) -> float:
    if not text:
        return default
    try:
        t = text.replace("Z", "+00:00")
        head, dot, rest = t.partition(".")
        if dot:  # nanoseconds (TTS) are more digits than datetime takes
            digits = "".join(ch for ch in rest if ch.isdigit())
            t = head + "." + digits[:6] + rest[len(digits):]
        return datetime.fromisoformat(t).timestamp()
    except ValueError:
        return default


def _b64(text) -> bytes:
    if not isinstance(text, str):
        raise LorawanError("fields", "payload is not base64 text")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise LorawanError("fields", "payload is not valid base64") from None


def _eui(text) -> str:
    if not isinstance(text, str) or len(text) != 16:
        raise LorawanError("fields", f"DevEUI {text!r}")
    try:
        int(text, 16)
    except ValueError:
        raise LorawanError("fields", f"DevEUI {text!r}") from None
    return text.lower()


class DevEuiMap:
    def __init__(self, mapping: dict[str, str] | None = None):
        self._map = {_eui(k): v for k, v in (mapping or {}).items()}

    def add(self, dev_eui: str, lamp_id: str) -> None:
        self._map[_eui(dev_eui)] = lamp_id

    def lamp(self, dev_eui: str) -> str | None:
        return self._map.get(dev_eui.lower())


def parse_chirpstack_up(topic: str, payload: bytes, devices: DevEuiMap, now: float | None = None) -> LorawanUplink:
    parts = topic.split("/")
    if len(parts) != 6 or parts[0] != "application" or parts[2] != "device" or parts[4:] != ["event", "up"]:
        raise LorawanError("topic", topic)
    try:
        msg = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise LorawanError("json") from None
    if not isinstance(msg, dict):
        raise LorawanError("json", "not an object")
    info = msg.get("deviceInfo") or {}
    dev_eui = _eui(info.get("devEui") or parts[3])
    if msg.get("fPort") != FPORT:
        raise LorawanError("port", f"fPort {msg.get('fPort')!r}")
    frame = _b64(msg.get("data"))
    lamp = devices.lamp(dev_eui)
    if lamp is None:
        raise LorawanError("unknown_device", dev_eui)
    rx = [{"gateway": r.get("gatewayId", ""), "rssi": r.get("rssi"), "snr": r.get("snr")}
          for r in msg.get("rxInfo") or [] if isinstance(r, dict)]
    tx = msg.get("txInfo") or {}
    lora = ((tx.get("modulation") or {}).get("lora")) or {}
    return LorawanUplink("chirpstack", lamp, dev_eui, frame, _time(msg.get("time"), now or time.time()),
                         msg.get("fCnt"), rx, lora.get("spreadingFactor"), tx.get("frequency"),
                         {"application_id": info.get("applicationId") or parts[1], "dev_eui": dev_eui})


def parse_tts_up(topic: str, payload: bytes, devices: DevEuiMap, now: float | None = None) -> LorawanUplink:
    parts = topic.split("/")
    if len(parts) != 5 or parts[0] != "v3" or parts[2] != "devices" or parts[4] != "up":
        raise LorawanError("topic", topic)
    try:
        msg = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise LorawanError("json") from None
    if not isinstance(msg, dict) or not isinstance(msg.get("uplink_message"), dict):
        raise LorawanError("fields", "no uplink_message")
    ids = msg.get("end_device_ids") or {}
    up = msg["uplink_message"]
    dev_eui = _eui(ids.get("dev_eui"))
    if up.get("f_port") != FPORT:
        raise LorawanError("port", f"f_port {up.get('f_port')!r}")
    frame = _b64(up.get("frm_payload"))
    lamp = devices.lamp(dev_eui)
    if lamp is None:
        raise LorawanError("unknown_device", dev_eui)
    rx = [{"gateway": (r.get("gateway_ids") or {}).get("gateway_id", ""), "rssi": r.get("rssi"), "snr": r.get("snr")}
          for r in up.get("rx_metadata") or [] if isinstance(r, dict)]
    lora = (((up.get("settings") or {}).get("data_rate") or {}).get("lora")) or {}
    freq = (up.get("settings") or {}).get("frequency")
    return LorawanUplink("tts", lamp, dev_eui, frame,
                         _time(up.get("received_at") or msg.get("received_at"), now or time.time()),
                         up.get("f_cnt"), rx, lora.get("spreading_factor"), int(freq) if freq else None,
                         {"application": parts[1], "device_id": ids.get("device_id") or parts[3]})


def chirpstack_downlink(application_id: str, dev_eui: str, frame: bytes, confirmed: bool = False) -> tuple[str, bytes]:
    body = {"devEui": dev_eui.lower(), "confirmed": confirmed, "fPort": FPORT,
            "data": base64.b64encode(frame).decode()}
    return f"application/{application_id}/device/{dev_eui.lower()}/command/down", json.dumps(body).encode()


def tts_downlink(application: str, device_id: str, frame: bytes, priority: str = "NORMAL") -> tuple[str, bytes]:
    """application: the id as in the uplink topic (`app` or `app@tenant`)."""
    body = {"downlinks": [{"f_port": FPORT, "frm_payload": base64.b64encode(frame).decode(), "priority": priority}]}
    return f"v3/{application}/devices/{device_id}/down/push", json.dumps(body).encode()


def downlink_for(up: LorawanUplink, frame: bytes) -> tuple[str, bytes]:
    """The downlink message answering `up` through the integration it came from."""
    if up.source == "chirpstack":
        return chirpstack_downlink(up.reply_to["application_id"], up.reply_to["dev_eui"], frame)
    return tts_downlink(up.reply_to["application"], up.reply_to["device_id"], frame)


class LorawanIngest:
    """Routes integration messages by topic to the right parser; counts what it refuses, per reason."""

    def __init__(self, devices: DevEuiMap):
        self.devices = devices
        self.rejects: dict[str, int] = {}
        self.accepted = 0

    def handle(self, topic: str, payload: bytes, now: float | None = None) -> LorawanUplink | None:
        try:
            if topic.startswith("application/"):
                up = parse_chirpstack_up(topic, payload, self.devices, now)
            elif topic.startswith("v3/"):
                up = parse_tts_up(topic, payload, self.devices, now)
            else:
                raise LorawanError("topic", topic)
        except LorawanError as e:
            self.rejects[e.reason] = self.rejects.get(e.reason, 0) + 1
            return None
        self.accepted += 1
        return up
