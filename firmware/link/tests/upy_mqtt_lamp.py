"""A lamp's link over MQTT, run on the MicroPython unix port by test_mqtt_on_micropython.py (not a test).

    micropython upy_mqtt_lamp.py PORT WORKDIR N_FRAMES SECONDS [USER PASSWORD]

WORKDIR/lamp.json, when present, names another lamp: {"lamp_id", "devaddr", "key_hex", "need_downlink"}.

Queues N status frames one every 100 ms through Link + FrameQueue + MqttTransport (umqtt.simple2), keeps
servicing the link, and prints one JSON line per happening: {"delivered": n}, {"downlink": {...}},
{"connected": bool}. Exits after SECONDS or once everything is delivered and a downlink was seen.
"""
import json
import sys
import time

from telemetry import encode
from telemetry.crypto import DeviceKey
from firmware.link.link import Link
from firmware.link.mqtt_transport import MqttTransport
from firmware.link.queue import FrameQueue

port, workdir, n_frames, seconds = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
user = sys.argv[5].encode() if len(sys.argv) > 6 else None
password = sys.argv[6].encode() if len(sys.argv) > 6 else None
need_downlink = user is None  # the ACL test sends no downlink
LAMP_ID, KEY, ADDR = "LAMP-0001", DeviceKey(bytes(range(16))), 0x100001
try:
    with open(workdir + "/lamp.json") as f:
        named = json.load(f)
    LAMP_ID, KEY, ADDR = named["lamp_id"], DeviceKey(bytes.fromhex(named["key_hex"])), named["devaddr"]
    need_downlink = named.get("need_downlink", need_downlink)
except OSError:
    pass
counter = [0]


def next_fcnt():
    counter[0] += 1
    return counter[0] - 1


def say(obj):
    print(json.dumps(obj))


transport = MqttTransport(LAMP_ID, "127.0.0.1", port, user=user, password=password, keepalive=4)
link = Link(transport, FrameQueue(workdir + "/q.bin", slots=64, flush_every=1), ADDR, KEY, next_fcnt,
            state_path=workdir + "/link.json")
start = time.ticks_ms()
queued = 0
was_connected = None
downlinks = 0
while time.ticks_diff(time.ticks_ms(), start) < seconds * 1000:
    now = time.ticks_diff(time.ticks_ms(), start)
    if queued < n_frames and now >= queued * 100:
        fields = {"time_s": 1750000000 + queued * 60, "vbat_mv": 13000 + queued, "ibat_ma": 0, "led_ma": 0,
                  "pv_mv": 0, "soc_pct": 80, "led_pct": 0, "temp_c": 25, "mode": "day", "faults": []}
        link.submit(encode("status", ADDR, next_fcnt(), KEY, fields), 1750000000000 + now)
        queued += 1
    before = link.stats["delivered"]
    for dl in link.service(1750000000000 + now):
        downlinks += 1
        say({"downlink": {"command": dl.get("command"), "arg": dl.get("arg"), "dl_id": dl.get("dl_id")}})
        link.acknowledge(dl, "applied", 1750000000000 + now)
    if link.stats["delivered"] != before:
        say({"delivered": link.stats["delivered"]})
    if transport.connected() != was_connected:
        was_connected = transport.connected()
        say({"connected": was_connected, "error": transport.last_error})
    if queued == n_frames and len(link.queue) == 0 and (downlinks or not need_downlink):
        break
    time.sleep_ms(20)
say({"done": True, "stats": transport.stats, "queue": len(link.queue), "rejected": link.stats["rejected"]})
