"""`python -m emulator.oracle --trace TRACE [--profile street|kit] [--days N] [--start ...] [--json]`:
the hindsight-optimal lumen-hours over a weather trace, checked by replay through the physics."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from emulator.oracle.model import OracleError, solve


class InputError(click.ClickException):
    """One line, exit status 2 (as emulator/cli.py's)."""

    exit_code = 2


def run(trace: Path, profile: str = "street", days: float | None = None, start_text: str | None = None,
        site_name: str = "bangui"):
    """Parse and check the inputs as the CLI does (StartError / OracleError / WeatherFileError: one line),
    then solve."""
    from emulator.physics.site import SITES
    from emulator.physics.trace import TraceWeather
    from emulator.start import StartError, check_in_trace, first_noon, parse_start

    if site_name not in SITES:
        raise InputError(f"--site: unknown site {site_name!r}; known: {', '.join(sorted(SITES))}")
    site = SITES[site_name]
    if days is not None and not days > 0:
        raise InputError(f"--days {days:g}: must be more than 0")
    try:
        weather = TraceWeather(trace, default_utc_offset_h=site.utc_offset_h)
    except ValueError as e:  # WeatherFileError: path:line: what
        raise InputError(f"--trace {e}") from None
    try:
        start_s = parse_start(start_text, site) if start_text else first_noon(weather.start_s, site)
        if days is None:  # whole days that fit (a trace's first noon to its last noon but one)
            room = (weather.end_s - start_s) / 86400.0
            days = float(int(room)) if room >= 1.0 else int(room * 100) / 100
            if days <= 0:
                days = 0.01
        check_in_trace(start_s, days, weather, site)
    except StartError as e:
        raise InputError(str(e)) from None
    try:
        return solve(weather, profile, start_s, days, site)
    except OracleError as e:
        raise InputError(str(e)) from None


@click.command()
@click.option("--trace", "trace", required=True, type=click.Path(path_type=Path), help="Weather trace CSV.")
@click.option("--profile", type=click.Choice(["street", "kit"]), default="street", show_default=True)
@click.option("--days", type=float, help="Length of the span (default: the whole days the trace holds from the start).")
@click.option("--start", "start_text", metavar="DATE[THH:MM]", help="As `lampfleet emulate --start` (default: the "
              "trace's first noon).")
@click.option("--site", "site_name", default="bangui", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def main(trace, profile, days, start_text, site_name, as_json):
    """The hindsight-optimal LED schedule's lumen-hours for a weather trace (a linear program on the
    emulator's physics), and its replay through that physics."""
    result = run(trace, profile, days, start_text, site_name)
    out = dict(result.to_dict(), trace=str(trace))
    if as_json:
        json.dump(out, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    r = out["replay"]
    click.echo(f"{out['profile']} lamp, {trace.name}, {out['days']:g} days from {out['start']} ({out['steps']} steps)")
    click.echo(f"  oracle (LP):  {out['lumen_hours']:,.0f} lumen-hours, mean night level {out['mean_night_level_pct']} %")
    click.echo(f"  replay:       {r['lumen_hours']:,.0f} lumen-hours ({out['replay_vs_lp_pct']:+.3f} %), "
               f"{r['dark_minutes']:g} dark minutes, {r['supply_interruptions']} supply cuts, min SoC "
               f"{r['min_soc_pct']:.2f} % (LVD point {out['soc_at_lvd_pct']:g} %), SoC {r['start_soc_pct']:.1f} -> "
               f"{r['end_soc_pct']:.2f} %")
    click.echo(f"  {'valid' if out['valid'] else 'NOT VALID'} after {out['iterations']} LP/replay rounds, "
               f"{out['solve_s']:.1f} s")
    if not out["valid"]:
        sys.exit(1)


if __name__ == "__main__":
    main(prog_name="python -m emulator.oracle")
