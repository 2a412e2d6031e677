"""Webhooks: endpoints stored in the namespace's database, each event posted as the Standard
Webhooks specification has it (verified with the PyPI ``standardwebhooks`` library), to a real
receiver over loopback: retries until a 2xx, in order, never skipped (even across a deliverer
killed with SIGKILL), 410 disables, 3xx fails, events made by ``chatemu`` command lines are sent,
and reset, restore and import keep the endpoints and start a new log."""

from __future__ import annotations

import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from standardwebhooks import Webhook

from chatemu.server.webhooks import Deliverer, message_id, sign
from chatemu.store import webhooks as rules
from chatemu.store.engine import Engine
from chatemu.store.errors import UnknownChat, UsageError

from conftest import START, Chatemu


class Receiver:
    """An HTTP server on loopback recording every POST; ``answer(n, body)`` (n counts from 0)
    gives each request's status, ``delay`` seconds before answering."""

    def __init__(self, answer=lambda n, body: 200, delay: float = 0.0):
        self.got: list[tuple[dict, bytes, int]] = []
        self.answer, self.delay = answer, delay
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                size = int(self.headers["content-length"])
                body = self.rfile.read(size)
                if len(body) < size:  # the sender was killed mid-request: nothing was delivered
                    self.close_connection = True
                    return
                status = owner.answer(len(owner.got), body)
                if owner.delay:
                    time.sleep(owner.delay)
                owner.got.append(({k.lower(): v for k, v in self.headers.items()}, body, status))
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", owner.redirect_to)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.redirect_to = self.url
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def acknowledged(self) -> list[dict]:
        return [json.loads(body) for _, body, status in self.got if 200 <= status < 300]


@pytest.fixture
def receiver():
    made = []

    def make(*args, **kwargs):
        made.append(Receiver(*args, **kwargs))
        return made[-1]

    yield make
    for each in made:
        each.close()


@pytest.fixture
def cm(tmp_path) -> Chatemu:
    cm = Chatemu(tmp_path / "demo.db")
    cm.ok("clock", "set", START)
    return cm


def drain(deliverer: Deliverer, until, timeout: float = 20.0) -> None:
    """Run passes until ``until()`` holds (or fail after ``timeout`` seconds)."""
    end = time.monotonic() + timeout
    while not until():
        assert time.monotonic() < end, "delivery did not finish in time"
        wait = deliverer.run_once()
        time.sleep(min(wait, 0.05) if wait else 0.01)


def test_each_event_is_signed_as_the_spec_says_and_verifies(cm, receiver):
    hook = receiver()
    made = Engine(str(cm.db)).webhook_add(hook.url).value
    assert made["secret"].startswith("whsec_") and 24 <= len(rules.secret_key(made["secret"])) <= 64
    cm.ok("agent", "login")
    cm.ok("chat", "new", "--customer", "Ann")
    cm.ok("chat", "activate", "C1")
    events = cm.js("events")
    before = time.time()
    assert Deliverer(str(cm.db)).run_once() is None
    assert len(hook.got) == len(events) and {e["chat"] is None for e in events} == {True, False}
    wh = Webhook(made["secret"])
    for (headers, body, status), event in zip(hook.got, events):
        assert wh.verify(body, headers) == json.loads(body)  # the library accepts the signature
        message = json.loads(body)
        assert message == {"type": "chat.state" if event["chat"] else "agent.status", "timestamp": event["at"],
                           "data": {**event, "namespace": "demo"}}
        assert body == json.dumps(message, separators=(",", ":")).encode()  # compact: the bytes signed
        # wall-clock seconds, though the namespace's clock is virtual (January 2026)
        assert before - 1 <= int(headers["webhook-timestamp"]) <= time.time() + 1
        assert "." not in headers["webhook-id"] and headers["webhook-id"].endswith(f"_{event['seq']}")
        assert headers["content-type"] == "application/json"
    # a tampered body or another secret does not verify
    headers, body, _ = hook.got[0]
    with pytest.raises(Exception):
        wh.verify(body.replace(b"login", b"logout"), headers)
    with pytest.raises(Exception):
        Webhook(rules.new_secret()).verify(body, headers)


def test_sign_matches_the_library_for_a_given_secret():
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"type":"chat.state"}'
    assert sign(secret, "msg_1", 1614265330, body) == Webhook(secret).sign("msg_1", _dt(1614265330), body.decode())


