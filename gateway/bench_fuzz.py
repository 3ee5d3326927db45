"""Fuzz benchmark: a seeded mutation run through the gateway's full message handling, every ingest path.

    python -m gateway.bench_fuzz --messages 1000000 --seed 1

Not a unit test (gateway/tests/test_fuzz_ingest.py is the quick hypothesis version): it prints JSON with the
number of messages, the crashes (exceptions out of `Gateway.handle` or `flush`: the bar is 0), how each
path's messages ended (accepted, or refused by reason), `unaccounted` (messages neither accepted nor
refused: the bar is 0), `also_released_a_held_frame` (a message that confirmed a held counter jump, so two
frames were accepted) and messages/s. Paths: MQTT uplink topics, the serial bridge (RADIO_TOPIC), ChirpStack v4 and TTS v3.

Messages are built from genuine ones and then mutated (bit flips, byte changes, truncation, extension,
splices of two messages, random bytes; for LoRaWAN also JSON field deletions and type swaps, deep nesting
and oversized payloads; random and hostile topics). Two lamps: LAMP-0001's genuine frames are mutated (their
MIC fails, so its MIC throttle soon refuses them before any crypto, as in an attack); LAMP-0002 sends fresh
genuine frames and frames sealed with its key around random payloads, so that the decoder, the replay
window, the store and detection see authentic garbage too.
"""
from __future__ import annotations

import base64
import copy
import json
import random
import sys
import time
import traceback
from collections import Counter

import click

from telemetry import DeviceKey, encode
from telemetry.codec import seal

from gateway.registry import Lamp
from gateway.service import RADIO_TOPIC, Gateway
from gateway.settings import LinkSettings, Settings

PATHS = ("mqtt", "radio", "chirpstack", "tts")
T0 = 1785582000  # 2026-08-01 11:00 UTC
KEY1, KEY2 = bytes(range(16)), bytes(range(16, 32))
# LAMP-0002's address differs from LAMP-0001's in every byte: no mutation of LAMP-0001's frames lands on it
# (its MIC failures would throttle LAMP-0002 too, and the run would stop reaching the store)
ADDR1, ADDR2 = 0x100001, 0xE3A55C
EUI1, EUI2 = "70b3d57ed0000001", "70b3d57ed0000002"
CS_APP = "17c82e96-be03-4f38-aef3-f83d48582d97"
HOSTILE = ["", "+", "#", "/", "a\nb", "x\r\n2026-01-01 WARNING forged", "\x00", "é", "LAMP-0001", "LAMP-0002",
           EUI1, EUI2, "LAMP-9999", "x" * 300, "..", "up", "@radio", "\u202e", "a b", "%s%n"]
SWAPS = [None, True, False, 0, -1, 10, 1.5, float("inf"), 2 ** 70, -(2 ** 63), "", "x", "10", "868100000",
         "a/+/#", "\n", [], [1, "a"], {}, {"a": {"b": []}}, "AAAA", "!!notbase64", "0" * 16, "Z" * 5000,
         "868100000\u00b2", "\u0668" * 9, "0004_a30b001c053", " 70b3d57ed000001"]


def make_gateway(database: str = ":memory:") -> Gateway:
    """A gateway with both LoRaWAN integrations' DevEUIs mapped and two registered lamps."""
    gw = Gateway(Settings(database=database, clock="device",  # type: ignore[arg-type]
                          link=LinkSettings(lorawan="chirpstack", lorawan_devices={EUI1: "LAMP-0001",
                                                                                   EUI2: "LAMP-0002"})))
    gw.registry.add(Lamp("LAMP-0001", ADDR1, KEY1, site="bangui"))
    gw.registry.add(Lamp("LAMP-0002", ADDR2, KEY2, site="bangui"))
    return gw


def status_fields(t_s: int, rnd: random.Random) -> dict:
    return {"time_s": t_s, "vbat_mv": rnd.randint(11000, 14000), "ibat_ma": rnd.randint(-3000, 3000),
            "led_ma": rnd.choice((0, 830)), "pv_mv": rnd.randint(0, 20000), "soc_pct": rnd.randint(0, 100),
            "led_pct": rnd.choice((0, 50, 100)), "temp_c": 26, "mode": rnd.choice(("day", "night")), "faults": []}


