"""Migrations: a database made by the first released schema (version 1) upgrades, losing nothing.

``tests/fixtures/schema-v1.db`` was written by chatemu's first schema: three chats (parked-wrapup,
parked by a call, abandoned), two agents (one on a call, one on a break), thirteen events, a global
and a per-queue config row, and no ``snapshots`` table.  The fixture is never opened in place (even
a read-only SQLite connection leaves ``-wal``/``-shm`` files next to a WAL database): every test
works on a copy in its own temp folder.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from chatemu.store import schema

from conftest import Chatemu

FIXTURE = Path(__file__).parent / "fixtures" / "schema-v1.db"
#: The tables schema version 1 had, with their rows compared one by one.
V1_TABLES = ("meta", "config", "agents", "chats", "events", "sqlite_sequence")


#: The columns schema version 1 gave each of those tables (later versions add columns).
V1_COLUMNS = {
    "chats": "id, number, state, agent, customer, queue, priority, created_at_ms, closed_at_ms, closed_reason,"
             " parked_by_call, wrapup_deadline_ms, wrapup_remaining_ms, extension_ms, extensions_left,"
             " state_since_ms, active_ms, parked_ms, wrapup_ms",
    "agents": "id, presence, on_call, last_activity_ms, created_at_ms",
    "events": "seq, at_ms, agent, chat, from_state, to_state, cause",
}


def rows(path: Path, tables=V1_TABLES, columns=V1_COLUMNS) -> dict[str, list[tuple]]:
    """Every row of the given tables (only their old columns), in rowid order, plus the pragmas."""
    conn = sqlite3.connect(path)
    try:
        found = {t: conn.execute(f"SELECT {columns.get(t, '*')} FROM {t} ORDER BY rowid").fetchall() for t in tables}
        found["user_version"] = conn.execute("PRAGMA user_version").fetchone()[0]
        found["application_id"] = conn.execute("PRAGMA application_id").fetchone()[0]
        found["tables"] = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return found
    finally:
        conn.close()


def file_bytes(path: Path) -> tuple[str, str]:
    """A hash of the database file and of its WAL (a missing WAL counts as an empty one)."""
    wal = Path(f"{path}-wal")
    return (
        hashlib.sha256(path.read_bytes()).hexdigest(),
        hashlib.sha256(wal.read_bytes() if wal.exists() else b"").hexdigest(),
    )


@pytest.fixture
def v1(tmp_path) -> tuple[Chatemu, dict]:
    """A copy of the version-1 fixture, and its rows read from a second, throw-away copy."""
    probe = tmp_path / "probe" / "v1.db"
    probe.parent.mkdir()
    shutil.copyfile(FIXTURE, probe)
    before = rows(probe)
    db = tmp_path / "v1.db"
    shutil.copyfile(FIXTURE, db)
    return Chatemu(db), before


def test_fixture_is_schema_version_1(v1):
    _, before = v1
    assert before["user_version"] == 1
    assert before["application_id"] == schema.APPLICATION_ID
    assert "snapshots" not in before["tables"]
    assert schema.SCHEMA_VERSION > 1, "nothing to migrate: the test would prove nothing"
    # The history the other tests rely on.
    assert [r[0] for r in before["chats"]] == ["C1", "C2", "C3"]
    assert len(before["agents"]) == 2 and len(before["events"]) == 13 and len(before["config"]) == 2


def test_read_only_commands_work_on_v1_without_writing(v1):
    """Reads see the old database (migrated inside their transaction) and roll back: no upgrade, no byte changed."""
    cm, before = v1
    hashes = file_bytes(cm.db)
    listed = cm.js("chat", "list", "--all")
    assert [(c["id"], c["state"], c["customer"]) for c in listed] == [
        ("C1", "parked-wrapup", "Ann"), ("C2", "parked", "Bob"), ("C3", "closed", "Cy"),
    ]
    assert len(cm.js("events")) == 13
    cm.ok("agent", "status", "agent-1")
    cm.ok("config", "show")
    cm.ok("db", "check")
    assert file_bytes(cm.db) == hashes
    assert rows(cm.db)["user_version"] == 1


def test_upgrade_loses_nothing(v1):
    cm, before = v1
    # A state-changing command that changes nothing else: it must upgrade the file.
    cm.ok("clock", "advance", "0s")
    after = rows(cm.db)
    assert after["user_version"] == schema.SCHEMA_VERSION
    assert after["application_id"] == schema.APPLICATION_ID
    assert "snapshots" in after["tables"]
    for table in V1_TABLES:
        assert after[table] == before[table], f"{table} changed by the upgrade"
    # sqlite-utils' record of applied migrations: the first kept, the new ones added.
    conn = sqlite3.connect(cm.db)
    try:
        (table,) = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE '%migrations%'")]
        applied = [r[0] for r in conn.execute(f"SELECT name FROM {table} ORDER BY rowid")]
    finally:
        conn.close()
    import sqlite_utils

    defined = [m.name for m in schema._migrations(sqlite_utils, 0)._migrations]
    assert applied[0] == "0001_initial" and "0002_snapshots" in applied and applied == defined
    assert cm.run("db", "check").code == 0, cm.run("db", "check")


def test_upgraded_database_works(v1):
    cm, before = v1
    listed_v1 = cm.js("chat", "list", "--all")
    events_v1 = cm.js("events")
    cm.ok("clock", "advance", "0s")
    # The same chats and events, through the CLI.
    assert cm.js("chat", "list", "--all") == listed_v1
    assert cm.js("events") == events_v1
    assert [(e["seq"], e["chat"], e["from"], e["to"], e["cause"]) for e in events_v1] == [
        (r[0], r[3], r[4], r[5], r[6]) for r in before["events"]
    ]
    # The version-1 state carries on: agent-1 is on a call with C2 parked by it; agent-2 on a break.
    assert cm.js("agent", "status", "agent-1")["status"] == "on-call"
    assert cm.js("agent", "status", "agent-2")["presence"] == "break"
    assert cm.js("config", "show") is not None
    # Snapshots (the table version 2 added) work.
    saved = cm.js("snapshot", "save", "after-upgrade")
    assert saved["replaced"] is False
    assert [s["name"] for s in cm.js("snapshot", "list")] == ["after-upgrade"]
    # More history on top of the old one.
    cm.ok("chat", "call-end")
    assert cm.chat("C2")["state"] == "parked"
    cm.ok("chat", "activate", "C1")
    assert cm.chat("C1")["state"] == "active-wrapup"
    cm.ok("clock", "advance", "1m")
    assert cm.chat("C1")["state"] == "closed" and cm.chat("C1")["closed_reason"] == "wrapup-expired"
    cm.ok("chat", "new", "--customer", "Dee", "--queue", "sales")
    assert cm.run("db", "check").code == 0, cm.run("db", "check")
    # ...and back to the snapshot: the upgraded-from-v1 state exactly.
    cm.ok("snapshot", "restore", "after-upgrade")
    assert cm.js("chat", "list", "--all") == listed_v1
    assert cm.js("events") == events_v1
    assert cm.run("db", "check").code == 0, cm.run("db", "check")


def test_export_of_upgraded_database_round_trips(v1, tmp_path):
    cm, _ = v1
    cm.ok("clock", "advance", "0s")
    bundle = tmp_path / "v1.json"
    cm.ok("export", str(bundle))
    other = Chatemu(tmp_path / "imported.db")
    other.ok("import", str(bundle))
    assert other.js("chat", "list", "--all") == cm.js("chat", "list", "--all")
    assert other.js("events") == cm.js("events")
    assert other.run("export", "-").out == cm.run("export", "-").out


def test_concurrent_first_commands_upgrade_once(v1):
    """Several processes meeting an old database at once: one upgrades, the others see it done."""
    cm, before = v1
    with ThreadPoolExecutor(6) as pool:
        done = list(pool.map(lambda i: cm.run("--agent", f"x{i}", "agent", "login"), range(6)))
    assert all(d.code == 0 and d.err == "" for d in done), done
    after = rows(cm.db)
    assert after["user_version"] == schema.SCHEMA_VERSION
    # the upgrade's and each login's events come after the old ones, which are as they were
    assert after["events"][:len(before["events"])] == before["events"]
    assert sorted(e[2] for e in after["events"][len(before["events"]):] if e[6] == "login") == [f"x{i}" for i in range(6)]
    assert {a[0] for a in after["agents"]} == {"agent-1", "agent-2"} | {f"x{i}" for i in range(6)}
    assert cm.run("db", "check").code == 0


@pytest.mark.parametrize("version", [schema.SCHEMA_VERSION + 1, 99])
def test_newer_schema_is_refused_unchanged(tmp_path, version):
    db = tmp_path / "newer.db"
    shutil.copyfile(FIXTURE, db)
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version={version}")
    conn.close()
    cm = Chatemu(db)
    hashes = file_bytes(db)
    commands = [
        ("chat", "list", "--all"), ("chat", "show", "C1"), ("chat", "new", "--customer", "Eve"),
        ("chat", "activate", "C1"), ("clock", "advance", "1s"), ("agent", "available"),
        ("events", "--json"), ("snapshot", "save", "s"), ("export", "-"), ("db", "check"),
        ("expect", "chat", "C1", "state=parked-wrapup"), ("config", "set", "max-chats", "5"),
    ]
    for args in commands:
        done = cm.run(*args)
        assert done.code == 5, done
        assert done.out == "", done
        assert done.err.count("\n") == 1 and done.err.startswith("error: ") and "newer" in done.err, done
        assert file_bytes(db) == hashes, f"bytes changed by {done}"
    assert rows(db)["user_version"] == version


def reimported(tmp_path: Path, text: str) -> Chatemu:
    """A new database importing the bundle ``text``; exporting it gives ``text`` back, byte for byte."""
    again = Chatemu(tmp_path / "again.db")
    again.ok("import", "-", stdin=text)
    assert again.run("export", "-").out == text
    return again


# == schema version 2 (before messages, contacts, templates and classification) ==================

FIXTURE_V2 = Path(__file__).parent / "fixtures" / "schema-v2.db"
BUNDLE_V2 = Path(__file__).parent / "fixtures" / "bundle-v2.json"
V2_TABLES = V1_TABLES + ("snapshots",)


@pytest.fixture
def v2(tmp_path) -> tuple[Chatemu, dict]:
    """A copy of the version-2 fixture (written by chatemu's schema 2: four chats — parked by a call,
    parked-wrapup, new, closed — two agents, per-queue config, a snapshot), and its rows."""
    probe = tmp_path / "probe" / "v2.db"
    probe.parent.mkdir()
    shutil.copyfile(FIXTURE_V2, probe)
    before = rows(probe, V2_TABLES)
    db = tmp_path / "v2.db"
    shutil.copyfile(FIXTURE_V2, db)
    return Chatemu(db), before


def test_fixture_is_schema_version_2(v2):
    _, before = v2
    assert before["user_version"] == 2
    assert "messages" not in before["tables"] and "snapshots" in before["tables"]
    assert schema.SCHEMA_VERSION > 2


def test_v2_upgrade_keeps_every_row_and_fills_the_new_columns(v2):
    cm, before = v2
    cm.ok("clock", "advance", "0s")
    after = rows(cm.db, V1_TABLES)
    assert after["user_version"] == schema.SCHEMA_VERSION
    for table in V1_TABLES:
        assert after[table] == before[table], f"{table} changed by the upgrade"
    # Snapshots are kept compressed since version 4: the same names and times, and their chats counted.
    assert [(s["name"], s["created_at"], s["chats"]) for s in cm.js("snapshot", "list")] == [
        ("mid", "2026-01-05T09:00:10.000Z", 3)]
    assert [r[:2] for r in before["snapshots"]] == [("mid", 1767603610000)]
    chats = {c["id"]: c for c in cm.js("chat", "list", "--all")}
    for chat in chats.values():
        assert chat["origin_queue"] == chat["queue"]
        assert chat["contact"] == chat["customer"]
        assert (chat["transfers"], chat["unread"], chat["messages"], chat["abusive"]) == (0, 0, 0, False)
        assert (chat["classification"], chat["classification_note"]) == (None, None)
    assert [c["id"] for c in cm.js("contact", "history", "Ann")["chats"]] == ["C1", "C4"]
    assert cm.run("db", "check").code == 0, cm.run("db", "check")


def test_v2_reads_work_without_writing_and_its_snapshot_restores_after_the_upgrade(v2):
    cm, before = v2
    hashes = file_bytes(cm.db)
    listed = cm.js("chat", "list", "--all")
    cm.ok("db", "check")
    assert file_bytes(cm.db) == hashes
    cm.ok("snapshot", "restore", "mid")  # a state saved by schema 2, loaded into schema 3
    assert rows(cm.db)["user_version"] == schema.SCHEMA_VERSION
    restored = {c["id"]: c for c in cm.js("chat", "list", "--all")}
    assert set(restored) == {"C1", "C2", "C3"}
    assert restored["C3"]["origin_queue"] == "sales" and restored["C3"]["contact"] == "Cy"
    assert cm.run("db", "check").code == 0, cm.run("db", "check")
    # The upgraded database goes on: a conversation on top of the old history.
    cm.ok("chat", "activate", "C1")
    cm.ok("chat", "send", "C1", "sorry for the wait")
    cm.ok("chat", "receive", "C1", "no problem")
    assert cm.chat("C1")["messages"] == 2
    assert listed[0]["id"] == "C1"
    assert cm.run("db", "check").code == 0, cm.run("db", "check")


def test_a_v2_bundle_imports_upgraded_and_round_trips(v2, tmp_path):
    cm, _ = v2
    bundle = json.loads(BUNDLE_V2.read_text())
    assert bundle["schema_version"] == 2 and "messages" not in bundle["state"]
    imported = Chatemu(tmp_path / "imported.db")
    imported.ok("import", str(BUNDLE_V2))
    cm.ok("clock", "advance", "0s")
    assert imported.js("chat", "list", "--all") == cm.js("chat", "list", "--all")
    assert imported.js("events") == cm.js("events")
    text = imported.run("export", "-").out
    assert json.loads(text)["schema_version"] == schema.SCHEMA_VERSION
    reimported(tmp_path, text)
    imported.ok("snapshot", "restore", "mid")
    assert imported.run("db", "check").code == 0


# == schema version 3 (before compact snapshots) =================================================

FIXTURE_V3 = Path(__file__).parent / "fixtures" / "schema-v3.db"
BUNDLE_V3 = Path(__file__).parent / "fixtures" / "bundle-v3.json"
V3_TABLES = ("meta", "config", "agents", "chats", "events", "sqlite_sequence", "contacts", "messages", "templates",
             "classification_codes")


@pytest.fixture
def v3(tmp_path) -> tuple[Chatemu, dict]:
    """A copy of the version-3 fixture and its rows.  Written by chatemu's schema 3: the
    version-2 fixture upgraded, then a conversation on top (templates and codes, messages,
    a classification and its note, the abusive flag, a contact, a transfer to another
    agent, a running wrap-up timer, a queued chat) and a second snapshot, ``webchat``;
    ``mid`` is the snapshot schema 2 saved.  ``bundle-v3.json`` is what schema 3's
    ``export`` wrote of it."""
    probe = tmp_path / "probe" / "v3.db"
    probe.parent.mkdir()
    shutil.copyfile(FIXTURE_V3, probe)
    before = rows(probe, V3_TABLES + ("snapshots",))
    db = tmp_path / "v3.db"
    shutil.copyfile(FIXTURE_V3, db)
    return Chatemu(db), before


#: The columns schema 8 added (the clocks: store/clocks.py), null in an upgraded state.
SCHEMA_8_CHATS = ("patience_ms", "waiting_since_ms", "offer_deadline_ms", "patience_deadline_ms", "idle_deadline_ms",
                  "awaiting_since_ms", "alert_deadline_ms", "alerting_since_ms")
SCHEMA_8_AGENTS = ("break_deadline_ms", "overrun_since_ms")


def as_schema_3(text: str) -> dict:
    """A bundle as schema 3 held it: without what schema 5 added (queues and who serves them,
    the agents' logged status, break reason and capacity, each chat event's queue, and the
    events the upgrade logged) and schema 6's journal of refusals, ``schema_version`` left out."""
    import json

    def state(found: dict) -> dict:
        found = dict(found)
        assert found.get("refusals", []) == []  # nothing refused in these histories
        for table in ("queues", "agent_queues", "refusals"):
            found.pop(table, None)
        found["agents"] = [{k: v for k, v in a.items() if k not in (
            "status", "status_since_ms", "break_reason", "max_chats", "queues_since_ms") + SCHEMA_8_AGENTS}
            for a in found["agents"]]
        assert all(c.get(k) is None for c in found["chats"] for k in SCHEMA_8_CHATS)  # no clock ran
        found["chats"] = [{k: v for k, v in c.items() if k not in SCHEMA_8_CHATS} for c in found["chats"]]
        found["events"] = [{k: v for k, v in e.items() if k != "queue"} for e in found["events"]
                           if e["cause"] != "upgrade"]
        found["events_seq"] = max([e["seq"] for e in found["events"]] + [0])
        return found

    document = json.loads(text)
    document.pop("schema_version")
    document["state"] = state(document["state"])
    document["snapshots"] = [{**snap, "state": state(snap["state"])} for snap in document["snapshots"]]
    return document


