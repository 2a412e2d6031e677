"""No byte from outside reaches a terminal as a control sequence, on any path.

A corpus of what a terminal acts on (CSI, OSC ended by BEL and by ESC \\, DCS, C1 controls,
bidirectional controls, line and paragraph separators, NUL, DEL) is fed through every field a
person reads: a refused command line (journaled as typed), a customer's name, a message, a
template, a classification note, file names and scenario lines in ``error:`` lines, a drill's
``say`` and ``--hint`` and its mistakes, the console's widgets, the pytest plugin's message.
Each renderer is checked where it draws: plain output piped, rich output in a real
pseudo-terminal (pexpect), error lines, the drill's report, the console through Textual's
pilot.  ``--json`` keeps every value exact (JSON escapes are safe on a terminal)."""

from __future__ import annotations

import asyncio
import io
import json
import re
import sqlite3
from pathlib import Path

import pexpect
import pytest

from conftest import CHATEMU, Chatemu, close_ended

from chatemu.cli.render import escape_controls

#: What a terminal acts on, by kind.
CORPUS = {
    "bidi": "\u202e\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069\u061c\u200e\u200f",
    "CSI": "\x1b[2J\x1b[1;1H",
    "OSC ended by BEL": "\x1b]0;pwned\x07",
    "OSC ended by ESC \\": "\x1b]52;c;SGVsbG8=\x1b\\",
    "DCS": "\x1bP+q544e\x1b\\",
    "C1": "\x9b2J\x9d0;pwned\x9c\x85\x90",
    "separators": "\u2028\u2029",
    "NUL": "\x00",
    "DEL and backspace": "\x7f\x08",
}
#: Every kind at once, in text that can be found again.
PAYLOAD = "Ann" + "".join(CORPUS.values()) + "end"
#: What a command-line argument can hold (no NUL).
ARGUMENT = PAYLOAD.replace("\x00", "")
#: What a file name can hold (no NUL, no slash).
FILE_NAME = ARGUMENT.replace("/", "")
#: The control sequences rich writes itself on a terminal: colours, the cursor hidden and shown,
#: a live line (drill's spinner) redrawn.
RICH_OWN = re.compile(r"\x1b\[[0-9;]*m|\x1b\[\?25[lh]|\x1b\[2K|\x1b\[[0-9]*[AG]")
#: What must never reach a terminal as it is.
FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
                       "\u2028\u2029]")


def inert(text: str, terminal: bool = False) -> str:
    """Assert ``text`` holds no control sequence but rich's own (``terminal``), no C1, bidi or
    separator character; return it."""
    rest = RICH_OWN.sub("", text).replace("\r", "") if terminal else text.replace("\r\n", "\n")
    found = FORBIDDEN.search(rest)
    assert found is None, f"raw {found.group()!r} at {found.start()}: {text!r}"
    return text


def shows_escaped(text: str) -> None:
    """The payload is there, escaped: it was drawn, not dropped (a cell may cut it after)."""
    assert "Ann\\u202e" in text, text


def poisoned(cm: Chatemu) -> None:
    """A chat, a message, a template, a classification note, a contact and a refusal holding the
    payload, as a database edited behind chatemu's back (or copied from anyone) could."""
    cm.ok("chat", "new", "--customer", "Ann")
    cm.ok("chat", "activate", "C1")
    cm.ok("chat", "receive", "C1", "hello")
    cm.ok("template", "add", "greet", "Hello")
    cm.ok("classification", "add", "sale")
    cm.ok("chat", "classify", "C1", "sale", "--note", "fine")
    cm.fails(4, "template", "remove", "nothing")
    conn = sqlite3.connect(cm.db)
    with conn:
        conn.execute("UPDATE chats SET customer = ?, classification_note = ?", (PAYLOAD, PAYLOAD))
        conn.execute("UPDATE messages SET text = ?", (PAYLOAD,))
        conn.execute("UPDATE templates SET text = ?", (PAYLOAD,))
        conn.execute("UPDATE refusals SET command = ?, message = ?", (PAYLOAD, PAYLOAD))
    conn.close()


