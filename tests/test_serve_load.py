"""``chatemu serve`` under load, and killed under load: real server processes, real HTTP clients
(threads, one keep-alive connection each) over loopback.

1. 16 clients each send a random mix of state-changing requests (new chats, take, activate,
   park, end, wrap-up, messages, agent status, the virtual clock moving) to a namespace all of
   them share and to one of three others, while 8 event streams are open: no 5xx, no lock
   error, ``db check`` clean on every namespace, and every stream got every event of its
   namespace exactly once, in order, as ``GET /events`` lists them.
2. Clients hammer a server that is killed with SIGKILL at a random moment, then restarted on
   the same ``--data-dir``: every change that was answered 2xx is in the database.

Sizes: 16×50 requests and 3 kills by default; ``CHATEMU_HEAVY=1``: 16×200 and 10 kills.
Every loop is bounded in count and in time.
"""

from __future__ import annotations

import random
import signal
import threading
import time
from collections import Counter

import httpx
import pytest
from test_serve import Stream, start_server, stop

from conftest import START, Chatemu, tls

HEAVY = bool(__import__("os").environ.get("CHATEMU_HEAVY"))  # as in test_check.py: set and non-empty
CLIENTS = 16
REQUESTS = 200 if HEAVY else 50
KILLS = 10 if HEAVY else 3
SEED = 20260105
SHARED, OWN = "shared", ("own-1", "own-2", "own-3")
AGENTS = [f"agent-{k}" for k in range(1, 5)]


def client(base: str) -> httpx.Client:
    return httpx.Client(base_url=base, timeout=httpx.Timeout(30), verify=tls())


class Chats:
    """The chat ids made so far in each namespace (the clients pick the chats they act on here)."""

    def __init__(self):
        self.ids: dict[str, list[str]] = {}
        self.guard = threading.Lock()

    def add(self, ns: str, chat: str) -> None:
        with self.guard:
            self.ids.setdefault(ns, []).append(chat)

    def pick(self, ns: str, rng: random.Random) -> str | None:
        with self.guard:
            ids = self.ids.get(ns)
            return rng.choice(ids[-12:]) if ids else None  # the recent ones: they still have a life


def one_request(rng: random.Random, chats: Chats, ns: str) -> tuple[str, str, dict | None, str]:
    """A random state-changing request: (method, path, body, agent acting)."""
    agent = rng.choice(AGENTS)
    chat = chats.pick(ns, rng)
    roll = rng.random()
    if chat is None or roll < 0.18:
        return "POST", "/chats", {"customer": f"cust-{rng.randrange(1000)}", "inbox": rng.random() < 0.3}, agent
    if roll < 0.70:
        verb = rng.choice(["take", "activate", "activate", "park", "end", "wrapup", "wrapup-finish", "receive",
                           "send"])
        body = {"receive": {"text": "where is my order?"}, "send": {"text": "let me look"},
                "wrapup-finish": {"finish": True}}.get(verb)
        return "POST", f"/chats/{chat}/{verb.removesuffix('-finish')}", body, agent
    if roll < 0.90:
        status = rng.choice(["available", "available", "break", "login"])
        return "POST", f"/agents/{agent}/{status}", {"reason": "lunch"} if status == "break" else None, agent
    return "POST", "/clock", {"advance": rng.choice(["5s", "20s", "1m"])}, agent


def prepare(url: str, namespaces: list[str]) -> None:
    with client(url) as http:
        for ns in namespaces:
            assert http.post(f"/v1/ns/{ns}/clock", json={"set": START}).status_code == 200
            assert http.post(f"/v1/ns/{ns}/break-reasons", json={"reason": "lunch"}).status_code == 201
            for agent in AGENTS:
                assert http.post(f"/v1/ns/{ns}/agents/{agent}/login").status_code == 200


