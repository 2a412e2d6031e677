"""``GET /v1/ns/NS/events/stream``: the event log as server-sent events.

Each event is sent as ``events --json`` shows it, with the id ``SEQ-TAG``: its seq, and a tag
made from the event itself (``tag``).  A client that comes back with ``Last-Event-ID`` (or
``?after=SEQ-TAG``) gets every event after that one, none twice, if the log still holds that
event as it was; if not, the log was replaced since (a reset, a snapshot restore, an import
with --replace) and the stream says so: an event ``replaced`` with the id ``0``, then the new
log from its start.  The same happens when the log is replaced while the stream is open
(``journal.poll``'s ``replaced``).  ``?since=SEQ`` starts after that seq, unchecked.

Changes are noticed by polling ``PRAGMA data_version`` on one read connection kept by the
stream (every ``Emulator.poll`` seconds), whichever process made them.  A comment line keeps
the connection alive every ``Emulator.keepalive`` seconds.  When the namespace is deleted
the stream sends ``deleted`` and ends; when the server stops, it ends.
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

from .app import Command, authorize, bad_request, emulator_of


def tag(event: dict) -> str:
    """A short digest of the event: the same event in the same log has the same tag."""
    return hashlib.sha1(json.dumps(event, sort_keys=True).encode()).hexdigest()[:10]


def frame(data: dict, event_id: str, kind: str | None = None) -> bytes:
    head = f"event: {kind}\n" if kind else ""
    return f"{head}id: {event_id}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def cursor(request: Request) -> tuple[int, str | None]:
    """Where to start: after (seq, tag) from Last-Event-ID or ``after``, or after ``since``."""
    unknown = set(request.query_params) - {"since", "after", "agent"}
    if unknown:
        raise bad_request(f"unknown query parameter {sorted(unknown)[0]!r}: this route takes since or after")
    last = request.headers.get("last-event-id") or request.query_params.get("after")
    since = request.query_params.get("since")
    if last is not None:
        seq, _, mark = last.partition("-")
        if not seq.isdigit() or (mark == "" and seq != "0"):
            raise bad_request(f"bad event id {last!r}: use the id of an event the stream sent")
        return int(seq), mark or None
    if since is not None:
        if not since.isdigit():
            raise bad_request(f"since must be a seq (0 or more), not {since!r}")
        return int(since), None
    return 0, None


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

    emulator = emulator_of(request)
    ns = request.path_params["ns"]
    path = emulator.path(ns)
    since, mark_tag = cursor(request)
    authorize(request, Command(ns, ["events", "--follow"], request.headers.get("x-chatemu-agent")))
    engine = Engine(path, make_folder=False)
    emulator.seen(ns)

    def start() -> tuple[int, dict | None, bool]:
        """(seq to follow after, the event there as sent, whether the log was replaced)."""
        if mark_tag is None or not os.path.exists(path):
            return since, None, mark_tag is not None and since > 0
        found = engine.events(since=since - 1, limit=1, known=False).value
        if found and found[0]["seq"] == since and tag(found[0]) == mark_tag:
            return since, found[0], False
        return 0, None, True

    async def frames():
        watcher = Watcher(path)
        try:
            last, mark, replaced = await anyio.to_thread.run_sync(start)
            yield b": chatemu events\n\n"
            if replaced:
                yield frame({"replaced": True, "reason": "the event log was replaced"}, "0", "replaced")
            quiet_since = time.monotonic()
            existed = os.path.exists(path)
            while not emulator.stopping.is_set():
                if await anyio.to_thread.run_sync(watcher.changed):
                    poll = (await anyio.to_thread.run_sync(engine.follow, None, None, last, mark)).value
                    if poll["replaced"]:
                        last = 0
                        yield frame({"replaced": True, "reason": "the event log was replaced"}, "0", "replaced")
                    for event in poll["events"]:
                        yield frame(event, f"{event['seq']}-{tag(event)}")
                        last = event["seq"]
                    mark = poll["mark"]
                    quiet_since = time.monotonic()
                if existed and not os.path.exists(path):
                    yield frame({"deleted": True}, "0", "deleted")
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
