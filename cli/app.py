"""The chatemu command line: the root command, and the one place errors become exit codes.

Commands live by group in ``chats``, ``agents``, ``settings`` and ``qa``: each
parses, calls one engine function, renders (``common.show``).  This module
assembles them; nothing imports it back.

No ``from __future__ import annotations`` in the command modules: Typer
evaluates every command's annotations when it builds the CLI, on every start,
and string annotations cost it several milliseconds more.
"""

import io
import os
import sys
from functools import lru_cache
from typing import Annotated, Optional

import typer

from chatemu.store.errors import ChatemuError, UsageError
from chatemu.store.validate import DEFAULT_AGENT, check_word

from .common import Session, root_options

HELP = """Emulate a contact-centre agent's webchat inbox from the shell.

All state (chats, agents, calls, the clock, timers) lives in one SQLite file;
every command is one transaction on it.  Exit codes: 0 done, 1 a check did not
hold, 2 usage, 3 refused by the model, 4 unknown (an agent, chat, queue,
template, code, contact, snapshot or break reason that does not exist), 5
database problem, 70 internal error (a bug), 130 interrupted.

\b
Examples:
  chatemu clock set 2026-01-05T09:00:00Z
  chatemu chat new --customer Ann
  chatemu --db demo.db chat list --all
  chatemu --agent agent-2 agent status --json
  chatemu run --fresh scenario.chatemu
"""

