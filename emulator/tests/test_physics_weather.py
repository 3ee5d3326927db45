"""Synthetic weather: determinism, seasons, overcast runs, temperatures, bundled traces."""
from datetime import date, datetime, timedelta, timezone

import pytest

from emulator.physics import clearsky
from emulator.physics.site import BANGUI
from emulator.physics.trace import TraceWeather
from emulator.physics.weather import (
    BUNDLED, RAINY_RUN, TRACES_DIR, ClearSkyWeather, SyntheticWeather, generate_bundled_traces, write_trace,
)

T_AUG = datetime(2026, 8, 1, tzinfo=timezone.utc).timestamp()


def days_of(month: int, year: int = 2026) -> list[date]:
    d, out = date(year, month, 1), []
    while d.month == month:
        out.append(d)
        d += timedelta(days=1)
    return out


def test_same_seed_same_weather_and_query_order_does_not_matter():
    a, b = SyntheticWeather(BANGUI, seed=7), SyntheticWeather(BANGUI, seed=7)
    times = [T_AUG + k * 977.0 for k in range(300)]
    forward = [a.sample(t) for t in times]
    backward = [b.sample(t) for t in reversed(times)][::-1]
    assert forward == backward
    other = SyntheticWeather(BANGUI, seed=8)
    assert [other.sample(t) for t in times] != forward


def test_clearness_in_range_and_ghi_below_enhanced_clear_sky():
    w = SyntheticWeather(BANGUI, seed=3)
    for k in range(0, 86400 * 10, 600):
        t = T_AUG + k
        ghi = w.ghi_w_m2(t)
        assert 0.0 <= w.clearness(t) <= 1.1
        assert 0.0 <= ghi <= 1.1 * clearsky.clear_sky_ghi(t, BANGUI) + 1.0


def test_daily_energy_follows_the_day_state():
    w = SyntheticWeather(BANGUI, seed=5)
    for d in days_of(8)[:10]:
        k_day = w.day_clearness(d)
        measured = w.daily_irradiation_kwh(d) / clearsky.daily_irradiation_kwh(d, BANGUI)
        assert measured == pytest.approx(k_day, abs=0.04)


@pytest.mark.parametrize("month,lo,hi", [(1, 5.0, 6.3), (3, 4.9, 6.3), (8, 3.4, 4.8), (10, 3.8, 5.2)])
def test_monthly_mean_all_sky_irradiation(month, lo, hi):
    # physics.md 5.1 (unverified placeholder): annual ~5, Jul-Sep 4-4.5, Jan-Mar 5.5-6
    total = n = 0
    for seed in range(6):
        w = SyntheticWeather(BANGUI, seed=seed)
        for d in days_of(month):
            total += w.daily_irradiation_kwh(d)
            n += 1
    assert lo <= total / n <= hi


def overcast_runs(w: SyntheticWeather, months: set[int], year: int) -> list[int]:
    runs, run = [], 0
    d = date(year, 1, 1)
    while d.year == year:
        if d.month in months and w.day_state(d) == "overcast":
            run += 1
        elif run:
            runs.append(run)
            run = 0
        d += timedelta(days=1)
    return runs


def test_rainy_season_has_multi_day_overcast_runs_and_dry_season_hardly():
    rainy, dry = [], []
    for seed in range(10):
        w = SyntheticWeather(BANGUI, seed=seed)
        rainy += overcast_runs(w, {7, 8, 9, 10}, 2026)
        dry += overcast_runs(w, {12, 1, 2}, 2026)
    assert sum(1 for r in rainy if r >= 3) >= 10
    assert max(rainy) >= 5
    assert sum(dry) < sum(rainy) / 5
    assert sum(1 for r in dry if r >= 3) <= sum(1 for r in rainy if r >= 3) / 10


def test_overrides_force_days():
    w = SyntheticWeather(BANGUI, seed=1, overrides={date(2026, 8, 3): "overcast", date(2026, 8, 4): 0.1})
    assert w.day_state(date(2026, 8, 3)) == "overcast"
    assert w.day_clearness(date(2026, 8, 4)) == 0.1
    assert w.day_state(date(2026, 8, 4)) == "overcast"
    with pytest.raises(ValueError, match="unknown day state"):
        SyntheticWeather(BANGUI, overrides={date(2026, 8, 3): "stormy"})


def test_temperature_cycle():
    w = SyntheticWeather(BANGUI, seed=2)
    temps = [w.temp_c(T_AUG + k * 900) for k in range(96 * 60)]  # 60 days from 1 August
    assert 16.0 <= min(temps) and max(temps) <= 37.0
    day = [w.temp_c(T_AUG - 3600 + k * 3600) for k in range(24)]  # local hours 0..23 on 1 August
    assert day.index(min(day)) in (5, 6, 7)
    assert day.index(max(day)) in (14, 15, 16)
    # Bangui monthly mean 25.8 C (Jul) to 28.6 C (Mar), physics.md 4.4
    mar = [w.temp_c(datetime(2026, 3, 1, tzinfo=timezone.utc).timestamp() + k * 1800) for k in range(48 * 31)]
    assert sum(mar) / len(mar) == pytest.approx(28.6, abs=1.2)


def test_clear_sky_weather_is_clear_sky():
    w = ClearSkyWeather(BANGUI)
    t = datetime(2026, 3, 21, 11, 0, tzinfo=timezone.utc).timestamp()
    assert w.ghi_w_m2(t) == pytest.approx(clearsky.clear_sky_ghi(t, BANGUI), rel=1e-3)
    assert w.clearness(t) == 1.0


def test_bundled_traces_are_current(tmp_path):
    # Regenerate into a temporary folder: the committed files must be byte-identical.
    for path in generate_bundled_traces(tmp_path):
        assert path.read_bytes() == (TRACES_DIR / path.name).read_bytes(), f"regenerate {path.name}"


def trace_daily_kwh(tw: TraceWeather) -> list[float]:
    out, t = [], tw.start_s
    while t + 86400 <= tw.end_s:
        out.append(sum(tw.ghi_w_m2(t + 300 + 600 * i) for i in range(144)) * 600 / 3.6e6)
        t += 86400
    return out


def test_rainy_trace_has_the_heavy_run_and_dry_trace_does_not():
    rainy = TraceWeather(TRACES_DIR / "bangui_rainy.csv")
    dry = TraceWeather(TRACES_DIR / "bangui_dry.csv")
    r, d = trace_daily_kwh(rainy), trace_daily_kwh(dry)
    assert len(r) == len(d) == 30
    run = r[11:17]  # 12-17 August
    assert all(x < 2.0 for x in run)
    assert sum(run) / 6 < 1.6
    assert 3.3 < sum(r) / 30 < 4.6
    assert 5.0 < sum(d) / 30 < 6.5
    assert sum(1 for x in d if x < 2.0) <= 2
    assert BUNDLED[0][4] is RAINY_RUN


def test_write_trace_round_trip(tmp_path):
    w = SyntheticWeather(BANGUI, seed=4)
    path = tmp_path / "t.csv"
    rows = write_trace(path, w, T_AUG, T_AUG + 86400, 600, utc_offset_h=1.0)
    assert rows == 145
    tw = TraceWeather(path)
    for k in range(145):
        t = T_AUG + k * 600
        assert tw.ghi_w_m2(t) == pytest.approx(w.ghi_w_m2(t), abs=0.051)
        assert tw.temp_c(t) == pytest.approx(w.temp_c(t), abs=0.051)
