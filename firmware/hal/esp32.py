"""HAL for the ESP32 lamp controller, against the real MicroPython `machine` API.

Pins, ADC dividers and radio wiring come from the board file (boards/*.json copied to /board.json by the
flash tool). ADC inputs use 11 dB attenuation and `read_uv()` (eFuse-calibrated); dividers are chosen so
that every signal stays inside the linear 150-2450 mV window. Only ADC1 pins (GPIO32-39) are used: ADC2
is unusable while WiFi is on.
"""
import time

import machine

_RESET_CAUSES = {
    machine.PWRON_RESET: "power_on",
    machine.HARD_RESET: "hard",
    machine.WDT_RESET: "watchdog",
    machine.DEEPSLEEP_RESET: "deep_sleep",
    machine.SOFT_RESET: "soft",
}
# time.time() counts from 2000-01-01 on ports built without MICROPY_EPOCH_IS_1970.
_EPOCH_OFFSET_S = 946684800 if time.gmtime(0)[0] == 2000 else 0


class _Channel:
    def __init__(self, spec):
        self.adc = machine.ADC(machine.Pin(spec["pin"]), atten=machine.ADC.ATTN_11DB)
        self.divider = spec.get("divider", 1.0)
        self.offset_mv = spec.get("offset_mv", 0)
        self.scale = spec.get("ma_per_mv", spec.get("c_per_mv", 1.0))

    def read(self):
        mv = self.adc.read_uv() / 1000 * self.divider - self.offset_mv
        return int(mv * self.scale)


class Esp32Hal:
    def __init__(self, board):
        self._channels = {}
        for name, spec in board["adc"].items():
            self._channels[name] = _Channel(spec)
        self._pwm = machine.PWM(machine.Pin(board["led_pwm_pin"]), freq=board.get("led_pwm_hz", 20000), duty_u16=0)
        self._wdt = machine.WDT(timeout=board.get("wdt_timeout_ms", 180000))
        self._rtc = machine.RTC()
        self._modem = _make_modem(board.get("lora"))

    def reset_cause(self):
        cause = machine.reset_cause()
        return _RESET_CAUSES.get(cause, "unknown")

    def now_ms(self):
        return (time.time_ns() // 1000000) + _EPOCH_OFFSET_S * 1000

    def set_time_ms(self, t_ms):
        tm = time.gmtime(t_ms // 1000 - _EPOCH_OFFSET_S)
        self._rtc.datetime((tm[0], tm[1], tm[2], tm[6], tm[3], tm[4], tm[5], (t_ms % 1000) * 1000))

    def read_inputs(self):
        readings = {}
        for name, channel in self._channels.items():
            readings[name] = channel.read()
        return readings

    def set_led(self, pct):
        self._pwm.duty_u16(65535 * max(0, min(100, pct)) // 100)

    def radio_send(self, frame):
        if self._modem is not None:
            self._modem.send(frame)

    def sleep_ms(self, ms):
        time.sleep_ms(ms)

    def feed_watchdog(self):
        self._wdt.feed()

    def log(self, msg):
        print(msg)


def _make_modem(spec):
    """SX1276 through micropython-lib's `lora` driver (installed on the device by the flash tool)."""
    if not spec:
        return None
    from lora import SX1276  # pyright: ignore[reportMissingImports]

    spi = machine.SPI(spec["spi"], baudrate=5000000, sck=machine.Pin(spec["sck"]),
                      mosi=machine.Pin(spec["mosi"]), miso=machine.Pin(spec["miso"]))
    return SX1276(spi, cs=machine.Pin(spec["cs"], machine.Pin.OUT), dio0=machine.Pin(spec["dio0"], machine.Pin.IN),
                  reset=machine.Pin(spec["reset"], machine.Pin.OUT),
                  lora_cfg={"freq_khz": spec["freq_khz"], "sf": spec["sf"], "bw": spec["bw"],
                            "coding_rate": spec["coding_rate"], "output_power": spec["output_power"]})
