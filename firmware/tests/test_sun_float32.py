"""Sunrise/sunset computed in single precision, as on the ESP32 (CPython only: emulates float32).

MicroPython on the ESP32 stores floats as float32 (24-bit mantissa); the unix port and CPython use
float64. Every arithmetic step and math function result is rounded to float32 here, through the
module's `_float` seam (every float in core/sun.py is built by it) and a float32 `math`.
"""
import math
import struct

import pytest

from firmware.core import sun


def _r(x):
    return struct.unpack("f", struct.pack("f", float(x)))[0]


def _v(x):
    return x.v if isinstance(x, F32) else _r(x)


class F32:
    __slots__ = ("v",)

    def __init__(self, x):
        self.v = _r(x.v if isinstance(x, F32) else x)

    def __add__(self, o): return F32(self.v + _v(o))
    __radd__ = __add__
    def __sub__(self, o): return F32(self.v - _v(o))
    def __rsub__(self, o): return F32(_v(o) - self.v)
    def __mul__(self, o): return F32(self.v * _v(o))
    __rmul__ = __mul__
    def __truediv__(self, o): return F32(self.v / _v(o))
    def __rtruediv__(self, o): return F32(_v(o) / self.v)
    def __mod__(self, o): return F32(self.v % _v(o))
    def __neg__(self): return F32(-self.v)
    def __lt__(self, o): return self.v < _v(o)
    def __gt__(self, o): return self.v > _v(o)
    def __le__(self, o): return self.v <= _v(o)
    def __ge__(self, o): return self.v >= _v(o)
    def __int__(self): return int(self.v)
    def __float__(self): return self.v


class Math32:
    pi = F32(math.pi)

    @staticmethod
    def _f(fn):
        return lambda *a: F32(fn(*[_v(x) for x in a]))


for _name in ("sin", "cos", "atan2", "sqrt", "acos", "asin", "tan"):
    setattr(Math32, _name, staticmethod(Math32._f(getattr(math, _name))))


@pytest.fixture
def float32(monkeypatch):
    monkeypatch.setattr(sun, "_float", F32)
    monkeypatch.setattr(sun, "math", Math32)
    monkeypatch.setattr(sun, "_RAD", F32(math.pi / 180))


def test_float32_emulation_really_loses_precision():
    assert (F32(16777216.0) + 1).v == 16777216.0
    assert _r(0.9856474 * 10000) != 0.9856474 * 10000


def test_single_precision_within_seconds_of_double(float32):
    worst = 0
    for day in range(20454, 20454 + 3 * 365, 13):  # 2026-2028
        for lat, lon in ((4361, 18555), (-12046, -77043), (51500, -120)):
            for dep in (833, 6000):
                sun.math, sun._float, rad = Math32, F32, sun._RAD
                single = sun.events_s(day, lat, lon, dep)
                sun.math, sun._float, sun._RAD = math, float, math.pi / 180
                double = sun.events_s(day, lat, lon, dep)
                sun._RAD = rad
                worst = max(worst, abs(single[0] - double[0]), abs(single[1] - double[1]))
    assert worst <= 5, worst  # seconds; measured: 1 s in Bangui over 2026-2028


def test_naive_formula_would_drift_in_single_precision(float32):
    # Without the integer reduction, 0.9856474 n in float32 at n ~ 10000 is off by ~1e-3 deg: show that
    # the reduction matters (the mean longitude step the module avoids).
    n = 9700
    naive = F32(280.460) + F32(0.9856474) * F32(float(n))
    exact = (280.460 + 0.9856474 * n) % 360
    assert abs(naive.v % 360 - exact) > 1e-4
