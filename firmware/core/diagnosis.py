"""Fault bookkeeping with evidence, and the LED check (measured current against the applied level)."""
# Every fault is raised or cleared as an event (code, action, value, ref) whose value and ref are the
# evidence: the reading and the limit it was judged against. `judge` needs `need` consecutive verdicts
# the same way before it changes a fault, so a single noisy ADC reading neither raises nor clears one.
# A verdict waiting for its count sets `pending`: the controller then samples again soon rather than
# sleeping (core/wake.py); the controller clears it at the start of each step.
#
# The LED check runs only while the LED was driven above 5 % (lower, the current sense is in the noise).
# Open string: current below 10 % of expected; short: above 160 %. A current while the LED is commanded
# off, or the driver's fault pin, is a driver fault. An open string and a dead driver both show no
# current: the driver pin (where fitted) tells them apart.
from telemetry import schema

LED_OPEN = schema.FAULT_CODES["led_open"]
LED_SHORT = schema.FAULT_CODES["led_short"]
DRIVER = schema.FAULT_CODES["driver"]


def i16(v):
    return max(-32768, min(32767, v))


class Faults:
    def __init__(self):
        self.bits = 0
        self.n = {}  # code -> consecutive verdicts: > 0 bad, < 0 good
        self.pending = False

    def set(self, code, on, value, ref, events):
        bit = 1 << code
        if bool(self.bits & bit) != bool(on):
            self.bits ^= bit
            events.append((code, schema.RAISED if on else schema.CLEARED, i16(value), i16(ref)))

    def judge(self, code, bad, need, value, ref, events):
        c = self.n.get(code, 0)
        if bad:
            c = c + 1 if c > 0 else 1
        else:
            c = c - 1 if c < 0 else -1
        self.n[code] = c
        if c >= need or -c >= need:
            self.set(code, bad, value, ref, events)
        elif bool(self.bits & (1 << code)) != bool(bad):
            self.pending = True


def check_led(cfg, faults, applied_pct, led_ma, driver_pin, events):
    need = cfg.led_fault_samples
    if applied_pct >= 5:
        expected = cfg.led_max_ma * applied_pct // 100
        faults.judge(LED_OPEN, led_ma * 100 < expected * cfg.led_open_ratio_pct, need, led_ma, expected, events)
        faults.judge(LED_SHORT, led_ma * 100 > expected * cfg.led_short_ratio_pct, need, led_ma, expected, events)
    # Without a fault pin the driver is judged only while the LED is commanded off (current there is a
    # driver or switch stuck on): lit, a stuck driver is indistinguishable from a working one, and
    # clearing the fault at every dusk would make it flap at the gateway.
    stray = applied_pct == 0 and led_ma * 10 > cfg.led_max_ma
    if driver_pin is not None:
        faults.judge(DRIVER, stray or bool(driver_pin), need, led_ma, applied_pct, events)
    elif applied_pct == 0 and (stray or faults.bits & (1 << DRIVER)):
        faults.judge(DRIVER, stray, need, led_ma, applied_pct, events)
