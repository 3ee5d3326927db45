"""The fleet pages: overview, lamp list, lamp page, map. Read-only; every one needs a session, and a crew
user sees only the lamps of its own crew (the rest answer 403, and are never listed)."""
from __future__ import annotations

import math
import re
from collections import Counter
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from gateway import fleet
from gateway.alerts import Alerts
from gateway.console import i18n, mapsvg, nights, plots
from gateway.console.app import render
from gateway.console.auth import BadInput, NotFound, Viewer, viewer
from gateway.console.snapshot import STATES, LampRow

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
SORTS = ("lamp_id", "site", "state", "last_seen", "battery", "alerts")
SITE_STATES = ("lit", "dimmed", "dark", "silent", "maintenance")
_STATE_ORDER = {s: i for i, s in enumerate(("dark", "silent", "never_heard", "maintenance", "dimmed", "off", "day",
                                              "lit"))}


def rows_for(request: Request, v: Viewer) -> list[LampRow]:
    c = request.app.state.ctx
    rows = request.app.state.snapshots.get(c.conn(), c.settings, c.now())
    return rows if v.user.role != "crew" else [r for r in rows if r.crew == v.user.crew]


def lamp_for(request: Request, v: Viewer, lamp_id: str):  # type: ignore[no-untyped-def]
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,32}", lamp_id):
        raise NotFound(f"Pas de lampe {lamp_id[:40]!r}.")
    lamp = fleet.read_lamp(request.app.state.ctx.conn(), lamp_id)
    if lamp is None or lamp.kind == "bridge":
        raise NotFound(f"La lampe {lamp_id} n'est pas enregistrée.")
    v.require_crew(lamp.crew)
    return lamp


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, v: Viewer = Depends(viewer)) -> HTMLResponse:
    c = request.app.state.ctx
    rows = rows_for(request, v)
    counts = Counter(r.state for r in rows)
    counts["day"] += counts["off"]  # off as planned (daytime, or a kit switched off): not a fault
    sites: dict[str, dict] = {}
    for r in rows:
        s = sites.setdefault(r.site, {"site": r.site, "lamps": 0, "alerts": 0, **{k: 0 for k in STATES}})
        s["lamps"] += 1
        s[r.state] += 1
        s["alerts"] += r.alerts
    from gateway.console.alert_pages import scoped_alerts

    open_alerts = scoped_alerts(request, v, False)
    off = c.settings.alerts.utc_offset_s
    start, end = nights.last_night_bounds(c.now(), off)
    cache = request.app.state.__dict__.setdefault("_last_night", {})
    key = (start, v.user.crew if v.user.role == "crew" else "")
    if key not in cache:  # last night does not change during the day: computed once per night and scope
        visible = {r.lamp_id for r in rows}
        got = [n for n in nights.nights(c.conn(), start, start + 1, off, c.settings.detect.dark_ratio_pct)
               if n["lamp_id"] in visible]
        cache.clear()
        cache[key] = {"full": sum(n["full"] for n in got), "total": len(got), "start_s": start, "end_s": end}
    return render(request, "overview.html", nav="overview", states=SITE_STATES + ("day", "never_heard"),
                  counts=counts, sites=sorted(sites.values(), key=lambda s: s["site"]), site_states=SITE_STATES,
                  alerts=open_alerts[:8], limit=8, by_severity=Counter(a["severity"] for a in open_alerts),
                  severities=("critical", "major", "minor", "warning"), last_night=cache[key])


def _sort_key(sort: str):  # type: ignore[no-untyped-def]
    return {"lamp_id": lambda r: r.lamp_id, "site": lambda r: (r.site, r.lamp_id),
            "state": lambda r: (_STATE_ORDER.get(r.state, 9), r.lamp_id),
            "last_seen": lambda r: (r.last_seen_s or 0, r.lamp_id),
            "battery": lambda r: ((r.reading or {}).get("vbat_mv") or 0, r.lamp_id),
            "alerts": lambda r: (-r.alerts, r.lamp_id)}[sort]


