"""The webchat conversation: messages and templates, return and transfer, classification, the
abusive flag, contacts and their history; each as users run it (one ``chatemu`` process per
step), and the invariants ``db check`` holds them to."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatemu.store.engine import Engine

from conftest import Chatemu
from test_check import corrupt

T0 = 1_767_603_600_000  # 2026-01-05T09:00:00Z


def states(cm: Chatemu) -> dict[str, tuple]:
    return {c["id"]: (c["state"], c["agent"]) for c in cm.js("chat", "list", "--all")}


@pytest.fixture
def active(cm) -> Chatemu:
    """C1 (customer Ann) active in agent-1's inbox."""
    cm.ok("chat", "new", "--customer", "Ann")
    cm.ok("chat", "activate", "C1")
    return cm


# == messages ===============================================================================


def test_send_returns_the_message_and_counts_it_on_the_chat(active):
    sent = active.js("chat", "send", "C1", "Hello Ann")
    assert sent == {"chat": "C1", "seq": 1, "at": "2026-01-05T09:00:00.000Z", "from": "agent-1", "text": "Hello Ann"}
    assert active.chat("C1")["messages"] == 1
    assert active.ok("chat", "send", "C1", "second").out.startswith("C1 #2 2026-01-05T09:00:00.000Z agent-1: second")


@pytest.mark.parametrize(
    "setup, state, words",
    [
        ([["chat", "park", "C1"]], "parked", ["cannot send to C1: it is parked"]),
        ([["chat", "end", "C1"]], "active-wrapup", ["cannot send to C1: the customer has left (active-wrapup)"]),
        ([["chat", "wrapup", "C1"], ["chat", "park", "C1"]], "parked-wrapup", ["the customer has left (parked-wrapup)"]),
        ([["chat", "wrapup", "C1"], ["chat", "wrapup", "C1", "--finish"]], "closed", ["the customer has left (closed)"]),
    ],
)
def test_send_is_refused_unless_the_chat_is_active(active, setup, state, words):
    for args in setup:
        active.ok(*args)
    assert active.chat("C1")["state"] == state
    done = active.fails(3, "chat", "send", "C1", "hello")
    for word in words:
        assert word in done.err


def test_send_is_refused_on_a_queued_chat_and_on_another_agents_chat(cm):
    cm.ok("agent", "break")
    cm.ok("chat", "new")  # C1 stays queued: nobody is available
    cm.fails(3, "chat", "send", "C1", "hi", match="cannot send to C1: it is queued")
    cm.ok("chat", "take", "C1")
    cm.ok("chat", "activate", "C1")
    cm.ok("agent", "login", agent="agent-2")
    cm.fails(3, "chat", "send", "C1", "hi", agent="agent-2", match="in agent-1's inbox, not agent-2's")


def test_customer_messages_are_unread_until_the_chat_is_activated(cm):
    cm.ok("agent", "break")
    cm.ok("chat", "new", "--customer", "Ann")  # queued
    assert cm.js("chat", "receive", "C1", "anyone?")["from"] == "customer"
    assert cm.chat("C1")["unread"] == 1 and cm.chat("C1")["state"] == "queued"
    cm.ok("agent", "available")  # presented: new
    cm.ok("chat", "receive", "C1", "hello?")
    assert (cm.chat("C1")["state"], cm.chat("C1")["unread"], cm.chat("C1")["messages"]) == ("new", 2, 2)
    assert "UNREAD" in cm.ok("chat", "list").out
    cm.ok("chat", "activate", "C1")
    assert cm.chat("C1")["unread"] == 0
    assert "UNREAD" not in cm.ok("chat", "list").out
    cm.ok("chat", "receive", "C1", "read at once")  # the active chat: read as it arrives
    assert cm.chat("C1")["unread"] == 0
    cm.ok("chat", "park", "C1")
    cm.ok("chat", "receive", "C1", "still there?")
    assert (cm.chat("C1")["unread"], cm.chat("C1")["messages"]) == (1, 4)


