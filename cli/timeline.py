"""``chatemu timeline``: a picture of how time was spent.

One lane per agent (its status) and per chat (its states), each interval
coloured by state from one table (``LOOKS``) that the legend uses too; a
paused wrap-up (parked-wrapup) is the wrap-up colour hatched; calls are
marked.  Drawn as SVG text (``-o FILE.svg``), as an HTML page holding that SVG
(``-o FILE.html``), or as text for the terminal, as wide as it is (rich,
imported only then).  The same database and window give the same bytes.
"""

import math
from typing import Annotated, Optional

import typer

from chatemu.store.engine import Result
from chatemu.store.errors import UsageError
from chatemu.store.timefmt import format_duration, format_time, parse_time
from chatemu.store.timeline import AGENT, ALERT, CALL, CHAT, Interval, Lane, Timeline

from .common import engine, session


class Look:
    """How a state is drawn: its fill colour, hatched or not, and its letter in the text."""

    __slots__ = ("colour", "hatched", "letter")

    def __init__(self, colour: str, letter: str, hatched: bool = False):
        self.colour, self.letter, self.hatched = colour, letter, hatched


#: Every state's look, chats' then agents': the one table the intervals and the legend use.
#: A chat in wrap-up and an agent in wrap-up share a colour, as do an active chat and an
#: agent handling a chat; a paused wrap-up is the wrap-up colour, hatched.
LOOKS = {
    CHAT: {
        "queued": Look("#bdbdbd", "q"),
        "new": Look("#56b4e9", "n"),
        "active": Look("#009e73", "A"),
        "parked": Look("#f0e442", "p"),
        "active-wrapup": Look("#cc79a7", "W"),
        "parked-wrapup": Look("#cc79a7", "w", hatched=True),
    },
    AGENT: {
        "available": Look("#d9f0d3", "."),
        "handling-chat": Look("#009e73", "H"),
        "wrap-up": Look("#cc79a7", "U"),
        "on-call": Look("#e66101", "C"),
        "break": Look("#b2abd2", "B"),
        "logged-out": Look("#ececec", "_"),
    },
}
#: States drawn and listed in the legend only where a lane has one (the legend of a timeline
#: without them stays as it was): an agent disconnected (``agent disconnect``), and one that let
#: an offer time out (``offer-timeout``).
WHEN_SEEN = {AGENT: {"unavailable": Look("#525252", "x"), "not-responding": Look("#fdb863", "N")}, CHAT: {}}
#: A state no table knows (a database from a newer chatemu).
UNKNOWN = Look("#000000", "?")
#: A chat's reply alert, an agent's break past its limit: a mark at its instant (its letter in the text).
ALERT_COLOUR = "#d7191c"
ALERT_LETTER = "!"
MARK_NAMES = {CHAT: "a reply alert", AGENT: "a break past its limit"}
#: Calls: the outline of an agent's on-call intervals and the marks of a chat's moves a call made.
CALL_COLOUR = "#b2182b"
CALL_LETTER = "*"
#: A new chat a queue refused (``max-queue-length``, ``when-no-agent``): a mark on the time axis.
REJECTED_LETTER = "r"
LEGEND_TITLES = {AGENT: "agents", CHAT: "chats"}

# -- the SVG's geometry (px) ---------------------------------------------------------------
WIDTH = 960
PAD = 12
LANE = 24
BAR = 16
TOP = 40  # the first lane's top
CHAR = 7.2  # the width of a character of the 12px font, roughly
FONT = 'font-family="sans-serif" font-size="12"'


def look(kind: str, state: str) -> Look:
    return LOOKS.get(kind, {}).get(state) or WHEN_SEEN.get(kind, {}).get(state, UNKNOWN)


def fill(kind: str, state: str) -> str:
    """The SVG fill of a state: its colour, or its hatch pattern."""
    found = look(kind, state)
    return f"url(#{pattern_id(kind, state)})" if found.hatched else found.colour


def pattern_id(kind: str, state: str) -> str:
    return f"hatch-{kind}-{state}"


