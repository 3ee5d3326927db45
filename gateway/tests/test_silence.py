"""Silence on the lamp's own cadence: frames due night and day (daily.silence_window_s), the cadence a
lamp shows (a LoRa lamp's hours), and a lamp on its day cadence that is never called silent early.

`python -m pytest -s gateway/tests/test_silence.py -k table` prints the latency table of
docs/alert-rules.md, and the test checks that the doc shows the same figures."""
from __future__ import annotations

import random
import statistics
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from telemetry.schema import DAY_STATUS_FACTOR

from gateway import daily
from gateway.detect import Detector
from gateway.faults import COMMUNICATION_FAILURE
from gateway.registry import Lamp
from gateway.settings import DetectSettings
from gateway.tests.synth import T0, decoded

OFF = 3600
K = daily.silence_k(0.2, 1e-7, 3)  # the defaults: 11
DAY = daily.DAY_S
times = st.integers(T0 - 10 * DAY, T0 + 400 * DAY)
intervals = st.integers(60, 4 * 3600)


def _night(t: int, dusk_s: int, dawn_s: int) -> bool:
    sod = (t + OFF) % DAY
    return sod >= dusk_s or sod < dawn_s


def _lamp_frames(start: int, end: int, night_s: int, day_s: int, dusk_s: int = 18 * 3600 + 1200,
                 dawn_s: int = 5 * 3600 + 3000) -> list[tuple[int, bool]]:
    """(time, night) of every status a lamp sends: each interval chosen by its own phase when it sends."""
    out, t = [], start
    while t < end:
        night = _night(t, dusk_s, dawn_s)
        out.append((t, night))
        t += night_s if night else day_s
    return out


# ------------------------------------------------------------------ the window, pure


@given(times, intervals, st.integers(1, 40))
def test_window_lies_between_k_night_and_k_day_intervals_and_grows_with_k(from_s, interval, k):
    w = daily.silence_window_s(from_s, interval, k, OFF)
    assert k * interval <= w <= k * interval * DAY_STATUS_FACTOR
    assert daily.silence_window_s(from_s, interval, k + 1, OFF) > w
    assert daily.frames_due(from_s, w, interval, OFF) == k  # the evidence counts the same frames
    assert daily.frames_due(from_s, w - 1, interval, OFF) == k - 1


@given(times, st.integers(1, 3 * 3600), intervals, st.integers(1, 20))
def test_the_kth_frame_due_never_moves_earlier_when_the_last_frame_is_later(from_s, later, interval, k):
    """Monotone: a lamp heard later is never due sooner (the property that makes the walk an upper bound)."""
    assert (from_s + later + daily.silence_window_s(from_s + later, interval, k, OFF)
            >= from_s + daily.silence_window_s(from_s, interval, k, OFF))


@given(st.integers(0, 3 * 3600), st.integers(60, 1200), st.integers(1, 8))
def test_in_the_sure_night_frames_are_due_every_night_interval(after_s, interval, k):
    from_s = T0 + 8 * 3600 + after_s  # 20:00-23:00 local: the sure night lasts until 04:30
    if after_s + k * interval > 8 * 3600:
        k = 1
    assert daily.silence_window_s(from_s, interval, k, OFF) == k * interval


@given(times, intervals, st.integers(1, 30), st.integers(17 * 3600, 19 * 3600), st.integers(4 * 3600 + 1800,
                                                                                               6 * 3600 + 1800))
@settings(max_examples=300)
def test_a_lamp_whatever_its_dusk_and_dawn_sends_its_kth_frame_within_the_window(from_s, interval, k, dusk, dawn):
    """Dusk 17:00-19:00 and dawn 04:30-06:30 local (season, clouds, the firmware's confirmation delay):
    the lamp's own k-th frame after from_s is never later than the window says."""
    day_s = interval * DAY_STATUS_FACTOR
    sent = _lamp_frames(from_s, from_s + k * day_s + 1, interval, day_s, dusk, dawn)
    assert sent[k][0] - from_s <= daily.silence_window_s(from_s, interval, k, OFF)


def test_day_interval_of_its_own_and_the_cache_does_not_mix_lamps():
    from_s = T0  # noon: day
    assert daily.silence_window_s(from_s, 1800, 2, OFF, day_interval_s=7200) == 2 * 7200
    assert daily.silence_window_s(from_s, 1800, 2, OFF) == 2 * 3600
    assert daily.silence_window_s(from_s, 900, 2, OFF, day_interval_s=300) == 2 * 900  # never below the night's


# ------------------------------------------------------------------ the cadence a lamp shows


