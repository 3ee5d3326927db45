"""`lampfleet provision` and `lampfleet device ...` against an emulated lamp, through click."""
from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner

from tools import cli
from tools.flash import firmware_version, flash


@pytest.fixture
def flashed(make_lamp, bus, app_repo):
    lamp = make_lamp()
    flash(lamp.pty_path, "BGI-010", "bangui-5e", board=bus.board("BGI-010"), repo=app_repo, boot_timeout=10)
    return lamp


def run(*args: str):
    return CliRunner().invoke(cli.device_command, list(args))


def test_info_and_config_get_never_show_the_key(flashed, app_repo):
    key = json.loads((flashed.lamp_dir / "config.json").read_text())["key_hex"]
    r = run("info", "--port", flashed.pty_path, "--json")
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)
    assert info["app_version"] == firmware_version(app_repo) and info["config"]["lamp_id"] == "BGI-010"
    assert info["micropython"].startswith("1.") and info["board"] == "emulated" and info["free_bytes"] > 0
    text = run("info", "--port", flashed.pty_path)
    assert "BGI-010" in text.stdout and "site=bangui-5e" in text.stdout
    got = run("config", "get", "--port", flashed.pty_path)
    assert json.loads(got.stdout)["key_hex"] == "<redacted>"
    assert key not in r.output + text.output + got.output
    deadline = time.monotonic() + 5
    while flashed.last_boot != "soft_main" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert flashed.last_boot == "soft_main"  # the app was restarted after each look, not left at a prompt


def test_config_set_changes_settings_atomically_and_keeps_identity(flashed):
    before = json.loads((flashed.lamp_dir / "config.json").read_text())
    r = run("config", "set", "--port", flashed.pty_path, "site=bangui-3e", "settings.night_level_pct=70")
    assert r.exit_code == 0 and "config updated" in r.stdout, r.output
    after = json.loads((flashed.lamp_dir / "config.json").read_text())
    assert after["site"] == "bangui-3e" and after["settings"]["night_level_pct"] == 70
    assert (after["key_hex"], after["devaddr"], after["lamp_id"]) == (before["key_hex"], before["devaddr"], "BGI-010")
    bad = run("config", "set", "--port", flashed.pty_path, "key_hex=00")
    assert bad.exit_code == 1 and "provision" in bad.stderr


def test_reset_watches_the_boot_and_logs_stream(flashed, app_repo):
    r = run("reset", "--port", flashed.pty_path)
    assert r.exit_code == 0 and f"booted lampfleet {firmware_version(app_repo)} as BGI-010" in r.stdout, r.output
    logs = run("logs", "--port", flashed.pty_path, "--reset", "--seconds", "1.5")
    assert "POWERON_RESET" in logs.stdout and "BGI-010 booting" in logs.stdout


def test_exec_and_provision_command(make_lamp):
    lamp = make_lamp()
    r = run("exec", "--port", lamp.pty_path, "print(6 * 7)")
    assert r.stdout.strip() == "42"
    p = CliRunner().invoke(cli.provision_command, ["--port", lamp.pty_path, "--lamp-id", "BGI-011",
                                                    "--site", "bimbo", "--profile", "kit", "--json"])
    assert p.exit_code == 0, p.output
    report = json.loads(p.stdout)
    assert report["status"] == "provisioned" and report["written"] == ["/config.json"]
    cfg = json.loads((lamp.lamp_dir / "config.json").read_text())
    assert (cfg["lamp_id"], cfg["site"], cfg["profile"]) == ("BGI-011", "bimbo", "kit")
    assert cfg["key_hex"] not in p.output and "no registry received" in p.stderr


def test_provision_hands_the_key_to_the_registry_hook(make_lamp, monkeypatch):
    lamp = make_lamp()
    got = []
    monkeypatch.setattr(cli, "KEY_HOOK", lambda *a: got.append(a))
    p = CliRunner().invoke(cli.provision_command, ["--port", lamp.pty_path, "--lamp-id", "BGI-012"])
    assert p.exit_code == 0 and "no registry" not in p.stderr
    config = json.loads((lamp.lamp_dir / "config.json").read_text())
    assert got[0][0] == "BGI-012" and got[0][2].hex() == config["key_hex"]
