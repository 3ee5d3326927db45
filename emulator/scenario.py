"""What an emulation run simulates: the lamps, their identities, the site, the time span, the faults."""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from emulator.faults import FaultEvent

# Noon in Bangui (UTC+1) on 1 August 2026, the rainy season: the first dusk comes six hours in.
DEFAULT_START = datetime(2026, 8, 1, 11, 0, tzinfo=timezone.utc).timestamp()


@dataclass(frozen=True)
class LampIdentity:
    lamp_id: str
    devaddr: int
    key: bytes = field(repr=False)
    profile: str = "street"


@dataclass
class Scenario:
    lamps: list[LampIdentity]
    days: float
    seed: int = 1
    site: str = "bangui"
    start_s: float = DEFAULT_START
    weather_file: Path | None = None
    faults: list[FaultEvent] = field(default_factory=list)
    controller: str = "adaptive"  # or "fixed:PCT"
    settings: dict = field(default_factory=dict)  # firmware setting overrides for every lamp
    loss_rate: float = 0.0  # fraction of transmitted frames that never reach the network

    @property
    def end_s(self) -> float:
        return self.start_s + self.days * 86400


def make_fleet(count: int, seed: int, prefix: str = "LAMP", profile: str = "street") -> list[LampIdentity]:
    """Deterministic identities for emulated lamps. Keys derive from the seed: for emulation only, never
    for a real lamp (real keys come from `lampfleet provision`)."""
    rng = random.Random(f"fleet:{seed}")
    return [
        LampIdentity(f"{prefix}-{i + 1:04d}", 0x100000 + i + 1, rng.randbytes(16), profile)
        for i in range(count)
    ]
