"""Last resort when the full firmware does not fit in memory: light the street, protect the battery."""
# firmware/main.py runs this when importing the loop's modules fails with MemoryError (a firmware
# update too large for the heap, a heap fragmented beyond use). It needs two small core modules and no
# radio: PV dusk/dawn with confirmation, load disconnect/reconnect by voltage, safe_level_pct all night.
# The watchdog is fed, so the lamp does not reset-loop; the console says why. Also run when the boot
# work itself failed (a settings or chemistry file missing from the flash): then with the default PV
# thresholds and no battery protection, which beats a dark street.
from firmware.core.daylight import NIGHT, Daylight, reading
from firmware.core.protect import Protect


class Minimal:
    """The few settings this controller reads, at their defaults (core/config.py)."""

    light_sensor = None  # the PV voltage decides: every lamp has a panel
    dusk_pv_mv = 5000
    dawn_pv_mv = 6000
    daylight_confirm_s = 300
    safe_level_pct = 50
    sample_s = 60
    battery = None


def run(hal, cfg, why, loops=-1):
    """Loop for ever (tests: `loops` samples). cfg None: the defaults, without battery protection."""
    hal.log("fallback controller: %s" % why)
    cfg = cfg or Minimal
    daylight, prot = Daylight(), Protect()
    while loops:
        loops -= 1
        r = hal.read_inputs()
        now_ms = hal.now_ms()
        phase = daylight.update(cfg, reading(cfg, r), now_ms)[0]
        if cfg.battery is not None:
            prot.update(cfg.battery, r["vbat_mv"], r["ibat_ma"], r["temp_c"], 100, 0, now_ms)
        hal.set_led(cfg.safe_level_pct if phase == NIGHT and prot.load_on else 0)
        hal.feed_watchdog()
        hal.sleep_ms(cfg.sample_s * 1000)
