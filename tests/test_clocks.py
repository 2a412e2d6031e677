"""The clocks beyond wrap-up, as users run them (real `chatemu` processes): an offer that
times out, a customer's patience, the reply alert, a customer gone idle, a break past its
limit; every expiry at its own instant however late it is observed, in time order, each
followed by presentation; `db check` clean after each story."""

from __future__ import annotations

import pytest

START = "2026-01-05T09:00:00.000Z"


def at(seconds: float) -> str:
    """The ISO time ``seconds`` after the test clock's start."""
    ms = int(seconds * 1000)
    s, ms = divmod(ms, 1000)
    m, s = divmod(s, 60)
    h, m = divmod(m, 60)
    return f"2026-01-05T{9 + h:02d}:{m:02d}:{s:02d}.{ms:03d}Z"


def clean(cm) -> None:
    done = cm.run("db", "check")
    assert done.code == 0, done


def moves(cm, cause: str) -> list[tuple]:
    return [(e["at"], e["chat"], e["agent"], e["from"], e["to"]) for e in cm.js("events") if e["cause"] == cause]


# -- offers that time out --------------------------------------------------------------------------


def test_offer_timeout_requeues_keeping_its_place_and_the_agent_stops_receiving(cm):
    cm.ok("config", "set", "offer-timeout", "30s")
    cm.ok("chat", "new", "--customer", "Ann")  # C1, presented to agent-1 at once
    cm.ok("agent", "break", agent="agent-1")
    cm.ok("agent", "available", agent="agent-1")
    assert cm.chat("C1")["state"] == "new"
    cm.ok("agent", "login", agent="agent-2")
    cm.ok("agent", "break", agent="agent-2")
    cm.ok("chat", "new", "--customer", "Bob")  # C2 queued behind C1's arrival
    cm.ok("clock", "advance", "45s")
    # At 09:00:30 exactly the offer ran out: C1 queued again, agent-1 not-responding, nothing presented to it.
    assert moves(cm, "offer-timeout") == [
        (at(30), "C1", "agent-1", "new", "queued"), (at(30), None, "agent-1", "available", "not-responding")]
    c1 = cm.chat("C1")
    assert c1["state"] == "queued" and c1["agent"] is None
    assert cm.js("agent", "status", "agent-1")["status"] == "not-responding"
    # Keeping its place: ahead of C2, which arrived after it.
    cm.ok("agent", "available", agent="agent-2")
    assert cm.chat("C1")["agent"] == "agent-2" and cm.chat("C2")["state"] == "queued"
    # Back with `agent available`: presented again.
    cm.ok("agent", "available", agent="agent-1")
    assert cm.chat("C2")["agent"] == "agent-1"
    clean(cm)


def test_an_offer_activated_in_time_has_no_timer_and_take_has_none(cm):
    cm.ok("config", "set", "offer-timeout", "30s")
    cm.ok("chat", "new")
    cm.ok("chat", "activate", "C1")
    cm.ok("config", "set", "auto-present", "off")
    cm.ok("chat", "new")
    cm.ok("chat", "take", "C2")  # taken deliberately: no offer timer
    cm.ok("clock", "advance", "10m")
    assert cm.chat("C1")["state"] == "active" and cm.chat("C2")["state"] == "new"
    assert moves(cm, "offer-timeout") == []
    clean(cm)


