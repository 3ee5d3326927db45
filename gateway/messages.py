"""Crew-facing texts: one line per alert, short enough for one SMS, French first (English available).

A line says what a crew needs to act: alert number (to acknowledge it), lamp ID, place, fault, since
when (local time), last battery state. Kits: the kit ID and its district, nothing about the household.
Every line is folded to the GSM-7 alphabet and kept within 160 characters, trimming the place first.
"""
from __future__ import annotations

import time
import unicodedata

from gateway import faults

SMS_LEN = 160
# GSM 03.38 basic character set (the extension table's characters count double: avoid them).
GSM7 = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
           "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")

WORDS = {
    "fr": {"raise": "PANNE", "repeat": "RAPPEL", "resolve": "RETABLI", "escalate": "ESCALADE",
           "since": "depuis", "at": "le", "battery": "batt", "ended": "fini",
           "title": "lampfleet {crew}{where}: {summary}", "new": "{n} panne(s)", "still": "{n} rappel(s)",
           "fixed": "{n} retablie(s)", "escalated": "{n} non prise(s) en charge",
           "ack": "Repondre: lampfleet alerts ack NUMERO"},
    "en": {"raise": "FAULT", "repeat": "REMINDER", "resolve": "FIXED", "escalate": "ESCALATION",
           "since": "since", "at": "at", "battery": "batt", "ended": "ended",
           "title": "lampfleet {crew}{where}: {summary}", "new": "{n} new", "still": "{n} reminder(s)",
           "fixed": "{n} fixed", "escalated": "{n} unacknowledged",
           "ack": "Acknowledge: lampfleet alerts ack NUMBER"},
}


def gsm7(text: str) -> str:
    """Fold to the GSM-7 basic set: keep what it has (é, è, à...), strip other accents (ê -> e)."""
    out = []
    for ch in text:
        if ch in GSM7:
            out.append(ch)
            continue
        base = unicodedata.normalize("NFKD", ch)[0]
        out.append(base if base in GSM7 else "?")
    return "".join(out)


def local_time(t_s: int, utc_offset_s: int) -> str:
    return time.strftime("%d/%m %H:%M", time.gmtime(t_s + utc_offset_s))


def battery_text(evidence: dict, language: str) -> str:
    b = evidence.get("battery") or {}
    parts = []
    if b.get("vbat_mv") is not None:
        parts.append(f"{b['vbat_mv'] / 1000:.1f}V")
    if b.get("soc_pct") is not None:
        parts.append(f"{b['soc_pct']}%")
    return f"{WORDS[language]['battery']} {' '.join(parts)}" if parts else ""


def alert_line(alert: dict, kind: str, language: str, utc_offset_s: int) -> str:
    """One SMS-sized line. `alert` is a row dict (gateway/alerts.py) with its evidence decoded."""
    w = WORDS[language]
    what = faults.text(alert["fault"], language)
    if kind == "resolve":
        when = f"{w['ended']} {local_time(alert['resolved_s'] or alert['raised_s'], utc_offset_s)}"
    else:
        when = f"{w['since']} {local_time(alert['raised_s'], utc_offset_s)}"
    head = f"{w[kind]} #{alert['id']} {alert['lamp_id']}"
    tail = f": {what}, {when}"
    batt = battery_text(alert.get("evidence") or {}, language) if kind != "resolve" else ""
    if batt:
        tail += f", {batt}"
    tail += "."
    place = alert.get("place") or ""
    geo = ""
    if alert.get("kind") != "kit" and alert.get("lat") is not None and alert.get("lon") is not None:
        geo = f" GPS {alert['lat']:.5f},{alert['lon']:.5f}"
    line = gsm7(f"{head} {place}{tail}{geo}") if place else gsm7(f"{head}{tail}{geo}")
    if len(line) > SMS_LEN and geo:
        line = gsm7(f"{head} {place}{tail}") if place else gsm7(f"{head}{tail}")
    if len(line) > SMS_LEN:
        room = SMS_LEN - len(gsm7(f"{head} {tail}"))
        line = gsm7(f"{head} {place[:max(room - 1, 0)]}~{tail}") if room > 4 else gsm7(f"{head}{tail}")[:SMS_LEN]
    return line


def title(crew: str, district: str, counts: dict[str, int], language: str) -> str:
    w = WORDS[language]
    parts = [w[key].format(n=counts[kind]) for kind, key in
             (("raise", "new"), ("repeat", "still"), ("resolve", "fixed"), ("escalate", "escalated"))
             if counts.get(kind)]
    where = f" - {district}" if district else ""
    return gsm7(w["title"].format(crew=crew, where=where, summary=", ".join(parts)))


def body(lines: list[str], language: str, with_ack_hint: bool) -> str:
    text = "\n".join(lines)
    if with_ack_hint:
        text += "\n" + WORDS[language]["ack"]
    return text
