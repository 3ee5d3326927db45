"""The lamp's main loop: sample, step the core, drive the outputs, report, persist, sleep."""
# A plain loop rather than asyncio tasks: time comes from the HAL (the RTC on the lamp, virtual time in
# the emulator), so the same loop runs a real night in 12 hours and a simulated one in a fraction of a
# second, deterministically. Robustness (docs/firmware.md): a core exception is logged, reported
# (reset_loop event, action point, value = errors in a row, ref = signature) and the sample is handled
# by the safe controller; three in a row switch to safe mode. The watchdog is fed only after a loop that
# completed. Learned state is saved atomically, at most hourly (sooner after dusk, dawn, disconnect).
# Frames go through the link (firmware/link/link.py): a flash queue that keeps them across outages and
# reboots until the transport delivers them, and the downlinks that come back. Should its modules not fit
# in the heap, the lamp still reports, directly and without store-and-forward.
import binascii
import gc

from telemetry import schema
from telemetry.crypto import DeviceKey
from firmware import shell
from firmware.core.controller import LampState, safe_step, set_fault, step
from firmware.shell import persist, report
from firmware.shell.counter import FrameCounter

STATE_FILE = "state.json"
QUEUE_FILE = "queue.bin"
LINK_MIN_FREE = 24576  # heap the link needs (~15 KB) plus room to work; below it a failed import fragments
MIN_SLEEP_MS = 1000  # while the link has frames to send, the loop wakes for them, at most once a second
STATUS_LEN = schema.HEADER_LEN + schema.STATUS_LEN + schema.MIC_LEN  # 24 bytes
EVENT_LEN = schema.HEADER_LEN + 4 + schema.EVENT_RECORD_LEN + schema.MIC_LEN  # one record
E = schema.EVENT_CODES
HEAP = hasattr(gc, "mem_alloc")  # MicroPython: collect every loop and track the heap (CPython: neither)
STEP_GARBAGE = 8192  # a core step that allocated more (the dusk plan, the sun's times) is collected at once
URGENT = (E["dusk"], E["dawn"], E["battery_low"])


def signature(e):
    """A 15-bit fingerprint of an error (type and message) for the event's ref field."""
    return binascii.crc32(repr(e).encode()) & 0x7FFF


