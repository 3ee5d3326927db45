"""`lampfleet bench ingest`: the gateway's ingest throughput, measured against a bare paho subscriber.

Three figures, in one run, on a private mosquitto:
  pipeline   verify + decode + detect + store, in process, no network (one core: one Python thread);
  mqtt       frames/s draining a queue of QoS 1 frames from the broker: a bare paho subscriber (receive
             and acknowledge, nothing else) against the gateway service (the same, plus the pipeline,
             with acknowledgements after each batch commit); the ratio is the bar (>= 50 %);
  backlog    a backlog of --backlog frames queued at the broker while the gateway is down, then replayed:
             time to store it all, checked frame by frame (none lost, none doubled).
Benchmarks live apart from the tests: they print figures (JSON with --json), they never assert timing.
"""
from __future__ import annotations

import dataclasses
import json
import os
import platform
import sqlite3
import struct
import tempfile
import threading
import time
from pathlib import Path

import click

from gateway.registry import Lamp

_BLOCK = struct.Struct("<B4xBII")
_STATUS = struct.Struct("<HHhHBBBbH")
T0 = 1785582000  # 2026-08-01 11:00 UTC


class _Encoder:
    """Status frames as a lamp would send them (same bytes as telemetry.encode), fast enough to build a
    million in seconds."""

    def __init__(self, key: bytes):
        from cryptography.hazmat.primitives import cmac
        from cryptography.hazmat.primitives.ciphers import algorithms

        from telemetry.aes import block_encryptor

        root = block_encryptor(key)
        self.cmac = cmac.CMAC(algorithms.AES(root(b"\x01" + bytes(15))))
        self.enc = block_encryptor(root(b"\x02" + bytes(15)))

    def status(self, devaddr: int, fcnt: int, t_s: int, night: bool) -> bytes:
        led_pct, led_ma = (100, 830) if night else (0, 0)
        ibat, pv, mode = (-850, 200, 1) if night else (1500, 18000, 0)
        payload = _STATUS.pack((t_s // 60) & 0xFFFF, 12900, ibat, led_ma, pv // 100, 70, led_pct, 27, mode)
        header = struct.pack("<BHBH", 0x11, devaddr & 0xFFFF, devaddr >> 16, fcnt & 0xFFFF)
        stream = self.enc(_BLOCK.pack(0x01, 0, devaddr, fcnt) + b"\x00\x01")
        body = header + bytes(a ^ b for a, b in zip(payload, stream))
        mac = self.cmac.copy()
        mac.update(_BLOCK.pack(0x49, 0, devaddr, fcnt) + bytes((0, len(body))) + body)
        return body + mac.finalize()[:4]


def fleet(n_lamps: int) -> list[Lamp]:
    return [Lamp(f"BENCH-{i:05d}", 0x300000 + i, (i + 1).to_bytes(16, "big"), site="bench", district=f"d{i % 8}")
            for i in range(n_lamps)]


def frames(lamps: list[Lamp], n: int, start_fcnt: int = 0) -> list[tuple[str, bytes]]:
    """n status frames, round robin over the lamps, 10 minutes apart per lamp, days and nights."""
    encoders = [_Encoder(lp.key) for lp in lamps]
    out = []
    for k in range(n):
        i, round_ = k % len(lamps), k // len(lamps) + start_fcnt
        t = T0 + 600 * round_
        night = (t + 3600) % 86400 >= 18 * 3600 or (t + 3600) % 86400 < 6 * 3600
        out.append((f"lampfleet/{lamps[i].lamp_id}/up", encoders[i].status(lamps[i].devaddr, round_, t, night)))
    return out


def _settings(db: Path, broker_url: str = "mqtt://127.0.0.1:1", client_id: str = "bench-gateway"):  # type: ignore[no-untyped-def]
    from gateway.settings import Settings

    return Settings(broker_url=broker_url, database=db, clock="device", client_id=client_id, grace_s=0)


def bench_pipeline(lamps: list[Lamp], batch: list[tuple[str, bytes]], workdir: Path) -> dict:
    from gateway.service import Gateway

    gw = Gateway(_settings(workdir / "pipeline.sqlite3"))
    gw.registry.add_many([dataclasses.replace(lp) for lp in lamps])  # copies: the run moves their counters
    t0, c0 = time.perf_counter(), time.process_time()
    handle = gw.handle
    for k, (topic, payload) in enumerate(batch):
        handle(topic, payload)
        if k % 1000 == 999:
            gw.flush(tick=False)
    gw.flush(tick=False)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    stored = gw.conn.execute("SELECT count(*) FROM readings").fetchone()[0]
    gw.close()
    return {"frames": len(batch), "seconds": round(dt, 3), "frames_per_s": round(len(batch) / dt),
            "cpu_s": round(cpu, 3), "frames_per_cpu_s": round(len(batch) / cpu),
            "stored": stored, "rejected": _rejected(gw.ingest.rejects)}


def _publish(url_port: int, batch: list[tuple[str, bytes]], progress=None) -> float:  # type: ignore[no-untyped-def]
    import paho.mqtt.client as mqtt

    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{os.getpid()}")
    pub.max_inflight_messages_set(1000)
    pub.max_queued_messages_set(0)
    pub.connect("127.0.0.1", url_port)
    pub.loop_start()
    t0 = time.perf_counter()
    info = None
    for k, (topic, payload) in enumerate(batch):
        info = pub.publish(topic, payload, qos=1)
        if k % 20000 == 19999:
            # paho's message IDs are 16 bits: never hold more than 65,535 unacknowledged publishes
            info.wait_for_publish(600)
            if progress:
                progress(k + 1)
    if info is not None:
        info.wait_for_publish(600)
    dt = time.perf_counter() - t0
    pub.loop_stop()
    pub.disconnect()
    return dt


def _v5_client(client_id: str, on_message):  # type: ignore[no-untyped-def]
    import paho.mqtt.client as mqtt
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    c.on_message = on_message
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    props.ReceiveMaximum = 2000
    return c, props


def bench_bare_paho(port: int, batch: list[tuple[str, bytes]]) -> dict:
    """A subscriber that only receives and acknowledges: the ceiling for any paho-based consumer."""
    got = [0]
    done = threading.Event()
    n = len(batch)

    def on_message(client, userdata, msg) -> None:  # type: ignore[no-untyped-def]
        got[0] += 1
        if got[0] >= n:
            done.set()

    c, props = _v5_client("bench-bare", on_message)
    c.connect("127.0.0.1", port, clean_start=True, properties=props)
    c.subscribe("lampfleet/+/up", qos=1)
    c.loop_start()
    time.sleep(0.3)
    c.loop_stop()
    c.disconnect()
    _publish(port, batch)
    c, props = _v5_client("bench-bare", on_message)
    c.connect("127.0.0.1", port, clean_start=False, properties=props)
    t0, c0 = time.perf_counter(), time.process_time()
    c.loop_start()
    done.wait(600)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    c.loop_stop()
    c.disconnect()
    return {"frames": got[0], "seconds": round(dt, 3), "frames_per_s": round(got[0] / dt), "cpu_s": round(cpu, 3),
            "frames_per_cpu_s": round(got[0] / max(cpu, 1e-9))}


def _run_gateway(settings, lamps: list[Lamp] | None) -> tuple:  # type: ignore[no-untyped-def]
    from gateway.service import GatewayService

    service = GatewayService(settings)
    if lamps:
        service.gateway.registry.add_many([dataclasses.replace(lp) for lp in lamps])
    thread = threading.Thread(target=service.run, daemon=True)
    thread.start()
    return service, thread


def bench_gateway_drain(port: int, lamps: list[Lamp], batch: list[tuple[str, bytes]], db: Path,
                        client_id: str = "bench-gateway", progress=None) -> dict:  # type: ignore[no-untyped-def]
    """Gateway subscribes (persistent session), goes down, frames queue up, gateway comes back: time to store."""
    settings = _settings(db, f"mqtt://127.0.0.1:{port}", client_id)
    service, thread = _run_gateway(settings, lamps)
    service.ready.wait(10)
    service.stopping.set()
    thread.join(30)
    publish_s = _publish(port, batch, progress and (lambda k: progress("publish", k)))
    service, thread = _run_gateway(settings, None)
    t0, c0 = time.perf_counter(), time.process_time()
    n = len(batch)
    store = service.gateway.store
    while store.rows < n and time.perf_counter() - t0 < 3600:
        if progress:
            progress("replay", store.rows)
        time.sleep(0.05)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    service.stopping.set()
    thread.join(60)
    conn = sqlite3.connect(db)
    stored, distinct = conn.execute("SELECT count(*), count(DISTINCT lamp_id || ':' || fcnt) FROM readings").fetchone()
    expected = {(topic.split("/")[1], i // len(lamps)) for i, (topic, _) in enumerate(batch)}
    have = set(conn.execute("SELECT lamp_id, fcnt FROM readings"))
    conn.close()
    return {"frames": n, "publish_s": round(publish_s, 3), "seconds": round(dt, 3), "frames_per_s": round(n / dt),
            "cpu_s": round(cpu, 3), "frames_per_cpu_s": round(n / max(cpu, 1e-9)), "stored": stored,
            "lost": len(expected - have), "doubled": stored - distinct,
            "rejected": _rejected(service.gateway.ingest.rejects),
            "duplicates": service.gateway.ingest.rejects["duplicate"]}


def _rejected(rejects) -> int:  # type: ignore[no-untyped-def]
    """Refused frames, QoS 1 redeliveries (dropped as duplicates, stored already) not included."""
    return sum(n for reason, n in rejects.items() if reason != "duplicate")


def _calibrate() -> float:
    """Millions of trivial Python loop iterations per second: to compare figures across machines."""
    t0, s = time.perf_counter(), 0
    for i in range(2_000_000):
        s += i
    return round(2 / (time.perf_counter() - t0), 2)


def run(n_frames: int, n_lamps: int, backlog: int, workdir: Path, progress=None) -> dict:  # type: ignore[no-untyped-def]
    from lampfleet.broker import Mosquitto

    lamps = fleet(n_lamps)
    batch = frames(lamps, n_frames)
    result: dict = {"lamps": n_lamps, "machine": {"python": platform.python_version(), "cpu": platform.processor()
                                                 or platform.machine(), "cpus": os.cpu_count(),
                                                 "calibration_mloops_per_s": _calibrate(),
                                                 "load_average": os.getloadavg()[0]}}
    result["pipeline"] = bench_pipeline(lamps, batch, workdir)
    broker = Mosquitto(workdir / "broker", persistence=False).start()
    try:
        bare = bench_bare_paho(broker.port, batch)
        gateway = bench_gateway_drain(broker.port, lamps, batch, workdir / "mqtt.sqlite3")
        result["mqtt"] = {"bare_paho": bare, "gateway": gateway,
                          "ratio": round(gateway["frames_per_s"] / max(bare["frames_per_s"], 1), 3),
                          "ratio_cpu": round(gateway["frames_per_cpu_s"] / max(bare["frames_per_cpu_s"], 1), 3)}
        if backlog:
            big = frames(lamps, backlog)
            result["backlog"] = bench_gateway_drain(broker.port, lamps, big, workdir / "backlog.sqlite3",
                                                    "bench-backlog", progress)
    finally:
        broker.stop()
    return result


@click.group("bench")
def command() -> None:
    """Benchmarks: figures for the issue notes, never pass/fail."""


@command.command("ingest")
@click.option("--frames", "n_frames", default=50_000, show_default=True, help="Frames for the throughput figures.")
@click.option("--lamps", "n_lamps", default=500, show_default=True)
@click.option("--backlog", default=1_000_000, show_default=True, help="Queued frames to replay (0: skip).")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), help="Keep files here.")
@click.option("--json", "as_json", is_flag=True)
def ingest(n_frames: int, n_lamps: int, backlog: int, workdir: Path | None, as_json: bool) -> None:
    """Ingest frames/s (pipeline and MQTT, against bare paho) and backlog replay time."""
    with tempfile.TemporaryDirectory(prefix="lampfleet-bench-") as tmp:
        wd = Path(workdir or tmp)
        wd.mkdir(parents=True, exist_ok=True)
        if as_json:
            result = run(n_frames, n_lamps, backlog, wd)
            click.echo(json.dumps(result, indent=2))
            return
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            tasks: dict[str, int] = {}

            def progress(stage: str, k: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(f"backlog {stage}", total=backlog)
                bar.update(tasks[stage], completed=k)

            result = run(n_frames, n_lamps, backlog, wd, progress)
        p, m = result["pipeline"], result["mqtt"]
        click.echo(f"pipeline (verify+decode+detect+store, 1 thread): {p['frames_per_s']:,} frames/s "
                   f"({p['frames_per_cpu_s']:,} per CPU second)")
        click.echo(f"MQTT drain: bare paho {m['bare_paho']['frames_per_s']:,} frames/s, gateway "
                   f"{m['gateway']['frames_per_s']:,} frames/s ({m['ratio']:.0%}; per CPU second {m['ratio_cpu']:.0%})")
        if "backlog" in result:
            b = result["backlog"]
            click.echo(f"backlog of {b['frames']:,}: queued in {b['publish_s']:.1f} s, replayed in {b['seconds']:.1f} s "
                       f"({b['frames_per_s']:,} frames/s), lost {b['lost']}, doubled {b['doubled']}")


@command.command("console")
@click.option("--lamps", "n_lamps", default=10_000, show_default=True, help="Fleet size.")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), help="Keep files here.")
@click.option("--json", "as_json", is_flag=True)
def console_bench(n_lamps: int, workdir: Path | None, as_json: bool) -> None:
    """Console: server time of the lamp list and overview, crew's first page bytes, Chromium load time."""
    from gateway.console.bench import main

    main(n_lamps, workdir, as_json)
