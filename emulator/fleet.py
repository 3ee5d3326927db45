"""Fleet mode: hundreds to thousands of lamps in one CPython process, same firmware source.

Each lamp is the firmware's own `App` (firmware/shell/app.py) driven through an in-process HAL instead of
the TCP board bus. Scheduling, readings and fault timing mirror the MicroPython-in-the-loop runner
exactly (one sensor read per wake-up, lamps released in time then index order, unpowered lamps polled
every OFF_POLL_S), so for the same seed and scenario both modes make the same lighting decisions and
send the same frames byte for byte; `emulator/tests/test_modes_agree.py` checks it.

Each lamp's persistent files live in its own directory; the process changes into it before running that
lamp's code, because the firmware opens its files relative to the current directory, as on the device.
"""
from __future__ import annotations

import heapq
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from emulator import network
from emulator.scenario import LampIdentity, Scenario
from emulator.upy import OFF_POLL_S, MAX_RESTARTS
from emulator.world import LampWorld


class DirectHal:
    """The emulated HAL's contract (firmware/hal/base.py), in-process."""

    def __init__(self, lamp: "_FleetLamp", t_s: float, reset_cause: str):
        self._lamp = lamp
        self._t_s = t_s
        self._reset_cause = reset_cause
        self._led_pct = 0
        self._readings = lamp.world.readings(t_s)

    def reset_cause(self) -> str:
        return self._reset_cause

    def now_ms(self) -> int:
        return self._lamp.world.lamp_clock_ms(self._t_s)  # the lamp's RTC (emulator/rtc.py)

    def set_time_ms(self, t_ms: int) -> None:
        self._lamp.world.set_lamp_clock(self._t_s, t_ms)

    def read_inputs(self) -> dict:
        return self._readings

    def set_led(self, pct: int) -> None:
        self._led_pct = pct

    def radio_send(self, frame: bytes) -> bool:
        return self._lamp.send(bytes(frame), self._t_s)

    def radio_poll(self) -> list[bytes]:
        return network.downlinks(self._lamp.sink, self._lamp.ident.lamp_id)

    def sleep_ms(self, ms: int, wake: dict | None = None) -> None:
        lamp = self._lamp
        lamp.wake_s = self._t_s + lamp.world.sleep(self._t_s, max(0.001, ms / 1000.0), self._led_pct, wake)
        lamp.hal_sleeping = True

    def wake(self, t_s: float) -> None:
        self._t_s = t_s
        self._readings = self._lamp.world.readings(t_s)

    def feed_watchdog(self) -> None:
        pass

    def log(self, msg: str) -> None:
        self._lamp.console.append(msg)


class _FleetLamp:
    def __init__(self, index: int, ident: LampIdentity, world: LampWorld, lamp_dir: Path, sink):
        self.index = index
        self.ident = ident
        self.world = world
        self.dir = lamp_dir
        self.sink = sink
        self.app = None
        self.hal: DirectHal | None = None
        self.wake_s = 0.0
        self.t_s = 0.0
        self.off = False
        self.reset_cause = "power_on"
        self.frames = 0
        self.restarts = 0
        self.power_cycles = 0
        self.hal_sleeping = False
        self.console: list[str] = []

    def send(self, frame: bytes, t_s: float) -> bool:
        self.frames += 1
        return network.deliver(self.world, self.sink, self.ident.lamp_id, frame, t_s)


class FleetEmulator:
    def __init__(self, scenario: Scenario, workdir: Path, sink=None,
                 progress: Callable[[float], None] | None = None):
        self.scenario = scenario
        self.workdir = Path(workdir)
        self.sink = sink
        self.progress = progress

    def _boot(self, lamp: _FleetLamp, t_s: float, reset_cause: str) -> None:
        from firmware.shell.app import App

        sc = self.scenario
        ident = lamp.ident
        config = {"lamp_id": ident.lamp_id, "devaddr": ident.devaddr, "key_hex": ident.key.hex(),
                  "site": sc.site, "profile": ident.profile, "settings": sc.settings}
        (lamp.dir / "config.json").write_text(json.dumps(config))
        lamp.t_s = t_s
        lamp.hal = DirectHal(lamp, t_s, reset_cause)
        lamp.off = False
        lamp.app = App(lamp.hal, config)
        lamp.app.boot()
        lamp.wake_s = t_s  # the first loop iteration runs at once, as on the board bus

    def _step(self, lamp: _FleetLamp, t_s: float) -> None:
        if lamp.off:
            lamp.world.advance(lamp.t_s, t_s - lamp.t_s, 0)
            lamp.t_s = t_s
            if lamp.world.physics.powered:
                lamp.power_cycles += 1
                self._boot(lamp, t_s, lamp.reset_cause)
            else:
                lamp.wake_s = t_s + OFF_POLL_S
            return
        assert lamp.hal is not None and lamp.app is not None
        if t_s != lamp.t_s:
            lamp.hal.wake(t_s)
            lamp.t_s = t_s
        lamp.hal_sleeping = False
        try:
            lamp.app.loop_once()
        except Exception:  # noqa: BLE001 - a crash is a watchdog reset, as in the MicroPython runner
            lamp.restarts += 1
            if lamp.restarts > MAX_RESTARTS:
                lamp.wake_s = float("inf")
                return
            self._boot(lamp, t_s, "watchdog")
            return
        if not lamp.hal_sleeping:
            raise RuntimeError(f"{lamp.ident.lamp_id}: firmware loop returned without sleeping")
        cause = lamp.world.take_supply_event()
        if cause is not None:
            lamp.off = True
            lamp.reset_cause = cause
            lamp.t_s = lamp.wake_s

    def run(self) -> dict:
        sc = self.scenario
        wall0, cpu0 = time.perf_counter(), time.process_time()
        cwd = os.getcwd()
        from emulator.world import make_weather

        weather = make_weather(sc)  # one weather per site, shared: clouds cover every lamp alike
        lamps = []
        for i, ident in enumerate(sc.lamps):
            lamp_dir = self.workdir / ident.lamp_id
            lamp_dir.mkdir(parents=True, exist_ok=True)
            lamps.append(_FleetLamp(i, ident, LampWorld(sc, ident, i, weather=weather), lamp_dir, self.sink))
        heap: list[tuple[float, int]] = []
        try:
            for lamp in lamps:
                os.chdir(lamp.dir)
                self._boot(lamp, sc.start_s, "power_on")
                heap.append((lamp.wake_s, lamp.index))
            heapq.heapify(heap)
            next_progress = 0.0
            while heap:
                t_s, index = heapq.heappop(heap)
                if t_s >= sc.end_s:
                    break
                lamp = lamps[index]
                os.chdir(lamp.dir)
                self._step(lamp, t_s)
                heapq.heappush(heap, (lamp.wake_s, index))
                if self.progress and t_s >= next_progress:
                    self.progress((t_s - sc.start_s) / (sc.end_s - sc.start_s))
                    next_progress = t_s + 3600
        finally:
            os.chdir(cwd)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        return {
            "mode": "fleet", "lamp_days": round(len(lamps) * sc.days, 3), "wall_s": round(wall, 3),
            "cpu_s": round(cpu, 3),
            "lamps": [dict(lp.world.metrics(), id=lp.ident.lamp_id, frames=lp.frames, restarts=lp.restarts,
                           power_cycles=lp.power_cycles) for lp in lamps],
        }
