# `cryptolib` for a lamp on the webassembly port (emulator/wasm/lamp.mjs), which is built without it; the
# ESP32 port has it in C. AES-128-ECB is done by the host behind the device /dev/aes, as by a crypto
# peripheral: write the key and a block, read the encrypted block. Only what telemetry/aes.py uses.
_dev = open("/dev/aes", "r+b")


class aes:
    def __init__(self, key, mode):
        if mode != 1 or len(key) != 16:
            raise ValueError("emulated cryptolib: AES-128 in ECB mode only")
        self._key = bytes(key)

    def encrypt(self, block):
        _dev.write(self._key + bytes(block))
        return _dev.read(16)
