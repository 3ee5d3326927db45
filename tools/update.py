"""Atomic application updates on a lamp: a lamp always boots one whole version, old or new.

"Never a mix" means: at every instant a cable pull or power cut can happen, the set of files main.py
would import on the next boot is entirely the old version or entirely the new one, and an interrupted
run can be finished by running it again. Per-file `write tmp + rename` is not enough (after 10 of 30
renames the lamp would boot a mix), and neither is "write /main.py last" (main.py does not change when
only a module does). So an update is a transaction with one commit point:

1. Stage: every changed file is written under /.lampfleet/stage/<device path> and verified by sha256
   (re-read from flash on the lamp). Nothing on sys.path changes; the lamp still boots the old version.
   A file already staged with the right hash by an interrupted run is not sent again.
2. Commit: a journal listing the moves (stage -> live path) and deletions (stale modules, e.g. a .py
   replaced by a .mpy, which would otherwise shadow it) is written to /.lampfleet/journal.tmp, verified,
   and renamed to /.lampfleet/journal. That rename is the commit point (LittleFS renames are atomic).
3. Roll forward: the moves and deletions are done and the journal removed. Each step is idempotent
   (a move whose source is gone is done), so doing it again after an interruption is safe.
4. /boot.py, which every MicroPython boot runs before main.py (and mpremote's soft reset too), rolls
   a pending journal forward first. A lamp that loses power between 2 and 3 therefore boots the new
   version, complete. /boot.py itself is installed before any journal exists, by an atomic
   stage-verify-rename of its own; it contains nothing else.

A change of a single file without deletions skips the journal: its one rename is already atomic.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Callable

from tools import errors
from tools.devfs import DeviceFs, blocks_for
from tools.errors import ToolError

STATE_DIR = "/.lampfleet"
STAGE = STATE_DIR + "/stage"
JOURNAL = STATE_DIR + "/journal"
JOURNAL_TMP = STATE_DIR + "/journal.tmp"
BOOT_PATH = "/boot.py"

# MicroPython, shared by /boot.py and the flash tool's own recovery step. Journal lines:
# "M <live path>" (move /.lampfleet/stage<live path> there) and "D <live path>" (delete); device paths
# never contain spaces (checked in apply()).
RECOVER_SRC = """\
def _lf_recover():
    import os
    try:
        f = open('/.lampfleet/journal')
    except OSError:
        return 0
    lines = f.read().split('\\n')
    f.close()
    n = 0
    for ln in lines:
        a = ln.split(' ')
        if a[0] == 'M':
            src = '/.lampfleet/stage' + a[1]
            try:
                os.stat(src)
            except OSError:
                continue
            q = ''
            for s in a[1].split('/')[1:-1]:
                q += '/' + s
                try:
                    os.mkdir(q)
                except OSError:
                    pass
            os.rename(src, a[1])
            n += 1
        elif a[0] == 'D':
            try:
                os.remove(a[1])
                n += 1
            except OSError:
                pass
    os.remove('/.lampfleet/journal')
    return n
