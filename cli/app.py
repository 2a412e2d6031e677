"""The chatemu command line: parse, call one engine function, render.

Errors from the engine and from parsing become ``error: …`` lines with
documented exit codes in exactly one place, ``call()``.

No ``from __future__ import annotations`` here: Typer evaluates every
command's annotations when it builds the CLI, on every start, and string
annotations cost it several milliseconds more.
"""


import os
import sys
from typing import Annotated, Optional

import typer

from chatemu.store.engine import DEFAULT_AGENT, DEFAULT_QUEUE, Engine, Result
from chatemu.store.errors import ChatemuError, UsageError

from . import render

HELP = """Emulate a contact-centre agent's webchat inbox from the shell.

All state (chats, agents, calls, the clock, timers) lives in one SQLite file;
every command is one transaction on it.  Exit codes: 0 done, 1 a check did not
hold, 2 usage, 3 refused by the model, 4 unknown chat, 5 database problem.
"""

_SETTINGS = dict(
    help=HELP,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app = typer.Typer(**_SETTINGS)
chat_app = typer.Typer(help="Chats: create, take, activate, park, end, wrap up; calls.", no_args_is_help=True)
agent_app = typer.Typer(help="The agent: status and presence.", no_args_is_help=True)
clock_app = typer.Typer(help="The database's clock: show it, advance it, set it, make it real or virtual.")
config_app = typer.Typer(help="Configuration: wrap-up, extensions, capacity, auto-present.", no_args_is_help=True)
app.add_typer(chat_app, name="chat")
app.add_typer(agent_app, name="agent")
app.add_typer(clock_app, name="clock")
app.add_typer(config_app, name="config")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
ChatId = Annotated[str, typer.Argument(metavar="ID", help="The chat's id, e.g. C1.", show_default=False)]


def default_db() -> str:
    folder = typer.get_app_dir("chatemu")
    os.makedirs(folder, exist_ok=True)
    return os.path.join(folder, "chatemu.db")


def version_callback(value: bool) -> None:
    if value:
        from importlib.metadata import version

        print(f"chatemu {version('chatemu')}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    db: Annotated[
        Optional[str],
        typer.Option("--db", envvar="CHATEMU_DB", metavar="PATH", help="The database file [default: chatemu.db in the user's app folder].", show_default=False),
    ] = None,
    agent: Annotated[
        str, typer.Option("--agent", envvar="CHATEMU_AGENT", metavar="ID", help="The agent this command acts as.")
    ] = DEFAULT_AGENT,
    version: Annotated[
        bool, typer.Option("--version", callback=version_callback, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    ctx.obj = lambda: Engine(db if db is not None else default_db(), agent)


def engine(ctx: typer.Context) -> Engine:
    return ctx.find_root().obj()


#: While ``chatemu run`` runs a line, results are collected here instead of printed.
collected: list[Result] | None = None


def show(result: Result, as_json: bool, human) -> None:
    if collected is not None:
        collected.append(result)
    elif as_json:
        render.emit_json(result.value)
    else:
        human(result)


def changed_chat(result: Result, as_json: bool) -> None:
    show(result, as_json, lambda r: render.changed(render.chat_summary(r.value), r.events))


def changed_agent(result: Result, as_json: bool) -> None:
    show(result, as_json, lambda r: render.changed(render.agent_summary(r.value), r.events))


def changed_clock(result: Result, as_json: bool) -> None:
    show(result, as_json, lambda r: render.changed(render.clock(r.value), r.events))


# -- chat ---------------------------------------------------------------------------


@chat_app.command("new")
def chat_new(
    ctx: typer.Context,
    customer: Annotated[Optional[str], typer.Option(metavar="NAME", help="The customer's name.")] = None,
    queue: Annotated[str, typer.Option(metavar="Q", help="The queue the chat waits in.")] = DEFAULT_QUEUE,
    priority: Annotated[int, typer.Option(metavar="N", help="Higher is presented first.")] = 0,
    chat_id: Annotated[Optional[str], typer.Option("--id", metavar="ID", help="The chat's id [default: C1, C2, … in creation order].")] = None,
    inbox: Annotated[bool, typer.Option("--inbox", help="Put it straight into the agent's inbox as new.")] = False,
    json: JsonOpt = False,
) -> None:
    """A customer starts a chat: it is queued (or new in the inbox with --inbox)."""
    changed_chat(engine(ctx).chat_new(customer, queue, priority, chat_id, inbox), json)


@chat_app.command("take")
def chat_take(ctx: typer.Context, chat_id: ChatId, json: JsonOpt = False) -> None:
    """The agent picks a queued chat into the inbox (refused at capacity)."""
    changed_chat(engine(ctx).chat_take(chat_id), json)


@chat_app.command("activate")
def chat_activate(ctx: typer.Context, chat_id: ChatId, json: JsonOpt = False) -> None:
    """Make a chat the active item (parking the one that was); resumes a paused wrap-up."""
    changed_chat(engine(ctx).chat_activate(chat_id), json)


@chat_app.command("park")
def chat_park(ctx: typer.Context, chat_id: ChatId, json: JsonOpt = False) -> None:
    """Park the active chat; in wrap-up its timer pauses."""
    changed_chat(engine(ctx).chat_park(chat_id), json)


@chat_app.command("end")
def chat_end(ctx: typer.Context, chat_id: ChatId, json: JsonOpt = False) -> None:
    """The customer ends the chat: wrap-up starts (paused unless it is active)."""
    changed_chat(engine(ctx).chat_end(chat_id), json)


@chat_app.command("wrapup")
def chat_wrapup(
    ctx: typer.Context,
    chat_id: ChatId,
    extend: Annotated[bool, typer.Option("--extend", help="Add one wrap-up extension.")] = False,
    finish: Annotated[bool, typer.Option("--finish", help="End wrap-up now; the chat closes.")] = False,
    json: JsonOpt = False,
) -> None:
    """The agent ends the conversation (wrap-up starts), or extends or finishes wrap-up."""
    changed_chat(engine(ctx).chat_wrapup(chat_id, extend, finish), json)


@chat_app.command("call-start")
def call_start(ctx: typer.Context, json: JsonOpt = False) -> None:
    """A phone call reaches the agent: the active item is parked."""
    changed_agent(engine(ctx).call_start(), json)


@chat_app.command("call-end")
def call_end(ctx: typer.Context, json: JsonOpt = False) -> None:
    """The call is over: a chat the customer ended meanwhile resumes its wrap-up."""
    changed_agent(engine(ctx).call_end(), json)


@chat_app.command("list")
def chat_list(
    ctx: typer.Context,
    all_chats: Annotated[bool, typer.Option("--all", help="Every chat in the database, in id order.")] = False,
    state: Annotated[Optional[str], typer.Option(metavar="S", help="Only chats in this state.")] = None,
    queue: Annotated[Optional[str], typer.Option(metavar="Q", help="Only chats of this queue.")] = None,
    json: JsonOpt = False,
) -> None:
    """The agent's inbox (or every chat with --all)."""
    eng = engine(ctx)
    title = "all chats" if all_chats else f"inbox of {eng.agent}"
    show(eng.chat_list(all_chats, state, queue), json, lambda r: render.chat_list(r.value, all_chats, title))


@chat_app.command("show")
def chat_show(ctx: typer.Context, chat_id: ChatId, json: JsonOpt = False) -> None:
    """Everything about one chat."""
    show(engine(ctx).chat_show(chat_id), json, lambda r: render.chat_show(r.value))


# -- agent --------------------------------------------------------------------------


@agent_app.command("status")
def agent_status(
    ctx: typer.Context,
    agent_id: Annotated[Optional[str], typer.Argument(metavar="[ID]", help="Another agent [default: --agent].")] = None,
    json: JsonOpt = False,
) -> None:
    """The agent's presence, derived status, call and active chat."""
    show(engine(ctx).agent_status(agent_id), json, lambda r: print(render.agent_summary(r.value)))


@agent_app.command("list")
def agent_list(ctx: typer.Context, json: JsonOpt = False) -> None:
    """Every agent in the database."""
    show(engine(ctx).agent_list(), json, lambda r: render.agent_list(r.value))


@agent_app.command("available")
def agent_available(ctx: typer.Context, json: JsonOpt = False) -> None:
    """Set presence to available: queued chats may be presented."""
    changed_agent(engine(ctx).agent_presence("available"), json)


@agent_app.command("break")
def agent_break(ctx: typer.Context, json: JsonOpt = False) -> None:
    """Set presence to break: nothing is presented."""
    changed_agent(engine(ctx).agent_presence("break"), json)


# -- clock --------------------------------------------------------------------------


@clock_app.callback(invoke_without_command=True)
def clock(ctx: typer.Context, json: JsonOpt = False) -> None:
    """Show the time and mode (virtual or real)."""
    if ctx.invoked_subcommand is None:
        show(engine(ctx).clock_show(), json, lambda r: render.changed(render.clock(r.value), r.events))


@clock_app.command("advance")
def clock_advance(
    ctx: typer.Context,
    duration: Annotated[str, typer.Argument(metavar="DURATION", help="90, 90s, 1.5s, 2m, 1m30s, 1h, 250ms.")],
    json: JsonOpt = False,
) -> None:
    """Move the clock forward; due timers fire in order at their instants."""
    from chatemu.store.timefmt import parse_duration

    changed_clock(engine(ctx).clock_advance(parse_duration(duration)), json)


@clock_app.command("set")
def clock_set(
    ctx: typer.Context,
    time: Annotated[str, typer.Argument(metavar="ISO-TIME", help="e.g. 2026-01-05T09:00:00Z; no zone means UTC.")],
    json: JsonOpt = False,
) -> None:
    """Set the clock to a later instant (never backwards)."""
    from chatemu.store.timefmt import parse_time

    changed_clock(engine(ctx).clock_set(parse_time(time)), json)


@clock_app.command("real")
def clock_real(ctx: typer.Context, json: JsonOpt = False) -> None:
    """Run at the wall clock's pace, going on from the current time (no jump)."""
    changed_clock(engine(ctx).clock_mode("real"), json)


@clock_app.command("virtual")
def clock_virtual(ctx: typer.Context, json: JsonOpt = False) -> None:
    """Freeze the clock at the current time; move it with advance and set."""
    changed_clock(engine(ctx).clock_mode("virtual"), json)


# -- config -------------------------------------------------------------------------


@config_app.command("show")
def config_show(ctx: typer.Context, json: JsonOpt = False) -> None:
    """Every key with its value, and the per-queue overrides."""
    show(engine(ctx).config_show(), json, lambda r: render.config(r.value))


@config_app.command("set")
def config_set(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(metavar="KEY", help="wrapup, wrapup-extension, wrapup-extensions, max-chats, auto-present.")],
    value: Annotated[str, typer.Argument(metavar="VALUE", help="A duration, a whole number, or on/off.")],
    queue: Annotated[Optional[str], typer.Option(metavar="Q", help="Set it for this queue only (wrap-up keys).")] = None,
    json: JsonOpt = False,
) -> None:
    """Set a configuration key, for all queues or for one."""
    result = engine(ctx).config_set(key, value, queue)
    show(result, json, lambda r: render.changed(f"{key} = {value}" + (f" for queue {queue}" if queue else ""), r.events))


# -- events -------------------------------------------------------------------------


@app.command("events")
def events(
    ctx: typer.Context,
    chat: Annotated[Optional[str], typer.Option("--chat", metavar="ID", help="Only this chat's events.")] = None,
    agent_id: Annotated[Optional[str], typer.Option("--agent", metavar="ID", help="Only this agent's events.")] = None,
    since: Annotated[int, typer.Option("--since", metavar="SEQ", min=0, max=2**63 - 1, help="Only events after this seq.")] = 0,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new events until Ctrl-C.")] = False,
    json: JsonOpt = False,
    jsonl: Annotated[bool, typer.Option("--jsonl", help="One JSON object per line.")] = False,
) -> None:
    """The event log: every change, in order."""
    if json and (jsonl or follow):
        raise UsageError("--json prints one array: use --jsonl with --follow")
    eng = engine(ctx)
    if follow:
        from .follow import follow_events

        follow_events(eng, chat, agent_id, since, jsonl)
        return
    result = eng.events(chat, agent_id, since)
    if jsonl:
        for item in result.value:
            render.emit_json(item)
        return
    show(result, json, lambda r: render.events(r.value))


# -- QA tools ---------------------------------------------------------------------------


@app.command("expect", context_settings={"ignore_unknown_options": True})
def expect(
    ctx: typer.Context,
    kind: Annotated[str, typer.Argument(metavar="chat|agent|clock", help="What to check.", show_default=False)],
    checks: Annotated[
        list[str],
        typer.Argument(metavar="[ID] FIELD=VALUE...", help="The chat id (or agent id), then fields to compare.", show_default=False),
    ],
    json: JsonOpt = False,
) -> None:
    """Check fields of a chat, an agent or the clock: exit 0 if all hold, 1 if not.

    Values are compared as the JSON fields are: null, true/false, numbers,
    strings; durations may be written 40s or 1m and times in any ISO form.
    Changes nothing."""
    from .expect import run_expect

    code = run_expect(engine(ctx), kind, checks, json)
    if code:
        raise typer.Exit(code)


@app.command("explain")
def explain(ctx: typer.Context, chat_id: ChatId, json: JsonOpt = False) -> None:
    """Why a chat is in its state, and what would move it next."""
    show(engine(ctx).explain(chat_id), json, lambda r: render.explain(r.value))


@app.command("run")
def run_file(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(metavar="FILE|-", help="A scenario file: one chatemu command per line.")],
    keep_going: Annotated[bool, typer.Option("--keep-going", help="Run every line; exit non-zero if any failed.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
    json: Annotated[bool, typer.Option("--json", help="One JSON object per line run.")] = False,
) -> None:
    """Run a scenario file in one process: each line its own transaction."""
    from .scenario import run_scenario

    code = run_scenario(ctx.find_root(), file, keep_going, quiet, json)
    if code:
        raise typer.Exit(code)


snapshot_app = typer.Typer(help="Whole-state copies inside the database.", no_args_is_help=True)
app.add_typer(snapshot_app, name="snapshot")
SnapName = Annotated[str, typer.Argument(metavar="NAME", help="The snapshot's name.", show_default=False)]


@snapshot_app.command("save")
def snapshot_save(ctx: typer.Context, name: SnapName, json: JsonOpt = False) -> None:
    """Save the whole state (clock, config, agents, chats, timers, events) as NAME."""
    result = engine(ctx).snapshot_save(name)
    verb = "replaced" if result.value["replaced"] else "saved"
    show(result, json, lambda r: print(f"snapshot {name} {verb} at {r.value['created_at']}"))


@snapshot_app.command("restore")
def snapshot_restore(ctx: typer.Context, name: SnapName, json: JsonOpt = False) -> None:
    """Return the whole state to snapshot NAME (the clock included)."""
    show(engine(ctx).snapshot_restore(name), json,
         lambda r: print(f"restored snapshot {name} (saved {r.value['created_at']}); now {r.value['now']}"))


@snapshot_app.command("list")
def snapshot_list(ctx: typer.Context, json: JsonOpt = False) -> None:
    """The snapshots in this database."""
    show(engine(ctx).snapshot_list(), json, lambda r: render.snapshots(r.value))


@snapshot_app.command("delete")
def snapshot_delete(ctx: typer.Context, name: SnapName, json: JsonOpt = False) -> None:
    """Delete snapshot NAME."""
    show(engine(ctx).snapshot_delete(name), json, lambda r: print(f"deleted snapshot {name}"))


@app.command("export")
def export(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(metavar="FILE|-", help="Where to write the bundle; - for stdout.")],
) -> None:
    """Write the whole database as one JSON bundle (a bug report in one file)."""
    text = engine(ctx).export()
    if file == "-":
        sys.stdout.write(text)
        return
    from .files import write_file

    write_file(file, text)


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(metavar="FILE|-", help="A bundle made by export; - for stdin.")],
    replace: Annotated[bool, typer.Option("--replace", help="Replace the current state.")] = False,
    json: JsonOpt = False,
) -> None:
    """Load a bundle into an empty database (or replace the state with --replace)."""
    from .files import read_file

    text, where = read_file(file)
    result = engine(ctx).import_(text, where, replace)
    show(result, json, lambda r: print(
        f"imported {where}: {r.value['chats']} chat(s), {r.value['events']} event(s), "
        f"{r.value['snapshots']} snapshot(s); now {r.value['now']}"))


