"""`lampfleet api-token add | list | revoke`: bearer tokens for the HTTP API, one per client.

The token is printed once by `add` and only its SHA-256 is stored (gateway/api/tokens.py): lose it and
make another. `list` never shows tokens, only names and dates.
"""
from __future__ import annotations

import time
from pathlib import Path

import click

from gateway.api.tokens import ApiTokens, TokenError
from gateway.cli.common import common_options, emit, fmt_time, open_db, settings_from


@click.group("api-token")
def command() -> None:
    """Bearer tokens for the HTTP API (one per dashboard or script)."""


@command.command("add")
@click.argument("name")
@common_options
def add(name: str, config_path: Path | None, database: Path | None, as_json: bool) -> None:
    """Make a token for NAME and print it once (it is the actor in the audit trail)."""
    settings = settings_from(config_path, database)
    try:
        token = ApiTokens(open_db(settings, must_exist=False)).add(name, int(time.time()))
    except TokenError as e:
        raise click.ClickException(str(e)) from None
    emit({"name": name, "token": token}, as_json, lambda: (
        click.echo(token),
        click.echo(f"token for {name}: shown once, only its hash is kept. Send it as "
                   "'Authorization: Bearer <token>'.", err=True)))


@command.command("list")
@common_options
def list_(config_path: Path | None, database: Path | None, as_json: bool) -> None:
    """Token names, when made, last used and revoked (never the tokens)."""
    settings = settings_from(config_path, database)
    rows = ApiTokens(open_db(settings)).list()

    def human() -> None:
        off = settings.alerts.utc_offset_s
        for r in rows:
            state = f"revoked {fmt_time(r['revoked_s'], off)}" if r["revoked_s"] else "active"
            click.echo(f"{r['name']:20} created {fmt_time(r['created_s'], off)}  last used "
                       f"{fmt_time(r['last_used_s'], off)}  {state}")
        if not rows:
            click.echo("no API tokens (lampfleet api-token add NAME)")

    emit(rows, as_json, human)


@command.command("revoke")
@click.argument("name")
@common_options
def revoke(name: str, config_path: Path | None, database: Path | None, as_json: bool) -> None:
    """Revoke NAME's token at once (the running gateway refuses it from the next request)."""
    settings = settings_from(config_path, database)
    try:
        ApiTokens(open_db(settings)).revoke(name, int(time.time()))
    except TokenError as e:
        raise click.ClickException(str(e)) from None
    emit({"name": name, "revoked": True}, as_json, lambda: click.echo(f"token {name} revoked"))
