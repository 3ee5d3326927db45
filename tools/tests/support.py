"""Test fixtures for the technician tools: emulated lamps on ptys and a minimal board bus.

The bus answers the emulated HAL (firmware/hal/emulated.py) just enough for the firmware to boot and
print its boot line: `hello` gets readings and a reset cause, `sleep` is answered after a short wall
delay so an idle lamp costs no CPU.
"""
from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

READINGS = {"vbat_mv": 13200, "ibat_ma": 0, "pv_mv": 0, "led_ma": 0, "temp_c": 25, "soc_pct": 80}


class FakeBus:
    def __init__(self, sleep_s: float = 0.5) -> None:
        self.sleep_s = sleep_s
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.address = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.hellos: list[str] = []
        self.frames = 0
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def board(self, lamp_id: str) -> dict[str, object]:
        return {"board": "emulated", "bus": self.address, "lamp": lamp_id}

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self._answer(conn)
        except OSError:
            pass  # the lamp was reset or stopped

    def _answer(self, conn: socket.socket) -> None:
        t_ms = 1_700_000_000_000
        with conn, conn.makefile("rwb") as f:
            for line in f:
                try:
                    req = json.loads(line)
                except ValueError:
                    return
                op = req.get("op")
                if op == "hello":
                    self.hellos.append(req.get("lamp", ""))
                    reply = {"reset_cause": "power_on", "readings": READINGS, "t_ms": t_ms}
                elif op == "tx":
                    self.frames += 1
                    reply = {"ok": True, "down": []}  # the network took it
                elif op == "sleep":
                    time.sleep(self.sleep_s)
                    t_ms += int(req.get("ms", 1000))
                    reply = {"readings": READINGS, "t_ms": t_ms}
                else:
                    t_ms = int(req.get("t_ms", t_ms))
                    reply = {"t_ms": t_ms}
                try:
                    f.write(json.dumps(reply).encode() + b"\n")
                    f.flush()
                except OSError:
                    return

    def close(self) -> None:
        self._stop = True
        self.sock.close()


def tree_hashes(lamp_dir: Path, paths: list[str], dirs: tuple[str, ...]) -> dict[str, str]:
    """sha256 of the managed files in a lamp directory, keyed by device path."""
    import hashlib

    out = {}
    for p in paths:
        f = lamp_dir / p.lstrip("/")
        if f.is_file():
            out[p] = hashlib.sha256(f.read_bytes()).hexdigest()
    for d in dirs:
        root = lamp_dir / d.lstrip("/")
        if root.is_dir():
            for f in sorted(root.rglob("*")):
                if f.is_file():
                    out["/" + f.relative_to(lamp_dir).as_posix()] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out
