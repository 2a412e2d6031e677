"""The event log: every change, in order."""

from __future__ import annotations

import sqlite3
from typing import Iterator

from . import chats
from .timefmt import format_time
from .validate import check_name


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
            check_name("chat id", chat_id)  # --follow waits for a chat to come, never for a malformed id
            if known:
                chats.row(tx, chat_id)
            where.append("chat = ?")
            params.append(chat_id)
        if agent_id is not None:
            check_name("agent id", agent_id)
            if known and not tx.exists("SELECT 1 FROM agents WHERE id = ?", agent_id):
                from .errors import unknown

                raise unknown("agent", agent_id)
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
            " max(length(coalesce(chat, '-'))),"
            " max(length(coalesce(nullif(from_state, ''), '(none)')) + length(coalesce(to_state, 'None'))),"
            " max(length(cause)),"
            " max(length(coalesce(agent, '-'))),"
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
        return {"seq": row[1], "at": max(len(format_time(row[2])), len(format_time(row[3]))), "chat": row[4],
                "change": row[5], "cause": row[6], "agent": row[7]}

    def _measured(self) -> dict:
        found = {"seq": 0, "at": 0, "chat": 0, "change": 0, "cause": 0, "agent": 0}
        for e in self:
            found["seq"] = max(found["seq"], len(str(e["seq"])))
            found["at"] = max(found["at"], len(e["at"]))
            found["chat"] = max(found["chat"], len(e["chat"] or "-"))
            found["change"] = max(found["change"], len(e["from"] or "(none)") + len(f"{e['to']}"))
            found["cause"] = max(found["cause"], len(e["cause"]))
            found["agent"] = max(found["agent"], len(e["agent"] or "-"))
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


# -- the timeline ---------------------------------------------------------------------------

_ROW = "SELECT seq, at_ms, agent, chat, from_state, to_state, cause FROM events"


