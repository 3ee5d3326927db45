"""The flash queue: order, acknowledgement, overflow policy, reboots, and a power cut at every byte (shared)."""
from firmware.link.queue import ACK_COPY, SLOT, FrameQueue
from firmware.link.tests.support import PowerCut, copy_dir, cut_opener, rmtree, tmpdir


def status(i):
    return bytes((0x11, i & 0xFF, i >> 8)) + bytes(21)  # type 0x1, 24 bytes


def event(i):
    return bytes((0x12, i & 0xFF, i >> 8)) + bytes(17)  # type 0x2, 20 bytes


def drain(q):
    out = []
    while True:
        head = q.peek()
        if head is None:
            return out
        out.append(head[1])
        q.ack(head[0])


def test_fifo_and_ack():
    d = tmpdir()
    try:
        q = FrameQueue(d + "/q", slots=8)
        for i in range(5):
            q.append(status(i))
        assert len(q) == 5
        seq, frame = q.peek()
        assert (seq, frame) == (1, status(0))
        assert q.peek(after_seq=1)[1] == status(1)  # look ahead without acknowledging (pipelining)
        q.ack(seq)
        assert q.peek()[1] == status(1)
        assert drain(q) == [status(i) for i in range(1, 5)]
        assert len(q) == 0 and q.peek() is None
    finally:
        rmtree(d)


def test_survives_reboot_with_pointer():
    d = tmpdir()
    try:
        q = FrameQueue(d + "/q", slots=8, flush_every=1)
        for i in range(6):
            q.append(event(i))
        q.ack(2)
        q2 = FrameQueue(d + "/q", slots=8)
        assert q2.acked == 2
        assert drain(q2) == [event(i) for i in range(2, 6)]
        q2.append(event(9))
        q3 = FrameQueue(d + "/q", slots=8)
        assert drain(q3) == [event(9)]
    finally:
        rmtree(d)


def test_lazy_pointer_resends_at_most_flush_every():
    d = tmpdir()
    try:
        q = FrameQueue(d + "/q", slots=16, flush_every=4)
        for i in range(10):
            q.append(status(i))
        for seq in range(1, 7):
            q.ack(seq)  # pointer written after the 4th ack only
        q2 = FrameQueue(d + "/q", slots=16, flush_every=4)
        assert q2.acked == 4
        assert drain(q2) == [status(i) for i in range(4, 10)]
    finally:
        rmtree(d)


def test_overflow_drops_oldest_status_first_and_keeps_events():
    d = tmpdir()
    try:
        q = FrameQueue(d + "/q", slots=6)
        frames = [status(0), event(1), status(2), event(3), status(4), status(5)]
        for f in frames:
            q.append(f)
        q.append(event(6))  # evicts status(0)
        q.append(status(7))  # evicts status(2)
        assert q.stats["dropped_status"] == 2
        q = FrameQueue(d + "/q", slots=6)  # and the choice survives a reboot
        assert drain(q) == [event(1), event(3), status(4), status(5), event(6), status(7)]
    finally:
        rmtree(d)


def test_overflow_with_only_events_drops_the_oldest_event():
    d = tmpdir()
    try:
        q = FrameQueue(d + "/q", slots=3)
        for i in range(4):
            q.append(event(i))
        assert q.stats["dropped_other"] == 1
        assert drain(q) == [event(1), event(2), event(3)]
        assert not q.has_priority()
    finally:
        rmtree(d)


def test_slots_are_reused_round_robin_after_delivery():
    d = tmpdir()
    try:
        q = FrameQueue(d + "/q", slots=4, flush_every=1)
        for i in range(20):
            q.append(status(i))
            assert drain(q) == [status(i)]
        with open(d + "/q", "rb") as f:
            assert len(f.read()) == 4 * SLOT
        assert q.stats["dropped_status"] == 0
    finally:
        rmtree(d)


