"""Climatology that drives the synthetic weather: monthly day-state probabilities and persistence
of the Markov chain, and monthly mean daily minimum and maximum temperatures.

Calibration (BANGUI_CLIMATE). Target all-sky monthly means, kWh/m2/day: Jan 5.6, Feb 5.8, Mar 5.6,
Apr 5.3, May 5.0, Jun 4.6, Jul 4.2, Aug 4.1, Sep 4.3, Oct 4.5, Nov 5.1, Dec 5.4 (annual ~5.0) — shaped on
reference/physics.md 5.1, which is an UNVERIFIED placeholder (annual 5.0 +- 0.5, Jul-Sep 4-4.5,
Jan-Mar 5.5-6); replace with NASA POWER data when available. p_overcast follows the rain-day counts of
physics.md 5.2 (Jan 1 ... Oct 14 days); p_clear = (k_target - 0.68 + 0.38 p_overcast) / 0.27 then
follows from the state means 0.95 / 0.685 / 0.30. Temperatures: monthly mean min/max chosen inside the
physics.md 4.4 ranges (min 18.2-22.6, max 30.4-35.1, Jul mean 25.8, Mar mean 28.6); per-month split
assumed. Persistence: no statistic of consecutive overcast days in Bangui was found (physics.md 5.2);
0.45 in the rainy season makes 5-day overcast runs happen in most rainy seasons (the emulator must test
them), 0.3 in the dry season keeps them rare. Measured means over 20 simulated years are in
docs/emulator-physics.md.
"""
from __future__ import annotations

from dataclasses import dataclass

_MONTH_MID_DOY = [15.5, 45.0, 74.5, 105.0, 135.5, 166.0, 196.5, 227.5, 258.0, 288.5, 319.0, 349.5]


@dataclass(frozen=True)
class Climate:
    name: str
    p_clear: tuple[float, ...]  # per month, Jan..Dec
    p_partly: tuple[float, ...]
    p_overcast: tuple[float, ...]
    persistence: tuple[float, ...]
    t_min_c: tuple[float, ...]
    t_max_c: tuple[float, ...]

    def month_value(self, table: tuple[float, ...], doy: float) -> float:
        """Linear between mid-month values, wrapping December to January."""
        for i in range(12):
            if doy < _MONTH_MID_DOY[i]:
                j = i - 1
                lo = _MONTH_MID_DOY[j] if j >= 0 else _MONTH_MID_DOY[-1] - 365.0
                f = (doy - lo) / (_MONTH_MID_DOY[i] - lo)
                return table[j] + f * (table[i] - table[j])
        f = (doy - _MONTH_MID_DOY[-1]) / (_MONTH_MID_DOY[0] + 365.0 - _MONTH_MID_DOY[-1])
        return table[-1] + f * (table[0] - table[-1])


BANGUI_CLIMATE = Climate(
    name="bangui",
    p_clear=(0.63, 0.70, 0.55, 0.47, 0.44, 0.35, 0.20, 0.13, 0.17, 0.28, 0.47, 0.65),
    p_partly=(0.34, 0.25, 0.35, 0.41, 0.43, 0.48, 0.55, 0.57, 0.55, 0.47, 0.43, 0.31),
    p_overcast=(0.03, 0.05, 0.10, 0.12, 0.13, 0.17, 0.25, 0.30, 0.28, 0.25, 0.10, 0.04),
    persistence=(0.3, 0.3, 0.35, 0.4, 0.4, 0.45, 0.45, 0.45, 0.45, 0.45, 0.35, 0.3),
    t_min_c=(18.2, 20.6, 22.4, 22.6, 22.2, 21.7, 21.2, 21.2, 21.0, 21.1, 20.4, 18.9),
    t_max_c=(33.6, 35.1, 34.8, 33.6, 32.4, 31.3, 30.4, 30.6, 31.2, 31.5, 32.0, 32.5),
)
CLIMATES = {"bangui": BANGUI_CLIMATE}
