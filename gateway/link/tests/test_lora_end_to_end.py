"""A lamp reporting over the emulated LoRa link through the bridge, end to end, every piece real:

    lamp firmware link (unix port) -> radio hub -> bridge firmware (unix port) -> pty -> pyserial reader
    -> the gateway's ingest (MIC, replay window, store) -> acknowledgement + queued command -> bridge
    -> radio -> lamp -> dlack -> the same ingest, which closes the command

The gateway is deaf for the first seconds (its handler drops everything): the lamp keeps its frames on
flash and resends; afterwards every frame is stored exactly once, in order, the command reaches the lamp
and its dlack closes the command in the queue."""
from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

from emulator.radio import RadioHub
from gateway.link import serial_bridge as sb
from gateway.link.tests.test_serial_bridge import BridgeProcess, wait
from gateway.registry import Lamp
from gateway.service import Gateway
from gateway.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
LAMP_SCRIPT = ROOT / "firmware" / "link" / "tests" / "upy_lora_lamp.py"


def test_lamp_to_gateway_over_lora_through_the_bridge(tmp_path):
    hub = RadioHub().start()
    link_path = tmp_path / "ttyBRIDGE"
    bridge = BridgeProcess(tmp_path, hub.port, link_path, sf=7)  # listening where the lamp sends
    gateway = Gateway(Settings(database=tmp_path / "gw.sqlite3"))  # no network: answers come back here
    gateway.registry.add(Lamp("LAMP-0001", 0x100001, bytes(range(16))))
    downlinks = gateway.downlinks
    downlinks.resend_after_s = 5
    command = downlinks.enqueue("LAMP-0001", "command", command="test_on", arg=5)
    deaf_until = time.monotonic() + 2.0

    def on_uplink(frame: bytes, meta: sb.RxMeta):
        if time.monotonic() < deaf_until:
            return None
        reply = gateway.answer(frame, meta.rx_time, where="bridge")[1]
        gateway.flush(tick=False)
        return reply

    def stored():
        return gateway.conn.execute("SELECT fcnt, vbat_mv FROM readings ORDER BY fcnt").fetchall()

    reader = sb.SerialBridge(str(link_path), on_uplink, reopen_min_s=0.1).start()
    lamp = None
    try:
        assert reader.connected.wait(10) and wait(lambda: reader.hello is not None)
        work = tmp_path / "lamp"
        work.mkdir()
        env = dict(os.environ, MICROPYPATH=str(ROOT))
        lamp = subprocess.Popen([str(Path(sys.executable).parent / "micropython"), str(LAMP_SCRIPT), str(hub.port),
                                 str(work), "6", "40"], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=lambda: [lines.put(json.loads(x)) for x in lamp.stdout], daemon=True).start()
        assert wait(lambda: len(stored()) == 6, 40)
        lamp.wait(30)
        out = []
        while not lines.empty():
            out.append(lines.get())
        done = out[-1]
        assert done["done"] and done["queue"] == 0, out
        assert stored() == [(i, 13000 + i) for i in range(6)]  # each frame once, in order
        assert {"downlink": {"command": "test_on", "dl_id": command}} in out
        ingest = gateway.ingest
        assert wait(lambda: downlinks.state(command) == ("acked", "applied")), (out, downlinks.pending("LAMP-0001"),
                                                                              ingest.rejects)
        assert gateway.dlacks == {"applied": 1}
        assert set(ingest.rejects) <= {"duplicate"} and done["stats"]["unacked"] >= 1  # the deaf gateway cost retries
        assert gateway.conn.execute("SELECT count(*) FROM events").fetchone()[0] == 0  # the dlack stored nothing
        assert reader.tx_status.get("duty_cycle", 0) == 0
    finally:
        if lamp is not None and lamp.poll() is None:
            lamp.kill()
        reader.stop()
        if bridge.proc.poll() is None:
            bridge.unplug()
        hub.stop()
        gateway.close()
