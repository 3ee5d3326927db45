"""LED luminaire and its constant-current driver: battery-side power, LED current and luminous flux
against the dimming level, with open / short / driver faults.

`rated_w` is the luminaire's input power at 100 % (what the battery supplies, the figure a lamp is
sized by: 30 W for 12 h = 360 Wh). With x = level / 100:

    P_chip(x) = rated_w * eta * x                         eta = driver efficiency at full load (0.90)
    P_in(x)   = P_chip(x) / eta_max + P_idle              linear in x, so that P_in(1) = rated_w,
                with P_idle = 2 % of rated_w / eta_max ~ 0.6 W for 30 W (driver and control overhead;
                low-load efficiency falls as real drivers' does: 88 % at 50 %, 83 % at 20 %, 0 at 0 %)
    I_led(x)  = P_chip(x) / V_string                     (30 V string for street lamps, 3.0 V for a lantern)
    flux(x)   = P_chip(x) * efficacy * (1 + 0.15 (1 - x))      efficacy 150 lm/W at rated current,
                ~15 % more at low current (less droop and junction heating) [assumed, typical mid-power LEDs]

Faults:
- led_open: the string is open. No light, I_led = 0, the driver idles (P_idle when switched on).
- led_short: the string is shorted. No light, the driver loses regulation: I_led = 1.8 x commanded
  (at least 30 % of rated current when on), input P_idle + 10 % of P_chip (power dissipated in the driver).
- driver_fault: the driver is dead. No light, no current, no input power.
- stuck_on (led_stuck_on): the driver's dimming input or the load relay is stuck: the LED runs at a fixed
  level (0..1 of full) whatever the command, switched off or not, as long as the battery supplies it.
  Combined with open or short, the string's fault shows at that level; a dead driver still gives nothing.
"""
from __future__ import annotations


class LedDriver:
    def __init__(self, rated_w: float, string_v: float, efficacy_lm_w: float = 150.0,
                 driver_eff: float = 0.90, idle_fraction: float = 0.02, low_current_gain: float = 0.15):
        if rated_w <= 0 or string_v <= 0:
            raise ValueError("LED needs positive rated power and string voltage")
        self.rated_w = rated_w
        self.string_v = string_v
        self.efficacy = efficacy_lm_w
        self.chip_w_full = rated_w * driver_eff
        eta_max = driver_eff * (1.0 + idle_fraction)
        self.idle_w = idle_fraction * self.chip_w_full / eta_max
        self.slope_w = rated_w - self.idle_w  # P_in(x) = idle + slope * x
        self.gain = low_current_gain
        self.open = False
        self.short = False
        self.driver_fault = False
        self.stuck_on: float | None = None  # fixed level 0..1 that ignores the command, or None

    def evaluate(self, level_pct: float, on: bool) -> tuple[float, float, float]:
        """(battery-side input W, luminous flux lm, LED current mA) at a dimming level 0..100."""
        if self.stuck_on is not None:
            level_pct, on = self.stuck_on * 100.0, True
        if not on or self.driver_fault:
            return 0.0, 0.0, 0.0
        x = level_pct * 0.01
        if x < 0.0:
            x = 0.0
        elif x > 1.0:
            x = 1.0
        chip = self.chip_w_full * x
        if self.open:
            return self.idle_w, 0.0, 0.0
        ma = chip / self.string_v * 1000.0
        if self.short:
            full_ma = self.chip_w_full / self.string_v * 1000.0
            return self.idle_w + 0.1 * chip, 0.0, max(1.8 * ma, 0.3 * full_ma)
        return self.idle_w + self.slope_w * x, chip * self.efficacy * (1.0 + self.gain * (1.0 - x)), ma

    def input_w(self, level_pct: float, on: bool = True) -> float:
        return self.evaluate(level_pct, on)[0]

    def lumens(self, level_pct: float, on: bool = True) -> float:
        return self.evaluate(level_pct, on)[1]

    def current_ma(self, level_pct: float, on: bool = True) -> float:
        return self.evaluate(level_pct, on)[2]
