"""`lampfleet history LAMP`: a lamp's readings over time, as a table, JSON or a PNG plot."""
from __future__ import annotations

from pathlib import Path

import click

from gateway import fleet
from gateway.cli.common import common_options, console, emit, fmt_time, open_db, parse_when, settings_from


@click.command("history")
@click.argument("lamp_id")
@click.option("--since", default="2d", show_default=True, help="Duration back (6h, 2d) or ISO time.")
@click.option("--until", help="ISO time (default: now).")
@click.option("--daily", is_flag=True, help="Daily aggregates (kept after raw readings expire).")
@click.option("--limit", default=2000, show_default=True)
@click.option("--png", type=click.Path(dir_okay=False, path_type=Path), help="Also plot to this PNG file.")
@common_options
def command(lamp_id: str, since: str, until: str | None, daily: bool, limit: int, png: Path | None,
            config_path: Path | None, database: Path | None, as_json: bool) -> None:
    """Readings of one lamp: battery, LED, panel, mode and faults."""
    settings = settings_from(config_path, database)
    conn = open_db(settings)
    if not conn.execute("SELECT 1 FROM lamps WHERE lamp_id=?", (lamp_id,)).fetchone():
        raise click.ClickException(f"{lamp_id} is not registered (lampfleet lamps list)")
    now = fleet.now_s(conn, settings)
    off = settings.alerts.utc_offset_s
    if daily:
        rows = fleet.daily_history(conn, lamp_id, limit)
        emit(rows, as_json, lambda: _daily_table(lamp_id, rows))
        return
    rows = fleet.history(conn, lamp_id, parse_when(since, now), parse_when(until, now), limit)
    if png is not None:
        if not rows:
            raise click.ClickException(f"no readings of {lamp_id} in that period: nothing to plot")
        plot(lamp_id, rows, png, off)
    emit(rows, as_json, lambda: _table(lamp_id, rows, off, png))


def _table(lamp_id: str, rows: list[dict], off: int, png: Path | None) -> None:
    from rich.table import Table

    table = Table(title=f"{lamp_id}: {len(rows)} reading(s), local time")
    for col in ("time", "mode", "LED %", "LED mA", "batt mV", "batt mA", "SoC %", "PV mV", "°C", "faults"):
        table.add_column(col, justify="right" if col not in ("time", "mode", "faults") else "left")
    for r in rows:
        table.add_row(fmt_time(r["time_s"], off), r["mode"], str(r["led_pct"]), str(r["led_ma"]), str(r["vbat_mv"]),
                      str(r["ibat_ma"]), "-" if r["soc_pct"] is None else str(r["soc_pct"]), str(r["pv_mv"]),
                      str(r["temp_c"]), " ".join(r["faults"]))
    console().print(table)
    if png is not None:
        click.echo(f"plot written to {png}")


def _daily_table(lamp_id: str, rows: list[dict]) -> None:
    from rich.table import Table

    table = Table(title=f"{lamp_id}: {len(rows)} day(s)")
    cols = ("day", "frames", "vbat_min_mv", "vbat_max_mv", "soc_min_pct", "charge_mah", "discharge_mah", "lit_min",
            "pv_max_mv", "faults")
    for col in cols:
        table.add_column(col)
    for r in rows:
        table.add_row(*("" if r[c] is None else str(r[c]) for c in cols))
    console().print(table)


def plot(lamp_id: str, rows: list[dict], path: Path, utc_offset_s: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from datetime import datetime, timedelta, timezone

    import matplotlib.pyplot as plt

    tz = timezone(timedelta(seconds=utc_offset_s))
    t = [datetime.fromtimestamp(r["time_s"], tz) for r in rows]
    fig, (ax1, ax2, ax3) = plt.subplots(3, 1, sharex=True, figsize=(10, 7))
    ax1.plot(t, [r["vbat_mv"] / 1000 for r in rows], color="tab:blue")
    ax1.set_ylabel("battery V")
    soc = ax1.twinx()
    soc.plot(t, [r["soc_pct"] for r in rows], color="tab:green", alpha=0.6)
    soc.set_ylabel("SoC %")
    ax2.plot(t, [r["led_ma"] for r in rows], color="tab:orange", label="LED mA")
    ax2.set_ylabel("LED mA")
    lvl = ax2.twinx()
    lvl.step(t, [r["led_pct"] for r in rows], color="tab:red", alpha=0.5, where="post")
    lvl.set_ylabel("LED %")
    ax3.plot(t, [r["pv_mv"] / 1000 for r in rows], color="tab:olive", label="PV V")
    ax3.set_ylabel("PV V")
    cur = ax3.twinx()
    cur.plot(t, [r["ibat_ma"] for r in rows], color="tab:purple", alpha=0.6)
    cur.set_ylabel("battery mA")
    ax1.set_title(f"{lamp_id} (local time UTC{utc_offset_s // 3600:+d})")
    fig.autofmt_xdate()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
