"""Opening a chatemu database, and its schema as forward migrations.

The hot path (every command on an up-to-date database) uses only the standard
library's ``sqlite3``: ``PRAGMA application_id`` and ``PRAGMA user_version``
say whether the file is ours and current.  Only when a database is new or
older than this chatemu is ``sqlite_utils`` imported, to apply the pending
migrations (``sqlite_utils.Migrations``) inside the command's own
``BEGIN IMMEDIATE`` transaction.
"""

from __future__ import annotations

import os
import sqlite3
import stat

from .errors import DatabaseError, UsageError

#: Written to ``PRAGMA application_id``: "CHEM".
APPLICATION_ID = 0x4348454D
#: The schema's version, mirrored in ``PRAGMA user_version``.
SCHEMA_VERSION = 10
#: Seconds a command waits for another process's transaction before giving up (exit 5).
DEFAULT_BUSY_TIMEOUT = 10.0


def busy_timeout() -> float:
    raw = os.environ.get("CHATEMU_BUSY_TIMEOUT")
    if not raw:
        return DEFAULT_BUSY_TIMEOUT
    # A bad value is the user's setting, not the database's problem: a usage error.
    try:
        value = float(raw)
    except ValueError:
        raise UsageError(f"CHATEMU_BUSY_TIMEOUT is not a number of seconds: {raw[:60]!r}") from None
    if not 0 <= value <= 3600:
        raise UsageError(f"CHATEMU_BUSY_TIMEOUT must be between 0 and 3600 seconds: {raw[:60]!r}")
    return value


NEW, OLD, CURRENT = "new", "old", "current"

#: SQLite's name for a database that lives in memory, gone when its process ends.
MEMORY = ":memory:"


def plain_path(path: str) -> str:
    """A database path as users give it: any file name, never ``:memory:``."""
    if not path:
        raise UsageError("empty database path")
    if path == MEMORY:
        raise UsageError(
            "cannot use :memory: as the database: every chatemu command is a separate process, so an"
            " in-memory database would vanish after each one (name a file, e.g. --db ./chatemu.db)"
        )
    return path


def file_name(path: str) -> str:
    """The name to hand SQLite for the file ``path``, read as a plain file name.

    SQLite reads a name starting with ``file:`` as a URI (``file:x.db?mode=memory``)
    when it is built to, whatever ``sqlite3.connect`` is told; ``./file:…`` is the
    same file, never a URI."""
    return os.path.join(os.curdir, path) if path.startswith("file:") else path



def connect(path: str) -> tuple[sqlite3.Connection, str]:
    """Open ``path`` for a command that changes something; return the connection and
    whether the file is ``NEW`` (empty or missing: created now), ``OLD`` (an older
    chatemu schema, to migrate) or ``CURRENT``.

    Refuses (``DatabaseError``) a folder, a missing parent folder, a file this
    process may not write, a file that is not SQLite, a SQLite file of another
    program, and a newer schema, without writing anything.
    """
    _check_place(path)
    real = os.path.realpath(path)
    if os.path.exists(real) and not os.access(real, os.W_OK):
        raise DatabaseError(f"database {path} is read-only")
    try:
        conn = sqlite3.connect(file_name(path), timeout=busy_timeout(), isolation_level=None)
    except sqlite3.Error as exc:
        raise DatabaseError(f"cannot open database {path}: {exc}") from None
    return conn, _identify(conn, path)


