"""Frame counter that never repeats across reboots and power cuts, with few flash writes."""
# We persist a reservation: the counter may run up to `reserved` before the next write. After a reboot the
# counter restarts at the last reservation, skipping at most BLOCK values. Reusing a counter value would
# let the gateway reject fresh frames as replays (and reuse an AES-CTR keystream), so skipping is the safe side.
from firmware.shell import persist

BLOCK = 32


class FrameCounter:
    def __init__(self, path):
        self._path = path
        data = persist.load(path, {}) or {}
        self.value = int(data.get("reserved", 0))
        self._reserve()

    def _reserve(self):
        self._reserved = self.value + BLOCK
        persist.save(self._path, {"reserved": self._reserved})

    def next(self):
        value = self.value
        self.value += 1
        if self.value >= self._reserved:
            self._reserve()
        return value
