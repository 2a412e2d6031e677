"""Output for people and for scripts.

``--json``: exactly one JSON document on stdout.  Otherwise text: rich tables
and colours on a terminal, plain aligned text when stdout is not a terminal,
when ``NO_COLOR`` is set, or when ``TERM=dumb``; ``FORCE_COLOR`` asks for the
rich output anywhere and wins over all three (docs/conventions.md).  rich is
imported only on the rich path, so scripts never pay for it.
"""

from __future__ import annotations

import os
import re
import sys
from typing import NamedTuple

from chatemu.store.timefmt import format_duration

STATE_STYLES = {
    "queued": "bright_black",
    "new": "bold cyan",
    "active": "bold green",
    "parked": "yellow",
    "active-wrapup": "bold magenta",
    "parked-wrapup": "magenta",
    "closed": "dim",
}


def force_color() -> bool:
    """``FORCE_COLOR`` set and not empty (force-color.org): colour even into a pipe or a file."""
    return os.environ.get("FORCE_COLOR", "") != ""


def use_rich() -> bool:
    """Tables and colours for people: on a terminal unless ``NO_COLOR`` (set and not empty,
    no-color.org) or ``TERM=dumb`` says otherwise; always when ``FORCE_COLOR`` asks."""
    if force_color():
        return True
    return (
        sys.stdout.isatty()
        and os.environ.get("NO_COLOR", "") == ""
        and os.environ.get("TERM") != "dumb"
    )


def console(**settings):
    """A rich console that follows ``use_rich``: when ``FORCE_COLOR`` asks, it writes colours
    whatever stdout is, ``NO_COLOR`` and ``TERM`` say."""
    from rich.console import Console

    stdout = sys.stdout
    settings.setdefault("file", stdout.stream if isinstance(stdout, EscapedOutput) else stdout)
    if force_color():
        settings.setdefault("force_terminal", True)
        settings.setdefault("no_color", False)
        if os.environ.get("TERM") == "dumb":
            settings.setdefault("color_system", "standard")
    return Console(**settings)


#: What never reaches a terminal as it is: the C0 controls but newline and tab (ESC, NUL, BEL, CR…),
#: DEL, the C1 controls (U+0080–U+009F), the bidirectional controls (U+061C, U+200E, U+200F,
#: U+202A–U+202E, U+2066–U+2069), the line and paragraph separators, and lone surrogates.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029"
                      "\ud800-\udfff]")


def _escaped(match) -> str:
    """``\\x1b`` for a C0 control, ``\\u202e`` for the others: the escapes JSON reads too, so
    a JSON text escaped (C0 is JSON's own to escape) is the same JSON."""
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x20 else f"\\u{code:04x}"


def escape_controls(text):
    """Outside text made safe for a terminal: every character of ``_CONTROL`` shown as a visible
    escape (``\\x1b``, ``\\u009b``, ``\\u202e``), so that a name, a message or a command line
    from anyone can never move the cursor, retitle or clear the terminal, write its clipboard
    or reorder what it shows.  The one function every renderer uses (stdout and stderr write
    through it, ``EscapedOutput``); given a rich ``Text``, a ``Text`` with the same styles on
    the same characters."""
    if isinstance(text, str):
        return _CONTROL.sub(_escaped, text)
    plain = text.plain
    if not _CONTROL.search(plain):
        return text
    where, at = [], 0  # where each character of ``plain`` starts in the escaped text
    for ch in plain:
        where.append(at)
        at += len(_CONTROL.sub(_escaped, ch))
    where.append(at)
    safe = text.copy()
    safe.plain = _CONTROL.sub(_escaped, plain)
    safe.spans = [span._replace(start=where[span.start], end=where[span.end]) for span in text.spans]
    return safe


