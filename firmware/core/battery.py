"""Battery state: charge, health, resistance and the daily counters."""
# State of charge is coulomb counting (charge in µAh, integers: a 40 Ah battery is 4e7, a small int on
# the ESP32) re-anchored at moments when it is known exactly (Libre Solar's approach):
# - at rest (|I| <= C/200 for the profile's `rest_s`), from the OCV table, but only where the table is
#   steep enough that a 1 % voltage error moves SoC by at most ~10 % (LiFePO4 is flat from 10 to 95 %);
# - at full charge: terminal voltage >= full_mv (temperature-compensated) with the current tapered below
#   the tail current, for 5 minutes;
# - at load disconnect: soc_at_lvd_pct of the chemistry profile.
# Between two anchors at least 40 % apart, the counted charge measures the usable capacity: state of
# health follows it (a quarter of the way per measurement). At boot with nothing saved, SoC comes from
# the voltage corrected for the current (V - I R), a rough first guess until the first anchor.
H_MS = 3600000


def ocv_soc(table, mv):
    """(soc_pct, slope in mV per %) at `mv` on an OCV table soc, mv, soc, mv, ... (ascending; config.py
    flattens the profile's pairs: one tuple of ints is a tenth of the memory of 21 small lists)."""
    n = len(table)
    for i in range(2, n, 2):
        if mv < table[i + 1] or i + 2 == n:
            s0, v0, s1, v1 = table[i - 2], table[i - 1], table[i], table[i + 1]
            dv, ds = v1 - v0, s1 - s0
            soc = s0 + (mv - v0) * ds // dv if dv > 0 else s0
            return max(0, min(100, soc)), dv // ds
    return 100, 0


class Battery:
    def __init__(self, cfg):
        self.nominal_uah = cfg.battery_mah * 1000
        self.soh_pct = 100
        self.uah = None  # charge held
        self.rem = 0  # mA*ms not yet counted
        self.count_uah = 0  # net charge counted since boot
        self.anchor = None  # [soc_pct, count_uah] at the last anchor
        self.rest_ms = None
        self.full_ms = None
        self.r_mohm = cfg.bat_r_mohm
        self.deep_discharges = 0
        self.recharged = True  # charged above 50 % since the last counted deep discharge
        self.acc = [0, 0]  # mW*ms not yet counted: in, out
        self.today_mwh = [0, 0]  # energy in (charging) and out since dawn
        self.yesterday_mwh = [0, 0]
        self.day_in_uah = 0  # charge in since dawn
        self.harvest_mah = []  # charge in per day, recent days (the planner's "income")
        self.filled = 0  # bit i: harvest_mah[-1 - i] was a day that filled the battery (a floor, not a measure)
        self.full_today = False
        self.whole_day = False  # this day began at a dawn the lamp saw (a day begun at boot is not a day's harvest)

    def capacity_uah(self):
        return self.nominal_uah * self.soh_pct // 100

    def soc_pct(self):
        if self.uah is None:
            return None
        return min(100, self.uah * 100 // self.capacity_uah())

    def update(self, cfg, vbat_mv, ibat_ma, temp_c, dt_ms, now_ms, mean_ma=None):
        """One sample: `ibat_ma` now, `mean_ma` the mean current since the previous sample (the HAL's
        `ibat_avg_ma`, measured across a sleep; the present current where the HAL has none). The charge
        and energy counts integrate the mean: a lamp that sleeps 30 min under a passing cloud would
        otherwise count the whole half hour at one instant's current."""
        p = cfg.battery
        if mean_ma is None:
            mean_ma = ibat_ma
        cap = self.capacity_uah()
        if self.uah is None:
            self.uah = cap * ocv_soc(p.ocv_mv, vbat_mv - ibat_ma * self.r_mohm // 1000)[0] // 100
        q = mean_ma * dt_ms
        if q > 0:
            q = q * p.charge_eff_pct // 100
        self.rem += q
        d = self.rem // 3600
        self.rem -= d * 3600
        self.count_uah += d
        if d > 0:
            self.day_in_uah += d
        self.uah = max(0, min(cap, self.uah + d))
        e = vbat_mv * mean_ma // 1000 * dt_ms
        k = 0 if e > 0 else 1
        self.acc[k] += abs(e)
        self.today_mwh[k] += self.acc[k] // H_MS
        self.acc[k] %= H_MS
        self._anchor_at_rest(p, vbat_mv, ibat_ma, now_ms)
        full_mv = p.full_mv + p.temp_comp_mv_per_c * (temp_c - 25)
        tail_ma = cfg.battery_mah * p.full_tail_ma_per_ah // 1000
        if vbat_mv >= full_mv and 0 <= ibat_ma <= tail_ma:
            if self.full_ms is None:
                self.full_ms = now_ms
            elif now_ms - self.full_ms >= 300000:
                self.anchor_at(100)
                self.full_ms = now_ms + H_MS  # once an hour at most while it floats
        else:
            self.full_ms = None
        soc = self.soc_pct()
        if soc >= 50:
            self.recharged = True
        if soc >= 99:  # the full anchor, or the count (a charger's cut-off may hide the tail current)
            self.full_today = True

    def _anchor_at_rest(self, p, vbat_mv, ibat_ma, now_ms):
        rest_ma = self.nominal_uah // 200000
        if not -rest_ma <= ibat_ma <= rest_ma:
            self.rest_ms = None
        elif self.rest_ms is None:
            self.rest_ms = now_ms
        elif now_ms - self.rest_ms >= p.rest_s * 1000:
            soc, slope = ocv_soc(p.ocv_mv, vbat_mv)
            if slope * 1000 >= p.lvd_mv:
                self.anchor_at(soc)
            self.rest_ms = now_ms

    def anchor_at(self, soc_pct):
        """SoC is known to be soc_pct now: learn capacity from the charge counted since the last anchor."""
        a = self.anchor
        if a is not None:
            dsoc, dq = soc_pct - a[0], self.count_uah - a[1]
            if (dsoc >= 40 and dq > 0) or (dsoc <= -40 and dq < 0):
                measured = max(10, min(120, dq * 100 // dsoc * 100 // self.nominal_uah))
                self.soh_pct += (measured - self.soh_pct + 2) // 4
        self.anchor = [soc_pct, self.count_uah]
        self.uah = self.capacity_uah() * soc_pct // 100

    def load_disconnected(self, soc_at_lvd_pct):
        self.anchor_at(soc_at_lvd_pct)
        if self.recharged:
            self.deep_discharges += 1
            self.recharged = False

    def learn_r(self, v0_mv, i0_ma, v1_mv, i1_ma):
        """A load step (the LED switching on): R = -dV/dI, a quarter of the way per step."""
        di = i0_ma - i1_ma
        if di >= 300:
            r = (v0_mv - v1_mv) * 1000 // di
            if 0 < r < 2000:
                self.r_mohm += (r - self.r_mohm + 2) // 4

    def end_of_day(self):
        """At dusk: the day's charge becomes one more day of harvest history."""
        if self.whole_day:
            self.harvest_mah = (self.harvest_mah + [self.day_in_uah // 1000])[-5:]
            self.filled = (self.filled << 1 | self.full_today) & 31
        self.full_today = self.whole_day = False
        self.day_in_uah = 0

    def end_of_night(self):
        """At dawn: today's energy counters become yesterday's; a day of harvest begins."""
        self.whole_day = True
        self.day_in_uah = 0
        self.yesterday_mwh = self.today_mwh
        self.today_mwh = [0, 0]
