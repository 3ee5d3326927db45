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
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

log = logging.getLogger("lampfleet.gateway.lorawan")
FPORT = 10
LOG_FIRST = 20  # refusals logged per reason; then every 1000th (all are counted)
CHIRPSTACK_UP = "application/+/device/+/event/up"
TTS_UP = "v3/+/devices/+/up"
# Every refusal's reason. Anyone allowed to publish on the integration topics can send anything: each field
# is checked for its type and range before use, and only the fields a frame needs refuse it (routing: the
# device, the port, the payload, the ids of the downlink topic); bad radio metadata is dropped to None.
REASONS = ("json", "size", "fields", "port", "unknown_device", "topic")
MAX_PAYLOAD = 64 * 1024  # a TTS uplink heard by 20 gateways is ~12 KB of metadata: a bound, not a tight fit
MAX_DEPTH = 32  # TTS nests 5 deep (uplink_message.settings.data_rate.lora.*); deeper JSON is refused
MAX_RX = 16  # receiving gateways kept per uplink
MAX_TEXT = 100  # gateway ids and times kept at most this long
# Ids that go into a downlink topic: no MQTT wildcard or level separator, no NUL or control characters.
# ChirpStack uses UUIDs; TTS ids are lowercase letters, digits and dashes, `app@tenant` on multi-tenant stacks.
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,99}")
# One linear pass: a string (possessive, and an unterminated one runs to the end, so no quote is scanned
# twice) or a bracket. Only brackets outside strings count.
_EUI = re.compile(r"[0-9A-Fa-f]{16}")
_DIGITS = re.compile(r"[0-9]{1,10}")  # str.isdigit() takes "²", which int() refuses
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*+(?:"|\\?\Z)|[\[\]{}]', re.DOTALL)


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


def _load(payload: bytes) -> dict:
    """The message as a JSON object, its size and nesting bounded before the parser recurses into it."""
    if not isinstance(payload, (bytes, bytearray)):
        raise LorawanError("json", "not bytes")
    if len(payload) > MAX_PAYLOAD:
        raise LorawanError("size", f"{len(payload)} bytes (at most {MAX_PAYLOAD})")
    if payload.count(b"[") + payload.count(b"{") > MAX_DEPTH:  # only then can it nest too deep: measure
        depth = 0
        for token in _TOKENS.findall(payload):
            if token in (b"[", b"{"):
                depth += 1
                if depth > MAX_DEPTH:
                    raise LorawanError("json", f"nested deeper than {MAX_DEPTH}")
            elif token in (b"]", b"}"):
                depth -= 1
    try:
        msg = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: a belt under the braces
        raise LorawanError("json") from None
    if not isinstance(msg, dict):
        raise LorawanError("json", "not an object")
    return msg


def _obj(value: Any) -> dict:
    """An optional sub-object: a dict, or empty when absent or of another type (metadata only)."""
    return value if isinstance(value, dict) else {}


def _required_obj(msg: dict, key: str) -> dict:
    value = msg.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise LorawanError("fields", f"{key} is not an object")
    return value


def _int(value: Any, low: int, high: int) -> int | None:
    """An integer in [low, high], or None (bools, floats, text and out-of-range values are dropped)."""
    if type(value) is int and low <= value <= high:
        return value
    return None


def _number(value: Any, low: float, high: float) -> float | int | None:
    if type(value) in (int, float) and low <= value <= high:  # NaN fails both comparisons
        return value
    return None


def _text(value: Any) -> str:
    return value[:MAX_TEXT] if isinstance(value, str) else ""


def _safe_id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _SAFE_ID.fullmatch(value):
        raise LorawanError("fields", f"{what} {str(value)[:40]!r}")
    return value


def _rx(entries: Any, gateway_of) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    if not isinstance(entries, list):
        return []
    return [{"gateway": _text(gateway_of(r)), "rssi": _number(r.get("rssi"), -200, 50),
             "snr": _number(r.get("snr"), -50, 50)}
            for r in entries[:MAX_RX] if isinstance(r, dict)]


def _freq(value: Any) -> int | None:
    if isinstance(value, str) and _DIGITS.fullmatch(value):  # TTS sends uint64 as text
        value = int(value)
    return _int(value, 100_000_000, 1_100_000_000)


def _time(text: Any, default: float) -> float:
    if not text or not isinstance(text, str) or len(text) > 64:
        return default
    try:
        t = text.replace("Z", "+00:00")
        head, dot, rest = t.partition(".")
        if dot:  # nanoseconds (TTS) are more digits than datetime takes
            digits = "".join(ch for ch in rest if ch.isdigit())
            t = head + "." + digits[:6] + rest[len(digits):]
        return datetime.fromisoformat(t).timestamp()
    except (ValueError, OverflowError, OSError):
        return default


def _b64(text) -> bytes:
    if not isinstance(text, str):
        raise LorawanError("fields", "payload is not base64 text")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise LorawanError("fields", "payload is not valid base64") from None


def _eui(text) -> str:
    if not isinstance(text, str) or not _EUI.fullmatch(text):  # (int(text, 16) would take "_", " ", "+")
        raise LorawanError("fields", f"DevEUI {str(text)[:40]!r}")
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
    msg = _load(payload)
    info = _required_obj(msg, "deviceInfo")
    dev_eui = _eui(info.get("devEui") or parts[3])
    port = msg.get("fPort")
    if type(port) is not int or port != FPORT:
        raise LorawanError("port", f"fPort {str(port)[:20]!r}")
    frame = _b64(msg.get("data"))
    lamp = devices.lamp(dev_eui)
    if lamp is None:
        raise LorawanError("unknown_device", dev_eui)
    application = _safe_id(info.get("applicationId") or parts[1], "applicationId")
    tx = _obj(msg.get("txInfo"))
    lora = _obj(_obj(tx.get("modulation")).get("lora"))
    return LorawanUplink("chirpstack", lamp, dev_eui, frame, _time(msg.get("time"), now or time.time()),
                         _int(msg.get("fCnt"), 0, 0xFFFFFFFF), _rx(msg.get("rxInfo"), lambda r: r.get("gatewayId")),
                         _int(lora.get("spreadingFactor"), 5, 12), _freq(tx.get("frequency")),
                         {"application_id": application, "dev_eui": dev_eui})


def parse_tts_up(topic: str, payload: bytes, devices: DevEuiMap, now: float | None = None) -> LorawanUplink:
    parts = topic.split("/")
    if len(parts) != 5 or parts[0] != "v3" or parts[2] != "devices" or parts[4] != "up":
        raise LorawanError("topic", topic)
    msg = _load(payload)
    if not isinstance(msg.get("uplink_message"), dict):
        raise LorawanError("fields", "no uplink_message")
    ids = _required_obj(msg, "end_device_ids")
    up = msg["uplink_message"]
    dev_eui = _eui(ids.get("dev_eui"))
    port = up.get("f_port")
    if type(port) is not int or port != FPORT:
        raise LorawanError("port", f"f_port {str(port)[:20]!r}")
    frame = _b64(up.get("frm_payload"))
    lamp = devices.lamp(dev_eui)
    if lamp is None:
        raise LorawanError("unknown_device", dev_eui)
    application = _safe_id(parts[1], "application id")
    device_id = _safe_id(ids.get("device_id") or parts[3], "device_id")
    settings = _obj(up.get("settings"))
    lora = _obj(_obj(settings.get("data_rate")).get("lora"))
    return LorawanUplink("tts", lamp, dev_eui, frame,
                         _time(up.get("received_at") or msg.get("received_at"), now or time.time()),
                         _int(up.get("f_cnt"), 0, 0xFFFFFFFF),
                         _rx(up.get("rx_metadata"), lambda r: _obj(r.get("gateway_ids")).get("gateway_id")),
                         _int(lora.get("spreading_factor"), 5, 12), _freq(settings.get("frequency")),
                         {"application": application, "device_id": device_id})


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
            n = self.rejects[e.reason] = self.rejects.get(e.reason, 0) + 1
            if n <= LOG_FIRST or n % 1000 == 0:  # %.100r: the publisher's text, escaped and cut short
                log.warning("refused LoRaWAN message on %.100r: %.200r (%d so far)", topic, str(e), n)
            return None
        self.accepted += 1
        return up
