"""Model-based test of the clocks beyond wrap-up: random sequences, the engine against a
reference model of its own.

A hypothesis ``RuleBasedStateMachine`` drives ``chatemu.store.engine.Engine`` in-process (a
temp database per example, a virtual clock) with one agent of capacity 1, a wrap-up of 0 s
(a chat ending closes at once) and, chosen per example, an offer timeout, a patience (the
queue's, and sometimes a chat's own), a reply alert, a customer idle timeout and a lunch
break limit, each on or off.  The commands: ``chat new`` (``--patience``), ``chat
activate`` of the agent's new chat, ``chat send``, ``chat receive`` (on a queued chat or the
agent's), ``agent available``, ``agent break`` (``--reason lunch`` or not) and ``clock
advance`` by random amounts, small and large (a late settle running many timers).

The reference model keeps each chat's state and its timers' deadlines, and settles by
running out the earliest due timer (by instant, then chat number, then kind; the break
limit last), presenting after each, until none is due: written from the contract in
docs/model.md, not from the engine.  After every step every chat's state, closing time
and reason, its alert and the agent's presence and overrun are compared, and ``db check``
must be clean.
"""

from __future__ import annotations

import os
import tempfile

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from chatemu.store.check import check_path
from chatemu.store.engine import Engine

T0 = 1_767_603_600_000  # 2026-01-05T09:00:00Z
EXAMPLES = int(os.environ.get("CHATEMU_MODEL_EXAMPLES", "200" if os.environ.get("CHATEMU_HEAVY") else "25"))
STEPS = int(os.environ.get("CHATEMU_MODEL_STEPS", "40"))
RANK = {"idle": 1, "patience": 2, "offer": 3, "alert": 4}
OFF = st.none() | st.sampled_from([1_000, 5_000, 30_000, 60_000])


class Chat:
    def __init__(self, number: int, at: int, patience: int | None):
        self.id = f"C{number}"
        self.number = number
        self.state = "queued"
        self.waiting_since = at
        self.own_patience = patience
        self.timers: dict[str, int] = {}
        self.awaiting: int | None = None
        self.alerting = False
        self.closed_at: int | None = None
        self.reason: str | None = None


