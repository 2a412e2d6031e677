"""Statistics per agent and per queue, folded from the event log alone.

Only the ``events`` table is read (and the ``service-level`` config key; the journal of
refusals for a queue's rejected chats), so a
restored snapshot or an imported bundle gives the same figures.  The folds are
pure: they take event rows in log order (``seq``) and the window, and keep state
only for what is still open (a chat in an inbox, a chat waiting in a queue, an
agent's current status), never a list of events.

The window is ``[since, until)``: durations are clipped to it; an event counts when
``since <= at < until``.  Without ``since`` it starts at the beginning of the log;
without ``until`` it ends at the database clock's now and takes in every event logged
so far (an event at exactly ``until`` given belongs to the next window).  Every
event before ``until`` is read, from the first: a chat handled in the window may have
been presented before it, and an agent's status at ``since`` is the last one logged
before it.

Per agent (every agent the log names before ``until``):

- time in each status: from each of its status events to its next one; the last lasts
  until now; each interval clipped to the window;
- handled: chats closed (``to`` closed) from its inbox (the close event names it) in the
  window; handle time: from the chat's first event into an inbox (``to`` new: presented,
  taken, transferred to an agent or created in the inbox) to its close; wrap-up time:
  the chat's time in active-wrapup (its timer running), from its first to its close;
  both averaged over the chats handled (None when none);
- extensions, transfers and returns made in the window: ``extend``, ``transfer`` and
  ``return`` events, each counted for the agent whose inbox the chat was in just before
  (a transfer to an agent is logged with the receiving agent).

Per queue (the event's queue, which is the chat's queue after the change; every queue
the log names before ``until``):

- offered: events that put a chat into queued in it (created, returned, transferred);
- presented or taken: events queued → new; abandoned: queued → closed;
- a wait: from the event that queued a chat to the one that took it out of the queue;
  average and longest over the waits that ended in the window (presented, taken or
  abandoned there), whenever they began;
- rejected: new chats the queue refused (``max-queue-length``, ``when-no-agent refuse``),
  counted from the journal of refusals (the one table read beside ``events``): a refusal
  changes no chat and logs no event, and the journal travels with the state as the log does;
- service level: of the waits that ended in the window, the share that ended by a
  presentation or a take within the queue's ``service-level`` (at most that long);
  None when no wait ended.
"""

from __future__ import annotations

from typing import Callable, Iterable

from . import core
from .errors import UsageError
from .timefmt import format_time, seconds

QUEUED, NEW, ACTIVE_WRAPUP, CLOSED = core.QUEUED, core.NEW, core.ACTIVE_WRAPUP, core.CLOSED

#: The events each fold needs (the others cannot change a figure): ``agents`` reads the
#: agents' status events and a chat's arrivals in an inbox, its wrap-up, close, extensions,
#: transfers and returns; ``queues`` reads a chat's creation and its moves into and out of
#: a queue.  Selecting them in SQL is what keeps a big log fast.
AGENT_EVENTS = (
    "chat IS NULL OR to_state IN ('new', 'active-wrapup', 'closed') OR from_state = 'active-wrapup'"
    " OR cause IN ('return', 'transfer', 'offer-timeout')"
)
QUEUE_EVENTS = ("chat IS NOT NULL AND (from_state IS NULL OR to_state = 'queued' OR from_state = 'queued'"
                " OR cause = 'reply-alert')")


class Window:
    """``since`` (None: the beginning), ``until`` (when durations end), ``end`` (events
    before it count) and ``now`` (the database clock: the current status ends there)."""

    def __init__(self, since: int | None, until: int | None, now: int):
        if since is not None and until is not None and since > until:
            raise UsageError(f"--since {format_time(since)} is after --until {format_time(until)}")
        self.since = since
        self.until = now if until is None else until
        self.end = now + 1 if until is None else until  # events at exactly now count when --until is not given
        self.now = now
        self._low = since if since is not None else -(1 << 62)

    def counts(self, at: int) -> bool:
        """Whether an event at ``at`` falls in the window (the rows read end before ``end``)."""
        return at >= self._low

    def clip(self, start: int, stop: int) -> int:
        """How much of ``[start, stop)`` lies in the window, in ms."""
        return max(0, min(stop, self.until) - max(start, self._low))

    def shown(self) -> dict:
        return {"since": format_time(self.since), "until": format_time(self.until)}


