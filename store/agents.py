"""Agents: login and logout, presence and breaks, derived status; phone calls.

An agent comes into being by ``agent login``; in a database with no agent at all, the
acting agent of the first command that changes something comes into being too (as a
new database always behaved).  Every change of an agent's derived status is logged as
an agent event (``chat`` empty, ``from``/``to`` the statuses) at its exact instant.
"""

from __future__ import annotations


from . import chats, clocks, core
from .errors import Refused, UsageError, unknown
from .validate import check_name, shown

#: How a command acts as its agent (``Engine._run``'s ``acting``).
AGENT = True  # the agent acts: it must exist (or be the first agent of an empty database)
CUSTOMER = "customer"  # the customer acts for the agent's queue: creates only the first agent


def ensure(tx, agent: str, acting=AGENT) -> None:
    """Before a command that acts as ``agent``: create it if the database has no agent yet;
    otherwise an agent that does not exist is refused (exit 4) when it is the one acting."""
    if agent == tx.agent and tx.agent_exists:
        return
    if tx.exists("SELECT 1 FROM agents WHERE id = ?", agent):
        return
    if tx.exists("SELECT 1 FROM agents"):
        if acting == CUSTOMER:
            return
        raise unknown_acting(agent)
    create(tx, agent)


def unknown_acting(agent: str):
    return unknown("agent", agent, hint=f"log it in first: chatemu --agent {agent} agent login")


def reading_as(tx) -> None:
    """Before a read of the acting agent's own view (its inbox, status, queues): as a command
    that changes something, an agent that does not exist is exit 4 once any agent exists (in a
    database with no agent yet, it reads as the agent would be created)."""
    if not tx.exists("SELECT 1 FROM agents WHERE id = ?", tx.agent) and tx.exists("SELECT 1 FROM agents"):
        raise unknown_acting(tx.agent)


def create(tx, agent: str) -> None:
    tx.q(
        "INSERT INTO agents (id, presence, on_call, last_activity_ms, created_at_ms, status, status_since_ms)"
        " VALUES (?, 'available', 0, ?, ?, 'available', ?)",
        agent, tx.at, tx.at, tx.at,
    )
    if agent == tx.agent:
        tx.agent_exists = True
    tx.event(agent, None, None, core.AVAILABLE, "login")
    tx.touch(agent)


def presence(tx, agent: str) -> str:
    return tx.q("SELECT presence FROM agents WHERE id = ?", agent).fetchone()["presence"]


def logged_out(tx, agent: str) -> str | None:
    """Why a logged-out (or disconnected) agent is given no chat (None: it is logged in and connected)."""
    found = tx.q("SELECT presence FROM agents WHERE id = ?", agent).fetchone()
    if found is not None and found["presence"] == core.LOGGED_OUT:
        return f"{agent} is logged out (chatemu --agent {agent} agent login)"
    if found is not None and found["presence"] == core.UNAVAILABLE:
        return f"{agent} is unavailable (reconnected: chatemu --agent {agent} agent available)"
    return None


def state(tx, agent: str) -> tuple[dict | None, dict | None, str]:
    """The agent's row (None: it does not exist), its active item and its derived status
    (an agent not created yet is as it would be created: available)."""
    found = tx.record(
        "SELECT presence, on_call, break_reason, status_since_ms, max_chats, created_at_ms, break_deadline_ms,"
        " overrun_since_ms FROM agents WHERE id = ?", agent)
    item = chats.active_item(tx, agent)
    pres, on_call = (found["presence"], bool(found["on_call"])) if found else (core.AVAILABLE, False)
    return found, item, core.agent_status(pres, on_call, item["state"] if item else None)


def status(tx, agent: str) -> str:
    return state(tx, agent)[2]


def show(tx, agent_id=None):
    agent = check_name("agent id", agent_id) if agent_id is not None else tx.agent
    found, item, derived = state(tx, agent)
    if found is None and agent_id is not None and agent_id != tx.agent:
        # Another agent, named explicitly, that never existed: most likely a typo.
        raise unknown("agent", agent_id)
    from .timefmt import format_time

    return {
        "id": agent,
        "presence": found["presence"] if found else core.AVAILABLE,
        "status": derived,
        "on_call": bool(found["on_call"]) if found else False,
        "active_chat": item["id"] if item else None,
        "open_chats": chats.open_count(tx, agent),
        "break_reason": found["break_reason"] if found else None,
        "status_since": format_time(found["status_since_ms"] if found else tx.now),
        "max_chats": chats.capacity(tx, agent),
        "break_ends_at": format_time(found["break_deadline_ms"]) if found else None,
        "break_overrun_since": format_time(found["overrun_since_ms"]) if found else None,
    }


