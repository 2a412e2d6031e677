"""The Starlette application of ``chatemu serve``.

Every route of the table (``routes.ROUTES``) is served by one endpoint (``endpoint``): it reads
the request's fields, makes the command line, asks the policy, runs the command
(``execute``) on the namespace's database on its own thread and answers what the command
printed with ``--json``, or its error as a problem (``problem``, the one translation from exit
codes to HTTP statuses).

Two hooks, each set in one place (``make_app``):

- ``policy(request, command)``: called before any command runs (``authorize``); raise
  ``Problem`` to refuse it (an authentication or role check).  ``command`` is a ``Command``:
  the namespace, the command line's words, the acting agent, the route; the policy may set
  ``command.agent`` (the agent it then runs as).  ``policy.authenticate(request, ns)``, if the
  policy has it, is called first, before the request's body is read (``enter``).
  ``chatemu serve`` passes ``auth.TokenPolicy``.
- ``namespace_tasks``: async functions ``task(emulator, ns)`` started once for every namespace
  whose database exists (found in the folder every second, or made by a request), cancelled
  when it is deleted or the server stops (``chatemu serve`` passes ``webhooks.deliver``).  The first one is ``settle``:
  on a real clock it applies due timers as they fall due.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Awaitable, Callable, Optional

import anyio
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from . import routes as table
from .execute import Outcome, execute, lockable, refuse_words

NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
BODY_LIMIT = 1 << 20  # a command's JSON body
BIG_BODY_LIMIT = 256 << 20  # a scenario (/run) or a bundle (/import)
SETTLE_SECONDS = 0.1
DISCOVER_SECONDS = 1.0

#: Exit code → HTTP status, problem type and title (RFC 9457).
PROBLEMS = {
    1: (422, "expectation-failed", "A check did not hold"),
    2: (400, "usage", "Bad request"),
    3: (409, "refused", "Refused by the model"),
    4: (404, "unknown", "No such thing"),
    5: (503, "database", "The database cannot be used"),
    70: (500, "internal", "Internal error"),
}


class Problem(Exception):
    """An error answered as ``application/problem+json``."""

    def __init__(self, status: int, kind: str, title: str, detail: str, exit_code: Optional[int] = None,
                 headers: Optional[dict] = None, **extra):
        super().__init__(detail)
        self.status, self.kind, self.title, self.detail, self.exit_code = status, kind, title, detail, exit_code
        self.headers, self.extra = headers, extra

    def response(self, instance: Optional[str] = None) -> JSONResponse:
        body = {"type": f"/problems/{self.kind}", "title": self.title, "status": self.status, "detail": self.detail}
        if instance is not None:
            body["instance"] = instance
        if self.exit_code is not None:
            body["exit_code"] = self.exit_code
        body.update(self.extra)
        return JSONResponse(body, self.status, headers=self.headers, media_type="application/problem+json")


def problem(outcome: Outcome, **extra) -> Problem:
    """The problem a failed command line answers: its exit code's status, its error line."""
    status, kind, title = PROBLEMS.get(outcome.exit_code, PROBLEMS[70])
    return Problem(status, kind, title, outcome.detail or title, outcome.exit_code, **extra)


def bad_request(detail: str) -> Problem:
    return Problem(400, "bad-request", "Bad request", detail, 2)


class Command:
    """What a request asks to run, as the policy sees it: the namespace, the command line's
    words (without ``--db``), the agent the request named (None: none), the table's row it came
    by (None for ``/cli``, ``/run`` and the others), and for ``/run`` each line's words."""

    def __init__(self, ns: str, argv: list[str], agent: Optional[str], route=None, lines=None):
        self.ns, self.argv, self.agent, self.route, self.lines = ns, argv, agent, route, lines

    @property
    def named(self) -> Optional[str]:
        """The agent the request names: its command line's own ``--agent`` root option
        (``/agents/{agent}/…``), else the request's agent; None when it names none."""
        return named_agent(self.argv, self.agent)

    @property
    def acting(self) -> str:
        """The agent the command acts as: the one the request names, else the command line's default."""
        from chatemu.store.validate import DEFAULT_AGENT

        found = self.named
        return found if found is not None else DEFAULT_AGENT

    def __repr__(self) -> str:
        return f"Command({self.ns!r}, {self.argv!r}, agent={self.agent!r})"


