"""`chatemu chat …`: the agent's chats and calls."""

from typing import Annotated, Optional

import typer

from chatemu.store.validate import DEFAULT_QUEUE

from .common import ChatId, JsonOpt, changed_agent, changed_chat, engine, show, with_examples
from . import render

chat_app = typer.Typer(
    help=with_examples("Chats: create, take, activate, park, end, wrap up; messages, return, transfer, classify; calls.",
                      "chatemu chat new --customer Ann", "chatemu chat list", "chatemu chat activate C1",
                      "chatemu chat show C1 --json"),
    no_args_is_help=True,
)
contact_app = typer.Typer(help=with_examples("Contacts: the history of a customer's chats.", "chatemu contact history 'Ann Lee'"), no_args_is_help=True)


@chat_app.command("new")
def chat_new(
    ctx: typer.Context,
    customer: Annotated[Optional[str], typer.Option(metavar="NAME", help="The customer's name.")] = None,
    queue: Annotated[str, typer.Option(metavar="Q", help="The queue the chat waits in.")] = DEFAULT_QUEUE,
    priority: Annotated[int, typer.Option(metavar="N", help="Higher is presented first.")] = 0,
    chat_id: Annotated[Optional[str], typer.Option("--id", metavar="ID", help="The chat's id [default: C1, C2, … in creation order].")] = None,
    inbox: Annotated[bool, typer.Option("--inbox", help="Put it straight into the agent's inbox as new.")] = False,
    patience: Annotated[Optional[str], typer.Option(
        metavar="D", help="This customer leaves (abandoned) if still queued after D [default: the queue's patience].")] = None,
    json: JsonOpt = False,
) -> None:
    """A customer starts a chat: it is queued (or new in the inbox with --inbox).

    --customer also links the chat to the contact of that name (created if new).

    \b
    Examples:
      chatemu chat new --customer Ann
      chatemu chat new --customer Bob --queue sales --priority 2
      chatemu chat new --id VIP-1 --inbox --json
      chatemu chat new --customer Cy --patience 2m
    """
    changed_chat(ctx, engine(ctx).chat_new(customer, queue, priority, chat_id, inbox, patience), json)


@chat_app.command("take")
def chat_take(ctx: typer.Context, chat_id: ChatId, json: JsonOpt = False) -> None:
    """The agent picks a queued chat into the inbox (refused at capacity).

    \b
    Examples:
      chatemu chat take C2
      chatemu --agent agent-2 chat take C3 --json
    """
    changed_chat(ctx, engine(ctx).chat_take(chat_id), json)


@chat_app.command("activate")
def chat_activate(ctx: typer.Context, chat_id: ChatId, json: JsonOpt = False) -> None:
    """Make a chat the active item (parking the one that was); resumes a paused wrap-up.

    \b
    Examples:
      chatemu chat activate C1
      chatemu --agent agent-2 chat activate C3
    """
    changed_chat(ctx, engine(ctx).chat_activate(chat_id), json)


@chat_app.command("park")
def chat_park(ctx: typer.Context, chat_id: ChatId, json: JsonOpt = False) -> None:
    """Park the active chat; in wrap-up its timer pauses.

    \b
    Examples:
      chatemu chat park C1
    """
    changed_chat(ctx, engine(ctx).chat_park(chat_id), json)


@chat_app.command("end")
def chat_end(ctx: typer.Context, chat_id: ChatId, json: JsonOpt = False) -> None:
    """The customer ends the chat: wrap-up starts (paused unless it is active).

    With the queue's wrapup-mode off the chat closes at once; untimed, wrap-up has no timer.

    \b
    Examples:
      chatemu chat end C1
      chatemu chat end C1 --json
    """
    changed_chat(ctx, engine(ctx).chat_end(chat_id), json)


