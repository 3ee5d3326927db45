"""Read a LoRa bridge on a serial port (pyserial): frames in, downlinks out; survives unplug and replug.

The protocol is documented in firmware/bridge/proto.py (the bridge's side). This is a second, CPython
implementation (binascii.crc_hqx is the same CRC-16/CCITT-FALSE), so that the gateway does not import
firmware code and so that each side checks the other in the tests.

    bridge = SerialBridge("/dev/serial/by-id/usb-...-if00", on_uplink)
    bridge.start()            # a reader thread; reopens the port after an unplug (1 s, doubling to 30 s)
    ...
    bridge.stop()

`on_uplink(frame, meta)` runs on the reader thread for each packet with a good radio CRC; meta has rssi,
snr (dB), freq_khz, sf, rx_time (host clock minus the packet's age on the bridge) and bridge (the port).
It may return a downlink frame: the reader transmits it at once on `downlink_khz` (the lamp listens there
right after its uplink) and TX_DONE reports the outcome in `tx_status`.
"""
from __future__ import annotations

import binascii
import logging
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

import serial

log = logging.getLogger("lampfleet.gateway.bridge")

RX, TX, TX_DONE, HELLO, LOG, PING = 0x01, 0x02, 0x03, 0x04, 0x05, 0x06
RX_HEAD = struct.Struct("<IhhIBB")
TX_HEAD = struct.Struct("<BIBb")
TX_DONE_BODY = struct.Struct("<BBI")
HELLO_BODY = struct.Struct("<BIIIII")
TX_STATUS = {0: "sent", 1: "duty_cycle", 2: "radio_error", 3: "refused"}
MAX_MESSAGE = 300
DOWNLINK_KHZ = 869525
MAX_LOGS = 200  # the bridge's latest log lines kept (a chatty or broken bridge must not grow memory)
LOG_FIRST = 20  # handler failures logged; then every 1000th (all are counted in stats["handler_errors"])


def crc16(data: bytes) -> int:
    return binascii.crc_hqx(data, 0xFFFF)


def cobs_encode(data: bytes) -> bytes:
    out = bytearray()
    for chunk in data.split(b"\x00"):
        while len(chunk) >= 254:
            out.append(255)
            out += chunk[:254]
            chunk = chunk[254:]
        out.append(len(chunk) + 1)
        out += chunk
    return bytes(out)


def cobs_decode(data: bytes) -> bytes:
    out = bytearray()
    i = 0
    while i < len(data):
        code = data[i]
        if code == 0 or i + code > len(data):
            raise ValueError("bad COBS block")
        out += data[i + 1:i + code]
        i += code
        if code < 255 and i < len(data):
            out.append(0)
    return bytes(out)


def encode(mtype: int, body: bytes = b"") -> bytes:
    msg = bytes([mtype]) + body
    return cobs_encode(msg + struct.pack("<H", crc16(msg))) + b"\x00"


def decode(encoded: bytes) -> tuple[int, bytes]:
    raw = cobs_decode(encoded)
    if len(raw) < 3 or crc16(raw[:-2]) != struct.unpack("<H", raw[-2:])[0]:
        raise ValueError("CRC mismatch")
    return raw[0], raw[1:-2]


class Deframer:
    def __init__(self) -> None:
        self.buf = bytearray()
        self.skipping = False
        self.errors = 0

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        out = []
        for b in data:
            if b == 0:
                if self.buf and not self.skipping:
                    try:
                        out.append(decode(bytes(self.buf)))
                    except ValueError:
                        self.errors += 1
                self.buf.clear()
                self.skipping = False
            elif not self.skipping:
                self.buf.append(b)
                if len(self.buf) > MAX_MESSAGE + 4:
                    self.errors += 1
                    self.buf.clear()
                    self.skipping = True
        return out


@dataclass
class RxMeta:
    bridge: str
    rx_time: float
    rssi: int
    snr: float
    freq_khz: int
    sf: int


