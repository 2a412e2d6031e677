"""chatemu from Python: an ``Emulator`` over one database file, and the errors it raises.

Each method is one chatemu command, run by the engine in this process (no ``chatemu``
process is started, except by ``run``), and returns what that command prints with
``--json``.  A refused or bad command raises the same error the command line reports,
with its ``exit_code`` and its one-line ``message``:

==========================  =========  ==============================================
class                       exit_code  when
==========================  =========  ==============================================
``ExpectationFailed``       1          ``expect``, or an ``expect`` line of a scenario, did not hold
``UsageError``              2          a bad value or an argument of the wrong type
``Refused``                 3          the model does not allow it now (nothing changed)
``UnknownChat``             4          an unknown chat, or an agent that does not exist
``DatabaseError``           5          not a chatemu database, locked, unreadable
==========================  =========  ==============================================

All of them are ``ChatemuError``.  This module imports neither Typer nor rich.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import inspect
import json
import os
import shutil
import subprocess
import sys
import tempfile
from typing import Any, Union

from chatemu.store.clock import FRESH_START
from chatemu.store.engine import Engine
from chatemu.store.errors import (
    ChatemuError,
    DatabaseError,
    ExpectationFailed,
    Refused,
    UnknownChat,
    UsageError,
)
from chatemu.store.timefmt import MAX_DURATION_MS, parse_duration, parse_time
from chatemu.store.validate import DEFAULT_AGENT, DEFAULT_QUEUE, check_bool, check_int, check_seq, check_word

__all__ = [
    "Emulator", "ChatemuError", "ExpectationFailed", "UsageError", "Refused", "UnknownChat",
    "DatabaseError", "ScenarioFailure", "error_for", "emulated",
]

#: A file path: a ``str`` or an ``os.PathLike`` of one.
Path = Union[str, "os.PathLike[str]"]

#: Where the ``chatemu`` fixture's virtual clock starts (as ``run --fresh``'s does).
START = FRESH_START


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
    if isinstance(duration, datetime.timedelta):
        ms, rest = divmod(duration, datetime.timedelta(milliseconds=1))
        if rest:
            raise UsageError(f"bad duration {duration!r}: finer than a millisecond")
    elif isinstance(duration, str):
        return parse_duration(check_word(duration))
    elif isinstance(duration, int) and not isinstance(duration, bool):
        ms = duration
    else:
        raise UsageError(f"a duration is a string such as '20s', whole milliseconds or a timedelta, not {duration!r}")
    if ms > MAX_DURATION_MS:
        raise UsageError(f"bad duration {ms} ms: longer than 100 years")
    return ms


def _config_text(value) -> str:
    """A configuration value as ``config set`` takes it: on/off for a bool, names joined by commas
    for a list, the digits of a whole number, or the text as it is."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        return ",".join(_text("value", item) for item in value)
    return _text("value", value)


def _window(since: str | None, until: str | None) -> tuple:
    return (None if since is None else parse_time(since), None if until is None else parse_time(until))


def _text(name: str, value) -> str:
    if not isinstance(value, str):
        raise UsageError(f"bad {name} {value!r}: use text (a str)")
    return check_word(value)


def _path(name: str, value) -> str:
    """A file path as a ``str`` or an ``os.PathLike`` of one (never bytes), as a command line
    could name it."""
    if isinstance(value, os.PathLike):
        try:
            value = os.fspath(value)
        except TypeError:
            value = None
    if not isinstance(value, str):
        raise UsageError(f"bad {name} {value!r}: use a path (a str or a pathlib.Path)")
    if not value:
        raise UsageError(f"bad {name}: an empty path")
    return check_word(value)


#: How each annotation of a public method is checked: the same rules as the command line's.
_RULES = {
    "str": _text,
    "str | None": lambda name, value: None if value is None else _text(name, value),
    "bool": check_bool,
    "int": check_int,
    "Path": _path,
    "Path | None": lambda name, value: None if value is None else _path(name, value),
    "Any": lambda name, value: value,  # checked by the method itself
}


def _strict(method):
    """Check every argument by its annotation before the method runs (a path is passed on as its
    ``str``): anything wrong (a missing or unexpected argument too) is a ``UsageError``, exit
    code 2, and nothing is run."""
    signature = inspect.signature(method)
    rules = {name: _RULES[param.annotation] for name, param in signature.parameters.items() if name != "self"}

    @functools.wraps(method)
    def checked(self, *args, **kwargs):
        try:
            bound = signature.bind(self, *args, **kwargs)
        except TypeError as exc:
            raise UsageError(f"{method.__name__}(): {exc}") from None
        for name, value in bound.arguments.items():
            if name == "self":
                continue
            if signature.parameters[name].kind is inspect.Parameter.VAR_POSITIONAL:
                bound.arguments[name] = tuple(rules[name](name, item) for item in value)
            else:
                bound.arguments[name] = rules[name](name, value)
        return method(*bound.args, **bound.kwargs)

    return checked


