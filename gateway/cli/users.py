"""`lampfleet users add|list|disable|passwd`: the console's accounts (gateway/console/users.py).

A password is asked twice on the terminal (never echoed), or read from $LAMPFLEET_PASSWORD for a script;
never from the command line, where other users of the host would see it in the process list.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import click

from gateway.cli.common import common_options, emit, open_db, settings_from
from gateway.console.users import ROLES, UserError, Users


def _password() -> str:
    env = os.environ.get("LAMPFLEET_PASSWORD")
    if env:
        return env
    return click.prompt("password", hide_input=True, confirmation_prompt=True)


def _users(config_path: Path | None, database: Path | None) -> Users:
    return Users(open_db(settings_from(config_path, database), must_exist=False))


@click.group("users")
def command() -> None:
    """Console users: viewer, crew (its crew's lamps only), engineer, admin."""


@command.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the user may do.")
@click.option("--crew", default="", help="For --role crew: the crew, as in the lamps' crew column.")
@click.option("--language", type=click.Choice(["fr", "en"]), default="fr", show_default=True)
@common_options
def add(name: str, role: str, crew: str, language: str, config_path: Path | None, database: Path | None,
        as_json: bool) -> None:
    """Add a user; the password is asked (or $LAMPFLEET_PASSWORD)."""
    users = _users(config_path, database)
    try:
        user = users.add(name, _password(), role, int(time.time()), crew, language)
    except UserError as e:
        raise click.ClickException(str(e)) from None
    emit({"name": user.name, "role": user.role, "crew": user.crew}, as_json,
         lambda: click.echo(f"user {user.name} added ({user.role}{', crew ' + user.crew if user.crew else ''})"))


@command.command("list")
@common_options
def list_(config_path: Path | None, database: Path | None, as_json: bool) -> None:
    """List users (never their hashes)."""
    rows = _users(config_path, database).list()

    def human() -> None:
        for u in rows:
            state = "disabled" if u["disabled_s"] else "active"
            click.echo(f"{u['name']:20} {u['role']:9} {u['crew'] or '-':12} {u['language']}  {state}")
        if not rows:
            click.echo("no users: lampfleet users add NAME --role admin")

    emit(rows, as_json, human)


@command.command("disable")
@click.argument("name")
@common_options
def disable(name: str, config_path: Path | None, database: Path | None, as_json: bool) -> None:
    """Disable a user: logged out everywhere at once; the name stays in the audit."""
    try:
        _users(config_path, database).disable(name, int(time.time()))
    except UserError as e:
        raise click.ClickException(str(e)) from None
    emit({"name": name, "disabled": True}, as_json, lambda: click.echo(f"user {name} disabled"))


@command.command("passwd")
@click.argument("name")
@common_options
def passwd(name: str, config_path: Path | None, database: Path | None, as_json: bool) -> None:
    """Set a new password (and enable the user again); its sessions end."""
    try:
        _users(config_path, database).passwd(name, _password(), int(time.time()))
    except UserError as e:
        raise click.ClickException(str(e)) from None
    emit({"name": name}, as_json, lambda: click.echo(f"new password for {name}; its sessions are closed"))
