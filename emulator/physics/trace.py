"""Weather from a measured or generated trace file.

Format: UTF-8 CSV whose header names the columns `timestamp`, `ghi_w_m2` and `temp_c` (any order;
extra columns are ignored). Blank lines and lines starting with `#` are skipped. `timestamp` is ISO 8601
(`2026-08-01T12:00:00+01:00`, `2026-08-01T11:00:00Z`, or without offset, read in the zone given by
`default_utc_offset_h`, UTC by default); values are instantaneous (not interval means). Between rows
both quantities are interpolated linearly; asking outside [first, last] row raises WeatherRangeError.

Every malformed line raises WeatherFileError naming the file and line: empty file, missing column,
bad timestamp, non-numeric or non-finite value, negative GHI, timestamps not strictly increasing,
fewer than two data rows.

Hourly rows resolve energy well but dusk and dawn only coarsely: GHI is interpolated straight from the
last daylight row to the first night row, so a PV-voltage dusk threshold is crossed up to ~45 min late.
Scenarios that test dusk/dawn timing should use SyntheticWeather or rows every few minutes.
"""
from __future__ import annotations

import math
from bisect import bisect_right
from datetime import datetime, timedelta, timezone
from pathlib import Path

COLUMNS = ("timestamp", "ghi_w_m2", "temp_c")


class WeatherFileError(ValueError):
    def __init__(self, path: str | Path, line: int, message: str):
        self.path = str(path)
        self.line = line
        super().__init__(f"{path}:{line}: {message}")


class WeatherRangeError(ValueError):
    pass


def parse_timestamp(text: str, default_tz: timezone) -> float:
    """Unix seconds from ISO 8601 text; naive times are in `default_tz`. ValueError when malformed."""
    dt = datetime.fromisoformat(text.strip())
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=default_tz)
    return dt.timestamp()


class TraceWeather:
    """Weather interface (`ghi_w_m2(t_s)`, `temp_c(t_s)`, `sample(t_s)`) over a CSV trace."""

    def __init__(self, path: str | Path, default_utc_offset_h: float = 0.0):
        self.path = Path(path)
        tz = timezone(timedelta(hours=default_utc_offset_h))
        times: list[float] = []
        ghi: list[float] = []
        temp: list[float] = []
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError as exc:
            raise WeatherFileError(self.path, 0, f"cannot read: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise WeatherFileError(self.path, 0, "not UTF-8 text") from None
        cols: dict[str, int] | None = None
        last_line = 0
        for lineno, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            fields = [f.strip() for f in line.split(",")]
            if cols is None:
                missing = [c for c in COLUMNS if c not in fields]
                if missing:
                    raise WeatherFileError(self.path, lineno, f"header lacks column(s) {', '.join(missing)}; "
                                           f"expected header {','.join(COLUMNS)}")
                cols = {c: fields.index(c) for c in COLUMNS}
                last_line = lineno
                continue
            need = max(cols.values()) + 1
            if len(fields) < need:
                absent = [c for c in COLUMNS if cols[c] >= len(fields) or not fields[cols[c]]]
                raise WeatherFileError(self.path, lineno, f"missing column {', '.join(absent)}")
            ts_text = fields[cols["timestamp"]]
            try:
                t = parse_timestamp(ts_text, tz)
            except ValueError:
                raise WeatherFileError(self.path, lineno, f"bad timestamp {ts_text!r} (want ISO 8601)") from None
            values = []
            for name in ("ghi_w_m2", "temp_c"):
                field = fields[cols[name]]
                if not field:
                    raise WeatherFileError(self.path, lineno, f"missing column {name}")
                try:
                    v = float(field)
                except ValueError:
                    raise WeatherFileError(self.path, lineno, f"{name} is not a number: {field!r}") from None
                if not math.isfinite(v):
                    raise WeatherFileError(self.path, lineno, f"{name} is not finite: {field!r}")
                values.append(v)
            if values[0] < 0.0:
                raise WeatherFileError(self.path, lineno, f"negative ghi_w_m2 {values[0]}")
            if times and t <= times[-1]:
                raise WeatherFileError(self.path, lineno, f"timestamp {ts_text} is not after the previous row")
            times.append(t)
            last_line = lineno
            ghi.append(values[0])
            temp.append(values[1])
        if cols is None:
            raise WeatherFileError(self.path, 1, f"empty file: expected header {','.join(COLUMNS)} and rows")
        if len(times) < 2:
            raise WeatherFileError(self.path, last_line,
                                   f"need at least two data rows, found {len(times)}")
        self._t, self._ghi, self._temp = times, ghi, temp
        self.start_s, self.end_s = times[0], times[-1]
        self._i = 0  # last segment used: sequential access skips the bisection

    def _segment(self, t_s: float) -> tuple[int, float]:
        t = self._t
        i = self._i
        if not (t[i] <= t_s <= t[i + 1]):
            if not (self.start_s <= t_s <= self.end_s):
                raise WeatherRangeError(
                    f"{self.path}: time {datetime.fromtimestamp(t_s, timezone.utc).isoformat()} is outside the "
                    f"trace ({datetime.fromtimestamp(self.start_s, timezone.utc).isoformat()} .. "
                    f"{datetime.fromtimestamp(self.end_s, timezone.utc).isoformat()})")
            i = min(bisect_right(t, t_s) - 1, len(t) - 2)
            self._i = i
        return i, (t_s - t[i]) / (t[i + 1] - t[i])

    def ghi_w_m2(self, t_s: float) -> float:
        i, f = self._segment(t_s)
        return self._ghi[i] + f * (self._ghi[i + 1] - self._ghi[i])

    def temp_c(self, t_s: float) -> float:
        i, f = self._segment(t_s)
        return self._temp[i] + f * (self._temp[i + 1] - self._temp[i])

    def sample(self, t_s: float) -> tuple[float, float]:
        i, f = self._segment(t_s)
        g, tc = self._ghi, self._temp
        return g[i] + f * (g[i + 1] - g[i]), tc[i] + f * (tc[i + 1] - tc[i])
