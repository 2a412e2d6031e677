"""Agents and queues as a contact centre has them: login and logout, no phantom agents, breaks
with reasons, per-agent capacity, queue membership and on/off, the two routing modes, the
agent's status history, and the invariants ``db check`` holds them to.

The CLI as users run it: real ``chatemu`` processes against a temp database (``cm``: a fresh
database on a virtual clock at 09:00)."""

from __future__ import annotations

import json
import sqlite3

import pytest

from conftest import START, Chatemu
from test_check import corrupt



def at(seconds: float) -> str:
    whole, ms = divmod(round(seconds * 1000), 1000)
    minutes, secs = divmod(whole, 60)
    return f"2026-01-05T09:{minutes:02d}:{secs:02d}.{ms:03d}Z"


def status_events(cm: Chatemu, agent: str) -> list[tuple]:
    return [(e["at"], e["from"], e["to"], e["cause"]) for e in cm.js("events", "--agent", agent) if e["chat"] is None]


def login(cm: Chatemu, *agents: str) -> None:
    for agent in agents:
        cm.ok("agent", "login", agent=agent)


# == 1. login, logout, no phantom agents ============================================================


def test_the_first_agent_of_an_empty_database_comes_into_being_as_before(cm):
    chat = cm.js("chat", "new", "--customer", "Ann")
    assert (chat["state"], chat["agent"]) == ("new", "agent-1")
    assert [a["id"] for a in cm.js("agent", "list")] == ["agent-1"]


def test_once_an_agent_exists_an_unknown_acting_agent_is_exit_4_and_nothing_changes(cm):
    login(cm, "agent-1")
    cm.ok("chat", "new", "--inbox")
    done = cm.fails(4, "chat", "park", "C1", agent="agnet-1")
    assert done.err.strip() == "error: unknown agent agnet-1 (log it in first: chatemu --agent agnet-1 agent login)"
    for args in (["agent", "break"], ["agent", "available"], ["chat", "new", "--inbox"], ["chat", "take", "C1"],
                 ["agent", "queues", "set", "default"], ["chat", "call-start"], ["agent", "logout"]):
        cm.fails(4, *args, agent="agnet-1", match="unknown agent agnet-1")
    assert [a["id"] for a in cm.js("agent", "list")] == ["agent-1"]


def test_customer_actions_run_as_an_unknown_agent_and_create_none(cm):
    login(cm, "agent-1")
    cm.ok("agent", "break")
    assert cm.js("chat", "new", agent="nobody")["state"] == "queued"  # C1
    cm.ok("chat", "receive", "C1", "hello", agent="nobody")
    assert cm.js("chat", "end", "C1", agent="nobody")["state"] == "closed"
    assert [a["id"] for a in cm.js("agent", "list")] == ["agent-1"]


def test_login_creates_an_agent_available_and_logs_its_status(cm):
    done = cm.ok("agent", "login", agent="agent-2")
    assert "agent-2: (none) -> available (login)" in done.out
    agent = cm.js("agent", "status", agent="agent-2")
    assert (agent["presence"], agent["status"], agent["status_since"], agent["break_reason"]) == (
        "available", "available", at(0), None)
    cm.ok("agent", "break", agent="agent-2")
    cm.ok("clock", "advance", "10s")
    cm.ok("agent", "login", agent="agent-2")  # back from the break
    assert status_events(cm, "agent-2") == [
        (at(0), None, "available", "login"), (at(0), "available", "break", "break"),
        (at(10), "break", "available", "login")]


