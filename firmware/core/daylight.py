"""Day/night decision from the light: the PV voltage (mV), or a light sensor (lux) where one is fitted
(setting `light_sensor`); hysteresis plus a confirmation delay."""
# A storm cloud, lightning or headlights change the PV voltage for seconds to minutes; a real dusk or dawn
# holds. The decision flips only after the voltage stayed past the threshold for `daylight_confirm_s`.
# At boot there is no history: the first sample decides at once, so a lamp rebooting at night lights now.

DAY = 0
NIGHT = 1


LUX_MAX = 100000  # a reading above it (or below 0, the HAL's "no answer") is a faulty light sensor


def reading(cfg, inputs):
    """What the detector watches: lux from the light sensor where fitted, else the PV voltage in mV."""
    return inputs["lux"] if cfg.light_sensor else inputs["pv_mv"]


def thresholds(cfg):
    """(dusk, dawn) in the unit of reading()."""
    return cfg.light_sensor or (cfg.dusk_pv_mv, cfg.dawn_pv_mv)


class Daylight:
    def __init__(self):
        self.phase = None  # unknown until the first sample
        self.pending_since_ms = None
        self.crossed_ms = None  # when the last confirmed change began (its confirmation delay excluded)

    def update(self, cfg, light, now_ms):
        """Return (phase, changed) after this sample; `light` is reading(cfg, inputs)."""
        dusk, dawn = thresholds(cfg)
        if self.phase is None:
            self.phase = NIGHT if light < dusk else DAY
            return self.phase, True
        if self.phase == DAY:
            crossing = light < dusk
        else:
            crossing = light > dawn
        if not crossing:
            self.pending_since_ms = None
            return self.phase, False
        if self.pending_since_ms is None:
            self.pending_since_ms = now_ms
        if now_ms - self.pending_since_ms >= cfg.daylight_confirm_s * 1000:
            self.phase = NIGHT if self.phase == DAY else DAY
            self.crossed_ms = self.pending_since_ms
            self.pending_since_ms = None
            return self.phase, True
        return self.phase, False
