"""The persistence shell around the pure core.

Every public ``Engine`` method is one ``BEGIN IMMEDIATE`` transaction:

1. settle: every wrap-up timer due at or before now runs out, in time order,
   each at its exact instant, with presentation evaluated at that instant;
2. apply the command (through ``core.step``: the transition table);
3. settle again (a command can move the clock or start a zero-length timer);
4. present queued chats to idle agents;
5. append the events, store the clock, commit.

Any error rolls the whole transaction back: a refused command changes nothing.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator

from . import config as cfg
from . import core, schema
from .clock import MODES, REAL, VIRTUAL, clock_now, system_wall_ms
from .errors import Refused, UnknownChat, UsageError
from .timefmt import MAX_MS, format_duration, format_time, seconds

DEFAULT_AGENT = "agent-1"
DEFAULT_QUEUE = "default"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+-]{0,63}")
_CHAT_COLUMNS = (
    "id, number, state, agent, customer, queue, priority, created_at_ms, closed_at_ms, closed_reason,"
    " parked_by_call, wrapup_deadline_ms, wrapup_remaining_ms, extension_ms, extensions_left,"
    " state_since_ms, active_ms, parked_ms, wrapup_ms"
)
_OPEN = "('new', 'active', 'parked', 'active-wrapup', 'parked-wrapup')"
# Connections kept open across commands by ``shared_connections`` (``chatemu run``).
_shared: dict[str, tuple[sqlite3.Connection, str]] | None = None


@contextmanager
def shared_connections() -> Iterator[None]:
    """Within this block, each database's connection stays open between commands."""
    global _shared
    outer, _shared = _shared, {} if _shared is None else _shared
    try:
        yield
    finally:
        if outer is None:
            for conn, _ in _shared.values():
                conn.close()
        _shared = outer
_BUSY = "('new', 'active', 'active-wrapup')"


def shown(name: str) -> str:
    """A user-supplied name, safe to print on one line."""
    return name if _NAME.fullmatch(name) else repr(name)


def check_name(kind: str, name: str) -> str:
    if not _NAME.fullmatch(name):
        raise UsageError(
            f"bad {kind} {shown(name)}: use 1 to 64 letters, digits and . _ : @ + -, starting with a letter or digit"
        )
    return name


@dataclass
class Result:
    """What a command returns: its value (a JSON-ready object) and the events it appended."""

    value: object
    events: list[dict] = field(default_factory=list)