@pytest.mark.parametrize("steps, state", [
    ([["chat", "end", "C1"]], "active-wrapup"),
    ([["chat", "wrapup", "C1"], ["chat", "wrapup", "C1", "--finish"]], "closed"),
])
def test_a_customer_who_has_left_sends_nothing(active, steps, state):
    for args in steps:
        active.ok(*args)
    active.fails(3, "chat", "receive", "C1", "hello?", match=f"the customer has left ({state})")


def test_receive_acts_as_no_agent(cm):
    cm.ok("config", "set", "auto-present", "off")
    cm.ok("chat", "new", agent="agent-9")
    cm.ok("chat", "receive", "C1", "hi", agent="agent-7")
    assert [a["id"] for a in cm.js("agent", "list")] == ["agent-9"]


def test_transcript_holds_every_message_exactly_in_order(active):
    texts = ["Grüße, 你好 👋", "two\nlines\twith a tab", "x" * 10_000, "  spaces kept  "]
    active.ok("chat", "receive", "C1", texts[0])
    active.ok("chat", "send", "C1", texts[1])
    active.ok("clock", "advance", "5s")
    active.ok("chat", "receive", "C1", texts[2])
    active.ok("chat", "send", "C1", texts[3])
    got = active.js("chat", "transcript", "C1")
    assert [(m["seq"], m["from"], m["text"]) for m in got] == [
        (1, "customer", texts[0]), (2, "agent-1", texts[1]), (3, "customer", texts[2]), (4, "agent-1", texts[3])]
    assert [m["at"] for m in got] == ["2026-01-05T09:00:00.000Z"] * 2 + ["2026-01-05T09:00:05.000Z"] * 2
    plain = active.ok("chat", "transcript", "C1").out
    assert "C1 #2 2026-01-05T09:00:00.000Z agent-1: two\n    lines\twith a tab" in plain
    assert active.ok("chat", "transcript", "C1", "--json").out == active.run("chat", "transcript", "C1", "--json").out


@pytest.mark.parametrize("text", ["", "bell\a", "esc\x1b[2J", "nul-free \x7f", "c1 \x85", "x" * 10_001, "cr\r"])
def test_bad_message_text_is_a_usage_error_and_changes_nothing(active, text):
    active.fails(2, "chat", "send", "C1", text, match="bad message")
    active.fails(2, "chat", "receive", "C1", text, match="bad message")


def test_send_needs_text_or_a_template_not_both(active):
    active.fails(2, "chat", "send", "C1")
    active.fails(2, "chat", "send", "C1", "hi", "--template", "greeting")


# == templates ==============================================================================


def test_templates_fill_placeholders_and_a_queues_own_shadows_the_global_one(cm):
    cm.ok("template", "add", "greeting", "Hello {customer}, I am {agent} ({queue}/{chat}) {other}")
    cm.ok("template", "add", "greeting", "Billing: hi {customer}", "--queue", "billing")
    cm.ok("agent", "break")
    cm.ok("chat", "new", "--customer", "Ann")
    cm.ok("chat", "new", "--queue", "billing")
    cm.ok("chat", "take", "C1")
    cm.ok("chat", "take", "C2")
    cm.ok("chat", "activate", "C1")
    assert cm.js("chat", "send", "C1", "--template", "greeting")["text"] == "Hello Ann, I am agent-1 (default/C1) {other}"
    cm.ok("chat", "activate", "C2")
    assert cm.js("chat", "send", "C2", "--template", "greeting")["text"] == "Billing: hi customer"
    listed = cm.js("template", "list")
    assert [(t["name"], t["queue"]) for t in listed] == [("greeting", None), ("greeting", "billing")]
    assert [t["queue"] for t in cm.js("template", "list", "--queue", "billing")] == ["billing"]
    assert [t["queue"] for t in cm.js("template", "list", "--queue", "sales")] == [None]
    assert cm.js("template", "add", "greeting", "Hi", "--queue", "billing")["replaced"] is True
    cm.ok("template", "remove", "greeting", "--queue", "billing")
    assert cm.js("chat", "send", "C2", "--template", "greeting")["text"].startswith("Hello customer, I am agent-1 (billing/C2)")