def v3_bundle_as_now() -> str:
    """The bundle schema 3 exported, as this chatemu exports the same database: only the
    schema version differs."""
    text = BUNDLE_V3.read_text(encoding="utf-8")
    assert text.count('"schema_version":3,') == 1
    return text.replace('"schema_version":3,', f'"schema_version":{schema.SCHEMA_VERSION},')


def test_fixture_is_schema_version_3(v3):
    _, before = v3
    assert before["user_version"] == 3
    assert "messages" in before["tables"] and "snapshot_parts" not in before["tables"]
    assert [r[0] for r in before["snapshots"]] == ["mid", "webchat"]
    assert all(isinstance(r[2], str) for r in before["snapshots"])  # the whole state, as JSON text
    assert schema.SCHEMA_VERSION > 3


def test_v3_upgrade_keeps_every_row_and_compacts_the_snapshots(v3):
    cm, before = v3
    cm.ok("clock", "advance", "0s")
    after = rows(cm.db, V3_TABLES)
    assert after["user_version"] == schema.SCHEMA_VERSION
    upgrade = after["events"][len(before["events"]):]  # each agent's status where the log lacked it
    after["events"] = after["events"][:len(before["events"])]
    assert upgrade and all(e[6] == "upgrade" and e[3] is None for e in upgrade), upgrade
    after["sqlite_sequence"] = [(name, seq - len(upgrade) if name == "events" else seq)
                                for name, seq in after["sqlite_sequence"]]
    for table in V3_TABLES:
        assert after[table] == before[table], f"{table} changed by the upgrade"
    assert "snapshot_parts" in after["tables"]
    assert [(s["name"], s["created_at"], s["chats"]) for s in cm.js("snapshot", "list")] == [
        ("mid", "2026-01-05T09:00:10.000Z", 3), ("webchat", "2026-01-05T09:00:15.000Z", 6)]
    conn = sqlite3.connect(cm.db)
    try:
        assert [r[1] for r in conn.execute("PRAGMA table_info(snapshots)")] == [
            "name", "created_at_ms", "chats", "events_seq"]
        stored = conn.execute("SELECT sum(length(data)) FROM snapshot_parts").fetchone()[0]
    finally:
        conn.close()
    assert stored < sum(len(r[2]) for r in before["snapshots"]) / 2  # compressed
    assert cm.run("db", "check").code == 0, cm.run("db", "check")


