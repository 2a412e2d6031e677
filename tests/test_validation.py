"""One validation for every way state gets in: a command, a scenario line, a bundle, a snapshot.

Whatever ``import`` or ``snapshot restore`` accepts obeys the command line's own rules (``db check``
holds them all), so nothing accepted can break a later command; commands refuse what would take a
timer past the clock's range; plain output never carries raw control characters.
"""

from __future__ import annotations

import copy
import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from conftest import Chatemu, copy_into, shared_start


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else ""


@pytest.fixture(scope="module")
def session(tmp_path_factory, started_db) -> tuple[Path, str]:
    """A database of a small real session, with one snapshot, and its bundle: played once."""
    cm = shared_start(tmp_path_factory, started_db)
    cm.ok("config", "set", "wrapup", "30s", "--queue", "billing")
    cm.ok("chat", "new", "--customer", "Ann", "--queue", "billing")
    cm.ok("chat", "activate", "C1")
    cm.ok("chat", "receive", "C1", "hello")
    cm.ok("snapshot", "save", "s1")
    cm.ok("chat", "wrapup", "C1")
    cm.ok("chat", "new", "--customer", "Bob")
    return cm.db, cm.ok("export", "-").out


@pytest.fixture
def source(cm, session) -> dict:
    """A bundle of a small real session, with one snapshot; ``cm``'s database is that session's
    (a copy of the file)."""
    db, text = session
    copy_into(db, cm)
    return json.loads(text)


def import_fails(tmp_path, bundle: dict, *fragments: str) -> None:
    target = Chatemu(tmp_path / "target.db")
    target.ok("clock", "set", "2026-01-05T09:00:00Z")  # an empty database of its own
    before = sha(target.db)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bundle))
    done = target.run("import", str(path))
    assert done.code == 2, done
    assert done.out == "" and len(done.err.splitlines()) == 1 and done.err.startswith("error: "), done
    for fragment in fragments:
        assert fragment in done.err, done
    assert sha(target.db) == before
    target.ok("db", "check")


def chat(bundle, chat_id="C1", state=None):
    rows = (state or bundle["state"])["chats"]
    return next(row for row in rows if row["id"] == chat_id)


def test_the_source_bundle_imports_cleanly(source, tmp_path):
    path = tmp_path / "ok.json"
    path.write_text(json.dumps(source))
    target = Chatemu(tmp_path / "ok.db")
    target.ok("import", str(path))
    target.ok("snapshot", "restore", "s1")
    target.ok("db", "check")


# -- snapshots are checked like the state itself ---------------------------------------------


def test_a_bundle_with_an_inconsistent_snapshot_is_refused(source, tmp_path):
    bundle = copy.deepcopy(source)
    snap = bundle["snapshots"][0]["state"]
    row = chat(bundle, state=snap)
    row.update(state="closed", closed_reason="wrapup-finished", closed_at_ms=row["created_at_ms"],
               wrapup_deadline_ms=row["created_at_ms"] + 1000)  # closed, yet a running timer
    import_fails(tmp_path, bundle, "snapshot s1 is inconsistent", "running wrap-up timer")


def test_restoring_a_snapshot_changed_behind_chatemus_back_is_refused(source, cm):
    from chatemu.store import bundle as stored

    conn = sqlite3.connect(cm.db)
    parts = stored.Parts(conn, "snapshot_parts", "snapshot", "s1")
    rows = [row for batch in parts.rows("chats") for row in batch]
    chat(None, state={"chats": rows})["wrapup_deadline_ms"] = 1  # a timer on an active chat
    with conn:
        parts.delete("chats")
        writer = parts.writer("chats")
        for row in rows:
            writer.add(row)
        writer.close()
    conn.close()
    done = cm.fails(5, "snapshot", "restore", "s1", match="snapshot s1 is inconsistent, not restored")
    assert "running wrap-up timer" in done.err


# -- every field of a bundle passes the command line's rules -------------------------------------


def set_meta(**values):
    return lambda b: b["state"]["meta"][0].update(values)


def rename_agent(bundle, old, new):
    state = bundle["state"]
    for row in state["agents"]:
        row["id"] = new if row["id"] == old else row["id"]
    for table, column in (("chats", "agent"), ("events", "agent"), ("messages", "sender")):
        for row in state[table]:
            row[column] = new if row[column] == old else row[column]


