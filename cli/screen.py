"""The screen of ``chatemu console`` and ``chatemu watch`` (Textual).

What is shown is read through the engine's read functions, the objects ``--json`` prints, in
one read transaction (``read_board``); what a key does is a chatemu command line run through
``app.call``, exactly as in a shell.  Changes by other processes are noticed by polling
``PRAGMA data_version`` on one open connection (``POLL_SECONDS``): the state is read again
only when it changed, plus once a second on a real clock, whose countdowns move by themselves.

Only ``console.py`` imports this module, when one of the two commands starts.
"""

from __future__ import annotations

import contextlib
import io
import json
import shlex
from typing import Callable

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import DataTable, Input, Label, RichLog, Static

from chatemu.store import schema
from chatemu.store.engine import Connections, Engine
from chatemu.store.errors import ChatemuError
from chatemu.store.timefmt import clock_face, parse_time

from .common import Session
from .render import STATE_STYLES, escape_controls

POLL_SECONDS = 0.25  # how often data_version is looked at
TICK_SECONDS = 1.0  # how often a real clock's countdowns are read again
EVENTS_SHOWN = 200  # the events panel keeps this many
EVENTS_BACK = 300  # at start, events are read from this many before the last one
OUTPUT_SHOWN = 500  # the output panel keeps this many lines
HISTORY_KEPT = 200  # command lines remembered (this run only)
LIST_SHOWN = 50  # the output panel shows this many items of a list
OPEN_STATES = ("new", "active", "parked", "active-wrapup", "parked-wrapup")
#: Narrower or shorter than this (columns, lines), the screen shows one panel at a time below
#: the inbox, and ``v`` brings the next one forward.
SMALL_BELOW = (115, 32)
#: Commands the command line does not run: they take over the terminal or never end.
INTERACTIVE = {"run": "it runs a scenario file: use 'chatemu run' in a shell",
               "console": "the console is running already", "watch": "watch runs in a terminal of its own"}


# -- reading -------------------------------------------------------------------------------


def read_board(engine: Engine, agent: str | None, selected: str | None, since: int | None, mark,
               only_chat: bool = False) -> dict:
    """Everything the screen shows, in one read transaction: the clock, the inbox (``agent``'s,
    or every open and queued chat), the agents, the queues, the events after ``since`` (from
    near the end when None) and the selected chat with its messages (``only_chat``: only that)."""
    from chatemu.store import agents, chats, clock, journal, messages, queues
    from chatemu.store.errors import UnknownChat

    with engine.transaction(acting=False, write=False) as tx:
        board: dict = {"chat": None, "messages": None}
        if selected is not None:
            try:
                board["chat"] = chats.show(tx, selected)
                board["messages"] = messages.transcript(tx, selected)
            except UnknownChat:
                pass
        if only_chat:
            return board
        board.update({"clock": clock.show(tx), "now_ms": tx.now})
        if agent is None:
            inbox = [chat for state in ("queued", *OPEN_STATES) for chat in chats.list_(tx, True, state, None)]
            inbox.sort(key=lambda c: (c["created_at"], len(c["id"]), c["id"]))
        else:
            inbox = chats.list_(tx, False, None, None)
        board["inbox"] = inbox
        board["me"] = agents.show(tx) if agent is not None else None
        board["mine"] = queues.agent_queues(tx) if agent is not None else None
        board["agents"] = agents.list_(tx)
        board["queues"] = queues.list_(tx)
        board["queued"] = chats.list_(tx, True, "queued", None)
        board["routing"] = tx.config("routing")
        if since is None:
            since = max(0, journal.last_seq_at(tx, tx.now) - EVENTS_BACK)
        board["poll"] = journal.poll(tx, None, agent, since, mark)
    return board


def next_queued(board: dict) -> str | None:
    """The queued chat the agent would be presented next (``routing.pick``), of those in the
    queues it serves: the one ``t`` takes."""
    from chatemu.store import routing

    mine = board["mine"]
    on = None if mine["all"] else tuple(q["queue"] for q in mine["queues"] if q["on"])
    waiting = [routing.Waiting(c["id"], c["queue"], c["priority"], parse_time(c["created_at"]), number)
               for number, c in enumerate(board["queued"])]  # listed in creation order
    facts = routing.AgentFacts(board["me"]["id"], board["me"]["presence"], False, None, 0, 0, 0, on, on)
    found = routing.pick(waiting, facts, board["routing"])
    return found.id if found is not None else None


# -- what the panels show --------------------------------------------------------------------


def _ms(seconds) -> int | None:
    return None if seconds is None else round(seconds * 1000)


def since_text(board: dict, iso: str | None) -> str:
    """How long ago ``iso`` was, on the board's clock, as m:ss."""
    if iso is None:
        return ""
    return clock_face(max(0, board["now_ms"] - parse_time(iso)))


def inbox_headers(chats: list[dict], every_agent: bool, spare: bool) -> list[str]:
    """The inbox table's columns: PRIO only when a chat has a priority; with ``spare`` (watch,
    every agent's chats), UNREAD and CALL only when a chat has something to show there."""
    headers = ["ID", "STATE"] + (["AGENT"] if every_agent else []) + ["CUSTOMER", "QUEUE"]
    if any(chat["priority"] for chat in chats):
        headers.append("PRIO")
    headers += ["WRAP-UP", "EXT"]
    if not spare or any(chat["unread"] for chat in chats):
        headers.append("UNREAD")
    if not spare or any(chat["parked_by_call"] for chat in chats):
        headers.append("CALL")
    if any(chat.get("alerting") for chat in chats):
        headers.append("ALERT")
    return headers


def safe(text) -> Text:
    """Outside text as the console draws it: escaped (``render.escape_controls``) and a rich
    ``Text``, never read as Textual markup (a customer named ``[/x]`` shows as written)."""
    return Text(escape_controls(text)) if isinstance(text, str) else escape_controls(text)


