"""Console benchmark (JSON; never a timed test): server time of the lamp list and the overview for a
fleet of 10,000 lamps, bytes a crew's phone transfers for its first page, and the lamp list's load time
in Chromium when Debian's chromium is installed.

    lampfleet bench console [--lamps 10000] [--json]

The fleet is written straight into a gateway database (lamps, a day of hourly readings each, an alert on
2 % of them), then served by the real web server on loopback and asked over HTTP.
"""
from __future__ import annotations

import gzip
import json
import os
import random
import re
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from gateway import db
from gateway.console.server import WebServer
from gateway.console.users import Users
from gateway.settings import Settings

PASSWORD = "bench password 1"
T0 = 1785582000


def build(path: Path, n_lamps: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    conn = db.connect(path)
    sites = [f"site-{i:03d}" for i in range(max(1, n_lamps // 100))]
    lamps, readings, alerts = [], [], []
    for i in range(n_lamps):
        lid = f"BGI-{i:05d}"
        site = sites[i % len(sites)]
        crew = f"crew-{i % len(sites) % 10}"
        lamps.append((lid, 0x100000 + i, b"\0" * 16, "street", site, crew, 830, 3600, 23, T0 + 23 * 3600, "1.0.0",
                      site, 4.36 + rng.random() * 0.05, 18.55 + rng.random() * 0.05))
        dark = rng.random() < 0.02
        for k in range(24):
            t = T0 + k * 3600
            night = 6 <= k < 18
            led_pct = 100 if night else 0
            led = 0 if dark else 830 * led_pct // 100
            readings.append((lid, k, t, float(t), 12800, -850 if night else 2000, led, 200 if night else 18000, 80,
                             led_pct, 28, "night" if night else "day", "[]"))
        if dark:
            alerts.append((lid, "lampFailure", "firing", T0 + 7 * 3600, "{}", "critical", "street", site, site, crew,
                           T0 + 8 * 3600))
    with conn:
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO lamps (lamp_id, devaddr, key, kind, site, crew, led_max_ma, status_interval_s, "
                         "last_fcnt, last_seen_s, fw_version, district, lat, lon) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                         lamps)
        conn.executemany("INSERT INTO readings VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", readings)
        conn.executemany("INSERT INTO alerts (lamp_id, fault, state, raised_s, evidence, severity, kind, site, "
                         "district, crew, opened_s) VALUES (?,?,?,?,?,?,?,?,?,?,?)", alerts)
    Users(conn).add("bench", PASSWORD, "admin", 0)
    Users(conn).add("crew", PASSWORD, "crew", 0, "crew-1")
    conn.close()


def _login(base: str, name: str) -> httpx.Client:
    c = httpx.Client(base_url=base, timeout=60)
    token = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text).group(1)
    c.post("/login", data={"name": name, "password": PASSWORD, "csrf": token, "next": "/"})
    return c


def _timed(c: httpx.Client, path: str, repeat: int = 5) -> dict:
    times, size = [], 0
    for _ in range(repeat):
        t = time.perf_counter()
        r = c.get(path, headers={"Accept-Encoding": "gzip"})
        times.append(time.perf_counter() - t)
        assert r.status_code == 200, (path, r.status_code)
        size = int(r.headers.get("content-length") or len(r.content))
    return {"first_ms": round(times[0] * 1000, 1), "median_ms": round(statistics.median(times) * 1000, 1),
            "bytes_transferred": size}


def _first_page_bytes(c: httpx.Client) -> dict:
    page = c.get("/alerts", headers={"Accept-Encoding": "gzip"})
    html = int(page.headers.get("content-length") or len(gzip.compress(page.content)))
    assets = {a: len(gzip.compress(c.get(a).content)) for a in re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)}
    return {"html": html, "assets": assets, "total": html + sum(assets.values())}


def _chromium(base: str) -> dict | None:
    exe = shutil.which("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # a test extra: the benchmark still gives the server's numbers
        return None
    if not exe:
        return None

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        page = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=base).new_page()
        page.goto("/login")
        page.fill("input[name=name]", "bench")
        page.fill("input[name=password]", PASSWORD)
        page.click("form button")
        page.wait_for_load_state()
        out = {}
        for path in ("/lamps", "/lamps?sort=battery&page=100", "/"):
            t = time.perf_counter()
            page.goto(path, wait_until="load")
            out[path] = round((time.perf_counter() - t) * 1000, 1)
        browser.close()
    return {"load_ms": out}


def run(n_lamps: int, workdir: Path, with_browser: bool = True) -> dict:
    path = workdir / "bench-console.sqlite3"
    t = time.perf_counter()
    build(path, n_lamps)
    built_s = time.perf_counter() - t
    server = WebServer(Settings(database=path, clock="device")).start()
    base = server.url.rstrip("/")
    try:
        c = _login(base, "bench")
        result = {"lamps": n_lamps, "build_s": round(built_s, 1),
                  "lamp_list": _timed(c, "/lamps"), "lamp_list_filtered_sorted": _timed(c, "/lamps?state=dark&sort=battery"),
                  "lamp_list_last_page": _timed(c, f"/lamps?page={n_lamps // 50}"),
                  "overview": _timed(c, "/"), "map": _timed(c, "/map", 3), "lamp_page": _timed(c, "/lamps/BGI-00001"),
                  "crew_first_page_bytes": _first_page_bytes(_login(base, "crew")),
                  "chromium": _chromium(base) if with_browser else None, "cpu_count": os.cpu_count()}
    finally:
        server.stop()
    return result


def main(n_lamps: int, workdir: Path | None, as_json: bool) -> None:
    import click

    with tempfile.TemporaryDirectory(prefix="lampfleet-bench-console-") as tmp:
        result = run(n_lamps, Path(workdir or tmp))
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    click.echo(f"{n_lamps:,} lamps: lamp list {result['lamp_list']['first_ms']} ms cold, "
               f"{result['lamp_list']['median_ms']} ms warm; overview {result['overview']['median_ms']} ms; "
               f"crew's first page {result['crew_first_page_bytes']['total'] / 1000:.1f} kB transferred")
    if result["chromium"]:
        click.echo(f"chromium load: {result['chromium']['load_ms']}")
