"""Is it night? The PV sensor and the sun together, and the night's timing for the profile."""
# With a usable clock the lamp is lit from sunset to sunrise whatever the sensor says (a dark street is
# the failure to avoid), and the PV sensor may extend the night by up to `astro_window_min` at either end:
# a storm at dusk lights the lamp early, a dark dawn keeps it on. Outside those windows the sensor is
# ignored: a cloudy afternoon or headlights at 2 am change nothing. A sensor that disagrees with the sun
# for a whole night (never dark in a night, or dark through a whole day) loses its say until it agrees
# again for a night and a day.
#
# "The sun" is the astronomical model (core/sun.py) when the clock is usable, else a schedule learned
# from recent PV nights (midpoint and length: works without any date), else nothing and the PV detector
# alone decides (core/daylight.py). The clock is usable when it ran through the reboot or was synced
# ("trusted"), or once one PV night has measured its offset from the sun (a clock restored from flash
# after a power cut). Solar midnight is the median midpoint of PV dusk and dawn over recent nights; its
# difference from the astronomical midnight is the clock's skew. A restored clock takes it at once (the
# hour may be anything); a trusted one only past 30 min, when it also raises the clock fault: below
# that the skew is mostly the PV detector's own bias (thresholds, confirmation delay, panel tilt), and
# shifting the sun by it would leave the street dark for minutes at sunset.
from firmware.core.daylight import DAY, NIGHT, Daylight

GUARD_S = 60  # lit from a minute before sunset to a minute after sunrise: samples fall between them
SRC_PV = 0
SRC_SUN = 1
MIN_VALID_MS = 1704067200000  # 2024-01-01: an ESP32 RTC that lost power restarts in 2000
KEEP = 5
LEARNED = 3  # nights before the learned midnight replaces the default (Victron: 3 cycles)
H = 3600


