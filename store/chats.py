"""Chats: create, take, activate, park, end, wrap up; show and list.

Every change of a chat's state goes through ``move``, which looks the
(state, event) pair up in ``core.TRANSITIONS``, applies the timer operation
the table names and logs the event.
"""

from __future__ import annotations


from . import clocks, core
from .errors import Refused, UsageError, unknown
from .timefmt import MAX_MS, format_time, parse_duration, seconds
from .validate import check_customer, check_name, check_priority, shown

#: A chat's own columns: what moving it and judging it need.
FIELDS = (
    "id, number, state, agent, customer, queue, priority, created_at_ms, closed_at_ms, closed_reason,"
    " parked_by_call, wrapup_deadline_ms, wrapup_remaining_ms, extension_ms, extensions_left,"
    " state_since_ms, active_ms, parked_ms, wrapup_ms, origin_queue, transfers, unread, classification,"
    " classification_note, abusive, contact, " + clocks.CLOCKING
)
#: ... with the clocks' own columns (``clocks.CLOCK_FIELDS``): what a clock's expiry needs.
FULL = FIELDS + ", " + clocks.CLOCK_FIELDS
_MESSAGES = "(SELECT count(*) FROM messages m WHERE m.chat = chats.id) AS messages"
#: ... and its number of messages (``explain``).
COLUMNS = FULL + ", " + _MESSAGES
#: What showing a chat reads (``chat_object``), nothing more.
SHOWN = (
    "id, state, agent, customer, queue, priority, created_at_ms, closed_at_ms, closed_reason, parked_by_call,"
    " wrapup_deadline_ms, wrapup_remaining_ms, extensions_left, state_since_ms, active_ms, parked_ms, wrapup_ms,"
    " origin_queue, transfers, unread, classification, classification_note, abusive, contact, awaiting_since_ms,"
    " alerting_since_ms, " + _MESSAGES
)
OPEN = "('new', 'active', 'parked', 'active-wrapup', 'parked-wrapup')"
BUSY = "('new', 'active', 'active-wrapup')"


def row(tx, chat_id: str, columns: str = FIELDS) -> dict:
    check_name("chat id", chat_id)  # a malformed id is a usage error, never an unknown chat
    found = tx.record(f"SELECT {columns} FROM chats WHERE id = ?", chat_id)
    if found is None:
        raise unknown("chat", chat_id)
    return found


#: The columns ``move`` may change, in the order it writes them.
_MOVED = ("state", "wrapup_deadline_ms", "wrapup_remaining_ms", "extension_ms", "extensions_left", "state_since_ms",
          "active_ms", "parked_ms", "wrapup_ms", "closed_at_ms", "closed_reason", "parked_by_call", "agent")
_UPDATES: dict[tuple[str, ...], str] = {}


#: The states that make a chat its agent's active item (and so decide the agent's status).
_ACTIVE_ITEM = (core.ACTIVE, core.ACTIVE_WRAPUP)


