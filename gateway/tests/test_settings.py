from __future__ import annotations

import pytest

from gateway.settings import SettingsError, load


def test_defaults_and_file_and_env(tmp_path):
    path = tmp_path / "gw.toml"
    path.write_text('[gateway]\nbroker_url = "mqtt://127.0.0.1:1999"\nraise_after = 3\n')
    s = load(path, env={"LAMPFLEET_GATEWAY_CLEAR_AFTER": "4"})
    assert s.broker_host_port == ("127.0.0.1", 1999)
    assert (s.raise_after, s.clear_after, s.clock) == (3, 4, "wall")


@pytest.mark.parametrize("text, fragment", [
    ("[gateway]\nnope = 1\n", "unknown gateway setting 'nope'"),
    ("[gateway]\nbroker_url = \"http://x\"\n", "only mqtt://"),
    ("[gateway]\nclock = \"moon\"\n", "clock must be"),
    ("[gateway\n", "gw.toml"),
])
def test_bad_files_give_clear_errors(tmp_path, text, fragment):
    path = tmp_path / "gw.toml"
    path.write_text(text)
    with pytest.raises(SettingsError, match=fragment.replace("[", r"\[")):
        load(path, env={})


def test_bad_env_value(tmp_path):
    with pytest.raises(SettingsError, match="raise_after"):
        load(None, env={"LAMPFLEET_GATEWAY_RAISE_AFTER": "many"})


def test_missing_file():
    with pytest.raises(SettingsError, match="not found"):
        load("/nonexistent/gw.toml", env={})
