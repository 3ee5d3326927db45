"""Deliver the frames emulated lamps transmit to an MQTT broker, as their link would."""
from __future__ import annotations

import paho.mqtt.client as mqtt

from telemetry import peek, topics


class MqttSink:
    def __init__(self, broker_url: str, prefix: str = topics.PREFIX, client_id: str = "lampfleet-emulator"):
        host, _, port = broker_url.removeprefix("mqtt://").rstrip("/").partition(":")
        self.prefix = prefix
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        self.client.max_queued_messages_set(0)
        self.client.max_inflight_messages_set(100)
        self.client.connect(host or "127.0.0.1", int(port or 1883), keepalive=30)
        self.client.loop_start()
        self._last = None
        self.sent = 0
        self.last_fcnt16: dict[str, int] = {}  # per lamp, the counter of the latest frame delivered

    def __call__(self, lamp_id: str, frame: bytes, t_s: float) -> None:
        self._last = self.client.publish(topics.uplink(lamp_id, self.prefix), frame, qos=1)
        self.sent += 1
        self.last_fcnt16[lamp_id] = peek(frame)["fcnt16"]

    def close(self) -> None:
        if self._last is not None:
            self._last.wait_for_publish(timeout=30)
        self.client.loop_stop()
        self.client.disconnect()
