"""What the gateway's detection makes of an emulated fleet: every alert raised and resolved, as JSON.

    python -m emulator.alerts_bench --lamps 50 --days 30 --loss 0.2 \\
        --weather emulator/physics/traces/bangui_rainy.csv          # a healthy month: expect no alert
    python -m emulator.alerts_bench --days 29.4 --start 2026-01-01 --weather emulator/physics/traces/bangui_dry.csv
    python -m emulator.alerts_bench --lamps 13 --days 6 --loss 0.2 --seed 43 --faults "2:soiling=0.8@1d"

The firmware runs in fleet mode (the same source in this process, emulator/fleet.py); its frames go
straight into the gateway's ingest, detection and alert store (gateway.service.Gateway, on a SQLite file,
device clock), with no broker between: the broker changes when frames arrive, not what they say.
Reports per alert: lamp, fault, raised and resolved (device time, seconds after the start), and how many
times each (lamp, fault) fired, so flapping shows as fired > 1.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from emulator.faults import parse
from emulator.fleet import FleetEmulator
from emulator.scenario import Scenario, make_fleet
from gateway.registry import Lamp
from gateway.service import Gateway
from gateway.settings import Settings
from telemetry import topics

FLUSH_EVERY = 500  # frames per gateway batch, as the service commits them


class GatewaySink:
    """The emulator's network, ending in the gateway: every delivered frame is handled at once."""

    def __init__(self, gateway: Gateway):
        self.gateway, self.frames = gateway, 0

    def __call__(self, lamp_id: str, frame: bytes, t_s: float) -> bool:
        self.gateway.handle(topics.uplink(lamp_id), frame, t_s)
        self.frames += 1
        if self.frames % FLUSH_EVERY == 0:
            self.gateway.flush()
        return True


def run(scenario: Scenario, workdir: Path) -> dict:
    gateway = Gateway(Settings(database=workdir / "gateway.sqlite3", clock="device"))
    for ident in scenario.lamps:
        gateway.registry.add(Lamp(ident.lamp_id, ident.devaddr, ident.key, kind=ident.profile, site=scenario.site))
    sink = GatewaySink(gateway)
    started = time.process_time()
    result = FleetEmulator(scenario, workdir / "lamps", sink).run()
    gateway.flush()
    gateway.tick(int(scenario.end_s) + 3 * 3600)  # the last day is judged once it is over and settled
    rows = gateway.conn.execute("SELECT lamp_id, fault, raised_s, resolved_s FROM alerts ORDER BY id").fetchall()
    gateway.close()
    fired: dict[str, int] = {}
    for lamp_id, fault, _, _ in rows:
        fired[f"{lamp_id} {fault}"] = fired.get(f"{lamp_id} {fault}", 0) + 1
    start = scenario.start_s
    return {"lamps": len(scenario.lamps), "days": scenario.days, "frames": sink.frames,
            "cpu_s": round(time.process_time() - started, 1), "alerts": len(rows),
            "flapping": {k: n for k, n in fired.items() if n > 1},
            "list": [{"lamp": lamp_id, "fault": fault, "raised_h": round((raised - start) / 3600, 2),
                      "resolved_h": None if resolved is None else round((resolved - start) / 3600, 2)}
                     for lamp_id, fault, raised, resolved in rows],
            "dark_minutes": round(sum(lp["dark_minutes"] for lp in result["lamps"]), 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lamps", type=int, default=50)
    ap.add_argument("--days", type=float, default=30)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--loss", type=float, default=0.2)
    ap.add_argument("--weather", type=Path)
    ap.add_argument("--faults", default="")
    ap.add_argument("--start", help="first day, YYYY-MM-DD (the run starts at noon in Bangui, UTC+1); "
                    "default 2026-08-01, the rainy trace's month")
    ap.add_argument("--workdir", type=Path, help="keep the gateway's database and the lamps' files here")
    args = ap.parse_args(argv)
    scenario = Scenario(make_fleet(args.lamps, args.seed), days=args.days, seed=args.seed, weather_file=args.weather, loss_rate=args.loss)
    if args.start:
        try:
            scenario.start_s = datetime.fromisoformat(args.start).replace(hour=11, tzinfo=timezone.utc).timestamp()
        except ValueError:
            print(f"--start {args.start!r}: use YYYY-MM-DD", file=sys.stderr)
            return 2
    try:
        scenario.faults = parse(args.faults, scenario.start_s)
    except ValueError as e:
        print(f"--faults: {e}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="lampfleet-alerts-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        json.dump(run(scenario, workdir), sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
