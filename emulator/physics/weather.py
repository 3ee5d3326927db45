"""Seeded synthetic weather for a site, and the generator of the bundled trace files.

Every weather source offers `ghi_w_m2(t_s)`, `temp_c(t_s)` and `sample(t_s) -> (ghi, temp)` for Unix
time t_s (UTC). SyntheticWeather builds it from three parts:

1. Day states. A Markov chain over local days with states clear / partly / overcast. For month m the
   stationary distribution is pi_m = (p_clear, p_partly, p_overcast) and the persistence rho_m:

       P(next = j | today = i) = rho_m [i == j] + (1 - rho_m) pi_m[j]

   so pi_m is exactly the chain's stationary distribution and a run of state i lasts on average
   1 / ((1 - rho)(1 - pi_i)) days: ~2.6 overcast days in August (rho 0.45), ~1.4 in January (rho 0.3).
   Each day draws its clearness k_day (all-sky / clear-sky daily irradiation) uniformly from the state's
   range: clear 0.90-1.00, partly 0.55-0.82, overcast 0.15-0.45.
2. Intraday clouds: knots every 15 min, linear in between. Clear days: k = 1 +- 2 %. Partly cloudy:
   cumulus on/off (shaded 0.25-0.55, sunny 0.95-1.08 including cloud-edge enhancement, persistence 0.5).
   Overcast: k_day (1 + 0.35 z), z an AR(1) series with coefficient 0.85. The knots are then scaled so
   that their clear-sky-weighted mean is k_day (daily energy is controlled by the day state alone).
3. Temperature: daily T_min at 06:00 and T_max at 15:00 local, joined by half cosines, from the month's
   climatological means (linear between mid-months) + day noise (sd 0.8 C) + a state effect (clear
   -0.6/+1.0, overcast +0.6/-3.0 C on min/max; the month's expected effect is subtracted).

    GHI(t) = clear_sky_ghi(t) * k(t)        (clearsky.py, including twilight glow)

Calibration: climate.py (BANGUI_CLIMATE) and docs/emulator-physics.md.

Determinism: all randomness comes from random.Random instances seeded with strings derived from
(seed, site name, year or day); results do not depend on the order in which times are queried.

Regenerate the bundled traces (emulator/physics/traces/*.csv; the test suite checks they are current):

    .venv/bin/python -c "from emulator.physics.weather import generate_bundled_traces as g; g()"
"""
from __future__ import annotations

import math
import random
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Mapping, Protocol

from emulator.physics.climate import BANGUI_CLIMATE, CLIMATES, Climate
from emulator.physics.clearsky import TABLE_STEP_S, day_start_s, day_table, local_day_index
from emulator.physics.site import BANGUI, Site, get_site
from emulator.physics.trace import TraceWeather, WeatherFileError, WeatherRangeError

__all__ = ["Weather", "Climate", "BANGUI_CLIMATE", "SyntheticWeather", "ClearSkyWeather", "TraceWeather",
           "WeatherFileError", "WeatherRangeError", "write_trace", "generate_bundled_traces", "TRACES_DIR"]

TRACES_DIR = Path(__file__).resolve().parent / "traces"
STATES = ("clear", "partly", "overcast")
K_RANGE = {"clear": (0.90, 1.00), "partly": (0.55, 0.82), "overcast": (0.15, 0.45)}
_T_ADJ = {"clear": (-0.6, 1.0), "partly": (0.0, 0.0), "overcast": (0.6, -3.0)}  # (tmin, tmax) C
KNOT_S = 900
_KNOTS = 86400 // KNOT_S + 1
_INV_KNOT = 1.0 / KNOT_S
_INV_TABLE_STEP = 1.0 / TABLE_STEP_S
Floats = tuple[float, ...]
DayRecord = tuple[float, Floats, Floats, Floats]  # (local midnight, clear-sky table, cloud knots, temperature knots)


