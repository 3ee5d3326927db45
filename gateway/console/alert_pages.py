"""The alert queue, one alert's page, the live fragment, and the server-sent events that tell open pages
that the alerts changed (a new one, an acknowledgement, a resolution), without a reload."""
from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from gateway.alerts import Alerts
from gateway.console.app import render
from gateway.console.auth import BadInput, NotFound, Viewer, viewer
from gateway.silences import Silences

router = APIRouter(include_in_schema=False)
QUEUE_STATES = ("open", "firing", "acknowledged", "silenced", "resolved", "all")
EVENT_POLL_S = 1.0
EVENT_STREAM_S = 600  # then the browser reconnects by itself (EventSource), which re-checks the session


def scoped_alerts(request: Request, v: Viewer, include_resolved: bool, limit: int = 2000) -> list[dict]:
    c = request.app.state.ctx
    conn, now = c.conn(), c.now()
    rows = [a for a in Alerts(conn).list(include_resolved, None, limit) if v.user.sees(a["crew"])]
    silences = Silences(conn)
    active = silences.active(now)
    for a in rows:
        labels = {k: str(a[k]) for k in ("lamp_id", "fault", "site", "district", "crew", "kind", "severity")}
        hit = silences.silencing(labels, now, active) if a["state"] != "resolved" and active else None
        a["silenced_by"] = hit.id if hit else None
    return rows


@router.get("/alerts", response_class=HTMLResponse)
def queue(request: Request, state: str = Query("open", max_length=20), site: str = Query("", max_length=64),
          v: Viewer = Depends(viewer)) -> HTMLResponse:
    if state not in QUEUE_STATES:
        raise BadInput(f"état inconnu {state!r} (états : {', '.join(QUEUE_STATES)})")
    rows = scoped_alerts(request, v, state in ("resolved", "all"), 2000 if state != "all" else 500)
    all_sites = sorted({a["site"] for a in rows})
    keep = {"open": lambda a: a["state"] != "resolved", "firing": lambda a: a["state"] == "firing",
            "acknowledged": lambda a: a["state"] == "acknowledged",
            "silenced": lambda a: a["silenced_by"] is not None, "resolved": lambda a: a["state"] == "resolved",
            "all": lambda a: True}[state]
    picked = [a for a in rows if keep(a) and (not site or a["site"] == site)]
    groups: dict[tuple[str, str], list[dict]] = {}
    for a in picked:
        groups.setdefault((a["crew"], a["site"]), []).append(a)
    c = request.app.state.ctx
    now = c.now()
    silences = [s.as_dict(now) for s in Silences(c.conn()).all() if s.state(now) != "expired"]
    return render(request, "alerts.html", nav="alerts", state=state, site=site, all_sites=all_sites,
                  groups=[{"crew": k[0], "site": k[1], "alerts": g} for k, g in sorted(groups.items())],
                  silences=silences, can_silence=v.user.can("engineer"))


def alert_for(request: Request, v: Viewer, alert_id: int) -> dict:
    alert = Alerts(request.app.state.ctx.conn()).get(alert_id)
    if alert is None:
        raise NotFound(f"L'alerte #{alert_id} n'existe pas.")
    v.require_crew(alert["crew"])
    return alert


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
def alert_page(request: Request, alert_id: int, v: Viewer = Depends(viewer)) -> HTMLResponse:
    a = alert_for(request, v, alert_id)
    rows = [r for r in scoped_alerts(request, v, False) if r["id"] == alert_id]
    return render(request, "alert.html", nav="alerts", title=f"#{alert_id}", a=a,
                  silenced_by=rows[0]["silenced_by"] if rows else None,
                  trail=Alerts(request.app.state.ctx.conn()).audit_trail(alert_id), can_act=v.user.can("act"))


@router.get("/fragments/alerts", response_class=HTMLResponse)
def alerts_fragment(request: Request, limit: int = Query(8, ge=1, le=100), v: Viewer = Depends(viewer)) -> HTMLResponse:
    from collections import Counter

    rows = scoped_alerts(request, v, False)
    return render(request, "_alerts.html", alerts=rows[:limit], limit=limit,
                  by_severity=Counter(a["severity"] for a in rows))


def _alerts_key(request: Request, v: Viewer) -> str:
    sql = "SELECT coalesce(max(id), 0), count(*), sum(state='acknowledged') FROM alerts WHERE state != 'resolved'"
    args: tuple = ()
    if v.user.role == "crew":
        sql += " AND crew = ?"
        args = (v.user.crew,)
    conn = request.app.state.ctx.conn()
    row = conn.execute(sql, args).fetchone()
    last = conn.execute("SELECT coalesce(max(id), 0) FROM alerts" + (" WHERE crew = ?" if args else ""), args).fetchone()
    try:  # a lamp's acknowledgement of a downlink changes the lamp page too
        acked = conn.execute("SELECT count(*) FROM downlinks WHERE state != 'pending'").fetchone()[0]
    except Exception:  # noqa: BLE001 - no downlink queued yet: no table
        acked = 0
    return f"{last[0]}-{row[1]}-{row[2] or 0}-{acked}"


@router.get("/events")
async def events(request: Request, v: Viewer = Depends(viewer)) -> StreamingResponse:
    async def stream():  # type: ignore[no-untyped-def]
        yield "retry: 3000\n\n"
        loop = asyncio.get_running_loop()
        end = loop.time() + EVENT_STREAM_S
        last = None
        while loop.time() < end and not request.app.state.stopping:
            key = await run_in_threadpool(_alerts_key, request, v)
            if key != last:
                yield f"event: alerts\ndata: {key}\n\n"
                last = key
            await asyncio.sleep(EVENT_POLL_S)
            if await request.is_disconnected():
                break

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