def timeline(
    ctx: typer.Context,
    chats: Annotated[Optional[list[str]], typer.Option("--chat", metavar="ID", help="Show this chat (repeat for more).")] = None,
    agents: Annotated[
        Optional[list[str]],
        typer.Option("--agent", metavar="ID", help="Show this agent's status and the chats it acted on (repeat for more)."),
    ] = None,
    start: Annotated[
        Optional[str], typer.Option("--from", metavar="TIME", help="Start here [default: the first change shown].", show_default=False)
    ] = None,
    end: Annotated[Optional[str], typer.Option("--to", metavar="TIME", help="End here [default: a tenth of the story after the last change shown, at most now].", show_default=False)] = None,
    limit: Annotated[
        int, typer.Option("--limit", metavar="N", help="At most N chats, the latest, and N agents (those named are always shown); 1 or more.")
    ] = 50,
    output: Annotated[
        Optional[str], typer.Option("--output", "-o", metavar="FILE", help="Write an SVG picture (.svg) or an HTML page (.html).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite FILE if it exists.")] = False,
) -> None:
    """A picture of how time was spent: a lane per chat and per agent, coloured by state.

    With neither --chat nor --agent: the latest chats (--limit) and every agent's status.
    Without -o, printed as text as wide as the terminal.

    \b
    Examples:
      chatemu timeline
      chatemu timeline --chat C1 --chat C2 -o chats.svg
      chatemu timeline --agent agent-2 --from 2026-01-05T09:00:00Z -o agent-2.html
      chatemu timeline --limit 10 --to 2026-01-05T10:00:00Z
    """
    if limit < 1:
        raise UsageError(f"bad --limit {limit}: use 1 or more")
    eng = engine(ctx)
    fmt = None
    if output is not None:
        fmt = output.lower().rpartition(".")[2] if "." in output else ""
        if fmt not in ("svg", "html"):
            raise UsageError(f"cannot write {output}: name an .svg or .html file")
        from .files import check_target

        check_target(output, force, eng.path)  # refused before the database is even opened
    window = [None if text is None else _time(option, text) for option, text in (("--from", start), ("--to", end))]
    if window[0] is not None and window[1] is not None and window[0] > window[1]:
        raise UsageError(f"--from {start} is after --to {end}")
    drawn = eng.timeline(chats or [], agents or [], window[0], window[1], limit).value
    sink = session(ctx).sink
    if output is not None:
        from .files import writing

        with writing(output, force, eng.path) as write:
            write(svg(drawn) if fmt == "svg" else html(drawn))
        if sink is not None:
            sink.append(Result({"file": output, "lanes": len(drawn.lanes)}))
    elif sink is not None:
        sink.append(Result(drawn.as_json()))  # a scenario line: its result, not a drawing
    else:
        print_text(drawn)


def _time(option: str, text: str) -> int:
    try:
        return parse_time(text)
    except UsageError as exc:
        raise UsageError(f"{option}: {exc.message}") from None


# -- words -------------------------------------------------------------------------------------


def heading(tl: Timeline) -> str:
    return f"{format_time(tl.start)} to {format_time(tl.end)} ({format_duration(tl.span)})"


def title(lane: Lane, interval: Interval) -> str:
    """What hovering over an interval says: the lane, state, start, end and duration."""
    words = f"{lane.id}: {interval.state}, {format_time(interval.start)} to {format_time(interval.end)}"
    words += f" ({format_duration(interval.duration)})"
    if interval.call:
        words += ": a call"
    elif interval.cause == CALL:
        words += ", moved by a call"
    return words


def call_title(lane: Lane, at: int, state: str) -> str:
    return f"{lane.id}: {state} by a call at {format_time(at)}"


#: Tick steps, in ms: the first that leaves room for the labels is used.
STEPS = tuple(n * unit for unit, ns in ((1, (1, 2, 5, 10, 20, 50, 100, 200, 500)), (1000, (1, 2, 5, 10, 15, 30)),
                                        (60_000, (1, 2, 5, 10, 15, 30)), (3_600_000, (1, 2, 3, 6, 12)),
                                        (86_400_000, (1, 2, 7, 14, 28, 91, 182, 364)))
              for n in ns)


