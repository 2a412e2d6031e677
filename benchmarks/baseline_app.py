"""The start-up baseline: a minimal Typer app doing chatemu's kind of transaction.

It has the same shape as ``chatemu chat park ID`` / ``chatemu chat activate ID``
(a root ``--db`` option, a ``chat`` group, one command per state change), the
same Typer (whatever is installed next to chatemu) with the same settings, and
imports nothing else but the standard library's ``sqlite3``.  Each command is
one ``BEGIN IMMEDIATE`` transaction on a chatemu database: read the chat's
row, update it, insert an event row, commit, print one line.  The connection
uses the same durability settings as chatemu (WAL, ``synchronous=NORMAL``,
a busy timeout), so the comparison measures only chatemu's own overhead.

Run it as ``python benchmarks/baseline_app.py --db PATH chat park C1``.
``bench.py`` also imports ``transact`` from here for its bare ``sqlite3``
loop, so the batch baseline does exactly the same transaction.
"""

import sqlite3

import typer

#: (from state, command) -> to state; anything else is refused (exit 3).
MOVES = {("active", "park"): "parked", ("parked", "activate"): "active", ("new", "activate"): "active"}


def connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=10.0, isolation_level=None)
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def transact(conn: sqlite3.Connection, chat_id: str, command: str) -> str:
    """One state change as one transaction; returns the new state.

    Raises ``LookupError`` for an unknown chat and ``ValueError`` for a move
    the table does not allow (both after rolling back).
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        row = conn.execute(
            "SELECT state, agent, state_since_ms FROM chats WHERE id = ?", (chat_id,)
        ).fetchone()
        if row is None:
            raise LookupError(f"unknown chat {chat_id}")
        state, agent, at_ms = row
        to = MOVES.get((state, command))
        if to is None:
            raise ValueError(f"cannot {command} {chat_id}: it is {state}")
        conn.execute("UPDATE chats SET state = ?, state_since_ms = ? WHERE id = ?", (to, at_ms, chat_id))
        conn.execute(
            "INSERT INTO events (at_ms, agent, chat, from_state, to_state, cause) VALUES (?, ?, ?, ?, ?, ?)",
            (at_ms, agent, chat_id, state, to, command),
        )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return to


app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None, no_args_is_help=True)
chat_app = typer.Typer(no_args_is_help=True)
app.add_typer(chat_app, name="chat")


@app.callback()
def root(ctx: typer.Context, db: str = typer.Option("chatemu.db", "--db", envvar="CHATEMU_DB")) -> None:
    ctx.obj = db


def _change(ctx: typer.Context, chat_id: str, command: str) -> None:
    conn = connect(ctx.find_root().obj)
    try:
        to = transact(conn, chat_id, command)
    except LookupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(4)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(3)
    finally:
        conn.close()
    print(f"{chat_id} {to}")


@chat_app.command("park")
def park(ctx: typer.Context, chat_id: str = typer.Argument(..., metavar="ID")) -> None:
    _change(ctx, chat_id, "park")


@chat_app.command("activate")
def activate(ctx: typer.Context, chat_id: str = typer.Argument(..., metavar="ID")) -> None:
    _change(ctx, chat_id, "activate")


def run() -> None:
    app(prog_name="baseline")


if __name__ == "__main__":
    run()
