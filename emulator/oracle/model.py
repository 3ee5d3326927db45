"""The oracle's time grid, its linear program and the replay through the emulator's physics (the model
and its linearisation: emulator/oracle/__init__.py)."""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from emulator.physics import sun
from emulator.physics.battery import SECONDS_PER_MONTH
from emulator.physics.site import Site, get_site
from emulator.scenario import Scenario, make_fleet
from emulator.world import AWAKE_PER_WAKE_S, LampWorld, NightClock

DEFAULT_STEP_S = 900.0  # = LampPhysics.MAX_SUBSTEP_S: one replay step is one physics sub-step
MAX_ITER = 8  # LP / replay rounds
DAY_WAKE_S = 1800.0  # one wake-up per day status interval (firmware: 900 s x DAY_STATUS_FACTOR 2)
PWL_STEP = 0.05  # lumen breakpoints every 5 % of the level
SOC_TOL_PCT = 1e-3  # how far the replay may dip below a limit (SoC points) before a margin is added
PROFILES = ("street", "kit")
FIRMWARE_DIR = Path(__file__).resolve().parents[2] / "firmware"


class OracleError(ValueError):
    """A span, profile or weather the oracle cannot solve, in one line."""


def firmware_limits(profile: str) -> tuple[float, float]:
    """(led_min_pct, soc_at_lvd_pct) as the firmware has them for a profile: core/config.py's defaults
    and the chemistry profile's JSON (firmware/profiles/)."""
    from firmware.core.config import DEFAULTS, KIT_DEFAULTS

    values = dict(DEFAULTS, **KIT_DEFAULTS) if profile == "kit" else DEFAULTS
    chem = json.loads((FIRMWARE_DIR / "profiles" / f"{values['chemistry']}.json").read_text())
    return float(values["led_min_pct"]), float(chem["soc_at_lvd_pct"])


@dataclass
class Problem:
    """A lamp, its weather and the span: the grid of steps, each wholly night or day."""

    weather: Any
    site: Site
    profile: str
    start_s: float
    days: float
    t: np.ndarray  # step starts (Unix s), N
    h: np.ndarray  # step lengths (s), N
    night: np.ndarray  # bool, N
    awake: np.ndarray  # controller awake time per step (s), N
    led_min_pct: float
    soc_lvd_pct: float

    @property
    def n(self) -> int:
        return len(self.h)


def make_problem(weather, profile: str = "street", start_s: float = 0.0, days: float = 1.0,
                 site: Site | str = "bangui", step_s: float = DEFAULT_STEP_S) -> Problem:
    if profile not in PROFILES:
        raise OracleError(f"unknown profile {profile!r}: use street or kit")
    if not days > 0 or not math.isfinite(days):
        raise OracleError(f"days must be positive, not {days:g}")
    if not 0 < step_s <= DEFAULT_STEP_S:
        raise OracleError(f"step must be 0-{DEFAULT_STEP_S:g} s")
    site = get_site(site)
    end_s = start_s + days * 86400.0
    edges = set(np.arange(start_s, end_s, step_s).tolist())
    edges.add(end_s)
    day = datetime.fromtimestamp(start_s + site.utc_offset_s, timezone.utc).date() - timedelta(days=1)
    while True:  # every sunrise and sunset inside the span is a step edge
        rise, set_ = sun.sunrise_sunset(day, site.lat, site.lon)
        if rise > end_s:
            break
        edges.update(e for e in (rise, set_) if start_s < e < end_s)
        day += timedelta(days=1)
    grid = np.array(sorted(edges))
    grid = grid[np.concatenate(([True], np.diff(grid) > 1e-6))]
    t, h = grid[:-1], np.diff(grid)
    is_night = NightClock(site)
    night = np.array([is_night(a + b / 2) for a, b in zip(t, h)])
    led_min, soc_lvd = firmware_limits(profile)
    awake = np.where(night, h, np.minimum(h, AWAKE_PER_WAKE_S * h / DAY_WAKE_S))
    return Problem(weather, site, profile, start_s, days, t, h, night, awake, led_min, soc_lvd)


