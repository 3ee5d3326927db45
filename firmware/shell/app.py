"""The lamp's main loop: sample, step the core, drive the LED, report, sleep.

A plain loop rather than asyncio tasks: time comes from the HAL (the RTC on the lamp, virtual time in
the emulator), so the same loop runs a real night in 12 hours and a simulated one in a fraction of a
second, deterministically.
"""
import binascii

from telemetry import codec, schema
from telemetry.crypto import DeviceKey
from firmware.core import config as config_mod
from firmware.core.controller import LampState, step
from firmware.shell import persist
from firmware.shell.counter import FrameCounter
from firmware.version import FW_VERSION

CONFIG_FILE = "config.json"
BOARD_FILE = "board.json"
STATE_FILE = "state.json"
COUNTER_FILE = "fcnt.json"
MAX_CONSECUTIVE_ERRORS = 5


class App:
    def __init__(self, hal, config):
        self.hal = hal
        self.cfg = config_mod.build(config.get("settings"))
        self.lamp_id = config["lamp_id"]
        self.devaddr = config["devaddr"]
        self.key = DeviceKey(binascii.unhexlify(config["key_hex"]))
        self.profile = config.get("profile", "street")
        self.counter = FrameCounter(COUNTER_FILE)
        self.state = LampState(self.cfg)
        self.next_status_ms = 0
        saved = persist.load(STATE_FILE, {}) or {}
        self.boot_count = saved.get("boot_count", 0) + 1
        persist.save(STATE_FILE, {"boot_count": self.boot_count})

    def send(self, ftype, fields):
        self.hal.radio_send(codec.encode(ftype, self.devaddr, self.counter.next(), self.key, fields))

    def boot(self):
        self.hal.log("lampfleet %s %s booting (%s)" % (FW_VERSION, self.lamp_id, self.hal.reset_cause()))
        self.send(schema.BOOT, {
            "time_s": self.hal.now_ms() // 1000, "fw_version": FW_VERSION,
            "reset_cause": self.hal.reset_cause(), "boot_count": self.boot_count, "profile": self.profile,
        })

    def loop_once(self):
        hal = self.hal
        now_ms = hal.now_ms()
        inputs = hal.read_inputs()
        outputs, events = step(self.state, inputs, now_ms)
        hal.set_led(outputs["led_pct"])
        for i in range(0, len(events), schema.MAX_EVENTS):
            records = [{"code": c, "action": a, "value": v, "ref": r} for c, a, v, r in events[i:i + schema.MAX_EVENTS]]
            self.send(schema.EVENT, {"time_s": now_ms // 1000, "events": records})
        if now_ms >= self.next_status_ms:
            self.send(schema.STATUS, self.status_fields(inputs, now_ms))
            self.next_status_ms = now_ms + self.cfg["status_interval_s"] * 1000
        hal.feed_watchdog()
        hal.sleep_ms(outputs["next_ms"])

    def status_fields(self, inputs, now_ms):
        # Readings and the LED level that produced them, so that level and current always agree.
        st = self.state
        return {
            "time_s": now_ms // 1000, "vbat_mv": inputs["vbat_mv"], "ibat_ma": inputs["ibat_ma"],
            "led_ma": inputs["led_ma"], "pv_mv": inputs["pv_mv"], "soc_pct": inputs.get("soc_pct"),
            "led_pct": st.applied_pct, "temp_c": inputs["temp_c"], "mode": st.mode, "faults": st.faults,
        }

    def run(self):
        self.boot()
        errors = 0
        while True:
            try:
                self.loop_once()
                errors = 0
            except Exception as e:  # noqa: BLE001 - the loop must outlive one bad sample
                errors += 1
                self.hal.log("loop error %d: %r" % (errors, e))
                if errors >= MAX_CONSECUTIVE_ERRORS:
                    raise


def make_hal(board):
    kind = board.get("board", "emulated")
    if kind == "emulated":
        from firmware.hal.emulated import EmulatedHal

        return EmulatedHal(board)
    from firmware.hal.esp32 import Esp32Hal

    return Esp32Hal(board)


def main():
    board = persist.load(BOARD_FILE)
    config = persist.load(CONFIG_FILE)
    if board is None or config is None:
        print("lampfleet: not provisioned (missing %s or %s)" % (BOARD_FILE, CONFIG_FILE))
        return
    App(make_hal(board), config).run()
