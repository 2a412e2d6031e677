"""The invariant checker behind ``chatemu db check``.

``check(conn)`` reads a chatemu database and returns one human-readable line
per violation (an empty list: the database is clean).  ``check_path(path)``
opens a file as the next command would read it, and refuses (``DatabaseError``,
exit 5) a file that is not a chatemu database or that it cannot read as
committed.

The checker only reads.  It does not settle timers: it judges the database
as stored, at its stored clock (``meta.now_ms``), so a wrap-up timer that was
due at that instant but is still running is a violation.

Every invariant is one set-based SQL query (for the event history: a join of
each event to its predecessor by ``seq``, lookups on the ``(chat, seq)``
index, ``LAG()`` where ``seq`` has gaps), never a loop over chats in Python:
100,000 chats and 1,000,000 events are checked in about 1.5 s.  Each invariant
reports at most ``limit`` examples, then how many more there are.

The invariants:

- chats, agents and events hold only known states, presences and flags;
- at most one ``active``/``active-wrapup`` chat per agent, and none while the
  agent is on a call;
- a chat has no agent exactly when it is ``queued`` (or closed as
  ``abandoned``, which only a queued chat can be); every chat's agent exists;
- wrap-up timer fields only in wrap-up states, exactly one of them there
  (``wrapup_deadline_ms`` in ``active-wrapup``, ``wrapup_remaining_ms`` in
  ``parked-wrapup``), remaining never negative, extensions never negative, and
  no running timer due at or before the stored clock;
- closed chats have a known reason and a closing time (not before their
  creation, not after the clock), open chats have neither;
- ``parked_by_call`` only on a parked chat of an agent that is on a call;
- events: ``seq`` runs 1, 2, 3, … with nothing missing and nothing above the
  AUTOINCREMENT counter; times never go backwards nor past the clock; every
  chat event names a chat that exists and a legal transition (creation as
  ``queued`` or ``new``, or a move of ``core.TRANSITIONS``); agent events
  (no chat: presence and calls) are only checked for order;
- replay: each chat's events, in ``seq`` order, start from nothing and chain
  (each ``from`` is the previous ``to``), and the last ``to`` is the chat's
  state (and, for a closed chat, the last event is at its closing instant).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from . import core, schema
from .errors import DatabaseError
from .timefmt import format_time

#: Examples reported per invariant before "… and N more".
DEFAULT_LIMIT = 50

_STATES = core.STATES
_ACTIVE = core.ACTIVE_STATES
_WRAPUP = core.WRAPUP_STATES


def _in(values) -> str:
    """A SQL ``IN`` list of string literals (our own constants, never user input)."""
    return "(" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + ")"


def _time(ms) -> str:
    try:
        return format_time(ms) if isinstance(ms, int) else repr(ms)
    except (OverflowError, ValueError):
        return f"{ms} ms"


def _name(value) -> str:
    return repr(value) if not isinstance(value, str) or not value.isprintable() or not value else value


def _legal_pairs() -> set[tuple[str | None, str]]:
    """(from, to) pairs a chat's event may carry: creation, or a transition of the table."""
    pairs: set[tuple[str | None, str]] = {(None, core.QUEUED), (None, core.NEW)}
    pairs.update((state, step.to) for (state, _event), step in core.TRANSITIONS.items())
    return pairs


