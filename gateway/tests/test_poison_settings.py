"""Config files a careless operator may write: a clear one-line error from `lampfleet gateway`, never a
traceback."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from gateway.settings import SettingsError, load
from lampfleet.cli import cli


@pytest.mark.parametrize("content, fragment", [
    (b'[gateway]\ndatabase = "caf\xe9.db"\n', "is not UTF-8 text"),  # Latin-1, as an old editor saves it
    (b"\xff\xfe[\x00g\x00", "is not UTF-8 text"),  # UTF-16 with its byte order mark
    (b'[gateway]\napi_host = "0.0.0.0"\napi_port = 8080\n', "loopback only"),
])
def test_bad_config_files_give_one_clear_line(tmp_path, content, fragment):
    path = tmp_path / "gateway.toml"
    path.write_bytes(content)
    with pytest.raises(SettingsError, match=fragment):
        load(path, env={})
    result = CliRunner().invoke(cli, ["gateway", "--config", str(path)], env={"LAMPFLEET_CONFIG": None})
    assert result.exit_code != 0 and isinstance(result.exception, SystemExit)  # click's clean exit, no traceback
    assert fragment in result.output and "Traceback" not in result.output


def test_a_directory_as_config_file(tmp_path):
    with pytest.raises(SettingsError, match="cannot read it"):
        load(tmp_path, env={})
