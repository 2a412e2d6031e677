"""Start the server: bind, print the base URL, serve until SIGINT or SIGTERM."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sys
import tempfile


def serve(host: str, port: int, data_dir: str | None) -> int:
    import uvicorn

    from chatemu.store.errors import UsageError

    from .app import make_app
    from .auth import TokenPolicy
    from .execute import install
    from .tokens import TokenStore, loopback
    from .webhooks import deliver, schedule_from_env, timeout_from_env

    made = data_dir is None
    root = tempfile.mkdtemp(prefix="chatemu-serve-") if made else data_dir
    try:
        if not made:
            if os.path.exists(root) and not os.path.isdir(root):
                raise UsageError(f"--data-dir {root}: it is not a folder")
            try:
                os.makedirs(root, exist_ok=True)
            except OSError as exc:
                raise UsageError(f"--data-dir {root}: {exc.strerror or exc}") from None
            if not os.access(root, os.W_OK | os.X_OK):
                raise UsageError(f"--data-dir {root}: cannot write in it")
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # so asyncio sets TCP_NODELAY
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            sock.close()
            raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        bound, real_port = sock.getsockname()[:2]
        if not loopback(bound) and not TokenStore(root).defined():
            sock.close()
            where = f"--data-dir {root}" if not made else "--data-dir DIR"
            raise UsageError(f"--host {host} is not a loopback address: every request needs a token there, and the"
                             f" data folder has none (add one first: chatemu token add {where} --ns NS --role trainer)")
        schedule_from_env(), timeout_from_env()
        sock.listen(128)
        shown = f"[{host}]" if family == socket.AF_INET6 else host
        keepalive = float(os.environ.get("CHATEMU_SERVE_KEEPALIVE", "15"))
        app = make_app(root, policy=TokenPolicy(root), namespace_tasks=(deliver,), keepalive=keepalive)
        emulator = app.state.emulator
        install()
        config = uvicorn.Config(app, http=protocol(), log_level="warning", access_log=False, lifespan="on",
                                timeout_graceful_shutdown=5)

        class Server(uvicorn.Server):
            def handle_exit(self, sig, frame):
                emulator.stopping.set()  # open event streams end, so the server can stop
                super().handle_exit(sig, frame)

        server = Server(config)
        # uvicorn raises the signal that stopped it again once it has stopped, under the handlers
        # it found: these make that a clean exit 0.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: None)
        print(f"http://{shown}:{real_port}", flush=True)
        server.run(sockets=[sock])
        sys.stdout.flush()
        return 0 if server.started else 1
    finally:
        if made:
            shutil.rmtree(root, ignore_errors=True)


#: Writes held for one turn of the loop at most this many bytes before they go out.
HELD_BYTES = 1 << 16


class Coalesced:
    """A connection's transport whose writes in one turn of the event loop go out together:
    an answer's head and body in one send (one packet, one wake-up of the client), not two."""

    def __init__(self, transport, loop):
        self._transport, self._loop, self._held, self._size = transport, loop, [], 0

    def write(self, data) -> None:
        if not data:
            return
        if not self._held:
            self._loop.call_soon(self.flush)
        self._held.append(bytes(data))
        self._size += len(data)
        if self._size >= HELD_BYTES:
            self.flush()

    def writelines(self, chunks) -> None:
        for data in chunks:
            self.write(data)

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def flush(self) -> None:
        held, self._held, self._size = self._held, [], 0
        if held and not self._transport.is_closing():
            self._transport.write(b"".join(held))

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._held, self._size = [], 0
        self._transport.abort()

    def __getattr__(self, name):
        return getattr(self._transport, name)


def protocol():
    """uvicorn's HTTP/1.1 protocol on a ``Coalesced`` transport: httptools' parser where it is
    installed (a C parser, the faster), else h11."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as Base
    except ImportError:
        from uvicorn.protocols.http.h11_impl import H11Protocol as Base

    class Protocol(Base):
        def connection_made(self, transport) -> None:
            super().connection_made(Coalesced(transport, self.loop))

    return Protocol
