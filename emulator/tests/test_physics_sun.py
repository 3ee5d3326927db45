"""Solar position and sunrise/sunset against pvlib (SPA) for Bangui."""
from datetime import date, timedelta

import pandas as pd
import pvlib
import pytest

from emulator.physics.site import BANGUI
from emulator.physics.sun import CIVIL_DEPRESSION_DEG, night_length_h, solar_noon_s, solar_position, sunrise_sunset

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore:.*dayofyear.*")
LAT, LON = BANGUI.lat, BANGUI.lon
DATES = [date(2026, 1, 15), date(2026, 3, 21), date(2026, 5, 1), date(2026, 6, 21), date(2026, 8, 15),
         date(2026, 10, 15), date(2026, 11, 3), date(2026, 12, 15)]


@pytest.fixture(scope="module")
def spa():
    days = pd.DatetimeIndex([pd.Timestamp(d, tz="Etc/GMT-1") for d in DATES])  # UTC+1 local days
    return pvlib.solarposition.sun_rise_set_transit_spa(days, LAT, LON)


@pytest.mark.parametrize("i", range(len(DATES)))
def test_sunrise_sunset_within_two_minutes_of_pvlib_spa(spa, i):
    rise, set_ = sunrise_sunset(DATES[i], LAT, LON)
    assert abs(rise - spa.sunrise.iloc[i].timestamp()) < 120
    assert abs(set_ - spa.sunset.iloc[i].timestamp()) < 120
    assert abs(solar_noon_s(DATES[i], LON) - spa.transit.iloc[i].timestamp()) < 60


def test_published_bangui_window():
    # firmware_anchors.md: sunset 17:28-18:02, sunrise 05:30-06:01 WAT (UTC+1) over the year
    rises, sets = [], []
    for n in range(365):
        r, s = sunrise_sunset(date(2026, 1, 1) + timedelta(days=n), LAT, LON)
        rises.append((r + 3600) % 86400 / 60)
        sets.append((s + 3600) % 86400 / 60)
    assert 5 * 60 + 29 <= min(rises) and max(rises) <= 6 * 60 + 2
    assert 17 * 60 + 27 <= min(sets) and max(sets) <= 18 * 60 + 3


def test_night_length_over_the_year():
    nights = [night_length_h(date(2026, 1, 1) + timedelta(days=n), LAT, LON) for n in range(365)]
    assert round(min(nights), 1) >= 11.6
    assert round(max(nights), 1) <= 12.1
    # longest nights around the December solstice (physics.md 6: 12.12 h on 15 Dec)
    assert abs(night_length_h(date(2026, 12, 15), LAT, LON) - 12.12) < 0.03


def test_civil_twilight_lasts_21_to_23_minutes():
    for d in DATES:
        _, s0 = sunrise_sunset(d, LAT, LON)
        _, s6 = sunrise_sunset(d, LAT, LON, depression_deg=CIVIL_DEPRESSION_DEG)
        assert 20.5 <= (s6 - s0) / 60 <= 23.5


def test_position_matches_pvlib():
    times = pd.date_range("2026-03-21", periods=96, freq="15min", tz="UTC").append(
        pd.date_range("2026-08-15", periods=96, freq="15min", tz="UTC"))
    ref = pvlib.solarposition.get_solarposition(times, LAT, LON, altitude=BANGUI.altitude_m)
    for k, ts in enumerate(times):
        pos = solar_position(ts.timestamp(), LAT, LON)
        assert abs(pos.elevation_deg - ref.elevation.iloc[k]) < 0.05
        if ref.apparent_elevation.iloc[k] > -1:
            assert abs(pos.apparent_elevation_deg - ref.apparent_elevation.iloc[k]) < 0.25
        if ref.elevation.iloc[k] > 2:
            assert abs((pos.azimuth_deg - ref.azimuth.iloc[k] + 180) % 360 - 180) < 0.1


def test_polar_night_raises():
    with pytest.raises(ValueError):
        sunrise_sunset(date(2026, 12, 21), 80.0, 0.0)
