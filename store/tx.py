"""One command's transaction: the plumbing every concern's functions work over.

A ``Tx`` holds the connection, the database's clock (``now``; ``at``, the
instant being applied, which is a timer's deadline while settling), the
events appended so far, and the config read once.  It settles due timers and
presents queued chats; everything else lives in the concern modules
(``chats``, ``messages``, ``agents``, ``clock``, ``config``, ``journal``,
``explain``, ``snapshots``, ``contacts``), each a set of functions taking
the ``Tx`` as their first argument.
"""

from __future__ import annotations

import heapq
import sqlite3

from . import chats, clocks, core, routing
from . import free as free_agents
from . import config as cfg
from .clock import VIRTUAL, clock_now
from .timefmt import format_time

_BEGIN = (
    "SELECT mode, now_ms, offset_ms, next_chat,"
    f" CASE mode WHEN 'virtual' THEN NULL ELSE {clocks.FIRST_DUE} END AS first_due,"
    " EXISTS (SELECT 1 FROM chats WHERE state = 'queued') AS queued,"
    " (SELECT last_activity_ms FROM agents WHERE id = ?) AS agent_activity"
    " FROM meta WHERE id = 1"
)
_NAMES: dict[str, tuple[str, ...]] = {}  # a query's column names, for ``Tx.records``
#: At most this many agents that may be free are read at a time (the queue's chats, at most).
FREE_BATCH = 64
_KINDS = clocks.kinds(chats.FIELDS)
_KIND = {kind.name: kind for kind in _KINDS}
_UNREAD = object()  # a config value not decoded yet
_INSERT_EVENT = "INSERT INTO events (at_ms, agent, chat, from_state, to_state, cause, queue) VALUES (?, ?, ?, ?, ?, ?, ?)"


