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


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium through Playwright (its own browser download is never used): one per test run."""
    import shutil
    from pathlib import Path

    from playwright.sync_api import sync_playwright

    exe = shutil.which("chromium") or "/usr/bin/chromium"
    assert Path(exe).exists(), "Debian's chromium is needed (python3 dev.py test installs it)"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@pytest.fixture(scope="session")
def shots(tmp_path_factory):
    """Where the console's screenshots go: $LAMPFLEET_SCREENSHOTS, else a temporary directory (printed)."""
    import os
    from pathlib import Path

    out = Path(os.environ.get("LAMPFLEET_SCREENSHOTS") or tmp_path_factory.mktemp("console-screenshots"))
    out.mkdir(parents=True, exist_ok=True)
    print(f"\nconsole screenshots in {out}")
    return out
