"""The pure routing decisions, in-process: who gets which queued chat, in which order."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chatemu.store import routing
from chatemu.store.routing import AgentFacts, Waiting


def agent(id, presence="available", on_call=False, busy=None, open_chats=0, max_chats=3, last=0):
    return AgentFacts(id, presence, on_call, busy, open_chats, max_chats, last)


def chat(id, priority=0, created=0, number=None, queue="default"):
    return Waiting(id, queue, priority, created, number if number is not None else int(id[1:]))


def test_not_presentable_reasons_in_order():
    assert routing.not_presentable(agent("a"), True) == []
    reasons = routing.not_presentable(agent("a", "break", True, "C1 active", 3, 3), False)
    assert reasons == [
        "auto-present is off",
        "it is on a break",
        "it is on a call",
        "it has C1 active",
        "it is at capacity 3/3",
    ]


def test_highest_priority_then_oldest_then_creation_order():
    waiting = [chat("C1", 0, 100), chat("C2", 5, 300), chat("C3", 0, 50), chat("C4", 5, 300)]
    agents = [agent(f"a{i}", last=i) for i in range(4)]
    assert routing.decide(waiting, agents, True) == [("C2", "a0"), ("C4", "a1"), ("C3", "a2"), ("C1", "a3")]


def test_a_returned_chat_keeps_its_arrival_time():
    # C9 was created later (higher number) but arrived first: it goes first.
    waiting = [chat("C2", created=200), chat("C9", created=100)]
    assert routing.decide(waiting, [agent("a")], True) == [("C9", "a")]


def test_idle_longest_first_ties_by_id():
    agents = [agent("b", last=10), agent("c", last=5), agent("a", last=10)]
    waiting = [chat("C1"), chat("C2"), chat("C3")]
    assert routing.decide(waiting, agents, True) == [("C1", "c"), ("C2", "a"), ("C3", "b")]


def test_agents_that_cannot_take_a_chat_are_passed_over():
    agents = [
        agent("brk", "break"),
        agent("call", on_call=True),
        agent("busy", busy="C7 new"),
        agent("full", open_chats=2, max_chats=2),
        agent("ok", last=99),
    ]
    assert routing.decide([chat("C1"), chat("C2")], agents, True) == [("C1", "ok")]


def test_nothing_is_decided_with_auto_present_off_or_nobody_free():
    assert routing.decide([chat("C1")], [agent("a")], False) == []
    assert routing.decide([chat("C1")], [agent("a", "break")], True) == []
    assert routing.decide([], [agent("a")], True) == []


facts = st.builds(
    AgentFacts,
    id=st.sampled_from(["a", "b", "c", "d"]),
    presence=st.sampled_from(["available", "break"]),
    on_call=st.booleans(),
    busy_chat=st.none() | st.just("C0 new"),
    open_chats=st.integers(0, 4),
    max_chats=st.integers(1, 4),
    last_activity_ms=st.integers(0, 5),
    queues=st.none(),  # every queue (queue membership has its own tests)
    assigned=st.none(),
)
waits = st.builds(
    Waiting,
    id=st.sampled_from([f"C{i}" for i in range(1, 9)]),
    queue=st.just("default"),
    priority=st.integers(-1, 1),
    created_at_ms=st.integers(0, 5),
    number=st.integers(1, 8),
)


@given(st.lists(waits, unique_by=lambda w: w.id), st.lists(facts, unique_by=lambda a: a.id), st.booleans())
def test_decisions_hold_the_rules(waiting, agents, auto):
    decisions = routing.decide(waiting, agents, auto)
    chosen_agents = [a for _, a in decisions]
    chosen_chats = [c for c, _ in decisions]
    assert len(set(chosen_agents)) == len(chosen_agents)  # one chat per agent per decision
    by_id = {a.id: a for a in agents}
    for agent_id in chosen_agents:
        assert routing.not_presentable(by_id[agent_id], auto) == []
    free = [a for a in agents if not routing.not_presentable(a, auto)]
    assert len(decisions) == min(len(free), len(waiting))
    # The chats chosen are the first ones in queue order, given to agents in idle order.
    ordered = sorted(waiting, key=lambda w: (-w.priority, w.created_at_ms, w.number))
    assert chosen_chats == [w.id for w in ordered[: len(decisions)]]
    assert chosen_agents == [a.id for a in sorted(free, key=lambda a: (a.last_activity_ms, a.id))][: len(decisions)]


def test_who_would_receive_a_chat_once_free():
    """Only an agent logged in, not on a break, serving the queue with it on and with room (or a
    chat closing by itself in wrap-up) would receive it; a call or a chat of its own only delays it."""
    sales = ("sales",)
    assert routing.would_not_receive(agent("a", on_call=True, busy="C1 active"), "sales") == []
    assert routing.would_not_receive(agent("a", "break"), "sales") == ["it is on a break"]
    assert routing.would_not_receive(agent("a", "logged-out"), "sales") == ["it is logged out"]
    assert routing.would_not_receive(agent("a", open_chats=3, max_chats=3), "sales") == ["it is at capacity 3/3"]
    assert routing.would_not_receive(agent("a", open_chats=3, max_chats=3), "sales", closing=True) == []
    served = agent("a")._replace(queues=(), assigned=sales)
    assert routing.would_not_receive(served, "sales") == ["it has queue sales switched off"]
    other = agent("a", "break")._replace(queues=sales, assigned=sales)
    assert routing.would_not_receive(other, "vip") == ["it is on a break", "it is not assigned to queue vip"]
