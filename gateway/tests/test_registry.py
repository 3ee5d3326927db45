"""Registry: fields, validation (kits never have coordinates), keys sealed at rest, CSV in and out."""
from __future__ import annotations

import io
import logging
import os
import sqlite3
import stat

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway import db
from gateway.keystore import KeyStore, KeyStoreError
from gateway.registry import Lamp, Registry, RegistryError
from gateway.registry_csv import export_csv, import_csv

KEY = bytes(range(16))


@pytest.fixture
def registry(tmp_path):
    conn = db.connect(tmp_path / "gw.sqlite3")
    yield Registry(conn)
    conn.close()


def test_master_key_file_is_created_private_and_keys_are_sealed_at_rest(tmp_path, registry):
    registry.add(Lamp("BGI-0001", 0x100001, KEY, site="bangui", district="Lakouanga", lat=4.36, lon=18.55))
    keyfile = tmp_path / "gw.sqlite3.masterkey"
    assert stat.S_IMODE(keyfile.stat().st_mode) == 0o600
    raw = sqlite3.connect(tmp_path / "gw.sqlite3").execute("SELECT key FROM lamps").fetchone()[0]
    assert KEY not in raw and KEY.hex() not in raw.hex() and raw.startswith(b"LK1")
    again = Registry(db.connect(tmp_path / "gw.sqlite3"))
    assert again.by_id("BGI-0001").key == KEY
    assert again.key_for_provisioning("BGI-0001") == KEY


def test_wrong_master_key_or_swapped_rows_fail_with_a_clear_message(tmp_path, registry):
    registry.add(Lamp("BGI-0001", 1, KEY))
    registry.add(Lamp("BGI-0002", 2, bytes(16)))
    other = tmp_path / "other.key"
    with pytest.raises(KeyStoreError, match="BGI-0001: stored key cannot be opened"):
        Registry(registry.conn, KeyStore.open(other))
    conn = registry.conn
    blob1 = conn.execute("SELECT key FROM lamps WHERE lamp_id='BGI-0001'").fetchone()[0]
    conn.execute("UPDATE lamps SET key=? WHERE lamp_id='BGI-0002'", (blob1,))
    with pytest.raises(KeyStoreError, match="copied from another lamp"):
        Registry(conn)


def test_an_empty_registry_already_refuses_another_master_key(tmp_path):
    """No lamp sealed under a key the gateway does not hold: a command run with only --db (master key beside
    the database) against a gateway whose key lives beside its settings is refused before it adds a lamp."""
    conn = db.connect(tmp_path / "gw.sqlite3")
    Registry(conn, KeyStore.open(tmp_path / "etc" / "master.key"))
    with pytest.raises(KeyStoreError, match="sealed under another master key than .*gw.sqlite3.masterkey"):
        Registry(conn)
    assert conn.execute("SELECT count(*) FROM lamps").fetchone()[0] == 0


def test_master_key_defaults_beside_the_settings_and_an_old_gateway_keeps_its_own(tmp_path):
    from gateway.settings import load

    etc, data = tmp_path / "etc", tmp_path / "data"
    etc.mkdir()
    (etc / "gateway.toml").write_text(f'[gateway]\ndatabase = "{data / "gw.sqlite3"}"\n')
    assert load(etc / "gateway.toml", env={}).master_key_path == etc / "master.key"
    data.mkdir()
    KeyStore.open(data / "gw.sqlite3.masterkey")  # set up before this default: it stays in use
    assert load(etc / "gateway.toml", env={}).master_key_path == data / "gw.sqlite3.masterkey"
    assert load(None, env={"LAMPFLEET_GATEWAY_DATABASE": str(data / "x.db")}).master_key_path == data / "x.db.masterkey"


def test_readable_master_key_file_is_refused(tmp_path):
    path = tmp_path / "k"
    KeyStore.open(path)
    os.chmod(path, 0o644)
    with pytest.raises(KeyStoreError, match="chmod 600"):
        KeyStore.open(path)


def test_plain_keys_of_an_old_database_are_sealed_on_open(tmp_path):
    conn = db.connect(tmp_path / "old.sqlite3")
    conn.execute("INSERT INTO lamps (lamp_id, devaddr, key) VALUES ('OLD-1', 5, ?)", (KEY,))
    reg = Registry(conn)
    assert reg.by_id("OLD-1").key == KEY
    assert conn.execute("SELECT key FROM lamps").fetchone()[0].startswith(b"LK1")


def test_keys_never_appear_in_repr_logs_or_public_views(registry, caplog):
    lamp = Lamp("BGI-0001", 1, KEY)
    with caplog.at_level(logging.DEBUG):
        registry.add(lamp)
    for text in (repr(lamp), str(lamp.public()), repr(registry.keystore), caplog.text):
        assert KEY.hex() not in text and str(KEY) not in text


