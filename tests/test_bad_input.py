"""Bad input: a corpus of hostile invocations; never a traceback, always a documented exit code,
at most one ``error:`` line, and the database file's bytes unchanged by every refused command.

The corpus (well over 200 invocations):

- hand-written cases: unicode and control characters in ids, names, customers, queues, agents and
  snapshot names; SQL-looking names; huge numbers (priority 10**30, durations of 10**30 s, 2**63);
  bad durations and times; bad option values, missing and extra arguments;
- huge numbers in every numeric argument of every command, scenario line and drill line (past
  SQLite's integers, past Python's 4300-digit limit, ``1e309``, thousands of leading zeros, digits
  that are not ASCII), and endless streams (cut to a few megabytes) to ``import -``, ``run -`` and
  ``drill -``;
- seeded random command lines (``random.Random(SEED)``: the same corpus on every run): a command
  path, random positional arguments and random option names (real ones, ones of other commands,
  unknown ones), with values from all of the pools above;
- ``--db`` that is a folder, an empty file, a text file, a truncated database (the first 1000 bytes
  of a real one), a database of a newer schema (``PRAGMA user_version=99``), a missing file, a path
  whose parent folder is missing, and a read-only file.  Tests run as root here, and root ignores
  file permissions: as root the file is made immutable (``chattr +i``) or, where that is not
  supported, the chatemu processes run as ``nobody`` (``setpriv``); only if neither works is that
  one test skipped, with the reason.

For each invocation: no ``Traceback`` on stdout or stderr; exit code in {0, 1, 2, 3, 4, 5}; on a
non-zero exit, stderr is exactly one ``error: …`` line (``expect``'s mismatch lines, exit 1, are the
exception); and the database's bytes — the main file and its ``-wal`` (a missing WAL counts as an
empty one: a read-only connection may leave an empty one behind) — are unchanged after every
command that failed, and after every read-only command whatever its exit code; but a command that
would have changed something and was refused (exit 3 or 4) may append its one row to the journal of
refusals, and change nothing else.

The corpus (about 1,400 command lines) runs in-process through ``chatemu.cli.app.main(argv)`` with
captured stdout and stderr, in a second or two; the ``--db`` cases, a seeded sample of 24 corpus
lines and the regression cases run as real processes (over 100).
Every case is run and all failures are reported together at the end.

An empty or missing ``--db`` has no database yet: a command that changes something and succeeds
creates one; a read-only command reads it as a new database would be and creates nothing; a refused
command leaves an empty file empty and a missing one missing.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import random
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import CHATEMU, START, Chatemu, journaled_only, launch, logical_state

EMPTY = hashlib.sha256(b"").hexdigest()
SEED = 424242
HEAVY = bool(os.environ.get("CHATEMU_HEAVY"))
FUZZ_COUNT = 170
PROCESS_SAMPLE = 24
DOCUMENTED = {0, 1, 2, 3, 4, 5}



@dataclass
class Case:
    argv: list  # str (in-process) or str/bytes (process) words, without the program name
    db: str = "real"  # which database --db names: see ``databases``
    stdin: str = ""
    why: str = ""

    def label(self) -> str:
        def word(a):
            if isinstance(a, str) and len(a) > 80:
                return word(a[:60]) + f"…({len(a)} characters)"
            return repr(a) if not isinstance(a, str) or not a.isprintable() or " " in a or not a else a
        return f"[{self.db}] chatemu " + " ".join(word(a) for a in self.argv) + (f" ({self.why})" if self.why else "")


@dataclass
class Outcome:
    code: int
    out: str
    err: str


# -- values ---------------------------------------------------------------------------------

UNICODE = ["Zoë", "客户", "😀", "Ω≈ç√", "\u202eevil", "a\u200bb", "e\u0301", "ﬁ", "Ａ１", "Ⅻ", "٣", "ß" * 64]
CONTROL = ["\x01", "\t", "a\tb", "a\nb", "\r", "\x1b[31mred", "\x7f", "line\u2028sep", "\x0c", "\x1f"]
SQL = ["'; DROP TABLE chats; --", "\" OR 1=1 --", "C1' OR '1'='1", "Robert'); DROP TABLE agents;--", "%", "_",
       "*", "C%", "1; DELETE FROM events"]
NUMBERS = [str(10**30), str(-10**30), str(2**63), str(-2**63 - 1), str(2**63 - 1), "1e309", "nan", "inf", "-0",
           "0x10", "1_000", "007", "١٢", "−1", "1.5", "", " "]
DURATIONS = ["", "-1s", "1x", "1.0001s", "101y", "1h-5m", f"{10**30}s", "1e3s", " 1s", "1 s", "s", "1ss",
             "99999999999999h", "1.5.5s", "1m1m", "0", "0s", "250ms", "36500d", "3155760000s", "1h30m", "m1", "+5s"]
TIMES = ["2026-13-01", "yesterday", "9999-12-31T23:59:59.999Z", "0001-01-01", "2026-01-05T09:00:00+25:00",
         "10000-01-01", "2026-02-30", "2026-01-05T24:00:00Z", "", "now", "1970-01-01T00:00:00Z",
         "2026-01-05T09:00:00.0000001Z", "2026-01-05 09:00", "2026-W02-1", "-2026-01-05", "2026-01-05T09:00:00ZZ"]
LONG = ["x" * 10_000, "C" * 65, "q" * 64]
IDS = ["C1", "C2", "C3", "C4", "C99", "K1", "agent-1", "default", "sales"]
POOL = UNICODE + CONTROL + SQL + NUMBERS + DURATIONS + TIMES + LONG + IDS

# -- the hand-written corpus ----------------------------------------------------------------------


def hand_written() -> list[Case]:
    cases: list[Case] = []
    add = lambda *argv, **kw: cases.append(Case(list(argv), **kw))  # noqa: E731
    for value in UNICODE + CONTROL + SQL + LONG:
        add("snapshot", "save", value)
        add("chat", "new", "--id", value)
        add("chat", "new", "--customer", value)
        add("chat", "new", "--queue", value)
        add("--agent", value, "chat", "take", "C1")
        add("chat", "show", value)
        add("chat", "send", "C1", value)
        add("chat", "receive", "C1", value)
        add("chat", "send", "C1", "--template", value)
        add("chat", "classify", "C1", value)
        add("chat", "classify", "C1", "refund", "--note", value)
        add("chat", "contact", "C1", value)
        add("chat", "transfer", "C1", "--queue", value)
        add("chat", "transfer", "C1", "--agent", value)
        add("template", "add", value, "text")
        add("template", "add", "greeting", value)
        add("template", "remove", value)
        add("classification", "add", value)
        add("classification", "list", "--queue", value)
        add("contact", "history", value)
    for value in SQL[:3]:
        add("chat", "list", "--queue", value)
        add("chat", "list", "--state", value)
        add("events", "--chat", value)
        add("events", "--agent", value)
        add("snapshot", "restore", value)
        add("config", "set", "wrapup", "10s", "--queue", value)
        add("explain", value)
        add("expect", "chat", value, "state=queued")
        add("agent", "status", value)
    for value in NUMBERS:
        add("chat", "new", "--priority", value)
        add("config", "set", "max-chats", value)
    for value in [str(2**63 - 1), "0", "1", "-1", "x"]:
        add("events", "--since", value)
    add("events", "--since", str(2**63))
    add("events", "--since", str(10**30))
    for value in DURATIONS:
        add("clock", "advance", value)
        add("config", "set", "wrapup", value)
        add("expect", "chat", "C1", f"wrapup_remaining={value}")
    for value in TIMES:
        add("clock", "set", value)
        add("expect", "clock", f"now={value}")
    for value in ["maybe", "ON", "1", "", "on "]:
        add("config", "set", "auto-present", value)
    for key in ["nokey", "", "'; DROP TABLE config; --", "MAX-CHATS"]:
        add("config", "set", key, "1")
    add("chat", "wrapup", "C1", "--extend", "--finish")
    add("chat", "take")
    add("chat", "take", "C1", "C2")
    add("chat")
    add("nosuchcommand")
    add("chat", "new", "--priority")
    add("expect")
    add("expect", "bogus", "x=1")
    add("expect", "chat", "C1", "noequals")
    add("expect", "chat", "C1", "nofield=1")
    add("expect", "chat", "C1", "priority=" + str(10**30))
    add("expect", "chat", "C1", "priority=1e400")
    add("expect", "chat", "C1", "state=a\nb")
    add("expect", "agent", "status")
    add("events", "--json", "--jsonl")
    add("import", "-", stdin="")
    add("import", "-", stdin="{")
    add("import", "-", stdin='{"format": "chatemu", "format_version": 99}')
    add("import", "-", "--replace", stdin="[]")
    add("import", "/nonexistent/bundle.json")
    add("export", "/nonexistent/folder/bundle.json")
    add("export", ".")
    add("run", "/nonexistent.chatemu")
    add("run", "-", stdin="chat show C1\nchat park C1\n")
    add("run", "-", stdin="chat new --id 'unterminated\n")
    add("run", "-", stdin="run other.chatemu\n")
    add("run", "-", stdin="--db other.db chat list\n")
    add("run", "-", stdin="chat show '\x00'\n")
    add("run", "-", stdin='--db "a\x00b" chat list\n')
    add("run", "-", stdin='export "a\x00b"\n')
    add("run", "-", stdin='import "a\x00b"\n')
    add("reset")
    add("snapshot", "restore", "nosuch")
    add("snapshot", "delete", "nosuch")
    add("clock", "virtual", "extra")
    add("db")
    add("db", "check", "--bogus")
    return cases


# -- the seeded random corpus -------------------------------------------------------------------

#: (command words, positional arguments, its own options)
SHAPES = [
    (["chat", "new"], 0, ["--customer", "--queue", "--priority", "--id", "--inbox", "--json"]),
    (["chat", "take"], 1, ["--json"]), (["chat", "activate"], 1, ["--json"]), (["chat", "park"], 1, ["--json"]),
    (["chat", "end"], 1, ["--json"]), (["chat", "wrapup"], 1, ["--extend", "--finish", "--json"]),
    (["chat", "call-start"], 0, ["--json"]), (["chat", "call-end"], 0, ["--json"]),
    (["chat", "list"], 0, ["--all", "--state", "--queue", "--json"]), (["chat", "show"], 1, ["--json"]),
    (["agent", "status"], 1, ["--json"]), (["agent", "list"], 0, ["--json"]), (["agent", "available"], 0, ["--json"]),
    (["agent", "break"], 0, ["--json"]), (["clock"], 0, ["--json"]), (["clock", "advance"], 1, ["--json"]),
    (["clock", "set"], 1, ["--json"]), (["clock", "virtual"], 0, ["--json"]), (["config", "show"], 0, ["--json"]),
    (["config", "set"], 2, ["--queue", "--json"]), (["events"], 0, ["--chat", "--agent", "--since", "--json", "--jsonl"]),
    (["expect"], 3, ["--json"]), (["explain"], 1, ["--json"]), (["snapshot", "save"], 1, ["--json"]),
    (["snapshot", "restore"], 1, ["--json"]), (["snapshot", "delete"], 1, ["--json"]), (["snapshot", "list"], 0, ["--json"]),
    (["export"], 1, []), (["import"], 1, ["--replace", "--json"]), (["run"], 1, ["--keep-going", "--quiet", "--json"]),
    (["db", "check"], 0, ["--json"]), (["db", "path"], 0, ["--json"]), ([], 0, []), (["bogus"], 1, []),
    (["chat", "bogus"], 0, []),
    (["chat", "send"], 2, ["--template", "--json"]), (["chat", "receive"], 2, ["--json"]),
    (["chat", "transcript"], 1, ["--json"]), (["chat", "return"], 1, ["--json"]),
    (["chat", "transfer"], 1, ["--queue", "--agent", "--json"]), (["chat", "classify"], 2, ["--note", "--json"]),
    (["chat", "flag-abusive"], 1, ["--json"]), (["chat", "contact"], 2, ["--json"]),
    (["template", "add"], 2, ["--queue", "--json"]), (["template", "list"], 0, ["--queue", "--json"]),
    (["template", "remove"], 1, ["--queue", "--json"]), (["classification", "add"], 1, ["--queue", "--json"]),
    (["classification", "list"], 0, ["--queue", "--json"]), (["classification", "remove"], 1, ["--queue", "--json"]),
    (["contact", "history"], 1, ["--json"]),
]
#: Option names (True: takes a value).  Never --follow/-f (it waits for Ctrl-C) nor --yes/-y (reset).
OPTIONS = {
    "--customer": True, "--queue": True, "--priority": True, "--id": True, "--inbox": False, "--json": False,
    "--all": False, "--state": True, "--extend": False, "--finish": False, "--since": True, "--chat": True,
    "--agent": True, "--keep-going": False, "--quiet": False, "--replace": False, "--keep-snapshots": False,
    "--jsonl": False, "--template": True, "--note": True, "--bogus": True, "-x": False, "--": False, "--db": True, "--help": False, "-q": False,
}


def fuzzed(count: int) -> list[Case]:
    rng = random.Random(SEED)
    cases = []
    while len(cases) < count:
        words, arity, own = rng.choice(SHAPES)
        argv: list[str] = []
        if rng.random() < 0.2:
            argv += ["--agent", rng.choice(POOL)]
        argv += words
        extra = rng.choice([-1, 0, 0, 0, 0, 1])
        rest: list[str] = [rng.choice(IDS if rng.random() < 0.35 else POOL) for _ in range(max(0, arity + extra))]
        for _ in range(rng.randint(0, 3)):
            name = rng.choice(own) if own and rng.random() < 0.75 else rng.choice(list(OPTIONS))
            opt = [name] + ([rng.choice(POOL)] if OPTIONS[name] else [])
            at = rng.randint(0, len(rest))
            rest[at:at] = opt
        argv += rest
        if "reset" in argv or "--follow" in argv or "-f" in argv:
            continue
        cases.append(Case(argv, stdin=rng.choice(["", "chat show C1\n", "{}"])))
    return cases


# -- databases --------------------------------------------------------------------------------------


def make_real(path: Path) -> None:
    """A chatemu database with some history: chats in several states, a call, config, a snapshot."""
    cm = Chatemu(path)
    script = "\n".join([
        f"clock set {START}", "config set max-chats 4", "config set wrapup 45s --queue sales",
        "chat new --customer Ann --queue sales", "chat new --customer Bob --priority 5", "chat activate C1",
        "chat new --customer Cy", "chat end C1", "clock advance 10s", "chat park C1", "chat activate C2",
        "--agent agent-2 agent login", "--agent agent-2 agent break", "chat new --id K1 --inbox", "snapshot save base", "chat call-start",
    ])
    done = cm.run("run", "-", stdin=script + "\n")
    assert done.code == 0, done


def file_state(path: Path) -> tuple:
    """The bytes of the database file and its WAL (missing WAL == empty WAL), and whether it exists."""
    def digest(p: Path) -> str | None:
        if p.is_dir():
            return "<dir:" + ",".join(sorted(x.name for x in p.iterdir())) + ">"
        return hashlib.sha256(p.read_bytes()).hexdigest() if p.exists() else None

    wal = Path(f"{path}-wal")
    found = (digest(path), digest(wal) if wal.exists() else hashlib.sha256(b"").hexdigest())
    if found not in _LOGICAL and len(_LOGICAL) < 10_000:
        _LOGICAL[found] = logical_state(path)  # read once per distinct content
    return found


#: The state and journal of each distinct database content seen (``file_state``): a refused
#: state-changing command may append its row to the journal of refusals, and nothing else.
_LOGICAL: dict[tuple, tuple | None] = {}


READ_ONLY = {("chat", "list"), ("chat", "show"), ("agent", "status"), ("agent", "list"), ("config", "show"),
             ("snapshot", "list"), ("db", "check"), ("db", "path"), ("chat", "transcript"), ("template", "list"),
             ("classification", "list"), ("contact", "history")}
READ_ONLY_TOP = {"events", "explain", "expect", "export"}


def is_read_only(argv: list) -> bool:
    """Commands that never write the database, whatever their exit code."""
    words = [a for a in argv if isinstance(a, str)]
    i = 0
    while i < len(words) and words[i] in ("--db", "--agent"):
        i += 2
    words = words[i:]
    if not words or words[0].startswith("-") or words[0] not in ("chat", "agent", "clock", "config", "events",
                                                                  "explain", "expect", "export", "snapshot", "db",
                                                                  "run", "import", "reset", "template",
                                                                  "classification", "contact"):
        return True  # help, version, or an unknown command: nothing runs
    if words[0] in READ_ONLY_TOP:
        return True
    if words[0] == "clock":
        return len(words) == 1 or words[1].startswith("-") or words[1] not in ("advance", "set", "real", "virtual")
    return tuple(words[:2]) in READ_ONLY or len(words) == 1


def judge(case: Case, outcome: Outcome, before: tuple, after: tuple) -> list[str]:
    """Every broken promise of one invocation (empty: all held)."""
    problems = []
    code, out, err = outcome.code, outcome.out, outcome.err
    if "Traceback" in out or "Traceback" in err:
        problems.append("a traceback")
    if code not in DOCUMENTED:
        problems.append(f"exit {code}, not a documented code")
    lines = err.splitlines()
    words = [a for a in case.argv if isinstance(a, str)]
    mismatch = code == 1 and ("expect" in words or "run" in words)
    if code != 0 and not mismatch and (len(lines) != 1 or not lines[0].startswith("error: ")):
        problems.append(f"stderr is not one error line: {err!r}")
    if code == 0 and err:
        problems.append(f"exit 0 with stderr {err!r}")
    if case.db in ("empty", "missing"):
        # No database yet: a command that changes something and succeeds creates it; a read-only
        # command, or a refused one, leaves the file as it was (empty, or missing).
        if (code != 0 or is_read_only(case.argv)) and (after[0] != before[0] or after[1] != EMPTY):
            problems.append("a refused or read-only command wrote into the empty or missing database file")
    elif (code != 0 or is_read_only(case.argv)) and before != after and not (
            not is_read_only(case.argv) and journaled_only(_LOGICAL.get(before), _LOGICAL.get(after), code)):
        problems.append("the database file changed" + (" (read-only command)" if code == 0 else " (refused command)"))
    return [f"{case.label()} -> exit {code}: {p}\n    stderr: {err[:300]!r}" for p in problems]


def run_in_process(argv: list[str], stdin: str) -> Outcome:
    from chatemu.cli.app import main

    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                import traceback

                traceback.print_exc()
                code = 70
    finally:
        sys.stdin = saved
    return Outcome(code, out.getvalue(), err.getvalue())


def run_process(argv: list, stdin: str, env: dict, cwd: Path, prefix: list | None = None) -> Outcome:
    if not prefix:
        return Outcome(*launch([CHATEMU, *argv], env, stdin, cwd=cwd))
    proc = subprocess.run([*(prefix or []), CHATEMU, *argv], input=stdin.encode(), capture_output=True, env=env,
                          cwd=cwd, timeout=60)
    return Outcome(proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace"))


@pytest.fixture
def clean_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith("CHATEMU_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("NO_COLOR", "1")


@pytest.fixture(scope="module")
def real_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("real") / "real.db"
    make_real(path)
    return path


#: Numbers past every bound: SQLite's integers, Python's integer-string limit (4300 digits), a float's
#: range, thousands of leading zeros, digits that are not ASCII.
HUGE = [str(2**63), "9" * 20, str(10**30), "9" * 5000, "-" + "9" * 5000, "0" * 5000 + "1", "1" + "0" * 4400, "1e309",
        "١٢", "²"]
#: An input that never ends, cut to a few megabytes: what `import -`, `run -` and `drill -` read.
#: `yes` is cut to 256K lines (2M with ``CHATEMU_HEAVY``): `run -` reads every line before the first
#: runs, some seconds for 2M.
ENDLESS = {"zeros": "\0" * (4 << 20), "yes": "y\n" * (2 << (20 if HEAVY else 17)), "a string": '{"format": "' + "a" * (5 << 20),
           "digits": '{"format": ' + "9" * (5 << 20), "a line": "chat new --customer " + "a" * (1 << 20) + "\n"}


def numbers() -> list[Case]:
    """Every numeric argument of every command, scenario line and drill line, given each huge number;
    and every command that reads a stream, given an endless one."""
    cases: list[Case] = []
    add = lambda *argv, **kw: cases.append(Case(list(argv), **kw))  # noqa: E731
    for value in HUGE:
        add("chat", "new", "--priority", value)
        add("events", "--since", value)
        add("refusals", "--since", value)
        add("timeline", "--limit", value)
        add("timeline", "--from", value)
        add("stats", "queues", "--since", value)
        add("stats", "agents", "--until", value)
        for key in ("wrapup", "wrapup-extension", "wrapup-extensions", "max-chats", "service-level"):
            add("config", "set", key, value)
        for unit in ("", "ms", "s", "m", "h"):
            add("clock", "advance", value + unit)
        add("clock", "set", value)
        add("expect", "events-since", value, "1")
        add("expect", "events-since", "1", value)
        for field in ("priority", "unread", "transfers", "wrapup_remaining", "created_at"):
            add("expect", "chat", "C1", f"{field}={value}")
        add("drill", "--timeout", value, "-", stdin="say hello\n")
        for line in (f"chat new --priority {value}", f"expect events-since {value} 1", f"expect events-since 1 {value}",
                     f"clock advance {value}", f"config set max-chats {value}"):
            add("run", "-", stdin=line + "\n")
        for line in (f"wait events-since 1 {value} --within 1s", f"wait events-since {value} 1 --within 1s",
                     f"wait clock now=x --within {value}"):
            add("drill", "--timeout", "1s", "-", stdin=f"say hello\n{line}\n")
    for name, text in ENDLESS.items():
        add("import", "-", stdin=text, why=name)
        add("run", "-", stdin=text, why=name)
        add("drill", "--timeout", "1s", "-", stdin=text, why=name)
    return cases


def corpus() -> list[Case]:
    return hand_written() + numbers() + fuzzed(FUZZ_COUNT)


def test_corpus_size():
    cases = corpus()
    assert len(cases) >= 200
    assert len(set(repr(c.argv) for c in cases)) > 190  # not the same few lines over and over


def test_corpus_in_process(tmp_path, real_db, clean_env, monkeypatch):
    """The whole corpus, in-process, one after another on one working database."""
    monkeypatch.chdir(tmp_path)  # export/run write and read relative paths here
    db = tmp_path / "work.db"
    shutil.copyfile(real_db, db)
    failures, codes = [], {}
    for case in corpus():
        before = file_state(db)
        outcome = run_in_process(["--db", str(db), *case.argv], case.stdin)
        codes[outcome.code] = codes.get(outcome.code, 0) + 1
        failures += judge(case, outcome, before, file_state(db))
    print("exit codes:", codes)
    assert not failures, f"{len(failures)} broken promise(s):\n" + "\n".join(failures[:40])
    assert codes.get(2, 0) > 50 and codes.get(0, 0) > 10, codes  # the corpus reaches parsing and the engine
    assert Chatemu(db).run("db", "check").code == 0


def test_corpus_sample_as_processes(tmp_path, real_db):
    """A sample of the same corpus as real processes (argv, stdin and exit codes as a shell sees them)."""
    rng = random.Random(SEED + 1)
    cases = [c for c in corpus() if not any("\x00" in a for a in c.argv)]
    sample = rng.sample(cases, PROCESS_SAMPLE)
    db = tmp_path / "work.db"
    shutil.copyfile(real_db, db)
    cm = Chatemu(db)
    failures = []
    for case in sample:
        before = file_state(db)
        outcome = run_process(["--db", str(db), *case.argv], case.stdin, cm.env, tmp_path)
        failures += judge(case, outcome, before, file_state(db))
    assert not failures, "\n".join(failures)
    assert cm.run("db", "check").code == 0


# -- --db that is not a (writable, current) chatemu database, as real processes --------------------

DB_COMMANDS = [
    ["chat", "list"], ["chat", "new", "--customer", "Ann"], ["chat", "show", "C1"], ["chat", "activate", "C1"],
    ["clock", "advance", "1s"], ["events", "--json"], ["db", "check"], ["expect", "clock", "mode=virtual"],
    ["snapshot", "save", "s1"], ["export", "-"],
]
#: --db kinds that are never a usable chatemu database: every command exits 5.
REFUSED_KINDS = ["folder", "text", "truncated", "newer", "missing-parent"]


def make_db(kind: str, folder: Path, real: Path) -> Path:
    folder.mkdir(parents=True)
    path = folder / "chatemu.db"
    if kind == "folder":
        path.mkdir()
        (path / "inside").write_text("keep")
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("this is not a database\n" * 50)
    elif kind == "truncated":
        path.write_bytes(real.read_bytes()[:1000])
    elif kind == "newer":
        shutil.copyfile(real, path)
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA user_version=99")
        conn.close()
    elif kind == "missing-parent":
        path = folder / "no-such-folder" / "chatemu.db"
    elif kind == "missing":
        pass
    else:
        raise ValueError(kind)
    return path


@pytest.mark.parametrize("kind", REFUSED_KINDS + ["empty", "missing"])
def test_db_kinds(kind, tmp_path, real_db):
    env = Chatemu(tmp_path / "unused.db").env
    failures = []
    for i, args in enumerate(DB_COMMANDS):
        path = make_db(kind, tmp_path / f"c{i}", real_db)
        case = Case(["--db", str(path), *args], db=kind)
        before = file_state(path)
        outcome = run_process(case.argv, "", env, tmp_path)
        failures += judge(case, outcome, before, file_state(path))
        if kind in REFUSED_KINDS and outcome.code != 5:
            failures.append(f"{case.label()} -> exit {outcome.code}, expected 5 (database problem): {outcome.err!r}")
        if kind == "missing-parent" and path.parent.exists():
            failures.append(f"{case.label()}: created the missing folder")
        if kind in ("empty", "missing") and outcome.code not in ((0, 4) if args != ["db", "check"] else (5,)):
            failures.append(f"{case.label()} -> exit {outcome.code}: an empty/missing file is a new database")
    assert not failures, "\n".join(failures)


NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def _read_only_copy(real: Path, tmp_path: Path):
    """A copy of ``real`` that the chatemu processes cannot write: (its path, the command prefix to
    run them with, an undo).  Root ignores file permissions, so as root the file is made immutable
    (``chattr +i``) or, failing that, the processes run as ``nobody`` (``setpriv``)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "chatemu.db"
    shutil.copyfile(real, path)
    if os.geteuid() != 0:
        path.chmod(0o444)
        return path, [], lambda: path.chmod(0o644)
    if shutil.which("chattr") and subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0:
        return path, [], lambda: subprocess.run(["chattr", "-i", str(path)], check=True)
    if shutil.which("setpriv"):
        import tempfile

        folder = Path(tempfile.mkdtemp(prefix="chatemu-ro-"))
        folder.chmod(0o755)  # nobody may enter, not write
        path = folder / "chatemu.db"
        shutil.copyfile(real, path)
        path.chmod(0o444)
        if subprocess.run([*NOBODY, CHATEMU, "--version"], capture_output=True).returncode == 0:
            return path, NOBODY, lambda: shutil.rmtree(folder)
        shutil.rmtree(folder)
    pytest.skip("running as root without `chattr +i` or a usable `setpriv`: cannot make a file read-only for root")


