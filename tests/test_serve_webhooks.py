"""Webhooks through ``chatemu serve``: the routes, and the server's deliverer posting every event
of a namespace (made by the server or by a ``chatemu`` command line on the same file) to a real
receiver over loopback, verified with the PyPI ``standardwebhooks`` library; retries, 410,
``kill -9`` and a restart on the same data folder."""

from __future__ import annotations

import itertools
import json
import signal
import threading
import time

import httpx
import pytest
from standardwebhooks import Webhook
from test_serve import start_server, stop
from test_webhooks import Receiver, receiver  # noqa: F401 (receiver: the fixture, shared)

from conftest import START, Chatemu, tls

SCHEDULE = "0,0.3,0.3,0.3,0.3,0.3"
_names = itertools.count(1)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hooks")
    proc, url = start_server("--data-dir", str(folder), env={"CHATEMU_WEBHOOK_SCHEDULE": SCHEDULE})
    yield url, folder
    assert stop(proc) == 0
    assert "Traceback" not in proc.stderr.read()


class Space:
    def __init__(self, url, folder):
        self.ns = f"w{next(_names)}"
        self.http = httpx.Client(base_url=f"{url}/v1/ns/{self.ns}", timeout=20, verify=tls())
        self.cli = Chatemu(folder / f"{self.ns}.db")


@pytest.fixture
def space(server):
    made = Space(*server)
    yield made
    made.http.close()