def inbox_cells(chat: dict) -> dict[str, Text]:
    return {
        "ID": Text(" " + chat["id"], style="bold"), "STATE": state_text(chat["state"]), "AGENT": Text(chat["agent"] or "-"),
        "CUSTOMER": Text(chat["customer"] or "-"), "QUEUE": Text(chat["queue"]), "PRIO": Text(str(chat["priority"])),
        "WRAP-UP": wrapup_cell(chat), "EXT": Text("-" if chat["extensions_left"] is None else str(chat["extensions_left"])),
        "UNREAD": Text(str(chat["unread"]) if chat["unread"] else "", style="bold yellow"),
        "CALL": Text("parked" if chat["parked_by_call"] else "", style="red"),
        "ALERT": Text("awaiting reply" if chat.get("alerting") else "", style="bold red"),
    }


def wrapup_cell(chat: dict) -> Text:
    if chat["wrapup_remaining"] is None:
        return Text("-")
    left = clock_face(_ms(chat["wrapup_remaining"]))
    if chat["state"] == "parked-wrapup":
        return Text.assemble(left, (" paused", "magenta"))
    return Text.assemble(left, (" running", "bold magenta"))


def state_text(state: str) -> Text:
    return Text(state, style=STATE_STYLES.get(state, ""))


def clock_line(board: dict) -> Text:
    now = board["clock"]["now"]
    mode = board["clock"]["mode"]
    return Text.assemble((f"{now[:10]} {now[11:19]} UTC", "bold"), "  ",
                         (f"{mode} clock", "bold yellow" if mode == "virtual" else "bold green"))


def agent_text(board: dict) -> Text:
    me = board["me"]
    presence = me["presence"] + (f" ({me['break_reason']})" if me.get("break_reason") else "")
    if me.get("break_overrun_since"):
        presence += f", overrun since {me['break_overrun_since'][11:19]}"
    lines = Text()
    lines.append(me["id"], "bold")
    lines.append("  ")
    lines.append(me["status"], _status_style(me["status"]))
    lines.append(f"  for {since_text(board, me['status_since'])}\n")
    lines.append(f"presence {presence}\n")
    lines.append("on a call" if me["on_call"] else "no call", "bold red" if me["on_call"] else "")
    lines.append(f"  active {me['active_chat'] or '-'}  {me['open_chats']} open of {me['max_chats']}\n")
    mine = board["mine"]
    if mine["all"]:
        lines.append("queues: every queue")
    else:
        lines.append("queues: " + ", ".join(q["queue"] + ("" if q["on"] else " (off)") for q in mine["queues"]))
    return lines


def _status_style(status: str) -> str:
    return {"available": "bold green", "break": "yellow", "on-call": "bold red", "logged-out": "dim",
            "handling-chat": "bold cyan", "wrap-up": "bold magenta", "not-responding": "bold yellow"}.get(status, "")


def _columns(rows: list[list[Text]], header: list[str], gap: int = 2) -> Text:
    """Rows of cells as aligned text, the header dim; a line too long is cut, not wrapped."""
    table = [[Text(h, style="dim bold") for h in header], *rows]
    widths = [max(cell.cell_len for cell in column) for column in zip(*table)]
    out = Text()
    for index, row in enumerate(table):
        if index:
            out.append("\n")
        for col, cell in enumerate(row):
            out.append_text(cell)
            if col < len(row) - 1:
                out.append(" " * (widths[col] - cell.cell_len + gap))
    out.no_wrap, out.overflow = True, "ellipsis"
    return out


def queues_text(board: dict) -> Text:
    if not board["queues"]:
        return Text("no queues yet", style="dim")
    rows = []
    for q in board["queues"]:
        longest = clock_face(_ms(q["longest_wait_seconds"])) or "-"
        rows.append([Text(q["name"], style="bold"), Text(str(q["waiting"]), style="bold" if q["waiting"] else "dim"),
                     Text(longest), Text(str(q["in_inboxes"])), Text(str(q["available"]))])
    return _columns(rows, ["QUEUE", "WAIT", "LONGEST", "INBOX", "FREE"])


def agents_text(board: dict, leave_out: str | None) -> Text:
    shown = [a for a in board["agents"] if a["id"] != leave_out]
    if not shown:
        return Text("no other agents" if leave_out else "no agents yet", style="dim")
    rows = []
    for a in shown:
        status = a["status"] + (" overrun" if a.get("break_overrun_since") else "")
        rows.append([Text(a["id"], style="bold"), Text(status, style=_status_style(a["status"])),
                     Text(since_text(board, a.get("status_since"))), Text(a["active_chat"] or "-"),
                     Text(str(a["open_chats"]))])
    return _columns(rows, ["AGENT", "STATUS", "FOR", "CHAT", "OPEN"], gap=1)


def event_text(event: dict, with_agent: bool) -> Text:
    subject = event["chat"] or event["agent"] or "profile"  # neither: a profile applied
    line = Text.assemble((event["at"][11:19], "dim"), " ", (subject, "bold"), " ",
                         event["from"] or "(none)", " → ", state_text(event["to"]), f" ({event['cause']})")
    if with_agent and event["chat"] and event["agent"]:
        line.append(f" {event['agent']}", "dim")
    return line


