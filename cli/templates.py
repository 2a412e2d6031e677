"""`chatemu template …` and `chatemu classification …`: what agents pick from."""

from typing import Annotated, Optional

import typer

from . import render
from .common import JsonOpt, engine, show, with_examples

template_app = typer.Typer(help=with_examples("Message templates, global or per queue.", "chatemu template add greeting 'Hello {customer}.'",
                                                                "chatemu template list --queue billing"), no_args_is_help=True)
classification_app = typer.Typer(help=with_examples("Classification codes, global or per queue.", "chatemu classification add refund",
                                                                      "chatemu classification list --queue billing"), no_args_is_help=True)

QueueOpt = Annotated[Optional[str], typer.Option("--queue", metavar="Q", help="For queue Q only [default: every queue].")]


@template_app.command("add")
def template_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The template's name.", show_default=False)],
    text: Annotated[str, typer.Argument(metavar="TEXT", help="Its text; {customer}, {agent}, {queue}, {chat} are filled in.", show_default=False)],
    queue: QueueOpt = None,
    json: JsonOpt = False,
) -> None:
    """Add a template (or replace the one of that name); a queue's own shadows a global one.

    \b
    Examples:
      chatemu template add greeting 'Hello {customer}, I am {agent}.'
      chatemu template add greeting 'Billing here, {customer}.' --queue billing
    """
    result = engine(ctx).template_add(name, text, queue)
    verb = "replaced" if result.value["replaced"] else "added"
    show(ctx, result, json, lambda r: print(f"template {name} {verb}" + (f" for queue {queue}" if queue else "")))


@template_app.command("list")
def template_list(ctx: typer.Context, queue: Annotated[Optional[str], typer.Option("--queue", metavar="Q", help="What a chat of queue Q would use.")] = None, json: JsonOpt = False) -> None:
    """The templates (with --queue: those a chat of that queue uses).

    \b
    Examples:
      chatemu template list --queue billing
    """
    show(ctx, engine(ctx).template_list(queue), json, lambda r: render.templates(r.value))


@template_app.command("remove")
def template_remove(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The template's name.", show_default=False)],
    queue: QueueOpt = None,
    json: JsonOpt = False,
) -> None:
    """Remove a template (the global one, or with --queue the queue's own).

    \b
    Examples:
      chatemu template remove greeting --queue billing
    """
    show(ctx, engine(ctx).template_remove(name, queue), json, lambda r: print(f"template {name} removed"))


CodeArg = Annotated[str, typer.Argument(metavar="CODE", help="The classification code.", show_default=False)]


@classification_app.command("add")
def classification_add(ctx: typer.Context, code: CodeArg, queue: QueueOpt = None, json: JsonOpt = False) -> None:
    """Add a code to the list (used where config classification = list).

    \b
    Examples:
      chatemu classification add refund --queue billing
      chatemu config set classification list --queue billing
    """
    result = engine(ctx).classification_add(code, queue)
    verb = "added" if result.value["added"] else "already listed"
    show(ctx, result, json, lambda r: print(f"classification {code} {verb}" + (f" for queue {queue}" if queue else "")))


@classification_app.command("list")
def classification_list(ctx: typer.Context, queue: Annotated[Optional[str], typer.Option("--queue", metavar="Q", help="The codes a chat of queue Q may use.")] = None, json: JsonOpt = False) -> None:
    """The codes (with --queue: the global ones and the queue's own).

    \b
    Examples:
      chatemu classification list --queue billing
    """
    show(ctx, engine(ctx).classification_list(queue), json, lambda r: render.codes(r.value))


@classification_app.command("remove")
def classification_remove(ctx: typer.Context, code: CodeArg, queue: QueueOpt = None, json: JsonOpt = False) -> None:
    """Remove a code from the list (the global one, or with --queue the queue's own).

    \b
    Examples:
      chatemu classification remove refund --queue billing
    """
    show(ctx, engine(ctx).classification_remove(code, queue), json, lambda r: print(f"classification {code} removed"))
