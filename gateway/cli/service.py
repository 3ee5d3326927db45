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


# --------------------------------------------------------------------------- broker-config
@click.command("broker-config")
@click.option("--config", "config_path", type=click.Path(path_type=Path),
              default=lambda: os.environ.get("LAMPFLEET_CONFIG"), help="Gateway TOML settings [env LAMPFLEET_CONFIG].")
@click.option("--db", "database", type=click.Path(path_type=Path), help="Override the SQLite database path.")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Directory to write mosquitto.conf, passwd, acl (and the TLS files) into.")
@click.option("--install-dir", type=click.Path(path_type=Path),
              help="Where the files will live on the broker (paths inside mosquitto.conf) [default: --out].")
@click.option("--make-ca", "make_ca", type=click.Path(file_okay=False, path_type=Path),
              help="Make (or reuse) a CA in this directory and a server certificate for --host.")
@click.option("--host", "hosts", multiple=True, help="Broker host name or IP the lamps and gateway dial (repeat).")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Server certificate (PEM).")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Its private key (PEM).")
@click.option("--ca", "ca_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The CA certificate that signed --tls-cert (for lamps and the gateway).")
@click.option("--port", default=8883, show_default=True, help="TLS listener port.")
@click.option("--bind", default="", help="Address of the TLS listener [default: every interface].")
@click.option("--plain-port", default=0, help="Also a plain listener on 127.0.0.1 (local tools only); 0 = none.")
@click.option("--integration", "integrations", multiple=True, type=click.Choice(["chirpstack", "tts"]),
              help="LoRaWAN integration users to create [default: the gateway's [link] lorawan].")
@click.option("--data-dir", default="/var/lib/mosquitto", show_default=True, help="mosquitto's persistence_location.")
@click.option("--log-file", default="/var/log/mosquitto/mosquitto.log", show_default=True, help="'' = stderr.")
@click.option("--pid-file", default="/run/mosquitto/mosquitto.pid", show_default=True, help="'' = none.")
@click.option("--plugin", "plugin", default="", help="Path of mosquitto_dynamic_security.so on the broker "
              "[default: found here, else Debian's].")
@click.option("--run-as", hidden=True, help="mosquitto's `user` (tests running as root).")
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
def broker_config_command(config_path, database, out, install_dir, make_ca, hosts, tls_cert, tls_key, ca_file,
                          port, bind, plain_port, integrations, data_dir, log_file, pid_file, plugin, run_as,
                          as_json):
    """Write mosquitto's configuration and its logins (dynamic-security.json) from the registry: each lamp
    reaches only its own topics, the gateway and LoRaWAN integration users theirs, anonymous clients are refused, and the
    listener is TLS. Re-run after adding lamps. Step by step: docs/operations.md, "mosquitto"."""
    import json

    from gateway.broker import config as broker
    from gateway.broker.tls import make_ca as new_ca
    from gateway.cli.common import open_db, settings_from
    from gateway.keystore import KeyStore, KeyStoreError
    from gateway.link.acl import lamp_password
    from gateway.registry import Registry

    settings = settings_from(config_path, database)
    if make_ca and (tls_cert or tls_key or ca_file):
        raise click.UsageError("give either --make-ca (with --host) or --tls-cert/--tls-key/--ca, not both")
    if bool(tls_cert) != bool(tls_key):
        raise click.UsageError("--tls-cert and --tls-key go together")
    tls_files: dict[str, Path] = {}
    try:
        if make_ca:
            made = new_ca(make_ca, list(hosts))
            tls_files = {"cert": made["cert"], "key": made["key"], "ca": made["ca"]}
        elif tls_cert:
            tls_files = {"cert": tls_cert, "key": tls_key, **({"ca": ca_file} if ca_file else {})}
    except ValueError as e:
        raise click.ClickException(str(e)) from None
    conn = open_db(settings)
    try:
        registry = Registry(conn, KeyStore.open(settings.master_key_path, create=False))
        lamps = {lamp.lamp_id: lamp_password(lamp.key) for lamp in registry.all() if lamp.kind != "bridge"}
    except KeyStoreError as e:
        raise click.ClickException(str(e)) from None
    finally:
        conn.close()
    out.mkdir(parents=True, exist_ok=True)
    gateway_user = settings.mqtt_username or settings.client_id
    kept: list[Path] = []
    gateway_password = settings.mqtt_password
    if not gateway_password:
        kept.append(out / "gateway.password")
        gateway_password = broker.kept_password(kept[-1])
    names = list(integrations) or ([settings.link.lorawan] if settings.link.lorawan else [])
    passwords = {}
    for name in names:
        kept.append(out / f"{name}.password")
        passwords[name] = broker.kept_password(kept[-1])
    listeners = []
    if tls_files:
        listeners.append(broker.Listener(port, bind, tls_files["cert"], tls_files["key"]))
    if plain_port or not tls_files:
        listeners.append(broker.Listener(plain_port or 1883, "127.0.0.1"))
    files = broker.BrokerFiles(lamps, gateway_user, gateway_password, passwords, listeners,
                               install_dir=install_dir.resolve() if install_dir else None, data_dir=Path(data_dir),
                               log_file=log_file, pid_file=pid_file, run_as=run_as, prefix=settings.topic_prefix,
                               plugin=plugin)
    try:
        written = broker.write(files, out, tls_files)
    except (ValueError, OSError, RuntimeError) as e:
        raise click.ClickException(str(e)) from None
    report = {"out": str(out), "lamps": len(lamps), "gateway_user": gateway_user, "integrations": names,
              "tls": bool(tls_files), "files": [str(p) for p in written], "passwords": [str(p) for p in kept]}
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(f"wrote {', '.join(p.name for p in written)} to {out}: {len(lamps)} lamps, gateway user "
               f"{gateway_user}" + (f", integrations {', '.join(names)}" if names else ""))
    for p in kept:
        click.echo(f"password for {p.stem} in {p} (0600): give it to that client, keep it out of logs")
    if not settings.mqtt_username:
        click.echo(f"in gateway.toml: mqtt_username = \"{gateway_user}\" and mqtt_password_file = where you install "
                   "gateway.password (docs/operations.md, \"mosquitto\")")
    if not tls_files:
        click.echo("warning: no certificates, so only a plain listener on 127.0.0.1: lamps on Wi-Fi need TLS "
                   "(--make-ca DIR --host NAME)", err=True)
