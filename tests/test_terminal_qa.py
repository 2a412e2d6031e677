"""The QA tools on a real terminal (pexpect): the ``reset`` prompt, and ``events --follow``
seeing another process's change and ending quietly on Ctrl-C.

``expect_text`` wraps pexpect's ``expect`` so a timeout or an early exit fails with what was
expected and what the terminal showed instead (as pgcli's test helpers do), not a pexpect dump.
"""

from __future__ import annotations

import json
import signal
import re

import pexpect
import pytest
from conftest import CHATEMU, Chatemu, close_ended

TIMEOUT = 10


def interruptible() -> None:
    """In the child: Ctrl-C interrupts, as at a user's terminal, even where the test runner (a
    pytest-xdist worker) ignores SIGINT and its children would inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def spawn(cm: Chatemu, *args: str) -> pexpect.spawn:
    """``chatemu ARGS`` in a pseudo-terminal, on cm's database."""
    return pexpect.spawn(
        CHATEMU, list(args), env=cm.env, encoding="utf-8", timeout=TIMEOUT, dimensions=(40, 200),
        preexec_fn=interruptible,
    )


def expect_text(child: pexpect.spawn, pattern: str, *, regex: bool = False, timeout: float = TIMEOUT) -> str:
    """Wait for ``pattern`` in the child's output; return what came before it.

    On a timeout or EOF, fail with the pattern and everything the terminal showed meanwhile.
    """
    try:
        if regex:
            child.expect(pattern, timeout=timeout)
        else:
            child.expect_exact(pattern, timeout=timeout)
        return child.before
    except pexpect.TIMEOUT:
        what = f"timed out after {timeout}s"
    except pexpect.EOF:
        what = "the process ended"
    command = " ".join(a.decode() if isinstance(a, bytes) else a for a in child.args[1:])
    shown = child.before if isinstance(child.before, str) else ""
    pytest.fail(
        f"{what} waiting for {'/' + pattern + '/' if regex else repr(pattern)} (chatemu {command})\n"
        f"--- the terminal showed ---\n{shown}\n--- end ---",
        pytrace=False,
    )


def finish(child: pexpect.spawn) -> tuple[int | None, str]:
    """Wait for the child to end; its exit status and the rest of its output."""
    try:
        child.expect(pexpect.EOF, timeout=TIMEOUT)
    except pexpect.TIMEOUT:
        pytest.fail(f"the process did not end within {TIMEOUT}s; the terminal showed:\n{child.before}", pytrace=False)
    rest = child.before
    close_ended(child)
    return child.exitstatus, rest


# == reset on a terminal ===================================================================


@pytest.fixture
def busy(cm) -> Chatemu:
    """A database with something in it."""
    done = cm.run("run", "-q", "-", stdin="chat new --customer Ann\nchat activate C1\nsnapshot save s\n")
    assert done.code == 0, done
    return cm


def test_reset_asks_on_a_terminal_and_no_changes_nothing(busy):
    before = busy.dump()
    child = spawn(busy, "reset")
    expect_text(child, f"Empty {busy.db}?")
    expect_text(child, "[y/N]")
    child.sendline("n")
    status, rest = finish(child)
    assert "nothing changed" in rest, rest
    assert status == 1, rest
    assert busy.dump() == before


def test_reset_asks_on_a_terminal_and_an_empty_answer_means_no(busy):
    before = busy.dump()
    child = spawn(busy, "reset")
    expect_text(child, "[y/N]")
    child.sendline("")
    status, rest = finish(child)
    assert status == 1, rest
    assert busy.dump() == before


def test_reset_asks_on_a_terminal_and_yes_empties(busy):
    child = spawn(busy, "reset")
    expect_text(child, "[y/N]")
    child.sendline("y")
    status, rest = finish(child)
    assert status == 0, rest
    assert "Traceback" not in rest
    assert busy.js("chat", "list", "--all") == []
    assert busy.js("events") == []
    assert busy.js("snapshot", "list") == []
    assert busy.js("clock")["mode"] == "virtual"


# == events --follow =======================================================================