def test_read_only_database(tmp_path, real_db):
    path, prefix, undo = _read_only_copy(real_db, tmp_path)
    env = Chatemu(path).env
    try:
        failures = []
        for args in DB_COMMANDS + [["chat", "park", "C2"], ["config", "set", "max-chats", "9"]]:
            case = Case(["--db", str(path), *args], db="read-only")
            before = file_state(path)
            outcome = run_process(case.argv, "", env, tmp_path, prefix)
            failures += judge(case, outcome, before, file_state(path))
            if not is_read_only(args) and outcome.code not in (3, 4, 5):
                failures.append(f"{case.label()} -> exit {outcome.code}: a change to a read-only file cannot succeed")
        assert not failures, "\n".join(failures)
    finally:
        undo()


# -- regressions: bugs this corpus found, fixed ------------------------------------------------------


def test_read_only_folder_message(tmp_path, real_db):
    """A database kept read-only in a read-only folder (an archive): it can be read; a change is
    refused with exit 5, and the message says why (it said "not a chatemu database")."""
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="chatemu-ro-"))
    try:
        path = folder / "chatemu.db"
        shutil.copyfile(real_db, path)
        path.chmod(0o444)
        folder.chmod(0o555)
        prefix = NOBODY if os.geteuid() == 0 else []
        if prefix and (not shutil.which("setpriv")
                       or subprocess.run([*prefix, CHATEMU, "--version"], capture_output=True).returncode != 0):
            pytest.skip("running as root without a usable `setpriv`: cannot make a folder read-only for root")
        before = file_state(path)
        listed = run_process(["--db", str(path), "chat", "list"], "", Chatemu(path).env, tmp_path, prefix)
        assert listed.code == 0 and "C1" in listed.out, listed
        outcome = run_process(["--db", str(path), "chat", "new"], "", Chatemu(path).env, tmp_path, prefix)
        assert outcome.code == 5, outcome
        assert "read-only" in outcome.err and "not a chatemu database" not in outcome.err, outcome.err
        assert file_state(path) == before and sorted(p.name for p in folder.iterdir()) == ["chatemu.db"]
    finally:
        folder.chmod(0o755)
        shutil.rmtree(folder)