def test_status_gaps_keep_consecutive_frames_only_night_and_day_apart():
    g = daily.StatusGaps()
    for fcnt, t, mode in [(1, 0, "night"), (2, 900, "night"), (4, 2700, "night"),  # fcnt 3 lost: no gap
                          (5, 3600, "day"), (6, 5400, "day"), (7, 7200, "low_battery"), (8, 8000, "day"),
                          (8, 8000, "day"), (7, 7200, "low_battery")]:  # a redelivery and a replay
        g.add(fcnt, t, mode)
    assert (g.night, g.day) == ([900, 900], [1800, 1800])  # a gap counts for the phase its first frame was in
    assert (g.interval_s(True), g.interval_s(False)) == (900, 1800)
    assert daily.cadence_s(900, g) == (900, 1800)
    assert daily.cadence_s(900, daily.StatusGaps()) == (900, 1800)
    assert daily.cadence_s(1800, g) == (1800, 3600)  # a lamp reporting more often than registered


def test_status_gaps_follow_a_doubled_interval_at_once_and_shrug_off_one_short_gap():
    g = daily.StatusGaps()
    t = 0
    for fcnt, gap in enumerate([9960] * 7 + [300] + [19920]):  # a status_now, then the budget runs low
        t += gap
        g.add(fcnt, t, "night")
        if gap == 300:
            assert g.interval_s(True) == 9960
    assert g.interval_s(True) == 19920


# ------------------------------------------------------------------ the detector


def _status(t: int, fcnt: int, night: bool) -> dict:
    return decoded("status", {"time_s": t - t % 60, "led_pct": 100 if night else 0, "led_ma": 830 if night else 0,
                              "vbat_mv": 13000 - fcnt % 50, "ibat_ma": -850 if night else 2000, "pv_mv": 200 if night
                              else 18000, "soc_pct": 60, "temp_c": 28, "mode": "night" if night else "day",
                              "faults": []}, fcnt)


def _run(d: Detector, lamp: Lamp, frames: list[tuple[int, bool]], lost, end_s: int, tick_s: int = 60) -> list:
    """Feed the frames not `lost(i)` at their time (heard at once), ticking every tick_s until end_s."""
    found: list = []
    d.tick([lamp], frames[0][0] - 1)
    now = frames[0][0] - 1
    for i, (t, night) in enumerate(frames):
        while now + tick_s < t:
            now += tick_s
            found += d.tick([lamp], now)
        if not lost(i):
            found += d.observe_frame(lamp, _status(t, i, night), heard_s=t)
    while now < end_s:
        now += tick_s
        found += d.tick([lamp], now)
    return [f for f in found if f.fault == COMMUNICATION_FAILURE]


def test_a_lamp_on_its_day_cadence_with_20_percent_loss_is_never_silent_and_is_found_when_it_stops():
    lamp = Lamp("L1", 1, bytes(16))
    assert lamp.status_interval_s == 900
    for seed in (1, 2, 3):
        rng = random.Random(seed)
        frames = _lamp_frames(T0, T0 + 2 * DAY, 900, 1800)
        assert frames[1][0] - frames[0][0] == 1800 and min(b[0] - a[0] for a, b in zip(frames, frames[1:])) == 900
        d = Detector()
        last = len(frames) - 1
        assert _run(d, lamp, frames, lambda i: i != last and rng.random() < 0.2, frames[-1][0]) == []
        # then it stops: found within a minute of the window from its last frame (k from its own loss, if worse)
        stop, k = frames[-1][0], d.silence_intervals("L1")
        assert k >= K
        window = daily.silence_window_s(stop, 900, k, OFF)
        found = []
        for now in range(stop + 60, stop + window + 120, 60):
            found += d.tick([lamp], now)
        [raised] = found
        assert stop + window < raised.at_s <= stop + window + 60
        assert raised.evidence["missed_intervals"] == raised.evidence["needed_intervals"] == k
        assert (raised.evidence["interval_s"], raised.evidence["day_interval_s"]) == (900, 1800)


def test_k_minus_one_frames_lost_in_a_row_anywhere_in_the_day_raise_nothing():
    """The tight case, at every hour of the day, for lamps whose dusk and dawn are early, usual and late."""
    lamp = Lamp("L1", 1, bytes(16))
    for dusk, dawn in ((17 * 3600, 4 * 3600 + 1800), (18 * 3600 + 1200, 5 * 3600 + 3000), (19 * 3600, 6 * 3600 + 1800)):
        frames = _lamp_frames(T0, T0 + 2 * DAY, 900, 1800, dusk, dawn)
        for start in range(0, len(frames) - K, 3):
            d = Detector()
            assert _run(d, lamp, frames, lambda i: start < i < start + K, frames[-1][0], tick_s=300) == [], start


def _sf12_cadence() -> tuple[int, int]:
    from firmware.link.airtime import time_on_air_us
    from firmware.link.cadence import EVENT_FRAME_LEN, STATUS_FRAME_LEN, Cadence

    c = Cadence("street", time_on_air_us(STATUS_FRAME_LEN, 12), time_on_air_us(EVENT_FRAME_LEN, 12), 15_000_000)
    return c.interval_s(True), c.interval_s(False)