def named_agent(argv: list[str], agent: Optional[str] = None) -> Optional[str]:
    """The agent a command line's ``--agent`` root option names, else ``agent``."""
    from chatemu.cli.common import root_options

    found = agent
    for start, stop in root_options(argv):
        word = argv[start]
        if word.startswith("--agent"):
            found = word.partition("=")[2] if "=" in word else (argv[start + 1:stop] or [found])[0]
    return found


class Emulator:
    """The server's state: the data folder, the hooks, a lock and a thread per namespace (one
    command at a time on each database, in the order they came), the namespaces' tasks, and
    ``stopping``, set when the server stops (open event streams end)."""

    def __init__(self, root: str, policy: Optional[Callable] = None,
                 namespace_tasks: tuple[Callable[["Emulator", str], Awaitable], ...] = (),
                 keepalive: float = 15.0, poll: float = 0.1):
        self.root, self.policy = root, policy
        self.namespace_tasks = (settle, *namespace_tasks)
        self.keepalive, self.poll = keepalive, poll
        self.stopping = threading.Event()
        self.locks: dict[str, threading.Lock] = {}
        self.workers: dict[str, ThreadPoolExecutor] = {}
        # The commands given to each namespace's thread, and those it has done (each counter
        # written by one thread only: the first by the event loop's, the second by the namespace's).
        self.given: dict[str, int] = {}
        self.done: dict[str, int] = {}
        self.tasks: dict[str, anyio.CancelScope] = {}
        self.group = None

    def path(self, ns: str) -> str:
        if not NAME.fullmatch(ns):
            raise bad_request(f"bad namespace {ns!r}: 1 to 64 of a-z, 0-9 and -, starting with a letter or digit")
        return os.path.join(self.root, ns + ".db")

    def lock(self, ns: str) -> threading.Lock:
        return self.locks.setdefault(ns, threading.Lock())

    async def in_worker(self, ns: str, function: Callable):
        """``function()`` run on the namespace's own thread: its commands run there one after
        another, in the order they came (a queue, not threads taking turns at a lock), and that
        thread keeps the namespace's database connection open."""
        worker = self.workers.get(ns)
        if worker is None:
            worker = self.workers[ns] = ThreadPoolExecutor(1, thread_name_prefix=f"chatemu-{ns}")
        self.given[ns] = self.given.get(ns, 0) + 1

        def counted():
            try:
                return function()
            finally:
                self.done[ns] = self.done.get(ns, 0) + 1

        return await asyncio.get_running_loop().run_in_executor(worker, counted)

    def namespaces(self) -> list[str]:
        return sorted(name[:-3] for name in os.listdir(self.root)
                      if name.endswith(".db") and NAME.fullmatch(name[:-3]))

    def seen(self, ns: str) -> None:
        """Start the namespace's tasks if its database exists and they are not running."""
        if self.group is None or ns in self.tasks or not os.path.exists(self.path(ns)):
            return
        scope = self.tasks[ns] = anyio.CancelScope()

        async def run_all():
            with scope:
                async with anyio.create_task_group() as group:
                    for task in self.namespace_tasks:
                        group.start_soon(task, self, ns)

        self.group.start_soon(run_all)

    def generation(self, ns: str) -> int:
        """The namespace's log generation: a number the server raises each time the event log
        is replaced (a reset, a snapshot restore, an import through the server; a replacement an
        event stream notices, whoever made it; the namespace deleted), kept beside the database
        in ``.NS.generation``, so that event ids never repeat across replacements."""
        try:
            with open(os.path.join(self.root, f".{ns}.generation"), encoding="ascii") as handle:
                return int(handle.read().strip() or 0)
        except (OSError, ValueError):
            return 0

    def replaced(self, ns: str, seen: Optional[int] = None) -> int:
        """Raise the generation (unless it moved past ``seen`` already); the new one."""
        with self.lock(ns + "/generation"):
            now = self.generation(ns)
            if seen is not None and now != seen:
                return now
            target = os.path.join(self.root, f".{ns}.generation")
            with open(target + ".tmp", "w", encoding="ascii") as handle:
                handle.write(f"{now + 1}\n")
            os.replace(target + ".tmp", target)
            return now + 1

    def forget(self, ns: str) -> None:
        scope = self.tasks.pop(ns, None)
        if scope is not None:
            scope.cancel()
        worker = self.workers.pop(ns, None)
        if worker is not None:
            worker.shutdown(wait=False)  # what it was given still runs; the next command gets a new thread

    async def run(self, ns: str, argv: list[str], agent: Optional[str] = None, stdin: Optional[str] = None,
                  stdout=None, replaced: Optional[Callable[[Outcome], bool]] = None, quick: bool = False) -> Outcome:
        """Run a command line on the namespace's database, on its own thread, one at a time.
        ``replaced(outcome)``: whether it replaced the event log (default: a ``reset``,
        ``snapshot restore`` or ``import`` that succeeded); if so, the generation goes up
        before the next command runs.  ``quick``: a short command on one chat or agent (never
        one that replaces the log), run at once on the event loop's thread when nothing waits
        for the namespace (``at_once``)."""
        path = self.path(ns)

        def locked():
            with self.lock(ns):
                outcome = execute(path, argv, agent, stdin, stdout)
                if (replaced or _replacing(argv))(outcome):
                    self.replaced(ns)
                return outcome

        outcome = self.at_once(ns, path, argv, agent) if quick else None
        if outcome is None:
            outcome = await self.in_worker(ns, locked)
        self.seen(ns)
        return outcome

    def at_once(self, ns: str, path: str, argv: list[str], agent: Optional[str]) -> Optional[Outcome]:
        """Run a quick command here and now, on the event loop's thread, when that keeps every
        guarantee: no earlier command of the namespace is still queued or running on its thread
        (the order they came in holds), nothing of this server holds the namespace (its lock),
        and the database's write lock is free (no other process is writing, so the command
        does not wait).  None, with nothing run, when any of these fails: the command then
        queues on the namespace's thread as any other.  Running here saves the hop to the
        thread and back, and the two threads taking turns at the interpreter's lock."""
        if self.given.get(ns, 0) != self.done.get(ns, 0):
            return None
        lock = self.lock(ns)
        if not lock.acquire(blocking=False):
            return None
        try:
            if not lockable(path):
                return None
            return execute(path, argv, agent)
        finally:
            lock.release()


