"""Free agents kept per agent: a queued chat costs the same however many agents are busy,
and routing decides exactly as it did (in-process through the engine API; one CLI check)."""

from __future__ import annotations

import os
import random
import sqlite3

import pytest

from chatemu.store import free, routing
from chatemu.store.engine import Connections, Engine
from chatemu.store.errors import ChatemuError
from conftest import as_older_schema


class Centre:
    """Engines over one database, one per agent, sharing one kept connection."""

    def __init__(self, path):
        self.path = str(path)
        self.connections = Connections()
        self.engines: dict[str, Engine] = {}

    def __call__(self, agent: str = "agent-1") -> Engine:
        if agent not in self.engines:
            self.engines[agent] = Engine(self.path, agent, connections=self.connections)
        return self.engines[agent]

    @property
    def conn(self) -> sqlite3.Connection:
        return self.connections.open[os.path.abspath(self.path)][0]

    def flags(self) -> dict[str, int | None]:
        return dict(self.conn.execute("SELECT id, free FROM agents ORDER BY id").fetchall())

    def close(self) -> None:
        self.connections.close()


@pytest.fixture
def centre(tmp_path):
    c = Centre(tmp_path / "centre.db")
    yield c
    c.close()


def every_agent_facts(conn: sqlite3.Connection) -> list[routing.AgentFacts]:
    """Every agent's facts as routing sees them (read without the kept flag)."""
    rows = conn.execute(free.FACTS.format(where="", limit="")).fetchall()
    served: dict[str, tuple[list, list]] = {}
    for agent, queue, enabled in conn.execute("SELECT agent, queue, enabled FROM agent_queues ORDER BY agent, position"):
        on, assigned = served.setdefault(agent, ([], []))
        assigned.append(queue)
        if enabled:
            on.append(queue)
    out = []
    for row in rows:
        on, assigned = served.get(row[0], (None, None))
        out.append(free.facts(row, None, None if on is None else tuple(on),
                              None if assigned is None else tuple(assigned)))
    return out


def waiting(conn: sqlite3.Connection) -> list[routing.Waiting]:
    return [routing.Waiting(*row) for row in conn.execute(
        "SELECT id, queue, priority, created_at_ms, number FROM chats WHERE state = 'queued'")]


def test_flags_follow_every_move_and_no_free_agent_is_left_with_a_chat_it_serves(centre):
    """A random walk over the commands that change what routing looks at (presence, calls,
    chats in and out of inboxes, timers, capacities, queues): after every command each agent's
    kept flag is routing's answer, and routing would present nothing more (every free agent
    that serves a queued chat's queue was given one)."""
    rnd = random.Random(2026)
    agents = [f"ag-{i}" for i in range(1, 9)]
    for agent in agents:
        centre(agent).agent_login()
    centre().config_set("wrapup", "30s")
    chats = 0

    def mine(agent):
        return [c["id"] for c in centre(agent).chat_list().value]

    actions = ["new", "new", "new", "take", "activate", "park", "end", "wrapup", "finish", "advance", "break",
               "available", "logout", "login", "call", "call-end", "max", "max-agent", "queues", "queues-clear",
               "switch", "return", "transfer", "auto"]
    for step in range(400):
        agent = rnd.choice(agents)
        action = rnd.choice(actions)
        engine = centre(agent)
        try:
            if action == "new":
                chats += 1
                engine.chat_new(queue=rnd.choice(["default", "sales"]), priority=rnd.choice([0, 0, 5]),
                                chat_id=f"C{chats}", inbox=rnd.random() < 0.2)
            elif action == "take":
                queued = [w.id for w in waiting(centre.conn)]
                if queued:
                    engine.chat_take(rnd.choice(queued))
            elif action in ("activate", "park", "end", "wrapup", "finish", "return", "transfer"):
                own = mine(agent)
                if own:
                    chat = rnd.choice(own)
                    if action == "activate":
                        engine.chat_activate(chat)
                    elif action == "park":
                        engine.chat_park(chat)
                    elif action == "end":
                        engine.chat_end(chat)
                    elif action == "wrapup":
                        engine.chat_wrapup(chat)
                    elif action == "finish":
                        engine.chat_wrapup(chat, finish=True)
                    elif action == "return":
                        engine.chat_return(chat)
                    else:
                        engine.chat_transfer(chat, agent=rnd.choice(agents))
            elif action == "advance":
                engine.clock_advance(rnd.choice([5_000, 40_000]))
            elif action in ("break", "available"):
                engine.agent_presence(action)
            elif action == "logout":
                engine.agent_logout(return_chats=True)
            elif action == "login":
                engine.agent_login()
            elif action == "call":
                engine.call_start()
            elif action == "call-end":
                engine.call_end()
            elif action == "max":
                engine.config_set("max-chats", str(rnd.choice([1, 2, 3])))
            elif action == "max-agent":
                engine.config_set("max-chats", str(rnd.choice([1, 2])), agent=rnd.choice(agents))
            elif action == "queues":
                engine.agent_queues_set(rnd.sample(["default", "sales"], rnd.choice([1, 2])))
            elif action == "queues-clear":
                engine.agent_queues_clear()
            elif action == "switch":
                if engine.agent_queues().value["queues"]:
                    engine.agent_queues_switch(rnd.choice(["default", "sales"]), rnd.random() < 0.5)
            elif action == "auto":
                engine.config_set("auto-present", rnd.choice(["on", "on", "off"]))
        except ChatemuError:
            pass  # refused or unknown: nothing changed
        conn = centre.conn
        facts = every_agent_facts(conn)
        kept = centre.flags()
        for agent_facts in facts:
            assert kept[agent_facts.id] == int(free.is_free(agent_facts)), (step, action, agent_facts)
        auto = conn.execute("SELECT value FROM config WHERE queue = '' AND key = 'auto-present'").fetchone()
        if auto is None or auto[0] == "on":
            assert routing.decide(waiting(conn), facts, True) == [], (step, action)
    presented = centre.conn.execute("SELECT count(*) FROM events WHERE cause = 'presentation'").fetchone()[0]
    assert chats > 30 and presented > 10, (chats, presented)  # the walk did present
    assert free.problems(centre.conn) == []


