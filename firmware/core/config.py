"""Controller settings: defaults per device profile, and validation. Pure: the shell reads the files
(/config.json, the chemistry profile under firmware/profiles/) and passes dicts in.
"""
# Units are in the names (mV, mA, mAh, s, min, mdeg = 1/1000 degree). Where each default comes from:
# docs/firmware.md and ../shared/reference/firmware_anchors.md.
from firmware.core import sites

DEFAULTS = {
    # Dusk/dawn from PV voltage: dawn at least 500 mV above dusk, confirmed for minutes (vendors: 1-10).
    "dusk_pv_mv": 5000,
    "dawn_pv_mv": 6000,
    "daylight_confirm_s": 300,
    # Or from a light sensor where one is fitted: [dusk_lux, dawn_lux], dawn at least twice dusk (light
    # is logarithmic), e.g. [15, 45]; null: the PV voltage.
    "light_sensor": None,
    # Astronomy: 833 mdeg is the almanac sunrise/sunset, 6000 civil twilight. The PV sensor may light
    # the lamp up to `astro_window_min` before sunset and keep it on that long after sunrise.
    "sun_depression_mdeg": 833,
    "astro_window_min": 90,
    "lat_mdeg": None,  # street lamps only; otherwise the site's coordinates (core/sites.py)
    "lon_mdeg": None,
    # Night profile: [anchor, offset_min, level_pct] steps; anchors dusk, midnight (solar), dawn.
    "night_profile": [["dusk", 0, 100], ["dusk", 240, 40], ["dawn", -90, 70]],
    "night_level_pct": 100,  # scales the whole profile (a remote dimming knob)
    "controller": "adaptive",  # or "fixed:PCT": that level all night, no planner
    "led_min_pct": 10,  # lowest non-zero level: below it cheap drivers flicker
    "ramp_pct_per_min": 10,
    "pir_boost_pct": 100,
    "pir_hold_s": 120,
    # Battery and energy planner.
    "chemistry": "lifepo4_4s",
    "battery_mah": 40000,
    "load_full_ma": 2300,  # battery-side current at 100 % (learned at night)
    "bat_r_mohm": 20,  # battery + wiring resistance for the current-compensated LVD (learned)
    "autonomy_days": 3,
    "surplus_max_pct": 100,  # the planner may brighten up to this with energy to spare (0: never)
    "plan_floor_pct": 10,  # SoC points the plan keeps above the LVD's
    "lvd_guard_mv": 150,  # this close to the LVD, hold led_min_pct until dawn
    # Diagnosis.
    "led_max_ma": 830,
    "led_open_ratio_pct": 10,
    "led_short_ratio_pct": 160,
    "led_fault_samples": 3,
    "over_temp_c": 50,  # battery box: Bangui max 35 C + 10 C in full sun (physics.md 4.4); LiFePO4 charges to 45
    "pv_dead_mv": 1000,
    "pv_max_mv": 60000,
    "soh_degraded_pct": 60,
    "r_degraded_mohm": 200,
    # Safe mode, scheduling, persistence.
    "safe_level_pct": 50,
    "sample_s": 60,  # while something counts samples (core/wake.py)
    "max_sleep_s": 1800,  # the longest sleep when nothing is due (the watchdog is fed across it)
    "status_interval_s": 900,  # at night; by day telemetry.schema.DAY_STATUS_FACTOR times it
    "persist_interval_s": 3600,
    # Kit: manual switch, door light, USB output.
    "manual_pct": 100,
    "manual_max_min": 240,
    "door_light_s": 300,
    "usb_min_soc_pct": 30,
}

# A household lantern: 1.5 W LED, 6 Wp panel, one 6 Ah LiFePO4 cell (emulator/physics "kit" preset).
KIT_DEFAULTS = {
    "night_profile": [["dusk", 0, 60], ["dusk", 240, 20], ["dawn", -60, 40]],
    "chemistry": "lifepo4_1s",
    "dusk_pv_mv": 1500,
    "dawn_pv_mv": 2500,
    "battery_mah": 6000,
    "load_full_ma": 450,
    "bat_r_mohm": 40,
    "led_max_ma": 450,
    "pv_max_mv": 12000,
}

SIGNED = ("lat_mdeg", "lon_mdeg")
ANCHORS = ("dusk", "midnight", "dawn")
BATTERY_KEYS = ("ocv_mv", "lvd_mv", "lvr_mv", "lvd_min_mv", "reconnect_delay_s", "soc_at_lvd_pct", "full_mv",
                "full_tail_ma_per_ah", "temp_comp_mv_per_c", "charge_min_c", "charge_max_c", "discharge_min_c", "discharge_max_c",
                "charge_eff_pct", "rest_s", "vmin_mv", "vmax_mv")


