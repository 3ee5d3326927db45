"""CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final XOR): check value 0x29B1.

Used for the flash queue's records and the bridge's serial frames. Table-driven over a 512-byte `bytes`
table (small on the ESP32 heap, unlike a tuple of ints). CPython's `binascii.crc_hqx(data, 0xFFFF)`
computes the same function; the gateway uses that one and the tests check the two agree.
"""


def _make_table():
    t = bytearray(512)
    for i in range(256):
        c = i << 8
        for _ in range(8):
            c = ((c << 1) ^ 0x1021) if c & 0x8000 else (c << 1)
            c &= 0xFFFF
        t[2 * i] = c >> 8
        t[2 * i + 1] = c & 0xFF
    return bytes(t)


_TABLE = _make_table()


def crc16(data, crc=0xFFFF, start=0, end=None):
    """CRC of data[start:end] (no slice copy), continuing from `crc`."""
    t = _TABLE
    if end is None:
        end = len(data)
    for i in range(start, end):
        j = ((crc >> 8) ^ data[i]) << 1
        crc = (((crc << 8) & 0xFF00) ^ (t[j] << 8) ^ t[j + 1])
    return crc
