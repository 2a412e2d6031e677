"""The journal of refusals: every refused state-changing command line is kept (``chatemu
refusals``), written after the command's own transaction rolled back, never changing the state,
an exit code or the output; read-only commands and usage errors are not journaled."""

from __future__ import annotations

import json
import sqlite3

from chatemu.store.check import check_path

from conftest import Chatemu


def journal_of(cm: Chatemu) -> list[tuple]:
    """(agent, command, exit code, message) of each journaled refusal, oldest first."""
    return [row[2:] for row in cm.journal()]


def test_a_refused_command_is_journaled_as_typed_and_changes_nothing_else(cm):
    cm.ok("chat", "new", "--customer", "Ann")  # C1 new in agent-1's inbox
    cm.fails(3, "chat", "park", "C1", match="cannot park C1")  # the state is unchanged (conftest's fails)
    cm.fails(3, "chat", "send", "C1", "hello there", "--db", str(cm.db))
    cm.fails(4, "chat", "activate", "C9", agent="agent-2")  # an unknown agent
    cm.fails(4, "snapshot", "restore", "nothing")
    assert journal_of(cm) == [
        ("agent-1", "chat park C1", 3, "cannot park C1: it is new"),
        ("agent-1", "chat send C1 'hello there'", 3, cm.journal()[1][5]),  # --db left out, quoted as typed
        ("agent-2", "--agent agent-2 chat activate C9", 4, cm.journal()[2][5]),
        ("agent-1", "snapshot restore nothing", 4, "unknown snapshot nothing"),
    ]
    assert [row[0] for row in cm.journal()] == [1, 2, 3, 4]
    assert {row[1] for row in cm.journal()} == {1767603600000}  # the database's (virtual) clock: START
    assert cm.run("db", "check").code == 0


def test_read_only_refusals_usage_errors_and_database_problems_are_not_journaled(cm, tmp_path):
    cm.ok("chat", "new")
    for args in (["chat", "show", "C9"], ["expect", "chat", "C9", "state=new"], ["events", "--chat", "C9"],
                 ["explain", "C9"], ["chat", "transcript", "C9"], ["contact", "history", "Nobody"]):
        assert cm.run(*args).code == 4, args
    for args in (["chat", "park"], ["chat", "new", "--priority", "high"], ["clock", "advance", "-5s"],
                 ["chat", "park", "C1", "--bogus"]):
        cm.fails(2, *args)
    assert cm.journal() == []
    missing = Chatemu(tmp_path / "none.db")  # no database yet: a refusal creates none
    assert missing.run("chat", "park", "C1").code == 4 and not missing.db.exists()


def test_the_journal_cannot_be_written_the_refusal_is_the_same(cm):
    """Where the journal cannot be written the command still exits with its own code and one line."""
    cm.ok("chat", "new")
    conn = sqlite3.connect(cm.db)
    conn.execute("CREATE TRIGGER no_journal BEFORE INSERT ON refusals BEGIN SELECT RAISE(ABORT, 'full'); END")
    conn.commit()
    conn.close()
    done = cm.fails(3, "chat", "park", "C1")
    assert done.err == "error: cannot park C1: it is new\n" and cm.journal() == []


def test_scenario_lines_are_journaled_refusal_lines_too(cm, tmp_path):
    scenario = tmp_path / "s.chatemu"
    scenario.write_text("chat new\n--agent agent-2 agent login\n! chat park C1\n"
                        "!4 --agent agent-2 chat activate C9\n!4 chat show C9\nclock advance 1m\n"
                        "--agent agent-2 chat park C1 --db " + str(cm.db) + "\n")
    done = cm.run("run", str(scenario))
    assert done.code == 3, done  # the last line: C1 is not in agent-2's inbox
    assert journal_of(cm) == [
        ("agent-1", "chat park C1", 3, "cannot park C1: it is new"),
        ("agent-2", "--agent agent-2 chat activate C9", 4, "unknown chat C9"),
        ("agent-2", "--agent agent-2 chat park C1", 3, "cannot park C1: it is new in agent-1's inbox, not agent-2's"),
    ]
    assert cm.journal()[2][1] == cm.journal()[0][1] + 60_000  # at the clock of its line