def _dt(seconds):
    from datetime import datetime, timezone

    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def test_a_failing_endpoint_gets_every_event_once_acknowledged_in_order(cm, receiver):
    # 500 twice, then 200, then 503, then 200 …
    answers = iter([500, 500, 200, 503, 200, 200, 502, 200] + [200] * 50)
    hook = receiver(lambda n, body: next(answers))
    engine = Engine(str(cm.db))
    engine.webhook_add(hook.url, ["*"])
    for name in ("Ann", "Bob", "Cy"):
        cm.ok("chat", "new", "--customer", name)
    seqs = [e["seq"] for e in cm.js("events")]
    now = [time.time()]  # the wall clock, moved by hand: the specification's own schedule
    deliverer = Deliverer(str(cm.db), wall=lambda: now[0])
    assert deliverer.schedule[:4] == (0, 5, 300, 1800)
    assert deliverer.run_once() == 5 and len(hook.got) == 1  # failed: the next try in 5 s
    now[0] += 4.9
    assert deliverer.run_once() == pytest.approx(0.1) and len(hook.got) == 1  # not before its time
    now[0] += 0.1
    assert deliverer.run_once() == 300 and len(hook.got) == 2  # failed again: 5 minutes
    now[0] += 300
    waits = [deliverer.run_once()]
    while waits[-1] is not None:
        now[0] += waits[-1]
        waits.append(deliverer.run_once())
    assert waits == [5, 5, None]  # the 503 and the 502 each waited 5 s
    assert [m["data"]["seq"] for m in hook.acknowledged()] == seqs
    # every attempt at one event has the same id; attempts come in seq order
    attempts = [(h["webhook-id"], json.loads(b)["data"]["seq"]) for h, b, _ in hook.got]
    assert [s for _, s in attempts] == sorted(s for _, s in attempts)
    assert {i for i, s in attempts if s == seqs[0]} == {attempts[0][0]} and len({i for i, _ in attempts}) == len(seqs)
    record = {d["seq"]: d for d in engine.webhook_deliveries(1).value}
    assert (record[seqs[0]]["attempts"], record[seqs[0]]["status"], record[seqs[0]]["delivered"]) == (3, 200, True)
    assert engine.webhook_list().value[0]["cursor"] == seqs[-1]
    assert deliverer.run_once() is None and len(hook.got) == len(seqs) + 4  # 4 failures; nothing more to send


def test_410_disables_the_endpoint_and_3xx_is_a_failure(cm, receiver):
    gone = receiver(lambda n, body: 410)
    elsewhere = receiver()
    moved = receiver(lambda n, body: 302)
    moved.redirect_to = elsewhere.url
    engine = Engine(str(cm.db))
    engine.webhook_add(gone.url)
    engine.webhook_add(moved.url)
    cm.ok("chat", "new")
    seqs = [e["seq"] for e in cm.js("events")]
    deliverer = Deliverer(str(cm.db), schedule=(0, 0.1))
    deliverer.run_once()
    time.sleep(0.15)
    deliverer.run_once()
    listed = {w["id"]: w for w in engine.webhook_list().value}
    assert listed[1]["disabled"] is not None and "410" in listed[1]["disabled_why"]
    assert len(gone.got) == 1  # never tried again
    # the redirect is not followed: the other server got nothing; two tries, then disabled
    assert elsewhere.got == [] and len(moved.got) == 2
    assert "no 2xx answer to 2 attempts" in listed[2]["disabled_why"] and listed[2]["cursor"] == 0
    assert engine.webhook_deliveries(2).value[0]["status"] == 302
    # switched back on, it is sent the same event again, from its first try
    moved.answer = lambda n, body: 200
    engine.webhook_enable(2)
    deliverer.run_once()
    assert len(moved.got) == 2 + len(seqs) and moved.got[2][0]["webhook-id"] == moved.got[0][0]["webhook-id"]
    assert engine.webhook_list().value[1]["cursor"] == seqs[-1]


def test_no_answer_in_time_is_a_failure(cm, receiver):
    slow = receiver(delay=1.0)
    Engine(str(cm.db)).webhook_add(slow.url)
    cm.ok("chat", "new")
    wait = Deliverer(str(cm.db), schedule=(0, 60), timeout=0.3).run_once()
    assert wait == pytest.approx(60, abs=1)
    record = Engine(str(cm.db)).webhook_deliveries(1).value[0]
    assert (record["status"], record["delivered"]) == (None, False) and "no answer" in record["error"]
    assert Engine(str(cm.db)).webhook_list().value[0]["cursor"] == 0


