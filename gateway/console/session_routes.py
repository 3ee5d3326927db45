"""Log in and out. The login form has its own CSRF token (a random cookie that the form must repeat:
double submit), so that another site cannot log a browser into an account of its choosing."""
from __future__ import annotations

import secrets

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from gateway.console import i18n
from gateway.console.app import render
from gateway.console.auth import Viewer, csrf_viewer
from gateway.console.sessions import COOKIE, IDLE_S, LoginLimiter, Sessions
from gateway.console.users import Users

router = APIRouter(include_in_schema=False)
LOGIN_COOKIE = "lampfleet_login"


def _safe_next(target: str) -> str:
    """Only a path on this server: never //other.site or a scheme (open redirect)."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target or len(target) > 500:
        return "/"
    return target


def _login_page(request: Request, status: int = 200, error: str = "", name: str = "", next_: str = "/") -> Response:
    token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    response = render(request, "login.html", status, login_csrf=token, error=error, name=name,
                      next=_safe_next(next_), title=i18n.word("login", request.cookies.get("lampfleet_lang", "fr")))
    response.set_cookie(LOGIN_COOKIE, token, max_age=3600, httponly=True, samesite="strict",
                        secure=request.app.state.secure_cookies)
    return response


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:  # noqa: A002 - the query parameter's name
    return _login_page(request, next_=next)


@router.post("/login")
def login(request: Request, name: str = Form(max_length=64), password: str = Form(max_length=1024),
          csrf: str = Form(""), next: str = Form("/")) -> Response:  # noqa: A002
    c = request.app.state.ctx
    lang = request.cookies.get("lampfleet_lang", "fr")
    cookie = request.cookies.get(LOGIN_COOKIE)
    if not cookie or not secrets.compare_digest(cookie.encode(), csrf.encode()):
        return _login_page(request, 403, "Jeton de connexion invalide : rechargez la page.", name, next)
    conn, now = c.conn(), c.wall()
    limiter = LoginLimiter(conn)
    client = request.client.host if request.client else "?"
    if limiter.blocked(name, client, now):
        return _login_page(request, 429, i18n.word("too_many", lang), name, next)
    user = Users(conn).verify(name, password)
    if user is None:
        limiter.failed(name, client, now)
        return _login_page(request, 401, i18n.word("bad_login", lang), name, next)
    limiter.succeeded(name)
    token = Sessions(conn).open(user.name, now)
    conn.execute("INSERT INTO audit (at_s, action, actor, detail) VALUES (?, 'login', ?, ?)",
                 (now, user.name, f"from {client}"))
    response = RedirectResponse(_safe_next(next), 303)
    response.set_cookie(COOKIE, token, max_age=IDLE_S, httponly=True, samesite="lax",
                        secure=request.app.state.secure_cookies)
    response.delete_cookie(LOGIN_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, v: Viewer = Depends(csrf_viewer)) -> Response:
    Sessions(request.app.state.ctx.conn()).close(request.cookies.get(COOKIE))
    response = RedirectResponse("/login", 303)
    response.delete_cookie(COOKIE)
    return response
