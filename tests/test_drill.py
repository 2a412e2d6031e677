"""``chatemu drill``, end to end: the drill runs as one process (``Popen``) while the test plays
the trainee with separate ``chatemu`` processes on the same database, as a trainee would in
another terminal.  The plain output (not a terminal) says when the drill waits, so the test
answers then."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from conftest import CHATEMU, START, Chatemu

DRILLS = Path(__file__).resolve().parent.parent / "examples" / "drills"


class Drill:
    """A running ``chatemu drill``: its output read line by line as it comes."""

    def __init__(self, cm: Chatemu, path: Path, *args: str, env: dict | None = None):
        self.proc = subprocess.Popen([CHATEMU, "drill", str(path), "--timeout", "60s", *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env={**cm.env, **(env or {})})
        self.lines: list[str] = []

    def until(self, text: str) -> str:
        """Read until a line holding ``text`` (the drill flushes each line as it goes)."""
        for line in self.proc.stdout:
            self.lines.append(line)
            if text in line:
                return line
        raise AssertionError(f"the drill ended before printing {text!r}:\n{''.join(self.lines)}")

    def finish(self) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=60)
        return self.proc.returncode, "".join(self.lines) + out, err

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


@pytest.fixture
def drills():
    """Start drills with ``drills(cm, path, *args)``; any left running are killed at the end."""
    started: list[Drill] = []

    def start(cm: Chatemu, path: Path, *args: str, **kw) -> Drill:
        started.append(Drill(cm, path, *args, **kw))
        return started[-1]

    yield start
    for drill in started:
        drill.kill()


def write(tmp_path: Path, text: str, name: str = "t.drill") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


ACTIVATE = """\
say Ann starts a chat.
do chat new --customer Ann
! chat park C9
say Accept it: chatemu chat activate C1
wait chat C1 state=active {options}
say Well done.
"""


def test_a_drill_done_with_a_mistake_reports_each_step_and_the_mistake(cm, tmp_path, drills):
    drill = drills(cm, write(tmp_path, ACTIVATE.format(options="")))
    assert drill.until(": waiting: ").endswith("t.drill:5: waiting: chat C1 state=active\n")
    cm.fails(3, "chat", "park", "C1")  # the trainee's mistake
    cm.ok("chat", "activate", "C1")
    code, out, err = drill.finish()
    assert (code, err) == (0, ""), out + err
    assert "* Ann starts a chat.\n" in out and "* Accept it: chatemu chat activate C1\n" in out
    assert "t.drill:2: do chat new --customer Ann  -> C1 new in agent-1's inbox\n" in out
    assert "t.drill:5: done: chat C1 state=active (0s clock, " in out
    assert "1 of 1 wait(s) done, 0 hint(s) shown, 1 mistake(s)" in out
    mistakes = out.split("mistakes (refused commands):\n")[1].splitlines()
    assert mistakes[0].split() == ["AT", "AGENT", "COMMAND", "MESSAGE"]
    assert mistakes[1:] == [f"{START[:-1]}.000Z  agent-1  chat park C1  cannot park C1: it is new"]  # not the drill's own
    assert [row[3] for row in cm.journal()] == ["chat park C9", "chat park C1"]  # both journaled


def test_a_missed_deadline_shows_the_hint_once_and_keeps_waiting(cm, tmp_path, drills):
    drill = drills(cm, write(tmp_path, ACTIVATE.format(options='--within 30s --hint "Type: chatemu chat activate C1"')))
    assert drill.until(": waiting: ").endswith("waiting: chat C1 state=active (within 30s)\n")
    cm.ok("clock", "advance", "40s")  # the trainer moves the virtual clock past the deadline
    assert drill.until(": hint: ") == "t.drill:5: hint: Type: chatemu chat activate C1\n"
    cm.ok("run", "-", stdin="clock advance 10s\nchat activate C1\n")
    code, out, err = drill.finish()
    assert (code, err) == (0, ""), out + err
    assert out.count("hint: ") == 1
    assert "t.drill:5: done: chat C1 state=active (50s clock, " in out and ", late)\n" in out
    assert "1 of 1 wait(s) done, 1 late, 1 hint(s) shown, 0 mistake(s); 50s on the database clock" in out
    assert [line.split()[-2:] for line in out.splitlines() if line.startswith("5 ")] == [["wall", "shown"]]


def test_strict_fails_the_step_past_its_deadline(cm, tmp_path, drills):
    drill = drills(cm, write(tmp_path, ACTIVATE.format(options='--within 30s --hint "Activate C1" --strict')))
    drill.until(": waiting: ")
    cm.ok("clock", "advance", "30s")
    code, out, err = drill.finish()
    assert code == 1, out + err
    assert err == (f"error: {tmp_path / 't.drill'}:5: wait chat C1 state=active --within 30s --hint 'Activate C1'"
                   " --strict: not done within 30s (database clock): C1.state: expected active, got new\n")
    assert "t.drill:5: hint: Activate C1\n" in out and "Well done" not in out
    assert "0 of 1 wait(s) done, 1 hint(s) shown" in out
    assert [line.split()[-4:] for line in out.splitlines() if line.startswith("5 ")] == [
        ["state=active", "missed", "-", "shown"]]


def test_timeout_ends_a_drill_that_waits_forever(cm, tmp_path):
    path = write(tmp_path, "say Nobody will do this.\nwait chat C1 state=active\n")
    started = time.monotonic()
    done = subprocess.run([CHATEMU, "drill", str(path), "--timeout", "1s", "--json"], capture_output=True, text=True,
                          env=cm.env, timeout=60)
    assert done.returncode == 1 and 1 <= time.monotonic() - started < 30
    assert done.stderr == f"error: {path}:2: wait chat C1 state=active: --timeout 1s passed (wall clock)\n"
    report = json.loads(done.stdout)
    assert report["ok"] is False and report["exit"] == 1
    assert report["failed"] == {"line": 2, "command": "wait chat C1 state=active", "exit": 1,
                                "error": "--timeout 1s passed (wall clock)"}
    assert [(s["kind"], s["done"] if s["kind"] == "wait" else None) for s in report["steps"]] == [
        ("say", None), ("wait", False)]


def test_the_json_report(cm, tmp_path):
    """Waits that hold at once: the drill runs straight through, its report one JSON document."""
    cm.run("chat", "park", "C1")  # before the drill: not one of its mistakes
    path = write(tmp_path, "chat new\nchat activate C1\nsay Look at C1.\nclock advance 20s\n"
                           "wait chat C1 state=active --within 1m --hint 'activate it'\n"
                           "! chat park C2\nwait inbox C1:active\n")
    done = cm.run("drill", str(path), "--json")
    assert done.code == 0 and done.err == "", done
    report = done.json
    assert report == {
        "drill": str(path), "ok": True, "exit": 0,
        "started_at": "2026-01-05T09:00:00.000Z", "ended_at": "2026-01-05T09:00:20.000Z", "seconds": 20,
        "wall_seconds": report["wall_seconds"],
        "steps": [
            {"line": 3, "kind": "say", "text": "Look at C1.", "started_at": "2026-01-05T09:00:00.000Z",
             "ended_at": "2026-01-05T09:00:00.000Z", "seconds": 0, "wall_seconds": 0.0},
            {"line": 5, "kind": "wait", "check": "chat C1 state=active", "within": 60, "hint": "activate it",
             "strict": False, "done": True, "late": False, "hint_shown": False,
             "started_at": "2026-01-05T09:00:20.000Z", "ended_at": "2026-01-05T09:00:20.000Z", "seconds": 0,
             "wall_seconds": report["steps"][1]["wall_seconds"]},
            {"line": 7, "kind": "wait", "check": "inbox C1:active", "within": None, "hint": None, "strict": False,
             "done": True, "late": False, "hint_shown": False, "started_at": "2026-01-05T09:00:20.000Z",
             "ended_at": "2026-01-05T09:00:20.000Z", "seconds": 0, "wall_seconds": report["steps"][2]["wall_seconds"]},
        ],
        "hints_shown": 0, "mistakes": [], "failed": None,
    }
    assert 0 <= report["wall_seconds"] < 30


def test_mistakes_in_the_json_report(cm, tmp_path, drills):
    drill = drills(cm, write(tmp_path, "do chat new\nwait chat C1 state=active\n"), "--json")
    conn = sqlite3.connect(cm.db)
    try:
        for _ in range(600):  # the drill has begun once its chat exists (nothing is printed with --json)
            if conn.execute("SELECT 1 FROM chats WHERE id = 'C1'").fetchone():
                break
            time.sleep(0.05)
    finally:
        conn.close()
    cm.fails(4, "chat", "take", "C5", agent="agent-2")
    cm.ok("chat", "activate", "C1")
    code, out, err = drill.finish()
    assert (code, err) == (0, ""), out + err
    assert json.loads(out)["mistakes"] == [
        {"seq": 1, "at": "2026-01-05T09:00:00.000Z", "agent": "agent-2", "command": "--agent agent-2 chat take C5",
         "exit": 4, "message": "unknown agent agent-2 (log it in first: chatemu --agent agent-2 agent login)"}]


@pytest.mark.parametrize("text, message", [
    ("say\n", "t.drill:1: say needs a text: say TEXT"),
    ("say hi\nwait mood happy\n", "t.drill:2: wait what?"),
    ("wait chat C1 state=new --hint 'do it'\n", "t.drill:1: --hint needs --within"),
    ("wait chat C1 state=new --within soon\n", "t.drill:1: --within: "),
    ("! wait chat C1 state=new\n", "t.drill:1: a wait cannot be a refusal line (!)"),
    ("say hi\ndo\n", "t.drill:2: do needs a command: do COMMAND"),
    ("do run other.chatemu\n", "t.drill:1: a drill cannot run a scenario"),
    ("chat new --customer 'Ann\n", "t.drill:1: chat new --customer 'Ann: cannot parse the line"),
], ids=["say", "kind", "hint", "within", "refusal", "do", "run", "quote"])
def test_a_bad_drill_file_is_a_usage_error_before_anything_runs(cm, tmp_path, text, message):
    before = cm.dump()
    done = cm.run("drill", str(write(tmp_path, text)))
    assert done.code == 2 and done.out == "" and done.err.startswith(f"error: {tmp_path}/{message}"), done
    assert cm.dump() == before


def test_a_drill_on_a_terminal_is_drawn_with_rich(cm, tmp_path):
    path = write(tmp_path, "chat new\nsay Hello, trainee.\nwait chat C1 state=new\n")
    done = cm.run("drill", str(path), env={"FORCE_COLOR": "1", "NO_COLOR": "", "COLUMNS": "80"})
    assert done.code == 0 and done.err == "", done
    assert "╭" in done.out and "Hello, trainee." in done.out and "✓" in done.out and "┏" in done.out
    assert "\x1b[" in done.out  # colour


def solution_parts(name: str) -> list[str]:
    """The trainee's answers to a shipped drill: one part per wait that needs the trainee."""
    return (DRILLS / "solutions" / f"{name}.chatemu").read_text().split("# --\n")[1:]


