"""Reading without changing anything, and reading what is really there.

One test per behaviour, each driving real ``chatemu`` processes on temp databases:

- ``db check`` reads exactly what the next command would see (a committed change that lives only
  in the ``-wal``, a transaction a killed process left half-done), or says plainly, with exit 5,
  that it cannot; it never reports clean on data it did not read;
- read-only commands leave the database file's bytes, its mode and its folder's listing as they
  were: on a rollback-journal database, a file chatemu may not write, a symlinked database, an
  older schema, an empty file and a path where no database exists yet;
- ``events --follow`` notices that the log it follows was replaced (``snapshot restore``,
  ``reset``, ``import --replace``) and follows the new one from its start;
- ``snapshot restore`` on a real clock returns to the saved instant and goes on from there;
- a scenario on a virtual clock exports the same bytes whenever it runs;
- read-only commands answer while another process holds the write lock.

Tests run as root here, and root ignores file permissions: a file or folder is made read-only for
root with ``chattr +i``; where that is not supported, the chatemu processes run as ``nobody``
(``setpriv``); only if neither works is that case skipped, with the reason.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest
from conftest import CHATEMU, START, Chatemu, launch

from chatemu.cli.render import event_line

FIXTURE_V1 = Path(__file__).parent / "fixtures" / "schema-v1.db"
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


# -- helpers ----------------------------------------------------------------------------------------


def ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def folder() -> Path:
    """A fresh folder that ``nobody`` may enter and read (for the ``setpriv`` fallback)."""
    path = Path(tempfile.mkdtemp(prefix="chatemu-hardening-"))
    path.chmod(0o755)
    return path


@pytest.fixture
def place():
    """Fresh folders in /tmp (removed afterwards, read-only flags undone first)."""
    made: list[Path] = []

    def make() -> Path:
        made.append(folder())
        return made[-1]

    yield make
    for path in made:
        if shutil.which("chattr"):
            for p in [path, *path.iterdir()]:
                subprocess.run(["chattr", "-i", str(p)], capture_output=True)
        path.chmod(0o755)
        shutil.rmtree(path, ignore_errors=True)


def _chattr_works(probe: Path) -> bool:
    if not shutil.which("chattr"):
        return False
    if subprocess.run(["chattr", "+i", str(probe)], capture_output=True).returncode != 0:
        return False
    subprocess.run(["chattr", "-i", str(probe)], check=True)
    return True


@contextmanager
def read_only(*paths: Path):
    """Make ``paths`` (files or folders) read-only for the chatemu processes run with the yielded
    command prefix: ``chmod`` for an ordinary user; as root ``chattr +i`` or else ``nobody``."""
    if os.geteuid() != 0:
        modes = {p: p.stat().st_mode & 0o7777 for p in paths}
        for p in paths:
            p.chmod(0o555 if p.is_dir() else 0o444)
        try:
            yield []
        finally:
            for p, mode in modes.items():
                p.chmod(mode)
        return
    if _chattr_works(paths[0]):
        for p in paths:
            subprocess.run(["chattr", "+i", str(p)], check=True)
        try:
            yield []
        finally:
            for p in paths:
                subprocess.run(["chattr", "-i", str(p)], check=True)
        return
    if shutil.which("setpriv") and subprocess.run([*NOBODY, CHATEMU, "--version"], capture_output=True).returncode == 0:
        # Root's files (0644) in root's folders (0755) are read-only for nobody; a folder that must
        # stay writable is made writable for everybody by the caller.
        yield NOBODY
        return
    pytest.skip("running as root without `chattr +i` or a usable `setpriv`: cannot make a path read-only for root")


@contextmanager
def _nothing():
    yield []


def run(cm: Chatemu, *args: str, prefix: list | None = None, env: dict | None = None):
    if prefix:  # as another user
        return subprocess.run([*prefix, CHATEMU, *args], capture_output=True, text=True,
                              env={**cm.env, **(env or {})}, timeout=60)
    code, out, err = launch([CHATEMU, *args], {**cm.env, **(env or {})})
    return subprocess.CompletedProcess([CHATEMU, *args], code, out, err)


def listing(path: Path) -> dict[str, tuple]:
    """Every entry of a folder: name -> (kind, mode, sha256 of the bytes).  An ``-shm`` file is
    SQLite's shared-memory index, which every reader of a live WAL database writes its read marks
    into: only its presence and mode count."""
    found = {}
    for entry in sorted(path.iterdir()):
        st = entry.lstat()
        if entry.is_symlink():
            found[entry.name] = ("link", st.st_mode, os.readlink(entry))
        elif entry.is_dir():
            found[entry.name] = ("dir", st.st_mode, None)
        elif entry.name.endswith("-shm"):
            found[entry.name] = ("file", st.st_mode, "(shared memory)")
        else:
            found[entry.name] = ("file", st.st_mode, hashlib.sha256(entry.read_bytes()).hexdigest())
    return found


def make_db(path: Path) -> Path:
    """A database with some history: chats in several states, an agent on a break, a snapshot."""
    cm = Chatemu(path)
    script = "\n".join([
        f"clock set {START}", "agent login", "--agent agent-2 agent login", "--agent agent-2 agent break",
        "chat new --customer Ann", "chat activate C1", "chat new --customer Bob",
        "chat end C1", "clock advance 10s", "snapshot save base",
        "chat new --customer Cy",
    ])
    done = cm.run("run", "-q", "-", stdin=script + "\n")
    assert done.code == 0, done
    return path


def journal_mode(path: Path) -> str:
    return "wal" if path.read_bytes()[18:20] == b"\x02\x02" else "rollback"


# == 1. db check reads what the next command would see, or says it cannot =========================


class WalHolder:
    """Another process commits an invariant violation that stays in the -wal: its connection, kept
    open until ``close()``, keeps anybody's close from checkpointing it into the database file.
    (Another process, not this one: this process reads the files, and closing any descriptor of a
    file drops every POSIX lock the process holds on it, SQLite's included.)"""

    CODE = (
        "import sqlite3, sys\n"
        "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "c.execute('PRAGMA wal_autocheckpoint = 0')\n"
        "c.execute(\"UPDATE chats SET state = 'bogus' WHERE id = 'C2'\")\n"
        "print('committed', flush=True)\n"
        "sys.stdin.read()\n"
    )

    def __init__(self, db: Path):
        self.proc = subprocess.Popen([sys.executable, "-c", self.CODE, str(db)], text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self.proc.stdout.readline() == "committed\n"

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)


def _kill_mid_transaction(db: Path) -> None:
    """A process dies in the middle of a transaction on a rollback-journal database, after some of
    its pages reached the file: a hot journal, and a file that is torn until it is rolled back."""
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()
    code = (
        "import os, sqlite3, sys\n"
        "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "c.execute('PRAGMA cache_size = 1')\n"
        "c.execute('BEGIN')\n"
        "c.execute(\"UPDATE chats SET customer = hex(randomblob(400)), state = 'bogus'\")\n"
        "c.execute('UPDATE events SET cause = hex(randomblob(400))')\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", code, str(db)], check=True)
    assert Path(f"{db}-journal").stat().st_size > 0


