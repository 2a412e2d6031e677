"""Every table in a real pseudo-terminal of 60, 80 and 120 columns: no header and no value cut.

One scenario builds a realistic database once for the module (twelve agents with long ids,
queue names, customers' full names, durations, refusals, templates, a contact, a snapshot).
Each table command is then drawn on a terminal of each width, read back from the screen (as a
table, or a record per row), and compared with the plain output and the JSON of the same
command: every value whole, in its row and column, or its column named as left out (empty).
"""

from __future__ import annotations

import re

import pexpect
import pytest

from conftest import CHATEMU, Chatemu, close_ended

SCENARIO = """\
clock set 2026-01-05T09:00:00Z
queue add billing-disputes
queue add technical-support
queue add sales
template add greeting "Hello {customer}, this is {agent}. How can I help you today?"
template add refund-policy "Refunds go back to the original card within five working days." --queue billing-disputes
classification add refund
classification add late-delivery --queue billing-disputes
--agent amelia.watson agent login
--agent benjamin.okafor agent login
--agent chloe.fitzgerald agent login
--agent daniel.kowalski agent login
--agent emma.lindqvist agent login
--agent farid.haddad agent login
--agent grace.obrien agent login
--agent hiroshi.tanaka agent login
--agent isabel.moreno agent login
--agent jonas.schneider agent login
--agent katarzyna.nowak agent login
--agent liam.gallagher agent login
--agent hiroshi.tanaka agent queues set technical-support sales
chat new --customer "Annabelle Fitzgerald-Smythe" --queue billing-disputes
--agent amelia.watson chat activate C1
--agent amelia.watson chat receive C1 "I was charged twice for my March order"
--agent amelia.watson chat send C1 --template greeting
--agent amelia.watson chat classify C1 refund --note "charged twice, refund sent"
clock advance 1m30s
--agent amelia.watson chat end C1
! --agent benjamin.okafor chat activate C1
clock advance 20s
--agent amelia.watson chat wrapup C1 --finish
chat new --customer "Bob Ray" --queue technical-support
--agent benjamin.okafor chat activate C2
clock advance 2m5s
--agent benjamin.okafor chat end C2
clock advance 12.5s
--agent benjamin.okafor chat park C2
! --agent benjamin.okafor chat park C2
--agent chloe.fitzgerald agent break
--agent daniel.kowalski agent break
--agent emma.lindqvist agent break
--agent farid.haddad agent break
--agent grace.obrien agent break
--agent hiroshi.tanaka agent break
--agent isabel.moreno agent break
--agent jonas.schneider agent break
--agent katarzyna.nowak agent break
--agent liam.gallagher agent break
--agent amelia.watson agent break
chat new --customer "Chen Wei" --queue sales
chat new --customer "Dolores Abernathy-Rutherford" --queue billing-disputes
snapshot save before-the-lunch-rush
clock advance 3m17s
--agent benjamin.okafor chat activate C3
chat receive C3 "Is the spring offer still on?"
--agent benjamin.okafor chat park C3
chat receive C3 "Hello?"
--agent benjamin.okafor agent break
chat new --customer "Annabelle Fitzgerald-Smythe" --queue technical-support --priority 2
clock advance 41s
! chat park C99
"""

