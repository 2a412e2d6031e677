"""``chatemu console`` and ``chatemu watch``: the live screen.

Most tests drive the screen in this process with Textual's pilot (``App.run_test``), on a
database the ``chatemu`` fixture (the Python API) prepares, and check the state as the
command line shows it (the same objects ``--json`` prints): every key's action, a refused
action's reason on screen with nothing changed, the command line's completion and history,
a change made by another ``chatemu`` process showing within half a second, the countdown
ticking on a real clock (and a due timer applied), ``watch`` leaving the file's bytes alone,
and the README's picture redrawn.  One test runs ``chatemu console`` in a real
pseudo-terminal.

pytest-asyncio is not used: each test runs its pilot coroutine with ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import re
import sqlite3
import subprocess
import time
from pathlib import Path

import pexpect

from conftest import CHATEMU, Chatemu

from chatemu.cli import app as cli
from chatemu.cli.screen import Completions, make_screen
from chatemu.store.engine import Engine

ROOT = Path(__file__).resolve().parent.parent
SIZE = (120, 40)


def screen(emu, agent: str | None = "agent-1", watch: bool = False):
    return make_screen(Engine(emu.path, agent or "agent-1"), agent, watch, ["--db", emu.path], cli)


def drive(app, script, size=SIZE) -> None:
    async def go():
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await script(pilot)

    asyncio.run(go())


def text(app, selector: str) -> str:
    """What a label, a static or a log shows, as plain text."""
    widget = app.query_one(selector)
    if hasattr(widget, "lines"):  # a RichLog
        return "\n".join("".join(segment.text for segment in line) for line in widget.lines)
    return str(widget.render())


def cell(app, chat_id: str, header: str) -> str:
    """The inbox table's cell of a chat, as shown."""
    table = app.query_one("#inbox")
    return str(table.get_row(chat_id)[app._headers.index(header)]).strip()


def rows(app) -> list[str]:
    return [key.value for key in app.query_one("#inbox").rows]


def dump(path: str) -> str:
    """The stored state, but the journal of refusals (a refused action is journaled: ``journal``)."""
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'"
                                             " AND name != 'refusals' ORDER BY name")]
        return json.dumps({t: conn.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall() for t in tables},
                          default=bytes.hex)
    finally:
        conn.close()