def spawn(cm: Chatemu, *args: str, env: dict | None = None) -> pexpect.spawn:
    """``chatemu ARGS`` in a pseudo-terminal, colours on."""
    full = {k: v for k, v in cm.env.items() if k != "NO_COLOR"}
    full.update(TERM="xterm-256color", **(env or {}))
    child = pexpect.spawn(CHATEMU, list(args), env=full, dimensions=(40, 200), encoding="utf-8",
                          codec_errors="surrogateescape", timeout=20)
    child.logfile_read = io.StringIO()
    return child


def on_terminal(cm: Chatemu, *args: str, code: int = 0) -> str:
    """What ``chatemu ARGS`` writes to a terminal (stdout and stderr), checked inert."""
    child = spawn(cm, *args)
    child.expect(pexpect.EOF)
    close_ended(child)
    out = child.logfile_read.getvalue()
    assert child.exitstatus == code, out
    return inert(out, terminal=True)


# -- the one function --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", CORPUS)
def test_escape_controls_leaves_nothing_a_terminal_acts_on(kind):
    text = f"a{CORPUS[kind]}b\tc\nd"
    shown = inert(escape_controls(text))
    assert shown.startswith("a") and shown.endswith("b\tc\nd")  # newline and tab are kept
    assert escape_controls(shown) == shown  # escaping twice changes nothing


def test_escape_controls_keeps_a_rich_texts_styles_on_their_characters():
    from rich.text import Text

    text = Text.assemble(("\x1b[2J", "red"), " ", ("Ann\u202e", "bold"))
    shown = escape_controls(text)
    assert shown.plain == "\\x1b[2J Ann\\u202e"
    assert [(shown.plain[s.start:s.end], s.style) for s in shown.spans] == [("\\x1b[2J", "red"), ("Ann\\u202e", "bold")]


# -- refused commands: journaled as typed, shown escaped ------------------------------------------


@pytest.mark.parametrize("command", [["template", "remove"], ["classification", "remove"],
                                     ["snapshot", "restore"], ["snapshot", "delete"]], ids=" ".join)
def test_a_name_holding_control_characters_is_a_usage_error_shown_escaped(cm, command):
    """Names and codes cannot hold these characters: a malformed name, refused before anything is
    looked up (exit 2, so nothing is journaled), its error line escaped."""
    done = cm.fails(2, *command, ARGUMENT)
    shows_escaped(inert(done.err))
    assert cm.js("refusals") == []


#: What a message may hold and a refused command may journal as typed: bidi controls.
BIDI_TEXT = "Ann" + CORPUS["bidi"] + "end"


def test_a_refused_command_line_is_shown_escaped_everywhere(cm):
    done = cm.fails(4, "chat", "send", "C9", BIDI_TEXT)
    inert(done.err)
    typed = cm.js("refusals")[0]["command"]
    assert BIDI_TEXT in typed  # journaled as typed: --json keeps it exact
    shows_escaped(inert(cm.ok("refusals").out))
    shows_escaped(on_terminal(cm, "refusals"))
    assert BIDI_TEXT in json.loads(on_terminal(cm, "refusals", "--json"))[0]["command"]


# -- what the database holds: every table and line -----------------------------------------------

READS = [["chat", "list"], ["chat", "list", "--all"], ["chat", "show", "C1"], ["chat", "transcript", "C1"],
         ["template", "list"], ["refusals"], ["contact", "history", "Ann"], ["explain", "C1"]]


@pytest.mark.parametrize("args", READS, ids=" ".join)
def test_outside_text_is_escaped_piped_and_on_a_terminal(cm, args):
    poisoned(cm)
    out = inert(cm.ok(*args).out)
    on_tty = on_terminal(cm, *args)  # a table too wide for the terminal may leave the column out
    if args != ["explain", "C1"]:
        shows_escaped(out)
    if args[:2] in (["chat", "show"], ["chat", "transcript"]):
        shows_escaped(on_tty)


