"""Crew notifications, Alertmanager-style, in the gateway's clock: group, wait, repeat, escalate.

Alerts are grouped per crew and district (the crew's sector): one message lists the new outages, the
reminders and the repairs of a group. A new group waits `group_wait_s` (an alert resolved meanwhile is
never sent: a flap costs nothing); later messages of the same group come at most every
`group_interval_s`; a firing alert nobody acknowledged is repeated every `repeat_interval_s` and, after
`escalate_after_s`, sent once to the supervisor. Silenced alerts are held back, not dropped. During the
grace period after a start, nothing is sent: what is still firing afterwards goes out in one message.

The dispatcher only writes messages into the `outbox` table (in the same database, so they survive a
restart); gateway/sender.py delivers them through Apprise on its own thread.
"""
from __future__ import annotations

import hashlib
import logging
import sqlite3
from dataclasses import dataclass

from gateway import db, messages
from gateway.alerts import SELECT, audit, row_dict
from gateway.registry import Registry
from gateway.settings import Crew, Settings
from gateway.silences import Silences

log = logging.getLogger("lampfleet.gateway.notify")


def url_id(url: str) -> str:
    """Identifies a configured URL in the outbox without storing it (URLs carry credentials)."""
    return hashlib.sha256(url.encode()).hexdigest()[:16]


@dataclass
class Target:
    recipient: str  # "crew:NAME" or "supervisor:NAME"
    urls: list[str]
    language: str