@chat_app.command("wrapup")
def chat_wrapup(
    ctx: typer.Context,
    chat_id: ChatId,
    extend: Annotated[bool, typer.Option("--extend", help="Add one wrap-up extension.")] = False,
    finish: Annotated[bool, typer.Option("--finish", help="End wrap-up now; the chat closes.")] = False,
    json: JsonOpt = False,
) -> None:
    """The agent ends the conversation (wrap-up starts), or extends or finishes wrap-up.

    The queue's wrapup-mode changes this: untimed (no timer, nothing to extend),
    no-early-exit (--finish waits for the timer), optional (--finish on the active chat
    skips wrap-up), off (ending the conversation closes the chat).

    \b
    Examples:
      chatemu chat wrapup C1
      chatemu chat wrapup C1 --extend
      chatemu chat wrapup C1 --finish
    """
    changed_chat(ctx, engine(ctx).chat_wrapup(chat_id, extend, finish), json)


@chat_app.command("send")
def chat_send(
    ctx: typer.Context,
    chat_id: ChatId,
    text: Annotated[Optional[str], typer.Argument(metavar="[TEXT]", help="The message.", show_default=False)] = None,
    template: Annotated[Optional[str], typer.Option("--template", metavar="NAME", help="Send this template's text instead.")] = None,
    json: JsonOpt = False,
) -> None:
    """The agent sends a message on its active chat.

    A template's {customer}, {agent}, {queue} and {chat} are filled in.

    \b
    Examples:
      chatemu chat send C1 'Hello, how can I help?'
      chatemu chat send C1 --template greeting
    """
    show(ctx, engine(ctx).chat_send(chat_id, text, template), json, lambda r: print(render.message_line(r.value)))


@chat_app.command("receive")
def chat_receive(
    ctx: typer.Context,
    chat_id: ChatId,
    text: Annotated[str, typer.Argument(metavar="TEXT", help="The customer's message.", show_default=False)],
    json: JsonOpt = False,
) -> None:
    """A customer message arrives (unread unless the chat is active).

    \b
    Examples:
      chatemu chat receive C1 'Where is my parcel?'
    """
    show(ctx, engine(ctx).chat_receive(chat_id, text), json, lambda r: print(render.message_line(r.value)))


@chat_app.command("transcript")
def chat_transcript(ctx: typer.Context, chat_id: ChatId, json: JsonOpt = False) -> None:
    """The chat's messages in order: seq, time, who, text.

    \b
    Examples:
      chatemu chat transcript C1 --json
    """
    show(ctx, engine(ctx).chat_transcript(chat_id), json, lambda r: render.transcript(chat_id, r.value))


@chat_app.command("return")
def chat_return(ctx: typer.Context, chat_id: ChatId, json: JsonOpt = False) -> None:
    """Send a new, active or parked chat back, queued, to the queue it first arrived in.

    It keeps its messages and its place (its arrival time) in the queue.

    \b
    Examples:
      chatemu chat return C1
    """
    changed_chat(ctx, engine(ctx).chat_return(chat_id), json)


@chat_app.command("transfer")
def chat_transfer(
    ctx: typer.Context,
    chat_id: ChatId,
    queue: Annotated[Optional[str], typer.Option("--queue", metavar="Q", help="Queue it in queue Q.")] = None,
    agent: Annotated[Optional[str], typer.Option("--agent", metavar="A", help="Put it, new, in agent A's inbox.")] = None,
    json: JsonOpt = False,
) -> None:
    """Transfer the active chat to another queue or to another agent.

    \b
    Examples:
      chatemu chat transfer C1 --queue billing
      chatemu chat transfer C1 --agent agent-2
    """
    changed_chat(ctx, engine(ctx).chat_transfer(chat_id, queue, agent), json)


@chat_app.command("classify")
def chat_classify(
    ctx: typer.Context,
    chat_id: ChatId,
    code: Annotated[str, typer.Argument(metavar="CODE", help="The classification.", show_default=False)],
    note: Annotated[Optional[str], typer.Option("--note", metavar="TEXT", help="Additional text for the contact history.")] = None,
    json: JsonOpt = False,
) -> None:
    """Classify the chat, during the conversation or its wrap-up (again: replaces it).

    \b
    Examples:
      chatemu chat classify C1 refund --note 'parcel lost'
    """
    changed_chat(ctx, engine(ctx).chat_classify(chat_id, code, note), json)


