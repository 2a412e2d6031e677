"""End-to-end tests of the installed ``chatemu``: one process per step, as a shell script runs it.

Every test gets a fresh temp database whose virtual clock stands at 2026-01-05T09:00:00Z
(the ``cm`` fixture of conftest.py).  Assertions are made on ``--json`` output wherever
there is one.  ``cm.fails`` checks a refusal completely: its exit code, exactly one
``error: …`` line on stderr, nothing on stdout, and the database byte-for-byte as before.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest
from conftest import START, Chatemu

T0 = datetime(2026, 1, 5, 9, 0, 0, tzinfo=timezone.utc)
ISO_MS_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")

CHAT_FIELDS = {
    "id", "state", "agent", "customer", "queue", "priority", "wrapup_remaining", "extensions_left",
    "parked_by_call", "closed_reason", "created_at", "closed_at",
}
AGENT_FIELDS = {"id", "presence", "status", "on_call", "active_chat"}
EVENT_FIELDS = {"seq", "at", "agent", "chat", "from", "to", "cause"}


def at(seconds: float = 0) -> str:
    """The instant ``seconds`` after the fixture's start, as chatemu prints it."""
    moment = T0 + timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def changes(events: list[dict]) -> list[tuple]:
    """Events as (chat, from, to, cause) tuples, for readable comparisons."""
    return [(e["chat"], e["from"], e["to"], e["cause"]) for e in events]


def inbox_ids(cm: Chatemu, agent: str | None = None) -> list[str]:
    return [c["id"] for c in cm.js("chat", "list", agent=agent)]


def copy_db(src: Chatemu, dst_path) -> Chatemu:
    """A copy of a whole chatemu database (SQLite backup API: header, WAL and all)."""
    source, target = sqlite3.connect(src.db), sqlite3.connect(dst_path)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
    return Chatemu(dst_path)


def active_chat(cm: Chatemu, chat_id: str = "C1", **new_opts) -> dict:
    """Create a chat straight into the inbox and activate it."""
    args = ["chat", "new", "--inbox"]
    for key, value in new_opts.items():
        args += [f"--{key}", str(value)]
    created = cm.js(*args)
    assert created["id"] == chat_id
    return cm.js("chat", "activate", chat_id)


# == chat new ============================================================================


def test_chat_new_creates_a_queued_chat_with_defaults(cm):
    cm.ok("agent", "break")  # nobody to present to: the chat stays queued
    chat = cm.js("chat", "new")
    assert chat["id"] == "C1"
    assert chat["state"] == "queued"
    assert chat["agent"] is None
    assert chat["customer"] is None
    assert chat["queue"] == "default"
    assert chat["priority"] == 0
    assert chat["wrapup_remaining"] is None
    assert chat["parked_by_call"] is False
    assert chat["closed_reason"] is None
    assert chat["created_at"] == at(0)
    assert chat["closed_at"] is None
    assert changes(cm.js("events", "--chat", "C1")) == [("C1", None, "queued", "customer")]


def test_chat_new_options_and_ids_in_creation_order(cm):
    cm.ok("agent", "break")
    first = cm.js("chat", "new", "--customer", "Ada Lovelace", "--queue", "billing", "--priority", "7")
    second = cm.js("chat", "new")
    named = cm.js("chat", "new", "--id", "VIP-1")
    assert (first["id"], second["id"], named["id"]) == ("C1", "C2", "VIP-1")
    assert (first["customer"], first["queue"], first["priority"]) == ("Ada Lovelace", "billing", 7)
    assert named["state"] == "queued"
    assert [c["id"] for c in cm.js("chat", "list", "--all")] == ["C1", "C2", "VIP-1"]


def test_chat_new_inbox_puts_it_new_in_the_current_agents_inbox(cm):
    cm.ok("agent", "login", agent="bob")
    cm.ok("agent", "break", agent="bob")  # --inbox bypasses presentation, break or not
    chat = cm.js("chat", "new", "--inbox", agent="bob")
    assert (chat["state"], chat["agent"]) == ("new", "bob")
    assert inbox_ids(cm, agent="bob") == ["C1"]
    assert changes(cm.js("events", "--chat", "C1")) == [("C1", None, "new", "customer")]


def test_chat_new_with_an_existing_id_is_refused(cm):
    cm.ok("chat", "new", "--id", "X1")
    cm.fails(3, "chat", "new", "--id", "X1", match="X1")
    assert [c["id"] for c in cm.js("chat", "list", "--all")] == ["X1"]


def test_chat_new_bad_values_are_usage_errors(cm):
    cm.fails(2, "chat", "new", "--priority", "high")
    cm.fails(2, "chat", "new", "--queue", "no spaces please")
    cm.fails(2, "chat", "new", "--id", "")


# == chat take ===========================================================================


def test_take_moves_a_queued_chat_into_the_inbox_as_new(cm):
    cm.ok("agent", "break")
    cm.ok("chat", "new")
    chat = cm.js("chat", "take", "C1")
    assert (chat["state"], chat["agent"]) == ("new", "agent-1")
    assert inbox_ids(cm) == ["C1"]
    assert changes(cm.js("events", "--chat", "C1"))[-1] == ("C1", "queued", "new", "take")


def test_take_is_refused_at_capacity(cm):
    cm.ok("config", "set", "max-chats", "2")
    cm.ok("chat", "new", "--inbox")
    cm.ok("chat", "new", "--inbox")
    cm.ok("chat", "new")  # C3 stays queued: C1 is new, the agent is busy
    done = cm.fails(3, "chat", "take", "C3", match="C3")
    assert "take" in done.err and "capacity" in done.err
    cm.fails(3, "chat", "new", "--inbox", match="capacity")
    cm.ok("config", "set", "max-chats", "3")
    assert cm.js("chat", "take", "C3")["state"] == "new"


# == activate, park ======================================================================


