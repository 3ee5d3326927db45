"""Small JSON files on flash, written atomically: a power cut leaves the old or the new file, never half.

LittleFS (the ESP32 default) makes `rename` atomic; we write a temporary file first and rename it over.
"""
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
