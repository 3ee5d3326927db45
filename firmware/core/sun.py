"""Sunrise and sunset on the device, from latitude, longitude and the date."""
# The Astronomical Almanac's low-precision solar coordinates (0.01 deg between 1950 and 2050, i.e. a few
# seconds of time), with n = days since J2000.0:
#
#     L = 280.460 + 0.9856474 n          mean longitude (deg)
#     g = 357.528 + 0.9856003 n          mean anomaly (deg)
#     lambda = L + 1.915 sin g + 0.020 sin 2g,   eps = 23.439 - 4e-7 n
#     declination = asin(sin eps sin lambda),  right ascension = atan2(cos eps sin lambda, cos lambda)
#     equation of time (min) = 4 (L - RA)
#     cos H0 = (sin(-depression) - sin lat sin decl) / (cos lat cos decl)
#     event (min UTC) = 720 - 4 lon - EoT -+ 4 H0, iterated with the sun taken at the event itself.
#
# MicroPython on the ESP32 has single-precision floats (24-bit mantissa). 0.9856474 n is 10^4 degrees
# today, where float32 steps are 0.001 deg; writing it as n - 0.0143526 n and reducing the integer n
# modulo 360 exactly keeps every float below 600, so the float32 result stays within a second of the
# float64 one (tests/test_sun_float32.py checks this with an emulated float32).
import math

_float = float  # tests put a float32 emulation here; nothing else may build floats in this module
_RAD = math.pi / 180
J2000_DAY = 10957  # Unix day number of 2000-01-01; J2000.0 is its noon


def _sun(n, f):
    """(sin decl, cos decl, equation of time in minutes) at n + f days after J2000.0, n an int."""
    f = _float(f)
    nf = _float(n)
    n360 = n % 360
    lon = n360 + 280.460 - 0.0143526 * nf + 0.9856474 * f
    g = (n360 + 357.528 - 0.0143997 * nf + 0.9856003 * f) * _RAD
    lam = (lon + 1.915 * math.sin(g) + 0.020 * math.sin(2 * g)) * _RAD
    eps = (23.439 - 0.0000004 * nf) * _RAD
    sin_d = math.sin(eps) * math.sin(lam)
    ra = math.atan2(math.cos(eps) * math.sin(lam), math.cos(lam)) / _RAD
    eot_deg = (lon - ra + 180) % 360 - 180
    return sin_d, math.sqrt(1 - sin_d * sin_d), 4 * eot_deg


def events_s(day, lat_mdeg, lon_mdeg, depression_mdeg):
    """(sunrise_s, sunset_s) in Unix seconds for the solar day centred near noon UTC of Unix day `day`.

    Returns None for polar day or night (never at the latitudes this firmware is meant for, but a
    lamp must not crash on a typo in its coordinates).
    """
    lat = _float(lat_mdeg) / 1000 * _RAD
    lon = _float(lon_mdeg) / 1000
    sin_h = math.sin(-_float(depression_mdeg) / 1000 * _RAD)
    sin_lat, cos_lat = math.sin(lat), math.cos(lat)
    n = day - J2000_DAY
    out = []
    for sign in (-1, 1):
        t = 720 - 4 * lon + sign * 360  # minutes UTC: first guess six hours from noon
        for _ in range(3):
            sin_d, cos_d, eot = _sun(n, (t - 720) / 1440)
            cos_h0 = (sin_h - sin_lat * sin_d) / (cos_lat * cos_d)
            if not -1 < cos_h0 < 1:
                return None
            t = 720 - 4 * lon - eot + sign * 4 * math.acos(cos_h0) / _RAD
        out.append(day * 86400 + int(t * 60))
    return out[0], out[1]