def test_offer_timeouts_chain_in_order_within_one_late_settle(cm):
    """An offer timing out puts the chat back; it is presented at that instant to the next
    agent, whose own offer is already due by now: every expiry at its own instant, in order."""
    cm.ok("config", "set", "offer-timeout", "10s")
    for agent in ("agent-1", "agent-2", "agent-3"):
        cm.ok("agent", "login", agent=agent)
    cm.ok("chat", "new")  # C1 → agent-1 (idle longest)
    cm.ok("clock", "advance", "1h")
    got = [(e["at"], e["chat"], e["agent"], e["from"], e["to"], e["cause"]) for e in cm.js("events")][-8:]
    assert got == [
        (at(10), "C1", "agent-1", "new", "queued", "offer-timeout"),
        (at(10), None, "agent-1", "available", "not-responding", "offer-timeout"),
        (at(10), "C1", "agent-2", "queued", "new", "presentation"),
        (at(20), "C1", "agent-2", "new", "queued", "offer-timeout"),
        (at(20), None, "agent-2", "available", "not-responding", "offer-timeout"),
        (at(20), "C1", "agent-3", "queued", "new", "presentation"),
        (at(30), "C1", "agent-3", "new", "queued", "offer-timeout"),
        (at(30), None, "agent-3", "available", "not-responding", "offer-timeout"),
    ]
    assert cm.chat("C1")["state"] == "queued"
    assert {a["id"]: a["status"] for a in cm.js("agent", "list")} == {
        "agent-1": "not-responding", "agent-2": "not-responding", "agent-3": "not-responding"}
    clean(cm)


def test_offer_timeout_per_queue(cm):
    cm.ok("config", "set", "offer-timeout", "20s", "--queue", "sales")
    cm.ok("chat", "new", "--queue", "sales")
    cm.ok("clock", "advance", "20s")
    assert cm.chat("C1")["state"] == "queued"
    cm.ok("agent", "available")
    cm.ok("chat", "activate", "C1")
    cm.ok("chat", "wrapup", "C1")
    cm.ok("chat", "wrapup", "C1", "--finish")
    cm.ok("chat", "new")  # the default queue: no offer timeout
    cm.ok("clock", "advance", "1h")
    assert cm.chat("C2")["state"] == "new"
    clean(cm)


# -- customers who give up ---------------------------------------------------------------------------


def test_patience_closes_a_queued_chat_abandoned_at_its_instant(cm):
    cm.ok("config", "set", "patience", "2m")
    cm.ok("agent", "break")
    cm.ok("chat", "new", "--customer", "Ann")
    cm.ok("clock", "advance", "1m")
    cm.ok("chat", "new", "--customer", "Bob", "--patience", "30s")  # its own patience
    cm.ok("clock", "advance", "10m")
    c1, c2 = cm.chat("C1"), cm.chat("C2")
    assert (c1["state"], c1["closed_reason"], c1["closed_at"]) == ("closed", "abandoned", at(120))
    assert (c2["state"], c2["closed_reason"], c2["closed_at"]) == ("closed", "abandoned", at(90))
    assert [m[:2] for m in moves(cm, "patience")] == [(at(90), "C2"), (at(120), "C1")]
    clean(cm)


def test_patience_stops_when_presented_and_counts_from_arrival_after_an_offer_timeout(cm):
    cm.ok("config", "set", "patience", "1m")
    cm.ok("config", "set", "offer-timeout", "40s")
    cm.ok("chat", "new")  # presented at once: patience stops
    cm.ok("clock", "advance", "40s")  # the offer ran out: queued again, patience from arrival (left 20 s)
    assert cm.chat("C1")["state"] == "queued"
    cm.ok("clock", "advance", "19s")
    assert cm.chat("C1")["state"] == "queued"
    cm.ok("clock", "advance", "1s")
    assert cm.chat("C1")["closed_reason"] == "abandoned" and cm.chat("C1")["closed_at"] == at(60)
    clean(cm)


def test_patience_starts_again_on_return(cm):
    cm.ok("config", "set", "patience", "1m")
    cm.ok("chat", "new")
    cm.ok("chat", "activate", "C1")
    cm.ok("clock", "advance", "5m")
    cm.ok("agent", "break")
    cm.ok("chat", "return", "C1")
    cm.ok("clock", "advance", "59s")
    assert cm.chat("C1")["state"] == "queued"
    cm.ok("clock", "advance", "1s")
    assert cm.chat("C1")["closed_at"] == at(360)
    clean(cm)


