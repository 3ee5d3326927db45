"""The operations console: a web app served by the gateway beside its JSON API (docs/console.md).

app (assembly, security headers), server (uvicorn on a thread), auth/sessions/users (accounts, roles,
CSRF), pages/alert_pages/actions/admin_pages (routes), snapshot/nights/reports (read models),
plots/mapsvg (server-side SVG), i18n (French first), templates/ and static/ (every asset, no CDN).
"""