def test_patterns_choose_the_types(cm, receiver):
    chats, agents, every = receiver(), receiver(), receiver()
    engine = Engine(str(cm.db))
    engine.webhook_add(chats.url, ["chat.*"])
    engine.webhook_add(agents.url, "agent.status")
    engine.webhook_add(every.url)
    cm.ok("agent", "login")
    cm.ok("chat", "new")
    Deliverer(str(cm.db)).run_once()
    assert {m["type"] for m in chats.acknowledged()} == {"chat.state"}
    assert {m["type"] for m in agents.acknowledged()} == {"agent.status"}
    assert len(every.acknowledged()) == len(chats.acknowledged()) + len(agents.acknowledged()) == 3
    # the skipped events moved the cursors too
    assert {w["cursor"] for w in engine.webhook_list().value} == {3}


def test_a_killed_deliverer_skips_nothing(cm, receiver, tmp_path):
    hook = receiver(delay=0.05)
    Engine(str(cm.db)).webhook_add(hook.url)
    for n in range(12):
        cm.ok("chat", "new", "--customer", f"c{n}")
    seqs = [e["seq"] for e in cm.js("events")]
    env = {**os.environ, "CHATEMU_WEBHOOK_SCHEDULE": "0,0.1"}
    argv = [sys.executable, "-m", "chatemu.server.webhooks", str(cm.db)]
    for round_ in range(3):
        proc = subprocess.Popen(argv, env=env)
        end = time.monotonic() + 20
        while len(hook.got) < 3 * (round_ + 1) and time.monotonic() < end:
            time.sleep(0.005)
        time.sleep(0.02 * round_)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    proc = subprocess.Popen(argv, env=env)
    try:
        end = time.monotonic() + 30
        while {m["data"]["seq"] for m in hook.acknowledged()} != set(seqs) and time.monotonic() < end:
            time.sleep(0.02)
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    delivered = [m["data"]["seq"] for m in hook.acknowledged()]
    assert set(delivered) == set(seqs)
    # in order; an event sent again (its answer not yet recorded when killed) comes right after itself
    firsts = list(dict.fromkeys(delivered))
    assert firsts == seqs
    assert all(b >= a or delivered[i] == a for i, (a, b) in enumerate(zip(delivered, delivered[1:]), 1))
    assert Engine(str(cm.db)).webhook_list().value[0]["cursor"] == seqs[-1]
    assert cm.run("db", "check").code == 0


def test_events_of_command_line_processes_are_sent_while_it_runs(cm, receiver):
    hook = receiver()
    Engine(str(cm.db)).webhook_add(hook.url)
    stop = threading.Event()
    deliverer = Deliverer(str(cm.db), poll=0.02)
    thread = threading.Thread(target=deliverer.run_forever, args=(stop,))
    thread.start()
    try:
        cm.ok("agent", "login")
        cm.ok("chat", "new", "--customer", "Ann")
        cm.ok("chat", "activate", "C1")
        cm.ok("chat", "park", "C1")
        cm.ok("run", "-", stdin="chat new --customer Bob\nclock advance 1m\n")
        events = cm.js("events")
        end = time.monotonic() + 10
        while len(hook.acknowledged()) < len(events) and time.monotonic() < end:
            time.sleep(0.02)
    finally:
        stop.set()
        thread.join(10)
    assert [m["data"] for m in hook.acknowledged()] == [{**e, "namespace": "demo"} for e in events]


def test_reset_restore_and_import_keep_endpoints_and_start_a_new_log(cm, receiver, tmp_path):
    hook = receiver()
    engine = Engine(str(cm.db))
    engine.webhook_add(hook.url)
    cm.ok("chat", "new")
    cm.ok("snapshot", "save", "one")
    deliverer = Deliverer(str(cm.db))
    deliverer.run_once()
    first_ids = [h["webhook-id"] for h, _, _ in hook.got]
    assert len(first_ids) == len(cm.js("events"))
    cm.ok("reset", "--yes", "--keep-snapshots")
    assert len(engine.webhook_list().value) == 1
    cm.ok("chat", "new")
    deliverer.run_once()
    replaced, *again = hook.acknowledged()[len(first_ids):]
    assert replaced["type"] == "log.replaced" and replaced["data"]["seq"] == 0 and replaced["data"]["generation"] == 1
    assert [m["data"]["seq"] for m in again] == [e["seq"] for e in cm.js("events")] and again[0]["data"]["seq"] == 1
    new_ids = [h["webhook-id"] for h, _, _ in hook.got[len(first_ids):]]
    assert not set(new_ids) & set(first_ids)  # new ids for a new log
    cm.ok("snapshot", "restore", "one")
    cm.ok("export", str(tmp_path / "b.json"))
    assert "webhook" not in (tmp_path / "b.json").read_text()  # not in a bundle
    cm.ok("import", "--replace", str(tmp_path / "b.json"))
    deliverer.run_once()
    ids = [h["webhook-id"] for h, _, _ in hook.got]
    assert len(ids) == len(set(ids))
    assert engine.webhook_list().value[0]["generation"] >= 3  # reset, restore, import: each a new log
    assert cm.run("db", "check").code == 0


