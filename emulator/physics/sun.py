"""Solar position and sunrise/sunset: the NOAA Solar Calculator algorithm (Meeus, "Astronomical
Algorithms", low-precision series), to about 0.01 deg in position and under a minute in rise/set time
between 1901 and 2099.

For Unix time t (s, UTC) the Julian century is  T = (t/86400 + 2440587.5 - 2451545) / 36525  and

    L0 = 280.46646 + T (36000.76983 + 0.0003032 T)              geometric mean longitude (deg)
    M  = 357.52911 + T (35999.05029 - 0.0001537 T)              mean anomaly (deg)
    e  = 0.016708634 - T (0.000042037 + 0.0000001267 T)         orbit eccentricity
    C  = sin M (1.914602 - T(0.004817 + 0.000014 T)) + sin 2M (0.019993 - 0.000101 T) + 0.000289 sin 3M
    lambda = L0 + C - 0.00569 - 0.00478 sin(125.04 - 1934.136 T)        apparent longitude
    eps = 23 + (26 + (21.448 - T(46.815 + T(0.00059 - 0.001813 T)))/60)/60 + 0.00256 cos(125.04 - 1934.136 T)
    delta = asin(sin eps sin lambda)                                    declination
    y = tan^2(eps/2)
    EoT = 4 deg( y sin 2L0 - 2e sin M + 4 e y sin M cos 2L0 - y^2/2 sin 4L0 - 5/4 e^2 sin 2M )   (minutes)
    true solar time  TST = minutes_utc + EoT + 4 lon;   hour angle  H = TST/4 - 180
    cos(zenith) = sin(lat) sin(delta) + cos(lat) cos(delta) cos(H)

Atmospheric refraction follows the NOAA spreadsheet's piecewise formula. Sunrise/sunset are the times
the sun's centre is `depression_deg` below the geometric horizon:

    cos(H0) = cos(90 deg + depression) / (cos lat cos delta) - tan lat tan delta
    noon = 720 - 4 lon - EoT (min UTC);  rise = noon - 4 H0;  set = noon + 4 H0

iterated three times with delta and EoT taken at the event itself. depression 0.833 deg (34' refraction
+ 16' solar semi-diameter) is the official rise/set used by almanacs, pvlib's SPA and ESPHome; 6 deg is
civil twilight. Checked against pvlib's `sun_rise_set_transit_spa` in emulator/tests/test_physics_sun.py.
"""
from __future__ import annotations

import math
from datetime import date, datetime, timedelta, timezone
from typing import NamedTuple

OFFICIAL_DEPRESSION_DEG = 0.833
CIVIL_DEPRESSION_DEG = 6.0

_RAD = math.pi / 180.0
_DEG = 180.0 / math.pi


class SolarPosition(NamedTuple):
    elevation_deg: float  # geometric (no refraction)
    apparent_elevation_deg: float  # with atmospheric refraction: what a sensor sees
    azimuth_deg: float  # clockwise from north
    declination_deg: float
    equation_of_time_min: float
    earth_sun_au: float


def _ephemeris(t_s: float) -> tuple[float, float, float]:
    """(declination deg, equation of time min, Earth-Sun distance AU) at Unix time t_s."""
    jc = (t_s / 86400.0 + 2440587.5 - 2451545.0) / 36525.0
    l0 = (280.46646 + jc * (36000.76983 + jc * 0.0003032)) % 360.0
    m = 357.52911 + jc * (35999.05029 - 0.0001537 * jc)
    ecc = 0.016708634 - jc * (0.000042037 + 0.0000001267 * jc)
    mr = m * _RAD
    ctr = (math.sin(mr) * (1.914602 - jc * (0.004817 + 0.000014 * jc))
           + math.sin(2 * mr) * (0.019993 - 0.000101 * jc) + math.sin(3 * mr) * 0.000289)
    omega = (125.04 - 1934.136 * jc) * _RAD
    app_long = (l0 + ctr - 0.00569 - 0.00478 * math.sin(omega)) * _RAD
    eps0 = 23.0 + (26.0 + (21.448 - jc * (46.815 + jc * (0.00059 - jc * 0.001813))) / 60.0) / 60.0
    eps = (eps0 + 0.00256 * math.cos(omega)) * _RAD
    decl = math.asin(math.sin(eps) * math.sin(app_long))
    y = math.tan(eps / 2.0) ** 2
    l0r = l0 * _RAD
    eot = 4.0 * _DEG * (y * math.sin(2 * l0r) - 2 * ecc * math.sin(mr)
                        + 4 * ecc * y * math.sin(mr) * math.cos(2 * l0r)
                        - 0.5 * y * y * math.sin(4 * l0r) - 1.25 * ecc * ecc * math.sin(2 * mr))
    true_anom = mr + ctr * _RAD
    dist = 1.000001018 * (1 - ecc * ecc) / (1 + ecc * math.cos(true_anom))
    return decl * _DEG, eot, dist


