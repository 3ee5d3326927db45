"""Issue 11, item 4 and 7: a lamp cannot be locked out (a far counter jump is held until the lamp's next
frame continues it, MIC failures are rate-limited and alerted), a lamp whose counter was lost or wiped gets
back in, and a replay after a restart is neither stored nor judged. Real SQLite files, real frames."""
from __future__ import annotations

import json
import os

import pytest

from telemetry import DeviceKey, encode

from gateway.link.lamp_guard import FAIL_BURST, FAIL_REFILL_S, LampGuard
from gateway.provisioning import keyed_lamp
from gateway.registry import Lamp
from gateway.service import Gateway
from gateway.settings import Settings
from gateway.tests.conftest import KEY, T0

UP = "lampfleet/LAMP-0001/up"


def _alerts(gw) -> dict[str, tuple[str, dict]]:
    rows = gw.conn.execute("SELECT fault, state, evidence FROM alerts WHERE lamp_id='LAMP-0001' ORDER BY id")
    return {fault: (state, json.loads(ev)) for fault, state, ev in rows}


def _fcnts(gw, table="readings") -> list[int]:
    return [r[0] for r in gw.conn.execute(f"SELECT fcnt FROM {table} WHERE lamp_id='LAMP-0001' ORDER BY fcnt")]


def _event(key: DeviceKey, fcnt: int, t: int, action: str) -> bytes:
    return encode("event", 0x100001, fcnt, key, {"time_s": t, "events": [
        {"code": "led_open", "action": action, "value": 0, "ref": 830}]})


def test_a_forged_counter_jump_does_not_lock_out_the_lamp_and_the_operator_is_alerted(gateway, lamp1):
    for i in range(5):
        gateway.handle(UP, lamp1.status(T0 + 600 * i), T0 + 600 * i)
    lamp1.fcnt = 30_004  # made with the right key (a leaked key, or one brute-forced MIC)
    gateway.handle(UP, lamp1.status(T0 + 3000), T0 + 3001)
    gateway.flush()
    assert gateway.ingest.rejects["suspicious"] == 1 and _fcnts(gateway) == [0, 1, 2, 3, 4]
    assert gateway.registry.by_id("LAMP-0001").last_fcnt == 4  # the window did not move
    lamp1.fcnt = 5  # the genuine lamp goes on: accepted, never refused as replay
    for i in range(5, 9):
        gateway.handle(UP, lamp1.status(T0 + 600 * i), T0 + 600 * i)
    gateway.flush()
    assert _fcnts(gateway) == list(range(9)) and "replay" not in gateway.ingest.rejects
    state, evidence = _alerts(gateway)["authenticationFailures"]
    assert state == "firing" and evidence["reason"] == "counter_jump" and evidence["held_fcnt"] == [30_004]


def test_a_genuine_jump_is_accepted_with_the_next_frame_and_the_held_one_is_stored(gateway, lamp1):
    for i in range(3):
        gateway.handle(UP, lamp1.status(T0 + 600 * i), T0 + 600 * i)
    lamp1.fcnt = 5_000  # a long outage: the flash queue evicted thousands of status frames
    gateway.handle(UP, lamp1.status(T0 + 6000), T0 + 9000)
    gateway.handle(UP, lamp1.status(T0 + 6600), T0 + 9001)
    gateway.flush()
    assert _fcnts(gateway) == [0, 1, 2, 5000, 5001]
    assert gateway.registry.by_id("LAMP-0001").last_fcnt == 5001 and _alerts(gateway) == {}
    assert gateway.ingest.rejects["suspicious"] == 1 and gateway.ingest.accepted == 5


def test_a_held_frame_is_acknowledged_on_the_radio_path(gateway, lamp1):
    gateway.answer(lamp1.status(T0), T0)
    lamp1.fcnt = 5_000
    verdict, reply = gateway.answer(lamp1.status(T0 + 600), T0 + 600)
    assert verdict == "suspicious" and reply is not None  # or a LoRa lamp would resend it forever
    assert gateway.answer(lamp1.status(T0 + 1200), T0 + 1200)[0] == "new"
    gateway.flush()
    assert _fcnts(gateway) == [0, 5000, 5001]


