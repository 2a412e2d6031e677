"""Scenario habits: fresh databases, refusal lines, list checks, events under each step."""

from __future__ import annotations

import hashlib
import json
import sqlite3

from conftest import START

STORY = f"""clock set {START}
chat new --customer "Ann Lee"
expect chat C1 state=new agent=agent-1
chat activate C1
"""


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def scenario(tmp_path, text: str, name: str = "s.chatemu"):
    path = tmp_path / name
    path.write_text(text)
    return path


# -- 1. run --fresh / --keep ------------------------------------------------------------


def busy(cm):
    """The named database, with history: its clock is past START and C1 is already closed."""
    cm.ok("chat", "new")
    cm.ok("chat", "activate", "C1")
    cm.ok("clock", "advance", "1h")
    cm.ok("chat", "end", "C1")
    cm.ok("chat", "wrapup", "C1", "--finish")
    return digest(cm.db)


def test_fresh_runs_on_a_private_database_and_leaves_the_named_one_alone(cm, tmp_path):
    before = busy(cm)
    dump = cm.dump()
    temp = tmp_path / "tmp"
    temp.mkdir()
    file = scenario(tmp_path, STORY + "expect chat C1 state=active\n")
    done = cm.run("run", "--fresh", str(file), env={"TMPDIR": str(temp)})
    assert done.code == 0, done
    assert "C1" in done.out
    assert digest(cm.db) == before and cm.dump() == dump
    assert list(temp.iterdir()) == []  # the temporary database is gone
    # Without --fresh the same file is refused on the database with history, and says how to start afresh.
    done = cm.run("run", str(file))
    assert done.code == 3, done
    assert "run --fresh" in done.err and "reset" in done.err and "CHATEMU_DB" in done.err
    assert len(done.err.splitlines()) == 1


def test_fresh_does_not_touch_the_default_database_either(cm, tmp_path):
    env = {"CHATEMU_DB": "", "XDG_CONFIG_HOME": str(tmp_path / "cfg"), "HOME": str(tmp_path / "home")}
    file = scenario(tmp_path, STORY)
    done = cm.run("run", "--fresh", str(file), env=env)
    assert done.code == 0, done
    assert not (tmp_path / "cfg").exists() and not (tmp_path / "home").exists()


def test_keep_leaves_the_database_at_path(cm, tmp_path):
    before = busy(cm)
    kept = tmp_path / "kept.db"
    done = cm.run("run", "--keep", str(kept), scenario(tmp_path, STORY).as_posix())
    assert done.code == 0, done
    assert digest(cm.db) == before
    conn = sqlite3.connect(kept)
    try:
        assert conn.execute("SELECT id, state FROM chats").fetchall() == [("C1", "active")]
    finally:
        conn.close()
    # the kept database is an ordinary one
    assert cm.run("chat", "show", "C1", "--json", env={"CHATEMU_DB": str(kept)}).json["state"] == "active"


def test_keep_refuses_an_existing_path(cm, tmp_path):
    existing = tmp_path / "there.db"
    existing.write_bytes(b"precious")
    before = digest(cm.db)
    done = cm.run("run", "--fresh", "--keep", str(existing), scenario(tmp_path, STORY).as_posix())
    assert done.code == 2, done
    assert existing.read_bytes() == b"precious" and digest(cm.db) == before
    assert done.err.startswith("error: ") and len(done.err.splitlines()) == 1


def test_clock_set_refusal_says_how_to_start_afresh(cm):
    busy(cm)
    done = cm.fails(3, "clock", "set", START, match="never moves backwards")
    assert "run --fresh" in done.err and "chatemu reset" in done.err and "CHATEMU_DB" in done.err


# -- 2. refusal lines -------------------------------------------------------------------

ON_A_CALL = f"""clock set {START}
chat new
chat call-start
"""


def on_a_call(cm, tmp_path):
    done = cm.run("run", scenario(tmp_path, ON_A_CALL, "setup.chatemu").as_posix())
    assert done.code == 0, done


