"""What the gateway's CLI commands share: settings and database options, JSON output, time parsing."""
from __future__ import annotations

import json
import os
import re
import sqlite3
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from gateway import db
from gateway.settings import Settings, SettingsError, load

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def common_options(fn: Callable) -> Callable:
    """--config, --db and --json on a command."""
    fn = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(fn)
    fn = click.option("--db", "database", type=click.Path(path_type=Path),
                      help="SQLite database (default: from the config file).")(fn)
    fn = click.option("--config", "config_path", type=click.Path(path_type=Path),
                      default=lambda: os.environ.get("LAMPFLEET_CONFIG"),
                      help="Gateway TOML settings [env LAMPFLEET_CONFIG].")(fn)
    return fn


def settings_from(config_path: Path | None, database: Path | None) -> Settings:
    try:
        settings = load(config_path)
    except SettingsError as e:
        raise click.ClickException(str(e)) from None
    if database:
        settings.database = database
    return settings


def open_db(settings: Settings, must_exist: bool = True) -> sqlite3.Connection:
    path = Path(settings.database)
    if must_exist and not path.exists():
        raise click.ClickException(f"no gateway database at {path}: pass --db or --config, or start the gateway "
                                   "once (lampfleet gateway --config FILE)")
    return db.connect(path)


def emit(data: Any, as_json: bool, human: Callable[[], None]) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    else:
        human()


def parse_when(text: str | None, now: int, *, future: bool = False) -> int | None:
    """'2h', '3d' (ago, or from now when future=True), 'now', an ISO 8601 time, or Unix seconds."""
    if text is None:
        return None
    text = text.strip()
    if text == "now":
        return now
    m = _DURATION.match(text)
    if m:
        delta = int(float(m.group(1)) * _UNITS[m.group(2)])
        return now + delta if future else now - delta
    if text.isdigit():
        return int(text)
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r}: use a duration like 2h or 3d, an ISO time like 2026-08-01T18:00, "
                                 "or Unix seconds") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(dt.timestamp())


def fmt_time(t_s: int | None, utc_offset_s: int) -> str:
    if t_s is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(t_s + utc_offset_s))


def console():  # type: ignore[no-untyped-def]
    from rich.console import Console

    return Console(file=sys.stdout, width=max(100, Console().width))