def move(tx, chat: dict, event: str, cause: str, agent: str | None = None) -> None:
    """Apply ``event`` to a chat through the transition table; store it; log it.
    ``chat``: its row as it is now.  ``agent``: the chat goes into this agent's inbox with
    the move (a presentation).  A move into or out of the active item may change an agent's
    status: it is logged once the instant's moves are done (``Tx.flush_status``)."""
    chat_id, state = chat["id"], chat["state"]
    timer = core.Timer(chat["wrapup_deadline_ms"], chat["wrapup_remaining_ms"])
    step = core.step(chat_id, state, event, *modes(tx, chat, event, timer))
    extension, extensions_left = chat["extension_ms"], chat["extensions_left"]
    duration = 0
    if step.timer in (core.T_START, core.T_START_PAUSED):
        # The queue's wrap-up settings are fixed when wrap-up starts.
        duration = tx.config("wrapup", chat["queue"])
        extension = tx.config("wrapup-extension", chat["queue"])
        extensions_left = tx.config("wrapup-extensions", chat["queue"])
    elif step.to in core.WRAPUP_STATES and state not in core.WRAPUP_STATES:
        extension, extensions_left = 0, 0  # an untimed wrap-up: no timer, nothing to extend
    elif step.timer == core.T_EXTEND:
        if not extensions_left:
            raise Refused(f"cannot extend the wrap-up of {chat_id}: it is {state} with no extensions left")
        extensions_left -= 1
    timer = core.apply_timer(step.timer, timer, tx.at, duration, extension or 0)
    if timer.deadline is not None and timer.deadline > MAX_MS:
        raise Refused(f"cannot {core.VERBS[event]} {chat_id}: it is {state} and its wrap-up would end after 9999-12-31")
    spent = {name: chat[name] for name in ("active_ms", "parked_ms", "wrapup_ms")}
    bucket = core.bucket(state)
    if bucket:
        spent[f"{bucket}_ms"] += tx.at - chat["state_since_ms"]
    closing = step.to == core.CLOSED
    if agent is None:
        agent = chat["agent"]
    values = (step.to, timer.deadline, timer.remaining, extension, extensions_left, tx.at,
              spent["active_ms"], spent["parked_ms"], spent["wrapup_ms"], tx.at if closing else None,
              step.closed_reason, 0 if closing else chat["parked_by_call"], agent)
    # Only the columns that change: an index whose columns are not set is left alone.
    names, params = ["state"], [step.to]
    for name, value in zip(_MOVED[1:], values[1:]):
        if chat[name] != value:
            names.append(name)
            params.append(value)
    clock = clocks.moved(tx, chat, event, step.to, chat["queue"])  # the clocks' columns that change
    if clock:
        names.extend(clock)
        params.extend(clock.values())
    changed = tuple(names)
    sql = _UPDATES.get(changed)
    if sql is None:
        sql = _UPDATES[changed] = f"UPDATE chats SET {', '.join(f'{name} = ?' for name in changed)} WHERE id = ?"
    tx.q(sql, *params, chat_id)
    if event == core.EXPIRE and chat["classification"] is None:
        timeout_classification(tx, chat)
    tx.event(agent, chat_id, state, step.to, cause, queue=chat["queue"])
    if state in _ACTIVE_ITEM or step.to in _ACTIVE_ITEM:
        for owner in (chat["agent"], agent):  # the one it leaves, the one it goes to
            if owner is not None:
                tx.status_changed(owner, cause)
    if timer.deadline is not None and timer.deadline != chat["wrapup_deadline_ms"]:
        tx.timer_set(timer.deadline, core.K_WRAPUP, chat_id)


#: The events whose pairs depend on the chat's wrap-up mode, and on call-parks-chats.
_MODAL = (core.END, core.WRAPUP, core.FINISH, core.EXTEND, core.EXPIRE, core.IDLE_TIMEOUT)
_CALL = (core.CALL_START, core.CALL_END)


def modes(tx, chat: dict, event: str, timer: core.Timer) -> tuple[str, bool]:
    """The wrap-up mode and the ``call-parks-chats`` setting ``event`` follows on ``chat``
    (``core.table``): the queue's ``wrapup-mode`` as ``core.wrapup_mode`` reads it."""
    mode = core.TIMED
    if event in _MODAL:
        mode = core.wrapup_mode(tx.config("wrapup-mode", chat["queue"]), chat["state"], timer)
    return mode, (tx.config("call-parks-chats") if event in _CALL else True)


def timeout_classification(tx, chat: dict) -> None:
    """A chat its wrap-up timer closes unclassified gets its queue's ``timeout-classification``."""
    code = tx.config("timeout-classification", chat["queue"])
    if code is not None:
        tx.q("UPDATE chats SET classification = ? WHERE id = ?", code, chat["id"])


def call_refuses(tx, event: str, on_call: bool | None = None) -> bool:
    """Whether the acting agent's call refuses ``event`` now (``core.CALL_REFUSES``); ``on_call``:
    whether it is on a call, when read already."""
    if on_call is None:
        on_call = is_on_call(tx, tx.agent)
    return on_call and event in core.CALL_REFUSES[tx.config("call-parks-chats")]


def own(tx, chat_id: str, doing: str) -> dict:
    """The chat, which must be in this agent's inbox (or queued: the table refuses that)."""
    chat = row(tx, chat_id)
    if chat["agent"] is not None and chat["agent"] != tx.agent and chat["state"] != core.CLOSED:
        raise Refused(f"cannot {doing} {chat_id}: it is {chat['state']} in {chat['agent']}'s inbox, not {tx.agent}'s")
    return chat


def open_count(tx, agent: str) -> int:
    return tx.q(f"SELECT count(*) FROM chats WHERE agent = ? AND state IN {OPEN}", agent).fetchone()[0]


def active_item(tx, agent: str) -> dict | None:
    return tx.record(f"SELECT {FIELDS} FROM chats WHERE agent = ? AND state IN ('active', 'active-wrapup')", agent)


