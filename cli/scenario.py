"""``chatemu run FILE``: a scenario file, one chatemu command per line, in one process.

Each line goes through the same parser and the same engine calls as a separate
``chatemu`` process would, as its own transaction; only the process start-up
and the database connection are shared.
"""

from __future__ import annotations

import re
import shlex
import sys

from chatemu.store.engine import Connections

from . import render
from .common import Session
from .files import read_file

#: A line shlex would split exactly as ``str.split()`` does: printable ASCII, spaces and tabs,
#: no quote, backslash or comment.  Anything else (``\x1c``, U+2028 …) is shlex's to split.
_PLAIN = re.compile(r"[ \t!$%&(-\[\]-~]*")
#: How much of a line (and of a message) an error or progress line shows.
LINE_ECHO, MESSAGE_ECHO = 200, 1000


def clip(text: str, limit: int = LINE_ECHO) -> str:
    """``text`` cut to ``limit`` characters, ending in … when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def split_lines(text: str) -> list[str]:
    """A scenario's lines: separated by ``\n`` only (``\r\n`` too), a leading byte-order mark
    skipped.  (``str.splitlines`` also splits at form feeds, ``\x1c``-``\x1e``, ``\x85`` and
    U+2028/U+2029, and line numbers would no longer be the editor's.)"""
    lines = text.removeprefix("\ufeff").split("\n")
    if lines[-1] == "":
        lines.pop()  # the newline ending the last line
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def parse_lines(text: str, where: str) -> list[tuple[int, str, list[str] | str]]:
    """(line number, the line, its words — or a parse error)."""
    steps = []
    for number, line in enumerate(split_lines(text), 1):
        try:
            # shlex is the grammar; a line with nothing for it to do is split the fast way.
            words = line.split() if _PLAIN.fullmatch(line) else shlex.split(line, comments=True)
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


class Dispatcher:
    """Runs scenario lines under the ``run`` command's own root context.

    A line that names a command (``chat park C1``, ``events --chat C1``) is
    parsed by that very click command, as in a separate process, under the
    root context ``run`` was given (``--db``, ``--agent``): only the root's and
    the group's option parsing, which ``run`` already did, is not repeated.
    Any other line (root options first, ``clock`` whose group has options of
    its own, a typo, ``--help``) goes the whole way through ``app.call``, with
    a session of its own that shares the run's sink and connections.
    """

    def __init__(self, root_ctx):
        self.root_ctx = root_ctx
        self.session: Session = root_ctx.obj
        self.cli = self.session.cli
        self.root = self.cli.root_command()
        self.base = []
        if root_ctx.params.get("db") is not None:
            self.base += ["--db", root_ctx.params["db"]]
        if root_ctx.params.get("agent") is not None:
            self.base += ["--agent", root_ctx.params["agent"]]
        self.group_contexts: dict = {}

    def route(self, words: list[str]):
        first = self.root.commands.get(words[0])
        if first is None:
            return None
        if not hasattr(first, "commands"):
            return first, words[0], words[1:], self.root_ctx
        if first.callback is not None or len(words) < 2 or words[1] not in first.commands:
            return None
        if words[0] not in self.group_contexts:
            self.group_contexts[words[0]] = first.context_class(first, info_name=words[0], parent=self.root_ctx)
        return first.commands[words[1]], words[1], words[2:], self.group_contexts[words[0]]

    def __call__(self, words: list[str], sink: list) -> tuple[int, list[str]]:
        self.session.sink = sink
        route = self.route(words)
        if route is None:
            own = Session(sink=sink, connections=self.session.connections, in_run=True)
            return self.cli.call(self.base + words, own)
        command, name, args, parent = route

        def invoke():
            with command.make_context(name, list(args), parent=parent) as ctx:
                return command.invoke(ctx)

        return self.cli.translate(invoke, words)


def run_scenario(root_ctx, file: str, keep_going: bool, quiet: bool, as_json: bool) -> int:
    text, where = read_file(file)
    steps = parse_lines(text, where)
    dispatch = Dispatcher(root_ctx)
    progress = None
    if not quiet and not as_json and render.use_rich() and len(steps) > 50:
        from rich.progress import Progress

        progress = Progress(transient=True)
        task = progress.add_task(f"running {where}", total=len(steps))
        progress.start()
    first_failure = 0
    session = dispatch.session
    session.connections, session.in_run = Connections(), True
    try:
        for number, line, words in steps:
            results: list = []
            if isinstance(words, str):
                code, errors = 2, [words]
            else:
                code, errors = dispatch(words, results)
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
                print(f"{where}:{number}: {clip(line)}  -> {summary(results[-1]) if results else 'done'}")
            if code:
                for error in errors:
                    message = clip(error.removeprefix("error: "), MESSAGE_ECHO)
                    print(f"error: {where}:{number}: {clip(line)}: {message}", file=sys.stderr)
                first_failure = first_failure or code
                if not keep_going:
                    break
    finally:
        session.connections.close()
        session.connections, session.sink = None, None
        if progress is not None:
            progress.stop()
    return first_failure