def test_refusal_lines_hold_and_change_nothing(cm, tmp_path):
    on_a_call(cm, tmp_path)
    before = cm.dump()
    text = """! chat activate C1
!3 chat activate C1
!4 chat show C9
! chat show C9
!~"on a call" chat activate C1
!3~"on a call" chat activate C1
!3~'is new' chatemu chat activate C1   # comments and a leading chatemu as on any line
!2 chat activate
"""
    done = cm.run("run", scenario(tmp_path, text).as_posix())
    assert done.code == 0, done
    assert cm.dump() == before  # each refused line rolled back: nothing changed
    lines = done.out.splitlines()
    assert len(lines) == 8
    assert lines[0] == (f"{tmp_path / 's.chatemu'}:1: ! chat activate C1  -> refused as expected (exit 3): "
                        "cannot activate C1: it is new and agent-1 is on a call")
    assert "!3~'on a call' chat activate C1  -> refused as expected (exit 3)" in lines[5]
    assert "(exit 4): unknown chat C9" in lines[2]
    records = [json.loads(line) for line in cm.run("run", "--json", scenario(tmp_path, text).as_posix()).out.splitlines()]
    assert [r["exit"] for r in records] == [0] * 8
    assert records[0]["refused"] == {"exit": 3, "error": "cannot activate C1: it is new and agent-1 is on a call"}
    assert records[2]["refused"]["exit"] == 4
    assert cm.dump() == before


def test_refusal_lines_fail_when_the_command_succeeds_or_fails_otherwise(cm, tmp_path):
    on_a_call(cm, tmp_path)
    cases = [
        ("!4 chat activate C1", "expected exit 4, got exit 3: cannot activate C1"),
        ("!3 chat show C9", "expected exit 3, got exit 4: unknown chat C9"),
        ("! chat activate", "expected a refusal (exit 3 or 4), got exit 2: Missing argument"),
        ("!~zebra chat activate C1", "expected a refusal (exit 3 or 4) saying 'zebra', but it said: cannot activate C1"),
        ("! chat show C1", "expected a refusal (exit 3 or 4), but the command succeeded"),
        ("!x chat show C1", "bad refusal mark '!x'"),
        ("!", "a refusal mark needs a command after it"),
        ("! run other.chatemu", "a scenario cannot run another scenario"),
    ]
    for line, message in cases:
        file = scenario(tmp_path, f"# a comment\n{line}\n")
        done = cm.run("run", str(file))
        assert done.out == "" and done.code == (1 if "expected" in message else 2), done
        assert done.err.startswith(f"error: {file}:2: "), done
        assert message in done.err, done
        assert len(done.err.splitlines()) == 1


def test_a_refusal_line_that_succeeds_stops_the_run(cm, tmp_path):
    on_a_call(cm, tmp_path)
    cm.ok("chat", "call-end")
    done = cm.run("run", scenario(tmp_path, "! chat activate C1\nchat park C1\n").as_posix())
    assert done.code == 1 and ":1: ! chat activate C1: expected a refusal" in done.err
    assert cm.chat("C1")["state"] == "active"  # it ran (and did what it does); the next line did not


# -- 3. list checks -----------------------------------------------------------------------

LISTS = f"""clock set {START}
expect inbox
chat new --customer Ann
chat new --queue sales
chat new --queue sales --priority 2
expect inbox C1:new
expect queue sales C3 C2
expect queue sales C3:queued C2
mark start
chat activate C1
expect events-since start 2
chat park C1
expect inbox C1:parked C3
expect queue sales C2
expect queue default
expect events-since start 5
--agent agent-2 expect events-since start 5
!4 --agent agent-2 expect inbox
expect events-since 0 10
"""


def test_list_checks_in_a_scenario(cm, tmp_path):
    done = cm.run("run", "--fresh", scenario(tmp_path, LISTS).as_posix())
    assert done.code == 0, done
    assert ":9: mark start  -> mark start at seq 5" in done.out
    assert ":13: expect inbox C1:parked C3  -> holds" in done.out


def test_list_checks_fail_with_what_is_there(cm, tmp_path):
    kept = tmp_path / "kept.db"
    assert cm.run("run", "--keep", str(kept), scenario(tmp_path, LISTS).as_posix()).code == 0
    cases = [
        ("expect inbox C3 C1", "inbox of agent-1: expected C3 C1, got C1:parked C3:new"),
        ("expect inbox C1:active C3", "got C1:parked C3:new"),
        ("expect inbox C1", "got C1:parked C3:new"),
        ("expect queue sales", "queue sales: expected (none), got C2:queued"),
        ("expect events-since 5 4", "events since 5: expected 4, got 5"),
        ("mark here\nexpect events-since here 1", "events since here: expected 1, got 0"),
    ]
    env = {"CHATEMU_DB": str(kept)}
    for line, message in cases:
        file = scenario(tmp_path, line + "\n")
        done = cm.run("run", str(file), env=env)
        assert done.code == 1 and message in done.err, done
    for line, code, message in [
        ("expect queue nosuch", 4, "unknown queue"),
        ("expect queue", 2, "queue's name"),
        ("expect queue sales size=1", 2, "bad item"),
        ("expect events-since start 1", 2, "mark NAME"),  # marks live within one scenario
        ("expect events-since 1", 2, "two words"),
        ("mark 12", 2, "mark needs one name"),
    ]:
        done = cm.run("run", scenario(tmp_path, line + "\n").as_posix(), env=env)
        assert done.code == code and message in done.err, done