def _world(p: Problem) -> LampWorld:
    sc = Scenario(make_fleet(1, seed=1, profile=p.profile), days=p.days, seed=1, site=p.site.name, start_s=p.start_s)
    return LampWorld(sc, sc.lamps[0], 0, weather=p.weather)


def replay(p: Problem, levels_pct, record: bool = False) -> dict:
    """Run the schedule (LED % per step) through LampWorld's physics, no firmware: its scores and, with
    record=True, what the next LP needs per step (the operating point)."""
    world = _world(p)
    ph = world.physics
    bat = ph.battery
    chem = bat.chem
    q_start = bat.charge_ah
    n = p.n
    rec = {k: np.zeros(n) for k in ("p_bus", "v_c", "v_d", "sd", "cap", "q")} if record else None
    ctrl = ph.controller
    lo, hi = chem.charge_temp_c
    blocked = False
    blocked_steps = np.zeros(n, dtype=bool)
    for k in range(n):
        t, h, lvl = float(p.t[k]), float(p.h[k]), float(levels_pct[k])
        if rec is not None:
            cap = bat.capacity_ah
            ocv = bat.ocv_v(100.0 * bat.charge_ah / cap)
            avail0 = ph.energy_pv_available_wh
            rec["cap"][k], rec["q"][k] = cap, bat.charge_ah
        world.advance(t, h, lvl, cpu_awake_s=float(p.awake[k]))
        if rec is None:
            continue
        i, r = ph._i_bat, bat.r_ohm
        rec["p_bus"][k] = (ph.energy_pv_available_wh - avail0) * 3600.0 / h
        rec["v_c"][k] = ocv + i * r if i > 0 else ocv
        rec["v_d"][k] = ocv + i * r if i < 0 else ocv - r * ctrl.battery_w(h, float(p.awake[k])) / ocv
        temp = bat.temp_c  # decision-independent: T_amb + enclosure gain x GHI, lagged
        rec["sd"][k] = (chem.self_discharge_pct_month * 0.01 / SECONDS_PER_MONTH * 2.0 ** ((temp - 25.0) / 10.0)
                        * cap * h)
        if blocked and lo + 5.0 <= temp <= hi - 5.0:
            blocked = False
        elif not blocked and not lo <= temp <= hi:
            blocked = True
        blocked_steps[k] = blocked
    out = {"lumen_hours": ph.lumen_hours, "dark_minutes": world.dark_minutes,
           "supply_interruptions": ph.supply_interruptions, "min_soc_pct": ph.min_soc_pct,
           "start_soc_pct": 100.0 * q_start / bat.nominal_ah, "end_soc_pct": bat.soc_pct,
           "start_charge_ah": q_start, "end_charge_ah": bat.charge_ah, "energy_in_wh": ph.energy_in_wh,
           "energy_out_wh": ph.energy_out_wh, "controller_wh": ph.energy_ctrl_wh}
    if rec is not None:
        rec["cap_end"] = bat.capacity_ah
        rec["blocked"] = blocked_steps
        out["record"] = rec
    return out


def _lumen_chords(p: Problem) -> tuple[np.ndarray, np.ndarray]:
    """(slopes, intercepts) of the chords of flux(x) between breakpoints: their minimum is the
    piecewise-linear interpolant, below the concave flux everywhere."""
    led = _world(p).physics.led
    lo = p.led_min_pct / 100.0
    xs = np.unique(np.concatenate(([lo], np.arange(math.ceil(lo / PWL_STEP + 1e-9) * PWL_STEP, 1.0, PWL_STEP), [1.0])))
    fs = np.array([led.evaluate(100.0 * x, True)[1] for x in xs])
    slopes = np.diff(fs) / np.diff(xs)
    return slopes, fs[:-1] - slopes * xs[:-1]


