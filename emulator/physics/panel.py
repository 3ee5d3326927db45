"""Photovoltaic panel: maximum power, MPP current and open-circuit voltage from irradiance and ambient
temperature; soiling and disconnection faults.

Mounted flat (tilt 0-10 deg is usual at 4 N), so plane-of-array irradiance G = GHI. With soiling s:

    G_eff = G (1 - s)
    T_cell = T_amb + (NOCT - 20) / 800 * G_eff                        NOCT model, NOCT = 45 C
    P_mp  = Wp * G_eff / 1000 * (1 + gamma (T_cell - 25)) * (1 - mismatch),  gamma = -0.4 %/C
    I_mp  = Wp / V_mp,STC * G_eff / 1000 * (1 - mismatch)             (I_mp ~ proportional to G)
    V_oc  = [V_oc,STC (1 + beta (T_cell - 25)) + Ns n k T/q ln(G_eff/1000)] * (1 - exp(-G_eff/G_knee))
    V_mp  = 0.80 V_oc

beta = -0.30 %/C (typical c-Si), n = 1.3, V_oc,STC = 0.61 V/cell (22.0 V for 36 cells, the usual
"12 V" panel: 21-22.5 V on datasheets). The log term is the diode equation's Voc(G); it alone keeps
Voc above ~14 V down to 1 W/m2, whereas a real panel's shunt resistance pulls Voc down steeply in
deep twilight. The factor (1 - exp(-G/G_knee)), G_knee = 3 W/m2 [assumed], reproduces that: 16 V at
10 W/m2, 12 V at sunset (4.5 W/m2 clear-sky glow), ~3 V at 1 W/m2, 0 at night. The firmware's dusk
and dawn thresholds (EPEVER-style 5-6 V) are therefore crossed a few minutes after sunset / before
sunrise under a clear sky, earlier under cloud. Below 25 C the linear gamma gives a small gain, as
real panels do (rare in Bangui daylight).

A disconnected or stolen panel gives 0 V and 0 W.
"""
from __future__ import annotations

import math

BOLTZMANN_V_PER_K = 8.617333e-5  # k/q


class Panel:
    def __init__(self, wp: float, cells: int = 36, voc_cell_v: float = 0.61, vmp_ratio: float = 0.80,
                 noct_c: float = 45.0, gamma_per_c: float = -0.004, beta_per_c: float = -0.003,
                 ideality: float = 1.3, g_knee_w_m2: float = 3.0, mismatch: float = 0.03):
        if wp <= 0 or cells <= 0:
            raise ValueError("panel needs positive Wp and cell count")
        self.wp = wp
        self.cells = cells
        self.voc_stc_v = voc_cell_v * cells
        self.vmp_ratio = vmp_ratio
        self.vmp_stc_v = vmp_ratio * self.voc_stc_v
        self.noct_k = (noct_c - 20.0) / 800.0
        self.gamma = gamma_per_c
        self.beta = beta_per_c
        self.ideality = ideality
        self.g_knee = g_knee_w_m2
        self.mismatch = mismatch
        self.soiling = 0.0
        self.connected = True

    def set_soiling(self, fraction: float) -> None:
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"soiling fraction {fraction} outside 0..1")
        self.soiling = fraction

    def cell_temp_c(self, ghi_w_m2: float, ambient_c: float) -> float:
        return ambient_c + self.noct_k * ghi_w_m2 * (1.0 - self.soiling)

    def mpp(self, ghi_w_m2: float, ambient_c: float) -> tuple[float, float]:
        """(P_mp W, I_mp A) at the panel terminals."""
        if not self.connected or ghi_w_m2 <= 0.0:
            return 0.0, 0.0
        g = ghi_w_m2 * (1.0 - self.soiling)
        tc = ambient_c + self.noct_k * g
        p = self.wp * g * 0.001 * (1.0 + self.gamma * (tc - 25.0)) * (1.0 - self.mismatch)
        return (p if p > 0.0 else 0.0), self.wp / self.vmp_stc_v * g * 0.001 * (1.0 - self.mismatch)

    def voc_v(self, ghi_w_m2: float, ambient_c: float) -> float:
        if not self.connected:
            return 0.0
        g = ghi_w_m2 * (1.0 - self.soiling)
        if g <= 1e-6:
            return 0.0
        tc = ambient_c + self.noct_k * g
        vt = BOLTZMANN_V_PER_K * (tc + 273.15)
        v = (self.voc_stc_v * (1.0 + self.beta * (tc - 25.0))
             + self.cells * self.ideality * vt * math.log(g * 0.001))
        v *= 1.0 - math.exp(-g / self.g_knee)
        return v if v > 0.0 else 0.0

    def vmp_v(self, ghi_w_m2: float, ambient_c: float) -> float:
        return self.vmp_ratio * self.voc_v(ghi_w_m2, ambient_c)

    def irradiance_for_voc(self, volts: float, ambient_c: float = 50.0) -> tuple[float, float]:
        """(G, V_oc) for the lowest G on a coarse grid where V_oc exceeds `volts` on a hot day; (inf, 0)
        if it never does. Above that G a charger's start condition is certainly met (a fast path)."""
        for g in (5.0, 10.0, 20.0, 50.0, 100.0, 200.0):
            v = self.voc_v(g, ambient_c)
            if v > volts:
                return g, v
        return math.inf, 0.0