def _replacing(argv: list[str]) -> Callable[[Outcome], bool]:
    return lambda outcome: outcome.exit_code == 0 and replaces(argv)


def replaces(argv: list[str]) -> bool:
    """Whether a command line replaces the event log when it succeeds (``reset``,
    ``snapshot restore``, ``import``)."""
    from chatemu.cli.common import root_options

    spans = root_options(argv)
    words = argv[spans[-1][1] if spans else 0:]
    return bool(words) and (words[0] in ("reset", "import") or words[:2] == ["snapshot", "restore"])


async def settle(emulator: Emulator, ns: str) -> None:
    """On a real clock, apply what falls due as it does (``events --follow`` does the same).
    A kept read-only connection tells the clock's mode cheaply, on the event loop itself (one
    row, never waiting: a database another process holds reads as no real clock until the next
    turn); only a real clock is asked, on a thread, whether anything is due
    (``Engine.pending``), and settled only then."""
    import sqlite3

    from chatemu.store.engine import Engine
    from chatemu.store.errors import ChatemuError

    engine = Engine(emulator.path(ns), make_folder=False)
    kept: list = []

    def real() -> bool:
        if not kept:
            if not os.path.exists(engine.path):
                return False
            kept.append(sqlite3.connect(f"file:{engine.path}?mode=ro", uri=True, timeout=0))
        try:
            row = kept[0].execute("SELECT mode FROM meta").fetchone()
        except sqlite3.Error:
            kept.pop().close()
            return False
        return row is not None and row[0] == "real"

    def due() -> None:
        if engine.pending():
            with emulator.lock(ns):
                if engine.pending():
                    engine.settle()

    try:
        while True:
            if real():
                try:
                    await anyio.to_thread.run_sync(due)
                except ChatemuError:
                    pass  # a database another process holds or broke: the next turn tries again
            await anyio.sleep(SETTLE_SECONDS)
    finally:
        for conn in kept:
            conn.close()


# -- requests ---------------------------------------------------------------------


def emulator_of(request: Request) -> Emulator:
    return request.app.state.emulator


def acting_agent(request: Request, values: dict) -> Optional[str]:
    agent = values.pop("agent", None)
    if agent is not None and not isinstance(agent, str):
        raise bad_request("agent must be a string")
    return agent if agent is not None else request.headers.get("x-chatemu-agent")


