"""The lamp's downlink guard (firmware/link/link.py): MIC first, rising counters, replays refused, a
resent request recognised by its dl_id. Shared: CPython and MicroPython. The frame format itself is
telemetry's (telemetry/tests/test_downlink.py)."""
from telemetry import encode
from telemetry.crypto import DeviceKey
from telemetry.downlink import encode_downlink
from telemetry.errors import FrameError
from firmware.link.link import DownlinkGuard

KEY = DeviceKey(bytes(range(16)))
OTHER = DeviceKey(bytes(16))
ADDR = 0x1A2B3C


def expect(reason, fn, *args):
    try:
        fn(*args)
    except FrameError as e:
        assert e.reason == reason, (reason, e.reason, str(e))
        return
    raise AssertionError("expected FrameError %s" % reason)


def ack(fcnt, devaddr=ADDR, key=KEY):
    return encode_downlink("ack", devaddr, fcnt, key, {"ack_fcnt16": 1})


def test_guard_accepts_rising_counters_and_refuses_replays():
    g = DownlinkGuard(ADDR, KEY)
    f1 = encode_downlink("command", ADDR, 5, KEY, {"dl_id": 3, "command": "status_now"})
    out = g.open(f1)
    assert out["command"] == "status_now" and not out["seen"]
    expect("replay", g.open, f1)
    resent = encode_downlink("command", ADDR, 6, KEY, {"dl_id": 3, "command": "status_now"})
    assert g.open(resent)["seen"]  # same dl_id under a new counter: acknowledge, do not apply again
    for n in (30000, 60000, 0x10002):  # across the 16-bit wrap, in steps under 32768
        assert g.open(ack(n))["fcnt"] == n
    expect("mic", g.open, ack(0x10002 + 40000))
    g2 = DownlinkGuard(ADDR, KEY, g.state())  # survives a reboot through state()
    expect("replay", g2.open, ack(0x10002))
    expect("mic", g2.open, resent)  # an old frame maps to a counter ahead, whose MIC it cannot have
    expect("wrong_device", g2.open, ack(0x10003, devaddr=ADDR + 1))
    expect("mic", g2.open, ack(0x10003, key=OTHER))
    expect("type", g2.open, encode("dlack", ADDR, 0x10003, KEY, {"dl_id": 1}))
    assert g2.open(ack(0x10003))["fcnt"] == 0x10003  # nothing refused moved the counter


def test_guard_remembers_the_last_eight_dl_ids():
    g = DownlinkGuard(ADDR, KEY)
    for i in range(10):
        g.open(encode_downlink("command", ADDR, i, KEY, {"dl_id": i, "command": "status_now"}))
    assert g.state() == {"last_fcnt": 9, "recent": list(range(2, 10))}
    assert not g.open(encode_downlink("command", ADDR, 10, KEY, {"dl_id": 1, "command": "status_now"}))["seen"]
    assert g.open(encode_downlink("command", ADDR, 11, KEY, {"dl_id": 9, "command": "status_now"}))["seen"]