def test_v3_export_is_byte_for_byte_what_schema_3_exported(v3, tmp_path):
    cm, _ = v3
    hashes = file_bytes(cm.db)
    expected = as_schema_3(v3_bundle_as_now())
    assert as_schema_3(cm.ok("export", "-").out) == expected  # read-only: upgraded inside, rolled back
    assert file_bytes(cm.db) == hashes
    cm.ok("clock", "advance", "0s")
    assert as_schema_3(cm.ok("export", "-").out) == expected


def test_v3_snapshots_restore_as_their_imported_copies_do(v3, tmp_path):
    """Each snapshot restored from the upgraded database equals the same snapshot restored
    from schema 3's bundle, imported: ``mid`` (saved by schema 2) and ``webchat``."""
    cm, _ = v3
    imported = Chatemu(tmp_path / "imported.db")
    imported.ok("import", str(BUNDLE_V3))
    for name, chats in (("mid", 3), ("webchat", 6)):
        for db in (cm, imported):
            db.ok("snapshot", "restore", name)
            assert db.run("db", "check").code == 0, db.run("db", "check")
        assert len(cm.js("chat", "list", "--all")) == chats
        for command in (("chat", "list", "--all"), ("events",), ("agent", "list"), ("config", "show"),
                        ("template", "list"), ("classification", "list"), ("contact", "history", "Ann")):
            assert cm.js(*command) == imported.js(*command), command
    assert cm.chat("C3")["classification"] == "resolved" and cm.chat("C3")["abusive"] is True
    assert [m["text"] for m in cm.js("chat", "transcript", "C3")] == [
        "Hello, how can I help?", "my order is late", "checking now", "thanks"]


