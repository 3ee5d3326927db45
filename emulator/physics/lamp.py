"""A whole lamp's physics: LampPhysics composes sun -> panel -> charger -> battery <- LED + controller
for one LampSpec (spec.py), integrates it over virtual time and reads it like the controller's ADCs.

Power balance on the battery bus for each sub-step (<= 15 min, weather at the sub-step's midpoint):

    P_bus  = charger.bus_power(panel.mpp(GHI, T_amb), V_bat)      PV power offered
    P_load = LED driver input + controller (DC-DC) + USB load     only while the controller is powered
    P_bat  = min(P_bus - P_load, acceptance * V)  if P_bus > P_load  (excess PV is curtailed)
           = P_bus - P_load                       otherwise (battery discharges)
    I_bat from P_bat = I (OCV + I R);  battery.step(I_bat, dt)
    T_bat -> T_amb + enclosure_gain * GHI/1000 + over-temperature offset  (lag battery_tau_s)

Faults: `set_fault(fault, value=None, /, **params)`, `clear_fault(fault)`; names and parameters in
faults.py. `supply_interruptions` counts every loss of controller supply (power_cut, brown_out, battery
protection) and `last_interruption` names the latest; the emulator restarts the firmware when the count
changes and `powered` is True again. While unpowered, neither the LED nor the controller draws power
(the part of a sub-step before a brown-out ends counts as dark).
"""
from __future__ import annotations

import math
import random
from typing import Any

from emulator.physics.battery import Battery
from emulator.physics.charger import Charger
from emulator.physics.faults import FAULTS, READINGS, canonical, resolve
from emulator.physics.led import LedDriver
from emulator.physics.panel import Panel
from emulator.physics.site import SITES, Site, get_site
from emulator.physics.spec import PRESETS, LampSpec
from emulator.physics.weather import SyntheticWeather, Weather

__all__ = ["LampSpec", "LampPhysics", "PRESETS", "FAULTS", "READINGS", "Site", "SITES"]

LUX_PER_W_M2 = 110.0  # daylight luminous efficacy (clearsky.py)
_LED_FLAGS = {"led_open": "open", "led_short": "short", "driver_fault": "driver_fault"}


