"""``chatemu run FILE``: a scenario file, one chatemu command per line, in one process.

Each line goes through the same parser and the same engine calls as a separate
``chatemu`` process would, as its own transaction; only the process start-up
and the database connection are shared.
"""

from __future__ import annotations

import json
import shlex
import sys

from chatemu.store.engine import shared_connections

from . import app, render
from .files import read_file


def parse_lines(text: str, where: str) -> list[tuple[int, str, list[str] | str]]:
    """(line number, the line, its words — or a parse error)."""
    steps = []
    for number, line in enumerate(text.splitlines(), 1):
        try:
            words = shlex.split(line, comments=True)
        except ValueError as exc:
            steps.append((number, line.strip(), f"error: cannot parse the line: {exc}"))
            continue
        if not words:
            continue
        if words[0] == "chatemu":
            words = words[1:]
        if words and words[0] == "run":
            steps.append((number, line.strip(), "error: a scenario cannot run another scenario"))
            continue
        steps.append((number, shlex.join(words), words))  # the command as run, without its comment
    return steps


def summary(result) -> str:
    value = result.value
    if isinstance(value, list):
        return f"{len(value)} item(s)"
    if isinstance(value, dict):
        if "state" in value and "id" in value:
            return render.chat_summary(value)
        if "status" in value:
            return render.agent_summary(value)
        if "mode" in value and "now" in value and len(value) == 2:
            return render.clock(value)
        if "ok" in value and "checks" in value:
            return "holds" if value["ok"] else "does not hold"
    return "done"


def run_scenario(root: dict, file: str, keep_going: bool, quiet: bool, as_json: bool) -> int:
    text, where = read_file(file)
    steps = parse_lines(text, where)
    base = []
    if root.get("db") is not None:
        base += ["--db", root["db"]]
    if root.get("agent") is not None:
        base += ["--agent", root["agent"]]
    progress = None
    if not quiet and not as_json and render.use_rich() and len(steps) > 50:
        from rich.progress import Progress

        progress = Progress(transient=True)
        task = progress.add_task(f"running {where}", total=len(steps))
        progress.start()
    first_failure = 0
    try:
        with shared_connections():
            for number, line, words in steps:
                app.collected = []
                try:
                    if isinstance(words, str):
                        code, errors = 2, [words]
                    else:
                        code, errors = app.call(base + words)
                finally:
                    results, app.collected = app.collected, None
                if as_json:
                    record = {"line": number, "command": line, "exit": code}
                    if results:
                        record["result"] = results[-1].value
                    if errors:
                        record["error"] = "; ".join(e.removeprefix("error: ") for e in errors)
                    render.emit_json(record)
                elif progress is not None:
                    progress.advance(task)
                elif not quiet and code == 0:
                    print(f"{where}:{number}: {line}  -> {summary(results[-1]) if results else 'done'}")
                if code:
                    for error in errors:
                        print(f"error: {where}:{number}: {line}: {error.removeprefix('error: ')}", file=sys.stderr)
                    first_failure = first_failure or code
                    if not keep_going:
                        break
    finally:
        if progress is not None:
            progress.stop()
    return first_failure
