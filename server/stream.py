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

Changes are noticed by polling ``PRAGMA data_version`` on one read connection (every
``Emulator.poll`` seconds), whichever process made them.  A namespace's open streams share
one ``Feed``: one ``Reader`` whose items (each frame made once) go into a bounded ring read by
every stream that has caught up, each by its own position in it.  A stream reads on its own
(a ``Reader`` of its own) until it has all the feed has read; it subscribes before its first
read, so the feed keeps what comes after, and skips the events it has read already.  One
further behind than the ring keeps (a client not reading) reads on its own again.  A comment line keeps
the connection alive every ``Emulator.keepalive`` seconds.  When the namespace is deleted
the stream sends ``deleted`` and ends; when the server stops, it ends.  A change that makes
no event (a message, a journaled refusal) sends the comment ``: changed``, which an
``EventSource`` ignores and the desk's reader takes as a cue to read the state again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sqlite3
import time
import weakref
from collections import deque

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


def replaced_frame(gen: int) -> bytes:
    return frame({"replaced": True, "generation": gen, "reason": "the event log was replaced"}, f"{gen}-0", "replaced")


class Reader:
    """The event log read by one cursor (``gen``, ``last``: the seq of the last event sent,
    ``mark``: ``journal.poll``'s), a ``Watcher`` deciding when to read."""

    def __init__(self, emulator, ns: str, path: str, engine, gen: int, last: int, mark: dict | None):
        self.emulator, self.ns, self.path, self.engine = emulator, ns, path, engine
        self.gen, self.last, self.mark = gen, last, mark
        self.watcher, self.existed = Watcher(path), os.path.exists(path)

    def noticed(self, seen: int) -> int:
        """The log was replaced by someone: the generation after it (raised once, by whoever
        notices first; the namespace's lock lets a command's own raise come first)."""
        with self.emulator.lock(self.ns):
            return self.emulator.replaced(self.ns, seen)

    async def step(self) -> list[tuple]:
        """What happened since the last step, as items ``(kind, frame, generation, event)``:
        ``replaced``, ``event``, ``changed`` (a change without an event), and last ``end`` if
        the namespace was deleted.  An unreadable file raises ``ChatemuError``."""
        items: list[tuple] = []
        now = await anyio.to_thread.run_sync(self.emulator.generation, self.ns)
        if now != self.gen:  # replaced through the server: perhaps by a log just like it
            self.gen, self.last, self.mark = now, 0, None
            self.watcher.version = None
            items.append(("replaced", replaced_frame(now), now, None))
        if await anyio.to_thread.run_sync(self.watcher.changed):
            poll = (await anyio.to_thread.run_sync(self.engine.follow, None, None, self.last, self.mark)).value
            if poll["replaced"]:
                self.gen, self.last = await anyio.to_thread.run_sync(self.noticed, self.gen), 0
                items.append(("replaced", replaced_frame(self.gen), self.gen, None))
            for event in poll["events"]:
                items.append(("event", frame(event, f"{self.gen}-{event['seq']}-{tag(event)}"), self.gen, event))
                self.last = event["seq"]
            if not poll["events"] and not poll["replaced"]:  # a message, a refusal: no event
                items.append(("changed", b": changed\n\n", self.gen, None))
            self.mark = poll["mark"]
        exists = os.path.exists(self.path)
        if self.existed and not exists:
            items.append(("end", frame({"deleted": True}, f"{self.gen}-0", "deleted"), self.gen, None))
        self.existed = self.existed or exists
        return items

    def close(self) -> None:
        self.watcher.close()


FEED_ITEMS = 1024  # the items a namespace's feed keeps for its streams: one further behind reads on its own


