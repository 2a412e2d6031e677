"""``chatemu serve``: a real server process on a free port, a real HTTP client over loopback.

One server for the module; each test uses a namespace of its own.  What a route answers is
compared with what a real ``chatemu --db DIR/NS.db ... --json`` process prints on a twin
database given the same commands.
"""

from __future__ import annotations

import itertools
import json
import os
import queue
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from chatemu.server import routes as table
from conftest import CHATEMU, START, Chatemu, tls

KEEPALIVE = 0.5
_names = itertools.count(1)


def start_server(*args: str, env: dict | None = None) -> tuple[subprocess.Popen, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CHATEMU_")}
    environ["CHATEMU_SERVE_KEEPALIVE"] = str(KEEPALIVE)
    proc = subprocess.Popen([CHATEMU, "serve", "--port", "0", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**environ, **(env or {})})
    url = proc.stdout.readline().strip()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url), (url, proc.stderr.read() if proc.poll() is not None else "")
    assert not url.endswith(":0")
    return proc, url


def stop(proc: subprocess.Popen, timeout: float = 10) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("serve")
    proc, url = start_server("--data-dir", str(folder))
    yield url, folder
    assert stop(proc) == 0
    assert "Traceback" not in proc.stderr.read()


class Space:
    """One namespace of the server, and the chatemu command line on its database."""

    def __init__(self, url: str, folder: Path, ns: str):
        self.ns, self.base = ns, f"{url}/v1/ns/{ns}"
        self.http = httpx.Client(base_url=self.base, timeout=20, verify=tls())
        self.cli = Chatemu(folder / f"{ns}.db")

    def call(self, method: str, path: str, body=None, **kw) -> httpx.Response:
        if body is not None:
            kw["json"] = body
        return self.http.request(method, path, **kw)


@pytest.fixture
def space(server):
    url, folder = server
    made = Space(url, folder, f"t{next(_names)}")
    yield made
    made.http.close()


# -- every route answers what the command prints -------------------------------------------