def chat_details(chat: dict) -> Text:
    spent = " · ".join(f"{name} {clock_face(_ms(chat[key]))}" for name, key in
                       (("active", "active_seconds"), ("parked", "parked_seconds"), ("wrap-up", "wrapup_seconds")))
    queue = chat["queue"] + (f" (from {chat['origin_queue']})" if chat["origin_queue"] != chat["queue"] else "")
    out = Text()
    out.append(chat["id"], "bold")
    out.append("  ")
    out.append_text(state_text(chat["state"]))
    out.append(f"  {chat['customer'] or '(no name)'}  queue {queue}")
    if chat["priority"]:
        out.append(f"  prio {chat['priority']}")
    if chat["agent"]:
        out.append(f"  {chat['agent']}")
    if chat["wrapup_remaining"] is not None:
        out.append("\nwrap-up ")
        out.append_text(wrapup_cell(chat))
        out.append(f" · {chat['extensions_left']} extension(s) left")
    out.append("\n" + spent)
    out.append(f"\ncontact {chat['contact'] or '-'} · classification {chat['classification'] or '-'}"
               f" · transfers {chat['transfers']} · unread {chat['unread']}")
    if chat["abusive"]:
        out.append(" · abusive", "bold red")
    if chat["closed_reason"]:
        out.append(f" · closed ({chat['closed_reason']})")
    return out


def message_text(message: dict, customer: str | None) -> Text:
    who = customer or "customer" if message["from"] == "customer" else message["from"]
    style = "bold cyan" if message["from"] == "customer" else "bold green"
    return Text.assemble((message["at"][11:19], "dim"), " ", (who, style), ": ", message["text"])


def result_lines(results: list, shown_as: Callable, printers: dict | None = None) -> tuple[list[Text], str]:
    """What a command line's results say, and the last one in a line: as ``run`` prints them,
    each change, then the result; a read that has nothing to say in a line (a list, figures)
    as the command prints it in a shell, when ``printers`` has how (id of the result ->
    function), else the items of a list (events and chats in a line each, anything else as
    JSON)."""
    from .render import chat_summary, message_line

    lines: list[Text] = []
    said = "done"
    for result in results:
        for event in result.events:
            lines.append(Text("  ") + event_text(event, True))
        value = result.value
        printer = (printers or {}).get(id(result))
        if printer is not None and (isinstance(value, list) or (shown_as(result) == "done" and not _is_message(value))):
            lines += printed_lines(printer, result)
            said = shown_as(result)
            continue
        if _is_message(value):
            lines.append(Text(message_line(value)))
        else:
            lines.append(Text(shown_as(result)))
        if isinstance(value, list):
            for item in value[:LIST_SHOWN]:
                if isinstance(item, dict) and "seq" in item and "cause" in item:
                    lines.append(Text("  ") + event_text(item, True))
                elif isinstance(item, dict) and "state" in item and "id" in item and "wrapup_remaining" in item:
                    lines.append(Text("  " + chat_summary(item)))
                elif _is_message(item):
                    lines.append(Text("  " + message_line(item)))
                else:
                    lines.append(Text("  " + json.dumps(item, ensure_ascii=False)))
            if len(value) > LIST_SHOWN:
                lines.append(Text(f"  … {len(value) - LIST_SHOWN} more"))
        elif isinstance(value, dict) and shown_as(result) == "done" and not _is_message(value):
            lines.append(Text("  " + json.dumps(value, ensure_ascii=False)))
        said = lines[-1].plain
    return lines, said


