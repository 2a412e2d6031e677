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

from .errors import DatabaseError

#: Written to ``PRAGMA application_id``: "CHEM".
APPLICATION_ID = 0x4348454D
#: The number of migrations below; mirrored in ``PRAGMA user_version``.
SCHEMA_VERSION = 4
#: Seconds a command waits for another process's transaction before giving up (exit 5).
DEFAULT_BUSY_TIMEOUT = 10.0


def busy_timeout() -> float:
    raw = os.environ.get("CHATEMU_BUSY_TIMEOUT")
    if not raw:
        return DEFAULT_BUSY_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        raise DatabaseError(f"CHATEMU_BUSY_TIMEOUT is not a number of seconds: {raw!r}") from None
    if not 0 <= value <= 3600:
        raise DatabaseError(f"CHATEMU_BUSY_TIMEOUT must be between 0 and 3600 seconds: {raw!r}")
    return value


NEW, OLD, CURRENT = "new", "old", "current"


def connect(path: str) -> tuple[sqlite3.Connection, str]:
    """Open ``path``; return the connection and whether the file is ``NEW`` (empty),
    ``OLD`` (an older chatemu schema, to migrate) or ``CURRENT``.

    Refuses (``DatabaseError``) a folder, a missing parent folder, a file that
    is not SQLite, a SQLite file of another program, and a newer schema,
    without writing anything.
    """
    if os.path.isdir(path):
        raise DatabaseError(f"cannot open database {path}: it is a folder")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise DatabaseError(f"cannot open database {path}: folder {parent} does not exist")
    try:
        conn = sqlite3.connect(path, timeout=busy_timeout(), isolation_level=None)
    except sqlite3.Error as exc:
        raise DatabaseError(f"cannot open database {path}: {exc}") from None
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if app_id != APPLICATION_ID:
            # A brand-new (empty) file becomes ours; anything else is not.
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if tables or version:
                raise DatabaseError(f"{path} is not a chatemu database")
        elif version > SCHEMA_VERSION:
            raise DatabaseError(
                f"{path} has schema version {version}, newer than this chatemu's {SCHEMA_VERSION}: upgrade chatemu"
            )
    except sqlite3.Error as exc:
        conn.close()
        raise database_error(path, exc) from None
    except DatabaseError:
        conn.close()
        raise
    status = NEW if app_id != APPLICATION_ID else OLD if version < SCHEMA_VERSION else CURRENT
    if status != NEW:
        use_wal(conn)
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn, status


def use_wal(conn: sqlite3.Connection) -> None:
    """Put the file in WAL mode (it persists in the file), best effort.

    A new database is created in the rollback-journal mode, inside the first
    command's transaction, so a refused first command leaves the file as it
    was (empty); it switches to WAL once that transaction has committed.  If
    the switch cannot happen now (another process has the file open, or it is
    read-only), a later command makes it.
    """
    try:
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            conn.execute("PRAGMA journal_mode=WAL")
    except sqlite3.Error:
        pass


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
    """Apply pending migrations; the caller holds a ``BEGIN IMMEDIATE`` transaction."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:  # another chatemu upgraded it while we waited
        raise DatabaseError(f"database has schema version {version}, newer than this chatemu's {SCHEMA_VERSION}")
    if version == SCHEMA_VERSION:
        return
    import sqlite_utils

    db = sqlite_utils.Database(conn)
    migrations = _migrations(sqlite_utils, now_ms)
    migrations.apply(db)
    conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")


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

    return migrations
