"""What every API request must pass before it reaches a handler, independent of the HTTP framework.

A web page open in an operator's browser must not be able to use the API: not by a `text/plain` form
POST (no preflight), not by DNS rebinding (a name the attacker controls that resolves to 127.0.0.1), not
by a script on another site. In order:

1. Host: the name the client asked for must be loopback, `api_host` or one of `api_allowed_hosts`
   (421 otherwise): a rebound name arrives with the attacker's Host.
2. Sec-Fetch-Site `cross-site` is refused (403); an Origin, if any, must name an allowed host (403); a
   write's Referer, if any (and no Origin), too.
3. A bearer token (gateway/api/tokens.py) for every write, and for reads unless `api_read_open` (401).
4. Writes: a Content-Length that is a plain non-negative integer (400; missing: 411) within MAX_BODY
   (413), and Content-Type application/json (415): a cross-site form cannot send that without a
   preflight the API never answers.

`headers` is anything with a case-insensitive `.get(name)` (http.server's message, Starlette's Headers).
Query parameters are parsed here too (`query_int`), so that a bad one gets a 400 with its name.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

MAX_BODY = 10_000
LOOPBACK_NAMES = frozenset({"127.0.0.1", "::1", "localhost"})
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_DIGITS = re.compile(r"[0-9]{1,15}")
_HOST = re.compile(r"^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+))(?::([0-9]{1,5}))?$")


class Headers(Protocol):
    def get(self, name: str, default: Any = None) -> Any: ...


class Refused(Exception):
    """The request is refused: `status` and a one-line reason for the client."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.headers = headers or {}


@dataclass(frozen=True)
class Policy:
    hosts: frozenset[str]
    read_open: bool = False
    max_body: int = MAX_BODY

    @classmethod
    def of(cls, api_host: str, allowed_hosts: Iterable[str] = (), read_open: bool = False) -> "Policy":
        names = {h.strip().lower().strip("[]") for h in (*LOOPBACK_NAMES, api_host, *allowed_hosts) if h.strip()}
        return cls(frozenset(names), read_open)


def host_name(value: str | None) -> str | None:
    """The host part of a Host header ("lamps.example:8088" -> "lamps.example", "[::1]:80" -> "::1"),
    lower-case, or None when it is not a well-formed host."""
    if not value:
        return None
    m = _HOST.match(value.strip())
    if not m:
        return None
    return (m.group(1) or m.group(2)).lower().rstrip(".")


def _url_host(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        return parts.hostname if parts.scheme in ("http", "https") else None
    except ValueError:
        return None


def check_site(method: str, headers: Headers, policy: Policy) -> None:
    host = host_name(headers.get("Host"))
    if host is None or host not in policy.hosts:
        raise Refused(421, f"host {str(headers.get('Host'))[:80]!r} is not served here; add it to api_allowed_hosts "
                      "if a reverse proxy forwards it")
    if (headers.get("Sec-Fetch-Site") or "").strip().lower() == "cross-site":
        raise Refused(403, "cross-site requests are refused")
    origin = headers.get("Origin")
    if origin is not None and _url_host(origin) not in policy.hosts:
        raise Refused(403, f"origin {origin[:80]!r} is not allowed")
    referer = headers.get("Referer")
    if method in WRITE_METHODS and origin is None and referer is not None and _url_host(referer) not in policy.hosts:
        raise Refused(403, "referer is another site: writes must come from the gateway's own pages or a script")


def bearer(headers: Headers) -> str | None:
    value = headers.get("Authorization")
    if not value:
        return None
    scheme, _, token = value.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def authenticate(method: str, headers: Headers, policy: Policy, verify: Callable[[str], str | None]) -> str | None:
    """The token's name, or None for an open read. Raises Refused(401)."""
    token = bearer(headers)
    if token is None:
        if method not in WRITE_METHODS and policy.read_open:
            return None
        raise Refused(401, "a bearer token is required (Authorization: Bearer ...; lampfleet api-token add NAME)",
                      {"WWW-Authenticate": 'Bearer realm="lampfleet"'})
    name = verify(token)
    if name is None:
        raise Refused(401, "unknown or revoked token", {"WWW-Authenticate": 'Bearer realm="lampfleet", '
                                                                            'error="invalid_token"'})
    return name


def body_length(headers: Headers, policy: Policy) -> int:
    """The declared length of a write's body, checked before any byte of it is read."""
    raw = headers.get("Content-Length")
    if raw is None:
        raise Refused(411, "Content-Length is required")
    text = str(raw).strip()
    if not _DIGITS.fullmatch(text):
        raise Refused(400, f"Content-Length {text[:20]!r} is not a non-negative integer")
    length = int(text)
    if length > policy.max_body:
        raise Refused(413, f"body too large ({length} bytes, at most {policy.max_body})")
    content_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise Refused(415, "Content-Type must be application/json")
    return length


def guard(method: str, headers: Headers, policy: Policy, verify: Callable[[str], str | None]) -> str | None:
    """All the checks above, in order. Returns the acting token's name (None for an open read)."""
    method = method.upper()
    check_site(method, headers, policy)
    return authenticate(method, headers, policy, verify)


def query_int(query: dict[str, str], name: str, default: int | None = None, *, minimum: int = 0,
              maximum: int | None = None) -> int | None:
    """An integer query parameter: digits only (no sign, no spaces, no `_`), at least `minimum`; values
    above `maximum` are clamped to it (a client asking for more gets the most the API gives)."""
    if name not in query:
        return default
    text = query[name]
    if not _DIGITS.fullmatch(text):
        raise Refused(400, f"{name} must be a whole number of at least {minimum}, not {text[:20]!r}")
    value = int(text)
    if value < minimum:
        raise Refused(400, f"{name} must be at least {minimum}, not {value}")
    return min(value, maximum) if maximum is not None else value
