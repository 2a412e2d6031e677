"""Free agents: who a queued chat may be presented to now, kept in ``agents.free``.

Routing presents a chat only to an agent ``routing.not_presentable`` finds nothing against
(available, not on a call, no new, active or wrap-up chat, under its capacity).  Reading every
agent's facts to find those would make each queued chat cost as much as the centre is big, so
each agent's answer is kept in ``agents.free``: 1 free, 0 not, NULL not worked out yet (a row
put in some other way than by a command; read as a candidate and worked out when presenting).
The partial index ``idx_agents_free`` holds only the agents that may be free, in routing's
order (the one idle longest first): presentation reads those, never the busy ones.

The condition is routing's own (``is_free``): a new reason not to present (a status that takes
no chat) goes into ``routing.not_presentable`` and the flag follows it.  A command marks the
agents whose facts it changed (``Tx.event`` and ``Tx.touch`` do) and ``Tx.refresh_free`` works
their flags out again before presenting and when the command ends; a change of the global
``max-chats`` works out every agent's.  Loading a state (snapshot restore, import) and the
migration that made the column work out all of them; ``db check`` says where one is wrong.
"""

from __future__ import annotations

import sqlite3

from . import routing
from .chats import BUSY, OPEN

#: The facts routing needs of the agents ``{where}`` selects (SQL on ``agents a``), in routing's
#: order, and the flag kept (the last column).
FACTS = (
    "SELECT a.id, a.presence, a.on_call, a.last_activity_ms,"
    f" (SELECT count(*) FROM chats c WHERE c.agent = a.id AND c.state IN {OPEN}) AS open,"
    f" (SELECT c.id || ' ' || c.state FROM chats c WHERE c.agent = a.id AND c.state IN {BUSY}"
    "  ORDER BY c.number LIMIT 1) AS busy, a.max_chats, a.free"
    " FROM agents a {where} ORDER BY a.last_activity_ms, a.id{limit}"
)
#: The agents that may be free: the rows of ``idx_agents_free`` (its WHERE, word for word).
CANDIDATES = "WHERE a.free IS NOT 0"
#: Sets the flag of one agent: (flag, agent id).
_SET = "UPDATE agents SET free = ? WHERE id = ?"


def facts(row, limit: int, last_activity: int | None = None,
          on: tuple[str, ...] | None = None, assigned: tuple[str, ...] | None = None) -> routing.AgentFacts:
    """A row of ``FACTS`` as routing's facts (``limit``: the global max-chats)."""
    return routing.AgentFacts(
        row[0], row[1], bool(row[2]), row[5], row[4], limit if row[6] is None else row[6],
        row[3] if last_activity is None else last_activity, on, assigned)


def is_free(agent: routing.AgentFacts) -> bool:
    """Whether a queued chat may be presented to the agent now: routing's rule, nothing else."""
    return not routing.not_presentable(agent, True)


def wrong_flags(rows, limit: int) -> list[tuple[int, str]]:
    """(flag, agent id) for each row of ``FACTS`` whose kept flag is not what its facts say."""
    out = []
    for row in rows:
        flag = int(is_free(facts(row, limit)))
        if row[7] != flag:  # NULL (not worked out yet) too
            out.append((flag, row[0]))
    return out


def max_chats(conn: sqlite3.Connection) -> int:
    """The global max-chats, read from the config table (outside a command's ``Tx``)."""
    from . import config as cfg

    key = cfg.KEYS["max-chats"]
    found = conn.execute("SELECT value FROM config WHERE queue = '' AND key = 'max-chats'").fetchone()
    return key.default if found is None else cfg.decode(key, found[0])


def rebuild(conn: sqlite3.Connection, limit: int | None = None) -> None:
    """Work every agent's flag out again (a state loaded, the global max-chats changed)."""
    if limit is None:
        limit = max_chats(conn)
    cur = conn.cursor()
    cur.row_factory = None
    set_flags(conn, wrong_flags(cur.execute(FACTS.format(where="", limit="")).fetchall(), limit))


def set_flags(conn: sqlite3.Connection, updates: list[tuple[int, str]]) -> None:
    if updates:
        conn.executemany(_SET, updates)


def problems(conn: sqlite3.Connection) -> list[tuple[str, int, int]]:
    """(agent id, flag kept, flag its facts give) for each agent whose kept flag is wrong (NULL,
    not worked out yet, is never wrong); none in a database older than the flag."""
    if "free" not in {row[1] for row in conn.execute("PRAGMA table_info(agents)")}:
        return []
    rows = conn.execute(FACTS.format(where="", limit="")).fetchall()
    limit = max_chats(conn)
    kept = {row[0]: row[7] for row in rows}
    return [(agent, kept[agent], flag) for flag, agent in wrong_flags(rows, limit) if kept[agent] is not None]
