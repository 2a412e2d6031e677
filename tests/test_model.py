"""Model-based test: random command sequences, the engine against a reference model.

A hypothesis ``RuleBasedStateMachine`` drives ``chatemu.store.engine.Engine``
in-process (a temp database per example, a fake wall clock that keeps moving,
the database's clock virtual) with random sequences of every state-changing
command, for three agents and a fourth, ``agnet-1``, never logged in: a
mistyped ``--agent``, which comes into being only as the first agent to act.
The commands: ``chat new`` (``--inbox``, ``--priority``, ``--queue``,
``--id``), ``take``, ``activate``, ``park``, ``end``, ``wrapup`` (plain,
``--extend``, ``--finish``), ``call-start``, ``call-end``, ``agent login`` (new
agents and existing ones), ``agent logout`` (``--return`` or not), ``agent
available``, ``agent break`` (``--reason`` or not), ``agent queues
set|clear|on|off``, ``queue add``, ``break-reason add|remove``, ``config set``
(``max-chats``, globally and ``--agent``, ``auto-present``, ``routing`` in both
modes, the wrap-up keys, ``classification`` and ``classification-required``,
per queue too) and ``clock advance|set``; and the webchat commands: ``chat
return``, ``chat transfer --queue|--agent``, ``chat send`` (text or
``--template``), ``chat receive`` (the customer), ``chat transcript``, ``chat
classify`` (``--note``), ``chat flag-abusive``, ``chat contact``, ``template
add|remove`` and ``classification add|remove`` (global or per queue), with
few texts, names, codes, reasons and queues (``support`` only once added) so
that they collide.  An example starts with all, some or none of the agents
logged in, and sometimes with the queues added, two agents assigned to some
in different orders, and ``queue-order`` routing.

``Model`` below is a small reference model written from the rules of issue 2
("The chatemu engine and CLI") and the README's Agents, Queues and
Presentation, independently of the engine's code (it imports nothing from the
engine but its error classes).  After every step the test compares, for every
chat: state, agent, wrap-up time remaining, extensions left, closed reason,
closing instant, ``parked_by_call``, queue, priority, the time spent active
(and parked or in wrap-up), customer, contact, ``origin_queue``,
``transfers``, ``unread``, the number of messages, classification and its note
and the abusive flag; for every agent: presence, break reason, on-call,
status, ``status_since``, capacity (``max_chats``), active chat and its queues
(``Engine.agent_queues``: assigned ones in order, each on or off); which
queues exist; which agents exist; and the clock.  After every ``chat send``
and ``chat receive`` the chat's transcript (seq, instant, sender, text:
templates filled in) must be the model's.  Then it runs the invariant checker
(``chatemu.store.check.check``, which also replays every agent's status
events), which must find nothing.

A command the model refuses must be refused by the engine with the same exit
code (3 refused, 4 unknown chat, agent, queue, template, code or break reason,
2 usage), and must leave the database exactly as it was (no commit at all:
``PRAGMA data_version`` unchanged, every table unchanged); a command the model
allows must succeed.  A failure shrinks, as hypothesis stateful tests do, to a
minimal sequence of steps, printed as code.

Where issue 2 and the README are silent the model makes these choices (the
README should say the same):

- "idle longest": the agent whose last activity is earliest; an agent's
  activity is its creation and any change to it (presence or break reason,
  login, logout, call) or to a chat in its inbox (including timer expiry, a
  customer ending it, presentation); its queues and its own capacity are not;
  ties (common on a frozen virtual clock) go to the agent id in text order;
- presentation: each free agent (available, not on a call, no ``new``,
  ``active`` or ``active-wrapup`` chat, below its capacity), idle longest
  first, picks from the chats still waiting in the queues it serves (assigned
  and switched on; assigned to none: every queue; all switched off: none):
  the highest priority, then the earliest arrival, then creation order; with
  ``queue-order`` the first of its queues, in its order, that has one comes
  first, and for an agent assigned to no queue it is ``longest-wait``;
- timers due at the same instant run out in chat creation order, each followed
  by presentation at that instant;
- ``chat new --inbox`` is refused at capacity, like ``chat take``, and when
  logged out; neither it nor ``chat transfer --agent`` is limited by queues;
  ``chat take`` is refused from a queue the agent does not serve;
- an agent's own ``max-chats`` replaces the global one everywhere
  (presentation, ``take``, ``new --inbox``, ``transfer --agent``);
- ``extensions_left`` is null until a wrap-up starts, then kept, closed or not;
- ``chat end`` is the customer's: any agent may run it on any chat;
- in a database with no agent, the agent a command runs as comes into being,
  available, on the first command that acts as an agent (``chat …``, ``agent
  available|break|logout|queues …``), the customer's ``chat new`` (without
  ``--inbox``) and ``chat end`` included; once one exists, only ``agent
  login`` makes another: a command run as an agent that does not exist is
  refused (4), except the customer's (``chat new`` without ``--inbox``,
  ``chat end``, ``chat receive``), which run and make none; ``agent login``,
  ``config``, ``clock``, ``queue``, ``template``, ``classification``,
  ``break-reason`` and ``chat receive`` never act as an agent;
- ``agent logout`` is refused (3) on a call, with a chat in wrap-up (even with
  ``--return``) and with open chats without ``--return``; ``--return`` first
  returns each ``new``, ``active`` and ``parked`` chat as ``chat return`` does;
  logging out a logged-out agent changes nothing.  A logged-out agent's
  ``agent available|break``, ``chat take``, ``chat new --inbox`` and ``chat
  call-start`` are refused (3), and so is a transfer to it; ``agent login``
  brings it (or an agent on a break) back, available, and does nothing to an
  available one;
- the break reason is the presence's: ``agent break`` without a reason, or
  ``agent available``, clears it; ``agent break --reason R`` on a break for
  another reason is a presence change; removing a reason leaves an agent on a
  break for it as it is; adding one that is listed changes nothing;
- ``status_since`` is when the agent's last status event was logged: its
  creation, every presence change (break reason too) and every call start and
  end log one even when the status stays (a break taken while handling a
  chat); a chat's moves log one when, once the instant's moves are done, the
  status differs from the one last logged (parking a chat to activate another
  logs nothing);
- ``agent queues set`` keeps the on/off of a queue the agent was assigned to,
  a new one is on; a queue exists once added or named by a chat (``chat new
  --queue``, ``chat transfer --queue``), but once one was added with ``queue
  add`` a queue that does not exist (but ``default``) is unknown (4) wherever
  it is named; an agent assigned to queues transfers only to one of them (3);
- ``chat return`` and ``chat transfer`` are the sending agent's activity;
  ``--agent B`` is B's too; messages, classification, the abusive flag and the
  contact change no state and are nobody's activity;
- a refusal's exit code: an agent that does not exist acting as one (4) before
  anything else; then a usage error (``send`` with both or neither of text
  and template, ``transfer`` with both or neither of queue and agent), then an
  unknown chat (4), then another agent's chat or a state that does not allow
  it (3), then an unknown template or agent (4), a code not in the queue's
  list (4), and for ``--agent``: oneself, on a break, logged out, on a call or
  at capacity (3); for ``--queue``: its own queue (3), then an unknown queue
  (4), then one not among the agent's queues (3); an unknown break reason (4)
  before a logged-out agent (3);
  ``agent queues set`` with no queue (2), then an unknown queue (4), then one
  named twice (2); ``agent queues on|off`` of an unknown queue (4), then of
  one the agent is not assigned to (2); ``config set max-chats 0 --agent A``
  is a usage error (2) whether A exists or not, an unknown A otherwise 4;
- ``unread`` counts the customer's messages that arrived while the chat was
  not ``active``; any ``chat activate`` (from ``parked-wrapup`` too) reads them;
- a template is filled in one pass: what replaces a placeholder is not read
  again for placeholders;
- the clock never moves backwards (refused, exit 3), except on a pristine
  database (no chat, agent or event yet; queues, reasons and config do not
  count), where ``clock set`` may go to any instant so a script can start its
  story at a fixed time (the README's documented exception).

Size: ``CHATEMU_MODEL_EXAMPLES`` (default 100) command sequences of up to
``CHATEMU_MODEL_STEPS`` (default 50) steps each: about 4,500 steps, some 40 CPU-seconds.
For a long run: ``CHATEMU_MODEL_EXAMPLES=3000 pytest tests/test_model.py``
(``--hypothesis-show-statistics`` shows how often each command was done or
refused, and how often timers ran out, chats were presented, calls resumed,
chats went to agents assigned to queues, the first agent came into being by
acting and ``logout --return`` returned chats).
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass, replace
from datetime import datetime, timezone

from hypothesis import HealthCheck, event, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, multiple, rule

from chatemu.store.check import check
from chatemu.store.engine import Engine
from chatemu.store.errors import ChatemuError

HEAVY = bool(os.environ.get("CHATEMU_HEAVY"))  # as in test_check.py: set and non-empty
EXAMPLES = int(os.environ.get("CHATEMU_MODEL_EXAMPLES", "200" if HEAVY else "30"))
STEPS = int(os.environ.get("CHATEMU_MODEL_STEPS", "50"))

T0 = 1_767_603_600_000  # 2026-01-05T09:00:00Z
AGENTS = ("agent-1", "agent-2", "agent-3")
TYPO = "agnet-1"  # never logged in: it acts only as a mistyped --agent
QUEUES = ("default", "sales", "vip")
ALL_QUEUES = (*QUEUES, "support")  # support only by ``queue add``: before that, unknown
REASONS = ("lunch", "training", "comfort", "meeting")  # the break reasons a database starts with

# -- the reference model (issue 2's rules, written out here) --------------------------------

QUEUED, NEW, ACTIVE, PARKED = "queued", "new", "active", "parked"
ACTIVE_WRAPUP, PARKED_WRAPUP, CLOSED = "active-wrapup", "parked-wrapup", "closed"
OPEN = {NEW, ACTIVE, PARKED, ACTIVE_WRAPUP, PARKED_WRAPUP}
BUSY = {NEW, ACTIVE, ACTIVE_WRAPUP}  # while an agent has one, nothing is presented to it


class Refuse(Exception):
    def __init__(self, code: int, why: str):
        super().__init__(why)
        self.code = code
        self.why = why


@dataclass
class MChat:
    id: str
    number: int
    queue: str
    priority: int
    created: int
    state: str = QUEUED
    agent: str | None = None
    deadline: int | None = None  # wrap-up timer running: the instant it runs out
    remaining: int | None = None  # wrap-up timer paused: what is left
    extension: int | None = None  # fixed when wrap-up starts
    extensions_left: int | None = None
    parked_by_call: bool = False
    closed_reason: str | None = None
    closed_at: int | None = None
    since: int = 0
    active_ms: int = 0
    other_ms: int = 0  # parked, parked-wrapup, active-wrapup
    customer: str | None = None
    contact: str | None = None
    origin_queue: str = ""  # the queue it was created in (``chat return`` sends it back there)
    transfers: int = 0
    unread: int = 0  # customer messages that arrived while it was not active
    messages: list = None  # (at, from, text), seq = position + 1
    classification: str | None = None
    classification_note: str | None = None
    abusive: bool = False

    def __post_init__(self):
        if self.messages is None:
            self.messages = []
        if not self.origin_queue:
            self.origin_queue = self.queue

    def left(self, now: int) -> int | None:
        if self.state == ACTIVE_WRAPUP:
            return max(0, self.deadline - now)
        if self.state == PARKED_WRAPUP:
            return self.remaining
        return None


@dataclass
class MAgent:
    id: str
    last_activity: int
    presence: str = "available"  # available, break or logged-out
    on_call: bool = False
    break_reason: str | None = None
    max_chats: int | None = None  # its own capacity (None: the global one)
    queues: tuple = ()  # ((queue, on), ...) in its order; none: it serves every queue
    status: str = "available"  # as last logged
    status_since: int = 0  # when it was last logged


class Model:
    def __init__(self, now: int):
        self.now = now
        self.chats: dict[str, MChat] = {}  # in creation order
        self.agents: dict[str, MAgent] = {}
        self.max_chats = 3
        self.auto_present = True
        # Per-queue settings, by (queue, key); queue "" holds the global value (the default).
        self.wrap = {
            ("", "wrapup"): 60_000,
            ("", "wrapup-extension"): 60_000,
            ("", "wrapup-extensions"): 3,
            ("", "classification"): "free",
            ("", "classification-required"): False,
        }
        self.created = 0
        self.templates: dict[tuple[str, str], str] = {}  # (queue or "", name) -> text
        self.codes: set[tuple[str, str]] = set()  # (queue or "", code)
        self.queues: set[str] = set()
        self.queues_added = False  # a ``queue add`` ran: from then on only queues that exist may be named
        self.routing = "longest-wait"
        self.reasons: tuple[str, ...] = REASONS

    def __deepcopy__(self, memo) -> "Model":
        """A copy to try a command on (``step``): every record fresh; messages are immutable tuples."""
        new = copy.copy(self)
        new.chats = {cid: replace(c, messages=list(c.messages)) for cid, c in self.chats.items()}
        new.agents = {aid: replace(a) for aid, a in self.agents.items()}
        new.wrap, new.templates, new.codes = dict(self.wrap), dict(self.templates), set(self.codes)
        new.queues = set(self.queues)
        return new

    # -- helpers ----------------------------------------------------------------

    def setting(self, key: str, queue: str) -> int:
        return self.wrap.get((queue, key), self.wrap[("", key)])

    def chat(self, cid: str) -> MChat:
        if cid not in self.chats:
            raise Refuse(4, f"unknown chat {cid}")
        return self.chats[cid]

    def mine(self, me: str, cid: str) -> MChat:
        c = self.chat(cid)
        if c.agent != me:
            raise Refuse(3, f"{cid} is not in {me}'s inbox")
        return c

    def open_count(self, agent: str) -> int:
        return sum(1 for c in self.chats.values() if c.agent == agent and c.state in OPEN)

    def capacity(self, agent: str) -> int:
        own = self.agents[agent].max_chats
        return self.max_chats if own is None else own

    def full(self, agent: str) -> bool:
        return self.open_count(agent) >= self.capacity(agent)

    @staticmethod
    def serving(a: MAgent) -> list[str] | None:
        """The queues the agent takes chats from, in its order (None: every queue)."""
        return None if not a.queues else [queue for queue, on in a.queues if on]

    def active_item(self, agent: str) -> MChat | None:
        items = [c for c in self.chats.values() if c.agent == agent and c.state in (ACTIVE, ACTIVE_WRAPUP)]
        assert len(items) <= 1, items
        return items[0] if items else None

    def touch(self, agent: str | None, at: int) -> None:
        if agent is not None:
            self.agents[agent].last_activity = at

    def set_state(self, c: MChat, state: str, at: int) -> None:
        if c.state == ACTIVE:
            c.active_ms += at - c.since
        elif c.state in (PARKED, PARKED_WRAPUP, ACTIVE_WRAPUP):
            c.other_ms += at - c.since
        c.state, c.since = state, at
        self.touch(c.agent, at)

    def start_wrapup(self, c: MChat, running: bool) -> None:
        duration = self.setting("wrapup", c.queue)
        c.extension = self.setting("wrapup-extension", c.queue)
        c.extensions_left = self.setting("wrapup-extensions", c.queue)
        c.deadline, c.remaining = (self.now + duration, None) if running else (None, duration)

    def pause(self, c: MChat) -> None:
        assert c.deadline is not None and c.deadline >= self.now
        c.deadline, c.remaining = None, c.deadline - self.now

    def resume(self, c: MChat) -> None:
        c.deadline, c.remaining = self.now + c.remaining, None

    def close(self, c: MChat, reason: str, at: int) -> None:
        self.set_state(c, CLOSED, at)
        c.closed_reason, c.closed_at = reason, at
        c.deadline = c.remaining = None
        c.parked_by_call = False

    def status(self, a: MAgent) -> str:
        if a.on_call:
            return "on-call"
        item = self.active_item(a.id)
        if item is not None:
            return "handling-chat" if item.state == ACTIVE else "wrap-up"
        return a.presence

    def log_status(self, a: MAgent, at: int) -> None:
        """A status event: the agent's status as it is now, since ``at``."""
        a.status, a.status_since = self.status(a), at

    def statuses(self, at: int) -> None:
        """Once an instant's moves are done: every agent whose status they changed logs it."""
        for a in self.agents.values():
            if self.status(a) != a.status:
                self.log_status(a, at)

    def create(self, agent: str) -> None:
        self.agents[agent] = MAgent(agent, last_activity=self.now, status="available", status_since=self.now)

    def set_presence(self, a: MAgent, presence: str, reason: str | None = None) -> None:
        """A presence change: the agent's activity and a status event, even when its status stays."""
        a.presence, a.break_reason = presence, reason
        self.touch(a.id, self.now)
        self.log_status(a, self.now)

    # -- what happens around every command ---------------------------------------------

    def settle(self) -> None:
        """Every running timer due by now runs out at its instant, in order; presentation follows each."""
        while True:
            due = [c for c in self.chats.values() if c.deadline is not None and c.deadline <= self.now]
            if not due:
                return
            c = min(due, key=lambda c: (c.deadline, c.number))
            at = c.deadline
            self.run_out(c, at)
            self.statuses(at)
            self.present(at)

    def run_out(self, c: MChat, at: int) -> None:
        """A wrap-up's timer runs out: the chat closes."""
        self.close(c, "wrapup-expired", at)

    def present(self, at: int) -> None:
        """Each free agent, idle longest first, gets the chat it picks of those still waiting
        in the queues it serves: by priority and arrival, or (``queue-order``, for an agent
        assigned to queues) from the first of its queues that has one."""
        if not self.auto_present or not any(c.state == QUEUED for c in self.chats.values()):
            return
        free = [
            a
            for a in self.agents.values()
            if a.presence == "available"
            and not a.on_call
            and not any(c.agent == a.id and c.state in BUSY for c in self.chats.values())
            and not self.full(a.id)
        ]
        for agent in sorted(free, key=lambda a: (a.last_activity, a.id)):
            served = self.serving(agent)
            mine = [c for c in self.chats.values() if c.state == QUEUED and (served is None or c.queue in served)]
            if not mine:
                continue
            if self.routing == "queue-order" and served is not None:
                chat = min(mine, key=lambda c: (served.index(c.queue), -c.priority, c.created, c.number))
            else:
                chat = min(mine, key=lambda c: (-c.priority, c.created, c.number))
            chat.agent = agent.id
            self.set_state(chat, NEW, at)

    def begin(self, me: str | None = None, customer: bool = False) -> None:
        """Before a command run as ``me``: in a database with no agent, ``me`` comes into being;
        once one exists, an unknown ``me`` is refused (exit 4), unless it is the customer acting."""
        self.settle()
        if me is None or me in self.agents:
            return
        if not self.agents:
            self.create(me)
        elif not customer:
            raise Refuse(4, f"unknown agent {me}")

    def named(self, queue) -> None:
        """A queue a command names: once one was added, it must exist (``default`` always may)."""
        if queue and queue != "default" and self.queues_added and queue not in self.queues:
            raise Refuse(4, f"unknown queue {queue}")

    def finish(self) -> None:
        self.statuses(self.now)
        self.settle()
        self.present(self.now)

    # -- what a subclass changes (test_model_modes) ------------------------------------

    Chat = MChat  # the class of a new chat

    def calls_park(self) -> bool:
        """Whether a call parks the agent's active chat and refuses activating or returning one
        while it lasts: always, here."""
        return True

    def refuse_new(self, me, queue, inbox) -> None:
        """What else refuses ``chat new`` (before the agent's own checks): nothing, here."""

    # -- the commands ----------------------------------------------------------------

    def chat_new(self, me, queue, priority, cid, inbox, customer=None) -> str:
        self.begin(me, customer=not inbox)
        number = self.created + 1
        self.named(queue)
        if cid is None:
            cid = f"C{number}"
        if cid in self.chats:
            raise Refuse(3, f"a chat {cid} exists")
        self.refuse_new(me, queue, inbox)
        if inbox and self.agents[me].presence == "logged-out":
            raise Refuse(3, f"{me} is logged out")
        if inbox and self.full(me):
            raise Refuse(3, f"{me} is at capacity")
        self.queues.add(queue)
        c = self.Chat(cid, number, queue, priority, created=self.now, since=self.now, customer=customer, contact=customer)
        self.chats[cid] = c
        self.created = number
        if inbox:
            c.state, c.agent = NEW, me
            self.touch(me, self.now)
        self.finish()
        return cid

    def take(self, me, cid) -> None:
        self.begin(me)
        c = self.chat(cid)
        if c.state != QUEUED:
            raise Refuse(3, f"{cid} is {c.state}, not queued")
        a = self.agents[me]
        if a.presence == "logged-out":
            raise Refuse(3, f"{me} is logged out")
        served = self.serving(a)
        if served is not None and c.queue not in served:
            raise Refuse(3, f"{me} does not serve queue {c.queue} (its queues: {a.queues})")
        if self.full(me):
            raise Refuse(3, f"{me} is at capacity")
        c.agent = me
        self.set_state(c, NEW, self.now)
        self.finish()

    def activate(self, me, cid) -> None:
        self.begin(me)
        c = self.mine(me, cid)
        if c.state not in (NEW, PARKED, PARKED_WRAPUP):
            raise Refuse(3, f"cannot activate {c.state}")
        if self.agents[me].on_call and self.calls_park():
            raise Refuse(3, f"{me} is on a call")
        other = self.active_item(me)
        if other is not None:
            if other.state == ACTIVE:
                self.set_state(other, PARKED, self.now)
            else:
                self.pause(other)
                self.set_state(other, PARKED_WRAPUP, self.now)
        if c.state == PARKED_WRAPUP:
            self.resume(c)
            self.set_state(c, ACTIVE_WRAPUP, self.now)
        else:
            self.set_state(c, ACTIVE, self.now)
        c.unread = 0
        self.finish()

    def park(self, me, cid) -> None:
        self.begin(me)
        c = self.mine(me, cid)
        if c.state == ACTIVE:
            self.set_state(c, PARKED, self.now)
        elif c.state == ACTIVE_WRAPUP:
            self.pause(c)
            self.set_state(c, PARKED_WRAPUP, self.now)
        else:
            raise Refuse(3, f"cannot park {c.state}")
        self.finish()

    def end(self, me, cid) -> None:
        """The customer ends the chat: whoever runs the command."""
        self.begin(me, customer=True)
        c = self.chat(cid)
        if c.state == QUEUED:
            self.close(c, "abandoned", self.now)
        elif c.state in (NEW, PARKED):
            self.start_wrapup(c, running=False)
            self.set_state(c, PARKED_WRAPUP, self.now)
        elif c.state == ACTIVE:
            self.start_wrapup(c, running=True)
            self.set_state(c, ACTIVE_WRAPUP, self.now)
        else:
            raise Refuse(3, f"cannot end {c.state}")
        self.finish()

    def wrapup(self, me, cid, mode) -> None:
        self.begin(me)
        c = self.mine(me, cid)
        if mode == "":
            if c.state != ACTIVE:
                raise Refuse(3, f"cannot wrap up {c.state}")
            self.start_wrapup(c, running=True)
            self.set_state(c, ACTIVE_WRAPUP, self.now)
        elif mode == "extend":
            if c.state != ACTIVE_WRAPUP or not c.extensions_left:
                raise Refuse(3, f"cannot extend {c.state} with {c.extensions_left} extensions left")
            c.deadline += c.extension
            c.extensions_left -= 1
            self.set_state(c, ACTIVE_WRAPUP, self.now)
        else:
            if c.state != ACTIVE_WRAPUP:
                raise Refuse(3, f"cannot finish {c.state}")
            if c.classification is None and self.setting("classification-required", c.queue):
                raise Refuse(3, f"cannot finish {c.state}: queue {c.queue} requires a classification")
            self.close(c, "wrapup-finished", self.now)
        self.finish()

    def call_start(self, me) -> None:
        self.begin(me)
        a = self.agents[me]
        if a.on_call:
            raise Refuse(3, f"{me} is already on a call")
        if a.presence == "logged-out":
            raise Refuse(3, f"{me} is logged out")
        a.on_call = True
        self.touch(me, self.now)
        item = self.active_item(me) if self.calls_park() else None
        if item is not None:
            if item.state == ACTIVE:
                self.set_state(item, PARKED, self.now)
            else:
                self.pause(item)
                self.set_state(item, PARKED_WRAPUP, self.now)
            item.parked_by_call = True
        self.log_status(a, self.now)
        self.finish()

    def call_end(self, me) -> None:
        self.begin(me)
        a = self.agents[me]
        if not a.on_call:
            raise Refuse(3, f"{me} is not on a call")
        a.on_call = False
        self.touch(me, self.now)
        for c in self.chats.values():
            if c.agent == me and c.parked_by_call:
                if c.state == PARKED_WRAPUP:
                    self.resume(c)
                    self.set_state(c, ACTIVE_WRAPUP, self.now)
                c.parked_by_call = False
        self.log_status(a, self.now)
        self.finish()

    def presence(self, me, presence, reason=None) -> None:
        """``agent available`` or ``agent break [--reason R]``."""
        self.begin(me)
        if reason is not None and reason not in self.reasons:
            raise Refuse(4, f"unknown break reason {reason} (reasons: {self.reasons})")
        a = self.agents[me]
        if a.presence == "logged-out":
            raise Refuse(3, f"{me} is logged out")
        if (a.presence, a.break_reason) != (presence, reason):
            self.set_presence(a, presence, reason)
        self.finish()

    def login(self, me) -> None:
        """Not run as an agent: it creates ``me`` if new, else brings it back, available."""
        self.begin()
        if me not in self.agents:
            self.create(me)
        elif self.agents[me].presence != "available":
            self.set_presence(self.agents[me], "available")
        self.finish()

    def logout(self, me, return_chats) -> None:
        self.begin(me)
        a = self.agents[me]
        if a.on_call:
            raise Refuse(3, f"{me} is on a call")
        mine = [c for c in self.chats.values() if c.agent == me and c.state in OPEN]
        if any(c.state in (ACTIVE_WRAPUP, PARKED_WRAPUP) for c in mine):
            raise Refuse(3, f"{me} has chats in wrap-up")
        if mine and not return_chats:
            raise Refuse(3, f"{me} has open chats")
        for c in mine:  # each as ``chat return`` would
            self.set_state(c, QUEUED, self.now)
            c.agent, c.queue = None, c.origin_queue
        if a.presence != "logged-out":
            self.set_presence(a, "logged-out")
        self.finish()

    def reason_add(self, reason) -> None:
        self.begin()
        if reason not in self.reasons:
            self.reasons += (reason,)
        self.finish()

    def reason_remove(self, reason) -> None:
        self.begin()
        if reason not in self.reasons:
            raise Refuse(4, f"unknown break reason {reason}")
        self.reasons = tuple(r for r in self.reasons if r != reason)
        self.finish()

    def queue_add(self, name) -> None:
        self.begin()
        self.queues.add(name)
        self.queues_added = True
        self.finish()

    def queues_set(self, me, names) -> None:
        self.begin(me)
        if not names:
            raise Refuse(2, "no queue named")
        unknown = [q for q in names if q not in self.queues]
        if unknown:
            raise Refuse(4, f"unknown queue {unknown[0]}")
        if len(set(names)) != len(names):
            raise Refuse(2, "a queue named twice")
        a = self.agents[me]
        was = dict(a.queues)  # a queue it keeps keeps its on/off; a new one is on
        a.queues = tuple((q, was.get(q, True)) for q in names)
        self.finish()

    def queues_clear(self, me) -> None:
        self.begin(me)
        self.agents[me].queues = ()
        self.finish()

    def queues_switch(self, me, name, on) -> None:
        self.begin(me)
        if name not in self.queues:
            raise Refuse(4, f"unknown queue {name}")
        a = self.agents[me]
        if name not in dict(a.queues):
            raise Refuse(2, f"{me} is not assigned to queue {name}")
        a.queues = tuple((q, on if q == name else was) for q, was in a.queues)
        self.finish()

    def return_(self, me, cid) -> None:
        """The agent sends its chat back, queued, to the queue it was created in."""
        self.begin(me)
        c = self.mine(me, cid)
        if c.state not in (NEW, ACTIVE, PARKED):
            raise Refuse(3, f"cannot return {c.state}")
        if self.agents[me].on_call and self.calls_park():
            raise Refuse(3, f"cannot return {c.state}: {me} is on a call")
        self.set_state(c, QUEUED, self.now)  # a change to a chat in its inbox: the agent's activity
        c.agent, c.queue = None, c.origin_queue
        self.finish()

    def transfer(self, me, cid, queue, agent) -> None:
        self.begin(me)
        if (queue is None) == (agent is None):
            raise Refuse(2, "transfer needs a queue or an agent, one of them")
        c = self.chat(cid)
        if c.agent not in (None, me) and c.state != CLOSED:
            raise Refuse(3, f"{cid} is not in {me}'s inbox")
        if queue is not None:  # an unknown name next, whatever the chat's state
            self.named(queue)
        elif agent not in self.agents:
            raise Refuse(4, f"unknown agent {agent}")
        if c.state != ACTIVE:
            raise Refuse(3, f"cannot transfer {c.state}")
        if queue is not None:
            if queue == c.queue:
                raise Refuse(3, f"cannot transfer {c.state} to its own queue {queue}")
            mine = dict(self.agents[me].queues)
            if mine and queue not in mine:
                raise Refuse(3, f"cannot transfer {c.state} to queue {queue}: not one of {me}'s queues")
            self.set_state(c, QUEUED, self.now)
            c.agent, c.queue = None, queue
            self.queues.add(queue)
        else:
            to = self.agents[agent]
            if agent == me:
                raise Refuse(3, f"cannot transfer {c.state} to oneself")
            if to.presence != "available" or to.on_call or self.full(agent):
                raise Refuse(3, f"cannot transfer {c.state}: {agent} cannot take it")
            self.touch(me, self.now)  # it leaves the sender's inbox ...
            c.agent = agent
            self.set_state(c, NEW, self.now)  # ... and arrives in the receiver's
        c.transfers += 1
        self.finish()

    def fill(self, me, c: MChat, text: str) -> str:
        """A template's placeholders, each replaced once (what replaces one is not read again)."""
        values = {"customer": c.customer or c.contact or "customer", "agent": me, "queue": c.queue, "chat": c.id}
        return re.sub(r"\{(customer|agent|queue|chat)\}", lambda m: values[m.group(1)], text)

    def send(self, me, cid, text, template) -> None:
        self.begin(me)
        if (text is None) == (template is None):
            raise Refuse(2, "send needs a text or a template, one of them")
        c = self.mine(me, cid)
        if c.state != ACTIVE:
            raise Refuse(3, f"cannot send to {c.state}")
        if template is not None:
            body = self.templates.get((c.queue, template), self.templates.get(("", template)))
            if body is None:
                raise Refuse(4, f"unknown template {template} for queue {c.queue}")
            text = self.fill(me, c, body)
        c.messages.append((self.now, me, text))
        self.finish()

    def receive(self, cid, text) -> None:
        """A customer message: no agent runs it."""
        self.begin()
        c = self.chat(cid)
        if c.state not in (QUEUED, NEW, ACTIVE, PARKED):
            raise Refuse(3, f"cannot receive on {c.state}")
        c.messages.append((self.now, "customer", text))
        if c.state != ACTIVE:
            c.unread += 1
        self.finish()

    def transcript(self, cid) -> list[dict]:
        c = self.chat(cid)
        return [
            {"chat": cid, "seq": n, "at": at, "from": who, "text": text} for n, (at, who, text) in enumerate(c.messages, 1)
        ]

    def classify(self, me, cid, code, note) -> None:
        self.begin(me)
        c = self.mine(me, cid)
        if c.state not in (ACTIVE, PARKED, ACTIVE_WRAPUP, PARKED_WRAPUP):
            raise Refuse(3, f"cannot classify {c.state}")
        if self.setting("classification", c.queue) == "list" and not {("", code), (c.queue, code)} & self.codes:
            raise Refuse(4, f"{code} is not a code of queue {c.queue}")
        c.classification, c.classification_note = code, note
        self.finish()

    def flag_abusive(self, me, cid) -> None:
        self.begin(me)
        c = self.mine(me, cid)
        if c.state not in (ACTIVE, PARKED, ACTIVE_WRAPUP, PARKED_WRAPUP):
            raise Refuse(3, f"cannot flag {c.state}")
        c.abusive = True
        self.finish()

    def contact(self, me, cid, name) -> None:
        self.begin(me)
        c = self.mine(me, cid)
        if c.state not in OPEN:
            raise Refuse(3, f"cannot set the contact of {c.state}")
        c.contact = name
        self.finish()

    def template_add(self, name, text, queue) -> None:
        self.begin()
        self.named(queue)
        self.templates[(queue or "", name)] = text
        self.finish()

    def template_remove(self, name, queue) -> None:
        self.begin()
        self.named(queue)
        if (queue or "", name) not in self.templates:
            raise Refuse(4, f"unknown template {name} of queue {queue}")
        del self.templates[(queue or "", name)]
        self.finish()

    def code_add(self, code, queue) -> None:
        self.begin()
        self.named(queue)
        self.codes.add((queue or "", code))
        self.finish()

    def code_remove(self, code, queue) -> None:
        self.begin()
        self.named(queue)
        if (queue or "", code) not in self.codes:
            raise Refuse(4, f"unknown classification {code} of queue {queue}")
        self.codes.remove((queue or "", code))
        self.finish()

    def config(self, key, value, queue, agent=None) -> None:
        self.begin()
        if key == "max-chats":
            if value < 1:
                raise Refuse(2, "max-chats is at least 1")
            if agent is None:
                self.max_chats = value
            elif agent not in self.agents:
                raise Refuse(4, f"unknown agent {agent}")
            else:
                self.agents[agent].max_chats = value
        elif key == "auto-present":
            self.auto_present = value
        elif key == "routing":
            self.routing = value
        else:
            self.named(queue)
            self.wrap[(queue or "", key)] = value
        self.finish()

    def advance(self, ms) -> None:
        self.begin()
        self.now += ms
        self.finish()

    def set_clock(self, at) -> None:
        self.begin()
        if at < self.now:
            pristine = not self.chats and not self.agents
            if not pristine:
                raise Refuse(3, "the clock never moves backwards")
        self.now = at
        self.finish()


