"""The MQTT transport on the real MicroPython interpreter with the real umqtt.simple2, against a real
mosquitto: frames arrive in order, birth and last will land on the status topic, a downlink reaches the
lamp and is acknowledged, and a broker restart is survived with no frame lost. The Recorder answers each
frame as the gateway does once it stored it (an ack downlink naming the frame's counter): the lamp forgets
a frame only on that answer, never on the PUBACK alone. CPython only."""
from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from telemetry import decode, reconstruct_fcnt
from telemetry.crypto import DeviceKey
from telemetry.downlink import encode_downlink
from lampfleet import devlibs
from lampfleet.broker import Mosquitto

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = Path(__file__).with_name("upy_mqtt_lamp.py")
KEY = DeviceKey(bytes(range(16)))
ADDR = 0x100001
MICROPYTHON = str(Path(os.sys.executable).parent / "micropython")


class Recorder:
    """paho subscriber with a persistent session: keeps what the broker delivers, in order, and answers each
    frame with an ack downlink (`answer` False: silent, as a gateway that is down)."""

    def __init__(self, port: int, answer: bool = True):
        self.messages: list[tuple[str, bytes, bool]] = []
        self.answer = answer
        self.dl_fcnt = 0
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="recorder", clean_session=False)
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe([("lampfleet/+/up", 1), ("lampfleet/+/status", 1)])
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.2, 1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_message(self, client, userdata, m) -> None:  # type: ignore[no-untyped-def]
        self.messages.append((m.topic, bytes(m.payload), m.retain))
        if self.answer and m.topic.endswith("/up"):
            answer_as_gateway(client, m, self.next_dl_fcnt())

    def next_dl_fcnt(self) -> int:
        self.dl_fcnt += 1
        return self.dl_fcnt

    def frames(self) -> list[bytes]:
        return [p for t, p, _ in self.messages if t.endswith("/up")]

    def statuses(self) -> list[bytes]:
        return [p for t, p, _ in self.messages if t.endswith("/status")]

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def answer_as_gateway(client: mqtt.Client, m: mqtt.MQTTMessage, dl_fcnt: int) -> None:
    """What the gateway publishes once it stored an uplink: an ack naming the frame's counter."""
    ack = encode_downlink("ack", ADDR, dl_fcnt, KEY, {"ack_fcnt16": m.payload[4] | m.payload[5] << 8})
    client.publish(m.topic[:-len("up")] + "down", ack, qos=1)


def wait(pred, timeout_s=20.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


def start_lamp(port: int, workdir: Path, n: int, seconds: int, credentials: tuple[str, str] | None = None):
    lib = devlibs.ensure("umqtt.simple2")
    env = dict(os.environ, MICROPYPATH=f"{ROOT}:{lib}:.frozen")
    proc = subprocess.Popen([MICROPYTHON, str(SCRIPT), str(port), str(workdir), str(n), str(seconds),
                             *(credentials or ())],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(json.loads(x)) for x in proc.stdout], daemon=True).start()
    return proc, lines


def drain_lines(lines: queue.Queue) -> list[dict]:
    out = []
    while True:
        try:
            out.append(lines.get_nowait())
        except queue.Empty:
            return out


def decoded_fcnts(frames: list[bytes]) -> list[int]:
    out, last = [], None
    for f in frames:
        fcnt = reconstruct_fcnt(last, f[4] | f[5] << 8)
        decode(f, KEY, fcnt, 1750000000)  # every frame authentic
        out.append(fcnt)
        last = fcnt if last is None else max(last, fcnt)
    return out


@pytest.fixture
def broker(tmp_path):
    b = Mosquitto(tmp_path / "broker").start()
    yield b
    b.stop()


