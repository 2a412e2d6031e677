"""Errors the engine raises.  Each carries the exit code the CLI documents.

The CLI turns these into ``error: …`` lines in one place (``chatemu.cli.main``);
nothing else in chatemu chooses an exit code.
"""


class ChatemuError(Exception):
    exit_code = 1

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def lines(self) -> list[str]:
        """What the CLI prints on stderr."""
        return [f"error: {self.message}"]


class ExpectationFailed(ChatemuError):
    """``chatemu expect``: a field did not hold.  One line per field, no ``error:``."""

    exit_code = 1

    def __init__(self, mismatches: list[str]):
        super().__init__("; ".join(mismatches))
        self.mismatches = mismatches

    def lines(self) -> list[str]:
        return list(self.mismatches)


class UsageError(ChatemuError):
    """Bad input: an option, a duration, a time, a value."""

    exit_code = 2


class Refused(ChatemuError):
    """The model does not allow this now; nothing was changed."""

    exit_code = 3


class UnknownChat(ChatemuError):
    """A name of something that does not exist: an agent, chat, queue, template, classification
    code, contact, snapshot or break reason (``unknown``)."""

    exit_code = 4


#: What may be unknown (exit 4): each kind of thing a database holds by name.
UNKNOWN_KINDS = ("agent", "chat", "queue", "template", "classification code", "contact", "snapshot", "break reason")


def unknown(kind: str, name: str, where: str | None = None, hint: str | None = None) -> UnknownChat:
    """The one shape of every exit 4: ``unknown KIND NAME[ of queue Q][ (HINT)]``, the name as
    ``validate.shown`` prints it (bare when it is a valid name, quoted otherwise)."""
    from .validate import shown

    assert kind in UNKNOWN_KINDS, kind
    return UnknownChat(f"unknown {kind} {shown(name)}" + (f" of queue {shown(where)}" if where else "")
                       + (f" ({hint})" if hint else ""))


def closest(name: str, names) -> str | None:
    """The name of ``names`` most like ``name`` (a likely typo of it), or None."""
    from difflib import get_close_matches

    found = get_close_matches(name, list(names), n=1, cutoff=0.6) if isinstance(name, str) else []
    return found[0] if found else None


class DatabaseError(ChatemuError):
    """Not a chatemu database, a newer schema, locked, unreadable."""

    exit_code = 5


EXIT_CODES = {
    0: "done",
    1: "a check did not hold (`expect`), or a scenario line failed that way",
    2: "usage: a bad option, value, duration or time",
    3: "refused by the model: the message names the chat, its state and what was tried",
    4: "unknown: names an agent, chat, queue, template, classification code, contact, snapshot or break reason"
       " that does not exist",
    5: "database problem: not a chatemu database, a newer schema, locked, unreadable or read-only",
    70: "internal error (a bug; CHATEMU_DEBUG=1 shows the traceback)",
    130: "interrupted (Ctrl-C)",
}
