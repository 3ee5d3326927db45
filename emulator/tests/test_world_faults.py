"""Faults that make the real firmware report what the gateway's rules look for (fleet mode: the firmware's
own App in CPython, frames decoded as the gateway would): day burning (led_stuck_on) and a household that
does not use its kit (kit_off)."""
from __future__ import annotations

from dataclasses import replace

import pytest

from emulator.faults import parse
from emulator.fleet import FleetEmulator
from emulator.scenario import Scenario, make_fleet
from emulator.world import LampWorld
from telemetry import codec, peek

H = 3600


def _run(tmp_path, profile: str, days: float, faults: str) -> tuple[Scenario, list[dict]]:
    ids = [replace(i, profile=profile) for i in make_fleet(1, seed=31)]
    sc = Scenario(ids, days=days, seed=31, faults=parse(faults))
    frames: list[dict] = []

    def sink(lamp_id: str, frame: bytes, t_s: float) -> bool:
        frames.append(codec.decode(frame, ids[0].key, peek(frame)["fcnt16"], int(t_s)))
        return True

    FleetEmulator(sc, tmp_path, sink=sink).run()
    return sc, frames


def _status(sc: Scenario, frames: list[dict], from_h: float, to_h: float) -> list[dict]:
    start, end = sc.start_s + from_h * H, sc.start_s + to_h * H
    return [f for f in frames if f["type"] == "status" and start <= f["time_s"] < end]


def test_a_stuck_driver_burns_by_day_and_the_firmware_calls_it_a_driver_fault(tmp_path):
    # From noon: stuck on at 08:00 on day 2 (20 h), repaired at noon (24 h).
    sc, frames = _run(tmp_path, "street", 1.1, "1:led_stuck_on@20h,1:-led_stuck_on@24h")
    stuck = _status(sc, frames, 20.2, 24)
    assert stuck and all(f["mode"] == "day" and f["led_pct"] == 0 and 880 <= f["led_ma"] <= 920 for f in stuck)
    assert all(f["pv_mv"] >= 8000 for f in stuck)  # in daylight: what lampUnexpectedOn judges
    assert all("driver" in f["faults"] for f in stuck[2:])  # current while commanded off (3 samples)
    driver = [(e["action"], f["time_s"]) for f in frames if f["type"] == "event" for e in f["events"]
              if e["code"] == "driver"]
    assert [a for a, _ in driver] == ["raised", "cleared"]
    assert sc.start_s + 20 * H < driver[0][1] <= sc.start_s + 20.5 * H < sc.start_s + 24 * H < driver[1][1]
    assert all(f["led_ma"] == 0 for f in _status(sc, frames, 24.2, 26.4))


def test_a_household_that_switches_its_kit_off_leaves_one_lit_sample_an_evening(tmp_path):
    # kit_off from the start (noon), repaired at 08:00 on day 3: two evenings switched off, then one used.
    sc, frames = _run(tmp_path, "kit", 2.6, "1:kit_off,1:-kit_off@44h")
    off = _status(sc, frames, 0, 44)
    modes = [f["mode"] for f in off]
    assert set(modes) <= {"day", "manual_off", "night"} and modes.count("manual_off") > 80, set(modes)  # two nights at one status per 15 min
    assert modes.count("night") <= 2  # the dusk sample itself, at most: the press is read one sample later
    lit = [f for f in off if f["led_pct"] > 0]
    assert len(lit) <= 2 and all(f["mode"] == "manual_off" for f in lit)  # at most the evening's lit minute
    used = _status(sc, frames, 54, 62)  # the evening after the repair: the night mode lights it
    assert {f["mode"] for f in used} >= {"night"} and max(f["led_pct"] for f in used) >= 50


def test_kit_off_is_refused_for_a_street_lamp():
    sc = Scenario(make_fleet(1, seed=1), days=1, faults=parse("1:kit_off"))
    with pytest.raises(ValueError, match="street lamp"):
        LampWorld(sc, sc.lamps[0], 0)