def test_a_customers_name_is_never_read_for_placeholders(cm):
    cm.ok("chat", "new", "--customer", "{agent} {chat}")
    cm.ok("chat", "activate", "C1")
    cm.ok("template", "add", "hi", "Hello {customer}, from {agent}")
    assert cm.js("chat", "send", "C1", "--template", "hi")["text"] == "Hello {agent} {chat}, from agent-1"


def test_unknown_templates_are_exit_4(active):
    active.fails(4, "chat", "send", "C1", "--template", "nope", match="unknown template nope")
    active.fails(4, "template", "remove", "nope")
    active.ok("template", "add", "t", "text")
    active.fails(4, "template", "remove", "t", "--queue", "billing")


def test_a_template_that_fills_past_the_limit_is_refused(cm):
    cm.ok("chat", "new")  # no customer name: {customer} is the contact's
    cm.ok("chat", "activate", "C1")
    cm.ok("chat", "contact", "C1", "A" * 200)
    cm.ok("template", "add", "long", "{customer}" * 60)  # 600 characters as written, 12,000 filled
    cm.fails(2, "chat", "send", "C1", "--template", "long", match="more than 10000")


# == return and transfer ======================================================================


def test_return_sends_the_chat_back_to_its_first_queue_ahead_of_later_chats(cm):
    cm.ok("config", "set", "auto-present", "off")
    cm.ok("chat", "new", "--customer", "Ann", "--queue", "billing")  # C1 at 09:00:00
    cm.ok("chat", "take", "C1")
    cm.ok("chat", "activate", "C1")
    cm.ok("chat", "receive", "C1", "my bill")
    cm.ok("chat", "send", "C1", "let me look")
    cm.ok("chat", "transfer", "C1", "--queue", "sales")
    assert (cm.chat("C1")["queue"], cm.chat("C1")["origin_queue"], cm.chat("C1")["transfers"]) == ("sales", "billing", 1)
    cm.ok("chat", "take", "C1")
    cm.ok("clock", "advance", "1m")
    cm.ok("chat", "new", "--queue", "billing")  # C2 arrives later
    done = cm.ok("chat", "return", "C1")
    assert "C1: new -> queued (return)" in done.out
    chat = cm.chat("C1")
    assert (chat["state"], chat["agent"], chat["queue"], chat["messages"]) == ("queued", None, "billing", 2)
    assert chat["created_at"] == "2026-01-05T09:00:00.000Z"
    cm.ok("config", "set", "auto-present", "on")  # C1, the oldest arrival, is presented first
    cm.ok("agent", "login", agent="agent-2")  # agent-2 comes into being and gets C2
    cm.ok("chat", "new", "--queue", "billing", agent="agent-2")  # C3
    assert states(cm) == {"C1": ("new", "agent-1"), "C2": ("new", "agent-2"), "C3": ("queued", None)}
    events = [(e["chat"], e["cause"]) for e in cm.js("events", "--chat", "C1")]
    assert ("C1", "transfer") in events and ("C1", "return") in events


def test_a_returned_chat_is_presented_at_once_to_an_idle_agent(cm):
    cm.ok("chat", "new")  # C1 presented to agent-1
    cm.ok("agent", "login", agent="agent-2")
    cm.ok("agent", "break", agent="agent-2")
    cm.ok("agent", "available", agent="agent-2")  # agent-2 exists and is idle, more recently than agent-1
    cm.ok("chat", "new", agent="agent-2")  # C2 goes to agent-2
    cm.ok("chat", "activate", "C2", agent="agent-2")
    cm.ok("chat", "park", "C2", agent="agent-2")  # agent-2 free again
    cm.ok("clock", "advance", "1s")
    done = cm.ok("chat", "return", "C1")  # agent-1 acts last: agent-2 is the one idle longest
    assert "C1: new -> queued (return)" in done.out and "C1: queued -> new (presentation)" in done.out
    assert cm.chat("C1")["agent"] == "agent-2"


