"""Clear-sky global horizontal irradiance (GHI): Ineichen-Perez with a monthly Linke turbidity, plus a
twilight glow so that light sensors and PV voltage behave at dusk and dawn.

Ineichen & Perez (2002), "A new airmass independent formulation for the Linke turbidity coefficient",
Solar Energy 73(3), as implemented by pvlib.clearsky.ineichen (perez_enhancement=False):

    fh1 = exp(-h/8000),  fh2 = exp(-h/1250)                       h = site altitude (m)
    cg1 = 5.09e-5 h + 0.868,  cg2 = 3.92e-5 h + 0.0387
    AM  = Kasten & Young (1989) relative air mass at the apparent zenith z
        = 1 / (cos z + 0.50572 (96.07995 - z_deg)^-1.6364)
    AMa = AM p/p0,  p = 100 ((44331.514 - h)/11880.516)^(1/0.1902632) Pa      (pvlib alt2pres)
    GHI = cg1 I0 cos z exp(-cg2 AMa (fh1 + fh2 (TL - 1)))
    I0  = 1366.1 (1.00011 + 0.034221 cos B + 0.00128 sin B + 0.000719 cos 2B + 0.000077 sin 2B),
          B = 2 pi (doy - 1)/365                                  (Spencer 1971, pvlib default)

TL is interpolated linearly by day of year between mid-month values (as pvlib does).

Twilight: Ineichen gives ~0 below 2 deg elevation, but a clear sky at sunset still gives ~400-600 lux
and ~2-3.5 lux at -6 deg (AMS Glossary of Meteorology, "civil twilight"; ~0.008 lux at -12 deg,
"astronomical twilight"). We fit  log10(E/lux) = 2.7 + 0.38 h  for -12 <= h <= 0 (h = geometric
elevation, deg), E = 500 (1 + h) lux for 0 < h < ~5, and convert with a daylight luminous efficacy of
110 lm/W [R: typical 100-125 lm/W for global daylight]. The glow carries < 0.1 % of daily energy; it
matters only for when a PV panel's voltage or a lux sensor crosses a dusk threshold.

Speed: `day_table()` returns one local day's clear-sky GHI at 60 s resolution, computed once per
(site, day) and shared by every lamp at that site (module-level cache); lookups then cost one index
and one linear interpolation.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from datetime import date, datetime, timezone

from emulator.physics.site import Site
from emulator.physics.sun import _ephemeris, refraction_deg, solar_position

SOLAR_CONSTANT_W_M2 = 1366.1
DAYLIGHT_EFFICACY_LM_W = 110.0
TABLE_STEP_S = 60
_TABLE_LEN = 86400 // TABLE_STEP_S + 1  # inclusive of the next midnight
_RAD = math.pi / 180.0

# Middle of each month as a day-of-year, with December/January wrapped around the year ends.
_MONTH_LEN = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_MIDS = [sum(_MONTH_LEN[:i]) + _MONTH_LEN[i] / 2.0 for i in range(12)]


def extraterrestrial_w_m2(doy: int) -> float:
    b = 2.0 * math.pi * (doy - 1) / 365.0
    return SOLAR_CONSTANT_W_M2 * (1.00011 + 0.034221 * math.cos(b) + 0.00128 * math.sin(b)
                                  + 0.000719 * math.cos(2 * b) + 0.000077 * math.sin(2 * b))


def pressure_pa(altitude_m: float) -> float:
    return 100.0 * ((44331.514 - altitude_m) / 11880.516) ** (1.0 / 0.1902632)


def airmass_kasten_young(zenith_deg: float) -> float:
    """Relative optical air mass; infinite (no beam) below the horizon."""
    if zenith_deg >= 90.0:
        return math.inf
    return 1.0 / (math.cos(zenith_deg * _RAD) + 0.50572 * (96.07995 - zenith_deg) ** -1.6364)


def linke_for_doy(monthly: tuple[float, ...], doy: float) -> float:
    """Linke turbidity on a day of year, linear between mid-month values (wrapping Dec -> Jan)."""
    mids = [_MIDS[-1] - 365.0] + _MIDS + [_MIDS[0] + 365.0]
    vals = [monthly[-1]] + list(monthly) + [monthly[0]]
    for i in range(1, len(mids)):
        if doy <= mids[i]:
            f = (doy - mids[i - 1]) / (mids[i] - mids[i - 1])
            return vals[i - 1] + f * (vals[i] - vals[i - 1])
    return vals[-1]


def ineichen_ghi(apparent_elevation_deg: float, altitude_m: float, linke: float, i0_w_m2: float) -> float:
    """Clear-sky GHI (W/m2) by Ineichen-Perez; 0 with the sun below the apparent horizon."""
    if apparent_elevation_deg <= 0.0:
        return 0.0
    zen = 90.0 - apparent_elevation_deg
    am = airmass_kasten_young(zen) * pressure_pa(altitude_m) / 101325.0
    fh1 = math.exp(-altitude_m / 8000.0)
    fh2 = math.exp(-altitude_m / 1250.0)
    cg1 = 5.09e-5 * altitude_m + 0.868
    cg2 = 3.92e-5 * altitude_m + 0.0387
    return cg1 * i0_w_m2 * math.cos(zen * _RAD) * math.exp(-cg2 * am * (fh1 + fh2 * (linke - 1.0)))


def twilight_w_m2(elevation_deg: float) -> float:
    """Horizontal irradiance equivalent of clear-sky twilight glow (see module docstring)."""
    h = elevation_deg
    if h < -12.0:
        return 0.0
    if h <= 0.0:
        lux = 10.0 ** (2.7 + 0.38 * h)
    else:
        lux = 500.0 * (1.0 + h)
    return lux / DAYLIGHT_EFFICACY_LM_W


def clear_sky_ghi(t_s: float, site: Site, twilight: bool = True) -> float:
    """Clear-sky GHI (W/m2) at Unix time t_s; with `twilight`, never below the twilight glow."""
    pos = solar_position(t_s, site.lat, site.lon)
    day = datetime.fromtimestamp(t_s, timezone.utc).timetuple().tm_yday
    tl = linke_for_doy(site.linke_monthly, day)
    ghi = ineichen_ghi(pos.apparent_elevation_deg, site.altitude_m, tl, extraterrestrial_w_m2(day))
    if twilight:
        glow = twilight_w_m2(pos.elevation_deg)
        if glow > ghi:
            return glow
    return ghi


_CACHE: OrderedDict[tuple[object, ...], tuple[float, ...]] = OrderedDict()
_CACHE_DAYS = 400  # ~18 MB at most; a 30-day fleet run needs 31


def local_day_index(t_s: float, site: Site) -> int:
    return math.floor((t_s + site.utc_offset_s) / 86400.0)


def day_start_s(day_index: int, site: Site) -> float:
    return day_index * 86400.0 - site.utc_offset_s


def day_table(day_index: int, site: Site) -> tuple[float, ...]:
    """Clear-sky GHI with twilight every TABLE_STEP_S over local day `day_index` (cached, shared).

    Same equations as clear_sky_ghi(), arranged for speed: declination and equation of time are taken
    hourly and interpolated (they move < 0.02 deg and < 1.5 s per hour), the day's TL and I0 once."""
    key = (site.lat, site.lon, site.altitude_m, site.utc_offset_h, site.linke_monthly, day_index)
    table = _CACHE.get(key)
    if table is not None:
        _CACHE.move_to_end(key)
        return table
    t0 = day_start_s(day_index, site)
    doy = datetime.fromtimestamp(t0 + 43200.0, timezone.utc).timetuple().tm_yday
    tl = linke_for_doy(site.linke_monthly, doy)
    i0 = extraterrestrial_w_m2(doy)
    alt = site.altitude_m
    p_ratio = pressure_pa(alt) / 101325.0
    cg1 = 5.09e-5 * alt + 0.868
    k = (3.92e-5 * alt + 0.0387) * (math.exp(-alt / 8000.0) + math.exp(-alt / 1250.0) * (tl - 1.0))
    eph = [_ephemeris(t0 + h * 3600.0) for h in range(25)]
    sin_lat, cos_lat = math.sin(site.lat * _RAD), math.cos(site.lat * _RAD)
    values = []
    per_hour = 3600 // TABLE_STEP_S
    for i in range(_TABLE_LEN):
        h, f = divmod(i, per_hour)
        f /= per_hour
        d0, e0, _ = eph[min(h, 24)]
        d1, e1, _ = eph[min(h + 1, 24)]
        decl = (d0 + f * (d1 - d0)) * _RAD
        eot = e0 + f * (e1 - e0)
        t = t0 + i * TABLE_STEP_S
        ha = ((t % 86400.0) / 60.0 + eot + 4.0 * site.lon) % 1440.0 / 4.0 - 180.0
        cz = sin_lat * math.sin(decl) + cos_lat * math.cos(decl) * math.cos(ha * _RAD)
        elev = 90.0 - math.acos(max(-1.0, min(1.0, cz))) / _RAD
        app = elev + refraction_deg(elev)
        ghi = 0.0
        if app > 0.0:
            zen = 90.0 - app
            am = p_ratio / (math.cos(zen * _RAD) + 0.50572 * (96.07995 - zen) ** -1.6364)
            ghi = cg1 * i0 * math.cos(zen * _RAD) * math.exp(-k * am)
        glow = twilight_w_m2(elev)
        values.append(glow if glow > ghi else ghi)
    table = tuple(values)  # tuples index faster than array("d"): no float boxing on access
    _CACHE[key] = table
    if len(_CACHE) > _CACHE_DAYS:
        _CACHE.popitem(last=False)
    return table


def daily_irradiation_kwh(day: date, site: Site) -> float:
    """Clear-sky irradiation (kWh/m2) over the local calendar day, trapezoidal over the 60 s table."""
    idx = (datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp() // 86400)
    table = day_table(int(idx), site)
    wh = (sum(table) - 0.5 * (table[0] + table[-1])) * TABLE_STEP_S / 3600.0
    return wh / 1000.0
