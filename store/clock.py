"""The clock seam.

The engine never reads the wall clock itself: it is handed a ``wall`` function
returning epoch milliseconds (``system_wall_ms`` by default; tests pass their
own).  The database's clock is computed from it by ``clock_now``:

- virtual: time is ``now_ms``, frozen until ``clock advance``/``clock set``;
- real: time is the wall clock plus ``offset_ms``, never less than ``now_ms``
  (the last instant any command saw), so it never moves backwards, and never
  past ``timefmt.MAX_MS`` (the last millisecond of 9999-12-31): a real clock that
  reaches the end of the calendar stops there.

The offset means something only in real mode: it is computed when the clock
switches to real, and neither moving nor setting a virtual clock touches it
(switching to virtual sets it to 0), so that a virtual database holds nothing
that depends on when or where its script ran.
"""

from __future__ import annotations

import time

from .errors import Refused, UsageError
from .timefmt import MAX_DURATION_MS, MAX_MS, format_duration, format_time
from .validate import shown

VIRTUAL = "virtual"
REAL = "real"
MODES = (VIRTUAL, REAL)
#: Where a fresh database's virtual clock starts for ``run --fresh`` and the pytest fixture
#: (any other new database starts at the wall clock's instant).
FRESH_START = "2026-01-05T09:00:00Z"


def system_wall_ms() -> int:
    return time.time_ns() // 1_000_000


def clock_now(mode: str, now_ms: int, offset_ms: int, wall_ms: int) -> int:
    """The database's time, from its stored clock and the wall clock (pure)."""
    if mode == REAL:
        return min(max(now_ms, wall_ms + offset_ms), max(now_ms, MAX_MS))
    return now_ms


# --- the clock commands (over one command's transaction) ------------------------


def show(tx) -> dict:
    return {"now": format_time(tx.now), "mode": tx.mode}


def move_to(tx, to_ms: int) -> None:
    if to_ms < tx.now:
        raise Refused(f"cannot set the clock to {format_time(to_ms)}: it is {format_time(tx.now)} and never moves backwards")
    if to_ms > MAX_MS:
        raise UsageError(f"cannot move the clock to {_past(to_ms)}: the clock runs from 0001-01-01 to"
                         f" {format_time(MAX_MS)}")
    if tx.mode == REAL:
        tx.offset += to_ms - tx.now
    tx.now = to_ms
    tx.due = True


def _past(ms: int) -> str:
    """An instant past the end of the calendar, said in words."""
    return f"{format_time(MAX_MS)} + {format_duration(ms - MAX_MS)}" if ms - MAX_MS <= MAX_DURATION_MS \
        else "after 9999-12-31"


def advance(tx, duration_ms: int):
    if duration_ms < 0:
        raise UsageError("cannot advance the clock by a negative duration")
    move_to(tx, tx.now + duration_ms)
    return lambda: show(tx)


def pristine(tx) -> bool:
    """No chat, no agent, no event yet."""
    return not any(tx.exists(f"SELECT 1 FROM {table}") for table in ("events", "chats", "agents"))


def set_(tx, at_ms: int):
    if at_ms < tx.now and pristine(tx):
        # Nothing has happened yet: a script may start its story at any instant.
        if tx.mode == REAL:
            tx.offset += at_ms - tx.now
        tx.now = tx.at = at_ms
        tx.due = True
    elif at_ms < tx.now:
        raise Refused(
            f"cannot set the clock to {format_time(at_ms)}: it is {format_time(tx.now)} and never moves backwards"
            " once a database has history; to start afresh, run the scenario with 'chatemu run --fresh FILE',"
            " empty this database with 'chatemu reset', or name a new one with CHATEMU_DB"
        )
    else:
        move_to(tx, at_ms)
    return lambda: show(tx)


def set_mode(tx, mode: str):
    if mode not in MODES:
        raise UsageError(f"unknown clock mode {shown(mode)}")
    if mode == REAL and tx.mode == VIRTUAL:
        # Continuous: real time goes on from the virtual instant, at the wall clock's pace.
        tx.offset = tx.now - tx.wall_ms
    elif mode == VIRTUAL:
        tx.offset = 0
    tx.mode = mode
    return lambda: show(tx)
