"""Controller settings: defaults and validation. Pure (no file access: the shell reads /config.json).

Units are in the names (mV, mA, s). Defaults come from ../shared/reference/firmware_anchors.md.
"""

DEFAULTS = {
    # Dusk/dawn from PV voltage: dawn must sit at least 500 mV above dusk (hysteresis).
    "dusk_pv_mv": 5000,
    "dawn_pv_mv": 6000,
    "daylight_confirm_s": 300,
    # LED: full-scale current and the sanity band for open/short detection.
    "led_max_ma": 830,
    "led_open_ratio_pct": 10,
    "led_short_ratio_pct": 160,
    "led_fault_samples": 3,
    "night_level_pct": 100,
    # Scheduling.
    "sample_s": 60,
    "status_interval_s": 600,
}


class ConfigError(ValueError):
    def __init__(self, field, why):
        super().__init__("config %s: %s" % (field, why))
        self.field = field


def build(user):
    """Defaults overlaid with `user` (a dict from /config.json); raises ConfigError on bad values."""
    cfg = dict(DEFAULTS)
    for name, value in (user or {}).items():
        if name in DEFAULTS:
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(name, "must be a non-negative integer")
        cfg[name] = value
    if cfg["dawn_pv_mv"] < cfg["dusk_pv_mv"] + 500:
        raise ConfigError("dawn_pv_mv", "must be at least 500 mV above dusk_pv_mv")
    if cfg["sample_s"] < 1:
        raise ConfigError("sample_s", "must be at least 1")
    return cfg