def test_activate_makes_a_new_chat_active_and_parks_the_other_active_one(cm):
    cm.ok("chat", "new", "--inbox")
    cm.ok("chat", "new", "--inbox")
    assert cm.js("chat", "activate", "C1")["state"] == "active"
    cm.ok("clock", "advance", "30s")
    assert cm.js("chat", "activate", "C2")["state"] == "active"
    assert changes(cm.js("events"))[-2:] == [
        ("C1", "active", "parked", "activate"),  # the other one is parked first
        ("C2", "new", "active", "activate"),
    ]
    c1 = cm.js("chat", "activate", "C1")
    assert c1["state"] == "active" and c1["active_seconds"] == 30
    assert cm.chat("C2")["state"] == "parked"


def test_park_and_activate_in_wrapup_pause_and_resume_the_timer_where_it_stopped(cm):
    active_chat(cm, "C1")
    cm.ok("chat", "new", "--inbox")  # C2
    cm.ok("chat", "wrapup", "C1")
    cm.ok("clock", "advance", "20s")
    parked = cm.js("chat", "park", "C1")
    assert (parked["state"], parked["wrapup_remaining"]) == ("parked-wrapup", 40)
    cm.ok("clock", "advance", "5m")
    assert cm.chat("C1")["wrapup_remaining"] == 40  # paused time never counts
    resumed = cm.js("chat", "activate", "C1")
    assert (resumed["state"], resumed["wrapup_remaining"]) == ("active-wrapup", 40)
    cm.ok("clock", "advance", "10s")
    cm.ok("chat", "activate", "C2")  # parks C1 first: its timer pauses again
    c1 = cm.chat("C1")
    assert (c1["state"], c1["wrapup_remaining"]) == ("parked-wrapup", 30)
    cm.ok("clock", "advance", "1m")
    cm.ok("chat", "activate", "C1")  # parks C2 (active -> parked)
    assert cm.chat("C2")["state"] == "parked"
    cm.ok("clock", "advance", "29.999s")
    assert cm.chat("C1")["state"] == "active-wrapup"
    cm.ok("clock", "advance", "0.001s")  # due exactly now: applied
    closed = cm.chat("C1")
    assert (closed["state"], closed["closed_reason"]) == ("closed", "wrapup-expired")
    assert closed["closed_at"] == at(20 + 300 + 10 + 60 + 30)
    assert closed["wrapup_seconds"] == 60
    assert closed["parked_seconds"] == 360


# == end =================================================================================


def test_end_of_an_active_chat_starts_the_full_running_wrapup(cm):
    active_chat(cm, "C1")
    cm.ok("clock", "advance", "2m")
    chat = cm.js("chat", "end", "C1")
    assert chat["state"] == "active-wrapup"
    assert chat["wrapup_remaining"] == 60
    assert chat["extensions_left"] == 3
    assert chat["active_seconds"] == 120
    assert changes(cm.js("events", "--chat", "C1"))[-1] == ("C1", "active", "active-wrapup", "customer")
    cm.ok("clock", "advance", "10s")
    assert cm.chat("C1")["wrapup_remaining"] == 50


def test_end_of_a_new_or_parked_chat_starts_a_paused_full_wrapup(cm):
    cm.ok("chat", "new", "--inbox")  # C1 new
    active_chat(cm, "C2")
    cm.ok("chat", "park", "C2")  # C2 parked
    new_ended = cm.js("chat", "end", "C1")
    parked_ended = cm.js("chat", "end", "C2")
    for chat in (new_ended, parked_ended):
        assert (chat["state"], chat["wrapup_remaining"], chat["extensions_left"]) == ("parked-wrapup", 60, 3)
    cm.ok("clock", "advance", "10m")
    assert cm.chat("C1")["wrapup_remaining"] == 60
    assert cm.chat("C2")["wrapup_remaining"] == 60


def test_end_of_a_queued_chat_closes_it_abandoned(cm):
    cm.ok("agent", "break")
    cm.ok("chat", "new")
    cm.ok("clock", "advance", "45s")
    chat = cm.js("chat", "end", "C1")
    assert (chat["state"], chat["closed_reason"], chat["agent"]) == ("closed", "abandoned", None)
    assert chat["closed_at"] == at(45)
    assert chat["wrapup_remaining"] is None


# == wrapup, --extend, --finish ==========================================================


def test_wrapup_starts_the_timer_and_extend_adds_until_none_are_left(cm):
    active_chat(cm, "C1")
    chat = cm.js("chat", "wrapup", "C1")
    assert (chat["state"], chat["wrapup_remaining"], chat["extensions_left"]) == ("active-wrapup", 60, 3)
    assert changes(cm.js("events", "--chat", "C1"))[-1] == ("C1", "active", "active-wrapup", "wrapup")
    cm.ok("clock", "advance", "10s")
    remaining = [cm.js("chat", "wrapup", "C1", "--extend")["wrapup_remaining"] for _ in range(3)]
    assert remaining == [110, 170, 230]
    assert cm.chat("C1")["extensions_left"] == 0
    done = cm.fails(3, "chat", "wrapup", "C1", "--extend", match="C1")
    assert "extend" in done.err and "active-wrapup" in done.err
    cm.ok("clock", "advance", "230s")
    assert cm.chat("C1")["closed_at"] == at(240)


def test_finish_closes_the_chat_now(cm):
    active_chat(cm, "C1")
    cm.ok("chat", "wrapup", "C1")
    cm.ok("clock", "advance", "12.5s")
    cm.fails(2, "chat", "wrapup", "C1", "--extend", "--finish")
    chat = cm.js("chat", "wrapup", "C1", "--finish")
    assert (chat["state"], chat["closed_reason"], chat["closed_at"]) == ("closed", "wrapup-finished", at(12.5))
    assert chat["wrapup_remaining"] is None
    assert chat["wrapup_seconds"] == 12.5
    assert inbox_ids(cm) == []
    assert changes(cm.js("events", "--chat", "C1"))[-1] == ("C1", "active-wrapup", "closed", "finish")


# == the wrap-up timer ===================================================================


