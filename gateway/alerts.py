"""Alert lifecycle: firing -> acknowledged -> resolved, at most one open alert per lamp and fault.

Every change is written with an audit row in the same transaction (who, when, what). The gateway opens
and resolves alerts from detector findings; people acknowledge and resolve them (CLI, HTTP API).
Lifecycle changes are published on MQTT (`<prefix>/alerts/<lamp_id>`, JSON) for other systems; crew
notifications are grouped and sent by gateway/notify.py and gateway/sender.py.
"""
from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable

from gateway import faults, messages
from gateway.detect import Finding
from gateway.registry import Lamp

log = logging.getLogger("lampfleet.gateway.alerts")

COLUMNS = ("id", "lamp_id", "fault", "state", "raised_s", "resolved_s", "evidence", "severity", "kind", "site",
           "district", "crew", "opened_s", "ack_s", "ack_by", "resolved_by", "notified_s", "last_notified_s",
           "notify_count", "resolved_notified_s", "escalated_s")
SELECT = f"SELECT {', '.join(COLUMNS)} FROM alerts"
GATEWAY = "gateway"


class AlertError(ValueError):
    pass


def row_dict(row: tuple) -> dict:
    d = dict(zip(COLUMNS, row))
    d["evidence"] = json.loads(d["evidence"]) if d["evidence"] else {}
    d["place"] = ", ".join(p for p in (d["district"], d["site"]) if p)
    return d


def message(lamp: Lamp, finding: Finding, language: str = "fr", utc_offset_s: int = 3600) -> str:
    """The one-line text published with the MQTT alert."""
    w = messages.WORDS[language]
    what = faults.text(finding.fault, language)
    where = f" ({lamp.place})" if lamp.place else ""
    if finding.action == "raise":
        return messages.gsm7(f"{w['raise']} {lamp.lamp_id}{where}: {what}, {w['since']} "
                             f"{messages.local_time(finding.since_s, utc_offset_s)}.")
    return messages.gsm7(f"{w['resolve']} {lamp.lamp_id}{where}: {what}, {w['ended']} "
                         f"{messages.local_time(finding.at_s, utc_offset_s)}.")


def audit(conn: sqlite3.Connection, at_s: int, action: str, actor: str, alert: dict | None = None,
          detail: str = "") -> None:
    conn.execute("INSERT INTO audit (at_s, alert_id, lamp_id, fault, action, actor, detail) VALUES (?,?,?,?,?,?,?)",
                 (at_s, alert and alert["id"], alert and alert["lamp_id"], alert and alert["fault"], action, actor,
                  detail))