class _Checker:
    def __init__(self, conn: sqlite3.Connection, limit: int):
        self.cur = conn.cursor()
        self.cur.row_factory = None  # plain tuples, whatever the connection uses
        self.limit = limit
        self.found: list[str] = []

    def rows(self, sql: str, *params) -> list[tuple]:
        return self.cur.execute(sql, params).fetchall()

    def one(self, sql: str, *params):
        row = self.cur.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def report(self, sql: str, fmt, *params) -> None:
        """Run a query of offending rows; add one line per row (at most ``limit``)."""
        cur = self.cur.execute(sql, params)
        shown = 0
        more = 0
        for row in cur:
            if shown < self.limit:
                self.found.append(fmt(*row))
                shown += 1
            else:
                more += 1
        if more:
            self.found.append(f"… and {more} more like the line above")

    # -- the invariants ----------------------------------------------------------

    def run(self) -> list[str]:
        now = self.clock()
        self.values()
        self.active_items()
        self.owners()
        self.timers(now)
        self.closing(now)
        self.call_marks()
        self.event_order(now)
        self.replay()
        return self.found

    def clock(self) -> int | None:
        rows = self.rows("SELECT id, now_ms FROM meta")
        if len(rows) != 1 or rows[0][0] != 1:
            self.found.append(f"meta: expected exactly one row with id 1, found {len(rows)} row(s)")
        now = next((row[1] for row in rows if row[0] == 1), None)
        if rows and not isinstance(now, int):
            self.found.append(f"meta: the stored clock now_ms is {now!r}, not a time")
            return None
        return now

    def values(self) -> None:
        self.report(
            f"SELECT id, state FROM chats WHERE state IS NULL OR state NOT IN {_in(_STATES)} ORDER BY number",
            lambda chat, state: f"chat {_name(chat)}: unknown state {state!r}",
        )
        self.report(
            f"SELECT id, presence FROM agents WHERE presence IS NULL OR presence NOT IN {_in(core.PRESENCES)} ORDER BY id",
            lambda agent, presence: f"agent {_name(agent)}: unknown presence {presence!r}",
        )
        self.report(
            "SELECT id, on_call FROM agents WHERE on_call IS NULL OR on_call NOT IN (0, 1) ORDER BY id",
            lambda agent, flag: f"agent {_name(agent)}: on_call is {flag!r}, not 0 or 1",
        )
        self.report(
            "SELECT id, parked_by_call FROM chats WHERE parked_by_call IS NULL OR parked_by_call NOT IN (0, 1) ORDER BY number",
            lambda chat, flag: f"chat {_name(chat)}: parked_by_call is {flag!r}, not 0 or 1",
        )

    def active_items(self) -> None:
        self.report(
            f"SELECT agent, count(*), group_concat(id || ' (' || state || ')', ', ') FROM chats"
            f" WHERE agent IS NOT NULL AND state IN {_in(_ACTIVE)} GROUP BY agent HAVING count(*) > 1 ORDER BY agent",
            lambda agent, n, chats: f"agent {_name(agent)}: {n} active items, at most one allowed: {chats}",
        )
        self.report(
            f"SELECT a.id, c.id, c.state FROM agents a JOIN chats c ON c.agent = a.id"
            f" WHERE a.on_call != 0 AND c.state IN {_in(_ACTIVE)} ORDER BY a.id, c.number",
            lambda agent, chat, state: f"agent {_name(agent)}: on a call but chat {_name(chat)} is {state}",
        )

    def owners(self) -> None:
        self.report(
            "SELECT id, agent FROM chats WHERE state = 'queued' AND agent IS NOT NULL ORDER BY number",
            lambda chat, agent: f"chat {_name(chat)}: queued but in agent {_name(agent)}'s inbox",
        )
        self.report(
            "SELECT id, state, closed_reason FROM chats WHERE agent IS NULL AND state != 'queued'"
            " AND NOT (state = 'closed' AND closed_reason IS 'abandoned') ORDER BY number",
            lambda chat, state, reason: f"chat {_name(chat)}: {state}"
            + (f" ({reason})" if reason else "")
            + " but has no agent (only queued chats, and chats abandoned in the queue, have none)",
        )
        self.report(
            "SELECT id, agent FROM chats WHERE closed_reason IS 'abandoned' AND agent IS NOT NULL ORDER BY number",
            lambda chat, agent: f"chat {_name(chat)}: abandoned in the queue but has agent {_name(agent)}",
        )
        self.report(
            "SELECT c.id, c.state, c.agent FROM chats c LEFT JOIN agents a ON a.id = c.agent"
            " WHERE c.agent IS NOT NULL AND a.id IS NULL ORDER BY c.number",
            lambda chat, state, agent: f"chat {_name(chat)}: {state} in the inbox of agent {_name(agent)}, who does not exist",
        )

    def timers(self, now: int | None) -> None:
        self.report(
            "SELECT id, state, wrapup_deadline_ms FROM chats"
            " WHERE wrapup_deadline_ms IS NOT NULL AND state != 'active-wrapup' ORDER BY number",
            lambda chat, state, deadline: f"chat {_name(chat)}: {state} with a running wrap-up timer"
            f" (deadline {_time(deadline)}); only active-wrapup has one",
        )
        self.report(
            "SELECT id, state, wrapup_remaining_ms FROM chats"
            " WHERE wrapup_remaining_ms IS NOT NULL AND state != 'parked-wrapup' ORDER BY number",
            lambda chat, state, left: f"chat {_name(chat)}: {state} with a paused wrap-up timer"
            f" ({left!r} ms remaining); only parked-wrapup has one",
        )
        self.report(
            "SELECT id FROM chats WHERE state = 'active-wrapup' AND wrapup_deadline_ms IS NULL ORDER BY number",
            lambda chat: f"chat {_name(chat)}: active-wrapup without a wrap-up deadline",
        )
        self.report(
            "SELECT id FROM chats WHERE state = 'parked-wrapup' AND wrapup_remaining_ms IS NULL ORDER BY number",
            lambda chat: f"chat {_name(chat)}: parked-wrapup without the wrap-up time remaining",
        )
        self.report(
            "SELECT id, wrapup_remaining_ms FROM chats WHERE wrapup_remaining_ms < 0 ORDER BY number",
            lambda chat, left: f"chat {_name(chat)}: negative wrap-up time remaining ({left} ms)",
        )
        self.report(
            "SELECT id, extensions_left FROM chats WHERE extensions_left < 0 ORDER BY number",
            lambda chat, n: f"chat {_name(chat)}: negative extensions left ({n})",
        )
        self.report(
            f"SELECT id, state FROM chats WHERE state IN {_in(_WRAPUP)}"
            " AND (extensions_left IS NULL OR extension_ms IS NULL) ORDER BY number",
            lambda chat, state: f"chat {_name(chat)}: {state} without its wrap-up extension settings",
        )
        if now is not None:
            self.report(
                "SELECT id, wrapup_deadline_ms FROM chats WHERE wrapup_deadline_ms IS NOT NULL"
                " AND wrapup_deadline_ms <= ? ORDER BY wrapup_deadline_ms, number",
                lambda chat, deadline: f"chat {_name(chat)}: wrap-up timer ran out at {_time(deadline)},"
                f" at or before the stored clock {_time(now)}, but the chat was not closed",
                now,
            )

    def closing(self, now: int | None) -> None:
        self.report(
            "SELECT id, closed_reason, closed_at_ms FROM chats WHERE state = 'closed'"
            f" AND (closed_reason IS NULL OR closed_reason NOT IN {_in(core.CLOSED_REASONS)} OR closed_at_ms IS NULL)"
            " ORDER BY number",
            lambda chat, reason, at: f"chat {_name(chat)}: closed with reason {reason!r} at {_time(at)};"
            f" a closed chat has one of {', '.join(core.CLOSED_REASONS)} and a closing time",
        )
        self.report(
            "SELECT id, state, closed_reason, closed_at_ms FROM chats WHERE state IS NOT 'closed'"
            " AND (closed_reason IS NOT NULL OR closed_at_ms IS NOT NULL) ORDER BY number",
            lambda chat, state, reason, at: f"chat {_name(chat)}: {state} but has closed_reason {reason!r}"
            f" / closed_at {_time(at) if at is not None else None}",
        )
        self.report(
            "SELECT id, created_at_ms, closed_at_ms FROM chats WHERE closed_at_ms < created_at_ms ORDER BY number",
            lambda chat, created, closed: f"chat {_name(chat)}: closed at {_time(closed)}, before it was created at {_time(created)}",
        )
        if now is not None:
            self.report(
                "SELECT id, 'created', created_at_ms FROM chats WHERE created_at_ms > ?1"
                " UNION ALL SELECT id, 'closed', closed_at_ms FROM chats WHERE closed_at_ms > ?1",
                lambda chat, what, at: f"chat {_name(chat)}: {what} at {_time(at)}, after the stored clock {_time(now)}",
                now,
            )

    def call_marks(self) -> None:
        self.report(
            "SELECT c.id, c.state, c.agent, a.on_call FROM chats c LEFT JOIN agents a ON a.id = c.agent"
            " WHERE c.parked_by_call != 0 AND (a.on_call IS NULL OR a.on_call = 0) ORDER BY c.number",
            lambda chat, state, agent, _on: f"chat {_name(chat)}: marked parked_by_call ({state}) but agent"
            f" {_name(agent) if agent is not None else None} is not on a call",
        )
        self.report(
            "SELECT id, state FROM chats WHERE parked_by_call != 0 AND state NOT IN ('parked', 'parked-wrapup')"
            " ORDER BY number",
            lambda chat, state: f"chat {_name(chat)}: marked parked_by_call but it is {state}, not parked",
        )

    def event_order(self, now: int | None) -> None:
        count, top, bottom = self.rows("SELECT count(*), max(seq), min(seq) FROM events")[0]
        if count:
            counter = self.one("SELECT seq FROM sqlite_sequence WHERE name = 'events'")
            if bottom < 1:
                self.found.append(f"events: seq {bottom} is not a positive number")
            if counter is None or top > counter:
                self.found.append(
                    f"events: seq {top} is above the AUTOINCREMENT counter {counter}: seq was rewritten, not appended"
                )
            if bottom >= 1 and top != count:
                self.found.append(
                    f"events: seq runs to {top} but there are {count} events: {top - count} missing (lost or deleted)"
                )
        if count and bottom == 1 and top == count:
            # seq runs 1..N: each event's predecessor is one primary-key lookup away.
            sql = (
                "SELECT e.seq, e.at_ms, p.seq, p.at_ms FROM events e JOIN events p ON p.seq = e.seq - 1"
                " WHERE e.at_ms < p.at_ms OR e.at_ms IS NULL ORDER BY e.seq"
            )
        else:
            sql = (
                "SELECT seq, at_ms, prev_seq, prev_at FROM (SELECT seq, at_ms, LAG(seq) OVER w AS prev_seq,"
                " LAG(at_ms) OVER w AS prev_at FROM events WINDOW w AS (ORDER BY seq))"
                " WHERE at_ms < prev_at OR at_ms IS NULL ORDER BY seq"
            )
        self.report(
            sql,
            lambda seq, at, prev_seq, prev_at: f"event {seq}: at {_time(at)}, before event {prev_seq} at"
            f" {_time(prev_at)}: time went backwards",
        )
        if now is not None:
            self.report(
                "SELECT seq, at_ms FROM events WHERE at_ms > ? ORDER BY seq",
                lambda seq, at: f"event {seq}: at {_time(at)}, after the stored clock {_time(now)}",
                now,
            )

    def replay(self) -> None:
        self.report(
            "SELECT g.first, g.chat FROM (SELECT chat, min(seq) AS first FROM events WHERE chat IS NOT NULL"
            " GROUP BY chat) g WHERE NOT EXISTS (SELECT 1 FROM chats c WHERE c.id = g.chat) ORDER BY g.first",
            lambda seq, chat: f"event {seq} (and any later ones of that chat): names chat {_name(chat)},"
            " which does not exist",
        )
        # Each distinct (from, to) pair once: a handful of rows whatever the history's size.
        legal = _legal_pairs()
        pairs = self.rows("SELECT DISTINCT from_state, to_state FROM events WHERE chat IS NOT NULL")
        bad = [(f, t) for f, t in pairs if (f, t) not in legal]
        for from_state, to_state in sorted(bad, key=repr):
            self.report(
                "SELECT seq, chat FROM events WHERE chat IS NOT NULL AND from_state IS ? AND to_state IS ? ORDER BY seq",
                lambda seq, chat, f=from_state, t=to_state: f"event {seq}: chat {_name(chat)} went {f!r} -> {t!r},"
                " which no transition allows",
                from_state,
                to_state,
            )
        # The chain: the first event of a chat starts from nothing, each next one from where the last left it.
        # (A correlated lookup on the (chat, seq) index: about twice as fast as LAG() over a partition.)
        self.report(
            "SELECT seq, chat, from_state, (SELECT max(p.seq) FROM events p WHERE p.chat = e.chat AND p.seq < e.seq),"
            " prev_to FROM (SELECT e.seq, e.chat, e.from_state, (SELECT p.to_state FROM events p"
            " WHERE p.chat = e.chat AND p.seq < e.seq ORDER BY p.seq DESC LIMIT 1) AS prev_to FROM events e"
            " WHERE e.chat IS NOT NULL) e WHERE from_state IS NOT prev_to ORDER BY seq",
            self._chain_message,
        )
        # The end of the chain is where the chat is now.
        self.report(
            "SELECT c.id, c.state, e.seq, e.to_state FROM chats c"
            " LEFT JOIN events e ON e.seq = (SELECT max(seq) FROM events x WHERE x.chat = c.id)"
            " WHERE e.seq IS NULL OR e.to_state IS NOT c.state ORDER BY c.number",
            lambda chat, state, seq, to_state: f"chat {_name(chat)}: {state}, but it has no events"
            if seq is None
            else f"chat {_name(chat)}: {state}, but the replay of its events ends in {to_state!r} (event {seq})",
        )
        self.report(
            "SELECT c.id, c.closed_at_ms, e.seq, e.at_ms FROM chats c"
            " JOIN events e ON e.seq = (SELECT max(seq) FROM events x WHERE x.chat = c.id)"
            " WHERE c.state = 'closed' AND e.to_state = 'closed' AND e.at_ms IS NOT c.closed_at_ms ORDER BY c.number",
            lambda chat, closed, seq, at: f"chat {_name(chat)}: closed at {_time(closed)},"
            f" but its closing event {seq} is at {_time(at)}",
        )

    @staticmethod
    def _chain_message(seq, chat, from_state, prev_seq, prev_to) -> str:
        if prev_seq is None:
            return f"event {seq}: the first event of chat {_name(chat)} starts from {from_state!r}, not from nothing"
        return (
            f"event {seq}: chat {_name(chat)} goes from {from_state!r}, but its previous event {prev_seq}"
            f" left it {prev_to!r}"
        )