class Engine:
    """chatemu's engine over one database file, acting as one agent."""

    def __init__(self, path: str, agent: str = DEFAULT_AGENT, wall: Callable[[], int] = system_wall_ms):
        if not path:
            raise UsageError("empty database path")
        self.path = path
        self.key = os.path.abspath(path)  # which shared connection is this database's
        self.agent = check_name("agent id", agent)
        self.wall = wall

    # -- the transaction ------------------------------------------------------

    @contextmanager
    def transaction(self, acting: bool = True, write: bool = True) -> Iterator["Tx"]:
        """One command.  ``acting``: the command acts as the agent, creating it if new.
        ``write``: commit; otherwise roll back (read-only commands never write)."""
        conn, status = self._connect()
        try:
            self._begin(conn, write or status == schema.NEW)
            try:
                if status != schema.CURRENT:
                    schema.migrate(conn, self.wall())
                tx = Tx(conn, self.wall(), self.agent)
                tx.settle()
                if acting:
                    tx.ensure_agent(self.agent)
                yield tx
                tx.finish()
                # A new database is kept (its clock frozen at its creation) by any
                # command that succeeds, even one that only reads.
                conn.execute("COMMIT" if write or status == schema.NEW else "ROLLBACK")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            if status == schema.NEW:
                schema.use_wal(conn)
            if _shared is not None and (write or status == schema.NEW):
                _shared[self.key] = (conn, schema.CURRENT)  # created or migrated now
        except sqlite3.Error as exc:
            raise schema.database_error(self.path, exc) from None
        finally:
            if _shared is None:
                conn.close()

    def _begin(self, conn: sqlite3.Connection, write: bool) -> None:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if write or "readonly" not in str(exc):
                raise schema.database_error(self.path, exc) from None
            conn.execute("BEGIN")  # a read-only file can still be read

    def _connect(self) -> tuple[sqlite3.Connection, str]:
        if _shared is None:
            return schema.connect(self.path)
        if self.key not in _shared:
            _shared[self.key] = schema.connect(self.path)
        return _shared[self.key]

    def _run(self, method: str, *args, acting: bool = True, write: bool = True) -> Result:
        """Run ``Tx.<method>`` as one command.  A method that changes state returns
        a view (a function), shown as it is after timers and presentation."""
        with self.transaction(acting=acting, write=write) as tx:
            value = getattr(tx, method)(*args)
            tx.finish()
            if callable(value):
                value = value()
        return Result(value, tx.appended)

    def _read(self, method: str, *args) -> Result:
        return self._run(method, *args, acting=False, write=False)

    # -- chats ----------------------------------------------------------------

    def chat_new(self, customer=None, queue=DEFAULT_QUEUE, priority=0, chat_id=None, inbox=False) -> Result:
        return self._run("chat_new", customer, queue, priority, chat_id, inbox)

    def chat_take(self, chat_id: str) -> Result:
        return self._run("chat_take", chat_id)

    def chat_activate(self, chat_id: str) -> Result:
        return self._run("chat_activate", chat_id)

    def chat_park(self, chat_id: str) -> Result:
        return self._run("chat_park", chat_id)

    def chat_end(self, chat_id: str) -> Result:
        return self._run("chat_end", chat_id)

    def chat_wrapup(self, chat_id: str, extend: bool = False, finish: bool = False) -> Result:
        return self._run("chat_wrapup", chat_id, extend, finish)

    def call_start(self) -> Result:
        return self._run("call_start")

    def call_end(self) -> Result:
        return self._run("call_end")

    def chat_show(self, chat_id: str) -> Result:
        return self._read("chat_show", chat_id)

    def chat_list(self, all_chats=False, state=None, queue=None) -> Result:
        return self._read("chat_list", all_chats, state, queue)

    # -- agents ---------------------------------------------------------------

    def agent_status(self, agent_id: str | None = None) -> Result:
        return self._read("agent_status", agent_id)

    def agent_list(self) -> Result:
        return self._read("agent_list")

    def agent_presence(self, presence: str) -> Result:
        return self._run("agent_presence", presence)

    # -- clock, config, events ------------------------------------------------

    def clock_show(self) -> Result:
        return self._read("clock_show")

    def clock_advance(self, duration_ms: int) -> Result:
        return self._run("clock_advance", duration_ms, acting=False)

    def clock_set(self, at_ms: int) -> Result:
        return self._run("clock_set", at_ms, acting=False)

    def clock_mode(self, mode: str) -> Result:
        return self._run("clock_mode", mode, acting=False)

    def config_show(self) -> Result:
        return self._read("config_show")

    def config_set(self, name: str, text: str, queue: str | None = None) -> Result:
        return self._run("config_set", name, text, queue, acting=False)

    def events(self, chat_id=None, agent_id=None, since=0, limit=None, known=True) -> Result:
        """``known``: refuse a chat id that does not exist (``--follow`` waits for it instead)."""
        return self._read("events", chat_id, agent_id, since, limit, known)

    def settle(self) -> Result:
        """Apply what is due (for ``events --follow`` on a real clock); acts as nobody."""
        return self._run("clock_show", acting=False)

    # -- QA tools ---------------------------------------------------------------

    def explain(self, chat_id: str) -> Result:
        return self._read("explain", chat_id)

    def peek(self, kind: str, ident: str | None = None) -> Result:
        """The object ``expect`` compares: a chat, an agent or the clock; never writes."""
        return self._read("peek", kind, ident)

    def snapshot_save(self, name: str) -> Result:
        return self._run("snapshot_save", name, acting=False)

    def snapshot_restore(self, name: str) -> Result:
        return self._run("snapshot_restore", name, acting=False)

    def snapshot_delete(self, name: str) -> Result:
        return self._run("snapshot_delete", name, acting=False)

    def snapshot_list(self) -> Result:
        return self._read("snapshot_list")

    def export(self) -> str:
        """The whole database as one canonical JSON bundle."""
        return self._read("export").value

    def import_(self, text: str, where: str, replace: bool = False) -> Result:
        return self._run("import_", text, where, replace, acting=False)

    def reset(self, keep_snapshots: bool = False) -> Result:
        return self._run("reset", keep_snapshots, acting=False)


