"""`lampfleet flash | provision | device ...`: the technician's commands, a thin layer over tools/.

Every failure is a ToolError, printed as `lampfleet: <what happened>` and `  hint: <what to do>`, exit 1.
`--json` prints the report (never a key) for scripts. Commands: `flash_command`, `provision_command`,
`device_command` (registered by lampfleet/cli.py through tools.cmd_flash/cmd_provision/cmd_device).

KEY_HOOK: receives new keys; when unset, keys go to the gateway registry named by $LAMPFLEET_CONFIG (the
gateway's TOML settings) through gateway.provisioning.registry_hook(), else tools/pending_keys.py keeps
them sealed for the gateway (or notes that it could not) and every later flash, provision and `device
info` warns until the lamp is registered.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Callable

import click

from tools.errors import ToolError
from tools.provision import OnKey

KEY_HOOK: OnKey | None = None


def _fail(e: ToolError, as_json: bool) -> None:
    if as_json:
        report = getattr(e, "report", None)
        payload = report.as_dict() if report is not None else {"error": e.as_dict()}
        click.echo(json.dumps(payload, indent=2))
    click.echo(e.render(), err=True)
    sys.exit(1)


def _settings(value: str | None) -> dict[str, Any] | None:
    if not value:
        return None
    text = Path(value[1:]).read_text() if value.startswith("@") else value
    try:
        data = json.loads(text)
    except ValueError as e:
        raise click.BadParameter(f"not JSON: {e}", param_hint="--settings") from None
    if not isinstance(data, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--settings")
    return data


def _board(value: str | None) -> str | dict[str, Any] | None:
    if value and value.lstrip().startswith("{"):
        return json.loads(value)
    return value


def _key_sink(warn: list[str], site: str = "", profile: str = "street") -> OnKey:
    def on_key(lamp_id: str, devaddr: int, key: bytes) -> None:
        from tools import pending_keys

        hook = KEY_HOOK
        if hook is None and os.environ.get("LAMPFLEET_CONFIG"):
            # The gateway registry named by $LAMPFLEET_CONFIG: the key is sealed there before the lamp
            # switches to it.
            from gateway.provisioning import registry_hook

            hook = registry_hook()
        if hook is None:
            # Before the lamp switches to the key: a key that cannot be kept must not reach the lamp.
            try:
                pending_keys.keep(lamp_id, devaddr, key, site, profile)
            except (OSError, ValueError) as e:
                raise ToolError(f"cannot keep {lamp_id}'s new key for the gateway: {e}",
                                f"check {pending_keys.pending_dir()} and {pending_keys.pubkey_path()}, or set "
                                "LAMPFLEET_CONFIG to register it directly", "key-not-kept") from None
            warn.append(lamp_id)
        else:
            hook(lamp_id, devaddr, key)
            pending_keys.clear(lamp_id)  # an older pending key of this lamp is no longer its key

    return on_key


def _warn_unregistered(warn: list[str] | None = None) -> None:
    """Warn about every lamp whose key waits for a registry (not only those of this run: a second run that
    finds a lamp up to date must still say so), after dropping those a reachable registry now holds."""
    from tools import pending_keys

    entries = pending_keys.pending()
    if entries and KEY_HOOK is None and os.environ.get("LAMPFLEET_CONFIG"):
        try:
            from gateway.provisioning import registered_key_checks

            pending_keys.settle(registered_key_checks([p.lamp_id for p in entries]))
            entries = pending_keys.pending()
        except Exception:  # noqa: BLE001 - the registry is unreachable: keep warning, never fail the run
            pass
    if entries:
        click.echo(pending_keys.warning(entries), err=True)


def _ports(ports: tuple[str, ...], all_ports: bool) -> list[str]:
    from tools.ports import find_lamp_ports

    found = list(ports)
    if all_ports:
        found += [p.device for p in find_lamp_ports() if p.device not in found]
    if not found:
        raise ToolError("no lamp found on any serial port",
                        "plug a lamp in, or name its port with --port (see `lampfleet device ports`)",
                        "no-such-port")
    return found


# --------------------------------------------------------------------------- flash
@click.command("flash")
@click.option("--port", "-p", "ports", multiple=True, envvar="LAMPFLEET_PORT", help="Serial port (repeat for a bench).")
@click.option("--all-ports", is_flag=True, help="Every connected ESP32 USB-serial adapter.")
@click.option("--lamp-id", "lamp_ids", multiple=True,
              help="Lamp id per port, in --port order; omit to keep each lamp's.")
@click.option("--site", default="", help="Site / district name.")
@click.option("--profile", type=click.Choice(["street", "kit"]), default="street", show_default=True)
@click.option("--settings", help="Config settings as JSON, or @file.json.")
@click.option("--board", help="Board file in firmware/boards (e.g. esp32_lamp_v1), or JSON; omit to keep the lamp's.")
@click.option("--firmware", "firmware_bin", type=click.Path(exists=True, dir_okay=False),
              help="MicroPython .bin to write first (new or erased boards).")
@click.option("--chip", help="Expected chip (esp32, esp32s3, esp32c3) for --firmware.")
@click.option("--baud", default=460800, show_default=True, help="esptool baud rate for --firmware.")
@click.option("--source", is_flag=True, help="Copy .py sources instead of .mpy.")
@click.option("--romfs/--no-romfs", default=True, show_default=True,
              help="Also put the app in the lamp's ROMFS partition, when it has one (runs from flash: more heap).")
@click.option("--new-key", is_flag=True, help="Replace the lamp's key even if it keeps its id.")
@click.option("--no-reset", is_flag=True, help="Do not reset and watch the boot afterwards.")
@click.option("--reset", "force_reset", is_flag=True, help="Reset and watch the boot even when up to date.")
@click.option("--boot-timeout", default=20.0, show_default=True, help="Seconds to wait for the boot line.")
@click.option("--connect-timeout", default=3.0, show_default=True, help="Seconds to wait for MicroPython's prompt.")
@click.option("--app-dir", type=click.Path(exists=True, file_okay=False, path_type=Path), envvar="LAMPFLEET_APP_DIR",
              help="Checkout whose firmware/ and telemetry/ to flash (default: this installation's).")
@click.option("--json", "as_json", is_flag=True, help="Print the report(s) as JSON.")
def flash_command(ports, all_ports, lamp_ids, site, profile, settings, board, firmware_bin, chip, baud, source,
                  romfs, new_key, no_reset, force_reset, boot_timeout, connect_timeout, app_dir, as_json):
    """Flash lamps: application (and MicroPython with --firmware), provisioning, then check the boot."""
    warn: list[str] = []
    try:
        port_list = _ports(ports, all_ports)
        if lamp_ids and len(lamp_ids) != len(port_list):
            raise ToolError(f"{len(lamp_ids)} lamp ids for {len(port_list)} ports",
                            "give one --lamp-id per --port, in the same order, or none", "bad-argument")
        kwargs = dict(site=site, profile=profile, settings=_settings(settings), board=_board(board),
                      firmware_bin=firmware_bin, chip=chip, baud=baud, source=source, romfs=romfs, new_key=new_key,
                      reset=not no_reset, force_reset=force_reset, boot_timeout=boot_timeout,
                      connect_timeout=connect_timeout, on_key=_key_sink(warn, site, profile))
        if app_dir:
            kwargs["repo"] = app_dir
    except ToolError as e:
        _fail(e, as_json)
        return
    ids: list[str | None] = list(lamp_ids) if lamp_ids else [None] * len(port_list)
    jobs: list[tuple[str, str | None]] = list(zip(port_list, ids))
    try:
        if len(jobs) == 1:
            _flash_one(jobs[0], kwargs, as_json)
        else:
            _flash_bench(jobs, kwargs, as_json)
    finally:  # also when some lamps of a bench failed: the others may have new keys
        _warn_unregistered(warn)


def _flash_one(job: tuple[str, str | None], kwargs: dict[str, Any], as_json: bool) -> None:
    from tools.flash import flash

    port, lamp_id = job
    try:
        if as_json or not sys.stderr.isatty():
            report = flash(port, lamp_id, **kwargs)
        else:
            report = _with_progress_bar(lambda progress: flash(port, lamp_id, progress=progress, **kwargs), port)
    except ToolError as e:
        _fail(e, as_json)
        return
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
        return
    click.echo(_summary(report))


def _summary(report: Any) -> str:
    who = report.lamp_id or "lamp"
    wire = report.bytes_out + report.bytes_in
    if report.status == "up-to-date":
        return f"{who} on {report.port}: up to date ({wire} bytes, {report.seconds:.1f} s)"
    text = (f"{who} on {report.port}: {report.status}, {len(report.written)} files written, "
            f"{len(report.deleted)} removed, {wire} bytes on the wire, {report.seconds:.1f} s")
    if report.reused or report.recovered:
        text += f" (resumed: {report.reused} files already staged, {report.recovered} steps finished)"
    boot = report.boot or {}
    if "version" in boot:
        text += f"\n  booted lampfleet {boot['version']} as {boot['lamp_id']} ({boot['reset_cause']})"
    elif boot.get("provisioned") is False:
        text += "\n  booted, but the lamp is not provisioned: run `lampfleet provision`"
    return text


def _with_progress_bar(run: Callable[[Callable[[str, int, int], None]], Any], port: str) -> Any:
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    from tools.bench import PHASES

    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), transient=True,
                  console=_stderr_console()) as bar:
        task = bar.add_task(f"{port}: connecting", total=None)

        def progress(phase: str, done: int, total: int) -> None:
            bar.update(task, description=f"{port}: {PHASES.get(phase, phase)}",
                       completed=done, total=total if phase in ("stage", "romfs") and total else None)

        return run(progress)


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


def _flash_bench(jobs: list[tuple[str, str | None]], kwargs: dict[str, Any], as_json: bool) -> None:
    from rich.live import Live
    from rich.table import Table

    from tools.bench import BenchRow, flash_many

    def table(rows: list[BenchRow]) -> Table:
        t = Table(title=f"flashing {len(rows)} lamps")
        for col in ("port", "lamp", "step", "%", "result"):
            t.add_column(col)
        style = {"failed": "red", "flashed": "green", "up-to-date": "cyan", "provisioned": "green"}
        for r in rows:
            t.add_row(r.port, r.lamp_id or "(kept)", r.phase, str(r.percent()),
                      f"[{style.get(r.status, 'white')}]{r.status}[/] {r.detail}")
        return t

    if as_json or not sys.stdout.isatty():
        rows = flash_many(jobs, **kwargs)
    else:
        holder: list[list[BenchRow]] = [[BenchRow(p, i) for p, i in jobs]]
        with Live(table(holder[0]), refresh_per_second=4) as live:
            def refresh(_row: BenchRow) -> None:
                live.update(table(holder[0]))

            rows = flash_many(jobs, on_update=refresh, **kwargs)
            holder[0] = rows
            live.update(table(rows))
    failed = [r for r in rows if r.status == "failed"]
    if as_json:
        click.echo(json.dumps([r.report.as_dict() if r.report else
                               {"port": r.port, "status": r.status, "error": {"message": r.detail}} for r in rows],
                              indent=2))
    else:
        for r in rows:
            click.echo(f"{r.port}\t{r.lamp_id or '-'}\t{r.status}\t{r.detail}")
        click.echo(f"{len(rows) - len(failed)} of {len(rows)} lamps done, {len(failed)} failed")
    if failed:
        sys.exit(1)


# --------------------------------------------------------------------------- provision
@click.command("provision")
@click.option("--port", "-p", required=True, envvar="LAMPFLEET_PORT", help="Serial port of the lamp.")
@click.option("--lamp-id", required=True, help="Lamp id, e.g. BGI-0042.")
@click.option("--site", default="", help="Site / district name.")
@click.option("--profile", type=click.Choice(["street", "kit"]), default="street", show_default=True)
@click.option("--settings", help="Config settings as JSON, or @file.json.")
@click.option("--devaddr", type=int, help="24-bit radio address (default: keep, or random for a new lamp).")
@click.option("--new-key", is_flag=True, help="Replace the key even if the lamp keeps its id.")
@click.option("--reset", is_flag=True, help="Reset the lamp afterwards and watch it boot.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def provision_command(port, lamp_id, site, profile, settings, devaddr, new_key, reset, as_json):
    """Give a lamp its identity and a fresh 128-bit key (never printed), without touching its code."""
    from tools.flash import flash

    warn: list[str] = []
    try:
        report = flash(port, lamp_id, site, profile, settings=_settings(settings), devaddr=devaddr, new_key=new_key,
                       on_key=_key_sink(warn, site, profile), code=False, reset=reset)
    except ToolError as e:
        _fail(e, as_json)
        return
    click.echo(json.dumps(report.as_dict(), indent=2) if as_json else _summary(report))
    _warn_unregistered(warn)


# --------------------------------------------------------------------------- device
@click.group("device")
def device_command() -> None:
    """Look at and change one lamp: info, logs, shell, reset, config."""


def _port_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--port", "-p", required=True, envvar="LAMPFLEET_PORT", help="Serial port of the lamp.")(f)


def _run(as_json: bool, fn: Callable[[], Any], show: Callable[[Any], str]) -> None:
    try:
        result = fn()
    except ToolError as e:
        _fail(e, as_json)
        return
    click.echo(json.dumps(result, indent=2, default=str) if as_json else show(result))


@device_command.command("ports")
@click.option("--json", "as_json", is_flag=True)
def device_ports(as_json):
    """List connected ESP32 USB-serial adapters."""
    from dataclasses import asdict

    from tools.ports import find_lamp_ports

    _run(as_json, lambda: [asdict(p) for p in find_lamp_ports()],
         lambda ps: "\n".join(f"{p['device']}\t{p['adapter']}\t{p['serial_number'] or ''}" for p in ps)
         or "no ESP32 adapter found")


@device_command.command("info")
@_port_option
@click.option("--json", "as_json", is_flag=True)
def device_info_cmd(port, as_json):
    """MicroPython and app version, identity (no key), free flash."""
    from tools.device import device_info

    def show(i: dict[str, Any]) -> str:
        cfg = i["config"] if isinstance(i["config"], dict) else {}
        return "\n".join([
            f"port        {i['port']}",
            f"micropython {i['micropython']} ({i['platform']}, mpy {i['mpy']})",
            f"app         {i['app_version'] or 'not installed'}",
            f"board       {i['board'] or '-'}",
            f"lamp        {cfg.get('lamp_id', 'not provisioned')} site={cfg.get('site', '-')} "
            f"profile={cfg.get('profile', '-')} devaddr={cfg.get('devaddr', '-')}",
            f"flash       {i['free_bytes']} of {i['total_bytes']} bytes free",
            f"unique id   {i['unique_id']}",
        ])

    _run(as_json, lambda: device_info(port), show)
    _warn_unregistered()


@device_command.command("logs")
@_port_option
@click.option("--seconds", type=float, help="Stop after this long (default: until Ctrl-C).")
@click.option("--reset", "reset_first", is_flag=True, help="Reset the lamp first, to see its boot.")
def device_logs(port, seconds, reset_first):
    """Print the lamp's console output as it runs."""
    from tools.device import stream_logs

    try:
        stream_logs(port, click.echo, seconds, reset_first)
    except KeyboardInterrupt:
        pass
    except ToolError as e:
        _fail(e, False)