def test_a_v3_bundle_imports_and_round_trips_byte_for_byte(tmp_path):
    imported = Chatemu(tmp_path / "imported.db")
    imported.ok("import", str(BUNDLE_V3))
    text = imported.run("export", "-").out
    assert as_schema_3(text) == as_schema_3(v3_bundle_as_now())
    reimported(tmp_path, text)


# == schema version 4 (before agents and queues) ==================================================

FIXTURE_V4 = Path(__file__).parent / "fixtures" / "schema-v4.db"
BUNDLE_V4 = Path(__file__).parent / "fixtures" / "bundle-v4.json"


@pytest.fixture
def v4(tmp_path) -> tuple[Chatemu, dict]:
    """A copy of the version-4 fixture and its rows.  Written by chatemu's schema 4: agent-1
    (created by the first chat, never a status event) with C1 parked in wrap-up and C2 new
    (transferred to billing and back to it); agent-2 back from a break with C4; agent-3 on a
    call with C3 parked by it; queues sales, default, support and billing named only by chats;
    a snapshot ``mid``.  ``bundle-v4.json`` is what schema 4's ``export`` wrote of it."""
    db = tmp_path / "v4.db"
    shutil.copyfile(FIXTURE_V4, db)
    return Chatemu(db), rows(db, V3_TABLES)


