"""Emulator speed benchmark: prints JSON, never asserts. `python -m emulator.bench [--full]`

- upy: lamp-days per wall second per lamp, MicroPython-in-the-loop (one interpreter process per lamp);
- fleet: lamp-days per CPU second, fleet mode in this process;
- baseline: the physics world alone driven at the firmware's sampling period (no firmware), measured in
  the same run, so the firmware's share is a ratio that survives a noisy shared machine.
Each figure is the median of `--repeat` runs. `--full` adds the 1,000 lamps x 30 days fleet run, split
over `--workers` processes (one per core).
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from emulator.fleet import FleetEmulator
from emulator.scenario import Scenario, make_fleet
from emulator.upy import UpyEmulator
from emulator.world import LampWorld


def _run(runner, lamps: int, days: float, seed: int = 5, first: int = 0) -> dict:
    fleet = make_fleet(first + lamps, seed)[first:]
    with tempfile.TemporaryDirectory() as tmp:
        return runner(Scenario(fleet, days=days, seed=seed), Path(tmp)).run()


def _baseline(lamps: int, days: float, step_s: float = 60.0) -> float:
    """CPU seconds for the worlds alone, stepped like the firmware does (read + advance per sample)."""
    sc = Scenario(make_fleet(lamps, 5), days=days, seed=5)
    worlds = [LampWorld(sc, ident, i) for i, ident in enumerate(sc.lamps)]
    cpu0 = time.process_time()
    t = sc.start_s
    while t < sc.end_s:
        for w in worlds:
            w.readings(t)
            w.advance(t, step_s, 100)
        t += step_s
    return time.process_time() - cpu0


def _fleet_part(args: tuple[int, int, float]) -> dict:
    first, lamps, days = args
    return _run(FleetEmulator, lamps, days, first=first)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--full", action="store_true", help="also run 1,000 lamps x 30 days in fleet mode")
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    upy = [_run(UpyEmulator, 2, 3.0) for _ in range(a.repeat)]
    fleet = [_run(FleetEmulator, 20, 5.0) for _ in range(a.repeat)]
    base = [_baseline(20, 5.0) for _ in range(a.repeat)]
    upy_rate = statistics.median(r["lamp_days"] / r["wall_s"] / len(r["lamps"]) for r in upy)
    fleet_cpu = statistics.median(r["cpu_s"] for r in fleet)
    out = {
        "upy_lamp_days_per_wall_s_per_lamp": round(upy_rate, 2),
        "fleet_lamp_days_per_cpu_s": round(100.0 / fleet_cpu, 1),
        "baseline_world_only_lamp_days_per_cpu_s": round(100.0 / statistics.median(base), 1),
        "fleet_cpu_over_world_only_cpu": round(fleet_cpu / statistics.median(base), 2),
        "repeat": a.repeat,
    }
    if a.full:
        wall0 = time.perf_counter()
        per = 1000 // a.workers
        with ProcessPoolExecutor(a.workers) as pool:
            parts = list(pool.map(_fleet_part, [(i * per, per, 30.0) for i in range(a.workers)]))
        out["fleet_1000x30_wall_s"] = round(time.perf_counter() - wall0, 1)
        out["fleet_1000x30_cpu_s"] = round(sum(p["cpu_s"] for p in parts), 1)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
