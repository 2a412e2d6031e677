"""``chatemu drill FILE``: an exercise for a trainee, with checks.

A drill file is a scenario (``chatemu run``'s lines) that talks to the trainee:
``say TEXT`` shows an instruction, ``do COMMAND`` acts (a customer starts a
chat, a call arrives, the clock moves), and ``wait …`` waits until checks hold,
judged exactly as ``chatemu expect`` judges them, while the trainee works in
another terminal: separate chatemu processes on the same database.  At the end,
a report: each step with the time it took, the hints shown, and the trainee's
mistakes (the refusals journaled meanwhile).

Waiting is a cheap poll: ``PRAGMA data_version`` on the drill's one kept
connection says whether another process committed anything; only then (or, on
a real clock, every poll, since time passes by itself) are the checks read
again, by a plain read that takes no write lock.  Nothing is held between polls.
"""

from __future__ import annotations

import time
from typing import Annotated, Optional

import typer

from chatemu.store.errors import UsageError

#: Seconds between two polls of a wait.
POLL_SECONDS = 0.15


def drill(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(metavar="FILE|-", help="A drill file: a scenario with say, do and wait lines.")],
    timeout: Annotated[
        Optional[str],
        typer.Option("--timeout", metavar="DURATION",
                     help="Give up after this long on the wall clock (exit 1, naming the step), e.g. 10m."),
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="Print nothing but the report, as one JSON document.")] = False,
) -> None:
    """Run a drill: instructions for a trainee, and checks that wait for the trainee's commands.

    The trainee works in another terminal on the same database (--db or
    CHATEMU_DB), with ordinary chatemu commands.  'say TEXT' shows an
    instruction; 'do COMMAND' acts (plain scenario lines act too, silently);
    'wait chat|agent|clock|inbox|queue … FIELD=VALUE… [--within DURATION]
    [--hint TEXT] [--strict]' waits until the checks hold, as 'expect' judges
    them.  Past --within (on the database's clock) the hint shows once; with
    --strict the step fails instead.  The report at the end lists each step,
    the hints shown and the trainee's mistakes (the refused commands, see
    'chatemu refusals').  Exit 0 when every step was done, 1 when a --strict
    step missed its deadline or --timeout passed.

    \b
    Examples:
      chatemu drill examples/drills/park-and-resume-wrapup.drill
      CHATEMU_DB=class.db chatemu drill examples/drills/three-chats-at-capacity.drill --timeout 30m
      chatemu drill my.drill --json > report.json
    """
    from .common import session

    if session(ctx).in_run:
        raise UsageError("a scenario cannot run a drill")
    timeout_ms = None
    if timeout is not None:
        from chatemu.store.timefmt import parse_duration

        timeout_ms = parse_duration(timeout)
        if timeout_ms <= 0:
            raise UsageError("--timeout must be longer than 0s")
    code = run_drill(ctx.find_root(), file, timeout_ms, json)
    if code:
        raise typer.Exit(code)


# -- the drill file ----------------------------------------------------------------------


class Step:
    """One line of a drill: ``say`` (``text``), ``wait`` (``check``: the expect line run at each
    poll, ``within`` ms, ``hint``, ``strict``) or ``line`` (a scenario line: ``do``'s, shown,
    or a plain one, silent)."""

    def __init__(self, number: int, kind: str, shown: str, words=None, want=None, text: str | None = None):
        self.number, self.kind, self.shown, self.words, self.want, self.text = number, kind, shown, words, want, text
        self.shown_to_trainee = False  # a ``do`` line
        self.check: list[str] = []
        self.within: int | None = None
        self.hint: str | None = None
        self.strict = False


