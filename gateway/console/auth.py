"""Who is asking, and may they: the session behind the cookie, roles, crew scope, CSRF on every write.

Every console request passes gateway/api/guard.py's site check first (Host allow-list against DNS
rebinding, Origin and Sec-Fetch-Site; app.py). Then, here: a page needs a live session (else a redirect
to the login page); a write also needs the session's CSRF token (form field `csrf` or header
`X-CSRF-Token`) and the role for the action; a crew acts only on its own crew's lamps (403 otherwise).
"""
from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from gateway.console.sessions import COOKIE, Session, Sessions
from gateway.console.users import User, Users


class NeedLogin(Exception):
    pass


class Denied(Exception):
    """403 with a sentence for the person."""


class NotFound(Exception):
    """404 with a sentence for the person."""


class BadInput(Exception):
    """400 with a sentence for the person (a form or query value)."""


@dataclass(frozen=True)
class Viewer:
    user: User
    session: Session
    language: str

    def require(self, action: str) -> None:
        if not self.user.can(action):
            raise Denied({"act": "Votre rôle ne permet pas d'agir (lecture seule).",
                          "engineer": "Réservé aux ingénieurs et administrateurs.",
                          "admin": "Réservé aux administrateurs."}.get(action, "Accès refusé."))

    def require_crew(self, crew: str) -> None:
        if not self.user.sees(crew):
            raise Denied("Cette lampe n'est pas sur les sites de votre équipe.")


def viewer(request: Request) -> Viewer:
    c = request.app.state.ctx
    session = Sessions(c.conn()).get(request.cookies.get(COOKIE), c.wall())
    user = Users(c.conn()).get(session.user) if session else None
    if session is None or user is None or user.disabled:
        raise NeedLogin()
    lang = request.cookies.get("lampfleet_lang") or user.language
    v = Viewer(user, session, lang if lang in ("fr", "en") else "fr")
    request.state.viewer = v
    return v


async def csrf_viewer(request: Request) -> Viewer:
    """A write: the session, and its CSRF token in the form or the header."""
    from starlette.concurrency import run_in_threadpool

    v = await run_in_threadpool(viewer, request)
    sent = request.headers.get("X-CSRF-Token")
    if sent is None:
        form = await request.form()
        value = form.get("csrf")
        sent = value if isinstance(value, str) else None
    if not v.session.csrf_ok(sent):
        raise Denied("Jeton CSRF absent ou invalide : rechargez la page et recommencez.")
    return v