@router.get("/lamps", response_class=HTMLResponse)
def lamps(request: Request, q: str = Query("", max_length=64), site: str = Query("", max_length=64),
          state: str = Query("", max_length=20), fault: str = Query("", max_length=40),
          sort: str = Query("lamp_id", max_length=20), page: int = Query(1, ge=1, le=100_000),
          v: Viewer = Depends(viewer)) -> HTMLResponse:
    if state and state not in STATES:
        raise BadInput(f"état inconnu {state!r} (états : {', '.join(STATES)})")
    if sort not in SORTS:
        raise BadInput(f"tri inconnu {sort!r} (tris : {', '.join(SORTS)})")
    rows = rows_for(request, v)
    all_sites = sorted({r.site for r in rows})
    all_faults = sorted({f for r in rows for f in (r.reading or {}).get("faults", [])} |
                        {a[0] for a in request.app.state.ctx.conn().execute(
                            "SELECT DISTINCT fault FROM alerts WHERE state != 'resolved'")})
    if fault:
        with_alert = {a[0] for a in request.app.state.ctx.conn().execute(
            "SELECT lamp_id FROM alerts WHERE state != 'resolved' AND fault = ?", (fault,))}
    needle = q.strip().lower()
    picked = [r for r in rows
              if (not needle or needle in r.lamp_id.lower() or needle in r.site.lower() or needle in r.district.lower())
              and (not site or r.site == site) and (not state or r.state == state)
              and (not fault or r.lamp_id in with_alert or fault in (r.reading or {}).get("faults", []))]
    picked.sort(key=_sort_key(sort), reverse=sort in ("last_seen",))
    pages = max(1, math.ceil(len(picked) / PAGE_SIZE))
    page = min(page, pages)
    params = {k: val for k, val in (("q", q), ("site", site), ("state", state), ("fault", fault), ("sort", sort)) if val}
    lang = v.language
    sort_words = {"lamp_id": "ID", "site": i18n.word("site", lang), "state": i18n.word("state", lang),
                  "last_seen": i18n.word("last_report", lang), "battery": i18n.word("battery", lang),
                  "alerts": i18n.word("alerts", lang)}
    return render(request, "lamps.html", nav="lamps", rows=picked[(page - 1) * PAGE_SIZE: page * PAGE_SIZE],
                  total=len(picked), page=page, pages=pages, q=q, site=site, state=state, fault_=fault, sort=sort,
                  sorts=SORTS, sort_words=sort_words, states=STATES, all_sites=all_sites, all_faults=all_faults,
                  page_url=lambda p: "/lamps?" + urlencode({**params, "page": p}))


def _downlinks(conn, lamp_id: str) -> list[dict]:  # type: ignore[no-untyped-def]
    import json

    try:
        rows = conn.execute("SELECT id, kind, body, state, created_s, done_s, result FROM downlinks WHERE lamp_id=? "
                            "ORDER BY id DESC LIMIT 20", (lamp_id,)).fetchall()
    except Exception:  # noqa: BLE001 - the table appears with the first downlink queue
        return []
    out = []
    for dl_id, kind, body, state, created, done, result in rows:
        fields = json.loads(body)
        what = (fields.get("command", "") + (f" {fields['arg']} min" if fields.get("arg") else "")) if kind == "command" \
            else ", ".join(f"{k}={val}" for k, val in (fields.get("settings") or {}).items())
        out.append({"id": dl_id, "what": what, "state": state, "created_s": int(created) if created else None,
                    "done_s": int(done) if done else None, "result": result})
    return out


