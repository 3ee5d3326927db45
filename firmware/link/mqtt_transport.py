"""MQTT transport over WiFi or cellular with `umqtt.simple2` (PyPI micropython-umqtt.simple2, fetched by
`lampfleet/devlibs.py`, installed on the device by the flash tool; never copied into this repository).

    lampfleet/<id>/up       frames, QoS 1: send() returns True once the broker's PUBACK is in and the
                            gateway's answer came back (or answer_timeout_ms passed without it)
    lampfleet/<id>/down     downlinks, QoS 1, subscribed with a persistent session (clean_session False)
                            so that the broker keeps them while the lamp is away; among them the
                            gateway's acknowledgement of each stored frame (ack_fcnt16)

Delivery is end to end (`confirms` False): the link forgets a frame only when the gateway's answer names
it, never on the PUBACK alone, because a broker killed before its next autosave loses what it had
acknowledged. send() waits a little for that answer so that a healthy gateway (which answers within a
batch, milliseconds) costs no backoff; a late answer is still taken by the link (firmware/link/link.py).
    lampfleet/<id>/status   "online" (birth, retained) after each connect; "offline" is the last will

umqtt.simple2 over umqtt.robust: robust retries forever inside publish(), which would starve the lamp's
control loop and watchdog; here every call is bounded and reconnection is this module's job, with
exponential backoff (1 s doubling to 5 min, with jitter) driven from service(). simple2 sends no PINGREQ
by itself: service() pings every keepalive / 2 and drops a session that has heard nothing for 1.5 x
keepalive. TLS: pass ssl=True (and ssl_params) where the board has the memory for it.
"""
import os

try:
    from time import ticks_diff, ticks_ms
except ImportError:  # CPython (tests with a fake client): monotonic milliseconds
    import time as _time

    def ticks_ms():
        return int(_time.monotonic() * 1000)

    def ticks_diff(a, b):
        return a - b

from telemetry import topics

BACKOFF_MIN_MS = 1000
BACKOFF_MAX_MS = 300000


def _simple2_client(**kw):
    from umqtt.simple2 import MQTTClient

    return MQTTClient(**kw)