def test_v4_upgrade_keeps_every_row_and_adds_queues_and_statuses(v4):
    cm, before = v4
    assert before["user_version"] == 4 and "queues" not in before["tables"]
    cm.ok("clock", "advance", "0s")
    after = rows(cm.db, V3_TABLES)
    assert after["user_version"] == schema.SCHEMA_VERSION
    added = after["events"][len(before["events"]):]
    # agent-1 never logged a status: it gets one; agent-2 and agent-3 logged theirs already
    assert [(e[2], e[4], e[5], e[6]) for e in added] == [("agent-1", None, "available", "upgrade")]
    after["events"] = after["events"][:len(before["events"])]
    after["sqlite_sequence"] = [(n, s - len(added) if n == "events" else s) for n, s in after["sqlite_sequence"]]
    for table in V3_TABLES:
        assert after[table] == before[table], f"{table} changed by the upgrade"
    assert [q["name"] for q in cm.js("queue", "list")] == ["billing", "default", "sales", "support"]
    assert [(a["id"], a["status"]) for a in cm.js("agent", "list")] == [
        ("agent-1", "available"), ("agent-2", "available"), ("agent-3", "on-call")]
    assert all(cm.js("agent", "queues", agent=a)["all"] for a in ("agent-1", "agent-2", "agent-3"))
    conn = sqlite3.connect(cm.db)
    try:
        queues = dict(conn.execute("SELECT chat, queue FROM events WHERE chat IS NOT NULL GROUP BY chat"))
    finally:
        conn.close()
    assert queues == {"C1": "sales", "C2": "billing", "C3": "support", "C4": "support"}  # the chat's queue now
    assert cm.run("db", "check").code == 0, cm.run("db", "check")
    cm.ok("snapshot", "restore", "mid")  # saved by schema 4: upgraded as it is loaded
    assert cm.run("db", "check").code == 0, cm.run("db", "check")
    assert [q["name"] for q in cm.js("queue", "list")] == ["default", "sales"]


