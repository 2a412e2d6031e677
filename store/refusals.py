"""The journal of refusals: every state-changing command line that was refused.

A command that would change the state and is refused by the model (exit 3) or
names something unknown (exit 4) changes nothing: its transaction rolls back.
The command line layer (``chatemu.cli.app.translate``, the one path every
command line takes) then calls ``record``, which writes one row to the
``refusals`` table in a short transaction of its own.  Writing it never
touches the state and never fails the command: where the journal cannot be
written (no database yet, an older schema not upgraded yet, a read-only file,
a database locked past the busy timeout) the refusal is simply not journaled.
"""

from __future__ import annotations

import os
import sqlite3

from . import schema
from .clock import clock_now
from .timefmt import format_time
from .validate import check_name

#: The exit codes journaled: refused by the model, or something unknown.
JOURNALED = (3, 4)
#: How many characters of a command line (and of its message) the journal keeps.
KEPT = 1000


def bounded(text: str) -> str:
    """``text`` as the journal keeps it: whole up to ``KEPT`` characters, else its first
    ``KEPT`` and how long it was (``…`` then `` [N characters]``): a refused 10 MB line
    costs the database a kilobyte or two, not twice its size."""
    if len(text) <= KEPT:
        return text
    return f"{text[:KEPT]}… [{len(text)} characters]"


def record(engine, command: str, exit_code: int, message: str) -> int | None:
    """Journal a refused command of ``engine`` (its database, its acting agent); the row's
    seq, or None when it could not be written.  Never raises."""
    if exit_code not in JOURNALED:
        return None
    pool = engine.connections.open if engine.connections is not None else None
    pooled = pool is not None and engine.key in pool
    conn = None
    try:
        if pooled:
            conn = pool[engine.key][0]
            if conn.in_transaction:
                return None
        else:
            try:
                if not os.path.lexists(engine.path) or os.path.getsize(engine.path) == 0:
                    return None  # no database yet: a refusal creates none
            except OSError:
                return None
            conn, status = schema.connect(engine.path)
            if status != schema.CURRENT:
                return None  # journaling never creates nor upgrades a database
        conn.execute("BEGIN IMMEDIATE")
        if conn.execute("PRAGMA user_version").fetchone()[0] != schema.SCHEMA_VERSION:
            conn.execute("ROLLBACK")
            return None
        mode, now_ms, offset = conn.execute("SELECT mode, now_ms, offset_ms FROM meta WHERE id = 1").fetchone()
        at = clock_now(mode, now_ms, offset, engine.wall())
        seq = conn.execute(
            "INSERT INTO refusals (at_ms, agent, command, exit_code, message) VALUES (?, ?, ?, ?, ?)",
            (at, engine.agent, bounded(command), exit_code, bounded(message)),
        ).lastrowid
        conn.execute("COMMIT")
        return seq
    except Exception:  # sqlite3.Error, a DatabaseError of connect, anything: never the command's problem
        try:
            if conn is not None and conn.in_transaction:
                conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass
        return None
    finally:
        if conn is not None and not pooled:
            conn.close()


def refusal_object(seq: int, at_ms: int, agent: str, command: str, exit_code: int, message: str) -> dict:
    return {"seq": seq, "at": format_time(at_ms), "agent": agent, "command": command, "exit": exit_code,
            "message": message}


def list_(tx, agent_id: str | None = None, since: int = 0) -> list[dict]:
    """The journal, oldest first: every refusal after seq ``since`` (of ``agent_id`` only, if given)."""
    sql = "SELECT seq, at_ms, agent, command, exit_code, message FROM refusals WHERE seq > ?"
    params: list = [since]
    if agent_id is not None:
        check_name("agent id", agent_id)  # one that never existed may still have been refused: no exit 4
        sql += " AND agent = ?"
        params.append(agent_id)
    cur = tx.conn.cursor()
    cur.row_factory = None
    return [refusal_object(*row) for row in cur.execute(sql + " ORDER BY seq", params)]


def last_seq(tx) -> int:
    """The seq of the journal's last row (0: none)."""
    return tx.q("SELECT coalesce(max(seq), 0) FROM refusals").fetchone()[0]