#: Each table: its command line, whether its plain output starts with a title, where its rows
#: are in the JSON, and which column shows which JSON field (strings, lists of strings, integers).
TABLES = {
    "chat list": (["chat", "list", "--all"], True, None,
                  {"ID": "id", "STATE": "state", "AGENT": "agent", "CUSTOMER": "customer", "QUEUE": "queue",
                   "PRIO": "priority", "EXT": "extensions_left", "UNREAD": "unread"}),
    "events": (["events"], False, None,
               {"SEQ": "seq", "AT": "at", "CHAT": "chat", "CAUSE": "cause", "AGENT": "agent"}),
    "queue list": (["queue", "list"], False, None,
                   {"QUEUE": "name", "WAITING": "waiting", "IN INBOXES": "in_inboxes", "SERVED BY": "serving",
                    "AVAILABLE": "available"}),
    "agent list": (["agent", "list"], False, None,
                   {"AGENT": "id", "STATUS": "status", "PRESENCE": "presence", "ACTIVE": "active_chat",
                    "OPEN": "open_chats"}),
    "stats agents": (["stats", "agents"], True, "agents",
                     {"AGENT": "agent", "HANDLED": "handled", "EXTENSIONS": "extensions", "TRANSFERS": "transfers",
                      "RETURNS": "returns"}),
    "stats queues": (["stats", "queues"], True, "queues",
                     {"QUEUE": "queue", "OFFERED": "offered", "PRESENTED/TAKEN": "presented_or_taken",
                      "ABANDONED": "abandoned"}),
    "refusals": (["refusals"], False, None,
                 {"SEQ": "seq", "AT": "at", "AGENT": "agent", "EXIT": "exit", "COMMAND": "command",
                  "MESSAGE": "message"}),
    "template list": (["template", "list"], False, None, {"NAME": "name", "QUEUE": "queue", "TEXT": "text"}),
    "classification list": (["classification", "list"], False, None, {"CODE": "code", "QUEUE": "queue"}),
    "contact history": (["contact", "history", "Annabelle Fitzgerald-Smythe"], True, "chats",
                        {"ID": "id", "QUEUE": "queue", "AGENTS": "agents", "STARTED": "created_at",
                         "CLOSED": "closed_at", "NOTES": "notes", "MSGS": "messages"}),
    "snapshot list": (["snapshot", "list"], False, None, {"NAME": "name", "SAVED AT": "created_at", "CHATS": "chats"}),
}

#: The columns of free text (a message, a list of names): these alone may wrap between words.
FREE_TEXT = {"CHANGE", "SERVED BY", "COMMAND", "MESSAGE", "TEXT", "AGENTS", "CLASSIFICATION", "NOTES"}
#: What an empty column holds.
EMPTY = {"", "-", "0", "0s"}
WIDTHS = (60, 80, 120)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """The database, and each table's plain output and JSON (read once)."""
    folder = tmp_path_factory.mktemp("narrow")
    cm = Chatemu(folder / "chatemu.db")
    (folder / "data.chatemu").write_text(SCENARIO)
    cm.ok("run", "--quiet", str(folder / "data.chatemu"))
    seen = {name: (cm.ok(*args).out, cm.js(*args)) for name, (args, *_) in TABLES.items()}
    return cm, seen


def on_terminal(cm, columns: int, *args: str) -> str:
    """What ``chatemu ARGS`` shows on a terminal ``columns`` wide (without colour codes)."""
    env = {k: v for k, v in cm.env.items() if k not in ("NO_COLOR", "FORCE_COLOR", "COLUMNS", "LINES")}
    env["TERM"] = "xterm-256color"
    child = pexpect.spawn(CHATEMU, list(args), env=env, dimensions=(50, columns), encoding="utf-8", timeout=30)
    shown = child.read()
    close_ended(child)
    assert child.exitstatus == 0, shown
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown).replace("\r\n", "\n")


def plain_rows(text: str, titled: bool) -> tuple[list[str], list[dict[str, str]]]:
    """The headers and rows of a plain table, cut at the headers' columns."""
    lines = text.splitlines()[1 if titled else 0:]
    spans = [(m.start(), m.group()) for m in re.finditer(r"\S+(?: \S+)*", lines[0])]
    starts = [start for start, _ in spans] + [None]
    headers = [header for _, header in spans]
    rows = [{header: line[starts[i]:starts[i + 1]].strip() for i, header in enumerate(headers)} for line in lines[1:]]
    return headers, rows


