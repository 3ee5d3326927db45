"""Alert lifecycle, silences and grouped notifications (Alertmanager-like timers in the gateway's clock)."""
from __future__ import annotations

import json

import pytest

from gateway import db
from gateway.alerts import AlertError, Alerts
from gateway.detect import Finding
from gateway.notify import Dispatcher
from gateway.registry import Lamp, Registry
from gateway.settings import AlertSettings, Crew, Settings
from gateway.recurrence import parse as parse_every
from gateway.silences import FOREVER, SilenceError, Silences, parse_matcher

T = 1_785_600_000


@pytest.fixture
def world(tmp_path):
    conn = db.connect(tmp_path / "gw.sqlite3")
    reg = Registry(conn)
    for i in range(1, 5):
        reg.add(Lamp(f"BGI-{i:04d}", i, bytes(16), site="bangui", district="Lakouanga" if i < 4 else "Boy-Rabe",
                     crew="nord", lat=4.36 + i / 1000, lon=18.55))
    reg.add(Lamp("KIT-0001", 99, bytes(16), kind="kit", site="bangui", district="Lakouanga", crew="nord"))
    published = []
    alerts = Alerts(conn, lambda topic, body: published.append((topic, json.loads(body))), lambda lid: f"lampfleet/alerts/{lid}")
    settings = Settings(database=tmp_path / "gw.sqlite3", grace_s=0,
                        alerts=AlertSettings(group_wait_s=30, group_interval_s=300, repeat_interval_s=3600,
                                             escalate_after_s=7200, supervisor_urls=["json://127.0.0.1:9/chef"]),
                        crews={"nord": Crew("nord", urls=["json://127.0.0.1:9/nord"])})
    yield conn, reg, alerts, Dispatcher(conn, settings, reg), published
    conn.close()


def _raise(alerts, reg, lamp_id, fault="lampFailure", at=T, now=None):
    ev = {"led_ma": 0, "led_pct": 100, "battery": {"vbat_mv": 12650, "soc_pct": 42, "at_s": at}}
    return alerts.apply(reg.by_id(lamp_id), Finding(lamp_id, fault, "raise", at, at - 600, ev), now or at)


def _clear(alerts, reg, lamp_id, fault="lampFailure", at=T):
    return alerts.apply(reg.by_id(lamp_id), Finding(lamp_id, fault, "clear", at, at - 600, {}), at)


def _outbox(conn):
    return [dict(zip(("recipient", "title", "body", "notify_type", "alert_ids"), r)) for r in conn.execute(
        "SELECT recipient, title, body, notify_type, alert_ids FROM outbox ORDER BY id")]


# ------------------------------------------------------------------ lifecycle


def test_one_open_alert_per_lamp_and_fault_published_on_mqtt(world):
    conn, reg, alerts, _, published = world
    first = _raise(alerts, reg, "BGI-0001")
    assert _raise(alerts, reg, "BGI-0001", at=T + 600) is None
    assert first["state"] == "firing" and first["severity"] == "critical"
    topic, body = published[0]
    assert topic == "lampfleet/alerts/BGI-0001"
    assert {"lamp_id", "site", "fault", "state", "since_s", "at_s", "evidence", "message"} <= set(body)
    assert body["message"].startswith("PANNE BGI-0001 (Lakouanga, bangui): lampe eteinte la nuit, depuis")
    resolved = _clear(alerts, reg, "BGI-0001", at=T + 1200)
    assert resolved["state"] == "resolved" and published[-1][1]["state"] == "resolved"
    assert _clear(alerts, reg, "BGI-0001", at=T + 1800) is None
    assert _raise(alerts, reg, "BGI-0001", at=T + 2400)["id"] != first["id"]