MUTATIONS = {
    "time far in the future": (lambda b: chat(b).update(created_at_ms=2**62), "chat C1: a value out of its rules"),
    "time far in the past": (lambda b: chat(b).update(state_since_ms=-(2**62)), "chat C1: a value out of its rules"),
    "event time out of range": (lambda b: b["state"]["events"][0].update(at_ms=2**62), "not a time"),
    "config value": (lambda b: b["state"]["config"].append({"queue": "", "key": "max-chats", "value": "lots"}),
                     "max-chats holds 'lots'"),
    "unknown config key": (lambda b: b["state"]["config"].append({"queue": "", "key": "warp", "value": "9"}),
                           "unknown key warp"),
    "negative wrap-up": (lambda b: b["state"]["config"][0].update(value="-5000"), "wrapup for queue billing holds"),
    "per-queue key not per queue": (
        lambda b: b["state"]["config"].append({"queue": "billing", "key": "max-chats", "value": "3"}),
        "cannot be set per queue"),
    "next chat number too low": (set_meta(next_chat=1), "next chat number 1 is not above every chat's"),
    "clock mode": (set_meta(mode="warp"), "mode"),
    "agent id with a newline": (lambda b: rename_agent(b, "agent-1", "agent\n1"), "'agent\\n1'"),
    "customer with a terminal escape": (
        lambda b: (chat(b).update(customer="Ann\x1b]0;pwned\x07"), None)[1], "a value out of its rules"),
    "message with a control character": (
        lambda b: b["state"]["messages"][0].update(text="bell\a"), "without control characters"),
    "priority out of range": (lambda b: chat(b, "C2").update(priority=10**7), "chat C2: a value out of its rules"),
    "negative extensions": (lambda b: chat(b).update(extensions_left=-1), "chat C1: a value out of its rules"),
    "event cause with a terminal escape": (
        lambda b: b["state"]["events"][0].update(cause="customer\x1b[2J"), "unknown cause 'customer\\x1b[2J'"),
    "event cause unknown": (lambda b: b["state"]["events"][0].update(cause="teleport"), "unknown cause teleport"),
    "event queue with a NUL": (
        lambda b: b["state"]["events"][0].update(queue="default\x00"), "queue 'default\\x00' is not a valid"),
    "an agent's first status event from a terminal escape": (
        lambda b: first_status_event(b).update(from_state="\x1b]0;pwned\x07"), "not a status"),
    "refusal command with a NUL": (lambda b: add_refusal(b, command="chat park C1\x00"), "refusal 1: a bad"),
    "refusal message with a terminal escape": (
        lambda b: add_refusal(b, message="cannot \x1b[2J"), "refusal 1: a bad"),
    "refusal message with a NUL": (lambda b: add_refusal(b, message="\x00"), "refusal 1: a bad"),
}


def first_status_event(bundle) -> dict:
    return next(row for row in bundle["state"]["events"] if row["chat"] is None)


def add_refusal(bundle, **values) -> None:
    bundle["state"]["refusals"].append({"seq": 1, "at_ms": bundle["state"]["meta"][0]["now_ms"], "agent": "agent-1",
                                        "command": "chat park C9", "exit_code": 4, "message": "unknown chat C9",
                                        **values})


def test_a_refusal_typed_with_delete_and_c1_characters_exports_as_json_that_imports(cm, tmp_path):
    """A command line journaled as typed holding DEL, C1 and ESC (as an older chatemu journaled a
    malformed id): ``export -`` is JSON holding them exactly, and it imports."""
    cm.fails(4, "chat", "park", "C9")
    conn = sqlite3.connect(cm.db)
    with conn:
        conn.execute("UPDATE refusals SET command = ?", ("chat park 'C\x7f\x85\x1b[2J'",))
    conn.close()
    done = cm.ok("export", "-")
    assert json.loads(done.out)["state"]["refusals"][0]["command"] == "chat park 'C\x7f\x85\x1b[2J'"
    target = Chatemu(tmp_path / "target.db")
    target.ok("import", "-", stdin=done.out)
    target.ok("db", "check")
    assert "\x1b" not in target.ok("refusals").out