def printed_lines(printer: Callable, result) -> list[Text]:
    """What ``printer`` prints of ``result`` (a command's output for people, plain as in a pipe),
    a line each, never wrapped: a table's rows stay rows (the output panel scrolls sideways)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        printer(result)
    lines = []
    for line in out.getvalue().splitlines()[:OUTPUT_SHOWN]:
        text = Text.from_ansi(line)
        text.no_wrap = True
        lines.append(text)
    return lines


def _is_message(value) -> bool:
    return isinstance(value, dict) and {"chat", "seq", "from", "text"} <= value.keys()


# -- the command line --------------------------------------------------------------------------


class Completions(Suggester):
    """Completes the command line: commands, options, chat ids, queues and agents."""

    def __init__(self, screen: "ChatemuScreen"):
        super().__init__(use_cache=False, case_sensitive=True)
        self.screen = screen

    async def get_suggestion(self, value: str) -> str | None:
        return self.screen.complete(value)


class CommandLine(Input):
    """An input with a history (up, down), Tab completion and Escape to close."""

    BINDINGS = [
        Binding("up", "history(-1)", "previous", show=False),
        Binding("down", "history(1)", "next", show=False),
        Binding("tab", "complete", "complete", show=False),
        Binding("escape", "close", "close", show=False),
    ]

    def action_history(self, step: int) -> None:
        self.app.history_step(step)

    def action_complete(self) -> None:
        completed = self.app.complete(self.value)
        if completed is not None:
            self.value = completed
            self.cursor_position = len(completed)

    def action_close(self) -> None:
        self.app.close_prompt()


# -- the screen --------------------------------------------------------------------------------


class ChatemuScreen(App):
    """``chatemu console`` (``watch=False``) or ``chatemu watch``."""

    TITLE = "chatemu"
    ENABLE_COMMAND_PALETTE = False
    CSS = """
    Screen { layout: vertical; }
    #bar { height: 1; background: $panel; }
    #title { width: 1fr; padding: 0 1; text-style: bold; }
    #clock { width: auto; padding: 0 1; }
    #upper { height: 1fr; }
    #lower { height: 1fr; }
    #inbox { width: 2fr; height: 1fr; border: round $primary; }
    #inbox:focus { border: round $accent; }
    #side { width: 1fr; }
    #me { height: auto; border: round $primary; }
    #queues { height: auto; max-height: 9; border: round $primary; }
    #agents { height: auto; max-height: 8; border: round $primary; }
    #me, #queues, #agents { text-wrap: nowrap; text-overflow: ellipsis; }
    #agents.tall { height: 1fr; max-height: 100%; }
    #right { width: 1fr; }
    #chat { width: 1fr; border: round $primary; }
    #details { height: auto; }
    #messages { height: 1fr; }
    #events { height: 1fr; border: round $primary; }
    #output { height: 6; border: round $primary; overflow-x: auto; }
    RichLog { overflow-y: auto; overflow-x: hidden; }
    #status { height: 1; padding: 0 1; }
    #status.refused { color: $error; text-style: bold; }
    #prompt { height: 1; display: none; }
    #prompt.open { display: block; }
    #prompt-label { width: auto; padding: 0 1; text-style: bold; }
    #line { width: 1fr; border: none; height: 1; padding: 0; }
    #hint { height: 1; padding: 0 1; color: $text-muted; display: none; }
    #hint.open { display: block; }
    #keys { height: 1; text-wrap: nowrap; text-overflow: ellipsis; }
    #pages { height: 1; padding: 0 1; display: none; text-wrap: nowrap; text-overflow: ellipsis; }
    /* The small layout: the inbox, then one panel at a time (the screen's page-* class). */
    .small #pages { display: block; }
    .small #upper { height: auto; max-height: 50%; }
    .small #inbox { width: 1fr; height: auto; max-height: 10; }
    .small #side, .small #right, .small #output { display: none; }
    .small #lower { height: 1fr; }
    .small #chat { width: 1fr; }
    .page-events #chat { display: none; }
    .page-events #right { display: block; width: 1fr; }
    .page-events #right > #agents { display: none; }
    .page-output #lower { display: none; }
    .page-output #output { display: block; height: 1fr; }
    .page-people #upper { layout: vertical; height: auto; max-height: 100%; }
    .page-people #side { display: block; layout: horizontal; width: 1fr; height: auto; }
    .page-people #side > * { width: 1fr; height: auto; max-height: 12; }
    .page-people #lower { height: 1fr; }
    .page-people #chat, .page-people #events { display: none; }
    .page-people #right { display: block; width: 1fr; height: 1fr; }
    .page-people #right > #agents { max-height: 100%; }
    .page-people #inbox { max-height: 7; }
    """

    def __init__(self, engine: Engine, agent: str | None, watch: bool, base: list[str], cli):
        super().__init__()
        self.engine = engine
        self.agent = agent
        self.watch = watch
        self.base = base
        self.cli = cli
        self.board: dict | None = None
        self.selected: str | None = None
        self.since: int | None = None
        self.mark = None
        self.version: int | None = None
        self.poller = None  # the connection data_version is read on
        self.writer = Connections()  # the connection the actions' command lines use
        self.reader: Connections | None = None
        self.history: list[str] = []
        self.history_at = 0
        self.draft = ""
        self.prompting: str | None = None  # "command", "send" or None
        self.last_error: str | None = None
        self._names = None
        self._headers: list[str] | None = None
        self.shown: dict = {}  # what each panel shows now (``put``)
        self.main = None  # the screen the panels are on (``lay_out``)
        self.small = False  # the small layout: one panel at a time below the inbox
        self.page = "chat"  # the panel it shows
        self.reads = 0  # how many times the state was read (the tests count them)

    # -- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="bar"):
            yield Label(safe(self._title()), id="title")
            yield Label("", id="clock")
        yield Label("", id="pages")
        with Horizontal(id="upper"):
            # No padding but a space after each cell: one column between columns, so that every
            # agent's chats fit 120 columns.
            yield DataTable(id="inbox", cursor_type="row", zebra_stripes=False, cell_padding=0)
            with Vertical(id="side"):
                if self.agent is not None:
                    yield Static("", id="me")
                yield Static("", id="queues")
                if self.agent is None:
                    yield Static("", id="agents", classes="tall")
        with Horizontal(id="lower"):
            with Vertical(id="chat"):
                yield Static("", id="details")
                yield RichLog(id="messages", wrap=True, min_width=20, markup=False, auto_scroll=True)
            with Vertical(id="right"):
                if self.agent is not None:
                    yield Static("", id="agents")
                yield RichLog(id="events", wrap=False, min_width=20, markup=False, auto_scroll=True,
                              max_lines=EVENTS_SHOWN)
        if not self.watch:
            yield RichLog(id="output", wrap=True, min_width=20, markup=False, auto_scroll=True, max_lines=OUTPUT_SHOWN)
        yield Label("", id="status")
        with Horizontal(id="prompt"):
            yield Label(":", id="prompt-label")
            yield CommandLine(id="line", suggester=Completions(self), compact=True)
        yield Label("", id="hint")
        yield Label("", id="keys")

    def _title(self) -> str:
        import os

        name = os.path.basename(self.engine.path)
        if self.watch:
            who = f"following {self.agent}" if self.agent else "every agent"
            return f"chatemu watch · {who} · {name}"
        return f"chatemu console · {self.agent} · {name}"

    # -- the layout: every panel, or one at a time on a small terminal ---------------------------

    def pages(self) -> dict[str, str]:
        """The panels the small layout shows one at a time below the inbox: name -> title."""
        pages = {"chat": "chat", "people": ("agent · " if self.agent is not None else "") + "queues · agents",
                 "events": "events"}
        if not self.watch:
            pages["output"] = "output"
        return pages

    def on_resize(self, event) -> None:
        self.lay_out(event.size)  # before ``self.size`` is the new size

    def lay_out(self, size=None) -> None:
        """Every panel; or, narrower or shorter than ``SMALL_BELOW``, the inbox and one panel."""
        if self.main is None:
            return
        width, height = size or self.size
        self.small = width < SMALL_BELOW[0] or height < SMALL_BELOW[1]
        for name in self.pages():
            self.main.set_class(self.small and name == self.page, f"page-{name}")
        self.main.set_class(self.small, "small")
        self.put("#pages", pages_line(self.pages(), self.page))
        self.put("#keys", keys_line(self.keys(), width))
        self.refresh_bindings()

    def keys(self) -> list[Binding]:
        """The screen's keys as they work now (``v`` only in the small layout)."""
        return [b for b in self.BINDINGS if b.action != "next_page" or self.small]

    def action_next_page(self, page: str | None = None) -> None:
        names = list(self.pages())
        self.page = page or names[(names.index(self.page) + 1) % len(names)]
        self.lay_out()

    def action_keys(self) -> None:
        self.push_screen(KeysHelp(keys_help(self.keys())))

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if isinstance(self.screen, KeysHelp):
            return action == "quit"  # the list of keys is open: only q still acts
        return action != "next_page" or self.small

    def on_mount(self) -> None:
        table = self.query_one("#inbox", DataTable)
        table.border_title = f"inbox of {self.agent}" if self.agent else "open and queued chats"
        if self.agent is not None:
            self.query_one("#me").border_title = "agent"
        self.query_one("#queues").border_title = "queues"
        self.query_one("#agents").border_title = "other agents" if self.agent and not self.watch else "agents"
        self.query_one("#chat").border_title = "chat"
        events = self.query_one("#events")
        events.border_title = f"events of {self.agent}" if self.agent else "events"
        if not self.watch:
            self.query_one("#output").border_title = "output"
        self.main = self.screen
        self.lay_out()
        table.focus()
        if self.engine.connections is None:
            self.engine.connections = self.reader = Connections()  # the reads' one connection, kept
        self.reload()
        self.set_interval(POLL_SECONDS, self.poll)
        self.set_interval(TICK_SECONDS, self.tick)

    def on_unmount(self) -> None:
        if self.poller is not None:
            self.poller.close()
            self.poller = None
        self.writer.close()
        if self.reader is not None:
            self.reader.close()
            self.engine.connections = self.reader = None

    # -- noticing changes --------------------------------------------------------------------

    def data_version(self) -> int | None:
        """``PRAGMA data_version`` of the one connection kept for it: it changes when another
        connection commits.  None while there is no database yet."""
        try:
            if self.poller is None:
                self.poller = schema.open_read(self.engine.path)[0]
                if self.poller is None:
                    return None
            return self.poller.execute("PRAGMA data_version").fetchone()[0]
        except Exception:  # the file went away or is not a database: read again to say so
            if self.poller is not None:
                self.poller.close()
                self.poller = None
            return None

    def poll(self) -> None:
        version = self.data_version()
        if version is None or version != self.version:
            if version is None and self.version is None and self.board is not None:
                return  # still no database: nothing to read again
            self.reload()

    def tick(self) -> None:
        """Once a second: on a real clock the countdowns move, and due timers are applied as
        ``events --follow`` applies them (only when something is due)."""
        if self.board is None or self.board["clock"]["mode"] != "real":
            return
        try:
            if self.engine.pending():
                self.engine.settle()
        except ChatemuError as exc:
            self.set_status(exc.lines()[0], refused=True)
        self.reload()

    # -- reading and showing -----------------------------------------------------------------

    def reload(self) -> None:
        """Read everything again and show it."""
        self.version = self.data_version()
        try:
            board = read_board(self.engine, self.agent, self.selected, self.since, self.mark)
        except ChatemuError as exc:
            self.set_status(exc.lines()[0], refused=True)
            self.last_error = exc.lines()[0]
            return
        if self.last_error is not None:
            self.set_status("")
            self.last_error = None
        self.reads += 1
        self.board = board
        self.show_board()

    def show_board(self) -> None:
        board = self.board
        self.put("#clock", clock_line(board))
        self.show_inbox()
        if self.agent is not None:
            self.put("#me", agent_text(board))
        self.put("#queues", queues_text(board))
        self.put("#agents", agents_text(board, self.agent if not self.watch else None))
        self.show_events()
        self.show_chat()

    def put(self, selector: str, content) -> None:
        """Show ``content`` in a label or static, only if it is not what it shows already (a
        change of a widget's content lays the screen out again)."""
        content = safe(content)
        if self.shown.get(selector) != content:
            self.shown[selector] = content
            self.query_one(selector).update(content)

    def show_inbox(self) -> None:
        table = self.query_one("#inbox", DataTable)
        chats = self.board["inbox"]
        ids = [c["id"] for c in chats]
        keep = self.selected if self.selected in ids else None
        if keep is None and ids:
            # The chat under the cursor left the list: the one now at its place.
            keep = ids[min(table.cursor_row, len(ids) - 1)] if table.cursor_row >= 0 else ids[0]
        headers = inbox_headers(chats, every_agent=self.agent is None, spare=self.watch)
        rows = [(chat["id"], [safe(inbox_cells(chat)[header] + " ") for header in headers]) for chat in chats]
        if (headers, rows) != self.shown.get("#inbox"):
            self.shown["#inbox"] = (headers, rows)
            if headers != self._headers:
                table.clear(columns=True)
                table.add_columns(*(f" {h} " if h == "ID" else f"{h} " for h in headers))
                self._headers = headers
            else:
                table.clear()
            for chat_id, cells in rows:
                table.add_row(*cells, key=chat_id)
        if keep is not None and table.cursor_row != ids.index(keep):
            table.move_cursor(row=ids.index(keep), animate=False)
        changed = keep != self.selected
        self.selected = keep
        if changed:
            self.read_selected()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        chosen = event.row_key.value if event.row_key is not None else None
        if chosen != self.selected and self.board is not None and chosen in {c["id"] for c in self.board["inbox"]}:
            self.selected = chosen
            self.read_selected()

    def read_selected(self) -> None:
        """The selected chat and its messages, read again (the cursor moved)."""
        if self.board is None:
            return
        try:
            board = read_board(self.engine, self.agent, self.selected, None, None, only_chat=True)
        except ChatemuError as exc:
            self.set_status(exc.lines()[0], refused=True)
            return
        self.board["chat"], self.board["messages"] = board["chat"], board["messages"]
        self.show_chat()

    def show_events(self) -> None:
        poll = self.board["poll"]
        log = self.query_one("#events", RichLog)
        if poll["replaced"]:
            log.clear()
            log.write(Text("the event log was replaced (snapshot restore, reset or import)", style="yellow"))
        for event in poll["events"]:
            log.write(safe(event_text(event, self.agent is None)))
        # Every event up to the log's last one has been looked at (those of other agents too).
        self.mark = poll["mark"]
        self.since = self.mark["seq"] if self.mark else 0

    def show_chat(self) -> None:
        chat, messages = self.board["chat"], self.board["messages"]
        if self.shown.get("#chat") == (chat, messages):
            return
        self.shown["#chat"] = (chat, messages)
        box = self.query_one("#chat")
        log = self.query_one("#messages", RichLog)
        log.clear()
        if chat is None:
            box.border_title = "chat"
            self.put("#details", Text("no chat selected", style="dim"))
            return
        box.border_title = safe(f"chat {chat['id']}" + (f" · {chat['customer']}" if chat["customer"] else ""))
        self.put("#details", chat_details(chat))
        if not messages:
            log.write(Text("no messages yet", style="dim"))
        for message in messages:
            log.write(safe(message_text(message, chat["customer"])))

    def set_status(self, text: str, refused: bool = False) -> None:
        status = self.query_one("#status", Label)
        status.update(safe(text))
        status.set_class(refused, "refused")

    def say(self, lines: list) -> None:
        if self.watch:
            return
        out = self.query_one("#output", RichLog)
        for line in lines:
            out.write(safe(line), shrink=not line.no_wrap)

    # -- acting: every action is a chatemu command line ------------------------------------------

    def run_line(self, words: list[str], shown: str | None = None) -> tuple[int, list]:
        """Run one chatemu command line as the acting agent, as ``run`` runs a scenario's line:
        its results collected, its printed output captured; show what it did, or why not."""
        sink: list = []
        printed = io.StringIO()
        session = Session(sink=sink, connections=self.writer, in_run=True)
        session.renderers = []
        with contextlib.redirect_stdout(printed):
            code, errors = self.cli.call([*self.base, "--agent", self.agent, *words], session)
        from .scenario import summary

        text = shown or shlex.join(words)
        self.say([Text.assemble(("› ", "dim"), (text, "bold"))])
        extra = [Text(line) for line in printed.getvalue().splitlines()[:OUTPUT_SHOWN]]
        if code == 0:
            lines, last = result_lines(sink, lambda result: summary(result.value), {id(result): human for result, human in session.renderers})
            self.say(lines + extra)
            if not sink:
                last = extra[-1].plain if extra else "done"
            self.set_status(f"{text}: {last}")
        else:
            message = "; ".join(e.removeprefix("error: ") for e in errors) or f"exit {code}"
            self.say(extra + [Text(f"exit {code}: {message}", style="bold red")])
            self.set_status(f"{'refused' if code in (3, 4) else 'error'} (exit {code}): {message}", refused=True)
        self.reload()
        return code, sink

    def needs_chat(self) -> str | None:
        if self.selected is None:
            self.set_status("no chat selected: take one (t) or wait for one", refused=True)
        return self.selected

    def action_act(self, what: str) -> None:
        if self.watch:
            return
        chat = self.needs_chat()
        if chat is None:
            return
        words = {"activate": ["chat", "activate", chat], "park": ["chat", "park", chat],
                 "wrapup": ["chat", "wrapup", chat], "extend": ["chat", "wrapup", chat, "--extend"],
                 "finish": ["chat", "wrapup", chat, "--finish"], "return": ["chat", "return", chat]}[what]
        self.run_line(words)

    def action_take(self) -> None:
        if self.board is None:
            return
        found = next_queued(self.board)
        if found is None:
            self.set_status(f"nothing queued in {self.agent}'s queues", refused=True)
            return
        code, sink = self.run_line(["chat", "take", found])
        if code == 0:
            self.select(found)

    def action_call(self) -> None:
        on_call = self.board is not None and self.board["me"]["on_call"]
        self.run_line(["chat", "call-end" if on_call else "call-start"])

    def action_presence(self) -> None:
        on_break = self.board is not None and self.board["me"]["presence"] == "break"
        self.run_line(["agent", "available" if on_break else "break"])

    def action_advance(self, duration: str) -> None:
        self.run_line(["clock", "advance", duration])

    def select(self, chat: str) -> None:
        table = self.query_one("#inbox", DataTable)
        ids = [c["id"] for c in self.board["inbox"]]
        if chat in ids:
            table.move_cursor(row=ids.index(chat), animate=False)
            self.selected = chat
            self.read_selected()

    # -- the prompt: a message to send, or a command line ------------------------------------------

    def open_prompt(self, mode: str, label: str) -> None:
        self.prompting = mode
        self.query_one("#prompt-label", Label).update(label)
        self.query_one("#prompt").set_class(True, "open")
        self.query_one("#hint").set_class(mode == "command", "open")
        self.query_one("#hint", Label).update("Tab completes · ↑ ↓ history · Enter runs · Esc closes"
                                              if mode == "command" else "")
        line = self.query_one("#line", CommandLine)
        line.value = ""
        self.history_at = len(self.history)
        line.focus()

    def close_prompt(self) -> None:
        self.prompting = None
        self.query_one("#prompt").set_class(False, "open")
        self.query_one("#hint").set_class(False, "open")
        self.query_one("#inbox", DataTable).focus()

    def action_send(self) -> None:
        chat = self.needs_chat()
        if chat is not None:
            self.open_prompt("send", f"message to {chat} ›")

    def action_command(self) -> None:
        self.open_prompt("command", "chatemu ›")

    def on_input_changed(self, event: Input.Changed) -> None:
        if self.prompting == "command":
            options = self.candidates(event.value)[1]
            hint = "  ".join(options[:30]) if options else "Tab completes · ↑ ↓ history · Enter runs · Esc closes"
            self.query_one("#hint", Label).update(safe(hint))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        mode, text = self.prompting, event.value
        self.close_prompt()
        if mode == "send":
            if self.selected is not None and text.strip():
                self.run_line(["chat", "send", self.selected, text])
        elif mode == "command" and text.strip():
            if not self.history or self.history[-1] != text:
                self.history.append(text)
                del self.history[:-HISTORY_KEPT]
            self.command_line(text)

    def command_line(self, text: str) -> None:
        """Run a line as ``run`` runs a scenario's line (a leading ``chatemu`` is allowed)."""
        from .scenario import parse_lines

        why, command = self.not_here(text)
        if why is not None:
            self.set_status(f"{command} cannot run here: {why}", refused=True)
            return
        if self.small:
            self.action_next_page("output")  # what the line says comes forward
        steps = parse_lines(text, "console")
        if not steps:
            return
        number, shown, words, want = steps[0]
        if isinstance(words, str):
            self.say([Text(f"› {text}"), Text(words, style="bold red")])
            self.set_status(words.removeprefix("error: "), refused=True)
            return
        if want is None:
            self.run_line(words, shown)
            return
        # A refusal line (!, !N, !~TEXT): it holds when the command is refused as said.
        sink: list = []
        session = Session(sink=sink, connections=self.writer, in_run=True)
        with contextlib.redirect_stdout(io.StringIO()):
            code, errors = self.cli.call([*self.base, "--agent", self.agent, *words], session)
        code, errors, refusal = want.judge(code, errors)
        self.say([Text(f"› {shown}")])
        if code == 0:
            self.say([Text(f"refused as expected: {refusal}")])
            self.set_status(f"refused as expected: {refusal}")
        else:
            message = "; ".join(e.removeprefix("error: ") for e in errors)
            self.say([Text(message, style="bold red")])
            self.set_status(message, refused=True)
        self.reload()

    @staticmethod
    def not_here(text: str) -> tuple[str | None, str | None]:
        """Why the command a line names does not run from the command line (None: it does)."""
        from .scenario import split_words

        try:
            words = split_words(text)  # as parse_lines splits it
        except ValueError:
            return None, None  # parse_lines says what is wrong with it
        if words and words[0].startswith("!"):
            words = words[1:]
        if words and words[0] == "chatemu":
            words = words[1:]
        while words and words[0] in ("--db", "--agent"):
            words = words[2:]
        command = words[0] if words else None
        why = INTERACTIVE.get(command)
        if why is None and command == "events" and any(w in ("--follow", "-f") for w in words):
            why = "the events panel follows the log already"
        return why, command

    def history_step(self, step: int) -> None:
        if self.prompting != "command" or not self.history:
            return
        line = self.query_one("#line", CommandLine)
        if self.history_at == len(self.history):
            self.draft = line.value
        self.history_at = max(0, min(len(self.history), self.history_at + step))
        line.value = self.draft if self.history_at == len(self.history) else self.history[self.history_at]
        line.cursor_position = len(line.value)

    # -- completion --------------------------------------------------------------------------------

    def names(self):
        """The click command tree (built once, on the first completion)."""
        if self._names is None:
            self._names = self.cli.root_command()
        return self._names

    def candidates(self, value: str) -> tuple[str, list[str], bool]:
        """The word being typed, the words it may become (a command or group, an option, a chat id
        (the inbox's and queued chats, the selected first), a queue or an agent), and whether
        they are values (ids), offered even before a letter is typed."""
        if self.prompting == "send":
            return "", [], False
        words = value.split(" ")
        partial, done = words[-1], [w for w in words[:-1] if w]
        if done and done[0] == "chatemu":
            done = done[1:]
        node = self.names()
        at = 0
        wants_value = None
        while at < len(done):
            word = done[at]
            if word in ("--db", "--agent") and hasattr(node, "commands") and node is self.names():
                if at + 1 == len(done):
                    wants_value = word
                at += 2
                continue
            if hasattr(node, "commands") and word in node.commands:
                node = node.commands[word]
            at += 1
        board = self.board or {}
        chat_ids = [c["id"] for c in board.get("inbox", [])] + [c["id"] for c in board.get("queued", [])]
        if self.selected in chat_ids:
            chat_ids.remove(self.selected)
            chat_ids.insert(0, self.selected)
        chat_ids = list(dict.fromkeys(chat_ids))
        queues = [q["name"] for q in board.get("queues", [])]
        agents = [a["id"] for a in board.get("agents", [])]
        previous = done[-1] if done else None
        options: list[str] = []
        values = True
        if wants_value == "--agent" or (previous == "--agent" and not hasattr(node, "commands")):
            options = agents
        elif previous in ("--chat",):
            options = chat_ids
        elif previous in ("--queue",):
            options = queues
        elif hasattr(node, "commands"):
            values = False
            options = sorted(node.commands)
            if node is self.names():
                options += ["--db", "--agent"]
        elif node is not None:
            params = getattr(node, "params", [])
            takes_value = {o for p in params if getattr(p, "param_type_name", "") == "option" and not p.is_flag
                           for o in p.opts}
            if previous in takes_value:
                return partial, [], False
            if partial.startswith("-"):
                values = False
                options = sorted(o for p in params if getattr(p, "param_type_name", "") == "option"
                                 for o in (*p.opts, *getattr(p, "secondary_opts", ())) if o.startswith("--"))
                options.append("--help")
            elif any(getattr(p, "name", "") == "chat_id" for p in params):
                options = chat_ids
        return partial, [o for o in options if o.startswith(partial)], values

    def complete(self, value: str) -> str | None:
        """``value`` with its last word completed, or None: the one word it can become (and a
        space), else the longest start they share, else the first of them; before a letter is
        typed, only a value (the selected chat first)."""
        if not value.strip() or self.prompting != "command":
            return None
        partial, options, values = self.candidates(value)
        if not options or (not partial and not values):
            return None
        stem = value[: len(value) - len(partial)]
        if not partial:
            return stem + options[0] + " "
        if len(options) == 1:
            completed = stem + options[0] + " "
            return completed if completed != value else None
        common = options[0]
        for option in options[1:]:
            while not option.startswith(common):
                common = common[:-1]
        if len(common) > len(partial):
            return stem + common
        return stem + options[0] + " "


