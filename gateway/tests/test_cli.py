"""The gateway's commands as people and scripts use them: lamps, status, alerts, history (and --json)."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from gateway.service import Gateway
from gateway.settings import Settings
from gateway.tests.synth import Fleet
from lampfleet.cli import cli


@pytest.fixture
def fed(tmp_path):
    """A gateway database with four lamps and a kit after a day and a half; lamp 2 went dark at dusk."""
    fleet = Fleet(4, seed=2)
    gw = Gateway(Settings(database=tmp_path / "gw.sqlite3", clock="device"))
    for s in fleet.lamps:
        gw.registry.add(s.lamp)
    for step in range(200):
        if step == 30:
            fleet[1].faults.add("led_open")
        if step == 60:
            fleet[3].faults.add("radio_dead")
        for s, frame in fleet.step():
            gw.handle(f"lampfleet/{s.lamp_id}/up", fleet.encoded(s, frame))
        gw.flush()
    gw.close()
    config = tmp_path / "gw.toml"
    config.write_text(f'[gateway]\ndatabase = "{tmp_path / "gw.sqlite3"}"\nclock = "device"\n')
    return config, fleet


def run(*args, ok=True):
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert (result.exit_code == 0) == ok, result.output
    return result.output


def test_lamps_add_list_show_export_import_never_show_keys(tmp_path):
    cfg = tmp_path / "gw.toml"
    cfg.write_text(f'[gateway]\ndatabase = "{tmp_path / "new.sqlite3"}"\n')
    out = run("lamps", "add", "BGI-0100", "--devaddr", "0x100100", "--site", "bangui", "--district", "Lakouanga",
              "--lat", "4.36", "--lon", "18.55", "--crew", "nord", "--config", cfg)
    assert "registered BGI-0100" in out
    out = run("lamps", "add", "KIT-0100", "--devaddr", "0x200100", "--kind", "kit", "--lat", "4.3", "--lon", "18.5",
              "--config", cfg, ok=False)
    assert "never coordinates" in out
    key = bytes(range(16)).hex()
    keyfile = tmp_path / "k.hex"
    keyfile.write_text(key)
    run("lamps", "add", "KIT-0100", "--devaddr", "0x200100", "--kind", "kit", "--district", "Boy-Rabe",
        "--key-file", keyfile, "--config", cfg)
    listing = json.loads(run("lamps", "list", "--json", "--config", cfg))
    assert [lp["lamp_id"] for lp in listing] == ["BGI-0100", "KIT-0100"]
    assert all("key" not in lp for lp in listing)
    shown = json.loads(run("lamps", "show", "KIT-0100", "--json", "--config", cfg))
    assert shown["state"] == "never_heard" and shown["lat"] is None
    csv_text = run("lamps", "export", "--config", cfg)
    assert key not in csv_text and "key" not in csv_text.splitlines()[0]
    edited = csv_text.replace("Boy-Rabe", "Bimbo")
    src = tmp_path / "edit.csv"
    src.write_text(edited)
    assert "0 added, 2 updated" in run("lamps", "import", src, "--config", cfg)
    assert json.loads(run("lamps", "show", "KIT-0100", "--json", "--config", cfg))["district"] == "Bimbo"
    bad = tmp_path / "bad.csv"
    bad.write_text("lamp_id,devaddr,kind,lat,lon\nKIT-0100,0x200100,kit,4.1,18.1\n")
    out = run("lamps", "import", bad, "--config", cfg, ok=False)
    assert "line 2: KIT-0100" in out and "nothing was imported" in out
    for cmd in (("lamps", "list"), ("lamps", "show", "BGI-0100"), ("lamps", "export")):
        assert key not in run(*cmd, "--config", cfg)


def test_status_counts_lamps_by_state_per_site(fed):
    config, fleet = fed
    data = json.loads(run("status", "--json", "--config", config))
    [site] = data["sites"]
    assert site["site"] == "bangui" and site["lamps"] == 4
    states = {lp["lamp_id"]: lp["state"] for lp in data["lamps"]}
    assert states[fleet[1].lamp_id] == "dark" and states[fleet[3].lamp_id] == "silent"
    assert site["dark"] == 1 and site["silent"] == 1 and site["lit"] + site["dimmed"] + site["day"] == 2
    assert site["alerts"] >= 2
    human = run("status", "--lamps", "--config", config)
    assert "bangui" in human and fleet[1].lamp_id in human


def test_alerts_list_ack_resolve_silence_and_audit(fed):
    config, fleet = fed
    alerts = json.loads(run("alerts", "list", "--json", "--config", config))
    faults = {(a["lamp_id"], a["fault"]) for a in alerts}
    assert (fleet[1].lamp_id, "lampFailure") in faults and (fleet[3].lamp_id, "communicationFailure") in faults
    dark = next(a for a in alerts if a["fault"] == "lampFailure")
    out = run("alerts", "ack", dark["id"], "--by", "Jean", "--comment", "on y va", "--config", config)
    assert f"alert #{dark['id']}" in out and "acknowledged by Jean" in out
    assert "already acknowledged" in run("alerts", "ack", dark["id"], "--by", "Paul", "--config", config, ok=False)
    run("alerts", "resolve", dark["id"], "--by", "Jean", "--comment", "LED remplacee", "--config", config)
    assert "not found" in run("alerts", "ack", "999", "--by", "x", "--config", config, ok=False)
    out = run("alerts", "silence", "--match", f"lamp_id={fleet[3].lamp_id}", "--duration", "2h", "--by", "Awa",
              "--comment", "poteau remplace", "--config", config)
    assert out.startswith("silence #1 lamp_id=")
    assert "give either --duration or --until" in run("alerts", "silence", "--match", "fault=x", "--by", "a",
                                                      "--comment", "b", "--config", config, ok=False)
    listed = json.loads(run("alerts", "--json", "--config", config))
    silenced = next(a for a in listed if a["lamp_id"] == fleet[3].lamp_id)
    assert silenced["silenced_by"] == 1
    assert json.loads(run("alerts", "silences", "--json", "--config", config))[0]["state"] == "active"
    run("alerts", "unsilence", "1", "--by", "Awa", "--config", config)
    trail = json.loads(run("alerts", "audit", dark["id"], "--json", "--config", config))
    assert [t["action"] for t in trail] == ["raise", "notify:raise", "escalate", "ack", "resolve"]
    assert trail[1]["detail"] == "no notification target for crew nord"
    assert "Jean" in run("alerts", "audit", "--config", config)
    assert "eteinte" in run("alerts", "list", "--all", "--config", config)


def test_recurring_silence_from_the_command_line(tmp_path):
    from gateway import db

    db.connect(tmp_path / "gw.sqlite3").close()
    config = tmp_path / "gw.toml"
    config.write_text(f'[gateway]\ndatabase = "{tmp_path / "gw.sqlite3"}"\n')
    made = json.loads(run("alerts", "silence", "--match", "crew=nord", "--every", "Tuesday 08:00-12:00", "--by", "Awa",
                          "--comment", "entretien hebdomadaire", "--json", "--config", config))
    assert made["every"] == "tue 08:00-12:00 Africa/Bangui" and made["ends_s"] is None
    assert made["state"] in ("active", "scheduled") and made["next_window_s"] > made["created_s"]
    out = run("alerts", "silence", "--match", "district=Boy-Rabe", "--every", "22:00-02:00", "--duration", "30d",
              "--by", "Awa", "--comment", "travaux de nuit", "--config", config)
    assert out.startswith("silence #2 district=Boy-Rabe every daily 22:00-02:00 Africa/Bangui, next window ")
    bad = run("alerts", "silence", "--match", "crew=nord", "--every", "mardi 8h", "--by", "Awa", "--comment", "x",
              "--config", config, ok=False)
    assert "Invalid value for '--every'" in bad and "'mardi' is not a weekday" in bad
    listed = run("alerts", "silences", "--config", config)
    assert "every tue 08:00-12:00 Africa/Bangui" in listed and "no end" in listed
    trail = json.loads(run("alerts", "audit", "--json", "--config", config))
    assert trail[-1]["detail"] == "silence 1: crew=nord every tue 08:00-12:00 Africa/Bangui: entretien hebdomadaire"
    run("alerts", "unsilence", "1", "--by", "Awa", "--config", config)
    assert json.loads(run("alerts", "silences", "--json", "--config", config))[0]["id"] == 2


def test_history_table_json_daily_and_png(fed, tmp_path):
    config, fleet = fed
    lamp = fleet[1].lamp_id
    rows = json.loads(run("history", lamp, "--since", "6h", "--json", "--config", config))
    assert len(rows) == 37 and rows[0]["time_s"] < rows[-1]["time_s"]
    assert {"vbat_mv", "led_ma", "soc_pct", "mode", "faults"} <= set(rows[0])
    png = tmp_path / "plot.png"
    out = run("history", lamp, "--since", "2d", "--png", png, "--config", config)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "written to" in out
    assert len(out.strip().splitlines()) == 1  # the plot, not a dump of every row
    assert "is not registered" in run("history", "NOPE-1", "--config", config, ok=False)
    assert "use a duration like 2h" in run("history", lamp, "--since", "yesterday", "--config", config, ok=False)


def test_errors_are_one_or_two_lines(tmp_path):
    out = run("status", "--db", tmp_path / "missing.sqlite3", ok=False)
    assert "no gateway database" in out and len(out.strip().splitlines()) <= 2
    bad = tmp_path / "bad.toml"
    bad.write_text("[gateway]\nclock = 'moon'\n")
    assert "clock must be" in run("alerts", "--config", bad, ok=False)