def test_sixteen_clients_and_eight_streams_lose_and_repeat_nothing(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    proc, url = start_server("--data-dir", str(folder))
    streams: list[tuple[str, Stream]] = []
    try:
        namespaces = [SHARED, *OWN]
        prepare(url, namespaces)
        # Five streams on the namespace everybody shares, one on each of the others; three of
        # them open now, the rest once the load has started (they get the log so far, then live).
        plan = [SHARED, SHARED, SHARED, SHARED, SHARED, *OWN]
        for ns in plan[:3]:
            streams.append((ns, Stream(f"{url}/v1/ns/{ns}/events/stream")))
        chats, statuses, failures = Chats(), Counter(), []
        guard = threading.Lock()
        deadline = time.monotonic() + (600 if HEAVY else 180)

        def work(k: int) -> None:
            rng = random.Random(SEED + k)
            with client(f"{url}/v1/ns") as http:
                for i in range(REQUESTS):
                    if time.monotonic() > deadline:
                        failures.append(f"client {k}: out of time at request {i}")
                        return
                    ns = SHARED if i % 2 == 0 else OWN[k % len(OWN)]
                    method, path, body, agent = one_request(rng, chats, ns)
                    answer = http.request(method, f"/{ns}{path}", json=body, headers={"X-Chatemu-Agent": agent})
                    with guard:
                        statuses[answer.status_code] += 1
                    if answer.status_code == 201 and path == "/chats":
                        chats.add(ns, answer.json()["id"])
                    if answer.status_code not in (200, 201, 409):
                        failures.append(f"{method} /{ns}{path} {body} as {agent}: {answer.status_code} {answer.text}")

        workers = [threading.Thread(target=work, args=(k,), daemon=True) for k in range(CLIENTS)]
        started = time.monotonic()
        for w in workers:
            w.start()
        time.sleep(0.5)
        for ns in plan[3:]:
            streams.append((ns, Stream(f"{url}/v1/ns/{ns}/events/stream")))
        for w in workers:
            w.join(timeout=max(1.0, deadline - time.monotonic()))
        took = time.monotonic() - started
        assert not any(w.is_alive() for w in workers), "clients still running at the deadline"
        assert failures == [], failures[:10]
        assert sum(statuses.values()) == CLIENTS * REQUESTS
        assert statuses[201] > CLIENTS and statuses[200] > CLIENTS * REQUESTS // 3, statuses  # a real mix
        print(f"{CLIENTS}x{REQUESTS} requests in {took:.1f}s: {dict(statuses)}")

        with client(f"{url}/v1/ns") as http:
            logs = {ns: http.get(f"/{ns}/events").json() for ns in namespaces}
        for ns in namespaces:
            cli = Chatemu(folder / f"{ns}.db")
            assert cli.js("events") == logs[ns]  # the server's answer is the command line's
            check = cli.run("db", "check")
            assert check.code == 0, check
        assert len(logs[SHARED]) > CLIENTS * REQUESTS // 10  # (a refusal makes no event)
        for ns, stream in streams:
            log = logs[ns]
            got = stream.take(len(log), within=60)
            stream.nothing_more(0.5)
            assert [event for _id, event, _data in got] == ["message"] * len(log)
            assert [data for _id, _event, data in got] == log, f"stream on {ns}: not the log"
            assert [int(i.split("-")[1]) for i, _e, _d in got] == [e["seq"] for e in log]
            assert len({i for i, _e, _d in got}) == len(log)
    finally:
        for _ns, stream in streams:
            stream.close()
        code = stop(proc, timeout=30)
        err = proc.stderr.read()
    assert code == 0 and "Traceback" not in err, err[-2000:]
    assert "locked" not in err, err[-2000:]


# -- kill -9 under load ------------------------------------------------------------------------

#: Each chat's life, one client per chat, acting as that client's own agent: (verb, body).
LIFE = [("take", None), ("activate", None), ("receive", {"text": "hello"}), ("send", {"text": "hi"}),
        ("park", None), ("activate", None), ("end", None), ("wrapup", {"finish": True})]


class Tracker:
    """What one client was answered 2xx, and the request it had under way when the server died."""

    def __init__(self):
        self.state: dict[tuple[str, str], str] = {}  # (ns, chat) -> the state it was answered
        self.messages: Counter = Counter()  # (ns, chat) -> messages answered as stored
        self.pending: tuple[str, str] | None = None  # (ns, chat) of the request without an answer
        self.answered = 0


def hammer(url: str, k: int, ns: str, stop_at: float, tracker: Tracker, errors: list) -> None:
    """Chat lives for agent-{k} on ``ns`` until the server stops answering (or ``stop_at``)."""
    agent, n = f"agent-{k}", 0
    with client(f"{url}/v1/ns/{ns}") as http:
        try:
            if http.post(f"/agents/{agent}/login").status_code != 200:
                errors.append(f"{agent} could not log in")
                return
        except httpx.HTTPError:
            return  # killed already
        while time.monotonic() < stop_at and n < 10_000:
            n += 1
            chat = f"K{k}x{n}"
            steps = [("POST", "/chats", {"customer": f"cust-{k}-{n}", "id": chat})]
            steps += [("POST", f"/chats/{chat}/{verb}", body) for verb, body in LIFE]
            for method, path, body in steps:
                tracker.pending = (ns, chat)
                try:
                    answer = http.request(method, path, json=body, headers={"X-Chatemu-Agent": agent})
                except httpx.HTTPError:
                    return  # the server is gone; `pending` may or may not have happened
                if answer.status_code not in (200, 201):
                    errors.append(f"{method} {path} as {agent}: {answer.status_code} {answer.text}")
                    return
                tracker.pending = None
                tracker.answered += 1
                if "/receive" in path or "/send" in path:
                    tracker.messages[(ns, chat)] += 1
                else:
                    tracker.state[(ns, chat)] = answer.json()["state"]


def test_sigkill_under_load_keeps_every_answered_change(tmp_path):
    rng = random.Random(SEED)
    folder = tmp_path / "data"
    folder.mkdir()
    namespaces = ["k-shared", "k-other"]
    proc, url = start_server("--data-dir", str(folder))
    try:
        with client(url) as http:
            for ns in namespaces:
                assert http.post(f"/v1/ns/{ns}/clock", json={"set": START}).status_code == 200
                assert http.put(f"/v1/ns/{ns}/config", json={"key": "auto-present", "value": "off"}).status_code == 200
        kills = 0
        trackers: list[Tracker] = [Tracker() for _ in range(8)]
        while kills < KILLS:
            errors: list = []
            stop_at = time.monotonic() + 30
            workers = [threading.Thread(target=hammer, daemon=True,
                                        args=(url, 10 * kills + k + 1, namespaces[k % 2], stop_at, trackers[k], errors))
                       for k in range(len(trackers))]
            for w in workers:
                w.start()
            before = sum(t.answered for t in trackers)
            waited = time.monotonic() + 20  # the load under way first (a busy machine starts slowly)...
            while sum(t.answered for t in trackers) < before + len(trackers) and time.monotonic() < waited:
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 1.0))  # ...then a random moment of it
            proc.send_signal(signal.SIGKILL)
            assert proc.wait(timeout=10) == -signal.SIGKILL
            for w in workers:
                w.join(timeout=30)
            assert not any(w.is_alive() for w in workers)
            assert errors == [], errors[:5]
            assert sum(t.answered for t in trackers) > before, "nothing was answered before the kill"
            kills += 1
            where = f"after kill {kills}"

            for ns in namespaces:
                check = Chatemu(folder / f"{ns}.db").run("db", "check")
                assert check.code == 0, f"{where}: {check}"
            proc, url = start_server("--data-dir", str(folder))  # the same folder, a new port
            with client(url) as http:
                stored = {}
                for ns in namespaces:
                    for chat in http.get(f"/v1/ns/{ns}/chats", params={"all": "true"}).json():
                        stored[(ns, chat["id"])] = chat
            for tracker in trackers:
                for key, state in tracker.state.items():
                    assert key in stored, f"{where}: {key} was answered {state} but is not there"
                    if key != tracker.pending:  # the one under way may have happened unanswered
                        assert stored[key]["state"] == state, f"{where}: {key} answered {state}, stored {stored[key]}"
                for key, count in tracker.messages.items():
                    extra = 1 if key == tracker.pending else 0
                    assert count <= stored[key]["messages"] <= count + extra, f"{where}: {key} {count} messages"
                if tracker.pending in stored:  # what the unanswered request did is known now
                    key = tracker.pending
                    tracker.state[key], tracker.messages[key] = stored[key]["state"], stored[key]["messages"]
                tracker.pending = None
        print(f"{kills} kills, {sum(t.answered for t in trackers)} answered changes all kept")
    finally:
        code = stop(proc, timeout=30)
    assert code == 0