def test_logout_is_refused_with_open_chats_or_on_a_call_and_return_hands_them_back(cm):
    login(cm, "agent-1")
    cm.ok("config", "set", "auto-present", "off")
    cm.ok("chat", "new", "--inbox", "--queue", "sales")  # C1 new
    cm.ok("chat", "new", "--inbox")  # C2
    cm.ok("chat", "activate", "C2")
    cm.fails(3, "agent", "logout", match="has 2 open chat(s): C1 C2 (return them with --return")
    cm.ok("chat", "call-start")
    cm.fails(3, "agent", "logout", "--return", match="is on a call")
    cm.ok("chat", "call-end")
    agent = cm.js("agent", "logout", "--return")
    assert (agent["presence"], agent["status"], agent["open_chats"]) == ("logged-out", "logged-out", 0)
    assert [(c["id"], c["state"], c["agent"], c["queue"]) for c in cm.js("chat", "list", "--all")] == [
        ("C1", "queued", None, "sales"), ("C2", "queued", None, "default")]
    # a logged-out agent is presented nothing and takes nothing
    cm.ok("config", "set", "auto-present", "on")
    assert cm.chat("C1")["state"] == "queued"
    cm.fails(3, "chat", "take", "C1", match="agent-1 is logged out")
    cm.fails(3, "agent", "break", match="logged out")
    cm.ok("agent", "login")
    assert cm.chat("C1")["agent"] == "agent-1"  # presented at once on login
    assert cm.run("db", "check").code == 0


def test_take_refused_to_a_logged_out_agent_names_the_chat_and_its_state(cm):
    login(cm, "agent-1")
    cm.ok("agent", "logout")
    cm.ok("chat", "new")
    done = cm.fails(3, "chat", "take", "C1")
    assert done.err.strip() == (
        "error: cannot take C1: it is queued and agent-1 is logged out (chatemu --agent agent-1 agent login)")
    cm.fails(3, "chat", "new", "--inbox",
             match="cannot create C2 in agent-1's inbox: agent-1 is logged out (chatemu --agent agent-1 agent login)")


def test_logout_with_a_chat_in_wrapup_is_refused_even_with_return(cm):
    login(cm, "agent-1")
    cm.ok("chat", "new", "--inbox")
    cm.ok("chat", "activate", "C1")
    cm.ok("chat", "end", "C1")
    cm.fails(3, "agent", "logout", match="finish their wrap-up first")
    cm.fails(3, "agent", "logout", "--return", match="in wrap-up: C1")


def test_break_reasons_come_from_a_configurable_list(cm):
    login(cm, "agent-1")
    assert cm.js("break-reason", "list") == ["lunch", "training", "comfort", "meeting"]
    agent = cm.js("agent", "break", "--reason", "lunch")
    assert (agent["presence"], agent["break_reason"]) == ("break", "lunch")
    assert "presence break (lunch)" in cm.ok("agent", "status").out
    cm.fails(4, "agent", "break", "--reason", "nap", match="unknown break reason nap (reasons: lunch, training")
    cm.fails(2, "agent", "break", "--reason", "a nap", match="bad break reason")
    cm.fails(2, "agent", "available", "--reason", "lunch")  # no such option
    cm.ok("break-reason", "add", "nap")
    assert cm.js("agent", "break", "--reason", "nap")["break_reason"] == "nap"
    cm.ok("break-reason", "remove", "comfort")
    cm.fails(4, "break-reason", "remove", "comfort", match="unknown break reason comfort")
    cm.fails(2, "break-reason", "add", "bad reason!")
    assert cm.js("break-reason", "list") == ["lunch", "training", "meeting", "nap"]
    assert cm.js("agent", "available")["break_reason"] is None
    assert cm.run("db", "check").code == 0


def test_per_agent_capacity_overrides_the_global_one(cm):
    login(cm, "agent-1", "agent-2")
    cm.ok("config", "set", "max-chats", "1", "--agent", "agent-2")
    assert cm.js("config", "show")["agents"] == {"agent-2": {"max-chats": 1}}
    cm.ok("chat", "new", "--inbox", agent="agent-2")
    cm.fails(3, "chat", "new", "--inbox", agent="agent-2", match="at capacity 1/1")
    cm.ok("chat", "new", "--inbox")
    cm.ok("chat", "new", "--inbox")  # agent-1 keeps the global 3
    assert cm.js("agent", "status", agent="agent-2")["max_chats"] == 1
    cm.fails(4, "config", "set", "max-chats", "2", "--agent", "ghost", match="unknown agent ghost")
    cm.fails(2, "config", "set", "wrapup", "2m", "--agent", "agent-2", match="cannot be set per agent")
    cm.fails(2, "config", "set", "max-chats", "0", "--agent", "agent-2")


# == 2. queues, membership, which queue first =======================================================


