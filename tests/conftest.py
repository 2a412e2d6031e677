"""Shared fixtures: run the installed ``chatemu`` as users do, one process per step."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
CHATEMU = shutil.which("chatemu", path=str(BIN)) or shutil.which("chatemu")
START = "2026-01-05T09:00:00Z"


def pytest_configure(config):
    """Compile chatemu's modules once: with PYTHONDONTWRITEBYTECODE set (as on CI's machines) an
    editable install would otherwise compile every module at every exec'd start, as a normal
    ``pip install`` does not."""
    import compileall

    root = Path(__file__).resolve().parent.parent
    for folder in ("cli", "store", "server", "package"):
        compileall.compile_dir(root / folder, quiet=1)
    _temporary_files_in_memory(config)


def _temporary_files_in_memory(config) -> None:
    """Temporary files (``tmp_path``, the databases of ``cm``, ``run``'s private ones) on the
    machine's RAM file system, /dev/shm, when it has one: a command that writes ends with SQLite's
    checkpoint, whose fsync would otherwise wait for the disk at every such command.  Not when
    ``TMPDIR``, ``--basetemp`` or ``PYTEST_DEBUG_TEMPROOT`` already says where.  Set before the
    ``-n`` workers start, so they and every process they start inherit it."""
    import tempfile

    if config.option.basetemp or os.environ.get("TMPDIR") or os.environ.get("PYTEST_DEBUG_TEMPROOT"):
        return
    try:
        with open("/proc/mounts") as mounts:
            memory = any(line.split()[1:3] == ["/dev/shm", "tmpfs"] for line in mounts)
    except OSError:
        return
    if memory and os.access("/dev/shm", os.W_OK | os.X_OK):
        os.environ["TMPDIR"] = "/dev/shm"
        tempfile.tempdir = None  # found again from TMPDIR


#: pytest's cache key for the seconds each test file took when it last ran.
FILE_SECONDS = "chatemu/file-seconds"
_spent: dict[str, float] = {}


def pytest_collection_modifyitems(config, items):
    """The longest-running files first (by their last run's time, kept in pytest's cache; a file
    not yet timed before those), each file's tests together and in their order: with ``-n``, the
    workers then end together rather than one finishing a long file started last."""
    seconds = config.workerinput.get(FILE_SECONDS) if hasattr(config, "workerinput") else _file_seconds(config)
    if not seconds:
        return
    files: dict[str, list] = {}
    for item in items:
        files.setdefault(item.nodeid.split("::")[0], []).append(item)
    order = sorted(files, key=lambda name: -seconds.get(name, float("inf")))
    items[:] = [item for name in order for item in files[name]]


def _file_seconds(config) -> dict:
    cache = getattr(config, "cache", None)
    return cache.get(FILE_SECONDS, {}) if cache is not None else {}


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """Under ``-n``, every worker orders its tests by the times the controller read, so that all
    collect the same order even if another run writes the cache meanwhile."""
    node.workerinput[FILE_SECONDS] = _file_seconds(node.config)


def pytest_runtest_logreport(report):
    name = report.nodeid.split("::")[0]
    _spent[name] = _spent.get(name, 0.0) + report.duration


def pytest_sessionfinish(session):
    """Keep each file's time for the next run's order (``pytest_collection_modifyitems``); under
    ``-n`` the controller, which hears every worker's reports, keeps them."""
    cache = getattr(session.config, "cache", None)
    if cache is None or hasattr(session.config, "workerinput") or not _spent:
        return
    cache.set(FILE_SECONDS, {**cache.get(FILE_SECONDS, {}), **{k: round(v, 2) for k, v in _spent.items()}})


def launch(argv: list[str], env: dict, stdin: str | None = None, timeout: float = 60, cwd=None,
           umask: int | None = None) -> tuple[int, str, str]:
    """Run a ``chatemu`` command line as a process; return (exit status, stdout, stderr).

    Forked from a warmed-up interpreter (``tests/forkserver.py``) unless the
    environment changes how an interpreter starts, or ``CHATEMU_TEST_EXEC=1``
    asks for the installed script to be exec'd every time."""
    if argv[0] == CHATEMU and not os.environ.get("CHATEMU_TEST_EXEC"):
        server = _fork_server()
        if server.can_run(env):
            # As an exec'd process decodes its argv: bytes that are not UTF-8 become surrogates.
            argv = [os.fsdecode(word) if isinstance(word, bytes) else word for word in argv]
            return server.run(argv, env, stdin, timeout, cwd=cwd, umask=umask)
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, input=stdin, timeout=timeout, cwd=cwd,
                          preexec_fn=(lambda: os.umask(umask)) if umask is not None else None)
    return proc.returncode, proc.stdout, proc.stderr