def test_json_keeps_outside_text_exact_and_safe(cm):
    poisoned(cm)
    exact = {("chat", "show", "C1"): lambda v: [v["customer"], v["classification_note"]],
             ("chat", "transcript", "C1"): lambda v: [m["text"] for m in v],
             ("template", "list"): lambda v: [t["text"] for t in v],
             ("refusals",): lambda v: [v[0]["command"], v[0]["message"]]}
    for args, values in exact.items():
        done = cm.run(*args, "--json")
        assert done.code == 0, done
        inert(done.out)
        assert set(values(done.json)) == {PAYLOAD}, done
        assert set(values(json.loads(on_terminal(cm, *args, "--json")))) == {PAYLOAD}
    inert(cm.ok("events", "--jsonl").out)
    bundle = json.loads(inert(cm.ok("export", "-").out))  # still JSON, holding the values exactly
    assert json.dumps(PAYLOAD)[1:-1] in json.dumps(bundle)


# -- error lines -----------------------------------------------------------------------------------


def test_error_lines_escape_file_names_and_lines(cm, tmp_path):
    missing = str(tmp_path / FILE_NAME)
    for args, code in [
        (["run", missing], 2), (["drill", missing], 2), (["import", missing], 2),
        (["export", str(tmp_path / "no" / FILE_NAME)], 2), (["timeline", "-o", missing + ".png"], 2),
        (["--db", str(tmp_path / "no" / FILE_NAME), "chat", "list"], 5),
    ]:
        done = cm.run(*args)
        assert done.code == code, done
        shows_escaped(inert(done.err))
    for args in (["run", str(tmp_path / "a\nb.chatemu")], ["import", str(tmp_path / "a\rb\u2028c.json")]):
        done = cm.run(*args)  # a line break in what it echoes: still one line
        assert done.code == 2 and len(done.err.splitlines()) == 1 and "a\\u000" in done.err, done
        inert(done.err)
    scenario = tmp_path / (FILE_NAME + ".chatemu")
    scenario.write_text(f"chat new\nchat park '{ARGUMENT}'\n")
    done = cm.run("run", str(scenario))  # a malformed chat id: a usage error
    assert done.code == 2 and done.err.count("\\x1b[2J") >= 2, done  # the file's name and the line
    shows_escaped(inert(done.err))
    shows_escaped(on_terminal(cm, "run", str(scenario), code=2))


def test_a_failing_drill_line_is_an_escaped_error_line(cm, tmp_path):
    drill = tmp_path / "t.drill"
    drill.write_text(f"say hi\ndo chat park '{ARGUMENT}'\n")
    done = cm.run("drill", str(drill))
    assert done.code == 2, done  # a malformed chat id: a usage error
    shows_escaped(inert(done.err))
    inert(done.out)


# -- drills ----------------------------------------------------------------------------------------

SHOWN = "".join(CORPUS[kind] for kind in ("bidi", "separators"))


def test_a_drills_say_and_hint_are_drawn_escaped(cm, tmp_path):
    drill = tmp_path / "t.drill"
    drill.write_text(f"say Look{SHOWN}here\nchat new\n"
                     f"wait chat C1 state=active --within 0s --hint 'Hint{SHOWN}'\n")
    done = cm.run("drill", str(drill), "--timeout", "0.5s")  # the hint shows at once; nobody acts
    assert done.code == 1, done
    inert(done.out)
    inert(done.err)
    assert "* Look\\u202e" in done.out and "hint: Hint\\u202e" in done.out, done
    on_tty = on_terminal(cm, "drill", str(drill), "--timeout", "0.5s", code=1)
    assert "Look\\u202e" in on_tty and "Hint\\u202e" in on_tty


@pytest.mark.parametrize("line", ["say a\x00b", "say \x1b]0;pwned\x07", "say \x9b2J",
                                  "wait clock now=x --within 1s --hint '\x1b[2J'"], ids=["NUL", "OSC", "C1", "hint"])
def test_a_say_or_hint_holding_a_control_character_is_a_bad_drill_file(cm, tmp_path, line):
    drill = tmp_path / "t.drill"
    drill.write_text(f"chat new\n{line}\n")
    before = cm.dump()
    done = cm.run("drill", str(drill))
    assert done.code == 2 and done.out == "", done
    bad = r"error: .*t\.drill:2: bad (say|--hint) text: it holds the control character .*\n"
    assert re.fullmatch(bad, done.err), done
    inert(done.err)
    assert cm.dump() == before


