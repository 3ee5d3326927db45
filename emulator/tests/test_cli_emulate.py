"""`lampfleet emulate`: same seed, same answer; bad input, clear error."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from emulator.cli import command
from emulator.scenario import make_fleet

TIMING = ("wall_s", "cpu_s")


def _emulate(*args: str) -> dict:
    res = CliRunner().invoke(command, [*args, "--json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    for key in TIMING:
        out.pop(key)
    return out


@pytest.mark.parametrize("mode", ["upy", "fleet"])
def test_same_seed_gives_the_same_json_twice(mode):
    args = ("--mode", mode, "--lamps", "2", "--days", "1", "--seed", "5", "--faults", "2:led_open@6h")
    first, second = _emulate(*args), _emulate(*args)
    assert first == second
    assert first["lamp_days"] == 2.0 and [lamp["id"] for lamp in first["lamps"]] == ["LAMP-0001", "LAMP-0002"]
    for key in ("dark_minutes", "lumen_hours", "min_soc_pct", "energy_in_wh", "energy_out_wh", "frames"):
        assert key in first["lamps"][0]


def test_other_seed_other_weather():
    assert _emulate("--mode", "fleet", "--days", "3", "--seed", "1") != _emulate("--mode", "fleet", "--days", "3",
                                                                                  "--seed", "2")


@pytest.mark.parametrize("args, message", [
    (["--faults", "2:led_open@tomorrow"], "bad time"),
    (["--faults", "nonsense"], "bad fault spec"),
    (["--controller", "fixed:140"], "fixed:PCT"),
    (["--site", "paris"], "unknown site"),
])
def test_bad_options_are_explained(args, message):
    res = CliRunner().invoke(command, args)
    assert res.exit_code != 0
    assert message in res.output


def test_bad_weather_file_names_the_line(tmp_path):
    trace = tmp_path / "w.csv"
    trace.write_text("timestamp,ghi_w_m2,temp_c\n2026-08-01T00:00:00+01:00,0,22\n2026-08-01T01:00:00+01:00,abc,22\n")
    res = CliRunner().invoke(command, ["--weather", str(trace)])
    assert res.exit_code != 0
    assert "w.csv:3" in res.output


DRY = Path(__file__).resolve().parents[1] / "physics" / "traces" / "bangui_dry.csv"  # 1-31 January 2026


def _refused(*args: str) -> str:
    """A refused command line: exit status 2 and a one-line error, no traceback."""
    res = CliRunner().invoke(command, list(args))
    assert res.exit_code == 2, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), res.output
    return lines[0]


@pytest.mark.parametrize("start, expected", [
    ("2026-03-04", "2026-03-04T12:00+01:00"),  # a date: its noon in Bangui
    ("2026-03-04T18:30", "2026-03-04T18:30+01:00"),  # naive: Bangui time
    ("2026-03-04T18:30Z", "2026-03-04T19:30+01:00"),
])
def test_start_takes_a_date_or_a_time_in_the_sites_zone(start, expected):
    assert _emulate("--mode", "fleet", "--days", "0.1", "--start", start)["start"] == expected


def test_default_start_is_noon_of_the_first_of_august():
    assert _emulate("--mode", "fleet", "--days", "0.1")["start"] == "2026-08-01T12:00+01:00"


def test_a_trace_starts_the_run_at_its_first_noon():
    out = _emulate("--mode", "fleet", "--days", "0.5", "--weather", str(DRY))
    assert out["start"] == "2026-01-01T12:00+01:00"
    assert _emulate("--mode", "fleet", "--days", "0.5", "--weather", str(DRY), "--start", "2026-01-20")["start"] \
        == "2026-01-20T12:00+01:00"


def test_a_start_outside_the_trace_names_its_range():
    line = _refused("--mode", "fleet", "--weather", str(DRY), "--start", "2026-08-01")
    assert "outside the weather trace" in line and "2026-01-01 00:00+01:00 .. 2026-01-31 00:00+01:00" in line


def test_a_run_past_the_end_of_the_trace_says_how_long_fits():
    line = _refused("--mode", "fleet", "--weather", str(DRY), "--days", "30")
    assert "runs past the end" in line and "--days 29.5 or less" in line


def test_a_bad_start_says_what_to_write():
    assert "use an ISO date" in _refused("--start", "tomorrow")


@pytest.mark.parametrize("args, message", [
    (["--lamps", "2", "--fault", "2:ledd_open@3h"], "did you mean led_open?"),
    (["--lamps", "2", "--fault", "5:led_open@3h"], "no lamp '5'"),
    (["--lamps", "2", "--fault", "2:led_open@30h"], "the run lasts 1 day(s)"),
    (["--fault", "1:soiling=3"], "outside 0..1"),
    (["--fault", "1:kit_off"], "street lamp"),
    (["--export-registry", "x.csv", "--broker", "mqtt://127.0.0.1:1"], "then run the same command with --broker"),
])
def test_fault_and_option_mistakes_are_one_line_and_exit_2(args, message):
    assert message in _refused("--mode", "fleet", *args)


def test_repeated_fault_options_add_up_and_show_per_lamp():
    out = _emulate("--mode", "fleet", "--lamps", "3", "--days", "0.5", "--fault", "2:led_open@3h",
                   "--faults", "3:soiling=0.5@1h,3:-soiling@4h")
    assert [lamp["faults"] for lamp in out["lamps"]] == [[], ["led_open@3h"], ["soiling=0.5@1h", "-soiling@4h"]]


@pytest.mark.parametrize("width", [80, 120])
def test_the_table_shows_the_faults_and_fits_the_terminal(width):
    args = ["--mode", "fleet", "--lamps", "2", "--days", "0.5", "--fault", "2:led_open@3h,1:clock_jump=-3600@90m"]
    res = CliRunner(env={"COLUMNS": str(width)}).invoke(command, args)
    assert res.exit_code == 0, res.output
    assert max(len(line) for line in res.output.splitlines()) <= width
    for text in ("LAMP-0001", "LAMP-0002", "led_open@3h", "clock_jump=-3600@90m", "lumen", "SoC %"):
        assert text in res.output


def test_export_registry_writes_what_lamps_import_takes(tmp_path):
    from gateway import db
    from gateway.registry import Registry
    from gateway.registry_csv import import_csv

    path = tmp_path / "lamps.csv"
    res = CliRunner().invoke(command, ["--lamps", "3", "--seed", "4", "--export-registry", str(path)])
    assert res.exit_code == 0, res.output
    assert "lampfleet lamps import" in res.output and path.stat().st_mode & 0o077 == 0
    registry = Registry(db.connect(tmp_path / "gw.sqlite3"))
    with open(path, newline="", encoding="utf-8") as f:
        assert import_csv(registry, f) == {"added": 3, "updated": 0, "rekeyed": 0}
    for ident in make_fleet(3, 4):
        lamp = registry.by_id(ident.lamp_id)
        assert (lamp.devaddr, lamp.key, lamp.kind, lamp.site) == (ident.devaddr, ident.key, "street", "bangui")