def test_a_lora_lamp_is_judged_on_the_cadence_it_shows_not_its_registry_row():
    night_s, day_s = _sf12_cadence()  # 2 h 46 min at night, 11 h 5 min by day
    assert night_s > 2 * 3600 and day_s > 10 * 3600
    # Registered hourly, as a guess (with the default 900 s its very first 11 h day gap, before it has shown
    # any cadence, would be 11 x 30 min of silence: docs/alert-rules.md says to register LoRa lamps' cadence).
    lamp = Lamp("L1", 1, bytes(16), status_interval_s=3600)
    frames = _lamp_frames(T0 - 2 * DAY, T0 + 12 * DAY, night_s, day_s)
    learned = 12  # a first day and a half without loss to learn from
    rng = random.Random(7)
    d = Detector()
    last = len(frames) - 1
    assert _run(d, lamp, frames, lambda i: learned < i < last and rng.random() < 0.2, frames[-1][0],
                tick_s=600) == []
    shown = d.cadence_s(lamp, d.track("L1"))  # status times are whole minutes
    assert abs(shown[0] - night_s) <= 60 and abs(shown[1] - day_s) <= 60
    night_s, day_s = shown
    stop, k = frames[-1][0], d.silence_intervals("L1")
    window = daily.silence_window_s(stop, night_s, k, OFF, day_s)
    assert window > 2 * DAY  # 11 frames or more, hours apart: days (docs/alert-rules.md, latency table)
    found = [f for now in range(stop + 600, stop + window + 1200, 600) for f in d.tick([lamp], now)]
    [raised] = found
    assert stop + window < raised.at_s <= stop + window + 600
    assert raised.evidence["day_interval_s"] == day_s


def test_the_fleet_view_shows_silent_after_the_same_window(tmp_path):
    from gateway import db, fleet
    from gateway.settings import Settings

    conn = db.connect(tmp_path / "gw.sqlite3")
    night_s, day_s = _sf12_cadence()
    lamp = Lamp("L1", 1, bytes(16), last_seen_s=T0)
    for i, (t, night) in enumerate(_lamp_frames(T0 - 3 * DAY, T0, night_s, day_s)):
        conn.execute("INSERT INTO readings (lamp_id, fcnt, time_s, rx_s, mode) VALUES ('L1', ?, ?, ?, ?)",
                     (i, t, t, "night" if night else "day"))
    gaps = fleet.recent_gaps(conn, "L1")
    assert daily.cadence_s(900, gaps) == (night_s, day_s)
    d = Detector()
    d.track("L1").gaps = gaps  # as the service restores it at start
    ns, ds = d.cadence_s(lamp, d.track("L1"))
    assert fleet.silent_after_s(lamp, Settings(), gaps) == daily.silence_window_s(T0, ns, K, OFF, ds)
    assert fleet.silent_after_s(lamp, Settings()) == daily.silence_window_s(T0, 900, K, OFF)
    conn.close()


# ------------------------------------------------------------------ the latency table (docs/alert-rules.md)


def latency_rows() -> list[str]:
    """Silence-alert latency (from the last frame heard to the alert) per radio profile, over every minute
    of the day the last frame may fall on: shortest, median, longest."""
    from firmware.link.airtime import time_on_air_us
    from firmware.link.cadence import EVENT_FRAME_LEN, STATUS_FRAME_LEN, Cadence

    def h(s: float) -> str:
        return f"{int(s // 3600)} h {int(s % 3600 // 60):02d}"

    profiles = [("MQTT (Wi-Fi, cellular), status_interval_s 900", 900, 1800)]
    for sf in (7, 8, 9, 10, 11, 12):
        c = Cadence("street", time_on_air_us(STATUS_FRAME_LEN, sf), time_on_air_us(EVENT_FRAME_LEN, sf), 15_000_000)
        profiles.append((f"LoRa SF{sf}, street profile", c.interval_s(True), c.interval_s(False)))
    rows = []
    for name, night_s, day_s in profiles:
        w = [daily.silence_window_s(T0 + m * 60, night_s, K, OFF, day_s) for m in range(0, DAY // 60)]
        theft = [daily.silence_window_s(T0 + m * 60, night_s, 2, OFF, day_s) for m in range(8 * 60, 16 * 60)]
        rows.append(f"| {name} | {h(night_s)} / {h(day_s)} | {h(min(w))} | {h(statistics.median(w))} | "
                    f"{h(max(w))} | {h(max(theft))} |")
    return rows


def test_latency_table_is_the_one_in_the_docs():
    rows = latency_rows()
    print("\n".join(rows))
    doc = (Path(__file__).parents[2] / "docs" / "alert-rules.md").read_text()
    missing = [r for r in rows if r not in doc]
    assert not missing, "docs/alert-rules.md, silence latency table: update it to\n" + "\n".join(rows)
