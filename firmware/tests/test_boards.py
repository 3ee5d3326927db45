"""Every board file passes the board checks; the checks catch wrong pins (CPython only)."""
import json
from pathlib import Path

import pytest

from firmware.hal.board import validate

BOARDS = sorted((Path(__file__).resolve().parents[1] / "boards").glob("*.json"))


@pytest.mark.parametrize("path", BOARDS, ids=lambda p: p.name)
def test_board_files_are_valid(path):
    assert validate(json.loads(path.read_text())) == []


def _board(**changes):
    board = json.loads(BOARDS[0].read_text())
    board.update(changes)
    return board


def test_adc2_pin_for_an_analogue_input_is_refused():
    board = _board()
    board["adc"]["pv_mv"]["pin"] = 25
    assert any("adc.pv_mv" in p for p in validate(board))


def test_input_only_pin_for_the_led_is_refused():
    assert any("input-only" in p for p in validate(_board(led_pwm_pin=36)))


def test_wake_input_must_be_an_rtc_pin():
    board = _board()
    board["inputs"]["pir"] = {"pin": 22, "count": True, "wake": True}
    assert any("inputs.pir" in p for p in validate(board))


def test_missing_sensor_and_unknown_input():
    board = _board()
    del board["adc"]["temp_c"]
    board["inputs"]["smoke"] = {"pin": 4}
    problems = validate(board)
    assert any("adc.temp_c" in p for p in problems) and any("inputs.smoke" in p for p in problems)


def test_emulated_board_needs_its_bus():
    assert validate({"board": "emulated", "bus": "127.0.0.1:5555"}) == []
    assert validate({"board": "emulated"}) != []


def test_a_pin_used_twice_is_refused():
    board = _board()
    board["inputs"]["tamper"]["pin"] = board["led_pwm_pin"]
    assert any("already" in p for p in validate(board))