def test_a_returned_chat_comes_back_when_its_agent_is_the_only_one_free(cm):
    cm.ok("chat", "new")
    done = cm.ok("chat", "return", "C1")
    assert done.out.splitlines()[-1] == "C1 new in agent-1's inbox"
    cm.ok("agent", "break")  # the way to hand it over: a break first
    cm.ok("chat", "return", "C1")
    assert cm.chat("C1")["state"] == "queued"


@pytest.mark.parametrize("steps, words", [
    ([["chat", "end", "C1"]], ["cannot return C1", "the customer has left (active-wrapup)"]),
    ([["chat", "wrapup", "C1"], ["chat", "park", "C1"]], ["cannot return C1", "parked-wrapup"]),
    ([["chat", "call-start"]], ["cannot return C1", "parked", "on a call"]),
])
def test_return_is_refused_in_wrapup_and_during_a_call(active, steps, words):
    for args in steps:
        active.ok(*args)
    done = active.fails(3, "chat", "return", "C1")
    for word in words:
        assert word in done.err


def test_transfer_to_an_agent_puts_it_new_in_that_inbox(active):
    active.fails(4, "agent", "status", agent="agent-2", match="unknown agent agent-2 (log it in first")
    active.ok("agent", "login", agent="agent-2")
    done = active.ok("chat", "transfer", "C1", "--agent", "agent-2")
    assert "C1: active -> new (transfer)" in done.out
    chat = active.chat("C1")
    assert (chat["state"], chat["agent"], chat["transfers"], chat["queue"]) == ("new", "agent-2", 1, "default")
    assert active.js("events", "--chat", "C1")[-1]["agent"] == "agent-2"
    assert active.js("agent", "status")["status"] == "available"


def test_handing_a_chat_over_counts_as_the_senders_activity(cm):
    """The idle longest goes first: after a transfer, the sender is idle since the transfer."""
    cm.ok("chat", "new")  # 09:00 C1 to agent-1
    cm.ok("chat", "activate", "C1")
    for agent in ("agent-2", "agent-3"):
        cm.ok("agent", "login", agent=agent)
        cm.ok("agent", "break", agent=agent)
    cm.ok("clock", "advance", "1m")
    cm.ok("agent", "available", agent="agent-3")  # agent-3 idle since 09:01
    cm.ok("clock", "advance", "1m")
    cm.ok("agent", "available", agent="agent-2")
    cm.ok("chat", "transfer", "C1", "--agent", "agent-2")  # 09:02: agent-1 hands C1 over, free now
    cm.ok("chat", "new")  # C2: agent-3 (idle since 09:01) before agent-1 (since 09:02)
    assert cm.chat("C2")["agent"] == "agent-3"


@pytest.mark.parametrize("setup, words", [
    ([["agent", "break"]], ["agent-2 is on a break"]),
    ([["chat", "call-start"]], ["agent-2 is on a call"]),
    ([["config", "set", "max-chats", "1"], ["chat", "new", "--inbox"]], ["agent-2 is at capacity 1/1"]),
])
def test_transfer_to_an_agent_who_cannot_take_it_is_refused(active, setup, words):
    active.ok("agent", "login", agent="agent-2")
    for args in setup:
        active.ok(*args, agent="agent-2")
    if setup[0][:2] == ["config", "set"]:
        pass
    done = active.fails(3, "chat", "transfer", "C1", "--agent", "agent-2")
    assert "cannot transfer C1 to agent-2" in done.err
    for word in words:
        assert word in done.err