class App:
    def __init__(self, hal, config, boot=None):
        """`boot`: a startup.Boot made before this module was imported (firmware/main.py); made here
        when not given."""
        if boot is None:
            from firmware.shell import startup

            boot = startup.prepare(hal, config, STATE_FILE)
            startup.forget()
        from firmware.core import learned

        self.hal = hal
        self.lamp_id = config["lamp_id"]
        self.devaddr = config["devaddr"]
        self.key = DeviceKey(binascii.unhexlify(config["key_hex"]))
        self.profile = config.get("profile", "street")
        self.site = config.get("site")
        self.counter = FrameCounter("fcnt.json")
        self.cfg = boot.cfg
        self.state = st = LampState(boot.cfg)
        learned.restore(st, boot.learned)
        st.night.trusted = boot.clock_trusted
        st.health.resets = boot.resets
        st.safe = boot.safe
        self.boots = boot.history
        self.pending = [(E[c], schema.ACTIONS.index(a), v, r) for c, a, v, r in boot.events]
        now_ms = hal.now_ms()
        self.crashed = False
        self.stable_ms = now_ms + 3600000
        self.saver = persist.Saver(STATE_FILE, self.cfg.persist_interval_s)
        self.cadence = None
        self.link = self.open_link(config)
        self.save(now_ms)
        self.next_status_ms = 0
        self.errors = 0
        self.heap_peak = 0
        self.heap_live = gc.mem_alloc() if HEAP else 0
        self.loops = 0

    def open_link(self, config):
        """The link over the HAL's transport (`hal.transport(config)` when it has one, else the HAL's own
        radio), or None when its modules do not fit in the heap (docs/firmware.md, "Memory")."""
        hal = self.hal
        if HEAP:
            gc.collect()
            if gc.mem_free() < LINK_MIN_FREE:
                hal.log("link not loaded: %d bytes free; reporting without store-and-forward" % gc.mem_free())
                return None
        try:
            from firmware.link.link import Link
            from firmware.link.queue import FrameQueue
            from firmware.link.transport import HalTransport

            transport = (hal.transport(config) if hasattr(hal, "transport") else None) or HalTransport(hal)
            budget = None
            status_us = transport.airtime_us(STATUS_LEN)
            if status_us:  # a radio that spends airtime: the daily budget, and the cadence fits it
                from firmware.link.cadence import Cadence
                from firmware.link.dutycycle import AirtimeBudget

                budget = AirtimeBudget(now_ms=hal.now_ms())
                self.cadence = Cadence(self.profile, status_us, transport.airtime_us(EVENT_LEN), budget.daily_us)
            return Link(transport, FrameQueue(QUEUE_FILE), self.devaddr, self.key, self.counter.next,
                        budget=budget)
        except MemoryError:
            gc.collect()
            hal.log("link not loaded: out of memory; reporting without store-and-forward")
            return None

    def status_interval_s(self, now_ms):
        """The settings' interval at night, DAY_STATUS_FACTOR times it by day; over a radio with airtime,
        the cadence's (night/day, budget)."""
        from firmware.core.daylight import NIGHT

        night = self.state.night.phase == NIGHT
        if self.cadence is None:
            return self.cfg.status_interval_s * (1 if night else schema.DAY_STATUS_FACTOR)
        return self.cadence.interval_s(night, self.link.budget.fill_pct(now_ms))

    def next_status_at(self, now_ms):
        """When to report next. Up to an hour apart: on the interval's grid (a quarter of an interval away
        at least), offset by the lamp's own second of the minute: one wake-up a report, and a site's lamps
        report within a minute of each other (the gateway compares neighbours over the same sky) without
        all speaking in the same second. Longer (a LoRa cadence): one interval after this report."""
        interval_ms = self.status_interval_s(now_ms) * 1000
        if interval_ms > 3600000:
            return now_ms + interval_ms
        offset_ms = self.devaddr % 60 * 1000
        after = now_ms + interval_ms // 4 - offset_ms
        return after // interval_ms * interval_ms + interval_ms + offset_ms

    def serve_link(self, now_ms):
        """Send what the link may send now; apply the configs and commands that came back, and answer."""
        link = self.link
        for dl in link.service(now_ms):
            from firmware.shell import requests

            if dl["type"] == "command":
                result = requests.command(self, dl["command"], dl["arg"])
            else:
                result = requests.apply_settings(self, dl["settings"])
            link.acknowledge(dl, result, now_ms)

    def control(self, inputs, now_ms):
        """One core step; on an exception the safe controller handles this sample."""
        st = self.state
        try:
            outputs, events = step(st, inputs, now_ms)
            self.errors = 0
            return outputs, events
        except Exception as e:  # noqa: BLE001 - a core bug must not darken the street
            self.errors += 1
            self.hal.log("core error %d: %r" % (self.errors, e))
            events = [(E["reset_loop"], schema.POINT, self.errors, signature(e))]
            if self.errors >= 3 and not st.safe:
                self.hal.log("safe mode: core errors")
                st.safe = True
                events.append((E["safe_mode"], schema.RAISED, self.boots["crashes"], self.boots["count"] & 0x7FFF))
            outputs, more = safe_step(st, inputs, now_ms)
            return outputs, events + more

    def loop_once(self):
        hal, st = self.hal, self.state
        now_ms = hal.now_ms()
        inputs = hal.read_inputs()
        outputs, events = self.control(inputs, now_ms)
        if HEAP and gc.mem_alloc() - self.heap_live > STEP_GARBAGE:
            self.collect()  # the heap's peak is then live + the largest part of a loop, not the whole loop
        hal.set_led(outputs["led_pct"])
        if hasattr(hal, "set_switches"):
            hal.set_switches(st.charge_on, st.kit.usb_on if st.kit else True)
        events = self.pending + events
        self.pending = []
        report.events(self, events, now_ms)
        if now_ms >= self.next_status_ms:
            report.status(self, inputs, now_ms)
            self.next_status_ms = self.next_status_at(now_ms)
        sleep_ms = min(outputs["next_ms"], max(MIN_SLEEP_MS, self.next_status_ms - now_ms))
        if self.link is not None:
            self.serve_link(now_ms)
            due = self.link.next_due_ms(now_ms)
            if due is not None and due - now_ms < sleep_ms:
                sleep_ms = max(MIN_SLEEP_MS, due - now_ms)
        urgent = False
        for e in events:
            urgent = urgent or e[0] in URGENT
        if now_ms >= self.stable_ms:
            self.boots["crashes"] = 0  # a healthy hour: earlier crashes no longer count (core/boots.py)
            self.stable_ms = now_ms + 86400000
            urgent = True
        if self.saver.due(now_ms, urgent):
            self.save(now_ms)
        if HEAP:
            shell.forget(shell.RARE)
            self.loops += 1
            self.collect()
            if urgent:
                hal.log("heap: peak %d, live %d bytes, free %d" % (self.heap_peak, self.heap_live, gc.mem_free()))
        hal.feed_watchdog()
        hal.sleep_ms(sleep_ms, outputs["wake"])

    def collect(self):
        """Collect garbage, noting first the most the heap held (from the second loop on: the first still
        carries the boot's garbage)."""
        if self.loops > 1:
            self.heap_peak = max(self.heap_peak, gc.mem_alloc())
        gc.collect()
        self.heap_live = gc.mem_alloc()

    def save(self, now_ms):
        code = schema.FAULT_CODES["storage"]
        try:
            from firmware.core import learned

            data = {"learned": learned.export(self.state), "boots": self.boots, "time_ms": now_ms,
                    "crashed": self.crashed}
            self.saver.save(now_ms, data)
            self.pending += set_fault(self.state, code, False, self.saver.writes, 0)
        except MemoryError:
            self.hal.log("state not saved: out of memory, next loop")  # not a flash fault: retry soon
            self.saver.last_ms = now_ms - self.saver.interval_ms + 60000
        except OSError as e:
            self.hal.log("state not saved: %r" % e)
            self.pending += set_fault(self.state, code, True, self.saver.writes, signature(e))

    def boot(self):
        report.boot(self)
        if self.link is not None:
            self.serve_link(self.hal.now_ms())  # the boot frame, and whatever the last run left queued

    def run(self):
        self.boot()
        self.loop_errors = 0
        if getattr(self.hal, "host_loop", False):
            return  # the host calls tick() (emulator/wasm/lamp.mjs: a heap collected between loops)
        while True:
            self.tick()

    def tick(self):
        """One loop iteration; five failing in a row end the run, for the watchdog to reset the lamp."""
        try:
            self.loop_once()
            self.loop_errors = 0
        except Exception as e:  # noqa: BLE001 - the loop must outlive one bad sample
            hal = self.hal
            self.loop_errors += 1
            hal.log("loop error %d: %r" % (self.loop_errors, e))
            if self.loop_errors >= 5:
                self.crashed = True
                try:
                    self.save(hal.now_ms())
                except Exception:  # noqa: BLE001
                    pass
                raise