def test_refusals_lists_filters_and_prints_json(cm):
    cm.ok("chat", "new")
    cm.ok("agent", "login", agent="agent-2")
    cm.fails(3, "chat", "park", "C1")
    cm.fails(4, "chat", "take", "C7", agent="agent-2")
    cm.fails(4, "chat", "end", "C8")
    listed = cm.js("refusals")
    assert listed == [
        {"seq": 1, "at": "2026-01-05T09:00:00.000Z", "agent": "agent-1", "command": "chat park C1", "exit": 3,
         "message": "cannot park C1: it is new"},
        {"seq": 2, "at": "2026-01-05T09:00:00.000Z", "agent": "agent-2", "command": "--agent agent-2 chat take C7",
         "exit": 4, "message": "unknown chat C7"},
        {"seq": 3, "at": "2026-01-05T09:00:00.000Z", "agent": "agent-1", "command": "chat end C8", "exit": 4,
         "message": "unknown chat C8"},
    ]
    assert cm.js("refusals", "--agent", "agent-2") == [listed[1]]
    assert cm.js("refusals", "--since", "1", "--agent", "agent-1") == [listed[2]]
    assert cm.js("refusals", "--agent", "agent-9") == []
    lines = cm.ok("refusals").out.splitlines()
    assert lines[0].split() == ["SEQ", "AT", "AGENT", "EXIT", "COMMAND", "MESSAGE"] and len(lines) == 4
    assert lines[2].split()[:5] == ["2", "2026-01-05T09:00:00.000Z", "agent-2", "4", "--agent"]
    assert cm.ok("refusals", "--since", "3").out == "no refusals\n"
    assert cm.journal() == [tuple([r["seq"], 1767603600000, r["agent"], r["command"], r["exit"], r["message"]])
                            for r in listed]  # reading it changed nothing


def test_snapshots_bundles_and_reset_carry_the_journal(cm, tmp_path):
    cm.ok("chat", "new")
    cm.fails(3, "chat", "park", "C1")
    cm.ok("snapshot", "save", "one")
    cm.fails(4, "chat", "park", "C2")
    assert len(cm.journal()) == 2
    bundle = tmp_path / "b.json"
    cm.ok("export", str(bundle))
    document = json.loads(bundle.read_text())
    assert [r["command"] for r in document["state"]["refusals"]] == ["chat park C1", "chat park C2"]
    assert [r["command"] for r in document["snapshots"][0]["state"]["refusals"]] == ["chat park C1"]
    # Restored with the state, as the event log is: the journal as it was when the snapshot was saved.
    cm.ok("snapshot", "restore", "one")
    assert journal_of(cm) == [("agent-1", "chat park C1", 3, "cannot park C1: it is new")]
    other = Chatemu(tmp_path / "other.db")
    other.ok("import", str(bundle))
    assert [r["command"] for r in other.js("refusals")] == ["chat park C1", "chat park C2"]
    assert other.ok("export", "-").out == bundle.read_text()  # byte for byte
    assert other.run("db", "check").code == 0
    cm.ok("reset", "--yes")
    assert cm.journal() == [] and cm.js("refusals") == []


def test_a_bundle_without_a_journal_imports_with_an_empty_one(cm, tmp_path):
    cm.ok("chat", "new")
    text = cm.ok("export", "-").out
    document = json.loads(text)
    del document["state"]["refusals"]
    other = Chatemu(tmp_path / "other.db")
    other.ok("import", "-", stdin=json.dumps(document))
    assert other.js("refusals") == [] and other.run("db", "check").code == 0
    document["state"]["refusals"] = [{"seq": 1, "at_ms": 0, "agent": "agent-1", "command": "x", "exit_code": 3}]
    bad = Chatemu(tmp_path / "bad.db")
    done = bad.run("import", "-", stdin=json.dumps(document))
    assert done.code == 2 and "refusals[0] lacks 'message'" in done.err and not bad.db.exists()


