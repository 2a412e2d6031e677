"""`chatemu clock …` and `chatemu config …`."""

from typing import Annotated, Optional

import typer

from .common import JsonOpt, changed_clock, engine, show, with_examples
from . import render

clock_app = typer.Typer(help=with_examples("The database's clock: show it, advance it, set it, make it real or virtual.",
                                         "chatemu clock", "chatemu clock set 2026-01-05T09:00:00Z", "chatemu clock advance 90s",
                                         "chatemu clock real"))
config_app = typer.Typer(help=with_examples("Configuration: wrap-up, extensions, capacity, auto-present, classification.",
                                           "chatemu config show", "chatemu config set wrapup 90s", "chatemu config set auto-present off"), no_args_is_help=True)


@clock_app.callback(invoke_without_command=True)
def clock(ctx: typer.Context, json: JsonOpt = False) -> None:
    """Show the time and mode (virtual or real)."""
    if ctx.invoked_subcommand is None:
        show(ctx, engine(ctx).clock_show(), json, lambda r: render.changed(render.clock(r.value), r.events))


@clock_app.command("advance")
def clock_advance(
    ctx: typer.Context,
    duration: Annotated[str, typer.Argument(metavar="DURATION", help="90, 90s, 1.5s, 2m, 1m30s, 1h, 250ms.")],
    json: JsonOpt = False,
) -> None:
    """Move the clock forward; due timers fire in order at their instants.

    \b
    Examples:
      chatemu clock advance 90s
      chatemu clock advance 1m30s
      chatemu clock advance 250ms
    """
    from chatemu.store.timefmt import parse_duration

    changed_clock(ctx, engine(ctx).clock_advance(parse_duration(duration)), json)


@clock_app.command("set")
def clock_set(
    ctx: typer.Context,
    time: Annotated[str, typer.Argument(metavar="ISO-TIME", help="e.g. 2026-01-05T09:00:00Z; no zone means UTC.")],
    json: JsonOpt = False,
) -> None:
    """Set the clock to a later instant (never backwards).

    \b
    Examples:
      chatemu clock set 2026-01-05T09:00:00Z
      chatemu clock set 2026-01-05T10:30:00+01:00
    """
    from chatemu.store.timefmt import parse_time

    changed_clock(ctx, engine(ctx).clock_set(parse_time(time)), json)


@clock_app.command("real")
def clock_real(ctx: typer.Context, json: JsonOpt = False) -> None:
    """Run at the wall clock's pace, going on from the current time (no jump).

    \b
    Examples:
      chatemu clock real
    """
    changed_clock(ctx, engine(ctx).clock_mode("real"), json)


@clock_app.command("virtual")
def clock_virtual(ctx: typer.Context, json: JsonOpt = False) -> None:
    """Freeze the clock at the current time; move it with advance and set.

    \b
    Examples:
      chatemu clock virtual
    """
    changed_clock(ctx, engine(ctx).clock_mode("virtual"), json)


@config_app.command("show")
def config_show(ctx: typer.Context, json: JsonOpt = False) -> None:
    """Every key with its value, and the per-queue overrides.

    \b
    Examples:
      chatemu config show
      chatemu config show --json
    """
    show(ctx, engine(ctx).config_show(), json, lambda r: render.config(r.value))


@config_app.command("set")
def config_set(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(metavar="KEY", help="wrapup, wrapup-extension, wrapup-extensions, max-chats, auto-present, classification, classification-required, routing, service-level, break-reasons.")],
    value: Annotated[str, typer.Argument(metavar="VALUE", help="A duration, a whole number, on/off, a choice, or names separated by commas.")],
    queue: Annotated[Optional[str], typer.Option(metavar="Q", help="Set it for this queue only (wrap-up, classification and service-level keys).")] = None,
    agent: Annotated[Optional[str], typer.Option("--agent", metavar="A", help="Set it for this agent only (max-chats).")] = None,
    json: JsonOpt = False,
) -> None:
    """Set a configuration key, for all queues, for one queue, or for one agent.

    Prints the value as stored (`auto-present yes` is stored as on, `wrapup 90` as 1m30s).

    \b
    Examples:
      chatemu config set wrapup 90s
      chatemu config set wrapup 2m --queue sales
      chatemu config set max-chats 1 --agent agent-2
      chatemu config set routing queue-order
      chatemu config set break-reasons lunch,training
      chatemu config set max-queue-length 5 --queue sales
      chatemu config set when-no-agent refuse --queue vip
      chatemu config set wrapup-mode untimed --queue support
      chatemu config set timeout-classification no-answer
      chatemu config set call-parks-chats off
    """
    result = engine(ctx).config_set(key, value, queue, agent)
    where = f" for queue {queue}" if queue else f" for agent {agent}" if agent else ""
    show(ctx, result, json,
         lambda r: render.changed(f"{key} = {render.config_value(r.value, key, queue, agent)}{where}", r.events))
