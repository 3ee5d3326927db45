"""Reporting cadence: night faster than day, stretched to the budget, events coalesced (shared)."""
from firmware.link import cadence
from firmware.link.airtime import time_on_air_us
from firmware.link.cadence import Cadence, EventCoalescer


def _toa(sf):
    return time_on_air_us(24, sf), time_on_air_us(20, sf)


def test_street_profile_fits_the_budget_at_every_spreading_factor():
    for sf in (7, 8, 9, 10, 11, 12):
        s, e = _toa(sf)
        k = cadence.stretch_pct("street", s, e, 15000000)
        planned = cadence.daily_airtime_us("street", s, e, k)
        assert planned <= 12000000, (sf, planned)  # 80 % of 15 s
        if sf <= 9:
            assert k == 100


def test_figures_quoted_in_docs_link_md():
    s, e = _toa(12)
    assert cadence.daily_airtime_us("street", s, e, 100) == 48439296  # as wished: 48.4 s at SF12
    k = cadence.stretch_pct("street", s, e, 15000000)
    assert k == 554
    assert cadence.daily_airtime_us("street", s, e, k) == 11985838  # 12.0 s at SF12 once stretched
    s9, e9 = _toa(9)
    assert cadence.daily_airtime_us("street", s9, e9, 100) == 6730752  # 6.7 s at SF9, unstretched
    assert cadence.status_millis_per_day("street") == 30000


def test_queue_capacity_in_days():
    # the default 512-slot flash queue: 15.5 days of unstretched street reporting (SF7-SF9, MQTT), 60.8 at SF12
    assert cadence.queue_days_x10(512, "street") == 155
    s, e = _toa(12)
    assert cadence.queue_days_x10(512, "street", cadence.stretch_pct("street", s, e, 15000000)) == 608


def test_night_reports_more_often_than_day():
    c = Cadence("street")
    assert c.interval_s(True) == 1800 and c.interval_s(False) == 7200
    assert c.status_due(0, True)
    c.status_sent(0)
    assert not c.status_due(1799999, True)
    assert c.status_due(1800000, True)
    assert not c.status_due(1800000, False)
    assert c.next_status_ms(0, False) == 7200000


def test_tight_budget_stretches_further():
    s, e = _toa(12)
    c = Cadence("street", s, e, 15000000)
    base = c.interval_s(True)
    assert base == 1800 * 554 // 100
    assert c.interval_s(True, fill_pct=40) == 2 * base
    assert c.interval_s(True, fill_pct=10) == 4 * base


def test_events_alone_over_budget_cap_the_stretch():
    assert cadence.stretch_pct("street", 1000000, 10000000, 15000000) == cadence.MAX_STRETCH_PCT
    assert cadence.stretch_pct("street", 1000000, 1000000, None) == 100


def test_unknown_profile_is_refused_and_overrides_work():
    try:
        cadence.profile("stadium")
    except ValueError as e:
        assert "street" in str(e)
    else:
        raise AssertionError("accepted")
    p = cadence.profile({"night_status_s": 600})
    assert p["night_status_s"] == 600 and p["day_status_s"] == 7200


def test_coalescer_holds_a_burst_then_sends_one_frame():
    c = EventCoalescer(coalesce_s=60)
    c.add([("led_open", 1, 0, 830)], 1000)
    assert c.due(30000) == []
    c.add([("driver", 1, 0, 0)], 31000)
    out = c.due(61000)
    assert out == [(1000, [("led_open", 1, 0, 830), ("driver", 1, 0, 0)])]
    assert c.pending() == 0 and c.due_at_ms() is None


def test_coalescer_sends_full_frames_at_once_and_keeps_the_rest():
    c = EventCoalescer(coalesce_s=60)
    c.add([(i, 2, 0, 0) for i in range(8)], 0)
    out = c.due(1)
    assert len(out) == 1 and len(out[0][1]) == 6
    assert c.pending() == 2
    assert c.due(59999) == []
    assert c.due(60000) == [(0, [(6, 2, 0, 0), (7, 2, 0, 0)])]


def test_coalescer_zero_wait_and_force():
    c = EventCoalescer(coalesce_s=0)
    c.add([(32, 2, 0, 0)], 5)
    assert c.due(5) == [(5, [(32, 2, 0, 0)])]
    c = EventCoalescer(coalesce_s=600)
    c.add([(33, 2, 0, 0)], 5)
    assert c.due(6, force=True) == [(5, [(33, 2, 0, 0)])]