def _solve_lp(p: Problem, rec: dict, margin_lvd_pct: float, margin_end_ah: float):
    """One LP at the operating point `rec`; (objective lumen-hours, levels 0..1, Q trajectory) or None."""
    world = _world(p)
    ph = world.physics
    led, chem, charger = ph.led, ph.battery.chem, ph.charger
    n = p.n
    ix, il, ic, idd, iq = 0, n, 2 * n, 3 * n, 4 * n
    nv = 5 * n + 1
    hrs = p.h / 3600.0
    night = p.night
    rows, cols, vals, b_ub = [], [], [], []
    ks = np.arange(n)

    def add(r, c, v):
        rows.append(np.asarray(r)), cols.append(np.asarray(c)), vals.append(np.broadcast_to(v, np.shape(r)).astype(float))

    # bus: V_c c - V_d d + slope x <= P_bus - P_ctrl - idle (night)
    p_ctrl = np.array([ph.controller.battery_w(float(h), float(a)) for h, a in zip(p.h, p.awake)])
    add(ks, ic + ks, rec["v_c"]), add(ks, idd + ks, -rec["v_d"]), add(ks, ix + ks, led.slope_w)
    b_ub.append(rec["p_bus"] - p_ctrl - led.idle_w * night)
    r0 = n
    # CV taper: c + I_bulk 100 / (C (100 - taper)) Q <= I_bulk 100 / (100 - taper)
    span = 100.0 - chem.taper_start_soc_pct
    add(r0 + ks, ic + ks, 1.0), add(r0 + ks, iq + ks, charger.i_bulk_a * 100.0 / (rec["cap"] * span))
    b_ub.append(np.full(n, charger.i_bulk_a * 100.0 / span))
    r0 += n
    # lumens: L - slope_j x <= intercept_j, night steps
    slopes, icpts = _lumen_chords(p)
    nk = ks[night]
    for j, (s, a) in enumerate(zip(slopes, icpts)):
        rr = r0 + j * len(nk) + np.arange(len(nk))
        add(rr, il + nk, 1.0), add(rr, ix + nk, -s)
        b_ub.append(np.full(len(nk), a))
    r0 += len(slopes) * len(nk)
    a_ub = sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(r0, nv))
    # dynamics: Q_k+1 - Q_k - eta h c + h d = -sd
    er = np.concatenate([ks, ks, ks, ks])
    ec = np.concatenate([iq + ks + 1, iq + ks, ic + ks, idd + ks])
    ev = np.concatenate([np.ones(n), -np.ones(n), -chem.coulombic_eff * hrs, hrs])
    a_eq = sparse.csr_matrix((ev, (er, ec)), shape=(n, nv))
    lo = p.led_min_pct / 100.0
    cap_q = np.append(rec["cap"], rec["cap_end"])
    q0 = float(rec["q"][0])
    q_lo = cap_q * min(100.0, p.soc_lvd_pct + margin_lvd_pct) / 100.0
    q_lo[-1] = max(q_lo[-1], min(cap_q[-1], q0 + margin_end_ah))
    bounds = ([(lo, 1.0) if nt else (0.0, 0.0) for nt in night] + [(0.0, None) if nt else (0.0, 0.0) for nt in night]
              + [(0.0, 0.0 if b else charger.i_bulk_a) for b in rec["blocked"]] + [(0.0, None)] * n
              + [(q0, q0)] + list(zip(q_lo[1:], cap_q[1:])))
    cost = np.zeros(nv)
    cost[il:il + n] = -hrs
    # Tie-break: a tiny reward for charge held (per Ah-hour), so that among equally bright schedules the LP
    # charges as soon as it can, as the charger does, rather than curtailing now and charging later. It is
    # 1e-4 of an Ah's worth of light spread over the whole span: it never buys charge with light.
    lm_per_ah = float(slopes.min()) / led.slope_w * float(np.median(rec["v_d"]))
    cost[iq + 1:iq + n + 1] = -1e-4 * lm_per_ah * hrs / float(hrs.sum())
    res = linprog(cost, A_ub=a_ub, b_ub=np.concatenate(b_ub), A_eq=a_eq, b_eq=-rec["sd"], bounds=bounds,
                  method="highs")
    if res.status != 0:
        return None
    x = np.clip(res.x[ix:ix + n], 0.0, 1.0)
    x[night] = np.maximum(x[night], lo)
    return float(res.x[il:il + n] @ hrs), x, res.x[iq:iq + n + 1], (r0 + n, nv)