def capacity(tx, agent: str) -> int:
    """The agent's own max-chats, or the global one."""
    found = tx.q("SELECT max_chats FROM agents WHERE id = ?", agent).fetchone()
    return found[0] if found is not None and found[0] is not None else tx.config("max-chats")


def at_capacity(tx, agent: str) -> str | None:
    """Why this agent's inbox takes no more chats, or None."""
    limit = capacity(tx, agent)
    count = open_count(tx, agent)
    return f"{agent} is at capacity {count}/{limit}" if count >= limit else None


def new(tx, customer, queue, priority, chat_id, inbox, patience=None):
    from .queues import ensure as ensure_queue, named

    check_name("queue", queue)
    if isinstance(patience, str):
        patience = parse_duration(patience)
    check_priority(priority)
    if customer is not None:
        check_customer(customer)
    if chat_id is not None:
        check_name("chat id", chat_id)
    named(tx, queue)
    number = tx.next_chat
    if number is None:
        number = tx.q("SELECT next_chat FROM meta WHERE id = 1").fetchone()[0]
    if chat_id is None:
        chat_id = f"C{number}"
        while tx.q("SELECT 1 FROM chats WHERE id = ?", chat_id).fetchone():
            number += 1
            chat_id = f"C{number}"
    else:
        if tx.q("SELECT 1 FROM chats WHERE id = ?", chat_id).fetchone():
            raise Refused(f"cannot create {chat_id}: a chat with that id exists")
    state, agent = core.QUEUED, None
    if not inbox:
        from .queues import refuse_new

        why = refuse_new(tx, queue)
        if why:
            raise Refused(why)
    if inbox:
        from .agents import logged_out

        away = logged_out(tx, tx.agent)
        if away:
            raise Refused(f"cannot create {chat_id} in {tx.agent}'s inbox: {away}")
        full = at_capacity(tx, tx.agent)
        if full:
            raise Refused(f"cannot create {chat_id} in {tx.agent}'s inbox: {full}")
        state, agent = core.NEW, tx.agent
    ensure_queue(tx, queue)
    if customer is not None:
        ensure_contact(tx, customer)
    deadline, waiting = clocks.arrived(tx, state == core.QUEUED, patience, queue)
    tx.q(
        "INSERT INTO chats (id, number, state, agent, customer, queue, priority, created_at_ms, state_since_ms,"
        " origin_queue, contact, patience_ms, waiting_since_ms, patience_deadline_ms)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        chat_id, number, state, agent, customer, queue, priority, tx.at, tx.at, queue, customer, patience, waiting,
        deadline,
    )
    if deadline is not None:
        tx.timer_set(deadline, core.K_PATIENCE, chat_id)
    tx.q("UPDATE meta SET next_chat = ? WHERE id = 1", number + 1)
    tx.next_chat = number + 1
    tx.event(agent, chat_id, None, state, "customer", queue=queue)
    return view(tx, chat_id)


def ensure_contact(tx, name: str) -> None:
    tx.q("INSERT OR IGNORE INTO contacts (name, created_at_ms) VALUES (?, ?)", name, tx.at)


def take(tx, chat_id):
    chat = row(tx, chat_id)
    core.step(chat_id, chat["state"], core.TAKE)  # refuse a chat that is not queued first
    from .agents import logged_out

    away = logged_out(tx, tx.agent)
    if away:
        raise Refused(f"cannot take {chat_id}: it is queued and {away}")
    from .queues import refuse_take

    why = refuse_take(tx, tx.agent, chat["queue"])
    if why:
        raise Refused(f"cannot take {chat_id}: it is queued and {why}")
    full = at_capacity(tx, tx.agent)
    if full:
        raise Refused(f"cannot take {chat_id}: it is queued and {full}")
    move(tx, chat, core.TAKE, "take", agent=tx.agent)
    return view(tx, chat_id)


def is_on_call(tx, agent: str) -> bool:
    found = tx.q("SELECT on_call FROM agents WHERE id = ?", agent).fetchone()
    return bool(found and found["on_call"])


