"""The QA tools of issue 3, end to end through the installed ``chatemu``, one process per step:
``expect``, ``explain``, the ``events`` filters, snapshots, ``export``/``import`` and ``reset``.

States are built with ``chatemu run -`` (one process for the set-up), then the command under
test runs as its own process.  ``cm.fails`` checks a refusal completely: its exit code, one
``error:`` line on stderr, nothing on stdout, and the database byte-for-byte as before.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

import pytest
from conftest import Chatemu


def setup(cm: Chatemu, script: str) -> None:
    """Build a state: the lines of a scenario, run in one process (no `clock set`: cm did it)."""
    done = cm.run("run", "--quiet", "-", stdin=script)
    assert done.code == 0, done


def ms(iso: str) -> int:
    return round(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


# == expect ================================================================================

# At 09:00:20: C1 (Ann) parked-wrapup with 40s left; C2 (Cat) new; C3 (Bob) queued; C4 (Dan)
# active-wrapup with 60s left. agent-1 in wrap-up with 3 open chats; agent-2 on a break.
EXPECT_STATE = """
chat new --inbox --customer Ann
chat new --inbox --customer Cat
chat activate C1
chat end C1
clock advance 20s
chat park C1
--agent agent-2 agent login
--agent agent-2 agent break
config set auto-present off
chat new --customer Bob
chat new --inbox --customer Dan
chat activate C4
chat wrapup C4
"""


@pytest.fixture
def qa(cm) -> Chatemu:
    setup(cm, EXPECT_STATE)
    return cm


def test_expect_exits_0_and_prints_nothing_when_every_field_holds(qa):
    done = qa.run(
        "expect", "chat", "C1", "state=parked-wrapup", "wrapup_remaining=40", "agent=agent-1", "customer=Ann",
        "parked_by_call=false", "closed_reason=null", "extensions_left=3", "priority=0", "queue=default",
        "created_at=2026-01-05T09:00:00Z",
    )
    assert (done.code, done.out, done.err) == (0, "", ""), done


def test_expect_exits_1_with_one_line_per_differing_field(qa):
    done = qa.run("expect", "chat", "C4", "state=parked-wrapup", "customer=Dan", "wrapup_remaining=40s", "agent=null")
    assert done.code == 1, done
    assert done.out == "", done
    assert done.err.splitlines() == [
        "C4.state: expected parked-wrapup, got active-wrapup",
        "C4.wrapup_remaining: expected 40s, got 1m",
        "C4.agent: expected null, got agent-1",
    ], done


def test_expect_durations_compare_to_the_millisecond(qa):
    for holds in (["wrapup_remaining=40s"], ["wrapup_remaining=40"], ["wrapup_remaining=40000ms"],
                  ["wrapup_remaining=0m40s"]):
        assert qa.run("expect", "chat", "C1", *holds).code == 0, holds
    assert qa.run("expect", "chat", "C4", "wrapup_remaining=1m").code == 0
    qa.ok("clock", "advance", "0.001s")  # C4 runs: 59.999s left
    assert qa.run("expect", "chat", "C4", "wrapup_remaining=59.999s").code == 0
    done = qa.run("expect", "chat", "C4", "wrapup_remaining=1m")
    assert (done.code, done.err) == (1, "C4.wrapup_remaining: expected 1m, got 59.999s\n"), done
    assert qa.run("expect", "chat", "C4", "wrapup_remaining=59.998s").code == 1
    assert qa.run("expect", "chat", "C4", "wrapup_seconds=1ms", "active_seconds=0").code == 0


def test_expect_null_true_false_numbers_and_times(qa):
    qa.ok("chat", "call-start")  # parks C4 (active-wrapup) by the call
    assert qa.run("expect", "chat", "C4", "parked_by_call=true", "state=parked-wrapup").code == 0
    assert qa.run("expect", "chat", "C3", "agent=null", "wrapup_remaining=null", "closed_at=null").code == 0
    assert qa.run("expect", "chat", "C2", "parked_by_call=false", "extensions_left=null").code == 0
    # times compare as instants, in any ISO form
    for same in ("2026-01-05T09:00:20Z", "2026-01-05T09:00:20.000Z", "2026-01-05T10:00:20+01:00",
                 "2026-01-05T09:00:20"):
        assert qa.run("expect", "chat", "C3", f"created_at={same}").code == 0, same
    done = qa.run("expect", "chat", "C4", "parked_by_call=false", "priority=1")
    assert done.err.splitlines() == ["C4.parked_by_call: expected false, got true", "C4.priority: expected 1, got 0"]


def test_expect_agent_with_and_without_an_id(qa):
    assert qa.run("expect", "agent", "status=wrap-up", "active_chat=C4", "on_call=false", "open_chats=3").code == 0
    qa.ok("chat", "call-start")
    assert qa.run("expect", "agent", "status=on-call", "on_call=true", "active_chat=null").code == 0
    assert qa.run("expect", "agent", "agent-1", "id=agent-1", "status=on-call").code == 0
    assert qa.run("expect", "agent", "agent-2", "presence=break", "status=break", "open_chats=0").code == 0
    done = qa.run("expect", "agent", "agent-2", "status=available")
    assert (done.code, done.err) == (1, "agent-2.status: expected available, got break\n"), done
    # --agent picks the agent `expect agent` checks by default
    assert qa.run("expect", "agent", "presence=break", agent="agent-2").code == 0


def test_expect_clock(qa):
    assert qa.run("expect", "clock", "now=2026-01-05T09:00:20Z", "mode=virtual").code == 0
    done = qa.run("expect", "clock", "now=2026-01-05T09:00:00Z")
    assert (done.code, done.err) == (1, "clock.now: expected 2026-01-05T09:00:00Z, got 2026-01-05T09:00:20.000Z\n")


BAD_CHECKS = [
    (["chat", "C1", "colour=red"], 2, "colour"),           # unknown field
    (["agent", "mood=happy"], 2, "mood"),
    (["clock", "timezone=UTC"], 2, "timezone"),
    (["queue", "default", "size=1"], 2, "queue"),          # unknown kind
    (["chat", "C1", "state"], 2, "state"),                 # not FIELD=VALUE
    (["chat", "C1"], 2, "FIELD=VALUE"),                    # nothing to check
    (["chat", "C1", "wrapup_remaining=soon"], 2, "soon"),  # not a duration
    (["chat", "C1", "parked_by_call=maybe"], 2, "maybe"),  # not true/false
    (["chat", "C9", "state=new"], 4, "C9"),                # unknown chat
]


def test_expect_bad_checks_are_usage_errors_and_an_unknown_chat_exit_4(qa):
    for args, code, match in BAD_CHECKS:
        qa.fails(code, "expect", *args, match=match)


def test_expect_changes_nothing_and_appends_no_event(qa):
    before, events = qa.dump(), qa.js("events")
    assert qa.run("expect", "chat", "C1", "state=parked-wrapup").code == 0
    assert qa.run("expect", "chat", "C1", "state=closed", "wrapup_remaining=1s").code == 1
    assert qa.run("expect", "agent", "agent-9", "presence=available").code == 4  # unknown: creates no agent
    assert qa.run("expect", "clock", "now=2026-01-05T09:00:20Z").code == 0
    assert qa.run("expect", "chat", "C1", "--json", "state=new").code == 1
    assert qa.dump() == before
    assert qa.js("events") == events
    assert [a["id"] for a in qa.js("agent", "list")] == ["agent-1", "agent-2"]


def test_expect_json(qa):
    done = qa.run("expect", "chat", "C1", "state=parked", "wrapup_remaining=40s", "--json")
    assert done.code == 1, done
    assert done.json == {
        "ok": False,
        "subject": "C1",
        "checks": [
            {"field": "state", "expected": "parked", "got": "parked-wrapup", "ok": False},
            {"field": "wrapup_remaining", "expected": "40s", "got": 40, "ok": True},
        ],
    }
    assert qa.js("expect", "clock", "mode=virtual") == {
        "ok": True, "subject": "clock", "checks": [{"field": "mode", "expected": "virtual", "got": "virtual", "ok": True}],
    }


# == explain ===============================================================================

# C4 queued behind C5 (priority 1); agent-1 on a break, agent-2 on a call, agent-3 has C1 active,
# agent-4 at capacity 2/2 (C2 and C3 parked).
QUEUED_STATE = """
config set max-chats 2
agent login
--agent agent-2 agent login
--agent agent-3 agent login
--agent agent-4 agent login
agent break
--agent agent-2 chat call-start
--agent agent-3 chat new --inbox
--agent agent-3 chat activate C1
--agent agent-4 chat new --inbox
--agent agent-4 chat new --inbox
--agent agent-4 chat activate C2
--agent agent-4 chat park C2
--agent agent-4 chat activate C3
--agent agent-4 chat park C3
chat new --customer Zed
chat new --customer Amy --priority 1
"""


def test_explain_a_queued_chat_gives_each_agents_reason(cm):
    setup(cm, QUEUED_STATE)
    assert cm.chat("C4")["state"] == "queued"
    explained = cm.js("explain", "C4")
    assert (explained["chat"], explained["state"], explained["agent"]) == ("C4", "queued", None)
    reasons = {a["agent"]: a["reasons"] for a in explained["agents"]}
    assert reasons == {
        "agent-1": ["it is on a break"],
        "agent-2": ["it is on a call"],
        "agent-3": ["it has C1 active"],
        "agent-4": ["it is at capacity 2/2"],
    }
    assert not any(a["presentable"] for a in explained["agents"])
    assert any("1 queued chat(s) come first" in line for line in explained["why"]), explained
    assert any("chat take C4" in line for line in explained["next"]), explained

    text = cm.ok("explain", "C4").out
    assert text.splitlines()[0] == "C4: queued"
    for line in ("not presented to agent-1: it is on a break", "not presented to agent-2: it is on a call",
                 "not presented to agent-3: it has C1 active", "not presented to agent-4: it is at capacity 2/2"):
        assert line in text, text


def test_explain_a_queued_chat_with_auto_present_off(cm):
    setup(cm, "config set auto-present off\nagent available\n--agent agent-2 agent login\n--agent agent-2 agent break\nchat new\n")
    explained = cm.js("explain", "C1")
    assert {a["agent"]: a["reasons"] for a in explained["agents"]} == {
        "agent-1": ["auto-present is off"],
        "agent-2": ["auto-present is off", "it is on a break"],
    }
    assert "not presented to agent-1: auto-present is off" in cm.ok("explain", "C1").out


def test_explain_says_who_would_get_a_queued_chat_first(cm):
    # agent-2 idle since 09:00:00, agent-1 since 09:01:00; only auto-present keeps C1 queued.
    setup(cm, "config set auto-present off\n--agent agent-2 agent login\n"
              "clock advance 1m\nagent login\nagent break\nagent available\nchat new\n")
    explained = cm.js("explain", "C1")
    assert explained["first"] == "agent-2", explained
    assert any("agent-2" in line for line in explained["next"]), explained


def test_explain_names_first_in_line_only_an_agent_who_would_get_the_chat(cm):
    # agent-1 is idle longest but on a break; agent-2 is busy with C1 (active), which only delays it.
    setup(cm, "agent login\n--agent agent-2 agent login\nagent break\n--agent agent-2 chat new --inbox\n"
              "--agent agent-2 chat activate C1\nchat new\n")
    explained = cm.js("explain", "C2")
    assert explained["first"] == "agent-2", explained
    assert "agent-2 is first in line (idle longest): it gets the next queued chat as soon as it can take one" \
        in explained["next"], explained
    assert not any("agent-1 is first" in line for line in explained["next"]), explained


def test_explain_says_when_no_agent_can_take_a_queued_chat_and_why_agent_by_agent(cm):
    setup(cm, "agent login\n--agent agent-2 agent login\n--agent agent-3 agent login\nqueue add sales\n"
              "queue add vip\n--agent agent-3 agent queues set vip\nagent break --reason lunch\n"
              "--agent agent-2 agent logout\nchat new --queue sales\n")
    explained = cm.js("explain", "C1")
    assert explained["first"] is None, explained
    assert ("no agent can take it now: agent-1: it is on a break; agent-2: it is logged out;"
            " agent-3: it is not assigned to queue sales") in explained["next"], explained
    assert not any("first in line" in line for line in explained["next"]), explained
    assert "no agent can take it now: agent-1: it is on a break" in cm.ok("explain", "C1").out


def test_explain_counts_an_agent_at_capacity_whose_wrapup_closes_by_itself(cm):
    setup(cm, "agent login\nconfig set max-chats 1\nchat new --inbox\nchat activate C1\nchat new\n")
    assert cm.js("explain", "C2")["first"] is None  # at capacity 1/1 with C1 active: no room coming
    cm.ok("chat", "end", "C1")  # wrap-up, the timer running: C1 closes by itself
    explained = cm.js("explain", "C2")
    assert explained["first"] == "agent-1", explained


def test_explain_a_chat_in_wrapup_says_when_it_closes_and_the_extensions_left(cm):
    setup(cm, "chat new --inbox\nchat activate C1\nchat end C1\nclock advance 20s\nchat wrapup C1 --extend\n")
    explained = cm.js("explain", "C1")
    assert explained["state"] == "active-wrapup"
    text = " / ".join(explained["next"])
    assert "2026-01-05T09:02:00.000Z" in text and "1m40s" in text, explained  # 40s + 60s from 09:00:20
    assert "2 extension(s)" in text, explained
    out = cm.ok("explain", "C1").out
    assert "closes at 2026-01-05T09:02:00.000Z" in out and "2 extension(s) of 1m left" in out, out


def test_explain_a_parked_chat_says_what_activating_it_would_do(cm):
    setup(cm, "chat new --inbox\nchat new --inbox\nchat new --inbox\n"
              "chat activate C1\nchat end C1\nclock advance 15s\n"
              "chat activate C2\nchat park C2\nchat activate C3\n")
    # C1 parked-wrapup 45s left, C2 parked, C3 active, at 09:00:15
    c2 = cm.js("explain", "C2")
    assert c2["state"] == "parked"
    assert any("chat activate C2" in line and "parking C3 (active)" in line for line in c2["next"]), c2
    c1 = cm.js("explain", "C1")
    assert c1["state"] == "parked-wrapup"
    assert any("45s left" in line for line in c1["why"]), c1
    assert any("chat activate C1" in line and "2026-01-05T09:01:00.000Z" in line and "parking C3 (active)" in line
               for line in c1["next"]), c1
    # parked by a call, then ended by the customer: it resumes by itself when the call ends
    cm.ok("chat", "call-start")  # parks C3 by the call
    cm.ok("chat", "end", "C3")  # the customer leaves during the call
    assert any("resumes by itself" in line for line in cm.js("explain", "C3")["next"])
    # a parked chat cannot be activated during the call, and explain says so
    assert any("refused while agent-1 is on a call" in line for line in cm.js("explain", "C2")["next"])


def test_explain_a_paused_wrapup_during_a_call_says_activating_is_refused(cm):
    setup(cm, "chat new --inbox\nchat activate C1\nchat end C1\nchat park C1\nchat call-start\n")
    cm.fails(3, "chat", "activate", "C1", match="on a call")
    explained = cm.js("explain", "C1")
    assert not any("`chat activate C1` resumes" in line for line in explained["next"]), explained
    assert any("on a call" in line for line in explained["next"]), explained


def test_expect_of_an_agent_that_never_existed_is_exit_4_not_a_silent_pass(cm):
    cm.ok("agent", "available")
    cm.fails(4, "expect", "agent", "agent-9", "presence=available", match="unknown agent agent-9")
    cm.fails(4, "agent", "status", "agent-9", match="agent-9")
    assert cm.run("expect", "agent", "agent-1", "presence=available").code == 0


def test_explain_reads_only_and_an_unknown_chat_is_exit_4(cm):
    setup(cm, "agent break\nchat new\n")
    before = cm.dump()
    cm.ok("explain", "C1")
    cm.ok("explain", "C1", "--json")
    assert cm.dump() == before
    cm.fails(4, "explain", "C9", match="C9")


# == events ================================================================================

EVENTS_STATE = """
chat new --inbox --customer Ann
--agent agent-2 agent login
--agent agent-2 chat new --inbox --customer Bob
clock advance 1m
chat activate C1
--agent agent-2 agent break
chat end C1
"""


def test_events_filters(cm):
    setup(cm, EVENTS_STATE)
    every = cm.js("events")
    assert [e["seq"] for e in every] == list(range(1, len(every) + 1))
    assert cm.js("events", "--chat", "C1") == [e for e in every if e["chat"] == "C1"]
    assert [(e["from"], e["to"]) for e in cm.js("events", "--chat", "C1")] == [
        (None, "new"), ("new", "active"), ("active", "active-wrapup"),
    ]
    agent2 = cm.js("events", "--agent", "agent-2")
    assert agent2 == [e for e in every if e["agent"] == "agent-2"]
    assert [(e["chat"], e["to"], e["cause"]) for e in agent2] == [
        (None, "available", "login"), ("C2", "new", "customer"), (None, "break", "break")]
    assert cm.js("events", "--since", "3") == [e for e in every if e["seq"] > 3]
    assert cm.js("events", "--since", str(every[-1]["seq"])) == []
    assert cm.js("events", "--chat", "C1", "--since", "2") == [e for e in every if e["chat"] == "C1" and e["seq"] > 2]
    assert cm.js("events", "--chat", "C2", "--agent", "agent-1") == []


def test_events_jsonl_is_one_object_per_line(cm):
    setup(cm, EVENTS_STATE)
    lines = cm.ok("events", "--jsonl", "--since", "1").out.splitlines()
    assert [json.loads(line) for line in lines] == cm.js("events", "--since", "1")
    assert len(lines) == len(cm.js("events")) - 1


def test_events_bad_options(cm):
    cm.ok("chat", "new")
    for args, code in [
        (["--json", "--follow"], 2),  # --json is one array: it cannot follow
        (["--json", "--jsonl"], 2),
        (["--since", "-1"], 2),
        (["--since", "x"], 2),
        (["--chat", "C9"], 4),
    ]:
        cm.fails(code, "events", *args)


# == snapshots =============================================================================

SNAPSHOT_STATE = """
config set wrapup 90s
chat new --inbox --customer Ann
chat activate C1
chat end C1
clock advance 15s
agent break
chat new --customer Bob
"""


def state_of(cm: Chatemu) -> dict:
    """The whole state (clock, config, agents, chats with their timers, events), snapshots aside:
    the ``state`` part of an export, read in one process."""
    return json.loads(cm.ok("export", "-").out)["state"]


def test_snapshot_save_list_restore_delete(cm):
    setup(cm, SNAPSHOT_STATE)
    saved = state_of(cm)
    assert cm.js("snapshot", "save", "base") == {"name": "base", "created_at": "2026-01-05T09:00:15.000Z", "replaced": False}
    setup(cm, "clock advance 10m\nconfig set max-chats 7\nagent available\n--agent agent-2 agent login\n--agent agent-2 chat new --inbox\n"
              "chat new\n")
    assert state_of(cm) != saved
    assert cm.chat("C1")["state"] == "closed"

    restored = cm.js("snapshot", "restore", "base")
    assert restored["now"] == "2026-01-05T09:00:15.000Z"
    assert state_of(cm) == saved  # clock, config, agents, chats, timers and events all back
    assert cm.js("clock")["now"] == "2026-01-05T09:00:15.000Z"
    assert cm.js("config", "show")["max-chats"] == 3
    assert [e["seq"] for e in cm.js("events")] == list(range(1, len(saved["events"]) + 1))  # the later events are gone
    # the timers too: C1 runs out 90s after 09:00:00, as it would have
    cm.ok("clock", "advance", "2m")
    assert (cm.chat("C1")["state"], cm.chat("C1")["closed_at"]) == ("closed", "2026-01-05T09:01:30.000Z")

    cm.ok("snapshot", "save", "later")
    assert cm.js("snapshot", "list") == [
        {"name": "base", "created_at": "2026-01-05T09:00:15.000Z", "chats": 2},
        {"name": "later", "created_at": "2026-01-05T09:02:15.000Z", "chats": 2},
    ]
    cm.ok("snapshot", "restore", "base")  # restoring one snapshot keeps the others
    assert [s["name"] for s in cm.js("snapshot", "list")] == ["base", "later"]
    assert cm.js("snapshot", "delete", "later")["deleted"] is True
    assert [s["name"] for s in cm.js("snapshot", "list")] == ["base"]
    cm.fails(4, "snapshot", "restore", "later", match="unknown snapshot later")


def test_snapshot_save_under_an_existing_name_replaces_it(cm):
    setup(cm, "chat new --inbox\nsnapshot save s\nclock advance 1m\nchat activate C1\n")
    newer = state_of(cm)
    assert cm.js("snapshot", "save", "s")["replaced"] is True
    assert [s["name"] for s in cm.js("snapshot", "list")] == ["s"]
    setup(cm, "chat park C1\nclock advance 1h\n")
    cm.ok("snapshot", "restore", "s")
    assert state_of(cm) == newer


def test_snapshot_unknown_or_bad_names(cm):
    setup(cm, "chat new\nsnapshot save keep\n")
    cm.fails(4, "snapshot", "restore", "nope", match="unknown snapshot nope")
    cm.fails(4, "snapshot", "delete", "nope", match="unknown snapshot nope")
    cm.fails(2, "snapshot", "restore", "has space", match="bad snapshot name")
    cm.fails(2, "snapshot", "save", "has space")
    cm.fails(2, "snapshot", "save", "")


# == export and import =====================================================================

BUG_STATE = """
config set wrapup 2m --queue sales
chat new --inbox --queue sales --customer "Ann Lee"
chat new --inbox --customer Bob
chat activate C1
chat end C1
clock advance 30s
chat activate C2
snapshot save halfway
--agent agent-2 agent login
--agent agent-2 agent break
chat new --customer Cat --priority 2
chat call-start
"""


@pytest.fixture
def reporter(cm) -> Chatemu:
    """The bug reporter's database: timers running and paused, a call, a snapshot, two agents."""
    setup(cm, BUG_STATE)
    return cm


