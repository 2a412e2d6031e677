"""Whole-state commands: snapshots inside the database, export, import, reset.

The (de)serialisation of a state lives in ``bundle``; this module is the
commands over one transaction.
"""

from __future__ import annotations

import json

from . import bundle
from .clock import REAL, VIRTUAL, clock_now
from .errors import Refused, UsageError
from .timefmt import format_time
from .validate import check_name, shown


def save(tx, name):
    check_name("snapshot name", name)
    replaced = tx.exists("SELECT 1 FROM snapshots WHERE name = ?", name)
    tx.finish()  # the snapshot holds the settled state
    state = bundle.dumps(bundle.dump_state(tx.conn))
    tx.q(
        "INSERT INTO snapshots (name, created_at_ms, state) VALUES (?, ?, ?)"
        " ON CONFLICT (name) DO UPDATE SET created_at_ms = excluded.created_at_ms, state = excluded.state",
        name, tx.now, state,
    )
    return {"name": name, "created_at": format_time(tx.now), "replaced": replaced}


def _row(tx, name):
    row = tx.q("SELECT name, created_at_ms, state FROM snapshots WHERE name = ?", name).fetchone()
    if row is None:
        raise Refused(f"no snapshot named {shown(name)}")
    return row


def restore(tx, name):
    from .check import check
    from .errors import DatabaseError

    row = _row(tx, name)
    load(tx, bundle.upgrade_state(json.loads(row["state"])))
    problems = check(tx.conn)
    if problems:  # a snapshot is checked when it is saved or imported: it was changed behind chatemu's back
        raise DatabaseError(f"snapshot {shown(name)} is inconsistent, not restored: {problems[0]}")
    if tx.mode == REAL:
        # Back to the saved instant, going on from there at the wall clock's pace: a timer
        # that was running has the time it had left when the snapshot was saved.
        tx.now = tx.at = tx.q("SELECT now_ms FROM meta WHERE id = 1").fetchone()["now_ms"]
        tx.offset = tx.now - tx.wall_ms
        tx.q("UPDATE meta SET offset_ms = ? WHERE id = 1", tx.offset)
    return {"name": name, "created_at": format_time(row["created_at_ms"]), "now": format_time(tx.now)}


def load(tx, state: dict) -> None:
    """Replace the whole state; the clock is the loaded one (the only way it goes back)."""
    bundle.load_state(tx.conn, state)
    meta = tx.q("SELECT mode, now_ms, offset_ms FROM meta WHERE id = 1").fetchone()
    tx.mode, tx.offset = meta["mode"], meta["offset_ms"]
    tx.now = tx.at = clock_now(tx.mode, meta["now_ms"], tx.offset, tx.wall_ms)
    tx.config_changed()
    tx.finished = True  # nothing more to settle or present: it is the saved state


def delete(tx, name):
    row = _row(tx, name)
    tx.q("DELETE FROM snapshots WHERE name = ?", name)
    return {"name": name, "created_at": format_time(row["created_at_ms"]), "deleted": True}


def list_(tx):
    return [
        {"name": row["name"], "created_at": format_time(row["created_at_ms"]),
         "chats": len(json.loads(row["state"])["chats"])}
        for row in tx.q("SELECT name, created_at_ms, state FROM snapshots ORDER BY name")
    ]


def export(tx):
    return bundle.dumps(bundle.export_document(tx.conn))


def import_(tx, text, where, replace, replace_snapshots=False):
    """Load a bundle.  The database's snapshots are kept unless ``replace_snapshots``;
    the bundle's are added, each replacing a kept one of the same name."""
    from .check import check
    from .clock import pristine

    document = bundle.parse_document(tx.conn, text, where)
    if not replace and not (pristine(tx) and not tx.exists("SELECT 1 FROM config")):
        raise Refused("cannot import into a database that is in use: use --replace to replace its state")
    count = lambda table: tx.q(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: E731
    replaced = {"chats": count("chats"), "events": count("events")}
    names = [snap["name"] for snap in document["snapshots"]]
    if replace_snapshots:
        replaced["snapshots"] = count("snapshots")
        tx.q("DELETE FROM snapshots")
    else:
        replaced["snapshots"] = sum(tx.exists("SELECT 1 FROM snapshots WHERE name = ?", name) for name in names)
    for snap in document["snapshots"]:
        # Each snapshot passes the same checks as the state itself: loaded, checked, replaced below.
        load(tx, snap["state"])
        problems = check(tx.conn)
        if problems:
            raise UsageError(f"{where}: snapshot {shown(snap['name'])} is inconsistent: {problems[0]}")
        tx.q("INSERT INTO snapshots (name, created_at_ms, state) VALUES (?, ?, ?)"
             " ON CONFLICT (name) DO UPDATE SET created_at_ms = excluded.created_at_ms, state = excluded.state",
             snap["name"], snap["created_at_ms"], bundle.dumps(snap["state"]))
    load(tx, document["state"])
    problems = check(tx.conn)
    if problems:
        raise UsageError(f"{where}: the bundle's state is inconsistent: {problems[0]}")
    return {"imported": where, "chats": len(document["state"]["chats"]),
            "events": len(document["state"]["events"]), "snapshots": len(document["snapshots"]),
            "now": format_time(tx.now), "replaced": replaced,
            "snapshots_kept": count("snapshots") - len(names)}


def reset(tx, keep_snapshots):
    for table in bundle.STATE_TABLES:
        if table != "meta":
            tx.q(f"DELETE FROM {table}")
    tx.q("DELETE FROM sqlite_sequence WHERE name = 'events'")
    if not keep_snapshots:
        tx.q("DELETE FROM snapshots")
    tx.mode, tx.offset = VIRTUAL, 0
    tx.now = tx.at = tx.wall_ms
    tx.q("UPDATE meta SET mode = ?, now_ms = ?, offset_ms = 0, next_chat = 1 WHERE id = 1", VIRTUAL, tx.now)
    tx.config_changed()
    return {"reset": True, "now": format_time(tx.now), "mode": VIRTUAL}