class SerialBridge:
    def __init__(self, port: str, on_uplink: Callable[[bytes, RxMeta], bytes | None], baudrate: int = 115200,
                 downlink_khz: int = DOWNLINK_KHZ, power_dbm: int = 14, reopen_min_s: float = 1.0,
                 reopen_max_s: float = 30.0, clock: Callable[[], float] = time.time):
        self.port = port
        self.on_uplink = on_uplink
        self.baudrate = baudrate
        self.downlink_khz = downlink_khz
        self.power_dbm = power_dbm
        self.reopen_min_s = reopen_min_s
        self.reopen_max_s = reopen_max_s
        self.clock = clock
        self.deframer = Deframer()
        self.stats: dict[str, int] = {"frames": 0, "radio_crc_errors": 0, "opens": 0, "unplugged": 0,
                                      "downlinks": 0, "hello": 0, "handler_errors": 0}
        self.tx_status: dict[str, int] = {}  # TX_DONE outcomes: sent, duty_cycle, radio_error, refused
        self.hello: dict[str, int] | None = None
        self.logs: deque[str] = deque(maxlen=MAX_LOGS)
        self._ser: serial.Serial | None = None
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._tag = 0
        self.connected = threading.Event()

    @property
    def serial_errors(self) -> int:
        return self.deframer.errors

    def start(self) -> "SerialBridge":
        self._thread = threading.Thread(target=self._run, name=f"bridge {self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(5)
        self._close()

    def _close(self) -> None:
        ser, self._ser = self._ser, None
        self.connected.clear()
        if ser is not None:
            try:
                ser.close()
            except (OSError, serial.SerialException):
                pass

    def _run(self) -> None:
        delay = self.reopen_min_s
        while not self._stop.is_set():
            try:
                self._ser = serial.Serial(self.port, self.baudrate, timeout=0.05)
            except (OSError, serial.SerialException) as e:
                log.debug("bridge %s not available (%s); retrying in %.0f s", self.port, e, delay)
                self._stop.wait(delay)
                delay = min(self.reopen_max_s, delay * 2)
                continue
            delay = self.reopen_min_s
            self.stats["opens"] += 1
            self.deframer = Deframer() if self.stats["opens"] == 1 else self._keep_errors()
            self.connected.set()
            log.info("bridge %s open", self.port)
            self.send(PING)
            try:
                while not self._stop.is_set():
                    data = self._ser.read(512)
                    if data:
                        for mtype, body in self.deframer.feed(data):
                            self._handle_contained(mtype, body)
            except (OSError, serial.SerialException) as e:
                self.stats["unplugged"] += 1
                log.warning("bridge %s lost (%s); reopening", self.port, e)
            self._close()

    def _keep_errors(self) -> Deframer:
        d = Deframer()
        d.errors = self.deframer.errors  # a fresh parser after a replug, the error count continues
        return d

    def send(self, mtype: int, body: bytes = b"") -> bool:
        ser = self._ser
        if ser is None:
            return False
        try:
            with self._write_lock:
                ser.write(encode(mtype, body))
            return True
        except (OSError, serial.SerialException):
            return False

    def transmit(self, frame: bytes, sf: int, freq_khz: int | None = None) -> bool:
        self._tag = (self._tag + 1) & 0xFF
        body = TX_HEAD.pack(self._tag, freq_khz or self.downlink_khz, sf, self.power_dbm) + frame
        ok = self.send(TX, body)
        if ok:
            self.stats["downlinks"] += 1
        return ok

    def _handle_contained(self, mtype: int, body: bytes) -> None:
        """`_handle`, but nothing a message or the uplink handler raises stops the reader thread: counted in
        stats["handler_errors"], logged rate-limited by type only (its text may quote the radio's bytes)."""
        try:
            self._handle(mtype, body)
        except Exception as e:  # noqa: BLE001 - one bad packet must not end the bridge
            self.stats["handler_errors"] += 1
            n = self.stats["handler_errors"]
            if n <= LOG_FIRST or n % 1000 == 0:
                log.error("bridge %s: %s while handling a message of type %#04x (%d so far)", self.port,
                          type(e).__name__, mtype, n)

    def _handle(self, mtype: int, body: bytes) -> None:
        if mtype == RX and len(body) > RX_HEAD.size:
            age_ms, rssi, snr_q, freq, sf, flags = RX_HEAD.unpack(body[:RX_HEAD.size])
            if not flags & 1:
                self.stats["radio_crc_errors"] += 1
                return
            self.stats["frames"] += 1
            meta = RxMeta(self.port, self.clock() - age_ms / 1000, rssi, snr_q / 4, freq, sf)
            reply = self.on_uplink(bytes(body[RX_HEAD.size:]), meta)  # a failure: _handle_contained
            if reply:
                self.transmit(reply, sf)
        elif mtype == TX_DONE and len(body) == TX_DONE_BODY.size:
            _tag, status, _airtime = TX_DONE_BODY.unpack(body)
            name = TX_STATUS.get(status, f"status_{status}")
            self.tx_status[name] = self.tx_status.get(name, 0) + 1
        elif mtype == HELLO and len(body) == HELLO_BODY.size:
            keys = ("version", "uptime_ms", "rx_ok", "rx_crc_errors", "tx_ok", "serial_errors")
            self.hello = dict(zip(keys, HELLO_BODY.unpack(body)))
            self.stats["hello"] += 1
        elif mtype == LOG:
            line = body.decode("utf-8", "replace")
            self.logs.append(line)
            log.debug("bridge %s says %.200r", self.port, line)  # escaped: the radio side is not trusted
        else:
            self.deframer.errors += 1
