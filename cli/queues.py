"""`chatemu queue …`: the queues, what waits in them, who serves them."""

from typing import Annotated

import typer

from . import render
from .common import JsonOpt, engine, show, with_examples

queue_app = typer.Typer(help=with_examples("Queues: what waits in them and who serves them.", "chatemu queue add sales", "chatemu queue list",
                                          "chatemu queue show sales --json"), no_args_is_help=True)


@queue_app.command("add")
def queue_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="Q", help="A name (letters, digits and . _ : @ + -).")],
    json: JsonOpt = False,
) -> None:
    """Add a queue.  From the first queue added on, a queue that does not exist is
    unknown wherever it is named (exit 4); before, a queue a chat names comes into
    being by itself, as `default` always does.

    \b
    Examples:
      chatemu queue add sales
    """
    show(ctx, engine(ctx).queue_add(name), json, lambda r: render.sentence(render.queue_summary(r.value)))


@queue_app.command("list")
def queue_list(ctx: typer.Context, json: JsonOpt = False) -> None:
    """Every queue: waiting chats, longest wait, chats in inboxes, agents serving it.

    \b
    Examples:
      chatemu queue list
      chatemu queue list --json
    """
    show(ctx, engine(ctx).queue_list(), json, lambda r: render.queue_list(r.value))


@queue_app.command("show")
def queue_show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="Q", help="A queue.")],
    json: JsonOpt = False,
) -> None:
    """One queue: waiting chats, longest wait, chats in inboxes, assigned agents, available now.

    \b
    Examples:
      chatemu queue show sales
      chatemu queue show default --json
    """
    show(ctx, engine(ctx).queue_show(name), json, lambda r: render.sentence(render.queue_summary(r.value)))
