"""Sending a namespace's events to its webhooks, as the Standard Webhooks specification has it
(docs/webhooks.md).

``Deliverer`` reads the events committed to one database (whoever made them: the server, a
``chatemu`` command line, ``chatemu run``) and posts each one an endpoint subscribes to, in seq
order, one endpoint at a time; the endpoint's cursor moves past an event only after a 2xx
answer, in a short transaction of its own, so a killed deliverer sends again, never skips.

The endpoints themselves are ``chatemu.store.webhooks`` (their rules, ``Engine.webhook_add``…).
Only the standard library is used.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import sqlite3
import threading
import time
from typing import Callable

from chatemu.store import webhooks as rules
from chatemu.store.errors import UsageError
from chatemu.store.journal import event_object
from chatemu.store.schema import busy_timeout, file_name
from chatemu.store.timefmt import format_time

log = logging.getLogger("chatemu.server.webhooks")

#: Seconds to wait before each attempt at one event (the specification's schedule): the first
#: at once, the last 24 h after the one before; after the last failure the endpoint is disabled.
SCHEDULE = (0, 5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 14 * 3600, 20 * 3600, 24 * 3600)
#: An answer must come within this many seconds (``CHATEMU_WEBHOOK_TIMEOUT``).
TIMEOUT = 15.0
#: Read from the log at a time.
BATCH = 500
#: The schema version that has webhooks.
WEBHOOKS_SCHEMA = 7


def schedule_from_env() -> tuple[float, ...]:
    """``CHATEMU_WEBHOOK_SCHEDULE`` (comma-separated seconds, e.g. ``0,1,2``), else ``SCHEDULE``."""
    raw = os.environ.get("CHATEMU_WEBHOOK_SCHEDULE")
    if not raw:
        return SCHEDULE
    try:
        found = tuple(float(part) for part in raw.split(","))
    except ValueError:
        raise UsageError(f"CHATEMU_WEBHOOK_SCHEDULE is not a comma-separated list of seconds: {raw[:60]!r}") from None
    if not found or any(not 0 <= s <= 7 * 86400 for s in found):
        raise UsageError(f"CHATEMU_WEBHOOK_SCHEDULE: use 1 or more delays of 0 to 604800 seconds: {raw[:60]!r}")
    return found


def message_id(tag: str, generation: int, seq: int) -> str:
    """``webhook-id``: the same on every attempt at one event, different for another log
    (another database, or the same one after reset, restore or import); no ``.`` in it."""
    return f"msg_{tag}_{generation}_{seq}"


def payload(event: dict, namespace: str) -> dict:
    """The message of an event as ``events --json`` shows it."""
    return {"type": rules.event_type(event), "timestamp": event["at"], "data": {**event, "namespace": namespace}}


def replaced_payload(namespace: str, generation: int, now: str) -> dict:
    return {"type": "log.replaced", "timestamp": now,
            "data": {"seq": 0, "namespace": namespace, "generation": generation}}


def body_of(message: dict) -> bytes:
    """The exact bytes sent (and signed): compact JSON, UTF-8."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``webhook-signature``: ``v1,`` + base64 HMAC-SHA256 of ``id.timestamp.body`` keyed by the secret."""
    signed = msg_id.encode() + b"." + str(timestamp).encode() + b"." + body
    digest = hmac.new(rules.secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {"content-type": "application/json", "user-agent": "chatemu-webhooks",
            "webhook-id": msg_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secret, msg_id, timestamp, body)}


def post(url: str, body: bytes, head: dict[str, str], timeout: float) -> tuple[int | None, str | None]:
    """POST ``body`` to ``url`` and nowhere else (no proxy, no redirect followed): the status
    (None with the reason when there was no answer), and a Retry-After in seconds if given."""
    import http.client
    import urllib.error
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None  # a 3xx is the answer (a failure), not a hop

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), NoRedirect)
    request = urllib.request.Request(url, data=body, headers=head, method="POST")
    try:
        with opener.open(request, timeout=timeout) as answer:
            answer.read(65536)
            return answer.status, None
    except urllib.error.HTTPError as exc:
        retry = exc.headers.get("retry-after") if exc.headers else None
        exc.close()
        return exc.code, retry
    except (OSError, ValueError, http.client.HTTPException) as exc:  # refused, reset, timed out, not HTTP
        reason = getattr(exc, "reason", None) or exc
        return None, f"no answer: {reason}"[:200]


