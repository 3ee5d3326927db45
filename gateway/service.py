"""The gateway service: MQTT in, verify/decode, store, detect, alert, notify.

paho's network thread only enqueues messages; one worker thread does everything else, in batches, so
SQLite has a single writer and a batch costs one transaction. Exactly once, end to end: the gateway
subscribes with QoS 1 on a persistent session and acknowledges each message by hand only after the
batch that holds it is committed (paho `manual_ack`). A crash before the commit leaves the messages
unacknowledged, so the broker delivers them again; a crash after the commit but before the ack makes
the broker deliver them again too, and the store's (lamp, frame counter) key ignores them.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
import traceback
from collections import Counter, deque

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from telemetry import topics

from gateway import db, fleet, influx
from gateway.alerts import Alerts
from gateway.detect import Detector, Finding
from gateway.ingest import LOG_FIRST, Ingest
from gateway.link.replay import DUPLICATE, NEW, SUSPICIOUS
from gateway.keystore import KeyStore
from gateway.link.lamp_guard import LampGuard
from gateway.notify import Dispatcher
from gateway.registry import Lamp, Registry
from gateway.retention import Retention
from gateway.settings import Settings
from gateway.store import Store

log = logging.getLogger("lampfleet.gateway")
BATCH_MAX = 1000
BATCH_WAIT_S = 0.005
TICK_EVERY_S = 1.0
DEVICE_DETECT_EVERY_S = 300  # device clock: time rules every 5 device minutes, whatever the wall clock
CLOCK_SET_S = 1_577_836_800  # 2020-01-01: device times before this come from an unset clock
RADIO_TOPIC = "@radio"  # inbox entries from a serial bridge: the lamp is found by the frame's DevAddr
# Verdicts that get an answer. A held (suspicious) frame too: a lamp that really jumped would otherwise resend
# it forever instead of sending the next frame that confirms it.
ANSWERED = (NEW, DUPLICATE, SUSPICIOUS)
LORAWAN_TOPICS = {"chirpstack": "application/+/device/+/event/up", "tts": "v3/+/devices/+/up"}


class Gateway:
    """Everything but the network: `handle()` one message, `flush()` a batch, `tick()` the clock.
    Used by the service, the tests and the ingest benchmark."""

    def __init__(self, settings: Settings, publish=None, keystore: KeyStore | None = None):  # type: ignore[no-untyped-def]
        self.settings = settings
        self.conn = db.connect(settings.database)
        if keystore is None:
            memory = str(settings.database) == ":memory:"
            keystore = KeyStore.ephemeral() if memory else KeyStore.open(settings.master_key_path)
        self.registry = Registry(self.conn, keystore)
        d = settings.detect
        self.ingest = Ingest(self.registry, settings.topic_prefix, LampGuard(
            auth_failures=d.auth_failures, auth_window_s=d.auth_window_s, auth_in_a_row=d.auth_in_a_row,
            replay_alert=d.replay_alert))
        self._rejects_saved: dict[str, int] = {}  # rejection counts already added to the table
        self.store = Store(self.conn, self.ingest.replay)  # the replay bitmap is saved with each batch
        a = settings.alerts
        self.detector = Detector(settings.detect_settings(), a.utc_offset_s)
        self.alerts = Alerts(self.conn, publish, lambda lamp_id: topics.alert(lamp_id, settings.topic_prefix),
                             a.language, a.utc_offset_s)
        self.dispatcher = Dispatcher(self.conn, settings, self.registry)
        self.retention = Retention(self.conn, settings.storage.raw_retention_days, a.utc_offset_s,
                                   settings.storage.downsample_every_s)
        if settings.influx.url:
            influx.enable_spool(self.conn)
        else:
            influx.disable_spool(self.conn)
        self.device_now_s = max((lamp.last_seen_s or 0 for lamp in self.registry.all()), default=0)
        self.raised: deque[dict] = deque(maxlen=1000)  # the latest lifecycle changes, for tests and demos
        self.on_notify = lambda: None  # the service wakes its sender here
        self._stale_before = 0  # moved forward by tick()
        self._device_clock = settings.clock == "device"
        self._next_detect_s = 0
        self._restore_open_alerts()
        self._restore_cadences()
        self._audit_seen = self.conn.execute("SELECT coalesce(max(id), 0) FROM audit").fetchone()[0]
        self._up_prefix = settings.topic_prefix + "/"
        self.lorawan = None
        if settings.link.lorawan:
            from gateway.link.lorawan import DevEuiMap, LorawanIngest

            if settings.link.lorawan not in LORAWAN_TOPICS:
                raise ValueError(f"[link] lorawan = {settings.link.lorawan!r}: chirpstack, tts or empty")
            self.lorawan = LorawanIngest(DevEuiMap(dict(settings.link.lorawan_devices)))
        from gateway.link.downlinks import DownlinkQueue

        # Same database (`lampfleet downlink` queues into it). An emulated fleet's time sync sets lamps to
        # the fleet's virtual time (as frames are judged by it); resends stay paced by the wall clock, which
        # the gateway's lag behind a fast emulation cannot make look like minutes without an answer.
        self.downlinks = DownlinkQueue(self.conn, time_source=self.now_s if self._device_clock else None)
        self.dlacks: Counter[str] = Counter()  # dlacks accepted, by result ("unmatched": named nothing open)
        self._publish = publish
        self._mqtt_answers: dict[str, tuple[Lamp, int]] = {}  # lamp id -> (lamp, fcnt16) to acknowledge
        # Bare acks may go at QoS 0 (the service sets it): one lost, or one for a lamp that is offline, only
        # makes the lamp send its frame again and be answered again; configs and commands go at QoS 1.
        self.publish_ack = publish
        self._downlinks_waiting: set[str] = set()  # lamps with pending downlinks, refreshed by tick()
        self._refresh_downlinks()
        self.radio_meta: dict[str, dict] = {}  # lamp id -> RSSI/SNR/receive time of its latest radio uplink

    def _restore_open_alerts(self) -> None:
        """After a restart the detector knows which alerts are open, so that a repair clears them."""
        for lamp_id, fault, raised_s in self.conn.execute(
                "SELECT lamp_id, fault, raised_s FROM alerts WHERE state != 'resolved'"):
            rule = self.detector.track(lamp_id).rule(fault)
            rule.active, rule.since_s = True, raised_s
            self.ingest.guard.restore_open(lamp_id, fault)

    def _restore_cadences(self) -> None:
        """The cadence each lamp showed (a LoRa lamp's hours), from its stored readings: after a restart a
        lamp reporting every 11 h by day is not judged on its registry's minutes until it has spoken twice."""
        for lamp in self.registry.all():
            self.detector.track(lamp.lamp_id).gaps = fleet.recent_gaps(self.conn, lamp.lamp_id)

    def now_s(self) -> int:
        return self.device_now_s if self.settings.clock == "device" else int(time.time())

    def _rx_s(self, rx_s: float | None) -> float:
        """When a frame arrived: rx_s, or now. Emulated fleets live in virtual time: their frame times are
        judged against the fleet's own clock, its newest device time."""
        if rx_s is not None:
            return rx_s
        return max(self.device_now_s, 1) if self.settings.clock == "device" else time.time()

    def handle(self, topic: str, payload: bytes, rx_s: float | None = None) -> None:
        rx = self._rx_s(rx_s)
        if not topic.startswith(self._up_prefix):
            result = self._radio(topic, payload, rx)
            if result is not None:
                self._accept(*result)
            return
        lamp = self.ingest.lamp_for_topic(topic)
        if lamp is None:
            return
        verdict, frame = self.ingest.check(lamp, payload, rx, topic)
        if frame is not None:
            self._accept(lamp, frame)
        if verdict in ANSWERED and self._publish is not None:
            # Answered once the batch is committed (flush): the lamp forgets the frame on this answer only.
            self._mqtt_answers[lamp.lamp_id] = (lamp, payload[4] | payload[5] << 8)

    def answer(self, frame: bytes, rx_s: float | None, ack: bool = True,
               where: str = "radio") -> tuple[str, bytes | None]:
        """A radio uplink whose answer goes back in its receive window (a LoRa bridge: class A, within 1 s).
        Verified and accepted as `handle` does; then the downlink to transmit: the oldest queued config or
        command carrying the acknowledgement of this uplink, else a bare ack (`ack` False: only a queued
        request, as behind a LoRaWAN network server, which acknowledges by itself). A duplicate (a second
        bridge, a resend after a lost acknowledgement) is acknowledged again, not stored; anything refused
        gets no answer. Returns (verdict, downlink or None). rx_s None: now (an emulated fleet's clock)."""
        lamp = self.ingest.lamp_for_frame(frame, where)
        if lamp is None:
            return "refused", None
        return self.answer_lamp(lamp, frame, rx_s, ack, where)

    def answer_lamp(self, lamp: Lamp, frame: bytes, rx_s: float | None, ack: bool = True,
                    where: str = "radio") -> tuple[str, bytes | None]:
        """`answer` for a frame whose lamp is already known (lamp_for_frame)."""
        verdict, decoded = self.ingest.check(lamp, frame, self._rx_s(rx_s), where)
        if decoded is not None:
            self._accept(lamp, decoded)
        if verdict not in ANSWERED:
            return verdict, None
        ack16 = frame[4] | frame[5] << 8 if ack else None
        return verdict, self.downlinks.reply(lamp.lamp_id, lamp.devaddr, lamp.key, ack_fcnt16=ack16)

    def _radio(self, topic: str, payload: bytes, rx_s: float):  # type: ignore[no-untyped-def]
        """A frame from a serial bridge (RADIO_TOPIC) or a LoRaWAN integration message: same checks."""
        if topic == RADIO_TOPIC:
            lamp = self.ingest.lamp_for_frame(payload, "serial bridge")
            return None if lamp is None else self.ingest.verify(lamp, payload, rx_s, "serial bridge")
        if self.lorawan is None:
            return self.ingest.process(topic, payload, rx_s)  # counted as `topic`
        up = self.lorawan.handle(topic, payload, rx_s)
        if up is None:
            return None
        lamp = self.registry.by_id(up.lamp_id)
        if lamp is None:
            self.ingest.rejects["unknown_device"] += 1
            return None
        result = self.ingest.verify(lamp, up.frame, rx_s if self._device_clock else up.rx_time, topic)
        if result is not None and self._publish is not None and lamp.lamp_id in self._downlinks_waiting:
            # The network server acknowledges by itself: only a queued config or command goes back, through
            # the integration the uplink came from, for the device's next receive window.
            from gateway.link.lorawan import downlink_for

            frame = self.downlinks.reply(lamp.lamp_id, lamp.devaddr, lamp.key)
            if frame is not None:
                self._publish(*downlink_for(up, frame))
        if result is not None:
            best = max(up.rx, key=lambda r: r.get("rssi") or -999, default={})
            self.radio_meta[lamp.lamp_id] = {"via": up.source, "rssi": best.get("rssi"), "snr": best.get("snr"),
                                             "rx_time": up.rx_time, "sf": up.sf, "freq_khz":
                                             up.freq_hz // 1000 if up.freq_hz else None}
        return result

    def _accept(self, lamp: Lamp, frame: dict) -> None:
        """A new authentic frame: stored and judged, or for a dlack its downlink closed. A frame the store
        holds already is neither judged nor (a dlack) allowed to close a downlink again."""
        known_new = not self.ingest.maybe_stored
        released = self.ingest.released
        if released:  # a counter jump confirmed by this frame: the frame held before it comes first
            self.ingest.released = []
            for held_lamp, held in released:
                self._accept_one(held_lamp, held, True)
        self._accept_one(lamp, frame, known_new)

    def _accept_one(self, lamp: Lamp, frame: dict, known_new: bool) -> None:
        if frame["type"] == "dlack":
            if not known_new:  # restored without a bitmap: it may have closed its downlink before the restart
                self.store.progress(lamp)
                return
            self._dlack(lamp, frame)
            return
        t = frame["time_s"]
        if lamp.last_seen_s is None or t > lamp.last_seen_s:
            lamp.last_seen_s = t
        if t > self.device_now_s:
            self.device_now_s = t
        if not self.store.add(lamp, frame, time.time(), known_new):
            self.store.progress(lamp)
            return
        for finding in self.detector.observe_frame(lamp, frame, self.now_s()):
            # a frame may settle another lamp's comparison with its site (gateway/peers.py)
            about = lamp if finding.lamp_id == lamp.lamp_id else self.registry.by_id(finding.lamp_id)
            if about is not None:
                self._alert(about, finding)
        if self._device_clock and t >= self._next_detect_s:
            # Emulated fleets run far faster than the wall-clock tick: time rules follow device time so
            # that their order against frame rules does not depend on the machine's speed.
            self._detect_tick(self.device_now_s)

    def _dlack(self, lamp: Lamp, frame: dict) -> None:
        """The lamp's answer to a config or command: its entry in the queue ends `acked` with the result.
        Nothing goes to readings or events; the lamp's counter moves on with the batch."""
        self.store.progress(lamp)
        entry = self.downlinks.acknowledged(lamp.lamp_id, frame["dl_id"], frame["result"])
        self.dlacks["unmatched" if entry is None else frame["result"]] += 1
        if entry is None:
            log.info("dlack from %s for downlink %d (%s) names nothing open", lamp.lamp_id, frame["dl_id"],
                     frame["result"])
        else:
            log.info("downlink %d to %s acknowledged: %s", entry, lamp.lamp_id, frame["result"])

    def _refresh_downlinks(self) -> None:
        self._downlinks_waiting = {r[0] for r in self.conn.execute(
            "SELECT DISTINCT lamp_id FROM downlinks WHERE state='pending'")}

    def _send_mqtt_answers(self) -> None:
        """After the commit: each lamp whose MQTT uplinks were in the batch gets the acknowledgement of its
        latest one on lampfleet/<id>/down (a lamp has one frame in flight), carrying its oldest queued
        config or command if any. Only now may the lamp forget the frame: it is in the database."""
        if not self._mqtt_answers:
            return
        waiting = self._downlinks_waiting
        carrying = [(lp.lamp_id, lp.devaddr, lp.key, ack16) for lp, ack16 in self._mqtt_answers.values()
                    if lp.lamp_id in waiting]
        bare = [(lp.lamp_id, lp.devaddr, lp.key, ack16) for lp, ack16 in self._mqtt_answers.values()
                if lp.lamp_id not in waiting]
        self._mqtt_answers.clear()
        prefix = self.settings.topic_prefix
        for uplink, frame in zip(carrying, self.downlinks.replies(carrying)):
            if frame is not None:
                self._publish(topics.downlink(uplink[0], prefix), frame)  # type: ignore[misc]
        publish_ack = self.publish_ack
        for uplink, frame in zip(bare, self.downlinks.bare_acks(bare)):
            publish_ack(topics.downlink(uplink[0], prefix), frame)  # type: ignore[misc]

    def _alert(self, lamp: Lamp, finding: Finding) -> None:
        alert = self.alerts.apply(lamp, finding, self.now_s())
        if alert is not None:
            self.raised.append(alert)

    def flush(self, tick: bool = True) -> None:
        """Commit the batch (readings and progress in one transaction); then, by default, `tick()`."""
        for lamp, finding in self.ingest.guard.take_findings():  # ingest's security findings
            self._alert(lamp, finding)
        self.store.flush()
        self._save_rejects()
        self._send_mqtt_answers()
        if tick:
            self.tick()

    def _save_rejects(self) -> None:
        """Add the rejections counted since the last flush to the `rejects` table (totals per reason,
        kept across restarts for `lampfleet status` and operators)."""
        saved = self._rejects_saved
        counts = dict(self.ingest.rejects)
        if self.lorawan is not None:  # the integration's own refusals, before any frame: "lorawan_json", ...
            counts.update((f"lorawan_{reason}", n) for reason, n in self.lorawan.rejects.items())
        deltas = [(reason, n - saved.get(reason, 0)) for reason, n in counts.items()
                  if n != saved.get(reason, 0)]
        if not deltas:
            return
        with self.conn:
            self.conn.executemany(
                "INSERT INTO rejects (reason, count) VALUES (?, ?) "
                "ON CONFLICT(reason) DO UPDATE SET count = count + excluded.count", deltas)
        saved.update(counts)

    def tick(self, now_s: int | None = None) -> None:
        """Time-driven work: silence and daily rules, manual actions, notifications, retention."""
        now = self.now_s() if now_s is None else now_s
        if now <= 0:
            return
        self._stale_before = self.ingest.stale_before = self.retention.horizon_s(now)
        if self.registry.changed_elsewhere():
            self.registry.reload()
        self._detect_tick(now)
        self._refresh_downlinks()
        self._sync_manual_actions()
        if self.dispatcher.tick(now):
            self.on_notify()
        if self.retention.due(now):
            self.store.flush()
            self.retention.run(now, self.store.oldest_new_s)
            self.store.oldest_new_s = None

    def _detect_tick(self, now: int) -> None:
        self._next_detect_s = now + DEVICE_DETECT_EVERY_S
        for finding in self.detector.tick(self.registry.all(), now):
            lamp = self.registry.by_id(finding.lamp_id)
            if lamp is not None:
                self._alert(lamp, finding)

    def _sync_manual_actions(self) -> None:
        """Acks and resolutions made by people (CLI, API) since the last tick: publish them on MQTT, and
        let the detector judge a manually resolved fault again from scratch."""
        rows = self.conn.execute(
            "SELECT id, alert_id, action, actor, detail FROM audit WHERE id > ? AND actor != 'gateway' "
            "AND action IN ('ack', 'resolve') ORDER BY id", (self._audit_seen,)).fetchall()
        last = self.conn.execute("SELECT coalesce(max(id), 0) FROM audit").fetchone()[0]
        self._audit_seen = max(self._audit_seen, last)
        for _id, alert_id, action, actor, _detail in rows:
            alert = self.alerts.get(alert_id)
            if alert is None:
                continue
            if action == "resolve":
                self.detector.reset(alert["lamp_id"], alert["fault"])
                self.ingest.guard.reset(alert["lamp_id"], alert["fault"])
            self.alerts._publish(alert["lamp_id"], {
                "id": alert["id"], "lamp_id": alert["lamp_id"], "site": alert["site"], "district": alert["district"],
                "crew": alert["crew"], "kind": alert["kind"], "fault": alert["fault"], "severity": alert["severity"],
                "state": alert["state"], "since_s": alert["raised_s"],
                "at_s": alert["ack_s"] if action == "ack" else alert["resolved_s"], "evidence": alert["evidence"],
                "message": f"{action} by {actor}"})

    def close(self) -> None:
        self.flush()
        self.conn.close()


class GatewayService:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.inbox: queue.SimpleQueue[tuple[str, bytes, float, int, int, int]] = queue.SimpleQueue()
        v5 = settings.mqtt_protocol == 5
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=settings.mqtt_client_id,
                                  protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
                                  clean_session=None if v5 else False, manual_ack=True)
        if settings.mqtt_username:
            self.client.username_pw_set(settings.mqtt_username, settings.mqtt_password)
        if settings.broker_tls:  # verifies the broker's certificate and host name against mqtt_ca_file
            self.client.tls_set(ca_certs=settings.mqtt_ca_file or None)
        # paho retries a failed connection (network, TLS handshake) silently: say so at each retry
        self.client.on_connect_fail = lambda client, userdata: log.warning(
            "cannot connect to %s (network or TLS: is the broker up, is its certificate signed by mqtt_ca_file "
            "and valid for that host name?); retrying", settings.broker_url)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.gateway = Gateway(settings, publish=lambda topic, body: self.client.publish(topic, body, qos=1))
        self.gateway.publish_ack = lambda topic, body: self.client.publish(topic, body, qos=0)
        self.stopping = threading.Event()
        self.ready = threading.Event()
        # Message ids are only valid on the connection that delivered them: acks carry the generation.
        self._generation = 0
        self._ack_lock = threading.Lock()
        self.acked = 0
        self.sender = None
        self.influx = None
        self.api = None
        self.bridges: list = []
        self._gw_lock = threading.Lock()

    def _on_bridge_uplink(self, frame: bytes, meta):  # type: ignore[no-untyped-def]
        """A serial bridge's reader thread: verified and stored at once, under the gateway's lock, because
        the answer (the acknowledgement, and a queued config or command) must reach the bridge inside the
        lamp's receive window (firmware/link/lora_transport.py: turnaround within 1 s)."""
        rx = meta.rx_time
        with self._gw_lock:
            gw = self.gateway
            try:
                lamp = gw.ingest.lamp_for_frame(frame, "serial bridge")
                if lamp is None:
                    return None
                verdict, reply = gw.answer_lamp(lamp, frame, None if self.settings.clock == "device" else rx,
                                                where="serial bridge")
            except Exception as e:  # noqa: BLE001 - contained as in _drain_batch: counted, no answer
                self._contained(e, "serial bridge")
                return None
            gw.flush(tick=False)
            if verdict in (NEW, DUPLICATE):
                gw.radio_meta[lamp.lamp_id] = {"via": meta.bridge, "rssi": meta.rssi, "snr": meta.snr,
                                               "rx_time": rx, "sf": meta.sf, "freq_khz": meta.freq_khz}
        return reply

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:  # type: ignore[no-untyped-def]
        if reason_code.is_failure:
            log.error("broker refused the connection: %s", reason_code)
            return
        with self._ack_lock:
            self._generation += 1
        wanted = [topics.uplink("+", self.settings.topic_prefix)]
        if self.settings.link.lorawan:
            wanted.append(LORAWAN_TOPICS[self.settings.link.lorawan])
        if self.settings.mqtt_protocol == 5:
            client.subscribe([(t, SubscribeOptions(qos=1)) for t in wanted])
        else:
            client.subscribe([(t, 1) for t in wanted])
        log.info("connected to %s (session present: %s), subscribing", self.settings.broker_url,
                 getattr(flags, "session_present", "?"))

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:  # type: ignore[no-untyped-def]
        if any(rc.is_failure for rc in reason_codes):
            log.error("broker refused the subscription: %s", reason_codes)
            return
        log.info("subscribed to %s", topics.uplink("+", self.settings.topic_prefix))
        self.ready.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:  # type: ignore[no-untyped-def]
        with self._ack_lock:
            self._generation += 1
        if not self.stopping.is_set():
            log.warning("disconnected from the broker (%s); reconnecting", reason_code)

    def _on_message(self, client, userdata, msg) -> None:  # type: ignore[no-untyped-def]
        self.inbox.put((msg.topic, msg.payload, time.time(), msg.mid, msg.qos, self._generation))

    def _ack(self, batch: list[tuple[str, bytes, float, int, int, int]]) -> None:
        with self._ack_lock:
            gen = self._generation
            for _topic, _payload, _rx, mid, qos, g in batch:
                if qos and g == gen:
                    self.client.ack(mid, qos)
                    self.acked += 1

    def _start_helpers(self) -> None:
        from gateway.sender import Sender

        s = self.settings
        self.sender = Sender(s.database, self.gateway.dispatcher.urls_for).start()
        self.gateway.on_notify = self.sender.wake.set
        if s.influx.url:
            from gateway.influx import InfluxWriter

            self.influx = InfluxWriter(s.influx, s.database).start()
        if s.api_port:
            from gateway.api.server import ApiServer

            self.api = ApiServer(s, s.api_host, s.api_port).start()

    def run(self) -> None:
        s = self.settings
        host, port = s.broker_host_port
        self._start_helpers()
        if s.link.serial_ports:
            from gateway.link.serial_bridge import SerialBridge

            self.bridges = [SerialBridge(port, self._on_bridge_uplink, baudrate=s.link.serial_baudrate).start()
                            for port in s.link.serial_ports]
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        if s.mqtt_protocol == 5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = s.session_expiry_s
            props.ReceiveMaximum = s.receive_maximum
            self.client.connect_async(host, port, keepalive=30, clean_start=False, properties=props)
        else:
            self.client.connect_async(host, port, keepalive=30)
        self.client.loop_start()
        next_tick = 0.0
        try:
            while not self.stopping.is_set():
                self._drain_batch()
                if time.monotonic() >= next_tick:
                    with self._gw_lock:
                        self.gateway.tick()
                    next_tick = time.monotonic() + TICK_EVERY_S
        finally:
            for bridge in self.bridges:
                bridge.stop()
            while self._drain_batch(wait=False):
                pass
            self.client.disconnect()  # after the last acks, which the network thread still sends
            self.client.loop_stop()
            self.gateway.close()
            for helper in (self.sender, self.influx, self.api):
                if helper is not None:
                    helper.stop()

    def _drain_batch(self, wait: bool = True) -> int:
        gw = self.gateway
        inbox = self.inbox
        try:
            first = inbox.get(timeout=0.2) if wait else inbox.get_nowait()
        except queue.Empty:
            return 0
        batch = [first]
        deadline = time.monotonic() + BATCH_WAIT_S
        while len(batch) < BATCH_MAX:
            try:
                batch.append(inbox.get_nowait())
            except queue.Empty:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    batch.append(inbox.get(timeout=remaining))
                except queue.Empty:
                    break
        handle = gw.handle
        device_clock = self.settings.clock == "device"
        with self._gw_lock:  # serial bridges answer from their own threads (_on_bridge_uplink)
            for topic, payload, rx_s, _mid, _qos, _g in batch:
                try:
                    handle(topic, payload, None if device_clock else rx_s)
                except Exception as e:  # noqa: BLE001 - one message must never stop the service (docs/link.md)
                    self._contained(e, topic)
            gw.flush(tick=False)
        self._ack(batch)  # poison messages too: acknowledged, so that the broker does not deliver them again
        return len(batch)

    def _contained(self, e: Exception, where: str) -> None:
        """A message whose handling raised: counted as `internal_error` (the rejects table), logged rate-limited
        with the exception's type and the code line it came from, never its text (it may quote the input)."""
        rejects = self.gateway.ingest.rejects
        rejects["internal_error"] += 1
        n = rejects["internal_error"]
        if n <= LOG_FIRST or n % 1000 == 0:
            tb = traceback.extract_tb(e.__traceback__)
            at = f"{tb[-1].filename}:{tb[-1].lineno}" if tb else "?"
            log.error("message on %.100r dropped: %s at %s while handling it (%d so far); please report it",
                      where, type(e).__name__, at, n)
