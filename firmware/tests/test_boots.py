"""Boot history: reset loops and safe mode (shared: CPython and MicroPython)."""
from firmware.core import boots

T0 = 1785600000


def test_first_boot_and_a_normal_reboot():
    h, n, safe = boots.record_boot(None, T0, "power_on", False)
    assert h["count"] == 1 and n == 1 and not safe
    h, n, safe = boots.record_boot(h, T0 + 86400, "power_on", False)
    assert h["count"] == 2 and n == 1 and not safe


def test_three_boots_in_an_hour_is_a_loop_whatever_the_cause():
    h = None
    for i, cause in enumerate(("power_on", "power_on", "power_on")):  # brown-outs read as power_on
        h, n, safe = boots.record_boot(h, T0 + i * 600, cause, False)
    assert n == 3 and not safe
    h, n, safe = boots.record_boot(h, T0 + 3 * 600 + 7200, "deep_sleep", False)
    assert n == 1


def test_wakeups_from_deep_sleep_do_not_count():
    h = None
    for i in range(5):
        h, n, safe = boots.record_boot(h, T0 + i * 60, "deep_sleep", False)
    assert n == 1


def test_three_crashes_start_a_day_of_safe_mode():
    h = None
    for i, (cause, crashed) in enumerate((("watchdog", False), ("power_on", True), ("watchdog", False))):
        h, n, safe = boots.record_boot(h, T0 + i * 7200, cause, crashed)
    assert safe and h["safe_until_s"] == T0 + 2 * 7200 + 86400
    h, n, safe = boots.record_boot(h, T0 + 3 * 7200, "power_on", False)
    assert safe  # still within the day
    h, n, safe = boots.record_boot(h, T0 + 2 * 86400, "power_on", False)
    assert not safe
    h, n, safe = boots.record_boot(h, T0 + 2 * 86400 + 100, "watchdog", False)
    assert safe  # one more crash after the safe day sends it back


def test_a_healthy_hour_forgives_earlier_crashes():
    h, n, safe = boots.record_boot(None, T0, "watchdog", False)
    h, n, safe = boots.record_boot(h, T0 + 7200, "watchdog", False)
    boots.crash_ok(h)
    h, n, safe = boots.record_boot(h, T0 + 14400, "watchdog", False)
    assert not safe and h["crashes"] == 1


def test_corrupt_history_starts_afresh():
    for bad in ("x", 3, {"count": "7", "recent": 5}):
        h, n, safe = boots.record_boot(bad, T0, "power_on", False)
        assert h["count"] == 1 and h["recent"] == [[T0, "power_on"]] and not safe


def test_brown_outs_are_a_reset_loop_not_a_crash():
    h = None
    for i in range(4):
        h, n, safe = boots.record_boot(h, T0 + i * 300, "brown_out", False)
    assert n == 4 and not safe and h["crashes"] == 0