def test_a_v4_bundle_imports_upgraded_and_round_trips(tmp_path):
    imported = Chatemu(tmp_path / "imported.db")
    imported.ok("import", str(BUNDLE_V4))
    assert imported.run("db", "check").code == 0
    text = imported.run("export", "-").out
    assert as_schema_3(text)["state"]["chats"] == as_schema_3(BUNDLE_V4.read_text())["state"]["chats"]
    again = reimported(tmp_path, text)
    again.ok("snapshot", "restore", "mid")
    assert again.run("db", "check").code == 0


# == schema version 5 (before the journal of refusals) ============================================

FIXTURE_V5 = Path(__file__).parent / "fixtures" / "schema-v5.db"
V5_TABLES = V3_TABLES + ("queues", "agent_queues", "snapshots")


@pytest.fixture
def v5(tmp_path) -> tuple[Chatemu, dict]:
    """A copy of the version-5 fixture and its rows.  Written by chatemu's schema 5: agent-1 with
    C1 parked in wrap-up (40 s left) and C2 active; agent-2 logged in; a snapshot ``mid`` saved
    before agent-2 came; one command refused (before any journal of refusals existed)."""
    db = tmp_path / "v5.db"
    shutil.copyfile(FIXTURE_V5, db)
    return Chatemu(db), rows(db, V5_TABLES)


