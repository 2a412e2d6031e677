"""``chatemu serve`` with tokens: a real server process, a real HTTP client over loopback.

Tokens are made in the data folder as ``chatemu token add`` makes them (``TokenStore``, in
process, for speed); the server reads them on every request.  One server for the module (its
folder holds tokens, so every request needs one); each test uses namespaces of its own.
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import subprocess
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from test_serve import start_server, stop

from chatemu.server.routes import ROUTES, SPECIAL
from chatemu.server.tokens import POLICY, TokenStore
from conftest import CHATEMU, Chatemu, tls

_names = itertools.count(1)
ISSUED: list[str] = []  # every token made here: none may show in an answer or the server's log


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("auth")
    store = TokenStore(str(folder))
    ISSUED.append(store.add("nobody", "trainer")[1])  # the folder has tokens: no request is open
    proc, url = start_server("--data-dir", str(folder))
    yield url, folder, store
    assert stop(proc) == 0
    log = proc.stderr.read()
    assert "Traceback" not in log
    assert not [token for token in ISSUED if token in log]


class Tenant:
    """A fresh namespace with a token of each kind, and the command line on its database."""

    def __init__(self, url, folder, store):
        self.ns = f"a{next(_names)}"
        self.url, self.base = url, f"{url}/v1/ns/{self.ns}"
        self.cli = Chatemu(folder / f"{self.ns}.db")
        self.store = store
        self.tokens = {
            "trainer": self.token(self.ns, "trainer"),
            "agent": self.token(self.ns, "agent", "agent-1"),
            "agent2": self.token(self.ns, "agent", "agent-2"),
            "customer": self.token(self.ns, "customer"),
            "other-ns": self.token(f"{self.ns}x", "trainer"),
        }
        record, self.tokens["revoked"] = store.add(self.ns, "trainer")
        ISSUED.append(self.tokens["revoked"])
        store.revoke(record.id)
        self.http = httpx.Client(timeout=20, verify=tls())

    def token(self, ns, role, agent=None) -> str:
        made = self.store.add(ns, role, agent)[1]
        ISSUED.append(made)
        return made

    def call(self, who: str | None, method: str, path: str, *, base: str | None = None, agent: str | None = None,
             **kw) -> httpx.Response:
        headers = kw.pop("headers", {})
        if who is not None:
            headers["Authorization"] = f"Bearer {self.tokens[who]}"
        if agent is not None:
            headers["X-Chatemu-Agent"] = agent
        with self.http.stream(method, (self.base if base is None else base) + path, headers=headers, **kw) as answer:
            if not answer.headers.get("content-type", "").startswith("text/event-stream"):
                answer.read()
        return answer


@pytest.fixture
def tenant(server):
    made = Tenant(*server)
    assert made.call("trainer", "PUT", "").status_code == 201
    yield made
    made.http.close()


# -- the role matrix: every route × every kind of caller ---------------------------------------

#: Who calls: (token, the agent the request names, on a path's {agent} too).
CALLERS = {
    "no token": (None, None), "revoked": ("revoked", None), "other namespace": ("other-ns", None),
    "customer": ("customer", None), "agent as another": ("agent", "agent-2"), "agent as itself": ("agent", None),
    "trainer": ("trainer", None),
}
PARAMS = {"id": "C1", "queue": "default", "reason": "lunch", "name": "x", "code": "x"}
#: A request for each route the table does not describe as one command (``SPECIAL``): its body,
#: and the roles besides the trainer that may make it.
SPECIAL_CALLS = {
    ("GET", "/v1/openapi.json"): (None, "public"),
    ("GET", "/v1/ns"): (None, "own"),
    ("GET", "/v1/whoami"): (None, "any token"),  # what its own token allows  # any trainer: the namespaces it has a token for
    ("POST", "/v1/ns/{ns}/cli"): ({"argv": ["chat", "list"]}, {"agent"}),
    ("POST", "/v1/ns/{ns}/run"): ("clock advance 1m\n", set()),
    ("GET", "/v1/ns/{ns}/export"): (None, set()),
    ("PUT", "/v1/ns/{ns}/import"): ("{}", set()),
    ("GET", "/v1/ns/{ns}/events/stream"): (None, {"agent"}),
    ("PUT", "/v1/ns/{ns}"): (None, set()),
    ("DELETE", "/v1/ns/{ns}"): (None, set()),
}


def shown(answer: httpx.Response) -> str:
    try:
        return answer.text[:200]
    except httpx.ResponseNotRead:  # an event stream, left open
        return "(a stream)"


def sample(field):
    """A value of the field's type (what it means does not matter: only who may send it)."""
    if field.flag:
        return False
    if field.many:
        return []
    if field.choices:
        return field.choices[0]
    return 1 if field.integer else "x"


