"""Benchmark: flash the whole application to an emulated lamp with lampfleet vs `mpremote cp`, same run.

    .venv/bin/python -m tools.bench_flash [--repeat 3] [--app-dir DIR]

Prints JSON. The wire is measured in the emulator's relay (emulator/console.py counts every byte between
the client and the lamp), so both tools are counted the same way. The emulated link is a pty, not a
115200-baud UART: seconds here are protocol and CPU cost; `uart_115200_s` converts the measured bytes
into line time for a real UART bridge (10 bits per byte), which dominates on real hardware.
Both tools write the same files (the manifest lampfleet builds for the lamp). lampfleet also verifies
every file after writing (sha256 re-read from flash) and switches atomically; mpremote does neither.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from emulator.console import SerialLamp
from tools.build import REPO, MpyTarget, board_data, build_app
from tools.flash import flash
from tools.provision import config_bytes
from tools.update import BOOT_PY

BOARD = {"board": "emulated", "bus": "127.0.0.1:9", "lamp": "BENCH-1"}
CONFIG = {"lamp_id": "BENCH-1", "devaddr": 4660, "key_hex": "00" * 16, "site": "bench", "profile": "street",
          "settings": {}}


def _wire(lamp: SerialLamp, start: tuple[int, int], seconds: float) -> dict[str, Any]:
    to_lamp = lamp.bytes_from_client - start[0]
    from_lamp = lamp.bytes_to_client - start[1]
    return {"seconds": round(seconds, 3), "bytes_to_lamp": to_lamp, "bytes_from_lamp": from_lamp,
            "uart_115200_s": round((to_lamp + from_lamp) * 10 / 115200, 1)}


def _counters(lamp: SerialLamp) -> tuple[int, int]:
    return lamp.bytes_from_client, lamp.bytes_to_client


def run_lampfleet(workdir: Path, repo: Path, source: bool, romfs: bool = False) -> dict[str, Any]:
    """Like for like with `mpremote cp` by default: a lamp without a ROMFS partition (/lib only)."""
    with SerialLamp(workdir / "lampfleet", romfs=romfs) as lamp:
        lamp.wait_ready()
        result: dict[str, Any] = {}
        for label in ("full", "second_run"):
            start, t0 = _counters(lamp), time.monotonic()
            report = flash(lamp.pty_path, "BENCH-1", "bench", board=BOARD, repo=repo, source=source, reset=False)
            result[label] = _wire(lamp, start, time.monotonic() - t0) | {"status": report.status}
        return result


def run_mpremote(workdir: Path, repo: Path, source: bool) -> dict[str, Any]:
    manifest = build_app(None if source else MpyTarget.from_sys_mpy(2822), repo, source=source)
    manifest.files.update({"/boot.py": BOOT_PY, "/board.json": board_data(BOARD),
                           "/config.json": config_bytes(CONFIG)})
    image = workdir / "image"
    manifest.write_to(image)
    top = [str(p) for p in sorted(image.iterdir()) if p.is_file()]
    with SerialLamp(workdir / "mpremote", romfs=False) as lamp:
        lamp.wait_ready()
        result: dict[str, Any] = {}
        for label in ("full", "second_run"):
            start, t0 = _counters(lamp), time.monotonic()
            subprocess.run([sys.executable, "-m", "mpremote", "connect", lamp.pty_path, "cp", *top, ":", "+",
                            "cp", "-r", str(image / "lib"), ":"], check=True, capture_output=True, timeout=300)
            result[label] = _wire(lamp, start, time.monotonic() - t0)
        return result


def median_runs(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for label in runs[0]:
        out[label] = dict(runs[0][label])
        out[label]["seconds"] = round(statistics.median(r[label]["seconds"] for r in runs), 3)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--app-dir", type=Path, default=REPO)
    args = ap.parse_args(argv)
    results: dict[str, Any] = {}
    for fmt, source in (("mpy", False), ("py", True)):
        manifest = build_app(None if source else MpyTarget.from_sys_mpy(2822), args.app_dir, source=source)
        runs_lf, runs_mp = [], []
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as tmp:
                runs_lf.append(run_lampfleet(Path(tmp), args.app_dir, source))
            with tempfile.TemporaryDirectory() as tmp:
                runs_mp.append(run_mpremote(Path(tmp), args.app_dir, source))
        lf, mp = median_runs(runs_lf), median_runs(runs_mp)
        wire_lf = lf["full"]["bytes_to_lamp"] + lf["full"]["bytes_from_lamp"]
        wire_mp = mp["full"]["bytes_to_lamp"] + mp["full"]["bytes_from_lamp"]
        if not source:  # what the ROMFS copy adds (tools/romfs.py): a lamp with a partition
            with_rom = []
            for _ in range(args.repeat):
                with tempfile.TemporaryDirectory() as tmp:
                    with_rom.append(run_lampfleet(Path(tmp), args.app_dir, source, romfs=True))
            results["mpy_with_romfs"] = {"lampfleet_flash": median_runs(with_rom)}
        results[fmt] = {
            "files": len(manifest.files) + 3,
            "file_bytes": manifest.total_bytes() + len(BOOT_PY) + len(board_data(BOARD)) + len(config_bytes(CONFIG)),
            "lampfleet_flash": lf,
            "mpremote_cp": mp,
            "wire_ratio_lampfleet_vs_mpremote": round(wire_lf / wire_mp, 3),
        }
    print(json.dumps({"benchmark": "flash full application to an emulated lamp", "repeat": args.repeat,
                      "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
