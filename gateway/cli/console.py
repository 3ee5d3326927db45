"""`lampfleet console`: serve the operations console and the JSON API beside a running gateway (the
same database), when the gateway itself does not serve them (api_port = 0 in its settings)."""
from __future__ import annotations

import logging
import os
import signal
import threading
from pathlib import Path

import click

from gateway.cli.common import open_db, settings_from


@click.command("console")
@click.option("--config", "config_path", type=click.Path(path_type=Path),
              default=lambda: os.environ.get("LAMPFLEET_CONFIG"), help="Gateway TOML settings [env LAMPFLEET_CONFIG].")
@click.option("--db", "database", type=click.Path(path_type=Path), help="Override the SQLite database path.")
@click.option("--host", default=None, help="Address to listen on [default: api_host, loopback].")
@click.option("--port", type=int, default=None, help="Port [default: api_port, else 8088].")
def command(config_path: Path | None, database: Path | None, host: str | None, port: int | None) -> None:
    """Serve the console (and API) until Ctrl-C. docs/console.md."""
    settings = settings_from(config_path, database)
    open_db(settings).close()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from gateway.console.server import WebServer

    try:
        server = WebServer(settings, host or settings.api_host, port if port is not None else settings.api_port or 8088)
    except (ValueError, OSError) as e:
        raise click.ClickException(str(e)) from None
    server.start()
    click.echo(f"console on {server.url} (log in with a user from: lampfleet users list)")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    server.stop()
