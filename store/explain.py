"""``chatemu explain``: why a chat is in its state, and what would move it next."""

from __future__ import annotations

from . import chats, core, journal, routing
from .timefmt import MAX_MS, format_duration, format_time


def explain(tx, chat_id):
    row = chats.row(tx, chat_id, chats.COLUMNS)
    chat = chats.chat_object(tx, row)
    state, agent = chat["state"], chat["agent"]
    why: list[str] = []
    nxt: list[str] = []
    agents: list[dict] = []
    first = None
    since = journal.last_change(tx, chat_id)
    if state == core.QUEUED:
        first = _queued(tx, row, since, why, nxt, agents)
    elif state == core.NEW:
        why.append(f"{chat_id} is new in {agent}'s inbox{since}: presented, not yet activated")
        nxt.append(f"`chat activate {chat_id}` makes it active" + _would_park(tx, agent, chat_id))
        nxt.append("while it is new, nothing else is presented to " + agent)
    elif state == core.ACTIVE:
        why.append(f"{chat_id} is {agent}'s active item{since}")
        nxt.append(f"`chat park {chat_id}` parks it; " + _ending(tx, row))
    elif state == core.PARKED:
        why.append(f"{chat_id} is parked in {agent}'s inbox{since}" + (" by a call" if chat["parked_by_call"] else ""))
        if chats.is_on_call(tx, agent) and core.ACTIVATE in core.CALL_REFUSES[tx.config("call-parks-chats")]:
            nxt.append(f"activating it is refused while {agent} is on a call; when the call ends it stays parked")
        else:
            nxt.append(f"`chat activate {chat_id}` makes it active again" + _would_park(tx, agent, chat_id))
        nxt.append(f"if the customer ends it, {_parked_end(tx, row['queue'])}")
    elif state in core.WRAPUP_STATES and row["wrapup_deadline_ms"] is None and row["wrapup_remaining_ms"] is None:
        why.append(f"{chat_id} is in wrap-up with no timer (wrapup-mode untimed){since}")
        nxt.append(f"only `chat wrapup {chat_id} --finish` closes it; there is nothing to extend"
                   + ("" if state == core.ACTIVE_WRAPUP else f"; `chat activate {chat_id}` makes it active again"))
    elif state == core.ACTIVE_WRAPUP:
        left = core.timer_left(core.Timer(row["wrapup_deadline_ms"], row["wrapup_remaining_ms"]), tx.now)
        why.append(f"{chat_id} is in wrap-up, the timer running{since}")
        nxt.append(
            f"it closes at {format_time(row['wrapup_deadline_ms'])} (in {format_duration(left)}) unless extended or finished"
        )
        early = (f"`chat wrapup {chat_id} --finish` is refused until the timer runs out (wrapup-mode no-early-exit)"
                 if tx.config("wrapup-mode", row["queue"]) == core.NO_EARLY_EXIT
                 else f"`chat wrapup {chat_id} --finish` closes it now")
        nxt.append(
            f"{row['extensions_left']} extension(s) of {format_duration(row['extension_ms'] or 0)} left; "
            f"{early}; parking it pauses the timer"
        )
    elif state == core.PARKED_WRAPUP:
        left = row["wrapup_remaining_ms"]
        why.append(f"{chat_id} is in wrap-up, the timer paused with {format_duration(left)} left{since}")
        if chat["parked_by_call"]:
            nxt.append(f"it resumes by itself into active-wrapup when {agent}'s call ends")
        elif chats.is_on_call(tx, agent) and core.ACTIVATE in core.CALL_REFUSES[tx.config("call-parks-chats")]:
            nxt.append(f"activating it is refused while {agent} is on a call; when the call ends it stays paused")
        elif tx.now + left > MAX_MS:
            nxt.append("activating it is refused: the wrap-up would end after 9999-12-31")
        else:
            nxt.append(
                f"`chat activate {chat_id}` resumes the timer: it would close at {format_time(tx.now + left)}"
                + _would_park(tx, agent, chat_id)
            )
    else:
        why.append(f"{chat_id} closed at {chat['closed_at']} ({chat['closed_reason']})")
        nxt.append("closed is final: nothing changes it again")
    nxt += _conversation(tx, row)
    _clocks(tx, row, why, nxt)
    return {"chat": chat_id, "state": state, "agent": agent, "why": why, "next": nxt,
            "agents": agents, "first": first}


