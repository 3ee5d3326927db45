"""Flashing the real firmware/ and telemetry/ trees onto emulated lamps: full, no-op, update, bench."""
from __future__ import annotations

import json

from click.testing import CliRunner

from tools.bench import flash_many
from tools.build import MpyTarget, build_app
from tools.cli import flash_command
from tools.flash import MANAGED_DIRS, firmware_version, flash
from tools.tests.support import tree_hashes
from tools.update import BOOT_PY

SINGLES = ["/main.py", "/boot.py", "/board.json", "/config.json"]
UNIX_X64 = MpyTarget.from_sys_mpy(2822)


def flash_lamp(lamp, bus, repo, lamp_id="BGI-001", **kw):
    return flash(lamp.pty_path, lamp_id, "bangui-5e", "street", board=bus.board(lamp_id), repo=repo,
                 boot_timeout=10, **kw)


def test_full_flash_boots_and_second_run_is_a_noop(make_lamp, bus, app_repo, capsys):
    lamp = make_lamp()
    keys = []
    report = flash_lamp(lamp, bus, app_repo, on_key=lambda *a: keys.append(a))
    assert report.status == "flashed", report
    assert report.boot["version"] == firmware_version(app_repo) and report.boot["lamp_id"] == "BGI-001"
    assert report.boot["reset"] == "en (emulated)" and report.fmt == "mpy"

    manifest = build_app(UNIX_X64, app_repo)
    tree = tree_hashes(lamp.lamp_dir, SINGLES, MANAGED_DIRS)
    for path, digest in manifest.sha256().items():
        assert tree[path] == digest, path
    assert set(tree) == set(manifest.files) | {"/boot.py", "/board.json", "/config.json"}
    assert (lamp.lamp_dir / "boot.py").read_bytes() == BOOT_PY
    assert not (lamp.lamp_dir / ".lampfleet" / "stage").exists()

    # one fresh 128-bit key, handed to the hook, on the lamp, and nowhere in the report or output
    assert len(keys) == 1 and keys[0][0] == "BGI-001" and len(keys[0][2]) == 16
    key_hex = keys[0][2].hex()
    config = json.loads((lamp.lamp_dir / "config.json").read_text())
    assert config["key_hex"] == key_hex and config["devaddr"] == keys[0][1] and 0 < config["devaddr"] < 1 << 24
    assert key_hex not in json.dumps(report.as_dict()) and key_hex not in "".join(capsys.readouterr())

    again = flash_lamp(lamp, bus, app_repo, on_key=lambda *a: keys.append(a))
    assert again.status == "up-to-date" and again.written == [] and again.deleted == [] and again.boot is None
    assert len(keys) == 1  # same lamp id: same key, nothing to register
    assert tree_hashes(lamp.lamp_dir, SINGLES, MANAGED_DIRS) == tree

    # --reset on an up-to-date lamp, through machine.reset() (what native-USB boards get)
    checked = flash_lamp(lamp, bus, app_repo, force_reset=True, reset_method="machine")
    assert checked.status == "up-to-date" and checked.boot["reset"] == "machine.reset()"
    assert lamp.last_boot == "sw_reset"


def test_update_from_previous_release_removes_retired_modules(make_lamp, bus, app_repo, old_repo):
    lamp = make_lamp()
    old = flash_lamp(lamp, bus, old_repo)
    assert old.boot["version"] == "0.0.9"
    assert (lamp.lamp_dir / "lib" / "firmware" / "legacy.mpy").exists()
    key = json.loads((lamp.lamp_dir / "config.json").read_text())["key_hex"]
    new = flash_lamp(lamp, bus, app_repo)
    assert new.status == "flashed" and new.boot["version"] == firmware_version(app_repo)
    assert new.deleted == ["/lib/firmware/legacy.mpy"]
    assert "/config.json" not in new.written  # same provisioning: the config is untouched, key kept
    assert json.loads((lamp.lamp_dir / "config.json").read_text())["key_hex"] == key


def test_source_mode_then_mpy_replaces_every_py(make_lamp, bus, app_repo):
    lamp = make_lamp(heapsize="160K")  # compiling the sources on the lamp needs more than the ESP32's heap
    src = flash_lamp(lamp, bus, app_repo, source=True)
    assert src.fmt == "py" and src.boot["version"] == firmware_version(app_repo)
    mpy = flash_lamp(lamp, bus, app_repo)
    assert mpy.fmt == "mpy"
    sources = [p for p in build_app(None, app_repo).files if p.startswith("/lib/") and p.endswith(".py")]
    assert sorted(mpy.deleted) == sorted(sources)
    assert not list((lamp.lamp_dir / "lib").rglob("*.py"))


def test_provision_only_keeps_code_and_rekeys_on_request(make_lamp, bus, app_repo):
    lamp = make_lamp()
    flash_lamp(lamp, bus, app_repo)
    code_before = tree_hashes(lamp.lamp_dir, ["/main.py"], MANAGED_DIRS)
    keys = []
    r = flash(lamp.pty_path, "BGI-001", "bangui-3e", "kit", code=False, new_key=True, on_key=lambda *a: keys.append(a))
    assert r.status == "provisioned" and r.written == ["/config.json"] and r.key_registered
    cfg = json.loads((lamp.lamp_dir / "config.json").read_text())
    assert cfg["site"] == "bangui-3e" and cfg["profile"] == "kit" and cfg["key_hex"] == keys[0][2].hex()
    assert tree_hashes(lamp.lamp_dir, ["/main.py"], MANAGED_DIRS) == code_before


def test_bench_of_three_lamps_in_parallel(make_lamp, bus, app_repo):
    lamps = [make_lamp(f"lamp{i}") for i in range(3)]
    jobs = [(lamp.pty_path, f"BGI-10{i}") for i, lamp in enumerate(lamps)]
    rows = flash_many(jobs, site="bangui-5e", board={"board": "emulated", "bus": bus.address}, repo=app_repo,
                      boot_timeout=15)
    assert [r.status for r in rows] == ["flashed"] * 3, [r.detail for r in rows]
    assert [r.report.boot["lamp_id"] for r in rows] == ["BGI-100", "BGI-101", "BGI-102"]
    # the CLI's bench mode: a second pass is all up to date; a bad port fails alone
    result = CliRunner().invoke(flash_command, [a for lamp, (_, lid) in zip(lamps, jobs)
                                                for a in ("--port", lamp.pty_path, "--lamp-id", lid)]
                                + ["--port", "/dev/nonexistent-lamp", "--lamp-id", "BGI-999",
                                   "--site", "bangui-5e", "--app-dir", str(app_repo), "--json"])
    assert result.exit_code == 1
    out = json.loads(result.stdout)
    assert [r["status"] for r in out] == ["up-to-date"] * 3 + ["failed"]
    assert out[3]["error"]["kind"] == "no-such-port"


def test_cli_flash_json_report(make_lamp, bus, app_repo):
    lamp = make_lamp()
    args = ["--port", lamp.pty_path, "--lamp-id", "BGI-002", "--site", "bangui-5e",
            "--board", json.dumps(bus.board("BGI-002")), "--json"]
    result = CliRunner().invoke(flash_command, args, env={"LAMPFLEET_APP_DIR": str(app_repo)})
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["status"] == "flashed" and report["boot"]["lamp_id"] == "BGI-002"
    assert "warning: BGI-002 has a new key" in result.stderr
