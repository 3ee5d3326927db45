"""Flash one lamp: (MicroPython image), application, board data and provisioning, then prove it boots.

    report = flash("/dev/ttyUSB0", "BGI-0042", "bangui-5e", "street", board="esp32_lamp_v1")

1. `firmware_bin`: the MicroPython image through esptool (tools/image.py), for new or erased boards.
2. Connect over the raw REPL, soft-reset (boot.py runs, main.py does not: the app is stopped, heap clean),
   read what the lamp's MicroPython loads (`sys.implementation._mpy`), build the app for it (tools/build.py).
3. Compare sha256 of every device file with the build; stage, verify and commit only what differs, in one
   atomic switch (tools/update.py). On a lamp with a ROMFS partition the same code also goes there
   (tools/romfs.py: invalidated before the switch, written and verified after it), so that it runs in
   place from flash and leaves the heap to the link. /config.json (tools/provision.py) and /board.json ride in the same
   transaction, so code and config change together. A second run finds nothing to do ("up-to-date"),
   and an interrupted run resumes: staged files are kept, a committed switch is finished.
4. Reset (the EN pin: RTS on a UART bridge, the control socket on an emulated lamp; `machine.reset()` on
   native USB) and watch the console for `lampfleet <version> <lamp_id> booting (<cause>)`.

Errors are ToolErrors (tools/errors.py); the partial report rides on them as `.report`.
"""
from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from tools import errors
from tools.build import REPO, MpyTarget, board_data, build_app
from tools.devfs import DeviceFs
from tools.errors import ToolError
from tools.ports import describe_port, emulated_hard_reset
from tools.provision import CONFIG_PATH, OnKey, Provisioning, build_config, config_bytes
from tools.repl import RawRepl
from tools.romfs import RomPartition
from tools.romfs import image as romfs_image
from tools.update import STAGE, apply

MANAGED_DIRS = ("/lib/firmware", "/lib/telemetry", "/lib/umqtt", "/lib/lora")
BOOT_LINE = re.compile(rb"lampfleet (\S+) (\S+) booting \(([^)\r\n]*)\)")
NOT_PROVISIONED = b"lampfleet: not provisioned"
Progress = Callable[[str, int, int], None]
OpenPort = Callable[[str], RawRepl]


@dataclass
class FlashReport:
    port: str
    lamp_id: str | None = None
    status: str = "failed"  # flashed | provisioned | up-to-date | failed
    written: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    reused: int = 0
    recovered: int = 0
    file_bytes: int = 0
    bytes_out: int = 0
    bytes_in: int = 0
    seconds: float = 0.0
    fmt: str = ""
    device: dict[str, Any] = field(default_factory=dict)
    image: dict[str, Any] | None = None
    romfs: dict[str, Any] | None = None  # bytes, partition_bytes, status: written | up-to-date
    boot: dict[str, Any] | None = None
    key_registered: bool = False
    error: dict[str, str] | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)  # holds no key: configs are never part of a report


def firmware_version(repo: Path = REPO) -> str:
    text = (repo / "firmware" / "version.py").read_text()
    m = re.search(r"FW_VERSION\s*=\s*[\"']([^\"']+)", text)
    return m.group(1) if m else "?"