def screen_rows(screen: str, headers: list[str]) -> tuple[list[str], list[dict[str, str]]]:
    """The columns and rows the terminal shows, read back from a table or from records.  A
    cell's lines are joined by a space; a line going on a value that is not free text fails."""
    lines = [line.rstrip() for line in screen.splitlines()]
    if any(line.startswith("─[ RECORD ") for line in lines):
        rows, last = [], None
        for line in lines:
            if line.startswith("─[ RECORD "):
                rows.append({})
                continue
            if not rows or not line:
                continue
            if line.startswith(" "):
                assert last in FREE_TEXT, f"{last} goes on over another line:\n{screen}"
                rows[-1][last] += " " + line.strip()
                continue
            last = next((h for h in sorted(headers, key=len, reverse=True)
                         if line == h or line.startswith(h + "  ")), None)
            assert last, f"not a header and its value: {line!r}\n{screen}"
            rows[-1][last] = line[len(last):].strip()
        shown = list(rows[0])
        assert all(list(row) == shown for row in rows), screen
        return shown, rows
    shown = [cell.strip() for cell in next(line for line in lines if line.startswith("┃")).strip("┃").split("┃")]
    rows = []
    for line in lines:
        if not line.startswith("│"):
            continue
        cells = [cell.strip() for cell in line.strip("│").split("│")]
        if cells[0]:
            rows.append(dict(zip(shown, cells)))
            continue
        for header, cell in zip(shown, cells):
            if cell:
                assert header in FREE_TEXT, f"{header} goes on over another line:\n{screen}"
                rows[-1][header] += " " + cell
    return shown, rows


@pytest.mark.parametrize("columns", WIDTHS)
@pytest.mark.parametrize("table", list(TABLES))
def test_every_table_fits_the_terminal_without_cutting_a_value(data, table, columns):
    cm, seen = data
    args, titled, inside, fields = TABLES[table]
    plain, as_json = seen[table]
    items = as_json[inside] if inside else as_json
    headers, expected = plain_rows(plain, titled)
    screen = on_terminal(cm, columns, *args)
    where = f"{table} at {columns} columns:\n{screen}"

    assert max(len(line) for line in screen.splitlines()) <= columns, where
    assert "…" not in screen, where
    body, _, footer = screen.partition("left out: ")  # the last line(s), naming the columns left out
    assert footer == "" or footer.rstrip().endswith(" (empty)"), where
    left_out = " ".join(footer.split()).removesuffix(" (empty)").split(", ") if footer else []
    shown, rows = screen_rows(body, headers)
    assert shown == [h for h in headers if h not in left_out], where  # every header whole, in order
    assert len(rows) == len(expected) == len(items), where
    one_day = re.search(r"^events of (\d{4}-\d\d-\d\d) \(UTC\)$", screen, re.M)
    for plain_row, row, item in zip(expected, rows, items):
        for header in left_out:  # only a column holding nothing is left out
            assert plain_row[header] in EMPTY, (header, where)
            assert fields.get(header) is None or item[fields[header]] in (None, "", 0, []), (header, where)
        for header in shown:
            cell = row[header].replace("→", "->")
            want = plain_row[header]
            if one_day and header == "AT":
                want = want.removeprefix(f"{one_day.group(1)}T").removesuffix("Z")
            assert " ".join(cell.split()) == " ".join(want.split()), (header, cell, want, where)
            value = item.get(fields[header]) if header in fields else None
            for part in value if isinstance(value, list) else [value]:
                if isinstance(part, bool) or part is None:
                    continue
                if isinstance(part, int):
                    assert cell == str(part) or (part == 0 and cell == ""), (header, part, where)  # UNREAD 0: blank
                elif one_day and header == "AT":
                    assert part == f"{one_day.group(1)}T{cell}Z", (header, part, where)
                else:
                    assert " ".join(part.split()) in " ".join(cell.split()), (header, part, where)


