"""`lampfleet lamps import`: bad files are refused in words (binary CSV, empty folder of sealed keys)."""
from __future__ import annotations

from click.testing import CliRunner

from gateway.cli import lamps as cli_lamps


def test_binary_csv_and_empty_key_folder_are_refused_plainly(tmp_path):
    db = str(tmp_path / "gw.sqlite3")
    blob = tmp_path / "lamps.csv"
    blob.write_bytes(b"\xff\xfe\x00binary\x00\x81")
    r = CliRunner().invoke(cli_lamps.command, ["import", str(blob), "--db", db])
    assert r.exit_code == 1 and "not a UTF-8 text CSV" in r.output and "Traceback" not in r.output
    empty = tmp_path / "pending"
    empty.mkdir()
    r = CliRunner().invoke(cli_lamps.command, ["import", str(empty), "--db", db])
    assert r.exit_code == 1 and "no .lfkey files" in r.output