def test_timer_expiry_in_a_long_advance_is_stamped_at_its_exact_instant(cm):
    cm.ok("clock", "advance", "0.123s")
    active_chat(cm, "C1")
    cm.ok("chat", "wrapup", "C1")
    cm.ok("clock", "advance", "59.999s")
    assert cm.chat("C1")["wrapup_remaining"] == 0.001
    cm.ok("clock", "advance", "3h")
    chat = cm.chat("C1")
    assert (chat["state"], chat["closed_reason"]) == ("closed", "wrapup-expired")
    assert chat["closed_at"] == at(60.123)
    assert chat["wrapup_seconds"] == 60
    expiry = cm.js("events", "--chat", "C1")[-1]
    assert (expiry["from"], expiry["to"], expiry["cause"], expiry["at"]) == ("active-wrapup", "closed", "timer", at(60.123))


def test_one_hour_advance_gives_the_same_history_as_sixty_one_minute_advances(cm, tmp_path):
    cm.ok("config", "set", "wrapup", "45s", "--queue", "fast")
    cm.ok("config", "set", "wrapup", "90s")
    cm.ok("config", "set", "wrapup-extension", "7.5s")
    cm.ok("chat", "new", "--inbox", "--queue", "fast")
    cm.ok("chat", "activate", "C1")
    cm.ok("chat", "end", "C1")  # runs out at 0:45
    cm.ok("agent", "login", agent="agent-2")
    cm.ok("chat", "new", "--inbox", agent="agent-2")
    cm.ok("chat", "activate", "C2", agent="agent-2")
    cm.ok("chat", "wrapup", "C2", agent="agent-2")
    cm.ok("chat", "wrapup", "C2", "--extend", agent="agent-2")  # runs out at 1:37.5
    cm.ok("chat", "new", "--queue", "fast")  # C3
    cm.ok("chat", "new", "--priority", "3")  # C4: presented first
    cm.ok("chat", "new")  # C5
    other = copy_db(cm, tmp_path / "copy.db")

    cm.ok("clock", "advance", "1h")
    for _ in range(60):
        other.ok("clock", "advance", "1m")

    history = cm.js("events")
    assert other.js("events") == history
    # timers fire in time order, each at its instant, with presentation at that instant
    chat_events = [e for e in history if e["chat"]]  # (the agent's status changes are logged between)
    assert [(e["at"], e["chat"], e["agent"], e["to"], e["cause"]) for e in chat_events[-4:]] == [
        (at(45), "C1", "agent-1", "closed", "timer"),
        (at(45), "C4", "agent-1", "new", "presentation"),
        (at(97.5), "C2", "agent-2", "closed", "timer"),
        (at(97.5), "C3", "agent-2", "new", "presentation"),
    ]


# == calls ===============================================================================


def test_call_start_parks_the_active_chat_and_blocks_activation(cm):
    active_chat(cm, "C1")
    cm.ok("chat", "new", "--inbox")  # C2
    agent = cm.js("chat", "call-start")
    assert (agent["status"], agent["on_call"], agent["active_chat"]) == ("on-call", True, None)
    c1 = cm.chat("C1")
    assert (c1["state"], c1["parked_by_call"]) == ("parked", True)
    assert changes(cm.js("events", "--chat", "C1"))[-1] == ("C1", "active", "parked", "call")
    cm.fails(3, "chat", "call-start", match="call")
    done = cm.fails(3, "chat", "activate", "C2", match="C2")
    assert "activate" in done.err and "new" in done.err and "call" in done.err
    cm.fails(3, "chat", "activate", "C1", match="C1")


def test_call_start_pauses_an_active_wrapup_and_call_end_resumes_it(cm):
    active_chat(cm, "C1")
    cm.ok("chat", "wrapup", "C1")
    cm.ok("clock", "advance", "25s")
    cm.ok("chat", "call-start")
    c1 = cm.chat("C1")
    assert (c1["state"], c1["wrapup_remaining"], c1["parked_by_call"]) == ("parked-wrapup", 35, True)
    cm.ok("clock", "advance", "10m")
    assert cm.chat("C1")["wrapup_remaining"] == 35
    agent = cm.js("chat", "call-end")
    assert (agent["status"], agent["on_call"], agent["active_chat"]) == ("wrap-up", False, "C1")
    c1 = cm.chat("C1")
    assert (c1["state"], c1["wrapup_remaining"], c1["parked_by_call"]) == ("active-wrapup", 35, False)
    cm.ok("clock", "advance", "1h")
    assert cm.chat("C1")["closed_at"] == at(25 + 600 + 35)


def test_customer_ending_the_chat_during_a_call_resumes_its_wrapup_when_the_call_ends(cm):
    active_chat(cm, "C1")
    cm.ok("chat", "call-start")
    cm.ok("clock", "advance", "10s")
    ended = cm.js("chat", "end", "C1")
    assert (ended["state"], ended["wrapup_remaining"], ended["parked_by_call"]) == ("parked-wrapup", 60, True)
    cm.ok("clock", "advance", "20s")
    cm.ok("chat", "call-end")
    c1 = cm.chat("C1")
    assert (c1["state"], c1["wrapup_remaining"], c1["parked_by_call"]) == ("active-wrapup", 60, False)
    assert changes(cm.js("events", "--chat", "C1"))[-1] == ("C1", "parked-wrapup", "active-wrapup", "call")
    assert cm.js("agent", "status")["status"] == "wrap-up"


def test_a_chat_still_parked_after_the_call_stays_parked_and_loses_the_mark(cm):
    active_chat(cm, "C1")
    cm.ok("chat", "call-start")
    cm.ok("chat", "call-end")
    c1 = cm.chat("C1")
    assert (c1["state"], c1["parked_by_call"]) == ("parked", False)
    assert cm.js("agent", "status")["active_chat"] is None
    assert cm.js("chat", "activate", "C1")["state"] == "active"


def test_call_without_an_active_chat_and_call_end_refused_when_not_on_call(cm):
    cm.fails(3, "chat", "call-end", match="call")
    agent = cm.js("chat", "call-start")
    assert (agent["status"], agent["on_call"]) == ("on-call", True)
    assert cm.js("chat", "call-end")["on_call"] is False
    cm.fails(3, "chat", "call-end", match="call")


