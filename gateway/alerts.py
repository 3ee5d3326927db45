"""Alerts: at most one open alert per lamp and fault, recorded in SQLite and published on MQTT.

This is the first version of the lifecycle (firing -> resolved). Messages are French first.
"""
from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable

from gateway.detect import COMMUNICATION_FAILURE, LAMP_FAILURE, Finding
from gateway.registry import Lamp

log = logging.getLogger("lampfleet.gateway.alerts")

FAULT_TEXT_FR = {
    LAMP_FAILURE: "lampe éteinte la nuit (LED commandée, pas de courant)",
    COMMUNICATION_FAILURE: "lampe muette (aucune trame reçue)",
}


def _clock(t_s: int) -> str:
    return time.strftime("%d/%m %H:%M UTC", time.gmtime(t_s))


def message_fr(lamp: Lamp, finding: Finding) -> str:
    what = FAULT_TEXT_FR.get(finding.fault, finding.fault)
    where = f" ({lamp.site})" if lamp.site else ""
    if finding.action == "raise":
        return f"PANNE {lamp.lamp_id}{where} : {what}, depuis {_clock(finding.since_s)}."
    return f"RÉTABLI {lamp.lamp_id}{where} : {what} terminée à {_clock(finding.at_s)}."


class Alerts:
    def __init__(self, conn: sqlite3.Connection, publish: Callable[[str, bytes], None] | None = None,
                 topic_for: Callable[[str], str] | None = None):
        self.conn = conn
        self.publish = publish
        self.topic_for = topic_for

    def apply(self, lamp: Lamp, finding: Finding) -> dict | None:
        if finding.action == "raise":
            cur = self.conn.execute(
                "INSERT OR IGNORE INTO alerts (lamp_id, fault, state, raised_s, evidence) VALUES (?,?,?,?,?)",
                (lamp.lamp_id, finding.fault, "firing", finding.since_s, json.dumps(finding.evidence)),
            )
            if cur.rowcount == 0:
                return None  # already open
            state = "firing"
        else:
            cur = self.conn.execute(
                "UPDATE alerts SET state='resolved', resolved_s=? WHERE lamp_id=? AND fault=? AND state!='resolved'",
                (finding.at_s, lamp.lamp_id, finding.fault),
            )
            if cur.rowcount == 0:
                return None
            state = "resolved"
        alert = {
            "lamp_id": lamp.lamp_id, "site": lamp.site, "fault": finding.fault, "state": state,
            "since_s": finding.since_s, "at_s": finding.at_s, "evidence": finding.evidence,
            "message": message_fr(lamp, finding),
        }
        log.warning("alert %s", alert["message"])
        if self.publish and self.topic_for:
            self.publish(self.topic_for(lamp.lamp_id), json.dumps(alert).encode())
        return alert

    def open_alerts(self) -> list[tuple[str, str]]:
        return self.conn.execute(
            "SELECT lamp_id, fault FROM alerts WHERE state != 'resolved' ORDER BY lamp_id, fault").fetchall()
