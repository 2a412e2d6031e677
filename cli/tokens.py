"""`chatemu token …`: the bearer tokens of `chatemu serve`'s namespaces (docs/tokens.md)."""

from typing import Annotated, Optional

import typer

from . import render
from .common import JsonOpt, with_examples

token_app = typer.Typer(
    help=with_examples(
        "Bearer tokens for the server's namespaces: who may do what (docs/tokens.md).",
        "chatemu token add --data-dir srv --ns demo --role trainer",
        "chatemu token list --data-dir srv",
        "chatemu token revoke --data-dir srv 2",
    ),
    no_args_is_help=True,
)

DataDir = Annotated[str, typer.Option("--data-dir", metavar="DIR", help="The server's data folder (NS.db files and .tokens.db).", show_default=False)]


def _store(data_dir: str):
    from chatemu.server.tokens import TokenStore

    return TokenStore(data_dir)


@token_app.command("add")
def token_add(
    data_dir: DataDir,
    ns: Annotated[str, typer.Option("--ns", metavar="NS", help="The namespace (a-z, 0-9 and -).", show_default=False)],
    role: Annotated[str, typer.Option("--role", metavar="ROLE", help="trainer, agent or customer.", show_default=False)],
    agent: Annotated[Optional[str], typer.Option("--agent", metavar="ID", help="The agent an agent token acts as (agent only).", show_default=False)] = None,
    json: JsonOpt = False,
) -> None:
    """Make a new token and print it, this once: only its hash is kept.

    A trainer may do everything in its namespace; an agent acts as its own agent
    (its chats, its status, reads of the namespace); a customer makes chats, writes
    in them and leaves them, and reads a chat.

    \b
    Examples:
      chatemu token add --data-dir srv --ns demo --role trainer
      chatemu token add --data-dir srv --ns demo --role agent --agent agent-2
      chatemu token add --data-dir srv --ns demo --role customer --json
    """
    record, token = _store(data_dir).add(ns, role, agent)
    if json:
        render.emit_json({**record.as_json(), "token": token})
    else:
        print(token)


@token_app.command("list")
def token_list(data_dir: DataDir, json: JsonOpt = False) -> None:
    """Every token: id, namespace, role, agent, when made and revoked (never the token).

    \b
    Examples:
      chatemu token list --data-dir srv
      chatemu token list --data-dir srv --json
    """
    found = [t.as_json() for t in _store(data_dir).list()]
    if json:
        render.emit_json(found)
    else:
        render.tokens(found)


@token_app.command("revoke")
def token_revoke(
    data_dir: DataDir,
    token_id: Annotated[int, typer.Argument(metavar="ID", help="The token's id (token list).", show_default=False)],
    json: JsonOpt = False,
) -> None:
    """Revoke a token: its next request is refused (401).

    \b
    Examples:
      chatemu token revoke --data-dir srv 2
    """
    record = _store(data_dir).revoke(token_id)
    if json:
        render.emit_json(record.as_json())
    else:
        print(f"revoked token {record.id} ({record.role} of {record.ns})")