def test_endpoint_rules(cm):
    engine = Engine(str(cm.db))
    for url in ("ftp://h/x", "http:///x", "x", "", "http://u:p@h/x", "http://h/x#f", "http://h:99999/", "http://h/ x",
                "http://" + "h" * 2001):
        with pytest.raises(UsageError):
            engine.webhook_add(url)
    for patterns in (["chat"], ["chat.closed"], ["*.*"], ["x.*"], [""]):
        with pytest.raises(UsageError):
            engine.webhook_add("http://h/x", patterns)
    for secret in ("abc", "whsec_***", "whsec_" + "QUFB" * 2):
        with pytest.raises(UsageError):
            engine.webhook_add("http://h/x", None, secret)
    with pytest.raises(UnknownChat):
        engine.webhook_delete(9)
    assert engine.webhook_list().value == []
    made = engine.webhook_add("https://example.com:8443/in?x=1", ["chat.*", "chat.*", "log.replaced"]).value
    assert made["events"] == ["chat.*", "log.replaced"] and "secret" not in engine.webhook_list().value[0]
    assert engine.webhook_delete(made["id"]).value["deleted"] is True and engine.webhook_list().value == []


def test_db_check_holds_the_webhook_tables_to_their_rules(cm):
    import sqlite3

    Engine(str(cm.db)).webhook_add("http://127.0.0.1:9/x")
    assert cm.run("db", "check").code == 0
    for sql, found in (("UPDATE webhooks SET url = 'gopher://x'", "its URL"),
                       ("UPDATE webhooks SET events = 'chat.closed'", "event patterns"),
                       ("UPDATE webhooks SET secret = 'whsec_abc'", "its secret"),
                       ("UPDATE webhooks SET cursor = -7", "its cursor"),
                       ("UPDATE webhooks SET generation = 5", "its generation"),
                       ("UPDATE webhooks SET disabled_at_ms = 1", "disabling time"),
                       ("INSERT INTO webhook_deliveries VALUES (8, 0, 1, 1, 200, NULL, 1, 1, NULL, 1)", "names no webhook"),
                       ("DELETE FROM webhook_log", "webhook_log")):
        conn = sqlite3.connect(cm.db)
        conn.execute("BEGIN")
        conn.execute("SAVEPOINT s")
        conn.execute(sql)
        conn.commit()
        conn.close()
        done = cm.run("db", "check")
        assert done.code == 1 and found in done.out + done.err, (sql, done)
        conn = sqlite3.connect(cm.db)
        conn.execute("DELETE FROM webhook_deliveries")
        conn.execute("INSERT OR IGNORE INTO webhook_log VALUES (1, 'ab', 0)")
        conn.execute("UPDATE webhooks SET url = 'http://127.0.0.1:9/x', events = '*', secret = ?, cursor = 0,"
                     " generation = 0, disabled_at_ms = NULL", (rules.new_secret(),))
        conn.commit()
        conn.close()
        assert cm.run("db", "check").code == 0


def test_message_ids_are_dot_free():
    assert message_id("0a1b2c3d", 2, 17) == "msg_0a1b2c3d_2_17"


def test_an_endpoint_that_does_not_speak_http_is_a_failure(cm):
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def garbage():
        for _ in range(2):
            conn, _ = listener.accept()
            conn.recv(65536)
            conn.sendall(b"this is not HTTP\r\n\r\n")
            conn.close()

    thread = threading.Thread(target=garbage, daemon=True)
    thread.start()
    try:
        Engine(str(cm.db)).webhook_add(f"http://127.0.0.1:{listener.getsockname()[1]}/x")
        cm.ok("chat", "new")
        assert Deliverer(str(cm.db), schedule=(0, 30)).run_once() == 30
        record = Engine(str(cm.db)).webhook_deliveries(1).value[0]
        assert (record["attempts"], record["status"], record["delivered"]) == (1, None, False)
        assert record["error"].startswith("no answer")
    finally:
        listener.close()
