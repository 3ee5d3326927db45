"""Bench mode: flash many lamps at once, one thread per port; one failure never stops the others.

Each port is an independent serial link, so threads give real parallelism where it matters (waiting on
the wire); building the app is shared through the mpy-cross cache. `BenchRow` is what the live table
shows and what the final report is made of.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from tools.errors import ToolError
from tools.flash import FlashReport, flash

PHASES = {"image": "MicroPython image", "connect": "connecting", "stage": "copying", "commit": "switching",
          "romfs": "writing ROMFS", "boot": "booting"}


@dataclass
class BenchRow:
    port: str
    lamp_id: str | None
    phase: str = "waiting"
    done: int = 0
    total: int = 0
    status: str = "running"  # running | flashed | provisioned | up-to-date | failed
    detail: str = ""
    report: FlashReport | None = None
    started: float = field(default_factory=time.monotonic)

    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else (100 if self.status != "running" else 0)


def flash_many(
    jobs: list[tuple[str, str | None]],
    on_update: Callable[[BenchRow], None] | None = None,
    **flash_kwargs: Any,
) -> list[BenchRow]:
    """Flash `(port, lamp_id)` pairs in parallel; returns one row per job, in the same order."""
    rows = [BenchRow(port, lamp_id) for port, lamp_id in jobs]
    lock = threading.Lock()

    def work(row: BenchRow) -> None:
        def progress(phase: str, done: int, total: int) -> None:
            with lock:
                row.phase = PHASES.get(phase, phase)
                row.done, row.total = done, total
            if on_update:
                on_update(row)

        try:
            row.report = flash(row.port, row.lamp_id, progress=progress, **flash_kwargs)
            row.status = row.report.status
            boot = row.report.boot or {}
            row.detail = f"{len(row.report.written)} files"
            if "version" in boot:
                row.detail += f", booted {boot['version']}"
        except ToolError as e:
            row.report = getattr(e, "report", None)
            row.status = "failed"
            row.detail = e.message + (f" (hint: {e.hint})" if e.hint else "")
        except Exception as e:  # noqa: BLE001 - a bug on one port must not hide the other lamps' results
            row.status = "failed"
            row.detail = f"internal error: {e!r}"
        row.phase = "done"
        if on_update:
            on_update(row)

    threads = [threading.Thread(target=work, args=(row,), name=f"flash {row.port}") for row in rows]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return rows
