"""`lampfleet demo` end to end: the faulty lamp's alert arrives, with mosquitto and with the embedded
broker the demo falls back to on machines where mosquitto cannot be installed."""
from __future__ import annotations

import pytest

import lampfleet.broker
from lampfleet.demo import run_demo


@pytest.mark.parametrize("broker", ["mosquitto", "embedded"])
def test_demo_alerts_on_the_faulty_lamp_only(tmp_path, monkeypatch, broker):
    if broker == "embedded":
        monkeypatch.setattr(lampfleet.broker, "find_mosquitto", lambda: None)
    alerts = run_demo(3, 2.0, 1, tmp_path)
    assert [(a["lamp_id"], a["fault"], a["state"]) for a in alerts] == [("LAMP-0003", "lampFailure", "firing")]