def _queued(tx, row, since, why, nxt, agents) -> str | None:
    chat_id = row["id"]
    ahead = tx.q(
        "SELECT count(*) FROM chats WHERE state = 'queued' AND (priority > ? OR (priority = ? AND"
        " (created_at_ms < ? OR (created_at_ms = ? AND number < ?))))",
        row["priority"], row["priority"], row["created_at_ms"], row["created_at_ms"], row["number"],
    ).fetchone()[0]
    why.append(f"{chat_id} is queued{since}, in nobody's inbox")
    if ahead:
        why.append(f"{ahead} queued chat(s) come first (higher priority or older)")
    auto, queue = tx.config("auto-present"), row["queue"]
    facts = tx.agent_facts()  # in presentation order: the one idle longest first
    closing = {r[0] for r in tx.q("SELECT DISTINCT agent FROM chats WHERE state = 'active-wrapup'")}
    blocked = {}  # why an agent would not receive it even once free (routing.would_not_receive)
    for agent in facts:
        reasons = routing.not_presentable(agent, auto) + routing.queue_reasons(agent, queue)
        agents.append({"agent": agent.id, "presentable": not reasons, "reasons": reasons})
        blocked[agent.id] = routing.would_not_receive(agent, queue, agent.id in closing)
    why += _queue_limits(tx, queue)
    if not facts:
        why.append("there are no agents yet")
    elif not any(routing.serves(agent, queue) for agent in facts):
        why.append(f"no agent serves queue {queue} now")
    for entry in agents:
        if entry["reasons"]:
            why.append(f"not presented to {entry['agent']}: {'; '.join(entry['reasons'])}")
    ready = [entry["agent"] for entry in agents if entry["presentable"]]
    able = [entry["agent"] for entry in agents if not blocked[entry["agent"]]]
    first = ready[0] if ready else able[0] if able else None
    if first is not None:
        when = "at the next presentation" if ready else "as soon as it can take one"
        nxt.append(
            f"{first} is first in line (idle longest): it gets the next queued chat {when}"
            + (f", after the {ahead} ahead of this one" if ahead else "")
        )
    elif facts:
        nxt.append("no agent can take it now: " + "; ".join(
            f"{agent}: {', '.join(reasons)}" for agent, reasons in blocked.items()))
    if not auto:
        nxt.append("auto-present is off: nothing is presented until `config set auto-present on`")
    elif not ready and able:
        nxt.append("an agent can take it when available, not on a call, with no new/active/wrap-up chat "
                   "and under max-chats")
    nxt.append(f"`chat take {chat_id}` picks it now; `chat end {chat_id}` abandons it")
    return first


def _conversation(tx, row) -> list[str]:
    """What the agent may do with the conversation now: send, return, transfer, classify."""
    chat_id, state, agent = row["id"], row["state"], row["agent"]
    lines = []
    if state == core.ACTIVE:
        from .queues import transfer_targets

        targets = transfer_targets(tx, agent, row["queue"])
        to_queue = (f"`chat transfer {chat_id} --queue Q`" if targets is None
                    else f"`chat transfer {chat_id} --queue Q` (Q one of {agent}'s queues: {', '.join(targets)})"
                    if targets else None)
        hand_on = f"{to_queue} or `--agent B` hands it on" if to_queue else f"`chat transfer {chat_id} --agent B` hands it on"
        lines.append(f"`chat send {chat_id} TEXT` answers the customer; {hand_on};"
                     f" `chat return {chat_id}` sends it back to queue {row['origin_queue']}")
        if targets is not None and not targets:
            lines.append(f"transferring it to a queue is refused: {agent} is assigned to no other queue")
    elif state in (core.NEW, core.PARKED):
        on_call = chats.is_on_call(tx, agent) and core.RETURN in core.CALL_REFUSES[tx.config("call-parks-chats")]
        lines.append(f"sending and transferring are refused: it is {state}, not active")
        if on_call:
            lines.append(f"returning it is refused while {agent} is on a call")
        else:
            lines.append(f"`chat return {chat_id}` sends it back to queue {row['origin_queue']}")
    elif state in core.WRAPUP_STATES:
        lines.append("the customer has left: sending, returning and transferring are refused")
    if state in core.CONVERSATION_OR_WRAPUP:
        if row["classification"] is None:
            required = tx.config("classification-required", row["queue"])
            lines.append(f"`chat classify {chat_id} CODE` classifies it"
                         + (" (required before `chat wrapup --finish` in this queue)" if required else ""))
        else:
            lines.append(f"classified {row['classification']!r}; classifying again replaces it")
    if row["unread"]:
        lines.append(f"{row['unread']} unread customer message(s)"
                     + (": activating it reads them" if state in (core.NEW, core.PARKED) else ""))
    return lines


