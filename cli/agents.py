"""`chatemu agent …`: the agent's status and presence."""

from typing import Annotated, Optional

import typer

from .common import JsonOpt, changed_agent, engine, show
from . import render

agent_app = typer.Typer(help="The agent: status and presence.", no_args_is_help=True)


@agent_app.command("status")
def agent_status(
    ctx: typer.Context,
    agent_id: Annotated[Optional[str], typer.Argument(metavar="[ID]", help="Another agent [default: --agent].")] = None,
    json: JsonOpt = False,
) -> None:
    """The agent's presence, derived status, call and active chat."""
    show(ctx, engine(ctx).agent_status(agent_id), json, lambda r: print(render.agent_summary(r.value)))


@agent_app.command("list")
def agent_list(ctx: typer.Context, json: JsonOpt = False) -> None:
    """Every agent in the database."""
    show(ctx, engine(ctx).agent_list(), json, lambda r: render.agent_list(r.value))


@agent_app.command("available")
def agent_available(ctx: typer.Context, json: JsonOpt = False) -> None:
    """Set presence to available: queued chats may be presented."""
    changed_agent(ctx, engine(ctx).agent_presence("available"), json)


@agent_app.command("break")
def agent_break(ctx: typer.Context, json: JsonOpt = False) -> None:
    """Set presence to break: nothing is presented."""
    changed_agent(ctx, engine(ctx).agent_presence("break"), json)