def test_presentation_takes_agents_in_routing_order_past_a_batch(centre):
    """More free agents and more queued chats than one read takes (``FREE_BATCH``): each chat
    goes to the agent routing names, the one idle longest first, ties by id."""
    from chatemu.store.tx import FREE_BATCH

    n = FREE_BATCH * 2 + 5
    centre().config_set("auto-present", "off")
    agents = [f"a{i:03d}" for i in range(n)]
    rnd = random.Random(7)
    for agent in rnd.sample(agents, n):  # logged in in a random order: that is their idle order
        centre(agent).agent_login()
        centre(agent).clock_advance(rnd.choice([0, 1000]))
    for i in range(n + 3):
        centre().chat_new(chat_id=f"Q{i}", priority=rnd.choice([0, 1]))
    conn = centre.conn
    expected = routing.decide(waiting(conn), every_agent_facts(conn), True)
    assert len(expected) == n
    centre().config_set("auto-present", "on")
    got = {row[0]: row[1] for row in conn.execute("SELECT id, agent FROM chats WHERE state = 'new'")}
    assert got == dict(expected)
    assert len(waiting(conn)) == 3


def steps_of(centre: Centre, run) -> int:
    """SQLite virtual machine steps (in hundreds) a call takes on the kept connection."""
    count = [0]

    def tick():
        count[0] += 1
        return 0

    centre.conn.set_progress_handler(tick, 100)
    try:
        run()
    finally:
        centre.conn.set_progress_handler(None, 100)
    return count[0]


def busy_centre(centre: Centre, agents: int) -> None:
    for i in range(agents):
        engine = centre(f"bz-{i}")
        engine.agent_login()
        engine.chat_new(chat_id=f"B{i}", inbox=True)  # new in its inbox: busy


@pytest.mark.parametrize("what", ["queued chat", "chat ended", "timer"])
def test_a_queued_chat_costs_the_same_with_many_busy_agents(tmp_path, what):
    """With every agent busy, queuing a chat (or ending one, or a timer running out, with
    chats queued) runs as many SQLite steps with 300 agents as with 10: no busy agent is read."""
    costs = []
    for agents in (10, 300):
        centre = Centre(tmp_path / f"c{agents}.db")
        try:
            busy_centre(centre, agents)
            centre().chat_new(chat_id="W0")  # queued: nobody is free
            if what == "queued chat":
                costs.append(steps_of(centre, lambda: centre().chat_new(chat_id="W1")))
            elif what == "chat ended":  # a busy agent's chat ends, so it stays busy in wrap-up
                centre("bz-3").chat_activate("B3")
                costs.append(steps_of(centre, lambda: centre().chat_end("B3")))
            else:
                centre("bz-3").chat_activate("B3")
                centre().chat_end("B3")  # wrap-up: its timer runs out, bz-3 is free: W0 is presented
                costs.append(steps_of(centre, lambda: centre().clock_advance(120_000)))
                assert centre().chat_show("W0").value["agent"] == "bz-3"
        finally:
            centre.close()
    small, big = costs
    assert big <= small * 1.3 + 5, costs


def test_db_check_says_where_a_kept_flag_is_wrong(cm):
    cm.ok("agent", "login")
    cm.ok("chat", "new", "--id", "C1")  # presented to agent-1: busy
    assert cm.run("db", "check").code == 0
    conn = sqlite3.connect(cm.db)
    try:
        conn.execute("UPDATE agents SET free = 1")
        conn.commit()
    finally:
        conn.close()
    done = cm.run("db", "check")
    assert done.code == 1
    assert "agent agent-1: kept as free for a queued chat, but its presence, call, chats and capacity make it" \
           " not free" in done.out


def kept_flags(path) -> dict[str, int | None]:
    conn = sqlite3.connect(path)
    try:
        return dict(conn.execute("SELECT id, free FROM agents ORDER BY id").fetchall())
    finally:
        conn.close()


