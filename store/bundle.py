"""Whole-state copies: snapshots inside a database, and export/import bundles, streamed.

The state is every row of the state tables (``meta``: the clock and the next
chat number; ``config``; ``agents``; ``chats`` with their timers; ``events``;
``contacts``; ``messages``; ``templates``; ``classification_codes``; ``queues``;
``agent_queues``; ``refusals``, the journal of refused commands) plus the event
sequence.  A bundle is one canonical JSON document (sorted keys, rows in
key order, no spaces), so export → import → export is byte-identical.

Nothing here holds a whole state in memory, whatever its size: rows go in
and out a batch at a time.

- A snapshot is stored table by table (a *part* per table, in
  ``snapshot_parts``), each part the table's rows as lines of canonical JSON
  (one array of up to ``BATCH`` rows per line), zlib-compressed, in chunks of
  about ``CHUNK`` bytes; its row in ``snapshots`` keeps what listings need (the
  chat count) and the event sequence.  Exporting a snapshot copies its parts
  into the bundle without parsing them.
- Export writes the bundle piece by piece (``write_bundle``).
- Import parses the bundle as it reads it (``Reader``, ``parse_bundle``),
  checks every row against the live schema as it goes (``StateCheck``), and
  stores each state it holds as parts (the current state in a temporary table,
  loaded once the whole bundle has proved sound).

A state saved by an older chatemu (a snapshot kept in an upgraded database,
or a bundle of an older schema) may lack the tables schema version 3 added:
it is brought up to date as it is loaded (``load_parts``), the way migration
0003 brought a database.
"""

from __future__ import annotations

import codecs
import json
import re
import sqlite3
import sys
import zlib
from typing import Callable, Iterable, Iterator

from . import schema
from .clock import MODES
from .errors import DatabaseError, UsageError
from .timefmt import MAX_MS, MIN_MS, format_time
from .validate import MAX_COUNTER, is_name, shown

FORMAT = "chatemu-bundle"
FORMAT_VERSION = 1
STATE_TABLES = ("meta", "config", "agents", "chats", "events", "contacts", "messages", "templates",
                "classification_codes", "queues", "agent_queues", "refusals")
_ORDER = {"meta": "id", "config": "queue, key", "agents": "id", "chats": "number", "events": "seq",
          "contacts": "name", "messages": "chat, seq", "templates": "queue, name", "classification_codes": "queue, code",
          "queues": "name", "agent_queues": "agent, queue", "refusals": "seq"}
#: Tables schema version 3 added: absent from the states older versions saved.
_V3_TABLES = ("contacts", "messages", "templates", "classification_codes")
#: Tables schema version 5 added: a state without them gets them from its chats and agents
#: as it is loaded (``schema.fill_agents_queues``).
_V5_TABLES = ("queues", "agent_queues")
#: Tables schema version 6 added: a state without them (saved before) has an empty journal of refusals.
_V6_TABLES = ("refusals",)
#: Not-null chat columns schema version 3 added, which an older state's chats lack.
_V3_NOT_NULL = ("transfers", "unread", "abusive")
#: Rows per line of a part.
BATCH = 256
#: Compressed bytes per stored chunk of a part.
CHUNK = 1 << 20
#: zlib's level: the fastest; JSON rows still shrink about eight times.
LEVEL = 1
_COLUMNS: dict[str, dict[str, tuple[str, bool]]] = {}
#: Columns worked out from the rest of the state and kept for speed (``free.py``): never saved
#: in a snapshot or a bundle, worked out again when a state is loaded.
DERIVED = {"agents": ("free",)}
#: What must be unique in a state's tables (the keys of the live schema).
_UNIQUE = {"chats": ("id", "number"), "agents": ("id",), "events": ("seq",),
           "config": ("queue", "key"), "contacts": ("name",), "messages": ("chat", "seq"),
           "templates": ("queue", "name"), "classification_codes": ("queue", "code"),
           "queues": ("name",), "agent_queues": ("agent", "queue"), "refusals": ("seq",)}
_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))
#: The same output for dicts whose keys are in sorted order already (rows read with their
#: columns selected in that order), without sorting each one.
_SORTED = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
#: A JSON string, as ``json.dumps(..., ensure_ascii=False)`` writes it.
_STRING = json.encoder.encode_basestring
#: Columns that hold an instant (epoch milliseconds).  ``export --pretty`` writes each one's ISO
#: 8601 time beside it, under its name with ``_iso`` for ``_ms`` (``created_at_iso``); import
#: checks that the two agree and stores the milliseconds.
INSTANTS = {"meta": ("now_ms",),
            "agents": ("created_at_ms", "last_activity_ms", "status_since_ms", "queues_since_ms", "break_deadline_ms",
                       "overrun_since_ms"),
            "chats": ("created_at_ms", "closed_at_ms", "wrapup_deadline_ms", "state_since_ms", "waiting_since_ms",
                      "offer_deadline_ms", "patience_deadline_ms", "idle_deadline_ms", "awaiting_since_ms",
                      "alert_deadline_ms", "alerting_since_ms"),
            "events": ("at_ms",), "contacts": ("created_at_ms",), "messages": ("at_ms",), "queues": ("created_at_ms",),
            "refusals": ("at_ms",)}
