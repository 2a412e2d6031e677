"""`db check` on the clocks beyond wrap-up: clean after a history where every clock ran, and
each of their invariants caught when a real database is corrupted by a direct SQL UPDATE."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from chatemu.store.check import check_path
from chatemu.store.engine import Engine

T0 = 1_767_603_600_000  # 2026-01-05T09:00:00Z


def make_db(path: Path) -> Path:
    """Every clock ran or runs: an offer timed out (agent-1 not-responding), a customer
    abandoned by patience, a chat alerting, an idle timer and an offer timer running, a break
    overrun and a limited break running."""
    wall = lambda: T0  # noqa: E731
    a1, a2, a3 = (Engine(str(path), agent, wall) for agent in ("agent-1", "agent-2", "agent-3"))
    a1.clock_set(T0)
    a1.agent_login()
    for key, value in (("offer-timeout", "30s"), ("patience", "5m"), ("reply-alert", "1m"),
                       ("customer-idle-timeout", "10m")):
        a1.config_set(key, value)
    a1.break_reason_add("lunch", "10m")
    a2.agent_login()
    a2.agent_presence("break", "lunch")
    a3.agent_login()
    a3.agent_presence("break", "lunch")
    a1.chat_new()  # C1 → agent-1, times out at 30 s
    a1.clock_advance(40_000)
    a3.agent_presence("available")  # C1 → agent-3
    a3.chat_activate("C1")
    a3.chat_send("C1", "hello")  # idle timer runs
    a1.chat_new(patience="20s")  # C2 waits (agent-3 is busy), abandoned at 60 s
    a1.chat_new()  # C3 waits: patience runs
    a1.chat_receive("C3", "hi?")  # its alert runs out at 1m40s
    a1.clock_advance(120_000)  # 02:40: C2 abandoned, C3 alerting
    a1.clock_advance(600_000)  # 12:40: agent-2's lunch overran at 10:00, C1's customer went idle at 10:40
    return path


@pytest.fixture(scope="module")
def clean_db(tmp_path_factory) -> Path:
    return make_db(tmp_path_factory.mktemp("clocks") / "clocks.db")


@pytest.fixture
def db(clean_db, tmp_path) -> Path:
    copy = tmp_path / "copy.db"
    copy.write_bytes(clean_db.read_bytes())
    return copy


def corrupt(db: Path, sql: str, *params) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        conn.execute(sql, params)
        conn.commit()
    finally:
        conn.close()
    return check_path(db)


def test_the_history_is_clean_and_holds_every_clock(clean_db):
    assert check_path(clean_db) == []
    conn = sqlite3.connect(clean_db)
    try:
        causes = {r[0] for r in conn.execute("SELECT DISTINCT cause FROM events")}
        presence = dict(conn.execute("SELECT id, presence FROM agents"))
        overrun = conn.execute("SELECT count(*) FROM agents WHERE overrun_since_ms IS NOT NULL").fetchone()[0]
    finally:
        conn.close()
    assert {"offer-timeout", "patience", "reply-alert", "break-overrun"} <= causes
    assert presence["agent-1"] == "not-responding" and overrun >= 1


@pytest.mark.parametrize("sql,expected", [
    ("UPDATE chats SET offer_deadline_ms = 9999999999999 WHERE id = 'C1'", "with an offer timer"),
    ("UPDATE chats SET patience_deadline_ms = 9999999999999 WHERE id = 'C1'", "with a patience timer"),
    ("UPDATE chats SET idle_deadline_ms = 9999999999999 WHERE id = 'C2'", "with an idle timer"),
    ("UPDATE chats SET idle_deadline_ms = 1 WHERE id = 'C1'", "not past the stored clock"),
    ("UPDATE chats SET alerting_since_ms = 1767603600000 WHERE id = 'C2'", "reply alert that does not fit"),
    ("UPDATE chats SET alert_deadline_ms = 9999999999999 WHERE id = 'C1'", "reply alert that does not fit"),
    ("UPDATE chats SET awaiting_since_ms = 1767603600001 WHERE id = 'C3'", "no unanswered customer message"),
    ("UPDATE agents SET break_deadline_ms = 9999999999999 WHERE id = 'agent-3'", "break limit running or overrun"),
    ("UPDATE agents SET overrun_since_ms = 1767603600000 WHERE id = 'agent-1'", "break limit running or overrun"),
    ("UPDATE agents SET presence = 'not-responding', status = 'not-responding' WHERE id = 'agent-3'",
     "the replay of its status events"),
    ("UPDATE config SET value = 'lunch=x' WHERE key = 'break-limits'", "break-limits holds"),
])
def test_each_clock_invariant_is_caught(db, sql, expected):
    found = corrupt(db, sql)
    assert any(expected in line for line in found), found


def test_a_not_responding_agent_presented_a_chat_since_is_caught(db):
    conn = sqlite3.connect(db)
    try:
        seq = conn.execute("SELECT max(seq) FROM events").fetchone()[0]
        at = conn.execute("SELECT now_ms FROM meta").fetchone()[0]
        conn.execute("INSERT INTO events (seq, at_ms, agent, chat, from_state, to_state, cause, queue)"
                     " VALUES (?, ?, 'agent-1', 'C9', 'queued', 'new', 'presentation', 'default')", (seq + 1, at))
        conn.commit()
    finally:
        conn.close()
    assert any("not-responding, yet presented a chat since" in line for line in check_path(db))
