"""``chatemu events --follow``: print new events as other processes add them."""

from __future__ import annotations

import sys
import time

from chatemu.store.engine import Engine

from . import render

POLL_SECONDS = 0.2


def follow_events(engine: Engine, chat: str | None, agent: str | None, since: int, jsonl: bool) -> None:
    last = since
    try:
        with engine.kept_open():
            while True:
                if engine.clock_show().value["mode"] == "real":
                    engine.settle()  # the clock passes deadlines by itself: apply them
                for event in engine.events(chat, agent, last, known=False).value:
                    if jsonl:
                        render.emit_json(event)
                    else:
                        print(render.event_line(event))
                    last = event["seq"]
                sys.stdout.flush()
                time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        return  # Ctrl-C ends a follow: exit 0, quietly
