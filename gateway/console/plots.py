"""History plots as server-side SVG: one quantity per plot, its unit on its axis, nights shaded, alerts
and repairs marked. A few kilobytes per plot, no script, readable on a phone and printable.

The LED plot draws the current the lamp commands (led_max_ma x led_pct) dashed beside the current it
measures: a lamp at 100 % command drawing 0 mA is the fault itself, visible without an engineer.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from html import escape

from gateway.daily import DAY_S

W, H = 420, 150
LEFT, RIGHT, TOP, BOTTOM = 44, 6, 20, 20
MAX_POINTS = 320


@dataclass(frozen=True)
class Series:
    label: str
    points: list[tuple[int, float]]
    colour: str
    dashed: bool = False


@dataclass(frozen=True)
class Mark:
    t_s: int
    label: str
    colour: str
    labelled: bool = True  # text beside the line (alerts); otherwise the label is the line's tooltip only


def _bucket(points: list[tuple[int, float]], t0: int, t1: int) -> list[tuple[int, float]]:
    """At most MAX_POINTS: the mean of each time bucket (a month of 10-minute frames is 4,320)."""
    if len(points) <= MAX_POINTS:
        return points
    width = max((t1 - t0) / MAX_POINTS, 1)
    sums: dict[int, list[float]] = {}
    for t, v in points:
        b = sums.setdefault(int((t - t0) // width), [0.0, 0.0, 0.0])
        b[0] += t
        b[1] += v
        b[2] += 1
    return [(int(s[0] / s[2]), s[1] / s[2]) for _, s in sorted(sums.items())]


def _anchor(right: bool) -> str:
    return ' text-anchor="end"' if right else ""


def _ticks(lo: float, hi: float) -> list[float]:
    span = hi - lo or 1.0
    raw = span / 4
    mag = 10 ** len(str(int(raw))) / 10 if raw >= 1 else 0.1
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = (lo // step) * step
    return [first + i * step for i in range(0, 8) if lo <= first + i * step <= hi + 1e-9]


def plot(title: str, unit: str, series: list[Series], t0: int, t1: int, utc_offset_s: int, marks: list[Mark],
         decimal_comma: bool = True, y_min: float | None = None) -> str:
    values = [v for s in series for _, v in s.points]
    lo = min(values) if values else 0.0
    hi = max(values) if values else 1.0
    if y_min is not None:
        lo = min(lo, y_min)
    if hi - lo < 1e-9:
        hi = lo + 1
    pad = (hi - lo) * 0.08
    lo, hi = (lo - pad if y_min is None else lo), hi + pad
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    t1 = max(t1, t0 + 1)

    def x(t: float) -> float:
        return LEFT + (t - t0) * pw / (t1 - t0)

    def y(v: float) -> float:
        return TOP + ph - (v - lo) * ph / (hi - lo)

    def num(v: float) -> str:
        text = f"{v:.1f}" if abs(hi - lo) < 20 else f"{v:.0f}"
        return text.replace(".", ",") if decimal_comma else text

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" class="plot" role="img" '
           f'aria-label="{escape(title)}">', f'<title>{escape(title)}</title>']
    # nights: 18:00 to 06:00 local
    day = (t0 + utc_offset_s) // DAY_S - 1
    while day * DAY_S - utc_offset_s < t1:
        a, b = day * DAY_S + 18 * 3600 - utc_offset_s, day * DAY_S + 30 * 3600 - utc_offset_s
        if b > t0 and a < t1:
            xa, xb = x(max(a, t0)), x(min(b, t1))
            out.append(f'<rect x="{xa:.1f}" y="{TOP}" width="{xb - xa:.1f}" height="{ph}" fill="#dfe3ee"/>')
        day += 1
    for v in _ticks(lo, hi):
        out.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#ccc" '
                   'stroke-width="0.5"/>')
        out.append(f'<text x="{LEFT - 4}" y="{y(v) + 3:.1f}" text-anchor="end">{num(v)}</text>')
    out.append(f'<text x="4" y="12" class="unit">{escape(unit)}</text>')
    # day labels along the bottom (local dates)
    days = max((t1 - t0) // DAY_S, 1)
    every = 1 if days <= 7 else (2 if days <= 14 else 5)
    day = (t0 + utc_offset_s) // DAY_S + 1
    while day * DAY_S - utc_offset_s < t1:
        t = day * DAY_S - utc_offset_s
        if day % every == 0:
            out.append(f'<text x="{x(t):.1f}" y="{H - 6}" text-anchor="middle">'
                       f'{time.strftime("%d/%m", time.gmtime(day * DAY_S))}</text>')
        day += 1
    for m in marks:
        if t0 <= m.t_s <= t1:
            out.append(f'<line x1="{x(m.t_s):.1f}" x2="{x(m.t_s):.1f}" y1="{TOP}" y2="{TOP + ph}" stroke="{m.colour}" '
                       f'stroke-width="1.5"><title>{escape(m.label)}</title></line>')
            if not m.labelled:
                continue
            right = x(m.t_s) > W - 120
            out.append(f'<text x="{x(m.t_s) + (-2 if right else 2):.1f}" y="{TOP + 10}" fill="{m.colour}" '
                       f'class="mark"{_anchor(right)}>'
                       f'{escape(m.label[:22])}</text>')
    legend_x = LEFT + 4
    for s in series:
        pts = _bucket(s.points, t0, t1)
        if pts:
            path = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in pts)
            dash = ' stroke-dasharray="4 3"' if s.dashed else ""
            out.append(f'<polyline fill="none" stroke="{s.colour}" stroke-width="1.5"{dash} points="{path}"/>')
        dash = ' stroke-dasharray="4 3"' if s.dashed else ""
        out.append(f'<line x1="{legend_x}" x2="{legend_x + 14}" y1="8" y2="8" stroke="{s.colour}" stroke-width="2"'
                   f'{dash}/>'
                   f'<text x="{legend_x + 17}" y="11">{escape(s.label)}</text>')
        legend_x += 26 + 6 * len(s.label)
    out.append(f'<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#888" stroke-width="0.5"/>')
    out.append("</svg>")
    return "".join(out)