def test_a_drills_mistakes_are_shown_escaped(cm, tmp_path):
    drill = tmp_path / "t.drill"
    drill.write_text("chat new\nwait chat C1 state=active\n")
    child = spawn(cm, "drill", str(drill))
    child.expect("waiting")
    cm.fails(4, "chat", "send", "C9", BIDI_TEXT)
    cm.ok("chat", "activate", "C1")
    child.expect(pexpect.EOF)
    child.close()
    out = inert(child.logfile_read.getvalue(), terminal=True)
    assert child.exitstatus == 0, out
    assert "mistakes" in out
    shows_escaped(out)


# -- timeline --------------------------------------------------------------------------------------


def test_the_timeline_draws_a_lanes_name_escaped_as_text_svg_and_html(cm, tmp_path):
    cm.ok("chat", "new")
    cm.ok("chat", "activate", "C1")
    cm.ok("clock", "advance", "1m")
    conn = sqlite3.connect(cm.db)  # an id no command accepts, as a copied database could hold
    with conn:
        conn.execute("UPDATE events SET chat = ? WHERE chat = 'C1'", (ARGUMENT,))
        conn.execute("UPDATE chats SET id = ?", (ARGUMENT,))
    conn.close()
    assert "Ann\\u202e" in inert(cm.ok("timeline").out)
    assert "Ann\\u202e" in on_terminal(cm, "timeline")
    for name in ("t.svg", "t.html"):
        cm.ok("timeline", "-o", str(tmp_path / name))
        shows_escaped(inert((tmp_path / name).read_text()))


# -- the pytest plugin and the Python API ------------------------------------------------------------


def test_a_scenarios_failure_message_is_escaped(tmp_path):
    from chatemu.cli.api import ChatemuError, Emulator

    scenario = tmp_path / (FILE_NAME + ".chatemu")
    scenario.write_text(f"chat new\nchat park '{ARGUMENT}'\n")
    with pytest.raises(ChatemuError) as caught:
        Emulator(tmp_path / "t.db").run(scenario)
    for message in (str(caught.value), str(caught.value.scenario)):
        shows_escaped(inert(message))
    assert ARGUMENT in caught.value.scenario.command  # the failure's fields stay exact


# -- the console ------------------------------------------------------------------------------------


def test_the_console_draws_outside_text_escaped(cm):
    from chatemu.cli import app as cli
    from chatemu.cli.screen import make_screen
    from chatemu.store.engine import Engine

    poisoned(cm)
    app = make_screen(Engine(str(cm.db), "agent-1"), "agent-1", False, ["--db", str(cm.db)], cli)

    def text(selector: str) -> str:
        widget = app.query_one(selector)
        if hasattr(widget, "lines"):  # a RichLog
            return "\n".join("".join(segment.text for segment in line) for line in widget.lines)
        return str(widget.render())

    async def go():
        async with app.run_test(size=(160, 40)) as pilot:
            await pilot.pause()
            app.run_line(["template", "remove", ARGUMENT])
            await pilot.pause()
            table = app.query_one("#inbox")
            shown = {
                "customer": str(table.get_row("C1")[app._headers.index("CUSTOMER")]),
                "details": text("#details"), "messages": text("#messages"), "output": text("#output"),
                "status": text("#status"), "title": str(app.query_one("#chat").border_title),
            }
            for name, value in shown.items():
                assert "\x1b" not in value, name
                inert(value)
                shows_escaped(value)

    asyncio.run(go())


def test_the_console_shows_brackets_in_outside_text_as_written(cm):
    from chatemu.cli import app as cli
    from chatemu.cli.screen import make_screen
    from chatemu.store.engine import Engine

    cm.ok("chat", "new", "--customer", "[bold red]Ann[/")
    cm.ok("chat", "activate", "C1")
    app = make_screen(Engine(str(cm.db), "agent-1"), "agent-1", False, ["--db", str(cm.db)], cli)

    async def go():
        async with app.run_test(size=(160, 40)) as pilot:
            await pilot.pause()
            app.run_line(["chat", "contact", "C1", "[/x]"])  # not Textual markup: no error, shown as is
            await pilot.pause()
            assert "'[/x]'" in str(app.query_one("#status").render())
            assert "[bold red]Ann[/" in str(app.query_one("#details").render())

    asyncio.run(go())
    assert cm.chat("C1")["contact"] == "[/x]"
