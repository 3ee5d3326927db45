"""A second, independent implementation of wire format v1, checked against the codec. CPython only.

Written from docs/wire-format.md with `struct` and the `cryptography` package's own CMAC and CTR modes,
sharing no code with telemetry/ except the golden vectors it checks. If both agree on every golden frame,
a bug would have to be made twice the same way.
"""
import binascii
import json
import random
import struct
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC

from telemetry.aes import block_encryptor
from telemetry.crypto import Cmac, ctr_xor
from telemetry.vectors import generate

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = json.loads((ROOT / "telemetry" / "vectors" / "golden.json").read_text())
DOC = ROOT / "docs" / "wire-format.md"

TYPES = {"status": 1, "event": 2, "boot": 3}
MODES = ["day", "night", "low_battery", "safe", "test", "manual_on", "manual_off", "boot"]
FAULTS = ["led_open", "led_short", "driver", "pv_not_charging", "battery_degraded", "battery_low", "sensor",
          "over_temp", "reset_loop", "tamper", "clock", "storage"]
POINT_EVENTS = {"dusk": 32, "dawn": 33, "time_sync": 34, "config_applied": 35, "safe_mode": 36}
ACTIONS = ["cleared", "raised", "point"]
RESET_CAUSES = ["unknown", "power_on", "hard", "watchdog", "deep_sleep", "soft", "brown_out"]
PROFILES = ["street", "kit", "bridge"]


def aes_ecb(key, block):
    return Cipher(algorithms.AES(key), modes.ECB()).encryptor().update(block)


def derive(root):
    return aes_ecb(root, b"\x01" + bytes(15)), aes_ecb(root, b"\x02" + bytes(15))


def block(tag, devaddr, fcnt, last):
    # tag | 0^4 | dir (0: uplink) | devaddr u32 LE | fcnt u32 LE | 0 | last
    return struct.pack("<B4xBIIxB", tag, 0, devaddr, fcnt, last)


def payload(d):
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
    a1 = block(0x01, devaddr, fcnt, 1)
    # cryptography's CTR increments the whole block big-endian: the same as A_1, A_2... for < 255 blocks.
    cipher = Cipher(algorithms.AES(k_enc), modes.CTR(a1)).encryptor().update(plain)
    header = struct.pack("<B", 0x10 | TYPES[decoded["type"]]) + devaddr.to_bytes(3, "little")
    header += struct.pack("<H", fcnt & 0xFFFF)
    msg = header + cipher
    b0 = block(0x49, devaddr, fcnt, len(msg))
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
    for v in GOLDEN["frames"]:
        assert reference_frame(v).hex() == v["frame_hex"], v["name"]


def test_sealed_garbage_carries_a_genuine_mic():
    # "length" and "content" rejections must come from the checks after the MIC, not from a broken MIC.
    for v in GOLDEN["garbage"]:
        frame = binascii.unhexlify(v["frame_hex"])
        if v["reason"] not in ("length", "content") or struct.unpack("<H", frame[4:6])[0] != v["fcnt"] & 0xFFFF:
            continue
        k_mic, _ = derive(binascii.unhexlify(v["key_hex"]))
        devaddr = int.from_bytes(frame[1:4], "little")
        mac = CMAC(algorithms.AES(k_mic))
        mac.update(block(0x49, devaddr, v["fcnt"], len(frame) - 4) + frame[:-4])
        assert mac.finalize()[:4] == frame[-4:], v["name"]


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