def chirpstack(frame: bytes, dev_eui: str, t_s: float) -> tuple[str, dict]:
    return f"application/{CS_APP}/device/{dev_eui}/event/up", {
        "deduplicationId": "3ac7e3c4-4401-4b8d-9386-a5c902f9202d",
        "time": time.strftime("%Y-%m-%dT%H:%M:%S.123456Z", time.gmtime(t_s)),
        "deviceInfo": {"tenantId": "52f14cd4", "applicationId": CS_APP, "deviceName": "lamp", "devEui": dev_eui,
                       "tags": {}},
        "devAddr": "00189440", "fCnt": 42, "fPort": 10, "data": base64.b64encode(frame).decode(),
        "rxInfo": [{"gatewayId": "0016c001ff10a235", "rssi": -97, "snr": 7.5, "location": {}}],
        "txInfo": {"frequency": 868500000, "modulation": {"lora": {"bandwidth": 125000, "spreadingFactor": 9}}}}


def tts(frame: bytes, dev_eui: str, t_s: float) -> tuple[str, dict]:
    return "v3/bangui-lamps@ttn/devices/lamp-0001/up", {
        "end_device_ids": {"device_id": "lamp-0001", "application_ids": {"application_id": "bangui-lamps"},
                           "dev_eui": dev_eui.upper()},
        "received_at": time.strftime("%Y-%m-%dT%H:%M:%S.787756681Z", time.gmtime(t_s)),
        "uplink_message": {"f_port": 10, "f_cnt": 42, "frm_payload": base64.b64encode(frame).decode(),
                           "rx_metadata": [{"gateway_ids": {"gateway_id": "bangui-gw-1"}, "rssi": -103, "snr": 4.2}],
                           "settings": {"data_rate": {"lora": {"spreading_factor": 9}}, "frequency": "868100000"},
                           "received_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t_s))}}


def wrap(path: str, frame: bytes, dev_eui: str, t_s: float) -> tuple[str, bytes]:
    """A frame as the message its path delivers: (topic, payload)."""
    if path == "mqtt":
        return f"lampfleet/{'LAMP-0001' if dev_eui == EUI1 else 'LAMP-0002'}/up", frame
    if path == "radio":
        return RADIO_TOPIC, frame
    topic, msg = (chirpstack if path == "chirpstack" else tts)(frame, dev_eui, t_s)
    return topic, json.dumps(msg).encode()


def mutate_bytes(data: bytes, rnd: random.Random, other: bytes = b"") -> bytes:
    b = bytearray(data)
    op = rnd.randrange(8)
    if op == 0 and b:  # bit flips
        for _ in range(rnd.randint(1, 4)):
            i = rnd.randrange(len(b))
            b[i] ^= 1 << rnd.randrange(8)
    elif op == 1 and b:  # bytes set
        for _ in range(rnd.randint(1, 3)):
            b[rnd.randrange(len(b))] = rnd.choice((0, 0xFF, 0x7F, 0x80, rnd.randrange(256)))
    elif op == 2:  # truncation
        del b[rnd.randrange(len(b) + 1):]
    elif op == 3:  # extension
        b += rnd.randbytes(rnd.randint(1, 40))
    elif op == 4 and other:  # splice
        b = b[:rnd.randrange(len(b) + 1)] + other[rnd.randrange(len(other) + 1):]
    elif op == 5:  # random bytes
        b = bytearray(rnd.randbytes(rnd.randint(0, 64)))
    elif op == 6 and b:  # a block removed or repeated
        i, j = sorted((rnd.randrange(len(b) + 1), rnd.randrange(len(b) + 1)))
        b = b[:i] + b[j:] if rnd.random() < 0.5 else b[:j] + b[i:j] + b[j:]
    else:  # the header's type/version byte
        if b:
            b[0] = rnd.randrange(256)
    return bytes(b)


def _paths(obj, prefix=()):  # type: ignore[no-untyped-def]
    """Every (container, key) in a JSON value, for field mutations."""
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for k, v in items:
        yield obj, k
        yield from _paths(v)


def mutate_json(msg: dict, rnd: random.Random) -> bytes:
    op = rnd.randrange(10)
    if op == 0:  # deep nesting, in an otherwise genuine message or alone
        depth = rnd.choice((33, 100, 5000, 20000))
        deep = "[" * depth + "]" * depth if rnd.random() < 0.5 else '{"a":' * depth + "1" + "}" * depth
        return deep.encode() if rnd.random() < 0.5 else json.dumps(msg)[:-1].encode() + b', "x": ' + deep.encode() + b"}"
    if op == 1:  # oversized
        return json.dumps(dict(msg, pad="x" * rnd.choice((70_000, 200_000)))).encode()
    if op == 2:  # the whole document's type
        return json.dumps(rnd.choice(SWAPS)).encode()
    slots = list(_paths(msg))
    for _ in range(rnd.randint(1, 3)):
        container, key = rnd.choice(slots)
        if isinstance(container, dict) and rnd.random() < 0.25:
            container.pop(key, None)
        else:
            container[key] = copy.deepcopy(rnd.choice(SWAPS))  # a copy: no cycles through shared values
        slots = list(_paths(msg)) or [(msg, "x")]
    text = json.dumps(msg, allow_nan=True).encode()
    return mutate_bytes(text, rnd) if op == 3 else text


def mutate_topic(topic: str, rnd: random.Random) -> str:
    r = rnd.choice(HOSTILE)
    forms = (f"lampfleet/{r}/up", f"application/{r}/device/{EUI1}/event/up", f"application/{CS_APP}/device/{r}/event/up",
             f"v3/{r}/devices/lamp-0001/up", f"v3/app/devices/{r}/up", r, topic + r, topic.replace("/", r, 1),
             "lampfleet/LAMP-0001/down", "application/x/device/y/event/join")
    return rnd.choice(forms)


class Fuzzer:
    """Builds one message at a time (seeded) and tells how each ended."""

    def __init__(self, seed: int):
        self.rnd = random.Random(seed)
        self.key1, self.key2 = DeviceKey(KEY1), DeviceKey(KEY2)
        self.fcnt1 = self.fcnt2 = 0
        self.t = T0
        self.corpus = [encode("status", ADDR1, i, self.key1, status_fields(T0 + 600 * i, self.rnd)) for i in range(32)]

    def message(self) -> tuple[str, str, bytes, float]:
        """(path, topic, payload, rx_s)."""
        rnd = self.rnd
        self.t += 0.6  # ten minutes of device time every 1,000 messages
        path = rnd.choice(PATHS)
        kind = rnd.random()
        if kind < 0.08:  # a fresh genuine frame from LAMP-0002
            frame = encode("status", ADDR2, self.fcnt2, self.key2, status_fields(int(self.t), rnd))
            self.fcnt2 += 1
            return (path, *wrap(path, frame, EUI2, self.t), self.t)
        if kind < 0.25:  # authentic garbage: LAMP-0002's key sealed around random payloads
            # mostly the next counter; else behind (replays) or far ahead (held jumps), but within the 16-bit
            # counter's reach: a misread counter fails the MIC, and LAMP-0002 would be throttled like LAMP-0001
            fcnt = self.fcnt2 if rnd.random() < 0.95 else max(0, self.fcnt2 + rnd.randint(-5000, 32000))
            if 0 <= fcnt - self.fcnt2 < 100:
                self.fcnt2 = fcnt + 1
            frame = seal(rnd.randrange(1, 16), ADDR2, fcnt, self.key2, rnd.randbytes(rnd.choice((0, 1, 3, 8, 14, 20, 40, 200))))
            return (path, *wrap(path, frame, EUI2, self.t), self.t)
        frame = rnd.choice(self.corpus)
        if kind < 0.3:
            return (path, *wrap(path, frame, EUI1, self.t), self.t)  # genuine, mostly duplicates by now
        if path in ("chirpstack", "tts") and rnd.random() < 0.6:
            topic, msg = (chirpstack if path == "chirpstack" else tts)(frame, rnd.choice((EUI1, EUI2)), self.t)
            payload = mutate_json(msg, rnd)
        else:
            topic, payload = wrap(path, mutate_bytes(frame, rnd, rnd.choice(self.corpus)), EUI1, self.t)
        if rnd.random() < 0.1:
            topic = mutate_topic(topic, rnd)
        return path, topic, payload, self.t


def _outcome(gw: Gateway, before: tuple[int, dict, dict]) -> list[str]:
    """What the last message changed: 'accepted' and/or refusal reasons (lorawan.* for the integration)."""
    accepted, rejects, lw_rejects = before
    out = ["accepted"] * (gw.ingest.accepted - accepted)
    for reason, n in gw.ingest.rejects.items():
        out += [reason] * (n - rejects.get(reason, 0))
    for reason, n in gw.lorawan.rejects.items():  # type: ignore[union-attr]
        out += ["lorawan." + reason] * (n - lw_rejects.get(reason, 0))
    return out


def _state(gw: Gateway) -> tuple[int, dict, dict]:
    return gw.ingest.accepted, dict(gw.ingest.rejects), dict(gw.lorawan.rejects)  # type: ignore[union-attr]


def run(messages: int, seed: int, flush_every: int = 1000) -> dict:
    gw = make_gateway()
    fuzz = Fuzzer(seed)
    paths = {p: Counter() for p in PATHS}
    crashes: Counter[str] = Counter()
    first_crashes: list[str] = []
    unaccounted = also_released = 0
    start = time.perf_counter()
    for i in range(messages):
        path, topic, payload, rx_s = fuzz.message()
        before = _state(gw)
        try:
            gw.handle(topic, payload, rx_s)
        except Exception as e:  # noqa: BLE001 - what the benchmark counts
            crashes[type(e).__name__] += 1
            if len(first_crashes) < 5:
                first_crashes.append("".join(traceback.format_exception(e))[-800:])
        outcome = _outcome(gw, before)
        if not outcome:  # the bar: never
            unaccounted += 1
        elif len(outcome) > 1:  # a confirmed counter jump: the frame held before is accepted with this one
            also_released += 1
        paths[path].update(outcome)
        if i % flush_every == flush_every - 1:
            try:
                gw.flush()
            except Exception as e:  # noqa: BLE001
                crashes["flush " + type(e).__name__] += 1
                if len(first_crashes) < 5:
                    first_crashes.append("".join(traceback.format_exception(e))[-800:])
    gw.flush()
    elapsed = time.perf_counter() - start
    stored = gw.conn.execute("SELECT count(*) FROM readings").fetchone()[0]
    gw.close()
    return {"messages": messages, "seed": seed, "crashes": sum(crashes.values()), "crash_types": dict(crashes),
            "first_crashes": first_crashes, "unaccounted": unaccounted, "also_released_a_held_frame": also_released,
            "readings_stored": stored,
            "paths": {p: dict(sorted(c.items(), key=lambda kv: -kv[1])) for p, c in paths.items()},
            "seconds": round(elapsed, 1), "messages_per_s": round(messages / elapsed)}


@click.command()
@click.option("--messages", default=1_000_000, show_default=True, help="How many messages to send.")
@click.option("--seed", default=1, show_default=True, help="Random seed (the same seed, the same messages).")
def main(messages: int, seed: int) -> None:
    """Seeded mutation fuzzing of every ingest path; prints JSON (crashes must be 0)."""
    import logging

    logging.disable(logging.WARNING)  # refusals are logged rate-limited; the figures are the output
    result = run(messages, seed)
    json.dump(result, sys.stdout, indent=1)
    print()
    sys.exit(1 if result["crashes"] else 0)


if __name__ == "__main__":
    main()