def script_env(env: dict, on_path: bool = True) -> dict:
    """``env`` for a shell script whose ``chatemu`` commands should run on the fork server:
    a ``chatemu`` shim first on PATH (``on_path``) and where to find the server."""
    if os.environ.get("CHATEMU_TEST_EXEC"):
        return env
    server = _fork_server()
    return server.shim_env(env) if on_path else {**env, **server.shim_env({})} | {"PATH": env.get("PATH", "")}


def script_chatemu() -> str:
    """The ``chatemu`` a shell script under test should exec: the shim (see ``script_env``)."""
    if os.environ.get("CHATEMU_TEST_EXEC"):
        return CHATEMU
    return os.path.join(_fork_server().shim_folder, "chatemu")


def close_ended(child) -> None:
    """Close a pexpect child whose output has ended (EOF read): wait for its exit status first,
    then close its terminal without ptyprocess's fixed pause (0.1 s) for a process that might
    still be running, which this one no longer is."""
    child.wait()
    child.ptyproc.delayafterclose = 0
    child.close()


@functools.lru_cache(maxsize=None)
def tls():
    """One TLS context for every HTTP client of a test process (``verify=tls()``).  httpx builds
    one per client otherwise, loading the whole CA store each time (tens of milliseconds); the
    tests speak plain HTTP over loopback, so it is never used for a handshake anyway."""
    import ssl

    return ssl.create_default_context()


@functools.lru_cache(maxsize=None)
def _fork_server():
    from forkserver import Server

    return Server()


@dataclass
class Done:
    args: list[str]
    code: int
    out: str
    err: str

    @property
    def json(self):
        return json.loads(self.out)

    def __repr__(self):
        return f"chatemu {' '.join(self.args)} -> exit {self.code}\nstdout: {self.out}\nstderr: {self.err}"


class Chatemu:
    """A temp database and a way to run ``chatemu`` on it, one process per call."""

    def __init__(self, db: Path):
        self.db = db
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CHATEMU_")}
        self.env["CHATEMU_DB"] = str(db)
        self.env["PATH"] = f"{BIN}{os.pathsep}{self.env.get('PATH', '')}"
        self.env["NO_COLOR"] = "1"
        self.env.pop("FORCE_COLOR", None)  # it would win over NO_COLOR

    def run(self, *args: str, agent: str | None = None, env: dict | None = None, stdin: str | None = None) -> Done:
        argv = [CHATEMU, *(["--agent", agent] if agent else []), *args]
        code, out, err = launch(argv, {**self.env, **(env or {})}, stdin)
        return Done(list(args), code, out, err)

    def ok(self, *args: str, **kw) -> Done:
        done = self.run(*args, **kw)
        assert done.code == 0, done
        assert done.err == "", done
        return done

    def js(self, *args: str, **kw):
        """Run with --json; return the parsed document."""
        return self.ok(*args, "--json", **kw).json

    def chat(self, chat_id: str) -> dict:
        return self.js("chat", "show", chat_id)

    def fails(self, code: int, *args: str, match: str | None = None, **kw) -> Done:
        """A refused command: its exit code, one `error:` line, nothing on stdout, nothing changed
        but the journal of refusals, which keeps its rows and gains at most one: this refusal's
        (exit 3 or 4, the message of the error line), when the command would have changed something."""
        before, journal = self.dump(), self.journal()
        done = self.run(*args, **kw)
        assert done.code == code, done
        assert done.out == "", done
        lines = done.err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), done
        assert "Traceback" not in done.err
        if match is not None:
            assert match in lines[0], done
        assert self.dump() == before, f"state changed by a refused command: {done}"
        after = self.journal()
        assert after[:len(journal)] == journal and len(after) <= len(journal) + 1, f"journal rewritten: {done}"
        if len(after) > len(journal):
            _seq, _at, _agent, _command, exit_code, message = after[-1]
            # the line is `error: MESSAGE` (`error: FILE:LINE: COMMAND: MESSAGE` for a scenario's line)
            kept, long, _ = message.partition("… [")  # a message longer than 1,000 characters is kept bounded
            assert exit_code == code in (3, 4) and (lines[0].endswith(message) or long and kept in lines[0]), (
                after[-1], done)
        return done

    def dump(self) -> str:
        """The whole stored state but the journal of refusals (``journal``), to compare before and after."""
        if not self.db.exists():
            return ""
        import sqlite3

        conn = sqlite3.connect(self.db)
        try:
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'"
                                                 " AND name != 'refusals' ORDER BY name")]
            return json.dumps({t: conn.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall() for t in tables},
                              default=bytes.hex)  # snapshots are compressed BLOBs
        finally:
            conn.close()

    def journal(self) -> list[tuple]:
        """The journal of refusals: (seq, at_ms, agent, command, exit_code, message) rows, oldest first."""
        if not self.db.exists():
            return []
        import sqlite3

        conn = sqlite3.connect(self.db)
        try:
            if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'refusals'").fetchone():
                return []
            return conn.execute("SELECT seq, at_ms, agent, command, exit_code, message FROM refusals ORDER BY seq").fetchall()
        finally:
            conn.close()


