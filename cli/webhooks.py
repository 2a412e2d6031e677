"""`chatemu webhook …`: the endpoints a namespace's events are posted to (docs/webhooks.md)."""

from typing import Annotated, Optional

import typer

from . import render
from .common import JsonOpt, engine, show, with_examples

webhook_app = typer.Typer(
    help=with_examples(
        "Endpoints that `chatemu serve` posts the events to (docs/webhooks.md).",
        "chatemu webhook add https://example.test/hook 'chat.*'",
        "chatemu webhook list",
        "chatemu webhook deliveries 1",
    ),
    no_args_is_help=True,
)

WebhookId = Annotated[int, typer.Argument(metavar="ID", help="The endpoint's id (webhook list).", show_default=False)]


@webhook_app.command("add")
def webhook_add(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(metavar="URL", help="Where to post (http:// or https://).", show_default=False)],
    events: Annotated[Optional[list[str]], typer.Argument(metavar="[PATTERN]...", help="The event types: *, chat.*, agent.*, config.*, log.*, chat.state, agent.status, config.profile or log.replaced [default: *].", show_default=False)] = None,
    secret: Annotated[Optional[str], typer.Option("--secret", metavar="WHSEC", help="The signing secret (whsec_ and the base64 of 24 to 64 bytes) [default: a new random one].", show_default=False)] = None,
    json: JsonOpt = False,
) -> None:
    """Add an endpoint: it is sent the events logged from now on; prints its signing
    secret, this once.

    \b
    Examples:
      chatemu webhook add https://example.test/hook
      chatemu webhook add http://127.0.0.1:9000/in 'chat.*' log.replaced
      chatemu webhook add https://example.test/hook --json
    """
    show(ctx, engine(ctx).webhook_add(url, events or None, secret), json,
         lambda r: print(f"webhook {r.value['id']} added: {r.value['url']} ({' '.join(r.value['events'])});"
                         f" secret {r.value['secret']}"))


@webhook_app.command("list")
def webhook_list(ctx: typer.Context, json: JsonOpt = False) -> None:
    """The endpoints: id, URL, event types, the last seq acknowledged, disabled or not (never the secret).

    \b
    Examples:
      chatemu webhook list
      chatemu webhook list --json
    """
    show(ctx, engine(ctx).webhook_list(), json, lambda r: render.webhooks(r.value))


@webhook_app.command("delete")
def webhook_delete(ctx: typer.Context, webhook_id: WebhookId, json: JsonOpt = False) -> None:
    """Delete an endpoint and its delivery records: nothing more is sent to it.

    \b
    Examples:
      chatemu webhook delete 1
    """
    show(ctx, engine(ctx).webhook_delete(webhook_id), json, lambda r: print(f"deleted webhook {webhook_id}"))


@webhook_app.command("enable")
def webhook_enable(ctx: typer.Context, webhook_id: WebhookId, json: JsonOpt = False) -> None:
    """Switch a disabled endpoint back on: it is sent the events after its cursor, nothing lost.

    \b
    Examples:
      chatemu webhook enable 1
    """
    show(ctx, engine(ctx).webhook_enable(webhook_id), json,
         lambda r: print(f"webhook {webhook_id} enabled: next, the events after seq {r.value['cursor']}"))


@webhook_app.command("deliveries")
def webhook_deliveries(ctx: typer.Context, webhook_id: WebhookId, json: JsonOpt = False) -> None:
    """An endpoint's latest delivery records, newest first: seq, attempts, last status or error, next try.

    \b
    Examples:
      chatemu webhook deliveries 1
      chatemu webhook deliveries 1 --json
    """
    show(ctx, engine(ctx).webhook_deliveries(webhook_id), json, lambda r: render.deliveries(r.value))