def view(tx):
    """The acting agent as it will be once the command has settled and presented."""
    return lambda: show(tx)


def list_(tx):
    return [show(tx, found["id"]) for found in tx.q("SELECT id FROM agents ORDER BY id").fetchall()]


def _presence(tx, agent: str, new_presence: str, cause: str, reason: str | None = None) -> None:
    """Set the presence (and break reason); logged as the agent's status change, even when the
    derived status stays (a break taken while handling a chat)."""
    tx.q("UPDATE agents SET presence = ?, break_reason = ? WHERE id = ?", new_presence, reason, agent)
    clocks.break_started(tx, agent, new_presence, reason)
    tx.status_event(agent, status(tx, agent), cause)


def set_presence(tx, new_presence, reason=None):
    if new_presence not in (core.AVAILABLE, core.BREAK):
        raise UsageError(f"unknown presence {shown(new_presence)} (use available or break)")
    if reason is not None:
        if new_presence != core.BREAK:
            raise UsageError("a reason is given with a break only")
        check_name("break reason", reason)
        reasons = tx.config("break-reasons")
        if reason not in reasons:
            raise _unknown_reason(reason, reasons)
    found = tx.q("SELECT presence, break_reason FROM agents WHERE id = ?", tx.agent).fetchone()
    if found["presence"] == core.LOGGED_OUT:
        raise Refused(f"cannot {'take a break' if new_presence == core.BREAK else 'be available'}:"
                      f" {tx.agent} is logged out (chatemu --agent {tx.agent} agent login)")
    if (found["presence"], found["break_reason"]) != (new_presence, reason):
        _presence(tx, tx.agent, new_presence, new_presence, reason)
    return view(tx)


def login(tx):
    """Create the agent if new; make it available."""
    found = tx.q("SELECT presence FROM agents WHERE id = ?", tx.agent).fetchone()
    if found is None:
        create(tx, tx.agent)
    elif found["presence"] != core.AVAILABLE:
        _presence(tx, tx.agent, core.AVAILABLE, "login")
    return view(tx)


def logout(tx, return_chats: bool):
    """Presence logged-out; refused on a call or with open chats (``return_chats``: the
    agent's new, active and parked chats go back to their queues first)."""
    found = tx.q("SELECT presence, on_call FROM agents WHERE id = ?", tx.agent).fetchone()
    if found["on_call"]:
        raise Refused(f"cannot log out: {tx.agent} is on a call (chatemu chat call-end first)")
    open_chats = tx.records(
        f"SELECT {chats.FIELDS} FROM chats WHERE agent = ? AND state IN {chats.OPEN} ORDER BY number", tx.agent)
    wrapping = [c["id"] for c in open_chats if c["state"] in (core.ACTIVE_WRAPUP, core.PARKED_WRAPUP)]
    if open_chats and not return_chats:
        ids = " ".join(c["id"] for c in open_chats)
        hint = " (finish their wrap-up first)" if len(wrapping) == len(open_chats) else \
            " (return them with --return, or `chat return ID`)"
        raise Refused(f"cannot log out: {tx.agent} has {len(open_chats)} open chat(s): {ids}{hint}")
    if wrapping:
        raise Refused(f"cannot log out: {tx.agent} has chat(s) in wrap-up: {' '.join(wrapping)}"
                      " (finish their wrap-up first)")
    for chat in open_chats:
        chats.return_(tx, chat["id"])
    if found["presence"] != core.LOGGED_OUT:
        _presence(tx, tx.agent, core.LOGGED_OUT, "logout")
    return view(tx)


def break_reasons(tx):
    return list(tx.config("break-reasons"))


