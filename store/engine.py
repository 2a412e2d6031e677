"""chatemu's engine: one database file, acting as one agent.

Every public ``Engine`` method is one ``BEGIN IMMEDIATE`` transaction
(``Engine.transaction``), run by ``Engine._run`` over a function of a concern
module (``chats.park``, ``clock.advance`` …):

1. settle: every wrap-up timer due at or before now runs out, in time order,
   each at its exact instant, with presentation evaluated at that instant;
2. apply the command (through ``core.step``: the transition table);
3. settle again (a command can move the clock or start a zero-length timer);
4. present queued chats to idle agents (``routing`` decides);
5. append the events, store the clock, commit.

Any error rolls the whole transaction back: a refused command changes nothing.
"""

from __future__ import annotations

import io
import os
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator

from . import agents, chats, classification, clock, config, contacts, explain, journal, messages, schema, snapshots
from .clock import system_wall_ms
from .errors import UsageError
from .tx import Tx
from .validate import DEFAULT_AGENT, DEFAULT_QUEUE, check_name


@dataclass
class Result:
    """What a command returns: its value (a JSON-ready object) and the events it appended."""

    value: object
    events: list[dict] = field(default_factory=list)


class Connections:
    """Connections kept open between commands (``chatemu run``, ``events --follow``),
    one per database file; ``close()`` closes them all."""

    def __init__(self) -> None:
        self.open: dict[str, tuple[sqlite3.Connection, str]] = {}

    def close(self) -> None:
        for conn, _ in self.open.values():
            conn.close()
        self.open.clear()


class Transaction:
    """``Engine.transaction``: settle, let the block apply the command, finish, commit (or roll
    back); any error rolls everything back, and a SQLite error becomes a ``DatabaseError``.
    A class, not a generator: every command of a ``run`` goes through it."""

    __slots__ = ("engine", "acting", "write", "conn", "status", "tx")

    def __init__(self, engine: "Engine", acting: bool, write: bool):
        self.engine, self.acting, self.write = engine, acting, write

    def __enter__(self) -> Tx:
        engine = self.engine
        conn, status = self.conn, self.status = engine._connect()
        try:
            engine._begin(conn, self.write or status == schema.NEW)
            try:
                if status != schema.CURRENT:
                    schema.migrate(conn, engine.wall())
                tx = self.tx = Tx(conn, engine.wall(), engine.agent)
                tx.settle()
                if self.acting:
                    agents.ensure(tx, engine.agent)
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            self._close()
            raise schema.database_error(engine.path, exc) from None
        except BaseException:
            self._close()
            raise
        return tx

    def __exit__(self, kind, exc, traceback) -> bool:
        conn, status, write = self.conn, self.status, self.write
        try:
            try:
                if kind is not None:
                    raise exc
                self.tx.finish()
                # A new database is kept (its clock frozen at its creation) by any
                # command that succeeds, even one that only reads.
                conn.execute("COMMIT" if write or status == schema.NEW else "ROLLBACK")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            if status == schema.NEW:
                schema.use_wal(conn)
            if self.engine.connections is not None and (write or status == schema.NEW):
                self.engine.connections.open[self.engine.key] = (conn, schema.CURRENT)  # created or migrated now
        except sqlite3.Error as error:
            raise schema.database_error(self.engine.path, error) from None
        finally:
            self._close()
        return False

    def _close(self) -> None:
        if self.engine.connections is None:
            self.conn.close()