@dataclass
class OracleResult:
    problem: Problem
    levels_pct: np.ndarray  # per step
    lumen_hours: float  # the LP's objective
    replay: dict
    iterations: int
    margin_lvd_pct: float
    margin_end_ah: float
    valid: bool  # the replay kept every limit
    max_soc_gap_pct: float  # largest |SoC(LP) - SoC(replay)| at a step edge
    lp_size: tuple[int, int]
    solve_s: float
    history: list = field(default_factory=list)  # (LP objective, replay lumen-hours, valid) per round

    @property
    def agreement_pct(self) -> float:
        return 100.0 * (self.replay["lumen_hours"] - self.lumen_hours) / self.lumen_hours

    def nights(self) -> list[dict]:
        """Each night's mean, min and max level (% of full)."""
        p, out, cur = self.problem, [], None
        for k in range(p.n):
            if p.night[k]:
                if cur is None:
                    cur = {"start": float(p.t[k]), "w": 0.0, "sum": 0.0, "min": 100.0, "max": 0.0}
                lv, h = float(self.levels_pct[k]), float(p.h[k])
                cur["w"] += h
                cur["sum"] += lv * h
                cur["min"], cur["max"] = min(cur["min"], lv), max(cur["max"], lv)
            elif cur is not None:
                out.append(cur)
                cur = None
        if cur is not None:
            out.append(cur)
        tz = timezone(timedelta(hours=p.site.utc_offset_h))
        return [{"dusk": datetime.fromtimestamp(c["start"], tz).isoformat(timespec="minutes"),
                 "hours": round(c["w"] / 3600.0, 2), "mean_pct": round(c["sum"] / c["w"], 1),
                 "min_pct": round(c["min"], 1), "max_pct": round(c["max"], 1)} for c in out]

    def to_dict(self) -> dict:
        p, r = self.problem, self.replay
        tz = timezone(timedelta(hours=p.site.utc_offset_h))
        return {
            "profile": p.profile, "site": p.site.name,
            "start": datetime.fromtimestamp(p.start_s, tz).isoformat(timespec="minutes"), "days": p.days,
            "steps": p.n, "led_min_pct": p.led_min_pct, "soc_at_lvd_pct": p.soc_lvd_pct,
            "lumen_hours": round(self.lumen_hours, 1),
            "replay": {"lumen_hours": round(r["lumen_hours"], 1), "dark_minutes": round(r["dark_minutes"], 1),
                       "supply_interruptions": r["supply_interruptions"], "min_soc_pct": round(r["min_soc_pct"], 3),
                       "start_soc_pct": round(r["start_soc_pct"], 3), "end_soc_pct": round(r["end_soc_pct"], 3),
                       "energy_in_wh": round(r["energy_in_wh"], 1), "energy_out_wh": round(r["energy_out_wh"], 1),
                       "controller_wh": round(r["controller_wh"], 2)},
            "replay_vs_lp_pct": round(self.agreement_pct, 4), "max_soc_gap_pct": round(self.max_soc_gap_pct, 3),
            "valid": self.valid, "iterations": self.iterations,
            "margins": {"soc_pct": round(self.margin_lvd_pct, 4), "end_ah": round(self.margin_end_ah, 5)},
            "lp": {"rows": self.lp_size[0], "columns": self.lp_size[1]}, "solve_s": round(self.solve_s, 2),
            "mean_night_level_pct": round(float(np.average(self.levels_pct[p.night], weights=p.h[p.night])), 1)
            if p.night.any() else None,
            "nights": self.nights(),
        }