def open_read(path: str, folder_may_be_missing: bool = False) -> tuple[sqlite3.Connection | None, str, bool]:
    """Open ``path`` for a command that only reads, so that nothing on disk changes.

    Returns the connection (None when there is no database yet: a missing or
    empty file, which is left as it is), ``OLD`` or ``CURRENT``, and whether
    the connection may write (an ordinary one, to a file and folder this
    process may write; SQLite creates its ``-wal``/``-shm`` files there and
    removes them when the last connection closes).  Otherwise the file is read
    read-only: as it is on disk (``immutable``) when it is a WAL database with
    no ``-wal`` beside it (no process has it open), else through its ``-wal``;
    if SQLite cannot do that here (a WAL database whose ``-shm`` index cannot be
    created, a transaction a killed process left half-done), ``DatabaseError``
    says so rather than read a state that is not the committed one.
    """
    parent = _check_place(path, folder_may_be_missing)
    if parent is None:
        return None, NEW, False
    try:
        if os.stat(path).st_size == 0:
            return None, NEW, False
    except FileNotFoundError:
        return None, NEW, False
    except OSError as exc:
        raise DatabaseError(f"cannot open database {path}: {exc.strerror or exc}") from None
    real = os.path.realpath(path)  # SQLite keeps -wal/-shm/-journal beside the file a symlink names
    writable = os.access(real, os.W_OK) and os.access(os.path.dirname(real), os.W_OK)
    if writable:
        conn, status = connect(path)
    else:
        # Only here is the file itself read outside SQLite: closing a descriptor drops every
        # POSIX lock this process holds on the file, and a kept connection (``chatemu run``,
        # ``events --follow``) is only ever one to a file this process may write.
        try:
            with open(real, "rb") as handle:
                header = handle.read(100)
        except OSError as exc:
            raise DatabaseError(f"cannot open database {path}: {exc.strerror or exc}") from None
        wal_mode = header[:16] == b"SQLite format 3\0" and header[18:20] == b"\x02\x02"
        wal, journal = real + "-wal", real + "-journal"
        immutable = wal_mode and not os.path.exists(wal)
        conn = _open_read_only(path, real, immutable)
        if conn is None:
            if wal_mode and os.path.exists(wal) and os.path.getsize(wal) > 0:
                raise DatabaseError(
                    f"cannot read {path}: its latest committed changes are in {wal}, which SQLite can read only"
                    " where it may create its -shm index (this folder or file is read-only)"
                )
            if not wal_mode and os.path.exists(journal) and os.path.getsize(journal) > 0:
                raise DatabaseError(
                    f"cannot read {path}: a transaction a killed process left half-done in {journal} must be"
                    " rolled back first, by a command that may write this folder and file"
                )
            # Nothing in the -wal (or no WAL at all): the file itself holds every committed change.
            conn = _open_read_only(path, real, True, last_try=True)
        status = _identify(conn, path)
    if status == NEW:  # SQLite, but nothing in it yet
        conn.close()
        return None, NEW, False
    return conn, status, writable


def _open_read_only(path: str, real: str, immutable: bool, last_try: bool = False) -> sqlite3.Connection | None:
    """A read-only connection that has read the file's first page; None if SQLite cannot
    read it so (unless ``last_try``: then ``DatabaseError``)."""
    from urllib.parse import quote

    uri = "file:" + quote(real) + ("?mode=ro&immutable=1" if immutable else "?mode=ro")
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=busy_timeout(), isolation_level=None)
    except sqlite3.Error as exc:
        raise DatabaseError(f"cannot open database {path}: {exc}") from None
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as exc:
        conn.close()
        if immutable or last_try or "locked" in str(exc) or "busy" in str(exc):
            raise database_error(path, exc) from None
        return None
    return conn


def _check_place(path: str, folder_may_be_missing: bool = False) -> str | None:
    """The folder ``path`` is in; ``DatabaseError`` if ``path`` is a folder or anything else that
    is not a regular file (a device, a FIFO: nothing is created beside it) or its folder is missing."""
    if os.path.isdir(path):
        raise DatabaseError(f"cannot open database {path}: it is a folder")
    try:
        mode = os.stat(path).st_mode
    except OSError:  # nothing there yet (or a dangling symlink: SQLite says what is wrong)
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        # A device, a FIFO, a socket: SQLite would write a -journal beside it before failing.
        raise DatabaseError(f"cannot open database {path}: it is not a regular file ({_kind(mode)})")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        if folder_may_be_missing:
            return None
        raise DatabaseError(f"cannot open database {path}: folder {parent} does not exist")
    return parent


def _kind(mode: int) -> str:
    for test, kind in ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "not a file"


def _identify(conn: sqlite3.Connection, path: str) -> str:
    """``NEW``, ``OLD`` or ``CURRENT``; closes ``conn`` and raises ``DatabaseError`` if not ours."""
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if app_id != APPLICATION_ID:
            # A brand-new (empty) file becomes ours; anything else is not: a file with
            # tables, a schema version, or another program's application id, even
            # before that program has created its tables.
            if app_id:
                raise DatabaseError(f"{path} is not a chatemu database (it belongs to another program:"
                                    f" application id {app_id:#x})")
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if tables or version:
                raise DatabaseError(f"{path} is not a chatemu database")
        elif version > SCHEMA_VERSION:
            raise DatabaseError(
                f"{path} has schema version {version}, newer than this chatemu's {SCHEMA_VERSION}: upgrade chatemu"
            )
        conn.execute("PRAGMA synchronous=NORMAL")
    except sqlite3.Error as exc:
        conn.close()
        raise database_error(path, exc) from None
    except DatabaseError:
        conn.close()
        raise
    return NEW if app_id != APPLICATION_ID else OLD if version < SCHEMA_VERSION else CURRENT


