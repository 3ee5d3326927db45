"""The mode table (shared: CPython and MicroPython)."""
from firmware.core import modes
from telemetry import schema

M = schema.MODE_CODES


def test_battery_protection_beats_everything():
    facts = {"load_off": True, "safe": True, "test": True, "manual_on": True, "night": True}
    for mode in range(8):
        assert modes.next_mode(mode, facts) == (M["low_battery"], modes.OFF)


def test_priorities_and_lights():
    assert modes.next_mode(M["night"], {"safe": True, "night": True}) == (M["safe"], modes.FIXED_SAFE)
    assert modes.next_mode(M["day"], {"test": True}) == (M["test"], modes.FULL)
    assert modes.next_mode(M["day"], {"manual_on": True}) == (M["manual_on"], modes.MANUAL)
    assert modes.next_mode(M["night"], {"manual_off": True, "night": True}) == (M["manual_off"], modes.OFF)
    assert modes.next_mode(M["boot"], {"night": True}) == (M["night"], modes.PLAN)
    assert modes.next_mode(M["low_battery"], {}) == (M["day"], modes.OFF)


def test_every_mode_has_a_row_that_can_reach_it_but_boot():
    reached = set(row[2] for row in modes.TABLE)
    assert reached == set(range(8)) - {M["boot"]}