#: (method, path, body or query, the same command line); the agent acting is agent-1 throughout.
STEPS = [
    ("POST", "/clock", {"set": START}, ["clock", "set", START]),
    ("GET", "/clock", None, ["clock"]),
    ("POST", "/agents/agent-1/login", None, ["agent", "login"]),
    ("POST", "/agents/agent-2/login", None, ["--agent", "agent-2", "agent", "login"]),
    ("POST", "/agents/agent-2/break", {"reason": "lunch"}, ["--agent", "agent-2", "agent", "break", "--reason", "lunch"]),
    ("POST", "/queues", {"name": "sales"}, ["queue", "add", "sales"]),
    ("GET", "/queues", None, ["queue", "list"]),
    ("GET", "/queues/sales", None, ["queue", "show", "sales"]),
    ("POST", "/templates", {"name": "hi", "text": "Hello!"}, ["template", "add", "hi", "Hello!"]),
    ("GET", "/templates", None, ["template", "list"]),
    ("POST", "/classifications", {"code": "sold"}, ["classification", "add", "sold"]),
    ("GET", "/classifications", None, ["classification", "list"]),
    ("POST", "/break-reasons", {"reason": "coffee"}, ["break-reason", "add", "coffee"]),
    ("GET", "/break-reasons", None, ["break-reason", "list"]),
    ("PUT", "/config", {"key": "wrapup", "value": "90s"}, ["config", "set", "wrapup", "90s"]),
    ("PUT", "/config", {"key": "max-chats", "value": "2", "agent": "agent-2"},
     ["config", "set", "max-chats", "2", "--agent", "agent-2"]),
    ("GET", "/config", None, ["config", "show"]),
    ("POST", "/chats", {"customer": "Ann", "priority": 2}, ["chat", "new", "--customer", "Ann", "--priority", "2"]),
    ("POST", "/chats", {"customer": "Bo", "queue": "sales"}, ["chat", "new", "--customer", "Bo", "--queue", "sales"]),
    ("GET", "/chats", None, ["chat", "list"]),
    ("GET", "/chats", {"all": "true", "queue": "sales"}, ["chat", "list", "--all", "--queue", "sales"]),
    ("POST", "/chats/C1/activate", None, ["chat", "activate", "C1"]),
    ("POST", "/chats/C1/receive", {"text": "-hello there"}, ["chat", "receive", "C1", "--", "-hello there"]),
    ("POST", "/chats/C1/send", {"template": "hi"}, ["chat", "send", "C1", "--template", "hi"]),
    ("POST", "/chats/C1/send", {"text": "Anything else?"}, ["chat", "send", "C1", "Anything else?"]),
    ("GET", "/chats/C1/transcript", None, ["chat", "transcript", "C1"]),
    ("POST", "/chats/C1/contact", {"name": "Ann Lee"}, ["chat", "contact", "C1", "Ann Lee"]),
    ("GET", "/contacts/Ann Lee", None, ["contact", "history", "Ann Lee"]),
    ("POST", "/chats/C1/park", None, ["chat", "park", "C1"]),
    ("POST", "/chats/C1/park", None, ["chat", "park", "C1"]),  # refused: parked already
    ("POST", "/chats/C9/park", None, ["chat", "park", "C9"]),  # unknown
    ("POST", "/chats/C1/activate", None, ["chat", "activate", "C1"]),
    ("POST", "/agents/agent-1/call-start", None, ["chat", "call-start"]),
    ("POST", "/agents/agent-1/call-end", None, ["chat", "call-end"]),
    ("POST", "/clock", {"advance": "2m"}, ["clock", "advance", "2m"]),
    ("POST", "/chats/C1/end", None, ["chat", "end", "C1"]),
    ("POST", "/chats/C1/wrapup", {"extend": True}, ["chat", "wrapup", "C1", "--extend"]),
    ("POST", "/chats/C1/classify", {"code": "sold", "note": "two items"},
     ["chat", "classify", "C1", "sold", "--note", "two items"]),
    ("POST", "/chats/C1/wrapup", {"finish": True}, ["chat", "wrapup", "C1", "--finish"]),
    ("GET", "/chats/C1", None, ["chat", "show", "C1"]),
    ("GET", "/chats/C1/explain", None, ["explain", "C1"]),
    ("POST", "/chats", {"customer": "Cy", "inbox": True}, ["chat", "new", "--customer", "Cy", "--inbox"]),
    ("POST", "/chats/C3/transfer", {"queue": "sales"}, ["chat", "transfer", "C3", "--queue", "sales"]),
    ("POST", "/chats/C2/flag-abusive", None, ["chat", "flag-abusive", "C2"]),
    ("POST", "/chats/C3/take", None, ["chat", "take", "C3"]),
    ("POST", "/chats/C3/return", None, ["chat", "return", "C3"]),
    ("POST", "/agents/agent-2/available", None, ["--agent", "agent-2", "agent", "available"]),
    ("PUT", "/agents/agent-2/queues", {"queues": ["sales", "default"]},
     ["--agent", "agent-2", "agent", "queues", "set", "sales", "default"]),
    ("GET", "/agents/agent-2/queues", None, ["--agent", "agent-2", "agent", "queues"]),
    ("POST", "/agents/agent-2/queues/default/off", None, ["--agent", "agent-2", "agent", "queues", "off", "default"]),
    ("POST", "/agents/agent-2/queues/default/on", None, ["--agent", "agent-2", "agent", "queues", "on", "default"]),
    ("DELETE", "/agents/agent-2/queues", None, ["--agent", "agent-2", "agent", "queues", "clear"]),
    ("GET", "/agents", None, ["agent", "list"]),
    ("GET", "/agents/agent-2", None, ["agent", "status", "agent-2"]),
    ("POST", "/agents/agent-2/disconnect", None, ["--agent", "agent-2", "agent", "disconnect"]),
    ("POST", "/agents/agent-2/logout", {"return": True}, ["--agent", "agent-2", "agent", "logout", "--return"]),
    ("GET", "/stats/agents", None, ["stats", "agents"]),
    ("GET", "/stats/queues", {"since": START}, ["stats", "queues", "--since", START]),
    ("GET", "/events", {"since": "3"}, ["events", "--since", "3"]),
    ("GET", "/events", {"chat": "C1"}, ["events", "--chat", "C1"]),
    ("GET", "/refusals", None, ["refusals"]),
    ("POST", "/snapshots", {"name": "before"}, ["snapshot", "save", "before"]),
    ("GET", "/snapshots", None, ["snapshot", "list"]),
    ("POST", "/chats", {"customer": "Di"}, ["chat", "new", "--customer", "Di"]),
    ("POST", "/snapshots/before/restore", None, ["snapshot", "restore", "before"]),
    ("DELETE", "/templates/hi", None, ["template", "remove", "hi"]),
    ("DELETE", "/classifications/sold", None, ["classification", "remove", "sold"]),
    ("DELETE", "/break-reasons/coffee", None, ["break-reason", "remove", "coffee"]),
    ("DELETE", "/snapshots/before", None, ["snapshot", "delete", "before"]),
    ("POST", "/clock", {"mode": "real"}, ["clock", "real"]),
    ("POST", "/clock", {"mode": "virtual"}, ["clock", "virtual"]),
    ("GET", "/check", None, ["db", "check"]),
    ("GET", "/profiles", None, ["profile", "list"]),
    ("GET", "/profiles/flex", None, ["profile", "show", "flex"]),
    ("POST", "/profiles/flex/apply", {"queue": "sales"}, ["profile", "apply", "flex", "--queue", "sales"]),
    ("GET", "/webhooks", None, ["webhook", "list"]),
    ("POST", "/webhooks", {"url": "ftp://example.test/hook"}, ["webhook", "add", "--", "ftp://example.test/hook"]),
    ("POST", "/webhooks", {"url": "http://example.test/", "events": ["chat.nope"]},
     ["webhook", "add", "--", "http://example.test/", "chat.nope"]),
    ("POST", "/webhooks/1/enable", None, ["webhook", "enable", "1"]),
    ("GET", "/webhooks/1/deliveries", None, ["webhook", "deliveries", "1"]),
    ("DELETE", "/webhooks/1", None, ["webhook", "delete", "1"]),
    ("POST", "/reset", None, ["reset", "--yes"]),
    ("GET", "/agents", None, ["agent", "list"]),
]
STATUS = {1: 422, 2: 400, 3: 409, 4: 404, 5: 503}


