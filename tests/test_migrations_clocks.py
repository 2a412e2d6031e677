"""Schema version 8 (the clocks beyond wrap-up): a database, a snapshot and a bundle that
schema 7 made upgrade keeping every row, with no timer running until the next offer,
arrival, message or break starts one.

``fixtures/schema-v7.db`` was written by chatemu's schema 7 on a virtual clock from
2026-01-05T09:00: offer-timeout 30s, patience 2m and reply-alert 1m set (schema 7 knew the
keys but did nothing with them); C1 (Ann) presented to agent-1 and a customer message on it;
agent-2 on a lunch break; C2 (Bob) queued with a customer message; a snapshot ``two``; then the
clock advanced ten minutes.  ``fixtures/bundle-v7.json`` is what schema 7's ``export`` wrote of it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from chatemu.store import schema
from conftest import Chatemu

FIXTURES = Path(__file__).parent / "fixtures"
OLD_TABLES = ("meta", "config", "agents", "chats", "events", "messages", "queues", "agent_queues", "refusals")
NEW_CHAT_COLUMNS = ("patience_ms", "waiting_since_ms", "offer_deadline_ms", "patience_deadline_ms", "idle_deadline_ms",
                    "awaiting_since_ms", "alert_deadline_ms", "alerting_since_ms")


def table_rows(db: Path, table: str, columns: str = "*") -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(f"SELECT {columns} FROM {table} ORDER BY rowid").fetchall()
    finally:
        conn.close()


def old_columns(db: Path, table: str) -> str:
    conn = sqlite3.connect(db)
    try:
        return ", ".join(r[1] for r in conn.execute(f"PRAGMA table_info({table})"))
    finally:
        conn.close()


def version(db: Path) -> int:
    return table_rows(db, "pragma_user_version")[0][0]


@pytest.fixture
def v7(tmp_path) -> Chatemu:
    db = tmp_path / "v7.db"
    shutil.copyfile(FIXTURES / "schema-v7.db", db)
    return Chatemu(db)


def test_the_fixture_is_schema_7(v7):
    assert version(v7.db) == 7 and schema.SCHEMA_VERSION >= 8


def test_reads_leave_a_v7_file_as_it_is(v7):
    before = hashlib.sha256(v7.db.read_bytes()).hexdigest()
    chat = v7.chat("C1")
    assert chat["state"] == "new" and chat["alerting"] is False and chat["awaiting_reply_since"] is None
    assert hashlib.sha256(v7.db.read_bytes()).hexdigest() == before


def test_upgrade_keeps_every_row_and_starts_no_timer(v7):
    columns = {table: old_columns(v7.db, table) for table in OLD_TABLES}
    before = {table: table_rows(v7.db, table, columns[table]) for table in OLD_TABLES}
    v7.ok("clock", "advance", "0s")
    assert version(v7.db) == schema.SCHEMA_VERSION
    for table in OLD_TABLES:
        assert table_rows(v7.db, table, columns[table]) == before[table], f"{table} changed by the upgrade"
    assert set(table_rows(v7.db, "chats", ", ".join(NEW_CHAT_COLUMNS))) == {(None,) * len(NEW_CHAT_COLUMNS)}
    assert set(table_rows(v7.db, "agents", "break_deadline_ms, overrun_since_ms")) == {(None, None)}
    assert v7.run("db", "check").code == 0, v7.run("db", "check")
    # No timer runs out for what happened before the upgrade: C1 stays offered, C2 waits.
    v7.ok("clock", "advance", "1h")
    assert v7.chat("C1")["state"] == "new" and v7.chat("C2")["state"] == "queued"
    # What happens from now on has its clocks: a new customer's patience, a new message's alert.
    v7.ok("chat", "new", "--customer", "Cy")
    v7.ok("clock", "advance", "2m")
    assert v7.chat("C3")["closed_reason"] == "abandoned"
    v7.ok("chat", "receive", "C2", "still here?")
    v7.ok("clock", "advance", "1m")
    assert v7.chat("C2")["alerting"] is True
    assert v7.run("db", "check").code == 0, v7.run("db", "check")


def test_a_snapshot_schema_7_saved_restores(v7):
    v7.ok("snapshot", "restore", "two")
    assert version(v7.db) == schema.SCHEMA_VERSION
    assert v7.chat("C2")["state"] == "queued" and v7.chat("C2")["awaiting_reply_since"] is None
    assert v7.run("db", "check").code == 0, v7.run("db", "check")


def test_a_schema_7_bundle_imports_and_exports_with_the_new_columns(tmp_path):
    other = Chatemu(tmp_path / "imported.db")
    other.ok("import", str(FIXTURES / "bundle-v7.json"))
    assert other.run("db", "check").code == 0, other.run("db", "check")
    exported = json.loads(other.ok("export", "-").out)
    assert exported["schema_version"] == schema.SCHEMA_VERSION
    chats = exported["state"]["chats"]
    assert [c["id"] for c in chats] == ["C1", "C2"]
    assert all(c[name] is None for c in chats for name in NEW_CHAT_COLUMNS)
    assert all(a["break_deadline_ms"] is None and a["overrun_since_ms"] is None for a in exported["state"]["agents"])
