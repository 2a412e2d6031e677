"""``chatemu chat list`` in a real pseudo-terminal: the rich table people read.

The ``expect`` wrapper turns a pexpect timeout into an assertion that shows what was
expected and what the terminal actually printed (in the manner of pgcli's test helpers).
"""

from __future__ import annotations

import io
import re

import pexpect
import pytest

from conftest import CHATEMU, copy_into, shared_start, close_ended

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# Between two words of the same table line: spaces, colour codes and rich's box lines.
GAP = r"(?:[ \t]|\x1b\[[0-9;]*m|[│┃])*"
TIMEOUT = 10


def plain(text: str) -> str:
    return ANSI.sub("", text).replace("\r\n", "\n")


def spawn(cm, *args: str, no_color: bool = False) -> pexpect.spawn:
    env = {k: v for k, v in cm.env.items() if k != "NO_COLOR"}
    env["TERM"] = "xterm-256color"
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    if no_color:
        env["NO_COLOR"] = "1"
    child = pexpect.spawn(CHATEMU, list(args), env=env, dimensions=(40, 140), encoding="utf-8", timeout=TIMEOUT)
    child.logfile_read = io.StringIO()  # everything the terminal showed, for the checks after EOF
    return child


def shown(child: pexpect.spawn) -> str:
    return child.logfile_read.getvalue()


def expect(child: pexpect.spawn, pattern: str, what: str) -> re.Match:
    """``child.expect(pattern)``, failing with readable expected/actual output."""
    try:
        child.expect(pattern)
    except (pexpect.TIMEOUT, pexpect.EOF) as exc:
        seen = shown(child)
        why = "the program ended first" if isinstance(exc, pexpect.EOF) else f"timed out after {child.timeout}s"
        raise AssertionError(
            f"terminal never showed {what} ({why})\n"
            f"  expected (regex): {pattern!r}\n"
            f"  actual output:\n{plain(seen)}\n"
            f"  raw: {seen!r}"
        ) from None
    return child.match


def row(*cells: str) -> str:
    """A table row holding these cells, in order, on one line."""
    return GAP.join(re.escape(cell) for cell in cells) + r"[^\n]*"


def finish(child: pexpect.spawn) -> str:
    """Read to the end; the exit status must be 0.  Returns all the output."""
    expect(child, pexpect.EOF, "the end of the output")
    close_ended(child)
    assert child.exitstatus == 0, f"exit {child.exitstatus}: {plain(shown(child))}"
    return shown(child)


@pytest.fixture(scope="module")
def inbox_db(tmp_path_factory, started_db):
    """agent-1's inbox: C1 active-wrapup with 45s left, C2 parked-wrapup (1m, paused),
    C3 active; C4 in another agent's inbox and C5 queued are not in it.  Played once."""
    cm = shared_start(tmp_path_factory, started_db)
    cm.ok("config", "set", "auto-present", "off")
    cm.ok("chat", "new", "--inbox", "--customer", "Alice")
    cm.ok("chat", "new", "--inbox", "--customer", "Bob", "--queue", "sales")
    cm.ok("chat", "activate", "C1")
    cm.ok("chat", "end", "C1")
    cm.ok("chat", "end", "C2")
    cm.ok("clock", "advance", "15s")
    cm.ok("agent", "login", agent="agent-2")
    cm.ok("chat", "new", "--inbox", "--customer", "Carol", agent="agent-2")
    cm.ok("chat", "new", "--customer", "Dave")
    return cm.db


@pytest.fixture
def inbox(cm, inbox_db):
    """``cm`` on a copy of ``inbox_db``."""
    return copy_into(inbox_db, cm)


def test_chat_list_in_a_terminal_is_a_rich_table(inbox):
    child = spawn(inbox, "chat", "list")
    expect(child, r"inbox of agent-1", "the table's title")
    expect(child, row("ID", "STATE", "CUSTOMER", "QUEUE", "PRIO", "WRAP-UP"), "the header row")
    first = expect(child, row("C1", "active-wrapup", "Alice", "default", "0", "45s"), "C1's row")
    second = expect(child, row("C2", "parked-wrapup", "Bob", "sales", "0", "1m"), "C2's row")
    everything = plain(finish(child))

    assert "paused" in plain(second.group(0))  # a paused wrap-up says so
    assert "paused" not in plain(first.group(0))
    # states in colour: an SGR colour code right before each state
    assert re.search(r"\x1b\[[0-9;]*m\s*active-wrapup", first.group(0)), repr(first.group(0))
    assert re.search(r"\x1b\[[0-9;]*m\s*parked-wrapup", second.group(0)), repr(second.group(0))
    # a box-drawn table, and nothing from other inboxes or the queue
    assert "│" in first.group(0)
    assert "Carol" not in everything and "Dave" not in everything


def test_chat_list_wrapup_countdown_follows_the_clock(inbox):
    inbox.ok("clock", "advance", "40s")
    child = spawn(inbox, "chat", "list")
    expect(child, row("C1", "active-wrapup", "Alice", "default", "0", "5s"), "C1 with 5s left")
    expect(child, row("C2", "parked-wrapup", "Bob", "sales", "0", "1m"), "C2 still paused at 1m")
    finish(child)


def test_no_color_in_a_terminal_gives_plain_text(inbox):
    child = spawn(inbox, "chat", "list", no_color=True)
    expect(child, row("C1", "active-wrapup", "Alice", "default", "0", "45s"), "C1's row")
    out = finish(child)
    assert "\x1b[" not in out, repr(out)
    assert "│" not in out and "┃" not in out