def test_every_route_answers_what_its_command_prints(space, tmp_path):
    """The same steps over HTTP and as command lines on a twin database: the same JSON, or the
    same error as a problem with the exit code's status; the two databases end up alike."""
    twin = Chatemu(tmp_path / "twin.db")
    covered = set()
    for method, path, fields, argv in STEPS:
        query = method in ("GET", "DELETE")
        answer = space.call(method, path, None if query else fields, params=fields if query else None,
                            headers={"X-Chatemu-Agent": "agent-1"})
        line = argv if argv[0] == "--agent" else ["--agent", "agent-1", *argv]
        cut = line.index("--") if "--" in line else len(line)
        done = twin.run(*line[:cut], "--json", *line[cut:])
        step = f"{method} {path} {fields} ~ {argv}: {answer.status_code} {answer.text[:300]} / {done}"
        if done.code == 0:
            assert answer.status_code in (200, 201), step
            assert answer.headers["content-type"] == "application/json", step
            if not (path.startswith("/clock") or path == "/reset") or method == "GET" or "set" in (fields or {}):
                got, want = answer.json(), done.json
                if path == "/check":  # it names its file
                    assert got.pop("db") == str(space.cli.db) and want.pop("db") == str(twin.db)
                assert got == want, step  # (a real clock's now moves between the two)
        else:
            assert answer.status_code == STATUS[done.code], step
            assert answer.headers["content-type"] == "application/problem+json", step
            problem = answer.json()
            assert problem["exit_code"] == done.code and problem["status"] == answer.status_code, step
            assert problem["detail"] == done.err.strip().removeprefix("error: "), step
        covered.add((method, re.sub(r"/(C\d|agent-\d|sales|default|hi|sold|coffee|before|Ann Lee|1|flex)(?=/|$)", "/{}",
                                    path)))
    assert space.cli.js("chat", "list", "--all") == twin.js("chat", "list", "--all")
    from chatemu.server.routes import ROUTES

    left = {(r.method, re.sub(r"{\w+}", "{}", r.path)) for r in ROUTES} - covered
    assert left == {("POST", "/expect")}, left  # test_a_failed_check_answers_422_with_the_report_the_command_prints


def test_a_refusal_changes_nothing_and_is_journaled_as_the_command_lines(space):
    assert space.call("POST", "/chats", {"customer": "Ann"}).status_code == 201
    before = space.cli.dump()
    answer = space.call("POST", "/chats/C1/wrapup", {"finish": True}, headers={"X-Chatemu-Agent": "agent-1"})
    assert answer.status_code == 409 and answer.json()["type"] == "/problems/refused"
    assert space.cli.dump() == before
    journal = space.cli.js("refusals")
    assert [(r["agent"], r["exit"]) for r in journal] == [("agent-1", 3)], journal
    assert "chat wrapup C1" in journal[0]["command"]
    assert journal[0]["message"] == answer.json()["detail"]


def test_a_command_line_through_post_cli_answers_as_the_process_ends(space):
    space.cli.ok("chat", "new", "--customer", "Ann")
    for argv in (["chat", "list", "--all"], ["chat", "show", "C7"], ["chat", "nonsense"], ["--agent", "a2", "agent", "status"]):
        answer = space.call("POST", "/cli", {"argv": argv})
        assert answer.status_code == 200
        done = space.cli.run(*argv)
        assert answer.json() == {"exit_code": done.code, "stdout": done.out, "stderr": done.err}, argv
    for argv in (["--db", "/tmp/elsewhere.db", "chat", "list"], ["chat", "list", "--db=x.db"], ["run", "-"],
                 ["export", "/tmp/x.json"], ["events", "-f"], ["console"], ["simulate", "/tmp/model.toml"]):
        answer = space.call("POST", "/cli", {"argv": argv}).json()
        assert answer["exit_code"] == 2 and answer["stderr"].startswith("error: ") and answer["stdout"] == "", argv
    assert not Path("/tmp/elsewhere.db").exists()


def test_post_cli_answers_as_the_process_for_lines_parsed_either_way(server):
    """The server parses a plain line with the command's own parser made once (as ``run``
    does) and any other line as a process would: each line answers over HTTP what it answers
    as a process on a twin database, errors and help included."""
    url, folder = server
    space, twin = Space(url, folder, f"t{next(_names)}"), Chatemu(folder / f"twin{next(_names)}.db")
    for cli in (space.cli, twin):
        cli.ok("clock", "set", START)
        cli.ok("chat", "new", "--customer", "Ann", "--id", "C1")
    lines = [["chat", "new", "--customer=Bo", "--id", "C2"], ["chat", "new", "--priority", "high"],
             ["chat", "new", "--priority", "3", "--id", "C3", "--json"], ["--agent", "a2", "agent", "login"],
             ["--agent", "a2", "chat", "take", "C1", "--json"], ["chat", "take", "C1"], ["chat", "send", "C1", "hi"],
             ["--agent", "a2", "chat", "send", "C1", "--", "-x"], ["agent", "queues", "--agent", "a2"],
             ["chat", "list", "--all", "--json"], ["chat", "send", "--help"], ["chat", "send"],
             ["chat", "take", "C1", "extra"], ["refusals", "--json"], ["--agent", "a2", "agent", "status", "--json"]]
    for argv in lines:
        answer = space.call("POST", "/cli", {"argv": argv}).json()
        done = twin.run(*argv)
        assert answer == {"exit_code": done.code, "stdout": done.out, "stderr": done.err}, argv
    space.http.close()


# -- bad requests ---------------------------------------------------------------------------------


@pytest.mark.parametrize("body, says", [
    (b"{not json", "not JSON"),
    (b"[1, 2]", "JSON object"),
    (b'{"customer": 5}', "customer must be a string"),
    (b'{"priority": "high"}', "priority must be an integer"),
    (b'{"inbox": "yes"}', "inbox must be true or false"),
    (b'{"colour": "red"}', "unknown field 'colour'"),
    (b"\xff\xfe", "not JSON"),
])
def test_a_bad_body_is_400_and_changes_nothing(space, body, says):
    space.cli.ok("chat", "new", "--customer", "Ann")
    before = space.cli.dump()
    answer = space.http.post("/chats", content=body)
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert says in answer.json()["detail"]
    assert space.cli.dump() == before


