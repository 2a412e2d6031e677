#!/usr/bin/env python3
"""What a class costs: how long the events of a ``chatemu run`` take to reach every reader.

One ``chatemu serve`` on one namespace with, at once, ``--clients`` plain HTTP clients reading
its event stream (threads, raw sockets) and ``--desks`` real agent desks in headless Chromium
(Playwright), each re-reading its state on every event.  Then ``chatemu --db DIR/NS.db run FILE``
(a process of its own, as a trainer's script would be) runs ``--steps`` steps on the namespace:
each agent's chat parked and activated again, round-robin, on the real clock.

Measured on the wall clock (the emulator's clock is real, so an event's ``at``, less the real
clock's offset, is when it was made, within the step's transaction):

- for each event, the delay from its commit to its arrival at the *last* of the stream clients
  (p50, p99, max), and that every client got every event, in order;
- for each desk, the delay from the run's last commit to the desk showing the final state.

    .venv/bin/python benchmarks/desks.py                   # 30 clients, 3 desks, 1,000 steps
    .venv/bin/python benchmarks/desks.py --json            # the numbers as one JSON document

Exit codes: 0 measured; 1 a client or a desk missed an event (or never showed the final state);
2 the benchmark could not run (no Playwright or Chromium: ``--desks 0`` runs without them).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

NS = "bench"


def chatemu() -> str:
    here = Path(sys.executable).with_name("chatemu")
    return str(here) if here.exists() else (shutil.which("chatemu") or "chatemu")


def cm(db: Path, *argv: str) -> str:
    return subprocess.run([chatemu(), "--db", str(db), *argv], check=True, capture_output=True, text=True).stdout


def at_seconds(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


class Reader(threading.Thread):
    """One plain HTTP client reading the event stream: (seq, commit time, arrival time) per event."""

    def __init__(self, port: int, after_seq: int, offset: float):
        super().__init__(daemon=True)
        self.port, self.after, self.offset = port, after_seq, offset
        self.got: list[tuple[int, float, float]] = []
        self.ready = threading.Event()
        self.sock: socket.socket | None = None

    def run(self) -> None:
        self.sock = socket.create_connection(("127.0.0.1", self.port))
        self.sock.sendall(f"GET /v1/ns/{NS}/events/stream?since={self.after} HTTP/1.1\r\nHost: x\r\n"
                          "Accept: text/event-stream\r\n\r\n".encode())
        buffer = b""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return
                now = time.time()
                self.ready.set()
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    if line.startswith(b"data: {"):
                        event = json.loads(line[6:])
                        if "seq" in event:
                            self.got.append((event["seq"], at_seconds(event["at"]) - self.offset, now))
        except OSError:
            return

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=30, help="event-stream clients (threads)")
    parser.add_argument("--desks", type=int, default=3, help="agent desks in Chromium (0: none)")
    parser.add_argument("--steps", type=int, default=1000, help="steps of the run")
    parser.add_argument("--json", action="store_true", help="print the numbers as one JSON document")
    args = parser.parse_args()
    agents = [f"agent-{k}" for k in range(1, max(args.desks, 3) + 1)]
    folder = Path(tempfile.mkdtemp(prefix="chatemu-desks-"))
    db = folder / f"{NS}.db"
    for k, agent in enumerate(agents, 1):
        cm(db, "--agent", agent, "agent", "login")
        cm(db, "--agent", agent, "chat", "new", "--customer", f"Customer {k}", "--inbox", "--id", f"C{k}")
        cm(db, "--agent", agent, "chat", "activate", f"C{k}")
    cm(db, "clock", "real")
    # a real clock runs on from where it stood: an event's wall time is its `at` less the offset
    with sqlite3.connect(db) as conn:
        offset = conn.execute("SELECT offset_ms FROM meta").fetchone()[0] / 1000
    first_seq = json.loads(cm(db, "events", "--json"))[-1]["seq"]
    lines = []
    for i in range(args.steps):
        k = i % len(agents)
        verb = "park" if (i // len(agents)) % 2 == 0 else "activate"
        lines.append(f"--agent {agents[k]} chat {verb} C{k + 1}")
    scenario = folder / "class.txt"
    scenario.write_text("".join(line + "\n" for line in lines))

    server = subprocess.Popen([chatemu(), "serve", "--port", "0", "--data-dir", str(folder)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    url = server.stdout.readline().strip()
    port = int(url.rsplit(":", 1)[1])
    readers = [Reader(port, first_seq, offset) for _ in range(args.clients)]
    browser = playwright = None
    desks = []
    try:
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.ready.wait(10)
        if args.desks:
            try:
                from playwright.sync_api import sync_playwright
            except ImportError:
                print("error: Playwright is not installed (pip install playwright), or run with --desks 0",
                      file=sys.stderr)
                return 2
            executable = os.environ.get("CHATEMU_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
            playwright = sync_playwright().start()
            browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox", "--disable-gpu"])
            for agent in agents[:args.desks]:
                page = browser.new_context().new_page()
                page.goto(f"{url}/ns/{NS}/desk?agent={agent}")
                page.wait_for_function("() => document.querySelector('#live')?.textContent === 'live'", timeout=10000)
                desks.append((agent, page))
        started = time.time()
        subprocess.run([chatemu(), "--db", str(db), "run", str(scenario)], check=True, capture_output=True)
        ran = time.time() - started
        events = [e for e in json.loads(cm(db, "events", "--json")) if e["seq"] > first_seq]
        wanted = [e["seq"] for e in events]
        last_commit = at_seconds(events[-1]["at"]) - offset
        final = {c["id"]: c["state"] for c in json.loads(cm(db, "chat", "list", "--all", "--json"))}
        desk_delays = []
        for agent, page in desks:
            chat = f"C{agents.index(agent) + 1}"
            page.wait_for_function("([chat, state]) => document.querySelector(`#inbox li[data-chat-id=${chat}]`)"
                                   "?.dataset.state === state", arg=[chat, final[chat]], polling="raf", timeout=30000)
            desk_delays.append(time.time() - last_commit)
        deadline = time.time() + 30
        while time.time() < deadline and any(len(r.got) < len(wanted) for r in readers):
            time.sleep(0.05)
    finally:
        for reader in readers:
            reader.close()
        if browser is not None:
            browser.close()
        if playwright is not None:
            playwright.stop()
        server.terminate()
        server.wait(30)
        shutil.rmtree(folder, ignore_errors=True)

    missed = [i for i, r in enumerate(readers) if [seq for seq, _, _ in r.got] != wanted]
    last_arrival: dict[int, float] = {}
    commit: dict[int, float] = {}
    for reader in readers:
        for seq, at, arrived in reader.got:
            commit[seq] = at
            last_arrival[seq] = max(last_arrival.get(seq, 0.0), arrived)
    delays = [(last_arrival[seq] - commit[seq]) * 1000 for seq in wanted if seq in last_arrival]
    result = {
        "clients": args.clients, "desks": args.desks, "steps": args.steps, "events": len(wanted),
        "run_s": round(ran, 3),
        "to_last_client_ms": {"p50": round(percentile(delays, 50), 1), "p99": round(percentile(delays, 99), 1),
                              "max": round(max(delays), 1)} if delays else None,
        "desk_final_state_after_last_commit_ms": [round(d * 1000) for d in desk_delays],
        "clients_missing_events": missed,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        d = result["to_last_client_ms"] or {}
        print(f"{args.steps} steps ({len(wanted)} events) run in {ran:.2f} s with {args.clients} stream clients "
              f"and {args.desks} desks open")
        print(f"commit → last stream client: p50 {d.get('p50')} ms, p99 {d.get('p99')} ms, max {d.get('max')} ms")
        print("last commit → each desk showing the final state: "
              + ", ".join(f"{ms} ms" for ms in result["desk_final_state_after_last_commit_ms"]))
        print("every client got every event, in order" if not missed else f"clients missing events: {missed}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
