"""LED current sanity check: measured current against the commanded level.

Raised after `led_fault_samples` consecutive bad samples and cleared after as many good ones, so a
single noisy ADC reading neither raises nor clears a fault. Only judged while the LED is commanded on
above 5 %: at lower levels the current sense is in the noise.
"""
from telemetry import schema

LED_OPEN = schema.FAULT_CODES["led_open"]
LED_SHORT = schema.FAULT_CODES["led_short"]


class LedCheck:
    def __init__(self):
        self.bad = {LED_OPEN: 0, LED_SHORT: 0}
        self.good = {LED_OPEN: 0, LED_SHORT: 0}

    def update(self, cfg, faults, led_pct, led_ma, events):
        """Return the new fault bitmap; append (code, action, value, ref) events on changes."""
        if led_pct < 5:
            return faults
        expected = cfg["led_max_ma"] * led_pct // 100
        verdicts = (
            (LED_OPEN, led_ma * 100 < expected * cfg["led_open_ratio_pct"]),
            (LED_SHORT, led_ma * 100 > expected * cfg["led_short_ratio_pct"]),
        )
        need = cfg["led_fault_samples"]
        for code, is_bad in verdicts:
            bit = 1 << code
            if is_bad:
                self.good[code] = 0
                self.bad[code] += 1
                if not faults & bit and self.bad[code] >= need:
                    faults |= bit
                    events.append((code, schema.RAISED, led_ma, expected))
            else:
                self.bad[code] = 0
                self.good[code] += 1
                if faults & bit and self.good[code] >= need:
                    faults &= ~bit
                    events.append((code, schema.CLEARED, led_ma, expected))
        return faults