def test_export_import_export_is_byte_identical(reporter, tmp_path: Path):
    bundle = tmp_path / "bug.json"
    reporter.ok("export", str(bundle))
    repro = Chatemu(tmp_path / "repro.db")  # a fresh database: no file yet
    imported = repro.js("import", str(bundle))
    assert imported["chats"] == 3 and imported["snapshots"] == 1 and imported["now"] == "2026-01-05T09:00:30.000Z"
    again = tmp_path / "again.json"
    repro.ok("export", str(again))
    assert again.read_bytes() == bundle.read_bytes()
    assert repro.js("chat", "list", "--all") == reporter.js("chat", "list", "--all")
    assert repro.js("events") == reporter.js("events")
    assert repro.js("clock") == reporter.js("clock") == {"now": "2026-01-05T09:00:30.000Z", "mode": "virtual"}
    # the paused and running timers go on the same way in both
    for db in (reporter, repro):
        setup(db, "chat call-end\nchat activate C1\nclock advance 3m\n")
    assert repro.js("chat", "list", "--all") == reporter.js("chat", "list", "--all")
    assert repro.chat("C1")["closed_at"] == "2026-01-05T09:02:00.000Z"  # 90s left at 09:00:30


def test_bundle_is_self_describing(reporter):
    bundle = json.loads(reporter.ok("export", "-").out)
    assert bundle["format"] == "chatemu-bundle"
    assert isinstance(bundle["format_version"], int) and isinstance(bundle["schema_version"], int)
    assert {"state", "snapshots"} <= set(bundle)


