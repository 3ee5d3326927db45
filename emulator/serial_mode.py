"""`lampfleet emulate --serial`: lamps that technicians flash and provision like real boards.

Each lamp is a `SerialLamp` (emulator/console.py): MicroPython behind a pty, its flash a host directory.
Its board is fixed by the emulator (`board.json`: the emulated board bus), everything else comes from
the technician: firmware and `config.json` written by `lampfleet flash`/`provision` or mpremote. Once the
firmware boots it connects to the board bus served here.

Unlike the batch runners, lamps here are flashed, reset and unplugged at any moment, so time cannot run
in lockstep: each lamp's world runs on its own virtual clock, paced at `speed` simulated seconds per
wall second (1.0 = real time), starting at the scenario start when the lamp first boots.
"""
from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

from emulator import network
from emulator.scenario import Scenario
from emulator.world import LampWorld


class PacedBus:
    """Board bus server for lamps that come and go; frames go to `sink(lamp_id, frame, t_s)`."""

    def __init__(self, scenario: Scenario, lamp_dirs: dict[str, Path], sink=None, speed: float = 60.0):
        self.scenario = scenario
        self.lamp_dirs = lamp_dirs
        self.sink = sink
        self.speed = speed
        self.worlds: dict[str, LampWorld] = {}
        self.clock: dict[str, float] = {}
        self.frames: dict[str, int] = {}
        self._server = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self._server.getsockname()[1]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="paced-bus", daemon=True)

    def start(self) -> "PacedBus":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._server.close()

    def _world(self, slot: str) -> LampWorld:
        if slot not in self.worlds:
            ident = next(i for i in self.scenario.lamps if i.lamp_id == slot)
            self.worlds[slot] = LampWorld(self.scenario, ident, self.scenario.lamps.index(ident))
            self.clock[slot] = self.scenario.start_s
        return self.worlds[slot]

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self._converse(conn)
        except ConnectionError:
            pass  # the lamp was reset or unplugged mid-request: its next boot connects again

    def _converse(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rwb") as f:
            slot = ""
            for line in f:
                req = json.loads(line)
                op = req.get("op")
                if op == "hello":
                    slot = req["lamp"]
                    world = self._world(slot)
                    reply = {"t_ms": world.lamp_clock_ms(self.clock[slot]), "reset_cause": "power_on",
                             "readings": world.readings(self.clock[slot])}
                elif op == "tx":
                    reply = self._forward(slot, bytes.fromhex(req["frame"]), self.clock[slot])
                elif op == "sleep":
                    world = self._world(slot)
                    t, dt = self.clock[slot], max(0.001, req["ms"] / 1000.0)
                    dt = world.sleep(t, dt, req.get("led_pct", 0), req.get("wake"))
                    time.sleep(dt / self.speed)
                    self.clock[slot] = t + dt
                    reply = {"t_ms": world.lamp_clock_ms(t + dt), "readings": world.readings(t + dt)}
                elif op == "set_time":
                    reply = {"t_ms": self._world(slot).set_lamp_clock(self.clock[slot], int(req["t_ms"]))}
                else:
                    return
                f.write(json.dumps(reply).encode() + b"\n")
                f.flush()

    def _forward(self, slot: str, frame: bytes, t_s: float) -> dict:
        # The frames carry the provisioned identity; the MQTT topic follows the lamp's current config.
        try:
            lamp_id = json.loads((self.lamp_dirs[slot] / "config.json").read_text())["lamp_id"]
        except (OSError, ValueError, KeyError):
            lamp_id = slot
        self.frames[slot] = self.frames.get(slot, 0) + 1
        ok = network.deliver(self._world(slot), self.sink, lamp_id, frame, t_s)
        return {"ok": ok, "down": [f.hex() for f in network.downlinks(self.sink, lamp_id)]}


def prepare_serial_lamps(scenario: Scenario, workdir: Path, bus_address: str) -> dict[str, Path]:
    """One flash directory per lamp slot, holding only the board file (the hardware's wiring)."""
    dirs = {}
    for ident in scenario.lamps:
        d = Path(workdir) / ident.lamp_id
        d.mkdir(parents=True, exist_ok=True)
        (d / "board.json").write_text(json.dumps({"board": "emulated", "bus": bus_address, "lamp": ident.lamp_id}))
        dirs[ident.lamp_id] = d
    return dirs