# -- driving the engine ---------------------------------------------------------------------


class FakeWall:
    """A wall clock that moves on by 1.5 s each time it is read: a virtual clock must not care."""

    def __init__(self, start: int):
        self.ms = start
        self.reads = 0

    def __call__(self) -> int:
        self.reads += 1
        self.ms += 1_500
        return self.ms


def iso_ms(text: str | None) -> int | None:
    if text is None:
        return None
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return round((moment - datetime(1970, 1, 1, tzinfo=timezone.utc)).total_seconds() * 1000)


def ms_of(seconds) -> int | None:
    return None if seconds is None else round(seconds * 1000)


def kind_of(what: str) -> str:
    """``agent-2: chat wrapup C3 --extend`` -> ``chat wrapup --extend``: for hypothesis' statistics."""
    words = what.split(": ", 1)[-1].split()
    if words[0] == "config" or words[:2] == ["agent", "queues"]:
        return " ".join(words[:3] + [w for w in words[3:] if w == "--agent"])
    return " ".join(words[:2] + [w for w in words[2:] if w in ("--extend", "--finish", "--inbox", "--return", "--reason")])


def duration_text(ms: int) -> str:
    """A duration as a user types it (issue 2's forms)."""
    if ms % 1000:
        return f"{ms / 1000}s"
    secs = ms // 1000
    if secs and secs % 60 == 0:
        return f"{secs // 60}m"
    if secs > 60:
        return f"{secs // 60}m{secs % 60}s"
    return str(secs) if secs % 2 else f"{secs}s"