@chat_app.command("flag-abusive")
def chat_flag_abusive(ctx: typer.Context, chat_id: ChatId, json: JsonOpt = False) -> None:
    """Flag the chat as abusive, during the conversation or its wrap-up.

    \b
    Examples:
      chatemu chat flag-abusive C1
    """
    changed_chat(ctx, engine(ctx).chat_flag_abusive(chat_id), json)


@chat_app.command("contact")
def chat_contact(
    ctx: typer.Context,
    chat_id: ChatId,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The contact's name.", show_default=False)],
    json: JsonOpt = False,
) -> None:
    """Assign the chat to a contact (created if new).

    \b
    Examples:
      chatemu chat contact C1 'Ann Lee'
    """
    changed_chat(ctx, engine(ctx).chat_contact(chat_id, name), json)


@chat_app.command("call-start")
def call_start(ctx: typer.Context, json: JsonOpt = False) -> None:
    """A phone call reaches the agent: the active item is parked.

    With call-parks-chats off nothing moves: the active chat stays active and a wrap-up
    timer keeps running.

    \b
    Examples:
      chatemu chat call-start
      chatemu --agent agent-2 chat call-start --json
    """
    changed_agent(ctx, engine(ctx).call_start(), json)


@chat_app.command("call-end")
def call_end(ctx: typer.Context, json: JsonOpt = False) -> None:
    """The call is over: a chat the customer ended meanwhile resumes its wrap-up.

    \b
    Examples:
      chatemu chat call-end
    """
    changed_agent(ctx, engine(ctx).call_end(), json)


@chat_app.command("list")
def chat_list(
    ctx: typer.Context,
    all_chats: Annotated[bool, typer.Option("--all", help="Every chat in the database, in id order.")] = False,
    state: Annotated[Optional[str], typer.Option(metavar="S", help="Only chats in this state (queued or closed: every chat in it, as no inbox holds one).")] = None,
    queue: Annotated[Optional[str], typer.Option(metavar="Q", help="Only chats of this queue.")] = None,
    ids: Annotated[bool, typer.Option("--ids", help="Print only the chats' ids, one per line (with --json: one array).")] = False,
    json: JsonOpt = False,
) -> None:
    """The agent's inbox (or every chat with --all).

    A queued or closed chat is in no inbox: --state queued or --state closed
    lists every chat in that state, as with --all.

    \b
    Examples:
      chatemu chat list
      chatemu chat list --all --queue sales
      chatemu chat list --state queued --json
      chatemu chat list --all --ids
    """
    from chatemu.store.chats import every_chat

    eng = engine(ctx)
    if ids:
        show(ctx, eng.chat_ids(all_chats, state, queue), json, lambda r: print("\n".join(r.value)) if r.value else None)
        return
    everywhere = every_chat(all_chats, state)
    title = "all chats" if all_chats else f"all {state} chats (no inbox holds one)" if everywhere else f"inbox of {eng.agent}"
    show(ctx, eng.chat_list(all_chats, state, queue), json, lambda r: render.chat_list(r.value, everywhere, title))


@chat_app.command("show")
def chat_show(ctx: typer.Context, chat_id: ChatId, json: JsonOpt = False) -> None:
    """Everything about one chat.

    \b
    Examples:
      chatemu chat show C1
      chatemu chat show C1 --json
    """
    show(ctx, engine(ctx).chat_show(chat_id), json, lambda r: render.chat_show(r.value))


@contact_app.command("history")
def contact_history(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The contact's name.", show_default=False)],
    json: JsonOpt = False,
) -> None:
    """A contact's chats, oldest first: queue, agents, times, state, classification, notes.

    \b
    Examples:
      chatemu contact history 'Ann Lee' --json
    """
    show(ctx, engine(ctx).contact_history(name), json, lambda r: render.contact_history(r.value))
