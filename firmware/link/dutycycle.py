"""EU868 sub-band duty cycle and the daily airtime budget. Pure: times are given, never read.

Duty cycle (ETSI EN 300 220 / ERC Rec 70-03 as Semtech's LoRaMac-node implements it, RegionEU868.c
`VerifyRfFreq`): each sub-band allows 1/p of the time on air, enforced per device as an off-time after
each transmission, so that the next one on that sub-band starts no earlier than `start + p * airtime`.

The daily budget is a token bucket: it refills at `daily_us` per 24 h up to `capacity_us` (three days'
worth by default) and each frame costs its airtime. Over any T days a lamp spends at most
capacity + T x daily, so the long-run average stays within the budget, while the airtime saved during an
outage (only hourly probes go out) pays for draining the backlog once the gateway is back. Status frames need the tokens; events, boot and acknowledgement frames may overdraw
down to `-reserve_us`, so that a fault is reported at once even on a day the budget is spent.
Default 15 s a day: half The Things Network's 30 s fair-use limit (reference/physics.md 2.4).
"""

# (name, low kHz, high kHz, edges: 0 = [lo, hi], 1 = (lo, hi], 2 = [lo, hi), prescaler p = 1 / duty cycle)
EU868_BANDS = (
    ("863-865", 863000, 865000, 2, 1000),       # 0.1 %
    ("865-868", 865000, 868000, 0, 100),        # 1 %
    ("868.0-868.6", 868000, 868600, 1, 100),    # 1 %: 868.1 / 868.3 / 868.5 (LoRaWAN default channels)
    ("868.7-869.2", 868700, 869200, 0, 1000),   # 0.1 %
    ("869.4-869.65", 869400, 869650, 0, 10),    # 10 %: 869.525 (LoRaWAN RX2), up to 500 mW ERP
    ("869.7-870", 869700, 870000, 0, 100),      # 1 %
)
DAY_MS = 86400000
DEFAULT_DAILY_US = 15000000
BURST_DAYS = 3


def band_index(freq_khz, bands=EU868_BANDS):
    """Index of the sub-band holding freq_khz; ValueError outside every band (868.6-868.7, ...)."""
    for i in range(len(bands)):
        _name, lo, hi, edges, _p = bands[i]
        if (lo < freq_khz if edges == 1 else lo <= freq_khz) and (freq_khz < hi if edges == 2 else freq_khz <= hi):
            return i
    raise ValueError("%d kHz is in no EU868 sub-band" % freq_khz)


class DutyCycle:
    """Per-sub-band off-time after each transmission."""

    def __init__(self, bands=EU868_BANDS):
        self.bands = bands
        self._free_at = [None] * len(bands)  # ms when each band may transmit again

    def wait_ms(self, freq_khz, now_ms):
        """Milliseconds until a transmission may start on freq_khz (0 = now)."""
        free = self._free_at[band_index(freq_khz, self.bands)]
        return 0 if free is None or free <= now_ms else free - now_ms

    def record(self, freq_khz, start_ms, airtime_us):
        """A transmission started at start_ms and lasted airtime_us."""
        i = band_index(freq_khz, self.bands)
        off = (airtime_us * self.bands[i][4] + 999) // 1000
        free = start_ms + off
        if self._free_at[i] is None or free > self._free_at[i]:
            self._free_at[i] = free

    def earliest(self, channels_khz, now_ms):
        """(channel, wait_ms) of the channel free soonest; ties keep the list order."""
        best = None
        for ch in channels_khz:
            w = self.wait_ms(ch, now_ms)
            if best is None or w < best[1]:
                best = (ch, w)
        return best

    def state(self):
        return list(self._free_at)

    def restore(self, state):
        """After a reboot: the saved off-times, so that a reset cannot shorten them."""
        if state and len(state) == len(self._free_at):
            self._free_at = list(state)


class AirtimeBudget:
    """Token bucket of airtime in microseconds, refilled continuously at daily_us per day."""

    def __init__(self, daily_us=DEFAULT_DAILY_US, capacity_us=None, reserve_us=None, now_ms=0):
        self.daily_us = daily_us
        self.capacity_us = BURST_DAYS * daily_us if capacity_us is None else capacity_us
        self.reserve_us = daily_us // 4 if reserve_us is None else reserve_us
        self.tokens_us = self.capacity_us
        self._at_ms = now_ms
        self.spent_us = 0

    def _refill(self, now_ms):
        if now_ms > self._at_ms:
            # microseconds of airtime earned = elapsed_ms * daily_us / DAY_MS
            gained = (now_ms - self._at_ms) * self.daily_us // DAY_MS
            if gained:
                self.tokens_us = min(self.capacity_us, self.tokens_us + gained)
                # advance only by the time that bought whole microseconds, so nothing is lost to rounding
                self._at_ms += gained * DAY_MS // self.daily_us
            if self.tokens_us >= self.capacity_us:
                self._at_ms = now_ms

    def fill_pct(self, now_ms):
        self._refill(now_ms)
        return max(0, self.tokens_us * 100 // self.capacity_us)

    def allows(self, airtime_us, now_ms, priority=False):
        """May a frame of this airtime go now? priority frames may overdraw down to -reserve_us."""
        self._refill(now_ms)
        floor = -self.reserve_us if priority else 0
        return self.tokens_us - airtime_us >= floor

    def wait_ms(self, airtime_us, now_ms, priority=False):
        """Milliseconds until allows() turns true."""
        self._refill(now_ms)
        floor = -self.reserve_us if priority else 0
        missing = airtime_us + floor - self.tokens_us
        if missing <= 0:
            return 0
        return (missing * DAY_MS + self.daily_us - 1) // self.daily_us

    def spend(self, airtime_us, now_ms):
        self._refill(now_ms)
        self.tokens_us -= airtime_us
        self.spent_us += airtime_us