class MqttTransport:
    confirms = False

    def __init__(self, lamp_id, server, port=1883, user=None, password=None, keepalive=60, ssl=False,
                 ssl_params=None, prefix=topics.PREFIX, client_factory=_simple2_client, puback_timeout_ms=5000,
                 answer_timeout_ms=3000):
        self.lamp_id = lamp_id
        self.up_topic = topics.uplink(lamp_id, prefix).encode()
        self.down_topic = topics.downlink(lamp_id, prefix).encode()
        self.status_topic = topics.status(lamp_id, prefix).encode()
        self.keepalive = keepalive
        self.puback_timeout_ms = puback_timeout_ms
        self.answer_timeout_ms = answer_timeout_ms
        self._kw = {"client_id": lamp_id.encode(), "server": server, "port": port, "user": user,
                    "password": password, "keepalive": keepalive, "ssl": ssl, "ssl_params": ssl_params,
                    "socket_timeout": 2, "message_timeout": max(1, puback_timeout_ms // 1000)}
        self._factory = client_factory
        self._client = None
        self._rx = []
        self._delivered = {}
        self._events = 0
        self._backoff_ms = BACKOFF_MIN_MS
        self._next_try = None
        self._last_ping = 0
        self.stats = {"connects": 0, "connect_errors": 0, "published": 0, "puback_timeouts": 0, "dropped": 0}
        self.last_error = None

    # ------------------------------------------------------------------ session

    def connected(self):
        return self._client is not None

    def _on_message(self, topic, msg, retained=False, dup=False):
        self._events += 1
        if topic == self.down_topic:
            self._rx.append(bytes(msg))

    def _on_status(self, pid, status):
        self._events += 1
        self._delivered[pid] = status  # 1 delivered, 0 timed out, 2 unknown pid

    def connect(self):
        """One connection attempt; True on success. Sends the birth message and subscribes to downlinks."""
        client = self._factory(**self._kw)
        client.set_callback(self._on_message)
        client.set_callback_status(self._on_status)
        client.set_last_will(self.status_topic, b"offline", retain=True, qos=1)
        try:
            client.connect(clean_session=False)
            client.subscribe(self.down_topic, qos=1)
            client.publish(self.status_topic, b"online", retain=True, qos=1)
        except Exception as e:  # noqa: BLE001 - OSError or MQTTException: either way, no session
            self.last_error = repr(e)
            self.stats["connect_errors"] += 1
            try:
                client.disconnect()
            except Exception:  # noqa: BLE001
                pass
            return False
        self._client = client
        self._last_ping = ticks_ms()
        self.stats["connects"] += 1
        return True

    def _drop(self, why):
        self.last_error = why
        self.stats["dropped"] += 1
        client, self._client = self._client, None
        if client is not None:
            try:
                client.sock.close()  # no DISCONNECT packet: the broker should publish the last will
            except Exception:  # noqa: BLE001
                pass

    def _jitter(self, ms):
        return ms + (os.urandom(1)[0] * ms) // 1024

    def service(self, now_ms=None):
        """Reconnect when due (with backoff), keep the session alive, collect downlinks."""
        now = ticks_ms()
        if self._client is None:
            if self._next_try is not None and ticks_diff(self._next_try, now) > 0:
                return
            if self.connect():
                self._backoff_ms = BACKOFF_MIN_MS
                self._next_try = None
            else:
                self._next_try = now + self._jitter(self._backoff_ms)
                self._backoff_ms = min(BACKOFF_MAX_MS, self._backoff_ms * 2)
            return
        try:
            if self.keepalive and ticks_diff(now, self._last_ping) >= self.keepalive * 500:
                self._client.ping()
                self._last_ping = now
            self._pump()
            if self.keepalive and ticks_diff(now, self._client.last_cpacket) > self.keepalive * 1500:
                self._drop("broker silent for 1.5 x keepalive")
        except Exception as e:  # noqa: BLE001
            self._drop(repr(e))

    def _pump(self, rounds=8):
        # check_msg() handles one packet, or waits 1 ms for one: stop at the first call that brought nothing.
        for _ in range(rounds):
            before = self._events
            if self._client.check_msg() is None and self._events == before:
                return

    # ------------------------------------------------------------------ transport interface

    def send(self, frame, now_ms=None):
        if self._client is None:
            return False
        try:
            pid = self._client.publish(self.up_topic, frame, qos=1)
            self.stats["published"] += 1
            start = ticks_ms()
            while pid not in self._delivered:
                if ticks_diff(ticks_ms(), start) > self.puback_timeout_ms:
                    self.stats["puback_timeouts"] += 1
                    self._drop("no PUBACK within %d ms" % self.puback_timeout_ms)
                    return False
                self._client.check_msg()
            status = self._delivered.pop(pid)
        except Exception as e:  # noqa: BLE001
            self._drop(repr(e))
            return False
        if status != 1:
            self.stats["puback_timeouts"] += 1
            self._drop("message %d not acknowledged" % pid)
            return False
        self._await_answer()
        return True

    def _await_answer(self):
        """Pump until a downlink arrives (the gateway's answer), at most answer_timeout_ms."""
        waiting = len(self._rx)
        start = ticks_ms()
        try:
            while len(self._rx) == waiting and ticks_diff(ticks_ms(), start) < self.answer_timeout_ms:
                self._client.check_msg()
        except Exception as e:  # noqa: BLE001
            self._drop(repr(e))

    def poll(self):
        if self._client is not None:
            try:
                self._pump()
            except Exception as e:  # noqa: BLE001
                self._drop(repr(e))
        out = self._rx
        self._rx = []
        return out

    def airtime_us(self, n):
        return 0

    def wait_ms(self, n, now_ms):
        return 0

    def close(self):
        """Orderly goodbye: retained "offline", then DISCONNECT (no last will)."""
        if self._client is not None:
            try:
                self._client.publish(self.status_topic, b"offline", retain=True, qos=1)
                self._pump(2)
                self._client.disconnect()
            except Exception:  # noqa: BLE001
                pass
            self._client = None
