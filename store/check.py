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
- the modes: an untimed wrap-up (no timer at all) has nothing to extend (extension 0, none
  left); a chat closed before wrap-up (``no-wrapup``, ``wrapup-skipped``) never had one, and
  its history closes it from ``new``, ``active`` or ``parked`` only with one of those reasons
  (``wrapup-skipped`` only from ``active``); an ``unavailable`` agent has no ``new`` chat; with
  ``call-parks-chats on`` no agent on a call has an active item, with ``off`` no chat is marked
  ``parked_by_call`` (the key changes only while no agent is on a call).  How many chats a
  queue holds is no invariant: ``max-queue-length`` refuses only ``chat new``, and returns,
  transfers, a disconnect and lowering the limit may leave a queue above it;
- events: ``seq`` runs 1, 2, 3, … with nothing missing and nothing above the
  AUTOINCREMENT counter; times never go backwards nor past the clock; every
  chat event names a chat that exists and a legal transition (creation as
  ``queued`` or ``new``, or a move of ``core.TRANSITIONS``); agent events
  (no chat: presence and calls) are checked for order here, for their
  causes and statuses below;
- replay: each chat's events, in ``seq`` order, start from nothing and chain
  (each ``from`` is the previous ``to``), and the last ``to`` is the chat's
  state (and, for a closed chat, the last event is at its closing instant);
- every event has a known cause (``core.CAUSES``), names a chat or an agent (but a
  ``profile`` event: neither, going from a known profile or none to a known profile), and
  its queue (schema 5 on) is null or a valid queue name; an agent's status event
  goes from a status (or from nothing, its first) to a status;
- messages (schema 3 on): each names a chat that exists, ``seq`` runs 1, 2, 3 …
  within its chat, the sender is ``customer`` or an agent that exists, the
  text is 1 to 10,000 characters, and it is not before the chat's creation nor
  after the clock; a customer's message is never after the customer left (the
  chat's first move into wrap-up or closed);
- unread: never negative, never more than the chat's customer messages, and 0
  on an active chat;
- every chat has its ``origin_queue``; one never transferred is in it;
  ``transfers`` is the number of its ``transfer`` events; ``abusive`` is 0 or 1;
- a classification (and its note) and the abusive flag only on a chat that has
  been in a state that allows them (active, parked or wrap-up); a note only
  with a classification;
- every chat's contact exists;
- the journal of refusals (schema 6 on): each row has a time within 0001-01-01 …
  9999-12-31, a valid agent id, exit code 3 or 4, a command line as typed (not
  empty, no NUL: ``validate.command_problem``; of any length: the journal keeps a
  long one bounded, ``refusals.bounded``, an older chatemu kept it whole) and a
  message of one line without control characters (``validate.line_problem``)
  (its times are not held to the clock: a real clock's refusal is dated on the
  wall clock, which is stored only by a command that changes something);
- webhooks (schema 7 on): one log row (a tag or none yet, a generation); each endpoint's
  URL (http or https, with a host), event patterns and ``whsec_`` secret as
  ``webhook add`` takes them, a disabling time exactly with its reason, a
  generation no later than the log's and a cursor that is a seq (or -1); each
  delivery record names an endpoint, with at least one attempt;
- each agent's kept free flag (whether a queued chat may be presented to it now) is what
  its presence, call, chats and capacity make it (or not worked out yet);
- every stored value obeys the rules the command line enforces, whatever way
  it came in: names and ids (chats, agents, queues, snapshots, templates),
  customer and contact names, message texts, priorities, times within
  0001-01-01 … 9999-12-31 (an agent's, a message's too), message numbers from 1,
  snapshots' counts, durations and counts never negative, known config
  keys with valid values (per queue only where a key may be), a known clock
  mode, and a next chat number above every chat's.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from . import config as cfg
from . import core, profiles, schema
from .clock import MODES
from .errors import ChatemuError, DatabaseError
from .clocks import BREAK_LIMITS, DEADLINES, encode_limits, parse_limits
from .refusals import JOURNALED
from .timefmt import MAX_MS, MIN_MS, format_time
from .validate import (MAX_STORED_COUNTER, PRIORITY_RANGE, command_problem, customer_problem, is_name, line_problem,
                       text_problem)

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
    pairs.update(core.every_pair())  # of every wrap-up mode, with calls that park or not
    return pairs


def _limits_ok(value) -> bool:
    """A break-limits row as ``break-reason add R --limit D`` writes it."""
    try:
        limits = parse_limits(value)
    except (ValueError, AttributeError):
        return False
    return bool(limits) and encode_limits(limits) == value and all(
        is_name(reason) and 0 <= ms <= MAX_MS - MIN_MS for reason, ms in limits.items())


