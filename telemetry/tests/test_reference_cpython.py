"""A second, independent implementation of wire format v1, checked against the codec. CPython only.

Written from docs/wire-format.md with `struct` and the `cryptography` package's own CMAC and CTR modes,
sharing no code with telemetry/ except the golden vectors it checks (uplinks, dlacks and downlinks). If
both agree on every golden frame, a bug would have to be made twice the same way.
"""
import binascii
import json
import random
import struct
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from telemetry.aes import block_encryptor
from telemetry.codec import encode
from telemetry.crypto import Cmac, ctr_xor
from telemetry.downlink import decode_downlink, encode_downlink
from telemetry.vectors import generate

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = json.loads((ROOT / "telemetry" / "vectors" / "golden.json").read_text())
DOC = ROOT / "docs" / "wire-format.md"

TYPES = {"status": 1, "event": 2, "boot": 3, "dlack": 4, "config": 8, "command": 9, "ack": 10}
MODES = ["day", "night", "low_battery", "safe", "test", "manual_on", "manual_off", "boot"]
FAULTS = ["led_open", "led_short", "driver", "pv_not_charging", "battery_degraded", "battery_low", "sensor",
          "over_temp", "reset_loop", "tamper", "clock", "storage"]
POINT_EVENTS = {"dusk": 32, "dawn": 33, "time_sync": 34, "config_applied": 35, "safe_mode": 36}
ACTIONS = ["cleared", "raised", "point"]
RESET_CAUSES = ["unknown", "power_on", "hard", "watchdog", "deep_sleep", "soft", "brown_out"]
RESULTS = ["applied", "invalid", "unsupported", "failed"]
CONFIG_KEYS = {"dusk_pv_mv": 1, "dawn_pv_mv": 2, "daylight_confirm_s": 3, "led_max_ma": 4, "night_level_pct": 5,
               "sample_s": 6, "night_status_s": 7, "day_status_s": 8, "daily_airtime_ms": 9,
               "spreading_factor": 10, "status_interval_s": 11}
COMMANDS = {"test_on": 1, "reboot": 2, "time_sync": 3, "status_now": 4}
PROFILES = ["street", "kit", "bridge"]


def aes_ecb(key, block):
    return Cipher(algorithms.AES(key), modes.ECB()).encryptor().update(block)


def derive(root):
    return aes_ecb(root, b"\x01" + bytes(15)), aes_ecb(root, b"\x02" + bytes(15))


def block(tag, devaddr, fcnt, last, direction=0):
    # tag | 0^4 | dir (0: uplink, 1: downlink) | devaddr u32 LE | fcnt u32 LE | 0 | last
    return struct.pack("<B4xBIIxB", tag, direction, devaddr, fcnt, last)


