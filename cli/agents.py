"""`chatemu agent …`: the agent's status and presence."""

from typing import Annotated, Optional

import typer

from .common import JsonOpt, changed_agent, engine, show, with_examples
from . import render

agent_app = typer.Typer(help=with_examples("The agent: login and logout, status, presence and breaks, its queues.",
                                             "chatemu agent status", "chatemu --agent agent-2 agent login",
                                             "chatemu agent break --reason lunch", "chatemu agent queues set sales support"), no_args_is_help=True)


@agent_app.command("status")
def agent_status(
    ctx: typer.Context,
    agent_id: Annotated[Optional[str], typer.Argument(metavar="[ID]", help="Another agent [default: --agent].")] = None,
    json: JsonOpt = False,
) -> None:
    """The agent's presence, derived status, call and active chat.

    \b
    Examples:
      chatemu agent status
      chatemu agent status agent-2 --json
    """
    show(ctx, engine(ctx).agent_status(agent_id), json, lambda r: print(render.agent_summary(r.value)))


@agent_app.command("list")
def agent_list(ctx: typer.Context, json: JsonOpt = False) -> None:
    """Every agent in the database.

    \b
    Examples:
      chatemu agent list
      chatemu agent list --json
    """
    show(ctx, engine(ctx).agent_list(), json, lambda r: render.agent_list(r.value))


@agent_app.command("available")
def agent_available(ctx: typer.Context, json: JsonOpt = False) -> None:
    """Set presence to available: queued chats may be presented.

    \b
    Examples:
      chatemu agent available
      chatemu --agent agent-2 agent available
    """
    changed_agent(ctx, engine(ctx).agent_presence("available"), json)


@agent_app.command("break")
def agent_break(
    ctx: typer.Context,
    reason: Annotated[Optional[str], typer.Option("--reason", metavar="R", help="One of the break reasons (`chatemu break-reason list`).")] = None,
    json: JsonOpt = False,
) -> None:
    """Set presence to break: nothing is presented.

    \b
    Examples:
      chatemu agent break
      chatemu agent break --reason lunch
    """
    changed_agent(ctx, engine(ctx).agent_presence("break", reason), json)


@agent_app.command("login")
def agent_login(ctx: typer.Context, json: JsonOpt = False) -> None:
    """Log the agent in (creating it if new): available, queued chats may be presented.

    \b
    Examples:
      chatemu agent login
      chatemu --agent agent-2 agent login
    """
    changed_agent(ctx, engine(ctx).agent_login(), json)


@agent_app.command("logout")
def agent_logout(
    ctx: typer.Context,
    return_chats: Annotated[bool, typer.Option("--return", help="First return the agent's new, active and parked chats to their queues.")] = False,
    json: JsonOpt = False,
) -> None:
    """Log the agent out; refused on a call or with open chats (see --return).

    \b
    Examples:
      chatemu agent logout
      chatemu --agent agent-2 agent logout --return
    """
    changed_agent(ctx, engine(ctx).agent_logout(return_chats), json)


@agent_app.command("disconnect")
def agent_disconnect(ctx: typer.Context, json: JsonOpt = False) -> None:
    """The agent's connection is lost: it becomes unavailable; its new chats go back to their
    queues (keeping their place), its other chats stay with it. `agent available` once
    reconnected.

    \b
    Examples:
      chatemu agent disconnect
      chatemu --agent agent-2 agent disconnect --json
    """
    changed_agent(ctx, engine(ctx).agent_disconnect(), json)


queues_app = typer.Typer(
    help=with_examples("The agent's queues, in its order: `agent queues` shows them; set, on, off and clear change them.",
                       "chatemu agent queues", "chatemu agent queues set sales support", "chatemu agent queues off support",
                       "chatemu --agent agent-2 agent queues --json"),
    invoke_without_command=True,
)
agent_app.add_typer(queues_app, name="queues")


@queues_app.callback()
def agent_queues(ctx: typer.Context, json: JsonOpt = False) -> None:
    """The agent's queues in its order, each on or off (none assigned: it serves every queue)."""
    if ctx.invoked_subcommand is None:
        show(ctx, engine(ctx).agent_queues(), json, lambda r: print(render.agent_queues(r.value)))