def blank(now_ms: int) -> sqlite3.Connection:
    """A new, empty chatemu database in memory (what a path with no database yet reads as)."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("BEGIN")
    migrate(conn, now_ms)
    conn.execute("COMMIT")
    return conn


def use_wal(conn: sqlite3.Connection, path: str) -> None:
    """Put the database file ``path`` in WAL mode (it persists in the file), best effort:
    only after a command that changed something has committed (a read leaves the file as
    it is), and only when it can complete.

    A new database is created in the rollback-journal mode, inside the first command's
    transaction, so a refused first command leaves the file as it was (empty); an older
    one in that mode stays in it for the whole command, so a command that fails (a full
    disk) leaves its bytes as they were.  The switch rewrites the file's header and makes
    the ``-wal`` and ``-shm`` files: it is not tried where the folder has less room than
    ``WAL_ROOM`` bytes, and undone if it fails.  If the switch cannot happen now (another
    process has the file open, a full disk), a later command makes it.
    """
    try:
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        if mode == "wal":
            return
        page = conn.execute("PRAGMA page_size").fetchone()[0]
        room = os.statvfs(os.path.dirname(os.path.realpath(path)) or os.curdir)
    except (sqlite3.Error, OSError):
        return
    if room.f_bavail * room.f_frsize < WAL_ROOM + 4 * page:
        return
    try:
        conn.execute("PRAGMA journal_mode=WAL")
    except sqlite3.Error:
        try:
            conn.execute(f"PRAGMA journal_mode={mode}")  # as it was (the header says so again)
        except sqlite3.Error:
            pass


#: The room (bytes) a switch to WAL needs beside a few pages: the ``-shm`` index (32 KiB) and more.
WAL_ROOM = 128 * 1024


def database_error(path: str, exc: sqlite3.Error) -> DatabaseError:
    """A SQLite error, as the one-line message users see (exit 5)."""
    text = str(exc)
    if "locked" in text or "busy" in text:
        return DatabaseError(f"database {path} is locked: another process kept it busy past the timeout")
    if "readonly" in text or "read-only" in text:
        return DatabaseError(f"database {path} is read-only")
    if "not a database" in text or "malformed" in text:
        return DatabaseError(f"{path} is not a chatemu database ({text})")
    if "unable to open" in text:
        return DatabaseError(f"cannot open database {path}: {text}")
    return DatabaseError(f"database {path}: {text}")


def migrate(conn: sqlite3.Connection, now_ms: int) -> None:
    """Apply pending migrations; the caller holds a ``BEGIN IMMEDIATE`` transaction.  An empty
    database gets at once what every migration makes (``made_new``)."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:  # another chatemu upgraded it while we waited
        raise DatabaseError(f"database has schema version {version}, newer than this chatemu's {SCHEMA_VERSION}")
    if version == SCHEMA_VERSION:
        return
    if version == 0 and conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone() is None:
        for sql, params in made_new():
            conn.execute(sql, params)
        conn.execute("UPDATE meta SET now_ms = ? WHERE id = 1", (now_ms,))  # the new clock's instant
    else:
        _apply_migrations(conn, now_ms)
    conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")


def _apply_migrations(conn: sqlite3.Connection, now_ms: int) -> None:
    import sqlite_utils

    _migrations(sqlite_utils, now_ms).apply(sqlite_utils.Database(conn))


_MADE_NEW: list[tuple[str, tuple]] | None = None


