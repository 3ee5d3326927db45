"""The JSON API, version 1, as a FastAPI router mounted at /api/v1 (OpenAPI at /api/v1/openapi.json).

    GET  /api/v1/health                      counters: open alerts, spool and outbox backlog
    GET  /api/v1/fleet                       fleet health by site and per lamp (as `lampfleet status`)
    GET  /api/v1/lamps                       registry without keys (kits: district only, no coordinates)
    GET  /api/v1/lamps/{id}                  one lamp, its last reading and open alerts
    GET  /api/v1/lamps/{id}/history?since=&until=&limit=   readings (Unix seconds)
    GET  /api/v1/alerts?state=open|all&lamp=<id>&limit=
    GET  /api/v1/silences
    POST /api/v1/alerts/{id}/ack             {"by": "name", "comment": "..."}
    POST /api/v1/alerts/{id}/resolve         {"by": "name", "comment": "..."}

Every request passes gateway/api/guard.py first (`api_guard`): Host allow-list, Origin and Sec-Fetch-Site
checks, a bearer token (`lampfleet api-token add NAME`) for every write and, unless `api_read_open`, every
read; writes take application/json only, with a bounded Content-Length. The token's name is the actor in
the audit trail. Errors are `{"error": "one line"}` with the status.
"""
from __future__ import annotations

import json
import re
from typing import Literal

from fastapi import APIRouter, Depends, Path, Query, Request

from gateway import fleet
from gateway.alerts import AlertError, Alerts
from gateway.api.context import Context
from gateway.api.guard import WRITE_METHODS, Refused, body_length, guard
from gateway.silences import Silences

LAMP_ID = Path(pattern=r"^[A-Za-z0-9._-]{1,32}$", description="lamp or kit ID")
_COUNT = r"^[0-9]{1,15}$"  # digits only: no sign, no spaces, no '_' (as guard.query_int)


def ctx(request: Request) -> Context:
    return request.app.state.ctx


def api_guard(request: Request) -> str | None:
    """The token's name (None for an open read); refuses with the guard's status otherwise."""
    c = ctx(request)
    actor = guard(request.method, request.headers, c.policy, c.verify_token)
    if request.method in WRITE_METHODS:
        body_length(request.headers, c.policy)
    return actor


router = APIRouter(prefix="/api/v1", dependencies=[Depends(api_guard)])


def public_lamp(lamp) -> dict:  # type: ignore[no-untyped-def]
    d = lamp.public()
    if lamp.kind == "kit":  # a kit has none stored (gateway/registry.py); never even the empty fields
        d.pop("lat", None)
        d.pop("lon", None)
    return d


def _count(text: str | None, name: str, default: int | None, minimum: int = 0,
           maximum: int | None = None) -> int | None:
    if text is None:
        return default
    if not re.fullmatch(_COUNT, text):
        raise Refused(400, f"{name} must be a whole number of at least {minimum}, not {text[:20]!r}")
    value = int(text)
    if value < minimum:
        raise Refused(400, f"{name} must be at least {minimum}, not {value}")
    return min(value, maximum) if maximum is not None else value


@router.get("/health", summary="Gateway counters")
def health(request: Request) -> dict:
    c = ctx(request)
    conn = c.conn()
    return {"ok": True, "now_s": c.now(),
            "open_alerts": conn.execute("SELECT count(*) FROM alerts WHERE state!='resolved'").fetchone()[0],
            "influx_spool": conn.execute("SELECT count(*) FROM spool").fetchone()[0],
            "outbox_pending": conn.execute("SELECT count(*) FROM outbox WHERE sent_s IS NULL").fetchone()[0]}


@router.get("/fleet", summary="Fleet health by site and per lamp")
def fleet_view(request: Request) -> dict:
    c = ctx(request)
    return fleet.fleet_status(c.conn(), c.settings)


@router.get("/lamps", summary="Registry without keys")
def lamps(request: Request) -> list[dict]:
    return [public_lamp(lp) for lp in fleet.read_lamps(ctx(request).conn())]


def _lamp(request: Request, lamp_id: str):  # type: ignore[no-untyped-def]
    lamp = fleet.read_lamp(ctx(request).conn(), lamp_id)
    if lamp is None:
        raise Refused(404, f"lamp {lamp_id} is not registered")
    return lamp


@router.get("/lamps/{lamp_id}", summary="One lamp, its last reading and open alerts")
def lamp(request: Request, lamp_id: str = LAMP_ID) -> dict:
    lp = _lamp(request, lamp_id)
    conn = ctx(request).conn()
    return {**public_lamp(lp), "last_reading": fleet.latest_reading(conn, lamp_id),
            "open_alerts": Alerts(conn).list(False, lamp_id)}


@router.get("/lamps/{lamp_id}/history", summary="Readings between since and until (Unix seconds)")
def history(request: Request, lamp_id: str = LAMP_ID, since: str | None = Query(None, description="Unix s"),
            until: str | None = Query(None, description="Unix s"),
            limit: str | None = Query(None, description="rows, at most 50000 (default 2000)")) -> list[dict]:
    lp = _lamp(request, lamp_id)
    return fleet.history(ctx(request).conn(), lp.lamp_id, _count(since, "since", None),
                         _count(until, "until", None), _count(limit, "limit", 2000, 1, 50_000) or 2000)


@router.get("/alerts", summary="Open (or all) alerts, newest first")
def alerts(request: Request, state: Literal["open", "all"] = "open", lamp: str | None = None,
           limit: str | None = None) -> list[dict]:
    return Alerts(ctx(request).conn()).list(state == "all", lamp, _count(limit, "limit", 500, 1, 5000) or 500)


@router.get("/silences", summary="Silences (maintenance windows)")
def silences(request: Request) -> list[dict]:
    c = ctx(request)
    now = c.now()
    return [s.as_dict(now) for s in Silences(c.conn()).all()]


async def _person(request: Request, actor: str | None) -> tuple[str, str]:
    """(who, comment) from a write's JSON body: the token's name, with the body's "by" beside it."""
    body = await request.body()
    try:
        data = json.loads(body or b"{}")
        if not isinstance(data, dict):
            raise TypeError
        by = str(data.get("by", "")).strip()[:64]
        by = "".join(ch for ch in by if ch.isprintable())  # no forged lines in the audit trail
        comment = str(data.get("comment", ""))[:1000]
    except (ValueError, TypeError, RecursionError):
        raise Refused(400, 'body must be JSON like {"by": "name", "comment": "..."}') from None
    assert actor is not None  # writes always need a token (guard)
    return (actor if by in ("", actor) else f"{actor} ({by})"), comment


def _alert_action(request: Request, action: str, alert_id: int, who: str, comment: str) -> dict:
    c = ctx(request)
    alerts_ = Alerts(c.conn())
    try:
        return (alerts_.ack if action == "ack" else alerts_.resolve)(alert_id, who, c.now(), comment)
    except AlertError as e:
        raise Refused(404 if "not found" in str(e) else 409, str(e)) from None


@router.post("/alerts/{alert_id}/ack", summary="Acknowledge an alert")
async def ack(request: Request, alert_id: int = Path(ge=1, le=10**12),
              actor: str | None = Depends(api_guard)) -> dict:
    who, comment = await _person(request, actor)
    return _alert_action(request, "ack", alert_id, who, comment)


@router.post("/alerts/{alert_id}/resolve", summary="Resolve an alert after a repair")
async def resolve(request: Request, alert_id: int = Path(ge=1, le=10**12),
                  actor: str | None = Depends(api_guard)) -> dict:
    who, comment = await _person(request, actor)
    return _alert_action(request, "resolve", alert_id, who, comment)
