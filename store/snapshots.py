"""Whole-state commands: snapshots inside the database, export, import, reset.

The (de)serialisation of a state lives in ``bundle``; this module is the
commands over one transaction.
"""

from __future__ import annotations

from . import bundle, webhooks
from .clock import REAL, VIRTUAL, clock_now
from .errors import Refused, UsageError
from .timefmt import format_time
from .validate import check_name, shown


def _parts(tx, name) -> bundle.Parts:
    return bundle.Parts(tx.conn, "snapshot_parts", "snapshot", name)


def save(tx, name):
    check_name("snapshot name", name)
    replaced = tx.exists("SELECT 1 FROM snapshots WHERE name = ?", name)
    tx.finish()  # the snapshot holds the settled state
    chats, seq = bundle.save_parts(tx.conn, _parts(tx, name))
    tx.q(
        "INSERT INTO snapshots (name, created_at_ms, chats, events_seq) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (name) DO UPDATE SET created_at_ms = excluded.created_at_ms, chats = excluded.chats,"
        " events_seq = excluded.events_seq",
        name, tx.now, chats, seq,
    )
    return {"name": name, "created_at": format_time(tx.now), "replaced": replaced}


def _row(tx, name):
    check_name("snapshot name", name)
    row = tx.q("SELECT name, created_at_ms, events_seq FROM snapshots WHERE name = ?", name).fetchone()
    if row is None:
        from .errors import unknown

        raise unknown("snapshot", name)
    return row


def restore(tx, name):
    from .check import check
    from .errors import DatabaseError

    row = _row(tx, name)
    load(tx, _parts(tx, name), row["events_seq"])
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


def load(tx, parts: bundle.Parts, seq: int, where: str | None = None) -> None:
    """Replace the whole state; the clock is the loaded one (the only way it goes back).
    ``where``: a bundle's state, whose repeated keys are refused by name."""
    bundle.load_parts(tx.conn, parts, seq, where)
    webhooks.log_replaced(tx)
    meta = tx.q("SELECT mode, now_ms, offset_ms FROM meta WHERE id = 1").fetchone()
    tx.mode, tx.offset = meta["mode"], meta["offset_ms"]
    tx.now = tx.at = clock_now(tx.mode, meta["now_ms"], tx.offset, tx.wall_ms)
    tx.config_changed()
    tx.finished = True  # nothing more to settle or present: it is the saved state


def delete(tx, name):
    row = _row(tx, name)
    tx.q("DELETE FROM snapshots WHERE name = ?", name)
    _parts(tx, name).delete()
    return {"name": name, "created_at": format_time(row["created_at_ms"]), "deleted": True}


def list_(tx):
    return [
        {"name": row["name"], "created_at": format_time(row["created_at_ms"]), "chats": row["chats"]}
        for row in tx.q("SELECT name, created_at_ms, chats FROM snapshots ORDER BY name")
    ]


def export(tx, write, pretty=False):
    """Write the whole database as one canonical JSON bundle, a piece at a time (``pretty``:
    indented, with ISO times beside the milliseconds)."""
    (bundle.write_pretty_bundle if pretty else bundle.write_bundle)(tx.conn, write)


def import_(tx, source, where, replace, replace_snapshots=False):
    """Load a bundle read from ``source`` (``read(n)``), checked as it is read.  The
    database's snapshots are kept unless ``replace_snapshots``; the bundle's are added,
    each replacing a kept one of the same name."""
    from .check import check
    from .clock import pristine

    found = bundle.BundleCheck(tx.conn)
    try:
        bundle.parse_bundle(bundle.Reader(source.read), found)
    except bundle.Malformed as exc:
        raise UsageError(f"{where} is not a chatemu bundle: malformed or truncated JSON ({exc})") from None
    found.judge(where)
    from .config import QUEUES_ADDED

    # A database with no chat, agent, event or setting yet takes a bundle without --replace (the
    # queues an earlier `queue add` made, and that it made them, are replaced with the rest).
    if not replace and not (pristine(tx) and not tx.exists("SELECT 1 FROM config WHERE key != ?", QUEUES_ADDED)):
        raise Refused("cannot import into a database that is in use: use --replace to replace its state")
    count = lambda table: tx.q(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: E731
    replaced = {"chats": count("chats"), "events": count("events")}
    snapshots = found.snapshots or []
    names = [snap["name"] for snap in snapshots]
    if replace_snapshots:
        replaced["snapshots"] = count("snapshots")
        tx.q("DELETE FROM snapshots")
        tx.q("DELETE FROM snapshot_parts")
    else:
        replaced["snapshots"] = sum(tx.exists("SELECT 1 FROM snapshots WHERE name = ?", name) for name in names)
    for index, snap in enumerate(snapshots):
        state = found.state(index + 1)
        # Each snapshot passes the same checks as the state itself: loaded, checked, replaced below.
        shown_where = f"{where}: snapshot {shown(snap['name'])}"
        load(tx, found.parts(index + 1), state.seq, shown_where)
        problems = check(tx.conn)
        if problems:
            raise UsageError(f"{shown_where} is inconsistent: {problems[0]}")
        _parts(tx, snap["name"]).delete()
        tx.q("INSERT INTO snapshots (name, created_at_ms, chats, events_seq) VALUES (?, ?, ?, ?)"
             " ON CONFLICT (name) DO UPDATE SET created_at_ms = excluded.created_at_ms, chats = excluded.chats,"
             " events_seq = excluded.events_seq",
             snap["name"], snap["created_at_ms"], state.rows["chats"], state.seq)
        tx.q("INSERT INTO snapshot_parts (snapshot, part, seq, data)"
             " SELECT ?, part, seq, data FROM temp.import_parts WHERE slot = ?", snap["name"], index + 1)
    state = found.state(0)
    load(tx, found.parts(0), state.seq, where)
    found.close()
    problems = check(tx.conn)
    if problems:
        raise UsageError(f"{where}: the bundle's state is inconsistent: {problems[0]}")
    return {"imported": where, "chats": state.rows["chats"], "events": state.rows["events"],
            "snapshots": len(snapshots), "now": format_time(tx.now), "replaced": replaced,
            "snapshots_kept": count("snapshots") - len(names)}


def reset(tx, keep_snapshots):
    for table in bundle.STATE_TABLES:
        if table != "meta":
            tx.q(f"DELETE FROM {table}")
    tx.q("DELETE FROM sqlite_sequence WHERE name = 'events'")
    webhooks.log_replaced(tx)
    if not keep_snapshots:
        tx.q("DELETE FROM snapshots")
        tx.q("DELETE FROM snapshot_parts")
    tx.mode, tx.offset = VIRTUAL, 0
    tx.now = tx.at = tx.wall_ms
    tx.q("UPDATE meta SET mode = ?, now_ms = ?, offset_ms = 0, next_chat = 1 WHERE id = 1", VIRTUAL, tx.now)
    tx.config_changed()
    return {"reset": True, "now": format_time(tx.now), "mode": VIRTUAL}
