"""Replay window: each counter accepted once, out-of-order arrivals inside the window, duplicates told
apart from replays."""
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.link.replay import DUPLICATE, NEW, REPLAY, ReplayWindow

F = b"frame-bytes"


def test_new_then_duplicate_then_replay():
    w = ReplayWindow(size=64, dup_window_s=600)
    assert w.observe("L1", 10, F, 1000.0) == NEW
    assert w.observe("L1", 10, F, 1000.2) == DUPLICATE  # a second bridge heard it
    assert w.observe("L1", 10, F, 1700.0) == REPLAY  # the same bytes much later
    assert w.observe("L1", 10, b"other", 1000.3) == REPLAY  # another frame under a used counter
    assert w.observe("L2", 10, F, 1000.0) == NEW  # per device
    assert w.counts == {NEW: 2, DUPLICATE: 1, REPLAY: 2}


def test_out_of_order_inside_the_window_and_refusal_below_it():
    w = ReplayWindow(size=8)
    for fcnt in (5, 9, 7, 6):
        assert w.observe("L", fcnt, F, 0) == NEW
    assert w.observe("L", 7, F, 0) == DUPLICATE
    assert w.observe("L", 8, F, 0) == NEW
    assert w.observe("L", 20, F, 0) == NEW
    assert w.observe("L", 12, F, 0) == NEW  # 20 - 8 = 12 is the oldest counter still tracked
    assert w.observe("L", 11, F, 0) == REPLAY  # below the window: refused even if never seen
    assert w.last("L") == 20


def test_state_survives_a_restart():
    w = ReplayWindow(size=16)
    for fcnt in (1, 2, 4):
        w.observe("L", fcnt, F, 0)
    top, bits = w.state("L")
    w2 = ReplayWindow(size=16)
    w2.restore("L", top, bits)
    assert w2.check("L", 2, F, 0) == REPLAY  # no first-copy record after a restart: not a known duplicate
    assert w2.check("L", 3, F, 0) == NEW
    assert w2.check("L", 5, F, 0) == NEW


def test_the_last_stored_frame_redelivered_after_a_restart_is_not_a_replay():
    # kill -9 between the store's commit and the broker's PUBACK: the broker delivers the top again
    w = ReplayWindow(size=16)
    w.restore("L", 7)
    assert w.observe("L", 7, F, 0) == NEW  # the store's (lamp, fcnt) key keeps it once
    assert w.observe("L", 7, F, 1) == DUPLICATE  # from now on it has a first-copy record
    assert w.observe("L", 7, b"other", 2) == REPLAY
    assert w.observe("L", 8, F, 3) == NEW and w.last("L") == 8


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 300), max_size=200), st.integers(1, 64))
def test_never_accepts_a_counter_twice(counters, size):
    w = ReplayWindow(size=size)
    accepted = []
    for c in counters:
        if w.observe("L", c, F, 0) == NEW:
            accepted.append(c)
    assert len(accepted) == len(set(accepted))
    # and everything at or above the highest accepted minus the window was judged by the bitmap
    assert all(c in accepted or w.check("L", c, F, 0) != NEW for c in set(counters))