#: Columns that hold a duration in milliseconds: written as they are, in a pretty bundle too.
DURATIONS = {"meta": ("offset_ms",),
             "chats": ("wrapup_remaining_ms", "extension_ms", "active_ms", "parked_ms", "wrapup_ms", "patience_ms")}
#: Each table's ``_iso`` key → the instant column it shows.
_ISO = {table: {name[:-3] + "_iso": name for name in names} for table, names in INSTANTS.items()}


def columns(conn: sqlite3.Connection, table: str) -> dict[str, tuple[str, bool]]:
    """Column name → (declared type, not null), from the live schema."""
    if table not in _COLUMNS:
        _COLUMNS[table] = {
            row[1]: (row[2].upper(), bool(row[3] or row[5])) for row in conn.execute(f"PRAGMA table_info({table})")
            if row[1] not in DERIVED.get(table, ())
        }
    return _COLUMNS[table]


def is_text(value: str) -> bool:
    """Can it be stored and printed: no lone surrogate (JSON's "\\ud800")."""
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def dumps(document) -> str:
    return _CANONICAL.encode(document) + "\n"


def iso(ms) -> str | None:
    """An instant column's ISO 8601 time, as a pretty bundle writes it beside the milliseconds
    (None for null, or for a value that is not a time)."""
    if type(ms) is int and MIN_MS <= ms <= MAX_MS:
        return format_time(ms)
    return None


def upgraded_chat(row: dict) -> dict:
    """A chat row saved before schema version 3, as migration 0003 upgrades it: its origin
    queue is its queue, its contact its customer, nothing transferred, unread or classified."""
    return {"origin_queue": row.get("queue"), "transfers": 0, "unread": 0, "classification": None,
            "classification_note": None, "abusive": 0, "contact": row.get("customer"), **row}


# -- parts: a state stored table by table ------------------------------------------------


class Parts:
    """The parts of one stored state: rows of ``table`` (``snapshot_parts``, or the import's
    temporary table) whose ``owner`` column is ``key``."""

    def __init__(self, conn: sqlite3.Connection, table: str, owner: str, key):
        self.conn, self.table, self.owner, self.key = conn, table, owner, key

    def names(self) -> set[str]:
        return {row[0] for row in self.conn.execute(
            f"SELECT DISTINCT part FROM {self.table} WHERE {self.owner} = ?", (self.key,))}

    def chunks(self, part: str) -> Iterator[bytes]:
        cur = self.conn.cursor()
        cur.row_factory = None
        cur.execute(f"SELECT data FROM {self.table} WHERE {self.owner} = ? AND part = ? ORDER BY seq", (self.key, part))
        for (data,) in cur:
            yield data

    def delete(self, part: str | None = None) -> None:
        if part is None:
            self.conn.execute(f"DELETE FROM {self.table} WHERE {self.owner} = ?", (self.key,))
        else:
            self.conn.execute(f"DELETE FROM {self.table} WHERE {self.owner} = ? AND part = ?", (self.key, part))

    def writer(self, part: str, sorted_keys: bool = False) -> "PartWriter":
        """``sorted_keys``: every row given has its keys in sorted order already."""
        def store(seq: int, data: bytes) -> None:
            self.conn.execute(f"INSERT INTO {self.table} ({self.owner}, part, seq, data) VALUES (?, ?, ?, ?)",
                              (self.key, part, seq, data))

        return PartWriter(store, _SORTED if sorted_keys else _CANONICAL)

    def rows(self, part: str) -> Iterator[list[dict]]:
        """The part's rows, a line (a batch) at a time."""
        for line in lines(self.chunks(part)):
            yield json.loads(line)

    def write_json(self, part: str, write: Callable[[str], None]) -> None:
        """The part as a canonical JSON array, without parsing it."""
        write("[")
        first = True
        for line in lines(self.chunks(part)):
            write(line[1:-1] if first else "," + line[1:-1])
            first = False
        write("]")