def _average(total_ms: int, n: int) -> int | float | None:
    """The mean of ``n`` durations in seconds, to the nearest millisecond (halves up); None for none."""
    if not n:
        return None
    return seconds((2 * total_ms + n) // (2 * n))


# -- agents ---------------------------------------------------------------------------

# An agent's figures, as a list (faster than an object in the fold).
_STATUS, _SINCE, _TIMES, _HANDLED, _HANDLE_MS, _WRAPUP_MS, _EXTENSIONS, _TRANSFERS, _RETURNS = range(9)
# The clocks' figures: offers that timed out, breaks past their limit, the time over, since when over.
_MISSED, _OVERRUNS, _OVER_MS, _OVER_SINCE = range(9, 13)
#: The causes of a status event that end a break (and so its overrun).
_BREAK_ENDS = ("available", "login", "logout", "break", "offer-timeout")


def _new_agent() -> list:
    return [None, 0, dict.fromkeys(core.STATUSES, 0), 0, 0, 0, 0, 0, 0, 0, 0, 0, None]


def fold_agents(rows: Iterable[tuple], window: Window) -> list[dict]:
    """Per agent, its figures over ``window``.  ``rows``: (at_ms, agent, chat, from_state,
    to_state, cause) in log order, up to ``window.end``; any superset of ``AGENT_EVENTS``."""
    agents: dict[str, list] = {}
    # Per chat in an inbox (or waiting to come back to one): [first arrival in an inbox,
    # its owner, ms in active-wrapup so far, since when in active-wrapup (None: not now)].
    open_chats: dict[str, list] = {}
    counts, clip = window.counts, window.clip
    for at, agent, chat, from_state, to_state, cause in rows:
        figures = None
        if agent is not None:
            figures = agents.get(agent)
            if figures is None:
                figures = agents[agent] = _new_agent()
        if chat is None:  # the agent's status changed
            if figures is None:
                continue
            if figures[_STATUS] is not None:
                times = figures[_TIMES]
                times[figures[_STATUS]] = times.get(figures[_STATUS], 0) + clip(figures[_SINCE], at)
            figures[_STATUS], figures[_SINCE] = to_state, at
            if cause == "break-overrun" or cause in _BREAK_ENDS:
                _overrun(figures, at, cause, window)
            continue
        if cause == "offer-timeout" and figures is not None and counts(at):
            figures[_MISSED] += 1
        state = open_chats.get(chat)
        if state is None:
            state = open_chats[chat] = [None, None, 0, None]
        owner = state[1] if state[1] is not None else agent  # whose inbox the chat was in just before
        if cause == "extend" or cause == "transfer" or cause == "return":
            if owner is not None and counts(at):
                slot = _EXTENSIONS if cause == "extend" else _TRANSFERS if cause == "transfer" else _RETURNS
                maker = agents.get(owner)
                if maker is None:
                    maker = agents[owner] = _new_agent()
                maker[slot] += 1
        if from_state == ACTIVE_WRAPUP and to_state != ACTIVE_WRAPUP and state[3] is not None:
            state[2] += at - state[3]
            state[3] = None
        elif to_state == ACTIVE_WRAPUP and from_state != ACTIVE_WRAPUP:
            state[3] = at
        if to_state == CLOSED:
            del open_chats[chat]
            if figures is not None and state[0] is not None and counts(at):
                figures[_HANDLED] += 1
                figures[_HANDLE_MS] += at - state[0]
                figures[_WRAPUP_MS] += state[2]
            continue
        if to_state == NEW and state[0] is None:
            state[0] = at
        state[1] = None if to_state == QUEUED else agent
    found = []
    for name in sorted(agents):
        figures = agents[name]
        times = figures[_TIMES]
        if figures[_STATUS] is not None:  # the current status lasts until now
            times[figures[_STATUS]] = times.get(figures[_STATUS], 0) + clip(figures[_SINCE], window.now)
        if figures[_OVER_SINCE] is not None:  # a break still over its limit
            figures[_OVER_MS] += clip(figures[_OVER_SINCE], window.now)
        handled = figures[_HANDLED]
        found.append({
            "agent": name,
            "status_seconds": {status: seconds(ms) for status, ms in times.items()},
            "handled": handled,
            "average_handle_seconds": _average(figures[_HANDLE_MS], handled),
            "average_wrapup_seconds": _average(figures[_WRAPUP_MS], handled),
            "extensions": figures[_EXTENSIONS],
            "transfers": figures[_TRANSFERS],
            "returns": figures[_RETURNS],
            "missed_offers": figures[_MISSED],
            "overruns": figures[_OVERRUNS],
            "overrun_seconds": seconds(figures[_OVER_MS]),
        })
    return found


def _overrun(figures: list, at: int, cause: str, window: Window) -> None:
    """A break went over its limit (``break-overrun``), or a break ended: the time over is
    from the one to the other, clipped to the window."""
    if figures[_OVER_SINCE] is not None:
        figures[_OVER_MS] += window.clip(figures[_OVER_SINCE], at)
        figures[_OVER_SINCE] = None
    if cause == "break-overrun":
        figures[_OVER_SINCE] = at
        if window.counts(at):
            figures[_OVERRUNS] += 1


# -- queues ---------------------------------------------------------------------------

_OFFERED, _PRESENTED, _ABANDONED, _WAITS, _WAIT_MS, _LONGEST, _IN_TIME, _ALERTS = range(8)
#: A chat event that leaves the state as it is, in these states, is a reply alert.
_ALERTED = core.CUSTOMER_PRESENT


def _new_queue() -> list:
    """A queue's figures before any event (indexed by ``_OFFERED`` … ``_ALERTS``)."""
    return [0, 0, 0, 0, 0, None, 0, 0]


def fold_queues(rows: Iterable[tuple], window: Window, service_level: Callable[[str], int],
                rejected: dict[str, int] | None = None) -> list[dict]:
    """Per queue, its figures over ``window``.  ``rows``: (at_ms, chat, from_state, to_state,
    queue) in log order, up to ``window.end``; any superset of ``QUEUE_EVENTS``.
    ``service_level(queue)``: the queue's service level in ms.  ``rejected``: per queue, the new
    chats it refused in the window (``rejections``)."""
    rejected = rejected or {}
    queues: dict[str, list] = {name: _new_queue() for name in rejected}
    waiting: dict[str, int] = {}  # chat → since when it waits (its queue does not change meanwhile)
    levels: dict[str, int] = {}
    counts = window.counts
    for at, chat, from_state, to_state, queue in rows:
        if chat is None or queue is None:
            continue
        figures = queues.get(queue)
        if figures is None:
            figures = queues[queue] = _new_queue()
        if from_state == to_state and to_state in _ALERTED:  # a reply alert: the chat stays where it is
            if counts(at):
                figures[_ALERTS] += 1
            continue
        if to_state == QUEUED:
            waiting[chat] = at
            if counts(at):
                figures[_OFFERED] += 1
        elif from_state == QUEUED:
            began = waiting.pop(chat, None)
            if not counts(at):
                continue
            if to_state == NEW:
                figures[_PRESENTED] += 1
            elif to_state == CLOSED:
                figures[_ABANDONED] += 1
            if began is None:
                continue  # a wait whose start the log does not hold
            wait = at - began
            figures[_WAITS] += 1
            figures[_WAIT_MS] += wait
            if figures[_LONGEST] is None or wait > figures[_LONGEST]:
                figures[_LONGEST] = wait
            if to_state == NEW:
                level = levels.get(queue)
                if level is None:
                    level = levels[queue] = service_level(queue)
                if wait <= level:
                    figures[_IN_TIME] += 1
    found = []
    for name in sorted(queues):
        figures = queues[name]
        waits = figures[_WAITS]
        level = levels.get(name)
        found.append({
            "queue": name,
            "offered": figures[_OFFERED],
            "presented_or_taken": figures[_PRESENTED],
            "abandoned": figures[_ABANDONED],
            "rejected": rejected.get(name, 0),
            "waits_ended": waits,
            "average_wait_seconds": _average(figures[_WAIT_MS], waits),
            "longest_wait_seconds": seconds(figures[_LONGEST]),
            "service_level_seconds": seconds(service_level(name) if level is None else level),
            "within_service_level": figures[_IN_TIME],
            "service_level": figures[_IN_TIME] / waits if waits else None,
            "reply_alerts": figures[_ALERTS],
        })
    return found


# -- the commands ---------------------------------------------------------------------


def _rows(tx, columns: str, where: str, end: int) -> Iterable[tuple]:
    cur = tx.conn.cursor()
    cur.row_factory = None
    cur.execute(f"SELECT {columns} FROM events WHERE at_ms < ? AND ({where}) ORDER BY seq", (end,))
    while True:
        batch = cur.fetchmany(5000)
        if not batch:
            return
        yield from batch


def agents(tx, since_ms, until_ms):
    window = Window(since_ms, until_ms, tx.now)

    def figures():
        rows = _rows(tx, "at_ms, agent, chat, from_state, to_state, cause", AGENT_EVENTS, window.end)
        return {**window.shown(), "agents": fold_agents(rows, window)}

    return figures  # read once timers and presentation due now have been applied


def rejections(rows: Iterable[tuple], window: Window) -> dict[str, int]:
    """Per queue, the new chats it refused in ``window`` (``max-queue-length``, ``when-no-agent``):
    the journal of refusals' rows (at_ms, message) of exit 3 whose message is a queue's refusal
    (``queues.rejected_queue``)."""
    from .queues import rejected_queue

    found: dict[str, int] = {}
    for at, message in rows:
        queue = rejected_queue(message)
        if queue is not None and window.counts(at):
            found[queue] = found.get(queue, 0) + 1
    return found


def queues(tx, since_ms, until_ms):
    window = Window(since_ms, until_ms, tx.now)

    def figures():
        rows = _rows(tx, "at_ms, chat, from_state, to_state, queue", QUEUE_EVENTS, window.end)
        refused = rejections(tx.q("SELECT at_ms, message FROM refusals WHERE exit_code = 3 AND at_ms < ?"
                                  " ORDER BY seq", window.end).fetchall(), window)
        return {**window.shown(),
                "queues": fold_queues(rows, window, lambda q: tx.config("service-level", q), refused)}

    return figures