class Tx:
    """The state of one command's transaction: the connection, the time, the events."""

    # How every transaction starts, for what no command changes in place: class attributes, so
    # a transaction sets only what is its own.
    due = False  # whether a timer may have become due since the last settle
    finished = False
    # Agents whose facts changed since the last presentation; None: look at every agent (the
    # first presentation of a command, after a chat joined a queue, after a config change).
    touched: set[str] | None = None
    _config: dict[tuple[str, str], str] | None = None  # the config table, read once when needed
    # While settling (None otherwise), what is written once the timers have run out:
    # the events (numbered here as AUTOINCREMENT would number them) and each agent's
    # last activity; and the queue's head, read ahead in presentation order.
    _events: list[tuple] | None = None
    _next_seq: int | None = None
    _idle_since: dict[str, int] | None = None
    _head: list[dict] | None = None
    _head_whole = False  # the head read ahead is the whole queue
    _membership: bool | None = None  # whether any agent_queues row exists (None: not known)
    # While settling (None otherwise): the subjects (chat ids) changed since their due rows were
    # read, and the timers started that are due already (merged in at their place).
    _dirty: set[str] | None = None
    _fresh: list[tuple] | None = None
    _fresh_bound: tuple | None = None

    def __init__(self, conn: sqlite3.Connection, wall_ms: int, agent: str):
        conn.row_factory = sqlite3.Row
        self.conn = conn
        self._plain = conn.cursor()  # plain tuples, for ``records``
        self._plain.row_factory = None
        self.agent = agent
        self.wall_ms = wall_ms
        self.appended: list[dict] = []
        # One statement for what commands need first: the clock, the next chat number, the earliest running
        # timer (settling looks no further when it is not due), whether a chat is queued
        # (presentation looks no further when none is) and the acting agent's last activity (None:
        # it does not exist yet).
        mode, now_ms, offset, next_chat, first_due, queued, activity = self._plain.execute(_BEGIN, (agent,)).fetchone()
        self.next_chat: int | None = next_chat  # the next chat's number (None: read it again)
        self.mode = mode
        self.offset = offset
        self.stored_clock = (mode, now_ms, offset)
        self.now = clock_now(mode, now_ms, offset, wall_ms)
        self.at = self.now  # the instant being applied (a timer's deadline while settling)
        self._values: dict[tuple[str, str | None], object] = {}  # config values, decoded once
        # Whether a chat may be queued: False only when known that none is (so presentation
        # needs no query at all); None when not known yet.
        self.queued: bool | None = bool(queued)
        self.agent_exists = activity is not None
        # No running timer is due before this instant (None: none runs at all); False: not known.
        self._no_due_before: int | None | bool = first_due
        # On a virtual clock the first deadline is read only once the clock moves: no running timer
        # is due at or before the stored clock (``db check`` holds every state to that, however it
        # got in), so until then the first deadline is one a command sets (``timer_set``), if any.
        self._due_unread = mode == VIRTUAL
        if self._due_unread:
            self._no_due_before = None
        # Each agent's last_activity_ms as this transaction knows it (read, or given): giving
        # the same instant again (a timer's expiry, then a presentation to the agent it freed;
        # a command at the instant of the agent's last one) writes nothing.
        self._activity: dict[str, int] = {agent: activity} if self.agent_exists else {}
        self._status_pending: dict[str, str] = {}  # agent → the cause of a move that may change its status
        # Agents whose kept free flag (``free``) may be out of date; None: every agent's.
        self._stale: set[str] | None = set()

    def q(self, sql: str, *params) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def records(self, sql: str, *params) -> list[dict]:
        """The rows as dicts: a row read field by field (a chat's, by ``move`` and when shown)
        is looked up by name many times, which a dict does faster than ``sqlite3.Row``."""
        cur = self._plain.execute(sql, params)
        names = _NAMES.get(sql)
        if names is None:
            names = _NAMES[sql] = tuple(d[0] for d in cur.description)
        return [dict(zip(names, found)) for found in cur]

    def record(self, sql: str, *params) -> dict | None:
        found = self.records(sql, *params)
        return found[0] if found else None

    def exists(self, sql: str, *params) -> bool:
        return self.conn.execute(f"SELECT EXISTS ({sql})", params).fetchone()[0] == 1

    def finish(self) -> None:
        """After the command: settle what it made due, present (and settle what presenting made
        due: an offer that times out at once), store the clock."""
        if self.finished:
            return
        self.flush_status()
        if self.due:
            self.settle()
        self.present()
        if self.due:
            self.settle()  # (settling presents after each timer it runs out)
        self.refresh_free()
        clock = (self.mode, self.now, self.offset)
        if clock != self.stored_clock:
            self.q("UPDATE meta SET mode = ?, now_ms = ?, offset_ms = ? WHERE id = 1", *clock)
        self.finished = True

    def config(self, name: str, queue: str | None = None):
        value = self._values.get((name, queue), _UNREAD)
        if value is not _UNREAD:
            return value
        if self._config is None:
            self._config = {(q, key): value for q, key, value in self._plain.execute("SELECT queue, key, value FROM config")}
        k = cfg.KEYS[name]
        stored = self._config.get((queue, name)) if queue is not None and k.per_queue else None
        if stored is None:
            stored = self._config.get(("", name))
        value = self._values[name, queue] = k.default if stored is None else cfg.decode(k, stored)
        return value

    def config_changed(self) -> None:
        """The config, or the whole state (restore, import, reset), changed: read it all again."""
        self._config = None
        self._values = {}
        self._membership = None
        self.touched = None
        self.queued = None
        self._activity = {}
        self._no_due_before = False
        self.next_chat = None

    def timers_unknown(self) -> None:
        """Look for due timers whatever the clock (a state an older chatemu left may hold one)."""
        self._no_due_before = False
        self._due_unread = False

    def event(self, agent, chat, from_state, to_state, cause, queue: str | None = None) -> None:
        """Log a change, and add it to what the command shows (``appended``: every event the
        command caused, a chat's or an agent's).  ``queue``: a chat's queue after the change."""
        at = self.at
        if self._events is None:
            seq = self.q(_INSERT_EVENT, at, agent, chat, from_state, to_state, cause, queue).lastrowid
        else:
            if self._next_seq is None:
                self._next_seq = self.q(
                    "SELECT max(ifnull((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0),"
                    " ifnull((SELECT max(seq) FROM events), 0)) + 1"
                ).fetchone()[0]
            seq = self._next_seq
            self._next_seq += 1
            self._events.append((seq, at, agent, chat, from_state, to_state, cause, queue))
        self.appended.append(
            {"seq": seq, "at": format_time(at), "agent": agent, "chat": chat, "from": from_state,
             "to": to_state, "cause": cause}
        )
        if agent is not None:
            self.active(agent)
            if self._stale is not None:
                self._stale.add(agent)
        if self._dirty is not None and chat is not None:
            self._dirty.add(chat)  # settling: a due timer of it read before is judged again
        if self._head is not None and (to_state == core.QUEUED) != (from_state == core.QUEUED):
            if to_state == core.QUEUED:
                self._head, self._head_whole = [], False  # a chat joined the queue: read its head again
            elif cause != "presentation":  # it left the queue otherwise (a customer gave up): not at its head
                self._head = [r for r in self._head if r["id"] != chat]
        if to_state == core.QUEUED:
            self.touched = None  # a chat joined a queue: any free agent may take it
            self.queued = True
        elif agent is not None and self.touched is not None:
            self.touched.add(agent)

    def status_event(self, agent: str, after: str, cause: str) -> None:
        """The agent's derived status is now ``after`` (a presence change or a call, logged even
        when the status stays): stored, and logged as an agent event from the last one logged."""
        self._status_pending.pop(agent, None)  # this event says where the agent is now
        before = self.q("SELECT status FROM agents WHERE id = ?", agent).fetchone()[0]
        self.q("UPDATE agents SET status = ?, status_since_ms = ? WHERE id = ?", after, self.at, agent)
        self.event(agent, None, before, after, cause)

    def status_changed(self, agent: str, cause: str) -> None:
        """A chat's move may have changed the agent's status: logged (``flush_status``) once
        the instant's moves are done, so a chat parked for another to be active logs nothing."""
        self._status_pending.setdefault(agent, cause)

    def flush_status(self) -> None:
        pending, self._status_pending = self._status_pending, {}
        for agent, cause in pending.items():
            self.status_check(agent, cause)

    def status_check(self, agent: str, cause: str) -> None:
        """Log the agent's derived status if a chat's move changed it (and keep its free flag:
        the same read tells both)."""
        found = self._plain.execute(free_agents.ONE_STATUS, (agent,)).fetchone()
        if found is None:
            return
        flag, active = free_agents.flag_and_active(found)
        flag = self._flag(found, flag)
        stored = found[7]
        derived = core.agent_status(found[1], bool(found[2]), active)
        if derived != stored:
            if flag is None:
                self.q("UPDATE agents SET status = ?, status_since_ms = ? WHERE id = ?", derived, self.at, agent)
            else:
                self.q("UPDATE agents SET status = ?, status_since_ms = ?, free = ? WHERE id = ?",
                       derived, self.at, flag, agent)
            self.event(agent, None, stored, derived, cause)
            self._worked_out(agent)  # a status event changes none of the facts its flag comes from
        elif flag is not None:
            self.q(free_agents.SET, flag, agent)

    def active(self, agent: str) -> None:
        """The agent acted (or was acted for) now: it is no longer idle since ``at``."""
        if self._activity.get(agent) != self.at:
            self._activity[agent] = self.at
            if self._idle_since is None:
                self.q("UPDATE agents SET last_activity_ms = ? WHERE id = ?", self.at, agent)
            else:
                self._idle_since[agent] = self.at

    # -- timers and presentation ----------------------------------------------

    def settle(self) -> None:
        """Run out every timer due by now, of every kind (``clocks``), in time order, each at its
        instant, presenting after each.

        The due timers are read a batch at a time per kind and merged in ``core.timer_order``;
        a timer started while settling that is due already joins the merge at its place, and
        a timer whose subject changed since it was read is judged again before it runs (a chat
        presented, closed or moved meanwhile).  The queue's head is read ahead; and what
        nothing reads while settling (the events, the agents' last activity, which
        presentation takes from here) is written once at the end, with executemany."""
        bound = self._no_due_before
        firsts = None
        if bound is not False:
            if self._due_unread and self.now > self.stored_clock[1]:
                # The clock moved on: the stored timers' first deadlines, with those this command set.
                self._due_unread = False
                firsts = self._plain.execute(clocks.FIRSTS).fetchone()
                first = min((f for f in firsts if f is not None), default=None)
                if first is not None and (bound is None or first < bound):
                    bound = self._no_due_before = first
            if bound is None or bound > self.now:
                self.due = False  # no timer is due: nothing to look for
                return
        self._events, self._idle_since, self._head = [], {}, []
        self._dirty, self._fresh = set(), []
        try:
            while True:
                merged, last, n = [], None, 0
                # Only the kinds with a timer due are read (each kind's first deadline, in one read).
                if firsts is None:
                    firsts = self._plain.execute(clocks.FIRSTS).fetchone()
                kinds = [kind for kind, first in zip(_KINDS, firsts) if first is not None and first <= self.now]
                firsts = None
                for kind in kinds:
                    rows = self.records(kind.due, self.now)
                    for row in rows:
                        n += 1
                        merged.append((core.timer_order(row[kind.column], kind.name, clocks.owner(kind, row)), n, kind,
                                       row, row["id"]))
                    if len(rows) == clocks.BATCH:  # more of this kind after its last: merge no further
                        end = merged[-1][0]
                        last = end if last is None or end < last else last
                if not merged:
                    break
                heapq.heapify(merged)
                self._dirty.clear()
                self._fresh_bound = last
                while merged:
                    order, _, kind, row, subject = heapq.heappop(merged)
                    if last is not None and order > last:
                        break  # read the next batch first
                    at = order[0]
                    if row is None or subject in self._dirty or kind.name == core.K_BREAK:
                        row = self.record(kind.read, subject)  # changed since read: judged again
                        if not clocks.due(kind, row, at):
                            continue
                    self.at = at  # the exact instant it ran out
                    clocks.run(self, kind, row)
                    self.flush_status()
                    self.present()
                    for order, kind, subject in self._fresh:
                        n += 1
                        heapq.heappush(merged, (order, n, kind, None, subject))
                    self._fresh.clear()
                if last is None:
                    break  # every due timer was read whole, and those started since joined the merge
            if self._events:
                self.conn.executemany(
                    "INSERT INTO events (seq, at_ms, agent, chat, from_state, to_state, cause, queue)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    self._events,
                )
            if self._idle_since:
                self.conn.executemany(
                    "UPDATE agents SET last_activity_ms = ? WHERE id = ?",
                    [(at, agent) for agent, at in self._idle_since.items()],
                )
        finally:
            self._events = self._next_seq = self._idle_since = self._head = None
            self._dirty = self._fresh = None
            self._head_whole = False
        self.at = self.now
        self.due = False
        self._no_due_before = self.now + 1  # every timer due by now has run out
        self._due_unread = False

    def timer_set(self, deadline: int, kind: str = core.K_WRAPUP, subject: str | None = None) -> None:
        """A timer of ``kind`` (of the chat or agent ``subject``) now runs until ``deadline``."""
        if self._no_due_before is not False and (self._no_due_before is None or deadline < self._no_due_before):
            self._no_due_before = deadline
        if deadline <= self.now:
            self.due = True  # e.g. a zero-length wrap-up: finish() settles it
            if self._fresh is not None and subject is not None:
                # Settling: it runs out in this settle, at its place among the due ones.
                owner = subject if kind == core.K_BREAK else self._number(subject)
                order = core.timer_order(deadline, kind, owner)
                if self._fresh_bound is None or order <= self._fresh_bound:
                    self._fresh.append((order, _KIND[kind], subject))

    def _number(self, chat_id: str) -> int:
        return self.q("SELECT number FROM chats WHERE id = ?", chat_id).fetchone()[0]

    def changed(self, chat_id: str) -> None:
        """The chat changed outside a move: a due timer of it read before is judged again."""
        if self._dirty is not None:
            self._dirty.add(chat_id)

    def touch(self, agent: str) -> None:
        """The agent's facts changed without an event (it came into being, its capacity changed)."""
        if self.touched is not None:
            self.touched.add(agent)
        if self._stale is not None:
            self._stale.add(agent)

    def agent_facts(self, where: str = "", *params, limit: int | None = None) -> list[routing.AgentFacts]:
        """The facts routing needs, for the agents ``where`` selects (SQL on ``agents a``), in
        routing's order (the first ``limit`` of them: all when None)."""
        return self._facts(where, params, limit)[0]

    def _facts(self, where: str, params, limit: int | None = None) -> tuple[list[routing.AgentFacts], list]:
        """``agent_facts``, and (flag, agent) for each agent read whose kept free flag is wrong."""
        pending = self._idle_since or {}  # last activity not written yet (settling)
        sql = free_agents.FACTS.format(where=where, limit="" if limit is None else f" LIMIT {int(limit)}")
        rows = self._plain.execute(sql, params).fetchall()
        served: dict[str, tuple[list[str], list[str]]] = {}
        if rows and self.membership():
            ids = [r[0] for r in rows]
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                for agent, queue, enabled in self._plain.execute(
                    f"SELECT agent, queue, enabled FROM agent_queues WHERE agent IN ({', '.join('?' * len(chunk))})"
                    " ORDER BY agent, position", chunk,
                ):
                    on, assigned = served.setdefault(agent, ([], []))
                    assigned.append(queue)
                    if enabled:
                        on.append(queue)
        facts, wrong = [], []
        for r in rows:
            on, assigned = served.get(r[0], (None, None))
            agent = free_agents.facts(r, pending.get(r[0]), None if on is None else tuple(on),
                                      None if assigned is None else tuple(assigned))
            facts.append(agent)
            flag = free_agents.is_free(agent)
            if r[7] != flag:  # NULL: not worked out yet
                wrong.append((int(flag), r[0]))
        return facts, wrong

    def membership(self) -> bool:
        """Whether any agent is assigned to queues (otherwise every agent serves every queue)."""
        if self._membership is None:
            self._membership = self.exists("SELECT 1 FROM agent_queues")
        return self._membership

    def _present_by_queue(self, free: list[routing.AgentFacts]) -> None:
        """Presentation when some free agent serves only some queues: the candidates are the
        first chats of each queue a free agent serves (as many as there are free agents: no
        more can be taken before an agent picks), and of all queues for one that serves all."""
        n = len(free)
        candidates: dict[str, dict] = {}
        queues = sorted({queue for agent in free if agent.queues is not None for queue in agent.queues})
        for queue in queues:
            for r in self.records(f"SELECT {chats.FIELDS} FROM chats WHERE state = 'queued' AND queue = ?"
                                  " ORDER BY priority DESC, created_at_ms, number LIMIT ?", queue, n):
                candidates[r["id"]] = r
        if any(agent.queues is None for agent in free):
            for r in self.queue_head(n)[:n]:
                candidates.setdefault(r["id"], r)
        self._head = None if self._head is None else []  # read the head again after this
        self._head_whole = False
        self.queued = None  # not known now: read again when needed
        waiting = [routing.Waiting(r["id"], r["queue"], r["priority"], r["created_at_ms"], r["number"])
                   for r in candidates.values()]
        given = {agent.id: agent for agent in free}
        for chat_id, agent in routing.decide(waiting, free, True, self.config("routing")):
            chats.move(self, candidates[chat_id], core.PRESENT, "presentation", agent=agent)
            self._given(given[agent], chat_id)
        self.touched = set()

    def pending(self) -> bool:
        """Whether settling or presenting would change anything now: a wrap-up timer due
        at or before now, or a queued chat an agent is free to be presented."""
        bound = self._no_due_before
        if bound is False or (bound is not None and bound <= self.now):
            return True
        if not self.queued or not self.config("auto-present"):
            return False
        free = routing.free_agents(self.agent_facts(free_agents.CANDIDATES), True)
        if not free or any(agent.queues is None for agent in free):
            return bool(free)
        # Every free agent serves only some queues: is a chat waiting in one of them?
        queues = sorted({queue for agent in free for queue in agent.queues})
        return bool(queues) and self.exists(
            f"SELECT 1 FROM chats WHERE state = 'queued' AND queue IN ({', '.join('?' * len(queues))})", *queues)

    def queue_head(self, count: int) -> list[dict]:
        """The first ``count`` + 1 queued chats in presentation order (the index's order):
        the one more says whether a chat is still queued after ``count`` are presented."""
        cached = self._head
        if cached is not None and (len(cached) > count or self._head_whole):
            return cached[:count + 1]
        limit = count + 1 if cached is None else max(count + 1, 256)
        rows = self.records(
            f"SELECT {chats.FIELDS} FROM chats WHERE state = 'queued'"
            " ORDER BY priority DESC, created_at_ms, number LIMIT ?",
            limit,
        )
        if cached is not None:
            self._head, self._head_whole = rows, len(rows) < limit
        return rows

    def present(self) -> None:
        """Present queued chats to the agents free to take one, as ``routing`` decides.

        Only agents whose facts changed since the last presentation can have become free
        (``touched``), unless a chat joined a queue or the config changed; so settling N
        timers looks at one agent per timer, not at every agent each time.  Otherwise only
        the agents that may be free are read, from their index (``_present_in_order``)."""
        touched, self.touched = self.touched, set()
        if touched is not None and not touched:
            return
        if self.queued is None:
            self.queued = self.exists("SELECT 1 FROM chats WHERE state = 'queued'")
        if not self.queued or not self.config("auto-present"):
            return
        if touched is None:
            self.refresh_free()
            self._present_in_order()
            return
        # The agents whose facts changed, read whole: their flags are worked out from the same read.
        where = "WHERE a.id = ?" if len(touched) == 1 else f"WHERE a.id IN ({', '.join('?' * len(touched))})"
        facts, wrong = self._facts(where, sorted(touched))
        free_agents.set_flags(self.conn, wrong)
        for agent in touched:
            self._worked_out(agent)
        self._present_to(routing.free_agents(facts, True))

    def _present_to(self, free: list[routing.AgentFacts]) -> None:
        """Present queued chats to these free agents (in routing's order), as ``routing`` decides."""
        if not free:
            return  # no queue query when nobody can take a chat
        if any(agent.queues is not None for agent in free):
            self._present_by_queue(free)
            return
        rows = self.queue_head(len(free))
        self.queued = len(rows) > len(free)
        head = {r["id"]: r for r in rows[:len(free)]}
        if self._head is not None:
            del self._head[:len(head)]  # every one is presented below
        waiting = [routing.Waiting(r["id"], r["queue"], r["priority"], r["created_at_ms"], r["number"])
                   for r in head.values()]
        given = {agent.id: agent for agent in free}
        for chat_id, agent in routing.decide(waiting, free, True):
            chats.move(self, head[chat_id], core.PRESENT, "presentation", agent=agent)
            self._given(given[agent], chat_id)
        self.touched = set()  # every agent free now has been given a chat, or none is waiting

    # -- free agents (``free``: the flag kept per agent, its index) ---------------

    def free_changed(self) -> None:
        """Every agent's free flag may be out of date (the global max-chats changed)."""
        self._stale = None

    def refresh_free(self) -> None:
        """Work out again the free flag of each agent whose facts changed since the last time."""
        stale, self._stale = self._stale, set()
        if stale is None:
            free_agents.rebuild(self.conn)
            return
        if not stale:
            return
        if len(stale) == 1:  # most commands: the acting agent's
            row = self._plain.execute(free_agents.ONE, tuple(stale)).fetchone()
            flag = None if row is None else self._flag(row)
            if flag is not None:
                self.q(free_agents.SET, flag, row[0])
            return
        ids = sorted(stale)
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            where = "WHERE a.id = ?" if len(chunk) == 1 else f"WHERE a.id IN ({', '.join('?' * len(chunk))})"
            rows = self._plain.execute(free_agents.FLAGS.format(where=where), chunk).fetchall()
            free_agents.set_flags(self.conn, free_agents.wrong_flags(rows))

    def _flag(self, row, flag: int | None = None) -> int | None:
        """The free flag a row of ``free.ONE`` gives its agent (``flag``: worked out from it
        already), when it is not the one kept (None: it is); the agent's flag is worked out as of now."""
        self._worked_out(row[0])
        if flag is None:
            flag = free_agents.flag_of(row)
        return None if row[4] == flag else flag

    def _worked_out(self, agent: str) -> None:
        if self._stale is not None:
            self._stale.discard(agent)

    def _given(self, agent: routing.AgentFacts, chat_id: str) -> None:
        """A chat was just presented to this (free) agent: its flag is routing's answer for it
        with that chat new in its inbox (it has a flag kept: presentation reads and keeps it)."""
        after = agent._replace(busy_chat=f"{chat_id} {core.NEW}", open_chats=agent.open_chats + 1)
        if not free_agents.is_free(after):
            self.q(free_agents.SET, 0, agent.id)
            self._worked_out(agent.id)

    def _present_in_order(self) -> None:
        """Present to the agents that may be free, read from their index in routing's order (the
        one idle longest first) a batch at a time: as many as chats are queued (up to
        ``FREE_BATCH``), until no chat is queued or no agent is left.  The busy agents are never
        read, however many there are."""
        if self._idle_since:  # settling: the agents' last activity, written now, is the index's order
            self.conn.executemany("UPDATE agents SET last_activity_ms = ? WHERE id = ?",
                                  [(at, agent) for agent, at in self._idle_since.items()])
            self._idle_since.clear()
        after: tuple[int, str] | None = None
        while True:
            # Each free agent takes one chat (routing gives the agents, in this order, one each):
            # a batch of no more agents than chats are queued; the next batch reads on after it.
            limit = self.q("SELECT count(*) FROM (SELECT 1 FROM chats WHERE state = 'queued' LIMIT ?)",
                           FREE_BATCH).fetchone()[0]
            if not limit:
                self.queued = False
                return
            where = free_agents.SERVING if self.membership() else free_agents.CANDIDATES
            if after is not None:
                where += " AND (a.last_activity_ms, a.id) > (?, ?)"
            facts, wrong = self._facts(where, () if after is None else after, limit)
            free_agents.set_flags(self.conn, wrong)  # rows put in some other way: worked out now
            self._present_to(routing.free_agents(facts, True))
            if len(facts) < limit or self.queued is False:
                return
            after = (facts[-1].last_activity_ms, facts[-1].id)
            self.refresh_free()  # those just presented a chat are busy now
