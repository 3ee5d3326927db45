"""What people do from the console: acknowledge, resolve, silence, and the repair actions of a lamp page.

Every route here is a POST that needs the session's CSRF token (auth.csrf_viewer), the role for the
action and, for a crew, a lamp of its own crew. Each reuses what the CLI uses (gateway/alerts.py,
gateway/silences.py, gateway/link/downlinks.py), so the audit trail, the MQTT publication and the
downlink queue are the same whichever way a person acts. On a refusal nothing is written; on success
the browser is sent back to the page it came from (post/redirect/get), with a line saying what happened.

Repair actions queue the existing downlinks: "battery replaced" (battery_replaced, the lamp forgets the
old battery's health), "test on N minutes" (test_on), "time sync" (time_sync). "LED replaced" has no
command of its own on the lamp: it is recorded in the audit and asks for a status frame now
(status_now), so that the gateway sees the new LED light and resolves the alert from the lamp's report,
not from a person's word. The lamp page shows each downlink's acknowledgement (dlack) when it comes.
"""
from __future__ import annotations

import re

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from gateway.alerts import AlertError, Alerts
from gateway.console.alert_pages import alert_for
from gateway.console.auth import BadInput, Viewer, csrf_viewer
from gateway.console.pages import lamp_for
from gateway.recurrence import RecurrenceError, parse as parse_every
from gateway.silences import FOREVER, SilenceError, Silences, parse_matcher

router = APIRouter(include_in_schema=False)
REPAIRS = ("led_replaced", "battery_replaced", "test_on", "time_sync")
_DURATION = re.compile(r"^\s*(\d{1,4})\s*([mhdw])\s*$")
_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def _back(path: str, done: str) -> RedirectResponse:
    return RedirectResponse(f"{path}?done={done}", 303)


def _clean(text: str, limit: int) -> str:
    """One line of printable text: no forged lines in the audit trail."""
    return "".join(ch for ch in text.strip() if ch.isprintable())[:limit]


@router.post("/alerts/{alert_id}/ack")
def ack(request: Request, alert_id: int, comment: str = Form("", max_length=1000),
        v: Viewer = Depends(csrf_viewer)) -> RedirectResponse:
    return _alert(request, v, alert_id, "ack", comment)


@router.post("/alerts/{alert_id}/resolve")
def resolve(request: Request, alert_id: int, comment: str = Form("", max_length=1000),
            v: Viewer = Depends(csrf_viewer)) -> RedirectResponse:
    return _alert(request, v, alert_id, "resolve", comment)


def _alert(request: Request, v: Viewer, alert_id: int, action: str, comment: str) -> RedirectResponse:
    v.require("act")
    alert_for(request, v, alert_id)
    c = request.app.state.ctx
    alerts = Alerts(c.conn())
    try:
        (alerts.ack if action == "ack" else alerts.resolve)(alert_id, v.user.name, c.now(), _clean(comment, 1000))
    except AlertError as e:
        raise BadInput(str(e)) from None
    return _back(f"/alerts/{alert_id}", "done")


def parse_duration(text: str) -> int:
    m = _DURATION.match(text)
    if not m:
        raise BadInput(f"durée {text[:20]!r} : écrivez par exemple 30m, 2h, 3d ou 1w")
    return int(m.group(1)) * _UNITS[m.group(2)]


@router.post("/silences")
def silence(request: Request, matchers: str = Form(max_length=500), duration: str = Form("", max_length=10),
            every: str = Form("", max_length=100), comment: str = Form(max_length=500),
            v: Viewer = Depends(csrf_viewer)) -> RedirectResponse:
    v.require("engineer")
    c = request.app.state.ctx
    now = c.now()
    try:
        parsed = [parse_matcher(m) for m in matchers.split()]
        window = parse_every(every) if every.strip() else None
    except (SilenceError, RecurrenceError) as e:
        raise BadInput(str(e)) from None
    if not duration.strip() and window is None:
        raise BadInput("donnez une durée (2h, 3d) ou une fenêtre récurrente (tue 08:00-12:00)")
    ends = now + parse_duration(duration) if duration.strip() else FOREVER
    try:
        Silences(c.conn()).add(parsed, now, ends, v.user.name, _clean(comment, 500), now, window)
    except SilenceError as e:
        raise BadInput(str(e)) from None
    return _back("/alerts", "done")


