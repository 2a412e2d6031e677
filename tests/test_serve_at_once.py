"""``chatemu serve`` running a quick command at once on its event loop, and checking tokens
without opening the tokens file on every request: neither may cost a guarantee.

1. While another process holds a namespace's write lock, a request on one of its chats waits for
   it (and then succeeds, once) without holding up the server: another namespace answers
   meanwhile.
2. A token added or revoked while the server runs counts from the very next request.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time

import httpx
from test_serve import start_server, stop

from conftest import START, Chatemu, tls


def test_a_chat_request_waits_for_another_process_writer_without_holding_up_the_server(tmp_path):
    proc, url = start_server("--data-dir", str(tmp_path))
    try:
        with httpx.Client(base_url=f"{url}/v1/ns", timeout=30, verify=tls()) as http:
            for ns in ("busy", "other"):
                assert http.post(f"/{ns}/clock", json={"set": START}).status_code == 200
            assert http.put("/busy/config", json={"key": "auto-present", "value": "off"}).status_code == 200
            assert http.post("/busy/agents/a1/login").status_code == 200
            assert http.post("/busy/chats", json={"id": "c1", "customer": "x"}).status_code == 201
            warm = http.post("/busy/chats/c1/take", headers={"X-Chatemu-Agent": "a1"})
            assert warm.status_code == 200, warm.text  # the loop thread has its connection now
            assert http.post("/busy/chats", json={"id": "c2", "customer": "x"}).status_code == 201

            holder = sqlite3.connect(tmp_path / "busy.db", isolation_level=None)
            holder.execute("BEGIN IMMEDIATE")  # another process writing, for as long as it likes
            held_for = 2.0
            answers: dict = {}

            def take():
                with httpx.Client(base_url=f"{url}/v1/ns", timeout=30, verify=tls()) as own:
                    answers["take"] = own.post("/busy/chats/c2/take", headers={"X-Chatemu-Agent": "a1"})
                    answers["took_at"] = time.monotonic()

            started = time.monotonic()
            waiting = threading.Thread(target=take)
            waiting.start()
            time.sleep(0.3)  # the take is in, waiting for the lock
            other = http.get("/other/clock")
            other_at = time.monotonic() - started
            time.sleep(max(0.0, held_for - (time.monotonic() - started)))
            holder.execute("ROLLBACK")
            released = time.monotonic()
            holder.close()
            waiting.join(30)

        assert other.status_code == 200 and other_at < held_for / 2, other_at  # not behind the waiting take
        assert answers["take"].status_code == 200, answers["take"].text  # no lock error: it waited, then ran
        assert answers["took_at"] >= released
        assert answers["take"].json()["agent"] == "a1"
        events = Chatemu(tmp_path / "busy.db").js("events", "--chat", "c2", "--json")
        assert [(e["from"], e["to"], e["agent"]) for e in events] == [(None, "queued", None), ("queued", "new", "a1")]
    finally:
        assert stop(proc) == 0
        assert "Traceback" not in proc.stderr.read()


def test_a_token_added_or_revoked_while_serving_counts_from_the_next_request(cm, tmp_path):
    def token(*args):
        return cm.js("token", "add", "--data-dir", str(tmp_path), "--ns", "demo", *args)

    first = token("--role", "trainer")
    proc, url = start_server("--data-dir", str(tmp_path))
    try:
        with httpx.Client(base_url=f"{url}/v1/ns/demo", timeout=30, verify=tls()) as http:
            def clock(secret):
                headers = {"Authorization": f"Bearer {secret}"} if secret else {}
                return http.get("/clock", headers=headers).status_code

            assert clock(first["token"]) == 200
            assert clock(None) == 401
            second = token("--role", "agent", "--agent", "a1")
            assert clock(second["token"]) == 200  # added: good at once
            for record in (first, second):
                cm.ok("token", "revoke", "--data-dir", str(tmp_path), str(record["id"]))
                assert clock(record["token"]) == 401  # revoked: refused on its next request
            third = token("--role", "trainer")
            assert clock(third["token"]) == 200
            (tmp_path / ".tokens.db").unlink()  # no tokens file: a token matches nothing, and the folder stays closed
            assert clock(third["token"]) == 401
            assert clock(None) == 401
    finally:
        assert stop(proc) == 0
        assert "Traceback" not in proc.stderr.read()


def test_an_answer_is_the_command_json_value_encoded_once_compact(tmp_path):
    proc, url = start_server("--data-dir", str(tmp_path))
    text = "bidi \u202e, caf\u00e9, \"quoted\", \U0001F600 done"
    try:
        with httpx.Client(base_url=f"{url}/v1/ns/n", timeout=30, verify=tls()) as http:
            assert http.post("/clock", json={"set": START}).status_code == 200
            assert http.post("/agents/a1/login").status_code == 200
            assert http.post("/chats", json={"id": "c1", "customer": "x"}).status_code == 201
            assert http.post("/chats/c1/activate", headers={"X-Chatemu-Agent": "a1"}).status_code == 200
            answer = http.post("/chats/c1/receive", json={"text": text}, headers={"X-Chatemu-Agent": "a1"})
            shown = http.get("/chats/c1/transcript")
        assert answer.status_code == 200 and answer.headers["content-type"] == "application/json", answer.text
        value = json.loads(answer.content)
        # one compact encoding of the value, the characters as they are (the command line shows them escaped)
        assert answer.content == json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
        assert value["text"] == text and "\u202e".encode() in answer.content  # as it is, not escaped
        assert shown.json() == Chatemu(tmp_path / "n.db").js("chat", "transcript", "c1", "--json")
    finally:
        assert stop(proc) == 0
        assert "Traceback" not in proc.stderr.read()