@pytest.mark.parametrize("value", ["soon", "-5s", ""])
def test_a_bad_patience_is_a_usage_error(cm, value):
    cm.fails(2, "chat", "new", "--patience", value)


def test_patience_through_the_python_api(tmp_path):
    from chatemu.cli.api import Emulator

    emu = Emulator(tmp_path / "api.db")
    emu.set_clock(START)
    emu.break_()
    assert emu.new(customer="Ann", patience="45s")["state"] == "queued"
    emu.advance("45s")
    assert (emu.chat("C1")["closed_reason"], emu.chat("C1")["closed_at"]) == ("abandoned", at(45))


# -- customers who go quiet, messages left unanswered ------------------------------------------------


def test_reply_alert_marks_the_oldest_unanswered_message_and_an_agent_message_clears_it(cm):
    cm.ok("config", "set", "reply-alert", "1m")
    cm.ok("chat", "new")
    cm.ok("chat", "activate", "C1")
    cm.ok("chat", "receive", "C1", "hello?")
    cm.ok("clock", "advance", "30s")
    cm.ok("chat", "receive", "C1", "anyone?")  # the oldest unanswered one still counts
    assert cm.chat("C1")["alerting"] is False
    cm.ok("clock", "advance", "5m")
    chat = cm.chat("C1")
    assert (chat["alerting"], chat["awaiting_reply_since"]) == (True, at(0))
    assert moves(cm, "reply-alert") == [(at(60), "C1", "agent-1", "active", "active")]
    listed = cm.ok("chat", "list").out
    assert "ALERT" in listed and "awaiting reply since 09:00:00" in listed
    cm.ok("chat", "send", "C1", "sorry, here")
    chat = cm.chat("C1")
    assert (chat["alerting"], chat["awaiting_reply_since"]) == (False, None)
    assert "ALERT" not in cm.ok("chat", "list").out
    clean(cm)


def test_reply_alert_off_never_alerts(cm):
    cm.ok("chat", "new")
    cm.ok("chat", "receive", "C1", "hello?")
    cm.ok("clock", "advance", "1h")
    chat = cm.chat("C1")
    assert (chat["alerting"], chat["awaiting_reply_since"]) == (False, at(0))
    clean(cm)


def test_customer_idle_timeout_ends_the_chat_into_wrap_up(cm):
    cm.ok("config", "set", "customer-idle-timeout", "2m")
    cm.ok("chat", "new")
    cm.ok("chat", "activate", "C1")
    cm.ok("chat", "send", "C1", "how can I help?")
    cm.ok("clock", "advance", "90s")
    cm.ok("chat", "receive", "C1", "thinking")  # the customer spoke: no idle timer
    cm.ok("clock", "advance", "5m")
    assert cm.chat("C1")["state"] == "active"
    cm.ok("chat", "send", "C1", "still there?")  # at 6m30s
    cm.ok("clock", "advance", "2m30s")
    chat = cm.chat("C1")
    assert chat["state"] == "active-wrapup"
    assert moves(cm, "idle-timeout")[0] == (at(510), "C1", "agent-1", "active", "active-wrapup")
    assert chat["wrapup_ends_at"] == at(570)  # the wrap-up runs from the idle instant
    clean(cm)


# -- breaks with a limit -------------------------------------------------------------------------------


def test_a_break_past_its_limit_overruns_at_the_instant(cm):
    cm.ok("break-reason", "add", "lunch", "--limit", "30m")
    assert "lunch (limit 30m)" in cm.ok("break-reason", "list").out
    cm.ok("agent", "break", "--reason", "lunch")
    assert cm.js("agent", "status")["break_ends_at"] == at(1800)
    cm.ok("clock", "advance", "45m")
    agent = cm.js("agent", "status")
    assert (agent["status"], agent["break_overrun_since"], agent["break_ends_at"]) == ("break", at(1800), None)
    assert [(e["at"], e["agent"], e["from"], e["to"]) for e in cm.js("events") if e["cause"] == "break-overrun"] == [
        (at(1800), "agent-1", "break", "break")]
    assert "lunch overrun since 09:30:00" in cm.ok("agent", "list").out
    cm.ok("agent", "available")
    assert cm.js("agent", "status")["break_overrun_since"] is None
    clean(cm)