def as_older_schema(db, version: int, migration: str, *statements: str) -> None:
    """Make the database at ``db`` what schema ``version`` left: ``migration`` not applied
    (its record gone) and ``statements`` run, to undo what it did."""
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        (table,) = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE '%migrations%'")]
        conn.execute(f"DELETE FROM {table} WHERE name = ?", (migration,))
        for statement in statements:
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {int(version)}")
        conn.commit()
    finally:
        conn.close()


def logical_state(path) -> tuple[str, list] | None:
    """What a chatemu database file holds, read without writing: its state (every table but the
    journal of refusals, as ``Chatemu.dump``) and its journal's rows; None if it cannot be read so."""
    import sqlite3
    from urllib.parse import quote

    path = Path(path)
    if not path.is_file():
        return None
    try:
        conn = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        state = json.dumps({t: conn.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall() for t in tables
                            if t != "refusals"}, default=bytes.hex)
        journal = conn.execute("SELECT * FROM refusals ORDER BY seq").fetchall() if "refusals" in tables else []
        return state, journal
    except sqlite3.Error:
        return None
    finally:
        conn.close()


def journaled_only(before: tuple | None, after: tuple | None, code: int) -> bool:
    """Whether the only change from ``before`` to ``after`` (``logical_state``s) is one refusal
    appended to the journal, with exit ``code`` (3 or 4): what a refused state-changing command
    may leave behind."""
    if before is None or after is None or code not in (3, 4):
        return False
    (state, journal), (state_after, journal_after) = before, after
    return (state == state_after and journal_after[:len(journal)] == journal
            and len(journal_after) == len(journal) + 1 and journal_after[-1][4] == code)


@pytest.fixture(scope="session")
def started_db(tmp_path_factory) -> Path:
    """What ``chatemu clock set START`` makes of a new database: made once per test process."""
    c = Chatemu(tmp_path_factory.mktemp("started") / "chatemu.db")
    c.ok("clock", "set", START)
    assert not Path(f"{c.db}-wal").exists()  # the whole state is in the file: a copy is the same database
    return c.db


def shared_start(tmp_path_factory, started_db: Path) -> Chatemu:
    """A started database of its own, for a module-scoped fixture to play a set-up on once;
    ``copy_into`` then gives each test a copy of the result."""
    c = Chatemu(tmp_path_factory.mktemp("shared") / "chatemu.db")
    shutil.copyfile(started_db, c.db)
    return c


def copy_into(db: Path, cm: Chatemu) -> Chatemu:
    """``cm`` with its database replaced by a copy of ``db`` (the same bytes: no WAL beside it)."""
    assert not Path(f"{db}-wal").exists()  # the whole state is in the file: a copy is the same database
    shutil.copyfile(db, cm.db)
    return cm


@pytest.fixture
def cm(tmp_path, started_db) -> Chatemu:
    """A fresh database whose virtual clock starts at 2026-01-05T09:00:00Z (a copy of what
    ``clock set`` made of a new database: the same bytes, without a process per test)."""
    c = Chatemu(tmp_path / "chatemu.db")
    shutil.copyfile(started_db, c.db)
    return c
