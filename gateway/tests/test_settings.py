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
    ("[gateway]\nbroker_url = \"http://x\"\n", "use mqtts://"),
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


def test_sections_crews_and_env_overrides(tmp_path):
    path = tmp_path / "gw.toml"
    path.write_text("""
[gateway]
database = "var/x.sqlite3"
api_port = 8088
[detect]
loss_rate = 0.3
raise_after = 3
[alerts]
group_wait_s = 10
language = "en"
supervisor_urls = ["mailto://chef@example.org"]
[influx]
url = "http://127.0.0.1:8086"
[crews.nord]
urls = ["json://127.0.0.1/hook", "tgram://bot/123"]
language = "fr"
[crews.sud]
urls = ["atalk://user@key/+23670000000"]
""")
    s = load(path, env={"LAMPFLEET_INFLUX_TOKEN": "secret", "LAMPFLEET_ALERTS_REPEAT_INTERVAL_S": "7200",
                        "LAMPFLEET_ALERTS_SUPERVISOR_URLS": "json://a/b, json://c/d"})
    assert s.api_port == 8088 and str(s.database) == "var/x.sqlite3"
    assert s.master_key_path == path.parent / "master.key"  # beside the settings, not the database
    assert (s.detect.loss_rate, s.detect_settings().raise_after) == (0.3, 3)
    assert (s.alerts.group_wait_s, s.alerts.repeat_interval_s, s.alerts.language) == (10, 7200, "en")
    assert s.alerts.supervisor_urls == ["json://a/b", "json://c/d"]
    assert (s.influx.url, s.influx.token) == ("http://127.0.0.1:8086", "secret")
    assert sorted(s.crews) == ["nord", "sud"] and s.crews["nord"].urls[1] == "tgram://bot/123"


@pytest.mark.parametrize("text, fragment", [
    ("[colour]\nx = 1\n", "unknown section [colour]"),
    ("[detect]\nloss_rate = 1.5\n", "loss_rate must be between"),
    ("[detect]\nwhat = 1\n", "unknown detect setting 'what'"),
    ("[alerts]\nlanguage = \"sg\"\n", "language must be"),
    ("[crews.nord]\nurls = \"json://x\"\nlanguage = \"de\"\n", "language must be 'fr' or 'en'"),
    ("[crews]\nnord = 3\n", "must be a table"),
    ("[influx]\nurl = \"influx.local\"\n", "must start with http"),
    ("[storage]\nraw_retention_days = 0\n", "at least 1"),
    ("[alerts]\ngroup_wait_s = true\n", "group_wait_s"),
    ("[gateway]\nmqtt_protocol = 3\n", "mqtt_protocol"),
])
def test_bad_sections_are_explained(tmp_path, text, fragment):
    path = tmp_path / "gw.toml"
    path.write_text(text)
    with pytest.raises(SettingsError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        load(path, env={})


from hypothesis import given, settings as hsettings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_values = st.one_of(st.integers(-10, 10**6), st.floats(allow_nan=False, allow_infinity=False), st.booleans(),
                    st.text(max_size=20), st.lists(st.text(max_size=10), max_size=3))
_keys = st.sampled_from(["raise_after", "loss_rate", "group_wait_s", "language", "urls", "api_port", "clock",
                         "database", "bogus", "send_resolved", "supervisor_urls"])


@hsettings(derandomize=True, max_examples=300, deadline=None)
@given(section=st.sampled_from(["gateway", "detect", "alerts", "storage", "influx", "crews.x"]),
       values=st.dictionaries(_keys, _values, max_size=4))
def test_any_config_either_loads_or_raises_settings_error(tmp_path_factory, section, values):
    import tomllib

    lines = [f"[{section}]"] + [f"{k} = {_toml(v)}" for k, v in values.items()]
    path = tmp_path_factory.mktemp("cfg") / "gw.toml"
    path.write_text("\n".join(lines) + "\n")
    try:
        tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError:
        return
    try:
        load(path, env={})
    except SettingsError:
        pass


def _toml(v):
    import json

    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    return json.dumps(v)


def test_link_section(tmp_path):
    path = tmp_path / "gw.toml"
    path.write_text('[link]\nserial_ports = ["/dev/ttyUSB0", "/dev/ttyUSB1"]\nlorawan = "chirpstack"\n'
                    '[link.lorawan_devices]\n"70B3D57ED0000001" = "BGI-0001"\n')
    s = load(path)
    assert s.link.serial_ports == ["/dev/ttyUSB0", "/dev/ttyUSB1"]
    assert s.link.lorawan == "chirpstack" and s.link.lorawan_devices == {"70B3D57ED0000001": "BGI-0001"}
    path.write_text('[link]\nlorawan = "loriot"\n')
    with pytest.raises(SettingsError, match="lorawan"):
        load(path)
