"""CRC-16/CCITT-FALSE (shared)."""
from firmware.link.crc import crc16


def test_check_value():
    assert crc16(b"123456789") == 0x29B1  # the catalogue's check value for CRC-16/CCITT-FALSE


def test_incremental_and_ranges():
    data = b"lampfleet bridge frame"
    assert crc16(data[7:], crc16(data[:7])) == crc16(data)
    assert crc16(b"xx" + data + b"yy", start=2, end=2 + len(data)) == crc16(data)
    assert crc16(b"") == 0xFFFF
