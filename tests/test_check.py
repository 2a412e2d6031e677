"""The invariant checker (``chatemu.store.check``): clean on real histories, and
each invariant caught when a real database is corrupted by a direct SQL UPDATE.

The database is made through the engine, in-process, with a virtual clock, so
it holds every state: queued, new, active, parked, active-wrapup,
parked-wrapup, closed for each reason, and an agent on a call with a chat
parked by it.  Each test corrupts one thing and looks for its violation.

Heavy variant (``CHATEMU_HEAVY=1``): a synthetic history of 100,000 closed
chats and 1,000,000 events is checked clean, and one corruption deep inside it
is found.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

import pytest

from chatemu.store.check import check, check_path
from chatemu.store.engine import Engine
from chatemu.store.errors import DatabaseError
from chatemu.store.timefmt import format_time

T0 = 1_767_603_600_000  # 2026-01-05T09:00:00Z


def make_db(path: Path) -> Path:
    """A database holding every state, made by the engine as users would."""
    wall = lambda: T0  # noqa: E731  (the clock is virtual: the wall only dates the database)
    a1, a2, a3 = (Engine(str(path), agent, wall) for agent in ("agent-1", "agent-2", "agent-3"))
    a1.config_set("auto-present", "off")
    a1.chat_new(inbox=True)  # C1
    a1.chat_activate("C1")
    a1.chat_new(inbox=True)  # C2
    a1.chat_end("C2")  # parked-wrapup, 60 s paused
    a1.chat_new()  # C3
    a1.chat_end("C3")  # closed, abandoned in the queue
    a1.chat_new(customer="Ann", queue="billing", priority=5)  # C4 stays queued
    a2.agent_login()
    a2.chat_new(inbox=True)  # C5
    a2.chat_activate("C5")
    a2.chat_wrapup("C5")
    a2.chat_wrapup("C5", extend=True)
    a2.chat_wrapup("C5", finish=True)  # closed, wrapup-finished
    a2.chat_new(inbox=True)  # C6
    a2.chat_activate("C6")
    a2.chat_wrapup("C6")
    a2.clock_advance(61_000)  # C6 closed, wrapup-expired
    a2.chat_new(inbox=True)  # C7
    a2.chat_activate("C7")
    a2.chat_wrapup("C7")  # active-wrapup, running
    a3.agent_login()
    a3.chat_new(inbox=True)  # C8
    a3.chat_activate("C8")
    a3.call_start()  # C8 parked by the call, agent-3 on a call
    a2.chat_new(inbox=True)  # C9 new in agent-2's inbox
    a1.chat_new(inbox=True)  # C10
    a1.chat_activate("C10")  # parks C1
    a1.clock_advance(5_000)
    a1.agent_presence("break")
    return path


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    return make_db(tmp_path_factory.mktemp("check") / "template.db")


def copy_db(src_path: Path, path: Path) -> Path:
    """A consistent copy, WAL included (a file copy could miss what the WAL holds)."""
    src, dst = sqlite3.connect(src_path), sqlite3.connect(path)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    return path


@pytest.fixture
def db(template, tmp_path) -> Path:
    """A private copy of the template database, to corrupt."""
    return copy_db(template, tmp_path / "chatemu.db")


def corrupt(path: Path, *statements: str) -> list[str]:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for sql in statements:
            conn.execute(sql)
        return check(conn)
    finally:
        conn.close()


def states(path: Path) -> dict[str, str]:
    conn = sqlite3.connect(path)
    try:
        return dict(conn.execute("SELECT id, state FROM chats"))
    finally:
        conn.close()


def assert_found(violations: list[str], *fragments: str) -> None:
    for fragment in fragments:
        assert any(fragment in line for line in violations), f"{fragment!r} not in {violations}"


# -- clean ----------------------------------------------------------------------------


def test_the_fixture_holds_every_state(db):
    assert states(db) == {
        "C1": "parked",
        "C2": "parked-wrapup",
        "C3": "closed",
        "C4": "queued",
        "C5": "closed",
        "C6": "closed",
        "C7": "active-wrapup",
        "C8": "parked",
        "C9": "new",
        "C10": "active",
    }


def test_clean_on_a_normal_history(db):
    assert check_path(db) == []
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row  # whatever row factory the caller uses
    try:
        assert check(conn) == []
    finally:
        conn.close()


def test_clean_with_presentation_and_calls_ending(tmp_path):
    wall = lambda: T0  # noqa: E731
    path = str(tmp_path / "db")
    a1, a2 = Engine(path, "agent-1", wall), Engine(path, "agent-2", wall)
    for i in range(6):
        a1.chat_new(priority=i % 3)
    a2.agent_login()
    first = a1.chat_list().value[0]["id"]  # presented to agent-1
    a1.chat_activate(first)
    a1.call_start()
    a1.chat_end(first)
    a1.call_end()  # resumes into active-wrapup
    a1.clock_advance(3_600_000)
    second = a2.chat_list().value[0]["id"]
    a2.chat_activate(second)
    a2.chat_wrapup(second)
    a2.chat_wrapup(second, finish=True)
    a1.clock_set(T0 + 7_200_000)
    chats = {c["id"]: c for c in a1.chat_list(all_chats=True).value}
    assert chats[first]["closed_reason"] == "wrapup-expired"
    assert chats[second]["closed_reason"] == "wrapup-finished"
    assert check_path(path) == []


def test_check_does_not_write(db):
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    corrupt(db, "UPDATE chats SET wrapup_deadline_ms = (SELECT now_ms FROM meta) WHERE id = 'C7'")
    after_corruption = hashlib.sha256(db.read_bytes()).hexdigest()
    assert check_path(db)  # a due timer, not settled: the checker reports it, does not fix it
    assert hashlib.sha256(db.read_bytes()).hexdigest() == after_corruption != before
    assert check_path(db) == check_path(db)


def test_check_path_leaves_the_folder_as_it_was(db):
    before = sorted(p.name for p in db.parent.iterdir())
    digest = hashlib.sha256(db.read_bytes()).hexdigest()
    assert check_path(db) == []
    assert sorted(p.name for p in db.parent.iterdir()) == before  # no -wal/-shm left behind
    assert hashlib.sha256(db.read_bytes()).hexdigest() == digest


def test_check_inside_the_callers_transaction(db):
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("BEGIN")
        conn.execute("UPDATE chats SET state = 'bogus' WHERE id = 'C4'")
        assert_found(check(conn), "chat C4: unknown state 'bogus'")
        assert conn.in_transaction  # the caller's transaction is left to the caller
        conn.execute("ROLLBACK")
        assert check(conn) == []
        assert not conn.in_transaction
    finally:
        conn.close()


# -- one test per invariant -------------------------------------------------------------


def test_two_active_items_for_one_agent(db):
    found = corrupt(db, "UPDATE chats SET state = 'active' WHERE id = 'C1'")
    assert_found(found, "agent agent-1: 2 active items, at most one allowed: C1 (active), C10 (active)")


def test_active_and_active_wrapup_count_as_one_active_item(db):
    found = corrupt(db, "UPDATE chats SET state = 'active' WHERE id = 'C9'")  # agent-2 has C7 active-wrapup
    assert_found(found, "agent agent-2: 2 active items")


def test_agent_on_a_call_with_an_active_chat(db):
    found = corrupt(db, "UPDATE agents SET on_call = 1 WHERE id = 'agent-1'")
    assert_found(found, "agent agent-1: on a call but chat C10 is active")
    found = corrupt(db, "UPDATE agents SET on_call = 1 WHERE id = 'agent-2'")
    assert_found(found, "agent agent-2: on a call but chat C7 is active-wrapup")


def test_queued_chat_with_an_agent(db):
    assert_found(corrupt(db, "UPDATE chats SET agent = 'agent-1' WHERE id = 'C4'"), "chat C4: queued but in agent agent-1's inbox")


@pytest.mark.parametrize("chat", ["C9", "C10", "C1", "C2", "C7", "C5"])
def test_chat_without_an_agent_that_is_not_queued(db, chat):
    found = corrupt(db, f"UPDATE chats SET agent = NULL WHERE id = '{chat}'")
    assert_found(found, f"chat {chat}: ", "but has no agent")


def test_abandoned_chat_with_an_agent(db):
    assert_found(
        corrupt(db, "UPDATE chats SET agent = 'agent-1' WHERE id = 'C3'"),
        "chat C3: abandoned in the queue but has agent agent-1",
    )


def test_open_chat_of_an_agent_that_does_not_exist(db):
    assert_found(
        corrupt(db, "UPDATE chats SET agent = 'ghost' WHERE id = 'C9'"),
        "chat C9: new in the inbox of agent ghost, who does not exist",
    )
    assert_found(corrupt(db, "DELETE FROM agents WHERE id = 'agent-3'"), "chat C8: parked in the inbox of agent agent-3")


def test_running_timer_outside_active_wrapup(db):
    found = corrupt(db, "UPDATE chats SET wrapup_deadline_ms = (SELECT now_ms + 1000 FROM meta) WHERE id = 'C10'")
    assert_found(found, "chat C10: active with a running wrap-up timer")
    found = corrupt(db, "UPDATE chats SET wrapup_deadline_ms = (SELECT now_ms + 1000 FROM meta) WHERE id = 'C2'")
    assert_found(found, "chat C2: parked-wrapup with a running wrap-up timer")


def test_paused_timer_outside_parked_wrapup(db):
    assert_found(
        corrupt(db, "UPDATE chats SET wrapup_remaining_ms = 1000 WHERE id = 'C1'"),
        "chat C1: parked with a paused wrap-up timer",
    )
    assert_found(
        corrupt(db, "UPDATE chats SET wrapup_remaining_ms = 0 WHERE id = 'C5'"),
        "chat C5: closed with a paused wrap-up timer",
    )


def test_exactly_one_timer_field_in_wrapup(db):
    # Both set in active-wrapup:
    assert_found(
        corrupt(db, "UPDATE chats SET wrapup_remaining_ms = 1000 WHERE id = 'C7'"),
        "chat C7: active-wrapup with a paused wrap-up timer",
    )


def test_active_wrapup_without_deadline(db):
    assert_found(
        corrupt(db, "UPDATE chats SET wrapup_deadline_ms = NULL WHERE id = 'C7'"),
        "chat C7: active-wrapup without a wrap-up deadline",
    )


def test_parked_wrapup_without_remaining(db):
    assert_found(
        corrupt(db, "UPDATE chats SET wrapup_remaining_ms = NULL WHERE id = 'C2'"),
        "chat C2: parked-wrapup without the wrap-up time remaining",
    )


def test_negative_remaining(db):
    assert_found(
        corrupt(db, "UPDATE chats SET wrapup_remaining_ms = -1 WHERE id = 'C2'"),
        "chat C2: negative wrap-up time remaining (-1 ms)",
    )


def test_negative_extensions_left(db):
    assert_found(corrupt(db, "UPDATE chats SET extensions_left = -1 WHERE id = 'C7'"), "chat C7: negative extensions left")


def test_wrapup_without_its_extension_settings(db):
    assert_found(
        corrupt(db, "UPDATE chats SET extensions_left = NULL WHERE id = 'C2'"),
        "chat C2: parked-wrapup without its wrap-up extension settings",
    )


@pytest.mark.parametrize("offset", [0, -1, -3_600_000])
def test_due_timer_left_unsettled(db, offset):
    found = corrupt(db, f"UPDATE chats SET wrapup_deadline_ms = (SELECT now_ms + {offset} FROM meta) WHERE id = 'C7'")
    assert_found(found, "chat C7: wrap-up timer ran out at", "but the chat was not closed")


def test_timer_due_just_after_the_clock_is_fine(db):
    assert corrupt(db, "UPDATE chats SET wrapup_deadline_ms = (SELECT now_ms + 1 FROM meta) WHERE id = 'C7'") == []


def test_the_clock_decides_what_is_due(db):
    # Moving the stored clock past a deadline (without settling) leaves a due timer behind.
    found = corrupt(db, "UPDATE meta SET now_ms = (SELECT wrapup_deadline_ms FROM chats WHERE id = 'C7')")
    assert_found(found, "chat C7: wrap-up timer ran out")


@pytest.mark.parametrize(
    "sql,fragment",
    [
        ("UPDATE chats SET closed_reason = NULL WHERE id = 'C5'", "chat C5: closed with reason None"),
        ("UPDATE chats SET closed_at_ms = NULL WHERE id = 'C6'", "chat C6: closed with reason 'wrapup-expired' at None"),
        ("UPDATE chats SET closed_reason = 'bored' WHERE id = 'C3'", "chat C3: closed with reason 'bored'"),
    ],
)
def test_closed_chat_needs_reason_and_time(db, sql, fragment):
    assert_found(corrupt(db, sql), fragment)


@pytest.mark.parametrize(
    "sql,fragment",
    [
        ("UPDATE chats SET closed_reason = 'abandoned' WHERE id = 'C4'", "chat C4: queued but has closed_reason 'abandoned'"),
        ("UPDATE chats SET closed_at_ms = 1 WHERE id = 'C10'", "chat C10: active but has closed_reason None / closed_at"),
    ],
)
def test_open_chat_has_no_reason_nor_closing_time(db, sql, fragment):
    assert_found(corrupt(db, sql), fragment)


def test_closing_time_before_creation_or_after_the_clock(db):
    assert_found(corrupt(db, "UPDATE chats SET closed_at_ms = created_at_ms - 1 WHERE id = 'C5'"), "chat C5: closed at")
    found = corrupt(db, "UPDATE chats SET closed_at_ms = (SELECT now_ms + 1 FROM meta) WHERE id = 'C6'")
    assert_found(found, "chat C6: closed at", "after the stored clock")


def test_closing_time_is_the_closing_event_time(db):
    found = corrupt(db, "UPDATE chats SET closed_at_ms = closed_at_ms + 1 WHERE id = 'C6'")
    assert_found(found, "chat C6: closed at", "but its closing event")


def test_parked_by_call_while_the_agent_is_not_on_a_call(db):
    found = corrupt(db, "UPDATE agents SET on_call = 0 WHERE id = 'agent-3'")
    assert_found(found, "chat C8: marked parked_by_call (parked) but agent agent-3 is not on a call")


def test_parked_by_call_on_a_chat_that_is_not_parked(db):
    found = corrupt(db, "UPDATE agents SET on_call = 1, presence = 'available' WHERE id = 'agent-2'",
                    "UPDATE chats SET parked_by_call = 1 WHERE id = 'C9'")
    assert_found(found, "chat C9: marked parked_by_call but it is new, not parked")


def test_event_seq_rewritten(db):
    found = corrupt(db, "UPDATE events SET seq = seq + 1000 WHERE seq = (SELECT max(seq) FROM events)")
    assert_found(found, "is above the AUTOINCREMENT counter", "missing (lost or deleted)")


def test_event_lost(db):
    found = corrupt(db, "DELETE FROM events WHERE seq = 3")
    assert_found(found, "events: seq runs to", "1 missing")


def test_event_time_going_backwards(db):
    # The last two events at one instant (both at 09:01:01); 1 ms later for the first puts the second before it.
    conn = sqlite3.connect(db)
    first, at_ms = conn.execute(
        "SELECT e.seq, e.at_ms FROM events e JOIN events n ON n.seq = e.seq + 1 AND n.at_ms = e.at_ms"
        " WHERE e.at_ms = (SELECT max(at_ms) FROM events WHERE at_ms < (SELECT max(at_ms) FROM events))"
        " ORDER BY e.seq DESC LIMIT 1").fetchone()
    conn.close()
    assert format_time(at_ms) == "2026-01-05T09:01:01.000Z"
    found = corrupt(db, f"UPDATE events SET at_ms = at_ms + 1 WHERE seq = {first}")
    assert_found(found, f"event {first + 1}: at 2026-01-05T09:01:01.000Z, before event {first} at 2026-01-05T09:01:01.001Z")


def test_event_time_going_backwards_with_gaps_in_seq(db):
    found = corrupt(
        db,
        "DELETE FROM events WHERE seq = 2",
        "UPDATE events SET at_ms = 0 WHERE seq = (SELECT max(seq) FROM events)",
    )
    assert_found(found, "1 missing", "time went backwards")


def test_event_after_the_clock(db):
    found = corrupt(db, "UPDATE events SET at_ms = (SELECT now_ms + 1 FROM meta) WHERE seq = 5")
    assert_found(found, "event 5: at", "after the stored clock", "event 6: at", "time went backwards")


def test_replay_chain_broken(db):
    # C10 went None -> new -> active; make the activation start from `parked` (a legal pair, a broken chain).
    found = corrupt(
        db,
        "UPDATE events SET from_state = 'parked' WHERE seq = (SELECT max(seq) FROM events WHERE chat = 'C10')",
    )
    assert len(found) == 1, found
    assert_found(found, "chat C10 goes from 'parked', but its previous event", "left it 'new'")


def test_replay_first_event_from_something(db):
    found = corrupt(db, "UPDATE events SET from_state = 'new' WHERE seq = (SELECT min(seq) FROM events WHERE chat = 'C9')")
    assert_found(found, "the first event of chat C9 starts from 'new', not from nothing")


def test_replay_ends_elsewhere_than_the_state(db):
    found = corrupt(db, "UPDATE chats SET state = 'parked' WHERE id = 'C9'")
    assert len(found) == 1, found
    assert_found(found, "chat C9: parked, but the replay of its events ends in 'new' (event")


def test_replay_of_a_chat_without_events(db):
    found = corrupt(db, "DELETE FROM events WHERE chat = 'C4'")
    assert_found(found, "chat C4: queued, but it has no events")


def test_event_of_a_chat_that_does_not_exist(db):
    found = corrupt(db, "UPDATE events SET chat = 'C99' WHERE chat = 'C4'")
    assert_found(found, "names chat C99, which does not exist", "chat C4: queued, but it has no events")


def test_illegal_transition_in_the_history(db):
    # A history that chains and ends in the chat's state, but through a move no transition allows.
    found = corrupt(
        db,
        "INSERT INTO events (at_ms, agent, chat, from_state, to_state, cause)"
        " VALUES ((SELECT now_ms FROM meta), 'agent-2', 'C9', 'new', 'closed', 'finish')",
        "UPDATE chats SET state = 'closed', closed_reason = 'wrapup-finished', closed_at_ms = (SELECT now_ms FROM meta)"
        " WHERE id = 'C9'",
    )
    assert len(found) == 1, found
    assert_found(found, "chat C9 went 'new' -> 'closed', which no transition allows")


@pytest.mark.parametrize(
    "sql,fragment",
    [
        ("UPDATE chats SET state = 'bogus' WHERE id = 'C4'", "chat C4: unknown state 'bogus'"),
        ("UPDATE agents SET presence = 'lunch' WHERE id = 'agent-1'", "agent agent-1: unknown presence 'lunch'"),
        ("UPDATE agents SET on_call = 2 WHERE id = 'agent-3'", "agent agent-3: on_call is 2"),
        ("UPDATE chats SET parked_by_call = 7 WHERE id = 'C1'", "chat C1: parked_by_call is 7"),
        ("DELETE FROM meta", "meta: expected exactly one row with id 1, found 0"),
    ],
)
def test_unknown_values(db, sql, fragment):
    assert_found(corrupt(db, sql), fragment)


@pytest.mark.parametrize(
    "sql,fragment",
    [
        ("UPDATE events SET cause = 'x' || char(27) || '[2J' WHERE seq = 1", "event 1: unknown cause 'x\\x1b[2J'"),
        ("UPDATE events SET cause = 'teleport' WHERE seq = 1", "event 1: unknown cause teleport"),
        ("UPDATE events SET queue = 'def' || char(0) || 'ault' WHERE seq = 1", "event 1: queue 'def\\x00ault' is not"),
        ("UPDATE events SET queue = '' WHERE seq = 1", "event 1: queue '' is not a valid queue name"),
        ("UPDATE events SET from_state = char(27) || ']0;pwned' || char(7) WHERE seq ="
         " (SELECT min(seq) FROM events WHERE chat IS NULL AND agent = 'agent-2')",
         "agent agent-2 went from '\\x1b]0;pwned\\x07', not a status"),
        ("UPDATE events SET chat = NULL, agent = NULL WHERE seq = (SELECT max(seq) FROM events)",
         "names neither a chat nor an agent"),
        ("UPDATE agents SET queues_since_ms = 'soon' WHERE id = 'agent-1'", "agent agent-1: a bad id or time"),
        ("UPDATE messages SET seq = 'x'", "a bad number or time"),
        ("UPDATE snapshots SET chats = -1", "a bad count of chats"),
        ("UPDATE sqlite_sequence SET seq = seq + 1 WHERE name = 'events'", "the next event would leave a gap"),
        ("UPDATE sqlite_sequence SET seq = 'many' WHERE name = 'events'", "the sequence counter 'many' is not"),
        ("UPDATE sqlite_sequence SET seq = 9223372036854775807 WHERE name = 'events'", "no room for more events"),
        ("DELETE FROM events", "but there are no events"),
    ],
)
def test_every_column_has_its_rule(db, sql, fragment):
    if "messages" in sql or "snapshots" in sql:
        conn = sqlite3.connect(db, isolation_level=None)
        conn.execute("INSERT INTO snapshots (name, created_at_ms, chats, events_seq) VALUES ('s', 0, 0, 0)")
        conn.execute("INSERT INTO messages (chat, seq, at_ms, sender, text) VALUES ('C1', 1, ?, 'customer', 'hi')",
                     (T0,))
        conn.close()
        assert check_path(db) == []
    assert_found(corrupt(db, sql), fragment)


@pytest.mark.parametrize("column,value,bad", [
    ("command", "chat park C1", False), ("command", "chat send C1 'a\nb\tc'", False),
    ("command", "chat park 'C\x1b[31m'", False),  # as typed: its words may hold what a terminal acts on
    ("command", "chat park C\x00", True), ("command", "", True), ("command", b"blob", True),
    ("message", "unknown chat 'C\\x1b'", False), ("message", "unknown chat \x1b[2J", True),
    ("message", "two\nlines", True), ("message", "nul\x00", True), ("message", "", True), ("message", b"blob", True),
])
def test_a_refusals_command_and_message(db, column, value, bad):
    conn = sqlite3.connect(db, isolation_level=None)
    row = {"command": "chat park C1", "message": "cannot park C1"} | {column: value}
    conn.execute("INSERT INTO refusals (at_ms, agent, command, exit_code, message) VALUES (?, 'agent-1', ?, 3, ?)",
                  (T0, row["command"], row["message"]))
    conn.close()
    found = check_path(db)
    assert bool(found) == bad, found
    if bad:
        assert_found(found, "refusal 1: a bad time, agent, exit code (3 or 4), command or message")


def test_many_violations_are_capped(db):
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("UPDATE chats SET closed_reason = 'x', closed_at_ms = 0 WHERE state != 'closed'")
        found = check(conn, limit=2)
    finally:
        conn.close()
    lines = [line for line in found if "but has closed_reason" in line]
    assert len(lines) == 2
    assert "… and 5 more like the line above" in found


# -- not a chatemu database ---------------------------------------------------------------


def test_check_path_refuses_what_is_not_a_chatemu_database(tmp_path, db):
    text = tmp_path / "notes.txt"
    text.write_text("hello\n" * 100)
    empty = tmp_path / "empty.db"
    empty.touch()
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    truncated = tmp_path / "truncated.db"
    truncated.write_bytes(db.read_bytes()[:1000])
    for path in (text, empty, other, tmp_path, tmp_path / "missing.db", tmp_path / "no" / "such.db", truncated):
        before = path.read_bytes() if path.is_file() else None
        with pytest.raises(DatabaseError) as err:
            check_path(path)
        assert err.value.exit_code == 5
        assert str(path) in err.value.message
        if before is not None:
            assert path.read_bytes() == before


def test_check_path_refuses_a_newer_schema(db):
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 999")
    conn.commit()
    conn.close()
    with pytest.raises(DatabaseError, match="newer"):
        check_path(db)


def test_check_path_on_a_read_only_file(db):
    db.chmod(0o444)
    try:
        assert check_path(db) == []
    finally:
        db.chmod(0o644)


def test_check_path_keeps_working_while_a_writer_holds_the_database(db):
    writer = sqlite3.connect(db, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE chats SET state = 'bogus' WHERE id = 'C4'")
        assert check_path(db) == []  # WAL: the checker reads the last committed state
        writer.execute("ROLLBACK")
    finally:
        writer.close()


# -- heavy: history at scale ---------------------------------------------------------------

heavy = pytest.mark.skipif(not os.environ.get("CHATEMU_HEAVY"), reason="set CHATEMU_HEAVY=1 for the heavy variant")


def big_history(path: Path, chats: int = 100_000, per_chat: int = 10) -> None:
    """``chats`` closed chats, ``per_chat`` events each, in the shape the engine writes."""
    Engine(str(path), "agent-1", lambda: T0).clock_advance(0)
    path_of_states = [None, "queued", "new", "active", "parked", "active", "active-wrapup"]
    path_of_states += ["active-wrapup"] * (per_chat - len(path_of_states)) + ["closed"]
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    t, seq = T0, 0
    for n in range(1, chats + 1):
        rows = []
        created = t
        for i in range(per_chat):
            seq += 1
            rows.append((seq, t, None if i == 0 else "agent-1", f"C{n}", path_of_states[i], path_of_states[i + 1], "x"))
            t += 1
        conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        conn.execute(
            "INSERT INTO chats (id, number, state, agent, queue, priority, created_at_ms, closed_at_ms, closed_reason,"
            " parked_by_call, extension_ms, extensions_left, state_since_ms)"
            " VALUES (?, ?, 'closed', 'agent-1', 'default', 0, ?, ?, 'wrapup-finished', 0, 60000, 0, ?)",
            (f"C{n}", n, created, t - 1, t - 1),
        )
    conn.execute("INSERT INTO agents VALUES ('agent-1', 'available', 0, ?, ?)", (t, T0))
    conn.execute("UPDATE meta SET now_ms = ?", (t,))
    conn.execute("COMMIT")
    conn.close()


@heavy
def test_a_million_events_clean_and_one_corruption_found(tmp_path):
    path = tmp_path / "big.db"
    big_history(path)
    assert check_path(path) == []
    copy = copy_db(path, tmp_path / "corrupt.db")
    found = corrupt(copy, "UPDATE events SET from_state = 'new' WHERE seq = 654325")
    assert found == ["event 654325: chat C65433 goes from 'new', but its previous event 654324 left it 'parked'"]
