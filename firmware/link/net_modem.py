"""A LoRa modem that lives on the network: the emulator's radio hub (emulator/radio.py) stands in for the
air. Same methods as micropython-lib's sync modems (configure, send, recv, start_recv, poll_recv, standby,
sleep, get_time_on_air_us), so lamps and the bridge run unchanged on the unix port.

Protocol, one JSON object per line over TCP:
    to the hub:   {"op": "hello", "name"}  {"op": "config", "freq_khz", "sf", "bw_hz"}
                  {"op": "tx", "data": hex}  {"op": "rx", "on": bool}
    from the hub: {"op": "tx_done", "airtime_us"}  (after the airtime has passed)
                  {"op": "rx", "data": hex, "rssi", "snr"}  (only while receiving, on our channel and SF)
"""
import binascii
import json
import select
import socket

from firmware.link.airtime import time_on_air_us

try:
    from time import ticks_add, ticks_diff, ticks_ms
except ImportError:
    import time as _time

    def ticks_ms():
        return int(_time.monotonic() * 1000)

    def ticks_diff(a, b):
        return a - b

    def ticks_add(a, b):
        return a + b


class RxPacket(bytearray):
    """As micropython-lib's lora.RxPacket: bytes plus ticks_ms, snr (quarter dB), rssi (dBm), valid_crc."""

    def __init__(self, data, ticks=0, snr=0, rssi=0, valid_crc=True):
        super().__init__(data)
        self.ticks_ms = ticks
        self.snr = snr
        self.rssi = rssi
        self.valid_crc = valid_crc


class NetModem:
    def __init__(self, host, port, name="radio"):
        self._sock = socket.socket()
        self._sock.connect(socket.getaddrinfo(host, port)[0][-1])
        self._poll = select.poll()
        self._poll.register(self._sock, select.POLLIN)
        self._buf = b""
        self._rx = []
        self._receiving = False
        self.cfg = {"freq_khz": 868100, "sf": 7, "bw": "125", "coding_rate": 5, "preamble_len": 8,
                    "crc_en": True, "implicit_header": False}
        self._send({"op": "hello", "name": name})

    # ---------------------------------------------------------------- plumbing

    def _send(self, obj):
        data = json.dumps(obj).encode() + b"\n"
        while data:
            n = self._sock.send(data)
            data = data[n:]

    def _read(self, timeout_ms):
        """Wait up to timeout_ms for input; returns the messages that arrived (possibly none)."""
        out = []
        if self._poll.poll(max(0, timeout_ms)):
            chunk = self._sock.recv(1024)
            if not chunk:
                raise OSError("radio hub closed the connection")
            self._buf += chunk
            while b"\n" in self._buf:
                line, self._buf = self._buf.split(b"\n", 1)
                if line:
                    out.append(json.loads(line))
        for msg in out:
            if msg.get("op") == "rx" and self._receiving:
                self._rx.append(RxPacket(binascii.unhexlify(msg["data"]), ticks_ms(), msg.get("snr", 0),
                                         msg.get("rssi", 0), msg.get("crc", True)))
        return out

    def _bw_hz(self):
        return int(float(self.cfg["bw"]) * 1000)

    # ---------------------------------------------------------------- modem API

    def configure(self, cfg):
        self.cfg.update(cfg)
        self._send({"op": "config", "freq_khz": self.cfg["freq_khz"], "sf": self.cfg["sf"],
                    "bw_hz": self._bw_hz()})

    def get_time_on_air_us(self, n):
        c = self.cfg
        return time_on_air_us(n, c["sf"], self._bw_hz(), c["coding_rate"], c["preamble_len"],
                              not c["implicit_header"], c["crc_en"])

    def send(self, packet, tx_at_ms=None):
        was = self._receiving
        self._set_rx(False)  # half duplex: the radio hears nothing while it transmits
        self._send({"op": "tx", "data": binascii.hexlify(bytes(packet)).decode()})
        deadline = ticks_add(ticks_ms(), 10000 + self.get_time_on_air_us(len(packet)) // 1000)
        while True:
            left = ticks_diff(deadline, ticks_ms())
            if left <= 0:
                raise OSError("radio hub did not confirm the transmission")
            if any(m.get("op") == "tx_done" for m in self._read(left)):
                break
        if was:
            self._set_rx(True)
        return ticks_ms()

    def _set_rx(self, on):
        if on != self._receiving:
            self._receiving = on
            self._send({"op": "rx", "on": on})

    def start_recv(self, timeout_ms=None, continuous=False, rx_length=0xFF):
        self._set_rx(True)
        return False  # no interrupt: callers poll

    def poll_recv(self, rx_packet=None):
        if not self._rx:
            self._read(0)
        if self._rx:
            return self._rx.pop(0)
        return self._receiving

    def recv(self, timeout_ms=None, rx_length=0xFF, rx_packet=None):
        self._set_rx(True)
        deadline = None if timeout_ms is None else ticks_add(ticks_ms(), timeout_ms)
        try:
            while not self._rx:
                left = 1000 if deadline is None else ticks_diff(deadline, ticks_ms())
                if left <= 0:
                    return None
                self._read(left)
            return self._rx.pop(0)
        finally:
            self._set_rx(False)

    def standby(self):
        self._set_rx(False)

    def sleep(self):
        self._set_rx(False)

    def close(self):
        self._sock.close()