def test_v5_upgrade_keeps_every_row_and_adds_an_empty_journal(v5):
    cm, before = v5
    assert before["user_version"] == 5 and "refusals" not in before["tables"]
    assert cm.js("refusals") == []  # read-only: read through the upgrade, rolled back
    assert rows(cm.db)["user_version"] == 5
    cm.ok("clock", "advance", "0s")
    after = rows(cm.db, V5_TABLES)
    assert after["user_version"] == schema.SCHEMA_VERSION and "refusals" in after["tables"]
    for table in V5_TABLES:
        assert after[table] == before[table], f"{table} changed by the upgrade"
    assert cm.journal() == []
    assert cm.run("db", "check").code == 0, cm.run("db", "check")
    cm.fails(3, "chat", "park", "C1", match="C1")
    assert [(r[2], r[3], r[4]) for r in cm.journal()] == [("agent-1", "chat park C1", 3)]
    cm.ok("snapshot", "restore", "mid")  # saved by schema 5: no journal then
    assert cm.journal() == [] and cm.run("db", "check").code == 0


def test_a_refusal_on_a_v5_database_upgrades_nothing_and_is_not_journaled(v5):
    """Journaling never upgrades a database: a refusal before the first change leaves the file as it was."""
    cm, before = v5
    done = cm.run("chat", "park", "C1")
    assert done.code == 3 and done.err.startswith("error: ")
    after = rows(cm.db, V5_TABLES)
    assert after == before and after["user_version"] == 5 and "refusals" not in after["tables"]


# == schema version 6 (before webhooks) ===========================================================

FIXTURE_V6 = Path(__file__).parent / "fixtures" / "schema-v6.db"
V6_TABLES = V5_TABLES + ("refusals", "snapshot_parts")