@pytest.mark.parametrize("name", MUTATIONS)
def test_a_bundle_field_the_command_line_would_refuse_is_refused(source, tmp_path, name):
    mutate, fragment = MUTATIONS[name]
    bundle = copy.deepcopy(source)
    mutate(bundle)
    import_fails(tmp_path, bundle, fragment)


@pytest.mark.parametrize("sql, fragment", [
    ("UPDATE config SET value = 'lots' WHERE key = 'wrapup'", "holds 'lots'"),
    ("INSERT INTO config VALUES ('', 'nope', '1')", "unknown key nope"),
    ("UPDATE meta SET mode = 'warp'", "clock mode 'warp'"),
    ("UPDATE meta SET next_chat = 1", "next chat number 1"),
    ("UPDATE meta SET now_ms = 1 << 62", "the stored clock"),
])
def test_db_check_holds_config_and_meta_to_the_same_rules(source, cm, sql, fragment):
    conn = sqlite3.connect(cm.db)
    with conn:
        conn.execute(sql)
    conn.close()
    done = cm.run("db", "check")
    assert done.code == 1 and fragment in done.out, done


# -- nothing legal near the end of time breaks a later command ------------------------------------


def test_a_wrapup_that_would_end_after_9999_is_refused(cm):
    cm.ok("config", "set", "wrapup", "2h")
    cm.ok("clock", "set", "9999-12-31T23:00:00Z")
    cm.ok("chat", "new")
    cm.ok("chat", "activate", "C1")
    cm.fails(3, "chat", "wrapup", "C1", match="its wrap-up would end after 9999-12-31")
    cm.fails(3, "chat", "end", "C1", match="after 9999-12-31")
    cm.ok("config", "set", "wrapup", "30m")
    cm.ok("config", "set", "wrapup-extension", "1h")
    cm.ok("chat", "wrapup", "C1")
    cm.fails(3, "chat", "wrapup", "C1", "--extend", match="after 9999-12-31")
    cm.ok("chat", "park", "C1")  # 30 min paused
    cm.ok("clock", "advance", "45m")
    cm.fails(3, "chat", "activate", "C1", match="after 9999-12-31")
    for args in (["chat", "list", "--all"], ["chat", "show", "C1"], ["expect", "chat", "C1", "state=parked-wrapup"],
                 ["events"], ["explain", "C1"], ["db", "check"]):
        cm.ok(*args)


# -- plain output never carries raw control characters -----------------------------------------


def test_plain_output_escapes_control_characters(cm):
    cm.ok("chat", "new", "--customer", "Ann")
    conn = sqlite3.connect(cm.db)  # as a database edited behind chatemu's back could hold
    with conn:
        conn.execute("UPDATE chats SET customer = 'Ann\x1b]0;pwned\x07\x1b[2J'")
    conn.close()
    for env in ({"NO_COLOR": "1"}, {"TERM": "dumb"}):
        for args in (["chat", "list"], ["chat", "show", "C1"]):
            out = cm.run(*args, env=env).out
            assert "\x1b" not in out and "\x07" not in out
            assert "Ann\\x1b]0;pwned\\x07\\x1b[2J" in out
    assert "pwned" in cm.js("chat", "show", "C1")["customer"]  # JSON carries it, escaped by JSON itself


# -- a scenario never starts another one, however the line is written ----------------------------


@pytest.mark.parametrize("line", ["--agent agent-1 run self.chatemu", "--db other.db run self.chatemu",
                                  "chatemu --agent=agent-2 run self.chatemu"])
def test_a_scenario_cannot_start_another_through_root_options(cm, tmp_path, line):
    scenario = tmp_path / "self.chatemu"
    scenario.write_text(f"chat new\n{line}\nchat new\n")
    done = cm.run("run", str(scenario), env={"PWD": str(tmp_path)})
    assert done.code == 2, done
    assert done.err.splitlines() == [f"error: {scenario}:2: {line.removeprefix('chatemu ')}: a scenario cannot run another scenario"]
    assert [c["id"] for c in cm.js("chat", "list", "--all")] == ["C1"]  # line 1 ran, nothing after
