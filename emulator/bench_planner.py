"""How close the firmware's energy planner comes to the hindsight optimum.

`python -m emulator.bench_planner [--profile street|kit] [--trace NAME]` prints JSON: for each weather
trace and lamp profile, the firmware's lumen-hours and dark minutes (fleet mode, FleetEmulator, one lamp,
seed 1, as emulator/tests/test_planner_traces.py runs it, but from the trace's first noon, 12:00 local, for
whole days: 29 on a 30-day trace, as the oracle's CLI takes it by default), the oracle's over the same span (emulator/oracle) and their ratio.

Traces: the two bundled ones (emulator/physics/traces: bangui_dry.csv, bangui_rainy.csv) and two
generated here into a temporary directory with the bundled traces' generator (SyntheticWeather, Bangui,
hourly rows in local time, weather.write_trace), 30 days each:

- `gen_sep_seed3_run5.csv`: September 2026, seed 3, with 14-18 September forced overcast at daily
  clearness 0.25, 0.18, 0.15, 0.20, 0.30 (a five-day rainy-season run, a little milder than the bundled
  rainy trace's six days);
- `gen_may_seed5_run3.csv`: May 2026, seed 5 (the start of the rains), with 20-22 May forced to 0.20,
  0.15, 0.25.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from emulator.physics.site import BANGUI
from emulator.physics.trace import TraceWeather
from emulator.physics.weather import TRACES_DIR, SyntheticWeather, _local_midnight_s, write_trace
from emulator.start import first_noon

# (file, first local day, days, seed, forced day clearness)
GENERATED = (
    ("gen_sep_seed3_run5.csv", date(2026, 9, 1), 30, 3,
     {date(2026, 9, 14 + i): k for i, k in enumerate((0.25, 0.18, 0.15, 0.20, 0.30))}),
    ("gen_may_seed5_run3.csv", date(2026, 5, 1), 30, 5,
     {date(2026, 5, 20 + i): k for i, k in enumerate((0.20, 0.15, 0.25))}),
)
BUNDLED = ("bangui_dry.csv", "bangui_rainy.csv")


def generate_traces(directory: Path) -> list[Path]:
    """Write the generated traces (GENERATED) into `directory`."""
    out = []
    for name, first, days, seed, forced in GENERATED:
        start = _local_midnight_s(first, BANGUI)
        path = Path(directory) / name
        write_trace(path, SyntheticWeather(BANGUI, seed=seed, overrides=forced), start, start + days * 86400.0,
                    3600.0, BANGUI.utc_offset_h)
        out.append(path)
    return out


def firmware_run(trace: Path, profile: str, start_s: float, days: float, workdir: Path) -> dict:
    from emulator.fleet import FleetEmulator
    from emulator.scenario import Scenario, make_fleet

    scenario = Scenario(make_fleet(1, seed=1, profile=profile), days=days, seed=1, start_s=start_s,
                        weather_file=trace)
    return FleetEmulator(scenario, workdir).run()["lamps"][0]


def compare(trace: Path, profile: str, workdir: Path) -> dict:
    from emulator.oracle import solve

    weather = TraceWeather(trace, default_utc_offset_h=BANGUI.utc_offset_h)
    start = first_noon(weather.start_s, BANGUI)  # as `lampfleet emulate --weather` and the oracle's CLI
    days = float(int((weather.end_s - start) / 86400))  # whole days: noon to noon (29 on a 30-day trace)
    t0 = time.perf_counter()
    fw = firmware_run(trace, profile, start, days, workdir / f"{trace.stem}-{profile}")
    t1 = time.perf_counter()
    opt = solve(weather, profile, start, days)
    t2 = time.perf_counter()
    return {
        "trace": trace.name, "profile": profile, "days": days,
        "firmware": {"lumen_hours": fw["lumen_hours"], "dark_minutes": fw["dark_minutes"],
                     "min_soc_pct": fw["min_soc_pct"], "wall_s": round(t1 - t0, 1)},
        "oracle": {"lumen_hours": round(opt.lumen_hours, 1), "replay_lumen_hours": round(opt.replay["lumen_hours"], 1),
                   "replay_dark_minutes": opt.replay["dark_minutes"],
                   "replay_supply_interruptions": opt.replay["supply_interruptions"],
                   "min_soc_pct": round(opt.replay["min_soc_pct"], 2), "end_soc_pct": round(opt.replay["end_soc_pct"], 2),
                   "valid": opt.valid, "wall_s": round(t2 - t1, 1)},
        "ratio": round(fw["lumen_hours"] / opt.lumen_hours, 4),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m emulator.bench_planner", description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", choices=("street", "kit"), action="append",
                    help="street, kit (repeatable; default both)")
    ap.add_argument("--trace", action="append", help="a trace's file name (repeatable; default all four)")
    args = ap.parse_args(argv)
    profiles = args.profile or ["street", "kit"]
    with tempfile.TemporaryDirectory(prefix="lampfleet-bench-planner-") as tmp:
        tmp_path = Path(tmp)
        traces = [TRACES_DIR / name for name in BUNDLED] + generate_traces(tmp_path)
        if args.trace:
            unknown = set(args.trace) - {t.name for t in traces}
            if unknown:
                ap.error(f"unknown trace {sorted(unknown)[0]!r}: use {', '.join(t.name for t in traces)}")
            traces = [t for t in traces if t.name in args.trace]
        rows = [compare(trace, profile, tmp_path) for trace in traces for profile in profiles]
    json.dump({"runs": rows}, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
