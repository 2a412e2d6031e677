"""Schema version 10: the queue's index by queue holds only the queued chats, and the events'
index by chat only the chats' events, so a chat moving inside an inbox (park, activate) and an
agent's status event write no entry in them.  Counted with SQLite's ``dbstat`` (the cells of
each index's leaf pages); a database of an older schema gets the same indexes when it upgrades,
and its first command looks for due timers whatever the clock."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from conftest import Chatemu, as_older_schema

FIXTURES = Path(__file__).parent / "fixtures"


def entries(db: Path, index: str) -> int:
    conn = sqlite3.connect(db)
    try:
        try:
            found = conn.execute(
                "SELECT coalesce(sum(ncell), 0) FROM dbstat WHERE name = ? AND pagetype = 'leaf'", (index,)
            ).fetchone()[0]
        except sqlite3.OperationalError as exc:  # an SQLite built without dbstat
            pytest.skip(f"this SQLite cannot count index entries: {exc}")
        return found
    finally:
        conn.close()


def count(db: Path, sql: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


def indexes(db: Path) -> dict[str, str]:
    conn = sqlite3.connect(db)
    try:
        return {name: " ".join(sql.split()) for name, sql in conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")}
    finally:
        conn.close()


def test_moves_in_an_inbox_and_agent_events_write_no_entry_in_the_queue_and_chat_indexes(cm):
    cm.ok("clock", "set", "2026-01-05T09:00:00Z")
    cm.ok("chat", "new", "--inbox", "--id", "L1", "--customer", "ann")
    for _ in range(3):
        cm.ok("chat", "activate", "L1")
        cm.ok("chat", "park", "L1")
    cm.ok("config", "set", "auto-present", "off")
    cm.ok("chat", "new", "--id", "Q1", "--customer", "bob", "--queue", "sales")
    cm.ok("chat", "new", "--id", "Q2", "--customer", "cy")
    cm.ok("agent", "login", agent="agent-2")
    cm.ok("agent", "break", agent="agent-2")
    assert count(cm.db, "SELECT count(*) FROM chats") == 3
    assert entries(cm.db, "idx_chats_queue_by_name") == 2  # Q1 and Q2, never L1
    chat_events = count(cm.db, "SELECT count(*) FROM events WHERE chat IS NOT NULL")
    assert chat_events < count(cm.db, "SELECT count(*) FROM events")  # agents' own events were logged
    assert entries(cm.db, "idx_events_chat_seq") == chat_events
    # What reads them still finds every row.
    assert cm.ok("queue", "show", "sales", "--json").json["waiting"] == 1
    assert [c["id"] for c in cm.ok("chat", "list", "--state", "queued", "--json").json] == ["Q1", "Q2"]
    assert cm.ok("chat", "show", "L1", "--json").json["state"] == "parked"
    assert cm.run("db", "check").code == 0


def test_a_schema_7_database_upgrades_to_the_same_indexes_as_a_new_one(tmp_path):
    old = tmp_path / "v7.db"
    shutil.copyfile(FIXTURES / "schema-v7.db", old)
    new = tmp_path / "new.db"
    Chatemu(old).ok("clock", "advance", "0s")
    Chatemu(new).ok("clock", "advance", "0s")
    assert indexes(old) == indexes(new)
    assert "WHERE state = 'queued'" in indexes(new)["idx_chats_queue_by_name"]
    queued = count(old, "SELECT count(*) FROM chats WHERE state = 'queued'")
    assert queued and entries(old, "idx_chats_queue_by_name") == queued
    assert Chatemu(old).run("db", "check").code == 0


def test_the_upgrade_runs_out_a_timer_an_older_chatemu_left_due(cm):
    """An older chatemu could leave a timer due at its stored clock (an offer that timed out the
    instant it was made): the first command after the upgrade runs it out, clock moved or not."""
    cm.ok("clock", "set", "2026-01-05T09:00:00Z")
    cm.ok("config", "set", "offer-timeout", "30s")
    cm.ok("chat", "new", "--customer", "ann")  # C1 offered to agent-1
    as_older_schema(cm.db, 9, "0010_lean_indexes",  # as schema 9 left it: the offer due at the stored clock
                    "UPDATE chats SET offer_deadline_ms = (SELECT now_ms FROM meta) WHERE id = 'C1'")
    cm.ok("clock", "advance", "0s")
    assert cm.ok("chat", "show", "C1", "--json").json["state"] == "queued"
    assert cm.run("db", "check").code == 0
