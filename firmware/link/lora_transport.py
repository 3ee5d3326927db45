"""LoRa transport over micropython-lib's `lora` modem API (SX1276/SX1262 `send`, `recv(timeout_ms)`).

The modem object is injected: `lora.SX1276(...)` / `lora.SX1262(...)` on the ESP32 (the flash tool installs
`lora-sx127x` / `lora-sx126x` and `lora-sync` with mip), an emulated modem with the same methods elsewhere.

Each uplink goes on the channel whose EU868 sub-band is free soonest; then the lamp listens once, class-A
style, on the downlink channel (869.525 MHz, the 10 % sub-band) for `rx_window_ms`, long enough for the
gateway to answer through the bridge and for the answer's airtime. Whatever arrives is handed to poll().
Delivery is learnt from the gateway's acknowledgement in that downlink (`confirms` is False).
"""
from firmware.link.airtime import time_on_air_us
from firmware.link.dutycycle import DutyCycle

# Radio settings shared by lamps and bridge. Not LoRaWAN: private sync word, LoRaWAN's 8-symbol preamble.
DEFAULT_CFG = {
    "freq_khz": 868100, "sf": 9, "bw": "125", "coding_rate": 5, "preamble_len": 8, "crc_en": True,
    "implicit_header": False, "syncword": 0x12, "output_power": 14,
}
UPLINK_CHANNELS_KHZ = (868100,)  # a single-channel bridge hears one frequency and one spreading factor
DOWNLINK_KHZ = 869525
MAX_DOWNLINK_LEN = 50
GATEWAY_TURNAROUND_MS = 1000  # the bridge hands a downlink to the radio within this after the uplink


def bw_hz(bw):
    return int(float(bw) * 1000)


def rx_window_ms(cfg):
    """Listen long enough for the gateway's turnaround plus the longest downlink's airtime."""
    toa = time_on_air_us(MAX_DOWNLINK_LEN, cfg["sf"], bw_hz(cfg["bw"]), cfg["coding_rate"], cfg["preamble_len"])
    return GATEWAY_TURNAROUND_MS + toa // 1000 + 200


class LoraTransport:
    confirms = False

    def __init__(self, modem, cfg=None, channels_khz=UPLINK_CHANNELS_KHZ, downlink_khz=DOWNLINK_KHZ,
                 duty=None, window_ms=None):
        self.modem = modem
        self.cfg = dict(DEFAULT_CFG)
        if cfg:
            self.cfg.update(cfg)
        self.channels = tuple(channels_khz)
        self.downlink_khz = downlink_khz
        self.duty = duty or DutyCycle()
        self.window_ms = window_ms if window_ms is not None else rx_window_ms(self.cfg)
        self._rx = []
        self._freq = None
        self.stats = {"tx": 0, "rx": 0, "rx_crc_error": 0, "tx_error": 0}
        self.cfg["freq_khz"] = self.channels[0]
        modem.configure(self.cfg)
        self._freq = self.channels[0]

    def _tune(self, freq_khz):
        if freq_khz != self._freq:
            self.modem.configure({"freq_khz": freq_khz})
            self._freq = freq_khz

    def connected(self):
        return True

    def airtime_us(self, n):
        c = self.cfg
        return time_on_air_us(n, c["sf"], bw_hz(c["bw"]), c["coding_rate"], c["preamble_len"],
                              not c["implicit_header"], c["crc_en"])

    def wait_ms(self, n, now_ms):
        return self.duty.earliest(self.channels, now_ms)[1]

    def send(self, frame, now_ms=0):
        ch, wait = self.duty.earliest(self.channels, now_ms)
        if wait:
            return False
        try:
            self._tune(ch)
            self.modem.send(frame)
        except OSError:
            self.stats["tx_error"] += 1
            return False
        self.duty.record(ch, now_ms, self.airtime_us(len(frame)))
        self.stats["tx"] += 1
        self._listen()
        return True

    def _listen(self):
        if self.window_ms <= 0:
            return
        try:
            self._tune(self.downlink_khz)
            pkt = self.modem.recv(timeout_ms=self.window_ms)
        except OSError:
            pkt = None
        if pkt is None:
            return
        if getattr(pkt, "valid_crc", True):
            self._rx.append(bytes(pkt))
            self.stats["rx"] += 1
        else:
            self.stats["rx_crc_error"] += 1

    def poll(self):
        out = self._rx
        self._rx = []
        return out

    def service(self, now_ms):
        pass

    def sleep(self):
        self.modem.sleep()