@pytest.mark.parametrize("lamp, fragment", [
    (Lamp("KIT-1", 1, KEY, kind="kit", lat=4.3, lon=18.5), "district only, never coordinates"),
    (Lamp("BGI 1", 1, KEY), "lamp ID must be"),
    (Lamp("BGI-1", 0, KEY), "device address"),
    (Lamp("BGI-1", 1, KEY[:8]), "16 bytes"),
    (Lamp("BGI-1", 1, KEY, kind="pole"), "kind 'pole'"),
    (Lamp("BGI-1", 1, KEY, lat=4.3), "both lat and lon"),
    (Lamp("BGI-1", 1, KEY, lat=95.0, lon=1.0), "out of range"),
    (Lamp("BGI-1", 1, KEY, install_date="1/8/2026"), "YYYY-MM-DD"),
])
def test_invalid_lamps_are_refused_with_a_sentence(registry, lamp, fragment):
    with pytest.raises(RegistryError, match=fragment):
        registry.add(lamp)
    assert registry.all() == []


def test_duplicate_device_address_is_refused(registry):
    registry.add(Lamp("A", 7, KEY))
    with pytest.raises(RegistryError, match="already used by A"):
        registry.add(Lamp("B", 7, KEY))


def test_update_changes_metadata_but_never_makes_a_kit_locatable(registry):
    registry.add(Lamp("KIT-1", 9, KEY, kind="kit", district="Boy-Rabe"))
    registry.update("KIT-1", crew="sud")
    assert registry.by_id("KIT-1").crew == "sud"
    with pytest.raises(RegistryError, match="never coordinates"):
        registry.update("KIT-1", lat=4.0, lon=18.0)
    with pytest.raises(RegistryError, match="cannot change key"):
        registry.update("KIT-1", key=bytes(16))


def test_another_process_adding_lamps_is_seen_on_reload(tmp_path, registry):
    other = Registry(db.connect(tmp_path / "gw.sqlite3"))
    other.add(Lamp("NEW-1", 77, KEY))
    assert registry.changed_elsewhere()
    registry.reload()
    assert registry.by_devaddr(77).lamp_id == "NEW-1"
    assert not registry.changed_elsewhere()


# ------------------------------------------------------------------ CSV


def test_csv_export_has_no_keys_and_round_trips_metadata(registry, tmp_path):
    registry.add(Lamp("BGI-0001", 0x100001, KEY, site="bangui", district="Lakouanga", crew="nord", lat=4.3612,
                      lon=18.555, install_date="2026-07-30", profile="lifepo4_4s"))
    registry.add(Lamp("KIT-0001", 0x200001, bytes(16), kind="kit", site="bangui", district="Boy-Rabe", crew="sud"))
    out = io.StringIO()
    assert export_csv(registry.all(), out) == 2
    text = out.getvalue()
    assert "key" not in text.splitlines()[0] and KEY.hex() not in text
    assert "0x100001" in text and "4.3612" in text
    other = Registry(db.connect(tmp_path / "copy.sqlite3"))
    other.add(Lamp("BGI-0001", 0x100001, KEY))
    other.add(Lamp("KIT-0001", 0x200001, bytes(16), kind="kit"))
    assert import_csv(other, io.StringIO(text)) == {"added": 0, "updated": 2, "rekeyed": 0}
    assert [lp.public() | {"last_seen_s": None} for lp in other.all()] == \
        [lp.public() | {"last_seen_s": None} for lp in registry.all()]


def test_csv_import_adds_lamps_with_keys_and_rekeys(registry):
    text = ("lamp_id,devaddr,kind,district,key_hex\n"
            f"BGI-0009,0x100009,street,Lakouanga,{KEY.hex()}\n")
    assert import_csv(registry, io.StringIO(text)) == {"added": 1, "updated": 0, "rekeyed": 0}
    registry.by_id("BGI-0009").last_fcnt = 500
    rekey = f"lamp_id,devaddr,key_hex\nBGI-0009,0x100009,{'ab' * 16}\n"
    assert import_csv(registry, io.StringIO(rekey))["rekeyed"] == 1
    lamp = registry.by_id("BGI-0009")
    assert lamp.key == bytes.fromhex("ab" * 16) and lamp.last_fcnt is None and lamp.district == "Lakouanga"