def test_rejects_bad_frames_and_skips_corrupt_slots():
    d = tmpdir()
    try:
        q = FrameQueue(d + "/q", slots=4)
        for bad in (b"", bytes(52)):
            try:
                q.append(bad)
            except ValueError:
                continue
            raise AssertionError("accepted %d bytes" % len(bad))
        q.append(event(1))
        q.append(event(2))
        with open(d + "/q", "r+b") as f:  # flip one bit in the first record's frame
            f.seek(12)
            b = f.read(1)
            f.seek(12)
            f.write(bytes((b[0] ^ 1,)))
        q2 = FrameQueue(d + "/q", slots=4)
        assert q2.stats["corrupt"] == 1
        assert drain(q2) == [event(2)]
    finally:
        rmtree(d)


def test_stale_status_frames_are_dropped_at_the_head():
    d = tmpdir()
    try:
        q = FrameQueue(d + "/q", slots=4)
        q.append(status(1), t_min=1000)
        q.append(event(2), t_min=1000)
        q.append(status(3), t_min=60000)
        seq, frame = q.peek(now_min=61000, max_age_min=40 * 1440 // 2)
        assert frame == event(2) and q.stats["stale"] == 1
    finally:
        rmtree(d)


def _prepare(d, slots, n_status, n_acked):
    q = FrameQueue(d + "/q", slots=slots, flush_every=1)
    for i in range(n_status):
        q.append(status(i) if i % 3 else event(i))
    for seq in range(1, n_acked + 1):
        q.ack(seq)
    return [status(i) if i % 3 else event(i) for i in range(n_acked, n_status)]


def _cut_every_byte(slots, n_before, n_acked):
    """Power lost after k bytes of the next append, for every k: nothing but the new record may be lost."""
    base = tmpdir()
    try:
        before = _prepare(base, slots, n_before, n_acked)
        new = event(999)
        for k in range(SLOT + 1):
            d = tmpdir()
            try:
                copy_dir(base, d)
                q = FrameQueue(d + "/q", slots=slots, opener=cut_opener(k))
                try:
                    q.append(new)
                    assert k == SLOT, "append finished with only %d bytes written" % k
                except PowerCut:
                    assert k < SLOT
                after = drain(FrameQueue(d + "/q", slots=slots))
                survivors = [f for f in after if f != new]
                if slots > n_before - n_acked:
                    assert survivors == before, (k, len(survivors))
                else:  # the write evicts the oldest status frame: it may survive a cut, nothing else may go
                    assert [f for f in before if f not in survivors] in ([], [before[1]]), k
                    assert [f for f in before if f != before[1]] == [f for f in survivors if f != before[1]]
                # The new record counts once its CRC is written and the trailer reads its seq (the trailer's
                # high bytes may already hold the right zeros); before that it is absent, never garbled.
                if k < 64:
                    assert new not in after, k
                if k == SLOT:
                    assert new in after
                q3 = FrameQueue(d + "/q", slots=slots)  # the queue keeps working after the cut
                q3.append(event(1000))
                assert drain(q3)[-1] == event(1000)
            finally:
                rmtree(d)
    finally:
        rmtree(base)


def test_power_cut_at_every_byte_while_growing_the_file():
    _cut_every_byte(slots=8, n_before=4, n_acked=1)


def test_power_cut_at_every_byte_while_reusing_a_delivered_slot():
    _cut_every_byte(slots=4, n_before=4, n_acked=2)


def test_power_cut_at_every_byte_while_evicting():
    _cut_every_byte(slots=4, n_before=4, n_acked=0)


def test_power_cut_at_every_byte_of_the_pointer():
    base = tmpdir()
    try:
        _prepare(base, 8, 6, 2)
        for k in range(ACK_COPY + 1):
            d = tmpdir()
            try:
                copy_dir(base, d)
                q = FrameQueue(d + "/q", slots=8, flush_every=1, opener=cut_opener(k))
                try:
                    q.ack(3)
                except PowerCut:
                    pass
                acked = FrameQueue(d + "/q", slots=8).acked
                # the old pointer until the CRC and the trailer's first byte are written, the new one at the end
                if k < 8:
                    assert acked == 2, (k, acked)
                elif k == ACK_COPY:
                    assert acked == 3
                else:
                    assert acked in (2, 3)
            finally:
                rmtree(d)
    finally:
        rmtree(base)
