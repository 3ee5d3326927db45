"""The emulated LoRa channel: airtime, loss, collisions, capture, duty cycle, determinism; and the real-time
hub that unix-port radios (firmware/link/net_modem.py) talk to."""
from __future__ import annotations

import threading

from emulator.radio import Channel, RadioHub
from firmware.link.airtime import time_on_air_us
from firmware.link.net_modem import NetModem

S = 1_000_000


def test_airtime_comes_from_the_semtech_formula():
    ch = Channel()
    tx = ch.transmit("a", 0, 868100, 12, bytes(24))
    assert tx.end_us - tx.start_us == time_on_air_us(24, 12) == 1482752


def test_clean_channel_delivers_everything_once():
    ch = Channel()
    for i in range(5):
        ch.transmit(f"lamp{i}", i * 10 * S, 868100, 9, bytes([i]) * 24)
    got = ch.deliver("gw", 100 * S, 868100, 9)
    assert [t.payload[0] for t in got] == [0, 1, 2, 3, 4]
    assert ch.deliver("gw", 100 * S, 868100, 9) == []  # once per listener
    assert len(ch.deliver("other-gw", 100 * S)) == 5  # each listener hears its own copy


def test_overlap_on_same_channel_and_sf_collides():
    ch = Channel()
    ch.transmit("a", 0, 868100, 9, bytes(24))
    ch.transmit("b", 100_000, 868100, 9, bytes(24))  # starts before a ends (205.8 ms)
    ch.transmit("c", 100_000, 868100, 10, bytes(24))  # another SF: orthogonal
    ch.transmit("d", 100_000, 868300, 9, bytes(24))  # another channel
    ch.transmit("e", 400_000, 868100, 9, bytes(24))  # after both ended
    got = {t.sender for t in ch.deliver("gw", 10 * S)}
    assert got == {"c", "d", "e"}
    assert ch.stats["collided"] == 2


def test_capture_effect():
    ch = Channel(capture_db=6)
    ch.transmit("near", 0, 868100, 9, bytes(24), rssi_dbm=-80)
    ch.transmit("far", 50_000, 868100, 9, bytes(24), rssi_dbm=-110)
    assert [t.sender for t in ch.deliver("gw", 10 * S)] == ["near"]


def test_loss_rate_is_seeded_and_close_to_the_setting():
    def run(seed):
        ch = Channel(loss=0.2, seed=seed)
        for i in range(2000):
            ch.transmit("lamp", i * 30 * S, 868100, 7, bytes(24))
        return [t.id for t in ch.deliver("gw", 10**12)]

    a, b, c = run(1), run(1), run(2)
    assert a == b and a != c
    assert 0.17 < 1 - len(a) / 2000 < 0.23


def test_duty_cycle_violations_are_counted():
    ch = Channel()
    ch.transmit("greedy", 0, 868100, 12, bytes(24))
    ch.transmit("greedy", 10 * S, 868100, 12, bytes(24))  # needs 148 s of silence on a 1 % band
    ch.transmit("greedy", 10 * S, 869525, 12, bytes(24))  # another sub-band: fine
    ch.transmit("polite", 0, 868100, 12, bytes(24))
    ch.transmit("polite", 149 * S, 868100, 12, bytes(24))
    assert ch.violations == {"greedy": 1}


def test_listener_hears_only_what_started_after_it_tuned_in():
    ch = Channel()
    ch.transmit("a", 0, 868100, 9, bytes(24))
    ch.transmit("b", 5 * S, 868100, 9, bytes(24))
    assert [t.sender for t in ch.deliver("gw", 10 * S, since_us=1 * S)] == ["b"]


def test_hub_carries_packets_between_network_modems():
    hub = RadioHub().start()
    try:
        lamp = NetModem("127.0.0.1", hub.port, "lamp")
        bridge = NetModem("127.0.0.1", hub.port, "bridge")
        for m in (lamp, bridge):
            m.configure({"freq_khz": 868100, "sf": 7})
        got = []
        t = threading.Thread(target=lambda: got.append(bridge.recv(timeout_ms=3000)))
        t.start()
        import time

        time.sleep(0.2)
        lamp.send(b"hello from the pole")
        t.join()
        assert bytes(got[0]) == b"hello from the pole" and got[0].rssi == -90 and got[0].snr == 28
        assert lamp.recv(timeout_ms=100) is None  # nothing for the lamp
        # two virtual lamps at once on the bridge's channel: a collision, nothing received
        bridge.start_recv(continuous=True)
        time.sleep(0.1)
        hub.inject("x", bytes(20), 868100, 7)
        hub.inject("y", bytes(20), 868100, 7)
        time.sleep(0.3)
        assert bridge.poll_recv() is True  # still receiving, no packet
        assert hub.channel.stats["collided"] == 2
        lamp.close()
        bridge.close()
    finally:
        hub.stop()
