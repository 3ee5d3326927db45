"""The link pump: queue, transport, duty cycle, budget, acknowledgements and downlinks (shared).

Includes the issue's bar on the device side: a gateway down for 7 days and the lamp rebooted twice, and
afterwards every event arrives exactly once, in order.
"""
from telemetry import encode
from telemetry.crypto import DeviceKey
from telemetry.downlink import encode_downlink
from firmware.link.airtime import time_on_air_us
from firmware.link.cadence import Cadence
from firmware.link.dutycycle import AirtimeBudget
from firmware.link.link import Link
from firmware.link.lora_transport import LoraTransport
from firmware.link.queue import FrameQueue
from firmware.link.transport import MemoryTransport
from firmware.link.tests.support import FakeGateway, FakeModem, rmtree, tmpdir

KEY = DeviceKey(bytes(range(16)))
ADDR = 0x100001
T0 = 1750000000000  # ms


class Counter:
    def __init__(self, start=0):
        self.value = start

    def next(self):
        v = self.value
        self.value += 1
        return v


def status(counter, t_ms):
    return encode("status", ADDR, counter.next(), KEY, {
        "time_s": t_ms // 1000, "vbat_mv": 13000, "ibat_ma": 0, "led_ma": 0, "pv_mv": 0, "soc_pct": 80,
        "led_pct": 0, "temp_c": 25, "mode": "day", "faults": []})