@pytest.mark.parametrize("case", ["wal-in-read-only-folder-with-a-live-writer", "wal-copied-without-its-index",
                                  "hot-journal", "hot-journal-in-read-only-folder"])
def test_db_check_reads_what_the_next_command_sees_or_says_it_cannot(case, place):
    where = place()
    db = make_db(where / "chatemu.db")
    cm = Chatemu(db)
    holder = None
    assert cm.run("run", "-q", "-", stdin="chat new\n" * 30).code == 0  # enough history for many pages
    if case.startswith("wal"):
        holder = WalHolder(db)
        assert Path(f"{db}-wal").stat().st_size > 0
        if case == "wal-copied-without-its-index":
            # An archive: the database and its -wal copied into a folder that is then made read-only.
            archive = place()
            shutil.copyfile(db, archive / "chatemu.db")
            shutil.copyfile(f"{db}-wal", archive / "chatemu.db-wal")
            holder.close()
            holder = None
            db = archive / "chatemu.db"
            cm = Chatemu(db)
    else:
        _kill_mid_transaction(db)
    try:
        locked = "read-only" in case or "without-its-index" in case
        ctx = read_only(db.parent) if locked else _nothing()
        with ctx as prefix:
            before = listing(db.parent)
            check = run(cm, "db", "check", prefix=prefix)
            nxt = run(cm, "chat", "show", "C2", "--json", prefix=prefix)
            after = listing(db.parent)
        assert "Traceback" not in check.stderr + nxt.stderr
        if case == "wal-in-read-only-folder-with-a-live-writer":
            # The committed change is read: the violation is reported, as the next command sees it.
            assert check.returncode == 1, check
            assert "chat C2: unknown state 'bogus'" in check.stdout, check
            assert nxt.returncode == 0 and json.loads(nxt.stdout)["state"] == "bogus", nxt
            assert after == before, "a read changed the folder"
        elif case == "hot-journal":
            # The next command rolls the half-done transaction back; db check sees that state.
            assert check.returncode == 0 and check.stdout.endswith(": clean\n"), check
            assert nxt.returncode == 0 and json.loads(nxt.stdout)["state"] == "queued", nxt
        else:
            # Neither can read the committed state here: both say so, plainly, with exit 5.
            assert check.returncode == 5, check
            assert check.stdout == "" and check.stderr.count("\n") == 1 and check.stderr.startswith("error: "), check
            hint = "-wal" if case.startswith("wal") else "-journal"
            assert hint in check.stderr, check
            assert nxt.returncode == 5 and hint in nxt.stderr, nxt
            assert after == before, "a refused read changed the folder"
        if locked:
            # Proof that what db check refused to judge was there: once it can be read, it is found.
            if case == "wal-copied-without-its-index":
                found = run(cm, "db", "check")
                assert found.returncode == 1 and "unknown state 'bogus'" in found.stdout, found
            elif case == "hot-journal-in-read-only-folder":
                assert run(cm, "db", "check").returncode == 0
    finally:
        if holder is not None:
            holder.close()


