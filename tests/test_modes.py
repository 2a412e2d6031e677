"""Queues that refuse, wrap-up modes, calls that park nothing, and an agent who drops.

- the pure core's tables of every ``wrapup-mode`` and ``call-parks-chats`` setting, pair by
  pair, against a contract written out here (in-process);
- ``max-queue-length`` and ``when-no-agent refuse``: ``chat new`` refused (exit 3, one line,
  nothing changed, journaled), counted as ``rejected`` in ``stats queues``, the count kept
  through a snapshot and an export/import;
- each wrap-up mode and ``timeout-classification`` as real ``chatemu`` processes;
- ``call-parks-chats off``; ``agent disconnect`` on every surface;
- ``db check``'s new invariants, ``explain``'s new reasons.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from test_check import corrupt
from test_core import ALLOWED

from chatemu.store import core
from chatemu.store.errors import Refused

# == the pure core ===========================================================================

# What each wrap-up mode changes of the timed table (test_core.ALLOWED): a next state, or None
# for a pair taken away.  Written out independently of core.MODE_TRANSITIONS.
MODES = {
    "timed": {},
    "untimed": {("active-wrapup", "extend"): None, ("active-wrapup", "expire"): None},
    "no-early-exit": {("active-wrapup", "finish"): None},
    "optional": {("active", "finish"): "closed"},
    "off": {("new", "end"): "closed", ("parked", "end"): "closed", ("active", "end"): "closed",
            ("active", "wrapup"): "closed"},
}
# The clocks' pairs beside them (test_clocks_core.py tests them alone): a customer going quiet
# ends the conversation as the customer's end does, so in "off" it closes the chat.
CLOCKS = {("new", "offer-timeout"): "queued", ("queued", "patience"): "closed",
          ("new", "idle-timeout"): "parked-wrapup", ("active", "idle-timeout"): "active-wrapup",
          ("parked", "idle-timeout"): "parked-wrapup",
          **{(state, "reply-alert"): state for state in ("queued", "new", "active", "parked")}}
IDLE_OFF = {("new", "idle-timeout"): "closed", ("active", "idle-timeout"): "closed",
            ("parked", "idle-timeout"): "closed"}
# A call that parks nothing: the call's pairs are gone, whatever the mode.
CALL_PAIRS = {("active", "call-start"), ("active-wrapup", "call-start"), ("parked-wrapup", "call-end")}


def contract(mode: str, parks: bool) -> dict:
    table = {**ALLOWED, **CLOCKS, **(IDLE_OFF if mode == "off" else {})}
    for pair, to in MODES[mode].items():
        if to is None:
            table.pop(pair)
        else:
            table[pair] = to
    if not parks:
        for pair in CALL_PAIRS:
            table.pop(pair)
    return table


@pytest.mark.parametrize("mode,parks", list(itertools.product(MODES, (True, False))))
def test_every_pair_of_every_mode_and_call_setting(mode, parks):
    expected = contract(mode, parks)
    for state, event in itertools.product(core.STATES, core.EVENTS):
        if (state, event) in expected:
            assert core.step("C1", state, event, mode, parks).to == expected[(state, event)], (state, event)
            assert core.allowed(state, event, mode, parks)
        else:
            with pytest.raises(Refused) as refused:
                core.step("C1", state, event, mode, parks)
            assert refused.value.exit_code == 3 and "C1" in refused.value.message and state in refused.value.message
            assert not core.allowed(state, event, mode, parks)
    assert {pair: s.to for pair, s in core.table(mode, parks).items()} == expected


def test_the_modes_timers_and_closing_reasons():
    untimed = core.table("untimed")
    for pair in (("new", "end"), ("parked", "end"), ("active", "end"), ("active", "wrapup")):
        assert untimed[pair].timer == core.T_NONE  # no timer is started
        assert core.TRANSITIONS[pair].timer in (core.T_START, core.T_START_PAUSED)
    for state in ("new", "active", "parked"):  # a customer going quiet starts no timer either
        assert untimed[(state, "idle-timeout")].timer == core.T_NONE
    assert core.table("optional")[("active", "finish")].closed_reason == "wrapup-skipped"
    for pair in MODES["off"]:
        assert core.table("off")[pair] == core.Step("closed", core.T_NONE, "no-wrapup")
    assert {"wrapup-skipped", "no-wrapup"} <= set(core.CLOSED_REASONS)


def test_the_mode_a_chat_follows():
    none, running, paused = core.NO_TIMER, core.Timer(deadline=5), core.Timer(remaining=5)
    # not in wrap-up yet: the queue's mode
    for mode in core.WRAPUP_MODES:
        assert core.wrapup_mode(mode, "active", none) == mode
    # in wrap-up: without a timer it is untimed whatever the queue says now; with one, timed
    # unless the queue holds --finish back now
    for mode, state in itertools.product(core.WRAPUP_MODES, core.WRAPUP_STATES):
        assert core.wrapup_mode(mode, state, none) == "untimed"
        for timer in (running, paused):
            assert core.wrapup_mode(mode, state, timer) == ("no-early-exit" if mode == "no-early-exit" else "timed")


def test_what_a_call_refuses_of_the_agent():
    assert set(core.CALL_REFUSES[True]) == {"activate", "return"}
    assert core.CALL_REFUSES[False] == ()


def test_refusals_name_the_mode():
    with pytest.raises(Refused, match="no timer .wrapup-mode untimed"):
        core.step("C1", "active-wrapup", "extend", "untimed")
    with pytest.raises(Refused, match="timer has not run out .wrapup-mode no-early-exit"):
        core.step("C1", "active-wrapup", "finish", "no-early-exit")


def test_unavailable_is_a_presence_and_a_status():
    assert "unavailable" in core.PRESENCES and "unavailable" in core.STATUSES
    assert core.agent_status("unavailable", False, None) == "unavailable"
    assert core.agent_status("unavailable", False, "active") == "handling-chat"
    assert "disconnect" in core.CAUSES


# == queues that refuse =======================================================================


def test_a_full_queue_refuses_a_new_chat_and_counts_it_rejected(cm):
    cm.ok("agent", "break")
    cm.ok("config", "set", "max-queue-length", "2", "--queue", "sales")
    cm.ok("chat", "new", "--queue", "sales")
    cm.ok("chat", "new", "--queue", "sales")
    cm.ok("chat", "new", "--queue", "support")  # another queue: no limit
    cm.fails(3, "chat", "new", "--queue", "sales", match="queue sales is full (2 waiting)")
    assert cm.run("chat", "new", "--queue", "sales").err == "error: queue sales is full (2 waiting)\n"
    assert [row[3:] for row in cm.journal()] == [("chat new --queue sales", 3, "queue sales is full (2 waiting)")] * 2
    queues = {q["queue"]: q for q in cm.js("stats", "queues")["queues"]}
    assert (queues["sales"]["rejected"], queues["sales"]["offered"]) == (2, 2)
    assert queues["support"]["rejected"] == 0
    table = cm.ok("stats", "queues").out.splitlines()
    assert "REJECTED" in table[1].split() and table[2].split()[:5] == ["sales", "2", "0", "0", "2"]
    # a chat leaving the queue makes room; --inbox does not join the queue
    cm.ok("chat", "end", "C1")
    cm.ok("chat", "new", "--queue", "sales")
    cm.ok("chat", "new", "--queue", "sales", "--inbox")
    cm.ok("config", "set", "max-queue-length", "off", "--queue", "sales")
    cm.ok("chat", "new", "--queue", "sales")
    assert cm.run("db", "check").code == 0


def test_rejected_counts_in_its_window_and_survives_snapshots_and_bundles(cm, tmp_path):
    cm.ok("agent", "break")
    cm.ok("config", "set", "max-queue-length", "1")
    cm.ok("chat", "new")
    cm.fails(3, "chat", "new", match="queue default is full (1 waiting)")
    cm.ok("clock", "advance", "1h")
    cm.fails(3, "chat", "new")
    cm.fails(3, "chat", "park", "C1")  # another refusal: not a rejection
    assert cm.js("stats", "queues")["queues"][0]["rejected"] == 2
    assert cm.js("stats", "queues", "--since", "2026-01-05T09:30:00Z")["queues"][0]["rejected"] == 1
    assert cm.js("stats", "queues", "--until", "2026-01-05T09:30:00Z")["queues"][0]["rejected"] == 1
    cm.ok("snapshot", "save", "two")
    cm.fails(3, "chat", "new")
    assert cm.js("stats", "queues")["queues"][0]["rejected"] == 3
    cm.ok("snapshot", "restore", "two")
    assert cm.js("stats", "queues")["queues"][0]["rejected"] == 2
    bundle = tmp_path / "b.json"
    cm.ok("export", str(bundle))
    from conftest import Chatemu

    other = Chatemu(tmp_path / "other.db")
    other.ok("import", str(bundle))
    assert other.js("stats", "queues")["queues"][0]["rejected"] == 2


def test_a_queue_no_logged_in_agent_serves_refuses_when_told(cm):
    cm.ok("queue", "add", "sales")
    cm.ok("queue", "add", "vip")
    cm.ok("agent", "login")
    cm.ok("agent", "queues", "set", "sales")
    cm.ok("chat", "new", "--queue", "vip")  # default when-no-agent queue: it waits
    cm.ok("config", "set", "when-no-agent", "refuse", "--queue", "vip")
    cm.fails(3, "chat", "new", "--queue", "vip", match="no logged-in agent serves queue vip")
    cm.ok("agent", "break")  # on a break is still logged in
    cm.ok("chat", "new", "--queue", "sales")
    cm.ok("agent", "queues", "off", "sales")  # switched off: it does not serve it now
    cm.ok("config", "set", "when-no-agent", "refuse", "--queue", "sales")
    cm.fails(3, "chat", "new", "--queue", "sales", match="no logged-in agent serves queue sales")
    cm.ok("agent", "queues", "on", "sales")
    cm.ok("chat", "new", "--queue", "sales")
    cm.ok("--agent", "agent-2", "agent", "login")  # assigned to no queue: serves vip too
    cm.ok("chat", "new", "--queue", "vip")
    cm.ok("--agent", "agent-2", "agent", "logout", "--return")
    cm.fails(3, "chat", "new", "--queue", "vip")
    queues = {q["queue"]: q["rejected"] for q in cm.js("stats", "queues")["queues"]}
    assert queues == {"sales": 1, "vip": 2}


@pytest.mark.parametrize("key,value", [("max-queue-length", "0"), ("max-queue-length", "many"),
                                       ("when-no-agent", "drop"), ("wrapup-mode", "sometimes"),
                                       ("call-parks-chats", "maybe"), ("timeout-classification", "")])
def test_bad_values_are_usage_errors(cm, key, value):
    cm.fails(2, "config", "set", key, value)


def test_explain_names_the_queue_limits(cm):
    cm.ok("agent", "break")
    cm.ok("config", "set", "max-queue-length", "1")
    cm.ok("config", "set", "when-no-agent", "refuse")
    cm.ok("chat", "new")
    why = cm.js("explain", "C1")["why"]
    assert "queue default holds 1 waiting of at most 1 (max-queue-length): new chats are refused" in why
    assert ("queue default refuses new chats when no logged-in agent serves it (when-no-agent refuse):"
            " one does now") in why


# == wrap-up modes ============================================================================


def active_chat(cm, mode: str, chat: str = "C1") -> None:
    cm.ok("config", "set", "wrapup-mode", mode)
    cm.ok("chat", "new")
    cm.ok("chat", "activate", chat)


def test_untimed_wrapup_has_no_timer_and_only_finish_closes_it(cm):
    active_chat(cm, "untimed")
    cm.ok("chat", "end", "C1")
    chat = cm.chat("C1")
    assert (chat["state"], chat["wrapup_remaining"], chat["wrapup_ends_at"], chat["extensions_left"]) == \
        ("active-wrapup", None, None, 0)
    cm.fails(3, "chat", "wrapup", "C1", "--extend", match="with no timer (wrapup-mode untimed")
    cm.ok("clock", "advance", "10h")
    assert cm.chat("C1")["state"] == "active-wrapup"
    cm.ok("chat", "park", "C1")
    assert cm.chat("C1")["state"] == "parked-wrapup"
    assert "no timer" in cm.js("explain", "C1")["why"][0]
    cm.ok("config", "set", "wrapup-mode", "no-early-exit")  # a wrap-up without a timer stays so
    cm.ok("chat", "activate", "C1")
    assert cm.run("db", "check").code == 0
    assert cm.js("chat", "wrapup", "C1", "--finish")["closed_reason"] == "wrapup-finished"


def test_no_early_exit_refuses_finish_until_the_timer_closes_it(cm):
    active_chat(cm, "no-early-exit")
    cm.ok("chat", "wrapup", "C1")
    cm.fails(3, "chat", "wrapup", "C1", "--finish", match="its timer has not run out (wrapup-mode no-early-exit)")
    cm.ok("chat", "wrapup", "C1", "--extend")  # the timer may still be extended
    cm.ok("clock", "advance", "1m59s")
    cm.fails(3, "chat", "wrapup", "C1", "--finish")
    cm.ok("clock", "advance", "1s")
    chat = cm.chat("C1")
    assert (chat["state"], chat["closed_reason"], chat["closed_at"]) == \
        ("closed", "wrapup-expired", "2026-01-05T09:02:00.000Z")
    # read when the agent finishes: switched back, --finish works on a running wrap-up
    cm.ok("chat", "new")
    cm.ok("chat", "activate", "C2")
    cm.ok("chat", "wrapup", "C2")
    cm.ok("config", "set", "wrapup-mode", "timed")
    assert cm.js("chat", "wrapup", "C2", "--finish")["state"] == "closed"


def test_optional_wrapup_may_be_skipped_from_active(cm):
    active_chat(cm, "optional")
    chat = cm.js("chat", "wrapup", "C1", "--finish")
    assert (chat["state"], chat["closed_reason"], chat["extensions_left"], chat["wrapup_seconds"]) == \
        ("closed", "wrapup-skipped", None, 0)
    cm.ok("chat", "new")
    cm.ok("chat", "activate", "C2")
    cm.ok("chat", "wrapup", "C2")  # or wrapped up as usual, timer and all
    assert cm.chat("C2")["wrapup_remaining"] == 60
    cm.ok("config", "set", "wrapup-mode", "timed")
    cm.ok("chat", "new")
    cm.ok("chat", "park", "C2")
    cm.ok("chat", "activate", "C3")
    cm.fails(3, "chat", "wrapup", "C3", "--finish", match="cannot finish the wrap-up of C3: it is active")
    assert cm.run("db", "check").code == 0


def test_off_closes_the_chat_when_the_conversation_ends(cm):
    active_chat(cm, "off")
    assert cm.js("chat", "end", "C1")["closed_reason"] == "no-wrapup"
    cm.ok("chat", "new")
    cm.ok("chat", "activate", "C2")
    assert cm.js("chat", "wrapup", "C2")["closed_reason"] == "no-wrapup"
    cm.ok("chat", "new")  # C3, new in the inbox
    chat = cm.js("chat", "end", "C3")
    assert (chat["state"], chat["closed_reason"]) == ("closed", "no-wrapup")
    assert cm.js("agent", "status")["status"] == "available"
    assert cm.run("db", "check").code == 0


def test_a_zero_wrapup_still_closes_at_once(cm):
    cm.ok("config", "set", "wrapup", "0s")
    cm.ok("chat", "new")
    cm.ok("chat", "activate", "C1")
    chat = cm.js("chat", "end", "C1")
    assert (chat["state"], chat["closed_reason"]) == ("closed", "wrapup-expired")


def test_timeout_classification_classifies_what_the_timer_closes(cm):
    cm.ok("config", "set", "timeout-classification", "no-answer", "--queue", "sales")
    for queue in ("sales", "sales", "default"):
        cm.ok("chat", "new", "--queue", queue)
    cm.ok("chat", "activate", "C1")
    cm.ok("chat", "wrapup", "C1")
    cm.ok("clock", "advance", "1m")  # C1 closed by the timer: classified so
    cm.ok("chat", "activate", "C2")
    cm.ok("chat", "classify", "C2", "sale")
    cm.ok("chat", "wrapup", "C2")
    cm.ok("clock", "advance", "1m")  # classified already: kept
    cm.ok("chat", "activate", "C3")
    cm.ok("chat", "wrapup", "C3")
    cm.ok("clock", "advance", "1m")  # its queue has none
    assert [cm.chat(c)["classification"] for c in ("C1", "C2", "C3")] == ["no-answer", "sale", None]
    cm.ok("chat", "new", "--queue", "sales")
    cm.ok("chat", "activate", "C4")
    cm.ok("chat", "wrapup", "C4")
    cm.ok("chat", "wrapup", "C4", "--finish")  # finished by the agent: not the timer's
    assert cm.chat("C4")["classification"] is None


# == calls that park nothing ==================================================================


def test_call_parks_chats_off_leaves_the_active_chat_active(cm):
    cm.ok("config", "set", "call-parks-chats", "off")
    cm.ok("chat", "new")
    cm.ok("chat", "new", "--inbox")
    cm.ok("chat", "activate", "C1")
    agent = cm.js("chat", "call-start")
    assert (agent["status"], agent["active_chat"]) == ("on-call", "C1")
    assert cm.chat("C1")["state"] == "active"
    cm.ok("chat", "send", "C1", "one moment")  # the agent can still message
    cm.ok("chat", "activate", "C2")  # activating is not refused: C1 parked as usual
    cm.ok("chat", "return", "C1")  # nor is returning
    cm.ok("chat", "end", "C2")
    cm.ok("clock", "advance", "1m")  # the wrap-up timer keeps running during the call
    assert cm.chat("C2")["state"] == "closed"
    cm.fails(3, "config", "set", "call-parks-chats", "on", match="agent-1 on a call")
    cm.ok("config", "set", "call-parks-chats", "off")  # the same value: nothing changes
    assert cm.run("db", "check").code == 0
    cm.ok("chat", "call-end")
    cm.ok("config", "set", "call-parks-chats", "on")


def test_call_parks_chats_off_keeps_a_wrapup_running(cm):
    cm.ok("config", "set", "call-parks-chats", "off")
    cm.ok("chat", "new")
    cm.ok("chat", "activate", "C1")
    cm.ok("chat", "wrapup", "C1")
    cm.ok("chat", "call-start")
    assert cm.chat("C1")["wrapup_ends_at"] == "2026-01-05T09:01:00.000Z"
    cm.ok("clock", "advance", "30s")
    cm.ok("chat", "call-end")
    chat = cm.chat("C1")
    assert (chat["state"], chat["wrapup_remaining"]) == ("active-wrapup", 30)
    agent = cm.js("agent", "status")
    assert (agent["status"], agent["status_since"]) == ("wrap-up", "2026-01-05T09:00:30.000Z")
    assert cm.run("db", "check").code == 0  # the status logged at the call's end is the one it has


# == an agent who drops =======================================================================


def test_disconnect_requeues_new_chats_in_their_place_and_keeps_the_others(cm):
    cm.ok("config", "set", "max-chats", "3")
    cm.ok("chat", "new", "--queue", "sales")  # C1, new
    cm.ok("chat", "activate", "C1")
    cm.ok("chat", "new", "--queue", "sales", "--inbox")  # C2, new
    cm.ok("clock", "advance", "5s")
    cm.ok("--agent", "agent-2", "agent", "login")
    cm.ok("--agent", "agent-2", "agent", "break")
    cm.ok("chat", "new", "--queue", "sales")  # C3 waits (agent-1 has a new chat)
    done = cm.ok("agent", "disconnect")
    assert "C2: new -> queued (disconnect)" in done.out
    agent = cm.js("agent", "status")
    assert (agent["presence"], agent["status"], agent["active_chat"]) == ("unavailable", "handling-chat", "C1")
    chat = cm.chat("C2")
    assert (chat["state"], chat["agent"], chat["queue"], chat["created_at"]) == \
        ("queued", None, "sales", "2026-01-05T09:00:00.000Z")
    waiting = cm.run("chat", "list", "--state", "queued", "--ids").out.split()
    assert waiting == ["C2", "C3"]
    cm.fails(3, "chat", "take", "C2", match="agent-1 is unavailable")
    cm.ok("--agent", "agent-2", "agent", "available")  # C2 is presented first: it kept its place
    assert cm.chat("C2")["agent"] == "agent-2"
    cm.ok("agent", "available")
    assert cm.js("agent", "status")["presence"] == "available"
    assert cm.run("db", "check").code == 0
    stats = {a["agent"]: a for a in cm.js("stats", "agents")["agents"]}
    assert "unavailable" in stats["agent-1"]["status_seconds"]


def test_an_unavailable_agent_is_offered_nothing(cm):
    cm.ok("agent", "disconnect")
    assert cm.js("agent", "status")["status"] == "unavailable"
    cm.ok("chat", "new")
    assert cm.chat("C1")["state"] == "queued"
    assert "not presented to agent-1: it is unavailable" in cm.js("explain", "C1")["why"]
    cm.fails(3, "chat", "new", "--inbox", match="agent-1 is unavailable")
    cm.ok("clock", "advance", "1m")
    stats = cm.js("stats", "agents")["agents"][0]["status_seconds"]
    assert stats["unavailable"] == 60
    assert "UNAVAILABLE" in cm.ok("stats", "agents").out.splitlines()[1].split()
    cm.ok("--agent", "agent-2", "agent", "login")
    cm.ok("--agent", "agent-2", "chat", "activate", "C1")
    cm.fails(3, "--agent", "agent-2", "chat", "transfer", "C1", "--agent", "agent-1", match="agent-1 is unavailable")
    cm.ok("agent", "logout")  # a disconnected agent may be logged out
    cm.fails(3, "agent", "disconnect", match="agent-1 is logged out")


def test_disconnect_through_the_python_api_routes_and_tokens(tmp_path):
    from chatemu.cli.api import Emulator
    from chatemu.server import tokens
    from chatemu.server.routes import ROUTES

    emu = Emulator(tmp_path / "api.db")
    emu.set_clock("2026-01-05T09:00:00Z")
    emu.new()
    assert emu.disconnect()["presence"] == "unavailable"
    assert emu.available()["presence"] == "available"
    route = next(r for r in ROUTES if (r.method, r.path) == ("POST", "/agents/{agent}/disconnect"))
    assert route.argv({"agent": "agent-2"}, {}) == ["--agent", "agent-2", "agent", "disconnect", "--json"]
    own = tokens.Token(1, "ns", "agent", "agent-2", "now", None)
    assert tokens.authorize(own, False, "ns", ("agent", "disconnect"), "agent-2").allowed
    assert tokens.authorize(own, False, "ns", ("agent", "disconnect"), "agent-3").status == 403
    customer = tokens.Token(2, "ns", "customer", None, "now", None)
    assert tokens.authorize(customer, False, "ns", ("agent", "disconnect"), None).status == 403


def test_run_takes_disconnect(cm, tmp_path):
    script = tmp_path / "s.chatemu"
    script.write_text("chat new\nagent disconnect\nexpect chat C1 state=queued\nexpect agent status=unavailable\n"
                      "agent available\nexpect chat C1 state=new\n", encoding="utf-8")
    cm.ok("run", str(script))


# == db check ===================================================================================


def test_check_holds_the_new_invariants(cm):
    cm.ok("config", "set", "wrapup-mode", "untimed")
    cm.ok("chat", "new")
    cm.ok("chat", "activate", "C1")
    cm.ok("chat", "end", "C1")  # untimed wrap-up
    cm.ok("config", "set", "wrapup-mode", "optional")
    cm.ok("--agent", "agent-2", "agent", "login")
    cm.ok("--agent", "agent-2", "chat", "new", "--inbox")  # C2
    cm.ok("--agent", "agent-2", "chat", "activate", "C2")
    cm.ok("--agent", "agent-2", "chat", "wrapup", "C2", "--finish")  # skipped
    cm.ok("--agent", "agent-2", "chat", "new", "--inbox")  # C3 new
    assert cm.run("db", "check").code == 0
    found = corrupt(cm.db, "UPDATE chats SET extensions_left = 2 WHERE id = 'C1'")
    assert any("C1: active-wrapup without a wrap-up deadline" in line for line in found), found
    found = corrupt(cm.db, "UPDATE chats SET extensions_left = 0 WHERE id = 'C1'",
                    "UPDATE chats SET extensions_left = 1 WHERE id = 'C2'")
    assert any("C2: closed as wrapup-skipped but it was in wrap-up" in line for line in found), found
    found = corrupt(cm.db, "UPDATE chats SET extensions_left = NULL WHERE id = 'C2'",
                    "UPDATE agents SET presence = 'unavailable', status = 'unavailable' WHERE id = 'agent-2'")
    assert found[0] == "chat C3: new in the inbox of agent-2, who is unavailable (a disconnected agent is offered nothing)"
    found = corrupt(cm.db, "UPDATE agents SET presence = 'available', status = 'available' WHERE id = 'agent-2'",
                    "UPDATE chats SET closed_reason = 'wrapup-finished' WHERE id = 'C2'")
    assert any("C2 went 'active' -> 'closed', which no transition allows" in line for line in found), found


def test_check_holds_calls_to_their_setting(cm):
    cm.ok("chat", "new")
    cm.ok("chat", "activate", "C1")
    cm.ok("config", "set", "call-parks-chats", "off")
    cm.ok("chat", "call-start")
    assert cm.run("db", "check").code == 0  # on a call with an active chat: allowed when off
    found = corrupt(cm.db, "UPDATE config SET value = 'on' WHERE key = 'call-parks-chats'")
    assert found == ["agent agent-1: on a call but chat C1 is active"]
    found = corrupt(cm.db, "UPDATE config SET value = 'off' WHERE key = 'call-parks-chats'",
                    "UPDATE chats SET parked_by_call = 1, state = 'parked' WHERE id = 'C1'")
    assert any("marked parked_by_call (parked) but calls park no chat" in line for line in found), found


def test_timeline_draws_unavailable_and_lists_it_only_when_seen(cm):
    cm.ok("chat", "new")
    before = cm.ok("timeline", env={"COLUMNS": "100"}).out
    assert "unavailable" not in before  # the legend of a timeline without it stays as it was
    cm.ok("agent", "disconnect")
    cm.ok("clock", "advance", "5m")
    cm.ok("agent", "available")
    cm.ok("clock", "advance", "1m")
    text = cm.ok("timeline", env={"COLUMNS": "100"}).out
    lane = next(line for line in text.splitlines() if line.startswith("agent-1"))
    assert "x" in lane and "?" not in lane
    assert "x unavailable" in text


def test_snapshots_and_bundles_carry_the_new_states(cm, tmp_path):
    cm.ok("config", "set", "wrapup-mode", "untimed", "--queue", "sales")
    cm.ok("config", "set", "wrapup-mode", "off", "--queue", "vip")
    cm.ok("chat", "new", "--queue", "sales", "--inbox")  # C1: untimed wrap-up
    cm.ok("chat", "activate", "C1")
    cm.ok("chat", "end", "C1")
    cm.ok("chat", "new", "--queue", "vip", "--inbox")  # C2: closed, no-wrapup
    cm.ok("chat", "end", "C2")
    cm.ok("agent", "disconnect")  # unavailable
    state = (cm.js("chat", "list", "--all"), cm.js("agent", "status"), cm.js("config", "show"))
    assert state[1]["presence"] == "unavailable" and state[0][1]["closed_reason"] == "no-wrapup"
    cm.ok("snapshot", "save", "modes")
    cm.ok("agent", "available")
    cm.ok("chat", "wrapup", "C1", "--finish")
    cm.ok("snapshot", "restore", "modes")
    assert (cm.js("chat", "list", "--all"), cm.js("agent", "status"), cm.js("config", "show")) == state
    bundle = tmp_path / "modes.json"
    cm.ok("export", str(bundle))
    import jsonschema

    schema = json.loads((Path(__file__).resolve().parent.parent / "docs" / "bundle.schema.json").read_text("utf-8"))
    jsonschema.Draft202012Validator(schema).validate(json.loads(bundle.read_text("utf-8")))  # disconnect events too
    from conftest import Chatemu

    other = Chatemu(tmp_path / "other.db")
    other.ok("import", str(bundle))
    assert (other.js("chat", "list", "--all"), other.js("agent", "status"), other.js("config", "show")) == state
    assert other.run("db", "check").code == 0


def test_timeline_marks_the_rejected_chats(cm):
    cm.ok("agent", "break")
    cm.ok("config", "set", "max-queue-length", "1")
    cm.ok("chat", "new")
    assert "rejected" not in cm.ok("timeline").out
    cm.ok("clock", "advance", "1m")
    cm.fails(3, "chat", "new")
    cm.ok("clock", "advance", "1m")
    text = cm.ok("timeline", env={"COLUMNS": "100"}).out.splitlines()
    row = next(line for line in text if line.startswith("rejected"))
    assert row.count("r") == 2  # "rejected" and one mark
    assert any("r a new chat rejected" in line for line in text)
    script = cm.db.parent / "t.chatemu"
    script.write_text("timeline\ntimeline --chat C1\n", encoding="utf-8")
    whole, one = (json.loads(line)["result"] for line in cm.ok("run", "--json", str(script)).out.splitlines()[:2])
    assert whole["rejected"] == [{"at": "2026-01-05T09:01:00.000Z", "queue": "default"}]
    assert "rejected" not in one  # a picture of some chats or agents leaves the queues out


def test_explain_names_each_mode(cm):
    cm.ok("config", "set", "wrapup-mode", "off", "--queue", "q-off")
    cm.ok("config", "set", "wrapup-mode", "optional", "--queue", "q-opt")
    cm.ok("config", "set", "wrapup-mode", "untimed", "--queue", "q-untimed")
    cm.ok("config", "set", "wrapup-mode", "no-early-exit", "--queue", "q-nee")
    cm.ok("config", "set", "call-parks-chats", "off")
    cm.ok("config", "set", "max-chats", "4")
    for queue in ("q-off", "q-opt", "q-untimed", "q-nee"):
        cm.ok("chat", "new", "--queue", queue, "--inbox")  # C1 … C4
    cm.ok("chat", "activate", "C1")
    nxt = " ".join(cm.js("explain", "C1")["next"])
    assert "closes it (wrapup-mode off: no wrap-up)" in nxt
    assert "a call leaves it active (call-parks-chats off)" in nxt
    cm.ok("chat", "activate", "C2")
    assert "closes it at once (wrapup-mode optional)" in " ".join(cm.js("explain", "C2")["next"])
    assert "it closes (wrapup-mode off: no wrap-up)" in " ".join(cm.js("explain", "C1")["next"])  # parked now
    cm.ok("chat", "activate", "C3")
    assert "starts a wrap-up with no timer (wrapup-mode untimed)" in " ".join(cm.js("explain", "C3")["next"])
    cm.ok("chat", "activate", "C4")
    assert "parked-wrapup with no timer (wrapup-mode untimed)" in " ".join(cm.js("explain", "C3")["next"])
    cm.ok("chat", "wrapup", "C4")
    assert "is refused until the timer runs out (wrapup-mode no-early-exit)" in " ".join(cm.js("explain", "C4")["next"])
    cm.ok("chat", "call-start")
    nxt = " ".join(cm.js("explain", "C1")["next"])
    assert "`chat activate C1` makes it active again" in nxt and "refused while" not in nxt
