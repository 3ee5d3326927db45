"""Deliver the frames emulated lamps transmit to an MQTT broker, as their link would: a frame counts as
delivered when the broker acknowledged it (QoS 1 PUBACK), so a lamp keeps in its queue what a broker
outage refused. Downlinks the gateway publishes for a lamp wait here until the lamp's next transmission.

Virtual time runs far faster than the gateway answers (an emulated hour may take a wall second), so a
downlink published in answer to an uplink meets the lamp some transmissions, virtual minutes or hours,
later. `await_downlinks(lamp, n)` gives the lamp a receive window in wall time instead: after each of its
uplinks the sink, and with it the whole lockstep fleet, waits up to `window_s` for the gateway's answer,
until n downlinks have reached the lamp, so each arrives with the answer to the uplink it followed.

The gateway answers every uplink with an acknowledgement once it stored it (docs/link.md). The emulated
lamp's link counts a frame delivered at the broker's PUBACK here (the board bus owns the link: transport
HalTransport), so bare acks are not handed to it: they would cost every emulated lamp a decryption and a
flash write per frame for nothing. Configs and commands, which carry an ack too, are. The firmware's own
MQTT transport, which waits for that answer, is tested on MicroPython against the real gateway in
hil_tests/test_kill_during_backlog.py."""
from __future__ import annotations

import threading
import time

import paho.mqtt.client as mqtt

from lampfleet.broker import parse_url
from telemetry import FrameError, peek, topics
from telemetry.downlink import peek_downlink


PUBACK_TIMEOUT_S = 5.0
CONNECT_TIMEOUT_S = 5.0


class MqttSink:
    """`broker_url` is mqtt://host:port or mqtts://host:port (TLS, verified against `ca_file`, or the system's
    CAs when it is empty). With `passwords` ({lamp id: MQTT password}, as `lampfleet broker-config` sets
    them), each lamp logs in as itself on its own connection (client id = user name = lamp id), as a
    deployed lamp does, so the broker's ACL applies to every frame; without, one anonymous connection
    carries the whole fleet (a lab broker)."""

    def __init__(self, broker_url: str, prefix: str = topics.PREFIX, client_id: str = "lampfleet-emulator",
                 passwords: dict[str, str] | None = None, ca_file: str = ""):
        host, port, self._tls = parse_url(broker_url)
        self._address, self._ca_file = (host, port), ca_file
        self.prefix = prefix
        self._inbox: dict[str, list[bytes]] = {}
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._awaited: dict[str, int] = {}  # lamp id -> downlinks still to wait for after its uplinks
        self.window_s = 5.0
        self._passwords = passwords
        self._clients: dict[str, mqtt.Client] = {}  # per lamp, with passwords
        self.client = None if passwords is not None else self._connect(client_id, None, self.prefix + "/+/down")
        self._last = None
        self.sent = 0
        self.last_fcnt16: dict[str, int] = {}  # per lamp, the counter of the latest frame delivered

    def _connect(self, client_id: str, password: str | None, downlinks: str) -> mqtt.Client:
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        if self._tls:
            client.tls_set(ca_certs=self._ca_file or None)
        if password is not None:
            client.username_pw_set(client_id, password)
        client.max_queued_messages_set(0)
        client.max_inflight_messages_set(100)
        client.on_message = self._on_message
        # subscribed again after every reconnection
        client.on_connect = lambda c, userdata, flags, rc, props: c.subscribe(downlinks, qos=1)
        client.connect(*self._address, keepalive=30)
        client.loop_start()
        deadline = time.monotonic() + CONNECT_TIMEOUT_S  # so that the first frame finds it connected
        while not client.is_connected() and time.monotonic() < deadline:
            time.sleep(0.01)
        return client

    def _client_for(self, lamp_id: str) -> mqtt.Client | None:
        if self._passwords is None:
            return self.client
        client = self._clients.get(lamp_id)
        if client is None:
            if lamp_id not in self._passwords:
                return None  # a lamp the broker would refuse: its frames stay in its queue
            client = self._clients[lamp_id] = self._connect(lamp_id, self._passwords[lamp_id],
                                                            topics.downlink(lamp_id, self.prefix))
        return client

    def _on_message(self, client, userdata, message) -> None:
        parsed = topics.parse(message.topic, self.prefix)
        if parsed is not None and parsed[1] == "down":
            try:
                if peek_downlink(bytes(message.payload))["type"] == "ack":
                    return  # a bare acknowledgement (module doc)
            except FrameError:
                pass  # not ours to judge: the lamp's guard refuses it
            with self._lock:
                self._inbox.setdefault(parsed[0], []).append(bytes(message.payload))
                self._arrived.notify_all()

    def __call__(self, lamp_id: str, frame: bytes, t_s: float) -> bool:
        client = self._client_for(lamp_id)
        if client is None or not client.is_connected():
            return False
        info = client.publish(topics.uplink(lamp_id, self.prefix), frame, qos=1)
        self._last = info
        try:
            info.wait_for_publish(timeout=PUBACK_TIMEOUT_S)
        except RuntimeError:  # refused by paho (connection lost meanwhile)
            return False
        if not info.is_published():
            return False
        self.sent += 1
        self.last_fcnt16[lamp_id] = peek(frame)["fcnt16"]
        with self._lock:
            if self._awaited.get(lamp_id):
                self._arrived.wait_for(lambda: self._inbox.get(lamp_id), timeout=self.window_s)
        return True

    def await_downlinks(self, lamp_id: str, count: int, window_s: float | None = None) -> None:
        """Hold the lamp after each uplink (up to window_s of wall time) until `count` more downlinks have
        reached it (module doc). A window that closes empty just lets the lamp go on."""
        with self._lock:
            self._awaited[lamp_id] = self._awaited.get(lamp_id, 0) + count
            if window_s is not None:
                self.window_s = window_s

    def downlinks(self, lamp_id: str) -> list[bytes]:
        with self._lock:
            taken = self._inbox.pop(lamp_id, [])
            if taken and self._awaited.get(lamp_id):
                self._awaited[lamp_id] = max(0, self._awaited[lamp_id] - len(taken))
            return taken

    def close(self) -> None:
        if self._last is not None:
            self._last.wait_for_publish(timeout=30)
        for client in [self.client, *self._clients.values()]:
            if client is not None:
                client.loop_stop()
                client.disconnect()