def test_frames_birth_downlink_and_last_will(broker, tmp_path):
    rec = Recorder(broker.port)
    work = tmp_path / "lamp"
    work.mkdir()
    proc, lines = start_lamp(broker.port, work, 10, 30)
    try:
        assert wait(lambda: len(rec.frames()) == 10), proc.stderr.read() if proc.poll() is not None else rec.messages
        assert decoded_fcnts(rec.frames()) == list(range(10))
        assert rec.statuses()[0] == b"online"
        # a command for the lamp, QoS 1 on its down topic
        cmd = encode_downlink("command", ADDR, rec.next_dl_fcnt(), KEY, {"ack_fcnt16": None, "dl_id": 5, "command": "test_on",
                                                          "arg": 3})
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="gw")
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        pub.publish("lampfleet/LAMP-0001/down", cmd, qos=1).wait_for_publish(5)
        assert wait(lambda: len(rec.frames()) == 11)  # the dlack
        dlack = rec.frames()[-1]
        assert decode(dlack, KEY, 10, 0) == {"version": 1, "type": "dlack", "devaddr": ADDR, "fcnt": 10, "dl_id": 5,
                                             "result": "applied"}
        proc.wait(20)
        events = drain_lines(lines)
        assert {"downlink": {"command": "test_on", "arg": 3, "dl_id": 5}} in events
        pub.loop_stop()
        pub.disconnect()
    finally:
        if proc.poll() is None:
            proc.kill()
        rec.stop()
    # The script ended without a DISCONNECT (process exit closes the socket): the broker sends the will.
    rec2 = Recorder(broker.port)
    try:
        assert wait(lambda: rec2.statuses() and rec2.statuses()[-1] == b"offline", 10)
    finally:
        rec2.stop()


def test_broker_restart_loses_nothing(broker, tmp_path):
    rec = Recorder(broker.port)
    work = tmp_path / "lamp"
    work.mkdir()
    proc, lines = start_lamp(broker.port, work, 40, 60)
    try:
        assert wait(lambda: len(rec.frames()) >= 5)
        broker.stop()
        time.sleep(1.5)  # the lamp keeps queueing on flash meanwhile
        broker.start()
        assert wait(lambda: len(set(decoded_fcnts(rec.frames()))) == 40, 45), drain_lines(lines)
        fcnts = decoded_fcnts(rec.frames())
        assert sorted(set(fcnts)) == list(range(40))
        first_seen = sorted(set(fcnts), key=fcnts.index)
        assert first_seen == list(range(40))  # in order (a QoS 1 redelivery may repeat one: at least once)
        events = drain_lines(lines)
        assert {"connected": False} in [{"connected": e["connected"]} for e in events if "connected" in e]
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        rec.stop()


def test_a_frame_the_broker_took_stays_until_the_gateway_answers(broker, tmp_path):
    """PUBACK alone delivers nothing: unanswered, the frame stays on the lamp's flash; a late answer (a
    gateway back from an outage) delivers it at once, well before the link's 30 s backoff."""
    rec = Recorder(broker.port, answer=False)
    work = tmp_path / "lamp"
    work.mkdir()
    proc, lines = start_lamp(broker.port, work, 3, 40)
    try:
        assert wait(lambda: len(rec.frames()) >= 1)
        time.sleep(4)  # past the transport's 3 s wait for an answer
        assert not [e for e in drain_lines(lines) if "delivered" in e]
        assert len(rec.frames()) == 1  # backing off: no frame per loop
        rec.answer = True
        first = rec.frames()[0]
        late = encode_downlink("ack", ADDR, rec.next_dl_fcnt(), KEY, {"ack_fcnt16": first[4] | first[5] << 8})
        rec.client.publish("lampfleet/LAMP-0001/down", late, qos=1)
        events: list[dict] = []
        assert wait(lambda: events.extend(drain_lines(lines)) or {"delivered": 3} in events, 15), events
        assert sorted(set(decoded_fcnts(rec.frames()))) == [0, 1, 2]
    finally:
        if proc.poll() is None:
            proc.kill()
        rec.stop()
