"""A small deterministic lamp model for gateway tests: the frames a lamp would send, with faults.

Not the emulator (that runs the real firmware on MicroPython): this is just enough physics (sun by
local hour, a battery that charges by day and discharges at night) to exercise every detection rule
quickly and to build real encrypted frames for the broker tests.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from telemetry import DeviceKey, encode

from gateway.registry import Lamp

T0 = 1785582000  # 2026-08-01 11:00 UTC = 12:00 in Bangui
UTC_OFFSET_S = 3600
DUSK_H, DAWN_H = 18.3, 5.8


def local_hour(t_s: int) -> float:
    return (t_s + UTC_OFFSET_S) % 86400 / 3600


def is_night(t_s: int) -> bool:
    h = local_hour(t_s)
    return h >= DUSK_H or h < DAWN_H


@dataclass
class SynthLamp:
    lamp: Lamp
    capacity_mah: int = 20000
    soc: float = 80.0
    faults: set[str] = field(default_factory=set)  # led_open, led_short, day_burning, panel_gone, radio_dead,
    #                                                 storm (no sun), unused (kits), weak_battery
    fcnt: int = 0
    mode: str = "day"
    level_after_midnight: int = 100

    @property
    def lamp_id(self) -> str:
        return self.lamp.lamp_id

    def status(self, t: int) -> dict:
        lamp, night = self.lamp, is_night(t)
        dt_h = lamp.status_interval_s / 3600
        h = local_hour(t)
        if night:
            level = 0 if (lamp.kind == "kit" and "unused" in self.faults) else (
                self.level_after_midnight if h < DAWN_H else 100)
            if self.soc <= 5 or (self.mode == "low_battery" and self.soc < 30):
                mode, level = "low_battery", 0
            else:
                mode = "night"
            led_ma = 0 if "led_open" in self.faults else lamp.led_max_ma * level // 100
            if "led_short" in self.faults and level:
                led_ma = lamp.led_max_ma * level // 100 * 2
            ibat = -(led_ma + 20)
            pv = 200
        else:
            mode, level = "day", 0
            led_ma = lamp.led_max_ma if "day_burning" in self.faults else 0
            sun = max(0.0, 1 - abs(h - 12) / 6.5)
            harvest = 0 if ("panel_gone" in self.faults or "storm" in self.faults) else int(4000 * sun)
            pv = 0 if "panel_gone" in self.faults else (3000 if "storm" in self.faults else int(18000 * min(1, sun * 3)))
            ibat = harvest - led_ma - 20
            if self.soc >= 100 and ibat > 0:
                ibat = 0
        self.mode = mode
        self.soc = min(100.0, max(0.0, self.soc + ibat * dt_h * 100 / self.capacity_mah))
        return {"time_s": t - t % 60, "vbat_mv": 12000 + int(self.soc * 14), "ibat_ma": ibat, "led_ma": led_ma,
                "pv_mv": pv, "soc_pct": int(self.soc), "led_pct": level, "temp_c": 28, "mode": mode, "faults": []}

    def next_fcnt(self) -> int:
        self.fcnt += 1
        return self.fcnt - 1


def decoded(kind: str, fields: dict, fcnt: int) -> dict:
    """A frame dict as telemetry.decode returns it (for pure detector tests)."""
    return {"version": 1, "type": kind, "devaddr": 1, "fcnt": fcnt, **fields}


class Fleet:
    """Lamps of one site stepping through time together; `loss` drops frames at random (seeded)."""

    def __init__(self, n: int, seed: int = 1, loss: float = 0.0, kind: str = "street", site: str = "bangui",
                 prefix: str = "BGI", interval_s: int = 600):
        self.rng = random.Random(seed)
        self.loss = loss
        self.lamps = [SynthLamp(Lamp(f"{prefix}-{i + 1:04d}", 0x200000 + i + 1 + (0x1000 if kind == "kit" else 0),
                                     bytes([i + 1]) * 16, kind=kind, site=site, district="Lakouanga",
                                     crew="nord", status_interval_s=interval_s))
                      for i in range(n)]
        self.keys = {s.lamp_id: DeviceKey(s.lamp.key) for s in self.lamps}
        self.t = T0

    def __getitem__(self, i: int) -> SynthLamp:
        return self.lamps[i]

    def step(self) -> list[tuple[SynthLamp, dict]]:
        """Advance one status interval: (lamp, decoded status) for every frame that got through."""
        out = []
        for s in self.lamps:
            if s.fcnt == 0:  # a lamp announces itself at power-on with its full clock
                out.append((s, self.boot(s, self.t - 5)))
            st = s.status(self.t)
            fcnt = s.next_fcnt()
            if "radio_dead" in s.faults or self.rng.random() < self.loss:
                continue
            out.append((s, decoded("status", st, fcnt)))
        self.t += self.lamps[0].lamp.status_interval_s
        return out

    def feed(self, gw, steps: int) -> None:  # type: ignore[no-untyped-def]
        """Step `steps` intervals, handing every frame to the Gateway `gw` as its MQTT uplink would."""
        for _ in range(steps):
            for s, frame in self.step():
                gw.handle(f"lampfleet/{s.lamp_id}/up", self.encoded(s, frame))
            gw.flush()

    def encoded(self, s: SynthLamp, frame: dict) -> bytes:
        fields = {k: v for k, v in frame.items() if k not in ("version", "type", "devaddr", "fcnt")}
        return encode(frame["type"], s.lamp.devaddr, frame["fcnt"], self.keys[s.lamp_id], fields)

    def event(self, s: SynthLamp, t: int, code: str, action: str = "raised", value: int = 0, ref: int = 0) -> dict:
        return decoded("event", {"time_s": t, "events": [{"code": code, "action": action, "value": value,
                                                          "ref": ref}]}, s.next_fcnt())

    def boot(self, s: SynthLamp, t: int, cause: str = "power_on", count: int = 1) -> dict:
        return decoded("boot", {"time_s": t, "fw_version": "1.0.0", "reset_cause": cause, "boot_count": count,
                                "profile": s.lamp.kind if s.lamp.kind != "kit" else "kit"}, s.next_fcnt())