def refraction_deg(elevation_deg: float) -> float:
    """Atmospheric refraction (deg) to add to a geometric elevation (NOAA spreadsheet formula)."""
    h = elevation_deg
    if h > 85.0:
        return 0.0
    if h > 5.0:
        tn = math.tan(h * _RAD)
        arcsec = 58.1 / tn - 0.07 / tn ** 3 + 0.000086 / tn ** 5
    elif h > -0.575:
        arcsec = 1735.0 + h * (-518.2 + h * (103.4 + h * (-12.79 + h * 0.711)))
    else:
        arcsec = -20.772 / math.tan(h * _RAD)
    return arcsec / 3600.0


def solar_position(t_s: float, lat: float, lon: float) -> SolarPosition:
    decl, eot, dist = _ephemeris(t_s)
    minutes_utc = (t_s % 86400.0) / 60.0
    tst = (minutes_utc + eot + 4.0 * lon) % 1440.0
    ha = tst / 4.0 - 180.0
    latr, declr = lat * _RAD, decl * _RAD
    cz = math.sin(latr) * math.sin(declr) + math.cos(latr) * math.cos(declr) * math.cos(ha * _RAD)
    cz = max(-1.0, min(1.0, cz))
    zen = math.acos(cz)
    elev = 90.0 - zen * _DEG
    denom = math.cos(latr) * math.sin(zen)
    if abs(denom) < 1e-12:
        az = 180.0 if lat > decl else 0.0
    else:
        ca = max(-1.0, min(1.0, (math.sin(latr) * cz - math.sin(declr)) / denom))
        a = math.acos(ca) * _DEG
        az = (a + 180.0) % 360.0 if ha > 0 else (540.0 - a) % 360.0
    return SolarPosition(elev, elev + refraction_deg(elev), az, decl, eot, dist)


def _mean_noon_s(day: date, lon: float) -> float:
    """Unix time of mean solar noon at longitude `lon` on the calendar day `day`."""
    midnight = datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp()
    return midnight + 43200.0 - lon * 240.0


def solar_noon_s(day: date, lon: float) -> float:
    """Unix time of solar transit on calendar day `day` (transit is near local noon in any sane zone)."""
    base = _mean_noon_s(day, lon)
    t = base
    for _ in range(2):
        t = base - _ephemeris(t)[1] * 60.0
    return t


def _event_s(base_s: float, lat: float, depression_deg: float, sign: float) -> float | None:
    t = base_s + sign * 6 * 3600.0
    latr = lat * _RAD
    for _ in range(3):
        decl, eot, _ = _ephemeris(t)
        declr = decl * _RAD
        cos_h0 = (math.cos((90.0 + depression_deg) * _RAD) / (math.cos(latr) * math.cos(declr))
                  - math.tan(latr) * math.tan(declr))
        if not -1.0 <= cos_h0 <= 1.0:
            return None  # polar day or night
        t = base_s - eot * 60.0 + sign * 4.0 * math.acos(cos_h0) * _DEG * 60.0
    return t


def sunrise_sunset(day: date, lat: float, lon: float,
                   depression_deg: float = OFFICIAL_DEPRESSION_DEG) -> tuple[float, float]:
    """(sunrise, sunset) as Unix seconds around the solar noon of calendar day `day`.

    That noon falls on the same local day wherever the zone's offset is within a few hours of lon/15,
    so `day` may be read as the local date. Raises ValueError on a polar day or night."""
    base = _mean_noon_s(day, lon)
    rise = _event_s(base, lat, depression_deg, -1.0)
    set_ = _event_s(base, lat, depression_deg, +1.0)
    if rise is None or set_ is None:
        raise ValueError(f"no sunrise/sunset on {day} at latitude {lat}")
    return rise, set_


def night_length_h(day: date, lat: float, lon: float,
                   depression_deg: float = OFFICIAL_DEPRESSION_DEG) -> float:
    """Hours from sunset on `day` to sunrise on the next day."""
    _, set_ = sunrise_sunset(day, lat, lon, depression_deg)
    rise_next, _ = sunrise_sunset(day + timedelta(days=1), lat, lon, depression_deg)
    return (rise_next - set_) / 3600.0
