"""The bridge's serial protocol, device side. The gateway's reader (gateway/link/serial_bridge.py) is a
separate implementation of the same bytes; tests run one against the other.

On the wire each message is COBS-encoded and ends with one 0x00, so a reader that starts mid-stream, or
meets garbage, resynchronises at the next 0x00:

    COBS( type u8 | body | crc16 u16 LE ) 0x00         CRC-16/CCITT-FALSE over type and body

| type | direction      | body                                                                       |
|------|----------------|----------------------------------------------------------------------------|
| 0x01 | bridge -> host | RX: age_ms u32, rssi_dbm i16, snr_qdb i16, freq_khz u32, sf u8, flags u8, frame |
| 0x02 | host -> bridge | TX: tag u8, freq_khz u32, sf u8, power_dbm i8, frame                       |
| 0x03 | bridge -> host | TX_DONE: tag u8, status u8 (0 sent, 1 duty cycle, 2 radio error, 3 refused), airtime_us u32 |
| 0x04 | bridge -> host | HELLO: version u8, uptime_ms u32, rx_ok u32, rx_crc_errors u32, tx_ok u32, serial_errors u32 |
| 0x05 | bridge -> host | LOG: UTF-8 text                                                            |
| 0x06 | host -> bridge | PING: nothing (the bridge answers HELLO)                                   |

age_ms: how long before sending the RX message the packet ended, so the host dates it correctly even if
the message waited (host time of arrival - age). snr_qdb: SNR in quarter dB. flags bit 0: radio CRC good.
All integers little-endian.
"""
import struct

from firmware.link.crc import crc16

VERSION = 1
RX, TX, TX_DONE, HELLO, LOG, PING = 0x01, 0x02, 0x03, 0x04, 0x05, 0x06
RX_HEAD = "<IhhIBB"
RX_HEAD_LEN = 14
TX_HEAD = "<BIBb"
TX_HEAD_LEN = 7
TX_DONE_BODY = "<BBI"
HELLO_BODY = "<BIIIII"
SENT, DUTY_CYCLE, RADIO_ERROR, REFUSED = 0, 1, 2, 3
MAX_MESSAGE = 300  # longest decoded message accepted: a 255-byte LoRa packet plus headers


def cobs_encode(data):
    out = bytearray()
    block = bytearray()
    for b in data:
        if b == 0:
            out.append(len(block) + 1)
            out.extend(block)
            block = bytearray()
        else:
            block.append(b)
            if len(block) == 254:
                out.append(255)
                out.extend(block)
                block = bytearray()
    out.append(len(block) + 1)
    out.extend(block)
    return bytes(out)


def cobs_decode(data):
    """Inverse of cobs_encode; ValueError on a malformed block."""
    out = bytearray()
    i, n = 0, len(data)
    while i < n:
        code = data[i]
        if code == 0:
            raise ValueError("zero byte inside a COBS message")
        end = i + code
        if end > n:
            raise ValueError("truncated COBS block")
        out.extend(data[i + 1:end])
        i = end
        if code < 255 and i < n:
            out.append(0)
    return bytes(out)


def pack(mtype, body=b""):
    msg = bytes((mtype,)) + bytes(body)
    return cobs_encode(msg + struct.pack("<H", crc16(msg))) + b"\x00"


def unpack(encoded):
    """(type, body) from one message without its 0x00; ValueError when damaged."""
    raw = cobs_decode(encoded)
    if len(raw) < 3:
        raise ValueError("message too short")
    if crc16(raw, 0xFFFF, 0, len(raw) - 2) != raw[-2] | (raw[-1] << 8):
        raise ValueError("CRC mismatch")
    return raw[0], raw[1:-2]


class Deframer:
    """Feed bytes as they come; collects complete messages, counts damaged ones and resynchronises."""

    def __init__(self):
        self._buf = bytearray()
        self._skipping = False
        self.errors = 0

    def feed(self, data):
        out = []
        for b in data:
            if b == 0:
                if self._buf and not self._skipping:
                    try:
                        out.append(unpack(self._buf))
                    except ValueError:
                        self.errors += 1
                self._buf = bytearray()
                self._skipping = False
            elif not self._skipping:
                self._buf.append(b)
                if len(self._buf) > MAX_MESSAGE + 4:
                    self.errors += 1
                    self._buf = bytearray()
                    self._skipping = True
        return out


def rx_message(frame, age_ms, rssi, snr_qdb, freq_khz, sf, crc_ok=True):
    return pack(RX, struct.pack(RX_HEAD, age_ms, rssi, snr_qdb, freq_khz, sf, 1 if crc_ok else 0) + bytes(frame))


def parse_tx(body):
    """(tag, freq_khz, sf, power_dbm, frame) from a TX body; ValueError if short."""
    if len(body) <= TX_HEAD_LEN:
        raise ValueError("TX without a frame")
    tag, freq, sf, power = struct.unpack(TX_HEAD, body[:TX_HEAD_LEN])
    return tag, freq, sf, power, bytes(body[TX_HEAD_LEN:])
