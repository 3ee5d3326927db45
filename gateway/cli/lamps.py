"""`lampfleet lamps`: the registry of lamps and kits (list, show, add, import, export). Keys never shown."""
from __future__ import annotations

import csv
import sys
from pathlib import Path

import click

from gateway import fleet
from gateway.cli.common import common_options, console, emit, fmt_time, open_db, settings_from
from gateway.keystore import KeyStore, KeyStoreError
from gateway.registry import KINDS, Lamp, Registry, RegistryError, new_key
from gateway.registry_csv import export_csv, import_csv
from gateway.settings import Settings


def _registry(settings: Settings) -> Registry:
    conn = open_db(settings, must_exist=False)
    try:
        return Registry(conn, KeyStore.open(settings.master_key_path))
    except KeyStoreError as e:
        raise click.ClickException(str(e)) from None


@click.group("lamps")
def command() -> None:
    """The registry of street lamps and safety kits."""


@command.command("list")
@common_options
@click.option("--site", help="Only this site.")
@click.option("--kind", type=click.Choice(KINDS), help="Only street lamps, kits or bridges.")
def list_(config_path: Path | None, database: Path | None, as_json: bool, site: str | None, kind: str | None) -> None:
    """List registered lamps (no keys)."""
    settings = settings_from(config_path, database)
    lamps = [lp for lp in fleet.read_lamps(open_db(settings))
             if (site is None or lp.site == site) and (kind is None or lp.kind == kind)]

    def human() -> None:
        from rich.table import Table

        table = Table(title=f"{len(lamps)} lamp(s)")
        for col in ("lamp", "kind", "devaddr", "site", "district", "crew", "fw", "last seen"):
            table.add_column(col)
        for lp in lamps:
            table.add_row(lp.lamp_id, lp.kind, f"0x{lp.devaddr:06X}", lp.site, lp.district, lp.crew,
                          lp.fw_version or "-", fmt_time(lp.last_seen_s, settings.alerts.utc_offset_s))
        console().print(table)

    emit([lp.public() for lp in lamps], as_json, human)


@command.command("show")
@click.argument("lamp_id")
@common_options
def show(lamp_id: str, config_path: Path | None, database: Path | None, as_json: bool) -> None:
    """One lamp: registry fields, last reading, open alerts."""
    settings = settings_from(config_path, database)
    conn = open_db(settings)
    lamp = next((lp for lp in fleet.read_lamps(conn) if lp.lamp_id == lamp_id), None)
    if lamp is None:
        raise click.ClickException(f"{lamp_id} is not registered (lampfleet lamps list)")
    reading = fleet.latest_reading(conn, lamp_id)
    alerts = [dict(zip(("id", "fault", "state", "raised_s"), r)) for r in conn.execute(
        "SELECT id, fault, state, raised_s FROM alerts WHERE lamp_id=? AND state != 'resolved' ORDER BY id", (lamp_id,))]
    data = {**lamp.public(), "state": fleet.classify(lamp, reading, fleet.now_s(conn, settings), settings),
            "last_reading": reading, "open_alerts": alerts}

    def human() -> None:
        off = settings.alerts.utc_offset_s
        for k, v in data.items():
            if k in ("last_reading", "open_alerts"):
                continue
            if k == "devaddr":
                v = f"0x{v:06X}"
            elif k == "last_seen_s":
                k, v = "last_seen", fmt_time(v, off)
            click.echo(f"{k:18} {'' if v is None else v}")
        if reading:
            click.echo(f"{'last_reading':18} {fmt_time(reading['time_s'], off)} mode {reading['mode']}, LED "
                       f"{reading['led_pct']}% {reading['led_ma']} mA, battery {reading['vbat_mv']} mV "
                       f"{reading['soc_pct']}%, PV {reading['pv_mv']} mV")
        for a in alerts:
            click.echo(f"{'alert':18} #{a['id']} {a['fault']} ({a['state']}) since {fmt_time(a['raised_s'], off)}")

    emit(data, as_json, human)


@command.command("add")
@click.argument("lamp_id")
@click.option("--devaddr", required=True, help="Device address, e.g. 0x100001.")
@click.option("--kind", type=click.Choice(KINDS), default="street", show_default=True)
@click.option("--site", default="")
@click.option("--district", default="", help="Neighbourhood; a kit's only location.")
@click.option("--crew", default="", help="Maintenance crew (a [crews.NAME] of the config).")
@click.option("--lat", type=float, help="Street lamps only.")
@click.option("--lon", type=float, help="Street lamps only.")
@click.option("--install-date", default="", help="YYYY-MM-DD")
@click.option("--profile", default="", help="Lighting/energy profile name.")
@click.option("--led-max-ma", type=int, default=830, show_default=True)
@click.option("--interval", "status_interval_s", type=int, default=900, show_default=True,
              help="Status report interval at night (s); by day the lamp reports half as often.")
