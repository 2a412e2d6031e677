"""`chatemu profile …`: vendor profiles, the values of chatemu's settings other platforms document."""

from typing import Annotated, Optional

import typer

from . import render
from .common import JsonOpt, engine, show, with_examples

NAMES = "horizon, genesys, connect, omni or flex"

profile_app = typer.Typer(help=with_examples(
    "Vendor profiles: set chatemu's settings to the values a platform documents (docs/profiles.md).",
    "chatemu profile list", "chatemu profile show genesys", "chatemu profile apply connect",
    "chatemu profile apply flex --queue sales"), no_args_is_help=True)


@profile_app.command("list")
def profile_list(ctx: typer.Context, json: JsonOpt = False) -> None:
    """Every profile, with the keys where its values differ from horizon's (chatemu's defaults).

    \b
    Examples:
      chatemu profile list
      chatemu profile list --json
    """
    from chatemu.store import profiles
    from chatemu.store.engine import Result

    show(ctx, Result(profiles.list_all()), json, lambda r: render.profiles(r.value))


@profile_app.command("show")
def profile_show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help=f"A profile: {NAMES}.")],
    json: JsonOpt = False,
) -> None:
    """A profile's value of each key it sets, with the sentence of the platform's
    documentation it rests on and its link (or why it stays at chatemu's default).

    \b
    Examples:
      chatemu profile show genesys
      chatemu profile show flex --json
    """
    from chatemu.store import profiles
    from chatemu.store.engine import Result

    show(ctx, Result(profiles.show(name)), json, lambda r: render.profile(r.value))


@profile_app.command("apply")
def profile_apply(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help=f"A profile: {NAMES}.")],
    queue: Annotated[Optional[str], typer.Option(metavar="Q", help="Set the profile's per-queue keys for this queue only; its global keys (max-chats, call-parks-chats) are left as they are, and named.")] = None,
    json: JsonOpt = False,
) -> None:
    """Set every key of a profile in one transaction, log it as an event, and remember it:
    `config show` names the profile and what was changed after it.

    Without --queue the values are set for every queue (a queue's own values, set
    before, still win for it); with --queue, for that queue only.

    \b
    Examples:
      chatemu profile apply genesys
      chatemu profile apply connect --queue sales
      chatemu profile apply horizon
    """
    show(ctx, engine(ctx).profile_apply(name, queue), json,
         lambda r: render.changed(render.profile_applied(r.value), r.events))
