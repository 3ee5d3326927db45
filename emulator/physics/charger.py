"""Solar charge controller: how much PV power reaches the battery bus, how much the battery may take,
and the voltage the charger holds in its constant-voltage phase.

PV power delivered to the bus (loads first, the rest into the battery):

    MPPT:  P_bus = eta_mppt * P_mp                                   eta_mppt = 0.95 (conversion + tracking)
    PWM:   P_bus = eta_sw * min(P_mp, V_bat * 1.03 I_mp)             eta_sw = 0.98
           (the switch ties the panel to the battery, below V_mp the panel gives ~1.03 I_mp);
           for a 36-cell panel on a 13.3 V battery that is ~76 % of P_mp at 25 C, nearer 90 % of a hot
           panel's P_mp: the "PWM 70-80 %" of physics.md 6 (saurenergy) at STC.
    Either needs V_oc > V_bat + 0.5 V to start (the MPPT wake-up / PWM diode margin).

Battery acceptance (A, + charging), the CC-CV profile reduced to state of charge:

    bulk:         I <= max(charger rating, max_charge_c * C) (the smaller of the two)
    CV / taper:   I <= I_bulk * (100 - SoC) / (100 - SoC_taper)   for SoC > SoC_taper
                  (LiFePO4 taper from 95 %, lead-acid absorption from 80 %)
    full:         LiFePO4 stops at 100 % and restarts below 97 % SoC (OCV 13.4 V, physics.md 4.2,
                  Libre Solar recharge threshold); lead-acid goes to float and keeps the taper law.
    temperature:  no charging outside the chemistry's window (LiFePO4 0..45 C, BMS; 5 C hysteresis).

Set-point voltages: V_cv = cells * (V_cv,cell + tc (T_bat - 25)), tc = -3 mV/C/cell for lead-acid
(-18 mV/C for a 12 V block), 0 for LiFePO4: 14.2 V LiFePO4, 14.4 V lead-acid absorption, 13.8 V float.
"""
from __future__ import annotations

from emulator.physics.battery import Chemistry

KINDS = {"mppt": 0.95, "pwm": 0.98}


class Charger:
    def __init__(self, kind: str, chemistry: Chemistry, cells: int, capacity_ah: float, max_current_a: float,
                 efficiency: float | None = None):
        if kind not in KINDS:
            raise ValueError(f"unknown charger kind {kind!r}: use 'mppt' or 'pwm'")
        self.kind = kind
        self.is_mppt = kind == "mppt"
        self.eff = KINDS[kind] if efficiency is None else efficiency
        self.chem = chemistry
        self.cells = cells
        self.i_bulk_a = min(max_current_a, chemistry.max_charge_c * capacity_ah)
        self.full = False  # LiFePO4: reached 100 %, waiting for the recharge threshold
        self.temp_blocked = False

    def bus_power_w(self, p_mp_w: float, i_mp_a: float, voc_v: float, v_bat: float) -> float:
        """PV power (W) the controller puts on the battery bus before acceptance limits."""
        if p_mp_w <= 0.0 or voc_v < v_bat + 0.5:
            return 0.0
        if self.is_mppt:
            return self.eff * p_mp_w
        p = v_bat * 1.03 * i_mp_a
        return self.eff * (p if p < p_mp_w else p_mp_w)

    def cv_voltage_v(self, batt_temp_c: float) -> float:
        c = self.chem
        v = c.float_cell_v if (self.full and c.float_cell_v is not None) else c.cv_cell_v
        return self.cells * (v + c.temp_comp_v_per_c_cell * (batt_temp_c - 25.0))

    def acceptance_a(self, soc_pct: float, batt_temp_c: float) -> float:
        """Largest charging current the battery may take now (A, >= 0); updates the charge state."""
        c = self.chem
        lo, hi = c.charge_temp_c
        if self.temp_blocked:
            if lo + 5.0 <= batt_temp_c <= hi - 5.0:
                self.temp_blocked = False
        elif not lo <= batt_temp_c <= hi:
            self.temp_blocked = True
        if self.temp_blocked:
            return 0.0
        if soc_pct >= 99.95:
            self.full = True
        elif self.full and soc_pct < c.recharge_soc_pct:
            self.full = False
        if self.full and c.float_cell_v is None:
            return 0.0
        taper = c.taper_start_soc_pct
        if soc_pct <= taper:
            return self.i_bulk_a
        return self.i_bulk_a * max(0.0, 100.0 - soc_pct) / (100.0 - taper)
