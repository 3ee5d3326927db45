"""Cable pulls at seeded-random points: the lamp boots the old or the new version, and a rerun finishes.

The pull is the port closed from another thread once the link has carried N bytes (both directions),
as a technician's cable coming out; N is drawn with a fixed seed over a reference run's byte count,
plus points around the commit: while the journal is written, while it is renamed (the commit point),
while the roll-forward runs, and while the ROMFS image is written after it (the lamp's flash copied
and restored includes its partition).
"""
from __future__ import annotations

import random
import re
import shutil
import threading
import time
from typing import Any

import pytest
import serial

from emulator.console import SerialLamp
from tools.errors import ToolError
from tools.flash import BOOT_LINE, MANAGED_DIRS, firmware_version, flash
from tools.repl import RawRepl
from tools.tests.support import tree_hashes

SINGLES = ["/main.py", "/boot.py", "/board.json", "/config.json"]


class CablePull:
    """Opens ports like RawRepl.open; a watcher thread closes the port once `at` bytes have crossed."""

    def __init__(self, at: int) -> None:
        self.at = at
        self.pulled = False

    def __call__(self, port: str) -> RawRepl:
        repl = RawRepl.open(port)

        def watch() -> None:
            while repl.ser.is_open:
                if repl.bytes_out + repl.bytes_in >= self.at:
                    self.pulled = True
                    repl.ser.close()
                    return
                time.sleep(0.0002)

        threading.Thread(target=watch, daemon=True).start()
        return repl


class Recorder:
    """Opens ports normally and notes the byte counts at the commit steps: journal write starts (0),
    journal renamed = committed (1), roll-forward done (2)."""

    def __init__(self) -> None:
        self.repl: RawRepl | None = None
        self.marks: dict[int, int] = {}

    def open(self, port: str) -> RawRepl:
        self.repl = RawRepl.open(port)
        return self.repl

    def progress(self, phase: str, done: int, total: int) -> None:
        if phase == "commit" and self.repl:
            self.marks[done] = self.repl.bytes_out + self.repl.bytes_in


def save_flash(src, dest) -> None:
    """Copy a lamp's whole flash: its filesystem and its ROMFS partition (emulator/console.py)."""
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(src, dest)
    rom = src.with_name(src.name + ".romfs")
    if rom.exists():
        shutil.copyfile(rom, dest.with_name(dest.name + ".romfs"))


def boot_version(lamp: SerialLamp) -> str:
    """Power-cycle the lamp and read the version from its boot line."""
    with serial.Serial(lamp.pty_path, timeout=0.1) as ser:
        lamp.hard_reset()
        data = b""
        deadline = time.monotonic() + 10
        while not BOOT_LINE.search(data):
            assert time.monotonic() < deadline, f"no boot line in {data[-500:]!r}"
            data += ser.read(max(1, ser.in_waiting))
    m = BOOT_LINE.search(data)
    assert m is not None
    return m.group(1).decode()


def test_cable_pull_never_boots_a_mix_and_a_rerun_finishes(tmp_path, bus, app_repo, old_repo):
    lamp_dir = tmp_path / "lamp"
    template = tmp_path / "template"
    new_version = firmware_version(app_repo)
    kwargs: dict[str, Any] = dict(site="bangui-5e", profile="street", board=bus.board("BGI-007"), boot_timeout=10,
                          connect_timeout=10)  # a loaded CI machine once took over 3 s to answer a fresh lamp

    with SerialLamp(lamp_dir) as lamp:
        lamp.wait_ready()
        flash(lamp.pty_path, "BGI-007", repo=old_repo, **kwargs)
    save_flash(lamp_dir, template)
    old_tree = tree_hashes(template, SINGLES, MANAGED_DIRS)

    rec = Recorder()
    with SerialLamp(lamp_dir) as lamp:
        lamp.wait_ready()
        reference = flash(lamp.pty_path, "BGI-007", repo=app_repo, open_port=rec.open, progress=rec.progress,
                          **kwargs)
    new_tree = tree_hashes(lamp_dir, SINGLES, MANAGED_DIRS)
    total = reference.bytes_out + reference.bytes_in
    journal_at, committed_at, rolled_at = rec.marks[0], rec.marks[1], rec.marks[2]
    assert reference.status == "flashed" and 0 < journal_at < committed_at < rolled_at < total
    assert new_tree != old_tree

    rng = random.Random(20240611)
    points = sorted(rng.sample(range(100, journal_at), 2)) + [
        journal_at + 40, committed_at - 30, committed_at + 20, (committed_at + rolled_at) // 2, rolled_at + 60]
    # and while the ROMFS image is written after the switch (tools/romfs.py): its body, then its header
    points += [rolled_at + (total - rolled_at) // 3, total - 1500]
    for i, at in enumerate(points):
        save_flash(template, lamp_dir)
        with SerialLamp(lamp_dir) as lamp:
            lamp.wait_ready()
            pull = CablePull(at)
            with pytest.raises(ToolError) as err:
                flash(lamp.pty_path, "BGI-007", repo=app_repo, open_port=pull, **kwargs)
            assert pull.pulled and err.value.kind == "link-lost", (at, err.value.render())
            if i % 2 == 0:  # power cut too: whatever boots must be one whole version
                version = boot_version(lamp)
                tree = tree_hashes(lamp_dir, SINGLES, MANAGED_DIRS)
                assert (version, tree) in [("0.0.9", old_tree), (new_version, new_tree)], f"mix after a pull at {at}"
            rerun = flash(lamp.pty_path, "BGI-007", repo=app_repo, **kwargs)
            print(f"pull at {at}/{total} (commit {rec.marks}): rerun {rerun.status}, "
                  f"{len(rerun.written)} written, {rerun.reused} reused, {rerun.recovered} recovered")
            # an up-to-date rerun restarts the app without a reset; power-cycle to see what it boots
            assert (rerun.boot["version"] if rerun.boot else boot_version(lamp)) == new_version, at
            assert tree_hashes(lamp_dir, SINGLES, MANAGED_DIRS) == new_tree, at
            if at > journal_at:
                rom_rewritten = (rerun.romfs or {}).get("status") == "written"  # invalidated before the switch
                assert rerun.reused > 0 or rerun.recovered > 0 or rerun.status == "up-to-date" or rom_rewritten, at
    assert re.match(r"\d", new_version)
