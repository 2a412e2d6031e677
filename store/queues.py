"""Queues: which exist, what waits in them, who serves them and in which order.

A queue comes into being by ``queue add``; until the first ``queue add`` of a database, also
when a chat first names it.  Once a queue has been added (``added``: a row of ``config`` that
travels with the state), naming a queue that does not exist is exit 4 everywhere (``named``).
An agent assigned to no queue serves every queue; one assigned to some serves those, in its
order, each switched on or off (``agent queues``).
"""

from __future__ import annotations

from . import core
from .config import QUEUES_ADDED
from .errors import UsageError, closest, unknown
from .timefmt import format_time, seconds
from .validate import DEFAULT_QUEUE, check_name


def ensure(tx, name: str) -> None:
    """The queue exists (created now if a chat names it first): call ``named`` first."""
    tx.q("INSERT OR IGNORE INTO queues (name, created_at_ms) VALUES (?, ?)", name, tx.at)


def added(tx) -> bool:
    """Whether a queue was ever added with ``queue add`` (since the database was made or reset,
    as the state loaded from a snapshot or a bundle says): then only queues that exist may be named."""
    return tx.exists("SELECT 1 FROM config WHERE queue = '' AND key = ?", QUEUES_ADDED)


def _unknown(tx, name: str):
    names = [r[0] for r in tx.q("SELECT name FROM queues ORDER BY name")]
    near = closest(name, names)
    return unknown("queue", name, hint=f"add it first: chatemu queue add {name}"
                   + (f"; did you mean {near}?" if near else ""))


def _known(tx, name: str) -> str:
    """A queue that exists (whether or not queues were ever added), or exit 4."""
    check_name("queue", name)
    if not tx.exists("SELECT 1 FROM queues WHERE name = ?", name):
        raise _unknown(tx, name)
    return name


def named(tx, name: str) -> str:
    """A queue a command names: a valid name, and, once a queue was ever added with ``queue add``,
    one that exists (exit 4 otherwise).  Before that, a queue a chat names comes into being; and
    ``default``, the queue of a chat created without ``--queue``, always may."""
    check_name("queue", name)
    if name != DEFAULT_QUEUE and added(tx) and not tx.exists("SELECT 1 FROM queues WHERE name = ?", name):
        raise _unknown(tx, name)
    return name


def add(tx, name):
    check_name("queue", name)
    existed = tx.exists("SELECT 1 FROM queues WHERE name = ?", name)
    ensure(tx, name)
    if not added(tx):
        tx.q("INSERT INTO config (queue, key, value) VALUES ('', ?, 'on')", QUEUES_ADDED)
    return lambda: {**show(tx, name), "added": not existed}


def _served_by(tx, name: str) -> list[str]:
    """The agents that serve the queue (assigned, or assigned to none)."""
    return [r[0] for r in tx.q(
        "SELECT a.id FROM agents a WHERE NOT EXISTS (SELECT 1 FROM agent_queues g WHERE g.agent = a.id)"
        " OR EXISTS (SELECT 1 FROM agent_queues g WHERE g.agent = a.id AND g.queue = ? AND g.enabled = 1)"
        " ORDER BY a.id", name)]


def show(tx, name):
    _known(tx, name)
    waiting, oldest = tx.q(
        "SELECT count(*), min(created_at_ms) FROM chats WHERE state = 'queued' AND queue = ?", name).fetchone()
    in_inboxes = tx.q(
        "SELECT count(*) FROM chats WHERE queue = ? AND agent IS NOT NULL AND state IN"
        " ('new', 'active', 'parked', 'active-wrapup', 'parked-wrapup')", name).fetchone()[0]
    assigned = [r[0] for r in tx.q("SELECT agent FROM agent_queues WHERE queue = ? ORDER BY agent", name)]
    serving = _served_by(tx, name)
    from . import agents

    available = [agent for agent in serving if agents.status(tx, agent) == core.AVAILABLE]
    return {
        "name": name,
        "waiting": waiting,
        "longest_wait_seconds": seconds(tx.now - oldest) if oldest is not None else None,
        "oldest_waiting_since": format_time(oldest),
        "in_inboxes": in_inboxes,
        "assigned": assigned,
        "serving": serving,
        "available": len(available),
    }


def waiting(tx, name):
    """The chats waiting in the queue, in the order routing presents them."""
    _known(tx, name)
    return [{"id": r[0], "state": r[1]} for r in tx.q(
        "SELECT id, state FROM chats WHERE state = 'queued' AND queue = ?"
        " ORDER BY priority DESC, created_at_ms, number", name)]


def list_(tx):
    return [show(tx, r[0]) for r in tx.q("SELECT name FROM queues ORDER BY name").fetchall()]


# -- an agent's queues ----------------------------------------------------------------


def agent_queues(tx, agent_id=None):
    agent = agent_id if agent_id is not None else tx.agent
    if agent != tx.agent and not tx.exists("SELECT 1 FROM agents WHERE id = ?", agent):
        check_name("agent id", agent)
        raise unknown("agent", agent)
    rows = tx.q("SELECT queue, enabled FROM agent_queues WHERE agent = ? ORDER BY position", agent).fetchall()
    return {
        "agent": agent,
        "all": not rows,  # assigned to none: it serves every queue
        "queues": [{"queue": r["queue"], "on": bool(r["enabled"])} for r in rows],
    }


def _changed(tx) -> None:
    tx.q("UPDATE agents SET queues_since_ms = ? WHERE id = ?", tx.at, tx.agent)
    tx.config_changed()  # who serves what changed: every free agent may now take a chat