def flash(
    port: str,
    lamp_id: str | None = None,
    site: str = "",
    profile: str = "street",
    firmware_bin: str | Path | None = None,
    *,
    board: str | Mapping[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    devaddr: int | None = None,
    new_key: bool = False,
    on_key: OnKey | None = None,
    source: bool = False,
    code: bool = True,
    romfs: bool = True,
    reset: bool = True,
    force_reset: bool = False,
    reset_method: str = "auto",
    boot_timeout: float = 20.0,
    connect_timeout: float = 3.0,
    chip: str | None = None,
    baud: int = 460800,
    progress: Progress | None = None,
    open_port: OpenPort | None = None,
    repo: Path = REPO,
) -> FlashReport:
    """Bring the lamp on `port` to this repository's application and the given provisioning.

    `lamp_id=None` keeps the lamp's config; `code=False` writes the config only (provisioning);
    `board=None` keeps the lamp's /board.json; `romfs=False` leaves a ROMFS partition alone. Raises
    ToolError (with `.report`) on failure.
    """
    started = time.monotonic()
    report = FlashReport(port, lamp_id)
    prov = Provisioning(lamp_id, site, profile, dict(settings or {}), devaddr, new_key) if lamp_id else None
    repl: RawRepl | None = None
    note = progress or (lambda phase, done, total: None)
    try:
        if prov:
            prov.validate()
        if firmware_bin:
            from tools.image import write_image

            note("image", 0, 1)
            report.image = write_image(port, firmware_bin, chip, baud)
            wait_for_port(port, 10.0)
            note("image", 1, 1)
        note("connect", 0, 1)
        repl = (open_port or RawRepl.open)(port)
        repl.enter_raw_repl(soft_reset=True, timeout=max(connect_timeout, 10.0) if firmware_bin else connect_timeout)
        fs = DeviceFs(repl)
        info = fs.setup()
        report.device = {"micropython": info.version_text, "platform": info.platform, "mpy": info.mpy,
                         "machine": info.machine, "free_bytes": info.free_bytes}
        note("connect", 1, 1)

        files: dict[str, bytes] = {}
        rom: RomPartition | None = None
        rom_image = b""
        if code:
            target = MpyTarget.from_sys_mpy(info.mpy) if info.mpy is not None else None
            manifest = build_app(target, repo, source=source)
            report.fmt = manifest.fmt
            files.update(manifest.files)
            if romfs and manifest.fmt == "mpy":
                rom, rom_image = _stale_romfs(fs, manifest.files, report)
        if board is not None:
            files["/board.json"] = board_data(board, repo)
        cfg: dict[str, Any] | None = None
        key_new = False
        if prov:
            cfg, key_new = build_config(prov, fs.read_json(CONFIG_PATH), fs.read_json(STAGE + CONFIG_PATH))
            files[CONFIG_PATH] = config_bytes(cfg)

        def before_commit(changed: list[str]) -> None:
            if cfg is not None and key_new and CONFIG_PATH in changed and on_key is not None:
                on_key(cfg["lamp_id"], cfg["devaddr"], bytes.fromhex(cfg["key_hex"]))
                report.key_registered = True

        if rom is not None:
            rom.invalidate()  # from here until the image is whole again the lamp boots its /lib
        result = apply(fs, files, MANAGED_DIRS if code else (), note, before_commit)
        if rom is not None:
            sent = [0]

            def romfs_progress(n: int) -> None:
                sent[0] += n
                note("romfs", sent[0], len(rom_image))

            rom.write(rom_image, romfs_progress)
            assert report.romfs is not None
            report.romfs["status"] = "written"
            result.status = "updated"
        report.written, report.deleted = result.written, result.deleted
        report.reused, report.recovered, report.file_bytes = result.reused, result.recovered, result.staged_bytes
        if b"finished an interrupted update" in repl.boot_output:
            # boot.py completed a switch that an earlier run committed: the app changed, show it boots
            report.recovered = max(report.recovered, 1)
            result.status = "updated"
        if cfg is not None and fs.read_json(CONFIG_PATH) != cfg:
            raise ToolError("the lamp's /config.json does not read back as written", "run the command again",
                            "verify-failed")
        if force_reset or (reset and result.status == "updated"):
            note("boot", 0, 1)
            report.boot = reset_and_watch(repl, port, firmware_version(repo) if code else None,
                                          lamp_id, boot_timeout, reset_method)
            note("boot", 1, 1)
        report.status = "up-to-date" if result.status == "up-to-date" else ("flashed" if code else "provisioned")
        return report
    except ToolError as e:
        report.status = "failed"
        report.error = e.as_dict()
        e.report = report
        raise
    finally:
        if repl is not None:
            if repl.in_raw_repl:
                try:
                    repl.restart_app()
                except ToolError:
                    pass  # the link is gone: the lamp restarts its app at its next reset
            report.bytes_out, report.bytes_in = repl.bytes_out, repl.bytes_in
            repl.close()
        report.seconds = round(time.monotonic() - started, 3)


def _stale_romfs(fs: DeviceFs, files: Mapping[str, bytes], report: FlashReport) -> tuple[RomPartition | None, bytes]:
    """The lamp's ROMFS partition when its image differs from the app's (None: none, or up to date)."""
    part = RomPartition(fs)
    if part.partition is None:
        return None, b""
    data = romfs_image(files)
    report.romfs = {"bytes": len(data), "partition_bytes": part.partition.size, "status": "up-to-date"}
    if len(data) <= part.partition.size and part.holds(data):
        return None, data
    return part, data


def hard_reset(repl: RawRepl, port: str, method: str = "auto") -> str:
    """Reset the lamp like its EN button; return how it was done."""
    repl.during = "resetting the lamp"
    lamp_port = describe_port(port)
    if method in ("auto", "en") and lamp_port.emulated and emulated_hard_reset(port):
        repl.in_raw_repl = False
        return "en (emulated)"
    if method == "en" or (method == "auto" and not lamp_port.native_usb and lamp_port.vid is not None):
        try:
            repl.ser.dtr = False  # IO0 high: boot the app, not the ROM bootloader
            repl.ser.rts = True  # EN low: chip held in reset
            time.sleep(0.1)
            repl.ser.rts = False
            repl.in_raw_repl = False
            return "en"
        except (OSError, ValueError, AttributeError):
            if method == "en":
                raise ToolError(f"{port} has no RTS line to pulse EN",
                                "this adapter has no auto-reset wiring: press the lamp's EN/RST button",
                                "reset-failed") from None
    repl.exec_no_follow("import machine, time\ntime.sleep_ms(50)\nmachine.reset()\n")
    return "machine.reset()"


def reset_and_watch(
    repl: RawRepl,
    port: str,
    expect_version: str | None,
    expect_lamp: str | None,
    timeout: float = 20.0,
    method: str = "auto",
) -> dict[str, Any]:
    """Reset, then read the console until the firmware's boot line (or its failure) appears."""
    how = hard_reset(repl, port, method)
    repl.during = "waiting for the lamp to boot"
    deadline = time.monotonic() + timeout
    log = bytearray()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise errors.timeout(
                f"after {timeout:.0f} s without the boot line `lampfleet <version> <lamp> booting`",
                "watch the console with `lampfleet device logs --port " + port + "` to see where it stops")
        try:
            line = repl.read_until(b"\n", timeout=left)
        except ToolError as e:
            if e.kind != "timeout":
                raise
            log += e.partial
            continue
        log += line
        m = BOOT_LINE.search(line)
        if m:
            version, lamp, cause = (g.decode(errors="replace") for g in m.groups())
            if expect_version and version != expect_version:
                raise ToolError(f"the lamp booted firmware {version}, not {expect_version}",
                                "run the flash command again", "wrong-version")
            if expect_lamp and lamp != expect_lamp:
                raise ToolError(f"the lamp booted as {lamp}, not {expect_lamp}", "run the flash command again",
                                "wrong-lamp")
            return {"version": version, "lamp_id": lamp, "reset_cause": cause, "reset": how}
        if NOT_PROVISIONED in line:
            return {"provisioned": False, "reset": how}
        if b'Type "help()" for more information.' in line:
            break  # main.py ended: the REPL banner came instead of the lamp's loop
        if b"Traceback (most recent call last)" in log and not line.startswith((b" ", b"Traceback")):
            break
    text = bytes(log).decode(errors="replace").strip().splitlines()
    errline = next((ln for ln in reversed(text) if re.match(r"^\w+(Error|Exception|Interrupt)\b", ln)), "")
    hint = ("rebuild for the lamp's MicroPython (see the mpy-version hint) or pass --source"
            if "incompatible .mpy" in errline else
            "look at the lamp's console with `lampfleet device logs`; the app stopped before its boot line")
    raise ToolError(f"the lamp did not boot the app: {errline or (text[-1] if text else 'no output')}", hint,
                    "boot-failed")


def wait_for_port(port: str, timeout: float) -> None:
    """After a chip reset a native-USB port disappears and comes back (re-enumeration)."""
    deadline = time.monotonic() + timeout
    while "://" not in port and not os.path.exists(port) and time.monotonic() < deadline:
        time.sleep(0.1)
