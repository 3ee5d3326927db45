"""AES-CMAC (RFC 4493) and AES-CTR over a single-block AES primitive, shared by lamp and gateway.

Each device has one 128-bit root key. Two working keys are derived from it so that the same key never
serves both as a MAC and a cipher key (a LoRaWAN 1.0 habit we keep):
    K_mic = AES(root, 0x01 || 0^15)      K_enc = AES(root, 0x02 || 0^15)
`DeviceKey` caches the derived keys and the CMAC subkeys; build it once per device.
"""
from telemetry.aes import block_encryptor

ZERO16 = bytes(16)
_MASK128 = (1 << 128) - 1
_RB = 0x87  # RFC 4493 constant for 128-bit blocks


def _xor16(a, b):
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(16, "big")


def _dbl(block):
    """Multiply by x in GF(2^128) (RFC 4493 section 2.3)."""
    n = int.from_bytes(block, "big") << 1
    if n >> 128:
        n = (n & _MASK128) ^ _RB
    return n.to_bytes(16, "big")


class Cmac:
    """AES-CMAC with a fixed key. `digest(msg)` returns the full 16-byte tag."""

    def __init__(self, key):
        self._enc = block_encryptor(key)
        l_block = self._enc(ZERO16)
        self._k1 = _dbl(l_block)
        self._k2 = _dbl(self._k1)

    def digest(self, msg):
        enc = self._enc
        n = len(msg)
        if n and n % 16 == 0:
            full_blocks = n // 16 - 1
            last = _xor16(msg[n - 16:], self._k1)
        else:
            full_blocks = n // 16
            tail = msg[full_blocks * 16:]
            last = _xor16(tail + b"\x80" + bytes(15 - len(tail)), self._k2)
        x = ZERO16
        for i in range(full_blocks):
            x = enc(_xor16(x, msg[i * 16:i * 16 + 16]))
        return enc(_xor16(x, last))


def ctr_xor(encrypt_block, counter_block, data):
    """XOR `data` with the AES-CTR keystream whose i-th block is AES(counter_block with last byte = i+1).

    `counter_block` is 16 bytes; its final byte is the block index, so one call covers up to 255 blocks.
    """
    out = bytearray(len(data))
    prefix = bytes(counter_block[:15])
    for blk in range((len(data) + 15) // 16):
        stream = encrypt_block(prefix + bytes((blk + 1,)))
        base = blk * 16
        for j in range(min(16, len(data) - base)):
            out[base + j] = data[base + j] ^ stream[j]
    return bytes(out)


class DeviceKey:
    """A device's root key with its derived MIC and encryption keys, ready for many frames."""

    def __init__(self, root_key):
        root_key = bytes(root_key)
        if len(root_key) != 16:
            raise ValueError("device key must be 16 bytes (128 bits)")
        root = block_encryptor(root_key)
        self.mic = Cmac(root(b"\x01" + bytes(15)))
        self.encrypt_block = block_encryptor(root(b"\x02" + bytes(15)))