def enter(request: Request) -> tuple[Emulator, str, str]:
    """The emulator, the namespace and its database of a request under ``/v1/ns/{ns}``; a
    request that carries no valid credentials is refused here, before its body is read (the
    policy's ``authenticate(request, ns)``, when it has one)."""
    emulator = emulator_of(request)
    ns = request.path_params["ns"]
    path = emulator.path(ns)
    authenticate = getattr(emulator.policy, "authenticate", None)
    if authenticate is not None:
        authenticate(request, ns)
    return emulator, ns, path


def authorize(request: Request, command: Command) -> Command:
    """The one place every request is checked before it runs anything (``policy``); the
    command as it runs (the policy may set the agent it acts as)."""
    policy = emulator_of(request).policy
    if policy is not None:
        policy(request, command)
    return command


async def read_body(request: Request, limit: int = BODY_LIMIT) -> bytes:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise Problem(413, "too-large", "Request body too large", f"the body is over {limit} bytes")
    chunks, size = [], 0
    while True:  # as ``request.stream()`` reads it, without an async generator per request
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise Problem(413, "too-large", "Request body too large", f"the body is over {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def json_fields(request: Request) -> dict:
    """The request's fields: the query string's (each once), and a JSON object body's."""
    values: dict = {}
    for name, value in request.query_params.multi_items() if request.scope.get("query_string") else ():
        if name in values:
            raise bad_request(f"{name} is given twice")
        values[name] = value
    body = await read_body(request)
    if body.strip():
        if values:
            raise bad_request("give the fields in the body or in the query string, not both")
        try:
            values = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise bad_request(f"the body is not JSON: {exc}") from None
        if not isinstance(values, dict):
            raise bad_request("the body must be a JSON object")
        return values
    return {name: _Query(value) for name, value in values.items()}


class _Query(str):
    """A value from the query string (text, whatever the field's type)."""


def choose(rows: list, values: dict):
    if len(rows) == 1:
        return rows[0]
    given = [row for row in rows if row.key in values]
    if len(given) != 1:
        raise bad_request(f"give exactly one of {', '.join(row.key for row in rows)}")
    return given[0]


def command_argv(row, request: Request, values: dict) -> list[str]:
    checked = {}
    for name, value in values.items():
        if value is None:  # null: as if not given
            continue
        field = row.fields.get(name)
        if field is None:
            raise bad_request(f"unknown field {name!r}" + (f": this route takes {', '.join(row.fields)}"
                                                             if row.fields else ": this route takes none"))
        try:
            checked[name] = table.check_value(field, value, isinstance(value, _Query))
        except ValueError as exc:
            raise bad_request(str(exc)) from None
    for name, value in request.path_params.items():
        # Each is one word of the command line: never an option (`--db=…` would name another file).
        if value.startswith("-"):
            raise bad_request(f"bad {name} {value!r}: an id or a name starts with a letter or digit")
    return row.argv(request.path_params, checked)


def endpoint(rows: list):
    """The endpoint of one path of the table (its rows, by method): what ``table_answer`` answers."""
    answer = table_answer(rows)

    async def serve(request: Request) -> Response:
        status, body = await answer(request)
        return Response(body, status, media_type="application/json")

    serve.answer = answer
    return serve


def table_answer(rows: list):
    """The answer to a request on one path of the table (its rows, by method): the status and
    the JSON body (what the command printed with ``--json``, compact, as one encode), or a
    ``Problem`` raised.  A route on one chat or one agent (and a new chat) is quick: it may run
    at once on the event loop (``Emulator.at_once``)."""
    one = rows[0].path.startswith(("/chats/", "/agents/"))
    new_chat = rows[0].path == "/chats"
    by_method = {method: [r for r in rows if r.method == method] for method in {r.method for r in rows}}

    async def answer(request: Request) -> tuple[int, bytes]:
        emulator, ns, _ = enter(request)
        values = await json_fields(request)
        method = "GET" if request.method == "HEAD" else request.method
        row = choose(by_method.get(method, []), values)
        agent = acting_agent(request, values) if not row.own_agent else request.headers.get("x-chatemu-agent")
        argv = command_argv(row, request, values)
        command = authorize(request, Command(ns, argv, agent, row))
        outcome = await emulator.run(ns, argv, command.agent, quick=one or new_chat and method == "POST")
        if outcome.exit_code:  # what it printed all the same (a failed check's report) goes along
            raise problem(outcome, **({"result": json.loads(outcome.stdout)} if outcome.stdout.strip() else {}))
        return row.status, _compact(outcome.json())

    return answer


def _compact(value) -> bytes:
    """A JSON answer's body, as ``JSONResponse`` renders it."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")


async def cli(request: Request) -> Response:
    """``POST /cli``: one command line, answered as a process would end: exit code, stdout, stderr."""
    emulator, ns, _ = enter(request)
    values = await json_fields(request)
    agent = acting_agent(request, values)
    argv = values.pop("argv", None)
    if values:
        raise bad_request(f"unknown field {next(iter(values))!r}: this route takes argv and agent")
    if not isinstance(argv, list) or not all(isinstance(word, str) for word in argv):
        raise bad_request("argv must be a list of strings")
    command = authorize(request, Command(ns, argv, agent))
    why = refuse_words(argv)
    if why is not None:
        return JSONResponse(Outcome(2, "", [f"error: {why}"]).as_dict())
    return JSONResponse((await emulator.run(ns, argv, command.agent)).as_dict())


async def run(request: Request) -> Response:
    """``POST /run``: the body is a scenario; the answer, what ``run --json`` prints (a list)."""
    from chatemu.cli.scenario import parse_lines, split_words

    emulator, ns, _ = enter(request)
    text = _text(await read_body(request, BIG_BODY_LIMIT))
    options = _flags(request, {"keep_going": "--keep-going"})
    lines = [words for _, _, words, _ in parse_lines(text, "<request>") if isinstance(words, list)]
    agent = request.headers.get("x-chatemu-agent")
    argv = ["run", "-", "--json", *options]
    agent = authorize(request, Command(ns, argv, agent, lines=lines)).agent
    for words in lines:
        why = refuse_words(words)
        if why is not None:
            raise bad_request(f"{' '.join(words)}: {why}")

    def replacing(outcome: Outcome) -> bool:  # a line that replaced the log ran
        return any(record["exit"] == 0 and "refused" not in record and replaces(split_words(record["command"]))
                   for record in records(outcome))

    outcome = await emulator.run(ns, argv, agent, stdin=text, replaced=replacing)
    if outcome.exit_code:
        raise problem(outcome, lines=records(outcome))
    return JSONResponse(records(outcome))


def records(outcome: Outcome) -> list:
    return [json.loads(line) for line in outcome.stdout.splitlines() if line.strip()]


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise bad_request("the body is not UTF-8 text") from None


def _flags(request: Request, known: dict) -> list[str]:
    argv = []
    for name, value in request.query_params.multi_items():
        if name not in known:
            raise bad_request(f"unknown query parameter {name!r}: this route takes {', '.join(known)}")
        if value not in ("true", "false", "1", "0"):
            raise bad_request(f"{name} must be true or false")
        argv += [known[name]] if value in ("true", "1") else []
    return argv


async def export(request: Request) -> Response:
    """``GET /export``: the bundle, written to a temporary file and streamed from it."""
    import tempfile

    emulator, ns, _ = enter(request)
    argv = ["export", "-", *_flags(request, {"pretty": "--pretty"})]
    authorize(request, Command(ns, argv, request.headers.get("x-chatemu-agent")))
    spool = tempfile.TemporaryFile("w+", encoding="utf-8")
    outcome = await emulator.run(ns, argv, stdout=spool)
    if outcome.exit_code:
        spool.close()
        raise problem(outcome)
    spool.seek(0)

    def chunks():
        with spool:
            while True:
                text = spool.read(1 << 16)
                if not text:
                    return
                yield text.encode("utf-8")

    return StreamingResponse(chunks(), media_type="application/json",
                             headers={"Content-Disposition": f'attachment; filename="{ns}.json"'})


async def import_(request: Request) -> Response:
    """``PUT /import``: load the bundle in the body (``?replace=true``: replace the state)."""
    emulator, ns, _ = enter(request)
    argv = ["import", "-", "--json",
            *_flags(request, {"replace": "--replace", "replace_snapshots": "--replace-snapshots"})]
    authorize(request, Command(ns, argv, request.headers.get("x-chatemu-agent")))
    text = _text(await read_body(request, BIG_BODY_LIMIT))
    outcome = await emulator.run(ns, argv, stdin=text)
    if outcome.exit_code:
        raise problem(outcome)
    return JSONResponse(json.loads(outcome.stdout))


async def namespace(request: Request) -> Response:
    """``PUT /v1/ns/NS`` makes the namespace (201, or 200 when it was there); ``DELETE`` removes it."""
    emulator, ns, path = enter(request)
    authorize(request, Command(ns, ["namespace", request.method.lower()], request.headers.get("x-chatemu-agent")))
    if request.method == "PUT":
        existed = os.path.exists(path)
        outcome = await emulator.run(ns, ["db", "check", "--json"]) if existed else await _make(emulator, ns)
        if outcome.exit_code:
            raise problem(outcome)
        return JSONResponse({"namespace": ns, "created": not existed}, 200 if existed else 201)

    def remove() -> bool:
        with emulator.lock(ns):
            found = False
            for suffix in ("", "-wal", "-shm", "-journal"):
                try:
                    os.unlink(path + suffix)
                    found = True
                except FileNotFoundError:
                    pass
            return found

    emulator.forget(ns)
    found = await run_in_threadpool(remove)
    emulator.replaced(ns)
    if not found:
        raise Problem(404, "unknown", "No such thing", f"no namespace {ns!r}", 4)
    return JSONResponse({"namespace": ns, "deleted": True})


async def _make(emulator: Emulator, ns: str) -> Outcome:
    """A new database with the defaults, as the first command that changes something makes it."""
    from chatemu.store.engine import Engine
    from chatemu.store.errors import ChatemuError

    def make():
        with emulator.lock(ns):
            try:
                Engine(emulator.path(ns)).settle()
            except ChatemuError as exc:
                return Outcome(exc.exit_code, "", exc.lines())
            return Outcome(0, "", [])

    outcome = await run_in_threadpool(make)
    emulator.seen(ns)
    return outcome


async def namespaces(request: Request) -> Response:
    """``GET /v1/ns``: the namespaces (the policy may narrow ``Command.ns`` to the one a token is for)."""
    command = authorize(request, Command("", ["namespace", "list"], request.headers.get("x-chatemu-agent")))
    found = emulator_of(request).namespaces()
    return JSONResponse([ns for ns in found if ns == command.ns] if command.ns else found)


#: ``GET /v1/whoami`` on an open server (no policy, or a loopback one with no token): any namespace, any agent.
OPEN_WHO = {"ns": None, "role": "trainer", "agent": None, "open": True}


async def whoami(request: Request) -> Response:
    """``GET /v1/whoami``: what the request's token allows (the policy's ``whoami``); a server
    without a policy is open."""
    who = getattr(emulator_of(request).policy, "whoami", None)
    return JSONResponse(who(request) if who is not None else OPEN_WHO)


async def openapi(request: Request) -> Response:
    return JSONResponse(table.openapi())


# -- errors -----------------------------------------------------------------------------


async def on_problem(request: Request, exc: Problem) -> Response:
    return exc.response(request.url.path)


async def on_http(request: Request, exc: HTTPException) -> Response:
    kind = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http")
    found = Problem(exc.status_code, kind, exc.detail, f"{request.method} {request.url.path}: {exc.detail}")
    response = found.response(request.url.path)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def on_error(request: Request, exc: Exception) -> Response:
    return Problem(500, "internal", "Internal error", "the server failed on this request", 70).response(
        request.url.path)


class NamespaceNames:
    """The front door: the namespace in a request's path, checked as it came (before any
    decoding): a name carries no ``%``, ``/`` or ``.``, so ``..``, ``%2e%2e`` or an encoded slash
    is refused with 400 before any route sees it.  A request on a route of the table (its path
    plain, no ``%``; not ``HEAD``) is answered here by the route's own ``table_answer``, without
    the router's matching and per-request objects; every other request goes on to the router."""

    PREFIX = b"/v1/ns/"

    def __init__(self, app, table: Optional["TableIndex"] = None):
        self.app, self.table = app, table

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            raw = scope.get("raw_path") or scope["path"].encode()
            raw = raw.split(b"?", 1)[0]
            if raw.startswith(self.PREFIX):
                name = raw[len(self.PREFIX):].split(b"/", 1)[0]
                if not NAME.fullmatch(name.decode("latin-1")):
                    shown = name.decode("latin-1")
                    response = bad_request(f"bad namespace {shown!r}: 1 to 64 of a-z, 0-9 and -, starting with a"
                                           " letter or digit").response(scope["path"])
                    await response(scope, receive, send)
                    return
                found = self.table.find(scope, raw) if self.table is not None else None
                if found is not None:
                    await self.answer(found, scope, receive, send)
                    return
        await self.app(scope, receive, send)

    @staticmethod
    async def answer(answer, scope, receive, send) -> None:
        request = Request(scope, receive)
        try:
            status, body = await answer(request)
        except Problem as exc:
            await (await on_problem(request, exc))(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})