def test_events_follow_sees_another_process_change_and_ctrl_c_exits_0_quietly(cm):
    cm.ok("agent", "break")  # so the new chat stays queued: one event to wait for
    child = spawn(cm, "events", "--follow")
    try:
        # What is already there is printed first: agent-1's break.
        expect_text(child, "available -> break")
        # Another process adds a chat; the follower prints its event without being asked.
        cm.ok("chat", "new", "--customer", "Zed")
        expect_text(child, r"C1: \(none\) -> queued \(customer\)", regex=True)
        cm.ok("agent", "available")  # presented to agent-1: two more events, in order
        expect_text(child, r"break -> available.*\n.*C1: queued -> new \(presentation\)", regex=True)
        child.sendintr()  # Ctrl-C
        status, rest = finish(child)
    finally:
        if child.isalive():
            child.terminate(force=True)
    assert status == 0, f"exit {status}, signal {child.signalstatus}; the terminal showed:\n{rest}"
    assert "Traceback" not in rest and "error" not in rest.lower(), rest


def test_events_follow_jsonl_with_a_filter(cm):
    child = spawn(cm, "events", "--follow", "--jsonl", "--agent", "agent-2")
    try:
        cm.ok("agent", "break")                                # agent-1's: filtered out
        cm.ok("chat", "new", "--inbox", "--customer", "Ann")   # agent-1's: filtered out
        cm.ok("agent", "login", agent="agent-2")
        cm.ok("chat", "new", "--inbox", "--customer", "Bob", agent="agent-2")
        expect_text(child, '"agent": "agent-2", "chat": "C2", "from": null, "to": "new", "cause": "customer"}')
        shown = child.before + child.after
        child.sendintr()
        status, rest = finish(child)
    finally:
        if child.isalive():
            child.terminate(force=True)
    assert status == 0, rest
    lines = [line for line in (shown + rest).splitlines() if line.startswith("{")]
    assert [(json.loads(line)["chat"], json.loads(line)["cause"]) for line in lines] == [
        (None, "login"), ("C2", "customer")], shown + rest
    assert not re.search(r"Traceback|error", rest), rest


def test_events_follow_applies_timers_as_a_real_clock_passes_them(cm):
    """On a real clock nobody else needs to run a command: the follower itself settles the
    wrap-up that runs out, and prints the timer's event."""
    done = cm.run("run", "-q", "-", stdin="config set wrapup 1s\nchat new --inbox\nchat activate C1\n"
                                         "clock real\nchat end C1\n")
    assert done.code == 0, done
    seq = cm.js("events")[-1]["seq"]
    child = spawn(cm, "events", "--follow", "--since", str(seq))
    try:
        expect_text(child, "C1: active-wrapup -> closed (timer)", timeout=8)
        child.sendintr()
        status, rest = finish(child)
    finally:
        if child.isalive():
            child.terminate(force=True)
    assert status == 0, rest
    assert cm.chat("C1")["closed_reason"] == "wrapup-expired"


# == run's progress bar ====================================================================


def test_run_on_a_terminal_shows_a_progress_bar_for_long_files_and_steps_for_short_ones(cm, tmp_path):
    env = {k: v for k, v in cm.env.items() if k != "NO_COLOR"} | {"TERM": "xterm"}
    long = tmp_path / "long.chatemu"
    long.write_text("chat new --inbox\n" + "clock advance 1s\n" * 59 + "expect clock now=2026-01-05T09:00:59Z\n")
    # A relative path: the bar shows it whole whatever the length of the temp folder's name.
    child = pexpect.spawn(CHATEMU, ["run", long.name], env=env, encoding="utf-8", timeout=TIMEOUT,
                          dimensions=(40, 200), cwd=str(tmp_path))
    before = expect_text(child, f"running {long.name}")
    status, rest = finish(child)
    assert status == 0, rest
    assert f"{long.name}:1:" not in before + rest  # the bar replaces the step lines
    short = tmp_path / "short.chatemu"
    short.write_text("clock advance 1s\nexpect clock now=2026-01-05T09:01:00Z\n")
    child = pexpect.spawn(CHATEMU, ["run", str(short)], env=env, encoding="utf-8", timeout=TIMEOUT)
    expect_text(child, f"{short}:2: expect clock")
    status, rest = finish(child)
    assert status == 0, rest