def parse_drill(text: str, where: str, stop_at: float | None = None) -> list[Step]:
    """Every step of a drill file; ``UsageError`` naming the first bad line.  Past ``stop_at``
    (``--timeout``, on the wall clock) reading stops: only the first step (or the line being read)
    is returned, for the drill to stop on (exit 1) before running it."""
    from .common import root_options
    from .scenario import clip, parse_lines, split_lines

    steps = []
    for number, line in enumerate(split_lines(text), 1):
        if stop_at is not None and time.monotonic() > stop_at:
            # The drill stops before its first step (or the line being read), as before any later one.
            return steps[:1] or [Step(number, "line", clip(line.strip()))]
        stripped = line.strip()
        if stripped == "say" or stripped.startswith(("say ", "say\t")):
            said = stripped[3:].strip()
            if not said:
                raise UsageError(f"{where}:{number}: say needs a text: say TEXT")
            _check_text(said, "say", where, number)
            steps.append(Step(number, "say", clip(stripped), text=said))
            continue
        for _, shown, words, want in parse_lines(line, where):
            if isinstance(words, str):
                raise UsageError(f"{where}:{number}: {clip(shown)}: {words.removeprefix('error: ')}")
            spans = root_options(words)  # the root options that may start a line (--agent ID, --db PATH)
            at = min(spans[-1][1], len(words)) if spans else 0
            keyword = words[at] if at < len(words) else None
            if keyword == "say":
                raise UsageError(f"{where}:{number}: say starts its line: say TEXT")
            if keyword == "wait":
                if want is not None:
                    raise UsageError(f"{where}:{number}: a wait cannot be a refusal line (!)")
                steps.append(_wait(number, shown, words[:at], words[at + 1:], where))
                continue
            step = Step(number, "line", shown, words, want)
            if keyword == "do":
                step.words = words[:at] + words[at + 1:]
                step.shown_to_trainee = True
                if len(step.words) == at:
                    raise UsageError(f"{where}:{number}: do needs a command: do COMMAND")
                if step.words[at] == "run":
                    raise UsageError(f"{where}:{number}: a drill cannot run a scenario")
            steps.append(step)
    return steps


def _check_text(text: str, what: str, where: str, number: int) -> str:
    """A ``say`` or ``--hint`` text, shown to the trainee: a message's rules (no control character)."""
    from chatemu.store.validate import text_problem

    problem = text_problem(text)
    if problem:
        raise UsageError(f"{where}:{number}: bad {what} text: {problem}")
    return text


def _wait(number: int, shown: str, root: list[str], words: list[str], where: str) -> Step:
    from chatemu.store.timefmt import parse_duration

    from .expect import KINDS

    step = Step(number, "wait", shown)
    rest: list[str] = []
    at = 0
    while at < len(words):
        word = words[at]
        name, sep, value = word.partition("=")
        if name in ("--within", "--hint") and not sep:
            if at + 1 == len(words):
                raise UsageError(f"{where}:{number}: {name} needs a value")
            value, at = words[at + 1], at + 2
        elif name in ("--within", "--hint"):
            at += 1
        elif word == "--strict":
            step.strict, at = True, at + 1
            continue
        else:
            rest.append(word)
            at += 1
            continue
        if name == "--within":
            try:
                step.within = parse_duration(value)
            except UsageError as exc:
                raise UsageError(f"{where}:{number}: --within: {exc.message}") from None
        else:
            step.hint = _check_text(value, "--hint", where, number)
    if not rest or rest[0] not in KINDS:
        raise UsageError(f"{where}:{number}: wait what? use wait chat ID|agent [ID]|clock|config [Q]|inbox|queue NAME|"
                         "events-since SEQ N, then the checks, as expect takes them")
    if rest[0] == "events-since" and len(rest) == 3:
        # Its numbers are judged before the drill starts (a mark's name is known only as it runs).
        from .expect import whole_number

        try:
            if rest[1].isascii() and rest[1].isdigit():
                whole_number(rest[1], "SEQ", "a number, or a name given to 'mark NAME' earlier in the drill")
            whole_number(rest[2], "count", "a whole number")
        except UsageError as exc:
            raise UsageError(f"{where}:{number}: {exc.message}") from None
    if (step.hint is not None or step.strict) and step.within is None:
        raise UsageError(f"{where}:{number}: {'--hint' if step.hint is not None else '--strict'} needs --within")
    step.check = root + ["expect", *rest]
    step.text = " ".join(rest)
    return step


# -- running it --------------------------------------------------------------------------


class Failed(Exception):
    """The drill stops: a line failed, a --strict deadline passed, or --timeout."""

    def __init__(self, code: int, step: Step, error: str, record: dict | None = None):
        super().__init__(error)
        self.code, self.step, self.error = code, step, error
        self.record = record  # a wait's record as it stood