def check(conn: sqlite3.Connection, limit: int = DEFAULT_LIMIT) -> list[str]:
    """Every invariant violation of the chatemu database on ``conn``; empty when clean.

    Reads only, in one read transaction (a consistent snapshot even while
    other processes write), unless the caller already holds a transaction.
    """
    own = not conn.in_transaction
    try:
        if own:
            conn.execute("BEGIN")
        try:
            return _Checker(conn, limit).run()
        finally:
            if own and conn.in_transaction:
                conn.execute("ROLLBACK")
    except sqlite3.Error as exc:
        raise DatabaseError(f"cannot check the database: {exc}") from None


def check_path(path: str | Path, limit: int = DEFAULT_LIMIT) -> list[str]:
    """Check the database file at ``path`` as the next command would read it; nothing is written.

    It is opened as read-only commands open it (``schema.open_read``): where the
    file and its folder may be written, by an ordinary connection (SQLite rolls
    back a transaction a killed process left half-done, as any next command
    would, and removes the ``-wal``/``-shm`` files it made); elsewhere read-only,
    refusing (``DatabaseError``) what it cannot read as committed rather than
    judge something else.  ``DatabaseError`` also for a missing file, a folder,
    a file that is not SQLite, a SQLite file that is not chatemu's, or a newer
    schema than this chatemu's.
    """
    path = Path(path)
    if path.is_dir():
        raise DatabaseError(f"cannot check {path}: it is a folder")
    if not path.exists():
        raise DatabaseError(f"cannot check {path}: no such file")
    conn, _status, _writable = schema.open_read(str(path))
    if conn is None:
        raise DatabaseError(f"{path} is not a chatemu database (it is empty)")
    try:
        conn.execute("PRAGMA query_only = ON")
        return check(conn, limit)
    finally:
        conn.close()
