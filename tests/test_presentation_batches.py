"""Presentation with agents assigned to queues reads the free agents a batch at a time, no more
of them than chats are queued: a chat joining a queue with many free agents reads one agent's
facts, not dozens, and still goes to the one idle longest."""

from __future__ import annotations

from chatemu.store import tx as tx_module
from chatemu.store.engine import Connections, Engine


def test_a_chat_joining_a_queue_reads_one_free_agent_when_agents_serve_queues(tmp_path, monkeypatch):
    path = str(tmp_path / "c.db")
    connections = Connections()
    agents = [f"a{i:03}" for i in range(100)]
    for agent in agents:
        engine = Engine(path, agent, connections=connections)
        engine.queue_add("sales")
        engine.agent_login()
        engine.agent_queues_set(["sales"])
    read: list[int] = []
    facts = tx_module.Tx._facts

    def counting(self, where, params, limit=None):
        found = facts(self, where, params, limit)
        read.append(len(found[0]))
        return found

    monkeypatch.setattr(tx_module.Tx, "_facts", counting)
    customer = Engine(path, "customer", connections=connections)
    events = customer.chat_new(queue="sales").events
    presented = [ev for ev in events if ev["cause"] == "presentation"]
    assert [ev["agent"] for ev in presented] == ["a000"]  # the one idle longest
    assert sum(read) <= 2, read
    connections.close()
