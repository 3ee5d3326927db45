"""The bridge's serial protocol and the gateway's reader.

- the two implementations (firmware/bridge/proto.py for MicroPython, gateway/link/serial_bridge.py for
  CPython) encode and decode each other's messages;
- the reader resynchronises after garbage and counts it;
- end to end: the bridge firmware on the MicroPython unix port, its radio on the emulator's radio hub, its
  serial line a pty that the gateway opens with pyserial; a lamp's frame comes up with RSSI/SNR and a
  downlink goes back on air; then the bridge is unplugged and plugged back (a new pty behind the same
  by-id style symlink) and the reader carries on.
"""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import threading
import time
import tty
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.radio import RadioHub
from firmware.bridge import proto
from gateway.link import serial_bridge as sb

ROOT = Path(__file__).resolve().parents[3]
MICROPYTHON = str(Path(sys.executable).parent / "micropython")


@settings(max_examples=300, deadline=None)
@given(mtype=st.integers(0, 255), body=st.binary(max_size=290))
def test_implementations_agree(mtype, body):
    a = proto.pack(mtype, body)
    b = sb.encode(mtype, body)
    assert a == b
    assert a.count(0) == 1 and a.endswith(b"\x00")
    assert sb.decode(a[:-1]) == (mtype, body)
    assert proto.unpack(b[:-1]) == (mtype, body)


@settings(max_examples=200, deadline=None)
@given(garbage=st.lists(st.binary(max_size=400), min_size=3, max_size=3), frames=st.lists(st.binary(min_size=1, max_size=60), min_size=2, max_size=2))
def test_reader_resynchronises_after_garbage(garbage, frames):
    stream = garbage[0] + b"\x00"
    for g, f in zip(garbage[1:], frames):
        stream += sb.encode(sb.RX, sb.RX_HEAD.pack(0, -80, 20, 868100, 9, 1) + f) + g + b"\x00"
    for impl in (sb.Deframer(), proto.Deframer()):
        got = []
        for i in range(0, len(stream), 7):  # arrives in small pieces
            got += impl.feed(stream[i:i + 7])
        bodies = [b[sb.RX_HEAD.size:] for t, b in got if t == sb.RX and len(b) > sb.RX_HEAD.size]
        assert all(f in bodies for f in frames)  # garbage may by chance also form a message, never eat one


def test_damaged_messages_are_counted():
    d = sb.Deframer()
    good = sb.encode(sb.LOG, b"hello")
    bad = bytearray(good)
    bad[2] ^= 0x10
    out = d.feed(bytes(bad) + good + b"\x01\x02\x00" + bytes(range(1, 256)) * 2 + b"\x00" + good)
    assert out == [(sb.LOG, b"hello"), (sb.LOG, b"hello")]
    assert d.errors == 3  # flipped bit, short junk, over-long junk


# ---------------------------------------------------------------- end to end on a pty


class BridgeProcess:
    """The bridge firmware on the unix port, its serial line on a fresh pty, published at `link`."""

    def __init__(self, tmp: Path, hub_port: int, link: Path, sf: int = 9):
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)  # no echo or newline translation before pyserial takes the line
        if link.is_symlink():
            link.unlink()
        link.symlink_to(os.ttyname(self.slave))
        conf = tmp / f"bridge-{self.master}.json"
        conf.write_text(json.dumps({"modem": f"net:127.0.0.1:{hub_port}", "radio": {"freq_khz": 868100, "sf": sf}}))
        env = dict(os.environ, MICROPYPATH=str(ROOT))
        self.proc = subprocess.Popen([MICROPYTHON, "-m", "firmware.bridge.main", str(conf)], cwd=ROOT, env=env,
                                     stdin=self.master, stdout=self.master, stderr=subprocess.PIPE)
        os.close(self.master)  # the bridge holds the master end now

    def unplug(self) -> None:
        self.proc.kill()
        self.proc.wait(5)
        os.close(self.slave)


def wait(pred, timeout_s=15.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def hub():
    h = RadioHub(loss=0.0, seed=1).start()
    yield h
    h.stop()


def test_bridge_on_micropython_through_a_pty(tmp_path, hub):
    link = tmp_path / "usb-lampfleet-bridge-if00"
    uplinks: list[tuple[bytes, sb.RxMeta]] = []

    def on_uplink(frame: bytes, meta: sb.RxMeta) -> bytes:
        uplinks.append((frame, meta))
        return b"ACK:" + frame[:4]

    bridge = BridgeProcess(tmp_path, hub.port, link)
    reader = sb.SerialBridge(str(link), on_uplink, reopen_min_s=0.1, reopen_max_s=0.2).start()
    try:
        assert reader.connected.wait(10)
        assert wait(lambda: reader.hello is not None), bridge.proc.stderr.read1(4000) if bridge.proc.poll() else ""
        assert reader.hello["version"] == 1
        # the gateway's garbage towards the bridge is survived and counted by the bridge
        reader._ser.write(b"\x13\x37garbage\x00\x00" + bytes(range(1, 200)) + b"\x00")
        hub.listen("lamp", freq_khz=869525, sf=9)
        time.sleep(0.3)  # let the bridge settle in receive mode on the hub
        frame = bytes(range(24))
        t0 = time.time()
        hub.inject("lamp", frame, freq_khz=868100, sf=9)
        assert wait(lambda: uplinks)
        got, meta = uplinks[0]
        assert got == frame
        assert (meta.rssi, meta.snr, meta.freq_khz, meta.sf) == (-90, 7.0, 868100, 9)
        assert t0 <= meta.rx_time <= time.time()
        assert wait(lambda: hub.heard_by("lamp") == [b"ACK:" + frame[:4]])  # the downlink went on air
        assert wait(lambda: reader.tx_status.get("sent") == 1)
        reader.send(sb.PING)
        assert wait(lambda: reader.hello["serial_errors"] >= 2 and reader.hello["rx_ok"] == 1)

        # unplug: the reader notices, keeps trying, and picks up the bridge when it comes back
        bridge.unplug()
        assert wait(lambda: not reader.connected.is_set())
        time.sleep(0.5)
        bridge = BridgeProcess(tmp_path, hub.port, link)
        assert wait(lambda: reader.connected.is_set() and reader.stats["opens"] == 2)
        assert wait(lambda: reader.hello is not None and reader.hello["rx_ok"] == 0)  # the new bridge's hello
        time.sleep(0.3)
        hub.inject("lamp", frame[::-1], freq_khz=868100, sf=9)
        assert wait(lambda: len(uplinks) == 2 and uplinks[1][0] == frame[::-1])
        assert reader.stats["unplugged"] == 1
    finally:
        reader.stop()
        if bridge.proc.poll() is None:
            bridge.unplug()


def test_rx_example_in_docs():
    # docs/link.md, "The bridge and its serial protocol"
    body = sb.RX_HEAD.pack(5, -90, 28, 868100, 9, 1) + b"\x01\x02"
    assert body.hex() == "05000000" "a6ff" "1c00" "043f0d00" "09" "01" "0102"
    assert proto.rx_message(b"\x01\x02", 5, -90, 28, 868100, 9) == sb.encode(sb.RX, body)