@pytest.mark.parametrize("name", ["park-and-resume-wrapup", "call-then-customer-leaves", "three-chats-at-capacity"])
def test_each_shipped_drill_can_be_done(tmp_path, name, drills):
    cm = Chatemu(tmp_path / "class.db")  # a fresh database, as each drill asks
    drill = drills(cm, DRILLS / f"{name}.drill")
    parts = solution_parts(name)
    for part in parts:
        drill.until(": waiting: ")
        done = cm.run("run", "-", stdin=part)
        assert done.code == 0, done
    code, out, err = drill.finish()
    assert (code, err) == (0, ""), out + err
    waits = out.count(": done: ")
    assert f"{waits} of {waits} wait(s) done, 0 hint(s) shown, 0 mistake(s)" in out and "\nno mistakes\n" in out
    assert out.count(": waiting: ") == len(parts)  # each part answered a wait that needed the trainee
    assert cm.run("db", "check").code == 0


# -- say lines: cheap, and within --timeout -----------------------------------------------------


def test_timeout_is_checked_between_say_lines_too(cm, tmp_path):
    path = write(tmp_path, "say Read this.\n" * 5000 + "say The end.\n")
    started = time.monotonic()
    done = subprocess.run([CHATEMU, "drill", str(path), "--timeout", "1ms", "--json"], capture_output=True,
                          text=True, env=cm.env, timeout=120)
    assert done.returncode == 1, done
    assert time.monotonic() - started < 20  # ended by the timeout, not after reading every line out
    report = json.loads(done.stdout)
    assert report["failed"]["command"] in ("say Read this.", "say The end.")
    assert report["failed"]["error"] == "--timeout 0.001s passed (wall clock)"
    assert len(report["steps"]) < 5001
    assert done.stderr.startswith(f"error: {path}:") and done.stderr.endswith(": --timeout 0.001s passed (wall clock)\n")