def made_new() -> list[tuple[str, tuple]]:
    """The statements that make an empty database what every migration makes of it, found once
    per process by running the migrations on an empty database in memory: its tables, indexes
    and the rest, in the order they were made (their SQL as the migrations left it), then its
    rows (the clock's at instant 0).  Migrating a new database costs a few hundred statements
    (the migrations read the schema as they go); these are a few dozen."""
    global _MADE_NEW
    if _MADE_NEW is None:
        conn = sqlite3.connect(":memory:", isolation_level=None)
        try:
            conn.execute("BEGIN")
            _apply_migrations(conn, 0)
            conn.execute("COMMIT")
            made = [(sql, ()) for (sql,) in conn.execute(
                "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND substr(name, 1, 7) != 'sqlite_' ORDER BY rowid")]
            for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY rowid").fetchall():
                quoted = '"' + table.replace('"', '""') + '"'
                made += [(f"INSERT INTO {quoted} VALUES ({', '.join('?' * len(row))})", row)
                         for row in conn.execute(f"SELECT * FROM {quoted} ORDER BY rowid")]
        finally:
            conn.close()
        _MADE_NEW = made
    return _MADE_NEW


def _each(conn: sqlite3.Connection, script: str) -> None:
    """Run the statements of ``script`` (separated by ``;``) one by one, inside the caller's
    transaction (``executescript`` would commit it first)."""
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def _migrations(sqlite_utils, now_ms: int):
    migrations = sqlite_utils.Migrations("chatemu")

    @migrations(name="0001_initial")
    def initial(db) -> None:
        # One row: the clock (mode, last instant seen, real-mode offset) and the next chat number.
        db["meta"].create(
            {"id": int, "mode": str, "now_ms": int, "offset_ms": int, "next_chat": int},
            pk="id",
            not_null={"mode", "now_ms", "offset_ms", "next_chat"},
        )
        db["meta"].insert({"id": 1, "mode": "virtual", "now_ms": now_ms, "offset_ms": 0, "next_chat": 1})
        db["config"].create({"queue": str, "key": str, "value": str}, pk=("queue", "key"), not_null={"value"})
        db["agents"].create(
            {"id": str, "presence": str, "on_call": int, "last_activity_ms": int, "created_at_ms": int},
            pk="id",
            not_null={"presence", "on_call", "last_activity_ms", "created_at_ms"},
        )
        db["chats"].create(
            {
                "id": str,
                "number": int,  # creation order
                "state": str,
                "agent": str,
                "customer": str,
                "queue": str,
                "priority": int,
                "created_at_ms": int,
                "closed_at_ms": int,
                "closed_reason": str,
                "parked_by_call": int,
                "wrapup_deadline_ms": int,  # set while the wrap-up timer runs
                "wrapup_remaining_ms": int,  # set while it is paused
                "extension_ms": int,  # fixed when wrap-up starts
                "extensions_left": int,
                "state_since_ms": int,
                "active_ms": int,
                "parked_ms": int,
                "wrapup_ms": int,
            },
            pk="id",
            not_null={"number", "state", "queue", "priority", "created_at_ms", "parked_by_call", "state_since_ms"},
            defaults={"parked_by_call": 0, "active_ms": 0, "parked_ms": 0, "wrapup_ms": 0},
        )
        db["chats"].create_index(["number"], unique=True)
        db["chats"].create_index(["agent", "state"])
        db["chats"].create_index(["state", "priority", "created_at_ms", "number"])
        db.execute(
            "CREATE INDEX idx_chats_deadline ON chats(wrapup_deadline_ms, number)"
            " WHERE wrapup_deadline_ms IS NOT NULL"
        )
        db.execute(
            "CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL,"
            " agent TEXT, chat TEXT, from_state TEXT, to_state TEXT, cause TEXT NOT NULL)"
        )
        db["events"].create_index(["chat", "seq"])
        db["events"].create_index(["agent", "seq"])

    @migrations(name="0002_snapshots")
    def snapshots(db) -> None:
        # Whole-state copies kept inside the database (``chatemu snapshot``).
        db["snapshots"].create(
            {"name": str, "created_at_ms": int, "state": str}, pk="name", not_null={"created_at_ms", "state"}
        )

    @migrations(name="0003_webchat")
    def webchat(db) -> None:
        # Where a chat first arrived (it returns there), transfers made, unread customer
        # messages, classification and its note, the abusive flag, the linked contact.
        chats = db["chats"]
        chats.add_column("origin_queue", str)
        chats.add_column("transfers", int, not_null_default=0)
        chats.add_column("unread", int, not_null_default=0)
        chats.add_column("classification", str)
        chats.add_column("classification_note", str)
        chats.add_column("abusive", int, not_null_default=0)
        chats.add_column("contact", str)
        db.execute("UPDATE chats SET origin_queue = queue")
        db.execute("UPDATE chats SET contact = customer WHERE customer IS NOT NULL")
        db["chats"].create_index(["contact", "number"])
        # The queue in presentation order (priority high to low, then arrival), read without sorting.
        db.execute("DROP INDEX IF EXISTS idx_chats_state_priority_created_at_ms_number")
        db.execute("CREATE INDEX idx_chats_queue ON chats(state, priority DESC, created_at_ms, number)")
        db["contacts"].create({"name": str, "created_at_ms": int}, pk="name", not_null={"created_at_ms"})
        db.execute(
            "INSERT INTO contacts (name, created_at_ms)"
            " SELECT contact, min(created_at_ms) FROM chats WHERE contact IS NOT NULL GROUP BY contact"
        )
        # One row per message; seq counts 1, 2, 3 … within each chat.  sender: 'customer' or an agent id.
        db["messages"].create(
            {"chat": str, "seq": int, "at_ms": int, "sender": str, "text": str},
            pk=("chat", "seq"),
            not_null={"at_ms", "sender", "text"},
        )
        # queue '' holds the global templates and classification codes.
        db["templates"].create({"queue": str, "name": str, "text": str}, pk=("queue", "name"), not_null={"text"})
        db["classification_codes"].create({"queue": str, "code": str}, pk=("queue", "code"))

    @migrations(name="0004_compact_snapshots")
    def compact_snapshots(db) -> None:
        # A snapshot was one JSON text; it becomes its tables' rows, compressed, in chunks
        # (``bundle.Parts``), with what listings need (the chat count) and the event sequence
        # in its own row.  States an older schema saved stay as they were (upgraded on restore).
        import json

        from . import bundle

        conn = db.conn
        conn.execute("ALTER TABLE snapshots RENAME TO snapshots_0003")
        conn.execute(
            "CREATE TABLE snapshots (name TEXT PRIMARY KEY, created_at_ms INTEGER NOT NULL,"
            " chats INTEGER NOT NULL, events_seq INTEGER NOT NULL)"
        )
        conn.execute(
            "CREATE TABLE snapshot_parts (snapshot TEXT NOT NULL, part TEXT NOT NULL, seq INTEGER NOT NULL,"
            " data BLOB NOT NULL, PRIMARY KEY (snapshot, part, seq))"
        )
        names = [row[0] for row in conn.execute("SELECT name FROM snapshots_0003 ORDER BY name")]
        for name in names:  # one at a time: only one snapshot's text in memory
            created, text = conn.execute(
                "SELECT created_at_ms, state FROM snapshots_0003 WHERE name = ?", (name,)).fetchone()
            state = json.loads(text)
            del text
            parts = bundle.Parts(conn, "snapshot_parts", "snapshot", name)
            counts = {}
            for table in bundle.STATE_TABLES:
                if table in state:
                    writer = parts.writer(table)
                    for row in state.pop(table):
                        writer.add(row)
                    counts[table] = writer.close()
            conn.execute("INSERT INTO snapshots (name, created_at_ms, chats, events_seq) VALUES (?, ?, ?, ?)",
                         (name, created, counts.get("chats", 0), state.get("events_seq", 0)))
        conn.execute("DROP TABLE snapshots_0003")

    @migrations(name="0005_agents_queues")
    def agents_queues(db) -> None:
        # The agent's derived status as last logged and since when, the reason of its break,
        # its own capacity (NULL: the global max-chats); queues by name; which queues an agent
        # serves, in its order, each switched on or off (no row at all: it serves every queue).
        agents = db["agents"]
        agents.add_column("status", str)
        agents.add_column("status_since_ms", int)
        agents.add_column("break_reason", str)
        agents.add_column("max_chats", int)
        agents.add_column("queues_since_ms", int)  # when its queues last changed (NULL: never)
        # A chat event's queue: the chat's queue after the change (statistics per queue read the
        # log alone).  Events logged before keep the queue their chat is in now.
        db["events"].add_column("queue", str)
        db.execute("UPDATE events SET queue = (SELECT c.queue FROM chats c WHERE c.id = events.chat)"
                   " WHERE chat IS NOT NULL")
        db["queues"].create({"name": str, "created_at_ms": int}, pk="name", not_null={"created_at_ms"})
        db["agent_queues"].create(
            {"agent": str, "queue": str, "position": int, "enabled": int},
            pk=("agent", "queue"),
            not_null={"position", "enabled"},
        )
        # The queue's head, queue by queue, in presentation order.
        db.execute("CREATE INDEX idx_chats_queue_by_name ON chats(state, queue, priority DESC, created_at_ms, number)")
        fill_agents_queues(db.conn)

    @migrations(name="0006_refusals")
    def refusals(db) -> None:
        # The journal of refused commands: each state-changing command line refused by the model
        # (exit 3) or naming something unknown (exit 4), written after its own transaction rolled
        # back (``refusals.record``).  ``seq`` is the rowid: 1, 2, 3 … in the order they were written.
        db.execute(
            "CREATE TABLE refusals (seq INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, agent TEXT NOT NULL,"
            " command TEXT NOT NULL, exit_code INTEGER NOT NULL, message TEXT NOT NULL)"
        )
        db["refusals"].create_index(["agent", "seq"])

    @migrations(name="0007_webhooks")
    def webhooks(db) -> None:
        # Server configuration, not contact-centre state (store/webhooks.py): kept by reset,
        # snapshot restore and import, never in a bundle or a snapshot.
        _each(db.conn, WEBHOOK_TABLES)
        db.conn.execute("INSERT INTO webhook_log (id, tag, generation) VALUES (1, NULL, 0)")

    @migrations(name="0008_clocks")
    def clocks(db) -> None:
        # The clocks beyond wrap-up (store/clocks.py): each running timer is its deadline, NULL
        # when it does not run, with a partial index in the order timers run out.
        _each(db.conn, CLOCK_COLUMNS)

    @migrations(name="0009_free_agents")
    def free_agents(db) -> None:
        # Whether a queued chat may be presented to the agent now (1, 0; NULL: not worked out yet),
        # kept by every command (store/free.py); the index holds only the agents that may be free,
        # in routing's order, so presenting never reads the busy ones.
        from . import free

        db.conn.execute("ALTER TABLE agents ADD COLUMN free INTEGER")
        db.conn.execute(FREE_INDEX)
        free.rebuild(db.conn)

    @migrations(name="0010_lean_indexes")
    def lean_indexes(db) -> None:
        # Indexes that hold only the rows their queries read, so a move that is not into or out
        # of a queue, and an agent's own event, write no entry in them: the queue's head by queue
        # holds the queued chats; the events by chat hold the chats' events (not the agents').
        _each(db.conn, LEAN_INDEXES)

    return migrations