_SETTINGS = dict(
    help=HELP,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
#: Every top-level group and command, in the order ``chatemu --help`` lists them, with the module
#: that defines it: a process imports only the module of the command it runs.
_GROUPS = {
    "chat": ("chats", "chat_app"), "agent": ("agents", "agent_app"), "queue": ("queues", "queue_app"),
    "break-reason": ("agents", "break_reason_app"), "clock": ("settings", "clock_app"),
    "config": ("settings", "config_app"), "profile": ("profiles", "profile_app"),
    "template": ("templates", "template_app"),
    "classification": ("templates", "classification_app"), "contact": ("chats", "contact_app"),
    "snapshot": ("qa", "snapshot_app"), "db": ("qa", "db_app"), "stats": ("stats", "stats_app"),
    "token": ("tokens", "token_app"), "webhook": ("webhooks", "webhook_app"),
}
_COMMANDS = {
    "events": ("qa", "events", {}),
    "refusals": ("qa", "refusals", {}),
    "drill": ("drill", "drill", {}),
    "simulate": ("simulate", "simulate", {}),
    "expect": ("qa", "expect", {"context_settings": {"ignore_unknown_options": True}}),
    "explain": ("qa", "explain", {}),
    "timeline": ("timeline", "timeline", {}),
    "console": ("console", "console", {}),
    "watch": ("console", "watch", {}),
    "run": ("qa", "run_file", {}),
    "export": ("qa", "export", {}),
    "import": ("qa", "import_", {}),
    "reset": ("qa", "reset", {}),
    "serve": ("serve", "serve", {}),
    "completion": ("completion", "completion", {}),
}
ORDER = ("chat", "agent", "queue", "break-reason", "clock", "config", "profile", "template", "classification", "contact", "stats",
         "events", "refusals", "expect", "explain", "timeline", "console", "watch", "run", "drill", "simulate", "snapshot", "export",
         "import", "reset", "db", "serve", "token", "webhook", "completion")


def version_callback(value: bool) -> None:
    if value:
        from importlib.metadata import version

        from chatemu.store.bundle import FORMAT_VERSION
        from chatemu.store.schema import SCHEMA_VERSION

        print(f"chatemu {version('chatemu')} (schema {SCHEMA_VERSION}, bundle format {FORMAT_VERSION})")
        raise typer.Exit()


def root(
    ctx: typer.Context,
    db: Annotated[
        Optional[str],
        typer.Option("--db", envvar="CHATEMU_DB", metavar="PATH", help="The database file [default: chatemu.db in the user's app folder].", show_default=False),
    ] = None,
    agent: Annotated[
        str, typer.Option("--agent", envvar="CHATEMU_AGENT", metavar="ID", help="The agent this command acts as.")
    ] = DEFAULT_AGENT,
    server: Annotated[
        Optional[str],
        typer.Option("--server", metavar="URL", help="Run the command on the chatemu server at URL (chatemu serve) instead of a database file.  [env var: CHATEMU_SERVER]", show_default=False),
    ] = None,
    ns: Annotated[
        Optional[str],
        typer.Option("--ns", metavar="NS", help="The server's namespace to use.  [env var: CHATEMU_NS; default: default]", show_default=False),
    ] = None,
    token: Annotated[
        Optional[str],
        typer.Option("--token", metavar="TOKEN", help="The server's bearer token (chatemu token add).  [env var: CHATEMU_TOKEN]", show_default=False),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=version_callback, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    if server is not None or ns is not None or token is not None:
        # The program's own options, read before any command runs (``main``): not in a scenario's line.
        raise UsageError("--server, --ns and --token are given to the chatemu program, before its command")
    session = ctx.obj if isinstance(ctx.obj, Session) else Session()
    session.db, session.agent = db, agent
    ctx.obj = session


# -- building the click commands -------------------------------------------------------


def _typer(names, sub: Optional[str] = None) -> typer.Typer:
    """A Typer app with the root options and the named groups and commands; with ``sub``, the
    one group named holds only its command or subgroup of that name (when it has one)."""
    from importlib import import_module

    built = typer.Typer(**_SETTINGS)
    built.callback()(root)
    for name in names:
        if name in _GROUPS:
            module, attr = _GROUPS[name]
            group = getattr(import_module(f".{module}", __package__), attr)
            built.add_typer(group if sub is None else _only(group, sub), name=name)
        else:
            module, attr, settings = _COMMANDS[name]
            built.command(name, **settings)(getattr(import_module(f".{module}", __package__), attr))
    return built


@lru_cache(maxsize=None)
def full_app() -> typer.Typer:
    """The whole command line (``chatemu.cli.app.app``)."""
    return _typer(ORDER)


def __getattr__(name: str):
    if name == "app":
        return full_app()
    raise AttributeError(name)


@lru_cache(maxsize=None)
def root_command():
    """The click command tree Typer builds from the whole app (once per process)."""
    return typer.main.get_command(full_app())


def _only(group: typer.Typer, sub: str) -> typer.Typer:
    """``group`` with only its command or subgroup named ``sub``; the whole group when it has
    none of that name (its help and its "no such command" need every command)."""
    import copy

    commands = [c for c in group.registered_commands
                if (c.name or typer.main.get_command_name(c.callback.__name__)) == sub]
    groups = [g for g in group.registered_groups if g.name == sub]
    if not commands and not groups:
        return group
    slim = copy.copy(group)
    slim.registered_commands, slim.registered_groups = commands, groups
    return slim


@lru_cache(maxsize=None)
def _slim_command(word: str, sub: Optional[str] = None):
    """Only the root options and the group or command ``word`` names (and of a group, only
    its command ``sub``): what one command line needs."""
    if word not in ORDER:
        return root_command()
    return typer.main.get_command(_typer([word], sub if word in _GROUPS else None))


def command_for(argv: list[str]):
    """The click command to parse ``argv`` with: Typer builds every command's
    parser at each start, so a process builds only the top-level command or
    group its line names (with the root options), once; anything else gets the
    whole tree."""
    words = iter(argv)
    for word in words:
        if word in ("--db", "--agent"):
            next(words, None)
        elif word.startswith(("--db=", "--agent=")):
            continue
        else:
            sub = next(words, None) if word in _GROUPS else None
            return _slim_command(word, None if sub is None or sub.startswith("-") else sub)
    return root_command()


def lift_root_options(argv: list[str], command) -> list[str]:
    """``argv`` with a ``--db PATH`` (or ``--db=PATH``) given after the command moved before it,
    as if given there: ``chatemu chat list --db x.db`` is ``chatemu --db x.db chat list``
    (sqlite-utils and llm take the database on each command).  ``command`` is the click
    command or group ``argv`` is parsed with.  The leaf command's own options are read as
    click reads them (an option's value is never taken for ``--db``); nothing after ``--``
    moves, and a command with an option of that name keeps it."""
    if not any(word == "--db" or word.startswith("--db=") for word in argv):
        return argv
    spans = root_options(argv)
    at = root_end = spans[-1][1] if spans else 0
    node = command
    while at < len(argv) and hasattr(node, "commands") and argv[at] in node.commands:
        node, at = node.commands[argv[at]], at + 1
    if hasattr(node, "commands") or at == root_end:
        return argv
    with_value = {name for param in node.params if getattr(param, "param_type_name", "") == "option"
                  and not param.is_flag and not param.count for name in (*param.opts, *param.secondary_opts)}
    if any("--db" in getattr(param, "opts", ()) for param in node.params):
        return argv
    moved, rest = [], argv[root_end:at]
    while at < len(argv):
        word = argv[at]
        if word == "--":
            rest += argv[at:]
            break
        if word == "--db" and at + 1 < len(argv):
            moved += argv[at:at + 2]
            at += 2
        elif word.startswith("--db="):
            moved.append(word)
            at += 1
        elif word in with_value:
            rest += argv[at:at + 2]
            at += 2
        else:
            rest.append(word)
            at += 1
    return argv[:root_end] + moved + rest if moved else argv


# -- the one place errors become exit codes ------------------------------------------


def call(argv: list[str], session: Optional[Session] = None, typed: Optional[list[str]] = None) -> tuple[int, list[str]]:
    """Run one chatemu command line; return its exit code and the lines to print on stderr.
    ``session``: where results go and which connections to use (``chatemu run``).
    ``typed``: the line as its user typed it, for the journal of refusals (default: ``argv``)."""
    command = command_for(argv)
    argv = lift_root_options(argv, command)
    session = session or Session()
    session.cli = sys.modules[__name__]
    return translate(
        lambda: command.main(args=argv, prog_name="chatemu", standalone_mode=False, obj=session), argv,
        typed=typed, session=session,
    )


def translate(run, argv: list[str], typed: Optional[list[str]] = None,
              session: Optional[Session] = None) -> tuple[int, list[str]]:
    """Run a parsed command; turn what it raises into an exit code and stderr lines.

    This is the single translation point from exceptions to exit codes and
    messages; ``main`` prints them, ``chatemu run`` names the file and line.
    It is also where a refused state-changing command is journaled (``refusals``),
    after its own transaction has rolled back: the command line as typed
    (``typed``, default ``argv``, without ``--db``), the acting agent, the exit code and
    the message.  ``session.refused``, when a list, gets the journal's seq of each.
    """
    try:
        for word in argv:
            check_word(word)
        returned = run()
        return (returned if isinstance(returned, int) else 0), []
    except typer.Exit as exc:
        return exc.exit_code, []
    except ChatemuError as exc:
        journal = getattr(exc, "journal", None)
        if journal is not None:  # which exit codes are journaled is the journal's to say
            seq = journal.journal_refusal(command_line(argv if typed is None else typed), exc.exit_code, exc.message)
            if seq is not None and session is not None and session.refused is not None:
                session.refused.append(seq)
        return exc.exit_code, exc.lines()
    except typer.TyperException as exc:  # Typer's parsing errors: bad option, missing argument
        message = exc.format_message()
        if getattr(exc, "ctx", None) is not None and message == exc.ctx.get_help():
            print(message)  # a group called with nothing: show its help
            return 0, []
        return exc.exit_code, [f"error: {' '.join(message.split())}{_usage_hint(exc)}"]
    except typer.Abort:
        return 1, ["error: aborted"]
    except Exception as exc:  # a bug: still one line, no traceback unless asked
        if os.environ.get("CHATEMU_DEBUG"):
            raise
        return 70, [f"error: internal error: {type(exc).__name__}: {exc} (set CHATEMU_DEBUG=1 for the traceback)"]


def command_line(argv: list[str]) -> str:
    """A command line as the journal of refusals keeps it: the words as a shell would take
    them back (quoted only where needed), without the root ``--db`` options."""
    import shlex

    spans = root_options(argv)
    words = [word for start, stop in spans if not argv[start].startswith("--db") for word in argv[start:stop]]
    return shlex.join(words + argv[spans[-1][1] if spans else 0:])


def _usage_hint(exc) -> str:
    ctx = getattr(exc, "ctx", None)
    return f" (see '{ctx.command_path} --help')" if ctx is not None else ""


class OutputClosed(BaseException):
    """The reader of stdout went away (``chatemu events | head -1``).

    A ``BaseException``, like ``KeyboardInterrupt``: it is not an error of the
    command, so neither ``translate`` nor click (which would turn a broken pipe
    into exit 1) may catch it; ``main`` ends the process quietly with exit 0.
    """


class OutputFailed(BaseException):
    """stdout cannot be written (a full disk, an I/O error): a ``BaseException`` for the same
    reason as ``OutputClosed``; ``main`` says so in one line and exits 1.  What the command did
    stays done."""


class _Stdout(io.FileIO):
    """stdout's file descriptor, raising ``OutputClosed`` when the reader has gone
    and discarding anything written after that."""

    closed_by_reader = False

    def write(self, data) -> int:
        if self.closed_by_reader:
            return len(data)
        try:
            return super().write(data)
        except BrokenPipeError:
            self.closed_by_reader = True
            raise OutputClosed() from None
        except OSError as exc:
            self.closed_by_reader = True  # nothing more is tried, at exit either
            raise OutputFailed(exc.strerror or str(exc)) from None


def _guard_stdout() -> None:
    """Route stdout through ``_Stdout``: a closed pipe on any output path (plain text,
    rich, JSON, a scenario's lines, ``events --follow``) ends chatemu quietly."""
    out = sys.stdout
    try:
        fd = out.fileno()
    except (AttributeError, ValueError, OSError):
        return  # not a file (an embedding program's stream): leave it alone
    out.flush()
    sys.stdout = io.TextIOWrapper(
        io.BufferedWriter(_Stdout(fd, "w", closefd=False)),
        encoding=out.encoding, errors=out.errors, line_buffering=out.line_buffering,
    )


#: The root options that take a value, as they may start a command line; those naming a server.
WITH_VALUE = ("--db", "--agent", "--server", "--ns", "--token")
REMOTE = ("--server", "--ns", "--token")


def server_named(argv: list[str]) -> bool:
    """Whether ``argv`` names a server (a root ``--server``, ``--ns`` or ``--token``, or
    ``CHATEMU_SERVER`` set): cheap, on every start; only then is ``remote`` imported."""
    if os.environ.get("CHATEMU_SERVER"):
        return True
    at = 0
    while at < len(argv) and argv[at].partition("=")[0] in WITH_VALUE:
        if argv[at].partition("=")[0] in REMOTE:
            return True
        at += 1 if "=" in argv[at] else 2
    return False


def call_anywhere(argv: list[str]) -> tuple[int, list[str]]:
    """``call``, or, when ``argv`` names a server, the command run there (``remote``)."""
    if not server_named(argv):
        return call(argv)
    from . import remote

    try:
        where, argv = remote.resolve(argv)
    except UsageError as exc:
        return exc.exit_code, exc.lines()
    if where is None:
        return call(argv)
    if remote.runs_here(argv):  # `run FILE`: parsed here, its scenario run there
        session = Session()
        session.remote = where
        return call(argv, session)
    return remote.call(where, argv)


def main(argv: list[str] | None = None) -> int:
    from . import render

    # Nothing written, output or error line, carries a raw control character (rich draws
    # underneath, its text escaped where it is made).
    sys.stdout, sys.stderr = render.escaped(sys.stdout), render.escaped(sys.stderr)
    try:
        code, lines = call_anywhere(sys.argv[1:] if argv is None else argv)
        for line in lines:
            render.error(line)
        sys.stdout.flush()
    except KeyboardInterrupt:
        return 130
    except OutputFailed as exc:
        render.error(f"error: cannot write the output: {exc}")
        return 1
    except (BrokenPipeError, OutputClosed):
        # The reader went away (e.g. `| head`): not our error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    return code


def run() -> None:
    """The console script."""
    for name, mode in (("stdin", "r"), ("stdout", "w"), ("stderr", "w")):
        if getattr(sys, name) is None:  # closed by the caller (`chatemu chat new >&-`): nowhere, quietly
            fd = os.open(os.devnull, os.O_RDONLY if mode == "r" else os.O_WRONLY)
            setattr(sys, name, open(fd, mode, closefd=False))  # kept open while the process lives
    _guard_stdout()
    sys.exit(main())