class Weather(Protocol):
    def ghi_w_m2(self, t_s: float) -> float: ...
    def temp_c(self, t_s: float) -> float: ...
    def sample(self, t_s: float) -> tuple[float, float]: ...


def _state_for_k(k: float) -> str:
    return "overcast" if k < 0.47 else "partly" if k < 0.86 else "clear"


class SyntheticWeather:
    """Seeded weather: see the module docstring. `overrides` forces days: {date: state name or k_day}."""

    def __init__(self, site: Site | str = BANGUI, seed: int = 0, climate: Climate | None = None,
                 overrides: Mapping[date, str | float] | None = None):
        self.site = get_site(site)
        self.seed = seed
        self.climate = climate or CLIMATES.get(self.site.name, BANGUI_CLIMATE)
        self.overrides = dict(overrides or {})
        for d, v in self.overrides.items():
            if isinstance(v, str) and v not in STATES:
                raise ValueError(f"override for {d}: unknown day state {v!r}, use one of {', '.join(STATES)}")
            if not isinstance(v, str) and not 0.0 <= float(v) <= 1.1:
                raise ValueError(f"override for {d}: clearness {v} outside 0..1.1")
        self._years: dict[int, list[tuple[str, float, float, float]]] = {}
        self._days: dict[int, DayRecord] = {}
        self._last: DayRecord = (math.inf, (), (), ())

    # -- day-level model ---------------------------------------------------------------------------
    def _year(self, year: int) -> list[tuple[str, float, float, float]]:
        """(state, k_day, t_min, t_max) for each day of a local calendar year."""
        days = self._years.get(year)
        if days is not None:
            return days
        c = self.climate
        rng = random.Random(f"weather:{self.seed}:{self.site.name}:{year}")
        state = None
        days = []
        d = date(year, 1, 1)
        noise_min = noise_max = 0.0
        while d.year == year:
            doy = d.timetuple().tm_yday
            m = d.month - 1
            pi = (c.p_clear[m], c.p_partly[m], c.p_overcast[m])
            u_stay, u_state, u_k = rng.random(), rng.random(), rng.random()
            noise_min = 0.6 * noise_min + 0.8 * 0.8 * rng.gauss(0.0, 1.0)
            noise_max = 0.6 * noise_max + 0.8 * 0.8 * rng.gauss(0.0, 1.0)
            if state is None or u_stay >= c.persistence[m]:
                state = STATES[0] if u_state < pi[0] else STATES[1] if u_state < pi[0] + pi[1] else STATES[2]
            lo, hi = K_RANGE[state]
            k_day = lo + u_k * (hi - lo)
            forced = self.overrides.get(d)
            if isinstance(forced, str):
                state = forced
                lo, hi = K_RANGE[state]
                k_day = lo + u_k * (hi - lo)
            elif forced is not None:
                k_day = float(forced)
                state = _state_for_k(k_day)
            exp_min = sum(p * _T_ADJ[s][0] for p, s in zip(pi, STATES))
            exp_max = sum(p * _T_ADJ[s][1] for p, s in zip(pi, STATES))
            t_min = c.month_value(c.t_min_c, doy) + noise_min + _T_ADJ[state][0] - exp_min
            t_max = c.month_value(c.t_max_c, doy) + noise_max + _T_ADJ[state][1] - exp_max
            days.append((state, k_day, t_min, max(t_max, t_min + 2.0)))
            d += timedelta(days=1)
        self._years[year] = days
        return days

    def _day_params(self, day_index: int) -> tuple[str, float, float, float]:
        d = date(1970, 1, 1) + timedelta(days=day_index)
        return self._year(d.year)[d.timetuple().tm_yday - 1]

    def day_state(self, day: date) -> str:
        return self._year(day.year)[day.timetuple().tm_yday - 1][0]

    def day_clearness(self, day: date) -> float:
        return self._year(day.year)[day.timetuple().tm_yday - 1][1]

    # -- intraday ----------------------------------------------------------------------------------
    def _cloud_knots(self, day_index: int, state: str, k_day: float, cs: Floats) -> Floats:
        rng = random.Random(f"clouds:{self.seed}:{self.site.name}:{day_index}")
        knots = []
        if state == "clear":
            knots = [1.0 + 0.02 * rng.gauss(0.0, 1.0) for _ in range(_KNOTS)]
        elif state == "partly":
            cover = min(0.95, max(0.05, (1.03 - k_day) / (1.03 - 0.35)))
            shaded = 0.0
            for _ in range(_KNOTS):
                shaded = 1.0 if rng.random() < cover + 0.5 * (shaded - cover) else 0.0
                knots.append(rng.uniform(0.25, 0.55) if shaded else rng.uniform(0.95, 1.08))
        else:
            z = rng.gauss(0.0, 1.0)
            for _ in range(_KNOTS):
                z = 0.85 * z + 0.527 * rng.gauss(0.0, 1.0)
                knots.append(k_day * (1.0 + 0.35 * z))
        step = KNOT_S // TABLE_STEP_S
        weights = [cs[i * step] for i in range(_KNOTS)]
        total = sum(weights)
        if total > 0.0:
            mean = sum(w * max(k, 0.0) for w, k in zip(weights, knots)) / total
            scale = k_day / mean if mean > 0.0 else 1.0
            knots = [k * scale for k in knots]
        return tuple(min(1.1, max(0.03, k)) for k in knots)

    def _temp_knots(self, day_index: int) -> Floats:
        _, _, t_min, t_max = self._day_params(day_index)
        prev_max = self._day_params(day_index - 1)[3]
        next_min = self._day_params(day_index + 1)[2]
        out = []
        for i in range(_KNOTS):
            x = i * KNOT_S / 3600.0  # local hour
            if x < 6.0:
                t = t_min + (prev_max - t_min) * (1.0 + math.cos(math.pi * (x + 9.0) / 15.0)) / 2.0
            elif x <= 15.0:
                t = t_min + (t_max - t_min) * (1.0 - math.cos(math.pi * (x - 6.0) / 9.0)) / 2.0
            else:
                t = next_min + (t_max - next_min) * (1.0 + math.cos(math.pi * (x - 15.0) / 15.0)) / 2.0
            out.append(t)
        return tuple(out)

    def _day(self, day_index: int) -> DayRecord:
        rec = self._days.get(day_index)
        if rec is None:
            state, k_day = self._day_params(day_index)[:2]
            cs = day_table(day_index, self.site)
            rec = (day_start_s(day_index, self.site), cs, self._cloud_knots(day_index, state, k_day, cs),
                   self._temp_knots(day_index))
            self._days[day_index] = rec
            if len(self._days) > 400:
                self._days.pop(next(iter(self._days)))
        return rec

    # -- the weather interface ----------------------------------------------------------------------
    def sample(self, t_s: float) -> tuple[float, float]:
        """(GHI W/m2, ambient temperature C) at Unix time t_s."""
        rec = self._last
        x = t_s - rec[0]
        if x < 0.0 or x >= 86400.0:
            rec = self._last = self._day(local_day_index(t_s, self.site))
            x = t_s - rec[0]
        _, cs, kn, tk = rec
        u = x * _INV_TABLE_STEP
        i = int(u)
        g = cs[i]
        g += (u - i) * (cs[i + 1] - g)
        u = x * _INV_KNOT
        j = int(u)
        u -= j
        k = kn[j]
        t = tk[j]
        return g * (k + u * (kn[j + 1] - k)), t + u * (tk[j + 1] - t)

    def ghi_w_m2(self, t_s: float) -> float:
        return self.sample(t_s)[0]

    def temp_c(self, t_s: float) -> float:
        return self.sample(t_s)[1]

    def clearness(self, t_s: float) -> float:
        """The cloud factor k(t) in 0..1.1 (GHI / clear-sky GHI)."""
        rec = self._day(local_day_index(t_s, self.site))
        x = (t_s - rec[0]) / KNOT_S
        j = int(x)
        return rec[2][j] + (x - j) * (rec[2][j + 1] - rec[2][j])

    def daily_irradiation_kwh(self, day: date) -> float:
        """All-sky irradiation over a local day (kWh/m2), integrated on the 60 s clear-sky grid."""
        idx = (day - date(1970, 1, 1)).days
        t0, cs, kn, _ = self._day(idx)
        ratio = KNOT_S // TABLE_STEP_S
        wh = 0.0
        for i in range(len(cs) - 1):
            j, r = divmod(i, ratio)
            k = kn[j] + (r + 0.5) / ratio * (kn[j + 1] - kn[j])
            wh += 0.5 * (cs[i] + cs[i + 1]) * k
        return wh * TABLE_STEP_S / 3.6e6