class Alerts:
    def __init__(self, conn: sqlite3.Connection, publish: Callable[[str, bytes], None] | None = None,
                 topic_for: Callable[[str], str] | None = None, language: str = "fr", utc_offset_s: int = 3600):
        self.conn = conn
        self.publish = publish
        self.topic_for = topic_for
        self.language = language
        self.utc_offset_s = utc_offset_s

    # ------------------------------------------------------------ from the detector

    def apply(self, lamp: Lamp, finding: Finding, now_s: int | None = None) -> dict | None:
        """Open or resolve the alert for a finding; None when nothing changed (already open/closed)."""
        now = finding.at_s if now_s is None else now_s
        evidence = json.dumps(finding.evidence, sort_keys=True)
        if finding.action == "fold":
            self._fold(lamp, finding, now, evidence)
            return None
        if finding.action == "raise":
            cur = self.conn.execute(
                "INSERT OR IGNORE INTO alerts (lamp_id, fault, state, raised_s, evidence, severity, kind, site, "
                "district, crew, opened_s) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (lamp.lamp_id, finding.fault, "firing", finding.since_s, evidence,
                 faults.FAULTS[finding.fault].severity if finding.fault in faults.FAULTS else "major",
                 lamp.kind, lamp.site, lamp.district, lamp.crew, now))
            if cur.rowcount == 0:
                return None
            alert = self.get(cur.lastrowid)  # type: ignore[arg-type]
            audit(self.conn, now, "raise", GATEWAY, alert, evidence)
        else:
            row = self.conn.execute(f"{SELECT} WHERE lamp_id=? AND fault=? AND state!='resolved'",
                                    (lamp.lamp_id, finding.fault)).fetchone()
            if row is None:
                return None
            alert = row_dict(row)
            self.conn.execute("UPDATE alerts SET state='resolved', resolved_s=?, resolved_by=? WHERE id=?",
                              (finding.at_s, GATEWAY, alert["id"]))
            audit(self.conn, now, "resolve", GATEWAY, alert, evidence)
            alert.update(state="resolved", resolved_s=finding.at_s, resolved_by=GATEWAY)
        payload = {
            "id": alert["id"], "lamp_id": lamp.lamp_id, "site": lamp.site, "district": lamp.district,
            "crew": lamp.crew, "kind": lamp.kind, "fault": finding.fault, "severity": alert["severity"],
            "state": alert["state"], "since_s": finding.since_s, "at_s": finding.at_s, "evidence": finding.evidence,
            "message": message(lamp, finding, self.language, self.utc_offset_s),
        }
        log.warning("alert %s", payload["message"])
        self._publish(lamp.lamp_id, payload)
        return payload

    def _fold(self, lamp: Lamp, finding: Finding, now: int, evidence: str) -> None:
        """A consequence of an open root cause (gateway/detect.py ROOT_CAUSES): counted in the root alert's
        evidence ("follow_on": {fault: n}) and audited there; no alert of its own, nothing sent."""
        row = self.conn.execute(f"{SELECT} WHERE lamp_id=? AND fault=? AND state!='resolved'",
                                (lamp.lamp_id, finding.evidence["root"])).fetchone()
        if row is None:
            return
        root = row_dict(row)
        follow = root["evidence"].setdefault("follow_on", {})
        follow[finding.fault] = follow.get(finding.fault, 0) + 1
        self.conn.execute("UPDATE alerts SET evidence=? WHERE id=?", (json.dumps(root["evidence"], sort_keys=True),
                                                                      root["id"]))
        audit(self.conn, now, f"fold:{finding.fault}", GATEWAY, root, evidence)

    def _publish(self, lamp_id: str, payload: dict) -> None:
        if self.publish and self.topic_for:
            self.publish(self.topic_for(lamp_id), json.dumps(payload).encode())

    # ------------------------------------------------------------ from people

    def get(self, alert_id: int) -> dict | None:
        row = self.conn.execute(f"{SELECT} WHERE id=?", (alert_id,)).fetchone()
        return row_dict(row) if row else None

    def _require(self, alert_id: int) -> dict:
        alert = self.get(alert_id)
        if alert is None:
            raise AlertError(f"alert {alert_id} not found (lampfleet alerts list --all)")
        return alert

    def ack(self, alert_id: int, by: str, now_s: int, comment: str = "") -> dict:
        if not by.strip():
            raise AlertError("say who acknowledges (--by NAME)")
        alert = self._require(alert_id)
        if alert["state"] == "resolved":
            raise AlertError(f"alert {alert_id} is already resolved")
        if alert["state"] == "acknowledged":
            raise AlertError(f"alert {alert_id} was already acknowledged by {alert['ack_by']}")
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute("UPDATE alerts SET state='acknowledged', ack_s=?, ack_by=? WHERE id=? AND state='firing'",
                              (now_s, by, alert_id))
            audit(self.conn, now_s, "ack", by, alert, comment)
        return self._require(alert_id)

    def resolve(self, alert_id: int, by: str, now_s: int, comment: str = "") -> dict:
        """A crew reports the repair. The gateway judges the lamp again from scratch: if the fault is still
        there, a new alert opens after the usual number of observations."""
        if not by.strip():
            raise AlertError("say who resolves (--by NAME)")
        alert = self._require(alert_id)
        if alert["state"] == "resolved":
            raise AlertError(f"alert {alert_id} is already resolved")
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute("UPDATE alerts SET state='resolved', resolved_s=?, resolved_by=? WHERE id=?",
                              (now_s, by, alert_id))
            audit(self.conn, now_s, "resolve", by, alert, comment)
        return self._require(alert_id)

    # ------------------------------------------------------------ queries

    def open_alerts(self) -> list[tuple[str, str]]:
        return self.conn.execute(
            "SELECT lamp_id, fault FROM alerts WHERE state != 'resolved' ORDER BY lamp_id, fault").fetchall()

    def list(self, include_resolved: bool = False, lamp_id: str | None = None, limit: int = 500) -> list[dict]:
        where, args = [], []
        if not include_resolved:
            where.append("state != 'resolved'")
        if lamp_id:
            where.append("lamp_id = ?")
            args.append(lamp_id)
        sql = SELECT + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY id DESC LIMIT ?"
        return [row_dict(r) for r in self.conn.execute(sql, (*args, limit))]

    def audit_trail(self, alert_id: int | None = None, limit: int = 200) -> list[dict]:
        cols = ("id", "at_s", "alert_id", "lamp_id", "fault", "action", "actor", "detail")
        if alert_id is None:
            rows = self.conn.execute(f"SELECT {', '.join(cols)} FROM audit ORDER BY id DESC LIMIT ?", (limit,))
        else:
            rows = self.conn.execute(f"SELECT {', '.join(cols)} FROM audit WHERE alert_id=? ORDER BY id", (alert_id,))
        return [dict(zip(cols, r)) for r in rows]