def test_a_break_within_its_limit_or_without_one_does_not_overrun(cm):
    cm.ok("break-reason", "add", "lunch", "--limit", "30m")
    cm.ok("agent", "break", "--reason", "lunch")
    cm.ok("clock", "advance", "29m")
    cm.ok("agent", "available")
    cm.ok("agent", "break", "--reason", "training")
    cm.ok("clock", "advance", "3h")
    assert cm.js("agent", "status")["break_overrun_since"] is None
    cm.ok("break-reason", "add", "lunch", "--limit", "off")
    assert "limit" not in cm.ok("break-reason", "list").out
    clean(cm)


def test_break_limits_travel_with_snapshots_and_bundles(cm, tmp_path):
    cm.ok("break-reason", "add", "lunch", "--limit", "30m")
    cm.ok("snapshot", "save", "s")
    cm.ok("break-reason", "add", "lunch", "--limit", "off")
    cm.ok("snapshot", "restore", "s")
    assert "lunch (limit 30m)" in cm.ok("break-reason", "list").out
    bundle = tmp_path / "b.json"
    cm.ok("export", str(bundle))
    from conftest import Chatemu

    other = Chatemu(tmp_path / "other.db")
    other.ok("import", str(bundle))
    assert "lunch (limit 30m)" in other.ok("break-reason", "list").out
    clean(other)


@pytest.mark.parametrize("value", ["long", "-1m"])
def test_a_bad_break_limit_is_a_usage_error(cm, value):
    cm.fails(2, "break-reason", "add", "lunch", "--limit", value)


# -- the console and watch -----------------------------------------------------------------------


def test_console_and_watch_show_alerts_and_overruns(cm):
    """The screen's pieces (cli/screen.py) on what the engine answers: an ALERT column only
    when a chat alerts, a break past its limit in the agents' panel and the agent's own."""
    from chatemu.cli import screen

    cm.ok("config", "set", "reply-alert", "1m")
    cm.ok("break-reason", "add", "lunch", "--limit", "5m")
    cm.ok("agent", "login", agent="agent-2")
    cm.ok("agent", "break", "--reason", "lunch", agent="agent-2")
    cm.ok("chat", "new")
    chats = cm.js("chat", "list", "--all")
    assert "ALERT" not in screen.inbox_headers(chats, True, True)
    cm.ok("chat", "receive", "C1", "hello?")
    cm.ok("clock", "advance", "10m")
    chats = cm.js("chat", "list", "--all")
    assert "ALERT" in screen.inbox_headers(chats, True, True)
    assert screen.inbox_cells(chats[0])["ALERT"].plain == "awaiting reply"
    agents = cm.js("agent", "list")
    board = {"agents": agents, "now_ms": 0, "me": cm.js("agent", "status", agent="agent-2")}
    assert "break overrun" in screen.agents_text(board, None).plain
    assert "overrun since 09:05:00" in screen.agent_text({**board, "mine": {"all": True}}).plain


# -- explain, stats, timeline --------------------------------------------------------------------


def test_explain_says_why_a_chat_is_queued_again_and_why_the_agent_gets_nothing(cm):
    cm.ok("config", "set", "offer-timeout", "30s")
    cm.ok("config", "set", "patience", "10m")
    cm.ok("chat", "new")
    assert any("the offer times out at " + at(30) in line for line in cm.js("explain", "C1")["next"])
    cm.ok("clock", "advance", "30s")
    found = cm.js("explain", "C1")
    why = " ".join(found["why"])
    assert "queued again at " + at(30) in why and "offer to agent-1 was not activated within offer-timeout" in why
    assert "not presented to agent-1: it is not-responding" in why
    assert found["first"] is None
    assert any("the customer leaves at " + at(600) in line for line in found["next"])  # from arrival