# == presentation ========================================================================


def test_a_queued_chat_is_presented_once_all_the_agents_chats_are_parked(cm):
    active_chat(cm, "C1")
    cm.ok("chat", "new")  # C2 waits: the agent has an active chat
    assert cm.chat("C2")["state"] == "queued"
    cm.ok("clock", "advance", "5s")
    cm.ok("chat", "park", "C1")
    events = cm.js("events")
    assert [(e["at"], e["chat"], e["agent"], e["from"], e["to"], e["cause"]) for e in events[-3:]] == [
        (at(5), "C1", "agent-1", "active", "parked", "park"),
        (at(5), None, "agent-1", "handling-chat", "available", "park"),  # its status, logged too
        (at(5), "C2", "agent-1", "queued", "new", "presentation"),
    ]


def test_presentation_to_an_agent_with_no_chats_happens_at_once(cm):
    chat = cm.js("chat", "new")  # agent-1 is created by this first use, available and idle
    assert (chat["state"], chat["agent"]) == ("new", "agent-1")
    assert changes(cm.js("events")) == [
        (None, None, "available", "login"),  # the first agent of a database comes into being
        ("C1", None, "queued", "customer"), ("C1", "queued", "new", "presentation"),
    ]


def test_presentation_order_is_priority_then_oldest_up_to_max_chats(cm):
    cm.ok("agent", "break")
    cm.ok("chat", "new", "--id", "low-old")
    cm.ok("clock", "advance", "1s")
    cm.ok("chat", "new", "--id", "high-old", "--priority", "5")
    cm.ok("clock", "advance", "1s")
    cm.ok("chat", "new", "--id", "low-new")
    cm.ok("clock", "advance", "1s")
    cm.ok("chat", "new", "--id", "high-new", "--priority", "5")
    cm.ok("agent", "available")
    # one at a time: a new chat makes the agent busy; once it ends (parked-wrapup), the next comes
    cm.ok("chat", "end", "high-old")
    cm.ok("chat", "end", "high-new")
    cm.ok("chat", "end", "low-old")
    # max-chats (3) open chats: nothing more is presented
    assert cm.chat("low-new")["state"] == "queued"
    cm.ok("config", "set", "max-chats", "4")
    presented = [e["chat"] for e in cm.js("events") if e["cause"] == "presentation"]
    assert presented == ["high-old", "high-new", "low-old", "low-new"]


def test_no_presentation_with_auto_present_off(cm):
    cm.ok("config", "set", "auto-present", "off")
    assert cm.js("chat", "new")["state"] == "queued"
    assert cm.js("config", "show")["auto-present"] is False
    cm.ok("config", "set", "auto-present", "on")
    assert cm.chat("C1")["state"] == "new"


def test_no_presentation_on_break(cm):
    assert cm.js("agent", "break")["presence"] == "break"
    cm.ok("chat", "new")
    assert cm.chat("C1")["state"] == "queued"
    cm.ok("clock", "advance", "1h")
    assert cm.chat("C1")["state"] == "queued"
    cm.ok("agent", "available")
    assert cm.chat("C1")["state"] == "new"


def test_no_presentation_while_on_a_call(cm):
    cm.ok("chat", "call-start")
    cm.ok("chat", "new")
    assert cm.chat("C1")["state"] == "queued"
    cm.ok("chat", "call-end")
    assert cm.chat("C1")["state"] == "new"


def test_several_agents_the_one_idle_longest_is_presented_first(cm):
    cm.ok("agent", "login", agent="agent-2")  # agent-2 idle since 09:00
    cm.ok("clock", "advance", "1m")
    cm.ok("agent", "login", agent="agent-1")  # agent-1 idle since 09:01
    cm.ok("clock", "advance", "1m")
    assert cm.js("chat", "new")["agent"] == "agent-2"  # not id order: agent-2 waited longest
    assert cm.js("chat", "new")["agent"] == "agent-1"  # agent-2 is busy with a new chat
    # both become idle again; agent-1 first, so agent-1 has now waited longest
    cm.ok("clock", "advance", "1m")
    cm.ok("chat", "end", "C2")  # agent-1's: parked-wrapup, not busy
    cm.ok("clock", "advance", "1m")
    cm.ok("chat", "end", "C1")  # agent-2's
    cm.ok("clock", "advance", "1m")
    assert cm.js("chat", "new")["agent"] == "agent-1"


# == the agent ===========================================================================


def test_agent_status_is_derived_first_on_call_then_handling_then_wrapup_then_presence(cm):
    def status():
        agent = cm.js("agent", "status")
        return agent["status"], agent["presence"], agent["on_call"], agent["active_chat"]

    assert status() == ("available", "available", False, None)
    cm.ok("chat", "new", "--inbox")
    assert status() == ("available", "available", False, None)  # new is not active
    cm.ok("chat", "activate", "C1")
    assert status() == ("handling-chat", "available", False, "C1")
    cm.ok("agent", "break")
    assert status() == ("handling-chat", "break", False, "C1")
    cm.ok("chat", "wrapup", "C1")
    assert status() == ("wrap-up", "break", False, "C1")
    cm.ok("chat", "call-start")
    assert status() == ("on-call", "break", True, None)
    cm.ok("chat", "call-end")
    assert status() == ("wrap-up", "break", False, "C1")
    cm.ok("chat", "wrapup", "C1", "--finish")
    assert status() == ("break", "break", False, None)
    agent = cm.js("agent", "available")
    assert (agent["id"], agent["status"], agent["presence"]) == ("agent-1", "available", "available")