class Emulator:
    """chatemu on one database file, acting as one agent (``agent-1`` unless told).

    Nothing is written until the first command that changes something: that command
    creates the database, its clock virtual at the current time (the ``chatemu``
    fixture sets it to 2026-01-05T09:00:00Z first).

    Every argument is checked as the command line checks its words (a flag is a ``bool``, a
    number an ``int``, a name or text a ``str``, a path a ``str`` or ``os.PathLike``); anything
    else raises ``UsageError`` before anything is read or written.

    Example::

        emu = Emulator("/tmp/inbox.db")
        emu.set_clock("2026-01-05T09:00:00Z")
        emu.new(customer="Ann")          # {'id': 'C1', 'state': 'new', 'agent': 'agent-1', …}
        emu.activate("C1")
        emu.advance("20s")
    """

    @_strict
    def __init__(self, path: Path, agent: str = DEFAULT_AGENT):
        self.path = path
        self.engine = Engine(path, agent)

    @property
    def agent_id(self) -> str:
        """The agent this emulator acts as."""
        return self.engine.agent

    def __repr__(self) -> str:
        return f"Emulator({self.path!r}, agent={self.agent_id!r})"

    @_strict
    def as_agent(self, agent_id: str) -> "Emulator":
        """The same database, acting as another agent.  An agent other than the first
        must log in before it acts: ``emu.as_agent("agent-2").login()``."""
        return Emulator(self.path, agent_id)

    @_strict
    def preset(self, clock: str | None = None, config: Any = None) -> dict:
        """Set the clock (``set_clock``) and configuration keys (``config``) in one go: ``config``
        maps each key to its value, ``{"max-chats": 2, "wrapup": "30s"}``.  Returns ``settings()``."""
        if config is not None and not isinstance(config, dict):
            raise UsageError(f"bad config {config!r}: use a dict of key: value")
        for key in (config or {}):
            _text("config key", key)
        if clock is not None:
            self.set_clock(clock)
        for key, value in (config or {}).items():
            self.config(key, value)
        return self.settings()

    # -- chats -----------------------------------------------------------------------------

    @_strict
    def new(self, customer: str | None = None, queue: str = DEFAULT_QUEUE, priority: int = 0,
            id: str | None = None, inbox: bool = False, patience: str | None = None) -> dict:
        """``chat new``: a customer starts a chat (queued, or new in the inbox with ``inbox``;
        ``patience``, e.g. ``"2m"``: the customer leaves if still queued after it)."""
        return self.engine.chat_new(customer, queue, priority, id, inbox, patience).value

    @_strict
    def take(self, id: str) -> dict:
        """``chat take``: pick a queued chat into this agent's inbox."""
        return self.engine.chat_take(id).value

    @_strict
    def activate(self, id: str) -> dict:
        """``chat activate``: make the chat the active item."""
        return self.engine.chat_activate(id).value

    @_strict
    def park(self, id: str) -> dict:
        """``chat park``."""
        return self.engine.chat_park(id).value

    @_strict
    def end(self, id: str) -> dict:
        """``chat end``: the customer ends the chat."""
        return self.engine.chat_end(id).value

    @_strict
    def wrapup(self, id: str, extend: bool = False, finish: bool = False) -> dict:
        """``chat wrapup [--extend|--finish]``."""
        return self.engine.chat_wrapup(id, extend, finish).value

    @_strict
    def return_(self, id: str) -> dict:
        """``chat return``: back, queued, to the queue it first arrived in."""
        return self.engine.chat_return(id).value

    @_strict
    def transfer(self, id: str, queue: str | None = None, agent: str | None = None) -> dict:
        """``chat transfer --queue Q`` or ``--agent A``."""
        return self.engine.chat_transfer(id, queue, agent).value

    @_strict
    def send(self, id: str, text: str | None = None, template: str | None = None) -> dict:
        """``chat send``: the agent's message (or a template's text)."""
        return self.engine.chat_send(id, text, template).value

    @_strict
    def receive(self, id: str, text: str) -> dict:
        """``chat receive``: a customer message."""
        return self.engine.chat_receive(id, text).value

    @_strict
    def transcript(self, id: str) -> list:
        """``chat transcript``: the chat's messages in order."""
        return self.engine.chat_transcript(id).value

    @_strict
    def classify(self, id: str, code: str, note: str | None = None) -> dict:
        """``chat classify CODE [--note TEXT]``."""
        return self.engine.chat_classify(id, code, note).value

    @_strict
    def flag_abusive(self, id: str) -> dict:
        """``chat flag-abusive``."""
        return self.engine.chat_flag_abusive(id).value

    @_strict
    def contact(self, id: str, name: str) -> dict:
        """``chat contact``: assign the chat to a contact."""
        return self.engine.chat_contact(id, name).value

    @_strict
    def call_start(self) -> dict:
        """``chat call-start``: returns the agent."""
        return self.engine.call_start().value

    @_strict
    def call_end(self) -> dict:
        """``chat call-end``: returns the agent."""
        return self.engine.call_end().value

    @_strict
    def chat(self, id: str) -> dict:
        """``chat show``."""
        return self.engine.chat_show(id).value

    @_strict
    def chats(self, all: bool = False, state: str | None = None, queue: str | None = None) -> list:
        """``chat list``: this agent's inbox, or every chat with ``all``."""
        return self.engine.chat_list(all, state, queue).value

    @_strict
    def history(self, name: str) -> list:
        """``contact history``."""
        return self.engine.contact_history(name).value

    # -- agents and queues -----------------------------------------------------------------

    @_strict
    def agent(self, id: str | None = None) -> dict:
        """``agent status [ID]``: this agent, or another."""
        return self.engine.agent_status(id).value

    @_strict
    def agents(self) -> list:
        """``agent list``."""
        return self.engine.agent_list().value

    @_strict
    def login(self) -> dict:
        """``agent login``: needed before any agent but the first acts."""
        return self.engine.agent_login().value

    @_strict
    def logout(self, return_chats: bool = False) -> dict:
        """``agent logout [--return]``."""
        return self.engine.agent_logout(return_chats).value

    @_strict
    def disconnect(self) -> dict:
        """``agent disconnect``: the connection is lost; ``available()`` once reconnected."""
        return self.engine.agent_disconnect().value

    @_strict
    def available(self) -> dict:
        """``agent available``."""
        return self.engine.agent_presence("available").value

    @_strict
    def break_(self, reason: str | None = None) -> dict:
        """``agent break [--reason R]``."""
        return self.engine.agent_presence("break", reason).value

    @_strict
    def queues(self) -> list:
        """``queue list``."""
        return self.engine.queue_list().value

    @_strict
    def queue(self, name: str) -> dict:
        """``queue show``."""
        return self.engine.queue_show(name).value

    @_strict
    def queue_add(self, name: str) -> dict:
        """``queue add``."""
        return self.engine.queue_add(name).value

    @_strict
    def agent_queues(self, id: str | None = None):
        """``agent queues``: this agent's queues in its order."""
        return self.engine.agent_queues(id).value

    @_strict
    def set_queues(self, *names: str):
        """``agent queues set Q...``: exactly these queues, first served first."""
        return self.engine.agent_queues_set(list(names)).value

    @_strict
    def clear_queues(self):
        """``agent queues clear``: no queue assigned, so every queue is served."""
        return self.engine.agent_queues_clear().value

    @_strict
    def queue_on(self, name: str):
        """``agent queues on Q``."""
        return self.engine.agent_queues_switch(name, True).value

    @_strict
    def queue_off(self, name: str):
        """``agent queues off Q``."""
        return self.engine.agent_queues_switch(name, False).value

    @_strict
    def break_reasons(self) -> list:
        """``break-reason list``."""
        return self.engine.break_reason_list().value

    @_strict
    def break_reason_add(self, reason: str, limit: str | None = None) -> list:
        """``break-reason add`` (``limit``, e.g. ``"30m"``: a break for it longer than that overruns)."""
        return self.engine.break_reason_add(reason, limit).value

    @_strict
    def break_reason_remove(self, reason: str) -> list:
        """``break-reason remove``."""
        return self.engine.break_reason_remove(reason).value

    # -- templates and classification codes ------------------------------------------------

    @_strict
    def template_add(self, name: str, text: str, queue: str | None = None):
        """``template add``."""
        return self.engine.template_add(name, text, queue).value

    @_strict
    def templates(self, queue: str | None = None) -> list:
        """``template list [--queue Q]``: with ``queue``, those a chat of that queue uses."""
        return self.engine.template_list(queue).value

    @_strict
    def template_remove(self, name: str, queue: str | None = None):
        """``template remove``."""
        return self.engine.template_remove(name, queue).value

    @_strict
    def classification_add(self, code: str, queue: str | None = None):
        """``classification add``."""
        return self.engine.classification_add(code, queue).value

    @_strict
    def classifications(self, queue: str | None = None) -> list:
        """``classification list [--queue Q]``: with ``queue``, the codes a chat of that queue may use."""
        return self.engine.classification_list(queue).value

    @_strict
    def classification_remove(self, code: str, queue: str | None = None):
        """``classification remove``."""
        return self.engine.classification_remove(code, queue).value

    # -- clock, config, events -------------------------------------------------------------

    @_strict
    def clock(self) -> dict:
        """``clock``: ``{"now": …, "mode": …}``."""
        return self.engine.clock_show().value

    @_strict
    def advance(self, duration: Any) -> dict:
        """``clock advance``: ``"20s"``, ``"1m30s"``, whole milliseconds or a ``timedelta``."""
        return self.engine.clock_advance(_duration_ms(duration)).value

    @_strict
    def set_clock(self, iso: str) -> dict:
        """``clock set``: an ISO time such as ``"2026-01-05T09:00:00Z"`` (never backwards)."""
        return self.engine.clock_set(parse_time(iso)).value

    @_strict
    def clock_real(self) -> dict:
        """``clock real``: the clock runs at the wall clock's pace from its current time."""
        return self.engine.clock_mode("real").value

    @_strict
    def clock_virtual(self) -> dict:
        """``clock virtual``: the clock stands still at its current time."""
        return self.engine.clock_mode("virtual").value

    @_strict
    def config(self, key: str, value: Any, queue: str | None = None, agent: str | None = None):
        """``config set KEY VALUE [--queue Q] [--agent A]``.  ``True``/``False`` are on/off,
        a list is names separated by commas, an ``int`` its digits, a ``str`` as it is."""
        return self.engine.config_set(key, _config_text(value), queue, agent).value

    @_strict
    def settings(self) -> dict:
        """``config show``."""
        return self.engine.config_show().value

    @_strict
    def profiles(self) -> list:
        """``profile list``: every vendor profile and the keys where it differs from horizon's."""
        from chatemu.store import profiles

        return profiles.list_all()

    @_strict
    def profile(self, name: str) -> dict:
        """``profile show NAME``: each value of the profile, with its source sentence and link."""
        from chatemu.store import profiles

        return profiles.show(name)

    @_strict
    def apply_profile(self, name: str, queue: str | None = None) -> dict:
        """``profile apply NAME [--queue Q]``: set the profile's values in one transaction."""
        return self.engine.profile_apply(name, queue).value

    @_strict
    def events(self, chat: str | None = None, agent: str | None = None, since: int = 0) -> list:
        """``events [--chat ID] [--agent ID] [--since SEQ]``."""
        return self.engine.events(chat, agent, check_seq("event", since)).value

    @_strict
    def refusals(self, agent: str | None = None, since: int = 0) -> list:
        """``refusals [--agent ID] [--since SEQ]``: the journal of refused command lines."""
        return self.engine.refusals(agent, check_seq("refusal", since)).value

    @_strict
    def stats_agents(self, since: str | None = None, until: str | None = None) -> dict:
        """``stats agents [--since T] [--until T]``."""
        return self.engine.stats_agents(*_window(since, until)).value

    @_strict
    def stats_queues(self, since: str | None = None, until: str | None = None) -> dict:
        """``stats queues [--since T] [--until T]``."""
        return self.engine.stats_queues(*_window(since, until)).value

    @_strict
    def explain(self, id: str) -> dict:
        """``explain``: why the chat is in its state and what would move it next."""
        return self.engine.explain(id).value

    @_strict
    def expect(self, kind: str, *checks: str) -> dict:
        """``expect KIND [ID] FIELD=VALUE…`` (or a list's items): the report ``expect --json``
        prints when every check holds; when one does not, ``ExpectationFailed`` (exit code 1),
        its message the lines ``expect`` prints, its ``report`` that same report."""
        from .expect import evaluate

        subject, report, failures = evaluate(self.engine, kind, list(checks))
        result = {"ok": all(item["ok"] for item in report), "subject": subject, "checks": report}
        if not result["ok"]:
            error = ExpectationFailed(failures())
            error.report = result
            raise error
        return result

    # -- snapshots, bundles ----------------------------------------------------------------

    @_strict
    def snapshot_save(self, name: str) -> dict:
        """``snapshot save NAME``: the whole state, kept inside the database."""
        return self.engine.snapshot_save(name).value

    @_strict
    def snapshot_restore(self, name: str) -> dict:
        """``snapshot restore NAME``: the whole state as it was saved, the clock included."""
        return self.engine.snapshot_restore(name).value

    @_strict
    def snapshots(self) -> list:
        """``snapshot list``."""
        return self.engine.snapshot_list().value

    @_strict
    def snapshot_delete(self, name: str) -> dict:
        """``snapshot delete NAME``."""
        return self.engine.snapshot_delete(name).value

    @_strict
    def export(self, file: Path | None = None, force: bool = False, pretty: bool = False) -> str | None:
        """``export FILE [--force] [--pretty]``: the whole database as one JSON bundle, written to
        ``file`` (never over the database, nor over an existing file without ``force``); without
        ``file``, returned as the text ``export -`` prints."""
        if file is None:
            return self.engine.export(None, pretty)
        from .files import writing

        with writing(file, force, self.engine.path) as write:
            self.engine.export(write, pretty)
        return None

    @_strict
    def import_(self, file: Path, replace: bool = False, replace_snapshots: bool = False) -> dict:
        """``import FILE [--replace] [--replace-snapshots]``: load a bundle ``export`` wrote."""
        from .files import reading

        with reading(file) as (source, where):
            return self.engine.import_(source, where, replace, replace_snapshots).value

    @_strict
    def reset(self, keep_snapshots: bool = False) -> dict:
        """``reset --yes [--keep-snapshots]``: empty the database (a new virtual clock)."""
        return self.engine.reset(keep_snapshots).value

    # -- webhooks (docs/webhooks.md) -----------------------------------------------------------

    @_strict
    def webhook_add(self, url: str, *events: str, secret: str | None = None) -> dict:
        """``webhook add URL [PATTERN]... [--secret WHSEC]``: an endpoint sent the events logged
        from now on by ``chatemu serve``; its object with its secret (the only time it is shown)."""
        return self.engine.webhook_add(url, list(events) or None, secret).value

    @_strict
    def webhooks(self) -> list:
        """``webhook list``: the endpoints (never their secrets)."""
        return self.engine.webhook_list().value

    @_strict
    def webhook_delete(self, webhook_id: int) -> dict:
        """``webhook delete ID``."""
        return self.engine.webhook_delete(webhook_id).value

    @_strict
    def webhook_enable(self, webhook_id: int) -> dict:
        """``webhook enable ID``: a disabled endpoint switched back on, from where it stopped."""
        return self.engine.webhook_enable(webhook_id).value

    @_strict
    def webhook_deliveries(self, webhook_id: int) -> list:
        """``webhook deliveries ID``: its latest delivery records, newest first."""
        return self.engine.webhook_deliveries(webhook_id).value

    # -- scenarios -------------------------------------------------------------------------

    @_strict
    def run(self, path: Path) -> list[dict]:
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