@pytest.mark.parametrize("columns", WIDTHS)
def test_queue_show_wraps_between_words(data, columns):
    cm, _ = data
    queue = cm.js("queue", "show", "technical-support")
    screen = on_terminal(cm, columns, "queue", "show", "technical-support")
    lines = screen.splitlines()
    assert max(len(line) for line in lines) <= columns, screen
    words = [word for line in lines for word in line.split()]
    assert " ".join(words) == cm.ok("queue", "show", "technical-support").out.strip()
    assert len(queue["serving"]) >= 10
    for agent in queue["serving"]:  # each agent's id whole on one line
        assert any(re.search(rf"(^|\s){re.escape(agent)}[,)]?(\s|$)", line) for line in lines), (agent, screen)
    assert any("longest wait 41s," in line for line in lines), screen


def test_wide_tables_turn_into_records_and_say_what_was_left_out(data):
    """At 80 columns the thirteen columns of ``stats agents`` become a record per agent, and
    the columns all zero are named under them; at 120 they fit as a table."""
    cm, _ = data
    narrow = on_terminal(cm, 80, "stats", "agents")
    assert narrow.count("─[ RECORD ") == 12, narrow
    assert "left out: ON-CALL, LOGGED-OUT, EXTENSIONS, TRANSFERS, RETURNS (empty)" in narrow, narrow
    wide = on_terminal(cm, 120, "stats", "agents")
    assert "RECORD" not in wide and "┃ AGENT" in wide, wide
    assert "left out: ON-CALL, LOGGED-OUT, EXTENSIONS, TRANSFERS, RETURNS (empty)" in wide, wide
    # a table that fits as it is keeps its empty columns and names nothing
    roomy = on_terminal(cm, 120, "agent", "list")
    assert "ACTIVE" in roomy and "left out" not in roomy, roomy


# -- the rule itself, in-process ---------------------------------------------------------


def test_fit_leaves_out_empty_columns_first_then_turns_to_records():
    from chatemu.cli.render import fit

    headers = ["ID", "CUSTOMER", "PRIO", "CALL", "TEXT"]
    rows = [["C1", "Annabelle Fitzgerald-Smythe", "0", "", "a long message of many short words"],
            ["C2", "Bob Ray", "0", "-", "ok"]]
    roomy = fit(headers, rows, 120, wrap=("TEXT",))
    assert (roomy.columns, roomy.left_out, roomy.records) == ([0, 1, 2, 3, 4], [], False)
    assert roomy.widths == {0: 2, 1: 27, 2: 4, 3: 4, 4: 34}
    # 85 cells as it is; without PRIO and CALL (all 0, all empty) 76 fit at 80
    snug = fit(headers, rows, 80, wrap=("TEXT",))
    assert (snug.columns, snug.left_out, snug.records) == ([0, 1, 4], [2, 3], False)
    assert snug.widths == {0: 2, 1: 27, 4: 34}
    # the text wraps between words to fit 60: the name stays whole
    wrapped = fit(headers, rows, 60, wrap=("TEXT",))
    assert (wrapped.columns, wrapped.records) == ([0, 1, 4], False)
    assert wrapped.widths[1] == 27 and wrapped.widths[4] == 60 - 10 - 2 - 27
    # too narrow for the name and the text at its least (12): a record per row
    records = fit(headers, rows, 50, wrap=("TEXT",))
    assert (records.columns, records.left_out, records.records) == ([0, 1, 4], [2, 3], True)
    # a column of a value (not free text) never narrows: records rather than a cut name
    assert fit(headers, rows, 60).records is True


def test_the_left_out_line_breaks_between_column_names_never_inside_one():
    from chatemu.cli.render import _name_lines

    names = ["AVAILABLE", "ON-CALL", "BREAK", "LOGGED-OUT", "HANDLED", "AVG HANDLE", "AVG WRAP-UP", "EXTENSIONS"]
    for width in range(20, 100):
        lines = _name_lines("left out: ", names, " (empty)", width)
        assert " ".join(lines) == "left out: " + ", ".join(names) + " (empty)", width
        assert all(len(line) <= width for line in lines), (width, lines)
        for line in lines:
            body = line.removeprefix("left out: ").removesuffix(" (empty)")
            assert all(piece in names for piece in body.rstrip(",").split(", ")), (width, line)
