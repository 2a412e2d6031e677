"""``chatemu run FILE``: a scenario file, one chatemu command per line, in one process.

Each line goes through the same parser and the same engine calls as a separate
``chatemu`` process would, as its own transaction; only the process start-up
and the database connection are shared.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
import time
from contextlib import contextmanager

from typer import _click

from chatemu.store.engine import Connections

from . import render
from .common import Session
from .files import read_file


@contextmanager
def fresh_database(keep: str | None):
    """The path of a new database for ``run --fresh``: in a private temporary folder removed
    afterwards, or at ``keep`` (which must not exist yet), left there."""
    from chatemu.store.errors import UsageError

    if keep is not None:
        if keep == "" or os.path.lexists(keep):
            raise UsageError(f"--keep {keep!r}: that path exists already; name a new file" if keep
                             else "--keep needs a path")
        yield keep
        return
    import shutil
    import tempfile

    folder = tempfile.mkdtemp(prefix="chatemu-run-")
    try:
        yield os.path.join(folder, "chatemu.db")
    finally:
        shutil.rmtree(folder, ignore_errors=True)

def start_fresh(path: str) -> None:
    """Make the new database at ``path`` with its virtual clock at ``FRESH_START``, so that a
    fresh run prints the same on every run, with or without a ``clock set`` of its own."""
    from chatemu.store.clock import FRESH_START
    from chatemu.store.engine import Engine
    from chatemu.store.timefmt import parse_time

    Engine(path).clock_set(parse_time(FRESH_START))


#: A line shlex would split exactly as ``str.split()`` does: printable ASCII, spaces and tabs,
#: no quote, backslash or comment.  Anything else (``\x1c``, U+2028 …) is shlex's to split.
_PLAIN = re.compile(r"[ \t!$%&(-\[\]-~]*")
#: How much of a line (and of a message) an error or progress line shows.
LINE_ECHO, MESSAGE_ECHO = 200, 1000
#: Words ``shlex.quote`` returns unchanged (its own test: none of ``[^\w@%+=:,./-]``), joined by spaces.
_SAFE = re.compile(r"[\w@%+=:,./-]+(?: [\w@%+=:,./-]+)*", re.ASCII)


def clip(text: str, limit: int = LINE_ECHO) -> str:
    """``text`` cut to ``limit`` characters, ending in … when cut, and kept to one line
    (line breaks shown escaped, ``render.one_line``)."""
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return render.one_line(text)


def split_lines(text: str) -> list[str]:
    """A scenario's lines: separated by ``\n`` only (``\r\n`` too), a leading byte-order mark
    skipped.  (``str.splitlines`` also splits at form feeds, ``\x1c``-``\x1e``, ``\x85`` and
    U+2028/U+2029, and line numbers would no longer be the editor's.)"""
    lines = text.removeprefix("\ufeff").split("\n")
    if lines[-1] == "":
        lines.pop()  # the newline ending the last line
    return [line[:-1] if line.endswith("\r") else line for line in lines]


#: A refusal line's mark, its first word: ``!`` (refused or unknown: exit 3 or 4), ``!N`` (exit N),
#: either followed by ``~TEXT`` (the error message must contain TEXT).
_REFUSAL = re.compile(r"!([1-5])?(?:~(.+))?", re.DOTALL)
#: What a bare ``!`` accepts: refused by the model, or something unknown.
REFUSED = (3, 4)


class Want:
    """What a refusal line requires: one of ``codes``, and ``text`` in the error message."""

    def __init__(self, codes: tuple[int, ...], text: str | None):
        self.codes, self.text = codes, text

    def describe(self) -> str:
        what = "a refusal (exit 3 or 4)" if self.codes == REFUSED else f"exit {self.codes[0]}"
        return what + (f" saying {self.text!r}" if self.text is not None else "")

    def judge(self, code: int, errors: list[str]) -> tuple[int, list[str], str | None]:
        """(the line's exit code, its error lines, what the refusal said when it held)."""
        message = "; ".join(e.removeprefix("error: ") for e in errors)
        if code == 0:
            return 1, [f"error: expected {self.describe()}, but the command succeeded"], None
        if code not in self.codes:
            return 1, [f"error: expected {self.describe()}, got exit {code}: {message}"], None
        if self.text is not None and self.text not in message:
            return 1, [f"error: expected {self.describe()}, but it said: {message}"], None
        return 0, [], message


_RUN = re.compile(r"[^ \t\r\n#'\"\\]+")
_SPACE = re.compile(r"[ \t\r\n]*")
_IN_DOUBLE = re.compile(r'[^"\\]+')


def split_words(line: str) -> list[str]:
    """``shlex.split(line, comments=True)``, word for word and error for error, in linear time
    (shlex builds each word a character at a time: a megabyte-long word took it seconds).

    POSIX rules as shlex has them: words end at space, tab, CR or LF; ``#`` outside quotes ends
    the line, even inside a word; a backslash keeps the next character; single quotes keep
    everything; inside double quotes a backslash escapes only ``"`` and ``\\``; a quoted empty
    string is a word."""
    words: list[str] = []
    pos, end = 0, len(line)
    while True:
        pos = _SPACE.match(line, pos).end()
        if pos == end:
            return words
        if line[pos] == "#":
            newline = line.find("\n", pos)
            if newline < 0:
                return words
            pos = newline + 1
            continue
        parts: list[str] = []
        quoted = False
        while pos < end:
            run = _RUN.match(line, pos)
            if run is not None:
                parts.append(run.group())
                pos = run.end()
                continue
            char = line[pos]
            if char in " \t\r\n":
                break
            if char == "#":  # a comment, even inside a word
                newline = line.find("\n", pos)
                pos = end if newline < 0 else newline + 1
                break
            if char == "\\":
                if pos + 1 == end:
                    raise ValueError("No escaped character")
                parts.append(line[pos + 1])
                pos += 2
            elif char == "'":
                quoted = True
                close = line.find("'", pos + 1)
                if close < 0:
                    raise ValueError("No closing quotation")
                parts.append(line[pos + 1:close])
                pos = close + 1
            else:  # a double quote
                quoted = True
                pos += 1
                while True:
                    if pos == end:
                        raise ValueError("No closing quotation")
                    run = _IN_DOUBLE.match(line, pos)
                    if run is not None:
                        parts.append(run.group())
                        pos = run.end()
                        continue
                    if line[pos] == '"':
                        pos += 1
                        break
                    if pos + 1 == end:  # a backslash at the end
                        raise ValueError("No escaped character")
                    escaped = line[pos + 1]
                    parts.append(escaped if escaped in '"\\' else "\\" + escaped)
                    pos += 2
        if parts or quoted:
            words.append("".join(parts))


def parse_lines(text: str, where: str) -> list[tuple[int, str, list[str] | str, Want | None]]:
    """(line number, the line, its words — or a parse error, what a refusal line requires)."""
    steps = []
    for number, line in enumerate(split_lines(text), 1):
        try:
            # shlex is the grammar; a line with nothing for it to do is split the fast way.
            plain = _PLAIN.fullmatch(line) is not None
            words = line.split() if plain else split_words(line)
        except ValueError as exc:
            steps.append((number, line.strip(), f"error: cannot parse the line: {exc}", None))
            continue
        if not words:
            continue
        want = None
        if words[0].startswith("!"):
            found = _REFUSAL.fullmatch(words[0])
            if found is None:
                steps.append((number, line.strip(), f"error: bad refusal mark {words[0]!r}: use !, !N or"
                              " !~TEXT (N an exit code from 1 to 5) before the command", None))
                continue
            words = words[1:]
            code = found.group(1)
            want = Want((int(code),) if code else REFUSED, found.group(2))
            if not words:
                steps.append((number, line.strip(), "error: a refusal mark needs a command after it", None))
                continue
        if words[0] == "chatemu":
            words = words[1:]
        if words and words[0] == "run":
            steps.append((number, line.strip(), "error: a scenario cannot run another scenario", None))
            continue
        # The command as run, without its comment (words shlex.quote leaves alone, joined as they are).
        shown = " ".join(words)
        if not (plain and _SAFE.fullmatch(shown)):  # words split at whitespace hold none
            shown = shlex.join(words)
        if want is not None:
            code, text = found.group(1), found.group(2)
            shown = f"!{code or ''}{'~' + shlex.quote(text) if text is not None else ''} {shown}"
        steps.append((number, shown, words, want))
    return steps


def summary(value) -> str:
    """What ``run`` says of a line's result (the value its command returned)."""
    if isinstance(value, list):
        return f"{len(value)} item(s)"
    if isinstance(value, dict):
        if "state" in value and "id" in value:
            return render.chat_summary(value)
        if "status" in value:
            return render.agent_summary(value)
        if "mode" in value and "now" in value and len(value) == 2:
            return render.clock(value)
        if "mark" in value and "seq" in value:
            return f"mark {value['mark']} at seq {value['seq']}"
        if "ok" in value and "checks" in value:
            return "holds" if value["ok"] else "does not hold"
        if "profile" in value and "changed" in value:
            where = f" for queue {value['queue']}" if value["queue"] else ""
            return f"profile {value['profile']} applied{where}, {len(value['changed'])} value(s) changed"
    return "done"


class _Simple:
    """What ``fast_params`` needs to know of a click command whose parameters are all
    simple: options by name (flags, or taking one string or integer value) and
    positional arguments (one word each, the last one possibly taking the rest)."""

    def __init__(self, command):
        self.options: dict = {}
        self.arguments: list = []
        self.defaults: dict = {}
        self.integers: list[str] = []
        self.required: list[str] = []
        for param in command.params:
            if param.callback is not None or param.envvar or param.multiple or param.is_eager \
                    or not param.expose_value or callable(param.default) or type(param.type) not in _TYPES:
                raise ValueError(param.name)
            if param.param_type_name == "option":
                if param.count or param.prompt is not None or param.secondary_opts or param.nargs != 1 \
                        or (param.is_flag and not param.is_bool_flag):
                    raise ValueError(param.name)
                for name in param.opts:
                    self.options[name] = (param.name, param.is_flag)
                if isinstance(param.type, _click.types.IntParamType):
                    self.integers.append(param)
            else:
                if param.nargs not in (1, -1) or type(param.type) is not _click.types.StringParamType \
                        or (self.arguments and self.arguments[-1].nargs == -1):
                    raise ValueError(param.name)
                self.arguments.append(param)
                if param.required:
                    self.required.append(param.name)
            self.defaults[param.name] = param.default


#: click parameter types ``fast_params`` converts the way click does: strings as they are,
#: integers by the type itself, booleans only as flags.
_TYPES = (_click.types.StringParamType, _click.types.IntParamType, _click.types.IntRange,
          _click.types.BoolParamType)
_SIMPLE: dict = {}


def simple(command) -> _Simple | None:
    if command not in _SIMPLE:
        try:
            _SIMPLE[command] = None if command.no_args_is_help else _Simple(command)
        except ValueError:
            _SIMPLE[command] = None
    return _SIMPLE[command]


def fast_params(command, args: list[str]) -> dict | None:
    """The parameters click would parse from ``args`` for ``command``, when the words are
    plainly what they look like: known option names (no ``--x=v``, no clusters, no
    ``--``, no ``--help``), their values, and as many positional words as the command
    takes.  None for anything else (and for anything click would refuse): click
    itself parses those, as a separate process would, errors and all."""
    spec = _SIMPLE.get(command, False)
    if spec is False:
        spec = simple(command)
    if spec is None:
        return None
    params = dict(spec.defaults)
    positional = []
    words = iter(args)
    options = spec.options
    for word in words:
        if word[:1] == "-" and len(word) > 1:
            found = options.get(word)
            if found is None:
                return None
            name, flag = found
            if flag:
                params[name] = True
            else:
                value = next(words, None)
                if value is None:
                    return None
                params[name] = value
        else:
            positional.append(word)
    arguments = spec.arguments
    if len(positional) > len(arguments) and (not arguments or arguments[-1].nargs != -1):
        return None  # click: "Got unexpected extra argument"
    for index, param in enumerate(arguments):
        if param.nargs == -1:
            params[param.name] = tuple(positional[index:])
        elif index < len(positional):
            params[param.name] = positional[index]
    for name in spec.required:
        if params[name] in (None, ()):
            return None  # click: "Missing argument"
    for param in spec.integers:
        value = params[param.name]
        if value is not None:
            try:
                params[param.name] = param.type.convert(value, param, None)
            except Exception:
                return None  # click: "… is not a valid integer" (or out of range)
    return params


class Dispatcher:
    """Runs scenario lines under the ``run`` command's own root context.

    A line that names a command (``chat park C1``, ``events --chat C1``), after root
    options (``--agent A``, ``--db F``) or not, is handled by that very click command,
    as in a separate process, under a root context with those options (``run``'s own
    when there are none): only the root's and the group's option parsing, which
    ``run`` already did, is not repeated.  Its parameters are parsed by
    ``fast_params`` when the line is plain, else by click.  Any other line (a group's
    own options, a typo, ``--help``) goes the whole way through ``app.call``, with a
    session of its own that shares the run's sink and connections.
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
        self.roots: dict = {(): root_ctx}
        self.group_contexts: dict = {}
        self.contexts: dict = {}

    def root_context(self, options: dict):
        """The root context (and session) of a line's root options, made once per run."""
        key = tuple(sorted(options.items()))
        if key not in self.roots:
            params = dict(self.root_ctx.params)
            params.update(options)
            ctx = self.root.context_class(self.root, info_name=self.root_ctx.info_name,
                                          obj=Session(connections=self.session.connections, in_run=True),
                                          **self.root.context_settings)
            ctx.obj.cli = self.cli
            ctx.obj.marks = self.session.marks
            ctx.params = params
            _click.Command.invoke(self.root, ctx)  # the root callback: the session's db and agent
            self.roots[key] = ctx
        return self.roots[key]

    def route(self, words: list[str]):
        options = {}
        at = 0
        while at < len(words) and words[at] in ("--db", "--agent"):
            if at + 1 == len(words):
                return None
            options[words[at][2:]] = words[at + 1]
            at += 2
        if at == len(words):
            return None
        parent = self.root_context(options) if options else self.root_ctx
        name = words[at]
        first = self.root.commands.get(name)
        if first is None:
            return None
        if not hasattr(first, "commands"):
            return first, name, words[at + 1:], parent
        if len(words) < at + 2 or words[at + 1] not in first.commands:
            return None
        key = (id(parent), name)
        if key not in self.group_contexts:
            group = first.context_class(first, info_name=name, parent=parent, **first.context_settings)
            if first.callback is not None:
                group.params = fast_params(first, [])
                if group.params is None:
                    return None
            self.group_contexts[key] = group
        return first.commands[words[at + 1]], words[at + 1], words[at + 2:], self.group_contexts[key]

    def mark(self, words: list[str], sink: list) -> tuple[int, list[str]]:
        """``mark NAME``: remember the last event's seq as NAME (``expect events-since NAME N``)."""
        from chatemu.store.engine import Result
        from chatemu.store.errors import UsageError

        def remember():
            if len(words) != 2 or not words[1] or words[1].isdigit():
                raise UsageError("mark needs one name (not a number): mark NAME")
            seq = self.session.engine().last_seq().value
            self.session.marks[words[1]] = seq
            sink.append(Result({"mark": words[1], "seq": seq}))

        return self.cli.translate(remember, words)

    def __call__(self, words: list[str], sink: list) -> tuple[int, list[str]]:
        self.session.sink = sink
        words = self.cli.lift_root_options(words, self.root)  # `chat list --db F` is `--db F chat list`
        route = self.route(words)
        if route is None:
            own = Session(sink=sink, connections=self.session.connections, in_run=True)
            own.marks, own.refused = self.session.marks, self.session.refused
            return self.cli.call(self.base + words, own, typed=words)
        command, name, args, parent = route
        parent.find_root().obj.sink = sink

        def invoke():
            if parent.command.callback is not None and parent.parent is not None:
                # The group's own callback runs first, as click runs it, told which subcommand follows.
                parent.invoked_subcommand = name
                _click.Command.invoke(parent.command, parent)
            params = fast_params(command, args)
            if params is None:
                ctx = command.make_context(name, list(args), parent=parent)
            else:
                # One context per command and parent, made once (nothing in it outlives a line
                # but the parameters, set here).
                key = (command, id(parent))
                ctx = self.contexts.get(key)
                if ctx is None:
                    ctx = self.contexts[key] = command.context_class(command, info_name=name, parent=parent,
                                                                     **command.context_settings)
                ctx.params = params
                if not command.deprecated:
                    # What command.invoke does, less the wrapping that only adds the context to
                    # click's own usage errors (the callbacks raise chatemu's, never click's).
                    with ctx:
                        return command.callback(**params)
            with ctx:
                return command.invoke(ctx)

        return self.cli.translate(invoke, words, session=self.session)


def play(dispatch: Dispatcher, words: list[str] | str, want: Want | None, results: list):
    """Run one parsed scenario line (``parse_lines``): its exit code, its error lines, what a
    refusal line's refusal said when it held (else None) and the refused command's exit code.
    The line's results are appended to ``results``."""
    if isinstance(words, str):
        return 2, [words], None, None
    if words[0] == "mark" and want is None:
        return (*dispatch.mark(words, results), None, None)
    code, errors = dispatch(words, results)
    if want is None:
        return code, errors, None, None
    refused_with = code
    code, errors, refusal = want.judge(code, errors)
    return code, errors, refusal, refused_with


def run_scenario(root_ctx, file: str, keep_going: bool, quiet: bool, as_json: bool, fresh: str | None = None) -> int:
    """Run the scenario ``file``; ``fresh``: the path of a new database to make first
    (``start_fresh``), once the file has been read."""
    text, where = read_file(file)
    steps = parse_lines(text, where)
    if fresh is not None:
        start_fresh(fresh)
    dispatch = Dispatcher(root_ctx)
    progress = None
    if not quiet and not as_json and render.use_rich() and sys.stdout.isatty() and len(steps) > 50:
        from rich.progress import Progress

        progress = Progress(transient=True, console=render.console())
        task = progress.add_task(render.escape_controls(f"running {where}"), total=len(steps))
        progress.start()
    first_failure = 0
    ran = held = failed = 0
    started = time.monotonic()
    session = dispatch.session
    session.connections, session.in_run = Connections(), True
    try:
        for number, line, words, want in steps:
            results: list = []
            code, errors, refusal, refused_with = play(dispatch, words, want, results)
            ran += 1
            if code:
                failed += 1
            elif refusal is not None or (results and _is_check(results[-1].value)):
                held += 1
            caused = [event for result in results for event in result.events]
            record = {"line": number, "command": line, "exit": code}
            if results:
                record["result"] = results[-1].value
            record["events"] = caused
            if refusal is not None:
                record["refused"] = {"exit": refused_with, "error": refusal}
            if errors:
                record["error"] = "; ".join(e.removeprefix("error: ") for e in errors)
            if progress is not None:
                progress.advance(task)
                report(where, record, errors, True, False)
            else:
                report(where, record, errors, quiet, as_json)
            if code:
                first_failure = first_failure or code
                if not keep_going:
                    break
    finally:
        session.connections.close()
        session.connections, session.sink = None, None
        if progress is not None:
            progress.stop()
            print(f"{where}: {ran} step(s) run, {held} held, {failed} failed in {time.monotonic() - started:.1f}s")
    return first_failure


def report(where: str, record: dict, errors: list[str], quiet: bool, as_json: bool) -> None:
    """Print what ``run`` prints of one line run: its ``record`` (as ``run --json`` prints it),
    or the line and its outcome with the changes it made (``quiet``: nothing), and its error
    lines (``errors``) naming FILE:LINE (``where``)."""
    code, line = record["exit"], record["command"]
    if as_json:
        render.emit_json(record)
    elif not quiet and code == 0:
        refused = record.get("refused")
        if refused is not None:
            outcome = f"refused as expected (exit {refused['exit']}): {clip(refused['error'], MESSAGE_ECHO)}"
        else:
            outcome = summary(record["result"]) if "result" in record else "done"
        print(f"{where}:{record['line']}: {clip(line)}  -> {outcome}")
        for event in record["events"]:
            print("  " + render.change_line(event))
    for error in errors if code else ():
        message = clip(error.removeprefix("error: "), MESSAGE_ECHO)
        render.error(f"error: {where}:{record['line']}: {clip(line)}: {message}")


def _is_check(value) -> bool:
    return isinstance(value, dict) and "ok" in value and "checks" in value and value["ok"] is True
