"""Run one chatemu command line in this process, as the ``chatemu`` program would, and capture
what it prints: the one way every route (and ``POST /cli``) reaches the emulator.

``chatemu run`` runs its lines the same way (``cli.app.call``): the command's own parser, its
own engine call, ``cli.app.translate`` turning errors into exit codes and journaling refusals.
Several requests run at once (each namespace's on its own thread), so stdin and stdout are
proxies that give each thread its own (``install``): what a command prints goes to its request only.  Each
thread keeps its connections to the databases it ran commands on open (``kept``), as ``run``
keeps its one: opening a database costs a command more than the command itself.
"""

from __future__ import annotations

import io
import json
import os
import stat
import sys
import threading

_local = threading.local()

#: Commands that read or write files of the server's machine (the tokens of every namespace
#: among them) or take over a terminal: over HTTP they are routes of their own (``/run``, ``/export``, ``/import``, ``/events/stream``).
NOT_HERE = {"run": "POST /run", "drill": None, "console": None, "watch": None, "export": "GET /export",
            "import": "PUT /import", "serve": None, "token": None, "simulate": None}


class _Proxy:
    """sys.stdin or sys.stdout: the calling thread's own stream when it has one."""

    def __init__(self, name: str, default):
        self._name, self._default = name, default

    def _stream(self):
        return getattr(_local, self._name, None) or self._default

    def __getattr__(self, attr):
        return getattr(self._stream(), attr)

    def write(self, text):
        return self._stream().write(text)

    def read(self, *args):
        return self._stream().read(*args)


def install() -> None:
    """Give each thread its own stdin and stdout from now on (``chatemu serve`` does it once)."""
    if not isinstance(sys.stdout, _Proxy):
        sys.stdout = _Proxy("stdout", sys.stdout)
        sys.stdin = _Proxy("stdin", io.StringIO(""))  # a command never reads the server's own stdin


class Outcome:
    """What a command line did: its exit code, what it printed on stdout, its error lines.
    ``stdout`` may be given as a ``Captured`` stream, made text only when asked for."""

    def __init__(self, exit_code: int, stdout, stderr: list[str]):
        self.exit_code, self._stdout, self.stderr = exit_code, stdout, stderr

    @property
    def stdout(self) -> str:
        if not isinstance(self._stdout, str):
            self._stdout = self._stdout.getvalue()
        return self._stdout

    def json(self):
        """The JSON document the command printed (None if it printed nothing): the value
        itself when that is all it printed (``Captured``), else its text read back."""
        parts = getattr(self._stdout, "parts", None)
        if parts is not None and len(parts) == 1 and isinstance(parts[0], _Value):
            return parts[0].value
        return json.loads(self.stdout) if self.stdout.strip() else None

    @property
    def detail(self) -> str:
        """The error lines as one text (as ``run --json`` joins them)."""
        return "; ".join(line.removeprefix("error: ") for line in self.stderr)

    def as_dict(self) -> dict:
        return {"exit_code": self.exit_code, "stdout": self.stdout,
                "stderr": "".join(line + "\n" for line in self.stderr)}


class _Value:
    def __init__(self, value):
        self.value = value


class Captured(io.StringIO):
    """A command's stdout as it printed it: its text, and each JSON document as the value it
    printed (``render.emit_json`` gives it over with ``capture_json``), so that an answer made
    of one document is encoded once, by the server; ``getvalue`` is the text it would have
    written, escaped as ``render.EscapedOutput`` escapes it."""

    def __init__(self):
        super().__init__()
        self.parts: list = []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)

    def capture_json(self, value) -> None:
        self.parts.append(_Value(value))

    def getvalue(self) -> str:
        from chatemu.cli.render import escape_controls, json_text

        return "".join(part if isinstance(part, str) else escape_controls(json_text(part.value))
                       for part in self.parts)


def refuse_words(argv: list[str]) -> str | None:
    """Why ``argv`` (a command line without the root ``--db``) may not run on a server, or None.
    The namespace is the database: no ``--db``; no command that reads or writes the server's
    files or a terminal; no ``events --follow`` (``/events/stream`` follows)."""
    from chatemu.cli.common import root_options

    if any(word == "--db" or word.startswith("--db=") for word in argv):
        return "--db is not taken here: the namespace is the database"
    spans = root_options(argv)
    rest = argv[spans[-1][1] if spans else 0:]
    if not rest:
        return None
    if rest[0] in NOT_HERE:
        instead = NOT_HERE[rest[0]]
        return f"{rest[0]} is not run through the server" + (f": use {instead}" if instead else "")
    if rest[0] == "events" and any(w in ("-f", "--follow") or (w.startswith("-") and not w.startswith("--")
                                                              and "f" in w) for w in rest[1:]):
        return "events --follow is not run through the server: use GET /events/stream"
    if rest[0] == "timeline" and any(w in ("-o", "--output") or w.startswith(("--output=", "-o")) for w in rest[1:]):
        return "timeline --output is not run through the server"
    return None