durations = st.one_of(
    st.sampled_from([0, 1, 999, 1_000, 29_999, 30_000, 59_999, 60_000, 60_001, 90_000, 180_000, 3_600_000]),
    st.integers(0, 7_200_000),
)
wrapup_durations = st.sampled_from([60_000, 0, 1, 1_000, 5_000, 30_000, 90_500, 120_000])
some_queue = st.sampled_from([None, None, "sales", "vip"])
#: (key, value, queue) for ``config set``; max-chats 0 is a usage error (exit 2).
settings_changes = st.one_of(
    st.tuples(st.just("max-chats"), st.sampled_from([1, 2, 3, 4, 0]), st.none()),
    st.tuples(st.just("auto-present"), st.booleans(), st.none()),
    st.tuples(st.sampled_from(["wrapup", "wrapup-extension"]), wrapup_durations, some_queue),
    st.tuples(st.just("wrapup-extensions"), st.sampled_from([3, 0, 1, 2]), some_queue),
    st.tuples(st.just("classification"), st.sampled_from(["list", "free"]), some_queue),
    st.tuples(st.just("classification-required"), st.sampled_from([True, True, False]), some_queue),
    st.tuples(st.just("routing"), st.sampled_from(["queue-order", "queue-order", "longest-wait"]), st.none()),
)
#: Few names, so that they collide: customers, contacts, texts, templates, classification codes.
customers = st.sampled_from([None, None, "Ann", "Bo Li", "{chat} {agent}"])
contacts = st.sampled_from(["Ann", "Cy", "Dee Dee"])
texts = st.sampled_from(["hi", "thanks", "hi"])
template_names = st.sampled_from(["greet", "bye"])
template_texts = st.sampled_from(
    ["Hello {customer}", "{agent} of {queue} on {chat}", "bye", "{customer}/{customer} {nobody} {Agent}"]
)
template_queues = st.sampled_from([None, None, "sales", "default"])
codes = st.sampled_from(["sale", "complaint", "other"])
#: (text, template) for ``chat send``: mostly one of them; both or neither is a usage error.
send_bodies = st.sampled_from(
    [("hi", None), ("thanks", None), ("hi", None), ("thanks", None), (None, "greet"), (None, "bye"), (None, "greet"),
     (None, "greet"), ("hi", "greet"), (None, None)]
)
#: For aiming chat commands at chats they can act on (the model alone decides what is allowed).
AIM = {
    "take": {QUEUED},
    "activate": {NEW, PARKED, PARKED_WRAPUP},
    "park": {ACTIVE, ACTIVE_WRAPUP},
    "end": {QUEUED, NEW, PARKED, ACTIVE},
    "wrapup": {ACTIVE},
    "extend": {ACTIVE_WRAPUP},
    "finish": {ACTIVE_WRAPUP},
    "return": {NEW, ACTIVE, PARKED},
    "transfer": {ACTIVE},
    "send": {ACTIVE},
    "receive": {QUEUED, NEW, ACTIVE, PARKED},
    "classify": {ACTIVE, PARKED, ACTIVE_WRAPUP, PARKED_WRAPUP},
    "flag": {ACTIVE, PARKED, ACTIVE_WRAPUP, PARKED_WRAPUP},
    "contact": {NEW, ACTIVE, PARKED, ACTIVE_WRAPUP, PARKED_WRAPUP},
}
#: Chat fields compared as they are (the webchat ones).
CHAT_FIELDS = (
    "customer", "origin_queue", "transfers", "unread", "messages", "contact", "classification",
    "classification_note", "abusive",
)
#: What ``progress`` may do to a chat in each open state.
PROGRESS = {
    QUEUED: ["take", "take", "end", "receive"],
    NEW: ["activate", "activate", "end", "return"],
    ACTIVE: ["wrapup", "wrapup", "end", "park", "call-start", "send", "transfer", "return"],
    PARKED: ["activate", "end", "activate", "return"],
    ACTIVE_WRAPUP: ["extend", "finish", "finish", "park", "call-start", "classify"],
    PARKED_WRAPUP: ["activate"],
}
#: Who runs a command as an agent: one of the three, now and then the typo.
actors = st.sampled_from([*AGENTS, *AGENTS, *AGENTS, TYPO])
#: Who runs a chat command: mostly the chat's owner, sometimes anyone (often refused).
anyone = st.sampled_from(["owner", "owner", "owner", "owner", *AGENTS, TYPO])
#: Break reasons: nap only once added; comfort until removed.
reasons = st.sampled_from(["lunch", "nap", "comfort"])


