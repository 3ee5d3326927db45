"""How often the firmware wakes and what it costs: `python -m emulator.bench_wake [--before REF]`.

Fleet mode, 4 lamps x 7 days on the project's weather traces (a dry week, and the rainy trace from its
10th day), street and kit profiles, seed 7. Per case: wake-ups per lamp-day (controller loop
iterations, counted at the HAL's sleep), dark minutes, lumen-hours, the controller's Wh per lamp-day
and CPU seconds. `--before REF` runs the same cases on the firmware and emulator of a git revision (a
`git archive` in a temporary directory, in its own interpreter) and adds the ratios: the figures of
both come from the same run on the same machine.

`measure()` runs unchanged against an older tree (it needs only FleetEmulator, Scenario and DirectHal;
the cases' start times come from this tree). Prints JSON; asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# (profile, trace, days into the trace)
CASES = (("street", "bangui_dry", 0), ("street", "bangui_rainy", 10), ("kit", "bangui_dry", 0),
         ("kit", "bangui_rainy", 10))


def cases() -> list[tuple[str, str, str, float]]:
    """(name, profile, trace path, start: a noon in the trace) for each case."""
    from emulator.physics.site import BANGUI
    from emulator.physics.trace import TraceWeather
    from emulator.physics.weather import TRACES_DIR
    from emulator.start import first_noon

    out = []
    for profile, trace, skip_days in CASES:
        path = TRACES_DIR / (trace + ".csv")
        weather = TraceWeather(path, default_utc_offset_h=BANGUI.utc_offset_h)
        start = first_noon(weather.start_s, BANGUI) + skip_days * 86400
        out.append((f"{profile}_{trace}", profile, str(path), start))
    return out


def measure(runs: list, lamps: int = 4, days: float = 7.0, seed: int = 7) -> dict:
    """The runs (cases()) on the emulator importable here (this tree, or an archived one)."""
    from emulator import fleet
    from emulator.scenario import Scenario, make_fleet

    wakes = [0]
    sleep = fleet.DirectHal.sleep_ms

    def counting(self, ms, *args, **kw):
        wakes[0] += 1
        return sleep(self, ms, *args, **kw)

    fleet.DirectHal.sleep_ms = counting
    out = {}
    for name, profile, path, start in runs:
        sc = Scenario(make_fleet(lamps, seed, profile=profile), days=days, seed=seed, start_s=start,
                      weather_file=Path(path))
        wakes[0] = 0
        cpu0 = time.process_time()
        with tempfile.TemporaryDirectory() as tmp:
            result = fleet.FleetEmulator(sc, Path(tmp)).run()
        cpu = time.process_time() - cpu0
        lamp_days = lamps * days
        ms = result["lamps"]
        ctrl = [m["controller_wh"] for m in ms if "controller_wh" in m]
        out[name] = {
            "wakeups_per_lamp_day": round(wakes[0] / lamp_days, 1),
            "dark_minutes": round(sum(m["dark_minutes"] for m in ms), 1),
            "lumen_hours": round(sum(m["lumen_hours"] for m in ms), 1),
            "controller_wh_per_lamp_day": round(sum(ctrl) / lamp_days, 2) if ctrl else None,
            "cpu_s": round(cpu, 2),
        }
    fleet.DirectHal.sleep_ms = sleep
    return out


def _before(ref: str, runs: list) -> dict:
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], capture_output=True, check=True).stdout
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(fileobj=BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        # this module's code under its own name (not __main__: main() must not run again in there)
        code = (f"import json, sys\nsys.path.insert(0, {tmp!r})\n"
                f"bench = {{'__name__': 'bench_wake', '__file__': {__file__!r}}}\n"
                f"exec(compile(open({__file__!r}).read(), {__file__!r}, 'exec'), bench)\n"
                f"print(json.dumps(bench['measure']({runs!r})))\n")
        r = subprocess.run([sys.executable, "-c", code], cwd=tmp, capture_output=True, text=True, check=True)
        return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", metavar="REF", help="also measure this git revision (e.g. ec256f3)")
    a = ap.parse_args()
    runs = cases()
    out = {"after": measure(runs)}
    if a.before:
        before = _before(a.before, runs)
        out["before"] = before
        out["ratios"] = {case: {k: round(v / before[case][k], 3) for k, v in after.items()
                                if isinstance(v, (int, float)) and before[case].get(k)}
                         for case, after in out["after"].items()}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
