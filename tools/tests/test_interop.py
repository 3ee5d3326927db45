"""The tool and mpremote (PyPI, unmodified) agree about the same lamp's files."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

from tools.build import MpyTarget, board_data, build_app
from tools.flash import flash
from tools.provision import config_bytes
from tools.romfs import image as romfs_image
from tools.update import BOOT_PY

MPREMOTE = [sys.executable, "-m", "mpremote"]


def mpremote(port: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*MPREMOTE, "connect", port, "resume", *args], capture_output=True, text=True, timeout=60)


def test_files_written_by_the_tool_read_back_with_mpremote(make_lamp, bus, app_repo):
    lamp = make_lamp()
    board = bus.board("BGI-003")
    flash(lamp.pty_path, "BGI-003", "bangui-5e", board=board, repo=app_repo, boot_timeout=10)
    manifest = build_app(MpyTarget.from_sys_mpy(2822), app_repo)
    r = mpremote(lamp.pty_path, "cat", ":/board.json", "+", "sha256sum", ":/lib/telemetry/codec.mpy", ":/main.py")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(board_data(board).decode())
    assert hashlib.sha256(manifest.files["/lib/telemetry/codec.mpy"]).hexdigest() in r.stdout
    assert hashlib.sha256(manifest.files["/main.py"]).hexdigest() in r.stdout
    code = "import json; c = json.load(open('/config.json')); print(c['lamp_id'], c['devaddr'] > 0)"
    r = mpremote(lamp.pty_path, "exec", code)
    assert r.stdout.split() == ["BGI-003", "True"], r.stderr


def test_a_lamp_prepared_with_mpremote_cp_is_up_to_date(make_lamp, bus, app_repo, tmp_path: Path):
    lamp = make_lamp()
    board = bus.board("BGI-004")
    files = build_app(MpyTarget.from_sys_mpy(2822), app_repo)
    files.files["/boot.py"] = BOOT_PY
    files.files["/board.json"] = board_data(board)
    config = {"lamp_id": "BGI-004", "devaddr": 0x00ABCD, "key_hex": "00112233445566778899aabbccddeeff",
              "site": "bangui-5e", "profile": "street", "settings": {}}
    files.files["/config.json"] = config_bytes(config)
    root = tmp_path / "image"
    files.write_to(root)
    top = [str(p) for p in sorted(root.iterdir()) if p.is_file()]
    r = subprocess.run([*MPREMOTE, "connect", lamp.pty_path, "resume", "cp", *top, ":", "+",
                        "cp", "-r", str(root / "lib"), ":"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    # and the ROMFS partition with `mpremote romfs deploy` (the image tools/romfs.py would write)
    (tmp_path / "app.romfs").write_bytes(romfs_image(files.files))
    r = subprocess.run([*MPREMOTE, "connect", lamp.pty_path, "resume", "romfs", "deploy", str(tmp_path / "app.romfs")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "ROMFS image deployed" in r.stdout, r.stdout + r.stderr
    keys = []
    report = flash(lamp.pty_path, "BGI-004", "bangui-5e", board=board, repo=app_repo,
                   on_key=lambda *a: keys.append(a))
    assert report.status == "up-to-date", report.written
    assert report.romfs is not None and report.romfs["status"] == "up-to-date"
    assert keys == [] and json.loads((lamp.lamp_dir / "config.json").read_text()) == config
