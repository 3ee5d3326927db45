"""The HTTP JSON API, version 1: routes (a FastAPI router at /api/v1, with its OpenAPI description),
guard (Host, Origin, token and length checks, independent of the web framework), tokens (bearer tokens
stored hashed), context (settings, per-thread SQLite, clock). It is served with the operations console
by one app (gateway/console/app.py, server.py); `server.ApiServer` is that server under its old name."""
