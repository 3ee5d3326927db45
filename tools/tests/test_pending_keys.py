"""Every new key reaches the registry: flash without a registry, the key sealed for the gateway, the
warning on every later run, `lampfleet lamps import` at the gateway, the lamp registered with its key."""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from click.testing import CliRunner

from gateway import db
from gateway.cli import lamps as cli_lamps
from gateway.keystore import KeyStore
from gateway.registry import Registry
from tools import cli


def _gateway(tmp_path: Path) -> tuple[Path, Path]:
    database = tmp_path / "gw" / "gw.sqlite3"
    config = tmp_path / "gw" / "gateway.toml"
    config.parent.mkdir()
    config.write_text(f'[gateway]\ndatabase = "{database}"\n')
    pub = CliRunner().invoke(cli_lamps.command, ["export-pubkey", os.environ["LAMPFLEET_PUBKEY_FILE"],
                                                 "--config", str(config)])
    assert pub.exit_code == 1 and "not found" in pub.output  # no master key yet: said, not a traceback
    db.connect(database).close()
    KeyStore.open(Path(str(database) + ".masterkey"))
    pub = CliRunner().invoke(cli_lamps.command, ["export-pubkey", os.environ["LAMPFLEET_PUBKEY_FILE"],
                                                 "--config", str(config)])
    assert pub.exit_code == 0, pub.output
    return config, database


def _registered(database: Path) -> Registry:
    return Registry(db.connect(database), KeyStore.open(Path(str(database) + ".masterkey"), create=False))


def test_flash_without_registry_seals_the_key_warns_until_imported(make_lamp, bus, app_repo, tmp_path, monkeypatch):
    config, database = _gateway(tmp_path)
    lamp = make_lamp()
    env = {"LAMPFLEET_APP_DIR": str(app_repo)}
    args = ["--port", lamp.pty_path, "--lamp-id", "BGI-020", "--site", "bimbo",
            "--board", json.dumps(bus.board("BGI-020"))]
    first = CliRunner().invoke(cli.flash_command, args, env=env)
    assert first.exit_code == 0, first.output
    key_hex = json.loads((lamp.lamp_dir / "config.json").read_text())["key_hex"]
    sealed = Path(os.environ["LAMPFLEET_PENDING_KEYS"]) / "BGI-020.lfkey"
    data = sealed.read_bytes()
    assert key_hex not in data.decode().lower() and bytes.fromhex(key_hex) not in data
    assert stat.S_IMODE(sealed.stat().st_mode) == 0o600
    assert "BGI-020 is not registered yet" in first.stderr and str(sealed) in first.stderr
    assert key_hex not in first.output

    again = CliRunner().invoke(cli.flash_command, args, env=env)
    assert again.exit_code == 0 and "up to date" in again.stdout, again.output
    assert "BGI-020 is not registered yet" in again.stderr  # a second run still says so
    info = CliRunner().invoke(cli.device_command, ["info", "--port", lamp.pty_path])
    assert info.exit_code == 0 and "BGI-020 is not registered yet" in info.stderr

    imported = CliRunner().invoke(cli_lamps.command, ["import", str(sealed.parent), "--config", str(config), "--json"])
    assert imported.exit_code == 0, imported.output
    assert json.loads(imported.stdout) == {"added": 1, "rekeyed": 0, "unchanged": 0}
    registry = _registered(database)
    got = registry.by_id("BGI-020")
    assert got is not None and got.key.hex() == key_hex and got.site == "bimbo"
    assert got.devaddr == json.loads((lamp.lamp_dir / "config.json").read_text())["devaddr"]
    registry.conn.close()
    twice = CliRunner().invoke(cli_lamps.command, ["import", str(sealed), "--config", str(config), "--json"])
    assert json.loads(twice.stdout)["unchanged"] == 1

    # With the registry reachable, the tool sees the lamp holds the registered key and drops the file.
    monkeypatch.setenv("LAMPFLEET_CONFIG", str(config))
    settled = CliRunner().invoke(cli.flash_command, args, env=env)
    assert settled.exit_code == 0 and "not registered" not in settled.stderr, settled.output
    assert not sealed.exists()


def test_without_public_key_a_note_repeats_until_a_rekey_seals_it(make_lamp, tmp_path):
    lamp = make_lamp()
    args = ["--port", lamp.pty_path, "--lamp-id", "BGI-021"]
    first = CliRunner().invoke(cli.provision_command, args)
    assert first.exit_code == 0 and "BGI-021 has a new key that no registry received" in first.stderr
    note = Path(os.environ["LAMPFLEET_PENDING_KEYS"]) / "BGI-021.unregistered"
    key_hex = json.loads((lamp.lamp_dir / "config.json").read_text())["key_hex"]
    assert key_hex not in note.read_text()
    again = CliRunner().invoke(cli.provision_command, args)
    assert "up to date" in again.stdout and "BGI-021 has a new key" in again.stderr

    config, database = _gateway(tmp_path)  # the technician gets the gateway's public key
    rekey = CliRunner().invoke(cli.provision_command, [*args, "--new-key"])
    assert rekey.exit_code == 0 and "BGI-021 is not registered yet" in rekey.stderr, rekey.output
    assert not note.exists() and note.with_suffix(".lfkey").exists()
    new_hex = json.loads((lamp.lamp_dir / "config.json").read_text())["key_hex"]
    assert new_hex != key_hex

    # a sealed file whose clear fields were changed (another lamp's name) does not open: nothing imported
    forged = tmp_path / "forged.lfkey"
    forged.write_text(note.with_suffix(".lfkey").read_text().replace("BGI-021", "BGI-666"))
    bad = CliRunner().invoke(cli_lamps.command, ["import", str(note.with_suffix(".lfkey")), str(forged),
                                                 "--config", str(config)])
    assert bad.exit_code == 1 and "altered" in bad.output and "nothing was imported" in bad.output
    ok = CliRunner().invoke(cli_lamps.command, ["import", str(note.with_suffix(".lfkey")), "--config", str(config)])
    assert ok.exit_code == 0, ok.output
    registry = _registered(database)
    assert [lp.lamp_id for lp in registry.all()] == ["BGI-021"] and registry.by_id("BGI-021").key.hex() == new_hex
    registry.conn.close()