def run_drill(root_ctx, file: str, timeout_ms: int | None, as_json: bool) -> int:
    from chatemu.store.engine import Connections
    from chatemu.store.timefmt import format_time

    from .files import read_file
    from .follow import interruptible
    from .render import error
    from .scenario import Dispatcher, clip

    wall_start = time.monotonic()  # --timeout counts reading the file too
    stop_at = None if timeout_ms is None else wall_start + timeout_ms / 1000
    text, where = read_file(file)
    steps = parse_drill(text, where, stop_at)
    dispatch = Dispatcher(root_ctx)
    session = dispatch.session
    session.connections, session.in_run, session.refused = Connections(), True, []
    show = Show(where, as_json)
    interruptible()
    records: list[dict] = []
    failure = None
    try:
        eng = session.engine()
        first_seq = eng.refusals_last_seq().value
        clock = Clock(eng)
        started_at = None  # the clock when the first say or wait begins (set-up lines come before)
        try:
            for step in steps:
                if stop_at is not None and time.monotonic() > stop_at:  # before every line, say lines too
                    raise Failed(1, step, f"--timeout {_duration(timeout_ms)} passed (wall clock)")
                if step.kind == "say":
                    at = clock.known()  # no database read: the clock as last read
                    started_at = at if started_at is None else started_at
                    records.append(_record(step, at, at, 0.0, {"text": step.text}))
                    show.say(step)
                    continue
                if started_at is None and step.kind != "line":
                    started_at = clock.now()
                if step.kind == "wait":
                    records.append(wait(step, dispatch, clock, show, stop_at, timeout_ms))
                else:
                    _act(step, dispatch, show)
                    clock.moved()
        except Failed as exc:
            failure = exc
            if exc.record is not None:
                records.append(exc.record)
        ended_at = clock.now()
        started_at = ended_at if started_at is None else started_at
        mine = set(session.refused)
        mistakes = [r for r in eng.refusals(None, first_seq).value if r["seq"] not in mine]
    finally:
        show.stop()  # a spinner left running (Ctrl-C) gives the terminal back
        session.connections.close()
        session.connections, session.sink = None, None
    from chatemu.store.timefmt import seconds

    code = failure.code if failure else 0
    report = {
        "drill": where,
        "ok": failure is None,
        "exit": code,
        "started_at": format_time(started_at),
        "ended_at": format_time(ended_at),
        "seconds": seconds(ended_at - started_at),
        "wall_seconds": round(time.monotonic() - wall_start, 3),
        "steps": records,
        "hints_shown": sum(1 for r in records if r.get("hint_shown")),
        "mistakes": mistakes,
        "failed": None if failure is None else {
            "line": failure.step.number, "command": failure.step.shown, "exit": failure.code, "error": failure.error},
    }
    show.report(report)
    if failure is not None:
        error(f"error: {where}:{failure.step.number}: {clip(failure.step.shown)}: {failure.error}")
    return code


def _record(step: Step, started: int | None, ended: int | None, wall: float | None, extra: dict) -> dict:
    from chatemu.store.timefmt import format_time, seconds

    return {"line": step.number, "kind": step.kind, **extra,
            "started_at": format_time(started) if started is not None else None,
            "ended_at": format_time(ended) if ended is not None else None,
            "seconds": seconds(ended - started) if started is not None and ended is not None else None,
            "wall_seconds": None if wall is None else round(wall, 3)}


def _duration(ms: int | None) -> str:
    from chatemu.store.timefmt import format_duration

    return format_duration(ms) if ms is not None else "-"


class Clock:
    """The database's clock as the drill reads it (a plain read), and its mode.

    ``known()`` is the clock as last read, without reading it again (a ``say`` line costs no
    database read): on a real clock moved on by the wall clock's time since that read."""

    def __init__(self, engine):
        self.engine = engine
        self.mode = "virtual"
        self.last: tuple[int, float] | None = None  # the clock when last read, and the monotonic time then

    def now(self) -> int:
        from chatemu.store.timefmt import parse_time

        value = self.engine.clock_show().value
        self.mode = value["mode"]
        at = parse_time(value["now"])
        self.last = (at, time.monotonic())
        return at

    def moved(self) -> None:
        """The drill's own line may have moved the clock: read it again when next needed."""
        self.last = None

    def known(self) -> int:
        if self.last is None:
            return self.now()
        at, read = self.last
        if self.mode == "real":
            return at + int((time.monotonic() - read) * 1000)
        return at