def test_timeout_counts_reading_a_long_drill(cm, tmp_path):
    """--timeout runs from the start: a drill whose reading alone outlasts it stops before its first line."""
    path = write(tmp_path, f"clock set {START}\n" + "say Read this.\n" * 300_000)
    started = time.monotonic()
    done = subprocess.run([CHATEMU, "drill", str(path), "--timeout", "1s", "--json"], capture_output=True,
                          text=True, env=cm.env, timeout=300)
    assert done.returncode == 1, done
    report = json.loads(done.stdout)
    assert report["steps"] == [] and report["failed"]["line"] == 1, report["failed"]
    assert done.stderr == f"error: {path}:1: clock set {START}: --timeout 1s passed (wall clock)\n"
    assert time.monotonic() - started < 60


def test_a_say_line_reads_nothing_from_the_database(cm, tmp_path, monkeypatch, capsys):
    """In-process: the database transactions a drill makes do not grow with its say lines."""
    from chatemu.cli import app as cli
    from chatemu.store.engine import Engine

    opened = []
    transaction = Engine.transaction

    def counted(self, *args, **kw):
        opened.append(kw.get("write", args[1] if len(args) > 1 else True))
        return transaction(self, *args, **kw)

    monkeypatch.setattr(Engine, "transaction", counted)

    def transactions(says: int) -> int:
        db = tmp_path / f"says-{says}.db"
        text = (f"clock set {START}\nsay First.\n" + "say More.\n" * says + "do chat new\n" + "say Then.\n" * says
                + "wait chat C1 state=new\n" + "say Last.\n" * says)
        path = write(tmp_path, text, f"says-{says}.drill")
        opened.clear()
        code, errors = cli.call(["--db", str(db), "drill", str(path), "--json"])
        assert (code, errors) == (0, [])
        report = json.loads(capsys.readouterr().out)
        assert report["ok"] and len(report["steps"]) == 3 * says + 2
        return len(opened)

    few, many = transactions(1), transactions(300)
    assert few > 0 and many == few


def test_a_do_line_names_the_file_without_its_folder(cm, tmp_path):
    folder = tmp_path / "a" / "long" / "folder"
    folder.mkdir(parents=True)
    path = write(folder, "do chat new --customer Ann\ndo chat new --customer Bob\nwait chat C1 state=new\n")
    done = cm.run("drill", str(path))
    assert done.code == 0, done
    assert "t.drill:1: do chat new --customer Ann  -> C1 new in agent-1's inbox\n" in done.out
    assert "t.drill:2: do chat new --customer Bob  -> C2 queued\n" in done.out
    assert done.out.count(str(folder)) == 1  # once, in the report's heading
    assert f"\ndrill {path}: 1 of 1 wait(s) done" in done.out
    rich = cm.run("drill", str(path), env={"FORCE_COLOR": "1", "NO_COLOR": "", "COLUMNS": "200"})
    assert rich.code == 0 and str(folder) not in rich.out.split("drill ")[0], rich
    assert "do chat new --customer Ann  → C3 queued" in rich.out  # the same database again: C3