# -- the keys ------------------------------------------------------------------------------------


def console_bindings() -> list[Binding]:
    """The console's keys, in the order the footer and ``?`` list them; the tooltip says what
    each one runs."""
    return [
        Binding("a", "act('activate')", "activate", tooltip="chat activate ID: the selected chat"),
        Binding("p", "act('park')", "park", tooltip="chat park ID"),
        Binding("w", "act('wrapup')", "wrap up", tooltip="chat wrapup ID: wrap-up starts"),
        Binding("x", "act('extend')", "extend", tooltip="chat wrapup ID --extend"),
        Binding("f", "act('finish')", "finish", tooltip="chat wrapup ID --finish"),
        Binding("s", "send", "send", tooltip="chat send ID TEXT: type it at the bottom, Enter sends"),
        Binding("t", "take", "take", tooltip="chat take ID: the queued chat presented next"),
        Binding("r", "act('return')", "return", tooltip="chat return ID"),
        Binding("c", "call", "call", tooltip="chat call-start, or call-end on a call"),
        Binding("b", "presence", "break", tooltip="agent break, or agent available on a break"),
        Binding("right_square_bracket", "advance('10s')", "+10s", key_display="]", tooltip="clock advance 10s"),
        Binding("right_curly_bracket", "advance('1m')", "+1m", key_display="}", tooltip="clock advance 1m"),
        Binding("colon", "command", "command", key_display=":", tooltip="any chatemu command line"),
        *common_bindings(),
    ]