def test_agent_from_option_and_environment(cm):
    from_env = cm.js("chat", "new", "--inbox", env={"CHATEMU_AGENT": "dora"})  # the first agent: created
    assert from_env["agent"] == "dora"
    cm.ok("agent", "login", agent="eve")
    from_option = cm.js("chat", "new", "--inbox", agent="eve", env={"CHATEMU_AGENT": "dora"})
    assert from_option["agent"] == "eve"  # --agent wins over CHATEMU_AGENT
    assert cm.js("agent", "status", env={"CHATEMU_AGENT": "dora"})["id"] == "dora"
    assert inbox_ids(cm, agent="dora") == ["C1"]
    assert inbox_ids(cm, agent="eve") == ["C2"]
    # the default agent, agent-1, does not exist: its inbox is unknown, as a write as it would be
    cm.fails(4, "chat", "list", match="unknown agent agent-1 (log it in first")
    cm.fails(2, "chat", "new", agent="bad agent!")


# == configuration =======================================================================


def test_config_show_defaults_and_set(cm):
    config = cm.js("config", "show")
    assert {k: config[k] for k in ("wrapup", "wrapup-extension", "wrapup-extensions", "max-chats", "auto-present")} == {
        "wrapup": 60, "wrapup-extension": 60, "wrapup-extensions": 3, "max-chats": 3, "auto-present": True,
    }
    cm.ok("config", "set", "wrapup", "2m")
    cm.ok("config", "set", "wrapup-extensions", "1")
    cm.ok("config", "set", "wrapup-extension", "30s", "--queue", "vip")
    config = cm.js("config", "show")
    assert (config["wrapup"], config["wrapup-extensions"]) == (120, 1)
    assert config["queues"] == {"vip": {"wrapup-extension": 30}}
    assert "wrapup-extension" in cm.ok("config", "show").out


def test_per_queue_wrapup_values_are_fixed_when_wrapup_starts(cm):
    cm.ok("config", "set", "wrapup", "30s", "--queue", "vip")
    cm.ok("config", "set", "wrapup-extension", "10s", "--queue", "vip")
    cm.ok("config", "set", "wrapup-extensions", "1", "--queue", "vip")
    active_chat(cm, "C1", queue="vip")
    chat = cm.js("chat", "wrapup", "C1")
    assert (chat["wrapup_remaining"], chat["extensions_left"]) == (30, 1)
    ended = cm.js("chat", "new", "--inbox", "--queue", "vip")  # C2: ends while new, paused
    ended = cm.js("chat", "end", ended["id"])
    assert (ended["state"], ended["wrapup_remaining"], ended["extensions_left"]) == ("parked-wrapup", 30, 1)
    # changing the queue's values now does not touch wrap-ups already started
    cm.ok("config", "set", "wrapup", "5m", "--queue", "vip")
    cm.ok("config", "set", "wrapup-extension", "2m", "--queue", "vip")
    cm.ok("config", "set", "wrapup-extensions", "5", "--queue", "vip")
    extended = cm.js("chat", "wrapup", "C1", "--extend")
    assert (extended["wrapup_remaining"], extended["extensions_left"]) == (40, 0)
    cm.ok("clock", "advance", "1h")
    assert cm.chat("C1")["closed_at"] == at(40)
    assert cm.js("chat", "activate", "C2")["wrapup_remaining"] == 30
    # a vip wrap-up started now gets the new values
    active_chat(cm, "C3", queue="vip")
    chat = cm.js("chat", "wrapup", "C3")
    assert (chat["wrapup_remaining"], chat["extensions_left"]) == (300, 5)


BAD_CONFIG = [
    ("max-chats", "0"),
    ("max-chats", "lots"),
    ("wrapup-extensions", "1.5"),
    ("wrapup", "soon"),
    ("wrapup", "-5s"),
    ("auto-present", "maybe"),
    ("colour", "red"),
]


def test_bad_config_values_are_usage_errors(cm):
    for key, value in BAD_CONFIG:
        done = cm.fails(2, "config", "set", key, "--", value)
        assert key in done.err or value in done.err, done
    cm.fails(2, "config", "set", "max-chats", "2", "--queue", "vip", match="max-chats")
    cm.fails(2, "config", "set", "wrapup")


# == the clock ===========================================================================


def test_clock_shows_time_and_mode_and_a_virtual_clock_stays_frozen(cm):
    assert cm.js("clock") == {"now": at(0), "mode": "virtual"}
    cm.ok("chat", "new", "--inbox")
    time.sleep(0.05)
    assert cm.js("clock") == {"now": at(0), "mode": "virtual"}
    out = cm.ok("clock").out
    assert at(0) in out and "virtual" in out


def test_clock_advance_and_set(cm):
    assert cm.js("clock", "advance", "90s")["now"] == at(90)
    assert cm.js("clock", "set", "2026-01-05T10:00:00Z")["now"] == at(3600)
    assert cm.js("clock", "set", "2026-01-05T12:00:00+01:00")["now"] == at(2 * 3600)  # shown in UTC
    assert cm.js("clock", "set", "2026-01-05T11:00:00.250")["now"] == at(7200.25)  # no zone: UTC
    assert cm.js("clock", "advance", "0")["now"] == at(7200.25)


def test_clock_never_moves_backwards(cm):
    cm.ok("chat", "new")
    cm.ok("clock", "advance", "1m")
    done = cm.fails(3, "clock", "set", START)
    assert "backwards" in done.err or "never" in done.err
    cm.fails(3, "clock", "set", "2026-01-05T09:00:59.999Z")
    assert cm.js("clock", "set", at(60))["now"] == at(60)  # standing still is fine


def test_clock_may_be_set_back_only_while_nothing_has_happened(cm):
    """The documented exception: a database with no agent, chat or event can start its story anywhere."""
    cm.ok("clock", "advance", "1h")
    assert cm.js("clock", "set", START)["now"] == at(0)
    cm.ok("agent", "break")  # now something has happened: the agent exists
    cm.fails(3, "clock", "set", "2026-01-05T08:00:00Z", match="never moves backwards")
    assert cm.js("clock")["now"] == at(0)


