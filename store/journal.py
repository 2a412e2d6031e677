"""The event log: every change, in order."""

from __future__ import annotations

import sqlite3
from typing import Iterator

from . import chats
from .timefmt import format_time


def event_object(row: sqlite3.Row) -> dict:
    return {
        "seq": row["seq"],
        "at": format_time(row["at_ms"]),
        "agent": row["agent"],
        "chat": row["chat"],
        "from": row["from_state"],
        "to": row["to_state"],
        "cause": row["cause"],
    }


class Events:
    """The events a filter selects, read a batch at a time as they are iterated."""

    BATCH = 1000

    def __init__(self, tx, chat_id, agent_id, since, limit, known):
        where, params = ["seq > ?"], [since]
        if chat_id is not None:
            if known:
                chats.row(tx, chat_id)
            where.append("chat = ?")
            params.append(chat_id)
        if agent_id is not None:
            where.append("agent = ?")
            params.append(agent_id)
        self.tx, self.where, self.params = tx, " AND ".join(where), params
        self.limit = f" LIMIT {int(limit)}" if limit is not None else ""

    def __iter__(self) -> Iterator[dict]:
        for seq, at, agent, chat, from_state, to_state, cause in self.rows():
            yield {"seq": seq, "at": at, "agent": agent, "chat": chat, "from": from_state, "to": to_state,
                   "cause": cause}

    def rows(self) -> Iterator[tuple]:
        """(seq, at as text, agent, chat, from, to, cause) for each event, in order."""
        cur = self.tx.conn.cursor()
        cur.row_factory = None
        cur.execute(
            f"SELECT seq, at_ms, agent, chat, from_state, to_state, cause FROM events WHERE {self.where}"
            f" ORDER BY seq{self.limit}",
            self.params,
        )
        last_ms, last_text = None, None
        while True:
            batch = cur.fetchmany(self.BATCH)
            if not batch:
                return
            for seq, at, agent, chat, from_state, to_state, cause in batch:
                if at != last_ms:  # events come in runs of the same instant
                    last_ms, last_text = at, format_time(at)
                yield seq, last_text, agent, chat, from_state, to_state, cause

    def widths(self) -> dict | None:
        """The widest text of each column a table of these events shows (``render.events``);
        None when there are no events.  Read by SQL (``length`` counts characters up to a
        NUL: a text holding one is measured in Python instead)."""
        row = self.tx.q(
            "SELECT count(*), max(length(seq)), min(at_ms), max(at_ms),"
            " max(length(coalesce(nullif(chat, ''), nullif(agent, ''), ''))),"
            " max(length(coalesce(nullif(from_state, ''), '(none)')) + length(coalesce(to_state, 'None'))),"
            " max(length(cause)),"
            " max(CASE WHEN chat <> '' AND agent <> '' THEN length(agent) ELSE 0 END),"
            " max(instr(coalesce(chat, '') || coalesce(agent, '') || coalesce(from_state, '')"
            "  || coalesce(to_state, '') || cause, char(0)))"
            f" FROM {f'(SELECT * FROM events WHERE {self.where} ORDER BY seq{self.limit})' if self.limit else ''}"
            f"{'' if self.limit else f'events WHERE {self.where}'}",
            *self.params,
        ).fetchone()
        if row[0] == 0:
            return None
        if row[8]:
            return self._measured()
        return {"seq": row[1], "at": max(len(format_time(row[2])), len(format_time(row[3]))), "subject": row[4],
                "change": row[5], "cause": row[6], "agent": row[7]}

    def _measured(self) -> dict:
        found = {"seq": 0, "at": 0, "subject": 0, "change": 0, "cause": 0, "agent": 0}
        for e in self:
            found["seq"] = max(found["seq"], len(str(e["seq"])))
            found["at"] = max(found["at"], len(e["at"]))
            found["subject"] = max(found["subject"], len(e["chat"] or e["agent"] or ""))
            found["change"] = max(found["change"], len(e["from"] or "(none)") + len(f"{e['to']}"))
            found["cause"] = max(found["cause"], len(e["cause"]))
            found["agent"] = max(found["agent"], len(e["agent"]) if e["chat"] and e["agent"] else 0)
        return found


def events(tx, chat_id, agent_id, since, limit, known):
    """``known``: refuse a chat id that does not exist (``--follow`` waits for it instead)."""
    return list(Events(tx, chat_id, agent_id, since, limit, known))


def poll(tx, chat_id, agent_id, since, mark):
    """What ``events --follow`` prints next, in one read.

    ``mark`` is the log's last event as the previous poll saw it (None before the
    first poll, or while the log was empty).  If that event is no longer there
    as it was, the log was replaced (``snapshot restore``, ``reset``,
    ``import --replace`` restart the sequence numbers): the new log is returned
    from its start, with ``replaced`` set.
    """
    replaced = False
    if mark is not None:
        row = tx.q("SELECT * FROM events WHERE seq = ?", mark["seq"]).fetchone()
        if row is None or event_object(row) != mark:
            replaced, since = True, 0
    found = events(tx, chat_id, agent_id, since, None, False)
    top = tx.q("SELECT * FROM events ORDER BY seq DESC LIMIT 1").fetchone()
    return {"replaced": replaced, "events": found, "mark": event_object(top) if top else None, "mode": tx.mode}


def last_change(tx, chat_id) -> str:
    """" since <time> (<cause>)" of the chat's latest event, or ""."""
    last = tx.q("SELECT at_ms, cause FROM events WHERE chat = ? ORDER BY seq DESC LIMIT 1", chat_id).fetchone()
    return f" since {format_time(last['at_ms'])} ({last['cause']})" if last else ""