def common_bindings() -> list[Binding]:
    """The keys of console and watch alike."""
    return [
        Binding("v", "next_page", "next panel", tooltip="on a small terminal: the next panel below the inbox"),
        Binding("question_mark", "keys", "keys", key_display="?", tooltip="this list of keys"),
        Binding("q", "quit", "quit", tooltip="quit (Ctrl-Q too)"),
    ]


#: Always at the end of the footer, however narrow the screen.
FOOTER_KEPT = ("keys", "quit")


def keys_line(keys: list[Binding], width: int) -> Text:
    """The footer: each key and what it does, all when they fit in ``width`` (if need be
    without ``?``: there is nothing more to list); else as many as fit, then ``…``, ``?`` and
    ``q``."""

    def item(binding: Binding) -> Text:
        return Text.assemble((binding.key_display or binding.key, "bold #ffa62b"), " ", binding.description)

    def joined(items: list[Text]) -> Text:
        return Text(" ").join(items)

    for every in ([item(b) for b in keys], [item(b) for b in keys if b.action != "keys"]):
        if joined(every).cell_len <= width:
            return joined(every)
    kept = [item(b) for b in keys if b.action in FOOTER_KEPT]
    head = [item(b) for b in keys if b.action not in FOOTER_KEPT]
    shown: list[Text] = []
    for one in head:
        if joined([*shown, one, Text("…"), *kept]).cell_len > width:
            break
        shown.append(one)
    return joined([*shown, Text("…", style="dim"), *kept])