@router.get("/lamps/{lamp_id}", response_class=HTMLResponse)
def lamp_page(request: Request, lamp_id: str, days: int = Query(7, ge=1, le=30),
              v: Viewer = Depends(viewer)) -> HTMLResponse:
    lamp = lamp_for(request, v, lamp_id)
    c = request.app.state.ctx
    conn, now, off = c.conn(), c.now(), c.settings.alerts.utc_offset_s
    row = next((r for r in request.app.state.snapshots.get(conn, c.settings, now) if r.lamp_id == lamp_id), None)
    reading = fleet.latest_reading(conn, lamp_id)
    alerts = Alerts(conn).list(True, lamp_id, 50)
    t0 = now - days * 86400
    hist = fleet.history(conn, lamp_id, t0, None, 50_000)
    if hist:  # a lamp heard for less than the span: the plots start at its first report
        t0 = max(t0, hist[0]["time_s"] - hist[0]["time_s"] % 3600)
    marks = [plots.Mark(a["raised_s"], f"#{a['id']} {i18n.fault_text(a['fault'], v.language)}", "#c62828")
             for a in alerts]
    marks += [plots.Mark(a["resolved_s"], f"#{a['id']} {i18n.word('resolved', v.language)}", "#1a7f37", False)
              for a in alerts if a["resolved_s"]]
    marks += [plots.Mark(r[0], r[1], "#1565c0", False) for r in conn.execute(
        "SELECT at_s, action FROM audit WHERE lamp_id=? AND action LIKE 'repair%' AND at_s >= ?", (lamp_id, t0))]
    fr = v.language == "fr"
    w = lambda key: i18n.word(key, v.language)  # noqa: E731
    svgs = [
        plots.plot(w("battery"), "V", [plots.Series(f"{w('battery')} (V)", [(h["time_s"], h["vbat_mv"] / 1000)
                                                                            for h in hist], "#1565c0")],
                   t0, now, off, marks, fr),
        plots.plot("LED", "mA", [plots.Series("mesuré (mA)" if fr else "measured (mA)",
                                              [(h["time_s"], h["led_ma"]) for h in hist], "#e65100"),
                                 plots.Series("commandé (mA)" if fr else "commanded (mA)",
                                              [(h["time_s"], lamp.led_max_ma * h["led_pct"] / 100) for h in hist],
                                              "#6d4c41", dashed=True)], t0, now, off, marks, fr, y_min=0),
        plots.plot(w("pv"), "V", [plots.Series(f"{w('pv')} (V)", [(h["time_s"], h["pv_mv"] / 1000) for h in hist],
                                               "#f9a825")], t0, now, off, marks, fr, y_min=0),
    ]
    soh = None
    degraded = next((a for a in alerts if a["fault"] == "batteryDegraded"), None)
    if degraded and degraded["evidence"].get("best_capacity_mah"):
        soh = round(100 * degraded["evidence"]["capacity_mah"] / degraded["evidence"]["best_capacity_mah"])
    return render(request, "lamp.html", nav="lamps", title=lamp.lamp_id, lamp=lamp, row=row or _row_stub(),
                  reading=reading, now=now, soh=soh, alerts=alerts, plots=svgs,
                  commanded_ma=lamp.led_max_ma * (reading or {}).get("led_pct", 0) / 100,
                  nights=nights.nights(conn, t0, now, off, c.settings.detect.dark_ratio_pct, lamp_id=lamp_id)[::-1],
                  downlinks=_downlinks(conn, lamp_id), can_act=v.user.can("act"),
                  can_engineer=v.user.can("engineer"))


def _row_stub():  # type: ignore[no-untyped-def]
    return type("Row", (), {"state": "never_heard"})()


@router.get("/map", response_class=HTMLResponse)
def map_page(request: Request, site: str = Query("", max_length=64), v: Viewer = Depends(viewer)) -> HTMLResponse:
    rows = rows_for(request, v)
    all_sites = sorted({r.site for r in rows if r.kind != "kit"})
    shown = [r for r in rows if not site or r.site == site]
    kits: dict[str, dict] = {}
    for r in rows:
        if r.kind == "kit":
            d = kits.setdefault(r.district, {"district": r.district, "n": 0, "lit": 0, "dark": 0, "silent": 0,
                                             "alerts": 0})
            d["n"] += 1
            d["alerts"] += r.alerts
            if r.state in ("lit", "dark", "silent"):
                d[r.state] += 1
    unplaced = sum(1 for r in shown if r.kind != "kit" and r.lat is None)
    legend = [(s, mapsvg.COLOURS[s]) for s in ("lit", "dimmed", "maintenance", "day", "never_heard")]
    return render(request, "map.html", nav="map", svg=mapsvg.draw(shown, lambda s: i18n.word(s, v.language)),
                  all_sites=all_sites, site=site, kits=sorted(kits.values(), key=lambda d: d["district"]),
                  unplaced=unplaced, legend=legend)
