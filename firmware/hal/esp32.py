"""HAL for the ESP32 lamp controller, against the real MicroPython `machine` and `esp32` APIs."""
# Pins, ADC dividers and radio wiring come from the board file (boards/*.json, checked by hal/board.py)
# copied to /board.json by the flash tool. Analogue inputs use ADC1 pins, `read_uv()` (eFuse-calibrated)
# averaged over 8 readings, and an attenuation chosen per signal so that it stays inside the linear
# window (11 dB: 150-2450 mV). Type-checked with basedpyright against micropython-esp32-stubs
# (firmware/pyrightconfig.json, tests/test_pyright.py).
#
# Sleep (docs/firmware.md, "Sleep"): the core says how long (next_ms) and which readings must end the sleep
# sooner (bands). The HAL sleeps in slices of `peek_ms` (board file, 60 s), feeds the watchdog between
# slices if the loop fed it before sleeping, reads the banded inputs and the battery current after each
# slice, and wakes when a reading left its band; the currents' mean becomes the next sample's ibat_avg_ma
# (the core counts charge with it). Motion, button and door inputs wake the chip at once (ext1 wake on
# RTC pins) and are latched by interrupts between samples. Light sleep while the LED is off; while it is
# lit only with the board's `pwm_in_lightsleep`: the LEDC is clock-gated in light sleep unless it runs
# from the RC_FAST (8 MHz RTC) clock, which MicroPython's machine.PWM does not select (its stubs, 1.29,
# offer no clock option), so a stock build waits lit in time.sleep_ms. The UART sleeps too: for its first
# `awake_after_boot_s` (board file, 600 s) the lamp waits in time.sleep_ms, so that a technician who has
# just reset or powered it reaches its REPL at once (`lampfleet device`, `lampfleet flash`); afterwards a
# Ctrl-C is heard between two slices (within a minute), or at once after a press of the button.
#
# Persistence uses files on LittleFS (atomic rename, shell/persist.py) rather than esp32.NVS: one code
# path for the device, the unix port and CPython.
import time

import esp32
import machine
from micropython import const

from firmware.core.wake import outside
from firmware.hal.board import validate

_RESET_CAUSES = {
    machine.PWRON_RESET: "power_on",  # also brown-out: esp_reset_reason BROWNOUT maps here
    machine.HARD_RESET: "hard",
    machine.WDT_RESET: "watchdog",
    machine.DEEPSLEEP_RESET: "deep_sleep",
    machine.SOFT_RESET: "soft",
}
_ATTN = {0: machine.ADC.ATTN_0DB, 2: machine.ADC.ATTN_2_5DB, 6: machine.ADC.ATTN_6DB, 11: machine.ADC.ATTN_11DB}
# time.time() counts from 2000-01-01 on ports built without MICROPY_EPOCH_IS_1970.
_EPOCH_OFFSET_S = 946684800 if time.gmtime(0)[0] == 2000 else 0
_SAMPLES = const(8)
_FADE_STEP_MS = const(20)


class _Analog:
    def __init__(self, spec: dict) -> None:
        self.adc = machine.ADC(machine.Pin(spec["pin"]), atten=_ATTN[spec.get("atten_db", 11)])
        self.divider = float(spec.get("divider", 1.0))
        self.offset_mv = float(spec.get("offset_mv", 0))
        self.scale = float(spec.get("ma_per_mv", spec.get("c_per_mv", 1.0)))

    def read(self) -> int:
        uv = 0
        for _ in range(_SAMPLES):
            uv += self.adc.read_uv()
        mv = uv / (_SAMPLES * 1000) * self.divider - self.offset_mv
        return int(mv * self.scale)


class _Digital:
    """A level input (tamper, door, driver_fault) or, with "count", an edge counter (pir, button)."""

    def __init__(self, spec: dict) -> None:
        pull = machine.Pin.PULL_DOWN if spec.get("pull", "down") == "down" else machine.Pin.PULL_UP
        self.pin = machine.Pin(spec["pin"], machine.Pin.IN, pull)
        self.active = spec.get("active", 1)
        self.count = 0
        self.counting = bool(spec.get("count"))
        if self.counting:
            edge = machine.Pin.IRQ_RISING if self.active else machine.Pin.IRQ_FALLING
            self.pin.irq(trigger=edge, handler=self._edge)

    def _edge(self, pin: machine.Pin) -> None:
        self.count += 1

    def read(self) -> int:
        if self.counting:
            n, self.count = self.count, 0
            return n
        return 1 if self.pin.value() == self.active else 0


