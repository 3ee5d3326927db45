"""EU868 sub-bands, off-time after each transmission, and the daily airtime budget (shared)."""
from firmware.link.airtime import time_on_air_us
from firmware.link.dutycycle import DAY_MS, AirtimeBudget, DutyCycle, band_index


def test_band_edges_follow_loramac_node():
    # RegionEU868.c VerifyRfFreq: [863, 865) 0.1 %, [865, 868] 1 %, (868, 868.6] 1 %, [868.7, 869.2] 0.1 %,
    # [869.4, 869.65] 10 %, [869.7, 870] 1 %
    assert band_index(863000) == 0 and band_index(864999) == 0
    assert band_index(865000) == 1 and band_index(868000) == 1
    assert band_index(868100) == band_index(868300) == band_index(868500) == band_index(868600) == 2
    assert band_index(868700) == 3 and band_index(869200) == 3
    assert band_index(869525) == 4
    assert band_index(869700) == 5 and band_index(870000) == 5
    for bad in (862999, 868650, 869300, 869675, 870001):
        try:
            band_index(bad)
        except ValueError:
            continue
        raise AssertionError(bad)


def test_one_percent_off_time_at_sf12():
    # physics.md 2.1: a 24-byte frame at SF12 (1482.8 ms) leaves at least 148.3 s between starts on a 1 % band
    dc = DutyCycle()
    toa = time_on_air_us(24, 12)
    dc.record(868100, 1000, toa)
    assert dc.wait_ms(868100, 1000) == 148276
    assert dc.wait_ms(868300, 1000 + 148275) == 1  # the three default channels share one sub-band
    assert dc.wait_ms(868500, 1000 + 148276) == 0
    assert dc.wait_ms(869525, 1000) == 0  # another sub-band is free
    dc.record(869525, 1000, toa)
    assert dc.wait_ms(869525, 1000) == 14828  # 10 %


def test_earliest_channel_and_restore():
    dc = DutyCycle()
    dc.record(868100, 0, 100000)
    ch, wait = dc.earliest([868100, 867100, 869525], 0)
    assert (ch, wait) == (867100, 0)
    assert dc.earliest([868100, 868300], 5000) == (868100, 5000)
    saved = dc.state()
    again = DutyCycle()
    again.restore(saved)
    assert again.wait_ms(868500, 0) == 10000


def test_duty_cycle_holds_over_an_hour_of_greedy_sending():
    dc = DutyCycle()
    toa = time_on_air_us(24, 9)
    now, spent = 0, 0
    while now < 3600000:
        w = dc.wait_ms(868100, now)
        if w:
            now += w
            continue
        dc.record(868100, now, toa)
        spent += toa
        now += 1
    assert spent <= 36000000 + toa  # 1 % of an hour, in microseconds


def test_budget_refills_at_the_daily_rate():
    b = AirtimeBudget(daily_us=15000000, capacity_us=15000000, now_ms=0)
    assert b.fill_pct(0) == 100
    toa = time_on_air_us(24, 12)
    sent = 0
    while b.allows(toa, 0):
        b.spend(toa, 0)
        sent += 1
    assert sent == 10  # 15 s buys ten status frames at SF12
    assert not b.allows(toa, 0)
    wait = b.wait_ms(toa, 0)
    assert not b.allows(toa, wait - 60000)
    assert b.allows(toa, wait)
    # a whole day refills it to the cap, not beyond
    assert b.fill_pct(DAY_MS * 3) == 100


def test_priority_frames_overdraw_into_the_reserve():
    b = AirtimeBudget(daily_us=15000000, now_ms=0)
    assert b.capacity_us == 45000000  # three days' worth by default
    b.spend(45000000, 0)
    toa = time_on_air_us(20, 12)
    assert not b.allows(toa, 0)
    assert b.allows(toa, 0, priority=True)
    n = 0
    while b.allows(toa, 0, priority=True):
        b.spend(toa, 0)
        n += 1
    assert n == 2  # reserve 3.75 s: two event frames of 1.32 s
    assert b.fill_pct(0) == 0


def test_budget_refill_has_no_rounding_leak():
    b = AirtimeBudget(daily_us=15000000, capacity_us=15000000, now_ms=0)
    b.spend(15000000, 0)
    t = 0
    for _ in range(86400):
        t += 1000
        b.fill_pct(t)
    assert b.tokens_us == 15000000
    assert b.spent_us == 15000000