class EscapedOutput:
    """A text stream that escapes control characters in everything written through it: stdout
    and stderr, always (``app.main``); rich writes its own colours to the stream underneath
    (``console``), so what it draws is escaped where its text is made (``_table``, ``_lines``)."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> int:
        return self.stream.write(escape_controls(text))

    def __getattr__(self, name):
        return getattr(self.stream, name)


def escaped(stream):
    """``stream`` writing through ``EscapedOutput`` (once)."""
    return stream if isinstance(stream, EscapedOutput) else EscapedOutput(stream)


def emit_json(value) -> None:
    """One JSON document on stdout: exact, and safe on a terminal (``EscapedOutput`` writes the
    characters of ``_CONTROL`` as JSON escapes; JSON escapes C0 itself).  A stdout that keeps
    documents as values (``chatemu serve``'s, with ``capture_json``) is given the value itself,
    to write as ``json_text`` later if it must."""
    capture = getattr(sys.stdout, "capture_json", None)
    if capture is not None:
        capture(value)
        return
    sys.stdout.write(json_text(value))


def json_text(value) -> str:
    """What ``emit_json`` writes of ``value`` (before ``EscapedOutput`` escapes it)."""
    import json

    return json.dumps(value, ensure_ascii=False) + "\n"


# -- building blocks -------------------------------------------------------------


def _table(headers: list[str], rows: list[list[str]], styles: list[dict[int, str]] | None = None, title=None,
           wrap: tuple[str, ...] = ()) -> None:
    """A table: rich on a terminal, fitted to its width (``fit``); plain aligned text otherwise,
    every column whatever its width.  ``wrap``: the columns of free text (a message, a list of
    names), which may wrap between words; every other cell is one value, never wrapped or cut."""
    rows = [[escape_controls(cell) for cell in row] for row in rows]  # every cell as drawn, whatever the layout
    title = escape_controls(title) if title else title
    if use_rich():
        from rich.table import Table
        from rich.text import Text

        out = console()
        layout = fit(headers, rows, out.width, wrap)
        if title:
            out.print(Text(title, style="table.title"))
        if layout.records:
            _records(out, headers, rows, styles, layout.columns)
        else:
            table = Table(header_style="bold")
            for col in layout.columns:
                if headers[col] in wrap:
                    table.add_column(headers[col], width=layout.widths[col], overflow="fold")
                else:
                    table.add_column(headers[col], width=layout.widths[col], no_wrap=True)
            for index, row in enumerate(rows):
                style = styles[index] if styles else {}
                table.add_row(*(Text(row[col], style=style.get(col, "")) for col in layout.columns))
            out.print(table)
        if layout.left_out:
            for line in _name_lines("left out: ", [headers[col] for col in layout.left_out], " (empty)", out.width):
                out.print(Text(line, style="table.caption"), no_wrap=True, crop=False)
        return
    if title:
        print(title)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    for line in [headers, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip())


#: Cells that hold nothing: a column of only these is the first to go on a narrow terminal.
EMPTY_CELLS = frozenset({"", "-", "0", "0s"})

#: The least width a column of free text is narrowed to before the table turns into records.
TEXT_WIDTH = 12


class Layout(NamedTuple):
    """How a table fits a terminal: the columns shown (indexes), each one's width, the empty
    columns left out, and whether it is drawn a record per row rather than as a table."""

    columns: list[int]
    widths: dict[int, int]
    left_out: list[int]
    records: bool


def fit(headers: list[str], rows: list[list[str]], width: int, wrap: tuple[str, ...] = ()) -> Layout:
    """Fit a table to ``width`` terminal cells, never cutting a header or a value.

    As it is when it fits.  Otherwise the columns holding nothing (every cell empty, ``-``,
    ``0`` or ``0s``) are left out first; then the ``wrap`` columns (free text) are narrowed,
    wrapping between words, down to ``TEXT_WIDTH`` or their longest word; when the table still
    does not fit, it is drawn a record per row (a line per column), as ``psql \\x`` does."""
    from rich.cells import cell_len

    every = list(range(len(headers)))
    natural = {col: max(cell_len(headers[col]), *(cell_len(row[col]) for row in rows)) for col in every}

    def frame(cols) -> int:  # rich's box: a border before each column and after the last, a space each side
        return 3 * len(cols) + 1

    if not rows or sum(natural.values()) + frame(every) <= width:
        return Layout(every, natural, [], False)
    empty = [col for col in every if all(row[col] in EMPTY_CELLS for row in rows)]
    shown = [col for col in every if col not in empty] or every[:1]
    left_out = [col for col in every if col not in shown]
    least = {}
    for col in shown:
        if headers[col] in wrap:
            longest_word = max(cell_len(word) for text in [headers[col], *(row[col] for row in rows)]
                               for word in (text.split() or [""]))
            least[col] = max(longest_word, min(natural[col], TEXT_WIDTH))
        else:
            least[col] = natural[col]
    room = width - frame(shown)
    if sum(least.values()) > room:
        return Layout(shown, natural, left_out, True)
    widths = {col: natural[col] for col in shown}
    while sum(widths.values()) > room:  # narrow the widest text column that may narrow
        col = max((col for col in shown if widths[col] > least[col]), key=lambda col: widths[col])
        widths[col] -= 1
    return Layout(shown, widths, left_out, False)


def _records(out, headers, rows, styles, columns) -> None:
    """A table a record per row: a numbered rule, then a line per column, its header then its
    value (a long value wraps between words, under the values)."""
    from rich.cells import cell_len
    from rich.table import Table
    from rich.text import Text

    key_width = max(cell_len(headers[col]) for col in columns)
    rule_width = min(out.width, key_width + 2 + max(cell_len(row[col]) for row in rows for col in columns))
    for index, row in enumerate(rows):
        style = styles[index] if styles else {}
        label = f"─[ RECORD {index + 1} ]"
        out.print(Text(label + "─" * max(0, rule_width - len(label)), style="dim"))
        grid = Table.grid(padding=(0, 2))
        grid.add_column(width=key_width, no_wrap=True, style="bold")
        grid.add_column(overflow="fold")
        for col in columns:
            grid.add_row(headers[col], Text(row[col], style=style.get(col, "")))
        out.print(grid)


def _lines(pairs: list[tuple[str, str]]) -> None:
    pairs = [(escape_controls(key), escape_controls(value)) for key, value in pairs]
    width = max(len(k) for k, _ in pairs)
    if use_rich():
        from rich.text import Text

        out = console(highlight=False)
        for key, value in pairs:
            out.print(Text(key.ljust(width), style="bold"), Text(value, style=STATE_STYLES.get(value, "")))
        return
    for key, value in pairs:
        print(f"{key.ljust(width)}  {value}")


def _text(value) -> str:
    if value is None:
        return "-"
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return str(value)


def _ms(seconds_value) -> int | None:
    return None if seconds_value is None else round(seconds_value * 1000)


def duration(seconds_value) -> str:
    """A duration for people, as every command's text shows one: seconds (as ``--json`` has
    them) → the duration text chatemu reads back (``40s``, ``1m30s``, ``1h5m``, ``0.25s``);
    ``-`` for none.  Exact to the millisecond, so it can be pasted into ``expect`` or
    ``clock advance``."""
    return "-" if seconds_value is None else format_duration(round(seconds_value * 1000))


#: The fields of a chat (``chat show``) that are durations, in seconds.
DURATION_FIELDS = ("wrapup_remaining", "active_seconds", "parked_seconds", "wrapup_seconds")


# -- chats -------------------------------------------------------------------------


def chat_list(chats: list[dict], with_agent: bool, title: str) -> None:
    if not chats:
        print(f"{title}: no chats")
        return
    unread = any(chat.get("unread") for chat in chats)  # the column only when there is something unread
    headers = ["ID", "STATE"] + (["AGENT"] if with_agent else []) + ["CUSTOMER", "QUEUE", "PRIO", "WRAP-UP", "EXT", "CALL"]
    headers += ["UNREAD"] if unread else []
    alerting = any(chat.get("alerting") for chat in chats)  # the column only when a chat alerts
    headers += ["ALERT"] if alerting else []
    rows, styles = [], []
    for chat in chats:
        row = [chat["id"], chat["state"]]
        if with_agent:
            row.append(_text(chat["agent"]))
        wrapup = duration(chat["wrapup_remaining"])
        if chat["wrapup_remaining"] is not None and chat["state"] == "parked-wrapup":
            wrapup += " paused"
        row += [
            _text(chat["customer"]),
            chat["queue"],
            str(chat["priority"]),
            wrapup,
            _text(chat["extensions_left"]),
            "parked" if chat["parked_by_call"] else "",
        ] + ([str(chat["unread"]) if chat["unread"] else ""] if unread else [])
        if alerting:
            row.append(f"awaiting reply since {chat['awaiting_reply_since'][11:19]}" if chat.get("alerting") else "")
        rows.append(row)
        styles.append({1: STATE_STYLES.get(chat["state"], "")})
    _table(headers, rows, styles, title=title)


def chat_show(chat: dict) -> None:
    pairs = [(key, duration(value) if key in DURATION_FIELDS else _text(value)) for key, value in chat.items()]
    _lines(pairs)


def chat_summary(chat: dict) -> str:
    text = f"{chat['id']} {chat['state']}"
    if chat["agent"]:
        text += f" in {chat['agent']}'s inbox"
    if chat["wrapup_remaining"] is not None:
        paused = ", paused" if chat["state"] == "parked-wrapup" else ""
        text += f", wrap-up {duration(chat['wrapup_remaining'])} left{paused}"
        text += f", {chat['extensions_left']} extension(s) left"
    if chat["closed_reason"]:
        text += f" ({chat['closed_reason']})"
    return text


def events(items: list[dict]) -> None:
    """The events table for people (a terminal): times without their date when every event is
    on the same day (the title names it).  CHAT holds chats only, AGENT agents only: an
    agent's own event (login, status) shows ``-`` under CHAT, a chat's event with no agent
    (queued by the customer) ``-`` under AGENT."""
    arrow = "→" if use_rich() else "->"
    if not items:
        print("no events")
        return
    days = {event["at"][:10] for event in items}
    one_day = len(days) == 1 and use_rich() and all(len(event["at"]) == 24 for event in items)
    rows = []
    for event in items:
        at = event["at"][11:23] if one_day else event["at"]
        change = f"{event['from'] or '(none)'} {arrow} {event['to']}"
        rows.append([str(event["seq"]), at, event["chat"] or "-", change, event["cause"], event["agent"] or "-"])
    title = f"events of {next(iter(days))} (UTC)" if one_day else None
    _table(["SEQ", "AT", "CHAT", "CHANGE", "CAUSE", "AGENT"], rows, title=title, wrap=("CHANGE",))


def event_stream(found, as_json: bool, jsonl: bool) -> None:
    """``events`` printed as the events are read (``journal.Events``), a batch at a time,
    exactly as ``emit_json``, ``--jsonl`` or ``events`` would print the whole list."""
    import json

    write = sys.stdout.write
    batch: list[dict] = []

    def flush(first: bool) -> None:
        if jsonl:
            write("".join(json.dumps(item, ensure_ascii=False) + "\n" for item in batch))
        elif batch:
            write(("" if first else ", ") + json.dumps(batch, ensure_ascii=False)[1:-1])
        batch.clear()

    if jsonl or as_json:
        if as_json:
            write("[")
        first = True
        for event in found:
            batch.append(event)
            if len(batch) == 1000:
                flush(first)
                first = False
        flush(first)
        if as_json:
            write("]\n")
        return
    if use_rich():
        events(list(found))  # a table for people, on a terminal
        return
    widths = found.widths()
    if widths is None:
        print("no events")
        return
    headers = ["SEQ", "AT", "CHAT", "CHANGE", "CAUSE", "AGENT"]
    sizes = [widths["seq"], widths["at"], widths["chat"], widths["change"] + len(" -> "), widths["cause"],
             widths["agent"]]
    # The plain table of ``_table``, a line at a time: each cell padded to its column's width.
    line = "  ".join(f"{{:<{max(len(h), size)}}}" for h, size in zip(headers, sizes)).format
    lines = [line(*headers).rstrip()]
    for seq, at, agent, chat, from_state, to_state, cause in found.rows():
        lines.append(line(str(seq), at, chat or "-", f"{from_state or '(none)'} -> {to_state}", cause,
                          agent or "-").rstrip())
        if len(lines) == 1000:
            write("\n".join(lines) + "\n")
            lines.clear()
    if lines:
        write("\n".join(lines) + "\n")


def changed(summary: str, appended: list[dict]) -> None:
    """What a state-changing command prints for people: each change, then the result."""
    for event in appended:
        print(change_line(event))
    print(summary)


def change_line(event: dict) -> str:
    """One change as ``changed`` prints it: when, whose, from, to, why."""
    arrow = "→" if use_rich() else "->"
    subject = event["chat"] or event["agent"] or "profile"  # neither: a profile applied
    return f"{event['at']}  {subject}: {event['from'] or '(none)'} {arrow} {event['to']} ({event['cause']})"


# -- agents, clock, config -------------------------------------------------------


def agent_summary(agent: dict) -> str:
    text = f"{agent['id']}: {agent['status']}"
    details = [f"presence {agent['presence']}" + (f" ({agent['break_reason']})" if agent.get("break_reason") else "")]
    if agent["on_call"]:
        details.append("on a call")
    if agent["active_chat"]:
        details.append(f"active {agent['active_chat']}")
    details.append(f"{agent['open_chats']} open chat(s)")
    return f"{text} ({', '.join(details)})"


def agent_list(agents: list[dict]) -> None:
    if not agents:
        print("no agents")
        return
    rows = [
        [a["id"], a["status"], a["presence"], _text(a["on_call"]), _text(a["active_chat"]), str(a["open_chats"])]
        for a in agents
    ]
    headers = ["AGENT", "STATUS", "PRESENCE", "ON CALL", "ACTIVE", "OPEN"]
    if any(a.get("break_overrun_since") for a in agents):  # the column only when a break overran its limit
        headers.append("BREAK")
        for row, a in zip(rows, agents):
            since = a.get("break_overrun_since")
            row.append(f"{a['break_reason'] or 'break'} overrun since {since[11:19]}" if since else "")
    _table(headers, rows)


def clock(value: dict) -> str:
    return f"{value['now']} ({value['mode']})"


def _config_shown(name: str, stored) -> str:
    """A config value as ``--json`` has it → as people read it (``1m30s``, ``on``, ``lunch, training``)."""
    from chatemu.store import config as cfg

    key = cfg.KEYS[name]
    if key.kind == "duration" and stored is not None:
        return cfg.show(key, _ms(stored))
    return cfg.show(key, stored)


def config_value(value: dict, name: str, queue: str | None = None, agent: str | None = None) -> str:
    """The value ``config set`` stored, from the whole configuration it returns (``value``)."""
    if queue:
        return _config_shown(name, value["queues"][queue][name])
    if agent:
        return _config_shown(name, value["agents"][agent][name])
    return _config_shown(name, value[name])


def config(value: dict) -> None:
    from chatemu.store import config as cfg

    shown = _config_shown
    rows = [[name, shown(name, value[name]), "", cfg.KEYS[name].help] for name in cfg.KEYS]
    for queue, overrides in value["queues"].items():
        rows += [[name, shown(name, stored), queue, ""] for name, stored in overrides.items()]
    for agent, overrides in value.get("agents", {}).items():
        rows += [[name, shown(name, stored), f"agent {agent}", ""] for name, stored in overrides.items()]
    _table(["KEY", "VALUE", "QUEUE", "MEANING"], rows, wrap=("MEANING",))
    if value.get("profile"):
        print(profile_line(value["profile"]))
    for queue, applied in value.get("queue_profiles", {}).items():
        print(profile_line(applied, queue))


def profile_line(applied: dict, queue: str | None = None) -> str:
    """``profile: genesys (changed since: max-chats 4 → 2)``, from ``config show``'s ``profile``."""
    arrow = "→" if use_rich() else "->"
    changed = ", ".join(f"{c['key']} {_config_shown(c['key'], c['profile'])} {arrow} {_config_shown(c['key'], c['value'])}"
                        for c in applied["changed"])
    where = f" for queue {queue}" if queue else ""
    return f"profile{where}: {applied['name']}" + (f" (changed since: {changed})" if changed else " (unchanged since)")


