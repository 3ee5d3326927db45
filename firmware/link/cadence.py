"""When the lamp reports: events at once (coalesced), status more often at night than by day, and both
stretched so that the planned airtime fits the daily budget. Pure: the caller passes times and the
budget's fill level.

Profiles give the wish; `stretch_pct` turns it into what the radio can afford. At SF12 a 24-byte status
frame costs 1.48 s of airtime, so the 15 s daily budget buys about ten of them: the street profile's
half-hourly night status is stretched about fivefold there and not at all at SF7-SF10 (docs/link.md).
"""

NIGHT_S = 43200  # Bangui nights last 11.6-12.1 h
DAY_S = 86400
STATUS_FRAME_LEN = 24
EVENT_FRAME_LEN = 20  # one record; coalesced frames carry up to six (50 bytes)
MAX_RECORDS = 6

# night_status_s / day_status_s: wished status intervals; events_per_day: expected event frames (dusk and
# dawn every day, a fault raised and cleared now and then) for planning; coalesce_s: how long the first
# event of a burst waits for companions before its frame leaves.
PROFILES = {
    "street": {"night_status_s": 1800, "day_status_s": 7200, "events_per_day": 3, "coalesce_s": 60},
    "kit": {"night_status_s": 3600, "day_status_s": 14400, "events_per_day": 4, "coalesce_s": 60},
    "bridge": {"night_status_s": 3600, "day_status_s": 3600, "events_per_day": 1, "coalesce_s": 0},
}
TARGET_PCT = 80  # plan for 80 % of the budget: the rest pays for retries and downlink acknowledgements
MAX_STRETCH_PCT = 4800  # never slower than one status per 24 h at night


def profile(name_or_dict):
    if isinstance(name_or_dict, dict):
        p = dict(PROFILES["street"])
        p.update(name_or_dict)
        return p
    if name_or_dict not in PROFILES:
        raise ValueError("unknown reporting profile %r (known: %s)" % (name_or_dict, ", ".join(sorted(PROFILES))))
    return PROFILES[name_or_dict]


def status_millis_per_day(prof, stretch_pct=100, night_s=NIGHT_S):
    """Status frames per day, times 1000 (fractions matter: 12 h of day at one per 10 h is 1.2)."""
    p = profile(prof)
    day_s = DAY_S - night_s
    return (night_s * 100000 // (p["night_status_s"] * stretch_pct)
            + day_s * 100000 // (p["day_status_s"] * stretch_pct))


def daily_airtime_us(prof, status_us, event_us, stretch_pct=100, night_s=NIGHT_S):
    """Planned airtime per day: status frames at the (stretched) intervals plus the expected events."""
    p = profile(prof)
    return status_us * status_millis_per_day(p, stretch_pct, night_s) // 1000 + p["events_per_day"] * event_us


def queue_days_x10(slots, prof, stretch=100, night_s=NIGHT_S):
    """How many days of reporting a queue of `slots` frames holds, times 10 (for an outage)."""
    p = profile(prof)
    per_day_milli = status_millis_per_day(p, stretch, night_s) + 1000 * p["events_per_day"]
    return slots * 10000 // per_day_milli


def stretch_pct(prof, status_us, event_us, budget_us, target_pct=TARGET_PCT, night_s=NIGHT_S):
    """Smallest stretch (100 = as wished) that keeps the plan within target_pct of the budget."""
    if budget_us is None:
        return 100
    p = profile(prof)
    allowed = budget_us * target_pct // 100 - p["events_per_day"] * event_us
    status_100 = daily_airtime_us(p, status_us, 0, 100, night_s)
    if status_100 <= allowed:
        return 100
    if allowed <= 0:
        return MAX_STRETCH_PCT
    need = (status_100 * 100 + allowed - 1) // allowed
    return min(MAX_STRETCH_PCT, need)


class Cadence:
    """Decides when the next status frame is due."""

    def __init__(self, prof="street", status_us=0, event_us=0, budget_us=None, night_s=NIGHT_S):
        self.profile = profile(prof)
        self.stretch_pct = stretch_pct(self.profile, status_us, event_us, budget_us, night_s=night_s)
        self.last_status_ms = None

    def interval_s(self, is_night, fill_pct=100):
        """Status interval now: the profile's, stretched for the radio, and again when the budget runs low."""
        base = self.profile["night_status_s"] if is_night else self.profile["day_status_s"]
        s = base * self.stretch_pct // 100
        if fill_pct < 25:
            s *= 4
        elif fill_pct < 50:
            s *= 2
        return s

    def status_due(self, now_ms, is_night, fill_pct=100):
        if self.last_status_ms is None:
            return True
        return now_ms - self.last_status_ms >= self.interval_s(is_night, fill_pct) * 1000

    def next_status_ms(self, now_ms, is_night, fill_pct=100):
        if self.last_status_ms is None:
            return now_ms
        return self.last_status_ms + self.interval_s(is_night, fill_pct) * 1000

    def status_sent(self, now_ms):
        self.last_status_ms = now_ms


class EventCoalescer:
    """Holds event records briefly so that a burst leaves in one frame (up to six records).

    `due()` returns (time_ms, records) batches: time_ms is the first record's, the frame's single timestamp.
    """

    def __init__(self, coalesce_s=60, max_records=MAX_RECORDS):
        self.coalesce_ms = coalesce_s * 1000
        self.max_records = max_records
        self._pending = []
        self._first_ms = None

    def add(self, records, now_ms):
        if not records:
            return
        if self._first_ms is None:
            self._first_ms = now_ms
        self._pending.extend(records)

    def pending(self):
        return len(self._pending)

    def due_at_ms(self):
        """When the held records must leave (None: nothing held)."""
        return None if self._first_ms is None else self._first_ms + self.coalesce_ms

    def due(self, now_ms, force=False):
        if not self._pending:
            return []
        full = len(self._pending) >= self.max_records
        if not (force or full or now_ms - self._first_ms >= self.coalesce_ms):
            return []
        n = len(self._pending)
        if not (force or now_ms - self._first_ms >= self.coalesce_ms):
            n -= n % self.max_records  # only full frames leave early; the rest keeps waiting
        out = []
        for i in range(0, n, self.max_records):
            out.append((self._first_ms, self._pending[i:i + self.max_records]))
        self._pending = self._pending[n:]
        self._first_ms = self._first_ms if self._pending else None
        return out