def test_transfer_refusals_and_usage(active):
    active.fails(4, "chat", "transfer", "C1", "--agent", "agent-9", match="unknown agent agent-9")
    active.fails(3, "chat", "transfer", "C1", "--agent", "agent-1", match="own inbox")
    active.fails(3, "chat", "transfer", "C1", "--queue", "default", match="cannot transfer C1 to queue default: it is active in that queue already")
    active.fails(2, "chat", "transfer", "C1")
    active.fails(2, "chat", "transfer", "C1", "--queue", "x", "--agent", "agent-1")
    active.fails(2, "chat", "transfer", "C1", "--queue", "bad queue")
    active.ok("chat", "park", "C1")
    active.fails(3, "chat", "transfer", "C1", "--queue", "sales", match="cannot transfer C1: it is parked")


# == classification and the abusive flag =====================================================


def test_classify_in_conversation_and_wrapup_again_replaces_it(active):
    active.ok("chat", "classify", "C1", "billing question", "--note", "asked twice")
    chat = active.chat("C1")
    assert (chat["classification"], chat["classification_note"]) == ("billing question", "asked twice")
    active.ok("chat", "end", "C1")
    active.ok("chat", "classify", "C1", "refund")
    chat = active.chat("C1")
    assert (chat["classification"], chat["classification_note"]) == ("refund", None)


def test_classify_and_flag_are_refused_before_the_conversation_and_after_it_closed(cm):
    cm.ok("chat", "new")  # new
    cm.fails(3, "chat", "classify", "C1", "x", match="cannot classify C1: it is new")
    cm.fails(3, "chat", "flag-abusive", "C1", match="cannot flag C1: it is new")
    cm.ok("chat", "activate", "C1")
    cm.ok("chat", "wrapup", "C1")
    cm.ok("chat", "wrapup", "C1", "--finish")
    cm.fails(3, "chat", "classify", "C1", "x", match="it is closed")


def test_list_classification_takes_only_the_queues_codes(active):
    active.ok("config", "set", "classification", "list")
    active.ok("classification", "add", "refund")
    active.ok("classification", "add", "complaint", "--queue", "default")
    active.ok("classification", "add", "upsell", "--queue", "sales")
    done = active.fails(4, "chat", "classify", "C1", "upsell")
    assert done.err.strip() == "error: unknown classification code upsell of queue default (codes: complaint, refund)"
    active.ok("chat", "classify", "C1", "complaint")
    active.ok("chat", "classify", "C1", "refund")
    listed = active.js("classification", "list", "--queue", "default")
    assert [(c["code"], c["queue"]) for c in listed] == [("complaint", "default"), ("refund", None)]
    assert active.js("classification", "add", "refund")["added"] is False
    active.ok("classification", "remove", "refund")
    active.fails(4, "classification", "remove", "refund")
    active.fails(4, "chat", "classify", "C1", "refund", match="codes: complaint")


def test_required_classification_blocks_finish_but_the_timer_still_closes(active):
    active.ok("config", "set", "classification-required", "on", "--queue", "default")
    active.ok("chat", "wrapup", "C1")
    active.fails(3, "chat", "wrapup", "C1", "--finish", match="not classified")
    active.ok("clock", "advance", "1m")
    assert (active.chat("C1")["state"], active.chat("C1")["closed_reason"]) == ("closed", "wrapup-expired")
    active.ok("chat", "new", "--inbox")
    active.ok("chat", "activate", "C2")
    active.ok("chat", "wrapup", "C2")
    active.ok("chat", "classify", "C2", "done")
    active.ok("chat", "wrapup", "C2", "--finish")
    assert active.chat("C2")["closed_reason"] == "wrapup-finished"


def test_flag_abusive_in_conversation_or_wrapup(active):
    assert active.chat("C1")["abusive"] is False
    active.ok("chat", "flag-abusive", "C1")
    active.ok("chat", "flag-abusive", "C1")  # again: still flagged
    assert active.chat("C1")["abusive"] is True


def test_bad_classification_values_are_usage_errors(active):
    active.fails(2, "chat", "classify", "C1", "", match="bad classification")
    active.fails(2, "chat", "classify", "C1", "x" * 201)
    active.fails(2, "chat", "classify", "C1", "ok", "--note", "bell\a")
    active.fails(2, "config", "set", "classification", "maybe")


