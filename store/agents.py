"""Agents: creation, presence, derived status; phone calls."""

from __future__ import annotations


from . import chats, core
from .errors import Refused, UnknownChat, UsageError
from .validate import check_name, shown


def ensure(tx, agent: str) -> None:
    if agent == tx.agent and tx.agent_exists:
        return
    created = tx.q(
        "INSERT OR IGNORE INTO agents (id, presence, on_call, last_activity_ms, created_at_ms)"
        " VALUES (?, 'available', 0, ?, ?)",
        agent, tx.at, tx.at,
    ).rowcount
    if created:
        tx.touch(agent)


def presence(tx, agent: str) -> str:
    return tx.q("SELECT presence FROM agents WHERE id = ?", agent).fetchone()["presence"]


def state(tx, agent: str) -> tuple[bool, str, bool, dict | None, str]:
    """Whether the agent exists, its presence, on-call flag, active item and derived status
    (an agent not created yet is as it would be created: available)."""
    found = tx.q("SELECT presence, on_call FROM agents WHERE id = ?", agent).fetchone()
    item = chats.active_item(tx, agent)
    pres, on_call = (found["presence"], bool(found["on_call"])) if found else (core.AVAILABLE, False)
    return found is not None, pres, on_call, item, core.agent_status(pres, on_call, item["state"] if item else None)


def status(tx, agent: str) -> str:
    return state(tx, agent)[4]


def show(tx, agent_id=None):
    agent = check_name("agent id", agent_id) if agent_id is not None else tx.agent
    exists, pres, on_call, item, derived = state(tx, agent)
    if not exists and agent_id is not None and agent_id != tx.agent:
        # Another agent, named explicitly, that never existed: most likely a typo.
        raise UnknownChat(f"unknown agent {shown(agent_id)}")
    return {
        "id": agent,
        "presence": pres,
        "status": derived,
        "on_call": on_call,
        "active_chat": item["id"] if item else None,
        "open_chats": chats.open_count(tx, agent),
    }


def view(tx):
    """The acting agent as it will be once the command has settled and presented."""
    return lambda: show(tx)


def list_(tx):
    return [show(tx, found["id"]) for found in tx.q("SELECT id FROM agents ORDER BY id").fetchall()]


def set_presence(tx, new_presence):
    if new_presence not in core.PRESENCES:
        raise UsageError(f"unknown presence {shown(new_presence)} (use {' or '.join(core.PRESENCES)})")
    if presence(tx, tx.agent) != new_presence:
        before = status(tx, tx.agent)
        tx.q("UPDATE agents SET presence = ? WHERE id = ?", new_presence, tx.agent)
        tx.event(tx.agent, None, before, status(tx, tx.agent), new_presence)
    return view(tx)


def call_start(tx):
    if chats.is_on_call(tx, tx.agent):
        raise Refused(f"cannot start a call: {tx.agent} is already on a call")
    before = status(tx, tx.agent)
    tx.q("UPDATE agents SET on_call = 1 WHERE id = ?", tx.agent)
    item = chats.active_item(tx, tx.agent)
    if item is not None:
        tx.q("UPDATE chats SET parked_by_call = 1 WHERE id = ?", item["id"])
        chats.move(tx, chats.row(tx, item["id"]), core.CALL_START, "call")
    tx.event(tx.agent, None, before, core.ON_CALL, "call")
    return view(tx)


def call_end(tx):
    if not chats.is_on_call(tx, tx.agent):
        raise Refused(f"cannot end a call: {tx.agent} is not on a call")
    tx.q("UPDATE agents SET on_call = 0 WHERE id = ?", tx.agent)
    marked = tx.records(
        f"SELECT {chats.FIELDS} FROM chats WHERE agent = ? AND parked_by_call = 1 ORDER BY number", tx.agent
    )
    resuming = [found for found in marked if core.allowed(found["state"], core.CALL_END)]
    tx.q("UPDATE chats SET parked_by_call = 0 WHERE agent = ? AND parked_by_call = 1", tx.agent)
    # The call's end is logged first, with the status it leads to once the chat resumes.
    after = core.agent_status(presence(tx, tx.agent), False, core.ACTIVE_WRAPUP if resuming else None)
    tx.event(tx.agent, None, core.ON_CALL, after, "call")
    for found in resuming:
        chats.move(tx, chats.row(tx, found["id"]), core.CALL_END, "call")
    return view(tx)