def table_calls():
    """(method, path, body, command words, the roles besides the trainer that may run it, whether
    the path's {agent} is the agent acting) of every row of the route table."""
    by_path = {}
    for row in ROUTES:
        by_path.setdefault((row.method, row.path), []).append(row)
    for (method, path), rows in by_path.items():
        for row in rows:
            body = {row.key: sample(row.fields[row.key])} if len(rows) > 1 else {}
            words = [w for w in row.words if w not in ("--agent", "{agent}")]
            words = words[:next((i for i, w in enumerate(words) if w.startswith(("{", "-"))), len(words))]
            words += [body[row.key]] if row.key and row.fields[row.key].choices and body else []
            yield method, path, body, tuple(words), POLICY.get(tuple(words), frozenset()), row.words[0] == "--agent"


def expected(caller: str, roles, names_agent: bool) -> int | None:
    """401, 403, or None (allowed: whatever the command itself answers)."""
    if roles == "public":
        return None
    token, other = CALLERS[caller]
    if roles == "any token":
        return 401 if token in (None, "revoked") else None
    if token is None or token == "revoked":
        return 401
    if token == "other-ns" and roles == "own":
        return None
    if token == "other-ns" or (token == "agent" and other):
        return 403
    role = token.rstrip("2")
    if role == "trainer":
        return None
    if role == "customer" and names_agent:
        return 403
    return None if role in roles else 403


def test_every_route_for_every_caller(tenant):
    """Each route of the table and each special route, called by every kind of caller: 401 with
    ``WWW-Authenticate: Bearer`` without a valid token, 403 for a role that may not or a token of
    another namespace, else what the command answers; a refusal changes nothing and is not
    journaled, and no answer shows a token."""
    tenant.cli.ok("--agent", "agent-1", "agent", "login")
    tenant.cli.ok("chat", "new", "--customer", "Ann")
    calls = [(m, "/v1/ns/{ns}" + p, body, words, roles, acting) for m, p, body, words, roles, acting in table_calls()]
    assert {(m, p) for m, p in SPECIAL_CALLS} == {(m, p) for m, p, _ in SPECIAL}, "a special route without a call here"
    last = [("DELETE", "/v1/ns/{ns}")]
    calls += [(m, p, body, None, roles, False) for (m, p), (body, roles) in SPECIAL_CALLS.items() if (m, p) not in last]
    calls += [(m, p, SPECIAL_CALLS[m, p][0], None, SPECIAL_CALLS[m, p][1], False) for m, p in last]
    refused, allowed = [], []
    for method, path, body, words, roles, acting in calls:
        for caller, (token, other) in CALLERS.items():
            target = path.replace("{ns}", tenant.ns).replace("{agent}", other or "agent-1")
            for name, value in PARAMS.items():
                target = target.replace("{" + name + "}", value)
            kw = {}
            if isinstance(body, str):
                kw["content"] = body.encode()
            elif body and method in ("GET", "DELETE"):
                kw["params"] = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in body.items()}
            elif body is not None:
                kw["json"] = body
            want = expected(caller, roles, acting)
            (allowed if want is None else refused).append((caller, method, target, kw, want, words, acting))

    def refuse(call) -> None:
        caller, method, target, kw, want, words, acting = call
        token, other = CALLERS[caller]
        answer = tenant.call(token, method, target, base=tenant.url, agent=other if not acting else None, **kw)
        step = f"{caller}: {method} {target} {words}: {answer.status_code} {shown(answer)}"
        assert answer.status_code == want, step
        assert answer.headers["content-type"] == "application/problem+json", step
        assert answer.json()["status"] == want and "exit_code" not in answer.json(), step
        assert (answer.headers.get("www-authenticate") == "Bearer") == (want == 401), step
        assert not [t for t in ISSUED if t in answer.text], step

    before = (tenant.cli.dump(), tenant.cli.journal())
    with ThreadPoolExecutor(4) as pool:  # refusals change nothing: they may come at once
        list(pool.map(refuse, refused))
    assert (tenant.cli.dump(), tenant.cli.journal()) == before, "a refusal changed something"
    assert len(refused) > 4 * len(ROUTES)
    for caller, method, target, kw, _, _, _ in allowed:
        token, _ = CALLERS[caller]
        answer = tenant.call(token, method, target, base=tenant.url, **kw)
        step = f"{caller}: {method} {target}: {answer.status_code} {shown(answer)}"
        assert answer.status_code not in (401, 403), step
        if method == "GET" and target == "/v1/ns":  # a token lists its own namespace only
            assert answer.json() == ([tenant.ns] if caller == "trainer" else []), step  # (the other is empty)