#: Schema version 10: two indexes made partial (what their queries read, nothing more).
LEAN_INDEXES = """
DROP INDEX idx_chats_queue_by_name;
CREATE INDEX idx_chats_queue_by_name ON chats(queue, priority DESC, created_at_ms, number) WHERE state = 'queued';
DROP INDEX idx_events_chat_seq;
CREATE INDEX idx_events_chat_seq ON events(chat, seq) WHERE chat IS NOT NULL
"""

#: The agents that may be free, in routing's order (``free.CANDIDATES`` is its WHERE).
FREE_INDEX = "CREATE INDEX idx_agents_free ON agents(last_activity_ms, id) WHERE free IS NOT 0"

#: Schema version 8's columns and indexes.  Chats: the customer's own patience (NULL: the queue's),
#: since when the customer waits for an agent, the offer, patience, reply-alert and customer-idle
#: deadlines, the oldest unanswered customer message's instant and when the chat began alerting.
#: Agents: the deadline of a limited break and when the break overran its limit.
CLOCK_COLUMNS = """
ALTER TABLE chats ADD COLUMN patience_ms INTEGER;
ALTER TABLE chats ADD COLUMN waiting_since_ms INTEGER;
ALTER TABLE chats ADD COLUMN offer_deadline_ms INTEGER;
ALTER TABLE chats ADD COLUMN patience_deadline_ms INTEGER;
ALTER TABLE chats ADD COLUMN idle_deadline_ms INTEGER;
ALTER TABLE chats ADD COLUMN awaiting_since_ms INTEGER;
ALTER TABLE chats ADD COLUMN alert_deadline_ms INTEGER;
ALTER TABLE chats ADD COLUMN alerting_since_ms INTEGER;
ALTER TABLE agents ADD COLUMN break_deadline_ms INTEGER;
ALTER TABLE agents ADD COLUMN overrun_since_ms INTEGER;
CREATE INDEX idx_chats_offer ON chats(offer_deadline_ms, number) WHERE offer_deadline_ms IS NOT NULL;
CREATE INDEX idx_chats_patience ON chats(patience_deadline_ms, number) WHERE patience_deadline_ms IS NOT NULL;
CREATE INDEX idx_chats_idle ON chats(idle_deadline_ms, number) WHERE idle_deadline_ms IS NOT NULL;
CREATE INDEX idx_chats_alert ON chats(alert_deadline_ms, number) WHERE alert_deadline_ms IS NOT NULL;
CREATE INDEX idx_agents_break ON agents(break_deadline_ms, id) WHERE break_deadline_ms IS NOT NULL;
"""