class ChatemuMachine(RuleBasedStateMachine):
    chats = Bundle("chats")

    def __init__(self):
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="chatemu-model-")
        self.path = os.path.join(self.dir, "chatemu.db")
        self.wall = FakeWall(T0)
        self.engines = {agent: Engine(self.path, agent, self.wall) for agent in (*AGENTS, TYPO)}
        self.engines[AGENTS[0]].clock_advance(0)  # creates the database; nothing else happens
        self.observer = sqlite3.connect(self.path, isolation_level=None)
        (created,) = self.observer.execute("SELECT now_ms FROM meta").fetchone()
        # A new database starts virtual, frozen at its creation time.
        assert T0 < created <= self.wall.ms
        self.model = Model(created)
        # What the test reads (after every step) it reads through one connection kept open for
        # the whole example, as ``chatemu run`` does: opening one per step would cost more than
        # the reads.  The commands run through the agents' engines, each command on its own connection.
        self.reader = Engine(self.path, AGENTS[0], self.wall)
        self.keeping = self.reader.kept_open()
        self.keeping.__enter__()
        self.last_dump = self.dump()
        self.last_version = self.data_version()

    def teardown(self):
        self.keeping.__exit__(None, None, None)
        self.observer.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- plumbing ---------------------------------------------------------------------

    def dump(self) -> str:
        tables = [r[0] for r in self.observer.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return json.dumps({t: self.observer.execute(f'SELECT * FROM "{t}" ORDER BY rowid').fetchall() for t in tables})

    def data_version(self) -> int:
        return self.observer.execute("PRAGMA data_version").fetchone()[0]

    def step(self, what: str, engine_call, model_call, chat: str | None = None, verb: str | None = None):
        """Run one command on both; they must agree on refusing it; a refusal changes nothing.

        For a command on an existing ``chat``, a refusal (exit 3) names the chat, its state
        and what was tried (``verb``), as issue 2 asks."""
        trial = copy.deepcopy(self.model)
        try:
            value = model_call(trial)
            expected, why = 0, ""
        except Refuse as refusal:
            value, expected, why = None, refusal.code, refusal.why
        if expected and self.last_dump is None:
            self.last_dump = self.dump()  # the database as it is: the refusal must leave it so
        try:
            engine_call()
            got, message = 0, ""
        except ChatemuError as err:
            got, message = err.exit_code, err.message
        note(f"{what} -> {'exit ' + str(got) + ': ' + message if got else 'done'}")
        event(f"{kind_of(what)}: {'refused, exit ' + str(got) if got else 'done'}")
        assert got == expected, (
            f"{what}: the engine {'exited ' + str(got) + ' (' + message + ')' if got else 'accepted it'},"
            f" the model {'refuses it with ' + str(expected) + ' (' + why + ')' if expected else 'accepts it'}"
        )
        if got == 3 and chat in self.model.chats:
            state = self.model.chats[chat].state
            assert chat in message and state in message and verb in message, (
                f"{what}: the refusal {message!r} should name {chat}, its state {state} and what was tried ({verb})"
            )
        if got and "requires a classification" in why:
            event("a wrap-up finish waited for a classification")
        if got:
            assert self.data_version() == self.last_version, f"{what}: refused ({message}) but something was committed"
            assert self.dump() == self.last_dump, f"{what}: refused ({message}) but the database changed"
        else:
            for cid, after in trial.chats.items():  # for the statistics: what happened by itself
                before = self.model.chats.get(cid)
                if after.closed_reason == "wrapup-expired" and (before is None or before.closed_reason is None):
                    event("a wrap-up timer ran out")
                if after.state == NEW and (
                    (before is None and "--inbox" not in what)
                    or (before is not None and before.state == QUEUED and not what.endswith(f"take {cid}"))
                ):
                    event("a queued chat was presented")
                if before is not None and before.parked_by_call and after.state == ACTIVE_WRAPUP:
                    event("a chat resumed after a call")
            for cid, after in trial.chats.items():
                before = self.model.chats.get(cid)
                if after.state == NEW and (before is None or before.state == QUEUED) and trial.agents[after.agent].queues:
                    how = " (queue-order)" if trial.routing == "queue-order" else ""
                    event(f"a chat went to an agent assigned to queues{how}")
            if not self.model.agents and trial.agents and "agent login" not in what:
                event("the first agent came into being by acting")
            me = what.split(":")[0]
            if "logout --return" in what and any(c.agent == me and c.state in OPEN for c in self.model.chats.values()):
                event("logout --return returned chats")
            if verb in ("return", "transfer") and "--agent" not in what and trial.chats[chat].state == NEW:
                moved = {"return": "returned", "transfer": "transferred"}[verb]
                same = " to the same agent" if trial.chats[chat].agent == self.model.chats[chat].agent else ""
                event(f"a {moved} chat was presented at once{same}")
            self.model = trial
            # The tables are dumped when a refusal is expected next (a command that succeeds needs none).
            self.last_dump, self.last_version = None, self.data_version()
        return value, got

    # -- the rules: every state-changing command ------------------------------------------

    @initialize(
        target=chats,
        first=st.lists(
            st.tuples(st.sampled_from(AGENTS), st.sampled_from(QUEUES), st.sampled_from([0, 1, 5, -1]), st.booleans()),
            max_size=4,
        ),
    )
    def some_chats(self, first):
        """A few chats to start with (queued, or in an inbox), so that histories get going."""
        made = []
        for agent, queue, priority, inbox in first:
            value, got = self.step(
                f"{agent}: chat new --queue {queue} --priority {priority}{' --inbox' if inbox else ''}",
                lambda: self.engines[agent].chat_new(None, queue, priority, None, inbox),
                lambda m: m.chat_new(agent, queue, priority, None, inbox),
            )
            if not got:
                made.append(value)
        return multiple(*made)

    @initialize(
        setup=st.lists(
            st.one_of(
                st.tuples(st.just("classification-required"), st.just(True), st.sampled_from([None, None, "sales"])),
                st.tuples(st.just("classification"), st.just("list"), some_queue),
            ),
            max_size=1,
        )
    )
    def webchat_settings(self, setup):
        """Sometimes the classification keys from the start, so that a wrap-up waits for one."""
        for setting in setup:
            self.config_set(setting)

    @initialize(
        agents=st.sampled_from([AGENTS, AGENTS, AGENTS, ("agent-2", "agent-1"), ("agent-3",), ("agent-1",), ()])
    )
    def logins(self, agents):
        """Mostly every agent logged in from the start; or some; or none, and the first to act
        comes into being."""
        for agent in agents:
            self.login(agent)

    @initialize(plan=st.sampled_from(["", "", "queues", "assigned", "assigned", "queue-order"]))
    def queue_plan(self, plan):
        """Sometimes the queues from the start; agents assigned to some, in different orders; and
        queue-order routing."""
        if not plan:
            return
        for queue in QUEUES:
            self.setup("queue add", queue, "lunch", AGENTS[0], 1)
        if plan in ("assigned", "queue-order"):
            self.agent_queues("agent-2", "set", ["sales", "vip"], "vip", False)
            self.agent_queues("agent-3", "set", ["vip", "default", "sales"], "sales", False)
        if plan == "queue-order":
            self.config_set(("routing", "queue-order", None))

    @rule(
        target=chats,
        agent=actors,
        queue=st.sampled_from(QUEUES),
        priority=st.sampled_from([0, 1, 5, -1]),
        cid=st.sampled_from([None, None, None, None, None, "X1", "X2"]),
        inbox=st.booleans(),
        customer=customers,
    )
    def chat_new(self, agent, queue, priority, cid, inbox, customer):
        value, got = self.step(
            f"{agent}: chat new --queue {queue} --priority {priority}{' --id ' + cid if cid else ''}"
            f"{' --inbox' if inbox else ''}{' --customer ' + repr(customer) if customer else ''}",
            lambda: self.engines[agent].chat_new(customer, queue, priority, cid, inbox),
            lambda m: m.chat_new(agent, queue, priority, cid, inbox, customer),
        )
        return multiple() if got else value

    def who(self, who: str, chat: str) -> str:
        """``owner``: the agent whose inbox holds the chat (if none, the first agent that
        exists, or agent-1); else that agent."""
        if who != "owner":
            return who
        c = self.model.chats.get(chat)
        if c is not None and c.agent is not None:
            return c.agent
        return next((a for a in AGENTS if a in self.model.agents), AGENTS[0])

    def taker(self, agent: str, chat: str) -> str:
        """An agent that may take the chat, if any (logged in, serving its queue, below capacity)."""
        m, c = self.model, self.model.chats[chat]
        for a in AGENTS:
            if a in m.agents and m.agents[a].presence != "logged-out" and not m.full(a):
                served = m.serving(m.agents[a])
                if served is None or c.queue in served:
                    return a
        return agent

    def aimed(self, chat: str, aim: bool, command: str) -> str:
        """With ``aim``, the first chat from ``chat`` on (in creation order, round) in a state
        where ``command`` does something, so that long histories get somewhere."""
        if not aim:
            return chat
        ids = list(self.model.chats)
        start = ids.index(chat)
        for cid in ids[start:] + ids[:start]:
            if self.model.chats[cid].state in AIM[command]:
                return cid
        return chat

    def aimed_active(self, chat: str, aim: bool, command: str) -> str:
        """``aimed``; and if no chat is in a state for ``command`` (all need an active chat, or one
        that has been), its owner first activates the first new or parked chat from ``chat`` on
        (not one whose owner is on a call): active chats are rare otherwise."""
        chat = self.aimed(chat, aim, command)
        if not aim or self.model.chats[chat].state in AIM[command]:
            return chat
        ids = list(self.model.chats)
        start = ids.index(chat)
        for cid in ids[start:] + ids[:start]:
            c = self.model.chats[cid]
            if c.state in (NEW, PARKED) and not self.model.agents[c.agent].on_call:
                self.activate("owner", cid, False)
                return cid
        return chat

    @rule(agent=actors, chat=chats, aim=st.booleans())
    def take(self, agent, chat, aim):
        """``chat take``; with ``aim``, a queued chat, by an agent that may take it, if any."""
        chat = self.aimed(chat, aim, "take")
        if aim:
            agent = self.taker(agent, chat)
        self.step(
            f"{agent}: chat take {chat}",
            lambda: self.engines[agent].chat_take(chat),
            lambda m: m.take(agent, chat),
            chat,
            "take",
        )

    @rule(who=anyone, chat=chats, aim=st.booleans())
    def activate(self, who, chat, aim):
        chat = self.aimed(chat, aim, "activate")
        agent = self.who(who, chat)
        self.step(
            f"{agent}: chat activate {chat}",
            lambda: self.engines[agent].chat_activate(chat),
            lambda m: m.activate(agent, chat),
            chat,
            "activate",
        )

    @rule(who=anyone, chat=chats, aim=st.booleans())
    def park(self, who, chat, aim):
        chat = self.aimed(chat, aim, "park")
        agent = self.who(who, chat)
        self.step(
            f"{agent}: chat park {chat}", lambda: self.engines[agent].chat_park(chat), lambda m: m.park(agent, chat), chat, "park"
        )

    @rule(who=anyone, chat=chats, aim=st.booleans())
    def end(self, who, chat, aim):
        chat = self.aimed(chat, aim, "end")
        agent = self.who(who, chat)
        self.step(
            f"{agent}: chat end {chat}", lambda: self.engines[agent].chat_end(chat), lambda m: m.end(agent, chat), chat, "end"
        )

    @rule(who=anyone, chat=chats, aim=st.booleans(), mode=st.sampled_from(["", "extend", "finish"]))
    def wrapup(self, who, chat, aim, mode):
        chat = self.aimed(chat, aim, mode) if mode else self.aimed_active(chat, aim, "wrapup")
        agent = self.who(who, chat)
        self.step(
            f"{agent}: chat wrapup {chat}{' --' + mode if mode else ''}",
            lambda: self.engines[agent].chat_wrapup(chat, extend=mode == "extend", finish=mode == "finish"),
            lambda m: m.wrapup(agent, chat, mode),
            chat,
            {"": "wrap up", "extend": "extend", "finish": "finish"}[mode],
        )

    @rule(chat=chats, choice=st.integers(0, 23))
    def progress(self, chat, choice):
        """Move an open chat on (the drawn one, else the next open one): its owner runs one of the
        commands that do something in its state, so that long histories reach deep states."""
        ids = list(self.model.chats)
        start = ids.index(chat)
        chat = next((cid for cid in ids[start:] + ids[:start] if self.model.chats[cid].state in PROGRESS), chat)
        c = self.model.chats[chat]
        options = PROGRESS.get(c.state, ["activate"])
        if c.parked_by_call:  # its owner is on a call: the customer may end it, or the call end
            options = ["end", "call-end"] if c.state == PARKED else ["call-end"]
        command = options[choice % len(options)]
        if command in ("call-start", "call-end"):
            self.call(c.agent, command == "call-start", False)
        elif command == "take":
            agent = AGENTS[choice % len(AGENTS)]
            self.take(self.taker(agent, chat) if choice % 2 else agent, chat, False)
        elif command in ("wrapup", "extend", "finish"):
            self.wrapup("owner", chat, False, "" if command == "wrapup" else command)
        elif command == "receive":
            self.receive(AGENTS[choice % len(AGENTS)], chat, False, "hi")
        elif command == "return":
            self.chat_return("owner", chat, False)
        elif command == "send":
            self.send("owner", chat, False, (None, "greet") if choice % 2 else ("thanks", None))
        elif command == "transfer":  # to an agent that can take it, if any
            self.transfer("owner", chat, True, "agent" if choice % 3 else "queue", QUEUES[choice // 3 % 3], "agent-9")
        elif command == "classify":
            self.annotate("owner", chat, False, "classify", ["sale", "complaint", "other"][choice % 3], False, "Ann")
        else:
            getattr(self, command)("owner", chat, False)

    @rule(
        agent=st.sampled_from(AGENTS),
        command=st.sampled_from(
            [
                "take", "activate", "park", "end", "wrapup", "wrapup --extend", "wrapup --finish",
                "return", "transfer --queue sales", "transfer --agent agent-2", "send hi", "send --template greet",
                "receive hi", "transcript", "classify sale", "flag-abusive", "contact Ann",
            ]
        ),
    )
    def unknown_chat(self, agent, command):
        e = self.engines[agent]
        calls = {
            "take": (e.chat_take, Model.take),
            "activate": (e.chat_activate, Model.activate),
            "park": (e.chat_park, Model.park),
            "end": (e.chat_end, Model.end),
            "wrapup": (lambda c: e.chat_wrapup(c), lambda m, a, c: m.wrapup(a, c, "")),
            "wrapup --extend": (lambda c: e.chat_wrapup(c, extend=True), lambda m, a, c: m.wrapup(a, c, "extend")),
            "wrapup --finish": (lambda c: e.chat_wrapup(c, finish=True), lambda m, a, c: m.wrapup(a, c, "finish")),
            "return": (e.chat_return, Model.return_),
            "transfer --queue sales": (
                lambda c: e.chat_transfer(c, queue="sales"), lambda m, a, c: m.transfer(a, c, "sales", None)
            ),
            "transfer --agent agent-2": (
                lambda c: e.chat_transfer(c, agent="agent-2"), lambda m, a, c: m.transfer(a, c, None, "agent-2")
            ),
            "send hi": (lambda c: e.chat_send(c, "hi"), lambda m, a, c: m.send(a, c, "hi", None)),
            "send --template greet": (
                lambda c: e.chat_send(c, template="greet"), lambda m, a, c: m.send(a, c, None, "greet")
            ),
            "receive hi": (lambda c: e.chat_receive(c, "hi"), lambda m, a, c: m.receive(c, "hi")),
            "transcript": (e.chat_transcript, lambda m, a, c: m.transcript(c)),
            "classify sale": (lambda c: e.chat_classify(c, "sale"), lambda m, a, c: m.classify(a, c, "sale", None)),
            "flag-abusive": (e.chat_flag_abusive, Model.flag_abusive),
            "contact Ann": (lambda c: e.chat_contact(c, "Ann"), lambda m, a, c: m.contact(a, c, "Ann")),
        }
        engine_call, model_call = calls[command]
        self.step(f"{agent}: chat {command} C404", lambda: engine_call("C404"), lambda m: model_call(m, agent, "C404"))

    @rule(who=anyone, chat=chats, aim=st.booleans())
    def chat_return(self, who, chat, aim):
        chat = self.aimed(chat, aim, "return")
        agent = self.who(who, chat)
        self.step(
            f"{agent}: chat return {chat}",
            lambda: self.engines[agent].chat_return(chat),
            lambda m: m.return_(agent, chat),
            chat,
            "return",
        )

    @rule(
        who=anyone,
        chat=chats,
        aim=st.booleans(),
        to=st.sampled_from(["queue", "queue", "agent", "agent", "agent", "both", "neither"]),
        queue=st.sampled_from(QUEUES),
        receiver=st.sampled_from([*AGENTS, "agent-9"]),
    )
    def transfer(self, who, chat, aim, to, queue, receiver):
        """``chat transfer --queue Q`` or ``--agent B`` (both or neither: usage); with ``aim``, to
        an agent that can take it, if any."""
        chat = self.aimed_active(chat, aim, "transfer")
        agent = self.who(who, chat)
        if aim:
            m = self.model
            receiver = next(
                (
                    b
                    for b in AGENTS
                    if b != agent
                    and b in m.agents
                    and m.agents[b].presence == "available"
                    and not m.agents[b].on_call
                    and not m.full(b)
                ),
                receiver,
            )
        queue = queue if to in ("queue", "both") else None
        receiver = receiver if to in ("agent", "both") else None
        self.step(
            f"{agent}: chat transfer {chat}{' --queue ' + queue if queue else ''}"
            f"{' --agent ' + receiver if receiver else ''}",
            lambda: self.engines[agent].chat_transfer(chat, queue=queue, agent=receiver),
            lambda m: m.transfer(agent, chat, queue, receiver),
            chat,
            "transfer",
        )

    def transcript_matches(self, chat: str) -> None:
        """``chat transcript``: the model's messages, in order."""
        got = self.reader.chat_transcript(chat).value
        for message in got:
            message["at"] = iso_ms(message["at"])
        expected = self.model.transcript(chat)
        assert got == expected, f"transcript of {chat}: model {expected}, engine {got}"

    @rule(who=anyone, chat=chats, aim=st.booleans(), body=send_bodies)
    def send(self, who, chat, aim, body):
        text, template = body
        chat = self.aimed_active(chat, aim, "send")
        agent = self.who(who, chat)
        _, got = self.step(
            f"{agent}: chat send {chat}{' ' + repr(text) if text else ''}"
            f"{' --template ' + template if template else ''}",
            lambda: self.engines[agent].chat_send(chat, text, template),
            lambda m: m.send(agent, chat, text, template),
            chat,
            "send",
        )
        if not got:
            self.transcript_matches(chat)

    @rule(agent=st.sampled_from(AGENTS), chat=chats, aim=st.booleans(), text=texts)
    def receive(self, agent, chat, aim, text):
        """A customer message; run through any agent's engine, it acts as none of them.
        Then ``chat transcript`` of that chat (done or not) must be the model's."""
        chat = self.aimed(chat, aim, "receive")
        self.step(
            f"customer: chat receive {chat} {text!r} (through {agent}'s engine)",
            lambda: self.engines[agent].chat_receive(chat, text),
            lambda m: m.receive(chat, text),
            chat,
            "receive",
        )
        self.transcript_matches(chat)

    @rule(
        who=anyone,
        chat=chats,
        aim=st.booleans(),
        kind=st.sampled_from(["classify", "classify", "flag", "contact"]),
        code=codes,
        with_note=st.booleans(),
        name=contacts,
    )
    def annotate(self, who, chat, aim, kind, code, with_note, name):
        """``chat classify`` (with or without ``--note``), ``chat flag-abusive`` or ``chat contact``."""
        chat = self.aimed_active(chat, aim, kind) if kind != "contact" else self.aimed(chat, aim, kind)
        agent = self.who(who, chat)
        e = self.engines[agent]
        if kind == "classify":
            note_text = f"called {code}" if with_note else None
            self.step(
                f"{agent}: chat classify {chat} {code}{' --note ' + repr(note_text) if note_text else ''}",
                lambda: e.chat_classify(chat, code, note_text),
                lambda m: m.classify(agent, chat, code, note_text),
                chat,
                "classify",
            )
        elif kind == "flag":
            self.step(
                f"{agent}: chat flag-abusive {chat}",
                lambda: e.chat_flag_abusive(chat),
                lambda m: m.flag_abusive(agent, chat),
                chat,
                "flag",
            )
        else:
            self.step(
                f"{agent}: chat contact {chat} {name!r}",
                lambda: e.chat_contact(chat, name),
                lambda m: m.contact(agent, chat, name),
                chat,
                "contact",
            )

    @rule(
        command=st.sampled_from(["template add", "template add", "template remove", "classification add",
                                 "classification remove"]),
        name=template_names,
        text=template_texts,
        code=codes,
        queue=template_queues,
    )
    def lists(self, command, name, text, code, queue):
        """``template add|remove`` and ``classification add|remove``, global or per queue."""
        e = self.engines[AGENTS[0]]
        where = f" --queue {queue}" if queue else ""
        calls = {
            "template add": (f"{name} {text!r}", lambda: e.template_add(name, text, queue),
                             lambda m: m.template_add(name, text, queue)),
            "template remove": (name, lambda: e.template_remove(name, queue), lambda m: m.template_remove(name, queue)),
            "classification add": (code, lambda: e.classification_add(code, queue), lambda m: m.code_add(code, queue)),
            "classification remove": (code, lambda: e.classification_remove(code, queue),
                                      lambda m: m.code_remove(code, queue)),
        }
        args, engine_call, model_call = calls[command]
        self.step(f"{command} {args}{where}", engine_call, model_call)

    @rule(agent=actors, start=st.booleans(), aim=st.booleans())
    def call(self, agent, start, aim):
        """``chat call-start`` or ``chat call-end``; with ``aim``, by an agent for whom it is allowed, if any."""
        if aim:
            agents = self.model.agents
            agent = next(
                (a for a in AGENTS if a in agents and agents[a].on_call != start and agents[a].presence != "logged-out"),
                agent,
            )
        if start:
            self.step(f"{agent}: chat call-start", lambda: self.engines[agent].call_start(), lambda m: m.call_start(agent))
        else:
            self.step(f"{agent}: chat call-end", lambda: self.engines[agent].call_end(), lambda m: m.call_end(agent))

    @rule(
        agent=actors,
        command=st.sampled_from(["available", "break", "break", "login", "login", "logout", "logout --return"]),
        reason=st.one_of(st.none(), reasons),
        aim=st.booleans(),
    )
    def agent(self, agent, command, reason, aim):
        """``agent available``, ``agent break [--reason R]``, ``agent login`` (never of the typo:
        a new agent or an existing one) and ``agent logout [--return]``; with ``aim``, by an
        agent that exists (for login, one that does not, if any)."""
        agents = self.model.agents
        if command == "login":
            agent = next((a for a in AGENTS if a not in agents), agent) if aim else agent
            self.login(AGENTS[0] if agent == TYPO else agent)
            return
        if aim:
            agent = next((a for a in AGENTS if a in agents and agents[a].presence != "logged-out"), agent)
        e = self.engines[agent]
        if command.startswith("logout"):
            back = command == "logout --return"
            self.step(f"{agent}: agent {command}", lambda: e.agent_logout(back), lambda m: m.logout(agent, back))
            return
        reason = reason if command == "break" else None
        self.step(
            f"{agent}: agent {command}{' --reason ' + reason if reason else ''}",
            lambda: e.agent_presence(command, reason),
            lambda m: m.presence(agent, command, reason),
        )

    def login(self, agent):
        self.step(f"{agent}: agent login", lambda: self.engines[agent].agent_login(), lambda m: m.login(agent))

    @rule(
        agent=actors,
        command=st.sampled_from(["set", "set", "set", "clear", "on", "off", "off"]),
        names=st.lists(st.sampled_from(ALL_QUEUES), max_size=3),
        name=st.sampled_from(ALL_QUEUES),
        aim=st.booleans(),
    )
    def agent_queues(self, agent, command, names, name, aim):
        """``agent queues set Q…|clear|on Q|off Q``; with ``aim``, by an agent that exists, of
        queues that exist (``set``: each once) or it is assigned to (``on``, ``off``)."""
        m = self.model
        if aim:
            agent = next((a for a in (agent, *AGENTS) if a in m.agents), agent)
            names = list(dict.fromkeys(q for q in names if q in m.queues)) or names
            mine = [q for q, _ in m.agents[agent].queues] if agent in m.agents else []
            name = name if name in mine or not mine else mine[len(names) % len(mine)]
        e = self.engines[agent]
        if command == "set":
            self.step(f"{agent}: agent queues set {' '.join(names)}", lambda: e.agent_queues_set(names),
                      lambda m: m.queues_set(agent, names))
        elif command == "clear":
            self.step(f"{agent}: agent queues clear", lambda: e.agent_queues_clear(), lambda m: m.queues_clear(agent))
        else:
            on = command == "on"
            self.step(f"{agent}: agent queues {command} {name}", lambda: e.agent_queues_switch(name, on),
                      lambda m: m.queues_switch(agent, name, on))

    @rule(
        command=st.sampled_from(["queue add", "queue add", "break-reason add", "break-reason remove", "max-chats"]),
        queue=st.sampled_from(ALL_QUEUES),
        reason=reasons,
        agent=actors,
        value=st.sampled_from([1, 1, 2, 4, 0]),
        aim=st.booleans(),
    )
    def setup(self, command, queue, reason, agent, value, aim=False):
        """``queue add Q``, ``break-reason add|remove R`` or ``config set max-chats N --agent A``
        (0 is a usage error, an unknown agent exit 4; with ``aim``, an agent that exists, if any)."""
        e = self.engines[AGENTS[0]]
        if aim:
            agent = next((a for a in (agent, *AGENTS) if a in self.model.agents), agent)
        if command == "queue add":
            self.step(f"queue add {queue}", lambda: e.queue_add(queue), lambda m: m.queue_add(queue))
        elif command == "break-reason add":
            self.step(f"break-reason add {reason}", lambda: e.break_reason_add(reason), lambda m: m.reason_add(reason))
        elif command == "break-reason remove":
            self.step(f"break-reason remove {reason}", lambda: e.break_reason_remove(reason),
                      lambda m: m.reason_remove(reason))
        else:
            self.step(
                f"config set max-chats {value} --agent {agent}",
                lambda: e.config_set("max-chats", str(value), agent=agent),
                lambda m: m.config("max-chats", value, None, agent),
            )

    @rule(setting=settings_changes)
    def config_set(self, setting):
        key, value, queue = setting
        on_off = lambda on: "on" if on else "off"  # noqa: E731
        text = {
            "max-chats": str,
            "wrapup-extensions": str,
            "auto-present": on_off,
            "classification": str,
            "routing": str,
            "classification-required": on_off,
        }.get(key, duration_text)(value)
        self.config_step(key, value, text, queue)

    def config_step(self, key, value, text: str, queue) -> None:
        """``config set KEY TEXT [--queue Q]``: the model takes VALUE, the parsed TEXT."""
        self.step(
            f"config set {key} {text}{' --queue ' + queue if queue else ''}",
            lambda: self.engines[AGENTS[0]].config_set(key, text, queue),
            lambda m: m.config(key, value, queue),
        )

    @rule(command=st.sampled_from(["advance", "set", "set-back"]), ms=durations)
    def clock(self, command, ms):
        """``clock advance MS``, or ``clock set`` to MS after (``set``) or before (``set-back``) now."""
        if command == "advance":
            self.step(f"clock advance {duration_text(ms)}", lambda: self.engines[AGENTS[0]].clock_advance(ms), lambda m: m.advance(ms))
            return
        at = self.model.now + (ms if command == "set" else -ms)
        self.step(
            f"clock set <now {'+' if command == 'set' else '-'} {duration_text(ms)}>",
            lambda: self.engines[AGENTS[0]].clock_set(at),
            lambda m: m.set_clock(at),
        )

    @rule(offset=st.sampled_from([0, -1, 1]))
    def clock_to_deadline(self, offset):
        """``clock advance`` to just before, exactly at, or just after the next wrap-up deadline."""
        deadlines = [c.deadline for c in self.model.chats.values() if c.deadline is not None]
        ms = max(0, min(deadlines) + offset - self.model.now) if deadlines else 1_000
        self.step(f"clock advance {duration_text(ms)}", lambda: self.engines[AGENTS[0]].clock_advance(ms), lambda m: m.advance(ms))

    # -- after every step -------------------------------------------------------------

    @invariant()
    def engine_matches_model(self):
        m = self.model
        reader = self.reader
        clock = reader.clock_show().value
        listed = reader.chat_list(all_chats=True).value
        agents = {a["id"]: a for a in reader.agent_list().value}
        queues = {aid: reader.agent_queues(aid).value for aid in agents}
        queue_names = [name for (name,) in self.observer.execute("SELECT name FROM queues ORDER BY name")]
        assert (iso_ms(clock["now"]), clock["mode"]) == (m.now, "virtual")

        chats = {c["id"]: c for c in listed}
        assert list(chats) == list(m.chats), "the chats differ"
        for cid, c in m.chats.items():
            e = chats[cid]
            expected = {
                "state": c.state,
                "agent": c.agent,
                "wrapup_remaining_ms": c.left(m.now),
                "extensions_left": c.extensions_left,
                "closed_reason": c.closed_reason,
                "closed_at": c.closed_at,
                "parked_by_call": c.parked_by_call,
                "queue": c.queue,
                "priority": c.priority,
                "active_ms": c.active_ms + (m.now - c.since if c.state == ACTIVE else 0),
                "parked_or_wrapup_ms": c.other_ms
                + (m.now - c.since if c.state in (PARKED, PARKED_WRAPUP, ACTIVE_WRAPUP) else 0),
                "customer": c.customer,
                "origin_queue": c.origin_queue,
                "transfers": c.transfers,
                "unread": c.unread,
                "messages": len(c.messages),
                "contact": c.contact,
                "classification": c.classification,
                "classification_note": c.classification_note,
                "abusive": c.abusive,
            }
            actual = {
                "state": e["state"],
                "agent": e["agent"],
                "wrapup_remaining_ms": ms_of(e["wrapup_remaining"]),
                "extensions_left": e["extensions_left"],
                "closed_reason": e["closed_reason"],
                "closed_at": iso_ms(e["closed_at"]),
                "parked_by_call": e["parked_by_call"],
                "queue": e["queue"],
                "priority": e["priority"],
                "active_ms": ms_of(e["active_seconds"]),
                "parked_or_wrapup_ms": ms_of(e["parked_seconds"]) + ms_of(e["wrapup_seconds"]),
                **{k: e[k] for k in CHAT_FIELDS},
            }
            diff = {k: (expected[k], actual[k]) for k in expected if expected[k] != actual[k]}
            assert not diff, f"chat {cid}: (model, engine) differ: {diff}"

        assert sorted(agents) == sorted(m.agents), "the agents differ"
        for aid, a in m.agents.items():
            item = m.active_item(aid)
            expected = {
                "presence": a.presence,
                "on_call": a.on_call,
                "status": m.status(a),
                "active_chat": item.id if item else None,
                "break_reason": a.break_reason,
                "status_since": a.status_since,
                "max_chats": m.capacity(aid),
                "queues": {"agent": aid, "all": not a.queues, "queues": [{"queue": q, "on": on} for q, on in a.queues]},
            }
            actual = {k: agents[aid][k] for k in expected if k in agents[aid]}
            actual["status_since"] = iso_ms(actual["status_since"])
            actual["queues"] = queues[aid]
            diff = {k: (expected[k], actual[k]) for k in expected if expected[k] != actual[k]}
            assert not diff, f"agent {aid}: (model, engine) differ: {diff}"
        assert queue_names == sorted(m.queues), f"queues: model {sorted(m.queues)}, engine {queue_names}"

    @invariant()
    def database_is_clean(self):
        assert check(self.observer) == []
        assert self.data_version() == self.last_version, "reading the database committed something"


ChatemuMachine.TestCase.settings = settings(
    max_examples=EXAMPLES,
    stateful_step_count=STEPS,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestEngineAgainstModel = ChatemuMachine.TestCase