# -- what each kind of token does ------------------------------------------------------------------


def test_an_agent_token_acts_as_its_agent_and_no_other(tenant):
    # naming no agent, it acts as its own: the route, /cli and the events it makes say agent-2
    assert tenant.call("agent2", "POST", "/agents/agent-2/login").status_code == 200
    done = tenant.call("agent2", "POST", "/cli", json={"argv": ["agent", "available"]}).json()
    assert done["exit_code"] == 0, done
    tenant.cli.ok("chat", "new", "--customer", "Ann")
    assert tenant.call("agent2", "POST", "/chats/C1/activate").json()["agent"] == "agent-2"
    done = tenant.call("agent2", "POST", "/cli", json={"argv": ["chat", "park", "C1"]}).json()
    assert done["exit_code"] == 0, done
    assert tenant.cli.js("chat", "show", "C1")["state"] == "parked"
    assert {e["agent"] for e in tenant.cli.js("events", "--chat", "C1") if e["agent"]} == {"agent-2"}
    assert tenant.cli.run("agent", "status", "agent-1").code == 4  # nothing acted as the default agent
    # naming another agent, by header, field, path or root option: 403, nothing done
    before = tenant.cli.dump()
    for method, path, kw in [("POST", "/chats/C1/activate", {"headers": {"X-Chatemu-Agent": "agent-1"}}),
                             ("POST", "/chats/C1/activate", {"json": {"agent": "agent-1"}}),
                             ("POST", "/agents/agent-1/login", {}),
                             ("POST", "/cli", {"json": {"argv": ["--agent", "agent-1", "agent", "login"]}}),
                             ("POST", "/cli", {"json": {"argv": ["--agent=agent-1", "agent", "login"]}}),
                             ("POST", "/cli", {"json": {"argv": ["chat", "activate", "C1"], "agent": "agent-1"}})]:
        answer = tenant.call("agent2", method, path, **kw)
        assert answer.status_code == 403, (path, kw, answer.text)
        assert "agent-2" in answer.json()["detail"]
    assert tenant.cli.dump() == before
    # naming itself is fine
    assert tenant.call("agent2", "POST", "/chats/C1/activate", agent="agent-2").status_code == 200


def test_whoami_answers_what_a_token_allows(tenant):
    for who, role, agent in (("trainer", "trainer", None), ("agent", "agent", "agent-1"),
                             ("agent2", "agent", "agent-2"), ("customer", "customer", None)):
        answer = tenant.call(who, "GET", "/v1/whoami", base=tenant.url, agent="agent-9")  # the header changes nothing
        assert answer.status_code == 200, (who, answer.text)
        assert answer.json() == {"ns": tenant.ns, "role": role, "agent": agent, "open": False}
    for who in (None, "revoked"):
        answer = tenant.call(who, "GET", "/v1/whoami", base=tenant.url)
        assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer"
        assert answer.headers["content-type"] == "application/problem+json"


def test_a_customer_token_plays_the_customer(tenant):
    made = tenant.call("customer", "POST", "/chats", json={"customer": "Bo"})
    assert made.status_code == 201 and made.json()["id"] == "C1"
    assert tenant.call("customer", "POST", "/chats/C1/receive", json={"text": "hello"}).status_code == 200
    assert tenant.call("customer", "GET", "/chats/C1/transcript").json()[0]["text"] == "hello"
    before = tenant.cli.dump()
    for method, path, kw in [("POST", "/chats/C1/send", {"json": {"text": "hi"}}), ("GET", "/chats", {}),
                             ("POST", "/chats/C1/receive", {"json": {"text": "x"}, "headers": {"X-Chatemu-Agent": "agent-1"}}),
                             ("POST", "/cli", {"json": {"argv": ["chat", "take", "C1"]}}),
                             ("GET", "/events/stream", {})]:
        assert tenant.call("customer", method, path, **kw).status_code == 403, (method, path)
    assert tenant.cli.dump() == before
    assert tenant.call("customer", "POST", "/chats/C1/end").status_code == 200