def activate(tx, chat_id):
    chat = own(tx, chat_id, "activate")
    core.step(chat_id, chat["state"], core.ACTIVATE)
    on_call, status = tx.q("SELECT on_call, status FROM agents WHERE id = ?", tx.agent).fetchone()
    if call_refuses(tx, core.ACTIVATE, bool(on_call)):
        raise Refused(f"cannot activate {chat_id}: it is {chat['state']} and {tx.agent} is on a call")
    # An agent whose status is its presence has no active item (its status is derived from its
    # presence, call and active item, and ``db check`` holds the stored one to that).
    other = None if status in core.PRESENCES else active_item(tx, tx.agent)
    if other is not None and other["id"] != chat_id:
        move(tx, other, core.PARK, "activate")
    move(tx, chat, core.ACTIVATE, "activate")
    if chat["unread"]:
        tx.q("UPDATE chats SET unread = 0 WHERE id = ?", chat_id)  # activating reads the customer's messages
    return view(tx, chat_id)


def park(tx, chat_id):
    move(tx, own(tx, chat_id, "park"), core.PARK, "park")
    return view(tx, chat_id)


def end(tx, chat_id):
    move(tx, row(tx, chat_id), core.END, "customer")
    return view(tx, chat_id)


def wrapup(tx, chat_id, extend, finish):
    if extend and finish:
        raise UsageError("use --extend or --finish, not both")
    event = core.EXTEND if extend else core.FINISH if finish else core.WRAPUP
    chat = own(tx, chat_id, core.VERBS[event])
    mode = modes(tx, chat, event, core.Timer(chat["wrapup_deadline_ms"], chat["wrapup_remaining_ms"]))[0]
    if finish and core.allowed(chat["state"], event, mode) and chat["classification"] is None \
            and tx.config("classification-required", chat["queue"]):
        raise Refused(
            f"cannot finish the wrap-up of {chat_id}: it is {chat['state']} and not classified"
            f" (queue {chat['queue']} requires it: `chat classify {chat_id} CODE` first)"
        )
    move(tx, chat, event, event)
    return view(tx, chat_id)


def return_(tx, chat_id):
    """The agent's new, active or parked chat goes back, queued, to the queue it first arrived in."""
    chat = own(tx, chat_id, "return")
    core.step(chat_id, chat["state"], core.RETURN)
    if call_refuses(tx, core.RETURN):
        raise Refused(f"cannot return {chat_id}: it is {chat['state']} and {tx.agent} is on a call")
    tx.q("UPDATE chats SET queue = origin_queue WHERE id = ?", chat_id)
    move(tx, {**chat, "queue": chat["origin_queue"]}, core.RETURN, "return")  # logged in the queue it returns to
    tx.q("UPDATE chats SET agent = NULL WHERE id = ?", chat_id)
    return view(tx, chat_id)


def transfer(tx, chat_id, queue, agent):
    """The agent's active chat goes queued to another queue, or new to another agent's inbox."""
    if (queue is None) == (agent is None):
        raise UsageError("transfer needs --queue Q or --agent A (one of them)")
    chat = own(tx, chat_id, "transfer")
    if queue is not None:  # an unknown name is exit 4 whatever the chat's state (as an unknown chat)
        from .queues import ensure as ensure_queue, named, refuse_transfer

        check_name("queue", queue)
        named(tx, queue)
        core.step(chat_id, chat["state"], core.TRANSFER_QUEUE)
        if queue == chat["queue"]:
            raise Refused(f"cannot transfer {chat_id} to queue {queue}: it is {chat['state']} in that queue already")
        why = refuse_transfer(tx, tx.agent, queue)
        if why:
            raise Refused(f"cannot transfer {chat_id} to queue {queue}: it is {chat['state']} and {why}")
        ensure_queue(tx, queue)
        tx.q("UPDATE chats SET queue = ? WHERE id = ?", queue, chat_id)
        move(tx, {**chat, "queue": queue}, core.TRANSFER_QUEUE, "transfer")  # logged in the queue it goes to
        tx.q("UPDATE chats SET agent = NULL, transfers = transfers + 1 WHERE id = ?", chat_id)
        return view(tx, chat_id)
    check_name("agent id", agent)
    target = tx.q("SELECT presence, on_call FROM agents WHERE id = ?", agent).fetchone()
    if target is None:
        raise unknown("agent", agent)
    core.step(chat_id, chat["state"], core.TRANSFER_AGENT)
    if agent == tx.agent:
        raise Refused(f"cannot transfer {chat_id} to {agent}: it is {chat['state']} in {agent}'s own inbox")
    why = None
    if target["presence"] == core.BREAK:
        why = f"{agent} is on a break"
    elif target["presence"] != core.AVAILABLE:
        why = f"{agent} is {target['presence']}"
    elif target["on_call"]:
        why = f"{agent} is on a call"
    else:
        why = at_capacity(tx, agent)
    if why:
        raise Refused(f"cannot transfer {chat_id} to {agent}: it is {chat['state']} and {why}")
    # Moved with its new owner: the event names the agent whose inbox it arrives in; handing it
    # over is the sending agent's activity too (it is no longer idle since then).
    tx.q("UPDATE chats SET agent = ?, transfers = transfers + 1 WHERE id = ?", agent, chat_id)
    tx.active(tx.agent)
    tx.touch(tx.agent)
    move(tx, row(tx, chat_id), core.TRANSFER_AGENT, "transfer")
    tx.status_changed(tx.agent, "transfer")  # its active chat left its inbox
    return view(tx, chat_id)


