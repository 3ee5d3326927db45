"""`lampfleet alerts`: list, acknowledge, resolve, silence (maintenance windows) and the audit trail.

Works on the gateway's database while the gateway runs (SQLite WAL): the gateway publishes the change
on MQTT at its next tick and, for a manual resolution, judges the lamp again from scratch.
"""
from __future__ import annotations

import getpass
from pathlib import Path

import click

from gateway import faults, fleet
from gateway.alerts import AlertError, Alerts
from gateway.cli.common import common_options, console, emit, fmt_time, open_db, parse_when, settings_from
from gateway.recurrence import RecurrenceError, parse as parse_every
from gateway.silences import FOREVER, SilenceError, Silences, parse_matcher


class _Ctx:
    def __init__(self, config_path: Path | None, database: Path | None, as_json: bool):
        self.config_path, self.database, self.as_json = config_path, database, as_json

    def merged(self, config_path: Path | None, database: Path | None, as_json: bool):  # type: ignore[no-untyped-def]
        settings = settings_from(config_path or self.config_path, database or self.database)
        conn = open_db(settings)
        return settings, conn, as_json or self.as_json, fleet.now_s(conn, settings)


@click.group("alerts", invoke_without_command=True)
@common_options
@click.pass_context
def command(ctx: click.Context, config_path: Path | None, database: Path | None, as_json: bool) -> None:
    """Open alerts (default), and what crews do with them."""
    ctx.obj = _Ctx(config_path, database, as_json)
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_)


@command.command("list")
@click.option("--all", "include_resolved", is_flag=True, help="Include resolved alerts.")
@click.option("--lamp", "lamp_id", help="Only this lamp.")
@click.option("--limit", default=200, show_default=True)
@common_options
@click.pass_obj
def list_(obj: _Ctx, include_resolved: bool = False, lamp_id: str | None = None, limit: int = 200,
          config_path: Path | None = None, database: Path | None = None, as_json: bool = False) -> None:
    """List open alerts (newest first)."""
    settings, conn, as_json, now = obj.merged(config_path, database, as_json)
    rows = Alerts(conn).list(include_resolved, lamp_id, limit)
    silences = Silences(conn)
    active = silences.active(now)
    for a in rows:
        labels = {k: str(a[k]) for k in ("lamp_id", "fault", "site", "district", "crew", "kind", "severity")}
        hit = silences.silencing(labels, now, active) if a["state"] != "resolved" else None
        a["silenced_by"] = hit.id if hit else None

    def human() -> None:
        from rich.table import Table

        off = settings.alerts.utc_offset_s
        table = Table(title=f"{len(rows)} alert(s)" + ("" if include_resolved else " open"))
        for col in ("#", "lamp", "place", "fault", "severity", "state", "since", "by"):
            table.add_column(col)
        for a in rows:
            state = a["state"] + (f" (silenced #{a['silenced_by']})" if a["silenced_by"] else "")
            table.add_row(str(a["id"]), a["lamp_id"], a["place"], faults.text(a["fault"], settings.alerts.language),
                          a["severity"], state, fmt_time(a["raised_s"], off), a["ack_by"] or a["resolved_by"] or "")
        console().print(table)

    emit(rows, as_json, human)


def _act(obj: _Ctx, action: str, alert_id: int, by: str | None, comment: str, config_path: Path | None,
         database: Path | None, as_json: bool) -> None:
    settings, conn, as_json, now = obj.merged(config_path, database, as_json)
    alerts = Alerts(conn)
    who = by or getpass.getuser()
    try:
        alert = (alerts.ack if action == "ack" else alerts.resolve)(alert_id, who, now, comment)
    except AlertError as e:
        raise click.ClickException(str(e)) from None
    emit(alert, as_json, lambda: click.echo(
        f"alert #{alert_id} ({alert['lamp_id']}, {alert['fault']}) {alert['state']} by {who}"))


@command.command("ack")
@click.argument("alert_id", type=int)
@click.option("--by", help="Who takes it (default: your user name).")
@click.option("--comment", default="", help="What you will do.")
@common_options
@click.pass_obj
def ack(obj: _Ctx, alert_id: int, by: str | None, comment: str, config_path: Path | None, database: Path | None,
        as_json: bool) -> None:
    """Acknowledge an alert: no more reminders or escalation for it."""
    _act(obj, "ack", alert_id, by, comment, config_path, database, as_json)


@command.command("resolve")
@click.argument("alert_id", type=int)
@click.option("--by", help="Who repaired it (default: your user name).")
@click.option("--comment", default="", help="What was done.")
@common_options
@click.pass_obj
def resolve(obj: _Ctx, alert_id: int, by: str | None, comment: str, config_path: Path | None, database: Path | None,
            as_json: bool) -> None:
    """Resolve an alert after a repair. If the fault is still there, the gateway opens a new alert."""
    _act(obj, "resolve", alert_id, by, comment, config_path, database, as_json)


@command.command("silence")
@click.option("--match", "matchers", multiple=True, required=True,
              help="label=value, label!=value, label=~regex (labels: lamp_id fault site district crew kind severity).")