def set_(tx, names):
    if not names:
        raise UsageError("name at least one queue (`agent queues clear` makes the agent serve every queue)")
    for name in names:
        _known(tx, name)
    if len(set(names)) != len(names):
        twice = next(name for name in names if names.count(name) > 1)
        raise UsageError(f"queue {twice} is named twice")
    before = {r["queue"]: r["enabled"] for r in tx.q("SELECT queue, enabled FROM agent_queues WHERE agent = ?", tx.agent)}
    tx.q("DELETE FROM agent_queues WHERE agent = ?", tx.agent)
    for position, name in enumerate(names):
        # A queue it was assigned to keeps its on/off; a new one is on.
        tx.q("INSERT INTO agent_queues (agent, queue, position, enabled) VALUES (?, ?, ?, ?)",
             tx.agent, name, position, before.get(name, 1))
    _changed(tx)
    return lambda: agent_queues(tx)


def clear(tx):
    tx.q("DELETE FROM agent_queues WHERE agent = ?", tx.agent)
    _changed(tx)
    return lambda: agent_queues(tx)


def switch(tx, name, on: bool):
    _known(tx, name)
    found = tx.q("SELECT enabled FROM agent_queues WHERE agent = ? AND queue = ?", tx.agent, name).fetchone()
    if found is None:
        mine = agent_queues(tx)
        listed = ", ".join(q["queue"] for q in mine["queues"]) or "none: it serves every queue"
        raise UsageError(f"{tx.agent} is not assigned to queue {name} (its queues: {listed};"
                         f" `agent queues set …` assigns it)")
    if bool(found["enabled"]) != on:
        tx.q("UPDATE agent_queues SET enabled = ? WHERE agent = ? AND queue = ?", int(on), tx.agent, name)
        _changed(tx)
    return lambda: agent_queues(tx)


def refuse_take(tx, agent: str, queue: str) -> str | None:
    """Why ``agent`` may not take a chat from ``queue`` (None: it may)."""
    rows = tx.q("SELECT queue, enabled FROM agent_queues WHERE agent = ? ORDER BY position", agent).fetchall()
    if not rows or any(r["queue"] == queue and r["enabled"] for r in rows):
        return None
    why = "switched off" if any(r["queue"] == queue for r in rows) else "not one of its queues"
    return f"queue {queue} is {why} for {agent} (its queues: {_listed(rows)})"


def refuse_transfer(tx, agent: str, queue: str) -> str | None:
    """Why ``agent`` may not transfer a chat to ``queue`` (None: it may).  An agent assigned to
    queues transfers only to one of them (switched on or off); one assigned to none, anywhere."""
    rows = tx.q("SELECT queue, enabled FROM agent_queues WHERE agent = ? ORDER BY position", agent).fetchall()
    if not rows or any(r["queue"] == queue for r in rows):
        return None
    return f"queue {queue} is not one of {agent}'s queues (its queues: {_listed(rows)})"


def transfer_targets(tx, agent: str, current: str) -> list[str] | None:
    """The queues ``agent`` may transfer a chat of queue ``current`` to (None: any other queue)."""
    rows = tx.q("SELECT queue FROM agent_queues WHERE agent = ? ORDER BY position", agent).fetchall()
    return None if not rows else [r["queue"] for r in rows if r["queue"] != current]


def _listed(rows) -> str:
    return ", ".join(r["queue"] + ("" if r["enabled"] else " (off)") for r in rows)


# -- queues that refuse a new chat -----------------------------------------------------
# ``max-queue-length`` and ``when-no-agent refuse``: ``chat new`` into the queue is refused
# (exit 3) with one of these messages, journaled as every refusal is.  ``stats queues``
# counts a queue's ``rejected`` from the journal (``rejected``), matching these exact forms
# (a queue name has no space, so the match is exact).

_FULL = "queue {queue} is full ({waiting} waiting)"
_UNSERVED = "no logged-in agent serves queue {queue}"


def refuse_new(tx, queue: str) -> str | None:
    """Why a new chat may not join ``queue`` (None: it may wait there)."""
    limit = tx.config("max-queue-length", queue)
    if limit is not None:
        waiting = tx.q("SELECT count(*) FROM chats WHERE state = 'queued' AND queue = ?", queue).fetchone()[0]
        if waiting >= limit:
            return _FULL.format(queue=queue, waiting=waiting)
    if tx.config("when-no-agent", queue) == "refuse" and not logged_in_serving(tx, queue):
        return _UNSERVED.format(queue=queue)
    return None


def logged_in_serving(tx, queue: str) -> bool:
    """Whether an agent that is logged in (available, on a break or unavailable) serves ``queue``
    (assigned to it with it switched on, or assigned to no queue)."""
    return tx.exists(
        "SELECT 1 FROM agents a WHERE a.presence != 'logged-out' AND (NOT EXISTS (SELECT 1 FROM agent_queues g"
        " WHERE g.agent = a.id) OR EXISTS (SELECT 1 FROM agent_queues g WHERE g.agent = a.id AND g.queue = ?"
        " AND g.enabled = 1))", queue)


def rejected_queue(message: str) -> str | None:
    """The queue a journaled refusal's message says rejected a new chat (None: another refusal)."""
    import re

    found = re.fullmatch(r"queue (\S+) is full \(\d+ waiting\)|no logged-in agent serves queue (\S+)", message)
    return None if found is None else found.group(1) or found.group(2)
