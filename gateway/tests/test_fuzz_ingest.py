"""Property tests over the gateway's full message handling (`Gateway.handle` + `flush`), every ingest path:
MQTT uplink topics, the serial bridge (RADIO_TOPIC), ChirpStack v4 and TTS v3. Whatever arrives, nothing
raises, and each message is counted exactly once: accepted, or refused with a reason.

Messages start from genuine ones of registered lamps (so that mutations reach deep: header, MIC, decoder,
replay window, store, detection) and are mutated by hypothesis. The seeded million-message version is
the benchmark gateway/bench_fuzz.py."""
from __future__ import annotations

import json
import random

from hypothesis import given, settings, strategies as st

from telemetry import DeviceKey, encode
from telemetry.codec import seal

from gateway import bench_fuzz as bf
from gateway.service import RADIO_TOPIC

PROFILE = settings(max_examples=250, derandomize=True, deadline=None, database=None)
KEY1 = DeviceKey(bf.KEY1)
GENUINE = [encode("status", bf.ADDR1, i, KEY1, {
    "time_s": bf.T0 + 600 * i, "vbat_mv": 13100, "ibat_ma": -2100, "led_ma": 830, "pv_mv": 300, "soc_pct": 70,
    "led_pct": 100, "temp_c": 26, "mode": "night", "faults": []}) for i in range(8)]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8)


@st.composite
def frames(draw) -> bytes:
    """A genuine frame, a mutated one, sealed garbage with the lamp's key, or random bytes."""
    base = draw(st.sampled_from(GENUINE))
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return base
    if kind == 1:  # bytes changed
        b = bytearray(base)
        for i, v in draw(st.lists(st.tuples(st.integers(0, len(b) - 1), st.integers(0, 255)), min_size=1, max_size=3)):
            b[i] = v
        return bytes(b)
    if kind == 2:  # truncated or extended
        return base[:draw(st.integers(0, len(base)))] + draw(st.binary(max_size=20))
    if kind == 3:  # authentic garbage: a valid MIC around any payload, any type and counter
        return seal(draw(st.integers(0, 15)), bf.ADDR1, draw(st.integers(0, 2**32 - 1)), KEY1, draw(st.binary(max_size=60)))
    if kind == 4:  # a splice of two frames
        other = draw(st.sampled_from(GENUINE))
        return base[:draw(st.integers(0, len(base)))] + other[draw(st.integers(0, len(other))):]
    return draw(st.binary(max_size=80))


@st.composite
def lorawan_payloads(draw, build) -> bytes:  # type: ignore[no-untyped-def]
    """A genuine integration message around a (mutated) frame, with fields deleted or of another type."""
    _topic, msg = build(draw(frames()), draw(st.sampled_from((bf.EUI1, bf.EUI2, "70b3d57ed0000fff"))), bf.T0)
    for _ in range(draw(st.integers(0, 3))):
        slots = list(bf._paths(msg))
        container, key = draw(st.sampled_from(slots))
        if isinstance(container, dict) and draw(st.booleans()):
            del container[key]
        else:
            container[key] = draw(json_values)
    text = json.dumps(msg).encode()
    if draw(st.booleans()):
        return text
    cut = draw(st.integers(0, len(text)))
    return text[:cut] + draw(st.binary(max_size=8)) + text[cut:]


topic_noise = st.sampled_from(bf.HOSTILE) | st.text(max_size=12)


def _counted(gw) -> int:  # type: ignore[no-untyped-def]
    return gw.ingest.accepted + sum(gw.ingest.rejects.values()) + sum(gw.lorawan.rejects.values())


def _check(gw, topic: str, payload: bytes) -> None:  # type: ignore[no-untyped-def]
    before = _counted(gw)
    gw.handle(topic, payload, bf.T0 + 3600)
    assert _counted(gw) == before + 1, (topic, payload)
    gw.flush()


def test_mqtt_uplinks():
    gw = bf.make_gateway()

    @PROFILE
    @given(frames(), st.sampled_from(("LAMP-0001", "LAMP-0002", "LAMP-9999")) | topic_noise,
           st.sampled_from(("lampfleet/{}/up", "lampfleet/{}/down", "lampfleet/{}", "{}")))
    def run(frame, lamp, form):
        _check(gw, form.format(lamp), frame)

    run()
    assert gw.ingest.accepted > 0  # genuine frames got through: the mutations started deep
    gw.close()


def test_serial_bridge_frames():
    gw = bf.make_gateway()

    @PROFILE
    @given(frames())
    def run(frame):
        _check(gw, RADIO_TOPIC, frame)

    run()
    assert gw.ingest.accepted > 0
    gw.close()


def test_chirpstack_messages():
    gw = bf.make_gateway()

    @PROFILE
    @given(lorawan_payloads(bf.chirpstack), st.none() | topic_noise)
    def run(payload, noise):
        topic = f"application/{bf.CS_APP}/device/{bf.EUI1}/event/up"
        _check(gw, topic if noise is None else bf.mutate_topic(topic, random.Random(noise)), payload)

    run()
    assert gw.ingest.accepted > 0
    gw.close()


def test_tts_messages():
    gw = bf.make_gateway()

    @PROFILE
    @given(lorawan_payloads(bf.tts), st.sampled_from(("bangui-lamps@ttn", "a+b", "x#", "é", "")),
           st.sampled_from(("lamp-0001", "d\n", "")))
    def run(payload, app, device):
        _check(gw, f"v3/{app}/devices/{device}/up", payload)

    run()
    assert gw.ingest.accepted > 0
    gw.close()


def test_seeded_mutation_run_counts_every_message_once():
    result = bf.run(3000, seed=7)
    assert result["crashes"] == 0, result["first_crashes"]
    assert result["unaccounted"] == 0
    assert all(counts.get("accepted") for counts in result["paths"].values())
