"""Routing: which queued chat goes to which agent, and in what order (pure).

Rule: everything that decides presentation lives here.  The SQLite shell
(``tx.Tx.present``) gathers plain facts (the waiting chats, the agents that
might take one), calls ``decide`` and applies what it returns; it decides
nothing itself.  ``explain`` uses ``not_presentable`` to say why an agent was
passed over, so the reasons shown and the decisions made cannot drift apart.

The order:

- chats: highest priority first, then the one that arrived first (its
  ``created_at``: a returned or transferred chat keeps its place), then
  creation order;
- agents: among those that can take one, the one idle longest first (the
  oldest last activity), ties by id.  A presented chat is ``new`` in the
  agent's inbox, which makes the agent busy, so each agent gets at most one
  chat per decision.  Each agent, in that order, gets the first chat it
  serves that is still waiting: an agent assigned to queues serves those it
  has switched on (one assigned to none serves every queue); with the routing
  mode ``queue-order`` it takes from the first of its queues (in its order)
  that has a waiting chat, with ``longest-wait`` (the default) from all of
  them in the chats' order.
"""

from __future__ import annotations

from typing import Iterator, NamedTuple

from .core import AVAILABLE, BREAK, LOGGED_OUT, NOT_RESPONDING

LONGEST_WAIT, QUEUE_ORDER = "longest-wait", "queue-order"


class Waiting(NamedTuple):  # NamedTuples: cheaper to define than dataclasses at every start
    """A queued chat."""

    id: str
    queue: str
    priority: int
    created_at_ms: int
    number: int


class AgentFacts(NamedTuple):
    """What routing needs to know of an agent."""

    id: str
    presence: str
    on_call: bool
    busy_chat: str | None  # a new/active/wrap-up chat ("C2 active"), which blocks presentation
    open_chats: int
    max_chats: int
    last_activity_ms: int
    queues: tuple[str, ...] | None = None  # the queues it takes from, in its order (None: every queue)
    assigned: tuple[str, ...] | None = None  # every queue it is assigned to, switched on or off


def serves(agent: AgentFacts, queue: str) -> bool:
    return agent.queues is None or queue in agent.queues


def queue_reasons(agent: AgentFacts, queue: str) -> list[str]:
    """Why the agent takes nothing from ``queue``: empty if it does."""
    if agent.assigned is None or (agent.queues is not None and queue in agent.queues):
        return []
    if queue not in agent.assigned:
        return [f"it is not assigned to queue {queue}"]
    return [f"it has queue {queue} switched off"]


def chat_order(chat: Waiting) -> tuple:
    return (-chat.priority, chat.created_at_ms, chat.number)


def agent_order(agent: AgentFacts) -> tuple:
    return (agent.last_activity_ms, agent.id)


def _away(agent: AgentFacts) -> str:
    return ("it is on a break" if agent.presence == BREAK
            else "it is logged out" if agent.presence == LOGGED_OUT
            else "it is not-responding: an offer to it timed out (`agent available` brings it back)"
            if agent.presence == NOT_RESPONDING else f"it is {agent.presence}")


def _why_not(agent: AgentFacts, auto_present: bool) -> Iterator[str]:
    """Why a queued chat would not be presented to this agent, reason by reason."""
    if not auto_present:
        yield "auto-present is off"
    if agent.presence != AVAILABLE:
        yield _away(agent)
    if agent.on_call:
        yield "it is on a call"
    if agent.busy_chat is not None:
        yield f"it has {agent.busy_chat}"
    if agent.open_chats >= agent.max_chats:
        yield f"it is at capacity {agent.open_chats}/{agent.max_chats}"


def not_presentable(agent: AgentFacts, auto_present: bool) -> list[str]:
    """Why a queued chat would not be presented to this agent: empty if it would."""
    return list(_why_not(agent, auto_present))


def presentable(agent: AgentFacts, auto_present: bool = True) -> bool:
    """Whether a queued chat may be presented to this agent (no reason not to: the first found ends it)."""
    return next(_why_not(agent, auto_present), None) is None


def would_not_receive(agent: AgentFacts, queue: str, closing: bool = False) -> list[str]:
    """Why the agent would not receive a chat of ``queue`` even once it is free: empty if it would
    (``explain`` names only such an agent first in line).  It must be logged in and not on a break,
    serve the queue with it switched on, and have room or be about to (``closing``: one of its
    chats is in wrap-up with the timer running, so it closes by itself).  What it does itself
    (an active or new chat, a call) only delays it."""
    reasons = []
    if agent.presence != AVAILABLE:
        reasons.append(_away(agent))
    reasons += queue_reasons(agent, queue)
    if agent.open_chats >= agent.max_chats and not closing:
        reasons.append(f"it is at capacity {agent.open_chats}/{agent.max_chats}")
    return reasons


def free_agents(agents: list[AgentFacts], auto_present: bool) -> list[AgentFacts]:
    """The agents a chat may be presented to now, the one idle longest first."""
    return sorted((a for a in agents if presentable(a, auto_present)), key=agent_order)


def pick(waiting: list[Waiting], agent: AgentFacts, mode: str = LONGEST_WAIT) -> Waiting | None:
    """The chat ``agent`` would be given of those ``waiting`` (None: none it serves)."""
    mine = [chat for chat in waiting if serves(agent, chat.queue)]
    if not mine:
        return None
    if mode == QUEUE_ORDER and agent.queues is not None:
        rank = {queue: i for i, queue in enumerate(agent.queues)}
        return min(mine, key=lambda chat: (rank[chat.queue], *chat_order(chat)))
    return min(mine, key=chat_order)


def decide(waiting: list[Waiting], agents: list[AgentFacts], auto_present: bool,
           mode: str = LONGEST_WAIT) -> list[tuple[str, str]]:
    """(chat id, agent id) presentations to make now, in the order to make them: each free
    agent, the one idle longest first, gets the chat it would pick of those still waiting."""
    free = free_agents(agents, auto_present)
    left = sorted(waiting, key=chat_order)
    made = []
    for agent in free:
        if not left:
            break
        chat = pick(left, agent, mode)
        if chat is not None:
            made.append((chat.id, agent.id))
            left.remove(chat)
    return made