class Settings:
    """Settings as attributes (cfg.dusk_pv_mv): on MicroPython each name is interned once, where a
    string key would cost a string object at every place it is read. No methods on purpose: a method
    would keep this module's code alive in the heap for as long as the settings live."""


def settings(values):
    obj = Settings()
    for name, value in values.items():
        setattr(obj, name, value)
    return obj


class ConfigError(ValueError):
    def __init__(self, field, why):
        super().__init__("config %s: %s" % (field, why))
        self.field = field


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _check(name, value):
    default = DEFAULTS[name]
    if name in SIGNED:
        if value is not None and not _is_int(value):
            raise ConfigError(name, "must be an integer (millidegrees) or null")
    elif _is_int(default):
        if not _is_int(value) or value < 0:
            raise ConfigError(name, "must be a non-negative integer")
    elif name == "light_sensor":
        if value is not None and not (isinstance(value, list) and len(value) == 2 and _is_int(value[0])
                                      and _is_int(value[1]) and 0 < 2 * value[0] <= value[1]):
            raise ConfigError(name, "use null (PV decides) or [dusk_lux, dawn_lux] with dawn at least twice dusk")
    elif isinstance(default, str):
        if not isinstance(value, str):
            raise ConfigError(name, "must be a string")
    elif name == "night_profile":
        if not isinstance(value, list) or not value:
            raise ConfigError(name, "must be a non-empty list of [anchor, offset_min, level_pct]")
        for s in value:
            if (not isinstance(s, list) or len(s) != 3 or s[0] not in ANCHORS or not _is_int(s[1])
                    or not _is_int(s[2]) or not 0 <= s[2] <= 100):
                raise ConfigError(name, "bad step %r: use [dusk|midnight|dawn, minutes, 0-100]" % (s,))


def parse_controller(text):
    """'adaptive' -> None; 'fixed:60' -> 60."""
    if text == "adaptive":
        return None
    if text[:6] == "fixed:" and text[6:].isdigit() and int(text[6:]) <= 100:
        return int(text[6:])
    raise ConfigError("controller", "use 'adaptive' or 'fixed:PCT' with PCT 0-100, not %r" % text)


def build(user, profile="street", site=None, battery=None):
    """Settings: defaults (per profile) overlaid with `user` (the settings dict); raises ConfigError on
    bad values.

    `site` names the district (core/sites.py); `battery` is the chemistry profile dict (required).
    Adds profile, site, fixed_pct, lat_mdeg/lon_mdeg (from the site when not set), battery (Settings)
    and user (the settings as given, for later changes).
    """
    cfg = dict(DEFAULTS)
    if profile == "kit":
        cfg.update(KIT_DEFAULTS)
    for name, value in (user or {}).items():
        if name in DEFAULTS:
            _check(name, value)
        cfg[name] = value
    if cfg["dawn_pv_mv"] < cfg["dusk_pv_mv"] + 500:
        raise ConfigError("dawn_pv_mv", "must be at least 500 mV above dusk_pv_mv")
    for name in ("sample_s", "max_sleep_s", "battery_mah", "load_full_ma"):
        if cfg[name] < 1:
            raise ConfigError(name, "must be at least 1")
    if not cfg["sample_s"] <= cfg["max_sleep_s"] <= 3600:
        raise ConfigError("max_sleep_s", "must be between sample_s and 3600 (an hour: the re-plan and the save)")
    if profile == "kit" and (cfg["lat_mdeg"] is not None or cfg["lon_mdeg"] is not None):
        raise ConfigError("lat_mdeg", "a kit stores no coordinates: set its site (district) instead")
    if (cfg["lat_mdeg"] is None) != (cfg["lon_mdeg"] is None):
        raise ConfigError("lon_mdeg", "set both lat_mdeg and lon_mdeg, or neither")
    if cfg["lat_mdeg"] is None and site is not None:
        place = sites.lookup(site)
        if place is None:
            raise ConfigError("site", "unknown site %r: known sites are %s" % (site, ", ".join(sorted(sites.SITES))))
        cfg["lat_mdeg"], cfg["lon_mdeg"] = place
    cfg["profile"] = profile
    cfg["site"] = site
    cfg["fixed_pct"] = parse_controller(cfg["controller"])
    if not isinstance(battery, dict):
        raise ConfigError("battery", "no chemistry profile given")
    for key in BATTERY_KEYS:
        if key not in battery:
            raise ConfigError("battery", "chemistry profile lacks %s" % key)
    battery = dict(battery)
    flat = []
    for point in battery["ocv_mv"]:
        flat += point
    battery["ocv_mv"] = tuple(flat)
    cfg["battery"] = settings(battery)
    cfg["user"] = user or {}
    return settings(cfg)