@router.post("/silences/{silence_id}/end")
def end_silence(request: Request, silence_id: int, v: Viewer = Depends(csrf_viewer)) -> RedirectResponse:
    v.require("engineer")
    c = request.app.state.ctx
    try:
        Silences(c.conn()).expire(silence_id, v.user.name, c.now())
    except SilenceError as e:
        raise BadInput(str(e)) from None
    return _back("/alerts", "done")


@router.post("/lamps/{lamp_id}/repair")
def repair(request: Request, lamp_id: str, action: str = Form(max_length=20), minutes: str = Form("", max_length=5),
           v: Viewer = Depends(csrf_viewer)) -> RedirectResponse:
    v.require("act")
    lamp = lamp_for(request, v, lamp_id)
    if action not in REPAIRS:
        raise BadInput(f"action inconnue {action[:20]!r} (actions : {', '.join(REPAIRS)})")
    arg = 0
    if action == "test_on":
        if not minutes.strip().isdigit() or not 1 <= int(minutes) <= 1440:
            raise BadInput("minutes : un nombre entier de 1 à 1440")
        arg = int(minutes)
    from gateway.link.downlinks import DownlinkQueue

    c = request.app.state.ctx
    conn = c.conn()
    command = "status_now" if action == "led_replaced" else action
    # The queue commits the entry itself (as for the CLI); its audit row follows: a crash between the two
    # leaves a downlink without its audit line, never an audit line without its downlink.
    dl_id = DownlinkQueue(conn).enqueue(lamp.lamp_id, "command", command=command, arg=arg)
    conn.execute("INSERT INTO audit (at_s, lamp_id, action, actor, detail) VALUES (?,?,?,?,?)",
                 (c.now(), lamp.lamp_id, f"repair-{action}", v.user.name,
                  f"downlink {dl_id}: {command}" + (f" {arg} min" if arg else "")))
    return _back(f"/lamps/{lamp.lamp_id}", "repair_recorded" if action == "led_replaced" else "queued")


ENGINEER_COMMANDS = ("status_now", "reboot", "time_sync")
_SETTING = re.compile(r"^([a-z_][a-z0-9_]{0,31})=(\d{1,9})$")


@router.post("/lamps/{lamp_id}/downlink")
def downlink(request: Request, lamp_id: str, command: str = Form("", max_length=20),
             settings: str = Form("", max_length=300), v: Viewer = Depends(csrf_viewer)) -> RedirectResponse:
    """An engineer's command or settings for a lamp, as `lampfleet downlink` (--status-now, --reboot,
    --time-sync, --set NAME=VALUE ...): checked by encoding it before it is queued."""
    v.require("engineer")
    lamp = lamp_for(request, v, lamp_id)
    from gateway.link.downlinks import DownlinkQueue

    if bool(command) == bool(settings.strip()):
        raise BadInput("choisissez une commande, ou écrivez des réglages NOM=VALEUR (pas les deux)")
    if command and command not in ENGINEER_COMMANDS:
        raise BadInput(f"commande inconnue {command[:20]!r} (commandes : {', '.join(ENGINEER_COMMANDS)})")
    values: dict[str, int] = {}
    for part in settings.split():
        m = _SETTING.match(part)
        if not m:
            raise BadInput(f"réglage {part[:40]!r} : écrivez NOM=VALEUR, par exemple status_interval_s=300")
        values[m.group(1)] = int(m.group(2))
    c = request.app.state.ctx
    conn = c.conn()
    try:
        if command:
            dl_id = DownlinkQueue(conn).enqueue(lamp.lamp_id, "command", command=command, arg=0)
            what = command
        else:
            dl_id = DownlinkQueue(conn).enqueue(lamp.lamp_id, "config", settings=values)
            what = " ".join(f"{k}={val}" for k, val in values.items())
    except ValueError as e:
        raise BadInput(f"refusé avant l'envoi : {e}") from None
    conn.execute("INSERT INTO audit (at_s, lamp_id, action, actor, detail) VALUES (?,?,?,?,?)",
                 (c.now(), lamp.lamp_id, "downlink", v.user.name, f"downlink {dl_id}: {what}"))
    return _back(f"/lamps/{lamp.lamp_id}", "queued")
