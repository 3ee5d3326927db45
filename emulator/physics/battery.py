"""Battery: chemistry profiles, open-circuit voltage from state of charge, internal resistance,
coulomb counting, self-discharge, capacity fade, temperature and the protection that cuts the output.

State is the charge Q (Ah) held, with usable capacity C = C_nominal * capacity_factor:

    SoC = Q / C
    V_terminal = OCV(SoC) + I R            I > 0 charging (A), R = cells * r_cell_ah / C_nom + r_fixed
    dQ/dt = eta_c I  (I > 0),  I  (I < 0) - self-discharge
    self-discharge: r_sd %/month at 25 C, doubling every +10 C  (physics.md 4.4)
    capacity fade: `fade_per_cycle` of C_nominal per equivalent full discharge cycle
    battery temperature: first-order lag toward T_amb + enclosure gain * GHI/1000 + offset,
        T += (T_target - T)(1 - exp(-dt/tau))       (the lag and gain live with the lamp: lamp.py)

Given a power P on the battery's terminals the current solves P = I (OCV + I R):
    I = (-OCV + sqrt(OCV^2 + 4 R P)) / (2 R)

OCV tables (25 C, rested):
- LiFePO4, per cell, 0..100 % in 5 % steps: Libre Solar bms-firmware `ocv_lfp[]` (physics.md 4.1).
- Lead-acid, per cell, 0..100 % in 10 % steps: the `OCV_SLA[]` table of physics.md 4.3 (12.73 V full).

Limits (physics.md 4.2/4.3, firmware_anchors.md section 2):
- LiFePO4: CV 3.55 V/cell (14.2 V), recharge below 3.35 V/cell OCV (13.4 V ~ 97 % SoC), no float,
  charge 0..45 C (BMS, 5 C hysteresis), BMS under-voltage trip 2.50 V/cell on the terminals (or an
  empty cell), release when OCV >= 3.10 V/cell (BMS UV reset). Self-discharge 2.5 %/month.
- Lead-acid: absorption 2.40 V/cell (14.4 V), float 2.30 V/cell (13.8 V), both -3 mV/C/cell from 25 C;
  no BMS: below 1.60 V/cell (9.6 V, "absolute minimum") the controller's supply drops out, back at
  1.90 V/cell OCV (11.4 V, "OCV empty"). Self-discharge 5 %/month, coulombic efficiency 0.90.
Internal resistance: LiFePO4 0.2 ohm*Ah per cell (5 mohm for a 40 Ah cell), lead-acid 0.15 ohm*Ah per
cell, plus 10 mohm wiring/BMS/fuse [assumed, typical datasheet orders of magnitude]. Degradation raises
R by 1/capacity_factor.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

SECONDS_PER_MONTH = 30.0 * 86400.0


@dataclass(frozen=True)
class Chemistry:
    name: str
    default_cells: int
    ocv_cell_v: tuple[float, ...]  # ascending SoC, uniform steps from 0 to 100 %
    cv_cell_v: float  # absorption / topping voltage at 25 C
    float_cell_v: float | None  # None: no float (charging stops at full)
    temp_comp_v_per_c_cell: float
    recharge_soc_pct: float  # charging resumes below this after a full charge
    taper_start_soc_pct: float  # constant-voltage phase: acceptance falls linearly to 0 at 100 %
    max_charge_c: float  # acceptance limit in bulk, in C
    charge_temp_c: tuple[float, float]
    cutoff_cell_v: float  # output cut below this terminal voltage
    reconnect_cell_v: float  # output back at this OCV
    self_discharge_pct_month: float
    coulombic_eff: float
    r_cell_ohm_ah: float
    fade_per_cycle: float  # fraction of nominal capacity lost per equivalent full cycle

    @property
    def ocv_step_pct(self) -> float:
        return 100.0 / (len(self.ocv_cell_v) - 1)


LIFEPO4 = Chemistry(
    name="lifepo4", default_cells=4,
    ocv_cell_v=(2.833, 3.132, 3.177, 3.190, 3.213, 3.226, 3.240, 3.252, 3.262, 3.264, 3.265,
                3.268, 3.271, 3.275, 3.283, 3.296, 3.304, 3.308, 3.309, 3.314, 3.392),
    cv_cell_v=3.55, float_cell_v=None, temp_comp_v_per_c_cell=0.0, recharge_soc_pct=97.0,
    taper_start_soc_pct=95.0, max_charge_c=0.5, charge_temp_c=(0.0, 45.0),
    cutoff_cell_v=2.50, reconnect_cell_v=3.10, self_discharge_pct_month=2.5, coulombic_eff=0.99,
    r_cell_ohm_ah=0.2, fade_per_cycle=0.2 / 3000,  # 80 % after 3000 cycles (physics.md 6)
)
LEAD_ACID = Chemistry(
    name="lead_acid", default_cells=6,
    ocv_cell_v=(1.750, 1.918, 1.943, 1.968, 1.993, 2.017, 2.040, 2.062, 2.083, 2.103, 2.122),
    cv_cell_v=2.40, float_cell_v=2.30, temp_comp_v_per_c_cell=-0.003, recharge_soc_pct=95.0,
    taper_start_soc_pct=80.0, max_charge_c=0.2, charge_temp_c=(-20.0, 50.0),
    cutoff_cell_v=1.60, reconnect_cell_v=1.90, self_discharge_pct_month=5.0, coulombic_eff=0.90,
    r_cell_ohm_ah=0.15, fade_per_cycle=0.2 / 600,  # deep-cycle at 50 % DoD [assumed]
)
CHEMISTRIES = {"lifepo4": LIFEPO4, "lead_acid": LEAD_ACID}


class Battery:
    def __init__(self, chemistry: Chemistry | str, capacity_ah: float, cells: int | None = None,
                 soc_pct: float = 50.0, temp_c: float = 25.0, r_fixed_ohm: float = 0.010):
        if isinstance(chemistry, str):
            if chemistry not in CHEMISTRIES:
                raise ValueError(f"unknown chemistry {chemistry!r}: use {', '.join(CHEMISTRIES)}")
            chemistry = CHEMISTRIES[chemistry]
        if capacity_ah <= 0:
            raise ValueError("capacity_ah must be positive")
        self.chem = chemistry
        self.cells = cells or chemistry.default_cells
        self.nominal_ah = capacity_ah
        self.capacity_factor = 1.0  # fault: degrade(); set by user
        self.fade = 0.0  # ageing from cycling, fraction of nominal
        self.r_fixed_ohm = r_fixed_ohm
        self.capacity_ah = capacity_ah
        self.charge_ah = capacity_ah * min(100.0, max(0.0, soc_pct)) / 100.0
        self.temp_c = temp_c
        self.output_on = True
        self._ocv_pack = [v * self.cells for v in chemistry.ocv_cell_v]
        self._ocv_scale = 1.0 / chemistry.ocv_step_pct
        self._recompute()

    def _recompute(self) -> None:
        self.capacity_ah = self.nominal_ah * max(0.01, self.capacity_factor - self.fade)
        self.charge_ah = min(self.charge_ah, self.capacity_ah)
        self.r_ohm = (self.cells * self.chem.r_cell_ohm_ah / self.nominal_ah / max(0.05, self.capacity_factor)
                      + self.r_fixed_ohm)

    def degrade(self, capacity_factor: float) -> None:
        """Fault: usable capacity becomes capacity_factor x nominal (charge above it is lost)."""
        if not 0.0 < capacity_factor <= 1.0:
            raise ValueError(f"capacity_factor {capacity_factor} outside (0, 1]")
        self.capacity_factor = capacity_factor
        self._recompute()

    @property
    def soc_pct(self) -> float:
        return 100.0 * self.charge_ah / self.capacity_ah

    def ocv_v(self, soc_pct: float | None = None) -> float:
        s = self.soc_pct if soc_pct is None else soc_pct
        x = s * self._ocv_scale
        if x <= 0.0:
            return self._ocv_pack[0]
        i = int(x)
        tab = self._ocv_pack
        if i >= len(tab) - 1:
            return tab[-1]
        return tab[i] + (x - i) * (tab[i + 1] - tab[i])

    def terminal_v(self, current_a: float) -> float:
        return self.ocv_v() + current_a * self.r_ohm

    def current_for_power(self, power_w: float, ocv: float | None = None) -> float:
        """Terminal current (A, + charging) that moves `power_w` (W, + into the battery)."""
        if ocv is None:
            ocv = self.ocv_v()
        r = self.r_ohm
        disc = ocv * ocv + 4.0 * r * power_w
        if disc <= 0.0:  # demand beyond the maximum power point: the voltage collapses
            return -ocv / (2.0 * r)
        return (math.sqrt(disc) - ocv) / (2.0 * r)

    def step(self, current_a: float, dt_s: float) -> None:
        """Coulomb counting, self-discharge and cycle fade over dt_s at a constant current."""
        chem = self.chem
        dq = current_a * dt_s / 3600.0
        if dq > 0.0:
            dq *= chem.coulombic_eff
        else:
            self.fade += -dq / self.nominal_ah * chem.fade_per_cycle
        rate = chem.self_discharge_pct_month * 0.01 / SECONDS_PER_MONTH * 2.0 ** ((self.temp_c - 25.0) / 10.0)
        q = self.charge_ah + dq - rate * self.capacity_ah * dt_s
        self.charge_ah = q if q > 0.0 else 0.0
        if self.fade and dq < 0.0:
            self.capacity_ah = self.nominal_ah * max(0.01, self.capacity_factor - self.fade)
        if self.charge_ah > self.capacity_ah:
            self.charge_ah = self.capacity_ah

    def update_temperature(self, target_c: float, dt_s: float, tau_s: float) -> None:
        self.temp_c += (target_c - self.temp_c) * (1.0 - math.exp(-dt_s / tau_s))

    def protect(self, current_a: float, terminal_v: float | None = None) -> bool:
        """Update the output switch (BMS / supply drop-out) after a step at current_a; True if it changed."""
        chem = self.chem
        if self.output_on:
            if terminal_v is None:
                terminal_v = self.terminal_v(current_a)
            if self.charge_ah <= 0.0 and current_a < 0.0 or terminal_v < chem.cutoff_cell_v * self.cells:
                self.output_on = False
                return True
        elif self.ocv_v() >= chem.reconnect_cell_v * self.cells:
            self.output_on = True
            return True
        return False