def kept(db: str):
    """This thread's connections kept open to ``db`` between commands (as ``chatemu run`` keeps
    its one), or None when ``db`` is no file yet.  A SQLite connection belongs to the thread
    that opened it, so each thread of the pool keeps its own; they are dropped as soon as the
    file is no longer the one they opened (the namespace deleted, or the file replaced by
    another process), so nothing is ever written to a file that has gone."""
    found = _kept(db)
    return found.connections if found is not None else None


class _Kept:
    """One database's kept connections on one thread: the file they opened (device, inode),
    the engine's ``Connections``, and the connection ``lockable`` probes the write lock with."""

    def __init__(self, file: tuple[int, int], regular: bool):
        from chatemu.store.engine import Connections

        self.file, self.regular, self.connections, self.probe = file, regular, Connections(), None

    def close(self) -> None:
        self.connections.close()
        if self.probe is not None:
            self.probe.close()


def _kept(db: str):
    try:
        st = os.stat(db)
    except OSError:
        st = None
    pool = getattr(_local, "kept", None)
    if pool is None:
        pool = _local.kept = {}
    found = pool.get(db)
    if found is not None and (st is None or found.file != (st.st_dev, st.st_ino)):
        found.close()
        del pool[db]
        found = None
    if st is None:
        return None
    if found is None:
        if len(pool) >= KEPT_PER_THREAD:  # the least recently used one goes
            oldest = next(iter(pool))
            pool.pop(oldest).close()
        found = _Kept((st.st_dev, st.st_ino), stat.S_ISREG(st.st_mode))
    else:
        del pool[db]
    pool[db] = found  # the most recently used last
    return found


def lockable(db: str) -> bool:
    """Whether a command may start on ``db`` at once on this thread: the file is there, a regular
    file, and its write lock is free right now (no other process or connection is writing:
    ``BEGIN IMMEDIATE`` succeeds without waiting, and is rolled back at once, nothing changed).
    The caller holds the namespace's lock, so no other command of this server takes it between
    this answer and the command's own ``BEGIN IMMEDIATE`` (another process may: the command then
    waits for it, as any command waits for a writer)."""
    import sqlite3

    found = _kept(db)
    if found is None or not found.regular:  # what is no regular file is the command's to refuse
        return False
    try:
        if found.probe is None:
            found.probe = sqlite3.connect(db, timeout=0, isolation_level=None)
        found.probe.execute("BEGIN IMMEDIATE")
        found.probe.execute("ROLLBACK")
        return True
    except sqlite3.Error:
        if found.probe is not None and found.probe.in_transaction:
            found.probe.execute("ROLLBACK")
        return False


#: How many databases each thread keeps its connections to: a namespace's own thread uses one;
#: the event loop's runs the quick commands of every namespace (``Emulator.at_once``), and
#: reopening a database would cost a request more than its command.
KEPT_PER_THREAD = 32


def execute(db: str, argv: list[str], agent: str | None = None, stdin: str | None = None, stdout=None) -> Outcome:
    """Run the command line ``argv`` (without ``--db``) on the database ``db`` as the agent
    ``agent`` (None: the command line's default), with ``stdin`` as its standard input;
    ``stdout``: a text stream its output goes to instead of the returned ``Outcome.stdout``.
    The caller runs one command at a time on ``db`` (the namespace's lock)."""
    from chatemu.cli import app, render
    from chatemu.cli.common import Session

    install()
    root = ["--agent", agent] if agent is not None else []
    out = Captured() if stdout is None else stdout
    _local.stdout, _local.stdin = render.EscapedOutput(out), io.StringIO(stdin or "")
    try:
        connections = kept(db)
        lines_of = dispatcher(db, connections) if connections is not None and stdin is None and stdout is None \
            else None
        if lines_of is not None:
            code, lines = lines_of(root + list(argv), None)
        else:
            code, lines = app.call(["--db", db] + root + list(argv), session=Session(connections=connections))
    finally:
        _local.stdout = _local.stdin = None
    return Outcome(code, out if stdout is None else "", lines)


def dispatcher(db: str, connections):
    """This thread's ``Dispatcher`` for ``db`` and its kept ``connections`` (made once for
    them): it runs a command line as ``chatemu run`` runs a scenario's line, each command's
    parser made once, and the command prints what it prints (no sink).  Its root options are
    parsed once, as ``chatemu --db DB …`` parses them."""
    from typer import _click

    from chatemu.cli import app
    from chatemu.cli.common import Session
    from chatemu.cli.scenario import Dispatcher

    pool = getattr(_local, "dispatchers", None)
    if pool is None:
        pool = _local.dispatchers = {}
    found = pool.get(db)
    if found is not None and found[0] is connections:
        return found[1]
    root = app.root_command()
    session = Session(connections=connections)
    session.cli = app
    ctx = root.make_context("chatemu", ["--db", db, "clock"], obj=session)  # the root options only
    _click.Command.invoke(root, ctx)  # the root callback: the session's database and agent
    for gone in [name for name in pool if name not in _local.kept]:
        del pool[gone]
    pool[db] = (connections, Dispatcher(ctx))
    return pool[db][1]
