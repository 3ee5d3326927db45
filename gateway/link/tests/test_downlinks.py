"""The gateway's downlink queue against the lamp's own decoder (DownlinkGuard): queued until the dlack,
fresh counters, the ack folded in, time sync stamped when sent, a daily cap."""
from firmware.link.link import DownlinkGuard
from gateway.link.downlinks import DownlinkQueue
from telemetry import DeviceKey

KEY = DeviceKey(bytes(range(16)))
ADDR = 0x100001


class Clock:
    def __init__(self, t=1750000000.0):
        self.t = t

    def __call__(self):
        return self.t


def test_queued_until_acknowledged(tmp_path):
    clock = Clock()
    q = DownlinkQueue(tmp_path / "dl.sqlite3", resend_after_s=60, clock=clock)
    lamp = DownlinkGuard(ADDR, KEY)
    a = q.enqueue("L1", "command", command="test_on", arg=10)
    b = q.enqueue("L1", "config", settings={"night_level_pct": 70})
    first = lamp.open(q.reply("L1", ADDR, KEY, ack_fcnt16=5))
    assert (first["command"], first["arg"], first["ack_fcnt16"], first["pending"]) == ("test_on", 10, 5, True)
    second = lamp.open(q.reply("L1", ADDR, KEY, ack_fcnt16=6))  # the next entry; the first is not due again
    assert second["settings"] == {"night_level_pct": 70} and not second["pending"]
    bare = lamp.open(q.reply("L1", ADDR, KEY, ack_fcnt16=7))  # both sent a moment ago: give the lamp time
    assert bare["type"] == "ack" and bare["ack_fcnt16"] == 7
    clock.t += 60
    again = lamp.open(q.reply("L1", ADDR, KEY, ack_fcnt16=8))  # no dlack yet: the same entry, a new counter
    assert again["dl_id"] == first["dl_id"] and again["fcnt"] == first["fcnt"] + 3 and again["seen"]
    assert q.acknowledged("L1", first["dl_id"], "applied") == a
    assert q.acknowledged("L1", first["dl_id"], "applied") is None  # a repeated dlack
    q.acknowledged("L1", second["dl_id"], "invalid")
    assert q.state(a) == ("acked", "applied") and q.state(b) == ("acked", "invalid")
    assert lamp.open(q.reply("L1", ADDR, KEY, ack_fcnt16=9))["type"] == "ack"
    assert q.reply("L1", ADDR, KEY) is None  # nothing to say and nothing to acknowledge


def test_counter_persists_and_time_sync_is_stamped_at_sending(tmp_path):
    clock = Clock()
    q = DownlinkQueue(tmp_path / "dl.sqlite3", clock=clock)
    q.enqueue("L1", "command", command="time_sync", arg=0)
    clock.t += 3600
    lamp = DownlinkGuard(ADDR, KEY)
    assert lamp.open(q.reply("L1", ADDR, KEY))["arg"] == int(clock.t)
    q2 = DownlinkQueue(tmp_path / "dl.sqlite3", clock=clock)  # a gateway restart keeps the counter
    assert lamp.open(q2.reply("L1", ADDR, KEY, ack_fcnt16=1))["fcnt"] == 1


def test_attempts_and_daily_cap(tmp_path):
    clock = Clock()
    q = DownlinkQueue(tmp_path / "dl.sqlite3", max_attempts=2, max_per_day=3, resend_after_s=0, clock=clock)
    dl = q.enqueue("L1", "command", command="reboot")
    for _ in range(2):
        assert q.reply("L1", ADDR, KEY) is not None
    assert q.reply("L1", ADDR, KEY) is None and q.state(dl)[0] == "failed"
    assert q.acknowledged("L1", dl, "applied") == dl and q.state(dl) == ("acked", "applied")  # late dlack
    assert q.reply("L1", ADDR, KEY, ack_fcnt16=1) is not None  # a bare ack, the third of the day
    assert q.reply("L1", ADDR, KEY, ack_fcnt16=2) is None  # over the cap
    clock.t += 86401
    assert q.reply("L1", ADDR, KEY, ack_fcnt16=3) is not None


def test_bad_requests_fail_at_enqueue(tmp_path):
    q = DownlinkQueue(tmp_path / "dl.sqlite3")
    for kind, fields in (("command", {"command": "explode"}), ("config", {"settings": {}}), ("ack", {})):
        try:
            q.enqueue("L1", kind, **fields)
        except ValueError:
            continue
        raise AssertionError((kind, fields))