def median(values):
    return sorted(values)[len(values) // 2]


def tod_diff(a, b):
    """a - b for times of day (s), in -12 h .. 12 h."""
    return (a - b + 43200) % 86400 - 43200


class Night:
    def __init__(self):
        self.daylight = Daylight()
        self.phase = None  # DAY or NIGHT; None before the first sample
        self.since_ms = 0
        self.src = SRC_PV
        self.trusted = False  # the clock ran through the reboot, or was synced
        self.pv_trusted = True
        self.pv_seen = 0  # bit NIGHT/DAY: what the PV detector said during the current phase
        self.agree = 0
        self.pv_dusk_ms = None
        self.mids = []  # PV night midpoints, s of the UTC day
        self.lens = []  # PV night lengths, s
        self.dusk_ms = self.mid_ms = self.dawn_ms = 0
        self._days = {}

    # -- the sun, or the learned schedule ---------------------------------------------------------
    def mid_tod(self):
        ref = self.mids[0]
        return (ref + median([tod_diff(m, ref) for m in self.mids])) % 86400

    def _events(self, cfg, day):
        if day not in self._days:
            try:
                from firmware.core import sun  # once a day: the shell unloads it (firmware/shell/__init__.py)
            except MemoryError:
                return None  # no room to load it now: PV and the learned schedule decide this sample
            if len(self._days) > 3:
                self._days = {}
            self._days[day] = sun.events_s(day, cfg.lat_mdeg, cfg.lon_mdeg, cfg.sun_depression_mdeg)
        return self._days[day]

    def skew_s(self, cfg, now_ms):
        """Device clock minus sun time (s) as measured by PV nights, or None."""
        if not self.mids or cfg.lat_mdeg is None or now_ms < MIN_VALID_MS:
            return None
        day = (now_ms // 1000 + cfg.lon_mdeg * 240 // 1000) // 86400
        ev = self._events(cfg, day)
        if ev is None:
            return None
        return tod_diff(self.mid_tod(), (ev[0] + ev[1]) // 2 + 43200)

    def sun_at(self, cfg, now_ms):
        """(is_night, sunset_s, sunrise_s) in device time, or None. At night: the sunset that began it
        and the sunrise that ends it; by day: today's sunrise and the coming sunset."""
        t = now_ms // 1000
        skew = self.skew_s(cfg, now_ms)
        if cfg.lat_mdeg is not None and now_ms >= MIN_VALID_MS and (self.trusted or skew is not None):
            if skew is None or (self.trusted and (len(self.mids) < LEARNED or -1800 < skew < 1800)):
                skew = 0
            t -= skew
            day = (t + cfg.lon_mdeg * 240 // 1000) // 86400
            ev = self._events(cfg, day)
            if ev is not None:
                rise, set_ = ev
                if rise + GUARD_S <= t < set_ - GUARD_S:
                    return False, set_ + skew, rise + skew
                other = self._events(cfg, day - 1 if t < rise + GUARD_S else day + 1)
                if other is not None:
                    if t < rise + GUARD_S:
                        return True, other[1] + skew, rise + skew
                    return True, set_ + skew, other[0] + skew
        if not self.mids:
            return None
        half = median(self.lens) // 2
        m = t - tod_diff(t % 86400, self.mid_tod())  # the learned midnight nearest to now
        if -half <= t - m < half:
            return True, m - half, m + half
        if t < m:
            return False, m - half, m - 86400 + half
        return False, m + 86400 - half, m + half

    # -- one sample -----------------------------------------------------------------------------------
    def update(self, cfg, pv_mv, pv_ok, now_ms, a):
        """Advance by one sample, `a` being sun_at(cfg, now_ms); True when the phase changed (then
        self.src tells why)."""
        pv_phase, pv_changed = self.daylight.update(cfg, pv_mv, now_ms)
        if pv_changed and pv_ok and self.pv_trusted and self.phase is not None:
            self._learn(pv_phase, self.daylight.crossed_ms)  # when the light crossed, not when confirmed
        self.pv_seen |= 1 << pv_phase
        trust_pv = pv_ok and self.pv_trusted
        pv_night = trust_pv and pv_phase == NIGHT
        now_s = now_ms // 1000
        src = SRC_SUN
        if a is None:
            want, src = pv_phase, SRC_PV
        elif self.phase == NIGHT:
            is_night, set_s, rise_s = a
            want = NIGHT
            if not is_night:
                regular = self.since_ms <= rise_s * 1000  # began before this sunrise, not in a storm
                window_over = regular and now_s >= rise_s + cfg.astro_window_min * 60
                if not trust_pv or pv_phase == DAY or window_over:
                    want = DAY
                    if trust_pv and pv_phase == DAY:
                        src = SRC_PV
        else:
            is_night, set_s, rise_s = a
            want = DAY
            if is_night or (pv_night and now_s >= set_s - cfg.astro_window_min * 60):
                want = NIGHT
                if pv_night:
                    src = SRC_PV
        if want == self.phase:
            return False
        if self.phase is not None and now_ms - self.since_ms >= 6 * H * 1000:
            self._judge_sensor(1 << self.phase)
        self.phase, self.src, self.since_ms = want, src, now_ms
        self.pv_seen = 1 << pv_phase
        self._anchor(cfg, now_ms, a)
        return True

    def _judge_sensor(self, expected_bit):
        """At the end of a long phase: did the PV detector agree with it at least once?"""
        if self.pv_seen & expected_bit:
            self.agree += 1
            if self.agree >= 2:
                self.pv_trusted = True
        else:
            self.agree = 0
            self.pv_trusted = False

    def _learn(self, pv_phase, now_ms):
        if pv_phase == NIGHT:
            self.pv_dusk_ms = now_ms
            return
        if self.pv_dusk_ms is not None:
            length_s = (now_ms - self.pv_dusk_ms) // 1000
            if 8 * H <= length_s <= 16 * H:
                self.mids = (self.mids + [((self.pv_dusk_ms + now_ms) // 2000) % 86400])[-KEEP:]
                self.lens = (self.lens + [length_s])[-KEEP:]
        self.pv_dusk_ms = None

    def _anchor(self, cfg, now_ms, a):
        """Dusk, solar midnight and dawn of the night that begins (or is under way) now."""
        if self.phase != NIGHT:
            return
        dusk = now_ms
        if a is not None:
            is_night, set_s, rise_s = a
            if is_night:
                dusk = min(now_ms, set_s * 1000)  # after a reboot at night: the night began at sunset
                dawn = rise_s * 1000
            else:
                dawn = (rise_s + 86400) * 1000
            mid = (set_s * 1000 + dawn) // 2
        else:
            dawn = dusk + 12 * H * 1000
            mid = dusk + 6 * H * 1000
        if len(self.mids) >= LEARNED:
            centre = (dusk + dawn) // 2
            mid = centre - tod_diff((centre // 1000) % 86400, self.mid_tod()) * 1000
        self.dusk_ms, self.mid_ms, self.dawn_ms = dusk, mid, dawn
