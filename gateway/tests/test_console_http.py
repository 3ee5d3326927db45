"""The console over real HTTP (uvicorn on loopback, real SQLite), without a browser: logins and their
limits, hostile input (XSS, bad query values, forged redirects), security headers, silences, users,
reports, languages, and the weight of a crew's first page."""
from __future__ import annotations

import gzip
import ssl
import re

import httpx
import pytest
from hypothesis import given, settings as hsettings, strategies as st

from gateway import db
from gateway.console import i18n, reports
from gateway.console.actions import parse_duration
from gateway.console.auth import BadInput
from gateway.console.server import WebServer
from gateway.console.session_routes import _safe_next
from gateway.console.users import Users
from gateway.service import Gateway
from gateway.settings import Settings
from gateway.tests.synth import Fleet

PASSWORD = "correct horse battery"
XSS = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("console-http")
    fleet = Fleet(4, seed=3)
    fleet[1].lamp.site = XSS  # a hostile site name typed into the registry
    fleet[2].lamp.crew = "sud"
    settings = Settings(database=tmp / "gw.sqlite3", clock="device")
    gw = Gateway(settings)
    for s in fleet.lamps:
        gw.registry.add(s.lamp)
    fleet[0].faults.add("led_open")
    fleet.feed(gw, 60)
    gw.close()
    conn = db.connect(settings.database)
    for name, role, crew in (("admin", "admin", ""), ("ops", "engineer", ""), ("jean", "crew", "nord"),
                             ("vera", "viewer", ""), ("limited", "viewer", "")):
        Users(conn).add(name, PASSWORD, role, 0, crew)
    conn.close()
    server = WebServer(settings).start()
    yield server, settings, fleet
    server.stop()


def client(server) -> httpx.Client:  # type: ignore[no-untyped-def]
    return httpx.Client(base_url=server.url.rstrip("/"), follow_redirects=False, timeout=10)


def login(server, name: str = "admin") -> tuple[httpx.Client, str]:  # type: ignore[no-untyped-def]
    c = client(server)
    page = c.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    r = c.post("/login", data={"name": name, "password": PASSWORD, "csrf": token, "next": "/"})
    assert r.status_code == 303, r.text
    home = c.get("/")
    return c, re.search(r'data-csrf="([^"]+)"', home.text).group(1)


def test_pages_need_a_session_and_writes_say_so(served):
    server, _, _ = served
    c = client(server)
    r = c.get("/lamps?site=x")
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/lamps%3Fsite%3Dx"
    assert c.post("/alerts/1/ack", data={"comment": "x"}).status_code == 401
    assert c.get("/api/v1/lamps").status_code == 401  # the API keeps its bearer tokens


def test_login_refuses_wrong_passwords_forged_forms_and_foreign_redirects(served):
    server, settings, _ = served
    c = client(server)
    token = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text).group(1)
    r = c.post("/login", data={"name": "vera", "password": "wrong password", "csrf": token})
    assert r.status_code == 401 and "incorrect" in r.text
    assert client(server).post("/login", data={"name": "vera", "password": PASSWORD, "csrf": "x"}).status_code == 403
    r = c.post("/login", data={"name": "vera", "password": PASSWORD, "csrf": token, "next": "//evil.example/x"})
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie  # plain loopback HTTP
    conn = db.connect(settings.database)
    assert "correct" not in str(conn.execute("SELECT * FROM users").fetchall())  # only argon2id hashes
    assert conn.execute("SELECT password_hash FROM users WHERE name='vera'").fetchone()[0].startswith("$argon2id$")
    conn.close()


def test_login_is_rate_limited_per_name(served):
    server, _, _ = served
    c = client(server)
    token = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text).group(1)
    for _ in range(5):
        assert c.post("/login", data={"name": "limited", "password": "guess guess", "csrf": token}).status_code == 401
    r = c.post("/login", data={"name": "limited", "password": PASSWORD, "csrf": token})
    assert r.status_code == 429 and "15 minutes" in r.text


def test_hostile_text_is_escaped_everywhere(served):
    server, _, fleet = served
    c, csrf = login(server)
    for path in ("/lamps", f"/lamps/{fleet[1].lamp_id}", "/", "/map", "/reports", "/labels?site=" + XSS):
        body = c.get(path).text
        assert XSS not in body and "&lt;script&gt;" in body, path
    [alert_id] = re.findall(r'href="/alerts/(\d+)"', c.get("/alerts").text)[:1]
    r = c.post(f"/alerts/{alert_id}/ack", data={"comment": XSS + "\nforged line", "csrf": csrf})
    assert r.status_code == 303
    page = c.get(f"/alerts/{alert_id}").text
    assert XSS not in page and "&lt;script&gt;" in page
    csv = c.get("/reports.csv?month=2026-08").text
    assert "'<script>" in csv or XSS.replace("<", "") not in csv


