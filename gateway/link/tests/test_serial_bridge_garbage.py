"""A serial bridge sending garbage, or a handler that fails: the reader thread survives, counts it, and its
memory stays bounded. Through a real pty, as the bridge's USB serial port."""
import os
import struct
import tty

from hypothesis import given, settings, strategies as st

from gateway.link import serial_bridge as sb
from gateway.tests.receivers import wait_for


def _rx(frame: bytes, flags: int = 1) -> bytes:
    return sb.encode(sb.RX, sb.RX_HEAD.pack(5, -90, 20, 868100, 9, flags) + frame)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.lists(st.binary(max_size=400), max_size=8))
def test_the_deframer_takes_any_bytes(chunks):
    d = sb.Deframer()
    for chunk in chunks:
        for mtype, body in d.feed(chunk):
            assert 0 <= mtype <= 255 and len(body) <= sb.MAX_MESSAGE + 2
    assert len(d.buf) <= sb.MAX_MESSAGE + 4


def test_garbage_and_a_failing_handler_do_not_stop_the_reader():
    master, slave = os.openpty()
    tty.setraw(slave)
    seen: list[bytes] = []

    def on_uplink(frame: bytes, meta: sb.RxMeta) -> bytes | None:
        if frame.startswith(b"boom"):
            raise KeyError("a\nforged log line")
        seen.append(frame)
        return None

    reader = sb.SerialBridge(os.ttyname(slave), on_uplink, reopen_min_s=0.05, reopen_max_s=0.1).start()
    try:
        assert reader.connected.wait(5)
        os.write(master, b"\x13\x37garbage\x00\x00" + bytes(range(1, 256)) * 3 + b"\x00")  # junk, an overlong run
        os.write(master, sb.encode(sb.RX, b"\x01\x02"))  # too short for its header
        os.write(master, sb.encode(0x7E, b"what"))  # an unknown type
        os.write(master, sb.encode(sb.TX_DONE, b"\x01"))  # a TX_DONE of the wrong size
        os.write(master, _rx(b"boom-1"))  # the handler raises
        for i in range(sb.MAX_LOGS + 50):  # a chatty bridge: its log lines are kept bounded
            os.write(master, sb.encode(sb.LOG, b"line %d \xff\n" % i))
        os.write(master, _rx(b"good frame"))
        assert wait_for(lambda: seen == [b"good frame"])
        assert reader.stats["handler_errors"] == 1 and reader.stats["frames"] == 2
        assert reader.serial_errors >= 4
        assert len(reader.logs) == sb.MAX_LOGS and reader.logs[-1].startswith(f"line {sb.MAX_LOGS + 49}")
        assert reader._thread is not None and reader._thread.is_alive()
    finally:
        reader.stop()
        os.close(master)
        os.close(slave)


def test_rx_header_fields_of_any_value_are_taken():
    reader = sb.SerialBridge("/nonexistent", lambda frame, meta: b"reply")
    for values in ((0, -32768, -32768, 0, 0, 1), (2**32 - 1, 32767, 32767, 2**32 - 1, 255, 255)):
        reader._handle_contained(sb.RX, struct.pack("<IhhIBB", *values) + b"x")  # no port: transmit just fails
    assert reader.stats["frames"] == 2 and reader.stats["handler_errors"] == 0