def test_a_body_over_the_limit_is_413_and_changes_nothing(space):
    space.cli.ok("chat", "new", "--customer", "Ann")
    before = space.cli.dump()
    answer = space.http.post("/chats/C1/receive", json={"text": "x" * (1 << 20)})
    assert answer.status_code == 413 and answer.json()["type"] == "/problems/too-large"
    assert space.cli.dump() == before


def test_unknown_routes_and_methods_answer_problems(space):
    missing = space.http.get("/nothing-here")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    wrong = space.http.delete("/chats")
    assert wrong.status_code == 405 and wrong.json()["status"] == 405
    assert set(wrong.headers["allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
    assert space.call("POST", "/clock", {"set": START, "advance": "1m"}).status_code == 400
    assert space.call("POST", "/clock", {"mode": "sideways"}).status_code == 400
    head = space.http.head("/clock")
    assert head.status_code == 200 and head.content == b""


@pytest.mark.parametrize("name", ["..", "%2e%2e", "..%2f..%2fetc", "a%2Fb", "a%2fb", "Upper", "-dash", "x" * 65,
                                  "dot.db", "a%00b", "%2E%2E"])
def test_a_namespace_name_that_could_leave_the_folder_is_400(server, name):
    url, folder = server
    def files():  # the namespaces' own files (a -wal, a -shm) come and go
        return sorted(p.name for p in [*folder.parent.iterdir(), *folder.iterdir()] if not re.match(r"t\d+\.db", p.name))

    before = files()
    with httpx.Client(timeout=10, verify=tls()) as client:
        answer = client.send(client.build_request("POST", f"{url}/v1/ns/{name}/chats", json={}))
    assert answer.status_code in (400, 404), answer.text  # a path that does not reach a namespace: 404
    assert answer.headers["content-type"] == "application/problem+json"
    if name not in ("..",):  # `..` is taken away by the client's own URL normalisation
        assert answer.status_code == 400, (name, answer.text)
    assert files() == before


@pytest.mark.parametrize("route", [r for r in table.ROUTES if re.search(r"\{(?!ns\})", r.path)],
                         ids=lambda r: f"{r.method} {r.path}")
def test_a_path_word_is_never_an_option(space, route):
    """``GET /agents/--db=other.db`` must not read (or write) another file: a word of the path
    starting with ``-`` is a bad request, whatever the route."""
    space.call("POST", "/chats", {"customer": "Ann"})
    before = space.cli.js("events")
    path = re.sub(r"\{[a-z_]+\}", "--db=other.db", route.path)
    answer = space.call(route.method, path, {} if route.method in ("POST", "PUT") else None)
    assert answer.status_code == 400, (path, answer.text)
    assert answer.json()["detail"].endswith("an id or a name starts with a letter or digit"), answer.text
    assert space.cli.js("events") == before


def test_a_namespace_is_made_by_its_first_change_and_removed_by_delete(space):
    assert space.call("GET", "/chats").json() == []
    assert not space.cli.db.exists()  # a read makes nothing
    assert space.http.put(space.base).status_code == 201
    assert space.http.put(space.base).status_code == 200
    assert space.cli.js("clock")["mode"] == space.call("GET", "/clock").json()["mode"]
    assert space.cli.js("config", "show") == space.call("GET", "/config").json()
    assert space.http.delete(space.base).status_code == 200
    assert not space.cli.db.exists()
    assert space.http.delete(space.base).status_code == 404


# -- whole-state routes -------------------------------------------------------------------


def test_export_import_and_run(space, server):
    space.cli.ok("clock", "set", START)
    space.cli.ok("chat", "new", "--customer", "Ann")
    bundle = space.http.get("/export")
    assert bundle.status_code == 200
    assert bundle.text == space.cli.ok("export", "-").out
    other = Space(*server, f"t{next(_names)}")
    twin = space.cli.db.parent / f"twin{next(_names)}.db"  # a name of its own: other tests make twins
    assert other.http.put("/import", content=bundle.content).json() == json.loads(
        Chatemu(twin).ok("import", "-", "--json", stdin=bundle.text).out)
    assert other.cli.js("chat", "list", "--all") == space.cli.js("chat", "list", "--all")
    assert other.http.put("/import", content=bundle.content).status_code == 409  # not empty: --replace
    assert other.http.put("/import?replace=true", content=bundle.content).status_code == 200
    twin.unlink()

    ran = space.http.post("/run", content="chat new --customer Bo\nexpect chat C2 state=queued\n")
    assert ran.status_code == 200, ran.text
    assert [line["exit"] for line in ran.json()] == [0, 0]
    failed = space.http.post("/run", content="chat new --customer Cy\nexpect chat C3 state=closed\nchat new\n")
    assert failed.status_code == 422 and failed.json()["exit_code"] == 1
    assert [line["exit"] for line in failed.json()["lines"]] == [0, 1]
    escape = space.http.post("/run", content="chat list\n--db /tmp/other.db chat new\n")
    assert escape.status_code == 400
    assert space.cli.js("chat", "list", "--all", "--ids") == ["C1", "C2", "C3"]


# -- the event stream ------------------------------------------------------------------------


class Stream:
    """An open event stream read by a thread: its events (id, event, data) on a queue."""

    def __init__(self, url: str, headers: dict | None = None):
        self.events: queue.Queue = queue.Queue()
        self.comments = 0
        self.client = httpx.Client(timeout=httpx.Timeout(10, read=30), verify=tls())
        self.response = self.client.send(self.client.build_request("GET", url, headers=headers), stream=True)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        fields: dict = {}
        try:
            for line in self.response.iter_lines():
                if line.startswith(":"):
                    self.comments += 1
                elif line == "":
                    if fields:
                        self.events.put((fields.get("id"), fields.get("event", "message"),
                                         json.loads(fields["data"])))
                    fields = {}
                else:
                    name, _, value = line.partition(": ")
                    fields[name] = value
        except (httpx.HTTPError, OSError):
            pass
        self.events.put(None)

    def take(self, n: int, within: float = 10) -> list:
        got, end = [], time.monotonic() + within
        while len(got) < n:
            item = self.events.get(timeout=max(0.01, end - time.monotonic()))
            assert item is not None, f"the stream ended after {got}"
            got.append(item)
        return got

    def nothing_more(self, wait: float = 0.6) -> None:
        time.sleep(wait)
        assert self.events.empty(), list(self.events.queue)

    def close(self):
        self.response.close()
        self.client.close()


def test_the_stream_resumes_after_a_dropped_connection_without_a_gap_or_a_repeat(space):
    space.cli.ok("clock", "set", START)
    space.cli.ok("chat", "new", "--customer", "Ann")
    space.cli.ok("chat", "new", "--customer", "Bo")
    stream = Stream(f"{space.base}/events/stream")
    assert stream.response.headers["content-type"].startswith("text/event-stream")
    assert stream.response.headers["cache-control"] == "no-store"
    assert "content-encoding" not in stream.response.headers
    log = space.cli.js("events")
    first = stream.take(len(log))
    assert [data for _, _, data in first] == log and len(log) >= 3
    space.cli.ok("--agent", "agent-2", "agent", "login")  # another process: the stream shows it
    third = stream.take(1)
    assert third[0][2]["agent"] == "agent-2" and third[0][2]["seq"] == len(log) + 1
    seen = third[0][2]["seq"]
    stream.close()  # dropped
    space.cli.ok("chat", "new", "--customer", "Cy")
    space.call("POST", "/chats", {"customer": "Di"})
    again = Stream(f"{space.base}/events/stream", headers={"Last-Event-ID": third[0][0]})
    later = again.take(2)
    assert [data for _, _, data in later] == space.cli.js("events", "--since", str(seen))[:2]
    rest = space.cli.js("events", "--since", str(seen))[2:]
    assert [data for _, _, data in again.take(len(rest))] == rest
    again.nothing_more()
    time.sleep(KEEPALIVE * 2)
    assert again.comments >= 2  # the opening comment and at least one keep-alive
    again.close()
    since = Stream(f"{space.base}/events/stream?since=4")
    assert [data["seq"] for _, _, data in since.take(len(space.cli.js("events", "--since", "4")))][0] == 5
    since.close()


def test_a_reset_mid_stream_says_so_and_ids_start_again(space):
    space.cli.ok("clock", "set", START)
    space.cli.ok("chat", "new", "--customer", "Ann")
    space.cli.ok("chat", "new", "--customer", "Bo")
    stream = Stream(f"{space.base}/events/stream")
    old = stream.take(len(space.cli.js("events")))
    assert space.call("POST", "/reset").status_code == 200
    space.cli.ok("clock", "set", START)
    space.cli.ok("chat", "new", "--customer", "Zed")
    log = space.cli.js("events")
    replaced, *new = stream.take(1 + len(log))
    assert replaced[1] == "replaced" and re.fullmatch(r"\d+-0", replaced[0])
    assert [data for _, _, data in new] == log and log[0]["seq"] == 1
    assert {i for i, _, _ in new}.isdisjoint(i for i, _, _ in old)  # the same seqs, other ids
    stream.close()
    # A client that saw the old log's second event comes back: told of the replacement, then the new log.
    back = Stream(f"{space.base}/events/stream", headers={"Last-Event-ID": old[-1][0]})
    told, *again = back.take(1 + len(log))
    assert told[1] == "replaced" and again == new
    back.nothing_more()
    back.close()
    # One that saw the replacement itself starts at the new log's start, without a repeat of it.
    after = Stream(f"{space.base}/events/stream", headers={"Last-Event-ID": replaced[0]})
    assert after.take(len(log)) == new
    after.nothing_more()
    # Another process replaces the log: the open stream notices, and so does a client coming back.
    space.cli.ok("reset", "--yes")
    space.cli.ok("clock", "set", "2026-01-05T10:00:00Z")  # events unlike the old log's, seen however late
    space.cli.ok("chat", "new", "--customer", "Zed")
    log = space.cli.js("events")
    told, *fresh = after.take(1 + len(log))
    assert told[1] == "replaced" and told[0] != replaced[0] and [data for _, _, data in fresh] == log
    after.nothing_more()
    after.close()
    back = Stream(f"{space.base}/events/stream", headers={"Last-Event-ID": new[-1][0]})
    assert back.take(1 + len(log)) == [told, *fresh]
    back.close()


def a_class(space, steps: int) -> subprocess.Popen:
    """Three agents each with an active chat, then ``chatemu run`` of ``steps`` park/activate
    steps started (a process of its own, as a trainer's script would be)."""
    for k in (1, 2, 3):
        space.cli.ok("agent", "login", agent=f"agent-{k}")
        space.cli.ok("chat", "new", "--customer", f"Customer {k}", "--inbox", "--id", f"C{k}", agent=f"agent-{k}")
        space.cli.ok("chat", "activate", f"C{k}", agent=f"agent-{k}")
    script = space.cli.db.parent / f"{space.ns}-class.txt"
    script.write_text("".join(f"--agent agent-{i % 3 + 1} chat {'park' if i // 3 % 2 == 0 else 'activate'} "
                              f"C{i % 3 + 1}\n" for i in range(steps)))
    return subprocess.Popen([CHATEMU, "--db", str(space.cli.db), "run", str(script)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env=space.cli.env)


def test_a_stream_resuming_from_an_old_id_mid_run_gets_every_event_once_in_order(space):
    space.cli.ok("clock", "set", START)
    live = Stream(f"{space.base}/events/stream")
    run = a_class(space, 300)
    early = live.take(40, within=30)  # the run is under way, read by the namespace's shared feed
    back = Stream(f"{space.base}/events/stream", headers={"Last-Event-ID": early[4][0]})
    assert run.wait(60) == 0, run.stderr.read()
    log = space.cli.js("events")
    assert len(log) > 600 and log[:40] == [data for _, _, data in early]
    assert [data for _, _, data in back.take(len(log) - 5, within=60)] == log[5:]
    back.nothing_more()
    assert [data for _, _, data in live.take(len(log) - 40, within=60)] == log[40:]
    live.nothing_more(0)
    live.close()
    back.close()


def test_a_stream_never_read_holds_up_no_other(space):
    """A client that stops reading its stream: the others get every event of a run as soon as
    ever; read at last, it gets every event once, in order, too."""
    import socket

    space.cli.ok("clock", "set", START)
    host, port = space.base.split("//")[1].split("/")[0].split(":")
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.connect((host, int(port)))
    stalled.sendall(f"GET /v1/ns/{space.ns}/events/stream HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    other = Stream(f"{space.base}/events/stream")
    time.sleep(0.5)  # both streams open
    run = a_class(space, 600)
    assert run.wait(60) == 0, run.stderr.read()
    log = space.cli.js("events")
    started = time.monotonic()
    assert [data for _, _, data in other.take(len(log), within=30)] == log
    assert time.monotonic() - started < 15
    other.close()
    got, buffer = [], b""
    stalled.settimeout(20)
    while len(got) < len(log):
        chunk = stalled.recv(65536)
        assert chunk, got
        buffer += chunk
        got = [json.loads(line[6:]) for line in buffer.split(b"\n")[:-1]
               if line.startswith(b"data: ")]
    assert got == log
    stalled.close()


def test_a_stream_further_behind_than_the_shared_feed_keeps_reads_on_its_own(tmp_path, monkeypatch):
    """In process, with a feed that keeps 16 items: a stream not read while a run makes a
    hundred events falls out of the feed while another keeps up through it; read again, it
    gets every event once, in order, from the database by its own position."""
    import asyncio
    from types import SimpleNamespace

    from starlette.requests import Request

    from chatemu.server import stream as sse
    from chatemu.server.app import Emulator

    monkeypatch.setattr(sse, "FEED_ITEMS", 16)
    cm = Chatemu(tmp_path / "demo.db")
    cm.ok("clock", "set", START)
    cm.ok("agent", "login")
    script = tmp_path / "chats.txt"
    script.write_text("".join(f"chat new --customer C{k}\n" for k in range(100)))
    emulator = Emulator(str(tmp_path), poll=0.02)
    app = SimpleNamespace(state=SimpleNamespace(emulator=emulator))
    scope = {"type": "http", "method": "GET", "path": "/v1/ns/demo/events/stream", "headers": [],
             "query_string": b"", "path_params": {"ns": "demo"}, "app": app}

    async def read(body, n: int, got: list) -> list:
        buffer = b""
        while len(got) < n:
            buffer += await body.__anext__()
            *frames, buffer = buffer.split(b"\n\n")
            got += [json.loads(line[6:]) for f in frames for line in f.split(b"\n") if line.startswith(b"data: ")]
        return got

    async def main():
        stalled = (await sse.event_stream(Request(scope))).body_iterator
        other = (await sse.event_stream(Request(scope))).body_iterator
        assert len(await read(stalled, 1, [])) == len(await read(other, 1, [])) == 1
        feed = sse._feeds[emulator]["demo"]
        keeping = asyncio.get_running_loop().create_task(read(other, 10**9, got := []))
        await asyncio.to_thread(cm.ok, "run", str(script))
        log = await asyncio.to_thread(cm.js, "events")
        for _ in range(500):
            if len(got) >= len(log) - 1:
                break
            await asyncio.sleep(0.02)
        assert got == log[1:] and feed.base > 0  # kept up; the feed has dropped what it read first
        keeping.cancel()
        assert await asyncio.wait_for(read(stalled, len(log) - 1, []), 30) == log[1:]
        emulator.stopping.set()
        await stalled.aclose()
        await other.aclose()
        await asyncio.wait_for(feed.task, 5)

    asyncio.run(main())


def test_streams_sharing_a_feed_each_end_with_deleted_when_the_namespace_is_deleted(space):
    space.cli.ok("clock", "set", START)
    space.cli.ok("chat", "new", "--customer", "Ann")
    streams = [Stream(f"{space.base}/events/stream") for _ in range(3)]
    log = space.cli.js("events")
    for stream in streams:
        assert [data for _, _, data in stream.take(len(log))] == log
    space.cli.ok("chat", "new", "--customer", "Bo")
    for stream in streams:
        assert stream.take(1)[0][2]["seq"] == len(log) + 1
    assert httpx.delete(space.base, verify=tls()).status_code == 200
    for stream in streams:
        (_, kind, data), = stream.take(1)
        if kind == "replaced":  # the deletion raises the generation: seen first, or not
            (_, kind, data), = stream.take(1)
        assert (kind, data) == ("deleted", {"deleted": True})
        assert stream.events.get(timeout=10) is None  # and it ends
        stream.close()
    space.cli.ok("clock", "set", START)  # made again: a new stream reads the new file
    space.cli.ok("chat", "new", "--customer", "Cy")
    again, log = Stream(f"{space.base}/events/stream"), space.cli.js("events")
    assert [data for _, _, data in again.take(len(log))] == log and log[-1]["seq"] < 5
    again.close()


def test_a_bad_last_event_id_is_400_before_the_stream_starts(space):
    answer = space.http.get("/events/stream", headers={"Last-Event-ID": "x-y"})
    assert answer.status_code == 400 and answer.headers["content-type"] == "application/problem+json"


def test_on_a_real_clock_a_due_wrapup_expiry_arrives_unpolled(space):
    space.cli.ok("config", "set", "wrapup", "1s")
    space.cli.ok("clock", "real")
    space.cli.ok("agent", "login")
    space.cli.ok("chat", "new", "--customer", "Ann")
    space.cli.ok("chat", "activate", "C1")
    stream = Stream(f"{space.base}/events/stream")
    seen = stream.take(len(space.cli.js("events")))
    space.cli.ok("chat", "end", "C1")
    ends = space.cli.js("chat", "show", "C1")["wrapup_ends_at"]
    from chatemu.store.timefmt import parse_time

    due = parse_time(ends) / 1000
    while True:
        _, _, event = stream.take(1, within=5)[0]
        if event["to"] == "closed":
            break
    late = time.time() - due
    assert late < 2, late  # the server looks every 0.1 s; a loaded machine holds this test up a little more
    assert event["cause"] == "timer" and event["from"] == "active-wrapup" and seen
    stream.close()


# -- the process --------------------------------------------------------------------------------


def test_sigterm_stops_the_server_promptly_with_a_stream_open_and_removes_its_temporary_folder():
    proc, url = start_server()
    with httpx.Client(timeout=10, verify=tls()) as client:
        client.put(f"{url}/v1/ns/demo")
        where = client.post(f"{url}/v1/ns/demo/cli", json={"argv": ["db", "path"]}).json()["stdout"].strip()
    assert Path(where).exists()
    stream = Stream(f"{url}/v1/ns/demo/events/stream")
    time.sleep(0.3)
    started = time.monotonic()
    assert stop(proc) == 0
    assert time.monotonic() - started < 3
    assert proc.stderr.read() == ""
    assert not Path(where).parent.exists()
    stream.close()


def test_sigint_stops_it_too_and_a_busy_port_is_one_error_line(server):
    proc, url = start_server()
    port = url.rsplit(":", 1)[1]
    busy = subprocess.run([CHATEMU, "serve", "--port", port], capture_output=True, text=True, timeout=20)
    assert busy.returncode == 2 and busy.stdout == ""
    assert busy.stderr.startswith("error: cannot listen on 127.0.0.1:") and len(busy.stderr.splitlines()) == 1
    proc.send_signal(signal.SIGINT)
    assert proc.wait(10) == 0
    not_a_folder = subprocess.run([CHATEMU, "serve", "--port", "0", "--data-dir", __file__], capture_output=True,
                                  text=True, timeout=20)
    assert (not_a_folder.returncode, not_a_folder.stdout) == (2, "")
    assert not_a_folder.stderr == f"error: --data-dir {__file__}: it is not a folder\n"


# -- the description ------------------------------------------------------------------------------


def test_openapi_is_valid_and_describes_every_route(server):
    import jsonschema

    from chatemu.server.routes import ROUTES, SPECIAL

    url, _ = server
    document = httpx.get(f"{url}/v1/openapi.json", timeout=10, verify=tls()).json()
    schema = json.loads((Path(__file__).parent / "fixtures" / "openapi-3.1-schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(document)
    for route in ROUTES:
        assert route.method.lower() in document["paths"]["/v1/ns/{ns}" + route.path], route.path
    for method, path, _ in SPECIAL:
        assert method.lower() in document["paths"][path]
    body = document["paths"]["/v1/ns/{ns}/chats"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["oneOf"][0]["properties"]["priority"] == {"type": "integer"}
    broken = dict(document, paths={"/x": {"get": {"responses": "none"}}})
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(broken)


def test_the_client_function_gives_what_a_process_gives(space):
    from chatemu.server.client import call

    url = space.base.rsplit("/v1/ns/", 1)[0]
    space.cli.ok("chat", "new", "--customer", "Ann")
    for argv in (["chat", "list", "--all", "--json"], ["chat", "park", "C1"], ["nonsense"]):
        done = space.cli.run(*argv)
        assert call(url, space.ns, argv) == (done.code, done.out, done.err.splitlines()), argv
    code, out, err = call(url, "Bad Name", ["chat", "list"])
    assert (code, out) == (2, "") and err[0].startswith("error: bad namespace")
    code, out, err = call("http://127.0.0.1:9", space.ns, ["chat", "list"], timeout=5)
    assert (code, out) == (5, "") and err[0].startswith("error: cannot reach the server")


def test_the_policy_and_namespace_task_hooks(tmp_path):
    """In process: the policy sees every command before it runs and may refuse it; each
    namespace's tasks start once it exists and stop with the server."""
    import warnings

    import anyio

    with warnings.catch_warnings():  # this Starlette would rather drive httpx2
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    from chatemu.server.app import Problem, make_app

    seen, started, stopped = [], [], []

    def policy(request, command):
        seen.append((command.ns, command.argv, command.acting))
        if command.argv[:2] == ["clock", "advance"]:
            raise Problem(403, "forbidden", "Forbidden", "only a trainer moves the clock")

    async def deliver(emulator, ns):
        started.append(ns)
        try:
            await anyio.sleep_forever()
        finally:
            stopped.append(ns)

    with TestClient(make_app(str(tmp_path), policy=policy, namespace_tasks=(deliver,))) as client:
        assert client.get("/v1/ns/demo/chats").status_code == 200
        assert started == []  # reading makes no namespace
        assert client.post("/v1/ns/demo/chats", json={"customer": "Ann"}, headers={"X-Chatemu-Agent": "a2"}).status_code == 201
        refused = client.post("/v1/ns/demo/clock", json={"advance": "1m"})
        assert refused.status_code == 403 and refused.json()["type"] == "/problems/forbidden"
        assert client.get("/v1/ns/demo/clock").json()["now"] == client.get("/v1/ns/demo/chats/C1").json()["created_at"]
        assert ("demo", ["chat", "new", "--customer", "Ann", "--json"], "a2") in seen
        client.post("/v1/ns/demo/agents/agent-3/login", headers={"X-Chatemu-Agent": "a2"})
        client.post("/v1/ns/demo/cli", json={"argv": ["--agent=a4", "agent", "login"]})
        client.get("/v1/ns/demo/agents")
        assert [acting for _, _, acting in seen[-3:]] == ["agent-3", "a4", "agent-1"]
        assert started == ["demo"]
    assert stopped == ["demo"]


def test_a_failed_check_answers_422_with_the_report_the_command_prints(space):
    space.cli.ok("chat", "new", "--customer", "Ann")
    held = space.call("POST", "/expect", {"what": "chat", "checks": ["C1", "state=new"]})
    assert held.status_code == 200 and held.json() == space.cli.js("expect", "chat", "C1", "state=new")
    failed = space.call("POST", "/expect", {"what": "chat", "checks": ["C1", "state=active"]})
    done = space.cli.run("expect", "chat", "C1", "state=active", "--json")
    assert failed.status_code == 422 and done.code == 1
    assert failed.json()["exit_code"] == 1 and failed.json()["result"] == done.json


def test_the_route_table_in_docs_is_the_live_one():
    import sys

    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-m", "cogapp", "--check", "docs/server.md"], cwd=root,
                          capture_output=True, text=True)
    assert done.returncode == 0, f"docs/server.md is stale: run `cog -r docs/server.md`\n{done.stdout}{done.stderr}"


def test_requests_at_once_each_get_their_own_answer(server):
    """Commands run in the thread pool at once, each printing to its own request."""
    from concurrent.futures import ThreadPoolExecutor

    url, folder = server
    spaces = [Space(url, folder, f"t{next(_names)}") for _ in range(3)]

    def work(n: int):
        own = spaces[n % 3]
        made = own.call("POST", "/chats", {"customer": f"customer-{n}"})
        assert made.status_code == 201, made.text
        shown = own.call("GET", f"/chats/{made.json()['id']}")
        return own.ns, made.json(), shown.json()

    with ThreadPoolExecutor(8) as pool:
        done = list(pool.map(work, range(24)))
    for ns, made, shown in done:
        assert shown["customer"] == made["customer"] and shown["id"] == made["id"]
    for own in spaces:
        customers = sorted(c["customer"] for c in own.cli.js("chat", "list", "--all"))
        assert customers == sorted(made["customer"] for ns, made, _ in done if ns == own.ns)
        assert len(customers) == 8


def test_an_ordinary_command_imports_nothing_of_the_server(tmp_path):
    import sys

    code = ("import sys\nfrom chatemu.cli.app import main\n"
            f"main(['--db', {str(tmp_path / 'x.db')!r}, 'chat', 'new', '--json'])\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('starlette', 'uvicorn', 'anyio', 'httpx')"
            " or m.startswith('chatemu.server')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]", done.stdout


def test_a_namespace_made_by_the_command_line_has_its_timers_applied_by_the_server(space):
    space.cli.ok("config", "set", "wrapup", "1s")
    space.cli.ok("clock", "real")
    space.cli.ok("chat", "new", "--customer", "Ann")
    space.cli.ok("chat", "activate", "C1")
    space.cli.ok("chat", "end", "C1")
    time.sleep(2.5)  # the server finds the new file within a second; the timer falls due after one
    import sqlite3

    conn = sqlite3.connect(f"file:{space.cli.db}?mode=ro", uri=True)  # a read that settles nothing itself
    try:
        causes = conn.execute("SELECT cause FROM events WHERE chat = 'C1' AND to_state = 'closed'").fetchall()
    finally:
        conn.close()
    assert causes == [("timer",)]


def test_an_agents_queues_are_read_at_their_own_route(space):
    assert space.call("POST", "/queues", {"name": "sales"}).status_code == 201
    assert space.call("POST", "/agents/agent-2/login").status_code == 200
    assert space.call("PUT", "/agents/agent-2/queues", {"queues": ["sales"]}).status_code == 200
    answer = space.call("GET", "/agents/agent-2/queues")
    assert answer.status_code == 200, answer.text
    assert answer.json() == space.cli.js("--agent", "agent-2", "agent", "queues")
    assert answer.json()["agent"] == "agent-2" and [q["queue"] for q in answer.json()["queues"]] == ["sales"]


def test_the_server_parses_http_with_httptools_and_sends_each_answer_in_one_write():
    from chatemu.server.main import Coalesced, protocol
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    made = protocol()
    assert issubclass(made, HttpToolsProtocol)
    assert "connection_made" in made.__dict__ and Coalesced.__name__ == "Coalesced"