def test_a_new_database_is_created_on_first_use_with_a_virtual_clock_frozen_at_creation(tmp_path):
    fresh = Chatemu(tmp_path / "fresh.db")
    before = datetime.now(timezone.utc) - timedelta(seconds=1)
    assert fresh.js("clock")["mode"] == "virtual"  # a read sees a new database...
    assert list(tmp_path.iterdir()) == []  # ...and creates nothing
    first = fresh.js("clock", "advance", "0s")  # the first command that changes something creates it
    time.sleep(0.3)
    assert fresh.js("clock") == first  # frozen at its creation
    assert first["mode"] == "virtual"
    created = datetime.fromisoformat(first["now"].replace("Z", "+00:00"))
    assert before <= created <= datetime.now(timezone.utc)
    conn = sqlite3.connect(fresh.db)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] >= 1  # a chatemu database now
    finally:
        conn.close()


def test_default_database_is_a_file_in_the_users_app_folder(tmp_path, cm):
    env = {k: v for k, v in cm.env.items() if k != "CHATEMU_DB"}
    env.update(HOME=str(tmp_path / "home"), XDG_CONFIG_HOME=str(tmp_path / "config"))
    done = subprocess.run([sys.executable, "-m", "chatemu.cli", "chat", "new", "--json"], capture_output=True,
                          text=True, env=env, timeout=60)
    assert done.returncode == 0, done
    made = [p for folder in ("home", "config") for p in (tmp_path / folder).rglob("*") if p.is_file()]
    assert any(p.suffix == ".db" and "chatemu" in str(p) for p in made), made
    assert not cm.js("chat", "list", "--all")  # not the CHATEMU_DB one


def test_parallel_scripts_on_one_database_serialise_and_lose_nothing(cm):
    cm.ok("agent", "break")
    script = f'for i in 1 2 3 4 5 6; do "{sys.executable}" -m chatemu.cli chat new --customer "$1-$i" || exit 1; done'
    runs = [subprocess.Popen(["bash", "-c", script, "bash", name], env=cm.env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True) for name in ("a", "b", "c")]
    for run in runs:
        assert run.wait(timeout=120) == 0, run.stderr.read()
    chats = cm.js("chat", "list", "--all")
    assert sorted(c["customer"] for c in chats) == sorted(f"{n}-{i}" for n in "abc" for i in range(1, 7))
    assert [c["id"] for c in chats] == [f"C{i}" for i in range(1, 19)]
    assert len(cm.js("events")) == 2 + 18  # the agent's login and break, then one event per chat
    conn = sqlite3.connect(cm.db)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


def test_real_clock_goes_on_from_the_virtual_instant_and_virtual_freezes_it(cm):
    cm.ok("chat", "new")
    real = cm.js("clock", "real")
    assert real["mode"] == "real"
    assert at(0) <= real["now"] < at(10)  # continuous: no jump to the wall clock's date
    time.sleep(0.3)
    later = cm.js("clock")
    assert later["mode"] == "real"
    assert at(0.3) <= later["now"] < at(10)  # it runs at the wall clock's pace
    frozen = cm.js("clock", "virtual")
    assert frozen["mode"] == "virtual" and frozen["now"] >= later["now"]
    time.sleep(0.1)
    assert cm.js("clock") == frozen
    cm.fails(3, "clock", "set", START)


def test_a_wrapup_timer_runs_out_on_the_real_clock_at_its_exact_instant(cm):
    cm.ok("config", "set", "wrapup", "0.4s")
    active_chat(cm, "C1")
    cm.ok("chat", "wrapup", "C1")
    cm.ok("clock", "real")
    time.sleep(0.5)
    chat = cm.chat("C1")
    assert (chat["state"], chat["closed_reason"], chat["closed_at"]) == ("closed", "wrapup-expired", at(0.4))


DURATIONS = [("90", 90), ("90s", 90), ("1.5s", 1.5), ("2m", 120), ("1m30s", 90), ("1h", 3600)]
BAD_DURATIONS = ["-5", "-1m", "5x", "1m30", "1.5.5s", "1s1m", "0.0001s", ""]


def test_duration_forms(cm):
    total = 0.0
    for text, seconds in DURATIONS:
        total += seconds
        assert cm.js("clock", "advance", text)["now"] == at(total), text


def test_bad_durations_are_usage_errors(cm):
    for text in BAD_DURATIONS:
        cm.fails(2, "clock", "advance", "--", text)
    cm.fails(2, "clock", "advance", "-5")  # without --: still one usage error line


def test_bad_times_are_usage_errors(cm):
    for text in ["yesterday", "2026-13-01T00:00:00Z", "09:00", ""]:
        cm.fails(2, "clock", "set", "--", text)


# == JSON, times, exit codes, the CLI ====================================================


def test_json_documents_have_the_contract_fields_and_iso_times(cm):
    active_chat(cm, "C1")
    cm.ok("chat", "end", "C1")
    cm.ok("clock", "advance", "2m")
    chat = cm.chat("C1")
    assert CHAT_FIELDS <= set(chat)
    assert {"active_seconds", "parked_seconds", "wrapup_seconds"} <= set(chat)
    assert ISO_MS_Z.fullmatch(chat["created_at"]) and ISO_MS_Z.fullmatch(chat["closed_at"])
    assert isinstance(chat["wrapup_seconds"], (int, float))

    listed = cm.js("chat", "list", "--all")
    assert isinstance(listed, list) and listed == [chat]

    agent = cm.js("agent", "status")
    assert AGENT_FIELDS <= set(agent)

    clock = cm.js("clock")
    assert set(clock) >= {"now", "mode"} and ISO_MS_Z.fullmatch(clock["now"])

    events = cm.js("events")
    assert isinstance(events, list) and events
    for event in events:
        assert EVENT_FIELDS <= set(event)
        assert ISO_MS_Z.fullmatch(event["at"])
    assert [e["seq"] for e in events] == sorted({e["seq"] for e in events})
    assert {e["cause"] for e in events} == {"login", "customer", "activate", "timer"}


