"""The bridge role: listen on one LoRa channel, forward every packet to the host over the serial protocol
(firmware/bridge/proto.py) with RSSI, SNR and its age, and transmit what the host asks for.

The radio is micropython-lib's modem API (SX1276 / SX1262, or an emulated modem with the same methods):
the bridge receives continuously (`start_recv(continuous=True)` + `poll_recv()`), and a transmission
pre-empts reception, which then resumes on the listening channel. The bridge keeps its own EU868 duty-cycle
account (a downlink on 869.525 MHz may use 10 % of the time) and refuses what would break it.

Serial I/O is injected: `read()` returns whatever bytes are waiting (b"" if none), `write(data)` sends.
"""
import struct

from firmware.bridge import proto
from firmware.link.airtime import time_on_air_us
from firmware.link.dutycycle import DutyCycle
from firmware.link.lora_transport import DEFAULT_CFG, bw_hz

try:
    from time import ticks_diff, ticks_ms
except ImportError:
    import time as _time

    def ticks_ms():
        return int(_time.monotonic() * 1000)

    def ticks_diff(a, b):
        return a - b

HEARTBEAT_MS = 10000


class Bridge:
    def __init__(self, modem, read, write, cfg=None, clock=ticks_ms):
        self.modem = modem
        self.read = read
        self.write = write
        self.cfg = dict(DEFAULT_CFG)
        if cfg:
            self.cfg.update(cfg)
        self.clock = clock
        self.deframer = proto.Deframer()
        self.duty = DutyCycle()
        self.started_ms = clock()
        self._last_hello = None
        self.stats = {"rx_ok": 0, "rx_crc_errors": 0, "tx_ok": 0}
        modem.configure(self.cfg)
        self._listen()

    def _listen(self):
        self.modem.configure({"freq_khz": self.cfg["freq_khz"], "sf": self.cfg["sf"]})
        self.modem.start_recv(continuous=True)

    def hello(self):
        now = self.clock()
        self._last_hello = now
        body = struct.pack(proto.HELLO_BODY, proto.VERSION, ticks_diff(now, self.started_ms) & 0xFFFFFFFF,
                           self.stats["rx_ok"], self.stats["rx_crc_errors"], self.stats["tx_ok"],
                           self.deframer.errors)
        self.write(proto.pack(proto.HELLO, body))

    def log(self, text):
        self.write(proto.pack(proto.LOG, text.encode()))

    def step(self):
        """One pass: radio, serial, heartbeat. Returns True when something happened."""
        busy = False
        pkt = self.modem.poll_recv()
        if pkt is not None and not isinstance(pkt, bool):
            busy = True
            self._forward(pkt)
        data = self.read()
        if data:
            busy = True
            for mtype, body in self.deframer.feed(data):
                self._handle(mtype, body)
        now = self.clock()
        if self._last_hello is None or ticks_diff(now, self._last_hello) >= HEARTBEAT_MS:
            self.hello()
        return busy

    def _forward(self, pkt):
        crc_ok = getattr(pkt, "valid_crc", True)
        self.stats["rx_ok" if crc_ok else "rx_crc_errors"] += 1
        age = ticks_diff(self.clock(), getattr(pkt, "ticks_ms", self.clock()))
        snr = getattr(pkt, "snr", 0)  # the driver reports SNR in quarter dB already
        self.write(proto.rx_message(bytes(pkt), max(0, age), getattr(pkt, "rssi", 0), snr, self.cfg["freq_khz"],
                                    self.cfg["sf"], crc_ok))

    def _handle(self, mtype, body):
        if mtype == proto.PING:
            self.hello()
        elif mtype == proto.TX:
            self._transmit(body)
        else:
            self.log("unexpected message type 0x%02x" % mtype)

    def _transmit(self, body):
        try:
            tag, freq, sf, power, frame = proto.parse_tx(body)
        except ValueError:
            self.write(proto.pack(proto.TX_DONE, struct.pack(proto.TX_DONE_BODY, 0, proto.REFUSED, 0)))
            return
        toa = time_on_air_us(len(frame), sf, bw_hz(self.cfg["bw"]), self.cfg["coding_rate"], self.cfg["preamble_len"])
        status = proto.SENT
        now = self.clock()
        try:
            if self.duty.wait_ms(freq, now):
                status = proto.DUTY_CYCLE
        except ValueError:
            status = proto.REFUSED
        if status == proto.SENT:
            try:
                self.modem.configure({"freq_khz": freq, "sf": sf, "output_power": power})
                self.modem.send(frame)
                self.duty.record(freq, now, toa)
                self.stats["tx_ok"] += 1
            except OSError:
                status = proto.RADIO_ERROR
            self.modem.configure({"output_power": self.cfg["output_power"]})
            self._listen()
        self.write(proto.pack(proto.TX_DONE, struct.pack(proto.TX_DONE_BODY, tag, status, toa)))

    def run(self, idle_ms=2, sleep_ms=None):
        if sleep_ms is None:
            from time import sleep_ms
        self.hello()
        while True:
            if not self.step():
                sleep_ms(idle_ms)