@click.option("--key-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Key made by provisioning (16 raw bytes or 32 hex digits). Default: a new random key.")
@common_options
def add(lamp_id: str, devaddr: str, kind: str, site: str, district: str, crew: str, lat: float | None,
        lon: float | None, install_date: str, profile: str, led_max_ma: int, status_interval_s: int,
        key_file: Path | None, config_path: Path | None, database: Path | None, as_json: bool) -> None:
    """Register a lamp or kit. The key is never typed or printed: it is created here (or read from the
    provisioning tool's key file) and written to the device by `lampfleet provision`."""
    settings = settings_from(config_path, database)
    try:
        addr = int(devaddr, 0)
    except ValueError:
        raise click.BadParameter(f"{devaddr!r} is not a number (e.g. 0x100001)", param_hint="--devaddr") from None
    key = new_key()
    if key_file is not None:
        raw = key_file.read_bytes()
        try:
            key = raw if len(raw) == 16 else bytes.fromhex(raw.decode().strip())
        except (ValueError, UnicodeDecodeError):
            key = b""
        if len(key) != 16:
            raise click.ClickException(f"{key_file}: expected 16 raw bytes or 32 hexadecimal digits")
    registry = _registry(settings)
    if registry.by_id(lamp_id) is not None:
        raise click.ClickException(f"{lamp_id} is already registered; edit it with `lampfleet lamps import` "
                                   "(CSV without key_hex)")
    lamp = Lamp(lamp_id, addr, key, kind=kind, site=site, crew=crew, led_max_ma=led_max_ma,
                status_interval_s=status_interval_s, district=district, lat=lat, lon=lon,
                install_date=install_date, profile=profile)
    try:
        registry.add(lamp)
    except RegistryError as e:
        raise click.ClickException(str(e)) from None
    emit(lamp.public(), as_json, lambda: click.echo(
        f"registered {lamp_id} ({kind}, 0x{addr:06X}); its key is sealed in the registry: provision the device "
        "with `lampfleet provision`"))


@command.command("import")
@click.argument("csv_file", type=click.Path(exists=True, path_type=Path))
@click.argument("more", nargs=-1, type=click.Path(exists=True, path_type=Path))
@common_options
def import_(csv_file: Path, more: tuple[Path, ...], config_path: Path | None, database: Path | None,
            as_json: bool) -> None:
    """Import a CSV (columns of `lamps export`, plus key_hex for lamps provisioned elsewhere), or sealed key
    files (*.lfkey, or a folder of them) from `lampfleet flash`/`provision` without a registry. All or nothing."""
    settings = settings_from(config_path, database)
    from gateway.sealed_keys.importer import is_key_import, sealed_files

    if more or is_key_import(csv_file):
        from gateway.sealed_keys.importer import import_sealed

        files = sealed_files([csv_file, *more])
        counts = import_sealed(_registry(settings), settings, files)
        emit(counts, as_json, lambda: click.echo(
            f"{counts['added']} added, {counts['rekeyed']} re-keyed, {counts['unchanged']} already registered "
            f"from {len(files)} sealed key file(s); the technician may now delete them"))
        return
    registry = _registry(settings)
    try:
        with open(csv_file, newline="", encoding="utf-8") as f:
            counts = import_csv(registry, f)
    except (UnicodeDecodeError, csv.Error):
        raise click.ClickException(f"{csv_file}: not a UTF-8 text CSV (for sealed keys, name the .lfkey files); "
                                   "nothing was imported") from None
    except RegistryError as e:
        raise click.ClickException(f"{csv_file}: {e}; nothing was imported") from None
    emit(counts, as_json, lambda: click.echo(
        f"{counts['added']} added, {counts['updated']} updated, {counts['rekeyed']} re-keyed"
        + ("; delete the CSV file: it holds device keys" if counts["added"] or counts["rekeyed"] else "")))


@command.command("export-pubkey")
@click.argument("out_file", type=click.Path(dir_okay=False, path_type=Path), required=False)
@common_options
def export_pubkey(out_file: Path | None, config_path: Path | None, database: Path | None, as_json: bool) -> None:
    """Print (or write to FILE) the gateway's public key for sealing new device keys on technicians'
    laptops. Not a secret: copy it to ~/.config/lampfleet/gateway-key.pub on each laptop."""
    from gateway.sealed_keys.seal import KeyExportError, gateway_private_key, public_key_text
    from gateway.keystore import KeyStoreError

    settings = settings_from(config_path, database)
    try:
        text = public_key_text(gateway_private_key(settings.master_key_path))
    except (KeyStoreError, KeyExportError) as e:
        raise click.ClickException(str(e)) from None
    if as_json:
        emit({"public_key": text.strip()}, True, lambda: None)
    elif out_file is None:
        click.echo(text, nl=False)
    else:
        out_file.write_text(text)
        click.echo(f"public key written to {out_file}: copy it to each technician laptop as "
                   "~/.config/lampfleet/gateway-key.pub", err=True)


@command.command("export")
@click.argument("csv_file", type=click.Path(dir_okay=False, path_type=Path), required=False)
@common_options
def export(csv_file: Path | None, config_path: Path | None, database: Path | None, as_json: bool) -> None:
    """Write the registry as CSV (to FILE or standard output). Keys are never exported."""
    settings = settings_from(config_path, database)
    lamps = fleet.read_lamps(open_db(settings))
    if as_json:
        emit([lp.public() for lp in lamps], True, lambda: None)
        return
    if csv_file is None:
        export_csv(lamps, sys.stdout)
        return
    with open(csv_file, "w", newline="") as f:
        n = export_csv(lamps, f)
    click.echo(f"{n} lamp(s) written to {csv_file}", err=True)