def test_list_checks_on_the_command_line(cm, tmp_path):
    kept = tmp_path / "kept.db"
    assert cm.run("run", "--keep", str(kept), scenario(tmp_path, LISTS).as_posix()).code == 0
    env = {"CHATEMU_DB": str(kept)}
    before = digest(kept)
    assert cm.run("expect", "inbox", "C1:parked", "C3", env=env).code == 0
    done = cm.run("expect", "inbox", agent="agent-2", env=env)  # an agent that does not exist: no inbox
    assert (done.code, done.err) == (4, "error: unknown agent agent-2 (log it in first: chatemu --agent agent-2"
                                        " agent login)\n"), done
    assert cm.run("expect", "queue", "sales", "C2:queued", env=env).code == 0
    assert cm.run("expect", "events-since", "8", "2", env=env).code == 0
    done = cm.run("expect", "queue", "sales", "C9", env=env)
    assert done.code == 1 and done.err == "queue sales: expected C9, got C2:queued\n", done
    done = cm.run("expect", "inbox", "C1", "--json", env=env)
    assert done.code == 1
    assert done.json == {"ok": False, "subject": "inbox of agent-1", "checks": [
        {"field": "chats", "expected": "C1", "got": ["C1:parked", "C3:new"], "ok": False}]}
    assert cm.run("expect", "events-since", "0", "10", "--json", env=env).json["ok"] is True
    assert digest(kept) == before  # checks change nothing


# -- 4. events under each step; the closing line on a terminal ------------------------------------

TIMED = f"""clock set {START}
chat new
chat activate C1
chat end C1
clock advance 2m
"""


def test_run_shows_each_steps_events_as_a_single_command_would(cm, tmp_path):
    done = cm.run("run", "--fresh", scenario(tmp_path, TIMED).as_posix())
    assert done.code == 0, done
    lines = done.out.splitlines()
    file = tmp_path / "s.chatemu"
    assert lines[lines.index(f"{file}:2: chat new  -> C1 new in agent-1's inbox") + 1:][:3] == [
        f"  {START[:-1]}.000Z  agent-1: (none) -> available (login)",
        f"  {START[:-1]}.000Z  C1: (none) -> queued (customer)",
        f"  {START[:-1]}.000Z  C1: queued -> new (presentation)",
    ]
    assert lines[-2:] == ["  2026-01-05T09:01:00.000Z  C1: active-wrapup -> closed (timer)",  # a timer that ran out
                          "  2026-01-05T09:01:00.000Z  agent-1: wrap-up -> available (timer)"]
    # the same lines a separate command prints above its result
    separate = cm.run("chat", "new").out.splitlines()[:-1]
    assert separate == ["2026-01-05T09:00:00.000Z  agent-1: (none) -> available (login)",
                        "2026-01-05T09:00:00.000Z  C1: (none) -> queued (customer)",
                        "2026-01-05T09:00:00.000Z  C1: queued -> new (presentation)"]
    records = [json.loads(line) for line in cm.run("run", "--fresh", "--json", str(file)).out.splitlines()]
    assert [len(r["events"]) for r in records] == [0, 3, 2, 2, 2]
    assert records[4]["events"][0]["cause"] == "timer" and records[4]["events"][0]["to"] == "closed"
    assert set(records[1]) == {"line", "command", "exit", "result", "events"}


def test_a_long_run_on_a_terminal_ends_with_a_closing_line(cm, tmp_path):
    from test_terminal import expect, plain, shown, spawn

    body = "chat new --queue q\n" * 40 + "expect queue q" + "".join(f" C{n}" for n in range(2, 41)) + "\n"
    body += "expect inbox C1\n" * 15 + "! chat show C99\nchat show C99\n"
    file = scenario(tmp_path, f"clock set {START}\n" + body)
    child = spawn(cm, "run", "--fresh", "--keep-going", str(file))
    expect(child, r"(\d+) step\(s\) run, (\d+) held, (\d+) failed in [0-9.]+s", "the closing line")
    assert child.match.groups() == ("59", "17", "1"), plain(shown(child))
    child.expect(pexpect_eof())
    child.close()
    assert child.exitstatus == 4


def pexpect_eof():
    import pexpect

    return pexpect.EOF
