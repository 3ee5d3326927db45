"""The hindsight optimum (oracle): the LED schedule with the most lumen-hours a lamp could have given
over a weather trace it knew in advance, with the emulator's own physics, as a linear program (HiGHS).

What it models (emulator/physics: panel -> charger -> battery <- LED + controller, the LampSpec presets
"street" and "kit"), on a grid of 15-minute steps split at every sunrise and sunset (NightClock's:
the sun's upper limb at -0.833 deg), so that each step is wholly night or wholly day and is one
sub-step of `LampPhysics.advance` (weather at the step's midpoint):

    variables   x_k LED level (0..1), L_k its lumens, c_k / d_k charging / discharging current (A),
                Q_k the battery's charge (Ah) at the start of step k (Q_0 the preset's 60 %)
    maximise    sum_k L_k h_k / 3600                                            lumen-hours
    night       led_min_pct/100 <= x_k <= 1 (firmware core/config.py: the street is never dark)
    day         x_k = 0
    lumens      L_k <= a_j + b_j x_k: the chords of flux(x) = P_chip x efficacy (1 + 0.15 (1 - x)),
                concave, between breakpoints every 5 %: the LP never credits more light than the LED gives
    bus         V_c,k c_k - V_d,k d_k <= P_bus,k - P_ctrl,k - P_idle night_k - slope x_k
                (loads first, the rest into the battery; '<=' is curtailment; the LED driver's input
                power is exactly linear in the level: led.py)
    battery     Q_k+1 = Q_k + eta_c c_k h - d_k h - sd_k           (coulomb counting as battery.py)
    acceptance  0 <= c_k <= I_bulk (0 while the charger is temperature-blocked), and the CV taper
                c_k <= I_bulk (100 - 100 Q_k / C_k) / (100 - taper), linear in Q_k as charger.py has it
    limits      C_k soc_at_lvd/100 (+ margin) <= Q_k <= C_k;  Q_N >= Q_0 (+ margin)
                soc_at_lvd_pct from the firmware's chemistry profile (firmware/profiles/*.json)

Linearisation (the rest of the physics is exact at the operating point):

- Current from power solves P = I (OCV(SoC) + I R) (battery.py): the LP uses P = V I with per-step
  voltages V_c,k (charging) and V_d,k (discharging) taken from a replay of the previous schedule
  through the real physics: OCV at the replay's SoC of that step plus I R at its current (exactly P/I
  where the replay charged or discharged). The PV power on the bus (charger.py: MPPT 0.95 P_mp; PWM
  0.98 min(P_mp, V_bat 1.03 I_mp); zero unless V_oc > V_bat + 0.5 V) is computed at the replay's
  battery voltage too, as are self-discharge sd_k (temperature-dependent, rate x capacity x h), the
  charger's temperature block and the usable capacity C_k (cycle fade). The first replay runs the LED
  at led_min_pct all night (the nominal operating point); then LP and replay alternate until the
  replay keeps every limit and the LP's objective stops moving (`MAX_ITER`). Where the replay dips
  below a limit the LP's bound is raised by the shortfall (margin) and it is solved again.
- The controller (consumption.py) is modelled as LampWorld.sleep does: awake (40 mA rail) while the
  LED is lit, otherwise light sleep plus 50 ms awake per wake-up, one wake-up every 30 minutes by day
  (the firmware's day status interval): 1.9-2 Wh a day. Its radio (a few 24-byte frames) is left out.
- Not modelled: LiFePO4's stop at full and restart below 97 % (the LP may top up between 97 and 100 %;
  after a night at >= 10 % a lamp is below 92 % by dawn, so it does not arise), the firmware's own
  imperfections (dusk detection, ramps), faults.

Validation: `replay(result)` runs the schedule through LampWorld (no firmware) step by step and
reports its lumen-hours, dark minutes, supply interruptions and SoC; `solve` only returns a schedule
whose replay keeps the limits. See docs/emulator.md, "Hindsight optimum (oracle)".
"""
from __future__ import annotations

from emulator.oracle.model import (DEFAULT_STEP_S, MAX_ITER, OracleError, OracleResult, Problem, add_optimal,
                                   firmware_limits, fixed_level_lumen_hours, make_problem, replay, solve)

__all__ = ["DEFAULT_STEP_S", "MAX_ITER", "OracleError", "OracleResult", "Problem", "add_optimal", "firmware_limits",
           "fixed_level_lumen_hours", "make_problem", "replay", "solve"]