def wait_for(until, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while not until():
        assert time.monotonic() < end, "not in time"
        time.sleep(0.05)


def seqs(hook: Receiver, acknowledged: bool = True) -> list[int]:
    return [json.loads(body)["data"]["seq"] for _, body, status in hook.got if 200 <= status < 300 or not acknowledged]


def test_the_routes_and_every_event_posted_signed(space, receiver):
    hook = receiver()
    space.cli.ok("clock", "set", START)
    made = space.http.post("/webhooks", json={"url": hook.url, "events": ["chat.*", "agent.*"]})
    assert made.status_code == 201, made.text
    added = made.json()
    assert added["id"] == 1 and added["events"] == ["chat.*", "agent.*"] and added["secret"].startswith("whsec_")
    # events made by the server and by a command line on the same file
    assert space.http.post("/agents/agent-1/login").status_code == 200
    space.cli.ok("chat", "new", "--customer", "Ann")
    assert space.http.post("/chats/C1/activate").status_code == 200
    events = [e for e in space.cli.js("events") if e["seq"] > added["cursor"]]
    wait_for(lambda: len(hook.got) >= len(events))
    time.sleep(0.5)
    assert seqs(hook) == [e["seq"] for e in events]  # each once, in order
    wh = Webhook(added["secret"])
    for (headers, body, _), event in zip(hook.got, events):
        message = wh.verify(body, headers)
        assert message["data"] == {**event, "namespace": space.ns}
    listed = space.http.get("/webhooks").json()
    assert [w["id"] for w in listed] == [1] and "secret" not in listed[0]
    assert listed[0]["cursor"] == events[-1]["seq"]
    records = space.http.get("/webhooks/1/deliveries").json()
    assert sorted(r["seq"] for r in records) == [e["seq"] for e in events] and all(r["delivered"] for r in records)
    # a given secret signs; a bad one, URL or pattern is 400 and adds nothing
    secret = "whsec_" + "A" * 32
    assert space.http.post("/webhooks", json={"url": hook.url, "secret": secret}).json()["secret"] == secret
    for body in ({"url": "ftp://x"}, {"url": hook.url, "events": ["chat.moved"]}, {"url": hook.url, "secret": "x"},
                 {"url": hook.url, "events": "chat.*"}):
        answer = space.http.post("/webhooks", json=body)
        assert answer.status_code == 400 and answer.headers["content-type"] == "application/problem+json", body
    assert len(space.http.get("/webhooks").json()) == 2
    # deleted: nothing more is sent to it
    assert space.http.delete("/webhooks/1").json()["deleted"] is True
    assert space.http.delete("/webhooks/1").status_code == 404
    assert space.http.get("/webhooks/1/deliveries").status_code == 404
    count, last = len(hook.got), events[-1]["seq"]
    space.cli.ok("chat", "park", "C1")
    parked = [e for e in space.cli.js("events") if e["seq"] > last]
    wait_for(lambda: len(hook.got) >= count + len(parked))  # the second endpoint's
    time.sleep(0.6)
    assert len(hook.got) == count + len(parked)
    assert [Webhook(secret).verify(body, headers)["data"]["seq"] for headers, body, _ in hook.got[count:]] == [
        e["seq"] for e in parked]


def test_a_receiver_failing_then_answering_gets_every_event_once_acknowledged_in_order(space, receiver):
    hook = receiver(lambda n, body: 500 if n in (0, 2) else 200)
    assert space.http.post("/webhooks", json={"url": hook.url}).status_code == 201
    for name in ("Ann", "Bo", "Cy"):
        assert space.http.post("/chats", json={"customer": name}).status_code == 201
    events = space.cli.js("events")
    wait_for(lambda: len(seqs(hook)) >= len(events))
    time.sleep(0.5)
    assert seqs(hook) == [e["seq"] for e in events]
    assert [status for _, _, status in hook.got][:4] == [500, 200, 500, 200]
    ids = [headers["webhook-id"] for headers, _, _ in hook.got]
    assert ids[0] == ids[1] and ids[2] == ids[3] and len(set(ids)) == len(events)  # a retry keeps its id
    first = [r for r in space.http.get("/webhooks/1/deliveries").json() if r["seq"] == events[0]["seq"]]
    assert first[0]["attempts"] == 2 and first[0]["delivered"]


def test_410_disables_and_enable_carries_on(space, receiver):
    answers = {"status": 410}
    hook = receiver(lambda n, body: answers["status"])
    assert space.http.post("/webhooks", json={"url": hook.url}).status_code == 201
    assert space.http.post("/chats", json={"customer": "Ann"}).status_code == 201
    wait_for(lambda: space.http.get("/webhooks").json()[0]["disabled"] is not None)
    assert "410" in space.http.get("/webhooks").json()[0]["disabled_why"]
    space.cli.ok("chat", "new", "--customer", "Bo")
    time.sleep(0.8)
    assert len(hook.got) == 1  # disabled: nothing more is tried
    answers["status"] = 200
    assert space.http.post("/webhooks/1/enable").status_code == 200
    assert space.http.post("/webhooks/1/enable").status_code == 409  # not disabled now
    events = space.cli.js("events")
    wait_for(lambda: seqs(hook) == [e["seq"] for e in events])


def test_a_namespace_deleted_and_made_again_delivers_from_its_new_file(space, receiver):
    old, new = receiver(), receiver()
    assert space.http.post("/webhooks", json={"url": old.url}).status_code == 201
    assert space.http.post("/chats", json={"customer": "Ann"}).status_code == 201
    first = [e["seq"] for e in space.cli.js("events")]
    wait_for(lambda: seqs(old) == first)
    assert httpx.delete(str(space.http.base_url).rstrip("/"), timeout=20, verify=tls()).status_code == 200
    assert space.http.post("/webhooks", json={"url": new.url}).status_code == 201
    assert space.http.post("/chats", json={"customer": "Bo"}).status_code == 201
    events = space.cli.js("events")
    wait_for(lambda: seqs(new) == [e["seq"] for e in events])
    time.sleep(0.5)
    assert seqs(old) == first  # the old endpoint went with its file
    assert [json.loads(body)["data"] for _, body, _ in new.got] == [{**e, "namespace": space.ns} for e in events]


def test_kill_9_mid_delivery_then_a_restart_skips_nothing(tmp_path, receiver):
    """The server is killed while a receiver holds an event unanswered; events keep coming from a
    command line while it is down; restarted on the same folder, it sends the held event again
    (the only repeat) and then every other one, in order."""
    in_flight, release = threading.Event(), threading.Event()

    def answer(n, body):
        if n == 2:
            in_flight.set()
            release.wait(20)
        return 200

    hook = receiver(answer)
    env = {"CHATEMU_WEBHOOK_SCHEDULE": SCHEDULE}
    proc, url = start_server("--data-dir", str(tmp_path), env=env)
    cli = Chatemu(tmp_path / "demo.db")
    try:
        assert httpx.post(f"{url}/v1/ns/demo/webhooks", json={"url": hook.url}, timeout=20, verify=tls()).status_code == 201
        for name in ("Ann", "Bo", "Cy", "Di"):
            cli.ok("chat", "new", "--customer", name)
        assert in_flight.wait(20)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        release.set()
        if proc.poll() is None:
            proc.kill()
    cli.ok("chat", "new", "--customer", "Ed")  # while no server runs
    events = [e["seq"] for e in cli.js("events")]
    wait_for(lambda: len(hook.got) >= 3)  # the held one, answered to a server no longer there
    held = seqs(hook, acknowledged=False)[2]
    proc, url = start_server("--data-dir", str(tmp_path), env=env)
    try:
        wait_for(lambda: seqs(hook)[-1:] == events[-1:])
        time.sleep(0.5)
        got = seqs(hook)
        assert got == events[:3] + [held] + events[3:], (got, events)  # at least once: the held one twice
        assert held == events[2]
    finally:
        assert stop(proc) == 0
    assert "Traceback" not in proc.stderr.read()


def test_the_webhook_commands(tmp_path, receiver):
    """``chatemu webhook add|list|delete|enable|deliveries``: the engine's functions on the command
    line, what the routes run; bad input is one error line, nothing changed."""
    cm = Chatemu(tmp_path / "demo.db")
    hook = receiver(lambda n, body: 410)
    added = cm.ok("webhook", "add", hook.url, "chat.*", "log.replaced").out
    assert added.startswith(f"webhook 1 added: {hook.url} (chat.* log.replaced); secret whsec_")
    listed = cm.js("webhook", "list")
    assert [(w["id"], w["events"], w["disabled"]) for w in listed] == [(1, ["chat.*", "log.replaced"], None)]
    assert "whsec_" not in cm.ok("webhook", "list").out and "secret" not in listed[0]
    assert cm.ok("webhook", "deliveries", "1").out == "no deliveries\n"
    cm.fails(3, "webhook", "enable", "1", match="is not disabled")
    for args, code in [(["add", "ftp://x"], 2), (["add", hook.url, "chat.moved"], 2), (["add", hook.url, "--secret", "x"], 2),
                       (["delete", "2"], 4), (["delete", "9" * 30], 2), (["deliveries", "x"], 2), (["enable", "7"], 4)]:
        cm.fails(code, "webhook", *args)
    cm.ok("chat", "new", "--customer", "Ann")
    from chatemu.server.webhooks import Deliverer

    Deliverer(str(cm.db), schedule=(0,)).run_once()  # answered 410: disabled
    assert cm.js("webhook", "list")[0]["disabled"] is not None
    assert "410" in cm.ok("webhook", "deliveries", "1").out
    assert cm.js("webhook", "enable", "1")["disabled"] is None
    assert cm.js("webhook", "delete", "1")["deleted"] is True
    assert cm.ok("webhook", "list").out == "no webhooks\n"


@pytest.mark.parametrize("name, value", [("CHATEMU_WEBHOOK_SCHEDULE", "1,x"), ("CHATEMU_WEBHOOK_SCHEDULE", "-1"),
                                         ("CHATEMU_WEBHOOK_TIMEOUT", "0"), ("CHATEMU_WEBHOOK_TIMEOUT", "soon")])
def test_a_bad_delivery_setting_stops_the_server_from_starting(tmp_path, name, value):
    import os
    import subprocess

    from conftest import CHATEMU

    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATEMU_")}
    done = subprocess.run([CHATEMU, "serve", "--port", "0", "--data-dir", str(tmp_path)], capture_output=True,
                          text=True, env={**env, name: value}, timeout=30)
    assert done.returncode == 2 and done.stdout == "", done
    assert len(done.stderr.splitlines()) == 1 and done.stderr.startswith(f"error: {name}"), done.stderr


def test_the_webhook_methods_of_the_python_api(tmp_path):
    from chatemu.cli.api import Emulator
    from chatemu.store.errors import UnknownChat, UsageError

    emu = Emulator(tmp_path / "demo.db")
    added = emu.webhook_add("http://127.0.0.1:9/hook", "chat.*", "log.*")
    assert added["events"] == ["chat.*", "log.*"] and added["secret"].startswith("whsec_")
    cm = Chatemu(tmp_path / "demo.db")
    assert emu.webhooks() == cm.js("webhook", "list")
    assert emu.webhook_deliveries(1) == []
    for call in (lambda: emu.webhook_add("ftp://x"), lambda: emu.webhook_add("http://x/", 3),
                 lambda: emu.webhook_delete("1"), lambda: emu.webhook_delete(2**70)):
        with pytest.raises(UsageError):
            call()
    with pytest.raises(UnknownChat):
        emu.webhook_enable(5)
    assert emu.webhook_delete(1)["deleted"] is True and emu.webhooks() == []