class PartWriter:
    """Rows of one table → lines of canonical JSON arrays, zlib-compressed, stored a chunk
    at a time by ``store(seq, data)``; ``close`` stores at least one chunk, so an empty
    table is a part too."""

    def __init__(self, store: Callable[[int, bytes], None], encoder: json.JSONEncoder = _CANONICAL):
        self.store = store
        self.encode = encoder.encode
        self.compress = zlib.compressobj(LEVEL)
        self.pending: list[bytes] = []
        self.size = 0
        self.seq = 0
        self.batch: list = []
        self.unsorted = False
        self.rows = 0

    def add(self, row, sorted_keys: bool = False) -> None:
        """``sorted_keys``: the row's keys are in sorted order (a batch of such rows is encoded
        without sorting each one)."""
        self.batch.append(row)
        self.unsorted = self.unsorted or not sorted_keys
        if len(self.batch) >= BATCH:
            self._line()

    def _line(self) -> None:
        self.rows += len(self.batch)
        encode = self.encode if self.unsorted else _SORTED.encode
        # (a lone surrogate is stored as it came: the state holding it is refused, never loaded)
        self._put(self.compress.compress((encode(self.batch) + "\n").encode("utf-8", "surrogatepass")))
        self.batch = []
        self.unsorted = False

    def _put(self, data: bytes) -> None:
        if data:
            self.pending.append(data)
            self.size += len(data)
        if self.size >= CHUNK:
            self._chunk()

    def _chunk(self) -> None:
        self.store(self.seq, b"".join(self.pending))
        self.seq += 1
        self.pending, self.size = [], 0

    def close(self) -> int:
        """Store what is left; the number of rows written."""
        if self.batch:
            self._line()
        self._put(self.compress.flush())
        if self.pending or self.seq == 0:
            self._chunk()
        return self.rows


def lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """The text lines a part's chunks hold, decompressed a bounded piece at a time."""
    unzip = zlib.decompressobj()
    decode = codecs.getincrementaldecoder("utf-8")()
    tail = ""
    for data in chunks:
        while data:
            text = tail + decode.decode(unzip.decompress(data, CHUNK))
            data = unzip.unconsumed_tail
            found = text.split("\n")
            tail = found.pop()
            yield from found
    tail += decode.decode(unzip.flush(), final=True)
    if tail:
        yield tail


# -- saving, loading and writing states ------------------------------------------------------


def save_parts(conn: sqlite3.Connection, parts: Parts) -> tuple[int, int]:
    """Store the live state as ``parts``; its number of chats and its event sequence."""
    parts.delete()
    cur = conn.cursor()
    cur.row_factory = None
    chats = 0
    for table in STATE_TABLES:
        names = tuple(sorted(columns(conn, table)))
        writer = parts.writer(table, sorted_keys=True)
        cur.execute(f"SELECT {', '.join(names)} FROM {table} ORDER BY {_ORDER[table]}")
        while True:
            batch = cur.fetchmany(BATCH)
            if not batch:
                break
            for row in batch:
                writer.add(dict(zip(names, row)))
        count = writer.close()
        if table == "chats":
            chats = count
    return chats, events_seq(conn)