def payload(d):
    if d["type"] == "dlack":
        return struct.pack("<HB", d["dl_id"], RESULTS.index(d["result"]))
    if d["type"] in ("config", "command", "ack"):
        ack = d["ack_fcnt16"]
        out = struct.pack("<HB", ack or 0, (ack is not None) | d["pending"] << 1)
        if d["type"] == "command":
            out += struct.pack("<HBI", d["dl_id"], COMMANDS[d["command"]], d["arg"])
        elif d["type"] == "config":
            out += struct.pack("<H", d["dl_id"])
            for name, value in sorted(d["settings"].items(), key=lambda kv: CONFIG_KEYS[kv[0]]):
                out += struct.pack("<BI", CONFIG_KEYS[name], value)
        return out
    if d["type"] == "status":
        faults = sum(1 << FAULTS.index(f) for f in d["faults"])
        soc = 255 if d["soc_pct"] is None else d["soc_pct"]
        return struct.pack("<HHhHBBBbH", (d["time_s"] // 60) & 0xFFFF, d["vbat_mv"], d["ibat_ma"], d["led_ma"],
                           d["pv_mv"] // 100, soc, d["led_pct"], d["temp_c"], MODES.index(d["mode"]) | faults << 4)
    if d["type"] == "event":
        out = struct.pack("<I", d["time_s"])
        for ev in d["events"]:
            code = POINT_EVENTS[ev["code"]] if ev["code"] in POINT_EVENTS else FAULTS.index(ev["code"])
            out += struct.pack("<BBhh", code, ACTIONS.index(ev["action"]), ev["value"], ev["ref"])
        return out
    major, minor, patch = (int(x) for x in d["fw_version"].split("."))
    return struct.pack("<IBBBBHB", d["time_s"], major, minor, patch, RESET_CAUSES.index(d["reset_cause"]),
                       d["boot_count"], PROFILES.index(d["profile"]))


def steps(root, devaddr, fcnt, decoded):
    """Every intermediate value of building a frame, by name (the worked example in the doc shows them)."""
    k_mic, k_enc = derive(root)
    plain = payload(decoded)
    direction = TYPES[decoded["type"]] >> 3
    a1 = block(0x01, devaddr, fcnt, 1, direction)
    # cryptography's CTR increments the whole block big-endian: the same as A_1, A_2... for < 255 blocks.
    cipher = Cipher(algorithms.AES(k_enc), modes.CTR(a1)).encryptor().update(plain)
    header = struct.pack("<B", 0x10 | TYPES[decoded["type"]]) + devaddr.to_bytes(3, "little")
    header += struct.pack("<H", fcnt & 0xFFFF)
    msg = header + cipher
    b0 = block(0x49, devaddr, fcnt, len(msg), direction)
    mac = CMAC(algorithms.AES(k_mic))
    mac.update(b0 + msg)
    tag = mac.finalize()
    keystream = bytes(p ^ c for p, c in zip(plain, cipher))
    return {"k_mic": k_mic, "k_enc": k_enc, "plaintext": plain, "a1": a1, "keystream": keystream,
            "ciphertext": cipher, "header": header, "b0": b0, "cmac_input": b0 + msg, "tag": tag,
            "mic": tag[:4], "frame": msg + tag[:4]}


def reference_frame(v):
    return steps(binascii.unhexlify(v["key_hex"]), v["devaddr"], v["fcnt"], v["decoded"])["frame"]


def test_reference_builds_every_golden_frame():
    for v in GOLDEN["frames"] + GOLDEN["downlinks"]:
        assert reference_frame(v).hex() == v["frame_hex"], v["name"]


def test_sealed_garbage_carries_a_genuine_mic():
    # "length" and "content" rejections must come from the checks after the MIC, not from a broken MIC.
    checked = 0
    for v in GOLDEN["garbage"] + GOLDEN["downlink_garbage"]:
        frame = binascii.unhexlify(v["frame_hex"])
        if v["reason"] not in ("length", "content") or struct.unpack("<H", frame[4:6])[0] != v["fcnt"] & 0xFFFF:
            continue
        k_mic, _ = derive(binascii.unhexlify(v["key_hex"]))
        devaddr = int.from_bytes(frame[1:4], "little")
        mac = CMAC(algorithms.AES(k_mic))
        mac.update(block(0x49, devaddr, v["fcnt"], len(frame) - 4, (frame[0] >> 3) & 1) + frame[:-4])
        assert mac.finalize()[:4] == frame[-4:], v["name"]
        checked += 1
    assert checked >= 10


def test_cmac_matches_cryptography_on_random_messages():
    rng = random.Random(4493)
    for _ in range(200):
        key = rng.randbytes(16)
        msg = rng.randbytes(rng.choice((0, 1, 15, 16, 17, 31, 32, 33, 47, 48, rng.randrange(200))))
        mac = CMAC(algorithms.AES(key))
        mac.update(msg)
        assert Cmac(key).digest(msg) == mac.finalize(), (key.hex(), msg.hex())


def test_ctr_matches_cryptography():
    rng = random.Random(38)
    for n in (0, 1, 16, 17, 41, 100, 255 * 16):
        key, data = rng.randbytes(16), rng.randbytes(n)
        counter = rng.randbytes(15) + b"\x01"
        expected = Cipher(algorithms.AES(key), modes.CTR(counter)).encryptor().update(data)
        assert ctr_xor(block_encryptor(key), counter, data) == expected, n


def test_golden_file_is_what_the_generator_writes():
    assert generate.render() == generate.render()
    assert generate.PATH.read_text() == generate.render(), "stale: run python -m telemetry.vectors.generate"


def test_wire_format_doc_worked_example_is_real():
    # Every number of the worked example is recomputed here, so the doc cannot drift from the code.
    text = DOC.read_text()
    v = next(v for v in GOLDEN["frames"] if v["name"] == "status_night_healthy")
    assert v["key_hex"] in text
    for name, value in steps(binascii.unhexlify(v["key_hex"]), v["devaddr"], v["fcnt"], v["decoded"]).items():
        assert value.hex() in text, "docs/wire-format.md lacks %s = %s" % (name, value.hex())


def test_wire_format_doc_downlink_example_is_real():
    # The downlink example (same key): plaintext, A_1, B0, ciphertext, MIC and frame, as the doc shows them.
    text = DOC.read_text()
    v = next(v for v in GOLDEN["downlinks"] if v["name"] == "command_test_on_10_min")
    got = steps(binascii.unhexlify(v["key_hex"]), v["devaddr"], v["fcnt"], v["decoded"])
    for name in ("plaintext", "a1", "keystream", "ciphertext", "b0", "mic", "frame"):
        assert got[name].hex() in text, "docs/wire-format.md lacks the downlink's %s = %s" % (name, got[name].hex())
    dlack = next(v for v in GOLDEN["frames"] if v["name"] == "dlack_applied")
    assert dlack["frame_hex"] in text


@hyp_settings(max_examples=200, deadline=None)
@given(root=st.binary(min_size=16, max_size=16), devaddr=st.integers(0, 0xFFFFFF),
       fcnt=st.integers(0, 0xFFFFFFFF), ack=st.none() | st.integers(0, 0xFFFF), pending=st.booleans(),
       dl_id=st.integers(0, 0xFFFF), cmd=st.sampled_from(sorted(COMMANDS)), arg=st.integers(0, 0xFFFFFFFF))
def test_command_matches_reference(root, devaddr, fcnt, ack, pending, dl_id, cmd, arg):
    fields = {"ack_fcnt16": ack, "pending": pending, "dl_id": dl_id, "command": cmd, "arg": arg}
    frame = encode_downlink("command", devaddr, fcnt, root, fields)
    assert frame == steps(root, devaddr, fcnt, dict(fields, type="command"))["frame"]
    assert decode_downlink(frame, root, fcnt) == dict(fields, type="command", version=1, devaddr=devaddr, fcnt=fcnt)


@hyp_settings(max_examples=100, deadline=None)
@given(root=st.binary(min_size=16, max_size=16), devaddr=st.integers(0, 0xFFFFFF),
       fcnt=st.integers(0, 0xFFFFFFFF), dl_id=st.integers(0, 0xFFFF), result=st.sampled_from(RESULTS),
       config=st.dictionaries(st.sampled_from(sorted(CONFIG_KEYS)), st.integers(0, 0xFFFFFFFF), min_size=1, max_size=7))
def test_config_and_dlack_match_reference(root, devaddr, fcnt, dl_id, result, config):
    fields = {"ack_fcnt16": None, "pending": False, "dl_id": dl_id, "settings": config}
    frame = encode_downlink("config", devaddr, fcnt, root, fields)
    assert frame == steps(root, devaddr, fcnt, dict(fields, type="config"))["frame"]
    up = encode("dlack", devaddr, fcnt, root, {"dl_id": dl_id, "result": result})
    assert up == steps(root, devaddr, fcnt, {"type": "dlack", "dl_id": dl_id, "result": result})["frame"]
