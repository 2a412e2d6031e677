"""``chatemu events --follow``: print new events as other processes add them."""

from __future__ import annotations

import sys
import time

from chatemu.store.engine import Engine

from . import render

POLL_SECONDS = 0.2
REPLACED = "events: the event log was replaced (snapshot restore, reset or import); following the new log from its start"


def follow_events(engine: Engine, chat: str | None, agent: str | None, since: int, jsonl: bool) -> None:
    last, mark = since, None
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
                for event in poll["events"]:
                    if jsonl:
                        render.emit_json(event)
                    else:
                        print(render.event_line(event))
                    last = event["seq"]
                sys.stdout.flush()
                mark, real = poll["mark"], poll["mode"] == "real"
                time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        return  # Ctrl-C ends a follow: exit 0, quietly
