"""Whole-state copies: snapshots inside a database, and export/import bundles.

The state is every row of the state tables (``meta``: the clock and the next
chat number; ``config``; ``agents``; ``chats`` with their timers; ``events``;
``contacts``; ``messages``; ``templates``; ``classification_codes``) plus the
event sequence, as plain JSON.  ``dumps`` is canonical (sorted keys, rows in
key order), so export → import → export is byte-identical.

A state saved by an older chatemu (a snapshot kept in an upgraded database,
or a bundle of an older schema) is brought up to date by ``upgrade_state``
before it is checked or loaded.
"""

from __future__ import annotations

import json
import sqlite3

from . import schema
from .clock import MODES
from .errors import DatabaseError, UsageError
from .timefmt import MAX_MS, MIN_MS
from .validate import is_name, shown

FORMAT = "chatemu-bundle"
FORMAT_VERSION = 1
STATE_TABLES = ("meta", "config", "agents", "chats", "events", "contacts", "messages", "templates",
                "classification_codes")
_ORDER = {"meta": "id", "config": "queue, key", "agents": "id", "chats": "number", "events": "seq",
          "contacts": "name", "messages": "chat, seq", "templates": "queue, name", "classification_codes": "queue, code"}
#: Tables schema version 3 added: absent from the states older versions saved.
_V3_TABLES = ("contacts", "messages", "templates", "classification_codes")
_COLUMNS: dict[str, dict[str, tuple[str, bool]]] = {}
#: What must be unique in a state's tables (the keys of the live schema).
_UNIQUE = (("chats", ("id",)), ("chats", ("number",)), ("agents", ("id",)), ("events", ("seq",)),
           ("config", ("queue", "key")), ("contacts", ("name",)), ("messages", ("chat", "seq")),
           ("templates", ("queue", "name")), ("classification_codes", ("queue", "code")))


def columns(conn: sqlite3.Connection, table: str) -> dict[str, tuple[str, bool]]:
    """Column name → (declared type, not null), from the live schema."""
    if table not in _COLUMNS:
        _COLUMNS[table] = {
            row[1]: (row[2].upper(), bool(row[3] or row[5])) for row in conn.execute(f"PRAGMA table_info({table})")
        }
    return _COLUMNS[table]


def dump_state(conn: sqlite3.Connection) -> dict:
    state: dict = {}
    for table in STATE_TABLES:
        names = list(columns(conn, table))
        rows = conn.execute(f"SELECT {', '.join(names)} FROM {table} ORDER BY {_ORDER[table]}").fetchall()
        state[table] = [dict(zip(names, row)) for row in rows]
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
    state["events_seq"] = row[0] if row else 0
    return state


def upgrade_state(state):
    """A state saved before schema version 3 (no ``contacts`` part), brought up to date
    the way the migration brings a database: every chat's origin queue is its queue,
    its contact its customer; no messages, templates or codes.  Anything else is
    returned as it is, for ``validate_state`` to judge."""
    if not isinstance(state, dict) or any(table in state for table in _V3_TABLES):
        return state
    chats = state.get("chats")
    if not isinstance(chats, list) or not all(isinstance(row, dict) for row in chats):
        return state
    upgraded = dict(state)
    upgraded["chats"] = [
        {"origin_queue": row.get("queue"), "transfers": 0, "unread": 0, "classification": None,
         "classification_note": None, "abusive": 0, "contact": row.get("customer"), **row}
        for row in chats
    ]
    first_seen: dict = {}
    for row in chats:
        name, at = row.get("customer"), row.get("created_at_ms")
        if isinstance(name, str) and isinstance(at, int):
            first_seen[name] = min(at, first_seen.get(name, at))
    upgraded["contacts"] = [{"name": name, "created_at_ms": at} for name, at in sorted(first_seen.items())]
    for table in _V3_TABLES[1:]:
        upgraded[table] = []
    return upgraded


def load_state(conn: sqlite3.Connection, state: dict) -> None:
    """Replace the whole state (inside the caller's transaction).  ``state`` must be validated."""
    for table in STATE_TABLES:
        conn.execute(f"DELETE FROM {table}")
        for row in state[table]:
            names = list(row)
            conn.execute(
                f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})",
                [row[name] for name in names],
            )
    conn.execute("DELETE FROM sqlite_sequence WHERE name = 'events'")
    conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('events', ?)", (state["events_seq"],))


