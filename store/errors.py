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
    """An unknown chat (or an agent named explicitly that does not exist)."""

    exit_code = 4


class DatabaseError(ChatemuError):
    """Not a chatemu database, a newer schema, locked, unreadable."""

    exit_code = 5


EXIT_CODES = {
    0: "done",
    1: "a check did not hold (`expect`), or a scenario line failed that way",
    2: "usage: a bad option, value, duration or time",
    3: "refused by the model: the message names the chat, its state and what was tried",
    4: "unknown chat (or an explicitly named agent that does not exist)",
    5: "database problem: not a chatemu database, a newer schema, locked, unreadable or read-only",
}
