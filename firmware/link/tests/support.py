"""Helpers for the shared link tests: scratch directories and an `open()` that loses power mid-write.

MicroPython has no tempfile or shutil, so these use os and open only.
"""
import binascii
import os
from array import array


def tmpdir(tag="lf"):
    path = "/tmp/%s-%s" % (tag, binascii.hexlify(os.urandom(6)).decode())
    os.mkdir(path)
    return path


def rmtree(path):
    for name in os.listdir(path):
        os.remove(path + "/" + name)
    os.rmdir(path)


def copy_dir(src, dst):
    for name in os.listdir(src):
        with open(src + "/" + name, "rb") as f:
            data = f.read()
        with open(dst + "/" + name, "wb") as f:
            f.write(data)


class PowerCut(Exception):
    pass


class _Budget:
    def __init__(self, n):
        self.left = n


class _CutFile:
    """A file whose writes stop after the budget: the bytes before the cut reach the file, then PowerCut."""

    def __init__(self, f, budget):
        self._f = f
        self._budget = budget

    def write(self, data):
        n = len(data)
        if self._budget.left >= n:
            self._budget.left -= n
            return self._f.write(data)
        k = self._budget.left
        self._budget.left = 0
        if k:
            self._f.write(bytes(data[:k]))
        raise PowerCut()

    def seek(self, *args):
        return self._f.seek(*args)

    def read(self, *args):
        return self._f.read(*args)

    def readinto(self, buf):
        return self._f.readinto(buf)

    def close(self):
        self._f.close()


def cut_opener(write_budget):
    """An open() whose writes lose power after write_budget bytes in total."""
    budget = _Budget(write_budget)

    def opener(path, mode="r"):
        return _CutFile(open(path, mode), budget)

    return opener


# ---------------------------------------------------------------- a radio and a gateway for link tests


class RxPacket(bytearray):
    """Like micropython-lib's lora.RxPacket: the bytes plus reception details."""

    def __init__(self, data, rssi=-90, snr=28, valid_crc=True):
        super().__init__(data)
        self.rssi = rssi
        self.snr = snr
        self.valid_crc = valid_crc
        self.ticks_ms = 0


class FakeModem:
    """micropython-lib modem API (configure / send / recv / sleep) wired straight to a FakeGateway."""

    def __init__(self, gateway):
        self.gateway = gateway
        self.cfg = {}
        self.sent = 0  # packets transmitted
        self.first_freq = None
        self._reply = None

    def configure(self, cfg):
        self.cfg.update(cfg)

    def send(self, packet, tx_at_ms=None):
        self.sent += 1
        if self.first_freq is None:
            self.first_freq = self.cfg.get("freq_khz")
        self._reply = self.gateway.uplink(bytes(packet))
        return 0

    def recv(self, timeout_ms=None, rx_length=0xFF, rx_packet=None):
        reply, self._reply = self._reply, None
        return None if reply is None else RxPacket(reply)

    def sleep(self):
        pass


class FakeGateway:
    """Decodes uplinks like the real gateway (MIC first, counter window, duplicates dropped once) and
    acknowledges each authentic one, duplicates included, with an `ack` downlink (or a queued command)."""

    def __init__(self, devaddr, key):
        from telemetry import codec

        self.codec = codec
        self.devaddr = devaddr
        self.key = key
        self.up = True
        self.last_fcnt = None
        self.seen = set()
        # type code and counter of each authentic frame, in arrival order, duplicates dropped (compact: the
        # outage tests keep hundreds of them within the lamp's 96 KB heap)
        self.types = bytearray()
        self.fcnts = array("I")
        self.duplicates = 0
        self.dl_fcnt = 0
        self.commands = []  # (dl_id, command, arg) to send with the next ack
        self.dlacks = []

    def uplink(self, frame):
        from telemetry.downlink import encode_downlink

        if not self.up:
            return None
        head = self.codec.peek(frame)
        fcnt = self.codec.reconstruct_fcnt(self.last_fcnt, head["fcnt16"])
        out = self.codec.decode(frame, self.key, fcnt, 1750000000)
        if fcnt in self.seen:
            self.duplicates += 1
        else:
            self.seen.add(fcnt)
            if out["type"] == "dlack":
                self.dlacks.append(out)
            else:
                self.types.append(frame[0] & 0x0F)
                self.fcnts.append(fcnt)
            if self.last_fcnt is None or fcnt > self.last_fcnt:
                self.last_fcnt = fcnt
        self.dl_fcnt += 1
        fields = {"ack_fcnt16": head["fcnt16"], "pending": len(self.commands) > 1}
        if self.commands:
            dl_id, command, arg = self.commands.pop(0)
            fields.update({"dl_id": dl_id, "command": command, "arg": arg})
            return encode_downlink("command", self.devaddr, self.dl_fcnt, self.key, fields)
        return encode_downlink("ack", self.devaddr, self.dl_fcnt, self.key, fields)
