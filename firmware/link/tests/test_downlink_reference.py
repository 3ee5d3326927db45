"""A second, independent implementation of the downlink frame (struct + the `cryptography` package's CMAC
and AES-CTR) agrees byte for byte with downlink_codec. CPython only."""
import struct

from cryptography.hazmat.primitives.cmac import CMAC
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware.link import downlink_codec as dc


def _aes(key, block):
    e = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return e.update(block) + e.finalize()


def reference(root, ftype, devaddr, fcnt, payload):
    k_mic = _aes(root, b"\x01" + bytes(15))
    k_enc = _aes(root, b"\x02" + bytes(15))
    direction = 1 if ftype >= 8 else 0
    a1 = struct.pack("<B4xBII", 0x01, direction, devaddr, fcnt) + b"\x00\x01"
    ctr = Cipher(algorithms.AES(k_enc), modes.CTR(a1)).encryptor()
    cipher = ctr.update(payload) + ctr.finalize()
    msg = struct.pack("<BHBH", 0x10 | ftype, devaddr & 0xFFFF, devaddr >> 16, fcnt & 0xFFFF) + cipher
    b0 = struct.pack("<B4xBII", 0x49, direction, devaddr, fcnt) + bytes((0, len(msg)))
    mac = CMAC(algorithms.AES(k_mic))
    mac.update(b0 + msg)
    return msg + mac.finalize()[:4]


@settings(max_examples=200, deadline=None)
@given(root=st.binary(min_size=16, max_size=16), devaddr=st.integers(0, 0xFFFFFF),
       fcnt=st.integers(0, 0xFFFFFFFF), ack=st.none() | st.integers(0, 0xFFFF), pending=st.booleans(),
       dl_id=st.integers(0, 0xFFFF), cmd=st.integers(1, 4), arg=st.integers(0, 0xFFFFFFFF))
def test_command_matches_reference(root, devaddr, fcnt, ack, pending, dl_id, cmd, arg):
    frame = dc.encode_downlink("command", devaddr, fcnt, root,
                               {"ack_fcnt16": ack, "pending": pending, "dl_id": dl_id, "command": cmd, "arg": arg})
    flags = (1 if ack is not None else 0) | (2 if pending else 0)
    payload = struct.pack("<HBHBI", ack or 0, flags, dl_id, cmd, arg)
    assert frame == reference(root, 0x9, devaddr, fcnt, payload)
    out = dc.decode_downlink(frame, root, fcnt)
    assert (out["ack_fcnt16"], out["pending"], out["dl_id"], out["arg"]) == (ack, pending, dl_id, arg)


@settings(max_examples=100, deadline=None)
@given(root=st.binary(min_size=16, max_size=16), devaddr=st.integers(0, 0xFFFFFF),
       fcnt=st.integers(0, 0xFFFFFFFF), dl_id=st.integers(0, 0xFFFF), result=st.integers(0, 3),
       settings_=st.dictionaries(st.sampled_from(sorted(dc.CONFIG_KEYS)), st.integers(0, 0xFFFFFFFF),
                                 min_size=1, max_size=7))
def test_config_and_dlack_match_reference(root, devaddr, fcnt, dl_id, result, settings_):
    frame = dc.encode_downlink("config", devaddr, fcnt, root, {"dl_id": dl_id, "settings": settings_})
    body = struct.pack("<HBH", 0, 0, dl_id) + b"".join(struct.pack("<BI", k, settings_[k]) for k in sorted(settings_))
    assert frame == reference(root, 0x8, devaddr, fcnt, body)
    up = dc.encode_dlack(devaddr, fcnt, root, dl_id, result)
    assert up == reference(root, 0x4, devaddr, fcnt, struct.pack("<HB", dl_id, result))