def test_ack_and_manual_resolve_with_audit_trail(world):
    conn, reg, alerts, _, _ = world
    a = _raise(alerts, reg, "BGI-0002")
    acked = alerts.ack(a["id"], "Jean", T + 60, "on y va")
    assert (acked["state"], acked["ack_by"], acked["ack_s"]) == ("acknowledged", "Jean", T + 60)
    with pytest.raises(AlertError, match="already acknowledged by Jean"):
        alerts.ack(a["id"], "Paul", T + 70)
    done = alerts.resolve(a["id"], "Jean", T + 3600, "LED remplacee")
    assert (done["state"], done["resolved_by"]) == ("resolved", "Jean")
    with pytest.raises(AlertError, match="already resolved"):
        alerts.resolve(a["id"], "Jean", T + 3700)
    with pytest.raises(AlertError, match="not found"):
        alerts.ack(999, "Jean", T)
    with pytest.raises(AlertError, match="--by"):
        alerts.ack(a["id"], " ", T)
    trail = [(x["action"], x["actor"], x["detail"]) for x in alerts.audit_trail(a["id"])]
    assert trail[0][:2] == ("raise", "gateway")
    assert trail[1:] == [("ack", "Jean", "on y va"), ("resolve", "Jean", "LED remplacee")]


# ------------------------------------------------------------------ silences


@pytest.mark.parametrize("text, expected", [
    ("lamp_id=BGI-0001", ("lamp_id", "BGI-0001", False, True)),
    ("district!=Boy-Rabe", ("district", "Boy-Rabe", False, False)),
    ("fault=~lamp.*", ("fault", "lamp.*", True, True)),
    ("site !~ 'ba.*'", ("site", "ba.*", True, False)),
])
def test_matchers_parse(text, expected):
    m = parse_matcher(text)
    assert (m.name, m.value, m.regex, m.equal) == expected


@pytest.mark.parametrize("text, fragment", [("colour=red", "unknown label"), ("lamp_id", "write label=value"),
                                            ("fault=~(", "bad regular expression")])
def test_bad_matchers_are_explained(text, fragment):
    with pytest.raises(SilenceError, match=fragment):
        parse_matcher(text)


def test_silence_needs_author_comment_and_a_future_end(world):
    conn = world[0]
    s = Silences(conn)
    m = [parse_matcher("district=Lakouanga")]
    with pytest.raises(SilenceError, match="author"):
        s.add(m, T, T + 60, "", "x", T)
    with pytest.raises(SilenceError, match="comment"):
        s.add(m, T, T + 60, "Awa", " ", T)
    with pytest.raises(SilenceError, match="already be over"):
        s.add(m, T - 100, T - 50, "Awa", "x", T)
    sil = s.add(m, T, T + 3600, "Awa", "travaux ENERCA", T)
    assert sil.state(T + 10) == "active" and sil.state(T + 3600) == "expired"
    assert s.expire(sil.id, "Awa", T + 100).state(T + 100) == "expired"
    actions = [r[0] for r in conn.execute("SELECT action FROM audit ORDER BY id")]
    assert actions == ["silence", "unsilence"]


def test_recurring_silence_holds_back_only_inside_its_windows(world):
    conn, reg, alerts, disp, _ = world
    s = Silences(conn)
    # T is Saturday 1 August 2026, 17:00 in Bangui: a daily window 17:00-17:30, with no end.
    sil = s.add([parse_matcher("crew=nord")], T, FOREVER, "Awa", "releve quotidien", T, parse_every("17:00-17:30"))
    assert sil.state(T) == "active" and sil.state(T + 1800) == "scheduled"
    shown = sil.as_dict(T + 1800)
    assert shown["every"] == "daily 17:00-17:30 Africa/Bangui" and shown["ends_s"] is None
    assert shown["next_window_s"] == T + 86400
    assert [x.id for x in s.active(T + 1799)] == [sil.id] and s.active(T + 1800) == []
    _raise(alerts, reg, "BGI-0001", now=T)
    assert disp.tick(T + 30) == 0  # inside the window: held back
    assert disp.tick(T + 1800) == 1  # the window closed: sent
    detail = conn.execute("SELECT detail FROM audit WHERE action='silence'").fetchone()[0]
    assert detail == "silence 1: crew=nord every daily 17:00-17:30 Africa/Bangui: releve quotidien"
    assert s.expire(sil.id, "Awa", T + 86400 + 60).state(T + 86400 + 60) == "expired"
    assert s.active(T + 2 * 86400 + 60) == []