def three_agents(cm) -> None:
    """agent-1 free, agent-2 busy (a new chat), agent-3 on a break."""
    for agent in ("agent-1", "agent-2", "agent-3"):
        cm.ok("agent", "login", agent=agent)
    cm.ok("chat", "new", "--inbox", "--id", "C1", agent="agent-2")
    cm.ok("agent", "break", agent="agent-3")


WORKED_OUT = {"agent-1": 1, "agent-2": 0, "agent-3": 0}


def test_an_older_database_gets_its_flags_worked_out_by_the_upgrade(cm):
    three_agents(cm)
    as_older_schema(cm.db, 7, "0009_free_agents",  # as the schema was before the flag
                    "DROP INDEX idx_agents_free", "ALTER TABLE agents DROP COLUMN free")
    cm.ok("clock", "advance", "0s")
    assert kept_flags(cm.db) == WORKED_OUT
    assert cm.run("db", "check").code == 0


def test_export_leaves_the_flag_out_and_import_and_restore_work_it_out(cm, tmp_path):
    three_agents(cm)
    cm.ok("snapshot", "save", "s1")
    bundle = tmp_path / "b.json"
    cm.ok("export", str(bundle))
    assert '"free"' not in bundle.read_text()  # worked out from the state, never saved
    conn = sqlite3.connect(cm.db)
    try:  # wrong flags: restoring the snapshot works them out again
        conn.execute("UPDATE agents SET free = 1 - ifnull(free, 0)")
        conn.commit()
    finally:
        conn.close()
    cm.ok("snapshot", "restore", "s1")
    assert kept_flags(cm.db) == WORKED_OUT
    other = type(cm)(tmp_path / "other.db")
    other.ok("import", str(bundle))
    assert kept_flags(other.db) == WORKED_OUT
    assert other.run("db", "check").code == 0


def test_an_agent_put_in_by_sql_is_worked_out_when_presenting(cm):
    """A row whose flag is not worked out yet (NULL) is a candidate: a chat is presented to it
    if it is free, and its flag is kept from then on."""
    cm.ok("agent", "login")
    cm.ok("chat", "new", "--inbox", "--id", "C1")  # agent-1 busy
    conn = sqlite3.connect(cm.db)
    try:
        conn.execute("INSERT INTO agents (id, presence, on_call, last_activity_ms, created_at_ms, status,"
                     " status_since_ms) SELECT 'sql-1', 'available', 0, now_ms, now_ms, 'available', now_ms FROM meta")
        conn.execute("INSERT INTO events (at_ms, agent, chat, from_state, to_state, cause)"
                     " SELECT now_ms, 'sql-1', NULL, NULL, 'available', 'login' FROM meta")
        conn.commit()
    finally:
        conn.close()
    assert kept_flags(cm.db)["sql-1"] is None
    assert cm.run("db", "check").code == 0  # not worked out yet is not wrong
    cm.ok("chat", "new", "--id", "C2")
    assert cm.js("chat", "show", "C2")["agent"] == "sql-1"
    assert kept_flags(cm.db) == {"agent-1": 0, "sql-1": 0}


def test_changing_the_global_capacity_works_out_every_flag(cm):
    for agent in ("agent-1", "agent-2"):
        cm.ok("agent", "login", agent=agent)
        cm.ok("chat", "new", "--inbox", "--id", f"C-{agent}", agent=agent)
        cm.ok("chat", "activate", f"C-{agent}", agent=agent)
        cm.ok("chat", "park", f"C-{agent}", agent=agent)  # one parked chat each: free under max-chats 3
    assert kept_flags(cm.db) == {"agent-1": 1, "agent-2": 1}
    cm.ok("config", "set", "max-chats", "1")
    assert kept_flags(cm.db) == {"agent-1": 0, "agent-2": 0}
    cm.ok("chat", "new", "--id", "Q1")
    assert cm.js("chat", "show", "Q1")["state"] == "queued"
    cm.ok("config", "set", "max-chats", "2", "--agent", "agent-2")
    assert kept_flags(cm.db) == {"agent-1": 0, "agent-2": 0}  # Q1 went to agent-2 at once
    assert cm.js("chat", "show", "Q1")["agent"] == "agent-2"
    assert cm.run("db", "check").code == 0


def test_a_profile_changing_the_global_capacity_works_out_every_flag(cm):
    cm.ok("agent", "login", agent="agent-1")
    for n in (1, 2, 3):
        cm.ok("chat", "new", "--inbox", "--id", f"C{n}")
        cm.ok("chat", "activate", f"C{n}")
        cm.ok("chat", "park", f"C{n}")
    assert kept_flags(cm.db) == {"agent-1": 0}  # three parked chats: full under max-chats 3
    cm.ok("chat", "new", "--id", "Q1")
    assert cm.js("chat", "show", "Q1")["state"] == "queued"
    cm.ok("profile", "apply", "genesys")  # max-chats 4: room for one more, presented at once
    assert cm.js("chat", "show", "Q1")["agent"] == "agent-1"
    assert kept_flags(cm.db) == {"agent-1": 0}
    assert cm.run("db", "check").code == 0
