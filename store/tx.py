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

import sqlite3

from . import chats, core, routing
from . import config as cfg
from .clock import clock_now
from .timefmt import format_time



class Tx:
    """The state of one command's transaction: the connection, the time, the events."""

    def __init__(self, conn: sqlite3.Connection, wall_ms: int, agent: str):
        conn.row_factory = sqlite3.Row
        self.conn = conn
        self.agent = agent
        self.wall_ms = wall_ms
        self.appended: list[dict] = []
        meta = conn.execute("SELECT mode, now_ms, offset_ms FROM meta WHERE id = 1").fetchone()
        self.mode = meta["mode"]
        self.offset = meta["offset_ms"]
        self.stored_clock = (self.mode, meta["now_ms"], self.offset)
        self.now = clock_now(self.mode, meta["now_ms"], self.offset, wall_ms)
        self.due = False  # whether a timer may have become due since the last settle
        self.at = self.now  # the instant being applied (a timer's deadline while settling)
        self._config: dict[tuple[str, str], str] | None = None
        self.finished = False
        # Agents whose facts changed since the last presentation; None: look at every agent (the
        # first presentation of a command, after a chat joined a queue, after a config change).
        self.touched: set[str] | None = None

    def q(self, sql: str, *params) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def exists(self, sql: str, *params) -> bool:
        return self.conn.execute(f"SELECT EXISTS ({sql})", params).fetchone()[0] == 1

    def finish(self) -> None:
        """After the command: settle what it made due, present, store the clock."""
        if self.finished:
            return
        if self.due:
            self.settle()
        self.present()
        clock = (self.mode, self.now, self.offset)
        if clock != self.stored_clock:
            self.q("UPDATE meta SET mode = ?, now_ms = ?, offset_ms = ? WHERE id = 1", *clock)
        self.finished = True

    def config(self, name: str, queue: str | None = None):
        if self._config is None:
            self._config = {(row["queue"], row["key"]): row["value"] for row in self.q("SELECT * FROM config")}
        k = cfg.KEYS[name]
        stored = self._config.get((queue, name)) if queue is not None and k.per_queue else None
        if stored is None:
            stored = self._config.get(("", name))
        return k.default if stored is None else cfg.decode(k, stored)

    def config_changed(self) -> None:
        self._config = None
        self.touched = None

    def event(self, agent, chat, from_state, to_state, cause) -> None:
        cur = self.q(
            "INSERT INTO events (at_ms, agent, chat, from_state, to_state, cause) VALUES (?, ?, ?, ?, ?, ?)",
            self.at, agent, chat, from_state, to_state, cause,
        )
        self.appended.append(
            {
                "seq": cur.lastrowid,
                "at": format_time(self.at),
                "agent": agent,
                "chat": chat,
                "from": from_state,
                "to": to_state,
                "cause": cause,
            }
        )
        if agent is not None:
            self.q("UPDATE agents SET last_activity_ms = ? WHERE id = ?", self.at, agent)
        if to_state == core.QUEUED:
            self.touched = None  # a chat joined a queue: any free agent may take it
        elif agent is not None and self.touched is not None:
            self.touched.add(agent)

    # -- timers and presentation ----------------------------------------------

    def settle(self) -> None:
        """Run out every wrap-up timer due by now, in time order, each at its instant."""
        while True:
            row = self.q(
                f"SELECT {chats.COLUMNS} FROM chats WHERE wrapup_deadline_ms IS NOT NULL AND wrapup_deadline_ms <= ?"
                " ORDER BY wrapup_deadline_ms, number LIMIT 1",
                self.now,
            ).fetchone()
            if row is None:
                break
            self.at = row["wrapup_deadline_ms"]  # the exact instant it ran out
            chats.move(self, row, core.EXPIRE, "timer")
            self.present()
        self.at = self.now
        self.due = False

    def touch(self, agent: str) -> None:
        """The agent's facts changed without an event (it came into being)."""
        if self.touched is not None:
            self.touched.add(agent)

    def agent_facts(self, where: str = "", *params) -> list[routing.AgentFacts]:
        """The facts routing needs, for the agents ``where`` selects (SQL on ``agents a``)."""
        limit = self.config("max-chats")
        rows = self.q(
            "SELECT a.id, a.presence, a.on_call, a.last_activity_ms,"
            f" (SELECT count(*) FROM chats c WHERE c.agent = a.id AND c.state IN {chats.OPEN}) AS open,"
            f" (SELECT c.id || ' ' || c.state FROM chats c WHERE c.agent = a.id AND c.state IN {chats.BUSY}"
            "  ORDER BY c.number LIMIT 1) AS busy"
            f" FROM agents a {where} ORDER BY a.last_activity_ms, a.id",
            *params,
        )
        return [
            routing.AgentFacts(r["id"], r["presence"], bool(r["on_call"]), r["busy"], r["open"], limit,
                               r["last_activity_ms"])
            for r in rows
        ]

    def pending(self) -> bool:
        """Whether settling or presenting would change anything now: a wrap-up timer due
        at or before now, or a queued chat an agent is free to be presented."""
        return self.exists(
            "SELECT 1 FROM chats WHERE wrapup_deadline_ms IS NOT NULL AND wrapup_deadline_ms <= ?", self.now
        ) or bool(self._presentations())

    def present(self) -> None:
        """Present queued chats to the agents free to take one, as ``routing`` decides.

        Only agents whose facts changed since the last presentation can have become free
        (``touched``), unless a chat joined a queue or the config changed; so settling N
        timers looks at one agent per timer, not at every agent each time."""
        touched, self.touched = self.touched, set()
        for chat_id, agent in self._presentations(touched):
            self.q("UPDATE chats SET agent = ? WHERE id = ?", agent, chat_id)
            chats.move(self, chats.row(self, chat_id), core.PRESENT, "presentation")
        self.touched = set()  # every agent free now has been given a chat, or none is waiting

    def _presentations(self, touched: set[str] | None = None) -> list[tuple[str, str]]:
        """What routing decides now, looking at the ``touched`` agents only (None: at all)."""
        auto = self.config("auto-present")
        if not auto or touched == set() or not self.exists("SELECT 1 FROM chats WHERE state = 'queued'"):
            return []
        where = "WHERE a.presence = 'available' AND a.on_call = 0"
        if touched is not None:
            where += f" AND a.id IN ({', '.join('?' * len(touched))})"
        free = routing.free_agents(self.agent_facts(where, *sorted(touched or ())), auto)
        if not free:
            return []  # no queue query when nobody can take a chat
        waiting = [
            routing.Waiting(r["id"], r["queue"], r["priority"], r["created_at_ms"], r["number"])
            for r in self.q(
                "SELECT id, queue, priority, created_at_ms, number FROM chats WHERE state = 'queued'"
                " ORDER BY priority DESC, created_at_ms, number LIMIT ?",
                len(free),
            )
        ]
        return routing.decide(waiting, free, auto)
