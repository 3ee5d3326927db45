"""Full frame counter and device time from their 16-bit forms on air. Shared: CPython and MicroPython."""
from telemetry.codec import decode, reconstruct_fcnt, reconstruct_time_min
from telemetry.tests.support import KEY, RX, status_frame


def test_reconstruct_fcnt_first_frame_and_sequence():
    assert reconstruct_fcnt(None, 0x1234) == 0x1234
    assert reconstruct_fcnt(0, 1) == 1
    assert reconstruct_fcnt(0x12344, 0x2345) == 0x12345


def test_reconstruct_fcnt_wraps():
    assert reconstruct_fcnt(0xFFFF, 0x0000) == 0x10000
    assert reconstruct_fcnt(0x1FFFE, 0x0003) == 0x20003
    assert reconstruct_fcnt(0xFFFFFFFE, 0xFFFF) == 0xFFFFFFFF


def test_reconstruct_fcnt_gaps():
    assert reconstruct_fcnt(100, 100 + 32768) == 100 + 32768  # 32767 frames lost: still found
    assert reconstruct_fcnt(0x3FFF0, (0x3FFF0 + 32768) & 0xFFFF) == 0x3FFF0 + 32768
    # One more lost frame and the nearest candidate is in the past: the MIC will then refuse the frame.
    assert reconstruct_fcnt(0x3FFF0, (0x3FFF0 + 32770) & 0xFFFF) == 0x3FFF0 + 32770 - 0x10000


def test_reconstruct_fcnt_duplicates_and_late_frames():
    assert reconstruct_fcnt(0x12345, 0x2345) == 0x12345
    assert reconstruct_fcnt(0x12345, 0x2300) == 0x12300
    assert reconstruct_fcnt(0x20005, 0xFFF0) == 0x1FFF0
    assert reconstruct_fcnt(5, 0xFFF0) == 0xFFF0  # never negative


def test_reconstruct_fcnt_stays_within_32_bits():
    assert reconstruct_fcnt(0xFFFFFFFF, 0x0000) == 0xFFFF0000
    assert reconstruct_fcnt(0xFFFFFFFF, 0xFFFF) == 0xFFFFFFFF
    assert reconstruct_fcnt(0xFFFFFFF0, 0x0005) == 0xFFFF0005


def test_reconstruct_time_min_plain():
    rx_min = RX // 60
    assert reconstruct_time_min(rx_min & 0xFFFF, RX) == rx_min
    assert reconstruct_time_min((rx_min - 5) & 0xFFFF, RX) == rx_min - 5


def test_reconstruct_time_min_across_wrap():
    rx_min = 0x1B0000 + 10  # ten minutes after the 16-bit minute counter wrapped
    rx = rx_min * 60 + 30
    assert reconstruct_time_min(0xFFF6, rx) == rx_min - 20
    assert reconstruct_time_min(0x0005, rx) == rx_min - 5
    rx_min = 0x1AFFF0  # sixteen minutes before the wrap, device clock ahead
    assert reconstruct_time_min(0x0004, rx_min * 60) == 0x1B0004


def test_reconstruct_time_min_window_edges():
    rx_min = RX // 60
    ahead = rx_min + 1440  # device clock a day ahead: still believed
    assert reconstruct_time_min(ahead & 0xFFFF, RX) == ahead
    assert reconstruct_time_min((ahead + 1) & 0xFFFF, RX) == ahead + 1 - 0x10000
    oldest = rx_min + 1440 - 0x10000 + 1  # about 44 days of store-and-forward
    assert reconstruct_time_min(oldest & 0xFFFF, RX) == oldest


def test_status_time_across_wrap_through_decode():
    rx_min = 0x1CC000 + 3  # 0x1CC000 minutes: a date in 2024
    sent_s = (rx_min - 10) * 60
    frame = status_frame(time_s=sent_s)
    assert decode(frame, KEY, 7, rx_min * 60)["time_s"] == sent_s
    assert decode(frame, KEY, 7, (rx_min + 0x10000) * 60)["time_s"] == sent_s + 0x10000 * 60