def timeline(tx, chat_ids: list[str], agent_ids: list[str], start: int | None, end: int | None, limit: int):
    """How time was spent (``timeline.Timeline``): the lanes of the chats ``chat_ids``, of the
    agents ``agent_ids`` (each agent's status and the chats it acted on), or, with neither,
    of the latest ``limit`` chats whose lives reach into the window and of every agent (at
    most ``limit``, by id).  An agent's chats are limited to its latest ``limit`` too.

    The window ends at ``end`` (default: ``timeline.default_end``, just after the last change
    shown, at most now).  It starts at ``start``; by default at the
    first event shown, except when chats were left out by ``limit``: then at the first event
    of the oldest chat shown (an agent's status before then is not read, however long its
    history).  Each lane is read through the ``(chat, seq)`` or ``(agent, seq)`` index, as a
    cursor: a big log costs only the lanes shown.  Unknown chat or agent: exit 4.
    """
    from . import timeline as tl
    from .errors import UsageError, unknown

    limit = min(limit, 2**62)  # more than any table holds: no limit (and within SQLite's integers, as limit + 1)

    defaulted_end = end is None
    end = tx.now if end is None else end
    if start is not None and start > end:
        raise UsageError(f"--from {format_time(start)} is after --to {format_time(end)}"
                         + (" (the clock's now)" if defaulted_end else ""))
    numbers: dict[str, int] = {}
    for chat_id in chat_ids:
        numbers[chat_id] = chats.row(tx, chat_id, "number")["number"]
    agents = list(dict.fromkeys(agent_ids))
    for agent_id in agents:
        check_name("agent id", agent_id)
        if not tx.exists("SELECT 1 FROM agents WHERE id = ?", agent_id):
            raise unknown("agent", agent_id)
    last = last_seq_at(tx, end)
    alive = "(c.closed_at_ms IS NULL OR c.closed_at_ms > ?)"
    after = start if start is not None else -(2**63)
    cut = False
    if not chat_ids and not agent_ids:
        found = tx.q(f"SELECT c.id, c.number FROM chats c WHERE c.created_at_ms <= ? AND {alive}"
                     " ORDER BY c.number DESC LIMIT ?", end, after, limit + 1).fetchall()
        agents = [r[0] for r in tx.q("SELECT id FROM agents WHERE created_at_ms <= ? ORDER BY id LIMIT ?",
                                     end, limit).fetchall()]
        cut = len(found) > limit
        numbers.update((r[0], r[1]) for r in found[:limit])
    for agent_id in agent_ids:
        found = tx.q(f"SELECT e.chat, c.number FROM events e JOIN chats c ON c.id = e.chat"
                     f" WHERE e.agent = ? AND e.seq <= ? AND {alive} GROUP BY e.chat"
                     " ORDER BY c.number DESC LIMIT ?", agent_id, last, after, limit + 1).fetchall()
        cut = cut or len(found) > limit
        numbers.update((r[0], r[1]) for r in found[:limit])
    cur = tx.conn.cursor()
    cur.row_factory = None
    chat_rows: list[tuple] = []
    for chat_id in sorted(numbers, key=numbers.get):
        chat_rows += cur.execute(f"{_ROW} WHERE chat = ? AND seq <= ? ORDER BY seq", (chat_id, last)).fetchall()
    if start is None and cut and chat_rows:
        start = min(row[1] for row in chat_rows)
    agent_rows: list[tuple] = []
    first = last_seq_at(tx, start) if start is not None else None
    for agent_id in sorted(agents):
        if first is not None:
            # The status in force at the start, then every change in the window.
            agent_rows += cur.execute(f"{_ROW} WHERE agent = ? AND chat IS NULL AND seq <= ? ORDER BY seq DESC LIMIT 1",
                                      (agent_id, first)).fetchall()
            agent_rows += cur.execute(f"{_ROW} WHERE agent = ? AND chat IS NULL AND seq > ? AND seq <= ? ORDER BY seq",
                                      (agent_id, first, last)).fetchall()
        else:
            agent_rows += cur.execute(f"{_ROW} WHERE agent = ? AND chat IS NULL AND seq <= ? ORDER BY seq",
                                      (agent_id, last)).fetchall()
    rows = agent_rows + chat_rows
    # The new chats the queues refused, on the whole picture (not one of some chats or agents).
    refused = [] if chat_ids or agent_ids else rejected_between(tx, -(2**63) if start is None else start, end)
    if defaulted_end:
        end = tl.default_end(rows + [(None, at) for at, _queue in refused], start, end)
    built = tl.build(rows, end, start)
    built.rejected = [(at, queue) for at, queue in refused if built.start <= at <= built.end]
    return built


def rejected_between(tx, start: int, end: int) -> list[tuple[int, str]]:
    """(instant, queue) of the new chats the queues refused in ``[start, end]`` (the journal of
    refusals, ``queues.rejected_queue``)."""
    from .queues import rejected_queue

    found = []
    for at, message in tx.q("SELECT at_ms, message FROM refusals WHERE exit_code = 3 AND at_ms BETWEEN ? AND ?"
                            " ORDER BY seq", start, end):
        queue = rejected_queue(message)
        if queue is not None:
            found.append((at, queue))
    return found


def last_seq_at(tx, at_ms: int) -> int:
    """The seq of the last event at or before ``at_ms`` (0: none), by bisection over seq:
    events are in time order (``db check`` holds them to it), so a few lookups of the
    primary key find it in a log of any length."""
    # Each end by itself: SQLite reads min(seq) and max(seq) from the primary key only one at a time.
    top = tx.q("SELECT seq, at_ms FROM events ORDER BY seq DESC LIMIT 1").fetchone()
    if top is None:
        return 0
    high, top_at = top
    if top_at <= at_ms:
        return high
    low = tx.q("SELECT seq FROM events ORDER BY seq LIMIT 1").fetchone()[0]
    # The smallest seq s whose first event at or after it is later than at_ms.
    while low < high:
        middle = (low + high) // 2
        found = tx.q("SELECT at_ms FROM events WHERE seq >= ? ORDER BY seq LIMIT 1", middle).fetchone()[0]
        if found > at_ms:
            high = middle
        else:
            low = middle + 1
    before = tx.q("SELECT max(seq) FROM events WHERE seq < ?", low).fetchone()[0]
    return before or 0
