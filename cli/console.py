"""``chatemu console`` and ``chatemu watch``: a live screen of an inbox, the agents, the queues
and the events, in the terminal.

Only the command functions live here: Textual is imported by ``screen``, when one of the two
commands starts, so no other command pays for it (``app`` imports this module to build the
whole command tree).
"""

import sys
from typing import Annotated, Optional

import typer

from chatemu.store.errors import UsageError

from .common import session

AgentOpt = Annotated[
    Optional[str],
    typer.Option("--agent", metavar="ID", help="Whose inbox [default: the root --agent, CHATEMU_AGENT or agent-1].",
                 show_default=False),
]
WatchAgentOpt = Annotated[
    Optional[str],
    typer.Option("--agent", metavar="ID", help="Follow this agent only [default: every agent].", show_default=False),
]


def console(ctx: typer.Context, agent: AgentOpt = None) -> None:
    """A live, interactive inbox: the agent's chats, its status, the queues, the other agents,
    the selected chat's messages and the latest events; keys act on the selected chat.

    Each key runs a chatemu command line, exactly as typed in a shell: a refused action shows
    its one-line reason and changes nothing.  ':' opens a command line for any command.
    Changes made by other processes appear within half a second.  ? lists every key;
    q quits.  On a small terminal (80x24, say) the panels below the inbox show one at
    a time: v brings the next forward.

    \b
    Examples:
      chatemu console
      chatemu --db class.db console --agent trainee-3
      CHATEMU_DB=class.db CHATEMU_AGENT=trainee-3 chatemu console
    """
    _start(ctx, agent, watch=False)


def watch(ctx: typer.Context, agent: WatchAgentOpt = None) -> None:
    """The console's screen, read-only, for a projector: every agent, every queue, the open
    chats, the events, the countdowns.  No action keys, no command line; it never writes
    to the database (on a real clock it applies due wrap-up timers, as 'events --follow'
    does).  ? lists the keys; q quits; on a small terminal v shows the next panel.

    \b
    Examples:
      chatemu --db class.db watch
      chatemu --db class.db watch --agent trainee-3
    """
    _start(ctx, agent, watch=True)


def _start(ctx: typer.Context, agent: Optional[str], watch: bool) -> None:
    name = "watch" if watch else "console"
    own = session(ctx)
    if own.in_run:
        raise UsageError(f"{name} is interactive: it cannot be a scenario line")
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError(f"{name} draws a screen: run it in a terminal")
    root = ctx.find_root()
    if agent is None:
        if watch:
            # watch follows one agent only when one is named (--agent, before or after the command).
            source = root.get_parameter_source("agent")
            if source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT"):
                agent = own.agent
        else:
            agent = own.agent
    engine = own.engine()
    if agent is not None:
        from chatemu.store.engine import Engine
        from chatemu.store.validate import check_name

        engine = Engine(engine.path, check_name("agent id", agent), make_folder=engine.make_folder)
    base = ["--db", own.db] if own.db is not None else []
    from .screen import run_screen

    code = run_screen(engine, agent, watch, base, own.cli)
    if code:
        raise typer.Exit(code)
