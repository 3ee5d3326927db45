"""The map without tiles: street lamps drawn at their registered position on a plain background.

No tile server is needed (none may be reachable in Bangui): positions are projected equirectangularly
into the lamps' own bounding box (at this latitude, 4.4 N, a degree of longitude is 0.997 of a degree
of latitude, so the cosine correction is kept for the shape), with a scale bar. Faulty lamps (dark,
silent, with open alerts) are drawn larger, in red, and last, so they are on top. Each dot links to the
lamp's page. Safety kits have no position at all (gateway/registry.py): they are never drawn here; the
page lists them by district.
"""
from __future__ import annotations

import math
from html import escape

from gateway.console.snapshot import LampRow

W, H, PAD = 600, 480, 40
LINK_ALL_UP_TO = 500
COLOURS = {"lit": "#1a7f37", "dimmed": "#58a65c", "dark": "#c62828", "silent": "#6d4c41", "maintenance": "#1565c0",
           "day": "#9e9e9e", "off": "#9e9e9e", "never_heard": "#424242"}


def faulty(r: LampRow) -> bool:
    return r.state in ("dark", "silent") or r.alerts > 0


def draw(rows: list[LampRow], state_word) -> str:  # type: ignore[no-untyped-def]
    placed = [r for r in rows if r.kind != "kit" and r.lat is not None and r.lon is not None]
    if not placed:
        return ""
    lats = [r.lat for r in placed]
    lons = [r.lon for r in placed]
    lat0, lat1, lon0, lon1 = min(lats), max(lats), min(lons), max(lons)  # type: ignore[type-var]
    k = math.cos(math.radians((lat0 + lat1) / 2))  # type: ignore[operator]
    span_x = max((lon1 - lon0) * k, 1e-5)  # type: ignore[operator]
    span_y = max(lat1 - lat0, 1e-5)  # type: ignore[operator]
    scale = min((W - 2 * PAD) / span_x, (H - 2 * PAD) / span_y)
    # The drawing keeps the lamps' own shape: as high as they need, centred across.
    h = int(min(H, max(240, span_y * scale + 2 * PAD + 16)))
    x_off = (W - 2 * PAD - span_x * scale) / 2
    y_off = (h - 16 - 2 * PAD - span_y * scale) / 2

    def xy(r: LampRow) -> tuple[float, float]:
        return (PAD + x_off + (r.lon - lon0) * k * scale,  # type: ignore[operator]
                h - 16 - PAD - y_off - (r.lat - lat0) * scale)  # type: ignore[operator]

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {h}" class="map" role="img">',
           f'<rect width="{W}" height="{h}" fill="#f4f1ea"/>']
    # each site's name beside its lamps, for orientation without streets
    by_site: dict[str, list[tuple[float, float]]] = {}
    for r in placed:
        by_site.setdefault(r.site, []).append(xy(r))
    for site, pts in sorted(by_site.items()):
        cx = sum(p[0] for p in pts) / len(pts)
        top = min(p[1] for p in pts)
        out.append(f'<text x="{cx:.0f}" y="{max(top - 14, 22):.0f}" text-anchor="middle" class="site">'
                   f'{escape(site or "-")}</text>')
    # scale bar: a round number of metres near a fifth of the width
    metres_per_px = 111_320 / scale
    target = metres_per_px * W / 6
    bar_m = next(m for m in (10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 1e9) if m >= target)
    bar_px = bar_m / metres_per_px
    label = f"{bar_m / 1000:g} km" if bar_m >= 1000 else f"{bar_m:g} m"
    out.append(f'<line x1="{PAD}" x2="{PAD + bar_px:.0f}" y1="{h - 8}" y2="{h - 8}" stroke="#333" stroke-width="3"/>'
               f'<text x="{PAD + bar_px + 6:.0f}" y="{h - 4}">{label}</text>')
    # Healthy lamps of a large fleet: one path per state (a round dot per lamp, a dozen bytes each), so
    # that 10,000 lamps stay a small page; faulty lamps, and every lamp of a small fleet, are links.
    linked = [r for r in placed if faulty(r) or len(placed) <= LINK_ALL_UP_TO]
    dots: dict[str, list[str]] = {}
    for r in placed:
        if not (faulty(r) or len(placed) <= LINK_ALL_UP_TO):
            x, y = xy(r)
            dots.setdefault(r.state, []).append(f"M{x:.0f} {y:.0f}h0")
    for state, parts in sorted(dots.items()):
        out.append(f'<path d="{"".join(parts)}" stroke="{COLOURS.get(state, "#9e9e9e")}" stroke-width="6" '
                   f'stroke-linecap="round" data-state="{state}"><title>{escape(state_word(state))}</title></path>')
    for r in sorted(linked, key=faulty):
        x, y = xy(r)
        bad = faulty(r)
        title = f"{r.lamp_id} · {r.site} · {state_word(r.state)}" + (f" · {r.alerts} !" if r.alerts else "")
        colour = "#c62828" if bad else COLOURS.get(r.state, "#9e9e9e")
        small = len(placed) <= 200  # few lamps: big dots, readable and tappable on a phone
        radius, stroke = ((11 if small else 7), ' stroke="#fff" stroke-width="2"') if bad else ((8 if small else 4), "")
        out.append(f'<a href="/lamps/{escape(r.lamp_id)}"><circle cx="{x:.1f}" cy="{y:.1f}" r="{radius}" '
                   f'fill="{colour}"{stroke} data-state="{r.state}"><title>{escape(title)}</title></circle></a>')
    out.append("</svg>")
    return "".join(out)