def profiles(items: list[dict]) -> None:
    """``profile list`` for people."""
    rows = [[p["name"], p["title"], ", ".join(p["differs"]) or "(chatemu's defaults)"] for p in items]
    _table(["PROFILE", "PLATFORM", "DIFFERS FROM HORIZON IN"], rows, wrap=("DIFFERS FROM HORIZON IN",))


def profile(value: dict) -> None:
    """``profile show NAME`` for people: each value, then its source."""
    print(f"{value['name']}: {value['title']} ({value['about']})")
    for item in value["values"]:
        scope = "" if item["per_queue"] else " (global)"
        print(f"  {item['key']} = {_config_shown(item['key'], item['value'])}{scope}")
        if item["source"]:
            print(f'      source: "{item["source"]}"' if item["quoted"] else f"      source (in our words): {item['source']}")
            print(f"      link:   {item['link']}")
        if item["note"]:
            print(f"      note:   {item['note']}")


def profile_applied(value: dict) -> str:
    """What ``profile apply`` did, for people (after its event)."""
    arrow = "→" if use_rich() else "->"
    where = f" for queue {value['queue']}" if value["queue"] else ""
    lines = [f"profile {value['profile']} applied{where}"]
    for c in value["changed"]:
        lines.append(f"  {c['key']}: {_config_shown(c['key'], c['from'])} {arrow} {_config_shown(c['key'], c['to'])}")
    if not value["changed"]:
        lines.append("  no value changed")
    if value["global_not_set"]:
        left = ", ".join(f"{c['key']} (profile {_config_shown(c['key'], c['profile'])},"
                         f" now {_config_shown(c['key'], c['value'])})" for c in value["global_not_set"])
        lines.append(f"  not set, global keys: {left}; apply it without --queue to set them")
    return "\n".join(lines)