class TableIndex:
    """The table's paths by their number of words, for ``NamespaceNames`` to find a request's
    route as the router would (each ``{name}`` one non-empty word) without trying every route."""

    def __init__(self, by_path: dict[str, list], answers: dict[str, Callable]):
        # By number of words and first word (a path starting with a parameter would never be found
        # here, and go to the router).
        self.shapes: dict[tuple[int, str], list] = {}
        for path, rows in by_path.items():
            words = path.strip("/").split("/")
            shape = tuple(None if w.startswith("{") else w for w in words)
            names = [(i, w[1:-1]) for i, w in enumerate(words) if w.startswith("{")]
            self.shapes.setdefault((len(words), words[0]), []).append(
                (shape, names, {r.method for r in rows}, answers[path]))

    def find(self, scope, raw: bytes):
        """The answer of the table's route for this request (its path parameters set in the
        scope), or None: not a plain path of the table, or a method it does not take."""
        method = scope["method"]
        if method == "HEAD" or b"%" in raw:
            return None
        words = scope["path"].split("/")[3:]  # "", "v1", "ns", then NS and the route's words
        if len(words) < 2 or not words[0]:
            return None
        ns, words = words[0], words[1:]
        for shape, names, methods, answer in self.shapes.get((len(words), words[0]), ()):
            if all(w == want if want is not None else w for w, want in zip(words, shape)):
                if method not in methods:
                    return None
                params = {"ns": ns}
                for i, name in names:
                    params[name] = words[i]
                scope["path_params"] = params
                return answer
        return None


