"""``chatemu expect``: compare fields of a chat, an agent or the clock."""

from __future__ import annotations

import json

from chatemu.store.engine import Result
from chatemu.store.errors import ExpectationFailed, UsageError
from chatemu.store.timefmt import clip, parse_duration, parse_time

KINDS = ("chat", "agent", "clock", "config", "inbox", "queue", "events-since")
LISTS = ("inbox", "queue", "events-since")
DURATIONS = {"wrapup_remaining", "active_seconds", "parked_seconds", "wrapup_seconds"}
TIMES = {"created_at", "closed_at", "wrapup_ends_at", "now", "awaiting_reply_since", "break_ends_at", "break_overrun_since"}


def _shown(value, field: str = "") -> str:
    """A field's value in a message for people: a duration as the duration text (``40s``)."""
    if field in DURATIONS and isinstance(value, (int, float)) and not isinstance(value, bool):
        from .render import duration

        return duration(value)
    return value if isinstance(value, str) else json.dumps(value)


def matches(field: str, expected: str, actual) -> bool:
    """Does ``expected`` (as typed) equal the JSON field's ``actual`` value?"""
    if expected == "null":
        return actual is None
    if actual is None:
        return False
    if isinstance(actual, bool):
        if expected not in ("true", "false"):
            raise UsageError(f"bad value {expected!r} for {field}: use true or false")
        return actual == (expected == "true")
    if field in DURATIONS:
        return round(actual * 1000) == parse_duration(expected)
    if field in TIMES:
        return parse_time(actual) == parse_time(expected)
    if isinstance(actual, int):
        try:
            return actual == int(expected)
        except ValueError:
            raise UsageError(f"bad value {expected!r} for {field}: use a whole number or null") from None
    return actual == expected


def run_expect(ctx, kind: str, words: list[str], as_json: bool) -> int:
    from .common import engine, session

    subject, report, failures = evaluate(engine(ctx), kind, words, session(ctx).marks)
    return _conclude(ctx, subject, report, as_json, failures)


def evaluate(eng, kind: str, words: list[str], marks: dict[str, int] | None = None) -> tuple:
    """Compare what ``expect KIND WORDS…`` names: its subject, the report (one item per check,
    as ``--json`` prints them) and a function giving the lines that say what did not hold."""
    if kind not in KINDS:
        raise UsageError(f"expect what? {kind!r} (use chat ID, agent [ID], clock, config [Q], inbox, queue NAME or"
                         " events-since SEQ N)")
    words = list(words or ())
    if kind == "config":
        return _evaluate_config(eng, words)
    if kind in LISTS:
        return _evaluate_list(eng, kind, words, marks or {})
    ident = None
    if kind == "chat" or (kind == "agent" and words and "=" not in words[0]):
        if not words or "=" in words[0]:
            raise UsageError("expect chat needs the chat's id first: expect chat ID FIELD=VALUE…")
        ident = words.pop(0)
    checks = list(_checks(words))
    value = eng.peek(kind, ident).value
    subject = value.get("id", "clock")
    report = []
    for field, expected in checks:
        if field not in value:
            raise UsageError(f"unknown field {field!r} of {kind} (fields: {', '.join(value)})")
        report.append({"field": field, "expected": expected, "got": value[field], "ok": matches(field, expected, value[field])})
    return subject, report, lambda: [
        f"{subject}.{c['field']}: expected {c['expected']}, got {_shown(c['got'], c['field'])}" for c in report if not c["ok"]]


def _checks(words: list[str]):
    """The words ``FIELD=VALUE…`` as (field, expected) pairs, one at a time (so that a caller's own
    check of a field comes before the next word is read); none at all, or a word without ``=``, is
    a usage error."""
    if not words:
        raise UsageError("expect needs at least one FIELD=VALUE")
    for word in words:
        field, sep, expected = word.partition("=")
        if not sep or not field:
            raise UsageError(f"bad check {word!r}: use FIELD=VALUE")
        yield field, expected


