"""Clear-sky GHI against pvlib's Ineichen model for Bangui."""
from datetime import date, datetime, timezone

import pandas as pd
import pvlib
import pytest

from emulator.physics import clearsky
from emulator.physics.site import BANGUI, Site

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore:.*dayofyear.*")

DAYS = [date(2026, 1, 15), date(2026, 3, 21), date(2026, 6, 21), date(2026, 8, 15), date(2026, 10, 15),
        date(2026, 12, 15)]


def pvlib_daily_kwh(day: date) -> float:
    loc = pvlib.location.Location(BANGUI.lat, BANGUI.lon, tz="Etc/GMT-1", altitude=BANGUI.altitude_m)
    times = pd.date_range(day, periods=24 * 60, freq="1min", tz="Etc/GMT-1")
    return loc.get_clearsky(times, model="ineichen").ghi.sum() / 60 / 1000


@pytest.mark.parametrize("day", DAYS)
def test_daily_clear_sky_within_5_percent_of_pvlib_ineichen(day):
    ours = clearsky.daily_irradiation_kwh(day, BANGUI)
    ref = pvlib_daily_kwh(day)
    assert abs(ours / ref - 1) < 0.05
    assert 6.3 <= ours <= 7.2  # DESIGN.md: 6.4-7.1 kWh/m2/day


def test_instantaneous_ghi_matches_pvlib_at_noon():
    loc = pvlib.location.Location(BANGUI.lat, BANGUI.lon, altitude=BANGUI.altitude_m)
    times = pd.date_range("2026-08-15 06:00", periods=10, freq="1h", tz="UTC")
    ref = loc.get_clearsky(times, model="ineichen").ghi
    for k, ts in enumerate(times):
        ours = clearsky.clear_sky_ghi(ts.timestamp(), BANGUI, twilight=False)
        assert ours == pytest.approx(ref.iloc[k], rel=0.02, abs=2.0)


def test_day_table_agrees_with_direct_computation():
    idx = clearsky.local_day_index(datetime(2026, 2, 1, 12, tzinfo=timezone.utc).timestamp(), BANGUI)
    table = clearsky.day_table(idx, BANGUI)
    t0 = clearsky.day_start_s(idx, BANGUI)
    assert len(table) == 1441
    for i in range(0, 1441, 37):
        assert table[i] == pytest.approx(clearsky.clear_sky_ghi(t0 + 60 * i, BANGUI), abs=0.05)
    assert clearsky.day_table(idx, BANGUI) is table  # cached and shared


def test_known_values():
    assert clearsky.extraterrestrial_w_m2(3) == pytest.approx(1366.1 * 1.0344, rel=2e-3)  # perihelion
    assert clearsky.pressure_pa(0) == pytest.approx(101325, rel=1e-3)
    assert clearsky.airmass_kasten_young(0.0) == pytest.approx(1.0, abs=1e-3)
    assert clearsky.airmass_kasten_young(60.0) == pytest.approx(1.99, abs=0.01)
    assert clearsky.ineichen_ghi(-1.0, 370, 4.0, 1366) == 0.0
    # TL interpolation hits the mid-month values
    assert clearsky.linke_for_doy(BANGUI.linke_monthly, 15.5) == pytest.approx(3.85)
    assert clearsky.linke_for_doy(BANGUI.linke_monthly, 227.5) == pytest.approx(4.55)


def test_twilight_glow():
    # AMS glossary: ~410-585 lux at sunset, ~2-3.5 lux at -6 deg, ~0.008 lux at -12 deg
    lux = clearsky.DAYLIGHT_EFFICACY_LM_W
    assert 400 <= clearsky.twilight_w_m2(0.0) * lux <= 600
    assert 2.0 <= clearsky.twilight_w_m2(-6.0) * lux <= 3.5
    assert clearsky.twilight_w_m2(-12.0) * lux < 0.05
    assert clearsky.twilight_w_m2(-13.0) == 0.0
    values = [clearsky.twilight_w_m2(h / 4) for h in range(-48, 20)]
    assert values == sorted(values)


def test_other_site_with_flat_turbidity_matches_pvlib():
    quito = Site("quito", -0.18, -78.47, 2850.0, -5.0)  # default TL 4.0 every month
    loc = pvlib.location.Location(quito.lat, quito.lon, tz="Etc/GMT+5", altitude=quito.altitude_m)
    times = pd.date_range("2026-03-21", periods=24 * 60, freq="1min", tz="Etc/GMT+5")
    sp = loc.get_solarposition(times)
    am = loc.get_airmass(solar_position=sp)
    ref = pvlib.clearsky.ineichen(sp.apparent_zenith, am.airmass_absolute, 4.0, altitude=quito.altitude_m,
                                  dni_extra=pvlib.irradiance.get_extra_radiation(times)).ghi.sum() / 60e3
    assert clearsky.daily_irradiation_kwh(date(2026, 3, 21), quito) == pytest.approx(ref, rel=0.02)
