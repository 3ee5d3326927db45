"""Small JSON files on flash, written atomically: a power cut leaves the old or the new file, never half."""
# LittleFS (the ESP32 default) makes `rename` atomic; we write a temporary file first and rename it over.
# `Saver` spares the flash: it writes at most once per `interval_s`, or after `urgent_s` when something
# worth keeping happened (dusk, dawn, load disconnect), and never rewrites identical contents.
import binascii
import json
import os


def load(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except OSError:
        return default
    except ValueError:
        # A corrupt file is treated as missing: the lamp must still boot and light.
        return default


def save(path, data):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(json.dumps(data))
    os.rename(tmp, path)


class Saver:
    def __init__(self, path, interval_s, urgent_s=600):
        self.path = path
        self.interval_ms = interval_s * 1000
        self.urgent_ms = urgent_s * 1000
        self.last_ms = None
        self.last_crc = None  # of the last contents written: identical state is not written again
        self.writes = 0

    def due(self, now_ms, urgent=False):
        if self.last_ms is None:
            return True
        wait = self.urgent_ms if urgent else self.interval_ms
        return now_ms - self.last_ms >= wait or now_ms < self.last_ms

    def save(self, now_ms, data):
        """Write now (the caller checked `due`); raises OSError when the flash write fails."""
        self.last_ms = now_ms
        text = json.dumps(data)
        crc = binascii.crc32(text.encode())
        if crc == self.last_crc:
            return
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, self.path)
        self.last_crc = crc
        self.writes += 1
