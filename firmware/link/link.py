"""The lamp's link: every frame goes through the flash queue, leaves when the transport, the duty cycle
and the airtime budget allow, and is forgotten only once delivered. Downlinks are authenticated and
replay-checked here; configs and commands go up to the application, which answers with `acknowledge()`.

    link = Link(transport, FrameQueue("q.bin"), devaddr, key, counter.next, budget=AirtimeBudget())
    link.submit(frame, now_ms)                 # instead of hal.radio_send(frame)
    for dl in link.service(now_ms):            # once per loop
        result = app.apply(dl)                 # "applied" | "invalid" | "unsupported" | "failed"
        link.acknowledge(dl, result, now_ms)

Delivery is end to end on every link: a frame leaves the flash queue only when the gateway says it is
stored, with a downlink whose ack_fcnt16 is the frame's counter (in LoRa's receive window after the
uplink; over MQTT on the lamp's down topic after the gateway committed its batch). A broker's PUBACK is
not enough: a broker that dies before it saved its queue would lose what it had acknowledged. Without an
answer the frame stays at the head and is tried again after a backoff (30 s doubling to an hour, always
within duty cycle and budget), and when a new frame is queued 30 s or more after the last attempt: a dead
gateway costs one attempt per report interval, what the lamp sends anyway, and a run of losses on the
radio never leaves the gateway without news for longer than the losses themselves.
An answer that arrives late (a gateway back from an outage answers the copies the broker kept for it)
still delivers the head frame when it names it, and the queue drains at once.
The frames are wire format v1 (telemetry/codec.py, telemetry/downlink.py); the replay guard is the lamp's.
"""
from telemetry.codec import as_key, encode, reconstruct_fcnt
from telemetry.downlink import decode_downlink, peek_downlink
from telemetry.errors import FrameError
from firmware.link.queue import STATUS_TYPE
from firmware.shell import persist

RETRY_MIN_MS = 30000
RETRY_MAX_MS = 3600000
STATUS_MAX_AGE_MIN = 40 * 1440  # a status frame's minute stamp is placed within about 44 days
RESULT_MEMORY = 8


class DownlinkGuard:
    """Replay protection for downlinks: a counter that only goes up, and the dl_ids applied recently (a
    resent request is acknowledged again, not applied twice). `state()` is what to persist."""

    RECENT = 8

    def __init__(self, devaddr, key, state=None):
        self.devaddr = devaddr
        self.key = as_key(key)
        state = state or {}
        self.last_fcnt = state.get("last_fcnt")
        self.recent = list(state.get("recent", []))

    def open(self, frame):
        """Verify and accept a downlink for this lamp, or raise FrameError (reasons as decode's, plus
        `wrong_device` and `replay`). The dict has `seen` True for a dl_id applied before."""
        head = peek_downlink(frame)
        if head["devaddr"] != self.devaddr:
            raise FrameError("wrong_device", "downlink for 0x%06x" % head["devaddr"])
        fcnt = reconstruct_fcnt(self.last_fcnt, head["fcnt16"])
        out = decode_downlink(frame, self.key, fcnt)
        if self.last_fcnt is not None and fcnt <= self.last_fcnt:
            raise FrameError("replay", "downlink counter %d, last accepted %d" % (fcnt, self.last_fcnt))
        self.last_fcnt = fcnt
        if "dl_id" in out:
            out["seen"] = out["dl_id"] in self.recent
            if not out["seen"]:
                self.recent = (self.recent + [out["dl_id"]])[-self.RECENT:]
        return out

    def state(self):
        return {"last_fcnt": self.last_fcnt, "recent": list(self.recent)}


