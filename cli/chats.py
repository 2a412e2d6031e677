"""`chatemu chat …`: the agent's chats and calls."""

from typing import Annotated, Optional

import typer

from chatemu.store.validate import DEFAULT_QUEUE

from .common import ChatId, JsonOpt, changed_agent, changed_chat, engine, show
from . import render

chat_app = typer.Typer(help="Chats: create, take, activate, park, end, wrap up; calls.", no_args_is_help=True)


@chat_app.command("new")
def chat_new(
    ctx: typer.Context,
    customer: Annotated[Optional[str], typer.Option(metavar="NAME", help="The customer's name.")] = None,
    queue: Annotated[str, typer.Option(metavar="Q", help="The queue the chat waits in.")] = DEFAULT_QUEUE,
    priority: Annotated[int, typer.Option(metavar="N", help="Higher is presented first.")] = 0,
    chat_id: Annotated[Optional[str], typer.Option("--id", metavar="ID", help="The chat's id [default: C1, C2, … in creation order].")] = None,
    inbox: Annotated[bool, typer.Option("--inbox", help="Put it straight into the agent's inbox as new.")] = False,
    json: JsonOpt = False,
) -> None:
    """A customer starts a chat: it is queued (or new in the inbox with --inbox)."""
    changed_chat(ctx, engine(ctx).chat_new(customer, queue, priority, chat_id, inbox), json)


@chat_app.command("take")
def chat_take(ctx: typer.Context, chat_id: ChatId, json: JsonOpt = False) -> None:
    """The agent picks a queued chat into the inbox (refused at capacity)."""
    changed_chat(ctx, engine(ctx).chat_take(chat_id), json)


@chat_app.command("activate")
def chat_activate(ctx: typer.Context, chat_id: ChatId, json: JsonOpt = False) -> None:
    """Make a chat the active item (parking the one that was); resumes a paused wrap-up."""
    changed_chat(ctx, engine(ctx).chat_activate(chat_id), json)


@chat_app.command("park")
def chat_park(ctx: typer.Context, chat_id: ChatId, json: JsonOpt = False) -> None:
    """Park the active chat; in wrap-up its timer pauses."""
    changed_chat(ctx, engine(ctx).chat_park(chat_id), json)


@chat_app.command("end")
def chat_end(ctx: typer.Context, chat_id: ChatId, json: JsonOpt = False) -> None:
    """The customer ends the chat: wrap-up starts (paused unless it is active)."""
    changed_chat(ctx, engine(ctx).chat_end(chat_id), json)


@chat_app.command("wrapup")
def chat_wrapup(
    ctx: typer.Context,
    chat_id: ChatId,
    extend: Annotated[bool, typer.Option("--extend", help="Add one wrap-up extension.")] = False,
    finish: Annotated[bool, typer.Option("--finish", help="End wrap-up now; the chat closes.")] = False,
    json: JsonOpt = False,
) -> None:
    """The agent ends the conversation (wrap-up starts), or extends or finishes wrap-up."""
    changed_chat(ctx, engine(ctx).chat_wrapup(chat_id, extend, finish), json)


@chat_app.command("call-start")
def call_start(ctx: typer.Context, json: JsonOpt = False) -> None:
    """A phone call reaches the agent: the active item is parked."""
    changed_agent(ctx, engine(ctx).call_start(), json)


@chat_app.command("call-end")
def call_end(ctx: typer.Context, json: JsonOpt = False) -> None:
    """The call is over: a chat the customer ended meanwhile resumes its wrap-up."""
    changed_agent(ctx, engine(ctx).call_end(), json)


@chat_app.command("list")
def chat_list(
    ctx: typer.Context,
    all_chats: Annotated[bool, typer.Option("--all", help="Every chat in the database, in id order.")] = False,
    state: Annotated[Optional[str], typer.Option(metavar="S", help="Only chats in this state.")] = None,
    queue: Annotated[Optional[str], typer.Option(metavar="Q", help="Only chats of this queue.")] = None,
    json: JsonOpt = False,
) -> None:
    """The agent's inbox (or every chat with --all)."""
    eng = engine(ctx)
    title = "all chats" if all_chats else f"inbox of {eng.agent}"
    show(ctx, eng.chat_list(all_chats, state, queue), json, lambda r: render.chat_list(r.value, all_chats, title))


@chat_app.command("show")
def chat_show(ctx: typer.Context, chat_id: ChatId, json: JsonOpt = False) -> None:
    """Everything about one chat."""
    show(ctx, engine(ctx).chat_show(chat_id), json, lambda r: render.chat_show(r.value))
