"""Reports, QR labels, users and the audit log. Users and the audit are for admins; reports and labels
for everyone who may read (a crew: its own crew's sites)."""
from __future__ import annotations



import segno
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gateway.alerts import Alerts
from gateway.console import reports
from gateway.console.app import render
from gateway.console.auth import BadInput, Viewer, csrf_viewer, viewer
from gateway.console.users import ROLES, UserError, Users

router = APIRouter(include_in_schema=False)


def _report_rows(request: Request, v: Viewer, month: str) -> tuple[str, list[dict]]:
    c = request.app.state.ctx
    off = c.settings.alerts.utc_offset_s
    month = month or reports.month_of(c.now(), off)
    try:
        rows = reports.monthly(c.conn(), month, off, c.settings.detect.dark_ratio_pct,
                               v.user.crew if v.user.role == "crew" else None)
    except ValueError as e:
        raise BadInput(str(e)) from None
    return month, rows


@router.get("/reports", response_class=HTMLResponse)
def report_page(request: Request, month: str = Query("", max_length=7), v: Viewer = Depends(viewer)) -> HTMLResponse:
    month, rows = _report_rows(request, v, month)
    return render(request, "reports.html", nav="reports", month=month, rows=rows)


@router.get("/reports.csv")
def report_csv(request: Request, month: str = Query("", max_length=7), v: Viewer = Depends(viewer)) -> Response:
    month, rows = _report_rows(request, v, month)
    return Response(reports.to_csv(rows), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="lampfleet-{month}.csv"'})


@router.get("/labels", response_class=HTMLResponse)
def labels(request: Request, site: str = Query("", max_length=64), v: Viewer = Depends(viewer)) -> HTMLResponse:
    """One printable sheet per site: a QR code per lamp that opens its lamp page (the console's own
    address as the browser reached it, so a proxy's public name works)."""
    conn = request.app.state.ctx.conn()
    sql, args = "SELECT lamp_id, site, district, crew FROM lamps WHERE kind != 'bridge'", ()
    if v.user.role == "crew":
        sql, args = sql + " AND crew = ?", (v.user.crew,)
    lamps = conn.execute(sql + " ORDER BY site, lamp_id", args).fetchall()
    all_sites = sorted({row[1] for row in lamps})
    site = site or (all_sites[0] if all_sites else "")
    base = str(request.base_url).rstrip("/")
    out = []
    for lamp_id, lamp_site, district, _crew in lamps:
        if lamp_site != site:
            continue
        svg = segno.make(f"{base}/lamps/{lamp_id}", error="m").svg_inline(border=2, omitsize=True)
        out.append({"lamp_id": lamp_id, "place": ", ".join(p for p in (district, lamp_site) if p), "svg": svg})
    return render(request, "labels.html", nav="reports", site=site, all_sites=all_sites, labels=out)


@router.get("/users", response_class=HTMLResponse)
def users_page(request: Request, v: Viewer = Depends(viewer)) -> HTMLResponse:
    v.require("admin")
    return render(request, "users.html", nav="users", users=Users(request.app.state.ctx.conn()).list(), roles=ROLES)


@router.post("/users")
def add_user(request: Request, name: str = Form(max_length=64), password: str = Form(max_length=1024),
             role: str = Form(max_length=20), crew: str = Form("", max_length=64),
             language: str = Form("fr", max_length=2), v: Viewer = Depends(csrf_viewer)) -> RedirectResponse:
    v.require("admin")
    c = request.app.state.ctx
    try:
        Users(c.conn()).add(name, password, role, c.wall(), crew, language, actor=v.user.name)
    except UserError as e:
        raise BadInput(str(e)) from None
    return RedirectResponse("/users?done=done", 303)


@router.post("/users/{name}/disable")
def disable_user(request: Request, name: str, v: Viewer = Depends(csrf_viewer)) -> RedirectResponse:
    v.require("admin")
    if name == v.user.name:
        raise BadInput("vous ne pouvez pas désactiver votre propre compte")
    c = request.app.state.ctx
    try:
        Users(c.conn()).disable(name, c.wall(), actor=v.user.name)
    except UserError as e:
        raise BadInput(str(e)) from None
    return RedirectResponse("/users?done=done", 303)


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, v: Viewer = Depends(viewer)) -> HTMLResponse:
    v.require("admin")
    return render(request, "audit.html", nav="audit", rows=Alerts(request.app.state.ctx.conn()).audit_trail(None, 300))