class emulated(contextlib.ContextDecorator):
    """A fresh chatemu for the length of a ``with`` block (or a decorated function), as the
    ``chatemu`` fixture gives one to a test: a new database in a temporary folder, its clock
    virtual at ``clock`` (default 2026-01-05T09:00:00Z), ``config`` set (a dict of key: value,
    as ``Emulator.config`` takes them), acting as ``agent``.

    Within the block ``CHATEMU_DB`` names that database, so ``chatemu`` command lines the code
    under test starts use it too; afterwards ``CHATEMU_DB`` is as it was and the folder is
    deleted.  ``with emulated(...) as emu`` gives the ``Emulator``::

        with emulated(clock="2026-03-02T08:00:00Z", config={"max-chats": 1}) as emu:
            emu.new()
    """

    @_strict
    def __init__(self, clock: str = START, config: Any = None, agent: str = DEFAULT_AGENT):
        if config is not None and not isinstance(config, dict):
            raise UsageError(f"bad config {config!r}: use a dict of key: value")
        self.clock, self.config, self.agent = clock, config, agent
        self._entered: list[tuple[str, str | None]] = []

    def __enter__(self) -> Emulator:
        folder = tempfile.mkdtemp(prefix="chatemu-")
        try:
            emulator = Emulator(os.path.join(folder, "chatemu.db"), self.agent)
            emulator.preset(self.clock, self.config)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        self._entered.append((folder, os.environ.get("CHATEMU_DB")))
        os.environ["CHATEMU_DB"] = emulator.path
        return emulator

    def __exit__(self, *exc) -> None:
        folder, before = self._entered.pop()
        if before is None:
            os.environ.pop("CHATEMU_DB", None)
        else:
            os.environ["CHATEMU_DB"] = before
        shutil.rmtree(folder, ignore_errors=True)
