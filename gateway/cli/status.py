"""`lampfleet status`: fleet health by site (lit, dimmed, dark, silent...) from the gateway's database."""
from __future__ import annotations

from pathlib import Path

import click

from gateway import fleet
from gateway.cli.common import common_options, console, emit, fmt_time, open_db, settings_from

_COLUMNS = ("lit", "dimmed", "dark", "day", "off", "silent", "never_heard")


@click.command("status")
@common_options
@click.option("--lamps", "per_lamp", is_flag=True, help="One line per lamp as well.")
def command(config_path: Path | None, database: Path | None, as_json: bool, per_lamp: bool) -> None:
    """Fleet health by site: lamps lit, dimmed, dark (LED or battery cut), off by day, silent."""
    settings = settings_from(config_path, database)
    data = fleet.fleet_status(open_db(settings), settings)

    def human() -> None:
        from rich.table import Table

        off = settings.alerts.utc_offset_s
        table = Table(title=f"fleet at {fmt_time(data['now_s'], off)} (local time)")
        table.add_column("site")
        table.add_column("lamps", justify="right")
        for col in _COLUMNS:
            table.add_column(col.replace("_", " "), justify="right")
        table.add_column("open alerts", justify="right")
        for s in data["sites"]:
            table.add_row(s["site"], str(s["lamps"]), *(str(s[c]) for c in _COLUMNS), str(s["alerts"]))
        out = console()
        out.print(table)
        if per_lamp:
            lamps = Table()
            for col in ("lamp", "site", "district", "state", "last seen", "alerts"):
                lamps.add_column(col)
            for lp in data["lamps"]:
                lamps.add_row(lp["lamp_id"], lp["site"], lp["district"], lp["state"],
                              fmt_time(lp["last_seen_s"], off), str(lp["open_alerts"]))
            out.print(lamps)

    emit(data, as_json, human)