def _act(step: Step, dispatch, show) -> None:
    """A ``do`` line or a plain scenario line: run as ``chatemu run`` runs it; a failure stops the drill."""
    from .scenario import MESSAGE_ECHO, clip, play

    results: list = []
    code, errors, refusal, refused_with = play(dispatch, step.words, step.want, results)
    if code:
        raise Failed(code, step, "; ".join(clip(e.removeprefix("error: "), MESSAGE_ECHO) for e in errors))
    if step.shown_to_trainee:
        show.did(step, results, refusal, refused_with)


def wait(step: Step, dispatch, clock: Clock, show, stop_at: float | None, timeout_ms: int | None) -> dict:
    """Wait until the step's checks hold; its record."""
    engine = dispatch.session.engine()
    started = clock.now()
    wall_start = time.monotonic()
    late = hint_shown = announced = False
    seen = None  # the data_version the checks were last read at

    def record(done: bool, ended: int | None) -> dict:
        return _record(step, started, ended, time.monotonic() - wall_start, {
            "check": step.text, "within": _seconds(step.within), "hint": step.hint, "strict": step.strict,
            "done": done, "late": late, "hint_shown": hint_shown})

    while True:
        if clock.mode == "real" and engine.pending():
            engine.settle()  # the clock passed a deadline by itself: apply it, as any command would
        version = _data_version(dispatch.session, engine)
        if version is None or version != seen or clock.mode == "real":
            seen = version
            results: list = []
            code, errors = dispatch(list(step.check), results)
            now = clock.now()
            if code == 0:
                found = record(True, now)
                show.done(step, found)
                return found
            if code not in (1, 4):  # 4: what it names does not exist yet
                raise Failed(code, step, "; ".join(e.removeprefix("error: ") for e in errors), record(False, None))
            if step.within is not None and not late and now - started >= step.within:
                late = True
                if step.hint is not None:
                    hint_shown = True
                    show.hint(step)
                if step.strict:
                    raise Failed(1, step, f"not done within {_duration(step.within)} (database clock): "
                                 + "; ".join(e.removeprefix("error: ") for e in errors), record(False, None))
        if not announced:
            show.waiting(step)
            announced = True
        if stop_at is not None and time.monotonic() >= stop_at:
            raise Failed(1, step, f"--timeout {_duration(timeout_ms)} passed (wall clock)", record(False, None))
        time.sleep(POLL_SECONDS)


def _seconds(ms: int | None):
    from chatemu.store.timefmt import seconds

    return seconds(ms)


def _data_version(session, engine) -> int | None:
    """The kept connection's ``PRAGMA data_version``: it changes when another connection commits."""
    kept = session.connections.open.get(engine.key) if session.connections is not None else None
    if kept is None:
        return None
    try:
        return kept[0].execute("PRAGMA data_version").fetchone()[0]
    except Exception:
        return None


# -- showing it ----------------------------------------------------------------------------


