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
  chat per decision.
"""

from __future__ import annotations

from dataclasses import dataclass

from .core import AVAILABLE, BREAK


@dataclass(frozen=True)
class Waiting:
    """A queued chat."""

    id: str
    queue: str
    priority: int
    created_at_ms: int
    number: int


@dataclass(frozen=True)
class AgentFacts:
    """What routing needs to know of an agent."""

    id: str
    presence: str
    on_call: bool
    busy_chat: str | None  # a new/active/wrap-up chat ("C2 active"), which blocks presentation
    open_chats: int
    max_chats: int
    last_activity_ms: int


def chat_order(chat: Waiting) -> tuple:
    return (-chat.priority, chat.created_at_ms, chat.number)


def agent_order(agent: AgentFacts) -> tuple:
    return (agent.last_activity_ms, agent.id)


def not_presentable(agent: AgentFacts, auto_present: bool) -> list[str]:
    """Why a queued chat would not be presented to this agent: empty if it would."""
    reasons = []
    if not auto_present:
        reasons.append("auto-present is off")
    if agent.presence != AVAILABLE:
        reasons.append(f"it is on a {agent.presence}" if agent.presence == BREAK else f"it is {agent.presence}")
    if agent.on_call:
        reasons.append("it is on a call")
    if agent.busy_chat is not None:
        reasons.append(f"it has {agent.busy_chat}")
    if agent.open_chats >= agent.max_chats:
        reasons.append(f"it is at capacity {agent.open_chats}/{agent.max_chats}")
    return reasons


def free_agents(agents: list[AgentFacts], auto_present: bool) -> list[AgentFacts]:
    """The agents a chat may be presented to now, the one idle longest first."""
    return sorted((a for a in agents if not not_presentable(a, auto_present)), key=agent_order)


def decide(waiting: list[Waiting], agents: list[AgentFacts], auto_present: bool) -> list[tuple[str, str]]:
    """(chat id, agent id) presentations to make now, in the order to make them."""
    free = free_agents(agents, auto_present)
    if not free:
        return []
    chats = sorted(waiting, key=chat_order)
    return [(chat.id, agent.id) for chat, agent in zip(chats, free)]
