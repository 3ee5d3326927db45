"""The agency's monthly report, per site: lamp-nights lit in full, dark hours, faults by type and the
median time from alert to repair (an alert's opening to its resolution, by a person or by the lamp's
own reports), as a table, a printable page and CSV. Month bounds are local (the [alerts] utc_offset_s).
"""
from __future__ import annotations

import csv
import io
import re
import sqlite3
import statistics
from collections import Counter, defaultdict
from datetime import datetime, timezone

from gateway.console.nights import nights

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
CSV_COLUMNS = ("site", "lamps", "nights_full", "nights", "dark_h", "faults", "median_repair_h")


def month_bounds(month: str, utc_offset_s: int) -> tuple[int, int]:
    m = MONTH.match(month)
    if not m:
        raise ValueError(f"mois {month[:10]!r} : écrivez AAAA-MM, par exemple 2026-08")
    year, mon = int(m.group(1)), int(m.group(2))
    start = datetime(year, mon, 1, tzinfo=timezone.utc)
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=timezone.utc)
    return int(start.timestamp()) - utc_offset_s, int(end.timestamp()) - utc_offset_s


def month_of(t_s: int, utc_offset_s: int) -> str:
    d = datetime.fromtimestamp(t_s + utc_offset_s, timezone.utc).date()
    return f"{d.year:04d}-{d.month:02d}"


def monthly(conn: sqlite3.Connection, month: str, utc_offset_s: int, dark_ratio_pct: int,
            crew: str | None = None) -> list[dict]:
    start, end = month_bounds(month, utc_offset_s)
    lamps = conn.execute("SELECT lamp_id, site FROM lamps WHERE kind != 'bridge'" + (" AND crew = ?" if crew else ""),
                         (crew,) if crew else ()).fetchall()
    site_of = dict(lamps)
    per_site: dict[str, dict] = {}
    for site in sorted(set(site_of.values())):
        per_site[site] = {"site": site, "lamps": 0, "nights_full": 0, "nights": 0, "dark_h": 0.0,
                          "faults": Counter(), "median_repair_h": None}
    for _lid, site in lamps:
        per_site[site]["lamps"] += 1
    for n in nights(conn, start, end - 1, utc_offset_s, dark_ratio_pct):
        site = site_of.get(n["lamp_id"])
        if site is None:
            continue
        row = per_site[site]
        row["nights"] += 1
        row["nights_full"] += n["full"]
        row["dark_h"] += n["dark_min"] / 60
    repairs: dict[str, list[float]] = defaultdict(list)
    for lamp_id, fault, opened, resolved in conn.execute(
            "SELECT lamp_id, fault, coalesce(opened_s, raised_s), resolved_s FROM alerts "
            "WHERE coalesce(opened_s, raised_s) >= ? AND coalesce(opened_s, raised_s) < ?", (start, end)):
        site = site_of.get(lamp_id)
        if site is None:
            continue
        per_site[site]["faults"][fault] += 1
        if resolved is not None:
            repairs[site].append((resolved - opened) / 3600)
    for site, hours in repairs.items():
        per_site[site]["median_repair_h"] = round(statistics.median(hours), 1)
    for row in per_site.values():
        row["dark_h"] = round(row["dark_h"], 1)
        row["faults"] = dict(sorted(row["faults"].items()))
    return list(per_site.values())


def _cell(value: object) -> object:
    """A text cell that a spreadsheet would run as a formula (=, +, -, @) is quoted as text."""
    return "'" + value if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def to_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow([_cell(r["site"]), r["lamps"], r["nights_full"], r["nights"], r["dark_h"],
                         " ".join(f"{k}={v}" for k, v in r["faults"].items()),
                         "" if r["median_repair_h"] is None else r["median_repair_h"]])
    return out.getvalue()