# == 2. read-only commands change no file ============================================================

READ_COMMANDS = [
    ("chat", "list", "--all"), ("chat", "show", "C1"), ("agent", "status"), ("agent", "list"), ("clock",),
    ("config", "show"), ("events",), ("expect", "clock", "mode=virtual"), ("explain", "C1"),
    ("snapshot", "list"), ("export", "-"), ("db", "check"), ("db", "path"),
]
#: What each kind of --db answers, by command (0 unless named).
NO_DATABASE = {("chat", "show", "C1"): 4, ("explain", "C1"): 4, ("db", "check"): 5}
EXPECTED = {"new-path": NO_DATABASE, "empty-file": NO_DATABASE}


def _prepare(kind: str, where: Path, place) -> tuple[Path, list[Path], list[Path]]:
    """The --db path, the folders to watch, and what to make read-only."""
    db = where / "chatemu.db"
    if kind == "rollback-journal":
        make_db(db)
        conn = sqlite3.connect(db)
        assert conn.execute("PRAGMA journal_mode = DELETE").fetchone()[0] == "delete"
        conn.close()
        return db, [where], []
    if kind == "read-only-file":
        make_db(db)
        where.chmod(0o777)  # the folder stays writable (for nobody too): only the file is read-only
        return db, [where], [db]
    if kind == "symlink":
        target = place() / "real.db"
        make_db(target)
        db.symlink_to(target)
        return db, [where, target.parent], []
    if kind in ("older-schema", "older-schema-read-only"):
        shutil.copyfile(FIXTURE_V1, db)
        if kind == "older-schema":
            return db, [where], []
        where.chmod(0o777)
        return db, [where], [db]
    if kind == "empty-file":
        db.write_bytes(b"")
        return db, [where], []
    if kind == "new-path":
        return db, [where], []
    raise ValueError(kind)


@pytest.mark.parametrize("kind", ["rollback-journal", "read-only-file", "symlink", "older-schema",
                                  "older-schema-read-only", "empty-file", "new-path"])