@click.option("--start", default="now", show_default=True, help="ISO time or 'now'.")
@click.option("--duration", help="e.g. 2h, 3d.")
@click.option("--until", "until", help="ISO time (instead of --duration).")
@click.option("--every", "every", metavar="SPEC",
              help="Recurring window, e.g. 'tue 08:00-12:00' or 'mon-fri 22:00-02:00 Africa/Bangui' "
                   "(docs/alert-rules.md); without --duration/--until it recurs until unsilenced.")
@click.option("--by", required=True, help="Author.")
@click.option("--comment", required=True, help="Why (e.g. 'ENERCA works on the feeder').")
@common_options
@click.pass_obj
def silence(obj: _Ctx, matchers: tuple[str, ...], start: str, duration: str | None, until: str | None,
            every: str | None, by: str, comment: str, config_path: Path | None, database: Path | None,
            as_json: bool) -> None:
    """Hold back notifications for matching alerts during a maintenance window (once, or recurring)."""
    settings, conn, as_json, now = obj.merged(config_path, database, as_json)
    if (duration is not None and until is not None) or (duration is None and until is None and every is None):
        raise click.UsageError("give either --duration or --until (or --every for a recurring window)")
    try:
        window = parse_every(every) if every is not None else None
    except RecurrenceError as e:
        raise click.BadParameter(str(e), param_hint="'--every'") from None
    starts = parse_when(start, now)
    assert starts is not None
    if duration is not None:
        ends = starts + (parse_when(duration, 0, future=True) or 0)
    elif until is not None:
        ends = parse_when(until, now) or 0
    else:
        ends = FOREVER  # a recurring window, until someone ends it (lampfleet alerts unsilence)
    try:
        s = Silences(conn).add([parse_matcher(m) for m in matchers], starts, ends, by, comment, now, window)
    except SilenceError as e:
        raise click.ClickException(str(e)) from None
    off = settings.alerts.utc_offset_s
    end_text = "until unsilenced" if s.ends_s == FOREVER else f"until {fmt_time(s.ends_s, off)} (local time)"
    every_text = f"every {s.every}, next window {fmt_time(s.next_window(now), off)}, " if s.every else ""
    emit(s.as_dict(now), as_json, lambda: click.echo(
        f"silence #{s.id} {' '.join(str(m) for m in s.matchers)} {every_text}{end_text}"))


@command.command("silences")
@click.option("--all", "show_all", is_flag=True, help="Include expired silences.")
@common_options
@click.pass_obj
def silences(obj: _Ctx, show_all: bool, config_path: Path | None, database: Path | None, as_json: bool) -> None:
    """List silences."""
    settings, conn, as_json, now = obj.merged(config_path, database, as_json)
    rows = [s.as_dict(now) for s in Silences(conn).all() if show_all or s.state(now) != "expired"]

    def human() -> None:
        off = settings.alerts.utc_offset_s
        for s in rows:
            every = f" every {s['every']}" if s["every"] else ""
            ends = "no end" if s["ends_s"] is None else fmt_time(s["ends_s"], off)
            click.echo(f"#{s['id']} {s['state']:9} {s['matchers_text']}{every}  {fmt_time(s['starts_s'], off)} -> "
                       f"{ends}  {s['created_by']}: {s['comment']}")
        if not rows:
            click.echo("no silences")

    emit(rows, as_json, human)


@command.command("unsilence")
@click.argument("silence_id", type=int)
@click.option("--by", help="Who ends it (default: your user name).")
@common_options
@click.pass_obj
def unsilence(obj: _Ctx, silence_id: int, by: str | None, config_path: Path | None, database: Path | None,
              as_json: bool) -> None:
    """End a silence now."""
    _settings, conn, as_json, now = obj.merged(config_path, database, as_json)
    try:
        s = Silences(conn).expire(silence_id, by or getpass.getuser(), now)
    except SilenceError as e:
        raise click.ClickException(str(e)) from None
    emit(s.as_dict(now), as_json, lambda: click.echo(f"silence #{silence_id} ended"))


@command.command("audit")
@click.argument("alert_id", type=int, required=False)
@click.option("--limit", default=100, show_default=True)
@common_options
@click.pass_obj
def audit(obj: _Ctx, alert_id: int | None, limit: int, config_path: Path | None, database: Path | None,
          as_json: bool) -> None:
    """The audit trail: every raise, notification, ack, resolution and silence (one alert, or the latest)."""
    settings, conn, as_json, _now = obj.merged(config_path, database, as_json)
    rows = Alerts(conn).audit_trail(alert_id, limit)

    def human() -> None:
        off = settings.alerts.utc_offset_s
        for r in rows:
            what = f"#{r['alert_id']} {r['lamp_id']} {r['fault']}" if r["alert_id"] else ""
            click.echo(f"{fmt_time(r['at_s'], off)}  {r['action']:16} {r['actor']:10} {what}  {r['detail'][:80]}")

    emit(rows, as_json, human)
