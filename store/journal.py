"""The event log: every change, in order."""

from __future__ import annotations

import sqlite3

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


def events(tx, chat_id, agent_id, since, limit, known):
    """``known``: refuse a chat id that does not exist (``--follow`` waits for it instead)."""
    where, params = ["seq > ?"], [since]
    if chat_id is not None:
        if known:
            chats.row(tx, chat_id)
        where.append("chat = ?")
        params.append(chat_id)
    if agent_id is not None:
        where.append("agent = ?")
        params.append(agent_id)
    sql = f"SELECT * FROM events WHERE {' AND '.join(where)} ORDER BY seq"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return [event_object(row) for row in tx.q(sql, *params)]


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
