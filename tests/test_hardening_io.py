"""Files, streams and odd inputs at chatemu's edges: export targets, import of snapshots, foreign
SQLite files, huge numbers, bundles with bad strings, integers or duplicates, closed pipes, the
busy timeout, ``--db`` values that look like SQLite URIs, and the lines of scenario files.

Every case runs real ``chatemu`` processes; a refusal is exactly one ``error:`` line, the
documented exit code, nothing on stdout and the database unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
from pathlib import Path

import pytest
from conftest import CHATEMU, START, Chatemu, launch


def run_in(cm: Chatemu, cwd: Path, *args: str, env: dict | None = None, umask: int | None = None,
           stdin: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """``chatemu ARGS`` with its own working folder, environment and umask."""
    code, out, err = launch([CHATEMU, *args], env if env is not None else cm.env, stdin, timeout, cwd=cwd,
                            umask=umask)
    return subprocess.CompletedProcess([CHATEMU, *args], code, out, err)


def one_error(proc, code: int, match: str | None = None) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stdout[:500], proc.stderr[:500])
    assert proc.stdout == "", proc.stdout[:500]
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr[:500]
    assert "Traceback" not in proc.stderr
    if match is not None:
        assert match in lines[0], lines[0]
    return lines[0]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def setup(cm: Chatemu, script: str) -> None:
    done = cm.run("run", "-", stdin=script)
    assert done.code == 0, done


# == 1. export: never onto the database, never over a file unasked, honouring the umask ==========


@pytest.mark.parametrize("target", ["same", "symlink", "spelling", "wal", "shm", "hardlink"])
def test_export_refuses_the_database_file_and_its_side_files(cm, tmp_path, target):
    setup(cm, "chat new --customer Ann\nsnapshot save s1\n")
    db = cm.db
    before = digest(db)
    (tmp_path / "sub").mkdir()
    if target == "same":
        path = str(db)
    elif target == "symlink":
        path = str(tmp_path / "link.db")
        os.symlink(db, path)
    elif target == "spelling":
        path = str(tmp_path / "sub" / ".." / "." / db.name)
    elif target == "hardlink":
        path = str(tmp_path / "hard.db")
        os.link(db, path)
    else:
        path = f"{db}-{target}"
    cm.fails(2, "export", path, match="database")
    cm.fails(2, "export", "--force", path, match="database")
    assert digest(db) == before
    assert cm.js("chat", "show", "C1")["customer"] == "Ann"


def test_export_refuses_to_overwrite_a_file_unless_force(cm, tmp_path):
    cm.ok("chat", "new", "--customer", "Ann")
    target = tmp_path / "bundle.json"
    target.write_text("precious\n")
    cm.fails(2, "export", str(target), match="--force")
    assert target.read_text() == "precious\n"
    cm.ok("export", "--force", str(target))
    assert json.loads(target.read_text())["format"] == "chatemu-bundle"
    assert target.read_text() == cm.ok("export", "-").out


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002, 0o027])
def test_export_creates_files_with_the_umask_and_keeps_an_overwritten_files_mode(cm, tmp_path, umask):
    cm.ok("chat", "new")
    new = tmp_path / "new.json"
    proc = run_in(cm, tmp_path, "export", str(new), umask=umask)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE(new.stat().st_mode) == 0o666 & ~umask
    old = tmp_path / "old.json"
    old.write_text("old\n")
    old.chmod(0o640)
    proc = run_in(cm, tmp_path, "export", "--force", str(old), umask=umask)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE(old.stat().st_mode) == 0o640
    assert json.loads(old.read_text())["format"] == "chatemu-bundle"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".chatemu-")]


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_import_makes_a_new_database_with_the_permissions_any_command_gives_it(cm, tmp_path, umask):
    """``import`` builds a new database under a temporary name, then names it: it gets the
    permissions SQLite gives a database that any other command creates (``0644`` less the umask)."""
    bundle = tmp_path / "bundle.json"
    cm.ok("export", str(bundle))
    for name, args in (("made.db", ["chat", "new"]), ("imported.db", ["import", str(bundle)])):
        proc = run_in(cm, tmp_path, "--db", name, *args, umask=umask)
        assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE((tmp_path / "imported.db").stat().st_mode) == 0o644 & ~umask
    assert stat.S_IMODE((tmp_path / "made.db").stat().st_mode) == 0o644 & ~umask


# == 2. import --replace keeps the database's snapshots ========================================


def test_import_replace_keeps_the_databases_snapshots_unless_asked(cm, tmp_path):
    source = Chatemu(tmp_path / "source.db")
    setup(source, f"clock set {START}\nchat new --customer Bundle\nsnapshot save shared\nsnapshot save theirs\n")
    bundle = tmp_path / "bundle.json"
    source.ok("export", str(bundle))
    setup(cm, "chat new --customer Mine\nchat new\nsnapshot save mine\nsnapshot save shared\n")
    mine_events = len(cm.js("events"))

    done = cm.js("import", "--replace", str(bundle))
    assert done["replaced"] == {"chats": 2, "events": mine_events, "snapshots": 1}
    assert [s["name"] for s in cm.js("snapshot", "list")] == ["mine", "shared", "theirs"]
    cm.ok("snapshot", "restore", "mine")
    assert [c["customer"] for c in cm.js("chat", "list", "--all")] == ["Mine", None]
    cm.ok("snapshot", "restore", "shared")  # the bundle's snapshot of that name replaced ours
    assert [c["customer"] for c in cm.js("chat", "list", "--all")] == ["Bundle"]

    text = cm.ok("import", "--replace", str(bundle)).out
    assert "replaced 1 chat(s)" in text and "2 snapshot(s)" in text, text
    done = cm.js("import", "--replace", "--replace-snapshots", str(bundle))
    assert done["replaced"]["snapshots"] == 3
    assert [s["name"] for s in cm.js("snapshot", "list")] == ["shared", "theirs"]


# == 3. a foreign SQLite file is never taken over ==============================================


@pytest.mark.parametrize("args", [["reset", "--yes"], ["chat", "new"], ["chat", "list"], ["clock", "set", START],
                                  ["snapshot", "save", "s"], ["import", "-"]])
def test_a_sqlite_file_with_a_foreign_application_id_is_left_alone(tmp_path, args):
    import sqlite3

    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA application_id = 1234")
    conn.commit()
    conn.close()
    before = digest(path)
    cm = Chatemu(path)
    stdin = Chatemu(tmp_path / "x.db").run("export", "-").out if args[0] == "import" else None  # creates no x.db
    one_error(run_in(cm, tmp_path, *args, stdin=stdin), 5, match="not a chatemu database")
    assert digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]


# == 4. no internal errors: huge numbers, no default folder, bad bundle values, follow in run ======

HUGE = "9" * 5000


@pytest.mark.parametrize("args", [
    ["clock", "advance", HUGE], ["clock", "advance", HUGE + "s"], ["clock", "advance", "0." + HUGE + "s"],
    ["chat", "new", "--priority", HUGE], ["config", "set", "max-chats", HUGE], ["config", "set", "wrapup", HUGE],
    ["events", "--since", HUGE], ["expect", "chat", "C1", "wrapup_remaining=" + HUGE],
], ids=lambda a: " ".join(w[:12] for w in a))
def test_numbers_with_thousands_of_digits_are_usage_errors(cm, args):
    setup(cm, "chat new\nchat activate C1\nchat end C1\n")  # C1 in wrap-up: wrapup_remaining is a duration
    cm.fails(2, *args)


def test_durations_with_many_leading_or_trailing_zeros_still_read(cm):
    assert cm.js("clock", "advance", "0" * 5000 + "1.5" + "0" * 5000 + "s")["now"] == "2026-01-05T09:00:01.500Z"


@pytest.mark.parametrize("home", ["file", "/proc", "/dev/null"])
def test_an_uncreatable_default_database_folder_is_a_database_problem(tmp_path, home):
    if home == "file":
        home = str(tmp_path / "a-file")
        Path(home).write_text("not a folder\n")
    env = {k: v for k, v in Chatemu(tmp_path / "unused.db").env.items() if k not in ("CHATEMU_DB", "XDG_CONFIG_HOME")}
    env["HOME"] = home
    one_error(run_in(None, tmp_path, "chat", "new", env=env), 5, match="folder")
    # Reads need no folder: a path with no database yet reads as a new one would, creating nothing.
    for args in (["chat", "list"], ["db", "path"]):
        done = run_in(None, tmp_path, *args, env=env)
        assert done.returncode == 0 and done.stderr == "", done


def _bundle(tmp_path: Path) -> dict:
    source = Chatemu(tmp_path / "source.db")
    setup(source, f"clock set {START}\nagent break\nchat new --customer Ann\nchat new --customer Bob\n"
                  "snapshot save s1\nsnapshot save s2\n")
    return json.loads(source.ok("export", "-").out)


MARK = "MARK-FOR-A-SURROGATE"


def bad_value_bundles(doc: dict) -> dict[str, str]:
    """Bundles that are valid JSON but hold a value no database can: name → text."""
    def variant(change) -> str:
        d = json.loads(json.dumps(doc))
        change(d)
        return json.dumps(d).replace(f'"{MARK}"', '"\\ud800"')

    return {
        "surrogate-customer": variant(lambda d: d["state"]["chats"][0].update(customer=MARK)),
        "surrogate-snapshot-name": variant(lambda d: d["snapshots"][0].update(name=MARK)),
        "surrogate-in-snapshot-state": variant(lambda d: d["snapshots"][1]["state"]["chats"][0].update(queue=MARK)),
        "events-seq-2**63": variant(lambda d: d["state"].update(events_seq=2**63)),
        "snapshot-created-at-2**63": variant(lambda d: d["snapshots"][0].update(created_at_ms=2**63)),
        "snapshot-events-seq-2**64": variant(lambda d: d["snapshots"][1]["state"].update(events_seq=2**64)),
    }


@pytest.mark.parametrize("kind", ["surrogate-customer", "surrogate-snapshot-name", "surrogate-in-snapshot-state",
                                  "events-seq-2**63", "snapshot-created-at-2**63", "snapshot-events-seq-2**64"])
def test_bundle_with_lone_surrogates_or_integers_past_64_bits_is_a_usage_error(cm, tmp_path, kind):
    text = bad_value_bundles(_bundle(tmp_path))[kind]
    assert MARK not in text and ("ud800" in text) == kind.startswith("surrogate")
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8")
    cm.fails(2, "import", "--replace", str(path))
    empty = Chatemu(tmp_path / "empty.db")
    empty.ok("clock", "set", START)
    empty.fails(2, "import", str(path))


@pytest.mark.parametrize("line", ["events --follow", "events -f", "events --jsonl -f", "--agent agent-2 events -f",
                                  "chatemu events --follow --chat C1"])
def test_events_follow_is_refused_in_a_scenario(cm, tmp_path, line):
    scenario = tmp_path / "follow.chatemu"
    scenario.write_text(f"chat new\n{line}\nchat new\n")
    before = cm.dump()
    proc = run_in(cm, tmp_path, "run", "-q", str(scenario), timeout=20)
    error = one_error(proc, 2, match=f"{scenario}:2:")
    assert "follow" in error
    assert cm.dump() != before and len(cm.js("chat", "list", "--all")) == 1  # line 1 ran, line 3 did not


# == 5. duplicates in bundles, closed pipes, the busy timeout ==================================


def duplicate_bundles(doc: dict) -> dict[str, tuple[str, str]]:
    """name → (bundle text, what the message must name)."""
    out = {}
    for kind, table, key in [("chat", "chats", "id"), ("agent", "agents", "id"), ("event", "events", "seq")]:
        d = json.loads(json.dumps(doc))
        d["state"][table].append(dict(d["state"][table][0]))
        out[kind] = (json.dumps(d), str(d["state"][table][0][key]))
    d = json.loads(json.dumps(doc))
    d["state"]["chats"][1]["number"] = d["state"]["chats"][0]["number"]
    out["chat-number"] = (json.dumps(d), str(d["state"]["chats"][0]["number"]))
    d = json.loads(json.dumps(doc))
    d["state"]["config"] = [{"queue": "", "key": "max-chats", "value": "2"}] * 2
    out["config"] = (json.dumps(d), "max-chats")
    d = json.loads(json.dumps(doc))
    d["snapshots"].append(dict(d["snapshots"][0]))
    out["snapshot"] = (json.dumps(d), "s1")
    d = json.loads(json.dumps(doc))
    d["snapshots"][1]["state"]["chats"].append(dict(d["snapshots"][1]["state"]["chats"][0]))
    out["chat-in-snapshot"] = (json.dumps(d), "C1")
    return out


@pytest.mark.parametrize("kind", ["chat", "agent", "event", "chat-number", "config", "snapshot", "chat-in-snapshot"])
def test_duplicate_ids_in_a_bundle_are_usage_errors_naming_the_duplicate(cm, tmp_path, kind):
    text, name = duplicate_bundles(_bundle(tmp_path))[kind]
    path = tmp_path / "dup.json"
    path.write_text(text, encoding="utf-8")
    cm.fails(2, "import", "--replace", str(path), match=name)
    empty = Chatemu(tmp_path / "empty.db")
    empty.ok("clock", "set", START)
    done = empty.fails(2, "import", str(path), match=name)
    assert "twice" in done.err or "duplicate" in done.err, done


@pytest.fixture(scope="module")
def busy_db(tmp_path_factory) -> Chatemu:
    """About 4,000 events and 2,000 chats: far more output than a pipe holds; and a scenario
    of 4,000 read-only lines next to it."""
    folder = tmp_path_factory.mktemp("busy")
    cm = Chatemu(folder / "busy.db")
    lines = [f"clock set {START}", "agent break"]
    for i in range(1, 2001):
        lines += [f"chat new --customer Customer-Number-{i}", f"chat end C{i}"]
    setup(cm, "\n".join(lines) + "\n")
    (folder / "reads.chatemu").write_text("clock\n" * 4000)
    return cm


@pytest.mark.parametrize("args", [
    ["events"], ["events", "--jsonl"], ["events", "--json"], ["chat", "list", "--all"], ["events", "--follow"],
    ["events", "-f", "--jsonl"], ["export", "-"], ["run", "READS"], ["run", "--json", "READS"],
], ids=" ".join)
def test_a_closed_pipe_ends_quietly_with_exit_0(busy_db, args):
    reads = str(busy_db.db.parent / "reads.chatemu")
    args = [reads if a == "READS" else a for a in args]
    before = busy_db.dump()
    proc = subprocess.Popen([CHATEMU, *args], env=busy_db.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.readline()
    proc.stdout.close()  # the reader goes away, as `| head -1` does
    try:
        code = proc.wait(timeout=60)
    finally:
        proc.kill()
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert first
    assert (code, err) == (0, ""), (code, err)
    assert busy_db.dump() == before


@pytest.mark.parametrize("value", ["abc", "-1", "nan", "inf", "3601", "1e400", "10s"])
def test_an_invalid_busy_timeout_is_a_usage_error(cm, value):
    cm.fails(2, "chat", "new", env={"CHATEMU_BUSY_TIMEOUT": value}, match="CHATEMU_BUSY_TIMEOUT")
    cm.fails(2, "chat", "list", env={"CHATEMU_BUSY_TIMEOUT": value}, match="CHATEMU_BUSY_TIMEOUT")
    cm.fails(2, "db", "check", env={"CHATEMU_BUSY_TIMEOUT": value}, match="CHATEMU_BUSY_TIMEOUT")


# == 6. --db is a plain file path ============================================================


@pytest.mark.parametrize("name", ["file:x.db?mode=memory", "file:y.db", "file::memory:", "file:z.db?mode=ro"])
def test_a_db_that_looks_like_a_sqlite_uri_is_a_plain_file(tmp_path, name):
    env = {k: v for k, v in Chatemu(tmp_path / "unused.db").env.items() if k != "CHATEMU_DB"}
    for args in (["clock", "set", START], ["chat", "new", "--customer", "Ann"]):
        proc = run_in(None, tmp_path, "--db", name, *args, env=env)
        assert proc.returncode == 0, proc.stderr
    proc = run_in(None, tmp_path, "--db", name, "chat", "list", "--all", "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    assert [c["customer"] for c in json.loads(proc.stdout)] == ["Ann"]
    assert (tmp_path / name).is_file()
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(name)) == []
    proc = run_in(None, tmp_path, "--db", name, "db", "check", env=env)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(name)) == []


def test_an_in_memory_database_is_refused(tmp_path):
    env = {k: v for k, v in Chatemu(tmp_path / "unused.db").env.items() if k != "CHATEMU_DB"}
    for args in (["chat", "new"], ["chat", "list"], ["db", "check"]):
        one_error(run_in(None, tmp_path, "--db", ":memory:", *args, env=env), 2, match="separate process")
        one_error(run_in(None, tmp_path, *args, env={**env, "CHATEMU_DB": ":memory:"}), 2, match="separate process")
    assert list(tmp_path.iterdir()) == []


# == 7. scenario files: lines end at \n only ====================================================

SEPARATORS = ["\f", "\v", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\r"]


def test_scenario_lines_are_split_at_newlines_only(cm, tmp_path):
    text = "chat new\n" + "".join(f"# a comment with {sep!r}: {sep}chat park C9\n" for sep in SEPARATORS)
    text += "chat park C9\n"
    scenario = tmp_path / "seps.chatemu"
    scenario.write_bytes(text.encode("utf-8"))
    proc = run_in(cm, tmp_path, "run", "-q", str(scenario))
    error = one_error(proc, 4, match=f"{scenario}:{len(SEPARATORS) + 2}: chat park C9")
    assert "unknown chat" in error
    assert len(cm.js("chat", "list", "--all")) == 1


def test_scenario_crlf_and_a_leading_bom_are_read(cm, tmp_path):
    scenario = tmp_path / "bom.chatemu"
    scenario.write_bytes("\ufeffchat new --customer Ann\r\nexpect chat C1 customer=Ann\r\nchat park C9\r\n".encode())
    one_error(run_in(cm, tmp_path, "run", "-q", str(scenario)), 4, match=f"{scenario}:3: chat park C9: unknown chat")
    assert cm.chat("C1")["customer"] == "Ann"
    text = cm.run("run", "-", stdin="\ufeffclock\n").out
    assert "<stdin>:1: clock" in text, text


@pytest.mark.parametrize("line", ["chat new --customer '" + "x" * 1_000_000,
                                  "chat show " + "x" * 1_000_000,
                                  "chat new --customer " + "y" * 1_000_000,
                                  "nosuchcommand " + "z" * 1_000_000])
def test_a_huge_scenario_line_is_echoed_cut_short(cm, tmp_path, line):
    scenario = tmp_path / "long.chatemu"
    scenario.write_text(f"chat new\n{line}\n")
    proc = run_in(cm, tmp_path, "run", str(scenario))
    assert proc.returncode in (2, 4), proc.stderr[:300]
    errors = proc.stderr.splitlines()
    assert len(errors) == 1 and errors[0].startswith(f"error: {scenario}:2: "), proc.stderr[:300]
    assert len(errors[0]) < 1500 and "…" in errors[0], errors[0][:300]


@pytest.mark.parametrize("args", [["chat", "list", "--all"], ["events", "--json"], ["export", "-"]], ids=" ".join)
def test_output_that_cannot_be_written_is_one_error_line_and_exit_1(cm, args):
    """A full disk under stdout: one line saying so, exit 1, no traceback (exec'd: the real stdout)."""
    cm.ok("chat", "new")
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    with open("/dev/full", "w") as full:
        proc = subprocess.run([CHATEMU, *args], stdout=full, stderr=subprocess.PIPE, text=True, env=cm.env, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.splitlines() == ["error: cannot write the output: No space left on device"], proc.stderr


def test_a_closed_stdout_or_stderr_is_nowhere_and_the_command_still_acts(cm):
    """`chatemu chat new >&-`: the chat is made, exit 0; a closed stderr hides an error, not its exit code."""
    script = f'"{CHATEMU}" chat new --customer Ann >&- || exit 9; "{CHATEMU}" chat show C9 2>&-; echo "exit $?"'
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=cm.env, timeout=60)
    assert (proc.stdout, proc.stderr) == ("exit 4\n", ""), proc
    assert cm.chat("C1")["customer"] == "Ann"
