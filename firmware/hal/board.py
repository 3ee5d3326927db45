"""Board files (firmware/boards/*.json): what a board must declare, checked before a pin is touched."""
# A board file maps signals to ESP32 pins and scales. The rules come from the chip and from
# reference/firmware_anchors.md section 6:
# - analogue inputs on ADC1 only (GPIO32-39): ADC2 does not work while Wi-Fi is on;
# - outputs (LED PWM, USB and charger switches, radio lines) not on GPIO34-39, which are input-only;
# - inputs that wake the chip from light sleep (PIR, button, door, tamper) on RTC GPIOs;
# - the watchdog timeout at least twice the longest sleep (max_sleep_s, 1800 s by default) is not
#   required: the HAL sleeps in slices and feeds between them (hal/esp32.py);
# - `peek_ms` (60 s by default), how often a sleeping HAL reads the banded inputs: 1-300 s;
#   `pwm_in_lightsleep` only where the build runs the LEDC from RC_FAST; `awake_after_boot_s` (600) without
#   light sleep after a reset, for the technician's USB tools (hal/esp32.py).
# Annotations are for pyright (firmware/pyrightconfig.json); MicroPython ignores them.

ADC1_PINS = (32, 33, 34, 35, 36, 37, 38, 39)
INPUT_ONLY = (34, 35, 36, 37, 38, 39)
RTC_PINS = (0, 2, 4, 12, 13, 14, 15, 25, 26, 27, 32, 33, 34, 35, 36, 37, 38, 39)
ANALOG = ("vbat_mv", "ibat_ma", "pv_mv", "led_ma", "temp_c")
DIGITAL = ("pir", "button", "door", "tamper", "driver_fault")
ATTENUATIONS = (0, 2, 6, 11)  # dB: ADC.ATTN_0DB, ATTN_2_5DB, ATTN_6DB, ATTN_11DB


def _pin(problems: list, where: str, value: object, allowed: tuple = (), output: bool = False) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 39:
        problems.append("%s: pin must be a GPIO number 0-39, not %r" % (where, value))
    elif allowed and value not in allowed:
        problems.append("%s: GPIO%d is not allowed here (use %s)" % (where, value, allowed))
    elif output and value in INPUT_ONLY:
        problems.append("%s: GPIO%d is input-only" % (where, value))


def validate(board: dict) -> list:
    """Problems found in a board description, in words; [] when it is usable."""
    problems: list = []
    if board.get("board") == "emulated":
        if not isinstance(board.get("bus"), str) or ":" not in board["bus"]:
            problems.append("bus: an emulated board needs host:port")
        return problems
    _pin(problems, "led_pwm_pin", board.get("led_pwm_pin"), output=True)
    hz = board.get("led_pwm_hz", 20000)
    if not isinstance(hz, int) or not 100 <= hz <= 40000:
        problems.append("led_pwm_hz: 100-40000 Hz (above, the PWM has too few steps for low levels)")
    adc = board.get("adc")
    if not isinstance(adc, dict):
        return problems + ["adc: a table of analogue inputs is required"]
    for name in ANALOG:
        spec = adc.get(name)
        if not isinstance(spec, dict):
            problems.append("adc.%s: missing" % name)
            continue
        _pin(problems, "adc.%s" % name, spec.get("pin"), ADC1_PINS)
        if spec.get("atten_db", 11) not in ATTENUATIONS:
            problems.append("adc.%s: atten_db must be one of %s" % (name, ATTENUATIONS))
        for key in ("divider", "ma_per_mv", "c_per_mv"):
            if key in spec and not (isinstance(spec[key], (int, float)) and spec[key] > 0):
                problems.append("adc.%s.%s: a positive number" % (name, key))
    for name, spec in (board.get("inputs") or {}).items():
        if name not in DIGITAL or not isinstance(spec, dict):
            problems.append("inputs.%s: unknown input (known: %s)" % (name, ", ".join(DIGITAL)))
            continue
        _pin(problems, "inputs.%s" % name, spec.get("pin"), RTC_PINS if spec.get("wake") else ())
    for name in ("usb_pin", "charge_pin"):
        if name in board:
            _pin(problems, name, board[name], output=True)
    lora = board.get("lora")
    if lora is not None:
        for key in ("sck", "mosi", "cs", "reset"):
            _pin(problems, "lora.%s" % key, lora.get(key), output=True)
        _pin(problems, "lora.miso", lora.get("miso"))
        _pin(problems, "lora.dio0", lora.get("dio0"))
    light = board.get("light")
    if light is not None:
        _pin(problems, "light.scl", light.get("scl"), output=True)  # open-drain lines: both driven
        _pin(problems, "light.sda", light.get("sda"), output=True)
    used: dict = {}
    for where, pin in _all_pins(board):
        if pin in used:
            problems.append("%s: GPIO%s is already %s" % (where, pin, used[pin]))
        used[pin] = where
    wdt = board.get("wdt_timeout_ms", 180000)
    if not isinstance(wdt, int) or not 10000 <= wdt <= 600000:
        problems.append("wdt_timeout_ms: 10000-600000")
    peek = board.get("peek_ms", 60000)
    if not isinstance(peek, int) or not 1000 <= peek <= 300000:
        problems.append("peek_ms: 1000-300000 (how often a sleeping lamp reads its inputs)")
    awake = board.get("awake_after_boot_s", 600)
    if not isinstance(awake, int) or not 0 <= awake <= 3600:
        problems.append("awake_after_boot_s: 0-3600 (how long after a reset the lamp stays reachable on USB)")
    if not isinstance(board.get("pwm_in_lightsleep", False), bool):
        problems.append("pwm_in_lightsleep: true or false")
    return problems


def _all_pins(board: dict) -> list:
    pins = [("led_pwm_pin", board.get("led_pwm_pin"))]
    for name, spec in (board.get("adc") or {}).items():
        pins.append(("adc." + name, spec.get("pin") if isinstance(spec, dict) else None))
    for name, spec in (board.get("inputs") or {}).items():
        pins.append(("inputs." + name, spec.get("pin") if isinstance(spec, dict) else None))
    for name in ("usb_pin", "charge_pin"):
        if name in board:
            pins.append((name, board[name]))
    for key in ("sck", "mosi", "miso", "cs", "dio0", "reset"):
        if isinstance(board.get("lora"), dict):
            pins.append(("lora." + key, board["lora"].get(key)))
    for key in ("scl", "sda"):
        if isinstance(board.get("light"), dict):
            pins.append(("light." + key, board["light"].get(key)))
    return [(w, p) for w, p in pins if isinstance(p, int)]
