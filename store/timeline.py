"""How time was spent: event rows turned into lanes of intervals (``chatemu timeline``).

Pure: no I/O, no clock.  ``build`` takes event rows as the ``events`` table
holds them, ``(seq, at_ms, agent, chat, from_state, to_state, cause)``, in
``seq`` order within each lane, and the window to show; it returns one lane per
chat (its states) and per agent (its statuses: rows with no chat), each a list
of intervals.  An interval lasts from the change that started it to the next
change of its lane; a lane's last interval lasts until the window's end, unless
the chat closed (``closed`` is final: the lane ends there).

What to read (which chats and agents, from where in the log) is
``journal.timeline``'s business; drawing it is the command line's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

#: The final chat state: a lane ends there and draws nothing after it.
CLOSED = "closed"
#: The cause of a move a phone call made (a chat parked by a call, resumed when it ends).
CALL = "call"
#: The cause of a chat's reply alert and of an agent's break going past its reason's limit (the
#: state stays; the lane marks the instant).
ALERT = "reply-alert"
OVERRUN = "break-overrun"
#: The agent status that is a phone call.
ON_CALL = "on-call"

CHAT = "chat"
AGENT = "agent"
#: What ``to_dict`` calls a lane's marks, by its kind.
MARKS = {CHAT: "alerts", AGENT: "overruns"}


@dataclass(frozen=True)
class Interval:
    """One state held from ``start`` to ``end`` (epoch ms; the end excluded).

    ``cause``: the cause of the change that started it.  ``start`` and ``end`` are
    the real instants, which may lie outside the window (``Timeline.clip``)."""

    state: str
    start: int
    end: int
    cause: str

    @property
    def duration(self) -> int:
        return self.end - self.start

    @property
    def call(self) -> bool:
        """Whether this interval is a phone call (the agent's on-call status)."""
        return self.state == ON_CALL


@dataclass
class Lane:
    """A chat's states or an agent's statuses, in time order.

    ``calls``: the chat's moves a call made within the window: (instant, the state it
    moved to)."""

    kind: str
    id: str
    intervals: list[Interval] = field(default_factory=list)
    calls: list[tuple[int, str]] = field(default_factory=list)
    alerts: list[int] = field(default_factory=list)  # a chat's reply alerts, an agent's overruns, in the window


@dataclass
class Timeline:
    """The lanes of a window ``[start, end]`` (epoch ms)."""

    start: int
    end: int
    lanes: list[Lane]
    #: New chats the queues refused in the window (``max-queue-length``, ``when-no-agent``):
    #: (instant, queue), from the journal of refusals.
    rejected: list[tuple[int, str]] = field(default_factory=list)

    @property
    def span(self) -> int:
        return self.end - self.start

    def clip(self, interval: Interval) -> tuple[int, int]:
        """The part of ``interval`` inside the window."""
        return max(interval.start, self.start), min(interval.end, self.end)

    def as_json(self) -> dict:
        """The timeline as a JSON-ready object (a scenario line's result)."""
        from .timefmt import format_time, seconds

        return {
            "from": format_time(self.start),
            "to": format_time(self.end),
            "lanes": [
                {
                    "kind": lane.kind,
                    "id": lane.id,
                    "intervals": [{"state": i.state, "start": format_time(i.start), "end": format_time(i.end),
                                   "seconds": seconds(i.duration), "cause": i.cause} for i in lane.intervals],
                    "calls": [{"at": format_time(at), "to": state} for at, state in lane.calls],
                    **({MARKS[lane.kind]: [format_time(at) for at in lane.alerts]} if lane.alerts else {}),
                }
                for lane in self.lanes
            ],
            **({"rejected": [{"at": format_time(at), "queue": queue} for at, queue in self.rejected]}
               if self.rejected else {}),
        }


#: The least time a default window goes on after its last change (``default_end``).
LEAST_TAIL_MS = 1000


def default_end(rows: Iterable[tuple], start: int | None, now: int) -> int:
    """Where a window with no ``--to`` ends: a tenth of the story after the last change the
    rows make (the time from the window's start, by default the first change, to the last
    change; at least ``LEAST_TAIL_MS``), so the states held at the end show too, but never
    after ``now``.  With no change at or after ``start`` (no rows; a window that starts after
    the last change, showing the states in force then): ``now``."""
    first = last = None
    for row in rows:
        at = row[1]
        if at <= now:
            first = at if first is None else min(first, at)
            last = at if last is None else max(last, at)
    if last is None or (start is not None and start > last):
        return now
    begin = first if start is None else start
    return min(now, last + max((last - begin) // 10, LEAST_TAIL_MS))


def build(rows: Iterable[tuple], end: int, start: int | None = None) -> Timeline:
    """The lanes the rows make, for the window ``[start, end]``.

    ``start`` defaults to the first row's instant (the first event shown).  Rows after
    ``end`` are ignored; a row that leaves its lane in the state it was in (a wrap-up
    extended, a break taken while busy) does not split the interval.  Lanes come in the order of their first row; a lane keeps only
    the intervals that overlap the window and last longer than nothing (a lane left with
    none is still listed, empty), and the call instants inside it.  ``start`` after
    ``end``: ValueError.
    """
    lanes: dict[tuple[str, str], Lane] = {}
    # Each lane's state, since when and why; None once a chat has closed.
    current: dict[tuple[str, str], tuple[str, int, str] | None] = {}
    first_at: int | None = None
    for _seq, at, agent, chat, _from_state, to_state, cause in rows:
        if at > end:
            continue
        key = (CHAT, chat) if chat is not None else (AGENT, agent)
        lane = lanes.get(key)
        if lane is None:
            lane = lanes[key] = Lane(*key)
            first_at = at if first_at is None else min(first_at, at)
        elif current[key] is None:
            continue  # a closed chat's lane is over: nothing comes after closed
        held = current.get(key)
        if chat is not None and cause == CALL:
            lane.calls.append((at, to_state))
        if cause == (ALERT if chat is not None else OVERRUN):
            lane.alerts.append(at)
        if held is not None and to_state == held[0]:
            continue  # the same state goes on (a wrap-up extended, a break taken while busy)
        if held is not None and at > held[1]:
            lane.intervals.append(Interval(held[0], held[1], at, held[2]))
        if chat is not None and to_state == CLOSED:
            current[key] = None
            continue
        current[key] = (to_state, at, cause)
    for key, held in current.items():
        if held is not None and end > held[1]:
            lanes[key].intervals.append(Interval(held[0], held[1], end, held[2]))
    if start is None:
        start = end if first_at is None else first_at
    if start > end:
        raise ValueError(f"the window starts ({start}) after it ends ({end})")
    for lane in lanes.values():
        lane.intervals = [i for i in lane.intervals if i.end > start and i.start < end]
        lane.calls = [call for call in lane.calls if start <= call[0] <= end]
        lane.alerts = [at for at in lane.alerts if start <= at <= end]
    return Timeline(start, end, list(lanes.values()))
