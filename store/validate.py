"""The rules every value that enters the database obeys, whatever way it enters:
a command, a scenario line, a bundle or a snapshot (pure: no I/O)."""

from __future__ import annotations

import re

from .errors import UsageError

DEFAULT_AGENT = "agent-1"
DEFAULT_QUEUE = "default"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+-]{0,63}")
#: Longest message text, in characters.
MAX_TEXT = 10_000
#: Longest customer (contact) name, in characters.
MAX_CUSTOMER = 200
PRIORITY_RANGE = (-1_000_000, 1_000_000)
#: The highest next chat number and event sequence a bundle may bring in: far more than any
#: history holds, leaving room for every chat and event that follows.
MAX_COUNTER = 2**62
#: The highest a database's counters may be (``db check``): SQLite's largest integer, less room
#: for the numbers still to come.
MAX_STORED_COUNTER = 2**63 - 2**32


def shown(name: str) -> str:
    """A user-supplied name, safe to print on one line."""
    return name if isinstance(name, str) and _NAME.fullmatch(name) else repr(name)


def is_name(name) -> bool:
    return isinstance(name, str) and _NAME.fullmatch(name) is not None


def check_name(kind: str, name: str) -> str:
    if not is_name(name):
        raise UsageError(
            f"bad {kind} {shown(name)}: use 1 to 64 letters, digits and . _ : @ + -, starting with a letter or digit"
        )
    return name


def customer_problem(customer) -> str | None:
    """Why ``customer`` is not a valid customer (contact) name, or None."""
    if not isinstance(customer, str) or not customer.strip() or len(customer) > MAX_CUSTOMER or not customer.isprintable():
        return f"use 1 to {MAX_CUSTOMER} printable characters"
    return None


def check_customer(customer: str) -> str:
    problem = customer_problem(customer)
    if problem:
        raise UsageError(f"bad customer name {customer!r}: {problem}")
    return customer


def check_word(word: str) -> str:
    """A word of a command line (or a text argument from Python): text that a command line could
    carry, with no NUL character and no lone surrogate (UTF-8 text)."""
    if not isinstance(word, str):
        raise UsageError(f"argument {word!r} is not text")
    if "\0" in word:
        raise UsageError(f"argument {word!r} holds a NUL character")
    try:
        word.encode("utf-8")
    except UnicodeEncodeError:
        escaped = all(not 0xD800 <= ord(ch) <= 0xDFFF or 0xDC80 <= ord(ch) <= 0xDCFF for ch in word)
        shown_ = word.encode("utf-8", "surrogateescape" if escaped else "backslashreplace")  # argv's undecodable bytes
        raise UsageError(f"argument {shown_!r} is not UTF-8 text") from None
    return word


def check_bool(kind: str, value) -> bool:
    """A flag: ``True`` or ``False`` only (not 1, not "no")."""
    if not isinstance(value, bool):
        raise UsageError(f"bad {kind} {value!r}: use True or False")
    return value


def check_int(kind: str, value) -> int:
    """A whole number: an ``int``, never a bool or a float."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"bad {kind} {value!r}: use a whole number")
    return value


def check_seq(kind: str, since) -> int:
    """``--since SEQ`` of ``events`` (``kind`` "event") and ``refusals`` ("refusal"): 0 or more,
    and no larger than a stored seq can be."""
    check_int("--since", since)
    if not 0 <= since < 2**63:
        raise UsageError(f"bad --since {since}: " + ("use a seq, 0 or more" if since < 0 else f"no {kind} has a seq that large"))
    return since


def check_id(kind: str, value) -> int:
    """A stored row's number (a webhook's, a token's): a whole number from 1, and no larger than
    SQLite stores; else ``UsageError`` (``bad KIND id N: …``)."""
    check_int(f"{kind} id", value)
    if not 1 <= value < 2**63:
        raise UsageError(f"bad {kind} id {value}: " + ("use 1 or more" if value < 1 else f"no {kind} has an id that large"))
    return value


def check_priority(priority: int) -> int:
    low, high = PRIORITY_RANGE
    check_int("priority", priority)
    if not low <= priority <= high:
        raise UsageError(f"bad priority {priority}: use {low} to {high}")
    return priority


def text_problem(text) -> str | None:
    """Why ``text`` is not a valid message (or note) text, or None."""
    if not isinstance(text, str):
        return "it is not text"
    if not text:
        return "it is empty"
    if len(text) > MAX_TEXT:
        return f"it has {len(text)} characters, more than {MAX_TEXT}"
    return control_problem(text, "\n\t")


def check_text(kind: str, text: str) -> str:
    problem = text_problem(text)
    if problem:
        raise UsageError(f"bad {kind}: {problem}")
    return text


# -- rules for stored values no command types in (``db check`` and import hold them) ------------


def control_problem(text: str, allowed: str = "") -> str | None:
    """The first control character of ``text`` (C0, DEL, C1, a lone surrogate) not in
    ``allowed``, said in words; None when it has none."""
    if text.isascii() and text.isprintable():
        return None  # the usual case, at C speed
    for ch in text:
        if ch in allowed:
            continue
        code = ord(ch)
        if code < 0x20 or 0x7F <= code < 0xA0 or 0xD800 <= code < 0xE000:
            shown_allowed = " and ".join({"\n": "newline", "\t": "tab"}.get(c, repr(c)) for c in allowed)
            return f"it holds the control character {ch!r}" + (
                f" (only {shown_allowed} are allowed)" if allowed else "")
    return None


def line_problem(text) -> str | None:
    """Why ``text`` is not one line of text without control characters (a refusal's message, as
    chatemu words it: every value a user typed shown escaped), or None.  Its length is not limited."""
    if not isinstance(text, str):
        return "it is not text"
    if not text:
        return "it is empty"
    return control_problem(text)


def command_problem(text) -> str | None:
    """Why ``text`` is not a command line as a refusal's journal keeps it, or None: a command line
    holds what its words held as typed (any character but NUL, which no command line can carry,
    and a lone surrogate, which no database stores); its length is not limited here."""
    if not isinstance(text, str):
        return "it is not text"
    if not text:
        return "it is empty"
    if "\0" in text:
        return "it holds NUL"
    if not text.isascii() and any(0xD800 <= ord(ch) < 0xE000 for ch in text):
        return "it holds a lone surrogate"
    return None


_NAMESPACE = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


def check_namespace(ns) -> str:
    """A namespace name (``chatemu serve``: the database ``DIR/NS.db``; ``chatemu token --ns``):
    1 to 64 of ``a-z 0-9 -``, starting with a letter or digit."""
    if not isinstance(ns, str) or not _NAMESPACE.fullmatch(ns):
        raise UsageError(f"bad namespace {shown(ns) if isinstance(ns, str) else repr(ns)}:"
                         " use 1 to 64 lower-case letters, digits and -, starting with a letter or digit")
    return ns