def keys_help(keys: list[Binding]) -> Text:
    """What ``?`` shows: every key, what the footer calls it and what it runs."""
    rows = [[Text(b.key_display or b.key, style="bold #ffa62b"), Text(b.description), Text(b.tooltip, style="dim")]
            for b in keys]
    rows.append([Text("↑ ↓", style="bold #ffa62b"), Text("select"), Text("a chat of the inbox", style="dim")])
    out = _columns(rows, ["KEY", "", "WHAT IT DOES"])
    out.append("\n\nEsc or ? closes this list", style="italic")
    return out


def pages_line(pages: dict[str, str], page: str) -> Text:
    """The small layout's tab line: its panels, the one shown highlighted, and the key."""
    out = Text()
    for name, title in pages.items():
        out.append(f" {title} ", "bold reverse" if name == page else "dim")
        out.append(" ")
    out.append(" v", "bold #ffa62b")
    out.append(" next panel")
    return out


class KeysHelp(ModalScreen):
    """The list of keys (``?``): Esc or ``?`` closes it."""

    DEFAULT_CSS = """
    KeysHelp { align: center middle; }
    #help { width: auto; max-width: 100%; height: auto; max-height: 100%; border: round $accent;
            background: $panel; padding: 0 1; overflow-y: auto; }
    """
    BINDINGS = [Binding("escape", "close", "close"), Binding("question_mark", "close", "close")]

    def __init__(self, text: Text):
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        help = Static(self.text, id="help")
        help.border_title = "keys"
        yield help

    def action_close(self) -> None:
        self.dismiss()


class Console(ChatemuScreen):
    BINDINGS = console_bindings()


class Watch(ChatemuScreen):
    BINDINGS = common_bindings()


def make_screen(engine: Engine, agent: str | None, watch: bool, base: list[str], cli) -> ChatemuScreen:
    return (Watch if watch else Console)(engine, agent, watch, base, cli)


def run_screen(engine: Engine, agent: str | None, watch: bool, base: list[str], cli) -> int:
    """Run the screen until q; the first read's error (not a chatemu database, say) is raised
    before the screen starts, as any command's would be."""
    read_board(engine, agent, None, None, None)
    app = make_screen(engine, agent, watch, base, cli)
    app.run()
    return app.return_code or 0