def break_reason_add(tx, reason, limit=None):
    """Add a reason (at the end); ``limit`` (a duration, or ``off``): how long a break for it
    may last before it overruns (fixed when a break starts)."""
    from . import config as cfg

    check_name("break reason", reason)
    if limit is not None:
        from .timefmt import parse_duration

        ms = None if limit.strip().lower() == "off" else parse_duration(limit)
    reasons = tx.config("break-reasons")
    if reason not in reasons:
        cfg.store(tx, "break-reasons", (*reasons, reason))
    if limit is not None:
        limits = clocks.break_limits(tx)
        if ms is None:
            limits.pop(reason, None)
        else:
            limits[reason] = ms
        clocks.store_limits(tx, limits)
    return lambda: break_reasons(tx)


def break_reason_limits(tx) -> dict[str, int]:
    """Each listed reason's limit in ms (only those that have one)."""
    limits = clocks.break_limits(tx)
    return {reason: limits[reason] for reason in tx.config("break-reasons") if reason in limits}


def break_reason_remove(tx, reason):
    from . import config as cfg

    check_name("break reason", reason)
    reasons = tx.config("break-reasons")
    if reason not in reasons:
        raise _unknown_reason(reason, reasons)
    cfg.store(tx, "break-reasons", tuple(r for r in reasons if r != reason))
    limits = clocks.break_limits(tx)
    if limits.pop(reason, None) is not None:
        clocks.store_limits(tx, limits)
    return lambda: break_reasons(tx)


def _unknown_reason(reason: str, reasons):
    listed = ", ".join(reasons) or "none: add one with `chatemu break-reason add R`"
    return unknown("break reason", reason, hint=f"reasons: {listed}")


def call_start(tx):
    if chats.is_on_call(tx, tx.agent):
        raise Refused(f"cannot start a call: {tx.agent} is already on a call")
    if presence(tx, tx.agent) == core.LOGGED_OUT:
        raise Refused(f"cannot start a call: {tx.agent} is logged out")
    tx.q("UPDATE agents SET on_call = 1 WHERE id = ?", tx.agent)
    item = chats.active_item(tx, tx.agent)
    if item is not None and core.allowed(item["state"], core.CALL_START, parks=tx.config("call-parks-chats")):
        tx.q("UPDATE chats SET parked_by_call = 1 WHERE id = ?", item["id"])
        chats.move(tx, chats.row(tx, item["id"]), core.CALL_START, "call")
    tx.status_event(tx.agent, core.ON_CALL, "call")
    return view(tx)


def call_end(tx):
    if not chats.is_on_call(tx, tx.agent):
        raise Refused(f"cannot end a call: {tx.agent} is not on a call")
    tx.q("UPDATE agents SET on_call = 0 WHERE id = ?", tx.agent)
    marked = tx.records(
        f"SELECT {chats.FIELDS} FROM chats WHERE agent = ? AND parked_by_call = 1 ORDER BY number", tx.agent
    )
    resuming = [found for found in marked
                if core.allowed(found["state"], core.CALL_END, parks=tx.config("call-parks-chats"))]
    tx.q("UPDATE chats SET parked_by_call = 0 WHERE agent = ? AND parked_by_call = 1", tx.agent)
    # The call's end is logged first, with the status it leads to once the chat resumes.
    item = chats.active_item(tx, tx.agent)  # one a call left active (call-parks-chats off)
    after = core.agent_status(presence(tx, tx.agent), False,
                              core.ACTIVE_WRAPUP if resuming else item["state"] if item else None)
    tx.status_event(tx.agent, after, "call")
    for found in resuming:
        chats.move(tx, chats.row(tx, found["id"]), core.CALL_END, "call")
    return view(tx)


def disconnect(tx):
    """The agent's connection is lost: it becomes ``unavailable``; its ``new`` chats go back,
    queued, to the queue each is in (keeping its place: its arrival time); its other chats stay
    in its inbox (a wrap-up timer keeps running).  ``agent available`` (or ``login``) once
    reconnected."""
    if presence(tx, tx.agent) == core.LOGGED_OUT:
        raise Refused(f"cannot disconnect: {tx.agent} is logged out")
    offered = tx.records(
        f"SELECT {chats.FIELDS} FROM chats WHERE agent = ? AND state = 'new' ORDER BY number", tx.agent)
    for chat in offered:
        chats.move(tx, chat, core.RETURN, "disconnect")
        tx.q("UPDATE chats SET agent = NULL WHERE id = ?", chat["id"])
    if presence(tx, tx.agent) != core.UNAVAILABLE:
        _presence(tx, tx.agent, core.UNAVAILABLE, "disconnect")
    return view(tx)