def test_queues_come_into_being_and_show_what_waits_and_who_serves(cm):
    login(cm, "agent-1", "agent-2")
    cm.ok("agent", "break")
    cm.ok("agent", "break", agent="agent-2")
    cm.ok("chat", "new", "--queue", "support")  # C1: support comes into being (no queue added yet)
    cm.ok("queue", "add", "sales")
    cm.ok("clock", "advance", "30s")
    cm.ok("chat", "new", "--queue", "support")  # C2
    cm.ok("agent", "queues", "set", "sales", agent="agent-2")
    cm.ok("clock", "advance", "15s")
    support = cm.js("queue", "show", "support")
    assert support == {"name": "support", "waiting": 2, "longest_wait_seconds": 45,
                       "oldest_waiting_since": at(0), "in_inboxes": 0, "assigned": [], "serving": ["agent-1"],
                       "available": 0}
    assert [q["name"] for q in cm.js("queue", "list")] == ["sales", "support"]
    cm.ok("agent", "available", agent="agent-2")
    sales = cm.js("queue", "show", "sales")
    assert (sales["assigned"], sales["serving"], sales["available"]) == (["agent-2"], ["agent-1", "agent-2"], 1)
    cm.fails(4, "queue", "show", "nope", match="unknown queue nope")
    cm.fails(2, "queue", "add", "bad queue")


def test_agent_queues_set_on_off_and_clear(cm):
    login(cm, "agent-1")
    for queue in ("sales", "support", "billing"):
        cm.ok("queue", "add", queue)
    assert cm.js("agent", "queues") == {"agent": "agent-1", "all": True, "queues": []}
    cm.ok("agent", "queues", "set", "support", "sales")
    cm.ok("agent", "queues", "off", "sales")
    assert cm.js("agent", "queues")["queues"] == [{"queue": "support", "on": True}, {"queue": "sales", "on": False}]
    assert cm.ok("agent", "queues").out.strip() == "agent-1 serves, in order: support, sales (off)"
    cm.ok("agent", "queues", "set", "sales", "billing")  # sales keeps its off; billing is new, on
    assert cm.js("agent", "queues")["queues"] == [{"queue": "sales", "on": False}, {"queue": "billing", "on": True}]
    cm.fails(2, "agent", "queues", "off", "support", match="not assigned to queue support")
    cm.fails(4, "agent", "queues", "set", "nope", match="unknown queue nope")
    cm.fails(2, "agent", "queues", "set", "sales", "sales", match="named twice")
    cm.fails(2, "agent", "queues", "set")
    cm.ok("agent", "queues", "clear")
    assert cm.js("agent", "queues")["all"] is True
    assert cm.run("db", "check").code == 0


def test_presentation_and_take_only_from_the_agents_queues_that_are_on(cm):
    login(cm, "agent-1")
    for queue in ("sales", "support"):
        cm.ok("queue", "add", queue)
    cm.ok("agent", "queues", "set", "sales", "support")
    cm.ok("agent", "queues", "off", "support")
    cm.ok("chat", "new", "--queue", "support")  # C1: agent-1 has support off
    assert cm.chat("C1")["state"] == "queued"
    cm.fails(3, "chat", "take", "C1",
             match="cannot take C1: it is queued and queue support is switched off for agent-1 (its queues: sales, support (off))")
    cm.ok("chat", "new")  # C2 in default: not one of its queues
    cm.fails(3, "chat", "take", "C2", match="queue default is not one of its queues")
    explained = cm.js("explain", "C2")
    assert "it is not assigned to queue default" in explained["agents"][0]["reasons"]
    assert "it has queue support switched off" in cm.js("explain", "C1")["agents"][0]["reasons"]
    cm.ok("chat", "new", "--queue", "sales")  # C3: presented
    assert cm.chat("C3")["agent"] == "agent-1"
    cm.ok("chat", "activate", "C3")
    cm.ok("chat", "end", "C3")
    cm.ok("chat", "wrapup", "C3", "--finish")
    cm.ok("agent", "queues", "on", "support")  # switching on presents at once
    assert cm.chat("C1")["agent"] == "agent-1"
    assert cm.chat("C2")["state"] == "queued"
    assert cm.run("db", "check").code == 0


