"""Device libraries come from the local cache: PyPI-fetched (umqtt.simple2) and added from a local copy
(micropython-lib's lora drivers), and ship with the application."""
from __future__ import annotations

import shutil

import pytest

from lampfleet import devlibs
from tools.build import MPY_SUB_VERSION, MPY_VERSION, MpyTarget, build_app, device_libraries


@pytest.fixture
def cache(tmp_path, monkeypatch):
    real = devlibs.ensure("umqtt.simple2")  # filled by dev.py at set-up
    root = tmp_path / "mpylib"
    shutil.copytree(real, root / real.name)
    monkeypatch.setenv("LAMPFLEET_MPYLIB", str(root))
    return root


def test_local_driver_is_cached_and_flashed(cache, tmp_path):
    driver = tmp_path / "micropython-lib" / "lora"
    (driver / "tests").mkdir(parents=True)
    (driver / "__init__.py").write_text("from lora.modem import RxPacket\n")
    (driver / "modem.py").write_text("class RxPacket(bytearray):\n    pass\n")
    (driver / "tests" / "test_x.py").write_text("assert False\n")
    assert devlibs.add_local(driver) == ["lora/__init__.py", "lora/modem.py"]
    libs = device_libraries()
    assert {"/lib/lora/__init__", "/lib/lora/modem", "/lib/umqtt/simple2"} <= set(libs)
    manifest = build_app(MpyTarget(MPY_VERSION, MPY_SUB_VERSION, "xtensawin"))
    assert manifest.files["/lib/lora/modem.mpy"][:1] == b"M"
    assert "/lib/umqtt/simple2.mpy" in manifest.files


def test_adding_something_that_is_not_a_package_is_refused(cache, tmp_path):
    with pytest.raises(devlibs.DevlibError, match="not a directory of .py files"):
        devlibs.add_local(tmp_path / "nothing-here")