def ticks(tl: Timeline, most: int) -> list[tuple[int, str]]:
    """Instants at round steps within the window, at most ``most``, with their labels."""
    most = max(most, 1)
    span = max(tl.span, 1)
    step = next((s for s in STEPS if span / s <= most), None)
    if step is None:
        step = STEPS[-1] * math.ceil(span / STEPS[-1] / most)
    first = -(-tl.start // step) * step
    crosses_days = tl.start // 86_400_000 != tl.end // 86_400_000
    found = []
    at = first
    while at <= tl.end:
        found.append((at, tick_label(at, step, crosses_days)))
        at += step
    return found


def tick_label(at: int, step: int, crosses_days: bool) -> str:
    text = format_time(at)  # 2026-01-05T09:00:00.000Z
    clock = text[11:23] if step % 1000 else text[11:19] if step % 60_000 else text[11:16]
    if step % 86_400_000 == 0:
        return text[5:10]
    return f"{text[5:10]} {clock}" if crosses_days else clock


# -- SVG ---------------------------------------------------------------------------------------


def xml(text: str) -> str:
    """Text safe inside an XML element or a double-quoted attribute (characters XML 1.0
    cannot hold at all are written as visible escapes)."""
    from .render import escape_controls

    return (escape_controls(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def _n(value: float) -> str:
    """A coordinate: at most two decimals, no trailing zeros."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def svg(tl: Timeline, declaration: bool = True) -> str:
    """The timeline as one self-contained SVG document."""
    kinds = [kind for kind in (AGENT, CHAT) if any(lane.kind == kind for lane in tl.lanes)] or [CHAT]
    label_width = min(max([len(lane.id) for lane in tl.lanes] + [6]) * CHAR, 30 * CHAR) + 2 * PAD
    left, right = round(label_width), WIDTH - 4 * PAD
    span = max(tl.span, 1)
    scale = (right - left) / span

    def x(at: int) -> float:
        return left + (at - tl.start) * scale

    out: list[str] = []
    add = out.append
    bottom = TOP + LANE * len(tl.lanes)
    axis = bottom + 6
    legend_top = axis + 30
    legend = _legend_rows(tl, kinds)
    height = legend_top + 20 * len(legend) + PAD
    if declaration:
        add('<?xml version="1.0" encoding="UTF-8"?>')
    add(f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}"'
        f' {FONT}>')
    add("<title>chatemu timeline, " + xml(heading(tl)) + "</title>")
    add("<defs>")
    for kind in kinds:
        for state, found in LOOKS[kind].items():
            if found.hatched:
                add(f'<pattern id="{pattern_id(kind, state)}" patternUnits="userSpaceOnUse" width="6" height="6"'
                    f' patternTransform="rotate(45)"><rect width="6" height="6" fill="{found.colour}"/>'
                    '<rect width="2.5" height="6" fill="#ffffff"/></pattern>')
    add("</defs>")
    add(f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>')
    add(f'<text x="{PAD}" y="{PAD + 10}" font-weight="bold">chatemu timeline</text>')
    add(f'<text x="{PAD + 130}" y="{PAD + 10}" fill="#444444">{xml(heading(tl))}</text>')
    # The time axis: grid lines through the lanes, ticks and labels below them.
    add('<g class="axis">')
    add(f'<line x1="{left}" y1="{axis}" x2="{right}" y2="{axis}" stroke="#444444"/>')
    for at, label in ticks(tl, (right - left) // 90):
        tx = _n(x(at))
        add(f'<line x1="{tx}" y1="{TOP - 4}" x2="{tx}" y2="{axis + 4}" stroke="#dddddd"/>')
        add(f'<line x1="{tx}" y1="{axis}" x2="{tx}" y2="{axis + 4}" stroke="#444444"/>')
        add(f'<text x="{tx}" y="{axis + 17}" text-anchor="middle" fill="#444444">{xml(label)}</text>')
    for at, queue in tl.rejected:
        add(f'<path class="rejected" d="M{_n(x(at) - 3)} {axis - 6}L{_n(x(at) + 3)} {axis}M{_n(x(at) + 3)} {axis - 6}'
            f'L{_n(x(at) - 3)} {axis}" stroke="{CALL_COLOUR}" stroke-width="1.5">'
            f'<title>{xml(f"a new chat rejected by queue {queue} at {format_time(at)}")}</title></path>')
    add("</g>")
    for index, lane in enumerate(tl.lanes):
        top = TOP + LANE * index
        bar = top + (LANE - BAR) / 2
        add(f'<g class="lane" data-kind="{lane.kind}" data-id="{xml(lane.id)}">')
        if index and lane.kind != tl.lanes[index - 1].kind:
            add(f'<line x1="{PAD}" y1="{top}" x2="{right}" y2="{top}" stroke="#999999"/>')
        name = lane.id if len(lane.id) <= 30 else lane.id[:29] + "…"
        add(f'<text x="{PAD}" y="{_n(top + LANE / 2 + 4)}">{xml(name)}<title>{lane.kind} {xml(lane.id)}</title></text>')
        for interval in lane.intervals:
            a, b = tl.clip(interval)
            x0, x1 = round(x(a), 2), round(x(b), 2)
            outline = f' stroke="{CALL_COLOUR}" stroke-width="1.5"' if interval.call else ""
            add(f'<rect class="interval" data-state="{xml(interval.state)}" x="{_n(x0)}" y="{_n(bar)}"'
                f' width="{_n(x1 - x0)}" height="{BAR}" fill="{fill(lane.kind, interval.state)}"{outline}>'
                f"<title>{xml(title(lane, interval))}</title></rect>")
        for at, state in lane.calls:
            add(f'<path class="call" d="{_call_mark(x(at), bar)}" fill="{CALL_COLOUR}">'
                f"<title>{xml(call_title(lane, at, state))}</title></path>")
        for at in lane.alerts:
            add(f'<circle class="alert" cx="{_n(x(at))}" cy="{_n(bar + BAR / 2)}" r="3" fill="{ALERT_COLOUR}">'
                f"<title>{xml(lane.id)}: {MARK_NAMES[lane.kind]} at {format_time(at)}</title></circle>")
        add("</g>")
    if not tl.lanes:
        add(f'<text x="{left}" y="{TOP + 16}" fill="#444444">nothing to show in this window</text>')
    add('<g class="legend">')
    for row, (kind, items) in enumerate(legend):
        y = legend_top + 20 * row
        add(f'<text x="{PAD}" y="{y + 10}" fill="#444444">{LEGEND_TITLES.get(kind, "")}</text>')
        for item_x, state in items:
            if state == CALL:
                add(f'<path class="call" d="{_call_mark(item_x + 7, y)}" fill="{CALL_COLOUR}"/>')
                add(f'<rect x="{_n(item_x + 16)}" y="{y}" width="14" height="12" fill="{look(AGENT, "on-call").colour}"'
                    f' stroke="{CALL_COLOUR}" stroke-width="1.5"/>')
                add(f'<text x="{_n(item_x + 36)}" y="{y + 10}">call</text>')
                continue
            add(f'<rect class="swatch" data-state="{xml(state)}" x="{_n(item_x)}" y="{y}" width="14" height="12"'
                f' fill="{fill(kind, state)}" stroke="#888888" stroke-width="0.5"/>')
            add(f'<text x="{_n(item_x + 20)}" y="{y + 10}">{xml(state)}</text>')
    add("</g>")
    add("</svg>")
    return "\n".join(out) + "\n"


def _call_mark(x: float, top: float) -> str:
    """A small downward triangle whose tip is on the bar's top edge at ``x``."""
    return f"M{_n(x - 4)} {_n(top - 5)}H{_n(x + 4)}L{_n(x)} {_n(top + 2)}Z"


def _legend_rows(tl: Timeline, kinds: list[str]) -> list[tuple[str, list[tuple[float, str]]]]:
    """Rows of (kind, [(x, state), …]): every state of each kind shown (and any state the
    table does not know), then the call mark, wrapped to the picture's width."""
    rows: list[tuple[str, list[tuple[float, str]]]] = []
    for kind in kinds:
        states = list(LOOKS[kind])
        for lane in tl.lanes:
            if lane.kind == kind:
                states += [i.state for i in lane.intervals if i.state not in states]
        if kind == kinds[-1]:
            states.append(CALL)
        item_x, items = 70.0, []
        for state in states:
            width = 20 + len(state) * CHAR + 18 + (16 if state == CALL else 0)
            if items and item_x + width > WIDTH - PAD:
                rows.append((kind, items))
                item_x, items = 70.0, []
            items.append((item_x, state))
            item_x += width
        rows.append((kind, items))
    return rows


def html(tl: Timeline) -> str:
    """An HTML page holding the SVG: hovering over an interval shows its title."""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>chatemu timeline, {xml(heading(tl))}</title>\n"
        "<style>body { margin: 16px; font-family: sans-serif; } svg rect.interval:hover { opacity: 0.75; }</style>\n"
        "</head>\n<body>\n"
        + svg(tl, declaration=False)
        + "<p>Hover over an interval for its state, start, end and duration.</p>\n</body>\n</html>\n"
    )


# -- text ----------------------------------------------------------------------------------------


def cells(tl: Timeline, lane: Lane, width: int) -> list[Optional[tuple[str, Look]]]:
    """The lane as ``width`` cells: each the state that fills most of it (None: the lane has
    none there), its call and alert marks on top."""
    span = max(tl.span, 1)
    best: list[tuple[float, Optional[tuple[str, Look]]]] = [(0.0, None)] * width
    for interval in lane.intervals:
        a, b = tl.clip(interval)
        fa, fb = (a - tl.start) * width / span, (b - tl.start) * width / span
        for cell in range(int(fa), min(math.ceil(fb), width)):
            covered = min(fb, cell + 1) - max(fa, cell)
            if covered > best[cell][0]:
                best[cell] = (covered, (interval.state, look(lane.kind, interval.state)))
    found = [item for _, item in best]
    marks = [(at, CALL, CALL_LETTER) for at, _state in lane.calls] + [(at, ALERT, ALERT_LETTER) for at in lane.alerts]
    for at, mark, letter in marks:
        cell = min(int((at - tl.start) * width / span), width - 1)
        under = found[cell]
        found[cell] = (mark, under[1] if under else Look("#ffffff", letter))
    return found


def print_text(tl: Timeline) -> None:
    """The timeline as text, as wide as the terminal (rich's console width)."""
    from rich.text import Text

    from .render import console as rich_console, escape_controls

    console = rich_console(highlight=False)
    width = console.width
    label = min(max([len(lane.id) for lane in tl.lanes] + [4] + ([len("rejected")] if tl.rejected else [])), 20)
    bar = max(width - label - 2, 10)

    def line(text: Text) -> None:
        console.print(text, no_wrap=True, overflow="crop", crop=True)

    top = f"chatemu timeline, {heading(tl)}"
    line(Text(top if len(top) <= width else heading(tl), style="bold"))
    if not tl.lanes:
        line(Text("nothing to show in this window"))
    for lane in tl.lanes:
        name = escape_controls(lane.id)
        row = Text((name if len(name) <= label else name[: label - 1] + "…").ljust(label) + "  ")
        for cell in cells(tl, lane, bar):
            if cell is None:
                row.append(" ")
                continue
            state, found = cell
            letter = CALL_LETTER if state == CALL else ALERT_LETTER if state == ALERT else found.letter
            mark = CALL_COLOUR if state == CALL else ALERT_COLOUR if state == ALERT else None
            style = f"{'bold ' + mark if mark else '#000000'} on {found.colour}"
            row.append(letter, style=style + (" italic" if found.hatched else ""))
        row.rstrip()
        line(row)
    if tl.rejected:  # the new chats the queues refused: an r where each was
        row = Text("rejected"[:label].ljust(label) + "  ")
        marked = [" "] * bar
        for at, _queue in tl.rejected:
            marked[min(int((at - tl.start) * bar / max(tl.span, 1)), bar - 1)] = REJECTED_LETTER
        row.append("".join(marked).rstrip(), style=f"bold {CALL_COLOUR}")
        line(row)
    # The axis: a mark under each tick, its label under it where there is room.
    marks, labels = [" "] * bar, [" "] * bar
    free = 0
    for at, text in ticks(tl, bar // 12):
        cell = min(round((at - tl.start) * bar / max(tl.span, 1)), bar - 1)
        marks[cell] = "|"
        if cell >= free and cell + len(text) <= bar:
            labels[cell:cell + len(text)] = text
            free = cell + len(text) + 2
    line(Text(" " * (label + 2) + "".join(marks).rstrip()))
    line(Text(" " * (label + 2) + "".join(labels).rstrip()))
    kinds = [kind for kind in (AGENT, CHAT) if any(lane.kind == kind for lane in tl.lanes)]
    indent = max((len(LEGEND_TITLES[kind]) + 1 for kind in kinds), default=0)
    for kind in kinds:
        seen = {i.state for lane in tl.lanes if lane.kind == kind for i in lane.intervals}
        items = [(found.letter, state + (" (paused)" if found.hatched else ""), found)
                 for state, found in (*LOOKS[kind].items(), *WHEN_SEEN[kind].items())
                 if state in LOOKS[kind] or state in seen]
        if any(lane.alerts for lane in tl.lanes if lane.kind == kind):
            items.append((ALERT_LETTER, MARK_NAMES[kind], Look("#ffffff", ALERT_LETTER)))
        if kind == kinds[-1]:
            items.append((CALL_LETTER, "a call moved the chat", Look("#ffffff", CALL_LETTER)))
            if tl.rejected:
                items.append((REJECTED_LETTER, "a new chat rejected", Look("#ffffff", REJECTED_LETTER)))
        row = Text(f"{LEGEND_TITLES[kind]}:".ljust(indent))
        for letter, name, found in items:
            if row.cell_len > indent and row.cell_len + 4 + len(name) > width:
                line(row)
                row = Text(" " * indent)
            row.append("  ")
            row.append(letter, style=f"{CALL_COLOUR if letter == CALL_LETTER else '#000000'} on {found.colour}")
            row.append(f" {name}")
        line(row)