"""

BOOT_PY = (
    "# lampfleet: finish an app update that a cable pull or power cut interrupted, before main.py\n"
    "# imports anything, so the lamp boots one whole version (written by the flash tool, tools/update.py).\n"
    + RECOVER_SRC
    + "try:\n"
    "    if _lf_recover():\n"
    "        print('lampfleet: finished an interrupted update')\n"
    "except Exception as e:\n"
    "    print('lampfleet: update recovery failed:', e)\n"
    "del _lf_recover\n"
).encode()

Progress = Callable[[str, int, int], None]  # (phase, done, total) with phase stage|commit|verify


@dataclass
class UpdateResult:
    status: str = "up-to-date"  # or "updated"
    written: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    reused: int = 0  # files staged by an interrupted run and not sent again
    recovered: int = 0  # steps of an interrupted commit finished at the start of this run
    staged_bytes: int = 0


def _under(path: str, dirs: tuple[str, ...]) -> bool:
    return any(path.startswith(d.rstrip("/") + "/") for d in dirs)


def recover(fs: DeviceFs, define: bool = True) -> int:
    """Finish a committed but interrupted update (what /boot.py does at boot)."""
    fs.repl.during = "finishing an interrupted update"
    out = fs.call((RECOVER_SRC if define else "") + "print(_lf_recover())\n", timeout=30)
    return int(out.strip() or 0)


def apply(
    fs: DeviceFs,
    files: dict[str, bytes],
    managed_dirs: tuple[str, ...] = (),
    progress: Progress | None = None,
    before_commit: Callable[[list[str]], None] | None = None,
) -> UpdateResult:
    """Make the lamp hold exactly `files` (plus /boot.py) and nothing else under `managed_dirs`.

    `before_commit(changed_paths)` runs after staging, before the commit point (e.g. key registration);
    if it raises, the lamp keeps the old version.
    """
    bad = [p for p in files if not p.startswith("/") or any(c.isspace() for c in p)]
    if bad:
        raise ValueError(f"device paths must be absolute and without spaces: {bad}")
    files = {BOOT_PATH: BOOT_PY, **files}
    want = {p: hashlib.sha256(d).hexdigest() for p, d in files.items()}
    result = UpdateResult()
    result.recovered = recover(fs)

    singles = [p for p in files if not _under(p, managed_dirs)]
    live = fs.hashes(*singles, *managed_dirs)
    staged = {p[len(STAGE):]: h for p, h in fs.hashes(STAGE).items()}
    changed = sorted((p for p in files if live.get(p) != want[p]), key=lambda p: (p == "/main.py", p))
    deletes = sorted(p for p in live if _under(p, managed_dirs) and p not in files)
    stale_stage = [STAGE + p for p, h in staged.items() if p not in changed or h != want.get(p)]
    if stale_stage:
        fs.remove(*stale_stage)  # from an interrupted run of another version: frees their space
    if not changed and not deletes:
        if staged:
            fs.rmtree(STATE_DIR + "/stage")
        return result

    result.status = "updated"
    result.written = changed
    result.deleted = deletes
    to_stage = [p for p in changed if staged.get(p) != want[p]]
    result.reused = len(changed) - len(to_stage)
    _check_space(fs, files, to_stage)

    total = sum(len(files[p]) for p in to_stage)
    done = 0

    def count(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress("stage", done, total)

    if BOOT_PATH in changed:  # the recovery hook goes in first, on its own
        _stage(fs, BOOT_PATH, files[BOOT_PATH], to_stage, count)
        fs.rename(STAGE + BOOT_PATH, BOOT_PATH)
        changed.remove(BOOT_PATH)
    for path in to_stage:
        if path != BOOT_PATH:
            _stage(fs, path, files[path], to_stage, count)
    result.staged_bytes = total

    if before_commit:
        before_commit(changed + deletes)
    if progress:
        progress("commit", 0, 2)
    if len(changed) == 1 and not deletes:
        fs.repl.during = "switching to the new version"
        fs.rename(STAGE + changed[0], changed[0])
        if progress:
            progress("commit", 1, 2)
    elif changed or deletes:
        journal = "".join(f"M {p}\n" for p in changed) + "".join(f"D {p}\n" for p in deletes)
        fs.write(JOURNAL_TMP, journal.encode())
        fs.repl.during = "switching to the new version"
        fs.rename(JOURNAL_TMP, JOURNAL)  # the commit point
        if progress:
            progress("commit", 1, 2)
        recover(fs, define=False)  # defined by the first recover() of this session
    if progress:
        progress("commit", 2, 2)

    fs.rmtree(STAGE)
    now = fs.hashes(*singles, *managed_dirs)
    wrong = [p for p in files if now.get(p) != want[p]] + [p for p in now if _under(p, managed_dirs) and p not in files]
    if wrong:
        raise ToolError(f"after the update, {len(wrong)} files on the lamp differ (first: {wrong[0]})",
                        "run the command again", "verify-failed")
    return result


def _stage(fs: DeviceFs, path: str, data: bytes, to_stage: list[str], count: Callable[[int], None]) -> None:
    if path in to_stage:
        fs.write(STAGE + path, data, progress=count)


def _check_space(fs: DeviceFs, files: dict[str, bytes], to_stage: list[str]) -> None:
    info = fs.info
    if info is None:
        return
    need = sum(blocks_for(len(files[p]), info.block) for p in to_stage) * info.block
    need += 4 * info.block  # journal, and the stage directories' metadata
    free = fs.free_bytes()
    if 0 <= free < need:
        raise errors.filesystem_full(need, free)