def agent_queues(value: dict) -> str:
    if value["all"]:
        return f"{value['agent']} serves every queue (assigned to none)"
    listed = ", ".join(q["queue"] + ("" if q["on"] else " (off)") for q in value["queues"])
    return f"{value['agent']} serves, in order: {listed}"


def queue_summary(q: dict) -> str:
    wait = "" if q["longest_wait_seconds"] is None else f", longest wait {duration(q['longest_wait_seconds'])}"
    agents = ", ".join(q["serving"]) or "none"
    return (f"queue {q['name']}: {q['waiting']} waiting{wait}, {q['in_inboxes']} in inboxes;"
            f" served by {agents} ({q['available']} available now)")


def _name_lines(head: str, names: list[str], tail: str, width: int) -> list[str]:
    """``head`` + the names joined by ", " + ``tail``, broken between names (never inside one,
    such as ``AVG WRAP-UP``) to fit ``width``."""
    lines, line = [], head
    for index, name in enumerate(names):
        piece = name + (", " if index < len(names) - 1 else tail)
        if line.strip() and len(line) + len(piece.rstrip()) > width:
            lines.append(line.rstrip())
            line = ""
        line += piece
    return [*lines, line]


def sentence(text: str) -> None:
    """A line of prose: on a terminal wrapped between words to its width (a name or a time is
    never split at the terminal's edge); as it is otherwise."""
    if use_rich():
        from rich.text import Text

        console(highlight=False).print(Text(text))
        return
    print(text)


