"""``chatemu console`` and ``chatemu watch`` at 80×24 and at 120×40: what the terminal shows.

Each test opens the screen with Textual's pilot on docs/console.chatemu's class (agent-1's
inbox in the middle of a session, on a virtual clock: nothing moves by itself) and reads the
terminal back from the screenshot the screen exports, a line of text per line of the terminal:
every panel shows its title and its first rows, each row on one line (not wrapped); on a small
terminal one panel at a time, ``v`` bringing the next forward, as the screen says; every key is
in the footer or in the list ``?`` shows; ``:stats agents`` shows a table.
"""

from __future__ import annotations

import asyncio
import html
import re
from pathlib import Path

import pytest

from chatemu.cli import app as cli
from chatemu.cli.screen import make_screen
from chatemu.store.engine import Engine

ROOT = Path(__file__).resolve().parent.parent
SMALL, LARGE = (80, 24), (120, 40)


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("class") / "class.db")
    code, errors = cli.call(["--db", path, "run", "-q", str(ROOT / "docs" / "console.chatemu")])
    assert code == 0, errors
    return path


def open_screen(db: str, agent: str | None, watch: bool):
    return make_screen(Engine(db, agent or "agent-1"), agent, watch, ["--db", db], cli)


def drive(app, script, size) -> None:
    async def go():
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await script(pilot)

    asyncio.run(go())


def terminal(app) -> list[str]:
    """The terminal's lines, read back from the SVG screenshot the screen exports: rich writes
    each run of text at x = column × 12.2 and y = line × 24.4 (a 20px font)."""
    svg = app.export_screenshot()
    lines: dict[float, dict[int, str]] = {}
    for x, y, content in re.findall(r'<text class="[^"]*" x="([\d.]+)" y="([\d.]+)"[^>]*>([^<]*)</text>', svg):
        lines.setdefault(float(y), {})[round(float(x) / 12.2)] = html.unescape(content).replace("\xa0", " ").strip("\n")
    out = []
    for y in sorted(lines):
        line = ""
        for column, run in sorted(lines[y].items()):
            line = line.ljust(column) + run
        out.append(line)
    assert len(out) == app.size.height, out
    return out


def found(screen: list[str], pattern: str) -> bool:
    """Whether one line of the terminal holds ``pattern`` (a regex): a row cut or wrapped
    onto the next line does not."""
    return any(re.search(pattern, line) for line in screen)