#: Schema version 7's tables.  ``webhook_log``: one row, the log's generation (counted up each
#: time reset, snapshot restore or import replaces the event log) and a random tag of this
#: database (set when its first webhook is added: until then two databases made by the same
#: commands hold the same bytes); ``webhooks``: each endpoint, its event patterns and secret, and its cursor (the last
#: event seq it acknowledged, in the log of its generation; -1: the notice of a replaced log is
#: due); ``webhook_deliveries``: the attempts at each event an endpoint was sent (the latest kept).
WEBHOOK_TABLES = """
CREATE TABLE webhook_log (id INTEGER PRIMARY KEY, tag TEXT, generation INTEGER NOT NULL);
CREATE TABLE webhooks (id INTEGER PRIMARY KEY AUTOINCREMENT, url TEXT NOT NULL, events TEXT NOT NULL,
  secret TEXT NOT NULL, created_at_ms INTEGER NOT NULL, disabled_at_ms INTEGER, disabled_why TEXT,
  generation INTEGER NOT NULL, cursor INTEGER NOT NULL);
CREATE TABLE webhook_deliveries (webhook INTEGER NOT NULL, generation INTEGER NOT NULL, seq INTEGER NOT NULL,
  attempts INTEGER NOT NULL, status INTEGER, error TEXT, first_ms INTEGER NOT NULL, last_ms INTEGER NOT NULL,
  next_ms INTEGER, delivered INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (webhook, generation, seq));
"""


