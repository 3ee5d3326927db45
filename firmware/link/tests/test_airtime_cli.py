"""`lampfleet airtime` (lampfleet/airtime.py) prints the Semtech figures and the profile's budget. CPython only."""
import json

from click.testing import CliRunner

from lampfleet.airtime import command


def run(*args):
    result = CliRunner().invoke(command, list(args))
    return result.exit_code, result.output


def test_json_figures_for_the_default_street_profile():
    code, out = run("--bytes", "24", "--sf", "9", "--sf", "12", "--json")
    assert code == 0
    rows = {r["sf"]: r for r in json.loads(out)["results"]}
    assert rows[12]["time_on_air_ms"] == 1482.752  # the TTN / Semtech value for 24 bytes at SF12
    assert rows[9]["time_on_air_ms"] == 205.824
    assert rows[12]["min_spacing_1pct_s"] == 148.3
    assert rows[12]["profile"]["airtime_per_day_wished_s"] == 48.44
    assert rows[12]["profile"]["airtime_per_day_s"] <= 15.0 * 0.8
    assert rows[9]["profile"]["stretch_pct"] == 100 and rows[9]["profile"]["airtime_per_day_s"] == 6.73
    assert rows[9]["profile"]["queue_days"] == 15.5 and rows[12]["profile"]["queue_days"] == 60.8


def test_table_and_overrides():
    code, out = run("--sf", "7", "--night-status-min", "10", "--day-status-min", "60", "--events-per-day", "0")
    assert code == 0
    assert "status every 10 min at night, 60 min by day, 0 events" in out
    line = [x for x in out.splitlines() if x.strip().startswith("7 ")][0]
    assert "61.7ms" in line and "84.0" in line  # 72 + 12 status frames a day


def test_bandwidth_coding_rate_and_preamble_reach_the_formula():
    code, out = run("--bytes", "10", "--sf", "7", "--bw", "500", "--json")
    assert json.loads(out)["results"][0]["time_on_air_ms"] == 10.304  # toa_test.go SF7BW500
    code, out = run("--bytes", "10", "--sf", "7", "--cr", "4/8", "--json")
    assert json.loads(out)["results"][0]["time_on_air_ms"] == 53.504  # toa_test.go CR 4/8


def test_bad_input_gets_a_clear_answer():
    code, out = run("--bytes", "300")
    assert code == 2 and "--bytes" in out and "255" in out
    code, out = run("--sf", "6")
    assert code == 2 and "--sf" in out