def validate_state(conn: sqlite3.Connection, state, where: str) -> dict:
    """Check a state's shape against the live schema; ``UsageError`` naming what is wrong."""
    if not isinstance(state, dict):
        raise UsageError(f"{where}: the state is not an object")
    unknown = set(state) - set(STATE_TABLES) - {"events_seq"}
    if unknown:
        raise UsageError(f"{where}: unknown part {sorted(unknown)[0]!r}")
    for table in STATE_TABLES:
        rows = state.get(table)
        if not isinstance(rows, list):
            raise UsageError(f"{where}: {table} is missing or not a list")
        cols = columns(conn, table)
        for index, row in enumerate(rows):
            if not isinstance(row, dict):
                raise UsageError(f"{where}: {table}[{index}] is not an object")
            for name, value in row.items():
                if name not in cols:
                    raise UsageError(f"{where}: {table}[{index}] has unknown column {name!r}")
                kind, not_null = cols[name]
                if value is None:
                    if not_null:
                        raise UsageError(f"{where}: {table}[{index}].{name} may not be null")
                elif kind == "INTEGER" and (not isinstance(value, int) or isinstance(value, bool)):
                    raise UsageError(f"{where}: {table}[{index}].{name} is not an integer")
                elif kind == "INTEGER" and not -(2**63) <= value < 2**63:
                    raise UsageError(f"{where}: {table}[{index}].{name} is out of range")
                elif kind == "TEXT" and not isinstance(value, str):
                    raise UsageError(f"{where}: {table}[{index}].{name} is not a string")
                elif kind == "TEXT" and not is_text(value):
                    raise UsageError(f"{where}: {table}[{index}].{name} is not valid text (a lone surrogate)")
            missing = [name for name, (_, not_null) in cols.items() if not_null and name not in row]
            if missing and not (table == "events" and missing == ["seq"]):
                raise UsageError(f"{where}: {table}[{index}] lacks {missing[0]!r}")
    for table, key in _UNIQUE:
        seen = set()
        for row in state[table]:
            value = tuple(row.get(name) for name in key)
            if None in value:
                continue  # an event without its seq gets the next one
            if value in seen:
                shown_value = ", ".join(shown(v) if isinstance(v, str) else str(v) for v in value)
                raise UsageError(f"{where}: {table} has {' and '.join(key)} {shown_value} twice")
            seen.add(value)
    if len(state["meta"]) != 1 or state["meta"][0].get("id") != 1:
        raise UsageError(f"{where}: meta must have exactly one row, with id 1")
    if state["meta"][0].get("mode") not in MODES:
        raise UsageError(f"{where}: the clock's mode must be one of {', '.join(MODES)}")
    seq = state.get("events_seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise UsageError(f"{where}: events_seq is missing or not a whole number")
    if seq >= 2**63:
        raise UsageError(f"{where}: events_seq is out of range")
    return state


def is_text(value: str) -> bool:
    """Can it be stored and printed: no lone surrogate (JSON's "\\ud800")."""
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def dumps(document: dict) -> str:
    return json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n"


def export_document(conn: sqlite3.Connection) -> dict:
    snapshots = [
        {"name": name, "created_at_ms": created, "state": json.loads(data)}
        for name, created, data in conn.execute("SELECT name, created_at_ms, state FROM snapshots ORDER BY name")
    ]
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "schema_version": schema.SCHEMA_VERSION,
        "state": dump_state(conn),
        "snapshots": snapshots,
    }


def parse_document(conn: sqlite3.Connection, text: str, where: str) -> dict:
    """Read and check a bundle: malformed → ``UsageError`` (2); newer → ``DatabaseError`` (5)."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise UsageError(f"{where} is not a chatemu bundle: malformed or truncated JSON ({exc})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise UsageError(f"{where} is not a chatemu bundle (no \"format\": \"{FORMAT}\")")
    version = document.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise UsageError(f"{where}: format_version is missing")
    if version > FORMAT_VERSION:
        raise DatabaseError(f"{where} has bundle format {version}, newer than this chatemu's {FORMAT_VERSION}: upgrade chatemu")
    schema_version = document.get("schema_version")
    if not isinstance(schema_version, int) or isinstance(schema_version, bool):
        raise UsageError(f"{where}: schema_version is missing")
    if schema_version > schema.SCHEMA_VERSION:
        raise DatabaseError(
            f"{where} was made with schema version {schema_version}, newer than this chatemu's {schema.SCHEMA_VERSION}"
        )
    unknown = set(document) - {"format", "format_version", "schema_version", "state", "snapshots"}
    if unknown:
        raise UsageError(f"{where}: unknown part {sorted(unknown)[0]!r}")
    document["state"] = upgrade_state(document.get("state"))
    validate_state(conn, document["state"], where)
    snapshots = document["snapshots"] = document.get("snapshots", [])
    if not isinstance(snapshots, list):
        raise UsageError(f"{where}: snapshots is not a list")
    names: set[str] = set()
    for index, snap in enumerate(snapshots):
        if not isinstance(snap, dict) or set(snap) != {"name", "created_at_ms", "state"}:
            raise UsageError(f"{where}: snapshots[{index}] is not a snapshot")
        if not is_name(snap["name"]):
            raise UsageError(f"{where}: snapshots[{index}] has a bad name {shown(snap['name'])}")
        created = snap["created_at_ms"]
        if not isinstance(created, int) or isinstance(created, bool) or not MIN_MS <= created <= MAX_MS:
            raise UsageError(f"{where}: snapshot {snap['name']!r} has a bad time (created_at_ms)")
        if snap["name"] in names:
            raise UsageError(f"{where}: snapshots has name {snap['name']} twice")
        names.add(snap["name"])
        snap["state"] = upgrade_state(snap["state"])
        validate_state(conn, snap["state"], f"{where}: snapshot {snap['name']}")
    return document