def events_seq(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
    return row[0] if row else 0


def load_parts(conn: sqlite3.Connection, parts: Parts, seq: int, where: str | None = None) -> None:
    """Replace the whole live state with the stored one (inside the caller's transaction).
    A state saved before schema version 3 is upgraded as it is loaded.  ``where``: a bundle's
    state being imported, whose rows may repeat a key (refused, naming it)."""
    present = parts.names()
    old = not any(table in present for table in _V3_TABLES)
    for table in STATE_TABLES:
        conn.execute(f"DELETE FROM {table}")
        if table not in present:
            continue
        for batch in parts.rows(table):
            if old and table == "chats":
                batch = [upgraded_chat(row) for row in batch]
            if where is None:
                insert_rows(conn, table, batch)
            else:
                insert_checked(conn, table, batch, where)
    if old:
        # The contacts migration 0003 makes: each customer, first seen when its first chat began.
        conn.execute(
            "INSERT INTO contacts (name, created_at_ms)"
            " SELECT customer, min(created_at_ms) FROM chats WHERE customer IS NOT NULL GROUP BY customer"
        )
    conn.execute("DELETE FROM sqlite_sequence WHERE name = 'events'")
    conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('events', ?)", (seq,))
    schema.fill_agents_queues(conn)
    from . import free

    free.rebuild(conn)


def insert_rows(conn: sqlite3.Connection, table: str, rows: list[dict]) -> None:
    """Insert rows (dicts; consecutive rows with the same columns in one ``executemany``)."""
    start = 0
    while start < len(rows):
        names = tuple(rows[start])
        end = start + 1
        while end < len(rows) and tuple(rows[end]) == names:
            end += 1
        conn.executemany(
            f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
            [tuple(row.values()) for row in rows[start:end]],
        )
        start = end


def insert_checked(conn: sqlite3.Connection, table: str, rows: list[dict], where: str) -> None:
    """``insert_rows``, for rows from a bundle: a row whose key another row has is refused
    (``UsageError``) naming the table, the key and its value."""
    conn.execute("SAVEPOINT rows")
    try:
        insert_rows(conn, table, rows)
    except sqlite3.IntegrityError:
        conn.execute("ROLLBACK TO rows")
        for row in rows:  # again, one at a time, to find the row
            try:
                insert_rows(conn, table, [row])
            except sqlite3.IntegrityError as exc:
                conn.execute("RELEASE rows")
                raise UsageError(f"{where}: {_repeated(conn, table, row) or exc}") from None
    conn.execute("RELEASE rows")


def _repeated(conn: sqlite3.Connection, table: str, row: dict) -> str | None:
    """Which key of ``row`` another row of ``table`` has already, said as a message."""
    keys = _UNIQUE.get(table, ())
    for key in ((keys,) if table in ("config", "messages", "templates", "classification_codes", "agent_queues") else
                tuple((name,) for name in keys)):
        value = tuple(row.get(name) for name in key)
        if None in value:
            continue
        if conn.execute(f"SELECT 1 FROM {table} WHERE {' AND '.join(f'{n} = ?' for n in key)}", value).fetchone():
            shown_value = ", ".join(shown(v) if isinstance(v, str) else str(v) for v in value)
            return f"{table} has {' and '.join(key)} {shown_value} twice"
    return None


def write_live_state(conn: sqlite3.Connection, write: Callable[[str], None]) -> None:
    """The live state as canonical JSON, a batch of rows at a time."""
    cur = conn.cursor()
    cur.row_factory = None
    for index, key in enumerate(sorted((*STATE_TABLES, "events_seq"))):
        write(("{" if index == 0 else ",") + f'"{key}":')
        if key == "events_seq":
            write(str(events_seq(conn)))
            continue
        names = tuple(sorted(columns(conn, key)))
        cur.execute(f"SELECT {', '.join(names)} FROM {key} ORDER BY {_ORDER[key]}")
        write("[")
        first = True
        while True:
            batch = cur.fetchmany(BATCH)
            if not batch:
                break
            text = _SORTED.encode([dict(zip(names, row)) for row in batch])[1:-1]
            write(text if first else "," + text)
            first = False
        write("]")
    write("}")


def write_stored_state(parts: Parts, seq: int, write: Callable[[str], None]) -> None:
    """A stored state as canonical JSON, its parts copied as they are."""
    for index, key in enumerate(sorted(parts.names() | {"events_seq"})):
        write(("{" if index == 0 else ",") + f'"{key}":')
        if key == "events_seq":
            write(str(seq))
        else:
            parts.write_json(key, write)
    write("}")


def write_bundle(conn: sqlite3.Connection, write: Callable[[str], None]) -> None:
    """The whole database (state and snapshots) as one canonical JSON bundle."""
    write(f'{{"format":"{FORMAT}","format_version":{FORMAT_VERSION},"schema_version":{schema.SCHEMA_VERSION},'
          '"snapshots":[')
    snapshots = conn.execute("SELECT name, created_at_ms, events_seq FROM snapshots ORDER BY name").fetchall()
    for index, (name, created, seq) in enumerate(snapshots):
        write(("" if index == 0 else ",") + f'{{"created_at_ms":{created},"name":{_CANONICAL.encode(name)},"state":')
        write_stored_state(Parts(conn, "snapshot_parts", "snapshot", name), seq, write)
        write("}")
    write('],"state":')
    write_live_state(conn, write)
    write("}\n")


def _value(value) -> str:
    """A row's value as JSON (rows hold null, integers and strings)."""
    if value is None:
        return "null"
    if type(value) is int:
        return int.__repr__(value)
    if type(value) is str:
        return _STRING(value)
    return _CANONICAL.encode(value)


def pretty_row(table: str, row: dict, pad: str) -> str:
    """One row as ``json.dumps(row, indent=2, sort_keys=True)`` writes it at indentation
    ``pad``, with the ISO time of each of its instants beside the milliseconds."""
    items = list(row.items())
    for key, column in _ISO.get(table, {}).items():
        if column in row:
            items.append((key, iso(row[column])))
    if not items:
        return "{}"
    items.sort(key=lambda item: item[0])
    inner = pad + "  "
    return "{\n" + ",\n".join(f"{inner}{_STRING(key)}: {_value(value)}" for key, value in items) + "\n" + pad + "}"


def _pretty_rows(table: str, batches: Iterable[list[dict]], pad: str, write: Callable[[str], None]) -> None:
    """A table's rows as an indented JSON array whose key is at indentation ``pad``."""
    first = True
    inner = pad + "  "
    for batch in batches:
        if batch:
            write(("[\n" if first else ",\n") + ",\n".join(inner + pretty_row(table, row, inner) for row in batch))
            first = False
    write("[]" if first else "\n" + pad + "]")


def _pretty_state(keys: list[str], rows: Callable[[str], Iterable[list[dict]]], seq: int, pad: str,
                  write: Callable[[str], None]) -> None:
    inner = pad + "  "
    for index, key in enumerate(keys):
        write(("{\n" if index == 0 else ",\n") + f"{inner}{_STRING(key)}: ")
        if key == "events_seq":
            write(str(seq))
        else:
            _pretty_rows(key, rows(key), inner, write)
    write("\n" + pad + "}")


def _live_rows(conn: sqlite3.Connection, table: str) -> Iterator[list[dict]]:
    cur = conn.cursor()
    cur.row_factory = None
    names = tuple(sorted(columns(conn, table)))
    cur.execute(f"SELECT {', '.join(names)} FROM {table} ORDER BY {_ORDER[table]}")
    while True:
        batch = cur.fetchmany(BATCH)
        if not batch:
            return
        yield [dict(zip(names, row)) for row in batch]


def write_pretty_bundle(conn: sqlite3.Connection, write: Callable[[str], None]) -> None:
    """The bundle ``write_bundle`` writes, indented as ``json.dumps(bundle, indent=2,
    sort_keys=True, ensure_ascii=False)`` would write it, with each instant's ISO time beside
    its milliseconds (``created_at_iso`` beside ``created_at_ms``); streamed the same way."""
    write(f'{{\n  "format": "{FORMAT}",\n  "format_version": {FORMAT_VERSION},\n'
          f'  "schema_version": {schema.SCHEMA_VERSION},\n  "snapshots": ')
    snapshots = conn.execute("SELECT name, created_at_ms, events_seq FROM snapshots ORDER BY name").fetchall()
    for index, (name, created, seq) in enumerate(snapshots):
        write(("[\n" if index == 0 else ",\n") + f'    {{\n      "created_at_iso": {_value(iso(created))},\n'
              f'      "created_at_ms": {created},\n      "name": {_STRING(name)},\n      "state": ')
        parts = Parts(conn, "snapshot_parts", "snapshot", name)
        _pretty_state(sorted(parts.names() | {"events_seq"}), parts.rows, seq, "      ", write)
        write("\n    }")
    write('\n  ],\n  "state": ' if snapshots else '[],\n  "state": ')
    _pretty_state(sorted((*STATE_TABLES, "events_seq")), lambda table: _live_rows(conn, table), events_seq(conn),
                  "  ", write)
    write("\n}\n")


# -- reading a bundle ------------------------------------------------------------------------

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_NUMBER_TAIL = re.compile(r"[0-9.eE+-]*")
_DECODER = json.JSONDecoder()
#: What a JSON value starts with (``NaN`` and ``Infinity`` too, as ``json.loads`` reads them).
_STARTS = frozenset('{["-0123456789tfnNI')


class Malformed(Exception):
    """The text is not JSON (or stops short)."""


class Reader:
    """JSON text read a piece at a time from ``read(n)``: the structure (objects, arrays,
    keys) is walked here, and each value that is not walked into (a row, a name) is
    decoded whole by the standard decoder.

    Memory stays flat whatever the input: a value that does not end within ``MAX_VALUE``
    characters (an endless string, ``/dev/zero``) is refused, and so is a number of more
    digits than Python reads (``sys.get_int_max_str_digits``)."""

    PIECE = 1 << 20
    #: The longest value decoded whole, in characters: a row of the longest text (10,000
    #: characters, each escaped as ``\uXXXX``) is a small fraction of it.
    MAX_VALUE = 1 << 22

    def __init__(self, read: Callable[[int], str]):
        self.read = read
        self.buf = ""
        self.pos = 0
        self.base = 0  # how much text came before buf
        self.eof = False

    def _more(self) -> bool:
        if self.eof:
            return False
        pending = len(self.buf) - self.pos
        data = self.read(max(self.PIECE, min(pending, self.MAX_VALUE + 1 - pending)))
        if not data:
            self.eof = True
            return False
        self.base += self.pos
        self.buf = self.buf[self.pos:] + data
        self.pos = 0
        return True

    def fail(self, message: str, pos: int | None = None):
        raise Malformed(f"{message} (char {self.base + (self.pos if pos is None else pos)})")

    def peek(self) -> str:
        """The next character that is not whitespace ("" at the end), not consumed."""
        pos = self.pos
        if pos < len(self.buf):
            char = self.buf[pos]
            if char not in " \t\n\r":
                return char  # canonical JSON has no whitespace: the usual case
        while True:
            self.pos = _WHITESPACE.match(self.buf, self.pos).end()
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._more():
                return ""

    def take(self, char: str, message: str) -> None:
        if self.peek() != char:
            self.fail(message)
        self.pos += 1

    def value(self):
        """The next JSON value, whole."""
        if self.peek() not in _STARTS:
            self.fail("Expecting value")
        while True:
            try:
                found, end = _DECODER.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                if self._within() and self._more():
                    continue
                self.fail(exc.msg, exc.pos)
            except RecursionError:
                self.fail("nested too deeply")
            except ValueError:  # an integer of more digits than Python converts
                self.fail(f"a number of more than {sys.get_int_max_str_digits()} digits")
            if (end == len(self.buf) or (type(found) in (int, float)
                                         and _NUMBER_TAIL.match(self.buf, end).end() == len(self.buf))) \
                    and self._within() and self._more():
                continue  # a number may go on in the next piece ("1" then "2", "1." then "5e3")
            self.pos = end
            return found

    def _within(self) -> bool:
        """Is the value being read still within ``MAX_VALUE``?  (Refused when it is not.)"""
        if len(self.buf) - self.pos > self.MAX_VALUE:
            self.fail(f"a value longer than {self.MAX_VALUE:,} characters")
        return True

    def key(self) -> str:
        if self.peek() != '"':
            self.fail("Expecting property name enclosed in double quotes")
        found = self.value()
        self.take(":", "Expecting ':' delimiter")
        return found

    def members(self) -> Iterator[str]:
        """The keys of the object that starts here; the caller reads each one's value."""
        self.take("{", "Expecting '{'")
        if self.peek() == "}":
            self.pos += 1
            return
        while True:
            yield self.key()
            char = self.peek()
            self.pos += 1
            if char == "}":
                return
            if char != ",":
                self.pos -= 1
                self.fail("Expecting ',' delimiter")

    def items(self) -> Iterator[None]:
        """Once per element of the array that starts here; the caller reads each element."""
        self.take("[", "Expecting '['")
        if self.peek() == "]":
            self.pos += 1
            return
        while True:
            yield None
            char = self.peek()
            self.pos += 1
            if char == "]":
                return
            if char != ",":
                self.pos -= 1
                self.fail("Expecting ',' delimiter")

    def end(self) -> None:
        if self.peek() != "":
            self.fail("Extra data")


def parse_bundle(reader: Reader, bundle: "BundleCheck") -> None:
    """Walk a bundle, handing its parts to ``bundle``; ``Malformed`` if it is not JSON."""
    if reader.peek() != "{":
        bundle.top = reader.value()  # not an object: judged once the text is known to be JSON
        reader.end()
        return
    bundle.top = {}
    for key in reader.members():
        if key == "state":
            parse_state(reader, bundle.state(0))
        elif key == "snapshots":
            parse_snapshots(reader, bundle)
        else:
            bundle.top[key] = reader.value()
    reader.end()


def parse_state(reader: Reader, state: "StateCheck") -> None:
    if reader.peek() != "{":
        state.whole(reader.value())
        return
    state.begin()
    for key in reader.members():
        if key in STATE_TABLES and reader.peek() == "[":
            state.table(key)
            for _ in reader.items():
                state.row(key, reader.value())
            state.table_end(key)
        else:
            state.other(key, reader.value())
    state.end()


def parse_snapshots(reader: Reader, bundle: "BundleCheck") -> None:
    bundle.snapshots_begin()
    if reader.peek() != "[":
        bundle.snapshots = reader.value()
        return
    bundle.snapshots = []
    for index, _ in enumerate(reader.items()):
        snap: dict = {}
        bundle.snapshots.append(snap)
        if reader.peek() != "{":
            bundle.snapshots[index] = reader.value()
            continue
        for key in reader.members():
            if key == "state":
                snap["state"] = True
                parse_state(reader, bundle.state(index + 1))
            else:
                snap[key] = reader.value()


# -- checking a bundle as it streams by -------------------------------------------------------


#: Shapes of sound rows (table, columns, value types) → where their integers are.
_SOUND: dict[tuple, tuple[int, ...]] = {}
#: Rows' keys → whether they are in sorted order.
_IN_ORDER: dict[tuple, bool] = {}
#: A table and its rows' keys → those keys that are an instant's ISO time (a pretty bundle's).
_ISO_KEYS: dict[tuple, tuple[str, ...]] = {}


class StateCheck:
    """Checks one state as its rows stream by (what a state must be to be loaded: its
    parts, each row's columns and types against the live schema, one clock row) and
    stores its tables as parts.  ``problem()`` then says what is wrong first, in the
    order a check of the whole state would find it."""

    def __init__(self, conn: sqlite3.Connection, parts: Parts):
        self.conn, self.parts = conn, parts
        self.reset()

    def reset(self) -> None:
        self.parts.delete()
        self.is_object = False
        self.other_keys: set[str] = set()
        self.lists: dict[str, bool] = {}  # table → whether it is a list
        self.rows: dict[str, int] = {}
        self.errors: dict[str, tuple[int, str]] = {}  # table → its first problem (row, message)
        self.errors_old: dict[str, tuple[int, str]] = {}  # the same, if the state is an older one
        self.chats_all_objects = True
        self.meta: list = []  # the first two meta rows
        self.seq = None
        self.has_seq = False
        self.writer: PartWriter | None = None

    def whole(self, value) -> None:
        self.reset()  # not an object (a value read whole)

    def begin(self) -> None:
        self.reset()
        self.is_object = True

    def other(self, key: str, value) -> None:
        if key in STATE_TABLES:  # a table that is not a list
            self._forget(key)
            self.lists[key] = False
        elif key == "events_seq":
            self.seq, self.has_seq = value, True
        else:
            self.other_keys.add(key)

    def _forget(self, table: str) -> None:
        """A table given again: the last one counts."""
        if table in self.lists:
            self.parts.delete(table)
            for found in (self.rows, self.errors, self.errors_old):
                found.pop(table, None)
            if table == "chats":
                self.chats_all_objects = True
            if table == "meta":
                self.meta = []

    def table(self, table: str) -> None:
        self._forget(table)
        self.lists[table] = True
        self.rows[table] = 0
        self.cols = columns(self.conn, table)
        self.writer = self.parts.writer(table)

    def row(self, table: str, row) -> None:
        index = self.rows[table]
        self.rows[table] = index + 1
        if table == "meta" and len(self.meta) < 2:
            self.meta.append(row)
        if not isinstance(row, dict):
            self._error(table, index, f"{table}[{index}] is not an object")
            if table == "chats":
                self.chats_all_objects = False
            return
        keys = tuple(row)
        isos = _ISO_KEYS.get((table, keys))
        if isos is None:
            isos = tuple(key for key in keys if key in _ISO.get(table, ()))
            if len(_ISO_KEYS) < 1024:
                _ISO_KEYS[table, keys] = isos
        if isos:
            # A pretty bundle's ISO times: each must say what its milliseconds say; stored are the ms.
            for key in isos:
                column = _ISO[table][key]
                if row[key] != iso(row.get(column)):
                    self._error(table, index, f"{table}[{index}].{key} does not agree with {column}"
                                f" ({_value(iso(row.get(column)))})")
            row = {key: value for key, value in row.items() if key not in isos}
            keys = tuple(row)
        in_order = _IN_ORDER.get(keys)
        if in_order is None:
            in_order = list(keys) == sorted(keys)
            if len(_IN_ORDER) < 1024:
                _IN_ORDER[keys] = in_order
        self.writer.add(row, in_order)
        if table in self.errors and table in self.errors_old:
            return  # its first problem is known either way
        # Rows with the same columns and value types as a sound one need only their integers'
        # range checked (a bundle's rows are alike: one full check per kind of row).
        shape = (table, keys, tuple(map(type, row.values())))
        integers = _SOUND.get(shape)
        if integers is not None:
            values = tuple(row.values())
            for i in integers:
                if not -9223372036854775808 <= values[i] <= 9223372036854775807:
                    break
            else:
                for value in values:
                    if type(value) is str and not value.isascii() and not is_text(value):
                        break
                else:
                    return
        cols = self.cols
        for name, value in row.items():
            try:
                kind, not_null = cols[name]
            except KeyError:
                return self._error(table, index, f"{table}[{index}] has unknown column {name!r}")
            if value is None:
                if not_null:
                    return self._error(table, index, f"{table}[{index}].{name} may not be null")
            elif kind == "INTEGER":
                if type(value) is not int and (not isinstance(value, int) or isinstance(value, bool)):
                    return self._error(table, index, f"{table}[{index}].{name} is not an integer")
                if not -(2**63) <= value < 2**63:
                    return self._error(table, index, f"{table}[{index}].{name} is out of range")
            elif kind == "TEXT":
                if not isinstance(value, str):
                    return self._error(table, index, f"{table}[{index}].{name} is not a string")
                if not is_text(value):
                    return self._error(table, index, f"{table}[{index}].{name} is not valid text (a lone surrogate)")
        if len(row) == len(cols):
            if len(_SOUND) < 1024:
                _SOUND[shape] = tuple(i for i, value in enumerate(row.values()) if type(value) is int)
            return  # every column given, each one known
        missing = [name for name, (_, not_null) in cols.items() if not_null and name not in row]
        if table == "events" and missing == ["seq"]:
            missing = []
            if len(_SOUND) < 1024:
                _SOUND[shape] = tuple(i for i, value in enumerate(row.values()) if type(value) is int)
        if missing and table not in self.errors:
            self.errors[table] = (index, f"{table}[{index}] lacks {missing[0]!r}")
        if table == "chats":
            missing = [name for name in missing if name not in _V3_NOT_NULL]
        if missing and table not in self.errors_old:
            self.errors_old[table] = (index, f"{table}[{index}] lacks {missing[0]!r}")

    def _error(self, table: str, index: int, message: str) -> None:
        self.errors.setdefault(table, (index, message))
        self.errors_old.setdefault(table, (index, message))

    def table_end(self, table: str) -> None:
        self.writer.close()
        self.writer = None

    def end(self) -> None:
        pass

    @property
    def old(self) -> bool:
        """A state saved before schema version 3 (upgraded when it is loaded)."""
        return (self.is_object and not any(table in self.lists for table in _V3_TABLES)
                and self.lists.get("chats") is True and self.chats_all_objects)

    def problem(self, where: str) -> str | None:
        if not self.is_object:
            return f"{where}: the state is not an object"
        unknown = self.other_keys - {"events_seq"}
        if unknown:
            return f"{where}: unknown part {sorted(unknown)[0]!r}"
        old = self.old
        errors = self.errors_old if old else self.errors
        for table in STATE_TABLES:
            absent_ok = (old and table in _V3_TABLES) or (table in _V5_TABLES + _V6_TABLES and table not in self.lists)
            if not self.lists.get(table) and not absent_ok:
                return f"{where}: {table} is missing or not a list"
            if table in errors:
                return f"{where}: {errors[table][1]}"
        if len(self.meta) != 1 or self.meta[0].get("id") != 1:
            return f"{where}: meta must have exactly one row, with id 1"
        if self.meta[0].get("mode") not in MODES:
            return f"{where}: the clock's mode must be one of {', '.join(MODES)}"
        next_chat = self.meta[0].get("next_chat")
        if type(next_chat) is int and next_chat > MAX_COUNTER:
            return f"{where}: the next chat number is out of range (at most {MAX_COUNTER})"
        seq = self.seq
        if not self.has_seq or not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
            return f"{where}: events_seq is missing or not a whole number"
        if seq > MAX_COUNTER:
            return f"{where}: events_seq is out of range (0 to {MAX_COUNTER})"
        return None


class BundleCheck:
    """A bundle read by ``parse_bundle``: its top-level values, its snapshots' names and
    times, and a ``StateCheck`` per state (0: the current state; 1, 2 …: the snapshots),
    each stored as parts in the temporary table ``import_parts``."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS import_parts (slot INTEGER NOT NULL, part TEXT NOT NULL,"
            " seq INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (slot, part, seq))"
        )
        conn.execute("DELETE FROM temp.import_parts")
        self.top = None
        self.snapshots = None
        self.states: dict[int, StateCheck] = {}

    def parts(self, slot: int) -> Parts:
        return Parts(self.conn, "temp.import_parts", "slot", slot)

    def state(self, slot: int) -> StateCheck:
        if slot not in self.states:
            self.states[slot] = StateCheck(self.conn, self.parts(slot))
        return self.states[slot]

    def snapshots_begin(self) -> None:
        for slot in [s for s in self.states if s > 0]:  # snapshots given again: the last ones count
            self.states.pop(slot).reset()

    def close(self) -> None:
        self.conn.execute("DROP TABLE IF EXISTS temp.import_parts")

    def judge(self, where: str) -> None:
        """Refuse the bundle (``UsageError``, 2; newer: ``DatabaseError``, 5) as a check of the
        whole document would, first problem first."""
        document = self.top
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise UsageError(f"{where} is not a chatemu bundle (no \"format\": \"{FORMAT}\")")
        version = document.get("format_version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise UsageError(f"{where}: format_version is missing")
        if version > FORMAT_VERSION:
            raise DatabaseError(
                f"{where} has bundle format {version}, newer than this chatemu's {FORMAT_VERSION}: upgrade chatemu")
        schema_version = document.get("schema_version")
        if not isinstance(schema_version, int) or isinstance(schema_version, bool):
            raise UsageError(f"{where}: schema_version is missing")
        if schema_version > schema.SCHEMA_VERSION:
            raise DatabaseError(
                f"{where} was made with schema version {schema_version}, newer than this chatemu's"
                f" {schema.SCHEMA_VERSION}"
            )
        unknown = set(document) - {"format", "format_version", "schema_version", "state", "snapshots"}
        if unknown:
            raise UsageError(f"{where}: unknown part {sorted(unknown)[0]!r}")
        problem = self.state(0).problem(where)
        if problem:
            raise UsageError(problem)
        snapshots = [] if self.snapshots is None else self.snapshots
        if not isinstance(snapshots, list):
            raise UsageError(f"{where}: snapshots is not a list")
        names: set[str] = set()
        for index, snap in enumerate(snapshots):
            if not isinstance(snap, dict) or not (
                    {"name", "created_at_ms", "state"} <= set(snap) <= {"name", "created_at_ms", "created_at_iso", "state"}):
                raise UsageError(f"{where}: snapshots[{index}] is not a snapshot")
            if not is_name(snap["name"]):
                raise UsageError(f"{where}: snapshots[{index}] has a bad name {shown(snap['name'])}")
            created = snap["created_at_ms"]
            if not isinstance(created, int) or isinstance(created, bool) or not MIN_MS <= created <= MAX_MS:
                raise UsageError(f"{where}: snapshot {snap['name']!r} has a bad time (created_at_ms)")
            if "created_at_iso" in snap and snap["created_at_iso"] != iso(created):
                raise UsageError(f"{where}: snapshot {snap['name']!r}'s created_at_iso does not agree with created_at_ms"
                                 f" ({_value(iso(created))})")
            if snap["name"] in names:
                raise UsageError(f"{where}: snapshots has name {snap['name']} twice")
            names.add(snap["name"])
            problem = self.state(index + 1).problem(f"{where}: snapshot {snap['name']}")
            if problem:
                raise UsageError(problem)