def test_a_token_only_in_the_authorization_header(tenant):
    """A token in the query string or under another scheme is no token (401), and is never echoed."""
    token = tenant.tokens["trainer"]
    for kw in [{"params": {"access_token": token}}, {"params": {"token": token}},
               {"headers": {"Authorization": f"Token {token}"}}, {"headers": {"Authorization": token}},
               {"headers": {"Authorization": "Bearer"}}, {"headers": {"Authorization": f"Bearer {token}x"}},
               {"headers": {"Authorization": f"Bearer {token} {token}"}}]:
        answer = tenant.call(None, "GET", "/chats", **kw)
        assert answer.status_code == 401, (kw, answer.text)
        assert answer.headers["www-authenticate"] == "Bearer"
        assert token not in answer.text
    revoked = tenant.call("revoked", "GET", "/chats")
    assert revoked.status_code == 401 and "revoked" in revoked.json()["detail"]
    assert tenant.call("trainer", "GET", "/chats").status_code == 200


def test_no_token_can_be_made_through_the_server(tenant, server):
    """``token`` commands write the data folder: not run through ``/cli``, even by a trainer."""
    _, folder, store = server
    count = len(store.list())
    done = tenant.call("trainer", "POST", "/cli", json={
        "argv": ["token", "add", "--data-dir", str(folder), "--ns", "elsewhere", "--role", "trainer"]}).json()
    assert done["exit_code"] == 2 and "not run through the server" in done["stderr"]
    assert len(store.list()) == count


def test_a_request_without_credentials_is_refused_before_its_body_is_read(tenant):
    assert tenant.call(None, "POST", "/run", content=b"not a scenario\n").status_code == 401
    assert tenant.call(None, "POST", "/clock", content=b"{not json").status_code == 401


# -- loopback and other addresses --------------------------------------------------------------------


def test_an_open_loopback_server_needs_no_token_until_one_is_made(tmp_path):
    proc, url = start_server("--data-dir", str(tmp_path))
    try:
        with httpx.Client(base_url=f"{url}/v1/ns/demo", timeout=20, verify=tls()) as http:
            assert http.post("/chats", json={"customer": "Ann"}).status_code == 201
            assert http.get("/chats", headers={"Authorization": "Bearer anything"}).status_code == 200
            assert httpx.get(f"{url}/v1/whoami", timeout=20, verify=tls()).json() == {"ns": None, "role": "trainer", "agent": None,
                                                                         "open": True}
            token = TokenStore(str(tmp_path)).add("demo", "trainer")[1]
            assert http.get("/chats").status_code == 401
            assert http.get("/chats", headers={"Authorization": f"Bearer {token}"}).status_code == 200
            assert httpx.get(f"{url}/v1/whoami", timeout=20, verify=tls()).status_code == 401
    finally:
        assert stop(proc) == 0


def test_serve_on_another_address_needs_a_token_first(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATEMU_")}
    for args in (["--data-dir", str(tmp_path)], []):
        done = subprocess.run([CHATEMU, "serve", "--host", "0.0.0.0", "--port", "0", *args],
                              capture_output=True, text=True, env=env, timeout=30)
        assert done.returncode == 2 and done.stdout == "", done
        lines = done.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: --host 0.0.0.0 is not a loopback address"), lines
    assert not list(tmp_path.glob("*.db"))
    token = TokenStore(str(tmp_path)).add("demo", "trainer")[1]
    proc = subprocess.Popen([CHATEMU, "serve", "--host", "0.0.0.0", "--port", "0", "--data-dir", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        url = proc.stdout.readline().strip()
        found = re.fullmatch(r"http://0\.0\.0\.0:(\d+)", url)
        assert found, (url, proc.poll())
        local = f"http://127.0.0.1:{found[1]}/v1/ns/demo/chats"
        assert httpx.get(local, timeout=20, verify=tls()).status_code == 401  # loopback too: there are tokens
        assert httpx.get(local, headers={"Authorization": f"Bearer {token}"}, timeout=20, verify=tls()).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