# == contacts ================================================================================


def test_contact_history_lists_every_chat_of_the_contact(cm):
    cm.ok("chat", "new", "--customer", "Ann Lee")  # C1, linked from the start
    cm.ok("chat", "activate", "C1")
    cm.ok("chat", "receive", "C1", "hi")
    cm.ok("chat", "classify", "C1", "refund", "--note", "parcel lost")
    cm.ok("chat", "flag-abusive", "C1")
    cm.ok("chat", "wrapup", "C1")
    cm.ok("chat", "wrapup", "C1", "--finish")
    cm.ok("clock", "advance", "1m")
    cm.ok("chat", "new", "--customer", "Someone")  # C2: assigned to Ann later
    cm.ok("chat", "activate", "C2")
    cm.ok("chat", "contact", "C2", "Ann Lee")
    history = cm.js("contact", "history", "Ann Lee")
    assert history["contact"] == "Ann Lee"
    first, second = history["chats"]
    assert (first["id"], first["state"], first["closed_reason"], first["classification"],
            first["classification_note"], first["abusive"], first["messages"], first["agents"]) == (
        "C1", "closed", "wrapup-finished", "refund", "parcel lost", True, 1, ["agent-1"])
    assert first["notes"] == ["This chat was marked as abusive"]
    assert (second["id"], second["state"], second["notes"]) == ("C2", "active", [])
    plain = cm.ok("contact", "history", "Ann Lee").out
    assert "This chat was marked as abusive" in plain and "refund (parcel lost)" in plain
    assert [c["id"] for c in cm.js("contact", "history", "Someone")["chats"]] == []
    cm.fails(4, "contact", "history", "Nobody", match="unknown contact")


def test_contact_is_refused_on_a_queued_or_closed_chat(cm):
    cm.ok("agent", "break")
    cm.ok("chat", "new")
    cm.fails(3, "chat", "contact", "C1", "Ann", match="it is queued")
    cm.fails(2, "chat", "contact", "C1", " ")


# == explain ================================================================================


def test_explain_says_why_sending_returning_and_transferring_are_refused(active):
    assert any("`chat send C1 TEXT`" in line for line in active.js("explain", "C1")["next"])
    active.ok("chat", "park", "C1")
    lines = active.js("explain", "C1")["next"]
    assert any("sending and transferring are refused: it is parked" in line for line in lines)
    assert any("`chat return C1` sends it back to queue default" in line for line in lines)
    active.ok("chat", "call-start")
    assert any("returning it is refused while agent-1 is on a call" in line for line in active.js("explain", "C1")["next"])
    active.ok("chat", "call-end")
    active.ok("chat", "activate", "C1")
    active.ok("chat", "end", "C1")
    lines = active.js("explain", "C1")["next"]
    assert any("the customer has left: sending, returning and transferring are refused" in line for line in lines)


# == snapshots and bundles carry it all =========================================================


def test_snapshot_and_export_round_trip_carry_messages_templates_codes_and_contacts(active, tmp_path):
    active.ok("template", "add", "hi", "Hi {customer}")
    active.ok("classification", "add", "refund", "--queue", "default")
    active.ok("chat", "receive", "C1", "hello")
    active.ok("chat", "send", "C1", "--template", "hi")
    active.ok("chat", "classify", "C1", "refund")
    active.ok("snapshot", "save", "s")
    before = active.run("export", "-").out
    active.ok("chat", "send", "C1", "more")
    active.ok("template", "remove", "hi")
    active.ok("snapshot", "restore", "s")
    assert active.js("chat", "transcript", "C1")[-1]["text"] == "Hi Ann"
    assert [t["name"] for t in active.js("template", "list")] == ["hi"]
    bundle = tmp_path / "b.json"
    active.ok("export", str(bundle))
    other = Chatemu(tmp_path / "other.db")
    other.ok("import", str(bundle))
    assert other.run("export", "-").out == active.run("export", "-").out
    assert json.loads(before)["state"]["messages"] == json.loads(other.run("export", "-").out)["state"]["messages"]
    assert other.js("contact", "history", "Ann")["chats"][0]["classification"] == "refund"
    other.ok("db", "check")