def queue_list(queues: list[dict]) -> None:
    if not queues:
        print("no queues")
        return
    rows = [[q["name"], str(q["waiting"]),
             duration(q["longest_wait_seconds"]),
             str(q["in_inboxes"]), ", ".join(q["serving"]) or "-", str(q["available"])] for q in queues]
    _table(["QUEUE", "WAITING", "LONGEST WAIT", "IN INBOXES", "SERVED BY", "AVAILABLE"], rows, wrap=("SERVED BY",))


# -- stats -------------------------------------------------------------------------


def _window_title(value: dict, what: str) -> str:
    since = value["since"] or "the beginning"
    return f"{what} from {since} to {value['until']}"


def stats_agents(value: dict) -> None:
    title = _window_title(value, "agents")
    if not value["agents"]:
        print(f"{title}: no agents")
        return
    # Some columns only where some agent has something there (unavailable time, not-responding
    # time, a missed offer, an overrun): a table of a day without them reads as before.
    clocks = [name for name in ("not-responding", "missed_offers", "overruns")
              if any(a["status_seconds"].get(name) if name == "not-responding" else a[name] for a in value["agents"])]
    statuses = [s for s in value["agents"][0]["status_seconds"] if s != "not-responding" or s in clocks]
    if not any(a["status_seconds"].get("unavailable") for a in value["agents"]):
        statuses = [s for s in statuses if s != "unavailable"]  # a column only once an agent was disconnected
    headers = ["AGENT", *(s.upper() for s in statuses), "HANDLED", "AVG HANDLE", "AVG WRAP-UP", "EXTENSIONS",
               "TRANSFERS", "RETURNS"] + [{"missed_offers": "MISSED OFFERS", "overruns": "OVERRUNS"}[name]
                                          for name in clocks if name != "not-responding"]
    rows = [[a["agent"], *(duration(a["status_seconds"][s]) for s in statuses), str(a["handled"]),
             duration(a["average_handle_seconds"]), duration(a["average_wrapup_seconds"]), str(a["extensions"]),
             str(a["transfers"]), str(a["returns"])]
            + ([str(a["missed_offers"])] if "missed_offers" in clocks else [])
            + ([f"{a['overruns']} ({duration(a['overrun_seconds'])} over)" if a["overruns"] else "0"]
               if "overruns" in clocks else [])
            for a in value["agents"]]
    _table(headers, rows, title=title)