@device_command.command("shell")
@_port_option
def device_shell(port):
    """Interactive MicroPython prompt on the lamp (Ctrl-] to leave)."""
    from serial.tools.miniterm import Miniterm

    from tools.repl import RawRepl

    try:
        repl = RawRepl.open(port)
    except ToolError as e:
        _fail(e, False)
        return
    term = Miniterm(repl.ser, echo=False, eol="lf", filters=["direct"])
    term.exit_character = chr(0x1D)
    term.set_rx_encoding("utf-8")
    term.set_tx_encoding("utf-8")
    click.echo(f"--- lamp on {port}: Ctrl-C interrupts the app, Ctrl-] leaves ---", err=True)
    term.start()
    repl.write(b"\r\x03")
    try:
        term.join(True)
    except KeyboardInterrupt:
        pass
    term.join()
    term.close()


@device_command.command("reset")
@_port_option
@click.option("--watch/--no-watch", default=True, show_default=True, help="Wait for the app's boot line.")
@click.option("--timeout", default=20.0, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def device_reset(port, watch, timeout, as_json):
    """Hard-reset the lamp (EN pin) and watch it boot."""
    from tools.device import reset

    def show(r: dict[str, Any]) -> str:
        if "version" in r:
            return f"booted lampfleet {r['version']} as {r['lamp_id']} ({r['reset_cause']})"
        if r.get("provisioned") is False:
            return "booted; the lamp is not provisioned"
        return f"reset ({r['reset']})"

    _run(as_json, lambda: reset(port, watch, timeout), show)


@device_command.group("config")
def device_config() -> None:
    """Read or change the lamp's /config.json (the key is never shown)."""


@device_config.command("get")
@_port_option
@click.option("--json", "as_json", is_flag=True)
def device_config_get(port, as_json):
    """Print the lamp's config, key redacted."""
    from tools.device import read_config

    _run(as_json, lambda: read_config(port),
         lambda c: json.dumps(c, indent=2) if c is not None else "not provisioned")


@device_config.command("set")
@_port_option
@click.argument("assignments", nargs=-1, required=True)
@click.option("--reset", is_flag=True, help="Reset the lamp afterwards and watch it boot.")
@click.option("--json", "as_json", is_flag=True)
def device_config_set(port, assignments, reset, as_json):
    """Change site, profile, devaddr or settings.NAME (KEY=VALUE ...), atomically."""
    from tools.device import parse_assignments, set_config

    _run(as_json, lambda: set_config(port, parse_assignments(list(assignments)), reset).as_dict(),
         lambda r: f"{r['lamp_id']}: config {'unchanged' if r['status'] == 'up-to-date' else 'updated'}")


@device_command.command("exec")
@_port_option
@click.argument("code")
def device_exec(port, code):
    """Run Python on the lamp and print its output."""
    from tools.device import run_code

    _run(False, lambda: run_code(port, code), lambda out: out.rstrip("\n"))
