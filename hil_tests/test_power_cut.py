"""Power cut in the middle of the firmware's own flash writes, on the real firmware: the lamp boots again
with the old or the new state (never a torn file), lights, and its frame counter never goes backwards.
(A write cut before its rename leaves the old file: the new one exists only once renamed.)

The firmware writes state.json (learned state, boot history) and fcnt.json (frame counter reservation)
as a temporary file renamed over the old one (firmware/shell/persist.py). The emulator's `power_cut`
fault cannot hit such a write: it stops a lamp when the lamp asks to sleep, after the loop's writes are
done. So here the lamp's flash itself loses power: a few lines put before the app's main.py (the
`_CUT` shim below, installed by `CuttingEmulator`) wrap `open`, and at the chosen write only the first
bytes reach the file before the interpreter stops (exit code CUT_EXIT). The emulator then treats that
lamp as unpowered for 5 minutes (its world goes on, LED off) and boots it again with reset cause
power_on. On the next boot, before main.py's own code, the shim copies what the flash holds to
cut.json, so the test sees exactly the files the firmware found.

Cuts, one per lamp, all in the first night (Bangui, 2 days from noon):
    1: state.json, the save at the first dusk (7th write), cut after half its bytes
    2: state.json, the first hourly save of the night (8th), cut before its first byte (an empty temp file)
    3: state.json, the save after the first dawn (19th), all bytes written, cut before the rename
    4: fcnt.json, the second counter reservation (frame 32, at night), cut after half its bytes

A real board's flash (LittleFS) and the emulator's (a host directory through the unix port's VfsPosix)
differ below the file API. The second test closes that gap: the firmware's own Saver and FrameCounter on
LittleFS (os.VfsLfs2 of the unix port, the C code the ESP32 port runs) over an emulated NOR flash that
loses power at every program or erase operation in turn (hil_tests/lfs_power_cut.py).
"""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path

from emulator.mqtt_sink import MqttSink
from emulator.physics.site import get_site
from emulator.scenario import Scenario, make_fleet
from emulator.upy import OFF_POLL_S, UpyEmulator, find_micropython
from emulator.world import next_sun_event
from hil_tests.stack import GatewayProcess, register
from telemetry import peek

CUT_EXIT = 86
SEED = 71
# (file, nth write of that file since boot, fraction of its bytes that reach the flash; 1.0: all bytes,
# the power goes before the rename). State is saved at boot, hourly, and 10 min after dusk or dawn at
# the latest; the counter every 32 frames: the numbers were found by logging a lamp's writes against
# virtual time, and the test checks that each cut fell where WHEN says.
PLANS = [("state.json", 7, 0.5), ("state.json", 8, 0.0), ("state.json", 19, 1.0), ("fcnt.json", 2, 0.5)]
WHEN = ["dusk", "night", "dawn", "night"]

# Runs before main.py's own code, in the lamp's interpreter. Compact on purpose: it lives in the lamp's
# heap beside the firmware.
_CUT = '''
def _lampfleet_cut():
    import builtins, json, sys
    _open = builtins.open
    def read(name):
        try:
            with _open(name) as f:
                return f.read()
        except OSError:
            return None
    plan = read("cut.json")
    if plan is None:
        return
    plan = json.loads(plan)
    def save():
        with _open("cut.json", "w") as f:
            f.write(json.dumps(plan))
    if "done" in plan:
        if "after" not in plan:
            plan["after"] = {n: read(n) for n in ("state.json", "fcnt.json", "state.json.tmp", "fcnt.json.tmp")}
            save()
        return
    seen = [0]
    class Cut:
        def __init__(self, f):
            self.f = f
            self.cut = False
        def write(self, data):
            keep = int(len(data) * plan["keep"])
            plan["done"] = {"old": read(plan["file"]), "new": data, "bytes": keep}
            save()
            self.f.write(data[:keep])
            self.cut = True
            if keep < len(data):
                sys.exit(%d)
            return len(data)
        def close(self):
            self.f.close()
            if self.cut:
                sys.exit(%d)
        def __enter__(self):
            return self
        def __exit__(self, *exc):
            self.close()
    def cut_open(name, mode="r", *args):
        f = _open(name, mode, *args)
        if name == plan["file"] + ".tmp" and "w" in mode:
            seen[0] += 1
            if seen[0] == plan["nth"]:
                return Cut(f)
        return f
    builtins.open = cut_open
_lampfleet_cut()
del _lampfleet_cut
''' % (CUT_EXIT, CUT_EXIT)


class CuttingEmulator(UpyEmulator):
    """The upy runner with a flash that loses power at one planned write per lamp (see module doc)."""

    def __init__(self, scenario: Scenario, workdir, sink, plans: list[tuple[str, int, float]]):
        # A larger heap than the device's: the shim is not part of the firmware, and this test is about
        # the flash, not memory.
        super().__init__(scenario, workdir, sink, heapsize="128K")
        self.plans = plans
        self.cuts: dict[str, float] = {}  # lamp -> true time of the cut

    def _prepare(self, lamp, bus: str) -> None:
        super()._prepare(lamp, bus)
        main = self.app_dir / "main.py"
        text = main.read_text()
        if "_lampfleet_cut" not in text:
            main.write_text(_CUT + text)
        name, nth, keep = self.plans[lamp.index]
        (lamp.dir / "cut.json").write_text(json.dumps({"file": name, "nth": nth, "keep": keep}))

    def _reap(self, lamps, sel) -> None:
        for lamp in lamps:
            if lamp.state in ("dead", "off") or lamp.proc is None or lamp.proc.poll() != CUT_EXIT:
                continue
            self._disconnect(lamp, sel)
            # Unpowered from the sample that wrote until the next poll, then booted as after any power loss.
            self.cuts[lamp.ident.lamp_id] = lamp.t_s
            lamp.state, lamp.reset_cause, lamp.wake_s = "off", "power_on", lamp.t_s + OFF_POLL_S
        super()._reap(lamps, sel)


