"""The chatemu command line: parse, call one engine function, render.

Errors from the engine and from parsing become ``error: …`` lines with
documented exit codes in exactly one place, ``main()``.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated, Optional

import typer

from chatemu.store.engine import DEFAULT_AGENT, DEFAULT_QUEUE, Engine, Result
from chatemu.store.errors import ChatemuError

from . import render

HELP = """Emulate a contact-centre agent's webchat inbox from the shell.

All state (chats, agents, calls, the clock, timers) lives in one SQLite file;
every command is one transaction on it.  Exit codes: 0 done, 1 a check did not
hold, 2 usage, 3 refused by the model, 4 unknown chat, 5 database problem.
"""

app = typer.Typer(
    help=HELP,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
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


def show(result: Result, as_json: bool, human) -> None:
    if as_json:
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
    customer: Annotated[Optional[str], typer.Option(help="The customer's name.")] = None,
    queue: Annotated[str, typer.Option(help="The queue the chat waits in.")] = DEFAULT_QUEUE,
    priority: Annotated[int, typer.Option(help="Higher is presented first.")] = 0,
    chat_id: Annotated[Optional[str], typer.Option("--id", help="The chat's id [default: C1, C2, … in creation order].")] = None,
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
    state: Annotated[Optional[str], typer.Option(help="Only chats in this state.")] = None,
    queue: Annotated[Optional[str], typer.Option(help="Only chats of this queue.")] = None,
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
    queue: Annotated[Optional[str], typer.Option(help="Set it for this queue only (wrap-up keys).")] = None,
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
    json: JsonOpt = False,
) -> None:
    """The event log: every change, in order."""
    show(engine(ctx).events(chat), json, lambda r: render.events(r.value))


# -- the one place errors become exit codes ------------------------------------------


def _usage_hint(exc) -> str:
    ctx = getattr(exc, "ctx", None)
    return f" (see '{ctx.command_path} --help')" if ctx is not None else ""


def main(argv: list[str] | None = None) -> int:
    try:
        returned = app(args=argv, prog_name="chatemu", standalone_mode=False)
        code = returned if isinstance(returned, int) else 0
    except ChatemuError as exc:
        code = _error(exc.message, exc.exit_code)
    except typer.TyperException as exc:  # Typer's parsing errors: bad option, missing argument
        message = exc.format_message()
        if getattr(exc, "ctx", None) is not None and message == exc.ctx.get_help():
            print(message)  # a group called with nothing: show its help
            return 0
        code = _error(" ".join(message.split()) + _usage_hint(exc), exc.exit_code)
    except typer.Abort:
        code = _error("aborted", 1)
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): not our error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = 0
    except Exception as exc:  # a bug: still one line, no traceback unless asked
        if os.environ.get("CHATEMU_DEBUG"):
            raise
        code = _error(f"internal error: {type(exc).__name__}: {exc} (set CHATEMU_DEBUG=1 for the traceback)", 70)
    return code


def _error(message: str, code: int) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def run() -> None:
    """The console script."""
    sys.exit(main())
