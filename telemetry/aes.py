"""The one AES primitive the wire format needs: encrypt a single 16-byte block (AES-128-ECB).

CMAC and CTR are built on top of it in `crypto.py`, in plain Python shared by every runtime. Only this
module differs per runtime: MicroPython's `cryptolib.aes` (mode 1 = ECB) on the lamp and the unix port,
the `cryptography` package on CPython. Neither offers CMAC with a 4-byte MIC and LoRaWAN-style blocks on
MicroPython, hence the shared hand-written modes above a library block cipher.
"""

try:
    from cryptolib import aes as _aes  # MicroPython (ESP32, unix port)
except ImportError:
    try:
        from ucryptolib import aes as _aes  # MicroPython before 1.23
    except ImportError:
        _aes = None

ECB = 1

if _aes is not None:

    def block_encryptor(key):
        """Return f(block16) -> AES_key(block16)."""
        if len(key) != 16:
            raise ValueError("AES-128 key must be 16 bytes")
        cipher = _aes(bytes(key), ECB)
        # An ECB cipher object may be reused for any number of blocks.
        return cipher.encrypt

else:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    def block_encryptor(key):
        """Return f(block16) -> AES_key(block16)."""
        if len(key) != 16:
            raise ValueError("AES-128 key must be 16 bytes")
        # One encryptor context is reused for every block: ECB keeps no state between blocks.
        return Cipher(algorithms.AES(bytes(key)), modes.ECB()).encryptor().update