class LampPhysics:
    MAX_SUBSTEP_S = 900.0

    def __init__(self, spec: LampSpec | str = "street", site: Site | str = "bangui", weather: Weather | None = None,
                 seed: int = 0, soc_pct: float | None = None):
        if isinstance(spec, str):
            if spec not in PRESETS:
                raise ValueError(f"unknown lamp preset {spec!r}: use {', '.join(PRESETS)}")
            spec = PRESETS[spec]
        self.spec = spec
        self.site = get_site(site)
        self.weather = weather if weather is not None else SyntheticWeather(self.site, seed)
        self.rng = random.Random(f"lamp-sensors:{seed}")
        self.panel = Panel(spec.panel_wp, cells=spec.panel_cells)
        self.battery = Battery(spec.chemistry, spec.capacity_ah, cells=spec.cells,
                               soc_pct=spec.initial_soc_pct if soc_pct is None else soc_pct)
        self.charger = Charger(spec.charger, self.battery.chem, spec.cells, spec.capacity_ah, spec.charger_max_a)
        self.led = LedDriver(spec.led_w, spec.led_string_v, spec.led_efficacy_lm_w)
        self.controller = spec.controller
        self.aux_load_w = 0.0
        # scoring accumulators
        self.energy_in_wh = 0.0  # PV energy the charger delivered (to loads and battery)
        self.energy_pv_available_wh = 0.0  # what it could have delivered; the difference was curtailed
        self.energy_out_wh = 0.0  # all loads, battery side: LED driver + controller + USB
        self.energy_led_wh = 0.0
        self.energy_ctrl_wh = 0.0  # the controller alone (its share of energy_out_wh)
        self.charge_as = 0.0  # net charge into the battery (A s): the mean current between two samples
        self.lumen_hours = 0.0
        self.min_soc_pct = self.battery.soc_pct
        self.supply_interruptions = 0
        self.last_interruption: str | None = None  # brown_out | power_cut | battery_protection: a reset cause
        self.t_s: float | None = None  # end of the last advance
        # state of the last sub-step, for readings
        self._i_bat = 0.0
        self._v_term = self.battery.terminal_v(0.0)
        self._led_ma = 0.0
        self._pv_use = 0.0  # fraction of the offered PV power drawn: sets the panel's operating voltage
        # faults
        self._faults: dict[str, dict[str, Any]] = {}
        self._stuck: dict[str, float | None] = {}
        self._power_cut = False
        self._unpowered_until = -math.inf
        self._temp_offset = 0.0
        self._alpha_cache = (0.0, 0.0)
        ctrl = self.controller
        self._p_ctrl_awake = ctrl.battery_w(1.0)  # the common case: awake, no RX / Wi-Fi
        self._p_ctrl_tx_per_s = ctrl.rail_v * (ctrl.lora_tx_ma - ctrl.lora_sleep_ma) * 0.001 / ctrl.dcdc_eff
        self._led_cache: tuple[Any, Any, tuple[float, float, float]] = (None, None, (0.0, 0.0, 0.0))
        self._cutoff_v = self.battery.chem.cutoff_cell_v * self.battery.cells
        self._mppt = self.charger.is_mppt
        # Above this irradiance V_oc exceeds any charging voltage + 0.5 V: the hot path skips the log/exp.
        self._g_voc_clean, self._voc_high = self.panel.irradiance_for_voc(self.charger.cv_voltage_v(-20.0) + 0.5)
        self._g_voc_high = self._g_voc_clean  # in GHI terms: rises with soiling (see _set_soiling)
        self._pv_mpp_ratio = self.panel.vmp_ratio
        self._noise = spec.sensor_noise
        self._lux_max = spec.lux_max

    # -- supply ---------------------------------------------------------------------------------------
    @property
    def powered(self) -> bool:
        """Is the controller supplied now (end of the last advance)?"""
        t = self.t_s if self.t_s is not None else -math.inf
        return not self._power_cut and self.battery.output_on and t >= self._unpowered_until

    @property
    def v_term(self) -> float:
        """The battery's terminal voltage at the end of the last advance (V)."""
        return self._v_term

    @property
    def soc_pct(self) -> float:
        return self.battery.soc_pct

    def set_aux_load(self, watts: float) -> None:
        """USB load (W, battery side), e.g. a phone charging from a kit; 0 to stop."""
        if watts < 0 or watts > self.spec.usb_max_w:
            raise ValueError(f"USB load {watts} W outside 0..{self.spec.usb_max_w} W for this lamp")
        self.aux_load_w = float(watts)

    # -- integration ----------------------------------------------------------------------------------
    def advance(self, t_s: float, dt_s: float, led_pct: float, load_on: bool, radio_tx_ms: float = 0.0,
                cpu_awake_s: float | None = None, radio_rx_ms: float = 0.0, wifi_tx_ms: float = 0.0) -> None:
        """Integrate over [t_s, t_s + dt_s] with the LED at led_pct (0..100) when load_on; radio and CPU
        figures are totals over the interval. Sub-steps of at most 15 min, weather at each midpoint."""
        if dt_s <= 0.0:
            self.t_s = t_s
            return
        n = 1 if dt_s <= self.MAX_SUBSTEP_S else math.ceil(dt_s / self.MAX_SUBSTEP_S)
        h = dt_s / n
        if cpu_awake_s is None and not radio_rx_ms and not wifi_tx_ms:
            p_ctrl = self._p_ctrl_awake + self._p_ctrl_tx_per_s * radio_tx_ms * 0.001 / dt_s
        else:
            p_ctrl = self.controller.battery_w(dt_s, cpu_awake_s, radio_tx_ms, radio_rx_ms, wifi_tx_ms)
        if self._alpha_cache[0] != h:
            self._alpha_cache = (h, 1.0 - math.exp(-h / self.spec.battery_tau_s))
        alpha = self._alpha_cache[1]
        led = self._led_cache
        if led[0] != led_pct or led[1] != load_on:
            led = self._led_cache = (led_pct, load_on, self.led.evaluate(led_pct, load_on))
        p_led_on, lm_on, led_ma_on = led[2]
        bat, charger, panel = self.battery, self.charger, self.panel
        sample = self.weather.sample
        gain = self.spec.enclosure_gain_c * 0.001
        hours = h / 3600.0
        connected = not self._power_cut
        p_aux = self.aux_load_w
        cutoff_v = self._cutoff_v
        for k in range(n):
            g, ta = sample(t_s + (k + 0.5) * h)
            if self.t_s is None and k == 0:
                bat.temp_c = ta + gain * g
            bat.temp_c += (ta + gain * g + self._temp_offset - bat.temp_c) * alpha
            if connected and bat.output_on:
                p_led, lm, led_ma, p_c = p_led_on, lm_on, led_ma_on, p_ctrl
                p_load = p_led + p_ctrl + p_aux
                t_on = self._unpowered_until - (t_s + k * h)  # brown-out: supply back t_on into the sub-step
                if t_on > 0.0:
                    f = 1.0 - t_on / h if t_on < h else 0.0
                    p_led, lm, p_load, p_c = p_led * f, lm * f, p_load * f, p_c * f
                    led_ma = led_ma if f > 0.0 else 0.0
            else:
                p_led = lm = led_ma = p_load = p_c = 0.0
            p_bus = 0.0
            if connected and g > 0.0:
                p_mp, i_mp = panel.mpp(g, ta)
                if p_mp > 0.0:
                    voc = self._voc_high if g >= self._g_voc_high else panel.voc_v(g, ta)
                    p_bus = charger.bus_power_w(p_mp, i_mp, voc, self._v_term)
            soc = 100.0 * bat.charge_ah / bat.capacity_ah
            ocv = bat.ocv_v(soc)
            r = bat.r_ohm
            p_net = p_bus - p_load
            cv = False
            if not connected:
                i = p_used = 0.0
                i_acc = 0.0
            elif p_net > 0.0:
                i_acc = charger.acceptance_a(soc, bat.temp_c)
                i = bat.current_for_power(p_net, ocv)
                if i > i_acc:
                    i, cv = i_acc, True
                p_used = p_load + i * (ocv + i * r)
            else:
                i_acc = 0.0
                i = bat.current_for_power(p_net, ocv) if p_net < 0.0 else 0.0
                p_used = p_bus
            bat.step(i, h)
            self.charge_as += i * h
            v_term = ocv + i * r
            if cv and (i_acc > 0.0 or (charger.full and bat.chem.float_cell_v is not None)):
                v = charger.cv_voltage_v(bat.temp_c)
                if v > v_term:
                    v_term = v
            self._v_term = v_term
            if connected and (v_term < cutoff_v or not bat.output_on or (i < 0.0 and bat.charge_ah <= 0.0)):
                if bat.protect(i, v_term) and not bat.output_on:
                    self._interrupt("battery_protection")
            self._i_bat = i
            self._led_ma = led_ma
            self._pv_use = p_used / p_bus if p_bus > 0.0 else 0.0
            self.energy_in_wh += p_used * hours
            self.energy_pv_available_wh += p_bus * hours
            self.energy_out_wh += p_load * hours
            self.energy_led_wh += p_led * hours
            self.energy_ctrl_wh += p_c * hours
            self.lumen_hours += lm * hours
            soc = 100.0 * bat.charge_ah / bat.capacity_ah
            if soc < self.min_soc_pct:
                self.min_soc_pct = soc
        self.t_s = t_s + dt_s

    # -- sensors --------------------------------------------------------------------------------------
    def read(self, t_s: float) -> dict[str, Any]:
        """Integer readings as the controller's ADCs give them (state of the last advance, light and PV
        voltage at t_s), plus soc_true_pct for scoring (not a sensor)."""
        g, ta = self.weather.sample(t_s)
        connected = not self._power_cut
        v_bat = self._v_term if connected else 0.0
        pv_v = self.panel.voc_v(g, ta) if g > 0.0 else 0.0
        use = self._pv_use
        if use > 0.0 and connected and pv_v:
            # from V_oc (nothing drawn) to the operating point: V_mp (MPPT) or V_bat + 0.2 V (PWM switch closed)
            v_op = self._pv_mpp_ratio * pv_v if self._mppt else v_bat + 0.2
            pv_v -= (pv_v - v_op) * (use if use < 1.0 else 1.0)
        i_ma = self._i_bat * 1000.0
        led_ma = self._led_ma
        lux = g * LUX_PER_W_M2
        if self._noise:
            r = self.rng.random
            if v_bat:
                v_bat += 0.006 * (2.0 * r() - 1.0)
            if i_ma:
                i_ma += 10.0 * (2.0 * r() - 1.0)
            if pv_v:
                pv_v += 0.020 * (2.0 * r() - 1.0)
            if led_ma:
                led_ma += 3.0 * (2.0 * r() - 1.0)
            lux *= 1.0 + 0.02 * (2.0 * r() - 1.0)
        lux = int(lux + 0.5)
        bat = self.battery
        out = {"vbat_mv": int(v_bat * 1000.0 + 0.5) if v_bat > 0.0 else 0, "ibat_ma": round(i_ma),
               "pv_mv": int(pv_v * 1000.0 + 0.5) if pv_v > 0.0 else 0,
               "led_ma": int(led_ma + 0.5) if led_ma > 0.0 else 0, "temp_c": round(bat.temp_c),
               "lux": lux if lux < self._lux_max else self._lux_max,
               "soc_true_pct": round(100.0 * bat.charge_ah / bat.capacity_ah, 2)}
        if self._stuck:
            for key, stuck in self._stuck.items():
                if stuck is None:
                    self._stuck[key] = stuck = out[key]
                out[key] = int(stuck)
        return out

    def totals(self) -> dict[str, float]:
        """Scoring accumulators (dark minutes are the emulator's business)."""
        return {"energy_in_wh": self.energy_in_wh, "energy_pv_available_wh": self.energy_pv_available_wh,
                "energy_out_wh": self.energy_out_wh, "energy_led_wh": self.energy_led_wh,
                "energy_ctrl_wh": self.energy_ctrl_wh, "lumen_hours": self.lumen_hours, "min_soc_pct": self.min_soc_pct,
                "soc_true_pct": self.battery.soc_pct, "supply_interruptions": self.supply_interruptions}

    # -- faults ---------------------------------------------------------------------------------------
    @property
    def faults(self) -> dict[str, dict[str, Any]]:
        """Active faults and their parameters."""
        active = dict(self._faults)
        if "brown_out" in active and (self.t_s if self.t_s is not None else -math.inf) >= self._unpowered_until:
            del active["brown_out"]
        return active

    def _set_soiling(self, fraction: float) -> None:
        self.panel.set_soiling(fraction)
        self._g_voc_high = self._g_voc_clean / (1.0 - fraction) if fraction < 1.0 else math.inf

    def _interrupt(self, cause: str) -> None:
        self.supply_interruptions += 1
        self.last_interruption = cause

    def _apply(self, name: str, params: dict[str, Any], on: bool) -> None:
        self._led_cache = (None, None, (0.0, 0.0, 0.0))
        if name in _LED_FLAGS:
            setattr(self.led, _LED_FLAGS[name], on)
        elif name == "led_stuck_on":
            self.led.stuck_on = float(params["level"]) if on else None
        elif name == "panel_disconnected":
            self.panel.connected = not on
        elif name == "soiling":
            self._set_soiling(float(params["fraction"]) if on else 0.0)
        elif name == "battery_degraded":
            self.battery.degrade(float(params["capacity_factor"]) if on else 1.0)
        elif name == "over_temperature":
            self._temp_offset = float(params["offset_c"]) if on else 0.0
        elif name == "power_cut":
            if on and self.powered:
                self._interrupt("power_cut")
            self._power_cut = on
        elif name == "brown_out" and not on:
            self._unpowered_until = -math.inf
        elif name == "brown_out":
            duration = float(params["duration_s"])
            if duration < 0:
                raise ValueError("brown_out duration_s must be >= 0")
            self._interrupt("brown_out")
            now = self.t_s if self.t_s is not None else -math.inf
            self._unpowered_until = max(self._unpowered_until, now + duration)

    def set_fault(self, fault: str, value: float | None = None, /, **params) -> None:
        """Inject a fault (names and parameters: faults.py)."""
        name, params = resolve(fault, value, params)
        if name == "sensor_stuck":
            self._stuck[params["name"]] = None if params["value"] is None else float(params["value"])
        else:
            self._apply(name, params, True)
        self._faults[name] = params

    def clear_fault(self, fault: str, /, **params) -> None:
        """Undo a fault (sensor_stuck: one reading with name=..., else all). Clearing an inactive fault
        is a no-op; an unknown name raises ValueError."""
        name, params = canonical(fault, params)
        if name == "sensor_stuck":
            if params.get("name"):
                self._stuck.pop(params["name"], None)
            else:
                self._stuck.clear()
            if self._stuck:
                return
        else:
            self._apply(name, params, False)
        self._faults.pop(name, None)