@pytest.mark.parametrize("path, words", [
    ("/lamps?page=abc", "page"), ("/lamps?page=0", "page"), ("/lamps?state=burning", "état inconnu"),
    ("/lamps?sort=price", "tri inconnu"), ("/lamps/BGI-0001?days=99", "days"), ("/alerts?state=x", "état inconnu"),
    ("/reports?month=2026-13", "AAAA-MM"), ("/lamps?q=" + "x" * 65, "q"),
])
def test_bad_query_values_get_a_400_page_that_says_which(served, path, words):
    server, _, _ = served
    c, _ = login(server, "vera")
    r = c.get(path)
    assert r.status_code == 400 and words in r.text and r.headers["content-type"].startswith("text/html"), r.text


def test_unknown_lamp_or_alert_is_a_404_page(served):
    server, _, _ = served
    c, _ = login(server, "vera")
    for path in ("/lamps/NOPE-1", "/lamps/" + "x" * 40, "/alerts/99999", "/no/such/page"):
        r = c.get(path)
        assert r.status_code == 404 and "<html" in r.text, path


def test_headers_gzip_and_every_asset_from_the_gateway(served):
    server, _, _ = served
    c, _ = login(server, "vera")
    r = c.get("/lamps", headers={"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip"
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["cache-control"] == "no-store"
    for page in ("/", "/lamps", "/alerts", "/map", "/lamps/BGI-0001"):
        html = c.get(page).text
        for url in re.findall(r'(?:src|href)="([^"]+)"', html):
            assert not re.match(r"(https?:)?//", url), (page, url)  # no CDN, no other host
    static = c.get("/static/htmx.min.js")
    assert static.status_code == 200 and "max-age" in static.headers["cache-control"]
    # a rebound name is refused before any page, as for the API
    assert c.get("/", headers={"Host": "attacker.example"}).status_code == 421


def test_crew_first_page_weighs_under_100_kb(served):
    """What a crew's phone transfers to open the alert list the first time (gzip), assets included."""
    server, _, _ = served
    c, _ = login(server, "jean")
    for first in ("/", "/alerts"):  # after login, or from the link in an alert message
        page = c.get(first, headers={"Accept-Encoding": "gzip"})
        assert page.status_code == 200 and page.headers.get("content-encoding") == "gzip", first
        total = int(page.headers.get("content-length") or len(gzip.compress(page.content)))
        for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text):
            total += len(gzip.compress(c.get(asset).content))  # what the GZip middleware or a proxy sends
        assert total <= 100_000, (first, total)


def test_silences_from_the_console_one_off_and_recurring(served):
    server, settings, _ = served
    c, csrf = login(server, "ops")
    r = c.post("/silences", data={"matchers": "site=bangui fault=lampFailure", "duration": "2h",
                                  "comment": "travaux ENERCA", "csrf": csrf})
    assert r.status_code == 303
    r = c.post("/silences", data={"matchers": "district=Lakouanga", "every": "tue 08:00-12:00",
                                  "comment": "entretien du mardi", "csrf": csrf})
    assert r.status_code == 303
    for bad, words in (({"matchers": "colour=red", "duration": "2h"}, "unknown label"),
                       ({"matchers": "site=x", "duration": "2 years"}, "durée"),
                       ({"matchers": "site=x", "every": "someday"}, ""),
                       ({"matchers": "site=x"}, "durée")):
        r = c.post("/silences", data={**bad, "comment": "x", "csrf": csrf})
        assert r.status_code == 400 and words in r.text, (bad, r.text[-400:])
    conn = db.connect(settings.database)
    rows = conn.execute("SELECT matchers, every, created_by FROM silences ORDER BY id").fetchall()
    assert [(r[1], r[2]) for r in rows] == [("", "ops"), ("tue 08:00-12:00 Africa/Bangui", "ops")]
    conn.close()
    page = c.get("/alerts").text
    assert "tue 08:00-12:00" in page and "travaux ENERCA" in page
    crew, crew_csrf = login(server, "jean")
    assert crew.post("/silences", data={"matchers": "site=x", "duration": "1h", "comment": "x",
                                        "csrf": crew_csrf}).status_code == 403


def test_admin_adds_and_disables_users_and_sessions_end(served):
    server, settings, _ = served
    admin, csrf = login(server)
    r = admin.post("/users", data={"name": "marie", "password": PASSWORD, "role": "crew", "crew": "nord",
                                   "language": "en", "csrf": csrf})
    assert r.status_code == 303
    assert admin.post("/users", data={"name": "bad name!", "password": PASSWORD, "role": "viewer",
                                      "csrf": csrf}).status_code == 400
    assert admin.post("/users", data={"name": "short", "password": "short", "role": "viewer",
                                      "csrf": csrf}).status_code == 400
    marie, _ = login(server, "marie")
    assert "Alerts" in marie.get("/alerts").text  # her language
    assert admin.post("/users/marie/disable", data={"csrf": csrf}).status_code == 303
    assert marie.get("/alerts").status_code == 303  # logged out at once
    assert login(server, "vera")[0].get("/users").status_code == 403
    audit = admin.get("/audit").text
    assert "user-add" in audit and "user-disable" in audit and "login" in audit


def test_language_switch_and_french_numbers(served):
    server, _, _ = served
    c, _ = login(server, "vera")
    assert "Lampes par état" in c.get("/").text
    r = c.get("/lamps?lang=en&site=bangui")
    assert r.status_code == 303 and r.headers["location"] == "/lamps?site=bangui"
    assert "Lamps by state" in c.get("/").text
    c.get("/?lang=fr")
    assert re.search(r"\d+,\d\d V", c.get("/lamps").text)  # 13,36 V: decimal comma


def test_reports_month_csv(served):
    server, _, fleet = served
    c, _ = login(server, "vera")
    page = c.get("/reports?month=2026-08").text
    assert "lampe eteinte la nuit" in page
    csv = c.get("/reports.csv?month=2026-08")
    assert csv.headers["content-type"].startswith("text/csv")
    header, *rows = csv.text.strip().splitlines()
    assert header == ",".join(reports.CSV_COLUMNS)
    bangui = next(r for r in rows if r.startswith("bangui,"))
    assert "lampFailure=1" in bangui


def test_engineer_downlinks_are_checked_before_they_are_queued(served):
    server, settings, fleet = served
    lamp = fleet[3].lamp_id
    ops, csrf = login(server, "ops")
    assert ops.post(f"/lamps/{lamp}/downlink", data={"command": "reboot", "csrf": csrf}).status_code == 303
    assert ops.post(f"/lamps/{lamp}/downlink", data={"settings": "status_interval_s=300", "csrf": csrf}
                    ).status_code == 303
    for bad, words in (({"command": "self_destruct"}, "commande inconnue"),
                       ({"settings": "status_interval_s=-1"}, "NOM=VALEUR"),
                       ({"settings": "no_such_setting=5"}, "refusé avant"),
                       ({"command": "reboot", "settings": "status_interval_s=300"}, "pas les deux")):
        r = ops.post(f"/lamps/{lamp}/downlink", data={**bad, "csrf": csrf})
        assert r.status_code == 400 and words in r.text, (bad, r.text[-300:])
    crew, crew_csrf = login(server, "jean")
    assert crew.post(f"/lamps/{lamp}/downlink", data={"command": "reboot", "csrf": crew_csrf}).status_code == 403
    conn = db.connect(settings.database)
    rows = conn.execute("SELECT kind, body FROM downlinks WHERE lamp_id=? ORDER BY id", (lamp,)).fetchall()
    conn.close()
    assert rows == [("command", '{"command": "reboot", "arg": 0}'), ("config", '{"settings": {"status_interval_s": 300}}')]
    assert "status_interval_s=300" in ops.get(f"/lamps/{lamp}").text


def test_users_command_adds_lists_disables_and_changes_passwords(tmp_path, monkeypatch):
    import json

    from click.testing import CliRunner

    from gateway.cli.users import command

    dbpath = str(tmp_path / "gw.sqlite3")
    monkeypatch.setenv("LAMPFLEET_PASSWORD", PASSWORD)
    run = CliRunner().invoke
    assert run(command, ["add", "awa", "--role", "admin", "--db", dbpath]).exit_code == 0
    out = run(command, ["add", "jean", "--role", "crew", "--db", dbpath])
    assert out.exit_code == 1 and "needs its crew" in out.output
    assert run(command, ["add", "jean", "--role", "crew", "--crew", "nord", "--db", dbpath]).exit_code == 0
    listed = json.loads(run(command, ["list", "--db", dbpath, "--json"]).output)
    assert [(u["name"], u["role"], u["crew"]) for u in listed] == [("awa", "admin", ""), ("jean", "crew", "nord")]
    assert "hash" not in str(listed) and PASSWORD not in str(listed)
    monkeypatch.setenv("LAMPFLEET_PASSWORD", "short")
    out = run(command, ["passwd", "jean", "--db", dbpath])
    assert out.exit_code == 1 and "at least 10 characters" in out.output
    assert run(command, ["disable", "jean", "--db", dbpath]).exit_code == 0
    assert Users(db.connect(dbpath)).verify("jean", PASSWORD) is None
    monkeypatch.setenv("LAMPFLEET_PASSWORD", PASSWORD + "!")
    assert run(command, ["passwd", "jean", "--db", dbpath]).exit_code == 0  # and enabled again
    assert Users(db.connect(dbpath)).verify("jean", PASSWORD + "!").role == "crew"


# --------------------------------------------------------------------------- parsers, without a server

@hsettings(derandomize=True, max_examples=200, deadline=None)
@given(st.text(max_size=12))
def test_durations_are_counts_with_a_unit_or_refused(text):
    try:
        seconds = parse_duration(text)
    except BadInput as e:
        assert "durée" in str(e)
    else:
        assert re.fullmatch(r"\s*\d{1,4}\s*[mhdw]\s*", text) and seconds > 0 or seconds == 0


@hsettings(derandomize=True, max_examples=200, deadline=None)
@given(st.text(max_size=10))
def test_months_are_yyyy_mm_or_refused(text):
    try:
        start, end = reports.month_bounds(text, 3600)
    except ValueError as e:
        assert "AAAA-MM" in str(e)
    else:
        assert 28 * 86400 <= end - start <= 31 * 86400
        assert reports.month_of(start, 3600) == text


@hsettings(derandomize=True, max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_login_redirects_stay_on_this_server(target):
    out = _safe_next(target)
    assert out.startswith("/") and not out.startswith("//") and "\\" not in out


@hsettings(derandomize=True, max_examples=200, deadline=None)
@given(st.floats(min_value=-1e9, max_value=1e9, allow_nan=False), st.integers(0, 3))
def test_french_numbers_use_a_decimal_comma(value, digits):
    fr, en = i18n.number(value, "fr", digits), i18n.number(value, "en", digits)
    assert fr.replace("\u202f", "").replace(",", ".") == en.replace(",", "")


def test_console_benchmark_runs_and_reports_json(tmp_path):
    """The benchmark itself (numbers are reported, never asserted as timings). Without its Chromium part:
    the browser tests' Playwright may be running in this process already."""
    from gateway.console.bench import run

    result = run(300, tmp_path, with_browser=False)
    assert result["lamps"] == 300 and result["lamp_list"]["bytes_transferred"] > 0
    assert result["crew_first_page_bytes"]["total"] <= 100_000


def test_tls_when_the_operator_gives_a_certificate(tmp_path):
    """With tls_cert_file/tls_key_file the console serves HTTPS (and may leave loopback); cookies are
    Secure and browsers are told to stay on HTTPS. Without a certificate, loopback only."""
    from gateway.broker.tls import make_ca

    with pytest.raises(ValueError, match="loopback only"):
        WebServer(Settings(database=tmp_path / "x.sqlite3"), host="0.0.0.0")
    made = make_ca(tmp_path / "ca", ["127.0.0.1", "localhost"])
    settings = Settings(database=tmp_path / "gw.sqlite3", tls_cert_file=str(made["cert"]), tls_key_file=str(made["key"]))
    conn = db.connect(settings.database)
    Users(conn).add("awa", PASSWORD, "admin", 0)
    conn.close()
    server = WebServer(settings).start()
    try:
        assert server.url.startswith("https://")
        c = httpx.Client(base_url=server.url.rstrip("/"), verify=ssl.create_default_context(cafile=str(made["ca"])), timeout=10)
        page = c.get("/login")
        assert page.status_code == 200 and "max-age" in page.headers["strict-transport-security"]
        token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        r = c.post("/login", data={"name": "awa", "password": PASSWORD, "csrf": token}, follow_redirects=False)
        assert r.status_code == 303 and "Secure" in r.headers["set-cookie"]
        with pytest.raises((httpx.ConnectError, httpx.RemoteProtocolError)):
            httpx.get(server.url.replace("https", "http") + "login", timeout=5)  # no plain HTTP beside it
    finally:
        server.stop()
