"""Running a simulation (``chatemu simulate``) on a database, through the engine.

Virtual customers and agents do only what a script could do, each step one engine
command run as that command runs (``Engine._run``: settle, apply, settle, present,
events): ``chat new`` when a customer arrives, ``chat end`` on a chat still queued when
one gives up (it closes ``abandoned``), ``chat activate`` after an agent's reply delay
from the presentation, ``chat receive``/``chat send`` for the messages, ``chat end``
when the customer leaves, ``chat wrapup --finish`` after the wrap-up (or the wrap-up
timer runs out), and ``clock set`` to the instant of each step.  The steps come from a
heap of the next virtual instants (``simulate.Plan``); what each command's events say
(a presentation to a virtual agent, a chat closing) schedules the next ones.

Commands are batched: several run inside one SQLite transaction, each in a savepoint of
its own, and each as alone (settle, apply, settle, present, log) over one ``Tx`` carried
from command to command, whose caches (the clock, the next chat number, the earliest
timer, the agents whose facts changed since the last presentation) hold what a new ``Tx``
would read back from what the previous command committed; a refused command drops it.  So
the events and state are what separate transactions give: ``tests/test_simulate.py``
compares batched runs with unbatched ones (``--commit-every 1``) byte for byte.

The plan is kept in the database between runs (a config row, ``simulation``), so a run
stopped with ``--until`` (or Ctrl-C in ``--live``) is carried on by the next one.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

from . import agents, chats, clock, core, messages
from .engine import Engine
from .errors import ChatemuError, Refused
from .simulate import (ABANDON, ACTIVATE, ARRIVE, END, FINISH, RECEIVE, SEND, TICK, DEFAULT_START, Model,
                       Plan)
from .timefmt import format_time, parse_time
from .tx import Tx

#: The config-like row the plan is kept in (``config.SIMULATION``).
KEY = "simulation"
_OPEN_TALK = (core.NEW, core.ACTIVE, core.PARKED)


class SimEngine(Engine):
    """The engine, with commands batched: between ``begin`` and ``commit`` each command runs
    in a savepoint of the one open transaction instead of a transaction of its own."""

    batching = False
    _tx: Tx | None = None  # the transaction's state, carried from one command of a batch to the next
    batch = 2000  # commands per transaction (1: each its own, as separate command lines run)
    clock_to: int | None = None  # while batching: the instant the next command first moves the clock to
    _agents: frozenset | set = frozenset()  # agents that acted in this batch (so exist: none is removed in it)

    def begin(self) -> None:
        if self.batch <= 1:
            return
        conn = self.connections.open[self.key][0]
        conn.execute("BEGIN IMMEDIATE")
        self.batching = True
        self._tx = None
        self._agents = set()

    def commit(self) -> None:
        if self.batching:
            self.batching = False
            self.connections.open[self.key][0].execute("COMMIT")

    def rollback(self) -> None:
        if self.batching:
            self.batching = False
            conn = self.connections.open[self.key][0]
            if conn.in_transaction:
                conn.execute("ROLLBACK")

    @contextmanager
    def _writing(self, acting) -> Iterator[Tx]:
        if not self.batching:
            with super()._writing(acting) as tx:
                yield tx
            return
        conn = self.connections.open[self.key][0]
        conn.execute("SAVEPOINT simulate")
        moving = self.clock_to
        try:
            # What ``Engine._start`` does once the transaction has begun (the schema is current),
            # over the transaction's state as the previous command of the batch left it.
            tx = self._tx
            if tx is None:
                tx = self._tx = Tx(conn, self.wall(), self.agent)
            else:
                tx.agent, tx.agent_exists = self.agent, self.agent in self._agents
                tx.appended, tx.finished, tx.due, tx.at = [], False, False, tx.now
            tx.settle()
            if acting:
                agents.ensure(tx, self.agent, acting)
                if acting is agents.AGENT:  # it exists now (or the command was refused)
                    self._agents.add(self.agent)
            if self.clock_to is not None:
                # ``clock set`` to the step's instant, as that command does it (``clock.move_to``,
                # then what ``Tx.finish`` does: settle what became due, each at its instant, and present).
                clock.move_to(tx, self.clock_to)
                tx.at = tx.now  # as a new Tx starts at the clock's instant
                self.clock_to = None
                tx.flush_status()
                if tx.due:
                    tx.settle()
                tx.present()
            yield tx
            tx.finish()
            tx.stored_clock = (tx.mode, tx.now, tx.offset)
            conn.execute("RELEASE simulate")
        except BaseException:
            self._tx = None  # what it knew may be what was rolled back
            self._agents = set()
            self.clock_to = moving  # the next command moves the clock instead
            conn.execute("ROLLBACK TO simulate")
            conn.execute("RELEASE simulate")
            raise


def _quiet(command: Callable) -> Callable:
    """The command without its view (the view only reads the chat back)."""
    def run(tx, *args):
        command(tx, *args)
    return run


_NEW, _ACTIVATE, _END, _WRAPUP, _SEND, _RECEIVE, _CLOCK = (
    _quiet(chats.new), _quiet(chats.activate), _quiet(chats.end), _quiet(chats.wrapup), _quiet(messages.send),
    _quiet(messages.receive), _quiet(clock.set_))


def _facts(tx) -> dict:
    """What a run needs to know of the database before it starts."""
    found = tx.q("SELECT value FROM config WHERE queue = '' AND key = ?", KEY).fetchone()
    return {
        "now": tx.now, "mode": tx.mode, "seq": tx.q("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0], "pristine": clock.pristine(tx), "plan": None if found is None else found[0],
        "agents": {row[0] for row in tx.q("SELECT id FROM agents")},
        "queues": {row[0] for row in tx.q("SELECT name FROM queues")},
        "open": {row[0]: (row[1], row[2]) for row in tx.q("SELECT id, state, agent FROM chats WHERE state != 'closed'")},
    }


def _save(tx, text: str | None) -> None:
    if text is None:
        tx.q("DELETE FROM config WHERE queue = '' AND key = ?", KEY)
    else:
        tx.q("INSERT INTO config (queue, key, value) VALUES ('', ?, ?)"
             " ON CONFLICT (queue, key) DO UPDATE SET value = excluded.value", KEY, text)


class Simulation:
    """One run of a model on a database (``run``); counts what it did."""

    def __init__(self, engine: SimEngine, model: Model):
        self.engine = engine
        self.model = model
        self.groups = model.agents()  # virtual agent → its group
        self.state: dict[str, list] = {}  # open chat → [state, agent]
        self.now = 0
        self.commands = 0
        self.steps = 0  # the plan's steps taken (each a customer's or an agent's move, or a tick)
        self.events = 0
        self.refused = 0
        self.plan: Plan | None = None
        self.live = False  # --live: people work beside the simulation (``poll``)
        self.real = False  # the database's clock is real: it is never set
        self.seen = 0  # --live: the last event followed
        self._pending = 0

    # -- set up or carry on ------------------------------------------------------------

    def prepare(self, live: bool = False) -> None:
        engine = self.engine
        facts = engine._read(_facts).value
        if facts["mode"] != clock.VIRTUAL and not live:
            raise Refused("cannot simulate on a real clock: the simulation moves the virtual clock"
                          " (chatemu clock virtual), or use --live")
        self.now = facts["now"]
        self.live, self.real, self.seen = live, facts["mode"] != clock.VIRTUAL, facts["seq"]
        self.state = {chat: [state, agent] for chat, (state, agent) in facts["open"].items()}
        if facts["plan"] is not None:
            self.plan = Plan.loads(self.model, facts["plan"])
        else:
            start = self.model.start
            if start is None:
                start = parse_time(DEFAULT_START) if facts["pristine"] else self.now
            if start < self.now and not facts["pristine"]:
                raise Refused(f"cannot start the simulation at {format_time(start)}: the database's clock is at"
                              f" {format_time(self.now)} and never moves backwards (leave start out to start now)")
            self.plan = Plan(self.model, start)
            self._setup(facts, start)

    def _setup(self, facts: dict, start: int) -> None:
        """The clock at the start, the model's queues, its agents logged in to their queues."""
        engine = self.engine
        if start != self.now or facts["pristine"]:
            self._run(_CLOCK, start, acting=False)
            self.now = start
        for queue in self.model.queues:
            self._run(_quiet(_queue_add), queue.name, acting=False)
        for agent, group in self.groups.items():
            engine.agent = agent
            self._run(_quiet(agents.login), acting=False)
            self._run(_quiet(_queues_set), list(group.queues))
            self._run(_quiet(_max_chats), agent, group.max_chats, acting=False)

    # -- running -----------------------------------------------------------------------

    def _run(self, command: Callable, *args, acting=agents.AGENT):
        result = self.engine._run(command, *args, acting=acting)
        self.commands += 1
        self._pending += 1
        if self.live:
            self.poll()
        else:
            self._seen(result.events)
        return result

    def poll(self) -> None:
        """``--live``: follow the event log (people's commands move chats too), not only the
        events of the simulation's own commands."""
        rows = self.engine._read(_events_since, self.seen).value
        if rows:
            self.seen = rows[-1]["seq"]
            self._seen(rows)

    def _seen(self, events: list[dict]) -> None:
        """Follow the chats' states; a presentation to a virtual agent schedules its activation."""
        self.events += len(events)
        now_text = None  # the step's instant as events show it, made when a presentation needs it
        for ev in events:
            chat = ev["chat"]
            if chat is None:
                continue
            to = ev["to"]
            if to == core.CLOSED:
                self.state.pop(chat, None)
                self.plan.customers.pop(chat, None)
                continue
            self.state[chat] = [to, ev["agent"]]
            if ev["cause"] == "presentation":
                group = self.groups.get(ev["agent"])
                if group is not None:
                    if now_text is None:
                        now_text = format_time(self.now)
                    at = self.now if ev["at"] == now_text else parse_time(ev["at"])
                    self.plan.push(max(self.now, at + group.reply_delay), ACTIVATE, chat, ev["agent"])
            elif to == core.ACTIVE and ev["from"] == core.NEW:
                self._talk(chat, ev["agent"])

    def _talk(self, chat: str, agent: str) -> None:
        """A customer's chat is active for the first time (whoever's agent activated it): its
        messages, spread evenly over its handle time, each answered (by a virtual agent) halfway
        to the next, and its end."""
        plan = self.plan
        found = plan.customers.get(chat)
        if found is None or len(found) > 2:
            return  # not a simulated customer, or talking already
        handle, count = found
        found.append(1)
        steps = 2 * count + 1
        virtual = agent in self.groups
        for k in range(1, count + 1):
            plan.push(self.now + handle * (2 * k - 1) // steps, RECEIVE, chat, str(k))
            if virtual:
                plan.push(self.now + handle * 2 * k // steps, SEND, chat, agent)
        plan.push(self.now + handle, END, chat)

    def _clock(self, at: int) -> None:
        """``clock set`` to the step's instant; while batching, done by the next command first.
        On a real clock (``--live``) the clock runs by itself."""
        if at > self.now:
            self.now = at
            if self.real:
                return
            if self.engine.batching:
                self.engine.clock_to = at
                self.commands += 1
            else:
                self._run(_CLOCK, at, acting=False)

    def _as(self, agent: str, command: Callable, *args):
        self.engine.agent = agent
        return self._run(command, *args)

    def run(self, until: int | None = None, progress: Callable[[int], None] | None = None,
            stop: Callable[[], bool] | None = None, pace: Callable[[int], None] | None = None) -> bool:
        """Take the plan's steps in time order, up to (not including) ``until``; True when the
        plan is done.  ``pace(at)``: called before each step's instant (``--live`` waits there);
        ``stop()``: asked between steps (Ctrl-C)."""
        plan, engine = self.plan, self.engine
        heap = plan.heap
        engine.begin()
        try:
            while heap and (until is None or heap[0][0] < until):
                if pace is not None:
                    engine.commit()
                    pace(heap[0][0])
                    if stop is not None and stop():
                        break
                    engine.begin()
                at, _, kind, subject, agent = plan.pop()
                self.steps += 1
                self._clock(at)
                if self.live:
                    self.poll()
                    try:
                        self._step(kind, subject, agent)
                    except ChatemuError:  # someone changed the chat meanwhile
                        self.refused += 1
                else:
                    self._step(kind, subject, agent)
                if self._pending >= engine.batch:
                    engine.commit()
                    engine.begin()
                    self._pending = 0
                    if progress is not None:
                        progress(self.now)
                if stop is not None and stop():
                    break
            done = not heap
            if until is not None and not done and pace is None:
                self._clock(until)
            self._run(_save, None if done else plan.dumps(self.now), acting=False)
            engine.commit()
        except BaseException:
            engine.rollback()
            raise
        return done

    def _step(self, kind: str, subject: str, agent: str | None) -> None:
        plan = self.plan
        found = self.state.get(subject)
        state = found[0] if found is not None else None
        if kind == ARRIVE:
            queue = plan.queues[subject]
            handle, count, patience = plan.customer(subject)
            result = self._run(_new_chat, subject, queue.priority, acting=agents.CUSTOMER)
            chat = result.value
            if chat in self.state:  # not closed at once
                plan.customers[chat] = [handle, count]
            if patience is not None:
                plan.push(self.now + patience, ABANDON, chat)
            plan.next_arrival(subject, self.now)
        elif kind == ABANDON:
            if state == core.QUEUED:
                self._run(_END, subject, acting=agents.CUSTOMER)
        elif kind == ACTIVATE:
            if state == core.NEW and found[1] == agent:
                self._as(agent, _ACTIVATE, subject)  # the customer starts talking (``_talk``)
        elif kind == RECEIVE:
            if state in _OPEN_TALK:
                self._run(_RECEIVE, subject, f"customer message {agent}", acting=False)
        elif kind == SEND:
            if state == core.PARKED and found[1] == agent:
                self._as(agent, _ACTIVATE, subject)
                state = self.state.get(subject, [None])[0]
            if state == core.ACTIVE and found[1] == agent:
                self._as(agent, _SEND, subject, "agent reply", None)
        elif kind == END:
            if state in _OPEN_TALK:
                owner = found[1]
                group = self.groups.get(owner)
                timer = group is not None and group.wrapup is None
                deadline = self._run(_END_DEADLINE if timer else _END, subject, acting=agents.CUSTOMER).value
                if group is None or subject not in self.state:
                    return
                if timer:
                    self._timer(subject, owner, deadline)
                else:
                    plan.push(self.now + group.wrapup, FINISH, subject, owner)
        elif kind == FINISH:
            if state == core.PARKED_WRAPUP and found[1] == agent:
                self._as(agent, _ACTIVATE, subject)
                state = self.state.get(subject, [None])[0]
            if state == core.ACTIVE_WRAPUP and found[1] == agent:
                try:
                    self._as(agent, _WRAPUP, subject, False, True)
                except Refused:
                    self.refused += 1
        elif kind == TICK:
            if state in core.WRAPUP_STATES:
                self._timer(subject, found[1], self._run(_DEADLINE, subject, acting=False).value)

    def _timer(self, chat: str, owner: str, deadline: int | None) -> None:
        """The agent lets the wrap-up timer run out: it resumes a parked wrap-up, and the clock
        is brought to the timer's deadline (a tick), where the engine closes the chat."""
        state = self.state.get(chat, [None])[0]
        if state == core.PARKED_WRAPUP:
            if owner not in self.groups:
                return
            deadline = self._as(owner, _ACTIVATE_DEADLINE, chat).value
        if deadline is not None:
            self.plan.push(max(deadline, self.now), TICK, chat)


def _events_since(tx, seq: int) -> list[dict]:
    return [{"seq": row[0], "at": format_time(row[1]), "agent": row[2], "chat": row[3], "from": row[4], "to": row[5],
             "cause": row[6]}
            for row in tx.q("SELECT seq, at_ms, agent, chat, from_state, to_state, cause FROM events WHERE seq > ?"
                            " ORDER BY seq", seq)]


def _new_chat(tx, queue: str, priority: int) -> str:
    """``chat new`` in the queue; its value: the new chat's id."""
    chats.new(tx, None, queue, priority, None, False)
    return next(ev["chat"] for ev in reversed(tx.appended) if ev["from"] is None and ev["chat"])


def _deadline(tx, chat: str):
    """The chat's running wrap-up timer's deadline once the command is done (None: none runs)."""
    def read():
        found = tx.q("SELECT wrapup_deadline_ms FROM chats WHERE id = ?", chat).fetchone()
        return None if found is None else found[0]
    return read


def _then_deadline(command: Callable) -> Callable:
    def run(tx, chat, *args):
        command(tx, chat, *args)
        return _deadline(tx, chat)
    return run


_END_DEADLINE, _ACTIVATE_DEADLINE = _then_deadline(chats.end), _then_deadline(chats.activate)
_DEADLINE = _deadline  # changes nothing: only reads the deadline, inside the batch


def _queue_add(tx, name: str):
    from . import queues

    return queues.add(tx, name)


def _queues_set(tx, names: list[str]):
    from . import queues

    return queues.set_(tx, names)


def _max_chats(tx, agent: str, count: int):
    from . import config

    return config.set_(tx, "max-chats", str(count), None, agent)
