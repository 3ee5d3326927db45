"""Both execution modes run the same firmware source on the same world: same frames, byte for byte."""
from __future__ import annotations

from emulator.faults import parse
from emulator.fleet import FleetEmulator
from emulator.scenario import Scenario, make_fleet
from emulator.upy import UpyEmulator


def _frames(runner_cls, scenario, workdir):
    frames: dict[str, list[tuple[float, str]]] = {}
    result = runner_cls(scenario, workdir, sink=lambda lamp, f, t: frames.setdefault(lamp, []).append((t, f.hex()))).run()
    return result, frames


def _scenario():
    # Lamp 2 loses its LED; lamp 3 has a worn battery and a brown-out on the second night, so supply loss
    # and reboot are compared too.
    return Scenario(make_fleet(3, seed=11), days=2.5, seed=11,
                    faults=parse("2:led_open@8h,3:battery_degraded=0.25@1h,3:brown_out@33h"))


def test_micropython_and_fleet_modes_send_identical_frames(tmp_path):
    upy_result, upy_frames = _frames(UpyEmulator, _scenario(), tmp_path / "upy")
    fleet_result, fleet_frames = _frames(FleetEmulator, _scenario(), tmp_path / "fleet")
    assert sorted(upy_frames) == sorted(fleet_frames)
    for lamp_id in upy_frames:
        assert upy_frames[lamp_id] == fleet_frames[lamp_id], lamp_id
    strip = lambda r: [{k: v for k, v in lamp.items()} for lamp in r["lamps"]]  # noqa: E731
    assert strip(upy_result) == strip(fleet_result)
    assert sum(lp["power_cycles"] for lp in fleet_result["lamps"]) >= 1
