"""``chatemu serve``: the emulator over HTTP (``chatemu.server``, imported only here, when it runs)."""

from typing import Annotated, Optional

import typer

from chatemu.store.errors import UsageError

from .common import session


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", metavar="HOST", help="The address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", metavar="N", help="The port (up to 65535); 0 picks a free one.")] = 8765,
    data_dir: Annotated[
        Optional[str],
        typer.Option("--data-dir", metavar="DIR", help="The folder of the namespaces' databases (NS.db each) [default: a temporary folder removed at exit].", show_default=False),
    ] = None,
) -> None:
    """Serve the emulator over HTTP: a JSON API under /v1/ns/NS, one database per namespace.

    The first line printed is the base URL (with the real port when --port is 0).
    Every namespace NS is the database DIR/NS.db, which any chatemu command can
    use with --db.  Ctrl-C or SIGTERM stops the server (exit 0).  docs/server.md
    describes the routes.

    \b
    Examples:
      chatemu serve
      chatemu serve --port 0 --data-dir ./emulator
      chatemu serve --host ::1 --port 9000
    """
    if session(ctx).in_run:
        raise UsageError("a scenario cannot start a server")
    if not 0 <= port <= 65535:
        raise UsageError(f"--port {port}: a port is 0 to 65535")
    from chatemu.server.main import serve as start

    code = start(host, port, data_dir)
    if code:
        raise typer.Exit(code)
