"""Battery protection: load disconnect (LVD) and reconnect (LVR), and the charge temperature window."""
# Modelled on Libre Solar's load state machine (firmware_anchors.md section 3):
# - disconnect when the terminal voltage stays below the LVD for two samples. The threshold is
#   current-compensated: lowered by I x R under load (R learned, core/battery.py) so a voltage sag under a
#   bright LED does not shed the load, but never below `lvd_min_mv`; lead-acid thresholds move with
#   temperature (-3 mV/C/cell, applied to LVD and LVR as EPEVER does);
# - the load is also cut outside the discharge temperature window;
# - reconnect only when the voltage is back above LVR, `reconnect_delay_s` has passed (300 s), and, since
#   a charger lifts the terminal voltage of an empty battery at once, the state of charge has gained 10
#   points since the disconnect (LibreSolar issues #39/#40: LVD/LVR oscillation and runaway counters);
# - no charging outside the chemistry's charge window (LiFePO4: never below 0 C), with 3 C hysteresis.


class Protect:
    def __init__(self):
        self.load_on = True
        self.off_ms = 0
        self.off_soc = 0
        self.low = 0
        self.charge_on = True
        self.why = 0  # 0 voltage, 1 temperature: why the load is off

    def lvd_mv(self, p, ibat_ma, r_mohm, temp_c):
        tc = p.temp_comp_mv_per_c * (temp_c - 25)
        sag = -ibat_ma * r_mohm // 1000 if ibat_ma < 0 else 0
        return max(p.lvd_min_mv, p.lvd_mv + tc - sag)

    def update(self, p, vbat_mv, ibat_ma, temp_c, soc_pct, r_mohm, now_ms):
        """Return 1 when the load was just disconnected for low voltage, 2 for temperature, -1 when it
        was just reconnected, else 0."""
        lo, hi = p.charge_min_c, p.charge_max_c
        if self.charge_on:
            self.charge_on = lo <= temp_c <= hi
        else:
            self.charge_on = lo + 3 <= temp_c <= hi - 3
        too_hot_or_cold = not p.discharge_min_c <= temp_c <= p.discharge_max_c
        if self.load_on:
            if too_hot_or_cold:
                self.low = 0
                return self._off(1, soc_pct, now_ms)
            if vbat_mv < self.lvd_mv(p, ibat_ma, r_mohm, temp_c):
                self.low += 1
                if self.low >= 2:
                    return self._off(0, soc_pct, now_ms)
            else:
                self.low = 0
            return 0
        if self.why == 1:
            ok = p.discharge_min_c + 3 <= temp_c <= p.discharge_max_c - 3
        else:
            lvr = p.lvr_mv + p.temp_comp_mv_per_c * (temp_c - 25)
            ok = (vbat_mv >= lvr and now_ms - self.off_ms >= p.reconnect_delay_s * 1000
                  and soc_pct >= self.off_soc + 10)
        if ok:
            self.load_on = True
            return -1
        return 0

    def _off(self, why, soc_pct, now_ms):
        self.load_on = False
        self.why = why
        self.off_ms = now_ms
        self.off_soc = soc_pct
        return 1 + why