def test_stats_count_missed_offers_overruns_abandoned_and_alerts(cm):
    cm.ok("config", "set", "offer-timeout", "30s")
    cm.ok("config", "set", "patience", "2m")
    cm.ok("config", "set", "reply-alert", "1m")
    cm.ok("break-reason", "add", "lunch", "--limit", "10m")
    cm.ok("chat", "new")
    cm.ok("chat", "receive", "C1", "hi")
    cm.ok("clock", "advance", "5m")  # offer out at 0:30, alert at 1:00, patience out at 2:00 (from 0:00)
    cm.ok("agent", "break", "--reason", "lunch")  # at 5:00; over at 15:00
    cm.ok("clock", "advance", "20m")  # to 25:00: 10m over
    agent = cm.js("stats", "agents")["agents"][0]
    assert (agent["missed_offers"], agent["overruns"], agent["overrun_seconds"]) == (1, 1, 600)
    assert agent["status_seconds"]["not-responding"] == 270  # 0:30 to 5:00
    queue = cm.js("stats", "queues")["queues"][0]
    assert (queue["abandoned"], queue["reply_alerts"]) == (1, 1)
    table = cm.ok("stats", "agents").out
    assert "MISSED OFFERS" in table and "1 (10m over)" in table and "NOT-RESPONDING" in table
    assert "REPLY ALERTS" in cm.ok("stats", "queues").out


def test_timeline_shows_not_responding_and_marks_alerts(cm):
    cm.ok("config", "set", "offer-timeout", "30s")
    cm.ok("config", "set", "reply-alert", "10s")
    cm.ok("chat", "new")
    cm.ok("chat", "receive", "C1", "hi")
    cm.ok("clock", "advance", "2m")
    from chatemu.store.engine import Engine

    lanes = {lane["id"]: lane for lane in Engine(str(cm.db)).timeline().value.as_json()["lanes"]}
    assert [i["state"] for i in lanes["agent-1"]["intervals"]] == ["available", "not-responding"]
    assert lanes["C1"]["alerts"] == [at(10)]
    text = cm.ok("timeline", env={"COLUMNS": "100"}).out
    assert "N not-responding" in text and "! a reply alert" in text


def test_activating_an_offer_that_timed_out_is_refused_and_journaled(cm):
    cm.ok("config", "set", "offer-timeout", "30s")
    cm.ok("agent", "login")
    cm.ok("agent", "login", agent="agent-2")
    cm.ok("agent", "break", agent="agent-2")
    cm.ok("chat", "new")
    cm.ok("clock", "advance", "30s")
    cm.fails(3, "chat", "activate", "C1", match="cannot activate C1: it is queued")
    assert cm.journal()[-1][3:5] == ("chat activate C1", 3)
    cm.fails(3, "chat", "transfer", "C1", "--agent", "agent-1", agent="agent-2", match="it is queued")
    cm.ok("chat", "take", "C1")  # a not-responding agent may still pick a chat deliberately
    assert cm.chat("C1")["agent"] == "agent-1"


def test_running_timers_travel_with_snapshots_and_bundles(cm, tmp_path):
    cm.ok("config", "set", "patience", "2m")
    cm.ok("config", "set", "reply-alert", "1m")
    cm.ok("agent", "break")
    cm.ok("chat", "new")
    cm.ok("chat", "receive", "C1", "hello?")
    cm.ok("snapshot", "save", "waiting")
    bundle = tmp_path / "b.json"
    cm.ok("export", "--pretty", str(bundle))
    cm.ok("clock", "advance", "5m")
    assert cm.chat("C1")["closed_reason"] == "abandoned"
    cm.ok("snapshot", "restore", "waiting")
    assert cm.chat("C1")["state"] == "queued"
    cm.ok("clock", "advance", "1m")
    assert cm.chat("C1")["alerting"] is True and cm.chat("C1")["state"] == "queued"
    from conftest import Chatemu

    other = Chatemu(tmp_path / "other.db")
    other.ok("import", str(bundle))
    other.ok("clock", "advance", "2m")
    c1 = other.chat("C1")
    assert (c1["closed_reason"], c1["closed_at"]) == ("abandoned", at(120))
    clean(other)