def journal(path: str) -> list[tuple]:
    """(agent, command, exit code) of each journaled refusal, oldest first."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT agent, command, exit_code FROM refusals ORDER BY seq").fetchall()
    finally:
        conn.close()


def files(path: str) -> dict[str, str]:
    """The database file and its -wal, if any: name -> sha256 of the bytes."""
    return {Path(p).name: hashlib.sha256(Path(p).read_bytes()).hexdigest()
            for p in (path, path + "-wal") if os.path.exists(p)}


async def type_line(pilot, line: str) -> None:
    """Type a line key by key."""
    await pilot.press(*("space" if ch == " " else ch for ch in line))


async def fill(pilot, line: str) -> None:
    """Put a line in the focused input at once (typing is tested by ``type_line``)."""
    widget = pilot.app.focused
    widget.value = line
    widget.cursor_position = len(line)
    await pilot.pause()


async def other_process(cm: Chatemu, *args: str, agent: str | None = None) -> None:
    """Run ``chatemu ARGS`` as another process, without blocking the screen's event loop (a
    blocking wait would hold the screen's timers back, which then fire at once)."""
    proc = await asyncio.create_subprocess_exec(CHATEMU, *(["--agent", agent] if agent else []), *args, env=cm.env,
                                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await proc.communicate()
    assert proc.returncode == 0, (args, out, err)


async def until(pilot, done, timeout: float) -> float | None:
    """Seconds until ``done()`` held (polling the screen every 20 ms), None if it never did."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if done():
            return time.monotonic() - start
        await pilot.pause(0.02)
    return None


# == every key: the action as the command line does it =========================================


def test_every_key_runs_its_command_line(chatemu):
    chatemu.config("auto-present", "off")
    chatemu.login()
    chatemu.new(customer="Ann")
    chatemu.new(customer="Bob")
    app = screen(chatemu)

    async def script(pilot):
        assert rows(app) == []
        await pilot.press("t")  # take the next queued chat: C1 arrived first
        assert chatemu.chat("C1")["state"] == "new" and chatemu.chat("C2")["state"] == "queued"
        assert rows(app) == ["C1"] and app.selected == "C1" and cell(app, "C1", "STATE") == "new"
        await pilot.press("a")
        assert chatemu.chat("C1")["state"] == "active" and cell(app, "C1", "STATE") == "active"
        await pilot.press("s")
        assert "message to C1" in text(app, "#prompt-label")
        await type_line(pilot, "Hello Ann")
        await pilot.press("enter")
        assert [(m["from"], m["text"]) for m in chatemu.transcript("C1")] == [("agent-1", "Hello Ann")]
        assert "agent-1: Hello Ann" in text(app, "#messages")
        await pilot.press("p")
        assert chatemu.chat("C1")["state"] == "parked" and cell(app, "C1", "STATE") == "parked"
        await pilot.press("a", "c")  # a call parks the active chat
        assert chatemu.agent()["on_call"] and chatemu.chat("C1")["parked_by_call"]
        assert cell(app, "C1", "CALL") == "parked" and "on a call" in text(app, "#me")
        await pilot.press("c")
        assert not chatemu.agent()["on_call"] and chatemu.chat("C1")["state"] == "parked"
        await pilot.press("a", "w")  # wrap up
        chat = chatemu.chat("C1")
        assert chat["state"] == "active-wrapup" and chat["extensions_left"] == 3
        assert cell(app, "C1", "WRAP-UP") == "1:00 running" and cell(app, "C1", "EXT") == "3"
        await pilot.press("x")  # extend
        assert chatemu.chat("C1")["extensions_left"] == 2 and chatemu.chat("C1")["wrapup_remaining"] == 120
        await pilot.press("right_square_bracket")  # the clock +10 s
        assert chatemu.clock()["now"] == "2026-01-05T09:00:10.000Z"
        assert chatemu.chat("C1")["wrapup_remaining"] == 110 and cell(app, "C1", "WRAP-UP") == "1:50 running"
        assert "09:00:10" in text(app, "#clock")
        await pilot.press("f")  # finish: closed, out of the inbox
        assert chatemu.chat("C1")["closed_reason"] == "wrapup-finished" and rows(app) == []
        await pilot.press("t", "r")  # take C2, return it to its queue
        assert chatemu.chat("C2")["state"] == "queued" and rows(app) == []
        assert chatemu.events(chat="C2")[-2]["cause"] == "take"
        await pilot.press("b")
        assert chatemu.agent()["presence"] == "break" and "presence break" in text(app, "#me")
        await pilot.press("b")
        assert chatemu.agent()["presence"] == "available"
        await pilot.press("right_curly_bracket")  # the clock +1 min
        assert chatemu.clock()["now"] == "2026-01-05T09:01:10.000Z"
        # What each key ran is in the output panel, as the command line prints it.
        output = text(app, "#output")
        for line in ("chat take C1", "chat activate C1", "chat send C1 'Hello Ann'", "chat park C1",
                     "chat call-start", "chat call-end", "chat wrapup C1 --extend", "chat wrapup C1 --finish",
                     "chat return C2", "agent break", "agent available", "clock advance 10s", "clock advance 1m"):
            assert f"› {line}" in output, line
        assert "C1 closed in agent-1's inbox (wrapup-finished)" in output

    drive(app, script)


def test_a_refused_action_shows_its_reason_and_changes_nothing(chatemu):
    chatemu.new(customer="Ann")  # new in agent-1's inbox
    app = screen(chatemu)

    async def script(pilot):
        before = dump(chatemu.path)
        await pilot.press("w")  # a new chat cannot be wrapped up
        status = text(app, "#status")
        assert status.startswith("refused (exit 3): cannot ") and "C1" in status, status
        assert app.query_one("#status").has_class("refused")
        await pilot.press("x", "c", "c")  # extend outside wrap-up: refused; a call starts and ends
        assert dump(chatemu.path) != before
        before = dump(chatemu.path)
        await pilot.press("f")
        assert "refused (exit 3)" in text(app, "#status")
        assert dump(chatemu.path) == before
        assert chatemu.chat("C1")["state"] == "new" and cell(app, "C1", "STATE") == "new"
        await pilot.press("t")  # nothing queued
        assert text(app, "#status") == "nothing queued in agent-1's queues"
        assert dump(chatemu.path) == before
        # Each refused key is in the journal of refusals, as the command line it ran.
        assert [(agent, command.split(" chat ")[-1], code) for agent, command, code in journal(chatemu.path)] == [
            ("agent-1", "wrapup C1", 3), ("agent-1", "wrapup C1 --extend", 3), ("agent-1", "wrapup C1 --finish", 3)]

    drive(app, script)


# == the command line ==========================================================================


def test_the_command_line_runs_any_command_with_completion_and_history(chatemu):
    chatemu.new(customer="Ann")
    chatemu.activate("C1")
    chatemu.as_agent("agent-2").login()
    app = screen(chatemu)
    line = None

    async def script(pilot):
        nonlocal line
        await pilot.press("colon")
        line = app.query_one("#line")
        assert line.has_focus
        await type_line(pilot, "chat pa")
        assert await Completions(app).get_suggestion("chat pa") == "chat park "  # shown as a hint
        await pilot.press("tab")
        assert line.value == "chat park "
        await pilot.press("tab")  # a chat id: the selected chat first
        assert line.value == "chat park C1 "
        await pilot.press("enter")
        assert chatemu.chat("C1")["state"] == "parked"
        assert not line.has_focus and "C1 parked in agent-1's inbox" in text(app, "#status")
        # Options, and a refusal through the command line: its reason, nothing changed.
        await pilot.press("colon")
        await fill(pilot, "chat wrapup C1 --ex")
        await pilot.press("tab")
        assert line.value == "chat wrapup C1 --extend "
        before = dump(chatemu.path)
        await pilot.press("enter")
        assert "refused (exit 3): cannot extend" in text(app, "#status") and dump(chatemu.path) == before
        # Groups complete as far as they agree; the hint lists the candidates.
        await pilot.press("colon")
        await type_line(pilot, "ag")
        await pilot.press("tab")
        assert line.value == "agent "
        await type_line(pilot, "l")
        assert text(app, "#hint").split() == ["list", "login", "logout"]
        await type_line(pilot, "o")
        await pilot.press("tab")
        assert line.value == "agent log"
        await pilot.press("escape")
        assert not app.query_one("#prompt").has_class("open")
        # Root options: another agent acts.
        await pilot.press("colon")
        await fill(pilot, "--agent agent-2 agent break --reason lunch")
        await pilot.press("enter")
        assert chatemu.agent("agent-2")["presence"] == "break"
        assert "agent-2" in text(app, "#agents") and "break" in text(app, "#agents")
        # A read shows its result in the output panel as it prints in a shell (--json: as JSON);
        # --help its text.
        await pilot.press("colon")
        await fill(pilot, "queue list")
        await pilot.press("enter")
        assert re.search(r"^QUEUE +WAITING +LONGEST WAIT .*\n+default +0 ", text(app, "#output"), re.M)
        assert text(app, "#status") == "queue list: 1 item(s)"
        await pilot.press("colon")
        await fill(pilot, "queue list --json")
        await pilot.press("enter")
        assert '"name": "default"' in text(app, "#output")
        await pilot.press("colon")
        await fill(pilot, "chatemu chat park --help")
        await pilot.press("enter")
        assert "Usage: chatemu chat park" in text(app, "#output")
        # Scenario habits: a refusal mark holds when refused as said.
        await pilot.press("colon")
        await fill(pilot, "!~parked chat park C1")
        await pilot.press("enter")
        assert text(app, "#status").startswith("refused as expected: cannot park C1")
        # What would take over the screen is not run.
        await pilot.press("colon")
        await fill(pilot, "run x.chatemu")
        await pilot.press("enter")
        assert text(app, "#status").startswith("run cannot run here")
        # History: up goes back through the lines run, down comes forward to the draft.
        await pilot.press("colon")
        await type_line(pilot, "clock")
        await pilot.press("up")
        assert line.value == "run x.chatemu"
        await pilot.press("up", "up")
        assert line.value == "chatemu chat park --help"
        await pilot.press("down")
        assert line.value == "!~parked chat park C1"
        await pilot.press("down", "down")
        assert line.value == "clock"
        await pilot.press("up", "up", "enter")  # run again from the history
        assert text(app, "#status").startswith("refused as expected: cannot park C1")

    drive(app, script)


# == changes from elsewhere, and the clock ==========================================================


def test_a_change_by_another_process_shows_within_half_a_second(chatemu):
    chatemu.new(customer="Ann")
    chatemu.activate("C1")
    app = screen(chatemu)
    other = Chatemu(Path(chatemu.path))

    async def script(pilot):
        reads = app.reads
        await pilot.pause(1.0)
        assert app.reads == reads, "read again though nothing changed"
        # Each change by a real chatemu process; each shows within half a second of its end.
        changes = [
            (("chat", "receive", "C1", "Are you there?"), lambda: "Ann: Are you there?" in text(app, "#messages")),
            (("chat", "new", "--customer", "Bob", "--inbox"), lambda: "C2" in rows(app)),
            (("chat", "park", "C1"), lambda: cell(app, "C1", "STATE") == "parked"),
            (("agent", "break"), lambda: "presence break" in text(app, "#me")),
        ]
        for args, shown in changes:
            await other_process(other, *args)
            took = await until(pilot, shown, 2.0)
            assert took is not None and took <= 0.5, (args, took)
        assert "C2 (none) → new" in text(app, "#events")

    drive(app, script)


def test_two_consoles_on_one_database_each_see_the_other(chatemu):
    chatemu.config("auto-present", "off")
    chatemu.login()
    chatemu.as_agent("agent-2").login()
    chatemu.new(customer="Ann")
    chatemu.new(customer="Bob")
    first, second = screen(chatemu, "agent-1"), screen(chatemu, "agent-2")

    async def go():
        async with first.run_test(size=SIZE) as one, second.run_test(size=SIZE) as two:
            await one.press("t")
            took = await until(two, lambda: re.search(r"agent-1 +\S+ +\S+ +- +1", text(second, "#agents")), 2.0)
            assert took is not None and took <= 0.5, (took, text(second, "#agents"))
            assert re.search(r"default +1 ", text(second, "#queues"))
            await two.press("t")  # the next one: C2
            assert chatemu.chat("C1")["agent"] == "agent-1" and chatemu.chat("C2")["agent"] == "agent-2"
            took = await until(one, lambda: re.search(r"agent-2 +\S+ +\S+ +- +1", text(first, "#agents")), 2.0)
            assert took is not None and took <= 0.5, (took, text(first, "#agents"))
            assert rows(first) == ["C1"] and rows(second) == ["C2"]

    asyncio.run(go())


def test_on_a_real_clock_the_countdown_ticks_and_a_due_timer_is_applied(chatemu):
    chatemu.config("wrapup", "4s")
    chatemu.new(customer="Ann")
    chatemu.activate("C1")
    chatemu.end("C1")
    chatemu.engine.clock_mode("real")
    app = screen(chatemu, agent=None, watch=True)

    async def script(pilot):
        first = cell(app, "C1", "WRAP-UP")
        assert re.fullmatch(r"0:0[1-4] running", first), first
        took = await until(pilot, lambda: "C1" not in rows(app) or cell(app, "C1", "WRAP-UP") != first, 2.5)
        assert took is not None, "the countdown did not move"
        if "C1" in rows(app):
            later = cell(app, "C1", "WRAP-UP")
            assert re.fullmatch(r"0:0[0-3] running", later) and later < first, (first, later)
        # When it runs out, the screen applies it as `events --follow` would: the log has it.
        took = await until(pilot, lambda: "C1" not in rows(app), 6.0)
        assert took is not None
        await until(pilot, lambda: chatemu.events(chat="C1")[-1]["cause"] == "timer", 2.0)
        last = chatemu.events(chat="C1")[-1]
        assert (last["to"], last["cause"]) == ("closed", "timer")
        assert "C1 active-wrapup → closed (timer)" in text(app, "#events")

    drive(app, script)


# == watch ==================================================================================


def test_watch_never_writes_and_shows_what_others_do(chatemu):
    done = Chatemu(Path(chatemu.path)).run("run", "-q", str(ROOT / "docs" / "console.chatemu"))  # a real session
    assert done.code == 0, done
    before = files(chatemu.path)
    app = screen(chatemu, agent=None, watch=True)

    async def script(pilot):
        assert rows(app) == ["C1", "C2", "C3", "C4", "C5", "C6"]
        assert cell(app, "C2", "AGENT") == "agent-2" and cell(app, "C2", "CALL") == "parked"
        # Action keys and the command line do nothing here.
        await pilot.press("down", "a", "p", "w", "f", "t", "c", "b", "right_square_bracket", "colon")
        await type_line(pilot, "reset --yes")
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert not app.query_one("#prompt").has_class("open")
        assert app.selected == "C2" and "Bob" in text(app, "#details")

    drive(app, script)
    assert files(chatemu.path) == before

    app = screen(chatemu, agent="agent-2", watch=True)  # following one agent

    async def follow(pilot):
        assert rows(app) == ["C2"] and "on-call" in text(app, "#me")
        await other_process(Chatemu(Path(chatemu.path)), "chat", "call-end", agent="agent-2")
        took = await until(pilot, lambda: "on-call" not in text(app, "#me"), 2.0)
        assert took is not None and took <= 0.5, took
        assert "agent-2 on-call → " in text(app, "#events")
        assert "agent-1" not in text(app, "#events")

    drive(app, follow)


# == the README's picture ========================================================================


def test_the_readme_screenshot_is_what_the_console_draws(tmp_path):
    """docs/console.svg: docs/console.chatemu on a virtual clock, a message sent and a refused
    extension.  CHATEMU_UPDATE_SCREENSHOT=1 writes it anew."""
    db = str(tmp_path / "class.db")
    code, errors = cli.call(["--db", db, "run", "-q", str(ROOT / "docs" / "console.chatemu")])
    assert code == 0, errors
    from chatemu.cli.api import Emulator

    app = screen(Emulator(db))
    picture = {}

    async def script(pilot):
        await pilot.press("down")  # C3, the active chat
        await pilot.press("s")
        await type_line(pilot, "Sure: what is the new address?")
        await pilot.press("enter", "x")  # the extension is refused: C3 is not in wrap-up
        picture["svg"] = app.export_screenshot(title="chatemu console")

    drive(app, script, size=(120, 36))
    target = ROOT / "docs" / "console.svg"
    if os.environ.get("CHATEMU_UPDATE_SCREENSHOT"):
        target.write_text(picture["svg"])
    assert target.read_text() == picture["svg"], (
        "docs/console.svg is not what the console draws: run "
        "CHATEMU_UPDATE_SCREENSHOT=1 pytest tests/test_console.py -k screenshot")


# == in a real terminal =============================================================================


def test_console_in_a_real_terminal(cm):
    cm.ok("chat", "new", "--customer", "Ann")
    env = {k: v for k, v in cm.env.items() if k not in ("NO_COLOR", "COLUMNS", "LINES")}
    env["TERM"] = "xterm-256color"
    child = pexpect.spawn(CHATEMU, ["console"], env=env, dimensions=(40, 120), encoding="utf-8", timeout=15)
    child.logfile_read = io.StringIO()
    try:
        child.expect("inbox of agent-1")
        child.expect("09:00:00 UTC")
        child.send("a")
        child.expect("C1 active in agent-1's inbox")
        child.send("w")
        child.expect("C1 active-wrapup in agent-1's inbox")
        child.send("p")
        child.expect("paused")
        child.send("q")
        child.expect(pexpect.EOF)
    except (pexpect.TIMEOUT, pexpect.EOF) as exc:
        raise AssertionError(f"{type(exc).__name__}; the terminal showed:\n{child.logfile_read.getvalue()[-3000:]!r}")
    child.close()
    assert child.exitstatus == 0, child.logfile_read.getvalue()[-2000:]
    assert cm.chat("C1")["state"] == "parked-wrapup"


def test_console_and_watch_refuse_to_run_without_a_terminal_or_in_a_scenario(cm, tmp_path):
    for command in ("console", "watch"):
        done = cm.fails(2, command)
        assert "run it in a terminal" in done.err
    scenario = tmp_path / "s.chatemu"
    scenario.write_text("watch\n")
    done = cm.run("run", str(scenario))
    assert done.code == 2 and "watch is interactive: it cannot be a scenario line" in done.err, done


def test_the_keys_documented_are_the_keys_bound():
    from chatemu.cli.screen import console_bindings

    doc = (ROOT / "docs" / "console.md").read_text()
    table = doc.split("## The keys", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"^\| `([^`]+)` \|", table, re.M)
    assert documented == [b.key_display or b.key for b in console_bindings()]
