"""A lamp's LoRa link on the MicroPython unix port, its radio on the emulator's hub (not a test).

    micropython upy_lora_lamp.py HUB_PORT WORKDIR N_FRAMES SECONDS

Queues N status frames through Link + FrameQueue + LoraTransport(NetModem), SF7, with the duty cycle
relaxed to 1/12 (a test cannot wait 6 s per frame; 1/12 still spaces frames more than the bridge's 10 %
downlink off-time) and a 300 ms retry, and prints JSON lines: {"delivered": n, "ms"}, {"downlink": {...}};
exits when all are delivered or after SECONDS.
"""
import json
import sys
import time

from telemetry import encode
from telemetry.crypto import DeviceKey
from firmware.link.dutycycle import DutyCycle
from firmware.link.link import Link
from firmware.link.lora_transport import LoraTransport
from firmware.link.net_modem import NetModem
from firmware.link.queue import FrameQueue

port, workdir, n_frames, seconds = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
KEY = DeviceKey(bytes(range(16)))
ADDR = 0x100001
LOOSE_DUTY = (("test", 863000, 870000, 0, 12),)
counter = [0]


def next_fcnt():
    counter[0] += 1
    return counter[0] - 1


transport = LoraTransport(NetModem("127.0.0.1", port, "lamp"), {"sf": 7}, duty=DutyCycle(LOOSE_DUTY), window_ms=1000)
link = Link(transport, FrameQueue(workdir + "/q.bin", slots=64), ADDR, KEY, next_fcnt,
            state_path=workdir + "/link.json", retry_min_ms=300, retry_max_ms=600)
for i in range(n_frames):
    fields = {"time_s": 1750000000 + i * 60, "vbat_mv": 13000 + i, "ibat_ma": 0, "led_ma": 0, "pv_mv": 0,
              "soc_pct": 80, "led_pct": 0, "temp_c": 25, "mode": "day", "faults": []}
    link.submit(encode("status", ADDR, next_fcnt(), KEY, fields), 1750000000000)
start = time.ticks_ms()
while time.ticks_diff(time.ticks_ms(), start) < seconds * 1000:
    now = 1750000000000 + time.ticks_diff(time.ticks_ms(), start)
    before = link.stats["delivered"]
    for dl in link.service(now):
        print(json.dumps({"downlink": {"command": dl.get("command"), "dl_id": dl.get("dl_id")}}))
        link.acknowledge(dl, "applied", now)
    if link.stats["delivered"] != before:
        print(json.dumps({"delivered": link.stats["delivered"], "ms": time.ticks_diff(time.ticks_ms(), start)}))
    if len(link.queue) == 0:
        break
    time.sleep_ms(20)
print(json.dumps({"done": True, "queue": len(link.queue), "stats": link.stats, "radio": transport.stats}))