class Dispatcher:
    def __init__(self, conn: sqlite3.Connection, settings: Settings, registry: Registry | None = None):
        self.conn = conn
        self.settings = settings
        self.registry = registry
        self.silences = Silences(conn)
        self.started_s: int | None = None

    # ------------------------------------------------------------ targets

    def crew_for(self, name: str) -> Crew | None:
        crews = self.settings.crews
        return crews.get(name) or crews.get(self.settings.alerts.default_crew)

    def target(self, crew_name: str, supervisor: bool) -> Target | None:
        crew = self.crew_for(crew_name)
        language = (crew.language if crew and crew.language else "") or self.settings.alerts.language
        if supervisor:
            urls = (crew.supervisor_urls if crew and crew.supervisor_urls else []) or self.settings.alerts.supervisor_urls
            name = crew.name if crew else crew_name
            return Target(f"supervisor:{name}", list(urls), language) if urls else None
        if crew is None or not crew.urls:
            return None
        return Target(f"crew:{crew.name}", list(crew.urls), language)

    def urls_for(self, recipient: str) -> list[str]:
        kind, _, name = recipient.partition(":")
        t = self.target(name, kind == "supervisor")
        return t.urls if t else []

    # ------------------------------------------------------------ the tick

    def tick(self, now_s: int) -> int:
        """Queue what is due; return the number of messages queued."""
        if self.started_s is None:
            self.started_s = now_s
        a = self.settings.alerts
        rows = [row_dict(r) for r in self.conn.execute(
            f"{SELECT} WHERE state != 'resolved' OR resolved_notified_s IS NULL ORDER BY id")]
        if not rows:
            return 0
        active = self.silences.active(now_s)
        groups: dict[tuple[str, str], dict[str, list[dict]]] = {}
        for alert in rows:
            group = groups.setdefault((alert["crew"], alert["district"]), {
                "raise": [], "repeat": [], "resolve": [], "escalate": [], "forget": []})
            if alert["state"] == "resolved":
                if alert["notified_s"] is None or not a.send_resolved:
                    group["forget"].append(alert)  # never announced (group_wait) or not wanted: stay quiet
                else:
                    group["resolve"].append(alert)
                continue
            labels = {k: str(alert[k]) for k in ("lamp_id", "fault", "site", "district", "crew", "kind", "severity")}
            if self.silences.silencing(labels, now_s, active) is not None:
                continue
            if alert["state"] == "acknowledged":
                continue
            if alert["notified_s"] is None:
                group["raise"].append(alert)
            elif now_s - (alert["last_notified_s"] or alert["notified_s"]) >= a.repeat_interval_s:
                group["repeat"].append(alert)
            if alert["escalated_s"] is None and now_s - (alert["opened_s"] or now_s) >= a.escalate_after_s:
                group["escalate"].append(alert)
        queued = 0
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            for (crew, district), group in sorted(groups.items()):
                for alert in group["forget"]:
                    self.conn.execute("UPDATE alerts SET resolved_notified_s=-1 WHERE id=?", (alert["id"],))
                queued += self._group(crew, district, group, now_s)
        return queued

    def _due(self, crew: str, district: str, group: dict[str, list[dict]], now_s: int) -> bool:
        a = self.settings.alerts
        if now_s < (self.started_s or now_s) + self.settings.grace_s:
            return False
        last = db.meta_get(self.conn, f"group:{crew}:{district}")
        last_s = int(last) if last is not None else None
        if group["raise"]:
            first = min(x["opened_s"] or now_s for x in group["raise"])
            due = first + a.group_wait_s
        else:
            due = now_s
        if last_s is not None:
            due = max(due, last_s + a.group_interval_s)
        return now_s >= due

    def _group(self, crew: str, district: str, group: dict[str, list[dict]], now_s: int) -> int:
        queued = 0
        kinds = [k for k in ("raise", "repeat", "resolve") if group[k]]
        if kinds and self._due(crew, district, group, now_s):
            target = self.target(crew, supervisor=False)
            alerts = [(k, x) for k in kinds for x in group[k]]
            if target is not None:
                queued += self._queue(target, district, alerts, now_s)
            for kind, x in alerts:
                if kind == "resolve":
                    self.conn.execute("UPDATE alerts SET resolved_notified_s=? WHERE id=?", (now_s, x["id"]))
                else:
                    self.conn.execute(
                        "UPDATE alerts SET notified_s=COALESCE(notified_s, ?), last_notified_s=?, "
                        "notify_count=notify_count+1 WHERE id=?", (now_s, now_s, x["id"]))
                if target is not None or kind == "raise":  # one trace of an untargeted alert is enough
                    audit(self.conn, now_s, f"notify:{kind}", "gateway", x,
                          target.recipient if target else f"no notification target for crew {crew or '(none)'}")
            db.meta_set(self.conn, f"group:{crew}:{district}", str(now_s))
        if group["escalate"] and now_s >= (self.started_s or now_s) + self.settings.grace_s:
            target = self.target(crew, supervisor=True)
            if target is not None:
                queued += self._queue(target, district, [("escalate", x) for x in group["escalate"]], now_s)
            for x in group["escalate"]:
                self.conn.execute("UPDATE alerts SET escalated_s=? WHERE id=?", (now_s, x["id"]))
                audit(self.conn, now_s, "escalate", "gateway", x,
                      target.recipient if target else "no supervisor configured")
        return queued

    def _queue(self, target: Target, district: str, alerts: list[tuple[str, dict]], now_s: int) -> int:
        lang = target.language
        lamps = {}
        if self.registry is not None:
            lamps = {x["lamp_id"]: self.registry.by_id(x["lamp_id"]) for _, x in alerts}
        lines = []
        counts: dict[str, int] = {}
        for kind, x in alerts:
            lamp = lamps.get(x["lamp_id"])
            x = dict(x, lat=lamp.lat if lamp else None, lon=lamp.lon if lamp else None)
            lines.append(messages.alert_line(x, kind, lang, self.settings.alerts.utc_offset_s))
            counts[kind] = counts.get(kind, 0) + 1
        crew = target.recipient.partition(":")[2]
        title = messages.title(crew, district, counts, lang)
        body = messages.body(lines, lang, with_ack_hint=bool(counts.get("raise") or counts.get("repeat")
                                                              or counts.get("escalate")))
        notify_type = "failure" if counts.get("raise") or counts.get("escalate") else (
            "warning" if counts.get("repeat") else "success")
        ids = ",".join(str(x["id"]) for _, x in alerts)
        for url in target.urls:
            self.conn.execute(
                "INSERT INTO outbox (created_s, recipient, title, body, notify_type, alert_ids) VALUES (?,?,?,?,?,?)",
                (now_s, f"{target.recipient}#{url_id(url)}", title, body, notify_type, ids))
        log.info("queued %s for %s (%d alert(s))", notify_type, target.recipient, len(alerts))
        return len(target.urls)