class Tx:
    """The state of one command's transaction: the connection, the time, the events."""

    def __init__(self, conn: sqlite3.Connection, wall_ms: int, agent: str):
        conn.row_factory = sqlite3.Row
        self.conn = conn
        self.agent = agent
        self.wall_ms = wall_ms
        self.appended: list[dict] = []
        meta = conn.execute("SELECT mode, now_ms, offset_ms FROM meta WHERE id = 1").fetchone()
        self.mode = meta["mode"]
        self.offset = meta["offset_ms"]
        self.stored_clock = (self.mode, meta["now_ms"], self.offset)
        self.now = clock_now(self.mode, meta["now_ms"], self.offset, wall_ms)
        self.due = False  # whether a timer may have become due since the last settle
        self.at = self.now  # the instant being applied (a timer's deadline while settling)
        self._config: dict[tuple[str, str], str] | None = None
        self.finished = False

    # -- plumbing --------------------------------------------------------------

    def q(self, sql: str, *params) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def finish(self) -> None:
        """After the command: settle what it made due, present, store the clock."""
        if self.finished:
            return
        if self.due:
            self.settle()
        self.present()
        clock = (self.mode, self.now, self.offset)
        if clock != self.stored_clock:
            self.q("UPDATE meta SET mode = ?, now_ms = ?, offset_ms = ? WHERE id = 1", *clock)
        self.finished = True

    def config(self, name: str, queue: str | None = None):
        if self._config is None:
            self._config = {(row["queue"], row["key"]): row["value"] for row in self.q("SELECT * FROM config")}
        k = cfg.KEYS[name]
        stored = self._config.get((queue, name)) if queue is not None and k.per_queue else None
        if stored is None:
            stored = self._config.get(("", name))
        return k.default if stored is None else cfg.decode(k, stored)

    def event(self, agent, chat, from_state, to_state, cause) -> None:
        cur = self.q(
            "INSERT INTO events (at_ms, agent, chat, from_state, to_state, cause) VALUES (?, ?, ?, ?, ?, ?)",
            self.at, agent, chat, from_state, to_state, cause,
        )
        self.appended.append(
            {
                "seq": cur.lastrowid,
                "at": format_time(self.at),
                "agent": agent,
                "chat": chat,
                "from": from_state,
                "to": to_state,
                "cause": cause,
            }
        )
        if agent is not None:
            self.q("UPDATE agents SET last_activity_ms = ? WHERE id = ?", self.at, agent)

    # -- chats ----------------------------------------------------------------

    def row(self, chat_id: str) -> sqlite3.Row:
        row = self.q(f"SELECT {_CHAT_COLUMNS} FROM chats WHERE id = ?", chat_id).fetchone()
        if row is None:
            raise UnknownChat(f"unknown chat {shown(chat_id)}")
        return row

    def move(self, row: sqlite3.Row, event: str, cause: str) -> None:
        """Apply ``event`` to a chat through the transition table; store it; log it."""
        chat_id, state = row["id"], row["state"]
        step = core.step(chat_id, state, event)
        timer = core.Timer(row["wrapup_deadline_ms"], row["wrapup_remaining_ms"])
        extension, extensions_left = row["extension_ms"], row["extensions_left"]
        duration = 0
        if step.timer in (core.T_START, core.T_START_PAUSED):
            # The queue's wrap-up settings are fixed when wrap-up starts.
            duration = self.config("wrapup", row["queue"])
            extension = self.config("wrapup-extension", row["queue"])
            extensions_left = self.config("wrapup-extensions", row["queue"])
        elif step.timer == core.T_EXTEND:
            if not extensions_left:
                raise Refused(f"cannot extend the wrap-up of {chat_id}: it is {state} with no extensions left")
            extensions_left -= 1
        timer = core.apply_timer(step.timer, timer, self.at, duration, extension or 0)
        spent = {name: row[f"{name}_ms"] for name in ("active", "parked", "wrapup")}
        bucket = core.bucket(state)
        if bucket:
            spent[bucket] += self.at - row["state_since_ms"]
        closing = step.to == core.CLOSED
        self.q(
            "UPDATE chats SET state = ?, wrapup_deadline_ms = ?, wrapup_remaining_ms = ?, extension_ms = ?,"
            " extensions_left = ?, state_since_ms = ?, active_ms = ?, parked_ms = ?, wrapup_ms = ?,"
            " closed_at_ms = ?, closed_reason = ?, parked_by_call = ? WHERE id = ?",
            step.to, timer.deadline, timer.remaining, extension, extensions_left, self.at,
            spent["active"], spent["parked"], spent["wrapup"],
            self.at if closing else None, step.closed_reason,
            0 if closing else row["parked_by_call"], chat_id,
        )
        self.event(row["agent"], chat_id, state, step.to, cause)
        if timer.deadline is not None and timer.deadline <= self.now:
            self.due = True  # e.g. a zero-length wrap-up: finish() settles it

    def own(self, chat_id: str, doing: str) -> sqlite3.Row:
        """The chat, which must be in this agent's inbox (or queued: the table refuses that)."""
        row = self.row(chat_id)
        if row["agent"] is not None and row["agent"] != self.agent and row["state"] != core.CLOSED:
            raise Refused(f"cannot {doing} {chat_id}: it is {row['state']} in {row['agent']}'s inbox, not {self.agent}'s")
        return row

    def open_count(self, agent: str) -> int:
        return self.q(f"SELECT count(*) FROM chats WHERE agent = ? AND state IN {_OPEN}", agent).fetchone()[0]

    def active_item(self, agent: str) -> sqlite3.Row | None:
        return self.q(
            f"SELECT {_CHAT_COLUMNS} FROM chats WHERE agent = ? AND state IN ('active', 'active-wrapup')", agent
        ).fetchone()

    def chat_new(self, customer, queue, priority, chat_id, inbox):
        queue = check_name("queue", queue)
        if not -1_000_000 <= priority <= 1_000_000:
            raise UsageError(f"bad priority {priority}: use -1000000 to 1000000")
        if customer is not None and (not customer.strip() or len(customer) > 200 or not customer.isprintable()):
            raise UsageError(f"bad customer name {customer!r}: use 1 to 200 printable characters")
        number = self.q("SELECT next_chat FROM meta WHERE id = 1").fetchone()[0]
        if chat_id is None:
            chat_id = f"C{number}"
            while self.q("SELECT 1 FROM chats WHERE id = ?", chat_id).fetchone():
                number += 1
                chat_id = f"C{number}"
        else:
            check_name("chat id", chat_id)
            if self.q("SELECT 1 FROM chats WHERE id = ?", chat_id).fetchone():
                raise Refused(f"cannot create {chat_id}: a chat with that id exists")
        state, agent = core.QUEUED, None
        if inbox:
            full = self.at_capacity()
            if full:
                raise Refused(f"cannot create {chat_id} in {self.agent}'s inbox: {full}")
            state, agent = core.NEW, self.agent
        self.q(
            "INSERT INTO chats (id, number, state, agent, customer, queue, priority, created_at_ms, state_since_ms)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            chat_id, number, state, agent, customer, queue, priority, self.at, self.at,
        )
        self.q("UPDATE meta SET next_chat = ? WHERE id = 1", number + 1)
        self.event(agent, chat_id, None, state, "customer")
        return self.view_chat(chat_id)

    def at_capacity(self) -> str | None:
        """Why this agent's inbox takes no more chats, or None."""
        limit = self.config("max-chats")
        count = self.open_count(self.agent)
        return f"{self.agent} is at capacity {count}/{limit}" if count >= limit else None

    def chat_take(self, chat_id):
        row = self.row(chat_id)
        core.step(chat_id, row["state"], core.TAKE)  # refuse a chat that is not queued first
        full = self.at_capacity()
        if full:
            raise Refused(f"cannot take {chat_id}: it is queued and {full}")
        self.q("UPDATE chats SET agent = ? WHERE id = ?", self.agent, chat_id)
        self.move(self.row(chat_id), core.TAKE, "take")
        return self.view_chat(chat_id)

    def chat_activate(self, chat_id):
        row = self.own(chat_id, "activate")
        core.step(chat_id, row["state"], core.ACTIVATE)
        if self.is_on_call(self.agent):
            raise Refused(f"cannot activate {chat_id}: it is {row['state']} and {self.agent} is on a call")
        other = self.active_item(self.agent)
        if other is not None and other["id"] != chat_id:
            self.move(other, core.PARK, "activate")
        self.move(row, core.ACTIVATE, "activate")
        return self.view_chat(chat_id)

    def chat_park(self, chat_id):
        self.move(self.own(chat_id, "park"), core.PARK, "park")
        return self.view_chat(chat_id)

    def chat_end(self, chat_id):
        self.move(self.row(chat_id), core.END, "customer")
        return self.view_chat(chat_id)

    def chat_wrapup(self, chat_id, extend, finish):
        if extend and finish:
            raise UsageError("use --extend or --finish, not both")
        event = core.EXTEND if extend else core.FINISH if finish else core.WRAPUP
        verb = core.VERBS[event]
        self.move(self.own(chat_id, verb), event, event)
        return self.view_chat(chat_id)

    def chat_show(self, chat_id):
        return self.chat_object(self.row(chat_id))

    def view_chat(self, chat_id):
        return lambda: self.chat_show(chat_id)

    def chat_list(self, all_chats, state, queue):
        where, params = [], []
        if not all_chats:
            where.append(f"agent = ? AND state IN {_OPEN}")
            params.append(self.agent)
        if state is not None:
            if state not in core.STATES:
                raise UsageError(f"unknown state {shown(state)} (states: {', '.join(core.STATES)})")
            where.append("state = ?")
            params.append(state)
        if queue is not None:
            where.append("queue = ?")
            params.append(queue)
        sql = f"SELECT {_CHAT_COLUMNS} FROM chats"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [self.chat_object(row) for row in self.q(sql + " ORDER BY number", *params)]

    def chat_object(self, row: sqlite3.Row) -> dict:
        state = row["state"]
        timer = core.Timer(row["wrapup_deadline_ms"], row["wrapup_remaining_ms"])
        spent = {name: row[f"{name}_ms"] for name in ("active", "parked", "wrapup")}
        bucket = core.bucket(state)
        if bucket:
            spent[bucket] += self.now - row["state_since_ms"]
        return {
            "id": row["id"],
            "state": state,
            "agent": row["agent"],
            "customer": row["customer"],
            "queue": row["queue"],
            "priority": row["priority"],
            "wrapup_remaining": seconds(core.timer_left(timer, self.now)) if state in core.WRAPUP_STATES else None,
            "wrapup_ends_at": format_time(timer.deadline) if state == core.ACTIVE_WRAPUP else None,
            "extensions_left": row["extensions_left"],
            "parked_by_call": bool(row["parked_by_call"]),
            "closed_reason": row["closed_reason"],
            "created_at": format_time(row["created_at_ms"]),
            "closed_at": format_time(row["closed_at_ms"]),
            "active_seconds": seconds(spent["active"]),
            "parked_seconds": seconds(spent["parked"]),
            "wrapup_seconds": seconds(spent["wrapup"]),
        }

    # -- calls ----------------------------------------------------------------

    def is_on_call(self, agent: str) -> bool:
        row = self.q("SELECT on_call FROM agents WHERE id = ?", agent).fetchone()
        return bool(row and row["on_call"])

    def call_start(self):
        if self.is_on_call(self.agent):
            raise Refused(f"cannot start a call: {self.agent} is already on a call")
        before = self.status(self.agent)
        self.q("UPDATE agents SET on_call = 1 WHERE id = ?", self.agent)
        item = self.active_item(self.agent)
        if item is not None:
            self.q("UPDATE chats SET parked_by_call = 1 WHERE id = ?", item["id"])
            self.move(self.row(item["id"]), core.CALL_START, "call")
        self.event(self.agent, None, before, core.ON_CALL, "call")
        return self.view_agent

    def call_end(self):
        if not self.is_on_call(self.agent):
            raise Refused(f"cannot end a call: {self.agent} is not on a call")
        self.q("UPDATE agents SET on_call = 0 WHERE id = ?", self.agent)
        marked = self.q(
            f"SELECT {_CHAT_COLUMNS} FROM chats WHERE agent = ? AND parked_by_call = 1 ORDER BY number", self.agent
        ).fetchall()
        resuming = [row for row in marked if core.allowed(row["state"], core.CALL_END)]
        self.q("UPDATE chats SET parked_by_call = 0 WHERE agent = ? AND parked_by_call = 1", self.agent)
        # The call's end is logged first, with the status it leads to once the chat resumes.
        after = core.agent_status(self.presence(self.agent), False, core.ACTIVE_WRAPUP if resuming else None)
        self.event(self.agent, None, core.ON_CALL, after, "call")
        for row in resuming:
            self.move(self.row(row["id"]), core.CALL_END, "call")
        return self.view_agent

    # -- agents ---------------------------------------------------------------

    def ensure_agent(self, agent: str) -> None:
        self.q(
            "INSERT OR IGNORE INTO agents (id, presence, on_call, last_activity_ms, created_at_ms)"
            " VALUES (?, 'available', 0, ?, ?)",
            agent, self.at, self.at,
        )

    def presence(self, agent: str) -> str:
        return self.q("SELECT presence FROM agents WHERE id = ?", agent).fetchone()["presence"]

    def agent_state(self, agent: str) -> tuple[bool, str, bool, sqlite3.Row | None, str]:
        """Whether the agent exists, its presence, on-call flag, active item and derived status
        (an agent not created yet is as it would be created: available)."""
        row = self.q("SELECT presence, on_call FROM agents WHERE id = ?", agent).fetchone()
        item = self.active_item(agent)
        presence, on_call = (row["presence"], bool(row["on_call"])) if row else (core.AVAILABLE, False)
        return row is not None, presence, on_call, item, core.agent_status(presence, on_call, item["state"] if item else None)

    def status(self, agent: str) -> str:
        return self.agent_state(agent)[4]

    def agent_status(self, agent_id=None):
        agent = check_name("agent id", agent_id) if agent_id is not None else self.agent
        exists, presence, on_call, item, status = self.agent_state(agent)
        if not exists and agent_id is not None and agent_id != self.agent:
            # Another agent, named explicitly, that never existed: most likely a typo.
            raise UnknownChat(f"unknown agent {shown(agent_id)}")
        return {
            "id": agent,
            "presence": presence,
            "status": status,
            "on_call": on_call,
            "active_chat": item["id"] if item else None,
            "open_chats": self.open_count(agent),
        }

    def agent_list(self):
        return [self.agent_status(row["id"]) for row in self.q("SELECT id FROM agents ORDER BY id").fetchall()]

    def agent_presence(self, presence):
        if presence not in core.PRESENCES:
            raise UsageError(f"unknown presence {shown(presence)} (use {' or '.join(core.PRESENCES)})")
        current = self.q("SELECT presence FROM agents WHERE id = ?", self.agent).fetchone()["presence"]
        if current != presence:
            before = self.status(self.agent)
            self.q("UPDATE agents SET presence = ? WHERE id = ?", presence, self.agent)
            self.event(self.agent, None, before, self.status(self.agent), presence)
        return self.view_agent

    def view_agent(self):
        return self.agent_status(self.agent)

    # -- timers and presentation ----------------------------------------------

    def settle(self) -> None:
        """Run out every wrap-up timer due by now, in time order, each at its instant."""
        while True:
            row = self.q(
                f"SELECT {_CHAT_COLUMNS} FROM chats WHERE wrapup_deadline_ms IS NOT NULL AND wrapup_deadline_ms <= ?"
                " ORDER BY wrapup_deadline_ms, number LIMIT 1",
                self.now,
            ).fetchone()
            if row is None:
                break
            self.at = row["wrapup_deadline_ms"]  # the exact instant it ran out
            self.move(row, core.EXPIRE, "timer")
            self.present()
        self.at = self.now
        self.due = False

    def present(self) -> None:
        """Give the next queued chats to idle agents, the one idle longest first."""
        while True:
            chat = self.q(
                "SELECT id FROM chats WHERE state = 'queued' ORDER BY priority DESC, created_at_ms, number LIMIT 1"
            ).fetchone()
            if chat is None or not self.config("auto-present"):
                return
            limit = self.config("max-chats")
            agent = self.q(
                "SELECT id FROM agents a WHERE presence = 'available' AND on_call = 0"
                f" AND NOT EXISTS (SELECT 1 FROM chats c WHERE c.agent = a.id AND c.state IN {_BUSY})"
                f" AND (SELECT count(*) FROM chats c WHERE c.agent = a.id AND c.state IN {_OPEN}) < ?"
                " ORDER BY last_activity_ms, id LIMIT 1",
                limit,
            ).fetchone()
            if agent is None:
                return
            self.q("UPDATE chats SET agent = ? WHERE id = ?", agent["id"], chat["id"])
            self.move(self.row(chat["id"]), core.PRESENT, "presentation")

    # -- clock, config, events ------------------------------------------------

    def clock_show(self):
        return {"now": format_time(self.now), "mode": self.mode}

    def move_clock(self, to_ms: int) -> None:
        if to_ms < self.now:
            raise Refused(
                f"cannot set the clock to {format_time(to_ms)}: it is {format_time(self.now)} and never moves backwards"
            )
        if to_ms > MAX_MS:
            raise UsageError("cannot move the clock past 9999-12-31")
        self.offset += to_ms - self.now
        self.now = to_ms
        self.due = True

    def clock_advance(self, duration_ms):
        if duration_ms < 0:
            raise UsageError("cannot advance the clock by a negative duration")
        self.move_clock(self.now + duration_ms)
        return self.clock_show

    def clock_set(self, at_ms):
        if at_ms < self.now and self.pristine():
            # Nothing has happened yet: a script may start its story at any instant.
            self.offset += at_ms - self.now
            self.now = self.at = at_ms
            self.due = True
        else:
            self.move_clock(at_ms)
        return self.clock_show

    def pristine(self) -> bool:
        """No chat, no agent, no event yet."""
        return not any(
            self.q(f"SELECT EXISTS (SELECT 1 FROM {table})").fetchone()[0] for table in ("events", "chats", "agents")
        )

    def clock_mode(self, mode):
        if mode not in MODES:
            raise UsageError(f"unknown clock mode {shown(mode)}")
        if mode == REAL and self.mode == VIRTUAL:
            # Continuous: real time goes on from the virtual instant, at the wall clock's pace.
            self.offset = self.now - self.wall_ms
        self.mode = mode
        return self.clock_show

    def config_show(self):
        shown_config = {name: self.config(name) for name in cfg.KEYS}
        for name, k in cfg.KEYS.items():
            if k.kind == "duration":
                shown_config[name] = seconds(shown_config[name])
        queues: dict[str, dict] = {}
        for row in self.q("SELECT queue, key, value FROM config WHERE queue != '' ORDER BY queue, key"):
            k = cfg.KEYS[row["key"]]
            value = cfg.decode(k, row["value"])
            queues.setdefault(row["queue"], {})[row["key"]] = seconds(value) if k.kind == "duration" else value
        shown_config["queues"] = queues
        return shown_config

    def config_set(self, name, text, queue):
        k = cfg.key(name)
        if queue is not None:
            check_name("queue", queue)
            if not k.per_queue:
                raise UsageError(f"{name} cannot be set per queue (per-queue keys: wrapup, wrapup-extension, wrapup-extensions)")
        value = cfg.parse_value(k, text)
        self.q(
            "INSERT INTO config (queue, key, value) VALUES (?, ?, ?)"
            " ON CONFLICT (queue, key) DO UPDATE SET value = excluded.value",
            queue or "", name, cfg.encode(k, value),
        )
        self._config = None
        return self.config_show

    def events(self, chat_id, agent_id, since, limit, known):
        where, params = ["seq > ?"], [since]
        if chat_id is not None:
            if known:
                self.row(chat_id)
            where.append("chat = ?")
            params.append(chat_id)
        if agent_id is not None:
            where.append("agent = ?")
            params.append(agent_id)
        sql = f"SELECT * FROM events WHERE {' AND '.join(where)} ORDER BY seq"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [event_object(row) for row in self.q(sql, *params)]

    # -- QA tools ---------------------------------------------------------------

    def peek(self, kind, ident):
        if kind == "chat":
            return self.chat_show(ident)
        if kind == "agent":
            return self.agent_status(ident)
        return self.clock_show()

    def explain(self, chat_id):
        row = self.row(chat_id)
        chat = self.chat_object(row)
        state, agent = chat["state"], chat["agent"]
        why: list[str] = []
        nxt: list[str] = []
        agents: list[dict] = []
        first = None
        last = self.q(
            "SELECT at_ms, cause FROM events WHERE chat = ? ORDER BY seq DESC LIMIT 1", chat_id
        ).fetchone()
        since = f" since {format_time(last['at_ms'])} ({last['cause']})" if last else ""
        if state == core.QUEUED:
            ahead = self.q(
                "SELECT count(*) FROM chats WHERE state = 'queued' AND (priority > ? OR (priority = ? AND"
                " (created_at_ms < ? OR (created_at_ms = ? AND number < ?))))",
                row["priority"], row["priority"], row["created_at_ms"], row["created_at_ms"], row["number"],
            ).fetchone()[0]
            why.append(f"{chat_id} is queued{since}, in nobody's inbox")
            if ahead:
                why.append(f"{ahead} queued chat(s) come first (higher priority or older)")
            auto, limit = self.config("auto-present"), self.config("max-chats")
            rows = self.q("SELECT id, presence, on_call FROM agents ORDER BY last_activity_ms, id").fetchall()
            for a in rows:  # in presentation order: the one idle longest first
                busy = self.q(
                    f"SELECT id, state FROM chats WHERE agent = ? AND state IN {_BUSY} ORDER BY number LIMIT 1", a["id"]
                ).fetchone()
                reasons = core.not_presentable(
                    a["presence"], bool(a["on_call"]), f"{busy['id']} {busy['state']}" if busy else None,
                    self.open_count(a["id"]), limit, auto,
                )
                agents.append({"agent": a["id"], "presentable": not reasons, "reasons": reasons})
            if not rows:
                why.append("there are no agents yet")
            for entry in agents:
                if entry["reasons"]:
                    why.append(f"not presented to {entry['agent']}: {'; '.join(entry['reasons'])}")
            ready = [entry["agent"] for entry in agents if entry["presentable"]]
            if ready or agents:
                first = ready[0] if ready else agents[0]["agent"]
                when = "at the next presentation" if ready else "as soon as it can take one"
                nxt.append(
                    f"{first} is first in line (idle longest): it gets the next queued chat {when}"
                    + (f", after the {ahead} ahead of this one" if ahead else "")
                )
            if not auto:
                nxt.append("auto-present is off: nothing is presented until `config set auto-present on`")
            elif not ready:
                nxt.append("an agent can take it when available, not on a call, with no new/active/wrap-up chat "
                           "and under max-chats")
            nxt.append(f"`chat take {chat_id}` picks it now; `chat end {chat_id}` abandons it")
        elif state == core.NEW:
            why.append(f"{chat_id} is new in {agent}'s inbox{since}: presented, not yet activated")
            nxt.append(f"`chat activate {chat_id}` makes it active" + self._would_park(agent, chat_id))
            nxt.append("while it is new, nothing else is presented to " + agent)
        elif state == core.ACTIVE:
            why.append(f"{chat_id} is {agent}'s active item{since}")
            nxt.append(f"`chat park {chat_id}` parks it; `chat wrapup {chat_id}` or the customer ending it starts wrap-up; a call parks it")
        elif state == core.PARKED:
            why.append(f"{chat_id} is parked in {agent}'s inbox{since}" + (" by a call" if chat["parked_by_call"] else ""))
            if self.is_on_call(agent):
                nxt.append(f"activating it is refused while {agent} is on a call; when the call ends it stays parked")
            else:
                nxt.append(f"`chat activate {chat_id}` makes it active again" + self._would_park(agent, chat_id))
            nxt.append(f"if the customer ends it, it goes to parked-wrapup with a full {self._wrapup_text(row['queue'])} wrap-up")
        elif state == core.ACTIVE_WRAPUP:
            left = core.timer_left(core.Timer(row["wrapup_deadline_ms"], row["wrapup_remaining_ms"]), self.now)
            why.append(f"{chat_id} is in wrap-up, the timer running{since}")
            nxt.append(
                f"it closes at {format_time(row['wrapup_deadline_ms'])} (in {format_duration(left)}) unless extended or finished"
            )
            nxt.append(
                f"{row['extensions_left']} extension(s) of {format_duration(row['extension_ms'] or 0)} left; "
                f"`chat wrapup {chat_id} --finish` closes it now; parking it pauses the timer"
            )
        elif state == core.PARKED_WRAPUP:
            left = row["wrapup_remaining_ms"]
            why.append(f"{chat_id} is in wrap-up, the timer paused with {format_duration(left)} left{since}")
            if chat["parked_by_call"]:
                nxt.append(f"it resumes by itself into active-wrapup when {agent}'s call ends")
            elif self.is_on_call(agent):
                nxt.append(f"activating it is refused while {agent} is on a call; when the call ends it stays paused")
            else:
                nxt.append(
                    f"`chat activate {chat_id}` resumes the timer: it would close at {format_time(self.now + left)}"
                    + self._would_park(agent, chat_id)
                )
        else:
            why.append(f"{chat_id} closed at {chat['closed_at']} ({chat['closed_reason']})")
            nxt.append("closed is final: nothing changes it again")
        return {"chat": chat_id, "state": state, "agent": agent, "why": why, "next": nxt,
                "agents": agents, "first": first}

    def _would_park(self, agent: str, chat_id: str) -> str:
        item = self.active_item(agent)
        if item is not None and item["id"] != chat_id:
            return f", parking {item['id']} ({item['state']})"
        return ""

    def _wrapup_text(self, queue: str) -> str:
        return format_duration(self.config("wrapup", queue))

    def snapshot_save(self, name):
        from . import bundle

        check_name("snapshot name", name)
        replaced = self.q("SELECT 1 FROM snapshots WHERE name = ?", name).fetchone() is not None
        self.finish()  # the snapshot holds the settled state
        state = bundle.dumps(bundle.dump_state(self.conn))
        self.q(
            "INSERT INTO snapshots (name, created_at_ms, state) VALUES (?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET created_at_ms = excluded.created_at_ms, state = excluded.state",
            name, self.now, state,
        )
        return {"name": name, "created_at": format_time(self.now), "replaced": replaced}

    def snapshot_row(self, name):
        row = self.q("SELECT name, created_at_ms, state FROM snapshots WHERE name = ?", name).fetchone()
        if row is None:
            raise Refused(f"no snapshot named {shown(name)}")
        return row

    def snapshot_restore(self, name):

        row = self.snapshot_row(name)
        self.load(json.loads(row["state"]))
        return {"name": name, "created_at": format_time(row["created_at_ms"]), "now": format_time(self.now)}

    def load(self, state: dict) -> None:
        """Replace the whole state; the clock is the loaded one (the only way it goes back)."""
        from . import bundle

        bundle.load_state(self.conn, state)
        meta = self.q("SELECT mode, now_ms, offset_ms FROM meta WHERE id = 1").fetchone()
        self.mode, self.offset = meta["mode"], meta["offset_ms"]
        self.now = self.at = clock_now(self.mode, meta["now_ms"], self.offset, self.wall_ms)
        self._config = None
        self.finished = True  # nothing more to settle or present: it is the saved state

    def snapshot_delete(self, name):
        row = self.snapshot_row(name)
        self.q("DELETE FROM snapshots WHERE name = ?", name)
        return {"name": name, "created_at": format_time(row["created_at_ms"]), "deleted": True}

    def snapshot_list(self):
        return [
            {"name": row["name"], "created_at": format_time(row["created_at_ms"]),
             "chats": len(json.loads(row["state"])["chats"])}
            for row in self.q("SELECT name, created_at_ms, state FROM snapshots ORDER BY name")
        ]

    def export(self):
        from . import bundle

        return bundle.dumps(bundle.export_document(self.conn))

    def import_(self, text, where, replace):
        from . import bundle

        document = bundle.parse_document(self.conn, text, where)
        if not replace and not (self.pristine() and not self.q("SELECT EXISTS (SELECT 1 FROM config)").fetchone()[0]):
            raise Refused("cannot import into a database that is in use: use --replace to replace its state")
        self.q("DELETE FROM snapshots")
        for snap in document["snapshots"]:
            self.q("INSERT INTO snapshots (name, created_at_ms, state) VALUES (?, ?, ?)",
                   snap["name"], snap["created_at_ms"], bundle.dumps(snap["state"]))
        self.load(document["state"])
        from .check import check

        problems = check(self.conn)
        if problems:
            raise UsageError(f"{where}: the bundle's state is inconsistent: {problems[0]}")
        return {"imported": where, "chats": len(document["state"]["chats"]),
                "events": len(document["state"]["events"]), "snapshots": len(document["snapshots"]),
                "now": format_time(self.now)}

    def reset(self, keep_snapshots):
        for table in ("config", "agents", "chats", "events"):
            self.q(f"DELETE FROM {table}")
        self.q("DELETE FROM sqlite_sequence WHERE name = 'events'")
        if not keep_snapshots:
            self.q("DELETE FROM snapshots")
        self.mode, self.offset = VIRTUAL, 0
        self.now = self.at = self.wall_ms
        self.q("UPDATE meta SET mode = ?, now_ms = ?, offset_ms = 0, next_chat = 1 WHERE id = 1", VIRTUAL, self.now)
        self._config = None
        return {"reset": True, "now": format_time(self.now), "mode": VIRTUAL}


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
