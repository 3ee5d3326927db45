"""The application in an emulated lamp's ROMFS partition (tools/romfs.py over the real raw REPL; the
partition is `vfs.rom_ioctl` of emulator/upy_shim/romvfs.py): written and verified, up to date the
second time, run in place from /rom, and leaving the heap room for the link."""
from __future__ import annotations

import time

from tools.build import MpyTarget, build_app
from tools.flash import flash
from tools.romfs import image
from tools.tests.test_interop import mpremote

UNIX_X64 = MpyTarget.from_sys_mpy(2822)
PROBE = ("import sys; m = sys.modules; print(repr(m.get('firmware.shell.app')).split(\"'\")[-2], "
         "'firmware.link.link' in m)")


def _flash(lamp, bus, repo, **kw):
    return flash(lamp.pty_path, "BGI-021", "bangui-5e", "street", board=bus.board("BGI-021"), repo=repo,
                 boot_timeout=15, **kw)


def _running(lamp) -> tuple[str, bool]:
    time.sleep(2)  # a few loops of the app after its boot
    r = mpremote(lamp.pty_path, "exec", PROBE)
    where, link = r.stdout.split()
    return where, link == "True"


def test_the_app_runs_from_romfs_with_its_link(make_lamp, bus, app_repo):
    lamp = make_lamp()
    report = _flash(lamp, bus, app_repo)
    app = image(build_app(UNIX_X64, app_repo).files)
    assert report.romfs == {"bytes": len(app), "partition_bytes": 256 * 1024, "status": "written"}
    assert lamp.rom_file is not None and lamp.rom_file.read_bytes()[:len(app)] == app
    assert _running(lamp) == ("/rom/firmware/shell/app.mpy", True)
    again = _flash(lamp, bus, app_repo)
    assert again.status == "up-to-date" and again.romfs["status"] == "up-to-date"


def test_without_romfs_the_app_runs_from_lib_without_its_link(make_lamp, bus, app_repo):
    lamp = make_lamp(romfs=False)
    report = _flash(lamp, bus, app_repo)
    assert report.status == "flashed" and report.romfs is None
    assert _running(lamp) == ("/lib/firmware/shell/app.mpy", False)
    rom_lamp = make_lamp("rom")
    assert _flash(rom_lamp, bus, app_repo, romfs=False).romfs is None  # --no-romfs leaves it alone
    assert rom_lamp.rom_file.read_bytes()[:3] != b"\xd2\xcd\x31"
