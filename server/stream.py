"""``GET /v1/ns/NS/events/stream``: the event log as server-sent events.

Each event is sent as ``events --json`` shows it, with the id ``GEN-SEQ-TAG``: the log's
generation (``Emulator.generation``), its seq, and a tag made from the event itself (``tag``).
A client that comes back with ``Last-Event-ID`` (or ``?after=ID``) gets every event after that
one, none twice, if the log is of the same generation and still holds that event as it was; if
not, the log was replaced since (a reset, a snapshot restore, an import with --replace) and
the stream says so: an event ``replaced`` with the id ``GEN-0``, then the new log from its
start.  The same happens when the log is replaced while the stream is open (by the server, or
by another process: ``journal.poll``'s ``replaced``).  ``?since=SEQ`` starts after that seq,
unchecked.

Changes are noticed by polling ``PRAGMA data_version`` on one read connection kept by the
stream (every ``Emulator.poll`` seconds), whichever process made them.  A comment line keeps
the connection alive every ``Emulator.keepalive`` seconds.  When the namespace is deleted
the stream sends ``deleted`` and ends; when the server stops, it ends.  A change that makes
no event (a message, a journaled refusal) sends the comment ``: changed``, which an
``EventSource`` ignores and the desk's reader takes as a cue to read the state again.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time

import anyio
from starlette.requests import Request
from starlette.responses import StreamingResponse

from .app import Command, authorize, bad_request, enter


def tag(event: dict) -> str:
    """A short digest of the event: the same event in the same log has the same tag."""
    return hashlib.sha1(json.dumps(event, sort_keys=True).encode()).hexdigest()[:10]


def frame(data: dict, event_id: str, kind: str | None = None) -> bytes:
    head = f"event: {kind}\n" if kind else ""
    return f"{head}id: {event_id}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def cursor(request: Request) -> tuple[int, int | None, str | None]:
    """Where to start: after (generation, seq, tag) from Last-Event-ID or ``after``, or after
    ``since`` (no generation: unchecked)."""
    unknown = set(request.query_params) - {"since", "after", "agent"}
    if unknown:
        raise bad_request(f"unknown query parameter {sorted(unknown)[0]!r}: this route takes since or after")
    last = request.headers.get("last-event-id") or request.query_params.get("after")
    since = request.query_params.get("since")
    if last is not None:
        parts = last.split("-")
        if not (len(parts) == 3 and parts[0].isdigit() and parts[1].isdigit() and int(parts[1]) > 0
                and parts[2].isalnum()
                or len(parts) == 2 and parts[0].isdigit() and parts[1] == "0"):
            raise bad_request(f"bad event id {last!r}: use the id of an event the stream sent")
        return int(parts[1]), int(parts[0]), parts[2] if len(parts) == 3 else None
    if since is not None:
        if not since.isdigit():
            raise bad_request(f"since must be a seq (0 or more), not {since!r}")
        return int(since), None, None
    return 0, None, None


class Watcher:
    """``PRAGMA data_version`` on one kept read connection: whether the file changed since the
    last look (made by any connection of any process).  The file is never made here."""

    def __init__(self, path: str):
        self.path, self.conn, self.version = path, None, None

    def changed(self) -> bool:
        if self.conn is None:
            if not os.path.exists(self.path):
                return False
            try:
                self.conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            except sqlite3.Error:
                return False
        try:
            version = self.conn.execute("PRAGMA data_version").fetchone()[0]
        except sqlite3.Error:
            self.close()
            return True
        changed, self.version = version != self.version, version
        return changed

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


async def event_stream(request: Request) -> StreamingResponse:
    from chatemu.store.engine import Engine

    emulator, ns, path = enter(request)
    since, generation, mark_tag = cursor(request)
    authorize(request, Command(ns, ["events", "--follow"], request.headers.get("x-chatemu-agent")))
    engine = Engine(path, make_folder=False)
    emulator.seen(ns)

    def start() -> tuple[int, dict | None, int, bool]:
        """(seq to follow after, the event there as sent, the generation, whether the client's
        log was replaced since its last event)."""
        now = emulator.generation(ns)
        if generation is None:
            return since, None, now, False
        if generation != now:
            return 0, None, now, True
        if mark_tag is None:  # the client saw a replacement, then nothing: the log from its start
            return 0, None, now, False
        found = engine.events(since=since - 1, limit=1, known=False).value if os.path.exists(path) else []
        if found and found[0]["seq"] == since and tag(found[0]) == mark_tag:
            return since, found[0], now, False
        return 0, None, now, True

    def noticed(seen: int) -> int:
        """The log was replaced by someone: the generation after it (raised once, by whoever
        notices first; the namespace's lock lets a command's own raise come first)."""
        with emulator.lock(ns):
            return emulator.replaced(ns, seen)

    def replaced_frame(gen: int) -> bytes:
        return frame({"replaced": True, "generation": gen, "reason": "the event log was replaced"},
                     f"{gen}-0", "replaced")

    async def frames():
        from chatemu.store.errors import ChatemuError

        try:
            async for piece in follow():
                yield piece
        except ChatemuError as exc:  # the file became unreadable: say so, and end
            yield frame({"error": exc.message, "exit_code": exc.exit_code}, f"{emulator.generation(ns)}-0", "error")

    async def follow():
        watcher = Watcher(path)
        try:
            last, mark, gen, replaced = await anyio.to_thread.run_sync(start)
            yield b": chatemu events\n\n"
            if replaced:
                yield replaced_frame(gen)
            quiet_since = time.monotonic()
            existed = os.path.exists(path)
            while not emulator.stopping.is_set():
                now = await anyio.to_thread.run_sync(emulator.generation, ns)
                if now != gen:  # replaced through the server: perhaps by a log just like it
                    gen, last, mark = now, 0, None
                    watcher.version = None
                    yield replaced_frame(gen)
                if await anyio.to_thread.run_sync(watcher.changed):
                    poll = (await anyio.to_thread.run_sync(engine.follow, None, None, last, mark)).value
                    if poll["replaced"]:
                        gen, last = await anyio.to_thread.run_sync(noticed, gen), 0
                        yield replaced_frame(gen)
                    for event in poll["events"]:
                        yield frame(event, f"{gen}-{event['seq']}-{tag(event)}")
                        last = event["seq"]
                    if not poll["events"] and not poll["replaced"]:  # a message, a refusal: no event
                        yield b": changed\n\n"
                    mark = poll["mark"]
                    quiet_since = time.monotonic()
                if existed and not os.path.exists(path):
                    yield frame({"deleted": True}, f"{gen}-0", "deleted")
                    return
                existed = existed or os.path.exists(path)
                if time.monotonic() - quiet_since >= emulator.keepalive:
                    yield b": keep-alive\n\n"
                    quiet_since = time.monotonic()
                await anyio.sleep(emulator.poll)
        finally:
            watcher.close()

    return StreamingResponse(frames(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
