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

The modules every state change needs are imported here; the others (messages,
classification, contacts, journal, explain, snapshots, stats) by the methods that use
them, so a process pays only for the command it runs.
"""

from __future__ import annotations

import io
import os
import sqlite3
from contextlib import contextmanager
from typing import Callable, ContextManager, Iterator

from . import agents, chats, clock, config, schema
from .clock import system_wall_ms
from .errors import ChatemuError, DatabaseError
from .tx import Tx
from .validate import DEFAULT_AGENT, DEFAULT_QUEUE, check_name


def _release(conn: sqlite3.Connection | None, close: list[sqlite3.Connection]) -> None:
    """After a command: roll back what it left open, then close the connections it made."""
    try:
        if conn is not None and conn.in_transaction:
            conn.execute("ROLLBACK")
    finally:
        for each in close:
            each.close()


class _Writing:
    """``Engine._writing``: connect and begin (``Engine._start``) on entering; on leaving, finish
    and commit, or roll back on an exception; an SQLite error either way is a database error."""

    __slots__ = ("engine", "acting", "conn", "pooled", "tx")

    def __init__(self, engine: "Engine", acting: bool):
        self.engine, self.acting = engine, acting

    def __enter__(self) -> Tx:
        engine = self.engine
        conn, status, self.pooled = engine._connect()
        self.conn = conn
        try:
            self.tx = tx = engine._start(conn, status, self.acting)
        except BaseException as exc:
            self._failed(exc)
            raise
        return tx

    def __exit__(self, kind, exc, tb) -> bool:
        if kind is not None:
            self._failed(exc)
            return False
        engine = self.engine
        try:
            self.tx.finish()
            self.conn.execute("COMMIT")
            engine._committed(self.conn, self.pooled)  # (nothing left to roll back if it fails)
        except BaseException as failure:
            self._failed(failure)
            raise
        if engine.connections is None:
            self._close()
        return False

    def _failed(self, exc: BaseException) -> None:
        """Roll back (the exception goes on: an SQLite error as a database error) and let go."""
        try:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
        except sqlite3.Error as error:
            exc = error
        finally:
            self._close()
        if isinstance(exc, sqlite3.Error):
            raise schema.database_error(self.engine.path, exc) from None

    def _close(self) -> None:
        if not self.pooled:
            self.conn.close()


class Result:
    """What a command returns: its value (a JSON-ready object) and the events it appended.
    (A plain class: a dataclass costs every start a millisecond to define.)"""

    __slots__ = ("value", "events")

    def __init__(self, value: object, events: list[dict] | None = None) -> None:
        self.value = value
        self.events = [] if events is None else events

    def __eq__(self, other) -> bool:
        return isinstance(other, Result) and (self.value, self.events) == (other.value, other.events)

    def __repr__(self) -> str:
        return f"Result(value={self.value!r}, events={self.events!r})"


class Connections:
    """Connections kept open between commands (``chatemu run``, ``events --follow``),
    one per database file; ``close()`` closes them all."""

    def __init__(self) -> None:
        self.open: dict[str, tuple[sqlite3.Connection, str]] = {}
        self.wal: set[str] = set()  # kept connections a command that writes has put in WAL mode

    def close(self) -> None:
        for conn, _ in self.open.values():
            conn.close()
        self.open.clear()
        self.wal.clear()


class Engine:
    """chatemu's engine over one database file, acting as one agent."""

    def __init__(self, path: str, agent: str = DEFAULT_AGENT, wall: Callable[[], int] = system_wall_ms,
                 connections: Connections | None = None, make_folder: bool = False):
        """``make_folder``: a command that changes something creates the database's folder
        if it is missing (the default database in the per-user app folder)."""
        self.path = schema.plain_path(path)
        self.key = os.path.abspath(path)  # which kept connection is this database's
        self.agent = check_name("agent id", agent)
        self.wall = wall
        self.connections = connections
        self.make_folder = make_folder

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

    def transaction(self, acting: bool = True, write: bool = True, rehearsal: bool = False) -> ContextManager[Tx]:
        """One command, a context manager giving its ``Tx``.  ``acting``: the command acts as the
        agent, creating it if new.  ``write``: commit; otherwise roll back (read-only commands
        never write).  ``rehearsal``: run on a blank database in memory and roll back."""
        return self._writing(acting) if write and not rehearsal else self._reading(acting, rehearsal)

    def _start(self, conn: sqlite3.Connection, status: str, acting: bool) -> Tx:
        """Under the write lock: upgrade an older schema, settle what is due, and create the
        acting agent if it is new."""
        conn.execute("BEGIN IMMEDIATE")
        if status != schema.CURRENT:
            schema.migrate(conn, self.wall())
        tx = Tx(conn, self.wall(), self.agent)
        if status == schema.OLD:
            tx.timers_unknown()  # what an older chatemu left due is looked for, whatever the clock
        tx.settle()
        if acting:
            agents.ensure(tx, self.agent, acting)
        return tx

    def _writing(self, acting: bool) -> ContextManager[Tx]:
        """A command that changes something: its transaction, committed if it ends without an
        exception, rolled back otherwise (a plain class: every command goes through it)."""
        return _Writing(self, acting)

    def _committed(self, conn: sqlite3.Connection, pooled: bool) -> None:
        """After a command committed on ``conn``: its journal mode, and the connection kept."""
        if not (pooled and self.key in self.connections.wal):
            schema.use_wal(conn, self.path)  # once the command has committed: see use_wal
        if self.connections is not None:
            self.connections.open[self.key] = (conn, schema.CURRENT)  # created or migrated now
            self.connections.wal.add(self.key)

    @contextmanager
    def _reading(self, acting: bool, rehearsal: bool) -> Iterator[Tx]:
        """A read-only command (or a rehearsal): nothing is written, whatever happens.

        When nothing is due (no wrap-up timer at or before now, nobody to present a
        chat to: always so on a virtual clock) it is a plain read, without the write
        lock.  Otherwise what is due is applied inside the transaction first, under
        the write lock, and rolled back; where the file may not be written (or has an
        older schema to read through a migration) that happens on a copy in memory.
        """
        close: list[sqlite3.Connection] = []
        conn = None
        try:
            conn, status, writable = (None, schema.NEW, False) if rehearsal else self._connect_read(close)
            if conn is None:  # no database here yet: as a new one would be, in memory
                conn, status, writable = schema.blank(self.wall()), schema.CURRENT, True
                close.append(conn)
            tx = None
            if status == schema.CURRENT and not rehearsal:
                conn.execute("BEGIN")
                tx = Tx(conn, self.wall(), self.agent)
                if tx.pending():
                    conn.execute("ROLLBACK")
                    tx = None
                else:
                    tx.finished = True  # nothing to settle, present or store
            if tx is None:
                if not writable:
                    copy = sqlite3.connect(":memory:", isolation_level=None)
                    close.append(copy)
                    conn.backup(copy)
                    conn = copy
                tx = self._start(conn, status, acting)
            yield tx
            tx.finish()
        except sqlite3.Error as exc:
            raise schema.database_error(self.path, exc) from None
        finally:
            _release(conn, close)

    def _connect(self) -> tuple[sqlite3.Connection, str, bool]:
        """A connection for a command that changes something: the kept one, or a new one
        (kept only once a command on it has committed).  The last item: whether it is kept."""
        if self.connections is not None and self.key in self.connections.open:
            return (*self.connections.open[self.key], True)
        if self.make_folder:
            folder = os.path.dirname(self.key)
            try:
                os.makedirs(folder, exist_ok=True)
            except OSError as exc:
                raise DatabaseError(
                    f"cannot create the default database folder {folder}: {exc.strerror or exc}"
                    " (name a database with --db or CHATEMU_DB)"
                ) from None
        return (*schema.connect(self.path), False)

    def _connect_read(self, close: list) -> tuple[sqlite3.Connection | None, str, bool]:
        """A connection for a read-only command (None: no database there yet), whether it
        may write, and (in ``close``) what to close after the command."""
        pool = self.connections.open if self.connections is not None else None
        if pool is not None and self.key in pool:
            conn, status = pool[self.key]
            return conn, status, True
        conn, status, writable = schema.open_read(self.path, folder_may_be_missing=self.make_folder)
        if conn is not None:
            if pool is not None and writable:
                pool[self.key] = (conn, status)
            else:
                close.append(conn)
        return conn, status, writable

    def _run(self, command: Callable, *args, acting: bool = True, write: bool = True) -> Result:
        """Run ``command(tx, *args)`` as one command.  A command that changes state
        returns a view (a function), shown as it is after timers and presentation.

        The first command on a path with no file yet is rehearsed on a blank database
        in memory first: if it is refused, no file is created.

        A refusal (or an unknown chat) of a command that changes something carries this
        engine as ``journal``: the command line journals it (``journal_refusal``) once the
        command's own transaction has rolled back."""
        if not write:
            return self._once(command, args, acting, write)
        try:
            if self._no_file_yet():
                self._once(command, args, acting, write, rehearsal=True)
            return self._once(command, args, acting, write)
        except ChatemuError as exc:
            exc.journal = self
            raise

    def _once(self, command: Callable, args: tuple, acting: bool, write: bool, rehearsal: bool = False) -> Result:
        with self.transaction(acting=acting, write=write, rehearsal=rehearsal) as tx:
            value = command(tx, *args)
            tx.finish()
            if callable(value):
                value = value()
        return Result(value, tx.appended)

    def _no_file_yet(self) -> bool:
        if self.connections is not None and self.key in self.connections.open:
            return False
        return not os.path.lexists(self.path) and (self.make_folder or os.path.isdir(os.path.dirname(self.key)))

    def _read(self, command: Callable, *args) -> Result:
        return self._run(command, *args, acting=False, write=False)

    def _read_own(self, command: Callable, *args) -> Result:
        """A read of the acting agent's own view (its inbox, status or queues): as for a command
        that changes something, an agent that does not exist is exit 4 once any agent exists."""
        def read(tx, *given):
            agents.reading_as(tx)
            return command(tx, *given)

        return self._read(read, *args)

    # -- chats ----------------------------------------------------------------

    def chat_new(self, customer=None, queue=DEFAULT_QUEUE, priority=0, chat_id=None, inbox=False,
                 patience=None) -> Result:
        return self._run(chats.new, customer, queue, priority, chat_id, inbox, patience,
                         acting=agents.AGENT if inbox else agents.CUSTOMER)

    def chat_take(self, chat_id: str) -> Result:
        return self._run(chats.take, chat_id)

    def chat_activate(self, chat_id: str) -> Result:
        return self._run(chats.activate, chat_id)

    def chat_park(self, chat_id: str) -> Result:
        return self._run(chats.park, chat_id)

    def chat_end(self, chat_id: str) -> Result:
        return self._run(chats.end, chat_id, acting=agents.CUSTOMER)

    def chat_wrapup(self, chat_id: str, extend: bool = False, finish: bool = False) -> Result:
        return self._run(chats.wrapup, chat_id, extend, finish)

    def chat_return(self, chat_id: str) -> Result:
        return self._run(chats.return_, chat_id)

    def chat_transfer(self, chat_id: str, queue: str | None = None, agent: str | None = None) -> Result:
        return self._run(chats.transfer, chat_id, queue, agent)

    def chat_send(self, chat_id: str, text: str | None = None, template: str | None = None) -> Result:
        from . import messages

        return self._run(messages.send, chat_id, text, template)

    def chat_receive(self, chat_id: str, text: str) -> Result:
        """A customer message: acts as nobody."""
        from . import messages

        return self._run(messages.receive, chat_id, text, acting=False)

    def chat_transcript(self, chat_id: str) -> Result:
        from . import messages

        return self._read(messages.transcript, chat_id)

    def chat_classify(self, chat_id: str, code: str, note: str | None = None) -> Result:
        from . import classification

        return self._run(classification.classify, chat_id, code, note)

    def chat_flag_abusive(self, chat_id: str) -> Result:
        from . import classification

        return self._run(classification.flag_abusive, chat_id)

    def chat_contact(self, chat_id: str, name: str) -> Result:
        from . import contacts

        return self._run(contacts.assign, chat_id, name)

    def call_start(self) -> Result:
        return self._run(agents.call_start)

    def call_end(self) -> Result:
        return self._run(agents.call_end)

    def chat_show(self, chat_id: str) -> Result:
        return self._read(chats.show, chat_id)

    def chat_list(self, all_chats=False, state=None, queue=None) -> Result:
        """The acting agent's inbox, or every chat (``all_chats``, or a ``state`` no inbox holds)."""
        read = self._read if chats.every_chat(all_chats, state) else self._read_own
        return read(chats.list_, all_chats, state, queue)

    def chat_ids(self, all_chats=False, state=None, queue=None) -> Result:
        """The ids of the chats ``chat_list`` lists, in the same order."""
        read = self._read if chats.every_chat(all_chats, state) else self._read_own
        return read(chats.ids, all_chats, state, queue)

    # -- agents ---------------------------------------------------------------

    def agent_status(self, agent_id: str | None = None) -> Result:
        return (self._read_own if agent_id in (None, self.agent) else self._read)(agents.show, agent_id)

    def agent_list(self) -> Result:
        return self._read(agents.list_)

    def agent_presence(self, presence: str, reason: str | None = None) -> Result:
        return self._run(agents.set_presence, presence, reason)

    def agent_login(self) -> Result:
        return self._run(agents.login, acting=False)

    def agent_logout(self, return_chats: bool = False) -> Result:
        return self._run(agents.logout, return_chats)

    def agent_disconnect(self) -> Result:
        return self._run(agents.disconnect)

    def agent_queues(self, agent_id: str | None = None) -> Result:
        from . import queues

        return (self._read_own if agent_id in (None, self.agent) else self._read)(queues.agent_queues, agent_id)

    def agent_queues_set(self, names: list[str]) -> Result:
        from . import queues

        return self._run(queues.set_, list(names))

    def agent_queues_clear(self) -> Result:
        from . import queues

        return self._run(queues.clear)

    def agent_queues_switch(self, name: str, on: bool) -> Result:
        from . import queues

        return self._run(queues.switch, name, on)

    def queue_add(self, name: str) -> Result:
        from . import queues

        return self._run(queues.add, name, acting=False)

    def queue_list(self) -> Result:
        from . import queues

        return self._read(queues.list_)

    def queue_show(self, name: str) -> Result:
        from . import queues

        return self._read(queues.show, name)

    def break_reason_list(self) -> Result:
        return self._read(agents.break_reasons)

    def break_reason_add(self, reason: str, limit: str | None = None) -> Result:
        return self._run(agents.break_reason_add, reason, limit, acting=False)

    def break_reason_limits(self) -> Result:
        return self._read(agents.break_reason_limits)

    def break_reason_remove(self, reason: str) -> Result:
        return self._run(agents.break_reason_remove, reason, acting=False)

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

    def config_set(self, name: str, text: str, queue: str | None = None, agent: str | None = None) -> Result:
        return self._run(config.set_, name, text, queue, agent, acting=False)

    def profile_apply(self, name: str, queue: str | None = None) -> Result:
        """Set a vendor profile's values (docs/profiles.md), for every queue or one."""
        from . import profiles

        return self._run(profiles.apply, name, queue, acting=False)

    def events(self, chat_id=None, agent_id=None, since=0, limit=None, known=True) -> Result:
        """``known``: refuse a chat id that does not exist (``--follow`` waits for it instead)."""
        from . import journal

        return self._read(journal.events, chat_id, agent_id, since, limit, known)

    def follow(self, chat_id, agent_id, since, mark) -> Result:
        """One poll of ``events --follow`` (``journal.poll``)."""
        from . import journal

        return self._read(journal.poll, chat_id, agent_id, since, mark)

    def each_event(self, consume: Callable[..., object], chat_id=None, agent_id=None,
                   since=0) -> Result:
        """Hand ``consume`` the events (``journal.Events``: iterable, and their column widths)
        read as it goes, inside the read transaction: however many there are, only a batch
        is held at a time.  The result's value is what ``consume`` returns."""
        from . import journal

        return self._read(lambda tx: consume(journal.Events(tx, chat_id, agent_id, since, None, True)))

    def stats_agents(self, since_ms: int | None = None, until_ms: int | None = None) -> Result:
        """Per agent, figures over ``[since, until)`` folded from the event log (``stats``)."""
        from . import stats

        return self._read(stats.agents, since_ms, until_ms)

    def stats_queues(self, since_ms: int | None = None, until_ms: int | None = None) -> Result:
        """Per queue, figures over ``[since, until)`` folded from the event log (``stats``)."""
        from . import stats

        return self._read(stats.queues, since_ms, until_ms)

    def settle(self) -> Result:
        """Apply what is due (for ``events --follow`` on a real clock); acts as nobody."""
        return self._run(clock.show, acting=False)

    def pending(self) -> bool:
        """Whether ``settle`` would change anything now: a wrap-up timer due, or a queued chat an
        agent is free to be presented (``Tx.pending``).  A plain read: never takes the write lock
        nor writes (``chatemu watch`` and ``drill`` settle on a real clock only then)."""
        close: list[sqlite3.Connection] = []
        conn = None
        try:
            conn, status, _ = self._connect_read(close)
            if conn is None or status != schema.CURRENT:
                return False  # nothing to settle yet, or an older schema: the next command upgrades it
            conn.execute("BEGIN")
            return Tx(conn, self.wall(), self.agent).pending()
        except sqlite3.Error as exc:
            raise schema.database_error(self.path, exc) from None
        finally:
            _release(conn, close)

    # -- templates, classification codes, contacts -------------------------------

    def template_add(self, name: str, text: str, queue: str | None = None) -> Result:
        from . import messages

        return self._run(messages.template_add, name, text, queue, acting=False)

    def template_list(self, queue: str | None = None) -> Result:
        from . import messages

        return self._read(messages.template_list, queue)

    def template_remove(self, name: str, queue: str | None = None) -> Result:
        from . import messages

        return self._run(messages.template_remove, name, queue, acting=False)

    def classification_add(self, code: str, queue: str | None = None) -> Result:
        from . import classification

        return self._run(classification.code_add, code, queue, acting=False)

    def classification_list(self, queue: str | None = None) -> Result:
        from . import classification

        return self._read(classification.code_list, queue)

    def classification_remove(self, code: str, queue: str | None = None) -> Result:
        from . import classification

        return self._run(classification.code_remove, code, queue, acting=False)

    def contact_history(self, name: str) -> Result:
        from . import contacts

        return self._read(contacts.history, name)

    # -- QA tools ---------------------------------------------------------------

    def explain(self, chat_id: str) -> Result:
        from . import explain

        return self._read(explain.explain, chat_id)

    def timeline(self, chat_ids=(), agent_ids=(), start: int | None = None, end: int | None = None,
                 limit: int = 50) -> Result:
        """How time was spent: lanes of intervals (``timeline.Timeline``), read without writing."""
        from . import journal

        return self._read(journal.timeline, list(chat_ids), list(agent_ids), start, end, limit)

    def peek(self, kind: str, ident: str | None = None) -> Result:
        """The object ``expect`` compares: a chat, an agent, the clock or the config; never writes."""
        if kind == "chat":
            return self._read(chats.show, ident)
        if kind == "agent":
            return self.agent_status(ident)
        if kind == "config":
            return self._read(config.effective, ident)
        return self._read(clock.show)

    def queue_waiting(self, name: str) -> Result:
        """A queue's waiting chats, in presentation order (``expect queue``)."""
        from . import queues

        return self._read(queues.waiting, name)

    def last_seq(self) -> Result:
        """The seq of the last event (0 when there is none); never writes."""
        return self._read(lambda tx: tx.q("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0])

    def count_events(self, since: int) -> Result:
        """How many events came after seq ``since``; never writes."""
        return self._read(lambda tx: tx.q("SELECT count(*) FROM events WHERE seq > ?", since).fetchone()[0])

    # -- the journal of refusals -------------------------------------------------

    def journal_refusal(self, command: str, exit_code: int, message: str) -> int | None:
        """Journal a refused command line (exit 3 or 4) in a short transaction of its own;
        its seq, or None where it cannot be written (``refusals.record``).  Never raises."""
        from . import refusals

        return refusals.record(self, command, exit_code, message)

    def refusals(self, agent_id: str | None = None, since: int = 0) -> Result:
        """The journal of refused commands, oldest first; never writes."""
        from . import refusals

        return self._read(refusals.list_, agent_id, since)

    def refusals_last_seq(self) -> Result:
        """The seq of the journal's last refusal (0 when there is none); never writes."""
        from . import refusals

        return self._read(refusals.last_seq)

    def snapshot_save(self, name: str) -> Result:
        from . import snapshots

        return self._run(snapshots.save, name, acting=False)

    def snapshot_restore(self, name: str) -> Result:
        from . import snapshots

        return self._run(snapshots.restore, name, acting=False)

    def snapshot_delete(self, name: str) -> Result:
        from . import snapshots

        return self._run(snapshots.delete, name, acting=False)

    def snapshot_list(self) -> Result:
        from . import snapshots

        return self._read(snapshots.list_)

    def export(self, write: Callable[[str], None] | None = None, pretty: bool = False) -> str | None:
        """The whole database as one canonical JSON bundle, handed to ``write`` a piece at a
        time as it is read (without ``write``: returned as one string).  ``pretty``: indented,
        with each instant's ISO time beside its milliseconds (docs/bundle.md)."""
        from . import snapshots

        if write is not None:
            self._read(snapshots.export, write, pretty)
            return None
        pieces: list[str] = []
        self._read(snapshots.export, pieces.append, pretty)
        return "".join(pieces)

    def import_(self, source, where: str, replace: bool = False, replace_snapshots: bool = False) -> Result:
        """Load a bundle: ``source`` is its text, or a text stream read a piece at a time.
        First removes what a killed import (or export) left in the database's folder."""
        from . import snapshots, staging

        if isinstance(source, str):
            source = io.StringIO(source)
        staging.sweep(os.path.dirname(self.key))
        if self._no_file_yet():
            return self._import_new(source, where, replace, replace_snapshots)
        return self._run(snapshots.import_, source, where, replace, replace_snapshots, acting=False)

    def _import_new(self, source, where: str, replace: bool, replace_snapshots: bool) -> Result:
        """Import into a database not created yet: into a new file beside it, which becomes the
        database once the import has committed (a refused bundle leaves no file behind).  The
        file is locked while it is written, so that a killed import's is removed by a later
        import or export into the folder (``staging.sweep``), never a live one's."""
        from . import snapshots, staging

        folder = os.path.dirname(os.path.abspath(self.path))
        if self.make_folder:
            try:
                os.makedirs(folder, exist_ok=True)
            except OSError as exc:
                raise DatabaseError(
                    f"cannot create the default database folder {folder}: {exc.strerror or exc}"
                    " (name a database with --db or CHATEMU_DB)") from None
        try:
            # SQLite makes a new database 0644 less the umask
            fd, tmp = staging.create(folder, staging.IMPORT_PREFIX, staging.IMPORT_SUFFIX, 0o644 & ~staging.umask())
        except OSError as exc:
            raise DatabaseError(f"cannot create database {self.path}: {exc.strerror or exc}") from None
        try:  # SQLite makes a database of the empty file
            staging_engine = Engine(tmp, self.agent, self.wall)
            result = staging_engine._once(snapshots.import_, (source, where, replace, replace_snapshots), False, True)
            try:
                os.link(tmp, self.path)  # never over a database another process made meanwhile
            except FileExistsError:
                raise DatabaseError(f"database {self.path} was created by another process during the import:"
                                    " nothing imported") from None
            except OSError as exc:
                raise DatabaseError(f"cannot create database {self.path}: {exc.strerror or exc}") from None
            return result
        finally:
            try:
                staging.remove(tmp)
            finally:
                os.close(fd)  # the lock is held until the file is gone

    # -- webhooks (server configuration: docs/webhooks.md) ------------------------------------

    def webhook_add(self, url: str, events=None, secret: str | None = None) -> Result:
        """A new endpoint sent the events logged from now on (``events``: patterns, default
        every type); its object holds the secret, shown this once (generated unless given)."""
        from . import webhooks

        return self._run(webhooks.add, url, events, secret, acting=False)

    def webhook_list(self) -> Result:
        from . import webhooks

        return self._read(webhooks.list_)

    def webhook_delete(self, webhook_id: int) -> Result:
        from . import webhooks

        return self._run(webhooks.delete, webhook_id, acting=False)

    def webhook_enable(self, webhook_id: int) -> Result:
        from . import webhooks

        return self._run(webhooks.enable, webhook_id, acting=False)

    def webhook_deliveries(self, webhook_id: int) -> Result:
        from . import webhooks

        return self._read(webhooks.deliveries, webhook_id)

    def reset(self, keep_snapshots: bool = False) -> Result:
        from . import snapshots

        return self._run(snapshots.reset, keep_snapshots, acting=False)