class Feed:
    """One namespace's event log read once for all its open streams: one ``Reader`` from the
    log's end at the start, whose items (each frame made once) are kept in a bounded ring,
    ``items[i - base]`` being the ``i``-th; ``wake`` is set when items arrive.  It runs while
    it has subscribers and ends with an ``end`` item (deleted, unreadable, the server stopping)."""

    def __init__(self, emulator, ns: str, path: str):
        self.emulator, self.ns, self.path = emulator, ns, path
        self.items: deque = deque(maxlen=FEED_ITEMS)
        self.base, self.subscribers, self.done = 0, 0, False
        self.state: tuple[int, int] | None = None  # (generation, last seq) read so far, once read
        self.wake = asyncio.Event()
        self.task = None

    @property
    def end(self) -> int:
        return self.base + len(self.items)

    def joinable(self, gen: int, last: int) -> bool:
        """Whether a stream that sent up to ``last`` of ``gen`` can go on from the feed's next
        item (skipping the events it has): it has all the feed has read."""
        return not self.done and self.state is not None and self.state[0] == gen and last >= self.state[1]

    def push(self, items: list[tuple]) -> None:
        for item in items:
            if len(self.items) == self.items.maxlen:
                self.base += 1
            self.items.append(item)
        if items:
            self.wake.set()
            self.wake = asyncio.Event()

    async def run(self) -> None:
        from chatemu.store.engine import Engine
        from chatemu.store.errors import ChatemuError

        emulator, reader = self.emulator, None
        try:
            gen = await anyio.to_thread.run_sync(emulator.generation, self.ns)
            reader = Reader(emulator, self.ns, self.path, Engine(self.path, make_folder=False), gen, 0, None)
            await anyio.to_thread.run_sync(reader.watcher.changed)  # from this version on
            if reader.existed:  # from the log's end
                poll = (await anyio.to_thread.run_sync(reader.engine.follow, None, None, 2**62, None)).value
                reader.mark = poll["mark"]
                reader.last = reader.mark["seq"] if reader.mark else 0
            self.state = (reader.gen, reader.last)
            while self.subscribers and not emulator.stopping.is_set():
                items = await reader.step()
                self.state = (reader.gen, reader.last)
                self.push(items)
                if items and items[-1][0] == "end":
                    return
                await anyio.sleep(emulator.poll)
        except ChatemuError as exc:  # the file became unreadable: say so, and end
            self.push([("end", frame({"error": exc.message, "exit_code": exc.exit_code},
                                     f"{emulator.generation(self.ns)}-0", "error"), None, None)])
        finally:
            self.done = True
            if _feeds.get(emulator, {}).get(self.ns) is self:
                del _feeds[emulator][self.ns]
            if not self.items or self.items[-1][0] != "end":
                self.push([("end", b"", None, None)])
            if reader is not None:
                reader.close()


_feeds: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # emulator -> {namespace: Feed}


def subscribe(emulator, ns: str, path: str) -> Feed:
    """The namespace's running feed (started if none), with one more subscriber."""
    feeds = _feeds.setdefault(emulator, {})
    feed = feeds.get(ns)
    if feed is None or feed.done:
        feed = feeds[ns] = Feed(emulator, ns, path)
        feed.task = asyncio.get_running_loop().create_task(feed.run())
    feed.subscribers += 1
    return feed


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

    async def frames():
        from chatemu.store.errors import ChatemuError

        try:
            async for piece in follow():
                yield piece
        except ChatemuError as exc:  # the file became unreadable: say so, and end
            yield frame({"error": exc.message, "exit_code": exc.exit_code}, f"{emulator.generation(ns)}-0", "error")

    async def follow():
        """Read on its own until it has all the feed has, then from the feed; on its own
        again whenever it falls further behind than the feed keeps."""
        feed = subscribe(emulator, ns, path)  # first: what the feed reads from now on is kept for it
        reader = None
        try:
            last, mark, gen, replaced = await anyio.to_thread.run_sync(start)
            reader = Reader(emulator, ns, path, engine, gen, last, mark)
            yield b": chatemu events\n\n"
            if replaced:
                yield replaced_frame(gen)
            quiet_since = time.monotonic()
            at = None  # the position in the feed once it reads from there
            while not emulator.stopping.is_set():
                out: list[bytes] = []
                if at is None:
                    items = await reader.step()
                    out = [item[1] for item in items]
                    if items and items[-1][0] == "end":
                        yield b"".join(out)
                        return
                    if feed.joinable(reader.gen, reader.last):
                        at = feed.end
                        reader.close()
                        reader.watcher.version = None  # on its own again: read at once
                else:
                    if at == feed.end and not feed.done:
                        wake = feed.wake
                        with anyio.move_on_after(emulator.poll):
                            await wake.wait()
                    while at < feed.end:
                        if at < feed.base:  # further behind than the feed keeps: on its own again
                            at = None
                            break
                        kind, data, at_gen, event = feed.items[at - feed.base]
                        at += 1
                        if kind == "event":
                            if at_gen != reader.gen:  # out of step: on its own again
                                at = None
                                break
                            if event["seq"] <= reader.last:  # read on its own already
                                continue
                            reader.last, reader.mark = event["seq"], event
                        elif kind == "replaced":
                            if at_gen == reader.gen:
                                continue
                            reader.gen, reader.last, reader.mark = at_gen, 0, None
                        elif kind == "end":  # deleted, unreadable, or the server stopping
                            if out or data:
                                yield b"".join(out) + data
                            return
                        out.append(data)
                if out:
                    yield b"".join(out)
                    quiet_since = time.monotonic()
                elif time.monotonic() - quiet_since >= emulator.keepalive:
                    yield b": keep-alive\n\n"
                    quiet_since = time.monotonic()
                if at is None:
                    await anyio.sleep(emulator.poll)
        finally:
            if reader is not None:
                reader.close()
            feed.subscribers -= 1

    return StreamingResponse(frames(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
