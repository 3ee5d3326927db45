"""The gateway's web app: the operations console (HTML, French first) and the JSON API (/api/v1), one
FastAPI application served by uvicorn (gateway/console/server.py).

Every request, page or API, passes gateway/api/guard.py's site check (Host allow-list, Origin,
Sec-Fetch-Site; a top-level navigation from another site, e.g. a link in a webmail, is let through as a
GET: the session cookie is SameSite=Lax and every write needs the CSRF token anyway). Answers are
gzipped, carry a strict Content-Security-Policy (scripts and styles from this server only, no inline
script), and no page is cached. Assets ship in the package (gateway/console/static), never from a CDN.
"""
from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import quote

import jinja2

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware

from gateway.api.context import Context
from gateway.api.guard import Refused, check_site
from gateway.console import i18n
from gateway.console.auth import BadInput, Denied, NeedLogin, NotFound
from gateway.console.snapshot import SnapshotCache
from gateway.settings import Settings

log = logging.getLogger("lampfleet.gateway.console")
HERE = Path(__file__).parent
CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
# Autoescaping on for every template: a lamp ID, a site or a comment is text, never markup.
templates = Jinja2Templates(env=jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True))


def render(request: Request, template: str, status: int = 200, **values) -> HTMLResponse:  # type: ignore[no-untyped-def]
    c: Context = request.app.state.ctx
    v = getattr(request.state, "viewer", None)
    lang = v.language if v else request.cookies.get("lampfleet_lang", "fr")
    lang = lang if lang in i18n.LANGUAGES else "fr"
    off = c.settings.alerts.utc_offset_s
    values.setdefault("nav", "")
    # This page's own address (without the one-off `done` line): live parts re-fetch it and keep their part.
    query = "&".join(f"{quote(k)}={quote(val)}" for k, val in request.query_params.multi_items() if k != "done")
    values.setdefault("here", request.url.path + (f"?{query}" if query else ""))
    values.setdefault("title", i18n.word(values["nav"] or "overview", lang))
    return templates.TemplateResponse(request, template, {
        "viewer": v, "lang": lang, "flash": request.query_params.get("done") and i18n.word(
            request.query_params["done"], lang) if request.query_params.get("done") in i18n.WORDS else None,
        "t": lambda key: i18n.word(key, lang), "fault": lambda f: i18n.fault_text(f, lang),
        "num": lambda value, digits=0: i18n.number(value, lang, digits),
        "when": lambda t: i18n.when(t, lang, off), "age": lambda s: i18n.age(s, lang), **values}, status_code=status)


def _error_page(request: Request, status: int, heading: str, message: str) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": message}, status)
    return render(request, "error.html", status, heading=heading, message=message, title=heading)


def build_app(settings: Settings) -> FastAPI:
    app = FastAPI(title="lampfleet gateway API", version="1", openapi_url="/api/v1/openapi.json", docs_url=None,
                  redoc_url=None, description="Fleet, lamps, history, alerts of the lampfleet gateway. Bearer "
                  "tokens: `lampfleet api-token add NAME`. The console's pages are not part of this API.")
    app.state.ctx = Context(settings)
    app.state.snapshots = SnapshotCache()
    app.state.stopping = False  # set by the server at shutdown: live event streams end
    # Secure cookies when the console is reached over HTTPS: our own TLS, or a reverse proxy's.
    app.state.secure_cookies = bool(settings.tls_cert_file) or settings.console_https

    @app.middleware("http")
    async def site_and_headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        headers = request.headers
        method = request.method
        navigating = method in ("GET", "HEAD") and headers.get("Sec-Fetch-Mode") == "navigate" \
            and not request.url.path.startswith("/api/")
        try:
            if navigating and (headers.get("Sec-Fetch-Site") or "").lower() == "cross-site":
                check_site(method, {"Host": headers.get("Host")}, app.state.ctx.policy)
            else:
                check_site(method, headers, app.state.ctx.policy)
        except Refused as e:
            return _error_page(request, e.status, "Refusé", str(e))
        lang = request.query_params.get("lang")
        if method == "GET" and lang in i18n.LANGUAGES:  # the language switch: a cookie, then the same page
            rest = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
            from urllib.parse import urlencode

            target = request.url.path + (f"?{urlencode(rest)}" if rest else "")
            switched = RedirectResponse(target, 303)
            switched.set_cookie("lampfleet_lang", lang, max_age=365 * 86400, samesite="lax", httponly=True,
                                secure=app.state.secure_cookies)
            return switched
        response = await call_next(request)
        if request.url.path.startswith("/static/"):
            response.headers["Cache-Control"] = "public, max-age=604800"  # a crew's phone keeps them a week
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Frame-Options"] = "DENY"
        if not request.url.path.startswith("/api/"):
            response.headers["Content-Security-Policy"] = CSP
        if request.url.scheme == "https":
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        return response

    app.add_middleware(GZipMiddleware, minimum_size=500)

    @app.exception_handler(Refused)
    async def refused(request: Request, e: Refused) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": str(e)}, e.status, headers=e.headers)
        return _error_page(request, e.status, "Refusé", str(e))

    @app.exception_handler(NeedLogin)
    async def need_login(request: Request, _e: NeedLogin) -> Response:
        if request.method != "GET":
            return _error_page(request, 401, "Connexion", "Session terminée : reconnectez-vous.")
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", 303)

    @app.exception_handler(Denied)
    async def denied(request: Request, e: Denied) -> Response:
        return _error_page(request, 403, i18n.word("forbidden", "fr"), str(e))

    @app.exception_handler(NotFound)
    async def not_found(request: Request, e: NotFound) -> Response:
        return _error_page(request, 404, i18n.word("not_found", "fr"), str(e))

    @app.exception_handler(BadInput)
    async def bad_input(request: Request, e: BadInput) -> Response:
        return _error_page(request, 400, "Saisie invalide", str(e))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, e: RequestValidationError) -> Response:
        parts = []
        for err in e.errors()[:3]:
            where = ".".join(str(p) for p in err.get("loc", ())[1:]) or "request"
            parts.append(f"{where}: {err.get('msg', 'invalid')}")
        return _error_page(request, 400, "Saisie invalide", "; ".join(parts))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, e: StarletteHTTPException) -> Response:
        message = f"no such resource {request.url.path}" if e.status_code == 404 else str(e.detail)
        return _error_page(request, e.status_code, i18n.word("not_found", "fr") if e.status_code == 404 else
                           "Erreur", message)

    @app.exception_handler(Exception)
    async def crashed(request: Request, e: Exception) -> Response:
        log.exception("error on %s %s", request.method, request.url.path)
        return _error_page(request, 500, "Erreur", "internal error (see the gateway log)")

    from gateway.api.routes import router as api_router
    from gateway.console import actions, admin_pages, alert_pages, pages, session_routes

    app.include_router(api_router)
    for module in (session_routes, pages, alert_pages, actions, admin_pages):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    return app
