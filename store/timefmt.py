"""Durations and instants: parsing and formatting, in integer milliseconds.

Pure functions; no clock is read here.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from .errors import UsageError

_UNIT_MS = {"h": 3_600_000, "m": 60_000, "s": 1_000, "ms": 1}
_NUMBER = r"\d+(?:\.\d+)?"
_DURATION = re.compile(
    rf"(?:(?P<h>{_NUMBER})h)?(?:(?P<m>{_NUMBER})m(?!s))?(?:(?P<s>{_NUMBER})s)?(?:(?P<ms>\d+)ms)?", re.ASCII
)
_BARE = re.compile(_NUMBER, re.ASCII)

#: The longest duration accepted: 100 years.  Beyond it a clock leaves the calendar.
MAX_DURATION_MS = 100 * 366 * 24 * 3_600_000

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MIN_MS = int((datetime(1, 1, 1, tzinfo=timezone.utc) - EPOCH) / timedelta(milliseconds=1))
MAX_MS = int((datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=timezone.utc) - EPOCH) / timedelta(milliseconds=1))


def parse_duration(text: str) -> int:
    """``90``, ``90s``, ``1.5s``, ``2m``, ``1m30s``, ``1h``, ``250ms`` → milliseconds.

    A bare number is seconds.  Negative, empty, unknown units, or finer than a
    millisecond: ``UsageError``.
    """
    raw = text
    text = text.strip()
    if not text:
        raise UsageError("empty duration (use e.g. 90, 90s, 1.5s, 2m, 1m30s, 1h)")
    if "." not in text and len(text) <= 40:
        # Whole numbers of a sane length only (the usual case): the same grammar, in integers.
        if _BARE.fullmatch(text):
            total = int(text) * 1000
        else:
            match = _DURATION.fullmatch(text)
            if match is None or not any(match.groupdict().values()):
                raise UsageError(f"bad duration {raw!r} (use e.g. 90, 90s, 1.5s, 2m, 1m30s, 1h)")
            total = sum(int(value) * _UNIT_MS[unit] for unit, value in match.groupdict().items() if value)
        if total > MAX_DURATION_MS:
            raise UsageError(f"bad duration {raw!r}: longer than 100 years")
        return total
    from fractions import Fraction  # here, not at import: start-up is every command's cost

    if _BARE.fullmatch(text):
        total = _number(text, raw) * 1000
    else:
        match = _DURATION.fullmatch(text)
        if match is None or not any(match.groupdict().values()):
            raise UsageError(f"bad duration {clip(raw)!r} (use e.g. 90, 90s, 1.5s, 2m, 1m30s, 1h)")
        total = sum(
            (_number(value, raw) * _UNIT_MS[unit] for unit, value in match.groupdict().items() if value),
            Fraction(0),
        )
    if total.denominator != 1:
        raise UsageError(f"bad duration {clip(raw)!r}: finer than a millisecond")
    if total > MAX_DURATION_MS:
        raise UsageError(f"bad duration {clip(raw)!r}: longer than 100 years")
    return int(total)


def _number(text: str, raw: str):
    """A decimal number's exact value, without converting thousands of digits: leading
    and trailing zeros aside, 21 digits of whole units (each at least a millisecond)
    are past 100 years, and 8 decimals of an hour, minute or second are finer than a
    millisecond."""
    from fractions import Fraction

    whole, _, decimals = text.partition(".")
    whole, decimals = whole.lstrip("0"), decimals.rstrip("0")
    if len(whole) > 20:
        raise UsageError(f"bad duration {clip(raw)!r}: longer than 100 years")
    if len(decimals) > 20:
        raise UsageError(f"bad duration {clip(raw)!r}: finer than a millisecond")
    value = Fraction(int(whole or "0"))
    if decimals:
        value += Fraction(int(decimals), 10 ** len(decimals))
    return value


def clip(text: str, limit: int = 60) -> str:
    """A value typed by the user, cut short for a one-line message."""
    return text if len(text) <= limit else text[:limit] + "…"


def format_duration(ms: int) -> str:
    """Milliseconds → the shortest duration text ``parse_duration`` reads back."""
    if ms == 0:
        return "0s"
    parts = []
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    if hours:
        parts.append(f"{hours}h")
    if minutes:
        parts.append(f"{minutes}m")
    if rest:
        seconds, millis = divmod(rest, 1000)
        parts.append(f"{seconds}.{millis:03d}".rstrip("0").rstrip(".") + "s")
    return "".join(parts)


def seconds(ms: int | None) -> int | float | None:
    """Milliseconds → seconds as a JSON number: whole seconds as an int."""
    if ms is None:
        return None
    whole, part = divmod(ms, 1000)
    return whole if part == 0 else ms / 1000


def clock_face(ms: int | None) -> str:
    """Milliseconds → ``m:ss`` (rounded up to the second), for people."""
    if ms is None:
        return ""
    total = -(-ms // 1000)
    minutes, secs = divmod(total, 60)
    return f"{minutes}:{secs:02d}"


_DAY_MS = 86_400_000
_DATES: dict[int, str] = {}  # day number since the epoch → "YYYY-MM-DDT"
_TIMES: dict[int, str] = {}  # instants formatted lately (a command shows the same ones again and again)


def format_time(ms: int | None) -> str | None:
    """Epoch milliseconds → ISO 8601 UTC with milliseconds and ``Z``.

    The date is formatted once per day (events come in runs of the same day), the
    time of day by arithmetic, and an instant formatted lately is not formatted
    again: a command that logs thousands of events formats thousands of instants."""
    if ms is None:
        return None
    text = _TIMES.get(ms)
    if text is not None:
        return text
    if len(_TIMES) >= 4096:
        _TIMES.clear()
    day, rest = divmod(ms, _DAY_MS)
    date = _DATES.get(day)
    if date is None:
        moment = EPOCH + timedelta(days=day)
        date = f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"  # strftime's %Y gives "500", not "0500"
        if len(_DATES) < 4096:
            _DATES[day] = date
    seconds_, millis = divmod(rest, 1000)
    minutes, secs = divmod(seconds_, 60)
    hours, minutes = divmod(minutes, 60)
    text = _TIMES[ms] = f"{date}{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}Z"
    return text


def parse_time(text: str) -> int:
    """ISO 8601 → epoch milliseconds.  No zone means UTC.  Bad text: ``UsageError``."""
    raw = text
    text = text.strip()
    if text[-1:] in ("z", "Z"):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"bad time {clip(raw)!r} (use ISO 8601, e.g. 2026-01-05T09:00:00Z)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    delta = moment - EPOCH
    if delta % timedelta(milliseconds=1):
        raise UsageError(f"bad time {clip(raw)!r}: finer than a millisecond")
    ms = delta // timedelta(milliseconds=1)
    if not MIN_MS <= ms <= MAX_MS:
        raise UsageError(f"bad time {clip(raw)!r}: out of range (0001-01-01 to 9999-12-31, UTC)")
    return ms
