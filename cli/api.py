"""chatemu from Python: an ``Emulator`` over one database file, and the errors it raises.

Each method is one chatemu command, run by the engine in this process (no ``chatemu``
process is started, except by ``run``), and returns what that command prints with
``--json``.  A refused or bad command raises the same error the command line reports,
with its ``exit_code`` and its one-line ``message``:

==========================  =========  ==============================================
class                       exit_code  when
==========================  =========  ==============================================
``ExpectationFailed``       1          an ``expect`` line of a scenario did not hold
``UsageError``              2          a bad value: a duration, a time, a config value
``Refused``                 3          the model does not allow it now (nothing changed)
``UnknownChat``             4          an unknown chat, or an agent that does not exist
``DatabaseError``           5          not a chatemu database, locked, unreadable
==========================  =========  ==============================================

All of them are ``ChatemuError``.  This module imports neither Typer nor rich.
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys

from chatemu.store.engine import Engine
from chatemu.store.errors import (
    ChatemuError,
    DatabaseError,
    ExpectationFailed,
    Refused,
    UnknownChat,
    UsageError,
)
from chatemu.store.timefmt import parse_duration, parse_time
from chatemu.store.validate import DEFAULT_AGENT, DEFAULT_QUEUE

__all__ = [
    "Emulator", "ChatemuError", "ExpectationFailed", "UsageError", "Refused", "UnknownChat",
    "DatabaseError", "ScenarioFailure", "error_for",
]

#: Where the ``chatemu`` fixture's virtual clock starts.
START = "2026-01-05T09:00:00Z"


def error_for(exit_code: int, message: str) -> ChatemuError:
    """The error the command line reports with this exit code, carrying ``message``."""
    if exit_code == 1:
        return ExpectationFailed([message])
    for cls in (UsageError, Refused, UnknownChat, DatabaseError):
        if cls.exit_code == exit_code:
            return cls(message)
    error = ChatemuError(message)
    error.exit_code = exit_code
    return error


class ScenarioFailure:
    """Where a scenario stopped: attached as ``.scenario`` to the error ``Emulator.run`` raises.

    ``path`` as given, ``line`` (1-based; 0 when the file could not be read at all), the
    ``command`` as run, the ``exit_code`` and the ``message``; ``records``: one per line run,
    as ``chatemu run --json`` prints them."""

    def __init__(self, path: str, line: int, command: str, exit_code: int, message: str, records: list[dict]):
        self.path, self.line, self.command = path, line, command
        self.exit_code, self.message, self.records = exit_code, message, records

    def __str__(self) -> str:
        """For people (a test's failure): control characters shown escaped (``\\x1b``)."""
        from .render import escape_controls

        if not self.line:
            return escape_controls(f"{self.path}: {self.message}")
        return escape_controls(f"{self.path}:{self.line}: {self.command}: {self.message}")


def _duration_ms(duration) -> int:
    if isinstance(duration, bool):
        raise UsageError(f"a duration is a string such as '20s' or whole milliseconds, not {duration!r}")
    if isinstance(duration, int):
        return duration
    if isinstance(duration, datetime.timedelta):
        return duration // datetime.timedelta(milliseconds=1)
    if isinstance(duration, str):
        return parse_duration(duration)
    raise UsageError(f"a duration is a string such as '20s' or whole milliseconds, not {duration!r}")


def _config_text(value) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


class Emulator:
    """chatemu on one database file, acting as one agent (``agent-1`` unless told).

    Nothing is written until the first command that changes something: that command
    creates the database, its clock virtual at the current time (the ``chatemu``
    fixture sets it to 2026-01-05T09:00:00Z first).

    Example::

        emu = Emulator("/tmp/inbox.db")
        emu.set_clock("2026-01-05T09:00:00Z")
        emu.new(customer="Ann")          # {'id': 'C1', 'state': 'new', 'agent': 'agent-1', …}
        emu.activate("C1")
        emu.advance("20s")
    """

    def __init__(self, path: str | os.PathLike, agent: str = DEFAULT_AGENT):
        self.path = os.fspath(path)
        self.engine = Engine(self.path, agent)

    @property
    def agent_id(self) -> str:
        """The agent this emulator acts as."""
        return self.engine.agent

    def __repr__(self) -> str:
        return f"Emulator({self.path!r}, agent={self.agent_id!r})"

    def as_agent(self, agent_id: str) -> "Emulator":
        """The same database, acting as another agent.  An agent other than the first
        must log in before it acts: ``emu.as_agent("agent-2").login()``."""
        return Emulator(self.path, agent_id)

    # -- chats -----------------------------------------------------------------------------

    def new(self, customer: str | None = None, queue: str = DEFAULT_QUEUE, priority: int = 0,
            id: str | None = None, inbox: bool = False) -> dict:
        """``chat new``: a customer starts a chat (queued, or new in the inbox with ``inbox``)."""
        return self.engine.chat_new(customer, queue, priority, id, inbox).value

    def take(self, id: str) -> dict:
        """``chat take``: pick a queued chat into this agent's inbox."""
        return self.engine.chat_take(id).value

    def activate(self, id: str) -> dict:
        """``chat activate``: make the chat the active item."""
        return self.engine.chat_activate(id).value

    def park(self, id: str) -> dict:
        """``chat park``."""
        return self.engine.chat_park(id).value

    def end(self, id: str) -> dict:
        """``chat end``: the customer ends the chat."""
        return self.engine.chat_end(id).value

    def wrapup(self, id: str, extend: bool = False, finish: bool = False) -> dict:
        """``chat wrapup [--extend|--finish]``."""
        return self.engine.chat_wrapup(id, extend, finish).value

    def return_(self, id: str) -> dict:
        """``chat return``: back, queued, to the queue it first arrived in."""
        return self.engine.chat_return(id).value

    def transfer(self, id: str, queue: str | None = None, agent: str | None = None) -> dict:
        """``chat transfer --queue Q`` or ``--agent A``."""
        return self.engine.chat_transfer(id, queue, agent).value

    def send(self, id: str, text: str | None = None, template: str | None = None) -> dict:
        """``chat send``: the agent's message (or a template's text)."""
        return self.engine.chat_send(id, text, template).value

    def receive(self, id: str, text: str) -> dict:
        """``chat receive``: a customer message."""
        return self.engine.chat_receive(id, text).value

    def transcript(self, id: str) -> list:
        """``chat transcript``: the chat's messages in order."""
        return self.engine.chat_transcript(id).value

    def classify(self, id: str, code: str, note: str | None = None) -> dict:
        """``chat classify CODE [--note TEXT]``."""
        return self.engine.chat_classify(id, code, note).value

    def flag_abusive(self, id: str) -> dict:
        """``chat flag-abusive``."""
        return self.engine.chat_flag_abusive(id).value

    def contact(self, id: str, name: str) -> dict:
        """``chat contact``: assign the chat to a contact."""
        return self.engine.chat_contact(id, name).value

    def call_start(self) -> dict:
        """``chat call-start``: returns the agent."""
        return self.engine.call_start().value

    def call_end(self) -> dict:
        """``chat call-end``: returns the agent."""
        return self.engine.call_end().value

    def chat(self, id: str) -> dict:
        """``chat show``."""
        return self.engine.chat_show(id).value

    def chats(self, all: bool = False, state: str | None = None, queue: str | None = None) -> list:
        """``chat list``: this agent's inbox, or every chat with ``all``."""
        return self.engine.chat_list(all, state, queue).value

    def history(self, name: str) -> list:
        """``contact history``."""
        return self.engine.contact_history(name).value

    # -- agents and queues -----------------------------------------------------------------

    def agent(self, id: str | None = None) -> dict:
        """``agent status [ID]``: this agent, or another."""
        return self.engine.agent_status(id).value

    def agents(self) -> list:
        """``agent list``."""
        return self.engine.agent_list().value

    def login(self) -> dict:
        """``agent login``: needed before any agent but the first acts."""
        return self.engine.agent_login().value

    def logout(self, return_chats: bool = False) -> dict:
        """``agent logout [--return]``."""
        return self.engine.agent_logout(return_chats).value

    def available(self) -> dict:
        """``agent available``."""
        return self.engine.agent_presence("available").value

    def break_(self, reason: str | None = None) -> dict:
        """``agent break [--reason R]``."""
        return self.engine.agent_presence("break", reason).value

    def queues(self) -> list:
        """``queue list``."""
        return self.engine.queue_list().value

    def queue(self, name: str) -> dict:
        """``queue show``."""
        return self.engine.queue_show(name).value

    def queue_add(self, name: str) -> dict:
        """``queue add``."""
        return self.engine.queue_add(name).value

    def agent_queues(self, id: str | None = None):
        """``agent queues``: this agent's queues in its order."""
        return self.engine.agent_queues(id).value

    def set_queues(self, *names: str):
        """``agent queues set Q...``: exactly these queues, first served first."""
        return self.engine.agent_queues_set(list(names)).value

    def clear_queues(self):
        """``agent queues clear``: no queue assigned, so every queue is served."""
        return self.engine.agent_queues_clear().value

    def queue_on(self, name: str):
        """``agent queues on Q``."""
        return self.engine.agent_queues_switch(name, True).value

    def queue_off(self, name: str):
        """``agent queues off Q``."""
        return self.engine.agent_queues_switch(name, False).value

    def break_reasons(self) -> list:
        """``break-reason list``."""
        return self.engine.break_reason_list().value

    def break_reason_add(self, reason: str) -> list:
        """``break-reason add``."""
        return self.engine.break_reason_add(reason).value

    def template_add(self, name: str, text: str, queue: str | None = None):
        """``template add``."""
        return self.engine.template_add(name, text, queue).value

    def classification_add(self, code: str, queue: str | None = None):
        """``classification add``."""
        return self.engine.classification_add(code, queue).value

    # -- clock, config, events -------------------------------------------------------------

    def clock(self) -> dict:
        """``clock``: ``{"now": …, "mode": …}``."""
        return self.engine.clock_show().value

    def advance(self, duration) -> dict:
        """``clock advance``: ``"20s"``, ``"1m30s"``, whole milliseconds or a ``timedelta``."""
        return self.engine.clock_advance(_duration_ms(duration)).value

    def set_clock(self, iso: str) -> dict:
        """``clock set``: an ISO time such as ``"2026-01-05T09:00:00Z"`` (never backwards)."""
        if not isinstance(iso, str):
            raise UsageError(f"a time is an ISO string such as '2026-01-05T09:00:00Z', not {iso!r}")
        return self.engine.clock_set(parse_time(iso)).value

    def config(self, key: str, value, queue: str | None = None, agent: str | None = None):
        """``config set KEY VALUE [--queue Q] [--agent A]``.  ``True``/``False`` are on/off,
        a list is names separated by commas, anything else is written as ``str(value)``."""
        return self.engine.config_set(key, _config_text(value), queue, agent).value

    def settings(self) -> dict:
        """``config show``."""
        return self.engine.config_show().value

    def events(self, chat: str | None = None, agent: str | None = None, since: int = 0) -> list:
        """``events [--chat ID] [--agent ID] [--since SEQ]``."""
        return self.engine.events(chat, agent, since).value

    def explain(self, id: str) -> dict:
        """``explain``: why the chat is in its state and what would move it next."""
        return self.engine.explain(id).value

    # -- scenarios -------------------------------------------------------------------------

    def run(self, path: str | os.PathLike) -> list[dict]:
        """``chatemu run FILE`` on this database as this agent, in a ``chatemu`` process.

        Returns one record per line, as ``run --json`` prints them (``line``, ``command``,
        ``exit``, ``result``).  Stops at the first failing line and raises the error of its
        exit code, its message ``FILE:LINE: COMMAND: what happened``, its ``scenario`` a
        ``ScenarioFailure``."""
        shown = os.fspath(path)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHATEMU_")}
        env["NO_COLOR"] = "1"
        env.pop("FORCE_COLOR", None)
        done = subprocess.run(
            [sys.executable, "-m", "chatemu.cli", "--db", self.path, "--agent", self.agent_id,
             "run", "--json", shown],
            capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL,
        )
        records = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
        if done.returncode == 0:
            return records
        failed = next((r for r in records if r.get("exit")), None)
        if failed is not None:
            failure = ScenarioFailure(shown, failed["line"], failed["command"], failed["exit"],
                                      failed.get("error", ""), records)
        else:  # the file itself could not be read
            errors = [e.removeprefix("error: ") for e in done.stderr.splitlines() if e.strip()]
            failure = ScenarioFailure(shown, 0, "", done.returncode, "; ".join(errors), records)
        error = error_for(failure.exit_code, str(failure))
        error.scenario = failure
        raise error