def test_read_only_commands_leave_the_file_and_its_folder_as_they_were(kind, place):
    where = place()
    db, watched, locked = _prepare(kind, where, place)
    cm = Chatemu(db)
    expected = EXPECTED.get(kind, {})
    mode_before = journal_mode(db) if db.exists() and db.stat().st_size else None
    failures = []
    with (read_only(*locked) if locked else _nothing()) as prefix:
        for args in READ_COMMANDS:
            before = [listing(w) for w in watched]
            done = run(cm, *args, prefix=prefix)
            after = [listing(w) for w in watched]
            want = expected.get(args, 0)
            if done.returncode != want:
                failures.append(f"chatemu {' '.join(args)}: exit {done.returncode}, expected {want}: {done.stderr.strip()}")
            if after != before:
                changed = {name for b, a in zip(before, after) for name in set(a) | set(b) if a.get(name) != b.get(name)}
                failures.append(f"chatemu {' '.join(args)} changed {sorted(changed)}")
    assert not failures, "\n".join(failures)
    if mode_before is not None:
        assert journal_mode(db) == mode_before
    if kind.startswith("older-schema"):
        # Readable as it is: the first-schema fixture's chats.
        with (read_only(*locked) if locked else _nothing()) as prefix:
            listed = run(cm, "chat", "list", "--all", "--json", prefix=prefix)
        assert listed.returncode == 0, listed
        assert [c["id"] for c in json.loads(listed.stdout)] == ["C1", "C2", "C3"]
    if kind == "new-path":
        # A failed first command that would change something leaves no file either.
        for args in [("chat", "activate", "C1"), ("chat", "park", "C9"), ("snapshot", "restore", "nosuch")]:
            done = run(cm, *args)
            assert done.returncode in (3, 4), done
            assert listing(where) == {}, f"chatemu {' '.join(args)} left {listing(where)}"
        # ...and one that succeeds creates the database.
        assert run(cm, "chat", "new").returncode == 0
        assert db.exists() and journal_mode(db) == "wal"


# == 3. events --follow survives a replaced log =======================================================


class Follower:
    """``chatemu events --follow`` in the background, its output lines gathered as they come."""

    def __init__(self, cm: Chatemu, *args: str):
        # Ctrl-C (SIGINT) interrupts it as at a user's terminal, even where the test runner (a
        # pytest-xdist worker) ignores SIGINT and its children would inherit that.
        self.proc = subprocess.Popen([CHATEMU, "events", "--follow", *args], env=cm.env, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        self.out: list[str] = []
        self.err: list[str] = []
        self._lines: queue.Queue = queue.Queue()
        for stream, sink in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self._read, args=(stream, sink), daemon=True).start()

    def _read(self, stream, sink) -> None:
        for line in stream:
            sink.append(line.rstrip("\n"))

    def wait_for(self, done, timeout: float = 6.0) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if done(list(self.out)):
                return True
            time.sleep(0.05)
        return False

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=10)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            time.sleep(0.1)  # let the reader threads drain the pipes


@pytest.mark.parametrize("how,jsonl", [("snapshot restore", True), ("reset", False), ("import --replace", True)])
def test_events_follow_notices_a_replaced_log_and_follows_the_new_one(how, jsonl, cm, tmp_path):
    bundle = tmp_path / "early.json"
    cm.ok("chat", "new", "--customer", "Ann")  # C1 queued, then new (presentation)
    cm.ok("chat", "new", "--customer", "Bob")  # C2 queued
    cm.ok("snapshot", "save", "early")
    cm.ok("export", str(bundle))
    cm.ok("chat", "activate", "C1")
    cm.ok("chat", "new", "--customer", "Cy")
    cm.ok("clock", "advance", "5s")
    old = cm.js("events")
    fmt = ["--jsonl"] if jsonl else []
    follower = Follower(cm, *fmt)

    def lines_of(args) -> list[str]:
        """The follower's lines for these events: ``events --jsonl``'s, or one ``event_line`` each."""
        if jsonl:
            return cm.ok(*args, *fmt).out.splitlines()
        return [event_line(event) for event in cm.js(*args)]

    try:
        shown_old = lines_of(["events"])
        assert follower.wait_for(lambda out: out[-len(shown_old):] == shown_old), follower.out
        if how == "snapshot restore":
            cm.ok("snapshot", "restore", "early")
        elif how == "reset":
            cm.ok("reset", "--yes")
            cm.ok("clock", "set", START)
        else:
            cm.ok("import", "--replace", str(bundle))
        # The new log goes on: fewer events than the old one had, then some more.
        cm.ok("agent", "break")
        cm.ok("chat", "new", "--customer", "Dee")
        new = cm.js("events")
        assert new[-1]["seq"] <= old[-1]["seq"] + 1, "the test needs a new log that restarts below the old one"
        shown_new = lines_of(["events"])
        caught_up = follower.wait_for(lambda out: out[-len(shown_new):] == shown_new)
        code = follower.stop()
    finally:
        follower.stop()
    assert caught_up, "the follower never showed the new log; it showed:\n" + "\n".join(follower.out)
    assert code == 0, follower.err
    # Everything it printed: the old log, then the new one from its start.
    assert follower.out == shown_old + shown_new, "\n".join(follower.out)
    if jsonl:
        assert all(json.loads(line) for line in follower.out)  # stdout stays one JSON object per line
    assert len(follower.err) == 1 and "replaced" in follower.err[0] and "Traceback" not in follower.err[0], follower.err