class _Checker:
    def __init__(self, conn: sqlite3.Connection, limit: int):
        self.conn = conn
        self.cur = conn.cursor()
        self.cur.row_factory = None  # plain tuples, whatever the connection uses
        self.limit = limit
        self.found: list[str] = []

    def rows(self, sql: str, *params) -> list[tuple]:
        return self.cur.execute(sql, params).fetchall()

    def one(self, sql: str, *params):
        row = self.cur.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def _simulation(self, queue: str, value) -> None:
        """An unfinished simulation's plan (``config.SIMULATION``): a JSON object, for no queue."""
        import json

        try:
            ok = not queue and isinstance(value, str) and isinstance(json.loads(value), dict)
        except ValueError:
            ok = False
        if not ok:
            self.found.append(f"config: {cfg.SIMULATION} holds {value[:60] if isinstance(value, str) else value!r},"
                              " not a simulation's plan (a JSON object)")

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
        self.version = self.one("PRAGMA user_version")
        now = self.clock()
        self.values()
        self.rules()
        self.active_items()
        self.owners()
        self.timers(now)
        self.closing(now)
        self.call_marks()
        self.modes()
        self.event_order(now)
        self.replay()
        if self.version >= 3:
            self.webchat(now)
        if self.version >= 5:
            self.agents_queues()
        if self.version >= 6:
            self.refusals()
        if self.version >= 7:
            self.webhooks()
        if self.version >= 8:
            self.clocks(now)
        if self.version >= 9:
            self.free_flags()
        return self.found

    def free_flags(self) -> None:
        """Each agent's kept free flag is what its facts make it (``free.py``)."""
        from . import free

        wrong = free.problems(self.conn)
        for agent, kept, should in wrong[:self.limit]:
            self.found.append(f"agent {_name(agent)}: kept as {'free' if kept else 'not free'} for a queued chat,"
                              f" but its presence, call, chats and capacity make it {'free' if should else 'not free'}")
        if len(wrong) > self.limit:
            self.found.append(f"… and {len(wrong) - self.limit} more like the line above")

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

    def rules(self) -> None:
        """Every stored value as the command line would have accepted it."""
        fn = self.conn.create_function
        fn("chatemu_bad_name", 1, lambda v: not is_name(v), deterministic=True)
        fn("chatemu_bad_customer", 1, lambda v: v is not None and customer_problem(v) is not None, deterministic=True)
        fn("chatemu_bad_text", 1, lambda v: text_problem(v) is not None, deterministic=True)
        fn("chatemu_bad_line", 1, lambda v: line_problem(v) is not None, deterministic=True)
        fn("chatemu_bad_command", 1, lambda v: command_problem(v) is not None, deterministic=True)
        time = f"NOT (typeof({{0}}) = 'integer' AND {{0}} BETWEEN {MIN_MS} AND {MAX_MS})"
        span = f"NOT (typeof({{0}}) = 'integer' AND {{0}} BETWEEN 0 AND {MAX_MS - MIN_MS})"

        def bad_times(columns, kind=time, nullable=()):
            return " OR ".join(
                (f"({c} IS NOT NULL AND {kind.format(c)})" if c in nullable else kind.format(c)) for c in columns)

        for mode, now, offset, next_chat in self.rows("SELECT mode, now_ms, offset_ms, next_chat FROM meta WHERE id = 1"):
            if mode not in MODES:
                self.found.append(f"meta: clock mode {mode!r} is not one of {', '.join(MODES)}")
            if not isinstance(now, int) or not MIN_MS <= now <= MAX_MS:
                self.found.append(f"meta: the stored clock {now!r} is not a time from 0001-01-01 to 9999-12-31")
            if not isinstance(offset, int) or abs(offset) > MAX_MS - MIN_MS:
                self.found.append(f"meta: the real-clock offset {offset!r} is not a whole number of milliseconds in range")
            top = self.one("SELECT max(number) FROM chats") or 0
            if not isinstance(next_chat, int) or next_chat <= top or next_chat > MAX_STORED_COUNTER:
                self.found.append(f"meta: the next chat number {next_chat!r} is not above every chat's (highest {top})")
        for queue, key, value in self.rows("SELECT queue, key, value FROM config ORDER BY queue, key"):
            where = f" for queue {_name(queue)}" if queue else ""
            if key == cfg.QUEUES_ADDED:
                if queue or value != "on":
                    self.found.append(f"config: {key}{where} holds {value!r}, not a valid value")
                continue
            if key == profiles.PROFILE:
                if value not in profiles.PROFILES or (queue and not is_name(queue)):
                    self.found.append(f"config: {key}{where} holds {value!r}, not a known profile"
                                      + ("" if not queue or is_name(queue) else " (nor a valid queue name)"))
                continue
            if key == cfg.SIMULATION:
                self._simulation(queue, value)
                continue
            if key == BREAK_LIMITS:
                if queue or not _limits_ok(value):
                    self.found.append(f"config: {key}{where} holds {value!r}, not a valid value")
                continue
            if key not in cfg.KEYS:
                self.found.append(f"config: unknown key {_name(key)}{where}")
                continue
            k = cfg.KEYS[key]
            if queue and (not k.per_queue or not is_name(queue)):
                self.found.append(f"config: {key} set for queue {_name(queue)}, which "
                                  + ("is not a valid queue name" if k.per_queue else "it cannot be set per queue"))
            try:
                ok = isinstance(value, str) and cfg.encode(k, cfg.parse_value(k, value if k.kind != "duration" or value == "off" else f"{value}ms")) == value
            except ChatemuError:
                ok = False
            if not ok:
                self.found.append(f"config: {key}{where} holds {value!r}, not a valid value")
        agent_times = ["last_activity_ms", "created_at_ms"] + (["queues_since_ms"] if self.version >= 5 else [])
        self.report(
            "SELECT id FROM agents WHERE chatemu_bad_name(id) OR "
            + bad_times(agent_times, nullable=("queues_since_ms",)) + " ORDER BY id",
            lambda agent: f"agent {_name(agent)}: a bad id or time",
        )
        names = ["id", "queue"] + (["origin_queue"] if self.version >= 3 else [])
        customers = ["customer"] + (["contact"] if self.version >= 3 else [])
        low, high = PRIORITY_RANGE
        self.report(
            "SELECT id, number FROM chats WHERE "
            + " OR ".join(f"chatemu_bad_name({c})" for c in names)
            + " OR " + " OR ".join(f"chatemu_bad_customer({c})" for c in customers)
            + f" OR NOT (typeof(priority) = 'integer' AND priority BETWEEN {low} AND {high})"
            + " OR NOT (typeof(number) = 'integer' AND number >= 1)"
            + " OR " + bad_times(["created_at_ms", "state_since_ms", "closed_at_ms", "wrapup_deadline_ms"],
                                 nullable=("closed_at_ms", "wrapup_deadline_ms"))
            + " OR " + bad_times(["active_ms", "parked_ms", "wrapup_ms", "wrapup_remaining_ms", "extension_ms"],
                                 span, nullable=("wrapup_remaining_ms", "extension_ms"))
            + " OR (extensions_left IS NOT NULL AND NOT (typeof(extensions_left) = 'integer'"
            " AND extensions_left BETWEEN 0 AND 1000)) ORDER BY number",
            lambda chat, number: f"chat {_name(chat)}: a value out of its rules (id, queue, customer, contact,"
            " priority, number, a time before 0001-01-01 or after 9999-12-31, a negative duration or count)",
        )
        self.report(
            f"SELECT seq, at_ms FROM events WHERE {time.format('at_ms')} ORDER BY seq",
            lambda seq, at: f"event {seq}: at {at!r}, not a time from 0001-01-01 to 9999-12-31",
        )
        self.report(
            "SELECT DISTINCT agent FROM events WHERE agent IS NOT NULL AND chatemu_bad_name(agent)",
            lambda agent: f"events: agent {_name(agent)} is not a valid agent id",
        )
        self.report(
            f"SELECT seq, cause FROM events WHERE cause IS NULL OR cause NOT IN {_in(core.CAUSES)} ORDER BY seq",
            lambda seq, cause: f"event {seq}: unknown cause {_name(cause)}",
        )
        self.report(
            f"SELECT seq FROM events WHERE chat IS NULL AND agent IS NULL AND cause IS NOT '{profiles.PROFILE}' ORDER BY seq",
            lambda seq: f"event {seq}: names neither a chat nor an agent",
        )
        known = _in(profiles.NAMES)
        self.report(
            f"SELECT seq FROM events WHERE cause = '{profiles.PROFILE}' AND (chat IS NOT NULL OR agent IS NOT NULL"
            f" OR to_state IS NULL OR to_state NOT IN {known} OR (from_state IS NOT NULL AND from_state NOT IN {known}))"
            " ORDER BY seq",
            lambda seq: f"event {seq}: a profile event names a chat or an agent, or a profile chatemu does not know",
        )
        # An agent's status event goes from a status (or from nothing: its first) to a status.
        statuses = _in(core.STATUSES)
        self.report(
            f"SELECT seq, agent, from_state FROM events WHERE chat IS NULL AND agent IS NOT NULL AND from_state IS NOT NULL"
            f" AND from_state NOT IN {statuses} ORDER BY seq",
            lambda seq, agent, from_state: f"event {seq}: agent {_name(agent)} went from {_name(from_state)},"
            " not a status",
        )
        if self.version >= 5:
            self.report(
                "SELECT seq, queue FROM events WHERE queue IS NOT NULL AND chatemu_bad_name(queue) ORDER BY seq",
                lambda seq, queue: f"event {seq}: queue {_name(queue)} is not a valid queue name",
            )
        if self.version >= 4:
            self.report(
                "SELECT name FROM snapshots WHERE NOT (typeof(chats) = 'integer' AND chats >= 0)"
                " OR NOT (typeof(events_seq) = 'integer' AND events_seq >= 0) ORDER BY name",
                lambda name: f"snapshot {_name(name)}: a bad count of chats or event sequence",
            )
        if self.version >= 2:
            self.report(
                f"SELECT name FROM snapshots WHERE chatemu_bad_name(name) OR {time.format('created_at_ms')} ORDER BY name",
                lambda name: f"snapshot {_name(name)}: a bad name or time",
            )
        if self.version >= 3:
            self.report(
                "SELECT queue, name FROM templates WHERE chatemu_bad_name(name) OR (queue != '' AND chatemu_bad_name(queue))"
                " OR chatemu_bad_text(text) ORDER BY queue, name",
                lambda queue, name: f"template {_name(name)}" + (f" of queue {_name(queue)}" if queue else "")
                + ": a bad name, queue or text",
            )
            self.report(
                "SELECT queue, code FROM classification_codes WHERE chatemu_bad_customer(code) OR code IS NULL"
                " OR (queue != '' AND chatemu_bad_name(queue)) ORDER BY queue, code",
                lambda queue, code: f"classification code {_name(code)}: a bad code or queue",
            )
            self.report(
                f"SELECT name FROM contacts WHERE chatemu_bad_customer(name) OR name IS NULL OR {time.format('created_at_ms')}"
                " ORDER BY name",
                lambda name: f"contact {_name(name)}: a bad name or time",
            )
            self.report(
                "SELECT id FROM chats WHERE classification IS NOT NULL AND chatemu_bad_customer(classification)"
                " OR classification_note IS NOT NULL AND chatemu_bad_text(classification_note) ORDER BY number",
                lambda chat: f"chat {_name(chat)}: a bad classification or note",
            )

    def active_items(self) -> None:
        self.report(
            f"SELECT agent, count(*), group_concat(id || ' (' || state || ')', ', ') FROM chats"
            f" WHERE agent IS NOT NULL AND state IN {_in(_ACTIVE)} GROUP BY agent HAVING count(*) > 1 ORDER BY agent",
            lambda agent, n, chats: f"agent {_name(agent)}: {n} active items, at most one allowed: {chats}",
        )
        if self.calls_park():
            self._parked_by_calls()
        else:
            self.report(
                "SELECT id, state FROM chats WHERE parked_by_call != 0 ORDER BY number",
                lambda chat, state: f"chat {_name(chat)}: marked parked_by_call ({state}) but calls park no chat"
                " (call-parks-chats off)",
            )

    def calls_park(self) -> bool:
        """The ``call-parks-chats`` setting stored (it changes only while no agent is on a call)."""
        if not self.one("SELECT count(*) FROM sqlite_master WHERE name = 'config'"):
            return True
        return self.one("SELECT value FROM config WHERE queue = '' AND key = 'call-parks-chats'") != "off"

    def modes(self) -> None:
        """The wrap-up modes' and an agent's connection's invariants."""
        self.report(
            "SELECT id, closed_reason FROM chats WHERE closed_reason IN ('wrapup-skipped', 'no-wrapup')"
            " AND (extensions_left IS NOT NULL OR wrapup_ms != 0) ORDER BY number",
            lambda chat, reason: f"chat {_name(chat)}: closed as {reason} but it was in wrap-up",
        )
        self.report(
            "SELECT e.chat, e.from_state, c.closed_reason FROM events e JOIN chats c ON c.id = e.chat"
            " WHERE e.to_state = 'closed' AND e.from_state IN ('new', 'active', 'parked') AND NOT"
            " (c.closed_reason IS 'no-wrapup' OR (e.from_state = 'active' AND c.closed_reason IS 'wrapup-skipped'))"
            " ORDER BY e.seq",
            lambda chat, before, reason: f"chat {_name(chat)} went {before!r} -> 'closed', which no transition allows"
            f" (closed as {reason!r}: only wrapup-mode off closes a chat before wrap-up, and optional from active)",
        )
        self.report(
            "SELECT c.id, c.agent FROM chats c JOIN agents a ON a.id = c.agent"
            " WHERE c.state = 'new' AND a.presence = 'unavailable' ORDER BY c.number",
            lambda chat, agent: f"chat {_name(chat)}: new in the inbox of {_name(agent)}, who is unavailable"
            " (a disconnected agent is offered nothing)",
        )

    def _parked_by_calls(self) -> None:
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
        # An untimed wrap-up (wrapup-mode untimed) has no timer at all, and nothing to extend.
        untimed = ("(wrapup_deadline_ms IS NULL AND wrapup_remaining_ms IS NULL"
                   " AND extension_ms IS 0 AND extensions_left IS 0)")
        self.report(
            "SELECT id FROM chats WHERE state = 'active-wrapup' AND wrapup_deadline_ms IS NULL"
            f" AND NOT {untimed} ORDER BY number",
            lambda chat: f"chat {_name(chat)}: active-wrapup without a wrap-up deadline",
        )
        self.report(
            "SELECT id FROM chats WHERE state = 'parked-wrapup' AND wrapup_remaining_ms IS NULL"
            f" AND NOT {untimed} ORDER BY number",
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
        counter = self.one("SELECT seq FROM sqlite_sequence WHERE name = 'events'")
        if counter is not None and not (isinstance(counter, int) and 0 <= counter <= MAX_STORED_COUNTER):
            self.found.append(f"events: the sequence counter {counter!r} is not a number from 0 to"
                              f" {MAX_STORED_COUNTER} (no room for more events)")
            counter = counter if isinstance(counter, int) else None
        count, top, bottom = self.rows("SELECT count(*), max(seq), min(seq) FROM events")[0]
        if not count and counter:
            self.found.append(f"events: the sequence counter is {counter!r} but there are no events:"
                              " the next event would leave a gap")
        if count:
            if bottom < 1:
                self.found.append(f"events: seq {bottom} is not a positive number")
            if counter is None or top > counter:
                self.found.append(
                    f"events: seq {top} is above the AUTOINCREMENT counter {counter}: seq was rewritten, not appended"
                )
            elif counter > top:
                self.found.append(f"events: the sequence counter {counter} is above the last event's seq {top}:"
                                  " the next event would leave a gap")
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

    def agents_queues(self) -> None:
        """Statuses, breaks, capacities, queues and who serves them."""
        statuses = _in(core.STATUSES)
        derived = (
            "CASE WHEN a.on_call THEN 'on-call'"
            " WHEN EXISTS (SELECT 1 FROM chats c WHERE c.agent = a.id AND c.state = 'active') THEN 'handling-chat'"
            " WHEN EXISTS (SELECT 1 FROM chats c WHERE c.agent = a.id AND c.state = 'active-wrapup') THEN 'wrap-up'"
            " ELSE a.presence END"
        )
        self.report(
            f"SELECT a.id, a.status, {derived} FROM agents a WHERE a.status IS NULL OR a.status NOT IN {statuses}"
            f" OR a.status IS NOT {derived} ORDER BY a.id",
            lambda agent, stored, should: f"agent {_name(agent)}: its status is {stored!r}, but its presence,"
            f" call and active chat make it {should!r}",
        )
        # The agent's status events replay to its status: the last one ends there, when it began.
        self.report(
            "SELECT a.id, a.status, a.status_since_ms, e.seq, e.to_state, e.at_ms FROM agents a"
            " LEFT JOIN events e ON e.seq = (SELECT max(x.seq) FROM events x WHERE x.agent = a.id AND x.chat IS NULL)"
            " WHERE e.seq IS NULL OR e.to_state IS NOT a.status OR e.at_ms IS NOT a.status_since_ms ORDER BY a.id",
            lambda agent, status, since, seq, to_state, at: f"agent {_name(agent)}: {status}, but it has no status"
            " events" if seq is None else f"agent {_name(agent)}: {status} since {since!r}, but the replay of its"
            f" status events ends in {to_state!r} at {at!r} (event {seq})",
        )
        # Each status event starts where the agent's last one left it.
        self.report(
            "SELECT seq, agent, from_state, prev FROM (SELECT e.seq, e.agent, e.from_state, (SELECT p.to_state"
            " FROM events p WHERE p.agent = e.agent AND p.chat IS NULL AND p.seq < e.seq ORDER BY p.seq DESC LIMIT 1)"
            " AS prev FROM events e WHERE e.chat IS NULL AND e.agent IS NOT NULL) WHERE from_state IS NOT prev"
            " AND prev IS NOT NULL ORDER BY seq",
            lambda seq, agent, from_state, prev: f"event {seq}: agent {_name(agent)} went from {from_state!r},"
            f" but its last status event left it {prev!r}",
        )
        self.report(
            f"SELECT seq, agent, to_state FROM events WHERE chat IS NULL AND agent IS NOT NULL"
            f" AND (to_state IS NULL OR to_state NOT IN {statuses})"
            " ORDER BY seq",
            lambda seq, agent, to_state: f"event {seq}: agent {_name(agent)} went to {to_state!r}, not a status",
        )
        self.report(
            "SELECT id, presence, break_reason FROM agents WHERE (break_reason IS NOT NULL AND"
            " (presence != 'break' OR chatemu_bad_name(break_reason)))"
            " OR (max_chats IS NOT NULL AND NOT (typeof(max_chats) = 'integer' AND max_chats BETWEEN 1 AND 1000))"
            f" OR NOT (typeof(status_since_ms) = 'integer' AND status_since_ms BETWEEN {MIN_MS} AND {MAX_MS})"
            " ORDER BY id",
            lambda agent, presence, reason: f"agent {_name(agent)}: a bad break reason ({reason!r} while {presence}),"
            " capacity or status time",
        )
        self.report(
            "SELECT a.id, count(*) FROM agents a JOIN chats c ON c.agent = a.id AND c.state IN ('new', 'active', 'parked', 'active-wrapup', 'parked-wrapup')"
            " WHERE a.presence = 'logged-out' GROUP BY a.id ORDER BY a.id",
            lambda agent, count: f"agent {_name(agent)}: logged out with {count} open chat(s)",
        )
        self.report(
            "SELECT name FROM queues WHERE chatemu_bad_name(name)"
            f" OR NOT (typeof(created_at_ms) = 'integer' AND created_at_ms BETWEEN {MIN_MS} AND {MAX_MS}) ORDER BY name",
            lambda queue: f"queue {_name(queue)}: a bad name or time",
        )
        self.report(
            "SELECT c.id, q FROM (SELECT id, number, queue AS q FROM chats UNION ALL SELECT id, number, origin_queue"
            " FROM chats WHERE origin_queue IS NOT NULL) c WHERE NOT EXISTS (SELECT 1 FROM queues WHERE name = c.q)"
            " ORDER BY c.number",
            lambda chat, queue: f"chat {_name(chat)}: its queue {_name(queue)} does not exist",
        )
        self.report(
            "SELECT agent, queue FROM agent_queues g WHERE NOT EXISTS (SELECT 1 FROM agents WHERE id = g.agent)"
            " OR NOT EXISTS (SELECT 1 FROM queues WHERE name = g.queue) OR enabled NOT IN (0, 1)"
            " OR typeof(position) != 'integer' OR position < 0 ORDER BY agent, queue",
            lambda agent, queue: f"agent {_name(agent)}'s queue {_name(queue)}: an unknown agent or queue,"
            " or a bad position or on/off flag",
        )
        self.report(
            "SELECT agent, position FROM agent_queues GROUP BY agent, position HAVING count(*) > 1 ORDER BY agent",
            lambda agent, position: f"agent {_name(agent)}: two queues at position {position}",
        )
        # Presented only from a queue the agent serves (assigned, switched on; no assignment: every queue),
        # judged by the chats presented after the agent's queues last changed: at that very instant a chat
        # may have been presented before the change (from a queue the agent served until then).
        self.report(
            "SELECT e.seq, e.chat, e.agent, c.queue FROM chats c JOIN events e ON e.seq ="
            " (SELECT max(x.seq) FROM events x WHERE x.chat = c.id) JOIN agents a ON a.id = c.agent"
            " WHERE c.state = 'new' AND e.cause = 'presentation'"
            " AND (a.queues_since_ms IS NULL OR e.at_ms > a.queues_since_ms)"
            " AND EXISTS (SELECT 1 FROM agent_queues g WHERE g.agent = a.id) AND NOT EXISTS (SELECT 1 FROM"
            " agent_queues g WHERE g.agent = a.id AND g.queue = c.queue AND g.enabled = 1) ORDER BY e.seq",
            lambda seq, chat, agent, queue: f"event {seq}: chat {_name(chat)} was presented to {_name(agent)}"
            f" from queue {_name(queue)}, which it does not serve",
        )

    def refusals(self) -> None:
        """The journal of refusals: each row a refusal as the command line journals it."""
        self.report(
            "SELECT seq FROM refusals WHERE NOT (typeof(seq) = 'integer' AND seq >= 1)"
            f" OR NOT (typeof(at_ms) = 'integer' AND at_ms BETWEEN {MIN_MS} AND {MAX_MS})"
            f" OR chatemu_bad_name(agent) OR ifnull(exit_code, 0) NOT IN ({', '.join(map(str, JOURNALED))})"
            " OR chatemu_bad_command(command) OR chatemu_bad_line(message) ORDER BY seq",
            lambda seq: f"refusal {seq}: a bad time, agent, exit code (3 or 4), command or message",
        )

    def webhooks(self) -> None:
        """Webhooks: one log row; each endpoint's URL, patterns and secret as ``webhook add`` takes
        them, its cursor and generation within the log's; each delivery record of an endpoint."""
        from . import webhooks as wh

        logs = self.rows("SELECT id, tag, generation FROM webhook_log")
        if len(logs) != 1 or logs[0][0] != 1 or not (logs[0][1] is None or isinstance(logs[0][1], str) and logs[0][1]) \
                or not isinstance(logs[0][2], int) or logs[0][2] < 0:
            self.found.append(f"webhook_log: expected one row with id 1, a tag (or none yet) and a generation 0 or more,"
                              f" found {len(logs)} row(s)")
        generation = logs[0][2] if len(logs) == 1 and isinstance(logs[0][2], int) else None
        for wid, url, events, secret, created, disabled, why, gen, cursor in self.rows(
                "SELECT id, url, events, secret, created_at_ms, disabled_at_ms, disabled_why, generation, cursor"
                " FROM webhooks ORDER BY id"):
            problems = []
            if wh.url_problem(url):
                problems.append(f"its URL: {wh.url_problem(url)}")
            try:
                if not isinstance(events, str) or wh.check_patterns(events) != events.split():
                    problems.append("its event patterns are repeated or missing")
            except ChatemuError:
                problems.append(f"its event patterns {events!r} are not valid")
            if wh.secret_problem(secret):
                problems.append(f"its secret: {wh.secret_problem(secret)}")
            if not (isinstance(created, int) and MIN_MS <= created <= MAX_MS):
                problems.append("its creation time is not a time")
            if (disabled is None) != (why is None) or (disabled is not None and not (
                    isinstance(disabled, int) and MIN_MS <= disabled <= MAX_MS and isinstance(why, str) and why)):
                problems.append("a disabling time without its reason, or a reason without its time")
            if not isinstance(gen, int) or gen < 0 or (generation is not None and gen > generation):
                problems.append(f"its generation {gen!r} is not one of the log's (0 to {generation})")
            if not isinstance(cursor, int) or cursor < -1:
                problems.append(f"its cursor {cursor!r} is not a seq")
            self.found.extend(f"webhook {wid}: {p}" for p in problems[: self.limit])
        self.report(
            "SELECT d.webhook, d.generation, d.seq FROM webhook_deliveries d"
            " WHERE NOT EXISTS (SELECT 1 FROM webhooks w WHERE w.id = d.webhook)"
            " OR NOT (typeof(d.attempts) = 'integer' AND d.attempts >= 1) OR NOT (typeof(d.seq) = 'integer' AND d.seq >= 0)"
            " OR d.delivered NOT IN (0, 1) OR NOT (typeof(d.first_ms) = 'integer' AND typeof(d.last_ms) = 'integer'"
            " AND d.first_ms <= d.last_ms) ORDER BY d.webhook, d.generation, d.seq",
            lambda webhook, gen, seq: f"webhook delivery {webhook}/{gen}/{seq}: names no webhook, or has a bad"
            " attempt count, seq, flag or time",
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

    def webchat(self, now: int | None) -> None:
        self.report(
            "SELECT m.chat, m.seq FROM messages m LEFT JOIN chats c ON c.id = m.chat WHERE c.id IS NULL"
            " ORDER BY m.chat, m.seq",
            lambda chat, seq: f"message {seq} of chat {_name(chat)}: the chat does not exist",
        )
        self.report(
            "SELECT chat, count(*), min(seq), max(seq) FROM messages GROUP BY chat"
            " HAVING min(seq) != 1 OR max(seq) != count(*) ORDER BY chat",
            lambda chat, n, low, high: f"chat {_name(chat)}: its {n} message(s) are numbered {low} to {high},"
            " not 1, 2, 3 …",
        )
        self.report(
            "SELECT m.chat, m.seq, m.sender FROM messages m LEFT JOIN agents a ON a.id = m.sender"
            " WHERE m.sender IS NOT 'customer' AND a.id IS NULL ORDER BY m.chat, m.seq",
            lambda chat, seq, sender: f"message {seq} of chat {_name(chat)}: from {_name(sender)},"
            " neither the customer nor an agent that exists",
        )
        self.report(
            "SELECT chat, seq, at_ms FROM messages WHERE NOT (typeof(seq) = 'integer' AND seq >= 1)"
            f" OR NOT (typeof(at_ms) = 'integer' AND at_ms BETWEEN {MIN_MS} AND {MAX_MS}) ORDER BY chat, seq",
            lambda chat, seq, at: f"message {seq!r} of chat {_name(chat)}: a bad number or time ({_time(at)})",
        )
        self.report(
            "SELECT chat, seq, length(text) FROM messages WHERE chatemu_bad_text(text) ORDER BY chat, seq",
            lambda chat, seq, n: f"message {seq} of chat {_name(chat)}: its text ({n} characters) is not 1 to 10000"
            " characters without control characters",
        )
        self.report(
            "SELECT m.chat, m.seq, m.at_ms, c.created_at_ms FROM messages m JOIN chats c ON c.id = m.chat"
            " WHERE m.at_ms < c.created_at_ms OR m.at_ms > ? ORDER BY m.chat, m.seq",
            lambda chat, seq, at, created: f"message {seq} of chat {_name(chat)}: at {_time(at)}, before the chat"
            f" was created ({_time(created)}) or after the stored clock",
            now if now is not None else 2**62,
        )
        self.report(
            "SELECT m.chat, m.seq, m.at_ms, g.left_at FROM messages m JOIN (SELECT chat, min(at_ms) AS left_at"
            f" FROM events WHERE chat IS NOT NULL AND to_state IN {_in(_WRAPUP + (core.CLOSED,))} GROUP BY chat) g"
            " ON g.chat = m.chat WHERE m.sender = 'customer' AND m.at_ms > g.left_at ORDER BY m.chat, m.seq",
            lambda chat, seq, at, left: f"message {seq} of chat {_name(chat)}: from the customer at {_time(at)},"
            f" after the customer left at {_time(left)}",
        )
        self.report(
            "SELECT c.id, c.state, c.unread, (SELECT count(*) FROM messages m WHERE m.chat = c.id"
            " AND m.sender = 'customer') AS received FROM chats c"
            " WHERE c.unread < 0 OR c.unread > received OR (c.state = 'active' AND c.unread != 0) ORDER BY c.number",
            lambda chat, state, unread, received: f"chat {_name(chat)}: {state} with {unread} unread of"
            f" {received} customer message(s)" + ("; an active chat has read them all" if state == "active" else ""),
        )
        self.report(
            "SELECT id, queue, origin_queue, transfers, (SELECT count(*) FROM events e WHERE e.chat = chats.id"
            " AND e.cause = 'transfer') AS made FROM chats WHERE origin_queue IS NULL OR origin_queue = ''"
            " OR transfers IS NOT made OR (transfers = 0 AND queue IS NOT origin_queue) ORDER BY number",
            lambda chat, queue, origin, transfers, made: f"chat {_name(chat)}: queue {queue!r}, origin queue"
            f" {origin!r}, {transfers!r} transfer(s) recorded but {made} transfer event(s)",
        )
        self.report(
            "SELECT id, abusive FROM chats WHERE abusive NOT IN (0, 1) ORDER BY number",
            lambda chat, flag: f"chat {_name(chat)}: abusive is {flag!r}, not 0 or 1",
        )
        self.report(
            "SELECT id, state, classification, abusive FROM chats c WHERE (classification IS NOT NULL OR abusive = 1)"
            " AND NOT EXISTS (SELECT 1 FROM events e WHERE e.chat = c.id AND e.to_state IN"
            f" {_in(core.CONVERSATION_OR_WRAPUP)}) ORDER BY number",
            lambda chat, state, code, abusive: f"chat {_name(chat)}: {state}, never active, parked or in wrap-up,"
            " yet " + ("classified" if code is not None else "flagged abusive"),
        )
        self.report(
            "SELECT id FROM chats WHERE classification_note IS NOT NULL AND classification IS NULL ORDER BY number",
            lambda chat: f"chat {_name(chat)}: a classification note without a classification",
        )
        self.report(
            "SELECT c.id, c.contact FROM chats c LEFT JOIN contacts k ON k.name = c.contact"
            " WHERE c.contact IS NOT NULL AND k.name IS NULL ORDER BY c.number",
            lambda chat, contact: f"chat {_name(chat)}: linked to contact {_name(contact)}, who does not exist",
        )

    def clocks(self, now: int | None) -> None:
        """The clocks beyond wrap-up: each timer runs only in the states of its kind, none is due
        at or before the stored clock, an alert only on an unanswered customer message, a
        not-responding agent presented nothing since, a break limit only on a break."""
        for kind, states in core.TIMER_STATES.items():
            if kind == core.K_WRAPUP:
                continue
            column = DEADLINES[kind]
            self.report(
                f"SELECT id, state, {column} FROM chats WHERE {column} IS NOT NULL"
                f" AND (state NOT IN {_in(states)} OR NOT (typeof({column}) = 'integer'"
                f" AND {column} BETWEEN {MIN_MS} AND {MAX_MS}) OR {column} <= ?) ORDER BY number",
                lambda chat, state, deadline, kind=kind: f"chat {_name(chat)}: {state} with"
                f" {'an' if kind[0] in 'aeiou' else 'a'} {kind} timer"
                f" ending {_time(deadline)}: it runs only while {' or '.join(core.TIMER_STATES[kind])},"
                " and not past the stored clock",
                now if now is not None else MAX_MS + 1,
            )
        present = _in(core.CUSTOMER_PRESENT)
        self.report(
            "SELECT id, state FROM chats WHERE (awaiting_since_ms IS NOT NULL OR alerting_since_ms IS NOT NULL)"
            f" AND state NOT IN {present} OR (alert_deadline_ms IS NOT NULL AND (awaiting_since_ms IS NULL"
            " OR alerting_since_ms IS NOT NULL)) OR (alerting_since_ms IS NOT NULL AND awaiting_since_ms IS NULL)"
            " OR patience_ms < 0 ORDER BY number",
            lambda chat, state: f"chat {_name(chat)}: {state} with a reply alert that does not fit its state"
            " (an alert needs a customer still there and a message awaiting a reply) or a negative patience",
        )
        # Awaiting a reply since the customer's oldest message that no agent message followed.
        self.report(
            "SELECT c.id, c.awaiting_since_ms FROM chats c WHERE c.awaiting_since_ms IS NOT NULL AND NOT EXISTS"
            " (SELECT 1 FROM messages m WHERE m.chat = c.id AND m.sender = 'customer' AND m.at_ms = c.awaiting_since_ms"
            " AND NOT EXISTS (SELECT 1 FROM messages r WHERE r.chat = c.id AND r.sender != 'customer' AND r.seq > m.seq))"
            " ORDER BY c.number",
            lambda chat, since: f"chat {_name(chat)}: awaits a reply since {_time(since)}, but no unanswered"
            " customer message is from then",
        )
        self.report(
            "SELECT a.id FROM agents a WHERE a.presence = 'not-responding' AND EXISTS (SELECT 1 FROM events e"
            " WHERE e.agent = a.id AND e.cause = 'presentation' AND e.seq > (SELECT max(x.seq) FROM events x"
            " WHERE x.agent = a.id AND x.chat IS NULL)) ORDER BY a.id",
            lambda agent: f"agent {_name(agent)}: not-responding, yet presented a chat since",
        )
        self.report(
            "SELECT id, presence FROM agents WHERE (break_deadline_ms IS NOT NULL OR overrun_since_ms IS NOT NULL)"
            " AND presence != 'break' OR (break_deadline_ms IS NOT NULL AND overrun_since_ms IS NOT NULL)"
            " OR break_deadline_ms <= ? ORDER BY id",
            lambda agent, presence: f"agent {_name(agent)}: {presence} with a break limit running or overrun"
            " (only a break has one, either running or overrun, and never past the stored clock)",
            now if now is not None else MAX_MS + 1,
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