@pytest.fixture
def v6(tmp_path) -> tuple[Chatemu, dict]:
    """A copy of the version-6 fixture and its rows.  Written by chatemu's schema 6 on a virtual
    clock: agent-1 with C1 ended by its customer (parked wrap-up) and C2 new, a snapshot
    ``before-end``, and three refused commands in the journal."""
    db = tmp_path / "v6.db"
    shutil.copyfile(FIXTURE_V6, db)
    return Chatemu(db), rows(db, V6_TABLES)


def test_v6_upgrade_keeps_every_row_and_adds_empty_webhook_tables(v6, tmp_path):
    cm, before = v6
    assert before["user_version"] == 6 and "webhooks" not in before["tables"]
    assert len(before["refusals"]) == 3 and len(before["events"]) == 6
    events = cm.js("events")  # read-only: the file is left as it is
    assert rows(cm.db)["user_version"] == 6
    cm.ok("clock", "advance", "0s")
    after = rows(cm.db, V6_TABLES)
    assert after["user_version"] == schema.SCHEMA_VERSION
    assert {"webhooks", "webhook_log", "webhook_deliveries"} <= set(after["tables"])
    for table in V6_TABLES:
        assert after[table] == before[table], f"{table} changed by the upgrade"
    assert cm.js("events") == events
    conn = sqlite3.connect(cm.db)
    try:
        assert conn.execute("SELECT id, tag, generation FROM webhook_log").fetchall() == [(1, None, 0)]
        assert conn.execute("SELECT count(*) FROM webhooks").fetchone()[0] == 0
    finally:
        conn.close()
    assert cm.run("db", "check").code == 0, cm.run("db", "check")
    # webhooks work on it, and a snapshot schema 6 saved restores, keeping them
    from chatemu.store.engine import Engine

    engine = Engine(str(cm.db))
    engine.webhook_add("http://127.0.0.1:9/hook", ["chat.*"])
    cm.ok("snapshot", "restore", "before-end")
    assert [w["url"] for w in engine.webhook_list().value] == ["http://127.0.0.1:9/hook"]
    assert cm.run("db", "check").code == 0, cm.run("db", "check")
    # its export holds no webhook and imports into a new database
    text = cm.run("export", "-").out
    assert "webhook" not in text
    reimported(tmp_path, text)


def test_a_new_database_is_what_every_migration_makes(tmp_path):
    """A new database gets at once the schema and rows that running every migration on an
    empty one gives (``schema.made_new``): the same tables, indexes and SQL, the same rows,
    the same versions; only the clock's instant is the new database's own."""
    made = sqlite3.connect(":memory:", isolation_level=None)
    made.execute("BEGIN")
    schema._apply_migrations(made, 0)
    made.execute("COMMIT")
    db = tmp_path / "new.db"
    Chatemu(db).ok("chat", "list")
    assert not db.exists()  # a read leaves no file
    Chatemu(db).ok("config", "set", "wrapup", "45s")
    new = sqlite3.connect(db)
    master = "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
    assert new.execute(master).fetchall() == made.execute(master).fetchall()
    tables = [name for (name,) in made.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    assert "meta" in tables and "_sqlite_migrations" in tables
    for table in tables:
        columns = "name" if table == "_sqlite_migrations" else "*"  # (applied_at: when they ran)
        rows = f'SELECT {columns} FROM "{table}" ORDER BY rowid'
        found, expected = new.execute(rows).fetchall(), made.execute(rows).fetchall()
        if table == "meta":
            assert [r[:2] + r[3:] for r in found] == [r[:2] + r[3:] for r in expected]
        elif table == "config":
            assert found == expected + [("", "wrapup", "45000")]
        else:
            assert found == expected, table
    for pragma in ("user_version", "application_id"):
        assert new.execute(f"PRAGMA {pragma}").fetchone() == (getattr(schema, "SCHEMA_VERSION" if pragma ==
                                                                       "user_version" else "APPLICATION_ID"),)
    assert Chatemu(db).run("db", "check").code == 0