# == 4. snapshot restore on a real clock returns to the saved instant ==================================


def test_snapshot_restore_on_a_real_clock_returns_to_the_saved_instant(cm):
    cm.ok("config", "set", "wrapup", "2s")
    cm.ok("chat", "new", "--inbox")
    cm.ok("chat", "activate", "C1")
    cm.ok("clock", "real")
    cm.ok("chat", "end", "C1")  # a 2 s wrap-up timer runs on the real clock
    saved = cm.js("snapshot", "save", "running")
    deadline = cm.chat("C1")["wrapup_ends_at"]
    time.sleep(2.3)
    assert cm.chat("C1")["state"] == "closed"  # the wall clock went past the deadline
    start = time.monotonic()
    restored = cm.js("snapshot", "restore", "running")
    assert restored["now"] == saved["created_at"]
    clock = cm.js("clock")
    since = time.monotonic() - start
    # Right after the restore the clock reads the saved instant, plus only the time since the restore.
    assert clock["mode"] == "real"
    assert ms(saved["created_at"]) <= ms(clock["now"]) <= ms(saved["created_at"]) + int(since * 1000) + 50, (saved, clock)
    chat = cm.chat("C1")
    assert (chat["state"], chat["wrapup_ends_at"]) == ("active-wrapup", deadline), chat
    # ...and goes on at the wall clock's pace: the timer runs out at its deadline.
    time.sleep(max(0.0, (ms(deadline) - ms(cm.js("clock")["now"])) / 1000) + 0.3)
    chat = cm.chat("C1")
    assert (chat["state"], chat["closed_reason"], chat["closed_at"]) == ("closed", "wrapup-expired", deadline)
    assert cm.run("db", "check").code == 0


# == 5. a virtual clock exports the same bytes whenever it runs ===========================================

SCENARIO = "\n".join([
    f"clock set {START}", "config set wrapup 30s", "chat new --customer Ann", "chat activate C1",
    "clock advance 12s", "chat new --customer Bob", "chat end C1", "clock set 2026-01-05T09:05:00Z",
    "snapshot save mid", "--agent agent-2 agent login", "chat activate C2",
    "clock advance 1m", "clock virtual",
]) + "\n"


def test_a_virtual_clock_scenario_exports_the_same_bytes_whenever_it_runs(tmp_path):
    exports = []
    for name in ("first", "second"):
        cm = Chatemu(tmp_path / f"{name}.db")
        assert cm.run("run", "-q", "-", stdin=SCENARIO).code == 0
        exports.append(cm.ok("export", "-").out)
        time.sleep(1.2)  # the second run starts on another wall-clock second
    assert exports[0] == exports[1]


# == 6. reads do not wait for another process's write lock ===============================================


def test_read_only_commands_answer_while_another_process_holds_the_write_lock(cm):
    cm.ok("chat", "new", "--customer", "Ann")
    cm.ok("chat", "activate", "C1")
    cm.ok("chat", "new", "--customer", "Bob")
    env = {"CHATEMU_BUSY_TIMEOUT": "1"}
    writer = sqlite3.connect(cm.db, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE chats SET customer = 'uncommitted'")
        failures = []
        for args in READ_COMMANDS:
            start = time.monotonic()
            done = cm.run(*args, env=env)
            took = time.monotonic() - start
            if done.code != 0:
                failures.append(f"chatemu {' '.join(args)}: exit {done.code} after {took:.1f}s: {done.err.strip()}")
        listed = cm.run("chat", "list", "--all", "--json", env=env)
        assert not failures, "\n".join(failures)
        assert [c["customer"] for c in json.loads(listed.out)] == ["Ann", "Bob"]  # the committed state
        writer.execute("ROLLBACK")
    finally:
        writer.close()
    # When a timer is due, a read still applies it (and rolls back): on a real clock that passed it.
    cm.ok("config", "set", "wrapup", "0.2s")
    cm.ok("chat", "end", "C1")
    cm.ok("clock", "real")
    time.sleep(0.4)
    assert cm.chat("C1")["state"] == "closed"
    conn = sqlite3.connect(cm.db)
    try:
        assert conn.execute("SELECT state FROM chats WHERE id = 'C1'").fetchone()[0] == "active-wrapup"
    finally:
        conn.close()