def fill_agents_queues(conn: sqlite3.Connection) -> None:
    """Bring a state saved before schema version 5 up to date (in a migration, or when such a
    state is loaded): every queue a chat names exists, since its first chat; every agent has
    its derived status, logged as an event now where its last logged status differs."""
    conn.execute(
        "INSERT OR IGNORE INTO queues (name, created_at_ms)"
        " SELECT queue, min(created_at_ms) FROM (SELECT queue, created_at_ms FROM chats"
        " UNION ALL SELECT origin_queue, created_at_ms FROM chats WHERE origin_queue IS NOT NULL) GROUP BY queue"
    )
    now = conn.execute("SELECT now_ms FROM meta WHERE id = 1").fetchone()[0]
    rows = conn.execute(
        "SELECT a.id, CASE WHEN a.on_call THEN 'on-call'"
        " WHEN EXISTS (SELECT 1 FROM chats c WHERE c.agent = a.id AND c.state = 'active') THEN 'handling-chat'"
        " WHEN EXISTS (SELECT 1 FROM chats c WHERE c.agent = a.id AND c.state = 'active-wrapup') THEN 'wrap-up'"
        " ELSE a.presence END,"
        " (SELECT e.to_state FROM events e WHERE e.agent = a.id AND e.chat IS NULL ORDER BY e.seq DESC LIMIT 1)"
        " FROM agents a WHERE a.status IS NULL ORDER BY a.id"
    ).fetchall()
    for agent, derived, logged in rows:
        if logged != derived:
            conn.execute(
                "INSERT INTO events (at_ms, agent, chat, from_state, to_state, cause) VALUES (?, ?, NULL, ?, ?, 'upgrade')",
                (now, agent, logged, derived),
            )
            since = now
        else:
            since = conn.execute(
                "SELECT max(at_ms) FROM events WHERE agent = ? AND chat IS NULL", (agent,)).fetchone()[0]
        conn.execute("UPDATE agents SET status = ?, status_since_ms = ? WHERE id = ?", (derived, since, agent))
