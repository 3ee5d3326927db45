"""Trace file reader: interpolation, time zones, range, and a clear error for every malformed line."""
from datetime import datetime, timezone

import pytest

from emulator.physics.trace import TraceWeather, WeatherFileError, WeatherRangeError

HEADER = "timestamp,ghi_w_m2,temp_c\n"
T0 = datetime(2026, 8, 1, 11, 0, tzinfo=timezone.utc).timestamp()


def write(tmp_path, text: str, name: str = "w.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_linear_interpolation_and_offsets(tmp_path):
    path = write(tmp_path, HEADER
                 + "2026-08-01T12:00:00+01:00,100,25\n"   # 11:00 UTC
                 + "2026-08-01T11:30:00Z,400,26\n"         # 11:30 UTC
                 + "2026-08-01T12:00:00,1000,30\n")        # naive: UTC by default
    tw = TraceWeather(path)
    assert tw.start_s == T0 and tw.end_s == T0 + 3600
    assert tw.ghi_w_m2(T0) == 100
    assert tw.ghi_w_m2(T0 + 900) == pytest.approx(250)
    assert tw.temp_c(T0 + 2700) == pytest.approx(28)
    assert tw.sample(T0 + 3600) == (1000, 30)
    assert tw.sample(T0 + 600) == pytest.approx((200, 25 + 1 / 3))  # back in time: bisection


def test_naive_timestamps_in_a_given_zone(tmp_path):
    path = write(tmp_path, HEADER + "2026-08-01T12:00:00,0,20\n2026-08-01T13:00:00,10,21\n")
    assert TraceWeather(path, default_utc_offset_h=1.0).start_s == T0


def test_comments_blank_lines_extra_and_reordered_columns(tmp_path):
    path = write(tmp_path, "# generated\n\ntemp_c,source,timestamp,ghi_w_m2\n"
                 "25,x,2026-08-01T11:00:00Z,5\n# note\n26,y,2026-08-01T12:00:00Z,15\n")
    tw = TraceWeather(path)
    assert tw.sample(T0 + 1800) == (10, 25.5)


def test_outside_the_range_raises(tmp_path):
    tw = TraceWeather(write(tmp_path, HEADER + "2026-08-01T11:00:00Z,0,20\n2026-08-01T12:00:00Z,10,21\n"))
    for t in (T0 - 1, T0 + 3601):
        with pytest.raises(WeatherRangeError, match="outside the trace"):
            tw.ghi_w_m2(t)


BAD = [
    ("", 1, "empty file"),
    ("# only a comment\n", 1, "empty file"),
    ("time,ghi_w_m2,temp_c\n2026-08-01T11:00:00Z,1,2\n", 1, "header lacks column(s) timestamp"),
    ("timestamp,ghi_w_m2\n", 1, "temp_c"),
    (HEADER + "2026-08-01T11:00:00Z,1,2\n2026-08-01T12:00:00Z,1\n", 3, "missing column temp_c"),
    (HEADER + "2026-08-01T11:00:00Z,1,2\n2026-08-01T12:00:00Z,,3\n", 3, "missing column ghi_w_m2"),
    (HEADER + "2026-08-01T11:00:00Z,1,2\nyesterday,1,2\n", 3, "bad timestamp 'yesterday'"),
    (HEADER + "2026-13-01T11:00:00Z,1,2\n", 2, "bad timestamp"),
    (HEADER + "2026-08-01T11:00:00Z,sunny,2\n", 2, "ghi_w_m2 is not a number: 'sunny'"),
    (HEADER + "2026-08-01T11:00:00Z,1,warm\n", 2, "temp_c is not a number"),
    (HEADER + "2026-08-01T11:00:00Z,nan,2\n", 2, "not finite"),
    (HEADER + "2026-08-01T11:00:00Z,-3,2\n", 2, "negative ghi_w_m2"),
    (HEADER + "2026-08-01T11:00:00Z,1,2\n2026-08-01T10:00:00Z,1,2\n", 3, "not after the previous row"),
    (HEADER + "2026-08-01T11:00:00Z,1,2\n2026-08-01T12:00:00+01:00,1,2\n", 3, "not after the previous row"),
    (HEADER, 1, "need at least two data rows, found 0"),
    (HEADER + "\n2026-08-01T11:00:00Z,1,2\n", 3, "need at least two data rows, found 1"),
]


@pytest.mark.parametrize("text,line,message", BAD)
def test_every_malformed_file_names_file_and_line(tmp_path, text, line, message):
    path = write(tmp_path, text, "bad.csv")
    with pytest.raises(WeatherFileError) as err:
        TraceWeather(path)
    assert err.value.line == line
    assert err.value.path == str(path)
    assert str(err.value).startswith(f"{path}:{line}: ")
    assert message in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(WeatherFileError, match="cannot read"):
        TraceWeather(tmp_path / "nope.csv")


def test_not_utf8(tmp_path):
    path = tmp_path / "bin.csv"
    path.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(WeatherFileError, match="not UTF-8"):
        TraceWeather(path)