@pytest.mark.parametrize("text, fragment", [
    ("lamp_id,devaddr,lat,lon\nKIT-1,0x1,4.3,18.5\n", "line 2: KIT-1: not registered"),
    ("lamp_id,devaddr,kind,lat,lon,key_hex\nKIT-1,0x1,kit,4.3,18.5," + KEY.hex() + "\n", "line 2: KIT-1: a safety kit"),
    ("lamp_id,devaddr,key_hex\nA,0x1,zz\n", "line 2: column key_hex must be 32 hexadecimal"),
    ("lamp_id,devaddr,colour\n", "unknown column"),
    ("lamp_id\n", "missing column(s) devaddr"),
    ("", "empty CSV"),
    ("lamp_id,devaddr,key_hex\nA,0x1," + KEY.hex() + "\nA,0x2," + KEY.hex() + "\n", "line 3: A: appears twice"),
    ("lamp_id,devaddr,key_hex\nA,0x1," + KEY.hex() + "\nB,0x1," + KEY.hex() + "\n", "also given to A"),
])
def test_bad_csv_changes_nothing_and_names_the_line(registry, text, fragment):
    with pytest.raises(RegistryError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        import_csv(registry, io.StringIO(text))
    assert registry.all() == []


_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)


@settings(derandomize=True, max_examples=150, deadline=None)
@given(st.lists(st.lists(_text, max_size=6), max_size=5), st.lists(_text, min_size=1, max_size=6))
def test_csv_import_never_crashes_on_arbitrary_input(tmp_path_factory, rows, header):
    import csv

    reg = Registry(db.connect(":memory:"))
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    try:
        import_csv(reg, io.StringIO(buf.getvalue()))
    except RegistryError:
        pass


def test_provisioning_hook_registers_and_rekeys(tmp_path):
    from gateway.provisioning import registry_hook
    from gateway.settings import Settings

    settings = Settings(database=tmp_path / "gw.sqlite3")
    hook = registry_hook(settings, site="bangui")
    hook("BGI-0042", 0x1234, KEY)
    hook("BGI-0042", 0x1234, KEY)  # same key again: no change
    reg = Registry(db.connect(settings.database))
    lamp = reg.by_id("BGI-0042")
    assert (lamp.devaddr, lamp.key, lamp.site) == (0x1234, KEY, "bangui")
    reg.conn.execute("UPDATE lamps SET last_fcnt=77")
    hook("BGI-0042", 0x1234, bytes(16))  # re-provisioned with a new key
    lamp = Registry(db.connect(settings.database)).by_id("BGI-0042")
    assert lamp.key == bytes(16) and lamp.last_fcnt is None and lamp.site == "bangui"


def test_csv_round_trip_keeps_last_fcnt(registry, tmp_path):
    registry.add(Lamp("BGI-0001", 0x100001, KEY, last_fcnt=70_000))
    registry.add(Lamp("BGI-0002", 0x100002, bytes(16)))
    out = io.StringIO()
    export_csv(registry.all(), out)
    text = out.getvalue()
    assert "last_fcnt" in text.splitlines()[0] and "70000" in text
    # a fresh gateway restored from the export (keys given, as for lamps provisioned elsewhere)
    fresh = Registry(db.connect(tmp_path / "restored.sqlite3"))
    lines = text.splitlines()
    keyed = [lines[0] + ",key_hex", lines[1] + "," + KEY.hex(), lines[2] + "," + bytes(16).hex()]
    assert import_csv(fresh, io.StringIO("\n".join(keyed) + "\n"))["added"] == 2
    assert fresh.by_id("BGI-0001").last_fcnt == 70_000 and fresh.by_id("BGI-0002").last_fcnt is None
    # a registered lamp that lost its counter takes it back; one that has a counter keeps its own
    lost = Registry(db.connect(tmp_path / "lost.sqlite3"))
    lost.add(Lamp("BGI-0001", 0x100001, KEY))
    lost.add(Lamp("BGI-0002", 0x100002, bytes(16), last_fcnt=5))
    again = "lamp_id,devaddr,last_fcnt\nBGI-0001,0x100001,70000\nBGI-0002,0x100002,99\n"
    assert import_csv(lost, io.StringIO(again)) == {"added": 0, "updated": 2, "rekeyed": 0}
    assert lost.by_id("BGI-0001").last_fcnt == 70_000 and lost.by_id("BGI-0002").last_fcnt == 5
    reopened = Registry(db.connect(tmp_path / "lost.sqlite3"))
    assert reopened.by_id("BGI-0001").last_fcnt == 70_000 and reopened.by_id("BGI-0001").key == KEY


@pytest.mark.parametrize("content", [b"\x00\xff\xfe\x01binary", b"lamp_id,devaddr\nA\x00,0x1\n", bytes(range(256))])
def test_binary_csv_gives_a_clear_error(registry, tmp_path, content):
    path = tmp_path / "lamps.csv"
    path.write_bytes(content)
    with open(path, newline="", encoding="utf-8") as f, pytest.raises(RegistryError, match="not a UTF-8 text CSV"):
        import_csv(registry, f)
    assert registry.all() == []