def test_an_unknown_chat_is_exit_4(cm):
    cm.ok("chat", "new")
    for args in (
        ["chat", "show", "NOPE"],
        ["chat", "activate", "NOPE"],
        ["chat", "park", "NOPE"],
        ["chat", "end", "NOPE"],
        ["chat", "take", "NOPE"],
        ["chat", "wrapup", "NOPE", "--finish"],
        ["events", "--chat", "NOPE"],
    ):
        cm.fails(4, *args, match="NOPE")


def test_a_newer_schema_is_refused_with_exit_5_and_left_untouched(cm):
    cm.ok("chat", "new")
    conn = sqlite3.connect(cm.db)
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    before = cm.db.read_bytes()
    cm.fails(5, "chat", "list", match="schema")
    cm.fails(5, "chat", "new")
    assert cm.db.read_bytes() == before


def test_a_file_that_is_not_a_chatemu_database_is_exit_5_and_left_untouched(cm, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("Shopping list\n" + "eggs, milk, bread\n" * 40)
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE things (name TEXT)")
    conn.execute("INSERT INTO things VALUES ('kept')")
    conn.commit()
    conn.close()
    for path in (text, other):
        before = path.read_bytes()
        cm.fails(5, "--db", str(path), "chat", "new", match=path.name)
        cm.fails(5, "chat", "list", env={"CHATEMU_DB": str(path)})
        assert path.read_bytes() == before
    cm.fails(5, "--db", str(tmp_path), "chat", "list")  # a folder


def test_bad_usage_is_exit_2_on_one_line(cm):
    for args in (
        ["chat", "list", "--bogus"],
        ["chat", "activate"],
        ["chat", "nosuch"],
        ["nosuch"],
        ["chat", "list", "--state", "bogus"],
        ["chat", "new", "--priority"],
    ):
        cm.fails(2, *args)


def test_python_dash_m_chatemu_cli_works(cm):
    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "chatemu.cli", *args], capture_output=True, text=True, env=cm.env, timeout=60
        )

    done = run("chat", "new", "--inbox", "--json")
    assert done.returncode == 0, done
    assert '"id": "C1"' in done.stdout
    refused = run("chat", "show", "NOPE")
    assert (refused.returncode, refused.stdout) == (4, "")
    assert refused.stderr.startswith("error: ")
    assert cm.chat("C1")["state"] == "new"


def test_chat_list_is_the_inbox_by_default_every_chat_with_all_and_filters(cm):
    cm.ok("config", "set", "auto-present", "off")
    active_chat(cm, "C1")
    cm.ok("chat", "wrapup", "C1")
    cm.ok("chat", "wrapup", "C1", "--finish")  # C1 closed, agent-1
    cm.ok("chat", "new", "--inbox", "--queue", "sales")  # C2 new, agent-1
    cm.ok("agent", "login", agent="agent-2")
    cm.ok("chat", "new", "--inbox", agent="agent-2")  # C3 new, agent-2
    cm.ok("chat", "new", "--queue", "sales")  # C4 queued
    cm.ok("chat", "new", "--inbox")  # C5 new, agent-1

    def ids(*args, **kw):
        return [c["id"] for c in cm.js("chat", "list", *args, **kw)]

    assert ids() == ["C2", "C5"]  # open chats in agent-1's inbox only
    assert ids(agent="agent-2") == ["C3"]
    assert ids("--all") == ["C1", "C2", "C3", "C4", "C5"]  # queued and closed too, in id order
    assert ids("--all", "--state", "closed") == ["C1"]
    assert ids("--all", "--state", "queued") == ["C4"]
    assert ids("--all", "--queue", "sales") == ["C2", "C4"]
    assert ids("--queue", "sales") == ["C2"]
    assert ids("--state", "new") == ["C2", "C5"]
    assert ids("--state", "closed") == ["C1"]  # no inbox holds a closed chat: every closed chat


def test_plain_output_when_not_a_terminal(cm):
    cm.env.pop("NO_COLOR")
    cm.env["TERM"] = "xterm-256color"
    active_chat(cm, "C1", customer="Ada")
    cm.ok("chat", "end", "C1")
    cm.ok("clock", "advance", "15s")
    out = cm.ok("chat", "list").out
    assert "\x1b" not in out and "│" not in out
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("ID"))
    assert header.split()[:2] == ["ID", "STATE"] and "WRAP-UP" in header
    row = next(line for line in lines if line.startswith("C1 "))
    assert "active-wrapup" in row and "Ada" in row and "45s" in row
    for args in (["events"], ["chat", "show", "C1"], ["config", "show"]):
        assert "\x1b" not in cm.ok(*args).out, args


# == refusals: every state, each refused event ===========================================
# One database holds a chat in every state; each refusal runs on a fresh copy of it.
#   agent-1: N new, P parked, A active            (3 open: at max-chats)
#   agent-2: AW active-wrapup, PW parked-wrapup, X closed
#   Q queued (auto-present off)

STATES = {"N": "new", "P": "parked", "A": "active", "AW": "active-wrapup", "PW": "parked-wrapup", "X": "closed", "Q": "queued"}


@pytest.fixture(scope="module")
def every_state(tmp_path_factory) -> Chatemu:
    c = Chatemu(tmp_path_factory.mktemp("states") / "chatemu.db")
    c.ok("clock", "set", START)
    c.ok("config", "set", "auto-present", "off")
    for args in (["new", "--id", "N", "--inbox"], ["new", "--id", "P", "--inbox"], ["activate", "P"],
                 ["park", "P"], ["new", "--id", "A", "--inbox"], ["activate", "A"]):
        c.ok("chat", *args, agent="agent-1")
    c.ok("agent", "login", agent="agent-2")
    for args in (["new", "--id", "PW", "--inbox"], ["end", "PW"], ["new", "--id", "X", "--inbox"],
                 ["activate", "X"], ["wrapup", "X"], ["wrapup", "X", "--finish"], ["new", "--id", "AW", "--inbox"],
                 ["activate", "AW"], ["wrapup", "AW"]):
        c.ok("chat", *args, agent="agent-2")
    c.ok("chat", "new", "--id", "Q")
    assert {chat["id"]: chat["state"] for chat in c.js("chat", "list", "--all")} == STATES
    return c