@queues_app.command("set")
def agent_queues_set(
    ctx: typer.Context,
    queues: Annotated[list[str], typer.Argument(metavar="Q...", help="The queues, first served first.")],
    json: JsonOpt = False,
) -> None:
    """Assign the agent to exactly these queues, in this order.

    \b
    Examples:
      chatemu agent queues set sales
      chatemu --agent agent-2 agent queues set sales support
    """
    show(ctx, engine(ctx).agent_queues_set(queues), json,
         lambda r: render.changed(render.agent_queues(r.value), r.events))


@queues_app.command("clear")
def agent_queues_clear(ctx: typer.Context, json: JsonOpt = False) -> None:
    """Assign the agent to no queue: it serves every queue.

    \b
    Examples:
      chatemu agent queues clear
    """
    show(ctx, engine(ctx).agent_queues_clear(), json,
         lambda r: render.changed(render.agent_queues(r.value), r.events))


@queues_app.command("on")
def agent_queues_on(
    ctx: typer.Context,
    queue: Annotated[str, typer.Argument(metavar="Q", help="One of the agent's queues.")],
    json: JsonOpt = False,
) -> None:
    """Switch one of the agent's queues on: chats from it are presented again.

    \b
    Examples:
      chatemu agent queues on sales
    """
    show(ctx, engine(ctx).agent_queues_switch(queue, True), json,
         lambda r: render.changed(render.agent_queues(r.value), r.events))


@queues_app.command("off")
def agent_queues_off(
    ctx: typer.Context,
    queue: Annotated[str, typer.Argument(metavar="Q", help="One of the agent's queues.")],
    json: JsonOpt = False,
) -> None:
    """Switch one of the agent's queues off: it stays assigned but receives nothing from it.

    \b
    Examples:
      chatemu agent queues off sales
    """
    show(ctx, engine(ctx).agent_queues_switch(queue, False), json,
         lambda r: render.changed(render.agent_queues(r.value), r.events))


break_reason_app = typer.Typer(help=with_examples("The reasons an agent may give for a break.",
                                                    "chatemu break-reason list", "chatemu break-reason add coaching"), no_args_is_help=True)


@break_reason_app.command("list")
def break_reason_list(ctx: typer.Context, json: JsonOpt = False) -> None:
    """The break reasons, in order (a reason's limit beside it, when it has one).

    \b
    Examples:
      chatemu break-reason list
      chatemu break-reason list --json
    """
    def text(result) -> None:
        if not result.value:
            print("(no break reasons)")
            return
        limits = engine(ctx).break_reason_limits().value
        from chatemu.store.timefmt import format_duration

        print("\n".join(f"{r} (limit {format_duration(limits[r])})" if r in limits else r for r in result.value))

    show(ctx, engine(ctx).break_reason_list(), json, text)


@break_reason_app.command("add")
def break_reason_add(
    ctx: typer.Context,
    reason: Annotated[str, typer.Argument(metavar="R", help="A name (letters, digits and . _ : @ + -).")],
    limit: Annotated[Optional[str], typer.Option(
        metavar="D", help="A break for it longer than D overruns (off: no limit); set again for a listed reason.")] = None,
    json: JsonOpt = False,
) -> None:
    """Add a break reason (at the end of the list), or set its limit.

    \b
    Examples:
      chatemu break-reason add coaching
      chatemu break-reason add lunch --limit 30m
    """
    show(ctx, engine(ctx).break_reason_add(reason, limit), json, lambda r: print(", ".join(r.value)))


@break_reason_app.command("remove")
def break_reason_remove(
    ctx: typer.Context,
    reason: Annotated[str, typer.Argument(metavar="R", help="A break reason.")],
    json: JsonOpt = False,
) -> None:
    """Remove a break reason (an agent on a break for it stays on its break).

    \b
    Examples:
      chatemu break-reason remove comfort
    """
    show(ctx, engine(ctx).break_reason_remove(reason), json, lambda r: print(", ".join(r.value) or "(no break reasons)"))
