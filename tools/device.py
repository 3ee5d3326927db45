"""Everyday operations on one lamp: info, console logs, reset, config get/set.

Library functions for `lampfleet device ...` (tools/cli.py is the thin layer). None of them prints a
key: configs leave this module through `tools.provision.redacted`.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Callable

from tools.devfs import DeviceFs
from tools.errors import DeviceError, ToolError
from tools.flash import FlashReport, OpenPort, flash, hard_reset, reset_and_watch
from tools.provision import CONFIG_PATH, PROFILES, OnKey, redacted
from tools.repl import RawRepl

APP_VERSION = """\
try:
    from firmware.version import FW_VERSION
    print(FW_VERSION)
except Exception:
    print('')
"""


@contextmanager
def session(port: str, open_port: OpenPort | None = None,
            soft_reset: bool = True) -> Iterator[tuple[RawRepl, DeviceFs]]:
    """A raw-REPL session; afterwards the lamp's app is restarted (a lamp must not stay at a prompt)."""
    repl = (open_port or RawRepl.open)(port)
    try:
        repl.enter_raw_repl(soft_reset=soft_reset)
        fs = DeviceFs(repl)
        fs.setup()
        yield repl, fs
    finally:
        if repl.in_raw_repl:
            try:
                repl.restart_app()
            except ToolError:
                pass
        repl.close()


def device_info(port: str, open_port: OpenPort | None = None) -> dict[str, Any]:
    """What runs on the lamp: MicroPython, app version, identity (no key), free flash."""
    with session(port, open_port) as (repl, fs):
        info = fs.info
        assert info is not None
        app = repl.exec(APP_VERSION).decode().strip() or None
        board = fs.read_json("/board.json")
        uid = repl.exec("import machine, binascii\nprint(binascii.hexlify(machine.unique_id()).decode())")
        return {
            "port": port,
            "micropython": info.version_text,
            "platform": info.platform,
            "mpy": info.mpy,
            "machine": info.machine,
            "unique_id": uid.decode().strip(),
            "free_bytes": info.free_bytes,
            "total_bytes": info.block * info.blocks,
            "app_version": app,
            "board": board.get("board") if isinstance(board, dict) else None,
            "config": redacted(fs.read_json(CONFIG_PATH)),
        }


def read_config(port: str, open_port: OpenPort | None = None) -> Any:
    with session(port, open_port) as (_, fs):
        return redacted(fs.read_json(CONFIG_PATH))


def parse_assignments(pairs: list[str]) -> dict[str, Any]:
    """`site=bangui-3e`, `profile=kit`, `settings.night_level_pct=70` -> a nested change dict."""
    import json

    changes: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ToolError(f"cannot read {pair!r}", "write KEY=VALUE, e.g. site=bangui-3e", "bad-argument")
        try:
            parsed: Any = json.loads(value)
        except ValueError:
            parsed = value
        if key.startswith("settings."):
            changes.setdefault("settings", {})[key[len("settings."):]] = parsed
        elif key in ("site", "profile", "devaddr"):
            changes[key] = parsed
        else:
            raise ToolError(f"{key} cannot be changed here",
                            "settable: site, profile, devaddr, settings.<name>; a new lamp id or key needs "
                            "`lampfleet provision`", "bad-argument")
    if "profile" in changes and changes["profile"] not in PROFILES:
        raise ToolError(f"unknown profile {changes['profile']!r}", f"choose one of: {', '.join(PROFILES)}",
                        "bad-argument")
    return changes


def set_config(port: str, changes: dict[str, Any], reset: bool = False,
               open_port: OpenPort | None = None) -> FlashReport:
    """Change site/profile/settings of a provisioned lamp, keeping its id and key (atomic, read back)."""
    current = _raw_config(port, open_port)
    if not isinstance(current, dict) or "lamp_id" not in current:
        raise ToolError(f"the lamp on {port} is not provisioned", "run `lampfleet provision` first",
                        "not-provisioned")
    settings = dict(current.get("settings") or {})
    settings.update(changes.get("settings", {}))
    return flash(port, current["lamp_id"], changes.get("site", current.get("site", "")),
                 changes.get("profile", current.get("profile", "street")), settings=settings,
                 devaddr=changes.get("devaddr"), code=False, reset=reset, open_port=open_port)


def _raw_config(port: str, open_port: OpenPort | None) -> Any:
    with session(port, open_port) as (_, fs):
        return fs.read_json(CONFIG_PATH)  # stays in this process; only lamp_id/site/profile are used


def reset(port: str, watch: bool = True, timeout: float = 20.0, open_port: OpenPort | None = None) -> dict[str, Any]:
    """Hard-reset the lamp; with `watch`, wait for the app's boot line."""
    repl = (open_port or RawRepl.open)(port)
    try:
        if watch:
            return reset_and_watch(repl, port, None, None, timeout)
        return {"reset": hard_reset(repl, port)}
    finally:
        repl.close()


def stream_logs(port: str, write: Callable[[str], None], seconds: float | None = None, reset_first: bool = False,
                open_port: OpenPort | None = None) -> None:
    """Copy the lamp's console output to `write` line by line, without interrupting the app."""
    repl = (open_port or RawRepl.open)(port)
    try:
        if reset_first:
            hard_reset(repl, port)
        deadline = None if seconds is None else time.monotonic() + seconds
        pending = b""
        while deadline is None or time.monotonic() < deadline:
            chunk = repl.read_some()
            if not chunk:
                continue
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                write(line.rstrip(b"\r").decode(errors="replace"))
        if pending:
            write(pending.decode(errors="replace"))
    finally:
        repl.close()


def run_code(port: str, code: str, open_port: OpenPort | None = None) -> str:
    """Run Python on the lamp (raw REPL, after a soft reset) and return what it printed."""
    with session(port, open_port) as (repl, _):
        try:
            return repl.exec(code, timeout=30).decode(errors="replace")
        except DeviceError as e:
            raise ToolError(e.message, "", "device-error") from e


def provision(
    port: str,
    lamp_id: str,
    site: str = "",
    profile: str = "street",
    *,
    settings: dict[str, Any] | None = None,
    devaddr: int | None = None,
    new_key: bool = False,
    on_key: OnKey | None = None,
    reset: bool = False,
    open_port: OpenPort | None = None,
) -> FlashReport:
    """Write the lamp's config only (code untouched): identity, a fresh key handed to `on_key`."""
    return flash(port, lamp_id, site, profile, settings=settings, devaddr=devaddr, new_key=new_key,
                 on_key=on_key, code=False, reset=reset, open_port=open_port)
