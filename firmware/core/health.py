"""Self-diagnosis beyond the LED: sensors, panel, battery, temperature, tamper, clock, reset loops."""
# Each check turns readings into a verdict with evidence (value, ref) for core/diagnosis.Faults:
#
# sensor             a reading outside its physical range (ref: 0 vbat, 1 ibat, 2 pv, 3 led, 4 temp); the
#                    PV voltage near 0 by day while the battery charges, or at charging level for 30 min
#                    more than 3 h from sunset and sunrise; vbat or ibat frozen across 3 load steps (the LED switching on
#                    must move both)
# pv_not_charging    sun well up (2 h after sunrise to 2 h before sunset, by the sun model), and for an hour
#                    either the PV voltage near 0 with no charge current (panel disconnected, stolen), or a
#                    PV voltage but no charge current into a battery that is not full (shaded, charger fault)
# battery_degraded   state of health below soh_degraded_pct, resistance above r_degraded_mohm, or a load
#                    disconnect while the state of charge (anchored before) said more than 50 %
# over_temp          above over_temp_c, or too cold to charge (value: the temperature, ref: the limit)
# tamper             the enclosure switch open for two samples
# clock              location known but the clock unusable, or off the sun by more than 30 min
# reset_loop         3 or more unexpected resets within an hour (shell's boot history), for 24 h of uptime
from telemetry import schema

F = schema.FAULT_CODES
READINGS = ("vbat_mv", "ibat_ma", "pv_mv", "led_ma", "temp_c")


class Health:
    def __init__(self):
        self.pv_bad_ms = 0  # how long the panel has looked dead (or idle) in full day
        self.pv_night_n = 0
        self.pv_stuck_n = 0
        self.pv_bad = 0  # 1 dead by day, 2 lit at night (latched)
        self.frozen = [0, 0]  # load steps in a row where vbat / ibat did not move
        self.collapse = False
        self.blind = False
        self.resets = 0

    def sensors(self, cfg, faults, inputs, sun, now_s, events):
        """Judge the sensors; return False when the PV reading must not be trusted."""
        p = cfg.battery
        limits = ((p.vmin_mv, p.vmax_mv), (-cfg.battery_mah, cfg.battery_mah), (0, cfg.pv_max_mv),
                  (0, cfg.led_max_ma * 3), (-40, 100))
        bad = -1
        for i in range(5):
            if not limits[i][0] <= inputs[READINGS[i]] <= limits[i][1]:
                bad = i
        pv = inputs["pv_mv"]
        if sun is not None:
            # A PV reading that contradicts the sun is latched until the same moment of the day shows it
            # sane again: near 0 in full day while the battery charges (cleared by light in full day),
            # or at charging level for 30 min in the middle of the night (cleared by darkness there).
            up, deep_night = sun_phase(sun, now_s)
            charging = inputs["ibat_ma"] > cfg.battery_mah // 100
            self.pv_stuck_n = self.pv_stuck_n + 1 if up and pv < cfg.pv_dead_mv and charging else 0
            self.pv_night_n = self.pv_night_n + 1 if deep_night and pv >= cfg.dawn_pv_mv else 0
            if self.pv_stuck_n >= 3:
                self.pv_bad = 1
            elif self.pv_night_n >= 30:
                self.pv_bad = 2
            elif (self.pv_bad == 1 and up and pv >= cfg.dawn_pv_mv) or (
                    self.pv_bad == 2 and deep_night and pv < cfg.dusk_pv_mv):
                self.pv_bad = 0
        if self.pv_bad:
            bad = 2
        for i in (0, 1):
            if self.frozen[i] >= 3:
                bad = i
        faults.judge(F["sensor"], bad >= 0, 3, inputs[READINGS[bad]] if bad >= 0 else 0, bad, events)
        # a battery reading that cannot be believed: the battery management is blind, the light falls back to
        # the safe level (core/lighting.py) until the fault clears
        self.blind = bool(faults.bits & 1 << F["sensor"]) and bad in (0, 1)
        return not self.pv_bad and 0 <= pv <= cfg.pv_max_mv

    def load_step(self, v0, i0, v1, i1):
        self.frozen[0] = self.frozen[0] + 1 if v0 == v1 else 0
        self.frozen[1] = self.frozen[1] + 1 if i0 == i1 else 0

    def check(self, state, inputs, sun, now_ms, dt_ms, clock_bad, skew_s, events):
        """Panel, battery, temperature, tamper, clock and reset-loop faults for this sample."""
        cfg, faults, bat, p = state.cfg, state.diag, state.bat, state.cfg.battery
        pv, temp = inputs["pv_mv"], inputs["temp_c"]
        ibat = inputs.get("ibat_avg_ma", inputs["ibat_ma"])  # across the sleep: a cloud's instant says little
        if sun is not None:
            up = sun_phase(sun, now_ms // 1000)[0]
            idle = ibat <= 0 and (pv < cfg.pv_dead_mv or (bat.soc_pct() < 70 and state.prot.charge_on))
            if up and idle:
                self.pv_bad_ms += dt_ms
                if self.pv_bad_ms >= 3600000:
                    faults.set(F["pv_not_charging"], True, pv // 100, ibat, events)
            elif up or pv > cfg.dawn_pv_mv and ibat > 0:
                self.pv_bad_ms = 0
                if ibat > 0:
                    faults.set(F["pv_not_charging"], False, pv // 100, ibat, events)
        degraded = bat.soh_pct < cfg.soh_degraded_pct or bat.r_mohm > cfg.r_degraded_mohm or self.collapse
        faults.set(F["battery_degraded"], degraded, bat.soh_pct, bat.r_mohm, events)
        code = F["over_temp"]
        hot = temp >= cfg.over_temp_c - (5 if faults.bits & (1 << code) else 0)
        cold = temp < p.charge_min_c
        faults.judge(code, hot or cold, 3, temp, p.charge_min_c if cold else cfg.over_temp_c, events)
        faults.judge(F["tamper"], bool(inputs.get("tamper")), 2, 1, 0, events)
        faults.set(F["clock"], clock_bad, (skew_s or 0) // 60, 0, events)
        uptime_ms = now_ms - state.started_ms
        faults.set(F["reset_loop"], self.resets >= 3 and uptime_ms < 86400000, self.resets, 60, events)


def sun_phase(sun, now_s):
    """(sun well up, deep night): 2 h inside the day, 3 h inside the night. A clock hours off shows as
    light at the night's edges first; blaming the sensor for it would also stop the PV nights that
    measure the skew (core/night.py), so only light deep in the night condemns the sensor."""
    is_night, set_s, rise_s = sun
    if is_night:
        return False, set_s + 3 * 3600 <= now_s <= rise_s - 3 * 3600
    return rise_s + 7200 <= now_s <= set_s - 7200, False