def show(tx, chat_id):
    return chat_object(tx, row(tx, chat_id, SHOWN))


def view(tx, chat_id):
    """The chat as it will be once the command has settled timers and presented."""
    return lambda: show(tx, chat_id)


#: States no inbox holds: ``chat list --state`` with one of them lists every chat in it, as ``--all`` does.
NOT_IN_INBOX = tuple(state for state in core.STATES if state not in core.OPEN_STATES)


def every_chat(all_chats: bool, state: str | None) -> bool:
    """Whether ``chat list`` looks at every chat: ``--all``, or a state no inbox holds."""
    return all_chats or state in NOT_IN_INBOX


def _listed(tx, all_chats, state, queue) -> tuple[str, list]:
    """The WHERE clause (and its parameters) of the chats ``chat list`` shows."""
    where, params = [], []
    if state is not None and state not in core.STATES:
        raise UsageError(f"unknown state {shown(state)} (states: {', '.join(core.STATES)})")
    if not every_chat(all_chats, state):
        where.append(f"agent = ? AND state IN {OPEN}")
        params.append(tx.agent)
    if state is not None:
        where.append("state = ?")
        params.append(state)
    if queue is not None:
        from .queues import named

        named(tx, queue)
        where.append("queue = ?")
        params.append(queue)
    return (" WHERE " + " AND ".join(where) if where else ""), params


def list_(tx, all_chats, state, queue):
    where, params = _listed(tx, all_chats, state, queue)
    return [chat_object(tx, found) for found in tx.records(f"SELECT {SHOWN} FROM chats{where} ORDER BY number", *params)]


def ids(tx, all_chats, state, queue):
    """Only the ids of the chats ``list_`` lists (``chat list --ids``: shell completion, scripts)."""
    where, params = _listed(tx, all_chats, state, queue)
    return [row[0] for row in tx.q(f"SELECT id FROM chats{where} ORDER BY number", *params)]


def chat_object(tx, chat: dict) -> dict:
    state = chat["state"]
    timer = core.Timer(chat["wrapup_deadline_ms"], chat["wrapup_remaining_ms"])
    spent = {name: chat[f"{name}_ms"] for name in ("active", "parked", "wrapup")}
    bucket = core.bucket(state)
    if bucket:
        spent[bucket] += tx.now - chat["state_since_ms"]
    return {
        "id": chat["id"],
        "state": state,
        "agent": chat["agent"],
        "customer": chat["customer"],
        "queue": chat["queue"],
        "priority": chat["priority"],
        "wrapup_remaining": seconds(core.timer_left(timer, tx.now)) if state in core.WRAPUP_STATES else None,
        "wrapup_ends_at": format_time(timer.deadline) if state == core.ACTIVE_WRAPUP else None,
        "extensions_left": chat["extensions_left"],
        "parked_by_call": bool(chat["parked_by_call"]),
        "closed_reason": chat["closed_reason"],
        "created_at": format_time(chat["created_at_ms"]),
        "closed_at": format_time(chat["closed_at_ms"]),
        "active_seconds": seconds(spent["active"]),
        "parked_seconds": seconds(spent["parked"]),
        "wrapup_seconds": seconds(spent["wrapup"]),
        "origin_queue": chat["origin_queue"],
        "transfers": chat["transfers"],
        "unread": chat["unread"],
        "messages": chat["messages"],
        "contact": chat["contact"],
        "classification": chat["classification"],
        "classification_note": chat["classification_note"],
        "abusive": bool(chat["abusive"]),
        "awaiting_reply_since": format_time(chat["awaiting_since_ms"]),
        "alerting": chat["alerting_since_ms"] is not None,
    }