def make_app(root: str, policy: Optional[Callable] = None, namespace_tasks: tuple = (),
             keepalive: float = 15.0, poll: float = 0.1) -> Starlette:
    """The application serving the namespaces in the folder ``root`` (see the module's
    docstring for ``policy`` and ``namespace_tasks``)."""
    from starlette.middleware import Middleware

    from . import pages
    from .stream import event_stream

    emulator = Emulator(root, policy, namespace_tasks, keepalive, poll)
    by_path: dict[str, list] = {}
    for row in table.ROUTES:
        by_path.setdefault(row.path, []).append(row)
    prefix = "/v1/ns/{ns}"
    endpoints = {path: endpoint(rows) for path, rows in by_path.items()}
    app_routes = [Route(prefix + path, endpoints[path], methods=sorted({r.method for r in rows}))
                  for path, rows in by_path.items()]
    index = TableIndex(by_path, {path: serve.answer for path, serve in endpoints.items()})
    app_routes += [
        Route("/v1/openapi.json", openapi, methods=["GET"]),
        Route("/v1/ns", namespaces, methods=["GET"]),
        Route("/v1/whoami", whoami, methods=["GET"]),
        Route(prefix, namespace, methods=["PUT", "DELETE"]),
        Route(prefix + "/cli", cli, methods=["POST"]),
        Route(prefix + "/run", run, methods=["POST"]),
        Route(prefix + "/export", export, methods=["GET"]),
        Route(prefix + "/import", import_, methods=["PUT"]),
        Route(prefix + "/events/stream", event_stream, methods=["GET"]),
    ]
    app_routes += pages.routes()  # the desk and the room (static pages)

    @asynccontextmanager
    async def lifespan(app):
        async def discover():  # namespaces made by other processes (`chatemu --db DIR/NS.db …`) too
            while True:
                for ns in await anyio.to_thread.run_sync(emulator.namespaces):
                    emulator.seen(ns)
                await anyio.sleep(DISCOVER_SECONDS)

        async with anyio.create_task_group() as group:
            emulator.group = group
            group.start_soon(discover)
            yield
            emulator.stopping.set()
            group.cancel_scope.cancel()
        for worker in emulator.workers.values():
            worker.shutdown(wait=False)

    app = Starlette(routes=app_routes, lifespan=lifespan, middleware=[Middleware(NamespaceNames, table=index)],
                    exception_handlers={Problem: on_problem, HTTPException: on_http, Exception: on_error})
    app.state.emulator = emulator
    return app