class ClearSkyWeather(SyntheticWeather):
    """Every day clear (k = 1) with climatological mean temperatures: for tests and sizing."""

    def _year(self, year: int) -> list[tuple[str, float, float, float]]:
        days = self._years.get(year)
        if days is None:
            c = self.climate
            n = (date(year + 1, 1, 1) - date(year, 1, 1)).days
            days = [("clear", 1.0, c.month_value(c.t_min_c, i + 1), c.month_value(c.t_max_c, i + 1))
                    for i in range(n)]
            self._years[year] = days
        return days

    def _cloud_knots(self, day_index: int, state: str, k_day: float, cs: Floats) -> Floats:
        return (1.0,) * _KNOTS


def write_trace(path: str | Path, weather: Weather, start_s: float, end_s: float, step_s: float = 3600.0,
                utc_offset_h: float = 0.0) -> int:
    """Write weather to a trace CSV (instantaneous values every step_s, local-time ISO stamps with
    offset); returns the number of data rows."""
    tz = timezone(timedelta(hours=utc_offset_h))
    rows = ["timestamp,ghi_w_m2,temp_c"]
    n = int(round((end_s - start_s) / step_s))
    for i in range(n + 1):
        t = start_s + i * step_s
        ghi, temp = weather.sample(t)
        stamp = datetime.fromtimestamp(t, tz).isoformat(timespec="seconds")
        rows.append(f"{stamp},{ghi:.1f},{temp:.1f}")
    Path(path).write_text("\n".join(rows) + "\n", encoding="utf-8")
    return n + 1


