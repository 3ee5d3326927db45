"""The HTTP JSON API's server: since the operations console, the API is one part of the gateway's web
app (routes: gateway/api/routes.py; app and server: gateway/console/). `ApiServer` is that server,
kept under its old name for the service and scripts that start it."""
from __future__ import annotations

from gateway.api.guard import MAX_BODY, Refused
from gateway.console.server import LOOPBACK, WebServer

ApiError = Refused  # a request answered with an error status and a one-line reason
ApiServer = WebServer
__all__ = ["LOOPBACK", "MAX_BODY", "ApiError", "ApiServer"]