@app.command("reset")
def reset(
    ctx: typer.Context,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
    keep_snapshots: Annotated[bool, typer.Option("--keep-snapshots", help="Keep the snapshots.")] = False,
    json: JsonOpt = False,
) -> None:
    """Empty the database: a new virtual clock, no agents, chats or events."""
    eng = engine(ctx)
    if not yes:
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            raise UsageError("reset asks for confirmation on a terminal: not on one, so add --yes")
        if not typer.confirm(f"Empty {eng.path}? Every chat, agent and event is lost", default=False):
            print("nothing changed")
            raise typer.Exit(1)
    show(eng.reset(keep_snapshots), json, lambda r: print(f"reset {eng.path}; clock {r.value['now']} (virtual)"))


db_app = typer.Typer(help="The database file: check its invariants, show its path.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("check")
def db_check(ctx: typer.Context, json: JsonOpt = False) -> None:
    """Check every invariant; print each violation. Exit 0 clean, 1 violations, 5 not chatemu's.

    Reads only; opens the file read-only and never creates it."""
    from chatemu.store.check import check_path

    path = engine(ctx).path
    problems = check_path(path)
    show(Result({"db": path, "ok": not problems, "violations": problems}), json,
         lambda r: print(f"{path}: clean") if not problems else [print(p) for p in problems])
    if problems:
        raise typer.Exit(1)


@db_app.command("path")
def db_path(ctx: typer.Context, json: JsonOpt = False) -> None:
    """Show which database file commands use (--db, CHATEMU_DB or the default)."""
    path = engine(ctx).path
    show(Result({"db": path}), json, lambda r: print(path))


# -- the one place errors become exit codes ------------------------------------------

_command = None


def root_command():
    """The click command tree Typer builds from ``app`` (once per process)."""
    global _command
    if _command is None:
        _command = typer.main.get_command(app)
    return _command


def command_for(argv: list[str]):
    """The click command to parse ``argv`` with: Typer builds every command's
    parser at each start, so a process builds only the top-level command or
    group its line names (with the root options); anything else gets the whole tree."""
    words = iter(argv)
    for word in words:
        if word in ("--db", "--agent"):
            next(words, None)
        elif word.startswith(("--db=", "--agent=")):
            continue
        else:
            break
    else:
        return root_command()
    groups = [g for g in app.registered_groups if g.name == word]
    commands = [c for c in app.registered_commands if c.name == word]
    if not groups and not commands:
        return root_command()
    slim = typer.Typer(**_SETTINGS)
    slim.registered_callback = app.registered_callback
    slim.registered_groups, slim.registered_commands = groups, commands
    return typer.main.get_command(slim)


def call(argv: list[str]) -> tuple[int, list[str]]:
    """Run one chatemu command line; return its exit code and the lines to print on stderr."""
    command = command_for(argv)
    return translate(lambda: command.main(args=argv, prog_name="chatemu", standalone_mode=False), argv)


def translate(run, argv: list[str]) -> tuple[int, list[str]]:
    """Run a parsed command; turn what it raises into an exit code and stderr lines.

    This is the single translation point from exceptions to exit codes and
    messages; ``main`` prints them, ``chatemu run`` names the file and line.
    """
    try:
        for word in argv:
            if "\0" in word:
                raise UsageError(f"argument {word!r} holds a NUL character")
            try:
                word.encode("utf-8")
            except UnicodeEncodeError:
                raise UsageError(f"argument {word.encode('utf-8', 'surrogateescape')!r} is not UTF-8 text") from None
        returned = run()
        return (returned if isinstance(returned, int) else 0), []
    except typer.Exit as exc:
        return exc.exit_code, []
    except ChatemuError as exc:
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


def _usage_hint(exc) -> str:
    ctx = getattr(exc, "ctx", None)
    return f" (see '{ctx.command_path} --help')" if ctx is not None else ""


def main(argv: list[str] | None = None) -> int:
    try:
        code, lines = call(sys.argv[1:] if argv is None else argv)
        for line in lines:
            print(line, file=sys.stderr)
        sys.stdout.flush()
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): not our error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    return code


def run() -> None:
    """The console script."""
    sys.exit(main())
