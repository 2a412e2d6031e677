"""Fuzzing every way state gets in: mutated real bundles, mutated real scenario files, random
command lines, huge numbers in every numeric argument (of commands, scenario lines and drill lines),
and every column of every table of a real bundle given each hostile value, all in-process through
``chatemu.cli.app.main`` (the same code a process runs).

For every case: a documented exit code (never 70), at most one ``error:`` line when it fails (a
scenario names each failing line; ``expect`` prints its mismatches), the database file unchanged
(sha256 of the file and its WAL) when a command fails, and ``db check`` clean afterwards; whatever
``import`` accepted must not break the commands that come after it.

``CHATEMU_HEAVY=1`` runs many more examples of each.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatemu.store.check import check_path
from conftest import journaled_only, logical_state

HEAVY = bool(os.environ.get("CHATEMU_HEAVY"))
EXAMPLES = 400 if HEAVY else 40
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=not HEAVY,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
SCENARIOS = Path(__file__).resolve().parent.parent / "examples" / "scenarios"
DOCUMENTED = {0, 1, 2, 3, 4, 5}


def run(argv: list[str], stdin: str = "") -> tuple[int, str, str]:
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
    finally:
        sys.stdin = saved
    return code, out.getvalue(), err.getvalue()


def digest(db: Path) -> tuple[str, str]:
    wal = Path(f"{db}-wal")
    found = (hashlib.sha256(db.read_bytes()).hexdigest() if db.exists() else "",
             hashlib.sha256(wal.read_bytes()).hexdigest() if wal.exists() else "")
    if found not in _LOGICAL and len(_LOGICAL) < 10_000:
        _LOGICAL[found] = logical_state(db)  # read once per distinct content
    return found


#: The state and journal of each distinct database content seen (``digest``): a refused
#: state-changing command may append its row to the journal of refusals, and nothing else.
_LOGICAL: dict[tuple, tuple | None] = {}


def judge(argv, code, out, err, before, after) -> None:
    assert code in DOCUMENTED, f"{argv}: exit {code}\n{err}"
    assert "Traceback" not in out + err, f"{argv}:\n{err}"
    if code and argv[2:3] != ["run"] and argv[2:3] != ["expect"]:
        assert len(err.splitlines()) == 1 and err.startswith("error: "), f"{argv}: {err!r}"
        assert before == after or journaled_only(_LOGICAL.get(before), _LOGICAL.get(after), code), \
            f"{argv} failed with exit {code} and changed the database"


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> tuple[Path, str]:
    """A database from a real session (every state, messages, templates, a snapshot) and its bundle."""
    db = tmp_path_factory.mktemp("fuzz") / "template.db"
    lines = [
        "clock set 2026-01-05T09:00:00Z", "config set wrapup 30s --queue billing", "template add hi 'Hi {customer}'",
        "classification add refund", "chat new --customer Ann --queue billing", "chat activate C1",
        "chat receive C1 hello", "chat send C1 --template hi", "chat classify C1 refund --note lost",
        "chat new --customer Bob", "chat park C1", "chat activate C2", "chat end C2", "snapshot save mid",
        "--agent agent-2 agent login", "--agent agent-2 agent break", "chat new --priority 3", "clock advance 10s", "chat activate C1",
        "chat flag-abusive C1", "--agent agent-2 agent available", "chat transfer C1 --agent agent-2",
        "chat new --customer Cy --queue sales", "clock advance 2m",
        "--agent agent-2 agent queues set default sales", "! chat park C99", "!3 chat new --queue sales --id C2",
    ]
    script = db.parent / "make.chatemu"
    script.write_text("\n".join(lines) + "\n")
    code, _, err = run(["--db", str(db), "run", "-q", str(script)])
    assert code == 0, err
    code, text, err = run(["--db", str(db), "export", "-"])
    assert code == 0, err
    return db, text


@pytest.fixture
def work(template, tmp_path, monkeypatch) -> Path:
    for name in list(os.environ):
        if name.startswith("CHATEMU_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.chdir(tmp_path)
    return tmp_path


# -- values a mutation puts in -------------------------------------------------------------------

VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.sampled_from([0, -1, 1, 2**62, -(2**62), 2**63]),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12),
    st.sampled_from(["", "C1", "agent-1", "agent\n1", "queued", "closed", "active", "x" * 300, "\x1b[2J",
                     "lots", "warp", "on", "list", "-5000", "9" * 30, "\ud800"]),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def paths(document, prefix=()):
    """Every (path, value) in a JSON document."""
    yield prefix, document
    if isinstance(document, dict):
        for key, value in document.items():
            yield from paths(value, prefix + (key,))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield from paths(value, prefix + (index,))


@st.composite
def mutated_bundles(draw, text: str):
    document = json.loads(text)
    for _ in range(draw(st.integers(1, 3))):
        places = [p for p, _ in paths(document) if p]
        path = draw(st.sampled_from(places))
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["set", "set", "set", "delete", "duplicate"]))
        if action == "set":
            parent[path[-1]] = draw(VALUES)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, list):
            parent.insert(path[-1], json.loads(json.dumps(parent[path[-1]])))
    return json.dumps(document, ensure_ascii=False)


def test_mutated_bundles(template, work):
    _, text = template

    @FUZZ
    @given(mutated_bundles(text))
    def case(bundle):
        db = work / "import.db"
        for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            path.unlink(missing_ok=True)
        assert run(["--db", str(db), "clock", "set", "2026-01-05T09:00:00Z"])[0] == 0  # an empty database of its own
        before = digest(db)
        argv = ["--db", str(db), "import", "-"]
        code, out, err = run(argv, stdin=bundle)
        judge(argv, code, out, err, before, digest(db))
        assert check_path(db) == []
        if code == 0:  # what import accepted, later commands must handle
            for later in (["chat", "list", "--all"], ["events"], ["agent", "list"], ["config", "show"],
                          ["snapshot", "list"], ["export", "-"], ["clock", "advance", "1h"], ["chat", "new"]):
                argv = ["--db", str(db), *later]
                code, out, err = run(argv)
                assert code in (0, 3), f"{argv} after an accepted import: exit {code}\n{err}"
            assert check_path(db) == []

    case()


# -- mutated scenario files -----------------------------------------------------------------------

WORDS = st.sampled_from(["chat", "new", "take", "activate", "park", "end", "wrapup", "--extend", "--finish",
                         "send", "receive", "return", "transfer", "--queue", "--agent", "classify", "flag-abusive",
                         "contact", "C1", "C2", "C3", "agent-2", "sales", "clock", "advance", "set", "10s", "1m",
                         "expect", "state=closed", "snapshot", "save", "restore", "s", "--inbox", "run", "'",
                         "events", "--follow", "x" * 70, "\x00", "\ufeff", "\u2028", "#", "\\",
                         "events-since", "--priority", "99999999999999999999", "9" * 5000, "0" * 5000 + "1"])


@st.composite
def mutated_scenarios(draw):
    lines = draw(st.sampled_from(sorted(SCENARIOS.glob("*.chatemu")))).read_text().splitlines()
    for _ in range(draw(st.integers(1, 4))):
        index = draw(st.integers(0, max(0, len(lines) - 1)))
        action = draw(st.sampled_from(["drop", "duplicate", "insert", "swap"]))
        if action == "drop" and lines:
            del lines[index]
        elif action == "duplicate" and lines:
            lines.insert(index, lines[index])
        elif action == "insert":
            lines.insert(index, " ".join(draw(st.lists(WORDS, min_size=1, max_size=5))))
        elif lines:
            words = lines[index].split()
            if len(words) > 1:
                i = draw(st.integers(0, len(words) - 1))
                words[i] = draw(WORDS)
                lines[index] = " ".join(words)
    return "\n".join(lines) + "\n"


def test_mutated_scenarios(work):
    @FUZZ
    @given(mutated_scenarios())
    def case(text):
        db = work / "scenario.db"
        for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            path.unlink(missing_ok=True)
        argv = ["--db", str(db), "run", "--keep-going", "-q", "-"]
        code, out, err = run(argv, stdin=text)
        assert code in DOCUMENTED, f"exit {code}\n{err}"
        assert "Traceback" not in out + err and "internal error" not in err, err
        assert all(line.startswith("error: -:") or line.startswith("error: <stdin>:") or ": expected " in line
                   for line in err.splitlines()), err
        if db.exists() and db.stat().st_size:
            assert check_path(db) == []

    case()


# -- random command lines --------------------------------------------------------------------------

STRINGS = st.one_of(st.text(max_size=12), st.sampled_from(["", "C1", "agent\n1", "x" * 300, "\x1b[2J", "lots",
                                                         "-5000", "9" * 30, "9" * 5000, "\ud800", "2026-01-05T09:00Z",
                                                         "-" + "9" * 5000, "0" * 5000 + "1", "1e309", str(2**63),
                                                         "events-since"]))
ARGS = st.one_of(WORDS, STRINGS, st.sampled_from([
    "list", "show", "--all", "--json", "--state", "agent", "status", "available", "break", "config", "wrapup",
    "max-chats", "auto-present", "classification", "list", "template", "add", "remove", "contact", "history",
    "Ann", "explain", "import", "export", "reset", "--yes", "db", "check", "transcript", "call-start", "call-end"]))


def test_random_command_lines(template, work):
    db_template, _ = template

    @FUZZ
    @given(st.lists(ARGS, min_size=1, max_size=6))
    def case(words):
        if "--follow" in words or "-f" in words:
            return  # follows until Ctrl-C
        db = work / "lines.db"
        shutil.copyfile(db_template, db)
        for side in ("-wal", "-shm"):
            Path(f"{db}{side}").unlink(missing_ok=True)
        before = digest(db)
        argv = ["--db", str(db), *words]
        code, out, err = run(argv)
        judge(argv, code, out, err, before, digest(db))
        assert check_path(db) == []

    case()


# -- huge numbers in every numeric argument -------------------------------------------------------

#: Numbers around and far past every bound: SQLite's integers, Python's 4300-digit integer-string
#: limit, floats past their range, leading zeros, digits that are not ASCII.
HUGE_NUMBERS = st.one_of(
    st.integers(2**63 - 3, 2**63 + 3).map(str), st.integers(-(2**63) - 3, -(2**63) + 3).map(str),
    st.text("0123456789", min_size=19, max_size=6000), st.integers(1, 6000).map(lambda n: "0" * n + "1"),
    st.integers(4290, 4310).map(lambda n: "9" * n), st.sampled_from(["1e309", "-1e309", "١٢", "²", "1" + "0" * 5000]),
)
#: Every numeric argument: (argv with ``{}`` where the number goes, stdin with ``{}``, or None).
NUMERIC = [
    (["chat", "new", "--priority", "{}"], None), (["events", "--since", "{}"], None),
    (["refusals", "--since", "{}"], None), (["timeline", "--limit", "{}"], None),
    (["config", "set", "max-chats", "{}"], None), (["config", "set", "wrapup-extensions", "{}"], None),
    (["config", "set", "wrapup", "{}"], None), (["config", "set", "service-level", "{}ms"], None),
    (["clock", "advance", "{}"], None), (["clock", "advance", "{}ms"], None), (["clock", "advance", "{}h"], None),
    (["expect", "events-since", "{}", "1"], None), (["expect", "events-since", "1", "{}"], None),
    (["expect", "chat", "C1", "priority={}"], None), (["expect", "chat", "C1", "unread={}"], None),
    (["drill", "--timeout", "{}", "-"], "say hello\n"),
    (["run", "-"], "chat new --priority {}\n"), (["run", "-"], "expect events-since {} 1\n"),
    (["run", "-"], "expect events-since 1 {}\n"), (["run", "-"], "clock advance {}\n"),
    (["drill", "--timeout", "1s", "-"], "say hello\nwait events-since 1 {} --within 1s\n"),
    (["drill", "--timeout", "1s", "-"], "say hello\nwait events-since {} 1 --within 1s\n"),
    (["drill", "--timeout", "1s", "-"], "say hello\nwait clock now=x --within {}s\n"),
]


#: The shapes every slot is given, besides the random ones.
EVERY = [str(2**63), str(-(2**63) - 1), "9" * 20, "9" * 5000, "-" + "9" * 5000, "0" * 5000 + "1", "1" + "0" * 5000,
         "1e309", "١٢", "²"]


def test_huge_numbers_in_every_numeric_argument(template, work):
    """Each numeric argument of each command, scenario line and drill line: every shape of EVERY,
    then random huge numbers.  A documented exit code, never an internal error; a failed command
    changes nothing."""
    db_template, _ = template

    def case(slot, number):
        words, stdin = slot
        db = work / "numbers.db"
        shutil.copyfile(db_template, db)
        for side in ("-wal", "-shm"):
            Path(f"{db}{side}").unlink(missing_ok=True)
        before = digest(db)
        argv = ["--db", str(db), *(word.replace("{}", number) for word in words)]
        code, out, err = run(argv, stdin=stdin.replace("{}", number) if stdin else "")
        assert "internal error" not in err, f"{slot}: {err[:300]}"
        if words[0] in ("run", "drill"):
            assert code in DOCUMENTED, f"{slot}: exit {code}\n{err[:300]}"
        else:
            judge(argv, code, out, err, before, digest(db))
        assert check_path(db) == []

    for slot in NUMERIC:
        for number in EVERY:
            case(slot, number)
    FUZZ(given(st.sampled_from(NUMERIC), HUGE_NUMBERS)(case))()


# -- every column of every table, one hostile value at a time -------------------------------------

#: Values of the wrong kind for any column, by kind: each is refused by import, or accepted and then
#: harmless.
HOSTILE_KINDS = [
    [None],
    ["a\x01b", "a\x00b", "\x1b[31mred", "\x1b]0;title\x07", "two\nlines", "\u202eevil", "\x85"],  # control
    ["", "warp", "x" * 20_000],  # text that is no value of any column
    [2**63, -(2**63) - 1, 2**62, -1, 0],  # integers past SQLite's, huge, negative, zero
    [1.5, True, [], {}],  # the wrong JSON type
]
HOSTILE_ANY = [value for kind in HOSTILE_KINDS for value in kind]
#: Control characters, as plain output must never print them.
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
NUL = re.compile("\x00")
#: The stored texts that may hold control characters: newline and tab in texts people write;
#: a refused command line as it was typed (anything a command line can carry).
KEEPS = {("messages", "text"): "\n\t", ("templates", "text"): "\n\t", ("chats", "classification_note"): "\n\t",
         ("refusals", "command"): "*"}
LATER = (["chat", "list", "--all"], ["events"], ["stats", "queues"], ["stats", "agents"], ["refusals"],
         ["agent", "list"], ["queue", "list"], ["config", "show"], ["snapshot", "list"], ["template", "list"],
         ["classification", "list"], ["chat", "show", "C1"], ["explain", "C1"], ["clock"])


def hostile_values(spot: int) -> list:
    """The hostile values the ``spot``-th column is given: every one with ``CHATEMU_HEAVY``;
    otherwise one of each kind, taking the kind's values in turn from column to column, so that
    every column meets every kind and every value meets many columns."""
    if HEAVY:
        return HOSTILE_ANY
    return [kind[spot % len(kind)] for kind in HOSTILE_KINDS]


def hostile_bundles(text: str):
    """(where, bundle text) for every column of every table of the state (the first row, and an
    agent's first status event), of the snapshots' entries and of ``events_seq``, set to hostile
    values in turn (``hostile_values``)."""
    document = json.loads(text)
    spots = []
    for table, rows in sorted(document["state"].items()):
        if table == "events_seq":
            spots.append((("state", "events_seq"), "events_seq"))
            continue
        assert rows, f"the template's {table} has no rows"
        picks = [0] + ([next(i for i, row in enumerate(rows) if row["chat"] is None)] if table == "events" else [])
        for index in picks:
            for column in sorted(rows[index]):
                spots.append((("state", table, index, column), f"{table}[{index}].{column}"))
    for column in sorted(document["snapshots"][0]):
        if column != "state":
            spots.append((("snapshots", 0, column), f"snapshots[0].{column}"))
    for spot, (path, where) in enumerate(spots):
        for value in hostile_values(spot):
            copy = json.loads(text)
            parent = copy
            for key in path[:-1]:
                parent = parent[key]
            parent[path[-1]] = value
            yield f"{where} = {value!r:.40}", json.dumps(copy, ensure_ascii=False)


def test_every_column_of_every_table_is_refused_or_harmless(template, work):
    """Each hostile value in each column: import refuses it (exit 2, the file unchanged), or
    accepts it and then ``db check`` is clean, no stored text holds a control character (but
    where a text may: newline and tab in a message), and no later command fails or prints one."""
    _, text = template
    db = work / "column.db"
    empty = work / "empty.db"
    assert run(["--db", str(empty), "clock", "set", "2026-01-05T09:00:00Z"])[0] == 0
    accepted = 0
    for where, bundle in hostile_bundles(text):
        for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            path.unlink(missing_ok=True)
        shutil.copyfile(empty, db)
        before = digest(db)
        code, out, err = run(["--db", str(db), "import", "-"], stdin=bundle)
        assert code in (0, 2), f"{where}: exit {code}\n{err}"
        if code == 2:
            assert err.startswith("error: ") and len(err.splitlines()) == 1, f"{where}: {err!r}"
            assert digest(db) == before, f"{where}: refused, yet the file changed"
            continue
        accepted += 1
        assert check_path(db) == [], where
        code, out, err = run(["--db", str(db), "export", "-"])
        assert code == 0, f"{where}: export exit {code}\n{err}"
        try:
            exported = json.loads(out)
        except ValueError as exc:
            raise AssertionError(f"{where}: export wrote no JSON ({exc}): {out[exc.pos - 60:exc.pos + 20]!r}") from None
        for table, rows in exported["state"].items():
            for row in rows if isinstance(rows, list) else ():
                for column, value in row.items():
                    if isinstance(value, str):
                        allowed = KEEPS.get((table, column), "")
                        assert not (CONTROL if allowed != "*" else NUL).search(value.translate(
                            {ord(c): None for c in allowed})), f"{where}: {table}.{column} holds {value!r}"
        for later in LATER:
            code, out, err = run(["--db", str(db), *later])
            assert code in (0, 4), f"{where}: {later} exit {code}\n{err}"
            assert not RAW_CONTROL.search(out + err), f"{where}: {later} printed {out + err!r}"
    assert accepted  # some values are legal somewhere (null where a column may be null)


def test_every_hostile_value_meets_some_column(template):
    """The default sample (``hostile_values``) still gives every value of HOSTILE_ANY to some column."""
    spots = len(list(hostile_bundles(template[1]))) // len(hostile_values(0))
    assert spots > 50  # every column of every table
    used = {repr(value) for spot in range(spots) for value in hostile_values(spot)}
    assert used == {repr(value) for value in HOSTILE_ANY}