class _LightSensor:
    """BH1750 ambient light sensor on I2C, continuous high-resolution mode (1 lx steps, 120 ms): the
    datasheet's count / 1.2 = lux. -1 (read as a faulty sensor by the core) when it does not answer."""

    def __init__(self, spec: dict) -> None:
        self.addr = spec.get("addr", 0x23)
        self.i2c = machine.SoftI2C(scl=machine.Pin(spec["scl"]), sda=machine.Pin(spec["sda"]), freq=100000)
        self.started = False

    def read(self) -> int:
        try:
            if not self.started:
                self.i2c.writeto(self.addr, b"\x10")
                self.started = True
            data = self.i2c.readfrom(self.addr, 2)
        except OSError:
            self.started = False
            return -1
        return ((data[0] << 8) | data[1]) * 10 // 12


class Esp32Hal:
    def __init__(self, board: dict) -> None:
        problems = validate(board)
        if problems:
            raise ValueError("board.json: " + "; ".join(problems))
        self._analog = {}
        for name, spec in board["adc"].items():
            self._analog[name] = _Analog(spec)
        self._digital = {}
        wake = []
        for name, spec in (board.get("inputs") or {}).items():
            self._digital[name] = _Digital(spec)
            if spec.get("wake"):
                wake.append(self._digital[name].pin)
        if wake:
            esp32.wake_on_ext1(tuple(wake), esp32.WAKEUP_ANY_HIGH)
        self._pwm = machine.PWM(machine.Pin(board["led_pwm_pin"]), freq=board.get("led_pwm_hz", 20000), duty_u16=0)
        self._pct = 0
        self._fade_ms = board.get("led_fade_ms", 400)
        self._gamma = float(board.get("led_gamma", 2.2))
        self._switches = {}
        for name in ("charge_pin", "usb_pin"):
            if name in board:
                self._switches[name] = machine.Pin(board[name], machine.Pin.OUT, value=1)
        self._peek_ms = board.get("peek_ms", 60000)
        self._pwm_sleeps = bool(board.get("pwm_in_lightsleep"))
        self._ibat_avg = None
        self._awake_until = time.ticks_add(time.ticks_ms(), board.get("awake_after_boot_s", 600) * 1000)
        self._wdt_ms = board.get("wdt_timeout_ms", 180000)
        self._wdt = machine.WDT(timeout=self._wdt_ms)
        self._fed = False
        self._rtc = machine.RTC()
        self._light = _LightSensor(board["light"]) if board.get("light") else None
        self._lora = board.get("lora")
        self._modem = _make_modem(self._lora)

    def reset_cause(self) -> str:
        return _RESET_CAUSES.get(machine.reset_cause(), "unknown")

    def now_ms(self) -> int:
        return time.time_ns() // 1000000 + _EPOCH_OFFSET_S * 1000

    def set_time_ms(self, t_ms: int) -> None:
        tm = time.gmtime(t_ms // 1000 - _EPOCH_OFFSET_S)
        self._rtc.datetime((tm[0], tm[1], tm[2], tm[6], tm[3], tm[4], tm[5], (t_ms % 1000) * 1000))

    def read_inputs(self) -> dict:
        readings = {}
        for name, channel in self._analog.items():
            readings[name] = channel.read()
        for name, channel in self._digital.items():
            readings[name] = channel.read()
        if self._light is not None:
            readings["lux"] = self._light.read()
        if self._ibat_avg is not None:
            readings["ibat_avg_ma"] = self._ibat_avg
            self._ibat_avg = None
        return readings

    def _duty(self, pct: float) -> int:
        return int(65535 * max(0.0, min(100.0, pct)) / 100)

    def set_led(self, pct: int) -> None:
        """Fade to pct over led_fade_ms, evenly in perceived brightness (gamma), no visible steps."""
        old, self._pct = self._pct, pct
        steps = self._fade_ms // _FADE_STEP_MS
        if old == pct or old == 0 or pct == 0 or steps < 2:
            self._pwm.duty_u16(self._duty(pct))
            return
        g = self._gamma
        a, b = (old / 100) ** (1 / g), (pct / 100) ** (1 / g)
        for i in range(1, steps + 1):
            p = a + (b - a) * i / steps
            self._pwm.duty_u16(self._duty(100 * p ** g))
            time.sleep_ms(_FADE_STEP_MS)

    def set_switches(self, charge_on: bool, usb_on: bool) -> None:
        if "charge_pin" in self._switches:
            self._switches["charge_pin"].value(1 if charge_on else 0)
        if "usb_pin" in self._switches:
            self._switches["usb_pin"].value(1 if usb_on else 0)

    def radio_send(self, frame: bytes) -> bool:
        if self._modem is None:
            return False
        self._modem.send(frame)
        return True

    def transport(self, config: dict):
        """The link's transport (firmware/link/transport.py): MQTT over Wi-Fi when the lamp's config has
        an "mqtt" section (TLS to port 8883 by default: hal/mqtt_config.py), else LoRa on the board's
        radio, else None (nothing to report on). A broken "mqtt" section is logged and falls back to the
        radio: the lamp keeps lighting either way."""
        mqtt = config.get("mqtt")
        if mqtt:
            from firmware.hal.mqtt_config import MqttConfigError, transport_args
            from firmware.link.mqtt_transport import MqttTransport

            try:
                args = transport_args(config["lamp_id"], mqtt)
            except MqttConfigError as e:
                self.log(str(e))
            else:
                _wifi_on(mqtt)
                return MqttTransport(config["lamp_id"], args["server"], port=args["port"], user=args["user"],
                                     password=args["password"], ssl=args["ssl"], ssl_params=args["ssl_params"])
        if self._modem is not None and self._lora is not None:
            from firmware.link.lora_transport import LoraTransport

            return LoraTransport(self._modem, {k: self._lora[k] for k in ("freq_khz", "sf", "bw", "coding_rate",
                                                                         "output_power") if k in self._lora})
        return None

    def sleep_ms(self, ms: int, wake: dict | None = None) -> None:
        fed, self._fed = self._fed, False
        slice_ms = min(self._peek_ms, self._wdt_ms // 3)
        ibat = self._analog.get("ibat_ma")
        charge = slept = 0
        while ms > 0:
            n = min(ms, slice_ms)
            start = time.ticks_ms()
            if self._awake_until is not None and time.ticks_diff(self._awake_until, start) <= 0:
                self._awake_until = None  # once: ticks wrap after 12 days
            if self._awake_until is None and (self._pct == 0 or self._pwm_sleeps):
                machine.lightsleep(n)  # returns early when a wake input rises
            else:
                time.sleep_ms(n)
            n = max(1, time.ticks_diff(time.ticks_ms(), start))
            ms -= n
            if fed:
                self._wdt.feed()
            if ibat is not None:
                charge += ibat.read() * n
                slept += n
                self._ibat_avg = charge // slept
            if self._woken() or (wake and outside(wake, self._peek(wake))):
                return

    def _peek(self, bands: dict) -> dict:
        """The banded inputs read now; counters (PIR, button) are left out: their interrupt wakes the chip
        (_woken), and reading one would consume its count."""
        out = {}
        for name in bands:
            if name == "lux" and self._light is not None:
                out[name] = self._light.read()
            elif name in self._analog:
                out[name] = self._analog[name].read()
            elif name in self._digital and not self._digital[name].counting:
                out[name] = self._digital[name].read()
        return out

    def _woken(self) -> bool:
        for channel in self._digital.values():
            if channel.counting and channel.count:
                return True
        return False

    def feed_watchdog(self) -> None:
        self._wdt.feed()
        self._fed = True

    def reset(self) -> None:
        machine.reset()

    def log(self, msg: str) -> None:
        print(msg)


def _wifi_on(mqtt: dict) -> None:
    """Start joining the access point and return at once: the MQTT transport retries with backoff
    until the station has an address (a blocking join would starve the watchdog)."""
    import network

    sta = network.WLAN(network.WLAN.IF_STA)
    sta.active(True)
    if not sta.isconnected():
        sta.connect(mqtt["wifi_ssid"], mqtt.get("wifi_password", ""))


def _make_modem(spec: dict | None):
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