def solve(weather, profile: str = "street", start_s: float = 0.0, days: float = 1.0, site: Site | str = "bangui",
          step_s: float = DEFAULT_STEP_S, max_iter: int = MAX_ITER) -> OracleResult:
    """The hindsight-optimal schedule, validated by replay (see the package docstring)."""
    if max_iter < 1:
        raise OracleError("max_iter must be at least 1")
    t0 = time.perf_counter()
    p = make_problem(weather, profile, start_s, days, site, step_s)
    levels = np.where(p.night, p.led_min_pct, 0.0)
    rec = replay(p, levels, record=True)
    margin_lvd = margin_end = 0.0
    history, best, prev_obj = [], None, None
    for it in range(1, max_iter + 1):
        sol = _solve_lp(p, rec["record"], margin_lvd, margin_end)
        if sol is None:
            if it == 1:
                raise OracleError(f"no schedule keeps the {profile} lamp lit at {p.led_min_pct:g} % all night above "
                                  f"{p.soc_lvd_pct:g} % SoC and ends with its starting charge over this span")
            break
        obj, x, q_lp, size = sol
        levels = 100.0 * x
        out = replay(p, levels, record=True)
        q_rep = np.append(out["record"]["q"], out["end_charge_ah"])
        cap = np.append(out["record"]["cap"], out["record"]["cap_end"])
        gap = float(np.max(np.abs(q_lp - q_rep) / cap)) * 100.0
        short_lvd = p.soc_lvd_pct - out["min_soc_pct"]
        short_end = out["start_charge_ah"] - out["end_charge_ah"]
        valid = bool(out["supply_interruptions"] == 0 and out["dark_minutes"] == 0 and short_lvd <= SOC_TOL_PCT
                 and short_end <= SOC_TOL_PCT / 100.0 * cap[-1])
        history.append((round(obj, 1), round(out["lumen_hours"], 1), valid))
        if valid:
            best = OracleResult(p, levels, obj, out, it, margin_lvd, margin_end, True, gap, size, 0.0, history)
            if prev_obj is not None and abs(obj - prev_obj) <= 1e-4 * obj:
                break
        elif it >= 2:  # still optimistic at the new operating point: tighten by the shortfall
            if short_lvd > SOC_TOL_PCT:
                margin_lvd += short_lvd + 0.01
            if short_end > SOC_TOL_PCT / 100.0 * cap[-1]:
                margin_end += short_end + 1e-4 * cap[-1]
        prev_obj = obj
        rec = out
    if best is None:
        best = OracleResult(p, levels, obj, out, it, margin_lvd, margin_end, False, gap, size, 0.0, history)
    best.solve_s = time.perf_counter() - t0
    best.history = history
    return best


def fixed_level_lumen_hours(p: Problem, pct: float) -> dict:
    """Replay of a fixed level all night (the sanity bound's schedule)."""
    return replay(p, np.where(p.night, float(pct), 0.0))


def add_optimal(result: dict, scenario) -> None:
    """`lampfleet emulate --optimal`: each lamp's `optimal_lumen_hours` (the oracle over the run's own
    weather, start and days, for the lamp's profile; faults are not part of it) and `lumen_ratio` (the
    run's lumen-hours / the oracle's). One LP per profile."""
    from emulator.world import make_weather

    weather = make_weather(scenario)
    cache: dict[str, OracleResult] = {}
    for ident, lamp in zip(scenario.lamps, result["lamps"]):
        if ident.profile not in cache:
            cache[ident.profile] = solve(weather, ident.profile, scenario.start_s, scenario.days, scenario.site)
        opt = cache[ident.profile]
        lamp["optimal_lumen_hours"] = round(opt.lumen_hours, 1)
        lamp["lumen_ratio"] = round(lamp["lumen_hours"] / opt.lumen_hours, 4) if opt.lumen_hours else None
