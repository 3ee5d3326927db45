"""The gateway service: MQTT in, verify/decode, store, detect, alert.

paho's network thread only enqueues messages; one worker thread does everything else, in batches, so
SQLite has a single writer and a batch costs one transaction.
"""
from __future__ import annotations

import logging
import queue
import threading
import time

import paho.mqtt.client as mqtt

from telemetry import topics

from gateway import db
from gateway.alerts import Alerts
from gateway.detect import Detector
from gateway.ingest import Ingest
from gateway.registry import Registry
from gateway.settings import Settings
from gateway.store import Store

log = logging.getLogger("lampfleet.gateway")
BATCH_MAX = 1000
BATCH_WAIT_S = 0.05


class Gateway:
    """Everything but the network: `handle()` one message, `flush()` a batch. Used by the service,
    the tests and the ingest benchmark."""

    def __init__(self, settings: Settings, publish=None):
        self.settings = settings
        self.conn = db.connect(settings.database)
        self.registry = Registry(self.conn)
        self.ingest = Ingest(self.registry, settings.topic_prefix)
        self.store = Store(self.conn)
        self.detector = Detector(settings.raise_after, settings.clear_after, settings.silent_after_intervals)
        self.alerts = Alerts(self.conn, publish, lambda lamp_id: topics.alert(lamp_id, settings.topic_prefix))
        self.device_now_s = 0
        self.raised: list[dict] = []

    def now_s(self) -> int:
        return self.device_now_s if self.settings.clock == "device" else int(time.time())

    def handle(self, topic: str, payload: bytes, rx_s: float | None = None) -> None:
        if self.settings.clock == "device" and rx_s is None:
            # Emulated fleets live in virtual time: judge frame times against the fleet's own clock.
            rx_s = max(self.device_now_s, 1)
        result = self.ingest.process(topic, payload, time.time() if rx_s is None else rx_s)
        if result is None:
            return
        lamp, frame = result
        t = frame.get("time_s")
        if t is not None:
            lamp.last_seen_s = max(lamp.last_seen_s or 0, t)
            self.device_now_s = max(self.device_now_s, t)
        self.store.add(lamp, frame, time.time())
        for finding in self.detector.observe_frame(lamp, frame):
            self._alert(lamp, finding)

    def _alert(self, lamp, finding) -> None:
        alert = self.alerts.apply(lamp, finding)
        if alert is not None:
            self.raised.append(alert)

    def flush(self) -> None:
        self.store.flush()
        for lamp in self.registry.all():
            self.registry.save_progress(lamp)
        for finding in self.detector.check_silence(self.registry.all(), self.now_s()):
            lamp = self.registry.by_id(finding.lamp_id)
            if lamp is not None:
                self._alert(lamp, finding)

    def close(self) -> None:
        self.flush()
        self.conn.close()


class GatewayService:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.inbox: queue.Queue[tuple[str, bytes, float]] = queue.Queue()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=settings.client_id,
                                  clean_session=False)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.gateway = Gateway(settings, publish=lambda topic, body: self.client.publish(topic, body, qos=1))
        self.stopping = threading.Event()
        self.ready = threading.Event()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("broker refused the connection: %s", reason_code)
            return
        client.subscribe(topics.uplink("+", self.settings.topic_prefix), qos=1)
        log.info("connected to %s, subscribed", self.settings.broker_url)
        self.ready.set()

    def _on_message(self, client, userdata, msg) -> None:
        self.inbox.put((msg.topic, bytes(msg.payload), time.time()))

    def run(self) -> None:
        host, port = self.settings.broker_host_port
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.client.connect_async(host, port, keepalive=30)
        self.client.loop_start()
        try:
            while not self.stopping.is_set():
                self._drain_batch()
        finally:
            self._drain_batch(wait=False)
            self.gateway.close()
            self.client.loop_stop()
            self.client.disconnect()

    def _drain_batch(self, wait: bool = True) -> None:
        gw = self.gateway
        try:
            item = self.inbox.get(timeout=0.5) if wait else self.inbox.get_nowait()
        except queue.Empty:
            gw.flush()
            return
        batch = [item]
        deadline = time.monotonic() + BATCH_WAIT_S
        while len(batch) < BATCH_MAX:
            try:
                batch.append(self.inbox.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        device_clock = self.settings.clock == "device"
        for topic, payload, rx_s in batch:
            gw.handle(topic, payload, None if device_clock else rx_s)
        gw.flush()