@pytest.mark.parametrize("kind", ["empty", "missing"])
def test_refused_first_command_leaves_an_empty_or_missing_file_empty(kind, tmp_path, real_db):
    env = Chatemu(tmp_path / "unused.db").env
    failures = []
    for i, args in enumerate([["chat", "show", "C1"], ["chat", "activate", "C1"], ["explain", "C9"],
                              ["snapshot", "restore", "nosuch"]]):
        path = make_db(kind, tmp_path / f"c{i}", real_db)
        case = Case(["--db", str(path), *args], db=kind)
        before = file_state(path)
        outcome = run_process(case.argv, "", env, tmp_path)
        assert outcome.code in (3, 4), outcome
        failures += judge(case, outcome, before, file_state(path), )
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("args", [
    ["chat", "show", b"\xff"], ["chat", "activate", b"caf\xe9"], ["chat", "take", b"\xff"], ["explain", b"\xff"],
    ["expect", "chat", b"\xff", "state=new"], ["events", "--chat", b"\xff"], ["chat", "list", "--queue", b"\xff"],
    ["snapshot", "restore", b"\xff"],
], ids=lambda a: " ".join(x if isinstance(x, str) else repr(x) for x in a))
def test_non_utf8_argument_is_a_usage_error(args, tmp_path, real_db):
    """A shell script in a Latin-1 locale passes bytes that are not UTF-8: expected exit 2 (or 4), got 70."""
    db = tmp_path / "work.db"
    shutil.copyfile(real_db, db)
    case = Case(["--db", str(db), *args])
    before = file_state(db)
    outcome = run_process(case.argv, "", Chatemu(db).env, tmp_path)
    problems = judge(case, outcome, before, file_state(db), )
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("since", [str(2**63), str(10**30)])
def test_events_since_overflow_is_a_usage_error(since, tmp_path, real_db):
    db = tmp_path / "work.db"
    shutil.copyfile(real_db, db)
    case = Case(["--db", str(db), "events", "--since", since])
    before = file_state(db)
    outcome = run_process(case.argv, "", Chatemu(db).env, tmp_path)
    problems = judge(case, outcome, before, file_state(db), )
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("line", ['--db "a\x00b" chat list', 'export "a\x00b"', 'import "a\x00b"'],
                         ids=["--db", "export", "import"])
def test_nul_in_path_on_scenario_line_is_a_usage_error(line, tmp_path, real_db):
    db = tmp_path / "work.db"
    shutil.copyfile(real_db, db)
    scenario = tmp_path / "nul.chatemu"
    scenario.write_text(line + "\n")
    case = Case(["--db", str(db), "run", str(scenario)])
    before = file_state(db)
    outcome = run_process(case.argv, "", Chatemu(db).env, tmp_path)
    problems = judge(case, outcome, before, file_state(db), )
    assert not problems, "\n".join(problems)