def test_mic_brute_force_is_throttled_alerted_and_genuine_frames_still_pass(gateway, lamp1):
    now = [1000.0]
    gateway.ingest.guard = LampGuard(clock=lambda: now[0])
    rng = __import__("random").Random(11)
    gateway.handle(UP, lamp1.status(T0), T0)
    genuine = lamp1.status(T0 + 600)
    for i in range(500):  # random MICs on the lamp's next counter, as fast as they come
        forged = genuine[:-4] + rng.randbytes(4)
        gateway.handle(UP, forged, T0 + 600 + i / 100)
        if i == 10:  # a genuine frame among the first forgeries: still verified and accepted
            gateway.handle(UP, genuine, T0 + 600)
    assert gateway.ingest.rejects["mic"] == FAIL_BURST and gateway.ingest.rejects["throttled"] == 500 - FAIL_BURST
    gateway.flush()
    state, evidence = _alerts(gateway)["authenticationFailures"]
    assert state == "firing" and evidence["reason"] == "mic" and evidence["failures"] >= 6
    now[0] += FAIL_REFILL_S  # a token is back: the lamp's next frame is tried again
    gateway.handle(UP, lamp1.status(T0 + 1200), T0 + 1200)
    gateway.flush()
    assert _fcnts(gateway) == [0, 1, 2]
    now[0] += 3600  # the attack stopped: a quiet window and a genuine frame clear the alert
    gateway.handle(UP, lamp1.status(T0 + 3000), T0 + 3000)
    gateway.flush()
    assert _alerts(gateway)["authenticationFailures"][0] == "resolved"


def test_a_lamp_with_the_wrong_key_is_alerted_after_a_few_frames(gateway):
    wrong = DeviceKey(bytes(range(1, 17)))
    for i in range(6):
        gateway.handle(UP, encode("status", 0x100001, i, wrong, {
            "time_s": T0 + 600 * i, "vbat_mv": 13100, "ibat_ma": 0, "led_ma": 0, "pv_mv": 300, "soc_pct": 70,
            "led_pct": 0, "temp_c": 26, "mode": "night", "faults": []}), T0 + 600 * i)
    gateway.flush()
    assert _alerts(gateway)["authenticationFailures"][1]["in_a_row"] == 6


def test_a_lamp_past_65535_frames_whose_counter_was_lost_is_accepted(tmp_path, lamp1):
    gw = Gateway(Settings(database=tmp_path / "gw.sqlite3", clock="device"))
    try:
        gw.registry.add(Lamp("LAMP-0001", 0x100001, KEY))  # restored from an old CSV: no last_fcnt
        lamp1.fcnt = 3 * 65_536 + 17
        gw.handle(UP, lamp1.status(T0), T0)
        gw.handle(UP, lamp1.status(T0 + 600), T0 + 600)
        gw.flush()
        assert _fcnts(gw) == [3 * 65_536 + 17, 3 * 65_536 + 18] and not gw.ingest.rejects
        assert gw.registry.by_id("LAMP-0001").last_fcnt == 3 * 65_536 + 18
    finally:
        gw.close()


def test_a_replayed_old_event_after_a_restart_raises_nothing(tmp_path, lamp1):
    settings = Settings(database=tmp_path / "gw.sqlite3", clock="device")
    gw = Gateway(settings)
    gw.registry.add(Lamp("LAMP-0001", 0x100001, KEY, site="bangui"))
    keystore = gw.registry.keystore
    raised = _event(lamp1.key, 0, T0, "raised")
    gw.handle(UP, raised, T0)
    gw.handle(UP, _event(lamp1.key, 1, T0 + 600, "cleared"), T0 + 600)
    lamp1.fcnt = 2
    for i in range(2, 5):
        gw.handle(UP, lamp1.status(T0 + 600 * i), T0 + 600 * i)
    gw.close()
    assert _alerts(Gateway(settings, keystore=keystore))["lampFailure"][0] == "resolved"
    gw2 = Gateway(settings, keystore=keystore)  # a restart: a new Gateway on the same database
    try:
        assert gw2.registry.by_id("LAMP-0001").replay_bits is not None
        gw2.handle(UP, raised, T0 + 7200)  # recorded, played back after the restart
        gw2.flush()
        assert gw2.ingest.rejects["duplicate"] + gw2.ingest.rejects["replay"] == 1 and gw2.ingest.accepted == 0
        assert list(gw2.raised) == [] and _alerts(gw2)["lampFailure"][0] == "resolved"
        assert len(_fcnts(gw2, "events")) == 2
    finally:
        gw2.close()


