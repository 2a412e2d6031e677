"""``chatemu events --follow``: print new events as other processes add them."""

from __future__ import annotations

import signal
import sys
import threading
import time

from chatemu.store.engine import Engine

from . import render

POLL_SECONDS = 0.2
REPLACED = "events: the event log was replaced (snapshot restore, reset or import); following the new log from its start"


def interruptible() -> None:
    """Ctrl-C ends a follow, whatever this process inherited: a parent that ignored or blocked
    SIGINT (a test runner's worker, a non-interactive shell's background job) passes that on."""
    if threading.current_thread() is threading.main_thread():
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        signal.signal(signal.SIGINT, signal.default_int_handler)


def follow_events(engine: Engine, chat: str | None, agent: str | None, since: int, jsonl: bool) -> None:
    last, mark = since, None
    interruptible()
    try:
        with engine.kept_open():
            real = engine.clock_show().value["mode"] == "real"
            while True:
                if real:
                    engine.settle()  # the clock passes deadlines by itself: apply them
                poll = engine.follow(chat, agent, last, mark).value
                if poll["replaced"]:
                    # A restore, reset or import replaced the log: sequence numbers start again.
                    print(REPLACED, file=sys.stderr, flush=True)
                    last = 0
                # Ctrl-C waits until the batch is written: an interrupt between a write reaching
                # the terminal and the buffer knowing it would print the batch again at exit.
                held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
                try:
                    for event in poll["events"]:
                        if jsonl:
                            render.emit_json(event)
                        else:
                            print(render.event_line(event))
                        last = event["seq"]
                    sys.stdout.flush()
                finally:
                    signal.pthread_sigmask(signal.SIG_SETMASK, held)
                mark, real = poll["mark"], poll["mode"] == "real"
                time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        return  # Ctrl-C ends a follow: exit 0, quietly
