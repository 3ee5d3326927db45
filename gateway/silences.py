"""Silences (maintenance windows): Alertmanager-style matchers over alert labels, a start, an end, an
author and a comment. A silenced alert is still recorded and listed; only notifications are held back.

Matchers: `label=value`, `label!=value`, `label=~regex`, `label!~regex` (regex anchored, like
Alertmanager). Labels: lamp_id, fault, site, district, crew, kind, severity.

A recurring silence also has a window spec (gateway/recurrence.py, e.g. `tue 08:00-12:00`): it silences
only inside those windows, from its start to its end, and may have no end (until someone ends it).
"""
from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass

from gateway.recurrence import Recurrence, parse as parse_every

LABELS = ("lamp_id", "fault", "site", "district", "crew", "kind", "severity")
_MATCHER = re.compile(r"^\s*([a-z_]+)\s*(=~|!~|!=|=)\s*(.*?)\s*$")
FOREVER = 2**53 - 1  # ends_s of a recurring silence without an end (exact in JSON and JavaScript too)
_COLUMNS = "id, matchers, starts_s, ends_s, created_by, comment, created_s, every"


class SilenceError(ValueError):
    pass


@dataclass(frozen=True)
class Matcher:
    name: str
    value: str
    regex: bool = False
    equal: bool = True

    def matches(self, labels: dict[str, str]) -> bool:
        actual = str(labels.get(self.name, ""))
        hit = re.fullmatch(self.value, actual) is not None if self.regex else actual == self.value
        return hit if self.equal else not hit

    def __str__(self) -> str:
        op = {(False, True): "=", (False, False): "!=", (True, True): "=~", (True, False): "!~"}[(self.regex, self.equal)]
        return f"{self.name}{op}{self.value}"

    def as_dict(self) -> dict:
        return {"name": self.name, "value": self.value, "isRegex": self.regex, "isEqual": self.equal}


def parse_matcher(text: str) -> Matcher:
    m = _MATCHER.match(text)
    if not m:
        raise SilenceError(f"matcher {text!r}: write label=value, label!=value, label=~regex or label!~regex")
    name, op, value = m.groups()
    if name not in LABELS:
        raise SilenceError(f"matcher {text!r}: unknown label {name!r} (labels: {', '.join(LABELS)})")
    value = value.strip("\"'")
    regex = op in ("=~", "!~")
    if regex:
        try:
            re.compile(value)
        except re.error as e:
            raise SilenceError(f"matcher {text!r}: bad regular expression ({e})") from None
    return Matcher(name, value, regex, op in ("=", "=~"))


@dataclass(frozen=True)
class Silence:
    id: int
    matchers: tuple[Matcher, ...]
    starts_s: int
    ends_s: int
    created_by: str
    comment: str
    created_s: int
    every: Recurrence | None = None

    def state(self, now_s: int) -> str:
        """pending, active, expired; or scheduled: a recurring silence between two of its windows."""
        if now_s < self.starts_s:
            return "pending"
        if now_s >= self.ends_s:
            return "expired"
        return "scheduled" if self.every is not None and not self.every.active(now_s) else "active"

    def matches(self, labels: dict[str, str]) -> bool:
        return all(m.matches(labels) for m in self.matchers)

    def as_dict(self, now_s: int) -> dict:
        return {"id": self.id, "matchers": [m.as_dict() for m in self.matchers],
                "matchers_text": " ".join(str(m) for m in self.matchers), "starts_s": self.starts_s,
                "ends_s": None if self.ends_s == FOREVER else self.ends_s, "created_by": self.created_by,
                "comment": self.comment, "created_s": self.created_s, "state": self.state(now_s),
                "every": str(self.every) if self.every else None, "next_window_s": self.next_window(now_s)}

    def next_window(self, now_s: int) -> int | None:
        """When the next window of a recurring silence opens (None: not recurring, or not before its end)."""
        if self.every is None:
            return None
        start = self.every.next_start(max(now_s, self.starts_s))
        return start if start is not None and start < self.ends_s else None