def _clocks(tx, row, why: list[str], nxt: list[str]) -> None:
    """What the clocks beyond wrap-up say of the chat: an offer timed out, a timer running,
    an alert."""
    chat_id = row["id"]
    if row["state"] == core.QUEUED:
        last = tx.q("SELECT at_ms, agent, cause FROM events WHERE chat = ? ORDER BY seq DESC LIMIT 1", chat_id).fetchone()
        if last is not None and last[2] == "offer-timeout":
            why.append(f"queued again at {format_time(last[0])}: the offer to {last[1]} was not activated within"
                       f" offer-timeout, so it went back keeping its place, and {last[1]} became not-responding")
    for column, text in (
            ("offer_deadline_ms", "the offer times out at {at} (in {left}) unless activated: it goes back to its"
                                  " queue and {agent} becomes not-responding"),
            ("patience_deadline_ms", "the customer leaves at {at} (in {left}) if still queued: closed, abandoned"),
            ("idle_deadline_ms", "the customer leaves at {at} (in {left}) unless they write (customer-idle-timeout):"
                                 " it goes to wrap-up"),
            ("alert_deadline_ms", "it alerts at {at} (in {left}) unless the agent answers (reply-alert)")):
        if row[column] is not None:
            nxt.append(text.format(at=format_time(row[column]), left=format_duration(max(0, row[column] - tx.now)),
                                   agent=row["agent"]))
    if row["alerting_since_ms"] is not None:
        why.append(f"alerting since {format_time(row['alerting_since_ms'])}: the customer's message of"
                   f" {format_time(row['awaiting_since_ms'])} awaits a reply; `chat send {chat_id} TEXT` clears it")


def _would_park(tx, agent: str, chat_id: str) -> str:
    item = chats.active_item(tx, agent)
    if item is not None and item["id"] != chat_id:
        return f", parking {item['id']} ({item['state']})"
    return ""


def _wrapup_text(tx, queue: str) -> str:
    return format_duration(tx.config("wrapup", queue))


def _ending(tx, row) -> str:
    """What ending an active chat does in its queue's wrap-up mode, and what a call does to it."""
    chat_id, mode = row["id"], tx.config("wrapup-mode", row["queue"])
    if mode == core.OFF:
        text = f"`chat wrapup {chat_id}` or the customer ending it closes it (wrapup-mode off: no wrap-up)"
    elif mode == core.UNTIMED:
        text = f"`chat wrapup {chat_id}` or the customer ending it starts a wrap-up with no timer (wrapup-mode untimed)"
    else:
        text = f"`chat wrapup {chat_id}` or the customer ending it starts wrap-up"
        if mode == core.OPTIONAL:
            text += f"; `chat wrapup {chat_id} --finish` closes it at once (wrapup-mode optional)"
    calls = "a call parks it" if tx.config("call-parks-chats") else "a call leaves it active (call-parks-chats off)"
    return f"{text}; {calls}"


def _parked_end(tx, queue: str) -> str:
    """What the customer ending a new or parked chat does in its queue's wrap-up mode."""
    mode = tx.config("wrapup-mode", queue)
    if mode == core.OFF:
        return "it closes (wrapup-mode off: no wrap-up)"
    if mode == core.UNTIMED:
        return "it goes to parked-wrapup with no timer (wrapup-mode untimed)"
    return f"it goes to parked-wrapup with a full {_wrapup_text(tx, queue)} wrap-up"


def _queue_limits(tx, queue: str) -> list[str]:
    """What the queue refuses of new chats (``max-queue-length``, ``when-no-agent``)."""
    lines = []
    limit = tx.config("max-queue-length", queue)
    if limit is not None:
        waiting = tx.q("SELECT count(*) FROM chats WHERE state = 'queued' AND queue = ?", queue).fetchone()[0]
        lines.append(f"queue {queue} holds {waiting} waiting of at most {limit} (max-queue-length):"
                     + (" new chats are refused" if waiting >= limit else " it takes new chats"))
    if tx.config("when-no-agent", queue) == "refuse":
        from .queues import logged_in_serving

        lines.append(f"queue {queue} refuses new chats when no logged-in agent serves it (when-no-agent refuse):"
                     + (" one does now" if logged_in_serving(tx, queue) else " none does now"))
    return lines