def event(counter, t_ms, code="dusk"):
    return encode("event", ADDR, counter.next(), KEY,
                  {"time_s": t_ms // 1000, "events": [{"code": code, "action": "point", "value": 0, "ref": 0}]})


def make_link(d, transport, counter, budget=None, slots=64):
    return Link(transport, FrameQueue(d + "/q", slots=slots), ADDR, KEY, counter.next, budget=budget,
                state_path=d + "/link.json")


def test_mqtt_like_delivery_in_order_and_queueing_while_down():
    d = tmpdir()
    try:
        c = Counter()
        t = MemoryTransport(confirms=True)
        link = make_link(d, t, c)
        frames = [status(c, T0), event(c, T0), status(c, T0)]
        t.up = False
        for f in frames:
            link.submit(f, T0)
        assert link.service(T0) == [] and len(link.queue) == 3
        t.up = True
        link.service(T0 + 1000)
        assert [f for _, f in t.sent] == frames and len(link.queue) == 0
        assert link.online(T0 + 1000)
    finally:
        rmtree(d)


class RefusingTransport(MemoryTransport):
    """Connected, but the far end does not take frames (the emulator's network while it is down)."""

    def send(self, frame, now_ms=0):
        self.tries = getattr(self, "tries", 0) + 1
        return False


def test_a_refused_frame_is_retried_after_a_backoff_not_on_every_loop():
    d = tmpdir()
    try:
        c = Counter()
        t = RefusingTransport(confirms=True)
        link = make_link(d, t, c)
        link.submit(status(c, T0), T0)
        link.service(T0)
        assert t.tries == 1 and link.next_due_ms(T0) == T0 + 30000
        link.service(T0 + 1000)
        assert t.tries == 1 and len(link.queue) == 1
        link.service(T0 + 30000)
        assert t.tries == 2 and link.next_due_ms(T0 + 30000) == T0 + 90000  # the backoff doubles
    finally:
        rmtree(d)


def test_lora_acknowledged_delivery_respects_duty_cycle():
    d = tmpdir()
    try:
        c = Counter()
        gw = FakeGateway(ADDR, KEY)
        modem = FakeModem(gw)
        t = LoraTransport(modem, {"sf": 12})
        link = make_link(d, t, c)
        for _ in range(3):
            link.submit(status(c, T0), T0)
        link.service(T0)
        assert len(gw.fcnts) == 1 and len(link.queue) == 2  # the 1 % sub-band holds the rest back
        link.service(T0 + 148275)
        assert len(gw.fcnts) == 1
        link.service(T0 + 148276)
        assert len(gw.fcnts) == 2
        assert modem.first_freq == 868100 and modem.cfg["freq_khz"] == 869525  # listened on RX 869.525
        assert modem.cfg["preamble_len"] == 8 and modem.cfg["syncword"] == 0x12
    finally:
        rmtree(d)


def test_next_due_bounds_the_loop_sleep():
    d = tmpdir()
    try:
        c = Counter()
        gw = FakeGateway(ADDR, KEY)
        link = make_link(d, LoraTransport(FakeModem(gw), {"sf": 12}), c)
        assert link.next_due_ms(T0) is None
        link.submit(status(c, T0), T0)
        link.submit(status(c, T0), T0)
        assert link.next_due_ms(T0) == T0
        link.service(T0)
        assert link.next_due_ms(T0) == T0 + 148276  # the 1 % sub-band's off-time after 1482.8 ms at SF12
        gw.up = False
        link.service(T0 + 148276)
        assert link.next_due_ms(T0 + 148276) == T0 + 2 * 148276  # the duty cycle outlasts the 30 s retry
    finally:
        rmtree(d)


def test_lora_unacknowledged_frame_is_retried_with_backoff():
    d = tmpdir()
    try:
        c = Counter()
        gw = FakeGateway(ADDR, KEY)
        gw.up = False
        modem = FakeModem(gw)
        link = make_link(d, LoraTransport(modem, {"sf": 7}), c)
        link.submit(event(c, T0), T0)
        times = []
        now = T0
        while now < T0 + 4 * 3600000:
            before = modem.sent
            link.service(now)
            if modem.sent > before:
                times.append((now - T0) // 1000)
            now += 10000
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert gaps[:4] == [30, 60, 120, 240] and max(gaps) == 3600, gaps
        gw.up = True
        link.service(now + 3600000)
        assert len(gw.fcnts) == 1 and len(link.queue) == 0
        assert link.stats["unacked"] == len(times)
    finally:
        rmtree(d)


def test_lost_ack_means_a_duplicate_that_the_gateway_drops_and_acks_again():
    d = tmpdir()
    try:
        c = Counter()
        gw = FakeGateway(ADDR, KEY)
        modem = FakeModem(gw)
        link = make_link(d, LoraTransport(modem, {"sf": 7}), c)
        link.submit(event(c, T0), T0)
        real_recv = modem.recv
        modem.recv = lambda timeout_ms=None, **kw: real_recv() and None  # the ack is lost on the air
        link.service(T0)
        modem.recv = real_recv
        link.service(T0 + 60000)
        assert len(gw.fcnts) == 1 and gw.duplicates == 1 and len(link.queue) == 0
    finally:
        rmtree(d)


def test_budget_holds_status_back_but_lets_events_overdraw():
    d = tmpdir()
    try:
        c = Counter()
        t = MemoryTransport(confirms=True, airtime_us=time_on_air_us(24, 12))
        budget = AirtimeBudget(15000000, capacity_us=15000000, now_ms=T0)
        link = make_link(d, t, c, budget)
        for _ in range(12):
            link.submit(status(c, T0), T0)
        link.service(T0)
        assert len(t.sent) == 10  # 15 s of budget at SF12
        link.submit(event(c, T0), T0)
        link.service(T0)
        assert len(t.sent) == 12  # an event waits behind two status frames: they all go on the reserve
        assert len(link.queue) == 1
    finally:
        rmtree(d)


def test_downlink_command_flow_and_resent_command_not_applied_twice():
    d = tmpdir()
    try:
        c = Counter()
        gw = FakeGateway(ADDR, KEY)
        gw.commands = [(41, "test_on", 10)]
        modem = FakeModem(gw)
        link = make_link(d, LoraTransport(modem, {"sf": 7}), c)
        link.submit(status(c, T0), T0)
        got = link.service(T0)
        assert [(x["command"], x["arg"], x["dl_id"]) for x in got] == [("test_on", 10, 41)]
        link.acknowledge(got[0], "applied", T0)
        link.service(T0 + 10000)
        assert [(a["dl_id"], a["result"]) for a in gw.dlacks] == [(41, "applied")]
        # the gateway did not hear that dlack and sends the command again (new counter, same dl_id)
        gw.commands = [(41, "test_on", 10)]
        link.submit(status(c, T0), T0 + 20000)
        assert link.service(T0 + 20000) == []  # not applied twice...
        link.service(T0 + 40000)
        assert gw.duplicates == 0 and len(gw.dlacks) == 2  # ...but acknowledged again
        # a reboot keeps the downlink counter and the results
        link2 = make_link(d, LoraTransport(FakeModem(gw), {"sf": 7}), c)
        assert link2.guard.last_fcnt == link.guard.last_fcnt
    finally:
        rmtree(d)


def test_forged_and_replayed_downlinks_are_counted_not_applied():
    d = tmpdir()
    try:
        c = Counter()
        t = MemoryTransport(confirms=True)
        link = make_link(d, t, c)
        good = encode_downlink("command", ADDR, 5, KEY, {"dl_id": 1, "command": "reboot"})
        forged = encode_downlink("command", ADDR, 6, DeviceKey(bytes(16)), {"dl_id": 2, "command": "reboot"})
        t.inbox = [good, good, forged, b"junk"]
        got = link.service(T0)
        assert [x["dl_id"] for x in got] == [1]
        assert link.stats["rejected"] == {"replay": 1, "mic": 1, "short": 1}
    finally:
        rmtree(d)


def _outage(slots, sf=9):
    """12 days of street reporting; the gateway is down from day 1 to day 8; reboots on days 3 and 6."""
    d = tmpdir()
    try:
        c = Counter()
        gw = FakeGateway(ADDR, KEY)
        cad = Cadence("street", time_on_air_us(24, sf), time_on_air_us(20, sf), 15000000)

        def boot(now):
            budget = AirtimeBudget(15000000, now_ms=now)
            return make_link(d, LoraTransport(FakeModem(gw), {"sf": sf}), c, budget, slots)

        link = boot(T0)
        events_sent, statuses_sent = [], 0
        step, day = 300000, 86400000
        reboots = (3 * day, 6 * day)
        t = 0
        while t < 12 * day:
            now = T0 + t
            gw.up = not (day <= t < 8 * day)
            if t in reboots:
                link = boot(now)  # the queue and the downlink state come back from flash
            hour = (t // 3600000) % 24
            night = hour >= 18 or hour < 6
            if t % (day // 2) == 0:
                f = event(c, now, "dusk" if night else "dawn")
                events_sent.append(f)
                link.submit(f, now)
            if cad.status_due(now, night):
                link.submit(status(c, now), now)
                cad.status_sent(now)
                statuses_sent += 1
            link.service(now)
            t += step
        return gw, link, events_sent, statuses_sent
    finally:
        rmtree(d)


def _check_events(gw, events_sent):
    got = [t for t in gw.types if t == 0x2]
    assert len(got) == len(events_sent) == 24
    fcnts = list(gw.fcnts)
    assert fcnts == sorted(fcnts)  # in order, each once (the fake gateway drops duplicates)


def test_seven_day_outage_two_reboots_every_frame_once_in_order():
    gw, link, events_sent, statuses_sent = _outage(slots=512)
    _check_events(gw, events_sent)
    assert len(link.queue) == 0
    assert len(gw.fcnts) == len(events_sent) + statuses_sent  # the default queue holds the whole outage


def test_seven_day_outage_small_queue_keeps_every_event():
    gw, link, events_sent, statuses_sent = _outage(slots=96)
    _check_events(gw, events_sent)
    assert len(gw.fcnts) < len(events_sent) + statuses_sent  # old status frames made room
