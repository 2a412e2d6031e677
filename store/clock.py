"""The clock seam.

The engine never reads the wall clock itself: it is handed a ``wall`` function
returning epoch milliseconds (``system_wall_ms`` by default; tests pass their
own).  The database's clock is computed from it by ``clock_now``:

- virtual: time is ``now_ms``, frozen until ``clock advance``/``clock set``;
- real: time is the wall clock plus ``offset_ms``, never less than ``now_ms``
  (the last instant any command saw), so it never moves backwards.
"""

from __future__ import annotations

import time

VIRTUAL = "virtual"
REAL = "real"
MODES = (VIRTUAL, REAL)


def system_wall_ms() -> int:
    return time.time_ns() // 1_000_000


def clock_now(mode: str, now_ms: int, offset_ms: int, wall_ms: int) -> int:
    """The database's time, from its stored clock and the wall clock (pure)."""
    if mode == REAL:
        return max(now_ms, wall_ms + offset_ms)
    return now_ms