def test_a_lone_client_gets_each_answer_without_waiting_for_a_delayed_ack(tmp_path):
    """An answer goes out as it is written (TCP_NODELAY): headers and body are two writes, and
    with Nagle's algorithm on, the second one waited for the client's delayed ACK (~40 ms)."""
    import statistics

    proc, url = start_server("--data-dir", str(tmp_path))
    try:
        with client(url) as http:
            assert http.post("/v1/ns/lone/clock", json={"set": START}).status_code == 200
            took = []
            for _ in range(15):
                started = time.perf_counter()
                assert http.get("/v1/ns/lone/clock").status_code == 200
                took.append((time.perf_counter() - started) * 1000)
    finally:
        assert stop(proc) == 0
    assert statistics.median(took) < 30, took


def test_connections_kept_between_requests_never_write_to_a_deleted_namespace(tmp_path):
    """The server keeps its database connections open between requests; a namespace deleted
    (and made again by the next request) or whose file another process replaced is written
    in its new file, never in the one that has gone."""
    from concurrent.futures import ThreadPoolExecutor

    proc, url = start_server("--data-dir", str(tmp_path))
    cli = Chatemu(tmp_path / "gone.db")
    try:
        with client(url) as http, ThreadPoolExecutor(8) as pool:
            def new(n: int) -> int:
                with client(f"{url}/v1/ns/gone") as own:
                    return own.post("/chats", json={"customer": f"cust-{n}"}).status_code

            for round_ in range(4):
                assert list(pool.map(new, range(16))) == [201] * 16
                assert len(cli.js("chat", "list", "--all")) == 16, f"round {round_}"
                assert cli.run("db", "check").code == 0
                if round_ % 2:
                    assert http.delete("/v1/ns/gone").status_code == 200
                else:  # another process replaces the file
                    for suffix in ("", "-wal", "-shm"):
                        (tmp_path / f"gone.db{suffix}").unlink(missing_ok=True)
                    cli.ok("clock", "set", START)
            assert http.get("/v1/ns/gone/chats", params={"all": "true"}).json() == []
    finally:
        assert stop(proc) == 0
