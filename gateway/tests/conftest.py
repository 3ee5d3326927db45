from __future__ import annotations

import pytest

from gateway.registry import Lamp
from gateway.service import Gateway
from gateway.settings import Settings
from telemetry import DeviceKey, encode

KEY = bytes(range(16))
T0 = 1785582000  # 2026-08-01 11:00 UTC


@pytest.fixture
def gateway(tmp_path):
    gw = Gateway(Settings(database=tmp_path / "gw.sqlite3", clock="device"))
    gw.registry.add(Lamp("LAMP-0001", 0x100001, KEY, site="bangui"))
    gw.registry.add(Lamp("LAMP-0002", 0x100002, bytes(16), site="bangui"))
    yield gw
    gw.close()


class Lamp1:
    """Builds frames as LAMP-0001 would send them."""

    def __init__(self):
        self.key = DeviceKey(KEY)
        self.fcnt = 0

    def status(self, t_s, led_pct=100, led_ma=830, **over):
        fields = {"time_s": t_s, "vbat_mv": 13100, "ibat_ma": -2100, "led_ma": led_ma, "pv_mv": 300,
                  "soc_pct": 70, "led_pct": led_pct, "temp_c": 26, "mode": "night", "faults": []}
        fields.update(over)
        frame = encode("status", 0x100001, self.fcnt, self.key, fields)
        self.fcnt += 1
        return frame


@pytest.fixture
def lamp1():
    return Lamp1()
