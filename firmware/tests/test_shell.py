"""The shell: frames, safe mode, persistence, gateway requests, with a fake HAL (shared)."""
import json
import os
import random

from firmware.tests import support as s

s.load_core()
from telemetry import codec, schema  # noqa: E402
from firmware.shell.app import App  # noqa: E402

KEY = "000102030405060708090a0b0c0d0e0f"
CONFIG = {"lamp_id": "LAMP-T", "devaddr": 0x123456, "key_hex": KEY, "site": "bangui", "profile": "street",
          "settings": {}}


class Hal:
    """Time, readings and a radio for the App, from the test world; frames decoded as they leave."""

    def __init__(self, world, cause="power_on"):
        self.world = world
        self.cause = cause
        self.frames = []
        self.logs = []
        self.led = 0
        self.fcnt = None

    def reset_cause(self):
        return self.cause

    def now_ms(self):
        return self.world.t_ms

    def set_time_ms(self, t_ms):
        self.world.t_ms = t_ms

    def read_inputs(self):
        return self.world.readings()

    def set_led(self, pct):
        self.led = pct

    def radio_send(self, frame):
        head = codec.peek(bytes(frame))
        fcnt = head["fcnt16"] if self.fcnt is None else (self.fcnt + 1)
        self.fcnt = fcnt
        self.frames.append(codec.decode(bytes(frame), bytes(bytearray(range(16))), fcnt, self.world.t_ms // 1000))

    def sleep_ms(self, ms, wake=None):
        self.world.advance(ms, self.led)

    def feed_watchdog(self):
        pass

    def log(self, msg):
        self.logs.append(msg)


class Dir:
    """A fresh working directory (the lamp's flash), entered and left."""

    def __enter__(self):
        self.old = os.getcwd()
        self.path = "/tmp/lampfleet-shell-%d" % random.getrandbits(30)
        os.mkdir(self.path)
        os.chdir(self.path)
        return self

    def __exit__(self, *exc):
        os.chdir(self.old)
        for name in os.listdir(self.path):
            try:
                os.remove(self.path + "/" + name)
            except OSError:
                os.rmdir(self.path + "/" + name)
        os.rmdir(self.path)


def start(world, config=CONFIG, cause="power_on"):
    hal = Hal(world, cause)
    app = App(hal, config)
    app.boot()
    return app, hal


def loops(app, hours):
    end = app.hal.world.t_ms + hours * s.HOUR_MS
    while app.hal.world.t_ms < end:
        app.loop_once()


def events(hal, name=None):
    out = []
    for f in hal.frames:
        if f["type"] == "event":
            out += [e for e in f["events"] if name is None or e["code"] == name]
    return out


def test_boot_frame_then_status_with_the_state_of_charge():
    with Dir():
        app, hal = start(s.World(s.cfg(site="bangui"), soc_pct=70))
        loops(app, 0.2)
        assert hal.frames[0]["type"] == "boot" and hal.frames[0]["reset_cause"] == "power_on"
        status = [f for f in hal.frames if f["type"] == "status"][0]
        assert 60 <= status["soc_pct"] <= 80 and status["mode"] == "day"


def test_core_errors_fall_back_to_the_safe_controller_then_safe_mode():
    with Dir():
        world = s.World(s.cfg(site="bangui"), start_ms=s.AUG1_MS + 22 * s.HOUR_MS)
        app, hal = start(world)
        from firmware.shell import app as app_module

        real = app_module.step
        app_module.step = lambda state, inputs, now_ms: 1 // 0  # a bug in the core: every step raises
        try:
            loops(app, 0.1)
        finally:
            app_module.step = real
        assert hal.led == app.cfg.safe_level_pct and app.state.safe  # lit all along, now in safe mode
        points = events(hal, "reset_loop")
        assert [e["action"] for e in points[:3]] == ["point"] * 3 and [e["value"] for e in points[:3]] == [1, 2, 3]
        assert events(hal, "safe_mode")[0]["action"] == "raised"
        loops(app, 0.2)
        assert [f for f in hal.frames if f["type"] == "status"][-1]["mode"] == "safe"


def test_repeated_crashes_boot_into_safe_mode():
    with Dir():
        world = s.World(s.cfg(site="bangui"))
        for _ in range(3):
            app, hal = start(world, cause="watchdog")
            loops(app, 0.1)
        assert app.state.safe and events(hal, "safe_mode")[0]["action"] == "raised"


def test_learned_state_survives_a_reboot_and_writes_are_rare():
    with Dir():
        world = s.World(s.cfg(site="bangui"))
        app = start(world)[0]
        loops(app, 30)
        assert app.saver.writes <= 30 + 4  # hourly, plus dusk, dawn and the boot
        mids = app.state.night.mids
        with open("state.json") as f:
            saved = json.load(f)["learned"]
        assert saved["mids"] == mids and len(mids) == 1
        soc = saved["soc"]
        app2, hal2 = start(world)
        assert app2.state.bat.soc_pct() == soc and app2.state.night.mids == mids
        assert hal2.frames[0]["boot_count"] == 2


def test_flash_failure_is_the_storage_fault():
    with Dir():
        world = s.World(s.cfg(site="bangui"))
        app, hal = start(world)
        os.remove("state.json")
        os.mkdir("state.json")  # the rename onto it fails: the flash is in trouble
        app.saver.last_crc = None
        app.save(world.t_ms)
        loops(app, 0.1)
        assert events(hal, "storage")[0]["action"] == "raised"


def test_bad_settings_run_on_defaults_and_say_so():
    with Dir():
        bad = dict(CONFIG, settings={"dusk_pv_mv": "dark"})
        app, hal = start(s.World(s.cfg(site="bangui")), config=bad)
        loops(app, 0.1)
        assert app.cfg.dusk_pv_mv == 5000
        assert events(hal, "config_applied")[0]["value"] == 0


def test_gateway_requests():
    from firmware.shell import requests

    with Dir():
        world = s.World(s.cfg(site="bangui"))
        app, hal = start(world)
        assert requests.command(app, "test_on", 2) == "applied"
        loops(app, 0.02)
        assert hal.led == 100
        assert requests.command(app, "time_sync", world.t_ms // 1000 + 30) == "applied"
        assert requests.command(app, "self_destruct", 0) == "unsupported"
        app.state.bat.soh_pct, app.state.health.collapse = 40, True
        assert requests.command(app, "battery_replaced", 0) == "applied"
        assert app.state.bat.soh_pct == 100 and not app.state.health.collapse
        assert requests.apply_settings(app, {"night_level_pct": 80}) == "applied" and app.cfg.night_level_pct == 80
        assert requests.apply_settings(app, {"sample_s": 0}) == "invalid" and app.cfg.sample_s == 60
        loops(app, 0.1)
        assert [e["value"] for e in events(hal, "time_sync")] == [30]
        assert [e["value"] for e in events(hal, "config_applied")] == [1, 0]


class RadioHal(Hal):
    """A HAL whose transport spends airtime like LoRa at SF12 (1.48 s per status frame)."""

    def transport(self, config):
        from firmware.link.transport import MemoryTransport

        self.radio = MemoryTransport(confirms=True, airtime_us=1482000)
        return self.radio


def test_over_a_radio_with_airtime_the_cadence_fits_the_daily_budget():
    with Dir():
        world = s.World(s.cfg(site="bangui"))
        hal = RadioHal(world)
        app = App(hal, CONFIG)
        app.boot()
        loops(app, 48)
        sent = [codec.peek(f)["type"] for t, f in hal.radio.sent]
        statuses = [t for (t, f), kind in zip(hal.radio.sent, sent) if kind == "status"]
        gaps = [(b - a) // 1000 for a, b in zip(statuses, statuses[1:])]
        night, day = app.cadence.interval_s(True), app.cadence.interval_s(False)
        assert night < day and night > app.cfg.status_interval_s  # stretched for SF12, as docs/link.md says
        # reports sit on the interval's grid: the first after a dusk or dawn may come sooner
        assert max(gaps) <= day + 600 and len(statuses) <= 4 + 2 * (43200 // night + 43200 // day), (night, day, gaps)
        airtime_s = len(hal.radio.sent) * 1.482 / 2  # two days
        assert airtime_s <= 15, airtime_s  # the default budget: half of the 30 s fair-use limit
        assert app.link.budget is not None and not app.link.queue.has_priority()


def test_fallback_controller_lights_the_night_without_the_full_firmware():
    from firmware.shell import fallback

    world = s.World(s.cfg(), start_ms=s.AUG1_MS + 12 * s.HOUR_MS)
    hal = Hal(world)
    lit = []
    hal.set_led = lambda pct: lit.append((world.t_ms, pct))
    fallback.run(hal, s.cfg(), "MemoryError()", loops=24 * 60)
    assert lit[0][1] == 0 and hal.logs == ["fallback controller: MemoryError()"]
    night = [pct for t, pct in lit if s.AUG1_MS + 20 * s.HOUR_MS <= t <= s.AUG1_MS + 28 * s.HOUR_MS]
    assert night and min(night) == 50


def test_fallback_without_settings_still_lights_by_the_pv_sensor():
    from firmware.shell import fallback

    world = s.World(s.cfg(), start_ms=s.AUG1_MS + 12 * s.HOUR_MS)
    hal = Hal(world)
    lit = []
    hal.set_led = lambda pct: lit.append(pct)
    fallback.run(hal, None, "boot failed", loops=14 * 60)
    assert lit[0] == 0 and lit[-1] == 50