def stats_queues(value: dict) -> None:
    title = _window_title(value, "queues")
    if not value["queues"]:
        print(f"{title}: no queues")
        return
    rows = []
    rejected = any(q["rejected"] for q in value["queues"])  # a column only once a queue refused a chat
    for q in value["queues"]:
        level = "-" if q["service_level"] is None else f"{q['service_level'] * 100:.1f}%"
        rows.append([q["queue"], str(q["offered"]), str(q["presented_or_taken"]), str(q["abandoned"]),
                     *([str(q["rejected"])] if rejected else []),
                     duration(q["average_wait_seconds"]), duration(q["longest_wait_seconds"]),
                     f"{level} ({q['within_service_level']}/{q['waits_ended']} within "
                     f"{duration(q['service_level_seconds'])})"])
    headers = ["QUEUE", "OFFERED", "PRESENTED/TAKEN", "ABANDONED", *(["REJECTED"] if rejected else []), "AVG WAIT",
               "LONGEST WAIT", "SERVICE LEVEL"]
    if any(q["reply_alerts"] for q in value["queues"]):  # the column only where a chat alerted
        headers.append("REPLY ALERTS")
        for row, q in zip(rows, value["queues"]):
            row.append(str(q["reply_alerts"]))
    _table(headers, rows, title=title)


