"""`lampfleet emulate`: same seed, same answer; bad input, clear error."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from emulator.cli import command

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