class ClocksMachine(RuleBasedStateMachine):
    @initialize(offer=OFF, patience=OFF, alert=OFF, idle=OFF, limit=OFF)
    def setup(self, offer, patience, alert, idle, limit):
        self.folder = tempfile.TemporaryDirectory()
        path = os.path.join(self.folder.name, "model.db")
        self.e = Engine(path, "agent-1", lambda: T0)
        self.path = path
        self.e.clock_set(T0)
        self.e.agent_login()
        self.e.config_set("max-chats", "1")
        for key, value in (("wrapup", 0), ("offer-timeout", offer), ("patience", patience),
                           ("reply-alert", alert), ("customer-idle-timeout", idle)):
            self.e.config_set(key, "off" if value is None else f"{value}ms")
        if limit is not None:
            self.e.break_reason_add("lunch", f"{limit}ms")
        self.cfg = {"offer": offer, "patience": patience, "alert": alert, "idle": idle, "limit": limit}
        self.now = T0
        self.chats: list[Chat] = []
        self.presence = "available"
        self.reason: str | None = None
        self.break_deadline: int | None = None
        self.overrun: int | None = None

    def teardown(self):
        self.folder.cleanup()

    # -- the reference model ---------------------------------------------------------------

    def mine(self) -> Chat | None:
        return next((c for c in self.chats if c.state in ("new", "active")), None)

    def present(self, at: int) -> None:
        if self.presence != "available" or self.mine() is not None:
            return
        queued = [c for c in self.chats if c.state == "queued"]
        if not queued:
            return
        chat = min(queued, key=lambda c: c.number)
        chat.state = "new"
        chat.timers.pop("patience", None)
        if self.cfg["offer"] is not None:
            chat.timers["offer"] = at + self.cfg["offer"]

    def leave(self, chat: Chat, at: int, reason: str) -> None:
        chat.state, chat.closed_at, chat.reason = "closed", at, reason
        chat.timers.clear()
        chat.awaiting, chat.alerting = None, False

    def settle(self) -> None:
        while True:
            due = [(deadline, 0, c.number, RANK[kind], kind, c) for c in self.chats for kind, deadline in c.timers.items()
                   if deadline <= self.now]
            if self.break_deadline is not None and self.break_deadline <= self.now:
                due.append((self.break_deadline, 1, 0, 0, "break", None))
            if not due:
                return
            at, _, _, _, kind, chat = min(due, key=lambda d: d[:4])
            if kind == "break":
                self.break_deadline, self.overrun = None, at
            else:
                del chat.timers[kind]
                if kind == "offer":
                    chat.state = "queued"
                    self.presence, self.reason = "not-responding", None
                    self.break_deadline = self.overrun = None
                    patience = chat.own_patience if chat.own_patience is not None else self.cfg["patience"]
                    if patience is not None:
                        chat.timers["patience"] = max(at, chat.waiting_since + patience)
                    chat.timers.pop("idle", None)
                elif kind == "patience":
                    self.leave(chat, at, "abandoned")
                elif kind == "idle":
                    self.leave(chat, at, "wrapup-expired")  # wrap-up 0 s: closed at once
                elif kind == "alert":
                    chat.alerting = True
            self.present(at)

    def act(self) -> None:
        self.settle()
        self.present(self.now)
        self.settle()

    # -- the rules -------------------------------------------------------------------------------

    @rule(own=st.none() | st.sampled_from([2_000, 20_000]))
    def new(self, own):
        self.e.chat_new(patience=None if own is None else f"{own}ms")
        chat = Chat(len(self.chats) + 1, self.now, own)
        patience = own if own is not None else self.cfg["patience"]
        if patience is not None:
            chat.timers["patience"] = self.now + patience
        self.chats.append(chat)
        self.act()

    @rule()
    def activate(self):
        chat = self.mine()
        if chat is None or chat.state != "new":
            return
        self.e.chat_activate(chat.id)
        chat.state = "active"
        chat.timers.pop("offer", None)
        self.act()

    @rule()
    def send(self):
        chat = self.mine()
        if chat is None or chat.state != "active":
            return
        self.e.chat_send(chat.id, "hello")
        chat.awaiting, chat.alerting = None, False
        chat.timers.pop("alert", None)
        if self.cfg["idle"] is not None:
            chat.timers["idle"] = self.now + self.cfg["idle"]
        self.act()

    @rule(pick=st.integers(0, 5))
    def receive(self, pick):
        present = [c for c in self.chats if c.state in ("queued", "new", "active")]
        if not present:
            return
        chat = present[pick % len(present)]
        self.e.chat_receive(chat.id, "hi")
        if chat.awaiting is None:
            chat.awaiting = self.now
            if self.cfg["alert"] is not None:
                chat.timers["alert"] = self.now + self.cfg["alert"]
        chat.timers.pop("idle", None)
        self.act()

    @rule(lunch=st.booleans())
    def take_break(self, lunch):
        reason = "lunch" if lunch else None
        self.e.agent_presence("break", reason)
        if (self.presence, self.reason) != ("break", reason):  # the same break again changes nothing
            self.presence, self.reason = "break", reason
            self.overrun = None
            self.break_deadline = self.now + self.cfg["limit"] if lunch and self.cfg["limit"] is not None else None
        self.act()

    @rule()
    def available(self):
        self.e.agent_presence("available")
        self.presence, self.reason = "available", None
        self.break_deadline = self.overrun = None
        self.act()

    @rule(ms=st.sampled_from([0, 500, 1_000, 4_000, 30_000, 61_000, 600_000]))
    def advance(self, ms):
        self.e.clock_advance(ms)
        self.now += ms
        self.act()

    # -- the comparison ---------------------------------------------------------------------------

    @invariant()
    def agrees(self):
        if not hasattr(self, "e"):
            return
        for chat in self.chats:
            got = self.e.chat_show(chat.id).value
            want_closed = None if chat.closed_at is None else _iso(chat.closed_at)
            assert (got["state"], got["closed_at"], got["closed_reason"], got["alerting"]) == (
                chat.state, want_closed, chat.reason, chat.alerting), (chat.id, got, vars(chat))
            assert got["awaiting_reply_since"] == (None if chat.awaiting is None else _iso(chat.awaiting))
        agent = self.e.agent_status().value
        assert agent["presence"] == self.presence, agent
        assert agent["break_overrun_since"] == (None if self.overrun is None else _iso(self.overrun)), agent
        assert check_path(self.path) == []


def _iso(ms: int) -> str:
    from chatemu.store.timefmt import format_time

    return format_time(ms)


ClocksMachine.TestCase.settings = settings(max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None,
                                           suppress_health_check=list(HealthCheck))
TestClocks = ClocksMachine.TestCase