def test_recurring_silence_must_open_before_it_ends(world):
    s = Silences(world[0])
    m = [parse_matcher("district=Lakouanga")]
    with pytest.raises(SilenceError, match="would not open while this silence lasts"):
        s.add(m, T, T + 3600, "Awa", "x", T, parse_every("sun 08:00-09:00"))  # T is a Saturday
    with pytest.raises(SilenceError, match="needs an end"):
        s.add(m, T, FOREVER, "Awa", "x", T)
    assert s.add(m, T, T + 86400, "Awa", "x", T, parse_every("sun 08:00-09:00")).next_window(T) == T + 15 * 3600


def test_silences_of_an_older_database_gain_the_recurrence_column(tmp_path):
    import sqlite3

    old = sqlite3.connect(tmp_path / "old.sqlite3")
    old.execute("CREATE TABLE silences (id INTEGER PRIMARY KEY AUTOINCREMENT, matchers TEXT NOT NULL, "
                "starts_s INTEGER NOT NULL, ends_s INTEGER NOT NULL, created_by TEXT NOT NULL, "
                "comment TEXT NOT NULL, created_s INTEGER NOT NULL)")
    old.execute("INSERT INTO silences (matchers, starts_s, ends_s, created_by, comment, created_s) VALUES "
                "(?, ?, ?, 'Awa', 'travaux', ?)", ('[{"name": "crew", "value": "nord", "isRegex": false, '
                                                    '"isEqual": true}]', T, T + 60, T))
    old.commit()
    old.close()
    conn = db.connect(tmp_path / "old.sqlite3")
    [sil] = Silences(conn).all()
    assert sil.every is None and sil.state(T) == "active"
    conn.close()


# ------------------------------------------------------------------ grouping and timers


def test_new_outages_of_a_sector_go_out_in_one_message_after_group_wait(world):
    conn, reg, alerts, disp, _ = world
    for lid in ("BGI-0001", "BGI-0002"):
        _raise(alerts, reg, lid, now=T)
    _raise(alerts, reg, "BGI-0003", now=T + 10)
    assert disp.tick(T + 29) == 0
    assert disp.tick(T + 30) == 1
    [msg] = _outbox(conn)
    assert msg["recipient"].startswith("crew:nord#") and msg["notify_type"] == "failure"
    assert msg["title"] == "lampfleet nord - Lakouanga: 3 panne(s)"
    lines = msg["body"].splitlines()
    assert [ln.split()[2] for ln in lines[:3]] == ["BGI-0001", "BGI-0002", "BGI-0003"]
    assert all(ln.startswith("PANNE #") for ln in lines[:3])
    assert "lampe eteinte la nuit, depuis" in lines[0] and "batt 12.7V 42%" in lines[0] and "GPS 4.36100,18.55000" in lines[0]
    assert lines[-1] == "Repondre: lampfleet alerts ack NUMERO"
    assert disp.tick(T + 31) == 0  # nothing new


def test_group_interval_spaces_later_messages_and_other_districts_are_separate(world):
    conn, reg, alerts, disp, _ = world
    _raise(alerts, reg, "BGI-0001", now=T)
    disp.tick(T + 30)
    _raise(alerts, reg, "BGI-0002", now=T + 40)
    _raise(alerts, reg, "BGI-0004", now=T + 40)  # Boy-Rabe: its own group
    assert disp.tick(T + 70) == 1
    assert _outbox(conn)[-1]["title"] == "lampfleet nord - Boy-Rabe: 1 panne(s)"
    assert disp.tick(T + 329) == 0
    assert disp.tick(T + 330) == 1
    assert "BGI-0002" in _outbox(conn)[-1]["body"]