def _local_midnight_s(day: date, site: Site) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp() - site.utc_offset_s


# The bundled traces: (file, first local day, days, seed, forced days). The rainy trace forces a run of
# six heavily overcast days (k 0.12-0.25) on 12-17 August into a seeded August. Seed 8 was picked because
# the rest of its August is typical (mean k 0.67 outside the run, no other overcast run over 2 days), so
# the forced run is the trace's one hard stretch.
RAINY_RUN = {date(2026, 8, 12 + i): k for i, k in enumerate((0.22, 0.16, 0.12, 0.18, 0.20, 0.25))}
BUNDLED = (
    ("bangui_rainy.csv", date(2026, 8, 1), 30, 8, RAINY_RUN),
    ("bangui_dry.csv", date(2026, 1, 1), 30, 8, {}),
)


def generate_bundled_traces(directory: str | Path = TRACES_DIR) -> list[Path]:
    out = []
    for name, first, days, seed, forced in BUNDLED:
        weather = SyntheticWeather(BANGUI, seed=seed, overrides=forced)
        start = _local_midnight_s(first, BANGUI)
        path = Path(directory) / name
        write_trace(path, weather, start, start + days * 86400.0, 3600.0, BANGUI.utc_offset_h)
        out.append(path)
    return out


if __name__ == "__main__":
    for p in generate_bundled_traces():
        print(p)
