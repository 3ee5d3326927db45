"""Replay protection on the MQTT path: replayed frames refused and counted, duplicates dropped once."""
from __future__ import annotations

from gateway.registry import Lamp
from gateway.service import Gateway
from gateway.settings import Settings
from gateway.tests.conftest import KEY, T0

UP = "lampfleet/LAMP-0001/up"


def _count(gw, table="readings"):
    return gw.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_exact_duplicate_is_counted_once_and_not_stored_twice(gateway, lamp1):
    frame = lamp1.status(T0)
    gateway.handle(UP, frame, T0 + 5)
    gateway.handle(UP, frame, T0 + 65)  # a QoS 1 redelivery, within the 10-minute duplicate window
    gateway.flush()
    assert _count(gateway) == 1
    assert gateway.ingest.rejects["duplicate"] == 1
    assert gateway.ingest.accepted == 1
    assert "replay" not in gateway.ingest.rejects


def test_replay_beyond_the_window_is_rejected_counted_and_not_stored(gateway, lamp1):
    old = lamp1.status(T0)
    gateway.handle(UP, old, T0 + 5)
    lamp1.fcnt = 1000  # the lamp moved on, far beyond the 256-counter window (two frames: a confirmed jump)
    gateway.handle(UP, lamp1.status(T0 + 600), T0 + 605)
    gateway.handle(UP, lamp1.status(T0 + 1200), T0 + 1205)
    gateway.flush()
    stored = gateway.conn.execute("SELECT fcnt FROM readings ORDER BY fcnt").fetchall()
    gateway.handle(UP, old, T0 + 7200)  # recorded and played back two hours later
    gateway.flush()
    assert gateway.ingest.rejects["replay"] == 1
    assert gateway.conn.execute("SELECT fcnt FROM readings ORDER BY fcnt").fetchall() == stored == [
        (0,), (1000,), (1001,)]


def test_same_bytes_later_are_a_duplicate_and_other_bytes_a_replay(gateway, lamp1):
    frame = lamp1.status(T0)
    gateway.handle(UP, frame, T0 + 5)
    gateway.handle(UP, frame, T0 + 5 + 3600)  # same bytes an hour later: the lamp's resend (answer lost)
    forged = bytearray(frame)
    forged[-1] ^= 1
    gateway.handle(UP, bytes(forged), T0 + 5 + 3601)  # MIC fails: never reaches the window
    gateway.flush()
    assert _count(gateway) == 1
    assert gateway.ingest.rejects["duplicate"] == 1 and "replay" not in gateway.ingest.rejects


def test_out_of_order_frames_inside_the_window_are_taken_once(gateway, lamp1):
    frames = [lamp1.status(T0 + 600 * i) for i in range(5)]
    for f in frames[::-1]:
        gateway.handle(UP, f, T0 + 4000)
    gateway.flush()
    assert _count(gateway) == 5 and not gateway.ingest.rejects


def test_window_survives_a_restart_through_last_fcnt(tmp_path, lamp1):
    settings = Settings(database=tmp_path / "gw.sqlite3", clock="device")
    gw = Gateway(settings)
    gw.registry.add(Lamp("LAMP-0001", 0x100001, KEY, site="bangui"))
    old = lamp1.status(T0)
    gw.handle(UP, old, T0)
    lamp1.fcnt = 500
    gw.handle(UP, lamp1.status(T0 + 600), T0 + 600)
    gw.handle(UP, lamp1.status(T0 + 1200), T0 + 1200)
    gw.close()
    keystore = gw.registry.keystore if hasattr(gw.registry, "keystore") else None
    gw2 = Gateway(settings, keystore=keystore)
    try:
        gw2.handle(UP, old, T0 + 1300)  # soon after the restart: maybe a redelivered backlog, dropped quietly
        gw2.handle(UP, old, T0 + 2000)  # later: a replay
        gw2.flush()
        assert gw2.ingest.rejects["duplicate"] == 1 and gw2.ingest.rejects["replay"] == 1
        assert _count(gw2) == 3
    finally:
        gw2.close()
