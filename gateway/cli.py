"""`lampfleet gateway`: run the gateway service."""
from __future__ import annotations

import logging
import os
import signal
from pathlib import Path

import click

from gateway.settings import SettingsError, load


@click.command("gateway")
@click.option("--config", "config_path", type=click.Path(path_type=Path),
              default=lambda: os.environ.get("LAMPFLEET_CONFIG"), help="TOML settings file [env LAMPFLEET_CONFIG].")
@click.option("--broker", help="Override the broker URL (mqtt://host:port).")
@click.option("--db", "database", type=click.Path(path_type=Path), help="Override the SQLite database path.")
def command(config_path: Path | None, broker: str | None, database: Path | None) -> None:
    """Run the gateway: ingest frames from MQTT, store them, detect failed lamps, alert crews.

    Settings and a systemd unit: docs/operations.md."""
    try:
        settings = load(config_path)
    except SettingsError as e:
        raise click.ClickException(str(e)) from None
    if broker:
        settings.broker_url = broker
    if database:
        settings.database = database
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from gateway.keystore import KeyStoreError
    from gateway.service import GatewayService

    try:
        service = GatewayService(settings)
    except KeyStoreError as e:
        raise click.ClickException(str(e)) from None
    signal.signal(signal.SIGTERM, lambda *_: service.stopping.set())
    try:
        service.run()
    except KeyboardInterrupt:
        service.stopping.set()
