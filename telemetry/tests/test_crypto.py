"""AES block, AES-CMAC (RFC 4493) and AES-CTR as used by the wire format. Shared: CPython and MicroPython."""
from telemetry.aes import block_encryptor
from telemetry.crypto import Cmac, DeviceKey, ctr_xor
from telemetry.tests.support import unhex

RFC_KEY = unhex("2b7e1516 28aed2a6 abf71588 09cf4f3c")
RFC_MSG = unhex(
    "6bc1bee2 2e409f96 e93d7e11 7393172a"
    "ae2d8a57 1e03ac9c 9eb76fac 45af8e51"
    "30c81c46 a35ce411 e5fbc119 1a0a52ef"
    "f69f2445 df4f9b17 ad2b417b e66c3710"
)
# RFC 4493 section 4: (message length, expected tag).
RFC_TAGS = (
    (0, "bb1d6929 e9593728 7fa37d12 9b756746"),
    (16, "070a16b4 6b4d4144 f79bdd9d d04a287c"),
    (40, "dfa66747 de9ae630 30ca3261 1497c827"),
    (64, "51f0bebf 7e3b9d92 fc497417 79363cfe"),
)


def test_aes_block_fips197():
    enc = block_encryptor(unhex("000102030405060708090a0b0c0d0e0f"))
    assert enc(unhex("00112233445566778899aabbccddeeff")) == unhex("69c4e0d86a7b0430d8cdb78070b4c55a")


def test_aes_rejects_wrong_key_length():
    for n in (0, 15, 17, 32):
        try:
            block_encryptor(bytes(n))
        except ValueError:
            continue
        raise AssertionError("accepted a %d-byte key" % n)


def test_cmac_rfc4493_subkeys():
    cmac = Cmac(RFC_KEY)
    assert block_encryptor(RFC_KEY)(bytes(16)) == unhex("7df76b0c 1ab899b3 3e42f047 b91b546f")
    assert cmac._k1 == unhex("fbeed618 35713366 7c85e08f 7236a8de")
    assert cmac._k2 == unhex("f7ddac30 6ae266cc f90bc11e e46d513b")


def test_cmac_rfc4493_examples():
    cmac = Cmac(RFC_KEY)
    for length, tag in RFC_TAGS:
        assert cmac.digest(RFC_MSG[:length]) == unhex(tag), "RFC 4493 example, %d bytes" % length


def test_cmac_is_reusable_and_key_dependent():
    cmac = Cmac(RFC_KEY)
    first = cmac.digest(RFC_MSG[:40])
    assert cmac.digest(RFC_MSG[:40]) == first
    assert Cmac(bytes(16)).digest(RFC_MSG[:40]) != first
    assert cmac.digest(RFC_MSG[:39]) != first


def _keystream(enc, counter_block, n):
    out = b""
    i = 1
    while len(out) < n:
        out += enc(counter_block[:15] + bytes((i,)))
        i += 1
    return out[:n]


def test_ctr_round_trip():
    enc = block_encryptor(RFC_KEY)
    counter = unhex("01000000 00001234 56000500 00000000")
    for n in (0, 1, 15, 16, 17, 41, 64):
        data = RFC_MSG[:n]
        sealed = ctr_xor(enc, counter, data)
        assert len(sealed) == n
        assert ctr_xor(enc, counter, sealed) == data
        if n:
            assert sealed != data


def test_ctr_keystream_block_index():
    # Block i of the keystream is AES(counter_block[:15] || i+1): the caller's last byte is ignored.
    enc = block_encryptor(RFC_KEY)
    counter = unhex("01000000 00001234 56000500 000000ff")
    stream = ctr_xor(enc, counter, bytes(40))
    assert stream == _keystream(enc, counter, 40)
    assert stream[:16] == enc(counter[:15] + b"\x01")
    assert stream[16:32] == enc(counter[:15] + b"\x02")
    assert stream[32:] == enc(counter[:15] + b"\x03")[:8]
    assert ctr_xor(enc, counter[:15] + b"\x00", bytes(40)) == stream
    # A shorter message uses a prefix of the same keystream.
    assert ctr_xor(enc, counter, bytes(5)) == stream[:5]


def test_ctr_depends_on_counter_block():
    enc = block_encryptor(RFC_KEY)
    a = ctr_xor(enc, unhex("01000000 00000000 00000100 00000000"), bytes(16))
    b = ctr_xor(enc, unhex("01000000 00000000 00000200 00000000"), bytes(16))
    assert a != b


def test_device_key_derivation():
    root = unhex("000102030405060708090a0b0c0d0e0f")
    key = DeviceKey(root)
    root_enc = block_encryptor(root)
    k_mic = root_enc(b"\x01" + bytes(15))
    k_enc = root_enc(b"\x02" + bytes(15))
    assert k_mic != k_enc
    assert key.mic.digest(RFC_MSG) == Cmac(k_mic).digest(RFC_MSG)
    assert key.encrypt_block(RFC_MSG[:16]) == block_encryptor(k_enc)(RFC_MSG[:16])
    assert DeviceKey(bytearray(root)).mic.digest(b"x") == key.mic.digest(b"x")


def test_device_key_rejects_wrong_length():
    for n in (0, 8, 15, 17, 32):
        try:
            DeviceKey(bytes(n))
        except ValueError:
            continue
        raise AssertionError("accepted a %d-byte device key" % n)