def _evaluate_config(eng, words: list[str]) -> tuple:
    """``expect config [Q] KEY=VALUE…``: each key's value (for queue Q: as a chat of Q gets it),
    the value written as ``config set`` takes it; ``profile=NAME`` (or null) the profile applied."""
    from chatemu.store import config as cfg

    queue = words.pop(0) if words and "=" not in words[0] else None
    checks = []
    for field, expected in _checks(words):
        if field != "profile" and field not in cfg.KEYS:
            raise UsageError(f"unknown field {field!r} of config (fields: profile, {', '.join(cfg.KEYS)})")
        checks.append((field, expected, None if field == "profile" else cfg.parse_value(cfg.KEYS[field], expected)))
    value = eng.peek("config", queue).value
    subject = f"config of queue {queue}" if queue else "config"
    report = []
    for field, expected, wanted in checks:
        got = value[field]
        if field == "profile":
            ok = got is None if expected == "null" else got == expected
        else:
            ok, got = got == wanted, cfg.show(cfg.KEYS[field], got)
        report.append({"field": field, "expected": expected, "got": got, "ok": ok})
    return subject, report, lambda: [
        f"{subject}.{c['field']}: expected {c['expected']}, got {_shown(c['got'])}" for c in report if not c["ok"]]


def _item(kind: str, word: str) -> tuple[str, str | None]:
    ident, sep, state = word.partition(":")
    if "=" in word or not ident or (sep and not state):
        raise UsageError(f"bad item {word!r} for expect {kind}: list chat ids, each as ID or ID:STATE")
    return ident, state or None


#: The largest whole number a command line takes (SQLite's largest integer).
MAX_WHOLE = 2**63 - 1


def whole_number(word: str, what: str, use: str) -> int:
    """A whole number from 0 to ``MAX_WHOLE`` written in ASCII digits; else ``UsageError``."""
    if not (word.isascii() and word.isdigit()):
        raise UsageError(f"bad {what} {clip(word)!r}: {use}")
    digits = word.lstrip("0") or "0"  # thousands of leading zeros are a small number, not a huge one
    if len(digits) > len(str(MAX_WHOLE)) or int(digits) > MAX_WHOLE:
        raise UsageError(f"bad {what} {clip(word)!r}: out of range (0 to {MAX_WHOLE})")
    return int(digits)


def _evaluate_list(eng, kind: str, words: list[str], marks: dict[str, int]) -> tuple:
    """``expect inbox [ID[:STATE]…]``, ``expect queue NAME [ID[:STATE]…]``, ``expect events-since SEQ|MARK N``."""
    if kind == "events-since":
        if len(words) != 2:
            raise UsageError("expect events-since needs two words: SEQ (or a scenario's mark) and N, the count")
        since, count = words
        if since in marks:
            seq = marks[since]
        else:
            seq = whole_number(since, "SEQ", "a number, or a name given to 'mark NAME' earlier in the scenario")
        number = whole_number(count, "count", "a whole number")
        got = eng.count_events(seq).value
        subject, field, expected, ok = "events", f"since {since}", count, got == number
        failure = f"events since {since}: expected {count}, got {got}"
    else:
        if kind == "queue":
            if not words:
                raise UsageError("expect queue needs the queue's name first: expect queue NAME [ID[:STATE]…]")
            name = words.pop(0)
            [_item(kind, word) for word in words]  # a bad item is a usage error before anything is read
            chats = eng.queue_waiting(name).value
            subject, field = f"queue {name}", "waiting"
        else:
            chats = eng.chat_list().value
            subject, field = f"inbox of {eng.agent}", "chats"
        items = [_item(kind, word) for word in words]
        expected = " ".join(words)
        got = [f"{chat['id']}:{chat['state']}" for chat in chats]
        ok = len(items) == len(chats) and all(
            ident == chat["id"] and state in (None, chat["state"]) for (ident, state), chat in zip(items, chats))
        failure = f"{subject}: expected {expected or '(none)'}, got {' '.join(got) or '(none)'}"
    return subject, [{"field": field, "expected": expected, "got": got, "ok": ok}], lambda: [failure]


def _conclude(ctx, subject: str, report: list[dict], as_json: bool, failures) -> int:
    """Report the checks: as JSON (or to ``run``'s sink), else nothing when they hold and one
    line per failed check (``failures()``) when not."""
    from .common import session, show

    ok = all(item["ok"] for item in report)
    collecting = session(ctx).sink is not None
    if as_json or collecting:
        show(ctx, Result({"ok": ok, "subject": subject, "checks": report}), True)
        if ok or not collecting:
            return 0 if ok else 1
    if not ok:
        raise ExpectationFailed(failures())
    return 0