def test_a_replay_far_under_the_window_after_a_restart_is_refused_as_replay(tmp_path, lamp1):
    settings = Settings(database=tmp_path / "gw.sqlite3", clock="device")
    gw = Gateway(settings)
    gw.registry.add(Lamp("LAMP-0001", 0x100001, KEY, site="bangui"))
    keystore = gw.registry.keystore
    raised = _event(lamp1.key, 0, T0, "raised")
    gw.handle(UP, raised, T0)
    gw.handle(UP, _event(lamp1.key, 1, T0 + 600, "cleared"), T0 + 600)
    lamp1.fcnt = 200
    for i in range(200, 460):  # more than the window since
        gw.handle(UP, lamp1.status(T0 + 600 * i), T0 + 600 * i)
    gw.close()
    gw2 = Gateway(settings, keystore=keystore)
    try:
        gw2.handle(UP, lamp1.status(T0 + 600 * 460), T0 + 600 * 460)  # the lamp goes on after the restart
        gw2.handle(UP, raised, T0 + 600 * 462)  # 20 minutes on: past the grace for a redelivered backlog
        gw2.flush()
        assert gw2.ingest.rejects["replay"] == 1 and list(gw2.raised) == []
    finally:
        gw2.close()


def test_a_database_without_the_bitmap_still_never_judges_a_stored_frame_twice(tmp_path, lamp1):
    settings = Settings(database=tmp_path / "gw.sqlite3", clock="device")
    gw = Gateway(settings)
    gw.registry.add(Lamp("LAMP-0001", 0x100001, KEY, site="bangui"))
    keystore = gw.registry.keystore
    raised = _event(lamp1.key, 0, T0, "raised")
    gw.handle(UP, raised, T0)
    gw.handle(UP, _event(lamp1.key, 1, T0 + 600, "cleared"), T0 + 600)
    gw.close()
    import sqlite3

    with sqlite3.connect(tmp_path / "gw.sqlite3") as conn:  # as an older gateway left it
        conn.execute("UPDATE lamps SET replay_bits=NULL")
    gw2 = Gateway(settings, keystore=keystore)
    try:
        gw2.handle(UP, raised, T0 + 7200)  # taken as new by the window (bits unknown), but the store has it
        gw2.flush()
        assert list(gw2.raised) == [] and _alerts(gw2)["lampFailure"][0] == "resolved"
    finally:
        gw2.close()


def test_a_replayed_dlack_after_a_restart_is_not_taken(tmp_path, lamp1):
    settings = Settings(database=tmp_path / "gw.sqlite3", clock="device")
    gw = Gateway(settings)
    gw.registry.add(Lamp("LAMP-0001", 0x100001, KEY, site="bangui"))
    keystore = gw.registry.keystore
    first = gw.downlinks.enqueue("LAMP-0001", "command", command="status_now")
    gw.handle(UP, lamp1.status(T0), T0)
    ack = encode("dlack", 0x100001, 1, lamp1.key, {"dl_id": first & 0xFFFF, "result": "applied"})
    gw.handle(UP, ack, T0 + 5)
    assert gw.dlacks == {"applied": 1}
    gw.close()
    gw2 = Gateway(settings, keystore=keystore)
    try:
        gw2.handle(UP, ack, T0 + 60)  # replayed after the restart: refused before it reaches the queue
        gw2.flush()
        assert gw2.dlacks == {} and gw2.ingest.accepted == 0
    finally:
        gw2.close()