def test_timeline_marks_a_break_past_its_limit(cm):
    cm.ok("break-reason", "add", "lunch", "--limit", "30m")
    cm.ok("agent", "login")
    cm.ok("agent", "break", "--reason", "lunch")
    cm.ok("clock", "advance", "45m")
    from chatemu.store.engine import Engine

    lanes = {lane["id"]: lane for lane in Engine(str(cm.db)).timeline().value.as_json()["lanes"]}
    assert lanes["agent-1"]["overruns"] == [at(30 * 60)]
    assert "alerts" not in lanes["agent-1"]
    text = cm.ok("timeline", env={"COLUMNS": "100"}).out
    assert "! a break past its limit" in text and "a reply alert" not in text
    cm.ok("timeline", "-o", str(cm.db.parent / "t.svg"))
    assert f"agent-1: a break past its limit at {at(30 * 60)}" in (cm.db.parent / "t.svg").read_text()


def test_more_timers_due_than_one_read_takes_run_out_in_time_order(cm, tmp_path):
    """One late settle with more wrap-up timers due than one read takes (``clocks.BATCH``) and
    customers' patience interleaved: every timer runs out at its own instant, in time order,
    across reads."""
    from chatemu.store import clocks

    n, m = clocks.BATCH + 40, 60
    lines = ["clock set 2026-01-05T09:00:00Z"]
    for i in range(n):
        lines += [f"--agent a{i} agent login", f"--agent a{i} chat new --inbox --id W{i}",
                  f"--agent a{i} chat activate W{i}", f"chat end W{i}", "clock advance 1s"]
    # These wait (nothing is presented), each giving up between two wrap-ups' ends.
    lines += ["config set auto-present off"] + [f"chat new --id P{i} --patience {57 + 9 * i}s" for i in range(m)]
    script = tmp_path / "many.chatemu"
    script.write_text("".join(f"{line}\n" for line in lines))
    cm.ok("run", "--quiet", str(script))
    cm.ok("clock", "advance", "2h")
    chats = {c["id"]: c for c in cm.js("chat", "list", "--all")}
    assert {chats[f"W{i}"]["closed_reason"] for i in range(n)} == {"wrapup-expired"}
    assert {chats[f"P{i}"]["closed_reason"] for i in range(m)} == {"abandoned"}
    closing = [e for e in cm.js("events") if e["to"] == "closed"]
    assert len(closing) == n + m
    assert [e["at"] for e in closing] == sorted(e["at"] for e in closing)
    clean(cm)


def test_an_offer_timeout_of_zero_runs_out_in_the_command_that_presents(cm):
    """An offer that times out the instant it is made runs out within the command that made it:
    nothing is left due at the stored clock for a later command to find (or to miss)."""
    cm.ok("config", "set", "offer-timeout", "0s")
    cm.ok("agent", "logout")
    cm.ok("chat", "new", "--customer", "Ann")  # C1 queued: nobody is logged in
    cm.ok("agent", "login")  # C1 presented to agent-1, and its offer runs out at once
    clean(cm)
    assert cm.chat("C1")["state"] == "queued"
    assert cm.js("agent", "status", "agent-1")["status"] == "not-responding"
    assert moves(cm, "offer-timeout") == [(at(0), "C1", "agent-1", "new", "queued"),
                                          (at(0), None, "agent-1", "available", "not-responding")]
    done = cm.run("chat", "activate", "C1")
    assert done.code == 3 and "queued" in done.err