class Show:
    """The drill's output: rich on a terminal, plain lines otherwise, nothing but the report
    with ``--json``.  rich is imported only on a terminal."""

    def __init__(self, where: str, as_json: bool):
        import os

        from . import render

        self.where, self.as_json = where, as_json
        # A step's line names the file without its folder (the report's heading names it whole).
        self.name = os.path.basename(where) or where
        self.rich = not as_json and render.use_rich()
        self.console = render.console(highlight=False) if self.rich else None
        self.status = None

    def _print(self, line: str, style: str = "") -> None:
        import sys

        from .render import escape_controls

        line = escape_controls(line)
        if self.rich:
            from rich.text import Text

            self.console.print(Text(line, style=style))
        else:
            print(line)
            sys.stdout.flush()

    def say(self, step: Step) -> None:
        if self.as_json:
            return
        if self.rich:
            from rich.panel import Panel
            from rich.text import Text

            from .render import escape_controls

            self.console.print(Panel(Text(escape_controls(step.text)), border_style="cyan", expand=False))
        else:
            self._print(f"* {step.text}")

    def did(self, step: Step, results: list, refusal: str | None, refused_with: int | None) -> None:
        if self.as_json:
            return
        from . import render
        from .scenario import MESSAGE_ECHO, clip, summary

        if refusal is not None:
            outcome = f"refused as expected (exit {refused_with}): {clip(refusal, MESSAGE_ECHO)}"
        else:
            outcome = summary(results[-1].value) if results else "done"
        if self.rich:  # as the trainee's other lines there: no file, no line number
            self._print(f"{clip(step.shown)}  → {outcome}", "dim")
        else:
            self._print(f"{self.name}:{step.number}: {clip(step.shown)}  -> {outcome}")
        for result in results:
            for event in result.events:
                self._print("  " + render.change_line(event), "dim")

    def waiting(self, step: Step) -> None:
        if self.as_json:
            return
        from .scenario import clip

        within = f" (within {_duration(step.within)})" if step.within is not None else ""
        if self.rich:
            from rich.text import Text

            from .render import escape_controls

            self.status = self.console.status(Text(escape_controls(f"waiting: {clip(step.text)}{within}")))
            self.status.start()
        else:
            self._print(f"{self.name}:{step.number}: waiting: {clip(step.text)}{within}")

    def hint(self, step: Step) -> None:
        if self.as_json:
            return
        from .scenario import clip

        self._print(f"{self.name}:{step.number}: hint: {clip(step.hint)}" if not self.rich
                    else f"hint: {clip(step.hint)}", "bold yellow")

    def done(self, step: Step, found: dict) -> None:
        if self.as_json:
            return
        from .scenario import clip

        self.stop()
        took = f"{_took(found)}{', late' if found['late'] else ''}"
        if self.rich:
            self._print(f"✓ {clip(step.text)}  ({took})", "green")
        else:
            self._print(f"{self.name}:{step.number}: done: {clip(step.text)} ({took})")

    def stop(self) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None

    def report(self, report: dict) -> None:
        self.stop()
        if self.as_json:
            from . import render

            render.emit_json(report)
            return
        from . import render
        from .scenario import clip

        waits = [r for r in report["steps"] if r["kind"] == "wait"]
        done = sum(1 for r in waits if r["done"])
        late = sum(1 for r in waits if r["late"] and r["done"])
        mistakes = report["mistakes"]
        self._print("")
        self._print(f"drill {self.where}: {done} of {len(waits)} wait(s) done" + (f", {late} late" if late else "")
                    + f", {report['hints_shown']} hint(s) shown, {len(mistakes)} mistake(s);"
                    f" {_duration(round(report['seconds'] * 1000))} on the database clock,"
                    f" {report['wall_seconds']:.1f}s on the wall clock", "bold")
        rows = []
        for r in report["steps"]:
            if r["kind"] == "say":
                what, outcome = f"say {clip(r['text'], 60)}", ""
            else:
                what = f"wait {clip(r['check'], 60)}"
                outcome = ("done" + (" late" if r["late"] else "")) if r["done"] else ("missed" if r["late"] else "not done")
            rows.append([str(r["line"]), what, outcome, _took(r) if r["kind"] == "wait" and r["done"] else "-",
                         "shown" if r.get("hint_shown") else "-"])
        render._table(["LINE", "STEP", "OUTCOME", "TOOK", "HINT"], rows, wrap=("STEP",))
        if mistakes:
            self._print("")
            self._print("mistakes (refused commands):", "bold")
            render._table(["AT", "AGENT", "COMMAND", "MESSAGE"],
                          [[m["at"], m["agent"], render.one_line(clip(m["command"])), render.one_line(m["message"])]
                           for m in mistakes], wrap=("COMMAND", "MESSAGE"))
        else:
            self._print("no mistakes")


def _took(record: dict) -> str:
    """How long a step took: on the database clock, then on the wall clock."""
    return f"{_duration(round(record['seconds'] * 1000))} clock, {record['wall_seconds']:.1f}s wall"