def test_a_read_does_not_wait_for_the_write_lock_over_a_chat_no_free_agent_serves(cm):
    login(cm, "agent-1")
    cm.ok("queue", "add", "sales")
    cm.ok("agent", "queues", "set", "sales")
    cm.ok("chat", "new")  # C1 waits in default: agent-1 is free but does not serve it, so nothing is due
    writer = sqlite3.connect(cm.db, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        done = cm.run("chat", "list", "--all", "--json", env={"CHATEMU_BUSY_TIMEOUT": "1"})
        assert done.code == 0, done
        assert [(c["id"], c["state"]) for c in json.loads(done.out)] == [("C1", "queued")]
        writer.execute("ROLLBACK")
    finally:
        writer.close()


@pytest.mark.parametrize("mode", ["longest-wait", "queue-order"])
def test_routing_longest_wait_or_the_agents_queue_order(cm, mode):
    login(cm, "agent-1")
    cm.ok("agent", "break")
    for queue in ("sales", "support"):
        cm.ok("queue", "add", queue)
    cm.ok("agent", "queues", "set", "support", "sales")
    cm.ok("config", "set", "routing", mode)
    cm.ok("chat", "new", "--queue", "sales")  # C1, waits longest
    cm.ok("clock", "advance", "10s")
    cm.ok("chat", "new", "--queue", "support")  # C2, in the agent's first queue
    cm.ok("chat", "new", "--queue", "sales", "--priority", "1")  # C3, sales' highest priority
    cm.ok("agent", "available")
    presented = [c["id"] for c in cm.js("chat", "list")]
    # longest-wait: priority first across its queues (C3), then the longest wait (C1);
    # queue-order: its first queue first (C2), whatever waits elsewhere
    assert presented == (["C3"] if mode == "longest-wait" else ["C2"])
    cm.ok("chat", "activate", presented[0])
    cm.ok("chat", "park", presented[0])  # all parked: the next is presented
    expected_second = "C1" if mode == "longest-wait" else "C3"
    assert [c["id"] for c in cm.js("chat", "list")] == sorted([presented[0], expected_second], key=lambda c: int(c[1:]))


def test_the_choice_of_agent_stays_idle_longest_first_among_those_serving_the_queue(cm):
    login(cm, "a1", "a2", "a3")
    cm.ok("queue", "add", "sales")
    cm.ok("agent", "queues", "set", "sales", agent="a3")
    for agent in ("a1", "a2", "a3"):
        cm.ok("agent", "break", agent=agent)
    cm.ok("agent", "available", agent="a3")  # a3 idle since 09:00
    cm.ok("clock", "advance", "1m")
    cm.ok("agent", "available", agent="a1")  # a1 since 09:01
    cm.ok("clock", "advance", "1m")
    cm.ok("agent", "available", agent="a2")
    assert cm.js("chat", "new")["agent"] == "a1"  # default: a3 does not serve it; a1 waited longest
    assert cm.js("chat", "new", "--queue", "sales")["agent"] == "a3"
    assert cm.js("chat", "new")["agent"] == "a2"
    assert cm.run("db", "check").code == 0


#: Every command that names a queue, with a mistyped one (``slaes``): once a queue was added, each
#: is exit 4 and changes nothing; C1 is agent-1's active chat of queue sales.
TYPO_QUEUE = [
    ["chat", "new", "--queue", "slaes"],
    ["chat", "new", "--inbox", "--queue", "slaes"],
    ["chat", "transfer", "C1", "--queue", "slaes"],
    ["chat", "list", "--queue", "slaes"],
    ["config", "set", "wrapup", "30s", "--queue", "slaes"],
    ["template", "add", "hi", "Hello", "--queue", "slaes"],
    ["template", "list", "--queue", "slaes"],
    ["template", "remove", "hi", "--queue", "slaes"],
    ["classification", "add", "refund", "--queue", "slaes"],
    ["classification", "list", "--queue", "slaes"],
    ["classification", "remove", "refund", "--queue", "slaes"],
    ["agent", "queues", "set", "slaes"],
    ["agent", "queues", "on", "slaes"],
    ["agent", "queues", "off", "slaes"],
    ["queue", "show", "slaes"],
    ["expect", "queue", "slaes", "C1"],
]


@pytest.mark.parametrize("args", TYPO_QUEUE, ids=lambda args: " ".join(args[:2]) + " " + args[2])
def test_once_a_queue_was_added_a_mistyped_queue_is_exit_4_everywhere(cm, args):
    login(cm, "agent-1")
    cm.ok("queue", "add", "sales")
    cm.ok("chat", "new", "--inbox", "--queue", "sales")
    cm.ok("chat", "activate", "C1")
    done = cm.fails(4, *args)
    assert done.err.strip() == (
        "error: unknown queue slaes (add it first: chatemu queue add slaes; did you mean sales?)"), done
    assert [q["name"] for q in cm.js("queue", "list")] == ["sales"]


def test_an_unknown_queue_or_agent_is_exit_4_whatever_the_chats_state(cm):
    """An unknown name is named first, as an unknown chat is: a transfer of a chat that could not
    be transferred now (a new one) to a mistyped queue or agent is exit 4, not a refusal."""
    login(cm, "agent-1")
    cm.ok("queue", "add", "sales")
    cm.ok("chat", "new", "--inbox", "--queue", "sales")
    cm.fails(4, "chat", "transfer", "C1", "--queue", "slaes", match="unknown queue slaes")
    cm.fails(4, "chat", "transfer", "C1", "--agent", "agent-9", match="unknown agent agent-9")
    cm.fails(3, "chat", "transfer", "C1", "--queue", "sales")  # a known name: the state decides


def test_an_unknown_queue_with_nothing_like_it_names_no_closest(cm):
    cm.ok("queue", "add", "sales")
    done = cm.fails(4, "chat", "new", "--queue", "billing")
    assert done.err.strip() == "error: unknown queue billing (add it first: chatemu queue add billing)"
    cm.fails(2, "chat", "new", "--queue", "bad queue", match="bad queue")  # malformed stays a usage error
    assert cm.js("chat", "new")["queue"] == "default"  # a chat without --queue: always the default queue


def test_before_any_queue_add_a_queue_comes_into_being_when_named(cm):
    login(cm, "agent-1")
    cm.ok("config", "set", "wrapup", "30s", "--queue", "vip")
    cm.ok("template", "add", "hi", "Hello", "--queue", "vip")
    assert cm.js("chat", "list", "--queue", "nowhere") == []
    cm.ok("chat", "new", "--inbox", "--queue", "sales")
    cm.ok("chat", "activate", "C1")
    cm.ok("chat", "transfer", "C1", "--queue", "support")
    assert [q["name"] for q in cm.js("queue", "list")] == ["sales", "support"]
    cm.ok("queue", "add", "vip")  # from now on only these three
    cm.fails(4, "chat", "new", "--queue", "gold", match="unknown queue gold")
    assert cm.js("chat", "new", "--queue", "support")["queue"] == "support"


def test_whether_a_queue_was_added_travels_with_snapshots_and_bundles_and_reset_clears_it(cm, tmp_path):
    cm.ok("snapshot", "save", "open")
    cm.ok("queue", "add", "sales")
    cm.ok("snapshot", "save", "closed")
    cm.fails(4, "chat", "new", "--queue", "other")
    bundle = tmp_path / "closed.json"
    cm.ok("export", str(bundle))
    cm.ok("snapshot", "restore", "open")
    assert cm.js("chat", "new", "--queue", "other")["queue"] == "other"
    cm.ok("snapshot", "restore", "closed")
    cm.fails(4, "chat", "new", "--queue", "other")
    cm.ok("reset", "--yes")
    assert cm.js("chat", "new", "--queue", "other")["queue"] == "other"
    cm.ok("import", "--replace", str(bundle))
    cm.fails(4, "chat", "new", "--queue", "other")
    assert cm.run("db", "check").code == 0
    assert "queues-added" not in cm.ok("config", "show").out
    cm.fails(2, "config", "set", "queues-added", "off", match="unknown config key")


def test_an_agent_assigned_to_queues_transfers_only_to_one_of_them(cm):
    login(cm, "agent-1")
    for queue in ("sales", "support", "billing"):
        cm.ok("queue", "add", queue)
    cm.ok("agent", "queues", "set", "sales", "support")
    cm.ok("agent", "queues", "off", "support")
    cm.ok("chat", "new", "--inbox", "--queue", "sales")
    cm.ok("chat", "activate", "C1")
    assert any("(Q one of agent-1's queues: support)" in line for line in cm.js("explain", "C1")["next"])
    done = cm.fails(3, "chat", "transfer", "C1", "--queue", "billing")
    assert done.err.strip() == ("error: cannot transfer C1 to queue billing: it is active and queue billing is not"
                                " one of agent-1's queues (its queues: sales, support (off))")
    chat = cm.js("chat", "transfer", "C1", "--queue", "support")  # switched off, still one of its queues
    assert (chat["state"], chat["queue"], chat["transfers"]) == ("queued", "support", 1)
    cm.ok("agent", "queues", "clear")  # serving every queue, it transfers anywhere
    assert cm.chat("C1")["agent"] == "agent-1"
    cm.ok("chat", "activate", "C1")
    assert cm.js("chat", "transfer", "C1", "--queue", "billing")["queue"] == "billing"


def test_explain_says_an_agent_with_only_the_chats_queue_cannot_transfer_it_to_a_queue(cm):
    login(cm, "agent-1")
    cm.ok("queue", "add", "sales")
    cm.ok("agent", "queues", "set", "sales")
    cm.ok("chat", "new", "--inbox", "--queue", "sales")
    cm.ok("chat", "activate", "C1")
    lines = cm.js("explain", "C1")["next"]
    assert "transferring it to a queue is refused: agent-1 is assigned to no other queue" in lines, lines
    assert not any("--queue Q" in line for line in lines), lines
    cm.fails(3, "chat", "transfer", "C1", "--queue", "default", match="not one of agent-1's queues (its queues: sales)")


# == 3. the agent's status history ===================================================================


def test_every_status_change_is_an_agent_event_at_its_instant(cm):
    login(cm, "agent-1")
    cm.ok("chat", "new", "--inbox")
    cm.ok("clock", "advance", "5s")
    cm.ok("chat", "activate", "C1")  # handling-chat
    cm.ok("chat", "new", "--inbox")
    cm.ok("clock", "advance", "5s")
    cm.ok("chat", "activate", "C2")  # C1 parked for C2: still handling-chat, nothing logged
    cm.ok("clock", "advance", "5s")
    cm.ok("chat", "end", "C2")  # wrap-up
    cm.ok("clock", "advance", "5s")
    cm.ok("chat", "call-start")  # on-call
    cm.ok("clock", "advance", "5s")
    cm.ok("chat", "call-end")  # C2 resumes: wrap-up
    cm.ok("clock", "advance", "2m")  # C2's timer runs out at 09:01:20: available
    cm.ok("agent", "break", "--reason", "lunch")
    assert status_events(cm, "agent-1") == [
        (at(0), None, "available", "login"),
        (at(5), "available", "handling-chat", "activate"),
        (at(15), "handling-chat", "wrap-up", "customer"),
        (at(20), "wrap-up", "on-call", "call"),
        (at(25), "on-call", "wrap-up", "call"),
        (at(80), "wrap-up", "available", "timer"),
        (at(145), "available", "break", "break"),
    ]
    assert cm.js("agent", "status")["status_since"] == at(145)
    assert cm.run("db", "check").code == 0


def test_a_status_change_caused_by_a_chat_is_logged_and_shown_after_the_chats_move(cm):
    login(cm, "agent-1")
    cm.ok("chat", "new", "--inbox")
    done = cm.ok("chat", "activate", "C1")
    assert done.out.splitlines() == [f"{at(0)}  C1: new -> active (activate)",
                                     f"{at(0)}  agent-1: available -> handling-chat (activate)",
                                     "C1 active in agent-1's inbox"]
    assert status_events(cm, "agent-1")[-1] == (at(0), "available", "handling-chat", "activate")


def test_transfer_and_return_change_the_sending_agents_status(cm):
    login(cm, "agent-1", "agent-2")
    cm.ok("chat", "new", "--inbox")
    cm.ok("chat", "activate", "C1")
    cm.ok("chat", "transfer", "C1", "--agent", "agent-2")
    assert status_events(cm, "agent-1")[-1] == (at(0), "handling-chat", "available", "transfer")
    cm.ok("chat", "activate", "C1", agent="agent-2")
    cm.ok("chat", "return", "C1", agent="agent-2")
    assert status_events(cm, "agent-2")[-2:] == [
        (at(0), "available", "handling-chat", "activate"), (at(0), "handling-chat", "available", "return")]
    assert cm.run("db", "check").code == 0


# == db check ========================================================================================


@pytest.fixture
def checked(tmp_path) -> Chatemu:
    cm = Chatemu(tmp_path / "c.db")
    cm.ok("clock", "set", START)
    login(cm, "agent-1", "agent-2")
    cm.ok("queue", "add", "sales")
    cm.ok("agent", "queues", "set", "sales", agent="agent-2")
    cm.ok("clock", "advance", "1s")  # presented after the queues changed, not at that instant
    cm.ok("chat", "new", "--queue", "sales")  # C1 → agent-1 (idle longest: ties by id)
    cm.ok("chat", "new", "--queue", "sales")  # C2 → agent-2
    cm.ok("chat", "activate", "C1")
    assert cm.run("db", "check").code == 0
    return cm


def test_db_check_passes_a_chat_presented_at_the_instant_its_agents_queues_then_changed(cm):
    login(cm, "agent-1", "agent-2")
    cm.ok("queue", "add", "vip")
    cm.ok("chat", "new")  # C1 → agent-1
    cm.ok("chat", "new")  # C2 → agent-2, from default
    cm.ok("agent", "queues", "set", "vip", agent="agent-2")  # at the same instant: C2 stays where it is
    assert (cm.chat("C2")["state"], cm.chat("C2")["agent"]) == ("new", "agent-2")
    done = cm.run("db", "check")
    assert done.code == 0, done


@pytest.mark.parametrize("statements, message", [
    (["UPDATE agents SET status = 'available' WHERE id = 'agent-1'"], "its presence, call and active chat make it"),
    (["UPDATE agents SET status_since_ms = status_since_ms + 1 WHERE id = 'agent-1'"], "replay of its status events"),
    (["DELETE FROM events WHERE chat IS NULL AND agent = 'agent-2'"], "agent-2: available, but it has no status events"),
    (["UPDATE agents SET presence = 'logged-out', status = 'logged-out' WHERE id = 'agent-2'"], "logged out with 1 open chat"),
    (["UPDATE agents SET break_reason = 'lunch' WHERE id = 'agent-2'"], "a bad break reason"),
    (["UPDATE agents SET max_chats = 0 WHERE id = 'agent-2'"], "capacity"),
    (["DELETE FROM queues WHERE name = 'sales'"], "its queue sales does not exist"),
    (["INSERT INTO agent_queues (agent, queue, position, enabled) VALUES ('ghost', 'sales', 0, 1)"], "unknown agent or queue"),
    (["INSERT INTO queues (name, created_at_ms) VALUES ('other', 0)",
      "UPDATE agent_queues SET queue = 'other' WHERE agent = 'agent-2'"], "presented to agent-2 from queue sales, which it does not serve"),
    (["UPDATE events SET from_state = 'break' WHERE seq = (SELECT max(seq) FROM events WHERE chat IS NULL AND agent = 'agent-1')"],
     "but its last status event left it"),
    (["UPDATE config SET value = 'off' WHERE key = 'queues-added'"], "config: queues-added holds 'off', not a valid value"),
    (["UPDATE config SET queue = 'sales' WHERE key = 'queues-added'"], "config: queues-added for queue sales holds 'on'"),
])
def test_db_check_finds_each_broken_agent_or_queue_invariant(checked, statements, message):
    found = corrupt(checked.db, *statements)
    assert any(message in line for line in found), found


def test_a_database_where_only_queues_were_added_takes_a_bundle_without_replace(cm, tmp_path):
    cm.ok("chat", "new", "--queue", "other")
    bundle = tmp_path / "open.json"
    cm.ok("export", str(bundle))
    fresh = Chatemu(tmp_path / "fresh.db")
    fresh.ok("queue", "add", "sales")
    fresh.ok("import", str(bundle))  # the bundle's state, saved before any queue add, replaces it
    assert fresh.js("chat", "new", "--queue", "whatever")["queue"] == "whatever"
    assert [q["name"] for q in fresh.js("queue", "list")] == ["other", "whatever"]