def test_resolved_before_group_wait_is_never_sent_and_after_is_announced(world):
    conn, reg, alerts, disp, _ = world
    _raise(alerts, reg, "BGI-0001", now=T)
    _clear(alerts, reg, "BGI-0001", at=T + 10)
    assert disp.tick(T + 60) == 0 and _outbox(conn) == []
    _raise(alerts, reg, "BGI-0002", now=T + 100)
    disp.tick(T + 130)
    _clear(alerts, reg, "BGI-0002", at=T + 200)
    assert disp.tick(T + 430) == 1
    msg = _outbox(conn)[-1]
    assert msg["notify_type"] == "success" and msg["body"].startswith("RETABLI #2 BGI-0002")
    assert "Repondre" not in msg["body"]


def test_unacknowledged_alerts_repeat_and_escalate_but_acknowledged_ones_do_not(world):
    conn, reg, alerts, disp, _ = world
    a = _raise(alerts, reg, "BGI-0001", now=T)
    b = _raise(alerts, reg, "BGI-0002", now=T)
    disp.tick(T + 30)
    alerts.ack(b["id"], "Jean", T + 100)
    assert disp.tick(T + 3629) == 0
    assert disp.tick(T + 3630) == 1
    reminder = _outbox(conn)[-1]
    assert reminder["notify_type"] == "warning" and reminder["body"].startswith(f"RAPPEL #{a['id']} BGI-0001")
    assert "BGI-0002" not in reminder["body"]
    assert disp.tick(T + 7200) == 1
    esc = _outbox(conn)[-1]
    assert esc["recipient"].startswith("supervisor:nord#") and esc["body"].startswith(f"ESCALADE #{a['id']}")
    disp.tick(T + 7300)
    disp.tick(T + 20000)
    assert sum(m["recipient"].startswith("supervisor:") for m in _outbox(conn)) == 1  # escalated once


def test_silenced_alerts_wait_for_the_end_of_the_maintenance_window(world):
    conn, reg, alerts, disp, _ = world
    Silences(conn).add([parse_matcher("district=Lakouanga"), parse_matcher("fault=~lamp.*")], T, T + 1000,
                       "Awa", "remplacement des LED", T)
    _raise(alerts, reg, "BGI-0001", now=T)
    _raise(alerts, reg, "BGI-0004", now=T)  # other district: not silenced
    disp.tick(T + 30)
    assert [m["title"] for m in _outbox(conn)] == ["lampfleet nord - Boy-Rabe: 1 panne(s)"]
    assert disp.tick(T + 999) == 0
    assert disp.tick(T + 1000) == 1
    assert "BGI-0001" in _outbox(conn)[-1]["body"]


def test_grace_period_after_start_holds_everything_then_sends_one_message(world):
    conn, reg, alerts, disp, _ = world
    disp.settings.grace_s = 900
    disp.tick(T)  # the gateway starts
    for i in range(1, 4):
        _raise(alerts, reg, f"BGI-{i:04d}", now=T + i)
    _clear(alerts, reg, "BGI-0003", at=T + 100)
    assert disp.tick(T + 899) == 0
    assert disp.tick(T + 900) == 1
    [msg] = _outbox(conn)
    assert msg["title"].endswith("2 panne(s)")


def test_crewless_lamps_are_marked_with_the_reason_and_english_crews_get_english(world):
    conn, reg, alerts, disp, _ = world
    reg.update("BGI-0004", crew="sud")
    disp.settings.crews["nord"].language = "en"
    _raise(alerts, reg, "BGI-0004", now=T)
    _raise(alerts, reg, "KIT-0001", "lanternNotCharging", now=T)
    disp.tick(T + 30)
    [msg] = _outbox(conn)  # BGI-0004 belongs to "sud", which has no URLs and no default crew
    assert msg["title"] == "lampfleet nord - Lakouanga: 1 new"
    assert msg["body"].startswith("FAULT #2 KIT-0001 Lakouanga, bangui: lantern not charging, since")
    assert "GPS" not in msg["body"]
    detail = conn.execute("SELECT detail FROM audit WHERE action='notify:raise' AND lamp_id='BGI-0004'").fetchone()
    assert detail == ("no notification target for crew sud",)
