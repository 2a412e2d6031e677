"""What every command module shares: the session behind ``ctx.obj``, option
types, and ``show``, which either prints a result or hands it to a sink.

No command module imports ``app``; ``app`` imports them (no cycle).
"""

from typing import Annotated, Callable, Optional

import typer

from chatemu.store.engine import Connections, Engine, Result
from chatemu.store.validate import DEFAULT_AGENT

from . import render

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
ChatId = Annotated[str, typer.Argument(metavar="ID", help="The chat's id, e.g. C1.", show_default=False)]


def with_examples(text: str, *examples: str) -> str:
    """A group's help: ``text``, then its Examples section (click keeps a ``\\b`` paragraph's lines as they are)."""
    return text + "\n\n\b\nExamples:\n" + "".join(f"  {line}\n" for line in examples)


def root_options(argv: list[str]) -> list[tuple[int, int]]:
    """Where the root options (``--db``, ``--agent``, with their values) that start ``argv`` stand:
    one (start, stop) span each (the last may reach past the end: an option missing its value)."""
    spans, at = [], 0
    while at < len(argv) and (argv[at] in ("--db", "--agent") or argv[at].startswith(("--db=", "--agent="))):
        stop = at + (1 if "=" in argv[at] else 2)
        spans.append((at, stop))
        at = stop
    return spans


def default_db() -> str:
    """The default database; its folder is made by the first command that changes something.

    An empty or relative ``XDG_CONFIG_HOME`` is ignored, as the XDG base directory
    specification says (``~/.config`` is used): the default is never relative to the
    current folder."""
    import os

    folder = typer.get_app_dir("chatemu")
    if not os.path.isabs(folder):
        folder = os.path.join(os.path.expanduser("~"), ".config", "chatemu")
    return os.path.join(folder, "chatemu.db")


class Session:
    """One command line's context: which database, which agent, where results go.

    ``sink``: when a list, results are appended to it instead of printed
    (``chatemu run`` collects each line's result this way).  ``connections``:
    kept open across the lines of one ``run``.  ``in_run``: a scenario line may
    not start another scenario.  ``cli``: the command line's entry points
    (``call``, ``translate``, ``root_command``), set by ``app.call``, so that
    ``run`` runs its lines without importing ``app``.  ``refused``: when a list, the
    journal's seq of each refusal of this session's lines is appended to it (``drill``
    tells its own refusals from the trainee's).  ``renderers``: when a list, each result
    collected in ``sink`` is appended to it with the function that prints it for people
    (the console shows a read as the command prints it in a shell, unless --json asks for JSON).
    """

    def __init__(self, sink: Optional[list] = None, connections: Optional[Connections] = None, in_run: bool = False):
        self.cli = None
        self.db: Optional[str] = None
        self.agent = DEFAULT_AGENT
        self.sink = sink
        self.connections = connections
        self.in_run = in_run
        self.marks: dict[str, int] = {}  # a scenario's ``mark NAME`` lines: the last event's seq then
        self.refused: Optional[list[int]] = None  # when a list: the journal seqs of this session's refusals
        self.renderers: Optional[list] = None  # when a list: (result, how it prints) of each result in sink
        self._engine: Optional[tuple] = None
        self.remote = None  # a ``remote.Remote`` when ``run`` sends its scenario to a server

    def engine(self) -> Engine:
        key = (self.db, self.agent, self.connections)
        if self._engine is None or self._engine[0] != key:
            # Made once per session (``run`` uses one session for many lines).
            if self.db is not None:
                engine = Engine(self.db, self.agent, connections=self.connections)
            else:
                engine = Engine(default_db(), self.agent, connections=self.connections, make_folder=True)
            self._engine = (key, engine)
        return self._engine[1]


def session(ctx: typer.Context) -> Session:
    return ctx.find_root().obj


def engine(ctx: typer.Context) -> Engine:
    return session(ctx).engine()


def show(ctx: typer.Context, result: Result, as_json: bool, human: Optional[Callable] = None) -> None:
    own = session(ctx)
    if own.sink is not None:
        own.sink.append(result)
        if own.renderers is not None and human is not None and not as_json:
            own.renderers.append((result, human))
    elif as_json:
        render.emit_json(result.value)
    else:
        human(result)


def changed_chat(ctx: typer.Context, result: Result, as_json: bool) -> None:
    show(ctx, result, as_json, lambda r: render.changed(render.chat_summary(r.value), r.events))


def changed_agent(ctx: typer.Context, result: Result, as_json: bool) -> None:
    show(ctx, result, as_json, lambda r: render.changed(render.agent_summary(r.value), r.events))


def changed_clock(ctx: typer.Context, result: Result, as_json: bool) -> None:
    show(ctx, result, as_json, lambda r: render.changed(render.clock(r.value), r.events))
