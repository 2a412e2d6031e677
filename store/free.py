"""Free agents: who a queued chat may be presented to now, kept in ``agents.free``.

Routing presents a chat only to an agent ``routing.presentable`` finds nothing against
(available, not on a call, no new, active or wrap-up chat, under its capacity).  Reading every
agent's facts to find those would make each queued chat cost as much as the centre is big, so
each agent's answer is kept in ``agents.free``: 1 free, 0 not, NULL not worked out yet (a row
put in some other way than by a command; read as a candidate and worked out when presenting).
The partial index ``idx_agents_free`` holds only the agents that may be free, in routing's
order (the one idle longest first): presentation reads those, never the busy ones.

The condition is routing's own (``is_free``): a new reason not to present (a status that takes
no chat) goes into ``routing._why_not`` and the flag follows it.  A command marks the
agents whose facts it changed (``Tx.event`` and ``Tx.touch`` do) and ``Tx.refresh_free`` works
their flags out again before presenting and when the command ends; a change of the global
``max-chats`` works out every agent's.  Loading a state (snapshot restore, import) and the
migration that made the column work out all of them; ``db check`` says where one is wrong.
"""

from __future__ import annotations

import sqlite3

from . import core, routing
from .chats import BUSY, OPEN

#: The facts routing needs of the agents ``{where}`` selects (SQL on ``agents a``), in routing's
#: order: the flag kept (column 7) and the global max-chats as stored (8: NULL, the default).
FACTS = (
    "SELECT a.id, a.presence, a.on_call, a.last_activity_ms,"
    f" (SELECT count(*) FROM chats c WHERE c.agent = a.id AND c.state IN {OPEN}) AS open,"
    f" (SELECT c.id || ' ' || c.state FROM chats c WHERE c.agent = a.id AND c.state IN {BUSY}"
    "  ORDER BY c.number LIMIT 1) AS busy, a.max_chats, a.free,"
    " (SELECT value FROM config WHERE queue = '' AND key = 'max-chats')"
    " FROM agents a {where} ORDER BY a.last_activity_ms, a.id{limit}"
)
#: What a flag needs, read lean (one subquery: the states of the agent's open chats, which say
#: how many it has, whether one makes it busy, its active item): its id, presence, call, own
#: capacity, the flag kept, the global max-chats as stored, the states (``flag_row``).
_FLAG = (
    "SELECT a.id, a.presence, a.on_call, a.max_chats, a.free,"
    " (SELECT value FROM config WHERE queue = '' AND key = 'max-chats'),"
    f" (SELECT group_concat(c.state, ' ') FROM chats c WHERE c.agent = a.id AND c.state IN {OPEN})"
)
FLAGS = _FLAG + " FROM agents a {where} ORDER BY a.id"
ONE = _FLAG + " FROM agents a WHERE a.id = ?"
#: ``ONE`` and the agent's status as kept (column 7): what its derived status needs too.
ONE_STATUS = _FLAG + ", a.status FROM agents a WHERE a.id = ?"
#: The agents that may be free: the rows of ``idx_agents_free`` (its WHERE, word for word).
CANDIDATES = "WHERE a.free IS NOT 0"
#: ... and, where agents are assigned to queues, serve one a chat waits in (the others would be
#: given nothing: each is passed over with two index lookups, its facts never read).
SERVING = (CANDIDATES + " AND (NOT EXISTS (SELECT 1 FROM agent_queues g WHERE g.agent = a.id)"
           " OR EXISTS (SELECT 1 FROM agent_queues g WHERE g.agent = a.id AND g.enabled = 1"
           " AND EXISTS (SELECT 1 FROM chats c WHERE c.state = 'queued' AND c.queue = g.queue)))")
#: Sets the flag of one agent: (flag, agent id).
SET = "UPDATE agents SET free = ? WHERE id = ?"


_LIMITS: dict[str | None, int] = {}  # the global max-chats as stored → its value


def _limit(stored: str | None) -> int:
    try:
        return _LIMITS[stored]
    except KeyError:
        from . import config as cfg

        key = cfg.KEYS["max-chats"]
        try:
            value = key.default if stored is None else cfg.decode(key, stored)
        except (TypeError, ValueError):  # a bad stored value (db check names it): the default
            return key.default
        _LIMITS[stored] = value
        return value


def facts(row, last_activity: int | None = None,
          on: tuple[str, ...] | None = None, assigned: tuple[str, ...] | None = None) -> routing.AgentFacts:
    """A row of ``FACTS`` as routing's facts (its own capacity, or the global max-chats)."""
    return routing.AgentFacts(
        row[0], row[1], bool(row[2]), row[5], row[4], _limit(row[8]) if row[6] is None else row[6],
        row[3] if last_activity is None else last_activity, on, assigned)


def states(row) -> list[str]:
    """The states of the open chats of a row of ``ONE``, ``ONE_STATUS`` or ``FLAGS``."""
    return row[6].split(" ") if row[6] else []


def flag_of(row) -> int:
    """The flag a row of ``ONE``, ``ONE_STATUS`` or ``FLAGS`` gives its agent."""
    return flag_and_active(row)[0]


def flag_and_active(row) -> tuple[int, str | None]:
    """The flag a row of ``ONE``, ``ONE_STATUS`` or ``FLAGS`` gives its agent, and the state of its
    active item (``active`` or ``active-wrapup``; None: none), from one pass over its open chats."""
    open_states = states(row)
    busy = active = None
    for state in open_states:
        if state in core.BUSY_STATES:
            busy = state
            if state in core.ACTIVE_STATES:
                active = state
    limit = _limit(row[5]) if row[3] is None else row[3]
    return int(is_free(routing.AgentFacts(row[0], row[1], bool(row[2]), busy, len(open_states), limit, 0))), active


def is_free(agent: routing.AgentFacts) -> bool:
    """Whether a queued chat may be presented to the agent now: routing's rule, nothing else."""
    return routing.presentable(agent)


def wrong_flags(rows) -> list[tuple[int, str]]:
    """(flag, agent id) for each row of ``FLAGS`` whose kept flag is not what its facts say."""
    out = []
    for row in rows:
        flag = flag_of(row)
        if row[4] != flag:  # NULL (not worked out yet) too
            out.append((flag, row[0]))
    return out


def rebuild(conn: sqlite3.Connection) -> None:
    """Work every agent's flag out again (a state loaded, the global max-chats changed)."""
    cur = conn.cursor()
    cur.row_factory = None
    set_flags(conn, wrong_flags(cur.execute(FLAGS.format(where="")).fetchall()))


def set_flags(conn: sqlite3.Connection, updates: list[tuple[int, str]]) -> None:
    if updates:
        conn.executemany(SET, updates)


def problems(conn: sqlite3.Connection) -> list[tuple[str, int, int]]:
    """(agent id, flag kept, flag its facts give) for each agent whose kept flag is wrong (NULL,
    not worked out yet, is never wrong); none in a database older than the flag."""
    if "free" not in {row[1] for row in conn.execute("PRAGMA table_info(agents)")}:
        return []
    rows = conn.execute(FLAGS.format(where="")).fetchall()
    kept = {row[0]: row[4] for row in rows}
    return [(agent, kept[agent], flag) for flag, agent in wrong_flags(rows) if kept[agent] is not None]
