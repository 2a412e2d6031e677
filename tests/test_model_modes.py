"""Model-based test of the modes: the engine against the reference model of ``test_model``,
extended with queues that refuse, wrap-up modes, calls that park nothing and agents who drop.

``ModesModel`` adds to ``test_model.Model`` (written from the rules in docs/model.md,
independently of the engine's code):

- ``max-queue-length`` and ``when-no-agent`` (per queue): ``chat new`` without ``--inbox`` into
  a queue holding that many waiting chats, or that no logged-in agent (available, on a break or
  unavailable) serves with it switched on, is refused (3) and changes nothing;
- ``wrapup-mode`` (per queue): ``untimed`` starts a wrap-up with no timer (extensions 0), which
  only ``--finish`` closes and nothing extends, whatever the queue says later; ``no-early-exit``
  refuses ``--finish`` on a wrap-up whose timer runs or is paused (read when finishing);
  ``optional`` lets ``--finish`` close an active chat at once (``wrapup-skipped``); ``off``
  closes a chat the customer ends (or the agent wraps up) at once (``no-wrapup``);
- ``timeout-classification`` (per queue): a chat the timer closes unclassified gets the code;
- ``call-parks-chats off``: a call moves no chat, and neither activating nor returning waits for
  its end; changing the key is refused (3) while an agent is on a call;
- ``agent disconnect``: refused (3) when logged out; the agent's ``new`` chats go back queued to
  their queue (keeping their place), its presence becomes ``unavailable``; an unavailable agent
  takes nothing, gets nothing in its inbox (``--inbox``, presentation, transfers) until
  ``agent available`` or ``agent login``.

The machine plays every rule of ``test_model.ChatemuMachine`` and these settings and
``agent disconnect`` besides, with ``db check`` after every step.  Size: as ``test_model``
(``CHATEMU_MODEL_EXAMPLES``, ``CHATEMU_MODEL_STEPS``).
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st
from hypothesis.stateful import initialize, rule
from test_model import (ACTIVE, ACTIVE_WRAPUP, AGENTS, NEW, PARKED, PARKED_WRAPUP, QUEUED, QUEUES, TYPO,
                        ChatemuMachine, MChat, Model, Refuse, actors)

MODE_KEYS = {"max-queue-length": None, "when-no-agent": "queue", "wrapup-mode": "timed", "timeout-classification": None}
WRAPUP = {ACTIVE_WRAPUP, PARKED_WRAPUP}


@dataclass
class ModeChat(MChat):
    def left(self, now: int) -> int | None:
        if self.state == ACTIVE_WRAPUP and self.deadline is None:
            return None  # an untimed wrap-up
        return super().left(now)


class ModesModel(Model):
    Chat = ModeChat

    def __init__(self, now: int):
        super().__init__(now)
        self.modes: dict[tuple[str, str], object] = {}  # (queue or "", key) -> value
        self.parks = True

    def __deepcopy__(self, memo) -> "ModesModel":
        new = super().__deepcopy__(memo)
        new.modes = dict(self.modes)
        return new

    def mode(self, key: str, queue: str):
        return self.modes.get((queue, key), self.modes.get(("", key), MODE_KEYS[key]))

    @staticmethod
    def untimed(c: MChat) -> bool:
        return c.state in WRAPUP and c.deadline is None and c.remaining is None

    # -- wrap-up ------------------------------------------------------------------------------

    def start_wrapup(self, c: MChat, running: bool) -> None:
        if self.mode("wrapup-mode", c.queue) == "untimed":
            c.extension, c.extensions_left, c.deadline, c.remaining = 0, 0, None, None
        else:
            super().start_wrapup(c, running)

    def pause(self, c: MChat) -> None:
        if c.deadline is not None:
            super().pause(c)

    def resume(self, c: MChat) -> None:
        if c.remaining is not None:
            super().resume(c)

    def run_out(self, c: MChat, at: int) -> None:
        if c.classification is None:
            c.classification = self.mode("timeout-classification", c.queue)
        super().run_out(c, at)

    def end(self, me, cid) -> None:
        self.begin(me, customer=True)
        c = self.chat(cid)
        if c.state in (NEW, PARKED, ACTIVE) and self.mode("wrapup-mode", c.queue) == "off":
            self.close(c, "no-wrapup", self.now)
            self.finish()
            return
        super().end(me, cid)  # begins again: nothing is due twice at one instant

    def wrapup(self, me, cid, mode) -> None:
        self.begin(me)
        c = self.mine(me, cid)
        queue_mode = self.mode("wrapup-mode", c.queue)
        if mode == "" and c.state == ACTIVE and queue_mode == "off":
            self.close(c, "no-wrapup", self.now)
        elif mode == "extend" and c.state == ACTIVE_WRAPUP and self.untimed(c):
            raise Refuse(3, f"cannot extend {c.state}: it has no timer")
        elif mode == "finish" and c.state == ACTIVE and queue_mode == "optional":
            if c.classification is None and self.setting("classification-required", c.queue):
                raise Refuse(3, f"cannot finish {c.state}: queue {c.queue} requires a classification")
            self.close(c, "wrapup-skipped", self.now)
        elif (mode == "finish" and c.state == ACTIVE_WRAPUP and not self.untimed(c)
              and queue_mode == "no-early-exit"):
            raise Refuse(3, f"cannot finish {c.state}: its timer has not run out")
        else:
            super().wrapup(me, cid, mode)
            return
        self.finish()

    # -- queues that refuse -----------------------------------------------------------------

    def refuse_new(self, me, queue, inbox) -> None:
        if not inbox:
            limit = self.mode("max-queue-length", queue)
            waiting = sum(1 for c in self.chats.values() if c.state == QUEUED and c.queue == queue)
            if limit is not None and waiting >= limit:
                raise Refuse(3, f"queue {queue} is full")
            if self.mode("when-no-agent", queue) == "refuse" and not any(
                    a.presence != "logged-out" and (self.serving(a) is None or queue in self.serving(a))
                    for a in self.agents.values()):
                raise Refuse(3, f"no logged-in agent serves queue {queue}")
        elif self.agents[me].presence == "unavailable":
            raise Refuse(3, f"{me} is unavailable")

    # -- calls --------------------------------------------------------------------------------

    def calls_park(self) -> bool:
        return self.parks

    # -- an agent who drops ----------------------------------------------------------------------

    def take(self, me, cid) -> None:
        self.begin(me)
        c = self.chat(cid)
        if c.state == QUEUED and self.agents[me].presence == "unavailable":
            raise Refuse(3, f"{me} is unavailable")
        super().take(me, cid)

    def disconnect(self, me) -> None:
        self.begin(me)
        a = self.agents[me]
        if a.presence == "logged-out":
            raise Refuse(3, f"{me} is logged out")
        for c in [c for c in self.chats.values() if c.agent == me and c.state == NEW]:
            self.set_state(c, QUEUED, self.now)
            c.agent = None
        if a.presence != "unavailable":
            self.set_presence(a, "unavailable")
        self.finish()

    # -- settings -------------------------------------------------------------------------------

    def config(self, key, value, queue, agent=None) -> None:
        if key == "call-parks-chats":
            self.begin()
            if value != self.parks and any(a.on_call for a in self.agents.values()):
                raise Refuse(3, "an agent is on a call")
            self.parks = value
            self.finish()
        elif key in MODE_KEYS:
            self.begin()
            self.named(queue)
            self.modes[(queue or "", key)] = value
            self.finish()
        else:
            super().config(key, value, queue, agent)


mode_changes = st.one_of(
    st.tuples(st.just("max-queue-length"), st.sampled_from([1, 2, None]), st.sampled_from([None, "sales"])),
    st.tuples(st.just("when-no-agent"), st.sampled_from(["refuse", "queue"]), st.sampled_from([None, "vip"])),
    st.tuples(st.just("wrapup-mode"), st.sampled_from(["untimed", "no-early-exit", "optional", "off", "timed"]),
              st.sampled_from([None, None, "sales"])),
    st.tuples(st.just("timeout-classification"), st.sampled_from(["no-answer", None]), st.sampled_from([None, "sales"])),
    st.tuples(st.just("call-parks-chats"), st.booleans(), st.none()),
)


class ModesMachine(ChatemuMachine):
    def __init__(self):
        super().__init__()
        self.model = ModesModel(self.model.now)

    @initialize(wrapup=st.sampled_from(["untimed", "no-early-exit", "optional", "off", "timed"]),
                parks=st.booleans(), setup=st.lists(mode_changes, max_size=2))
    def modes_from_the_start(self, wrapup, parks, setup):
        """A wrap-up mode and a call setting from the start, and maybe more, so that every
        history runs under some of them."""
        for setting in (("wrapup-mode", wrapup, None), ("call-parks-chats", parks, None), *setup):
            self.mode_set(setting)

    @rule(setting=mode_changes)
    def mode_set(self, setting):
        key, value, queue = setting
        text = "off" if value is None else ("on" if value else "off") if isinstance(value, bool) else str(value)
        self.config_step(key, value, text, queue)

    @rule(agent=st.sampled_from([*AGENTS, *AGENTS, TYPO]), back=st.booleans())
    def disconnect(self, agent, back):
        """``agent disconnect``, and now and then ``agent available`` at once (reconnected)."""
        self.step(f"{agent}: agent disconnect", lambda: self.engines[agent].agent_disconnect(),
                  lambda m: m.disconnect(agent))
        if back:
            self.step(f"{agent}: agent available", lambda: self.engines[agent].agent_presence("available"),
                      lambda m: m.presence(agent, "available"))

    @rule(chat=ChatemuMachine.chats, how=st.sampled_from(["end", "end", "wrapup", "finish", "finish", "extend"]))
    def conversation_ends(self, chat, how):
        """The conversation of a chat in an inbox ends (the customer leaves, or the agent wraps up,
        finishes or extends): where the wrap-up modes differ."""
        if how == "end":
            chat = self.aimed(chat, True, "wrapup")  # an active chat, if any
            self.end("owner", chat, self.model.chats[chat].state == QUEUED)
        else:
            self.wrapup("owner", chat, True, "" if how == "wrapup" else how)

    @rule(agent=actors, queue=st.sampled_from(QUEUES))
    def crowd(self, agent, queue):
        """Two customers at once into one queue, so that a short queue fills."""
        for _ in range(2):
            self.step(f"{agent}: chat new --queue {queue}",
                      lambda: self.engines[agent].chat_new(None, queue, 0, None, False),
                      lambda m: m.chat_new(agent, queue, 0, None, False))


ModesMachine.TestCase.settings = ChatemuMachine.TestCase.settings
TestModesAgainstModel = ModesMachine.TestCase