# == db check holds the new invariants ==========================================================


def make_db(path: Path) -> Path:
    wall = lambda: T0  # noqa: E731
    a1, a2 = Engine(str(path), "agent-1", wall), Engine(str(path), "agent-2", wall)
    a1.chat_new(customer="Ann")  # C1 presented to agent-1
    a1.chat_activate("C1")
    a1.chat_receive("C1", "hi")
    a1.chat_send("C1", "hello")
    a1.chat_classify("C1", "refund", note="lost")
    a1.chat_flag_abusive("C1")
    a2.agent_login()
    a1.chat_transfer("C1", agent="agent-2")  # C1 new in agent-2's inbox
    a1.chat_new(customer="Bob", queue="billing")  # C2 presented to agent-1
    a1.chat_activate("C2")
    a1.chat_transfer("C2", queue="sales")  # queued in sales (agent-1 gets it back at once)
    a1.chat_receive("C2", "anyone?")
    return path


@pytest.fixture
def wdb(tmp_path) -> Path:
    return make_db(tmp_path / "w.db")


def test_the_webchat_fixture_is_clean(wdb):
    assert corrupt(wdb) == []


@pytest.mark.parametrize("sql, fragment", [
    ("INSERT INTO messages VALUES ('C9', 1, 1767603600000, 'customer', 'x')", "the chat does not exist"),
    ("UPDATE messages SET seq = 5 WHERE chat = 'C1' AND seq = 2", "not 1, 2, 3"),
    ("UPDATE messages SET sender = 'agent-9' WHERE chat = 'C1' AND seq = 2", "neither the customer nor an agent"),
    ("UPDATE messages SET text = '' WHERE chat = 'C1' AND seq = 1", "is not 1 to 10000"),
    ("UPDATE messages SET at_ms = 1 WHERE chat = 'C1' AND seq = 1", "before the chat was created"),
    ("UPDATE chats SET unread = 5 WHERE id = 'C1'", "5 unread of 1 customer message"),
    ("UPDATE chats SET unread = -1 WHERE id = 'C2'", "-1 unread"),
    ("UPDATE chats SET origin_queue = NULL WHERE id = 'C1'", "origin queue None"),
    ("UPDATE chats SET transfers = 3 WHERE id = 'C1'", "3 transfer(s) recorded but 1 transfer event"),
    ("UPDATE chats SET abusive = 7 WHERE id = 'C1'", "abusive is 7"),
    ("UPDATE chats SET classification_note = 'n', classification = NULL WHERE id = 'C2'", "a classification note without"),
    ("UPDATE chats SET contact = 'Zed' WHERE id = 'C1'", "contact Zed, who does not exist"),
])
def test_broken_webchat_invariants_are_reported(wdb, sql, fragment):
    found = corrupt(wdb, sql)
    assert any(fragment in line for line in found), found


def test_a_customer_message_after_the_customer_left_is_reported(tmp_path):
    path = tmp_path / "left.db"
    eng = Engine(str(path), "agent-1", lambda: T0)
    eng.chat_new(inbox=True)
    eng.chat_activate("C1")
    eng.chat_receive("C1", "bye")
    eng.clock_advance(1000)
    eng.chat_end("C1")
    assert corrupt(path) == []
    found = corrupt(path, "UPDATE messages SET at_ms = at_ms + 2000")
    assert any("after the customer left" in line for line in found), found


def test_classified_but_never_in_conversation_is_reported(tmp_path):
    path = tmp_path / "c.db"
    eng = Engine(str(path), "agent-1", lambda: T0)
    eng.config_set("auto-present", "off")
    eng.chat_new()
    found = corrupt(path, "UPDATE chats SET classification = 'x'")
    assert any("never active, parked or in wrap-up" in line for line in found), found