def test_db_check_catches_a_corrupted_journal_row(cm):
    cm.ok("chat", "new")
    cm.fails(3, "chat", "park", "C1")
    cm.fails(4, "chat", "park", "C2")
    for sql in ("UPDATE refusals SET exit_code = 2 WHERE seq = 2", "UPDATE refusals SET agent = '' WHERE seq = 2",
                "UPDATE refusals SET at_ms = -1e20 WHERE seq = 2", "UPDATE refusals SET command = '' WHERE seq = 2",
                "UPDATE refusals SET message = x'00' WHERE seq = 2"):
        probe = Chatemu(cm.db.parent / "probe.db")
        source, target = sqlite3.connect(cm.db), sqlite3.connect(probe.db)
        source.backup(target)
        source.close()
        target.execute(sql)
        target.commit()
        target.close()
        assert check_path(probe.db) == ["refusal 2: a bad time, agent, exit code (3 or 4), command or message"], sql
        probe.db.unlink()
    assert cm.run("db", "check").code == 0
    conn = sqlite3.connect(cm.db)
    conn.execute("UPDATE refusals SET exit_code = 0 WHERE seq = 1")
    conn.commit()
    conn.close()
    done = cm.run("db", "check")  # as users run it
    assert done.code == 1 and done.out == "refusal 1: a bad time, agent, exit code (3 or 4), command or message\n"


def test_a_real_clock_dates_a_refusal_on_the_wall_clock(cm):
    cm.ok("clock", "real")
    cm.ok("chat", "new")
    before = cm.js("clock")["now"]
    cm.fails(3, "chat", "park", "C1")
    (row,) = cm.js("refusals")
    assert row["at"] >= before and cm.run("db", "check").code == 0


def test_a_huge_refused_line_is_journaled_bounded_checked_and_carried_by_bundles(cm, tmp_path):
    """A refused line near the longest a message may be: the journal keeps its first 1,000
    characters and its length, ``db check`` is clean, and a bundle carries the bounded row as it
    is. (A longer one is a usage error, which is not journaled.)"""
    text = "y" * 10_000
    script = tmp_path / "big.chatemu"
    script.write_text(f"chat send C9 {text}\n")
    done = cm.run("run", "--keep-going", str(script))
    assert done.code == 4, done
    [(agent, command, code, message)] = journal_of(cm)
    line = f"chat send C9 {text}"
    assert (agent, code) == ("agent-1", 4)
    assert command == line[:1000] + f"… [{len(line)} characters]"
    assert message == "unknown chat C9", message[:100]
    assert cm.run("db", "check").code == 0
    bundle = tmp_path / "bundle.json"
    cm.ok("export", str(bundle))
    copy = Chatemu(tmp_path / "copy.db")
    copy.ok("import", str(bundle))
    assert copy.journal() == cm.journal()
    assert copy.run("db", "check").code == 0


def test_a_long_row_an_older_chatemu_journaled_whole_is_still_clean(cm):
    cm.fails(4, "snapshot", "restore", "nothing")
    conn = sqlite3.connect(cm.db)
    conn.execute("UPDATE refusals SET command = ?, message = ?", ("snapshot restore " + "z" * 50_000, "z" * 50_000))
    conn.commit()
    conn.close()
    assert cm.run("db", "check").code == 0
    assert check_path(cm.db) == []


def test_the_journal_keeps_a_line_up_to_1000_characters_whole():
    from chatemu.store.refusals import bounded

    assert bounded("x" * 1000) == "x" * 1000
    assert bounded("x" * 1001) == "x" * 1000 + "… [1001 characters]"
    assert bounded("é" * 5000).startswith("é" * 1000 + "…")
