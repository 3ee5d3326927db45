"""Gateway ingest: verification, counting of rejections, idempotent storage."""
from __future__ import annotations

import logging

from gateway.tests.conftest import T0

UP = "lampfleet/LAMP-0001/up"


def _count(gw, table):
    return gw.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_status_frame_is_stored(gateway, lamp1):
    gateway.handle(UP, lamp1.status(T0), T0 + 5)
    gateway.flush()
    row = gateway.conn.execute("SELECT lamp_id, fcnt, time_s, led_ma, mode FROM readings").fetchone()
    assert row == ("LAMP-0001", 0, T0 - T0 % 60, 830, "night")


def test_duplicates_and_replays_are_stored_once(gateway, lamp1):
    frames = [lamp1.status(T0 + 600 * i) for i in range(5)]
    for frame in frames + frames[::-1] + frames:
        gateway.handle(UP, frame, T0 + 4000)
    gateway.flush()
    assert _count(gateway, "readings") == 5


def test_malformed_frames_are_counted_logged_and_not_stored(gateway, lamp1, caplog):
    good = lamp1.status(T0)
    bad = {
        "short": b"\x11\x01",
        "long": good * 3,
        "version": bytes([0x21]) + good[1:],
        "type": bytes([0x1F]) + good[1:],
        "mic": good[:-1] + bytes([good[-1] ^ 1]),
    }
    with caplog.at_level(logging.WARNING, logger="lampfleet.gateway.ingest"):
        for frame in bad.values():
            gateway.handle(UP, frame, T0)
    gateway.flush()
    assert dict(gateway.ingest.rejects) == {reason: 1 for reason in bad}
    assert _count(gateway, "readings") == 0
    for reason in bad:
        assert any(f": {reason}" in rec.getMessage() for rec in caplog.records)


def test_frame_on_another_lamps_topic_is_rejected(gateway, lamp1):
    gateway.handle("lampfleet/LAMP-0002/up", lamp1.status(T0), T0)
    gateway.handle("lampfleet/LAMP-9999/up", lamp1.status(T0), T0)
    gateway.handle("lampfleet/LAMP-0001/down", lamp1.status(T0), T0)
    gateway.flush()
    assert dict(gateway.ingest.rejects) == {"wrong_device": 1, "unknown_device": 1, "topic": 1}
    assert _count(gateway, "readings") == 0


def test_counter_wrap_is_reconstructed(gateway, lamp1):
    lamp1.fcnt = 0xFFFE
    for i in range(4):
        gateway.handle(UP, lamp1.status(T0 + 600 * i), T0 + 3000)
    gateway.flush()
    fcnts = [r[0] for r in gateway.conn.execute("SELECT fcnt FROM readings ORDER BY fcnt")]
    assert fcnts == [0xFFFE, 0xFFFF, 0x10000, 0x10001]