@pytest.mark.parametrize("last_fcnt", [1_000, 40_000])  # under the window; so far under that the MIC fails
def test_a_wiped_lamp_is_alerted_and_gets_back_in_after_a_new_key(tmp_path, last_fcnt):
    settings = Settings(database=tmp_path / "gw.sqlite3", clock="device")
    gw = Gateway(settings)
    try:
        gw.registry.add(Lamp("LAMP-0001", 0x100001, KEY, site="bangui", last_fcnt=last_fcnt))
        lamp = DeviceKey(KEY)
        fields = {"time_s": T0, "vbat_mv": 13100, "ibat_ma": 0, "led_ma": 0, "pv_mv": 300, "soc_pct": 70,
                  "led_pct": 0, "temp_c": 26, "mode": "night", "faults": []}
        for i in range(6):  # the flash was wiped: the counter starts again at 0 under the same key
            gw.handle(UP, encode("status", 0x100001, i, lamp, fields | {"time_s": T0 + 600 * i}), T0 + 600 * i)
        gw.flush()
        # (the first 10 minutes after a start, frames under the window pass for a redelivered backlog)
        assert gw.ingest.rejects["replay"] >= 3 and _fcnts(gw) == []
        state, evidence = _alerts(gw)["replayRefused"]
        assert state == "firing" and evidence["refused"] == 3 and evidence["last_fcnt"] == last_fcnt
        # The documented recovery: the technician re-provisions it (`lampfleet provision` gives a new key)
        new_key = os.urandom(16)
        gw.registry.add(keyed_lamp(gw.registry, "LAMP-0001", 0x100001, new_key))
        fresh = DeviceKey(new_key)
        for i in range(2):
            gw.handle(UP, encode("status", 0x100001, i, fresh, fields | {"time_s": T0 + 9000 + 600 * i}),
                      T0 + 9000 + 600 * i)
        gw.flush()
        assert _fcnts(gw) == [0, 1] and _alerts(gw)["replayRefused"][0] == "resolved"
    finally:
        gw.close()


def test_a_rekeyed_lamp_is_stored_from_its_first_frame_and_keeps_its_history(tmp_path, lamp1):
    """Re-provisioned with a new key, a lamp counts from 0 again: its first frames must not meet the rows
    its old key stored under the same counters (and be dropped as duplicates until it passes them)."""
    from gateway.provisioning import registry_hook

    settings = Settings(database=tmp_path / "gw.sqlite3", clock="device")
    gw = Gateway(settings)
    try:
        gw.registry.add(Lamp("LAMP-0001", 0x100001, KEY, site="bangui"))
        for i in range(8):
            gw.handle(UP, lamp1.status(T0 + 600 * i), T0 + 600 * i)
        gw.handle(UP, _event(lamp1.key, 8, T0 + 4900, "raised"), T0 + 4900)
        lamp1.fcnt = 9
        gw.flush()
        assert _fcnts(gw) == list(range(8)) and _fcnts(gw, "events") == [8]
        new_key = os.urandom(16)
        registry_hook(settings)("LAMP-0001", 0x100001, new_key)  # the technician's tool, another process
        gw.tick()  # the running gateway sees the registry change
        fresh, later = DeviceKey(new_key), T0 + 86400
        for i in range(3):
            gw.handle(UP, encode("status", 0x100001, i, fresh, {
                "time_s": later + 600 * i, "vbat_mv": 13000, "ibat_ma": 0, "led_ma": 0, "pv_mv": 300, "soc_pct": 70,
                "led_pct": 0, "temp_c": 26, "mode": "day", "faults": []}), later + 600 * i)
        gw.handle(UP, lamp1.status(later + 2000), later + 2000)  # the old key no longer opens anything
        gw.flush()
        rows = gw.conn.execute("SELECT fcnt, time_s FROM readings WHERE lamp_id='LAMP-0001' ORDER BY fcnt").fetchall()
        assert [f for f, _ in rows] == [*range(-9, -1), 0, 1, 2]  # the old history moved below 0, in order
        assert [t for _, t in rows] == sorted(t for _, t in rows)
        assert _fcnts(gw, "events") == [-1] and gw.ingest.rejects["mic"] == 1
    finally:
        gw.close()


def test_security_alert_thresholds_come_from_the_settings(tmp_path):
    settings = Settings(database=tmp_path / "gw.sqlite3", clock="device")
    settings.detect.auth_in_a_row, settings.detect.replay_alert = 2, 5
    gw = Gateway(settings)
    try:
        gw.registry.add(Lamp("LAMP-0001", 0x100001, KEY, site="bangui"))
        forger = DeviceKey(bytes(16))
        fields = {"time_s": T0, "vbat_mv": 13100, "ibat_ma": 0, "led_ma": 0, "pv_mv": 300, "soc_pct": 70,
                  "led_pct": 0, "temp_c": 26, "mode": "night", "faults": []}
        gw.handle(UP, encode("status", 0x100001, 0, forger, fields), T0)
        gw.flush()
        assert "authenticationFailures" not in _alerts(gw)
        gw.handle(UP, encode("status", 0x100001, 1, forger, fields), T0 + 600)
        gw.flush()
        assert _alerts(gw)["authenticationFailures"][0] == "firing"
        assert gw.ingest.guard.replay_alert == 5
    finally:
        gw.close()