# -- QA tools ----------------------------------------------------------------------


def event_line(event: dict) -> str:
    arrow = "→" if use_rich() else "->"
    subject = event["chat"] or event["agent"] or "profile"  # neither: a profile applied
    who = f" [{event['agent']}]" if event["chat"] and event["agent"] else ""
    return f"#{event['seq']} {event['at']}  {subject}: {event['from'] or '(none)'} {arrow} {event['to']} ({event['cause']}){who}"


def explain(value: dict) -> None:
    print(f"{value['chat']}: {value['state']}" + (f" ({value['agent']})" if value["agent"] else ""))
    for line in value["why"]:
        print(f"  why:  {line}")
    for line in value["next"]:
        print(f"  next: {line}")


def refusals(items: list[dict]) -> None:
    """The journal of refusals for people: one row each, oldest first."""
    if not items:
        print("no refusals")
        return
    rows = [[str(r["seq"]), r["at"], r["agent"], str(r["exit"]), one_line(r["command"]), one_line(r["message"])]
            for r in items]
    _table(["SEQ", "AT", "AGENT", "EXIT", "COMMAND", "MESSAGE"], rows, wrap=("COMMAND", "MESSAGE"))


#: Characters that end a line for ``str.splitlines`` (and for some terminals).
_BREAKS = {ord(c): f"\\u{ord(c):04x}" for c in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"}


def one_line(text: str) -> str:
    """``text`` kept to one line: its line breaks shown escaped (a command line may hold one)."""
    return text.translate(_BREAKS)


def error(line: str) -> None:
    """Print an ``error:`` line (or an expectation's line) on stderr: the one place they are
    printed.  One line whatever it echoes (a file name, a scenario line: line breaks shown
    escaped), its control characters escaped."""
    print(escape_controls(one_line(line)), file=sys.stderr)


def snapshots(items: list[dict]) -> None:
    if not items:
        print("no snapshots")
        return
    _table(["NAME", "SAVED AT", "CHATS"], [[s["name"], s["created_at"], str(s["chats"])] for s in items])


def tokens(items: list[dict]) -> None:
    """``token list``: one row per token (never the token itself)."""
    if not items:
        print("no tokens")
        return
    _table(["ID", "NS", "ROLE", "AGENT", "CREATED", "REVOKED"],
           [[str(t["id"]), t["ns"], t["role"], t["agent"] or "-", t["created"], t["revoked"] or "-"] for t in items])


def webhooks(items: list[dict]) -> None:
    """``webhook list``: one row per endpoint (never its secret)."""
    if not items:
        print("no webhooks")
        return
    _table(["ID", "URL", "EVENTS", "CURSOR", "DISABLED"],
           [[str(w["id"]), w["url"], " ".join(w["events"]), str(w["cursor"]),
             f"{w['disabled']} ({w['disabled_why']})" if w["disabled"] else "-"] for w in items], wrap=("DISABLED",))


def deliveries(items: list[dict]) -> None:
    """``webhook deliveries``: the latest delivery records, newest first."""
    if not items:
        print("no deliveries")
        return
    _table(["SEQ", "ATTEMPTS", "RESULT", "LAST ATTEMPT", "NEXT"],
           [[str(d["seq"]), str(d["attempts"]),
             "delivered" if d["delivered"] else (d["error"] or str(d["status"])),
             d["last_attempt"], d["next_attempt"] or "-"] for d in items])


# -- messages, templates, classification, contacts ------------------------------------


def message_line(message: dict) -> str:
    """One message: ``C1 #2 2026-…Z customer: text`` (continuation lines indented)."""
    text = message["text"].replace("\n", "\n    ")
    return f"{message['chat']} #{message['seq']} {message['at']} {message['from']}: {text}"


def transcript(chat_id: str, messages: list[dict]) -> None:
    if not messages:
        print(f"{chat_id}: no messages")
        return
    for message in messages:
        print(message_line(message))


def templates(items: list[dict]) -> None:
    if not items:
        print("no templates")
        return
    _table(["NAME", "QUEUE", "TEXT"], [[t["name"], t["queue"] or "(all)", t["text"]] for t in items],
           wrap=("TEXT",))


def codes(items: list[dict]) -> None:
    if not items:
        print("no classification codes")
        return
    _table(["CODE", "QUEUE"], [[c["code"], c["queue"] or "(all)"] for c in items])


def contact_history(value: dict) -> None:
    chats = value["chats"]
    title = f"contact {value['contact']}: {len(chats)} chat(s)"
    if not chats:
        print(title)
        return
    rows = []
    for chat in chats:
        classification = _text(chat["classification"])
        if chat["classification_note"]:
            classification += f" ({chat['classification_note']})"
        rows.append([
            chat["id"], chat["queue"], ", ".join(chat["agents"]) or "-", chat["created_at"], _text(chat["closed_at"]),
            chat["state"] + (f" ({chat['closed_reason']})" if chat["closed_reason"] else ""),
            classification, "; ".join(chat["notes"]), str(chat["messages"]),
        ])
    _table(["ID", "QUEUE", "AGENTS", "STARTED", "CLOSED", "STATE", "CLASSIFICATION", "NOTES", "MSGS"], rows, title=title,
           wrap=("AGENTS", "CLASSIFICATION", "NOTES"))
