"""Replay window: each counter accepted once, out-of-order arrivals inside the window, duplicates told
apart from replays."""
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.link.replay import DUPLICATE, NEW, REPLAY, SUSPICIOUS, ReplayWindow, bits_to_blob, blob_to_bits

F = b"frame-bytes"


def test_new_then_duplicate_then_replay():
    w = ReplayWindow(size=64, dup_window_s=600)
    assert w.observe("L1", 10, F, 1000.0) == NEW
    assert w.observe("L1", 10, F, 1000.2) == DUPLICATE  # a second bridge heard it
    assert w.observe("L1", 10, F, 4600.0) == DUPLICATE  # the lamp's resend an hour later: answered again
    assert w.observe("L1", 10, b"other", 1000.3) == REPLAY  # another frame under a used counter
    assert w.observe("L2", 10, F, 1000.0) == NEW  # per device
    assert w.counts == {NEW: 2, DUPLICATE: 2, REPLAY: 1, SUSPICIOUS: 0}


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
    w2.restore("L", top, blob_to_bits(bits_to_blob(bits, 16)))
    # stored before the restart (the bitmap is committed with the rows): refused, neither stored nor judged
    assert w2.check("L", 2, F, 0) == DUPLICATE
    assert w2.check("L", 4, F, 0) == DUPLICATE
    assert w2.check("L", 3, F, 0) == NEW
    assert w2.check("L", 5, F, 0) == NEW
    assert not w2.unsure("L", 3)


def test_the_last_stored_frame_redelivered_after_a_restart_is_a_duplicate():
    # kill -9 between the store's commit and the broker's PUBACK: the broker delivers the top again
    w = ReplayWindow(size=16)
    w.restore("L", 7, 0)
    assert w.observe("L", 7, F, 0) == DUPLICATE  # stored already: nothing to do but acknowledge it
    assert w.observe("L", 8, F, 3) == NEW and w.last("L") == 8
    assert w.observe("L", 8, b"other", 4) == REPLAY


def test_a_window_restored_without_its_bitmap_accepts_under_the_top_as_maybe_stored():
    w = ReplayWindow(size=16)
    w.restore("L", 7, None)  # a database from before the bitmap was persisted
    assert w.observe("L", 5, F, 0) == NEW and w.unsure("L", 5)
    assert w.observe("L", 9, F, 0) == NEW and not w.unsure("L", 9)


def test_a_far_jump_is_held_until_a_second_frame_continues_it():
    w = ReplayWindow(size=16, max_gap=16, confirm_gap=4)
    assert w.observe("L", 10, F, 0) == NEW
    assert w.observe("L", 1000, b"forged", 1, data="held") == SUSPICIOUS  # held, the window stays
    assert w.last("L") == 10
    assert w.observe("L", 1000, b"forged", 2) == SUSPICIOUS  # again: still held once
    assert w.observe("L", 11, F, 3) == NEW  # the genuine lamp goes on: never locked out
    assert w.take_contradicted("L") == [1000]  # ... and that tells the gateway the jump was not its own
    assert w.observe("L", 2000, b"a", 4, data="first") == SUSPICIOUS
    assert w.observe("L", 2003, b"b", 5, data="second") == NEW  # continues it: both accepted
    assert w.take_released("L") == ["first"] and w.take_released("L") == []
    assert w.last("L") == 2003
    assert w.check("L", 2000, b"a", 6) == DUPLICATE and w.check("L", 2001, F, 6) == NEW
    assert w.observe("L", 3000, b"c", 7) == SUSPICIOUS
    assert w.observe("L", 3010, b"d", 8) == SUSPICIOUS  # too far above the held one: no confirmation


def test_a_jump_within_the_window_moves_it_and_the_lamp_still_gets_in():
    w = ReplayWindow(size=256)
    w.observe("L", 100, F, 0)
    assert w.observe("L", 356, b"forged", 1) == NEW  # 256 ahead: accepted at once...
    assert all(w.observe("L", c, F, 2) == NEW for c in range(101, 120))  # ...the lamp's own frames still pass


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 300), max_size=200), st.integers(1, 64))
def test_never_accepts_a_counter_twice(counters, size):
    w = ReplayWindow(size=size)
    accepted, held = [], set()
    for c in counters:
        verdict = w.observe("L", c, F, 0)
        if verdict == NEW:
            accepted.append(c)
        elif verdict == SUSPICIOUS:
            held.add(c)
    assert len(accepted) == len(set(accepted))
    # and everything at or above the highest accepted minus the window was judged by the bitmap (a frame once
    # held for a far jump is judged again when it comes back: it may be near enough by then)
    assert all(c in accepted or c in held or w.check("L", c, F, 0) != NEW for c in set(counters))


def test_a_redelivered_backlog_under_the_window_right_after_a_restart_is_a_duplicate():
    # a lamp's 512 queued frames committed in one batch, then kill -9 before the acks: all redelivered
    w = ReplayWindow(size=256)
    w.restore("L", 511, (1 << 256) - 1)
    assert all(w.observe("L", c, F, 1000.0 + c / 100) == DUPLICATE for c in range(512))
    assert w.observe("L", 3, F, 1000.0 + 601) == REPLAY  # later on: a replay


@settings(derandomize=True, max_examples=300, deadline=None)
@given(st.integers(0, 5000), st.integers(1, 40_000), st.integers(1, 300))
def test_one_forged_frame_at_any_counter_never_locks_the_lamp_out(start, ahead, genuine):
    w = ReplayWindow()
    w.observe("L", start, F, 0)
    w.observe("L", start + ahead, b"forged", 1)  # any counter ahead, with a valid MIC
    verdicts = [w.observe("L", start + i, F, 2 + i) for i in range(1, genuine + 1)]
    # every genuine frame is taken, except the one whose counter the forgery used (refused: different bytes)
    assert all(v == NEW for i, v in enumerate(verdicts, 1) if i != ahead)