class Engine:
    """chatemu's engine over one database file, acting as one agent."""

    def __init__(self, path: str, agent: str = DEFAULT_AGENT, wall: Callable[[], int] = system_wall_ms,
                 connections: Connections | None = None):
        if not path:
            raise UsageError("empty database path")
        self.path = path
        self.key = os.path.abspath(path)  # which kept connection is this database's
        self.agent = check_name("agent id", agent)
        self.wall = wall
        self.connections = connections

    @contextmanager
    def kept_open(self) -> Iterator["Engine"]:
        """Within this block, the database's connection stays open between commands."""
        if self.connections is not None:
            yield self
            return
        self.connections = Connections()
        try:
            yield self
        finally:
            self.connections.close()
            self.connections = None

    # -- the transaction ------------------------------------------------------

    def transaction(self, acting: bool = True, write: bool = True) -> "Transaction":
        """One command, as a ``with`` block that gives its ``Tx``.  ``acting``: the command acts
        as the agent, creating it if new.  ``write``: commit; otherwise roll back (read-only
        commands never write)."""
        return Transaction(self, acting, write)

    def _begin(self, conn: sqlite3.Connection, write: bool) -> None:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if write or "readonly" not in str(exc):
                raise schema.database_error(self.path, exc) from None
            conn.execute("BEGIN")  # a read-only file can still be read

    def _connect(self) -> tuple[sqlite3.Connection, str]:
        if self.connections is None:
            return schema.connect(self.path)
        pool = self.connections.open
        if self.key not in pool:
            pool[self.key] = schema.connect(self.path)
        return pool[self.key]

    def _run(self, command: Callable, *args, acting: bool = True, write: bool = True) -> Result:
        """Run ``command(tx, *args)`` as one command.  A command that changes state
        returns a view (a function), shown as it is after timers and presentation."""
        with self.transaction(acting=acting, write=write) as tx:
            value = command(tx, *args)
            tx.finish()
            if callable(value):
                value = value()
        return Result(value, tx.appended)

    def _read(self, command: Callable, *args) -> Result:
        return self._run(command, *args, acting=False, write=False)

    # -- chats ----------------------------------------------------------------

    def chat_new(self, customer=None, queue=DEFAULT_QUEUE, priority=0, chat_id=None, inbox=False) -> Result:
        return self._run(chats.new, customer, queue, priority, chat_id, inbox)

    def chat_take(self, chat_id: str) -> Result:
        return self._run(chats.take, chat_id)

    def chat_activate(self, chat_id: str) -> Result:
        return self._run(chats.activate, chat_id)

    def chat_park(self, chat_id: str) -> Result:
        return self._run(chats.park, chat_id)

    def chat_end(self, chat_id: str) -> Result:
        return self._run(chats.end, chat_id)

    def chat_wrapup(self, chat_id: str, extend: bool = False, finish: bool = False) -> Result:
        return self._run(chats.wrapup, chat_id, extend, finish)

    def chat_return(self, chat_id: str) -> Result:
        return self._run(chats.return_, chat_id)

    def chat_transfer(self, chat_id: str, queue: str | None = None, agent: str | None = None) -> Result:
        return self._run(chats.transfer, chat_id, queue, agent)

    def chat_send(self, chat_id: str, text: str | None = None, template: str | None = None) -> Result:
        return self._run(messages.send, chat_id, text, template)

    def chat_receive(self, chat_id: str, text: str) -> Result:
        """A customer message: acts as nobody."""
        return self._run(messages.receive, chat_id, text, acting=False)

    def chat_transcript(self, chat_id: str) -> Result:
        return self._read(messages.transcript, chat_id)

    def chat_classify(self, chat_id: str, code: str, note: str | None = None) -> Result:
        return self._run(classification.classify, chat_id, code, note)

    def chat_flag_abusive(self, chat_id: str) -> Result:
        return self._run(classification.flag_abusive, chat_id)

    def chat_contact(self, chat_id: str, name: str) -> Result:
        return self._run(contacts.assign, chat_id, name)

    def call_start(self) -> Result:
        return self._run(agents.call_start)

    def call_end(self) -> Result:
        return self._run(agents.call_end)

    def chat_show(self, chat_id: str) -> Result:
        return self._read(chats.show, chat_id)

    def chat_list(self, all_chats=False, state=None, queue=None) -> Result:
        return self._read(chats.list_, all_chats, state, queue)

    # -- agents ---------------------------------------------------------------

    def agent_status(self, agent_id: str | None = None) -> Result:
        return self._read(agents.show, agent_id)

    def agent_list(self) -> Result:
        return self._read(agents.list_)

    def agent_presence(self, presence: str) -> Result:
        return self._run(agents.set_presence, presence)

    # -- clock, config, events ------------------------------------------------

    def clock_show(self) -> Result:
        return self._read(clock.show)

    def clock_advance(self, duration_ms: int) -> Result:
        return self._run(clock.advance, duration_ms, acting=False)

    def clock_set(self, at_ms: int) -> Result:
        return self._run(clock.set_, at_ms, acting=False)

    def clock_mode(self, mode: str) -> Result:
        return self._run(clock.set_mode, mode, acting=False)

    def config_show(self) -> Result:
        return self._read(config.show_all)

    def config_set(self, name: str, text: str, queue: str | None = None) -> Result:
        return self._run(config.set_, name, text, queue, acting=False)

    def events(self, chat_id=None, agent_id=None, since=0, limit=None, known=True) -> Result:
        """``known``: refuse a chat id that does not exist (``--follow`` waits for it instead)."""
        return self._read(journal.events, chat_id, agent_id, since, limit, known)

    def each_event(self, consume: Callable[["journal.Events"], object], chat_id=None, agent_id=None,
                   since=0) -> Result:
        """Hand ``consume`` the events (``journal.Events``: iterable, and their column widths)
        read as it goes, inside the read transaction: however many there are, only a batch
        is held at a time.  The result's value is what ``consume`` returns."""
        return self._read(lambda tx: consume(journal.Events(tx, chat_id, agent_id, since, None, True)))

    def settle(self) -> Result:
        """Apply what is due (for ``events --follow`` on a real clock); acts as nobody."""
        return self._run(clock.show, acting=False)

    # -- templates, classification codes, contacts -------------------------------

    def template_add(self, name: str, text: str, queue: str | None = None) -> Result:
        return self._run(messages.template_add, name, text, queue, acting=False)

    def template_list(self, queue: str | None = None) -> Result:
        return self._read(messages.template_list, queue)

    def template_remove(self, name: str, queue: str | None = None) -> Result:
        return self._run(messages.template_remove, name, queue, acting=False)

    def classification_add(self, code: str, queue: str | None = None) -> Result:
        return self._run(classification.code_add, code, queue, acting=False)

    def classification_list(self, queue: str | None = None) -> Result:
        return self._read(classification.code_list, queue)

    def classification_remove(self, code: str, queue: str | None = None) -> Result:
        return self._run(classification.code_remove, code, queue, acting=False)

    def contact_history(self, name: str) -> Result:
        return self._read(contacts.history, name)

    # -- QA tools ---------------------------------------------------------------

    def explain(self, chat_id: str) -> Result:
        return self._read(explain.explain, chat_id)

    def peek(self, kind: str, ident: str | None = None) -> Result:
        """The object ``expect`` compares: a chat, an agent or the clock; never writes."""
        if kind == "chat":
            return self._read(chats.show, ident)
        if kind == "agent":
            return self._read(agents.show, ident)
        return self._read(clock.show)

    def snapshot_save(self, name: str) -> Result:
        return self._run(snapshots.save, name, acting=False)

    def snapshot_restore(self, name: str) -> Result:
        return self._run(snapshots.restore, name, acting=False)

    def snapshot_delete(self, name: str) -> Result:
        return self._run(snapshots.delete, name, acting=False)

    def snapshot_list(self) -> Result:
        return self._read(snapshots.list_)

    def export(self, write: Callable[[str], None] | None = None) -> str | None:
        """The whole database as one canonical JSON bundle, handed to ``write`` a piece at a
        time as it is read (without ``write``: returned as one string)."""
        if write is not None:
            self._read(snapshots.export, write)
            return None
        pieces: list[str] = []
        self._read(snapshots.export, pieces.append)
        return "".join(pieces)

    def import_(self, source, where: str, replace: bool = False) -> Result:
        """Load a bundle: ``source`` is its text, or a text stream read a piece at a time."""
        if isinstance(source, str):
            source = io.StringIO(source)
        return self._run(snapshots.import_, source, where, replace, acting=False)

    def reset(self, keep_snapshots: bool = False) -> Result:
        return self._run(snapshots.reset, keep_snapshots, acting=False)