class _Link(MqttSink):
    def __init__(self, url: str):
        super().__init__(url, client_id="hil-power-cut-link")
        self.fcnts: dict[str, list[tuple[float, int]]] = {}

    def __call__(self, lamp_id: str, frame: bytes, t_s: float) -> bool:
        self.fcnts.setdefault(lamp_id, []).append((t_s, peek(frame)["fcnt16"]))
        return super().__call__(lamp_id, frame, t_s)


def test_power_cut_during_state_and_counter_writes(broker, tmp_path, lamp_backend):
    scenario = Scenario(make_fleet(len(PLANS), seed=SEED), days=2, seed=SEED)
    db_path = tmp_path / "gateway.sqlite3"
    register(db_path, scenario.lamps)
    gateway = GatewayProcess(tmp_path, broker.url, db_path).start()
    link = _Link(broker.url)
    try:
        emu = CuttingEmulator(scenario, tmp_path / "lamps", link, PLANS)
        result = emu.run()
        link.close()
        gateway.wait_for_counters(link.last_fcnt16)
    finally:
        gateway.stop()
    with sqlite3.connect(db_path) as conn:
        boots = conn.execute("SELECT lamp_id, fcnt, reset_cause, boot_count FROM boots ORDER BY lamp_id, fcnt")
        boots = [tuple(row) for row in boots]
        stored = dict(conn.execute("SELECT lamp_id, count(*) FROM (SELECT lamp_id, fcnt FROM readings UNION "
                                   "SELECT lamp_id, fcnt FROM boots UNION SELECT lamp_id, fcnt FROM events) "
                                   "GROUP BY lamp_id"))
        rejects = dict(conn.execute("SELECT reason, count FROM rejects"))

    assert sorted(emu.cuts) == [ident.lamp_id for ident in scenario.lamps], emu.cuts
    site = get_site(scenario.site)
    sunset = next_sun_event(site, scenario.start_s, "sunset")
    sunrise = next_sun_event(site, sunset, "sunrise")
    for ident, (name, _nth, keep), when, lamp in zip(scenario.lamps, PLANS, WHEN, result["lamps"]):
        lamp_id = ident.lamp_id
        cut_at = emu.cuts[lamp_id]
        window = {"dusk": (sunset - 180, sunset), "night": (sunset, sunrise), "dawn": (sunrise, sunrise + 1800)}
        assert window[when][0] <= cut_at <= window[when][1], (lamp_id, when, cut_at - sunset)
        plan = json.loads((tmp_path / "lamps" / lamp_id / "cut.json").read_text())
        done, after = plan["done"], plan["after"]
        # The write was really cut: the temporary file holds exactly the bytes that reached the flash.
        assert after[name + ".tmp"] == done["new"][:done["bytes"]], lamp_id
        assert done["bytes"] == int(len(done["new"]) * keep) and done["old"] != done["new"]
        # The firmware found the old file, whole: never the torn one (the new one only after a rename).
        assert after[name] == done["old"] and json.loads(after[name]), lamp_id
        # It booted again after the cut, restoring its boot history from the state file (count 2).
        mine = [b for b in boots if b[0] == lamp_id]
        assert [(b[2], b[3]) for b in mine] == [("power_on", 1), ("power_on", 2)], mine
        assert lamp["power_cycles"] == 1 and lamp["restarts"] == 0, lamp
        # Dark at most for the 5 unpowered minutes: rebooting at night, it lights at once.
        assert lamp["dark_minutes"] <= OFF_POLL_S / 60, lamp
        # Frame counters only go forward across the cut, so the gateway took every frame.
        sent = link.fcnts[lamp_id]
        fcnts = [f for _, f in sent]
        assert fcnts == sorted(set(fcnts)), lamp_id
        assert max(f for t, f in sent if t <= cut_at) < min(f for t, f in sent if t > cut_at)
        assert stored[lamp_id] == len(fcnts)
    assert set(rejects) <= {"duplicate"}, rejects  # no replay: no counter was ever reused



def test_littlefs_under_the_firmware_writes_keeps_old_or_new_at_every_cut_point():
    repo = Path(__file__).resolve().parents[1]
    out = subprocess.run([find_micropython(), str(repo / "hil_tests" / "lfs_power_cut.py")], capture_output=True,
                         text=True, timeout=60, env=dict(os.environ, MICROPYPATH=str(repo)), check=True)
    results = json.loads(out.stdout)
    for name in ("state.json@0", "state.json@0.5", "fcnt.json@0", "fcnt.json@0.5"):
        r = results[name]
        cut_points = r["ops"] + 1  # a cut before each flash operation of the write, and none
        assert r["other"] == [] and r["old"] + r["new"] == cut_points, (name, r)
        assert r["old"] >= 2 and r["new"] >= 1, (name, r)  # cuts really landed inside the write
        assert r["next_boot_ok"] == cut_points, (name, r)  # and the flash went on working
    assert results["state.json@0.5"]["ops"] >= 10  # a multi-block state file: many operations to cut
    assert results["control@0.5"]["other"], results["control@0.5"]  # a two-step write does tear: seen
