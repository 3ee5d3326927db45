"""`lampfleet history LAMP`: a lamp's readings over time, as a table, JSON or a PNG plot (the plot
instead of the table: one quantity per panel with its unit, nights shaded, alerts and repairs marked)."""
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
        led_max = conn.execute("SELECT led_max_ma FROM lamps WHERE lamp_id=?", (lamp_id,)).fetchone()[0]
        plot(lamp_id, rows, png, off, led_max, marks(conn, lamp_id, rows[0]["time_s"]))
        if not as_json:  # the plot is what was asked for: no table of every row on the terminal
            click.echo(f"plot of {len(rows)} reading(s) of {lamp_id} written to {png}")
            return
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


def marks(conn, lamp_id: str, since_s: int) -> list[tuple[int, str, str]]:  # type: ignore[no-untyped-def]
    """(time, label, colour) of the lamp's alerts (red), their resolutions (green) and repairs (blue)."""
    out = []
    for aid, fault, raised, resolved in conn.execute(
            "SELECT id, fault, raised_s, resolved_s FROM alerts WHERE lamp_id=? AND coalesce(resolved_s, raised_s) >= ?",
            (lamp_id, since_s)):
        out.append((raised, f"#{aid} {fault}", "tab:red"))
        if resolved:
            out.append((resolved, f"#{aid} resolved", "tab:green"))
    for at, action in conn.execute("SELECT at_s, action FROM audit WHERE lamp_id=? AND action LIKE 'repair%' "
                                   "AND at_s >= ?", (lamp_id, since_s)):
        out.append((at, action, "tab:blue"))
    return out


def plot(lamp_id: str, rows: list[dict], path: Path, utc_offset_s: int, led_max_ma: int = 830,
         events: list[tuple[int, str, str]] | None = None) -> None:
    """One quantity per panel, its unit on its own axis and in its legend; nights shaded; alerts, their
    resolutions and repairs marked. An LED commanded to light that draws nothing shows as the dashed
    commanded current above a measured one at 0 mA: the fault itself, readable without an engineer."""
    import matplotlib

    matplotlib.use("Agg")
    from datetime import datetime, timedelta, timezone

    import matplotlib.pyplot as plt

    tz = timezone(timedelta(seconds=utc_offset_s))
    t = [datetime.fromtimestamp(r["time_s"], tz) for r in rows]
    fig, axes = plt.subplots(4, 1, sharex=True, figsize=(10, 9))
    panels = [
        (axes[0], "battery (V)", [("battery voltage (V)", [r["vbat_mv"] / 1000 for r in rows], "tab:blue", "-")]),
        (axes[1], "charge (%)", [("state of charge (%)", [r["soc_pct"] for r in rows], "tab:green", "-")]),
        (axes[2], "LED current (mA)", [("measured (mA)", [r["led_ma"] for r in rows], "tab:orange", "-"),
                                       ("commanded (mA)", [led_max_ma * r["led_pct"] / 100 for r in rows],
                                        "tab:brown", "--")]),
        (axes[3], "panel (V)", [("panel voltage (V)", [r["pv_mv"] / 1000 for r in rows], "goldenrod", "-")]),
    ]
    first, last = rows[0]["time_s"], rows[-1]["time_s"]
    day = (first + utc_offset_s) // 86400 - 1
    nights = []
    while day * 86400 - utc_offset_s < last:
        a, b = day * 86400 + 18 * 3600 - utc_offset_s, day * 86400 + 30 * 3600 - utc_offset_s
        if b > first and a < last:
            nights.append((datetime.fromtimestamp(max(a, first), tz), datetime.fromtimestamp(min(b, last), tz)))
        day += 1
    for ax, ylabel, series in panels:
        for a, b in nights:
            ax.axvspan(a, b, color="#dfe3ee", zorder=0, label="_night")
        for label, values, colour, style in series:
            ax.plot(t, values, color=colour, linestyle=style, label=label)
        ax.set_ylabel(ylabel)
        for at, text, colour in events or []:
            if first <= at <= last:
                ax.axvline(datetime.fromtimestamp(at, tz), color=colour, linewidth=1.2)
        ax.legend(loc="upper left", fontsize="small", framealpha=0.8)
    for at, text, colour in events or []:
        if first <= at <= last:
            axes[0].annotate(text, (datetime.fromtimestamp(at, tz), 1.0), xycoords=("data", "axes fraction"),
                             color=colour, fontsize="small", rotation=90, va="top", ha="right")
    axes[0].set_title(f"{lamp_id}: local time UTC{utc_offset_s // 3600:+d}; shaded: night (18:00-06:00); "
                      "red: alert, green: resolved, blue: repair", fontsize="medium")
    axes[2].set_ylim(bottom=0)
    fig.autofmt_xdate()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
