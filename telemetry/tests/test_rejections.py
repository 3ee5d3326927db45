"""Every reason a received frame is refused (errors.REASONS), and only those. Shared: CPython and MicroPython."""
from telemetry import codec
from telemetry import schema as s
from telemetry.codec import decode, encode, peek
from telemetry.errors import REASONS
from telemetry.tests.support import (
    BOOT, DEVADDR, KEY, OTHER_KEY, RX, expect_frame_error, flip, seal, status_frame, unhex,
)


def test_reasons_are_the_documented_set():
    assert REASONS == ("short", "long", "version", "type", "mic", "length", "content")


def test_reject_short():
    frame = status_frame()
    for n in (0, 1, 6, 10):
        expect_frame_error("short", decode, frame[:n], KEY, 7, RX)


def test_reject_long():
    expect_frame_error("long", decode, status_frame() + bytes(28), KEY, 7, RX)
    expect_frame_error("long", peek, bytes(200))


def test_reject_version():
    frame = status_frame()
    for mhdr in (0x01, 0x21, 0xF1):
        expect_frame_error("version", decode, bytes((mhdr,)) + frame[1:], KEY, 7, RX)


def test_reject_type():
    frame = status_frame()
    for ftype in (0x0, 0x5, 0x7, 0x8, 0x9, 0xA, 0xF):
        expect_frame_error("type", decode, bytes((0x10 | ftype,)) + frame[1:], KEY, 7, RX)


def test_reject_mic_flipped_bits():
    frame = status_frame()
    for index in (1, 2, 3, 6, 12, 19, 20, 23):
        for bit in (0, 7):
            expect_frame_error("mic", decode, flip(frame, index, bit), KEY, 7, RX)


def test_reject_mic_changed_type_bit():
    # status <-> boot differ in one bit of the type; the MIC covers the header, so it fails first.
    frame = encode("boot", DEVADDR, 7, KEY, BOOT)
    expect_frame_error("mic", decode, flip(frame, 0, 1), KEY, 7, RX)


def test_reject_mic_wrong_key():
    expect_frame_error("mic", decode, status_frame(), OTHER_KEY, 7, RX)


def test_reject_mic_wrong_counter_high_bits():
    expect_frame_error("mic", decode, status_frame(fcnt=7), KEY, 0x10007, RX)


def test_reject_counter_not_matching_frame():
    e = expect_frame_error("content", decode, status_frame(fcnt=7), KEY, 8, RX)
    assert "counter" in str(e)


def test_reject_length():
    for payload in (bytes(13), bytes(15), bytes(30)):
        expect_frame_error("length", decode, seal(0x11, DEVADDR, 9, KEY, payload), KEY, 9, RX)
    for payload in (bytes(1), bytes(4), bytes(9), bytes(4 + 6 * s.MAX_EVENTS + 1)):
        expect_frame_error("length", decode, seal(0x12, DEVADDR, 9, KEY, payload), KEY, 9, RX)
    for payload in (bytes(10), bytes(12)):
        expect_frame_error("length", decode, seal(0x13, DEVADDR, 9, KEY, payload), KEY, 9, RX)
    for payload in (bytes(1), bytes(2), bytes(4)):
        expect_frame_error("length", decode, seal(0x14, DEVADDR, 9, KEY, payload), KEY, 9, RX)


def test_reject_content_bad_event_action():
    payload = unhex("00000000" "01010000 0000" "20030000 0000")
    expect_frame_error("content", decode, seal(0x12, DEVADDR, 9, KEY, payload), KEY, 9, RX)


def test_reject_content_not_bytes():
    frame = status_frame()
    for value in (None, 7, 1.5, "abc", list(frame)):
        expect_frame_error("content", decode, value, KEY, 7, RX)
        expect_frame_error("content", peek, value)


def test_sealed_frame_helper_matches_encoder():
    # The helper used above builds exactly what encode builds, so those rejections are real frames.
    frame = status_frame(fcnt=9)
    key = KEY
    ciphertext = frame[6:20]
    payload = codec._crypt(key, s.STATUS, DEVADDR, 9, ciphertext)
    assert seal(0x11, DEVADDR, 9, KEY, payload) == frame