def test_export_to_stdout_and_import_from_stdin(reporter, tmp_path: Path):
    reporter.ok("export", str(tmp_path / "file.json"))
    text = reporter.ok("export", "-").out
    assert text == (tmp_path / "file.json").read_text(encoding="utf-8")
    repro = Chatemu(tmp_path / "repro.db")
    repro.ok("import", "-", stdin=text)
    assert repro.ok("export", "-").out == text


def test_import_into_a_database_in_use_is_refused_unless_replace(reporter, tmp_path: Path):
    bundle = tmp_path / "bug.json"
    reporter.ok("export", str(bundle))
    other = Chatemu(tmp_path / "other.db")
    other.ok("chat", "new", "--customer", "Zed")
    other.fails(3, "import", str(bundle), match="--replace")
    other.ok("import", "--replace", str(bundle))
    assert other.js("chat", "list", "--all") == reporter.js("chat", "list", "--all")
    assert other.ok("export", "-").out == bundle.read_text(encoding="utf-8")


def bundles(good: str) -> dict[str, tuple[str, int]]:
    """Broken versions of a good bundle, with the exit code each must be refused with."""
    doc = json.loads(good)
    newer_format = dict(doc, format_version=doc["format_version"] + 1)
    newer_schema = dict(doc, schema_version=doc["schema_version"] + 1)
    bad_state = json.loads(good)
    bad_state["state"]["chats"][0]["state"] = "lost"
    bad_clock_row, bad_clock_mode = json.loads(good), json.loads(good)
    bad_clock_row["state"]["meta"][0]["id"] = 2
    bad_clock_mode["state"]["meta"][0]["mode"] = "warp"
    return {
        "bad-clock-row": (json.dumps(bad_clock_row), 2),
        "bad-clock-mode": (json.dumps(bad_clock_mode), 2),
        "malformed": ('{"format": "chatemu-bundle", ', 2),
        "truncated": (good[: len(good) // 2], 2),
        "empty": ("", 2),
        "not-a-bundle-list": ("[1, 2, 3]\n", 2),
        "not-a-bundle-object": ('{"hello": "world"}\n', 2),
        "other-format": (json.dumps(dict(doc, format="something-else")), 2),
        "no-state": (json.dumps({k: v for k, v in doc.items() if k != "state"}), 2),
        "inconsistent": (json.dumps(bad_state), 2),
        "newer-format": (json.dumps(newer_format), 5),
        "newer-schema": (json.dumps(newer_schema), 5),
    }


def test_a_broken_or_newer_bundle_is_refused_and_nothing_changes(reporter, tmp_path: Path):
    empty = Chatemu(tmp_path / "empty.db")
    empty.ok("clock", "set", "2026-01-05T09:00:00Z")
    for kind, (text, code) in bundles(reporter.ok("export", "-").out).items():
        path = tmp_path / f"{kind}.json"
        path.write_text(text, encoding="utf-8")
        # into a database in use, replacing its state: refused, the state kept byte for byte
        reporter.fails(code, "import", "--replace", str(path))
        # into an empty database: refused, still empty
        empty.fails(code, "import", str(path))
    empty.fails(2, "import", "-", stdin="{truncated")
    empty.fails(5, "import", "-", stdin=bundles(reporter.ok("export", "-").out)["newer-format"][0])


def test_import_of_a_missing_file_is_a_usage_error(cm, tmp_path: Path):
    cm.fails(2, "import", str(tmp_path / "nothing.json"), match="nothing.json")


# == reset =================================================================================


def test_reset_yes_empties_the_database_and_starts_a_new_virtual_clock(reporter, tmp_path: Path):
    defaults = Chatemu(tmp_path / "defaults.db").js("config", "show")
    before_ms = time.time() * 1000
    done = reporter.js("reset", "--yes")
    after_ms = time.time() * 1000
    assert done["reset"] is True and done["mode"] == "virtual"
    assert before_ms - 1000 <= ms(done["now"]) <= after_ms + 1000, done  # the wall clock's time
    assert reporter.js("chat", "list", "--all") == []
    assert reporter.js("events") == []
    assert reporter.js("agent", "list") == []
    assert reporter.js("snapshot", "list") == []
    assert reporter.js("config", "show") == defaults
    clock = reporter.js("clock")
    assert clock["mode"] == "virtual"
    time.sleep(0.05)
    assert reporter.js("clock") == clock  # virtual: frozen
    # a new story can start at any instant, and ids start at C1 again
    reporter.ok("clock", "set", "2026-01-05T09:00:00Z")
    assert reporter.js("chat", "new")["id"] == "C1"


def test_reset_keep_snapshots(reporter):
    reporter.ok("reset", "-y", "--keep-snapshots")
    assert [s["name"] for s in reporter.js("snapshot", "list")] == ["halfway"]
    assert reporter.js("chat", "list", "--all") == []
    reporter.ok("snapshot", "restore", "halfway")
    assert [c["id"] for c in reporter.js("chat", "list", "--all")] == ["C1", "C2"]


def test_reset_without_yes_and_without_a_terminal_is_refused(reporter):
    reporter.fails(2, "reset", stdin="y\n", match="--yes")
    reporter.fails(2, "reset", stdin="")