class Silences:
    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def add(self, matchers: list[Matcher], starts_s: int, ends_s: int, created_by: str, comment: str,
            now_s: int, every: Recurrence | None = None) -> Silence:
        """A silence from starts_s to ends_s (FOREVER: until expired by hand, recurring ones only),
        inside the windows of `every` when given."""
        if not matchers:
            raise SilenceError("a silence needs at least one matcher, e.g. lamp_id=BGI-0012 or district=Lakouanga")
        if not created_by.strip():
            raise SilenceError("a silence needs an author (--by NAME)")
        if not comment.strip():
            raise SilenceError("a silence needs a comment saying why (--comment TEXT)")
        if ends_s <= starts_s:
            raise SilenceError("a silence must end after it starts")
        if ends_s <= now_s:
            raise SilenceError("this silence would already be over: give a later end")
        if ends_s == FOREVER and every is None:
            raise SilenceError("a one-off silence needs an end (--duration or --until)")
        silence = Silence(0, tuple(matchers), starts_s, ends_s, created_by, comment, now_s, every)
        if every is not None and not every.active(max(now_s, starts_s)) and silence.next_window(now_s) is None:
            raise SilenceError(f"the window '{every}' would not open while this silence lasts (looked 400 days "
                               "ahead): check the days, or give a later end")
        text = json.dumps([m.as_dict() for m in matchers])
        when = (f"every {every}" + ("" if ends_s == FOREVER else f" until {ends_s}")) if every else f"until {ends_s}"
        with self.conn:
            cur = self.conn.execute(
                "INSERT INTO silences (matchers, starts_s, ends_s, created_by, comment, created_s, every) "
                "VALUES (?,?,?,?,?,?,?)", (text, starts_s, ends_s, created_by, comment, now_s, str(every or "")))
            sid = cur.lastrowid
            assert sid is not None
            self.conn.execute(
                "INSERT INTO audit (at_s, action, actor, detail) VALUES (?, 'silence', ?, ?)",
                (now_s, created_by, f"silence {sid}: {' '.join(str(m) for m in matchers)} {when}: {comment}"))
        return Silence(sid, tuple(matchers), starts_s, ends_s, created_by, comment, now_s, every)

    def expire(self, silence_id: int, by: str, now_s: int) -> Silence:
        s = self.get(silence_id)
        if s is None:
            raise SilenceError(f"silence {silence_id} not found (lampfleet alerts silences)")
        if s.state(now_s) == "expired":
            raise SilenceError(f"silence {silence_id} has already ended")
        with self.conn:
            self.conn.execute("UPDATE silences SET ends_s=? WHERE id=?", (now_s, silence_id))
            self.conn.execute("INSERT INTO audit (at_s, action, actor, detail) VALUES (?, 'unsilence', ?, ?)",
                              (now_s, by, f"silence {silence_id} ended early"))
        expired = self.get(silence_id)
        assert expired is not None
        return expired

    def _row(self, row: tuple) -> Silence:
        sid, matchers, starts, ends, by, comment, created, every = row
        ms = tuple(Matcher(m["name"], m["value"], m["isRegex"], m["isEqual"]) for m in json.loads(matchers))
        return Silence(sid, ms, starts, ends, by, comment, created, parse_every(every) if every else None)

    def get(self, silence_id: int) -> Silence | None:
        row = self.conn.execute(f"SELECT {_COLUMNS} FROM silences WHERE id=?", (silence_id,)).fetchone()
        return self._row(row) if row else None

    def all(self) -> list[Silence]:
        rows = self.conn.execute(f"SELECT {_COLUMNS} FROM silences ORDER BY id").fetchall()
        return [self._row(r) for r in rows]

    def active(self, now_s: int) -> list[Silence]:
        """Silences holding notifications back now: in force, and inside a window if recurring."""
        rows = self.conn.execute(f"SELECT {_COLUMNS} FROM silences WHERE starts_s <= ? AND ends_s > ? ORDER BY id",
                                 (now_s, now_s)).fetchall()
        return [s for s in map(self._row, rows) if s.every is None or s.every.active(now_s)]

    def silencing(self, labels: dict[str, str], now_s: int, active: list[Silence] | None = None) -> Silence | None:
        for s in self.active(now_s) if active is None else active:
            if s.matches(labels):
                return s
        return None