class Link:
    def __init__(self, transport, queue, devaddr, key, next_fcnt, budget=None, state_path="link.json",
                 max_burst=16, retry_min_ms=RETRY_MIN_MS, retry_max_ms=RETRY_MAX_MS):
        self.transport = transport
        self.queue = queue
        self.devaddr = devaddr
        self.key = key
        self.next_fcnt = next_fcnt
        self.budget = budget
        self.state_path = state_path
        self.max_burst = max_burst
        self.retry_min_ms = retry_min_ms
        self.retry_max_ms = retry_max_ms
        saved = persist.load(state_path, {}) or {}
        self.guard = DownlinkGuard(devaddr, key, saved.get("guard"))
        self._results = dict((int(k), v) for k, v in (saved.get("results") or {}).items())
        self._retry_at = None
        self._tried_ms = 0  # the last attempt that went unanswered
        self._backoff_ms = retry_min_ms
        self._waiting_for_link = False
        self._unanswered = None  # (seq, fcnt16) of the head frame sent without an answer yet
        self.last_delivery_ms = None
        self.downlink_pending = False
        self.stats = {"sent": 0, "delivered": 0, "unacked": 0, "submit_errors": 0, "downlinks": 0,
                      "rejected": {}}

    # ------------------------------------------------------------------ uplink

    def submit(self, frame, now_ms):
        """Queue a frame for delivery (it is on flash when this returns). Returns its queue seq, or None
        when the flash write failed (the caller raises the `storage` fault)."""
        try:
            seq = self.queue.append(frame, now_ms // 60000)
        except OSError:
            self.stats["submit_errors"] += 1
            return None
        # Fresh news is worth a try now: the backoff never makes a lamp wait longer than its own report
        # interval between attempts, so a few frames lost in a row on the radio do not turn into hours of
        # silence at the gateway (which judges silence in report intervals, docs/alert-rules.md).
        if self._retry_at is not None and self._retry_at > now_ms and now_ms - self._tried_ms >= self.retry_min_ms:
            self._retry_at = now_ms
        return seq

    def online(self, now_ms, horizon_ms=3 * 3600000):
        """Did anything get delivered recently?"""
        return self.last_delivery_ms is not None and now_ms - self.last_delivery_ms <= horizon_ms

    def next_due_ms(self, now_ms):
        """When service() next has something to do (None: nothing queued), to bound the loop's sleep."""
        head = self.queue.peek()
        if head is None:
            return None
        frame = head[1]
        t = self.transport
        due = now_ms + t.wait_ms(len(frame), now_ms)
        if self._retry_at is not None and self._retry_at > due:
            due = self._retry_at
        if self.budget is not None:
            priority = frame[0] & 0x0F != STATUS_TYPE or self.queue.has_priority()
            wait = self.budget.wait_ms(t.airtime_us(len(frame)), now_ms, priority)
            if now_ms + wait > due:
                due = now_ms + wait
        return due

    def _may_send(self, frame, now_ms):
        """Do the duty cycle and the airtime budget allow this frame now? (next_due_ms says when.)"""
        t = self.transport
        if t.wait_ms(len(frame), now_ms) > 0:
            return False
        if self.budget is None:
            return True
        priority = frame[0] & 0x0F != STATUS_TYPE or self.queue.has_priority()
        return self.budget.allows(t.airtime_us(len(frame)), now_ms, priority)

    def service(self, now_ms):
        """Send what may be sent now; return the configs and commands received (see module doc)."""
        self.transport.service(now_ms)
        if not self.transport.connected():
            self._waiting_for_link = True
        elif self._waiting_for_link:  # a new session (a broker back from a crash): the moment to try again
            self._waiting_for_link = False
            self._retry_at = None
        out = []
        late = self._downlinks(self.transport.poll(), out)
        if self._unanswered is not None and self._unanswered[1] in late:
            self._delivered(self._unanswered[0], now_ms)
        if self._retry_at is None or now_ms >= self._retry_at:
            self._drain(now_ms, out)
        return out

    def _drain(self, now_ms, out):
        for _ in range(self.max_burst):
            head = self.queue.peek(now_min=now_ms // 60000, max_age_min=STATUS_MAX_AGE_MIN)
            if head is None:
                return
            seq, frame = head
            if not self._may_send(frame, now_ms):
                return
            if not self.transport.connected():
                self._waiting_for_link = True  # retried as soon as the transport reconnects
                self._back_off(now_ms)
                return
            if not self.transport.send(frame, now_ms):
                self._back_off(now_ms)  # not taken: try again later, not on every loop
                return
            self.stats["sent"] += 1
            if self.budget is not None:
                self.budget.spend(self.transport.airtime_us(len(frame)), now_ms)
            fcnt16 = frame[4] | (frame[5] << 8)
            if not self.transport.confirms and fcnt16 not in self._downlinks(self.transport.poll(), out):
                self.stats["unacked"] += 1
                self._unanswered = (seq, fcnt16)
                self._back_off(now_ms)
                return
            self._delivered(seq, now_ms)

    def _delivered(self, seq, now_ms):
        self.queue.ack(seq)
        self._unanswered = None
        self.stats["delivered"] += 1
        self.last_delivery_ms = now_ms
        self._retry_at = None
        self._backoff_ms = self.retry_min_ms

    def _back_off(self, now_ms):
        self._tried_ms = now_ms
        self._retry_at = now_ms + self._backoff_ms
        self._backoff_ms = min(self.retry_max_ms, self._backoff_ms * 2)

    # ------------------------------------------------------------------ downlink

    def _downlinks(self, frames, out):
        """Open each downlink; return the uplink counters (16 bits) they acknowledge."""
        acked = []
        for frame in frames:
            try:
                dl = self.guard.open(frame)
            except FrameError as e:
                rej = self.stats["rejected"]
                rej[e.reason] = rej.get(e.reason, 0) + 1
                continue
            self.stats["downlinks"] += 1
            self.downlink_pending = dl["pending"]
            if dl["ack_fcnt16"] is not None:
                acked.append(dl["ack_fcnt16"])
            if dl["type"] != "ack":
                if dl.get("seen") and dl["dl_id"] in self._results:
                    self._enqueue_dlack(dl["dl_id"], self._results[dl["dl_id"]])
                else:
                    out.append(dl)
            self._save()
        return acked

    def acknowledge(self, dl, result, now_ms):
        """Tell the gateway what became of a config or command (queued like any frame)."""
        self._results[dl["dl_id"]] = result
        while len(self._results) > RESULT_MEMORY:
            del self._results[min(self._results)]  # good enough: ids rise, wrap every 65536 downlinks
        self._save()
        return self._enqueue_dlack(dl["dl_id"], result, now_ms)

    def _enqueue_dlack(self, dl_id, result, now_ms=0):
        frame = encode("dlack", self.devaddr, self.next_fcnt(), self.key, {"dl_id": dl_id, "result": result})
        return self.submit(frame, now_ms)

    def _save(self):
        try:
            persist.save(self.state_path, {"guard": self.guard.state(), "results": self._results})
        except OSError:
            self.stats["submit_errors"] += 1