class Deliverer:
    """Sends one namespace's events to its webhooks.  The server runs ``run_forever`` in a
    background thread; tests call ``run_once``.

    ``wall``: the wall clock in seconds (signatures and retry times are wall time, even when the
    namespace's clock is virtual); ``schedule``: the delays before each attempt at one event
    (default ``CHATEMU_WEBHOOK_SCHEDULE`` or ``SCHEDULE``); ``timeout``: seconds an answer may
    take; ``send``: the seam that posts (``post``'s signature).
    """

    def __init__(self, db_path: str, namespace: str | None = None, *, wall: Callable[[], float] = time.time,
                 schedule: tuple[float, ...] | None = None, timeout: float | None = None,
                 send: Callable = post, poll: float = 0.5):
        self.path = db_path
        self.namespace = namespace or os.path.basename(db_path).removesuffix(".db")
        self.wall = wall
        self.schedule = tuple(schedule) if schedule is not None else schedule_from_env()
        self.timeout = timeout_from_env() if timeout is None else timeout
        self.send = send
        self.poll = poll

    # -- the loop ------------------------------------------------------------------------

    def run_forever(self, stop: threading.Event) -> None:
        """Deliver until ``stop`` is set; a pass's error (a locked or missing database) is logged
        and the next pass tries again."""
        while not stop.is_set():
            try:
                wait = self.run_once()
            except Exception as exc:  # noqa: BLE001 - the loop outlives one bad pass
                log.warning("webhooks of %s: %s", self.namespace, exc)
                wait = None
            stop.wait(self.poll if wait is None else max(0.0, min(self.poll, wait)))

    def run_once(self) -> float | None:
        """One pass over every enabled endpoint: send what is due, in order, until an endpoint
        fails or has nothing more.  Returns the seconds until the next retry due (None: none)."""
        conn = self._connect()
        if conn is None:
            return None
        try:
            waits = []
            for (webhook_id,) in conn.execute("SELECT id FROM webhooks WHERE disabled_at_ms IS NULL ORDER BY id").fetchall():
                wait = self._endpoint(conn, webhook_id)
                if wait is not None:
                    waits.append(wait)
            return min(waits) if waits else None
        finally:
            conn.close()

    def _connect(self) -> sqlite3.Connection | None:
        from urllib.parse import quote

        if not os.path.isfile(self.path):
            return None
        try:
            conn = sqlite3.connect(f"file:{quote(os.path.realpath(file_name(self.path)))}?mode=rw", uri=True,
                                   timeout=busy_timeout(), isolation_level=None)
        except sqlite3.Error:
            return None
        conn.row_factory = sqlite3.Row
        if conn.execute("PRAGMA user_version").fetchone()[0] < WEBHOOKS_SCHEMA:
            conn.close()
            return None
        return conn

    # -- one endpoint ------------------------------------------------------------------------

    def _endpoint(self, conn: sqlite3.Connection, webhook_id: int) -> float | None:
        while True:
            step = self._next(conn, webhook_id)
            if step is None:
                return None
            hook, generation, seq, message, skip_to = step
            if message is None:  # nothing it subscribes to up to skip_to
                self._ack(conn, webhook_id, generation, hook["generation"], hook["cursor"], skip_to, None, None)
                continue
            record = conn.execute("SELECT attempts, next_ms, first_ms FROM webhook_deliveries"
                                  " WHERE webhook = ? AND generation = ? AND seq = ? AND delivered = 0",
                                  (webhook_id, generation, seq)).fetchone()
            now_ms = int(self.wall() * 1000)
            if record is not None and record["next_ms"] is not None and record["next_ms"] > now_ms:
                return (record["next_ms"] - now_ms) / 1000
            attempts = (record["attempts"] if record else 0) + 1
            body = body_of(message)
            stamp = int(self.wall())
            msg_id = message_id(self._tag(conn), generation, seq)
            status, extra = self.send(hook["url"], body, headers(hook["secret"], msg_id, stamp, body), self.timeout)
            now_ms = int(self.wall() * 1000)
            first = record["first_ms"] if record else now_ms
            if status is not None and 200 <= status < 300:
                log.info("webhook %s: event %s delivered (%s)", webhook_id, seq, status)
                self._ack(conn, webhook_id, generation, hook["generation"], hook["cursor"], seq,
                          (attempts, status, first, now_ms), seq)
                continue
            error = extra if status is None else f"answered {status}"
            log.info("webhook %s: event %s not delivered (%s), attempt %s", webhook_id, seq, error, attempts)
            if status == 410:
                self._fail(conn, webhook_id, generation, seq, attempts, status, error, first, now_ms, None,
                           "the endpoint answered 410 Gone")
                return None
            if attempts >= len(self.schedule):
                self._fail(conn, webhook_id, generation, seq, attempts, status, error, first, now_ms, None,
                           f"no 2xx answer to {attempts} attempts at one event")
                return None
            delay = self.schedule[attempts]
            if status in (429, 503) and extra and extra.strip().isdigit():
                delay = max(delay, min(float(extra.strip()), 86400.0))  # honour the endpoint's Retry-After
            self._fail(conn, webhook_id, generation, seq, attempts, status, error, first, now_ms,
                       now_ms + int(delay * 1000), None)
            return delay

    def _tag(self, conn) -> str:
        return conn.execute("SELECT tag FROM webhook_log WHERE id = 1").fetchone()[0] or "0"

    def _next(self, conn: sqlite3.Connection, webhook_id: int):
        """(endpoint row, generation, seq, message or None, seq to skip to) of the next event the
        endpoint is due, read in one read transaction; None when it has nothing more."""
        conn.execute("BEGIN")
        try:
            hook = conn.execute("SELECT * FROM webhooks WHERE id = ? AND disabled_at_ms IS NULL", (webhook_id,)).fetchone()
            if hook is None:
                return None
            generation = conn.execute("SELECT generation FROM webhook_log WHERE id = 1").fetchone()[0]
            cursor = hook["cursor"] if hook["generation"] == generation else -1
            patterns = hook["events"].split()
            if cursor == -1:
                if rules.matches(patterns, "log.replaced"):
                    now = conn.execute("SELECT now_ms FROM meta WHERE id = 1").fetchone()[0]
                    return hook, generation, 0, replaced_payload(self.namespace, generation, format_time(now)), 0
                return hook, generation, 0, None, 0
            rows = conn.execute("SELECT seq, at_ms, agent, chat, from_state, to_state, cause FROM events"
                                " WHERE seq > ? ORDER BY seq LIMIT ?", (cursor, BATCH)).fetchall()
            for row in rows:
                event = event_object(row)
                if rules.matches(patterns, rules.event_type(event)):
                    return hook, generation, row["seq"], payload(event, self.namespace), row["seq"]
            if rows:
                return hook, generation, rows[-1]["seq"], None, rows[-1]["seq"]
            return None
        finally:
            conn.execute("ROLLBACK")

    def _ack(self, conn, webhook_id, generation, old_generation, old_cursor, cursor, record, seq) -> None:
        """Move the endpoint's cursor to ``cursor`` (and record the delivery), in a short
        transaction of its own; nothing moves if the log was replaced meanwhile or the endpoint
        was deleted, disabled or moved by another deliverer."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            moved = conn.execute(
                "UPDATE webhooks SET generation = ?, cursor = ? WHERE id = ? AND generation = ? AND cursor = ?"
                " AND disabled_at_ms IS NULL AND (SELECT generation FROM webhook_log WHERE id = 1) = ?",
                (generation, cursor, webhook_id, old_generation, old_cursor, generation)).rowcount
            if moved and record is not None:
                attempts, status, first, last = record
                self._record(conn, webhook_id, generation, seq, attempts, status, None, first, last, None, 1)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _fail(self, conn, webhook_id, generation, seq, attempts, status, error, first, last, next_ms, disable) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            if conn.execute("SELECT 1 FROM webhooks WHERE id = ?", (webhook_id,)).fetchone():
                self._record(conn, webhook_id, generation, seq, attempts, status, error, first, last, next_ms, 0)
                if disable:
                    log.warning("webhook %s disabled: %s", webhook_id, disable)
                    conn.execute("UPDATE webhooks SET disabled_at_ms = ?, disabled_why = ? WHERE id = ?",
                                 (last, disable, webhook_id))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    @staticmethod
    def _record(conn, webhook_id, generation, seq, attempts, status, error, first, last, next_ms, delivered) -> None:
        conn.execute(
            "INSERT INTO webhook_deliveries (webhook, generation, seq, attempts, status, error, first_ms, last_ms,"
            " next_ms, delivered) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (webhook, generation, seq)"
            " DO UPDATE SET attempts = excluded.attempts, status = excluded.status, error = excluded.error,"
            " last_ms = excluded.last_ms, next_ms = excluded.next_ms, delivered = excluded.delivered",
            (webhook_id, generation, seq, attempts, status, error, first, last, next_ms, delivered))
        conn.execute(
            "DELETE FROM webhook_deliveries WHERE webhook = ? AND rowid NOT IN (SELECT rowid FROM webhook_deliveries"
            " WHERE webhook = ? ORDER BY last_ms DESC, generation DESC, seq DESC LIMIT ?)",
            (webhook_id, webhook_id, rules.KEPT_DELIVERIES))


def timeout_from_env() -> float:
    """``CHATEMU_WEBHOOK_TIMEOUT`` (seconds, more than 0 and at most 300), else ``TIMEOUT``."""
    raw = os.environ.get("CHATEMU_WEBHOOK_TIMEOUT")
    if not raw:
        return TIMEOUT
    try:
        found = float(raw)
    except ValueError:
        found = -1.0
    if not 0 < found <= 300:
        raise UsageError(f"CHATEMU_WEBHOOK_TIMEOUT: use a number of seconds, more than 0 and at most 300: {raw[:60]!r}")
    return found


#: Seconds the server waits, when it stops or a namespace is deleted, for a deliverer's thread to
#: end (an answer it is waiting for is not waited for longer: what it was sending is sent again).
JOIN_SECONDS = 2.0
#: How often the server's deliverers look for new events.
SERVER_POLL = 0.2


async def deliver(emulator, ns: str) -> None:
    """The server's namespace task (``app.make_app``'s ``namespace_tasks``): a ``Deliverer`` on
    the namespace's database in a thread of its own, stopped when the task is cancelled (the
    server stops, or the namespace is deleted)."""
    import anyio

    stop = threading.Event()
    deliverer = Deliverer(emulator.path(ns), ns, poll=SERVER_POLL)
    thread = threading.Thread(target=deliverer.run_forever, args=(stop,), name=f"webhooks-{ns}", daemon=True)
    thread.start()
    try:
        await anyio.sleep_forever()
    finally:
        stop.set()
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(thread.join, JOIN_SECONDS)


def main(argv: list[str] | None = None) -> int:
    """``python -m chatemu.server.webhooks DB [NAMESPACE]``: deliver until SIGTERM or SIGINT."""
    import signal
    import sys

    args = sys.argv[1:] if argv is None else argv
    if not 1 <= len(args) <= 2:
        print("usage: python -m chatemu.server.webhooks DB [NAMESPACE]", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    Deliverer(args[0], args[1] if len(args) > 1 else None, poll=0.05).run_forever(stop)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