@pytest.fixture
def states(every_state, tmp_path) -> Chatemu:
    return copy_db(every_state, tmp_path / "chatemu.db")


def refusal(agent, command, *words, bug=None):
    marks = [pytest.mark.xfail(reason=f"BUG: {bug}", strict=True)] if bug else []
    name = f"{agent}: chat {command}" + (" (state named)" if bug else "")
    return pytest.param(agent, command.split(), words, marks=marks, id=name)


REFUSALS = [
    # wrong state, by the chat's owner
    refusal("agent-1", "take N", "take", "N", "new"),
    refusal("agent-1", "park N", "park", "N", "new"),
    refusal("agent-1", "wrapup N", "wrap up", "N", "new"),
    refusal("agent-1", "wrapup N --extend", "extend", "N", "new"),
    refusal("agent-1", "park P", "park", "P", "parked"),
    refusal("agent-1", "wrapup P", "wrap up", "P", "parked"),
    refusal("agent-1", "activate A", "activate", "A", "active"),
    refusal("agent-1", "wrapup A --finish", "finish", "A", "active"),
    refusal("agent-1", "activate Q", "activate", "Q", "queued"),
    refusal("agent-1", "park Q", "park", "Q", "queued"),
    refusal("agent-1", "wrapup Q", "wrap up", "Q", "queued"),
    refusal("agent-2", "activate AW", "activate", "AW", "active-wrapup"),
    refusal("agent-2", "wrapup AW", "wrap up", "AW", "active-wrapup"),
    refusal("agent-2", "end AW", "end", "AW", "active-wrapup"),
    refusal("agent-2", "park PW", "park", "PW", "parked-wrapup"),
    refusal("agent-2", "end PW", "end", "PW", "parked-wrapup"),
    refusal("agent-2", "wrapup PW --extend", "extend", "PW", "parked-wrapup"),
    refusal("agent-2", "wrapup PW --finish", "finish", "PW", "parked-wrapup"),
    refusal("agent-2", "activate X", "activate", "X", "closed"),
    refusal("agent-2", "end X", "end", "X", "closed"),
    refusal("agent-2", "take X", "take", "X", "closed"),
    refusal("agent-2", "wrapup X --finish", "finish", "X", "closed"),
    # another agent's chat
    refusal("agent-1", "activate AW", "activate", "AW", "active-wrapup", "agent-2"),
    refusal("agent-1", "park AW", "park", "AW", "active-wrapup", "agent-2"),
    refusal("agent-1", "activate PW", "activate", "PW", "parked-wrapup", "agent-2"),
    refusal("agent-2", "activate N", "activate", "N", "new", "agent-1"),
    refusal("agent-2", "wrapup A", "A", "active", "agent-1"),
    # capacity: agent-1 holds max-chats (3) open chats
    refusal("agent-1", "take Q", "take", "Q", "queued", "capacity 3/3"),
    refusal("agent-1", "new --inbox", "capacity"),
    # a second id
    refusal("agent-2", "new --id Q", "Q"),
    # messages: sending only on one's own active chat, receiving only while the customer is there
    refusal("agent-1", "send N hi", "send to", "N", "new"),
    refusal("agent-1", "send P hi", "send to", "P", "parked"),
    refusal("agent-1", "send Q hi", "send to", "Q", "queued"),
    refusal("agent-2", "send AW hi", "send to", "AW", "the customer has left", "active-wrapup"),
    refusal("agent-2", "send PW hi", "send to", "PW", "the customer has left", "parked-wrapup"),
    refusal("agent-2", "send X hi", "send to", "X", "the customer has left", "closed"),
    refusal("agent-2", "send A hi", "send to", "A", "active", "agent-1"),
    refusal("agent-2", "receive AW hi", "receive", "AW", "the customer has left", "active-wrapup"),
    refusal("agent-2", "receive PW hi", "receive", "PW", "parked-wrapup"),
    refusal("agent-2", "receive X hi", "receive", "X", "closed"),
    # return and transfer
    refusal("agent-1", "return Q", "return", "Q", "queued"),
    refusal("agent-2", "return AW", "return", "AW", "active-wrapup"),
    refusal("agent-2", "return PW", "return", "PW", "parked-wrapup"),
    refusal("agent-2", "return X", "return", "X", "closed"),
    refusal("agent-2", "return A", "return", "A", "active", "agent-1"),
    refusal("agent-1", "transfer N --queue sales", "transfer", "N", "new"),
    refusal("agent-1", "transfer P --queue sales", "transfer", "P", "parked"),
    refusal("agent-1", "transfer Q --queue sales", "transfer", "Q", "queued"),
    refusal("agent-2", "transfer AW --queue sales", "transfer", "AW", "active-wrapup"),
    refusal("agent-1", "transfer A --queue default", "transfer", "A", "active", "queue default"),
    refusal("agent-1", "transfer A --agent agent-1", "transfer", "A", "active", "agent-1"),
    refusal("agent-1", "transfer N --agent agent-2", "transfer", "N", "new"),
    # classification, the abusive flag, the contact
    refusal("agent-1", "classify N refund", "classify", "N", "new"),
    refusal("agent-1", "classify Q refund", "classify", "Q", "queued"),
    refusal("agent-2", "classify X refund", "classify", "X", "closed"),
    refusal("agent-1", "classify AW refund", "classify", "AW", "active-wrapup", "agent-2"),
    refusal("agent-1", "flag-abusive N", "flag", "N", "new"),
    refusal("agent-2", "flag-abusive X", "flag", "X", "closed"),
    refusal("agent-1", "contact Q Ann", "contact", "Q", "queued"),
    refusal("agent-2", "contact X Ann", "contact", "X", "closed"),
]


@pytest.mark.parametrize("agent, command, words", REFUSALS)
def test_refused_commands_exit_3_name_chat_state_and_attempt_and_change_nothing(states, agent, command, words):
    done = states.fails(3, "chat", *command, agent=agent)
    for word in words:
        assert word in done.err, f"{word!r} missing from {done.err!r}"
