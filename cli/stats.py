"""`chatemu stats …`: figures per agent and per queue, from the event log alone."""

from typing import Annotated, Optional

import typer

from . import render
from .common import JsonOpt, engine, show, with_examples

stats_app = typer.Typer(
    help=with_examples("Figures per agent and per queue over a time window, computed from the event log alone.",
                       "chatemu stats agents", "chatemu stats queues --since 2026-01-05T09:00:00Z --json"),
    no_args_is_help=True,
)

SinceOpt = Annotated[Optional[str], typer.Option(
    "--since", metavar="T", help="Start of the window (ISO 8601, no zone means UTC) [default: the beginning].",
    show_default=False)]
UntilOpt = Annotated[Optional[str], typer.Option(
    "--until", metavar="T", help="End of the window, not included [default: the database clock's now,"
    " every event so far included].", show_default=False)]


def _window(since: Optional[str], until: Optional[str]) -> tuple:
    from chatemu.store.timefmt import parse_time

    return (None if since is None else parse_time(since), None if until is None else parse_time(until))


@stats_app.command("agents")
def stats_agents(ctx: typer.Context, since: SinceOpt = None, until: UntilOpt = None, json: JsonOpt = False) -> None:
    """Per agent: time in each status, chats handled, average handle and wrap-up time,
    extensions, transfers and returns made.

    Time in a status runs from one of the agent's status events to its next (the
    current status until now), clipped to the window.  Handled: chats closed from the
    agent's inbox in the window; handle time runs from the chat's first arrival in an
    inbox (presented, taken, transferred or created there) to its close, wrap-up time is
    its time in active-wrapup (timer running); both are averaged over the chats handled.
    Extensions, transfers and returns count the events in the window, for the agent
    whose inbox the chat was in.  An event counts when since <= its time < until.

    \b
    Examples:
      chatemu stats agents
      chatemu stats agents --since 2026-01-05T09:00:00Z --until 2026-01-05T17:00:00Z
    """
    since_ms, until_ms = _window(since, until)
    show(ctx, engine(ctx).stats_agents(since_ms, until_ms), json, lambda r: render.stats_agents(r.value))


@stats_app.command("queues")
def stats_queues(ctx: typer.Context, since: SinceOpt = None, until: UntilOpt = None, json: JsonOpt = False) -> None:
    """Per queue: chats offered, presented or taken, abandoned, rejected, average and longest
    wait, service level.

    Offered: chats put into the queue (created, returned, transferred) in the window.
    Rejected: new chats the queue refused (max-queue-length, when-no-agent refuse), as
    the journal of refusals holds them (`chatemu refusals`).
    A wait runs from entering the queue to leaving it (presented, taken or abandoned);
    average and longest are over the waits that ended in the window.  Service level:
    the share of those waits that ended by a presentation or take within the queue's
    `service-level` (config, default 20s).  An event counts when since <= its time < until.

    \b
    Examples:
      chatemu stats queues
      chatemu stats queues --since 2026-01-05T09:00:00Z --json
    """
    since_ms, until_ms = _window(since, until)
    show(ctx, engine(ctx).stats_queues(since_ms, until_ms), json, lambda r: render.stats_queues(r.value))