# What each panel shows first: its title, then its first rows, each a regex one line must hold.
CONSOLE = {
    "inbox": [r"─ inbox of agent-1 ─", r"│ ID +STATE +CUSTOMER +QUEUE +WRAP-UP +EXT +UNREAD +CALL",
              r"│ C1 +parked-wrapup +Ann +default +0:40 paused +3 "],
    "agent": [r"─ agent ─", r"│agent-1 +handling-chat +for 0:15", r"│presence available"],
    "queues": [r"─ queues ─", r"│QUEUE +WAIT +LONGEST +INBOX +FREE", r"│default +1 +0:15 +3 +0 "],
    "other agents": [r"─ other agents ─", r"│AGENT +STATUS +FOR +CHAT +OPEN", r"│agent-2 +on-call +1:05 +- +1 "],
    "chat": [r"─ chat C1 · Ann ─", r"│C1 +parked-wrapup +Ann +queue default +agent-1",
             r"│09:00:00 Ann: Hi, my parcel has not arrived\."],
    "events": [r"─ events of agent-1 ─", r"│09:00:50 C4 queued → new \(take\) +│"],
    "output": [r"─ output ─"],
}
WATCH = {
    "chats": [r"─ open and queued chats ─", r"│ ID +STATE +AGENT +CUSTOMER +QUEUE +WRAP-UP +EXT +UNREAD +CALL",
              r"│ C1 +parked-wrapup +agent-1 +Ann +default +0:40 paused +3 "],
    "queues": CONSOLE["queues"],
    "agents": [r"─ agents ─", r"│AGENT +STATUS +FOR +CHAT +OPEN", r"│agent-1 +handling-chat +0:15 +C3 +3 "],
    "chat": CONSOLE["chat"],
    "events": [r"─ events ─", r"│09:00:50 C6 \(none\) → queued \(customer\) +│"],
}
FOLLOWING = {
    "inbox": [r"─ inbox of agent-2 ─", r"│ C2 +parked +Bob +sales +- +- +parked "],
    "agent": [r"─ agent ─", r"│agent-2 +on-call +for 1:05", r"│on a call +active - +1 open of 3"],
    "queues": CONSOLE["queues"],
    "agents": WATCH["agents"],
    "chat": [r"─ chat C2 · Bob ─", r"│C2 +parked +Bob +queue sales +agent-2", r"│no messages yet"],
    "events": [r"─ events of agent-2 ─", r"│09:00:00 agent-2 handling-chat → on-call \(call\) +│"],
}
SCREENS = {"console": ("agent-1", False, CONSOLE), "watch": (None, True, WATCH),
           "watch --agent": ("agent-2", True, FOLLOWING)}


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "120x40"])
@pytest.mark.parametrize("which", list(SCREENS))
def test_every_panel_shows_its_first_rows_unwrapped(db, which, size):
    agent, watch, panels = SCREENS[which]
    app = open_screen(db, agent, watch)
    screens: list[list[str]] = []

    async def script(pilot):
        screens.append(terminal(app))
        if size == SMALL:
            # One panel at a time below the inbox: the screen says which key brings the next.
            assert found(screens[0], r"^ +chat +.*events .*v next panel"), screens[0]
            for _ in range(3 if watch else 4):
                await pilot.press("v")
                screens.append(terminal(app))
            assert screens[-1] == screens[0], "v comes back to the first panel"
        else:
            await pilot.press("v")  # nothing to bring forward: every panel is on screen
            assert terminal(app) == screens[0]

    drive(app, script, size)
    for name, rows in panels.items():
        for row in rows:
            assert any(found(screen, row) for screen in screens), (name, row, "\n".join(screens[0]))
    for screen in screens:  # the inbox is always there
        assert found(screen, panels["inbox" if "inbox" in panels else "chats"][-1])


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "120x40"])
@pytest.mark.parametrize("which", list(SCREENS))
def test_every_key_is_in_the_footer_or_in_the_list_of_keys(db, which, size):
    agent, watch, _ = SCREENS[which]
    app = open_screen(db, agent, watch)
    seen = {}

    async def script(pilot):
        before = Path(db).read_bytes()
        screen = terminal(app)
        seen["footer"] = footer = screen[-1].rstrip()
        assert len(footer) <= size[0] and footer.endswith("q quit"), footer  # never cut inside a key
        assert "? keys" in footer or "…" not in footer, footer
        await pilot.press("question_mark")
        seen["help"] = terminal(app)
        assert found(seen["help"], r"─ keys ─") and found(seen["help"], r"Esc or \? closes this list")
        await pilot.press("a", "w", "b")  # the list is open: the keys behind it do nothing
        assert Path(db).read_bytes() == before
        await pilot.press("escape")
        assert not found(terminal(app), r"─ keys ─")
        seen["keys"] = app.keys()

    drive(app, script, size)
    keys = seen["keys"]
    assert [k.description for k in keys][-2:] == ["keys", "quit"]
    assert ("next panel" in [k.description for k in keys]) == (size == SMALL)
    for key in keys:
        shown = key.key_display or key.key
        in_footer = f"{shown} {key.description}" in seen["footer"]
        in_help = found(seen["help"], rf"│ {re.escape(shown)} +{re.escape(key.description)} +{re.escape(key.tooltip)}")
        assert in_help, (shown, "\n".join(seen["help"]))
        assert in_footer or "? keys" in seen["footer"], (shown, seen["footer"])
    if size == LARGE and not watch:
        assert all(f"{k.key_display or k.key} {k.description}" in seen["footer"] for k in keys)


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "120x40"])
def test_stats_agents_on_the_command_line_shows_a_table(db, size):
    app = open_screen(db, "agent-1", False)
    seen = {}

    async def script(pilot):
        await pilot.press("colon", *"stats", "space", *"agents", "enter")
        seen["screen"] = terminal(app)

    drive(app, script, size)
    screen = seen["screen"]
    if size == SMALL:  # the output panel came forward, tall enough for the line run too
        assert found(screen, r"│› stats agents"), "\n".join(screen)
    assert found(screen, r"│AGENT +AVAILABLE +HANDLING-CHAT +WRAP-UP +ON-CALL +BREAK "), "\n".join(screen)
    for row in (r"│agent-1 +0s +45s +20s +0s +0s ", r"│agent-2 +0s +0s +0s +1m5s +0s ", r"│agent-3 +0s +0s +0s +0s +1m5s "):
        assert found(screen, row), (row, "\n".join(screen))
    assert not found(screen, r'[{"]'), "\n".join(screen)
    assert found(screen, r"stats agents: done")


def test_resizing_the_terminal_switches_the_layout(db):
    app = open_screen(db, "agent-1", False)

    async def script(pilot):
        assert not found(terminal(app), r"v next panel") and found(terminal(app), r"─ queues ─")
        await pilot.resize_terminal(*SMALL)
        await pilot.pause()
        screen = terminal(app)
        assert found(screen, r"v next panel") and not found(screen, r"─ queues ─"), "\n".join(screen)
        await pilot.press("v")
        assert found(terminal(app), r"│default +1 +0:15 +3 +0 ")
        await pilot.resize_terminal(*LARGE)
        await pilot.pause()
        screen = terminal(app)
        assert not found(screen, r"v next panel") and found(screen, r"─ output ─") and found(screen, r"─ chat C1")

    drive(app, script, LARGE)
