"""Parallel writers: 8 workers hammer ONE database at once; no lock error, no lost event, check clean.

Each worker acts as its own agent (``--agent wN``) and runs a seeded random mix of commands, chosen
like a QA script would: mostly what makes sense for what it believes its inbox holds (its reads and
its commands' JSON results keep that belief up to date), sometimes something random.  The mix:
``chat new`` (its own ``--id wN-k`` ids, often ``--inbox``, sometimes a priority or a queue; and
default ``C<n>`` ids), ``take``, ``activate``, ``park``, ``end``, ``wrapup`` / ``--extend`` /
``--finish`` on its own chats, on other workers' chats and on default ids, ``agent available`` /
``break``, ``call-start`` / ``call-end``, ``clock advance`` by 250 ms to 61 s, and reads (``chat
list``, ``chat show``, ``agent status``, ``events --chat``).  Even workers run every command as a
separate ``chatemu`` process; odd workers run theirs through ``chatemu run --keep-going --json`` in
files of five lines, each started when the process workers have got proportionally as far, so that
both kinds overlap from start to end.

Many commands are refused by the model (exit 3) or name a chat that does not exist (exit 4): that is
expected.  What must hold:

- no ``database is locked`` (no exit 5 at all), no internal error (exit 70), no traceback, no usage
  error (the generator only writes valid command lines): every exit code is 0, 3 or 4, and every
  refusal is exactly one ``error:`` line;
- exact accounting of the event log against the commands that reported success (exit 0):

  * the chats in the database are exactly the ids the successful ``chat new`` commands reported,
    each with exactly one creation event;
  * per chat, the number of events caused by ``take``, ``activate`` (into ``active`` /
    ``active-wrapup``), ``park``, ``end`` (cause ``customer``, from a state), ``wrapup``, ``extend``
    and ``finish`` equals the number of successful commands of that kind on that chat (timers,
    presentations and the parking that an ``activate`` or a call does are extra events, not counted);
  * per agent, presence events equal the successful ``available``/``break`` commands that changed
    the presence (worked out from that worker's own successful commands, in order), call events
    equal the successful ``call-start``/``call-end`` commands, one login (every worker logs in
    first), and its other status events are caused by its chats' moves;
  * the clock ends at the start plus the sum of the successful ``clock advance`` durations;

- ``chatemu db check`` exits 0 at the end.

Size: 8 workers x 50 commands by default; ``CHATEMU_HEAVY=1``: 8 x 200 (1,600 commands, about a
thousand processes: a minute or so on two cores).
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections import Counter
from datetime import datetime

from conftest import START, Chatemu

HEAVY = bool(os.environ.get("CHATEMU_HEAVY"))  # as in test_check.py: set and non-empty
WORKERS = 8
COMMANDS = 200 if HEAVY else 50
SEED = 4
CHUNK = 5  # lines per ``chatemu run`` file
DURATIONS = {"250ms": 250, "1s": 1000, "5s": 5000, "10s": 10_000, "30s": 30_000, "61s": 61_000}


# What a worker believes a command does to a chat in its inbox (to choose sensible next commands).
ACTIVATE = {"new": "active", "parked": "active", "parked-wrapup": "active-wrapup"}
PARK = {"active": "parked", "active-wrapup": "parked-wrapup"}
END = {"active": "active-wrapup", "new": "parked-wrapup", "parked": "parked-wrapup"}
SENSIBLE = {"new": ["activate", "activate", "end"], "active": ["park", "end", "wrapup"],
            "parked": ["activate", "end"], "active-wrapup": ["extend", "finish", "finish", "park"],
            "parked-wrapup": ["activate"]}
VERBS = ["take", "activate", "park", "end", "wrapup", "extend", "finish"]


class Planner:
    """A worker's seeded command generator.  Like a QA script, it mostly does what makes sense for
    what it believes its inbox holds (refreshed by its reads and by the results of its commands),
    and sometimes something random: other workers' chats, default ids, wrong states."""

    def __init__(self, worker: int):
        self.rng = random.Random(SEED * 1000 + worker)
        self.worker, self.me = worker, f"w{worker}"
        self.inbox: dict[str, str] = {}  # chat id -> believed state
        self.queued: set[str] = set()
        self.made = 0
        self.on_call = False
        self.presence = "available"

    def target(self) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < 0.4 and self.inbox:
            return rng.choice(sorted(self.inbox))
        if roll < 0.55 and self.made:
            return f"{self.me}-{rng.randrange(self.made)}"
        if roll < 0.85:
            other = rng.choice([w for w in range(WORKERS) if w != self.worker])
            return f"w{other}-{rng.randrange(max(1, self.made))}"
        return f"C{rng.randrange(1, 3 * WORKERS)}"

    def verb(self, kind: str, chat: str) -> list[str]:
        if kind in ("extend", "finish"):
            return ["chat", "wrapup", chat, f"--{kind}"]
        return ["chat", kind, chat]

    def next(self) -> list[str]:
        rng = self.rng
        if self.on_call and rng.random() < 0.5:
            return ["chat", "call-end"]
        roll = rng.random()
        if roll < 0.13:
            chat_id = f"{self.me}-{self.made}"
            self.made += 1
            words = ["chat", "new", "--id", chat_id, "--customer", f"Customer {chat_id}"]
            if len(self.inbox) < 3 and rng.random() < 0.7:
                words.append("--inbox")
            if rng.random() < 0.3:
                words += ["--priority", str(rng.randint(-5, 5))]
            if rng.random() < 0.3:
                words += ["--queue", rng.choice(["sales", "support"])]
            return words
        if roll < 0.16:
            return ["chat", "new"] + (["--inbox"] if rng.random() < 0.3 else [])
        if roll < 0.58:
            if self.queued and len(self.inbox) < 3 and rng.random() < 0.25:
                return ["chat", "take", rng.choice(sorted(self.queued))]
            if self.inbox:
                chat = rng.choice(sorted(self.inbox))
                return self.verb(rng.choice(SENSIBLE[self.inbox[chat]]), chat)
            return ["chat", "list"]
        if roll < 0.68:
            return self.verb(rng.choice(VERBS), self.target())
        if roll < 0.74:
            return ["agent", "available" if self.presence == "break" or rng.random() < 0.6 else "break"]
        if roll < 0.77:
            return ["chat", "call-start" if not self.on_call or rng.random() < 0.1 else "call-end"]
        if roll < 0.86:
            return ["clock", "advance", rng.choice(list(DURATIONS))]
        return rng.choice([
            ["chat", "list"], ["chat", "list"], ["chat", "list", "--all", "--state", "queued"],
            ["chat", "show", self.target()], ["agent", "status"], ["events", "--chat", self.target()],
        ])

    def simulate(self, words: list[str]) -> None:
        """Believe the command will succeed (for the lines of one scenario file, run together)."""
        kind = kind_of(words)
        chat = words[2] if len(words) > 2 and kind in VERBS else None
        state = self.inbox.get(chat) if chat else None
        if kind == "new" and "--inbox" in words and "--id" in words:
            self.inbox[words[words.index("--id") + 1]] = "new"
        elif kind == "take" and chat in self.queued:
            self.queued.discard(chat)
            self.inbox[chat] = "new"
        elif state is None:
            pass
        elif kind == "activate" and state in ACTIVATE:
            self._park_active()
            self.inbox[chat] = ACTIVATE[state]
        elif kind == "park" and state in PARK:
            self.inbox[chat] = PARK[state]
        elif kind == "end" and state in END:
            self.inbox[chat] = END[state]
        elif kind == "wrapup" and state == "active":
            self.inbox[chat] = "active-wrapup"
        elif kind == "finish" and state == "active-wrapup":
            del self.inbox[chat]

    def _park_active(self) -> None:
        for other, st in self.inbox.items():
            if st in PARK:
                self.inbox[other] = PARK[st]

    def observe(self, words: list[str], code: int, result) -> None:
        """Correct the beliefs with what actually happened."""
        kind = kind_of(words)
        if words[:2] == ["chat", "list"] and code == 0:
            if "--all" in words:
                self.queued = {c["id"] for c in result if c["state"] == "queued"}
            else:
                self.inbox = {c["id"]: c["state"] for c in result}
        elif kind == "call":
            self.on_call = (words[1] == "call-start") == (code == 0)
        elif kind in ("available", "break") and code == 0:
            self.presence = kind
        elif isinstance(result, dict) and "state" in result and "id" in result:
            if kind == "activate":
                self._park_active()
            chat = result["id"]
            self.queued.discard(chat)
            self.inbox.pop(chat, None)
            if result["state"] == "queued":
                self.queued.add(chat)
            elif result["agent"] == self.me and result["state"] != "closed":
                self.inbox[chat] = result["state"]
        elif code in (3, 4) and kind in VERBS and len(words) > 2:
            self.inbox.pop(words[2], None)
            self.queued.discard(words[2])


def kind_of(words: list[str]) -> str:
    if words[:2] == ["chat", "new"]:
        return "new"
    if words[:2] == ["chat", "wrapup"]:
        return "extend" if "--extend" in words else "finish" if "--finish" in words else "wrapup"
    if words[0] == "chat" and words[1] in ("take", "activate", "park", "end"):
        return words[1]
    if words[0] == "chat" and words[1] in ("call-start", "call-end"):
        return "call"
    if words[0] == "agent" and words[1] in ("available", "break"):
        return words[1]
    if words[:2] == ["clock", "advance"]:
        return "advance"
    return "read"


class Record:
    """One command as run: who, what, the exit code, the result (JSON) and stderr."""

    def __init__(self, worker: int, words: list[str], code: int, result, err: str, via: str):
        self.worker, self.words, self.code, self.result, self.err, self.via = worker, words, code, result, err, via

    def __repr__(self):
        return f"w{self.worker} [{self.via}] {' '.join(self.words)} -> {self.code} {self.err.strip()!r}"


def as_process(cm: Chatemu, plan: Planner, records: list, problems: list) -> None:
    """Every command its own ``chatemu`` process (with ``--json``, to read the result)."""
    for _ in range(COMMANDS):
        words = plan.next()
        done = cm.run(*words, "--json", agent=plan.me)
        result = None
        if done.code == 0:
            try:
                result = json.loads(done.out)
            except ValueError:
                problems.append(f"{plan.me}: not one JSON document on stdout: {done}")
        else:
            lines_err = done.err.splitlines()
            if done.out or len(lines_err) != 1 or not lines_err[0].startswith("error: "):
                problems.append(f"{plan.me}: a refusal is not exactly one error line: {done}")
        plan.observe(words, done.code, result)
        records.append(Record(plan.worker, words, done.code, result, done.err, "process"))


def as_scenarios(cm: Chatemu, plan: Planner, records: list, problems: list, folder, progress) -> None:
    """The commands in ``chatemu run`` files of CHUNK lines, each file started once the process
    workers got proportionally as far, so that both kinds overlap from start to end whatever the
    machine's speed."""
    import shlex

    rng = random.Random(SEED * 7 + plan.worker)
    for start in range(0, COMMANDS, CHUNK):
        deadline = time.monotonic() + 120
        while progress() < start / COMMANDS and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(rng.uniform(0, 0.1))
        chunk = []
        for _ in range(min(CHUNK, COMMANDS - start)):
            chunk.append(plan.next())
            plan.simulate(chunk[-1])
        path = folder / f"{plan.me}-{start}.chatemu"
        path.write_text("".join(shlex.join(words) + "\n" for words in chunk))
        done = cm.run("run", "--keep-going", "--json", str(path), agent=plan.me)
        try:
            results = [json.loads(line) for line in done.out.splitlines()]
        except ValueError:
            problems.append(f"{plan.me}: run --json printed a line that is not JSON: {done}")
            continue
        if [r["line"] for r in results] != list(range(1, len(chunk) + 1)):
            problems.append(f"{plan.me}: run --keep-going did not report every line: {done}")
            continue
        failed = [r for r in results if r["exit"]]
        err_lines = done.err.splitlines()
        if len(err_lines) != len(failed) or not all(line.startswith("error: ") for line in err_lines):
            problems.append(f"{plan.me}: stderr is not one error line per failed line: {done}")
        expected_code = failed[0]["exit"] if failed else 0
        if done.code != expected_code:
            problems.append(f"{plan.me}: run exited {done.code}, its first failing line {expected_code}: {done}")
        for words, r in zip(chunk, results):
            plan.observe(words, r["exit"], r.get("result"))
            records.append(Record(plan.worker, words, r["exit"], r.get("result"), r.get("error", ""), "run"))


def test_parallel_writers(tmp_path):
    cm = Chatemu(tmp_path / "shared.db")
    cm.ok("clock", "set", START)
    for w in range(WORKERS):
        cm.ok("agent", "login", agent=f"w{w}")
    plans = {w: Planner(w) for w in range(WORKERS)}
    records: dict[int, list[Record]] = {w: [] for w in range(WORKERS)}
    problems: list[str] = []
    crashed: list[BaseException] = []

    def progress() -> float:
        """How far the process workers are, 0 to 1."""
        return sum(len(records[w]) for w in range(0, WORKERS, 2)) / (len(range(0, WORKERS, 2)) * COMMANDS)

    def work(w: int) -> None:
        try:
            if w % 2 == 0:
                as_process(cm, plans[w], records[w], problems)
            else:
                as_scenarios(cm, plans[w], records[w], problems, tmp_path, progress)
        except BaseException as exc:  # surfaced below
            crashed.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not crashed, crashed
    everything = [r for w in range(WORKERS) for r in records[w]]
    assert len(everything) == WORKERS * COMMANDS

    # No lock errors, no internal errors, no usage errors: only done, refused or unknown chat.
    bad = [r for r in everything if r.code not in (0, 3, 4) or "Traceback" in r.err or "locked" in r.err]
    assert not bad, "\n".join(map(repr, bad[:20]))
    assert not problems, "\n".join(problems[:20])
    codes = Counter(r.code for r in everything)
    assert codes[0] > len(everything) // 4, codes  # the mix does real work, not only refusals
    print("exit codes:", dict(codes), "kinds done:", dict(Counter(kind_of(r.words) for r in everything if r.code == 0)))
    ok = [r for r in everything if r.code == 0]

    final = cm.js("events")
    chats = cm.js("chat", "list", "--all")

    # Chats: exactly those the successful `chat new` commands reported, each created once.
    created = [r.result["id"] for r in ok if kind_of(r.words) == "new"]
    assert len(created) == len(set(created)), Counter(created).most_common(3)
    assert sorted(c["id"] for c in chats) == sorted(created)
    creations = Counter(e["chat"] for e in final if e["chat"] is not None and e["from"] is None)
    assert creations == Counter(created)
    assert all(e["cause"] == "customer" for e in final if e["chat"] is not None and e["from"] is None)
    for r in ok:
        if kind_of(r.words) == "new" and "--id" in r.words:
            assert r.result["id"] == r.words[r.words.index("--id") + 1], r

    # Per chat and cause: successful commands == their events.
    cause_of = {"take": "take", "activate": "activate", "park": "park", "end": "customer",
                "wrapup": "wrapup", "extend": "extend", "finish": "finish"}
    expected = Counter()
    for r in ok:
        kind = kind_of(r.words)
        if kind in cause_of:
            assert r.result["id"] == r.words[2], r
            expected[(r.words[2], cause_of[kind])] += 1
    logged = Counter()
    for e in final:
        if e["chat"] is None or e["from"] is None:
            continue
        if e["cause"] == "activate" and e["to"] not in ("active", "active-wrapup"):
            continue  # the other chat parked by an activate
        if e["cause"] in cause_of.values():
            logged[(e["chat"], e["cause"])] += 1
    missing, extra = expected - logged, logged - expected
    assert not missing and not extra, f"commands without their events: {dict(missing)}; events without a command: {dict(extra)}"

    # Per agent: presence changes and calls.
    for w in range(WORKERS):
        agent = f"w{w}"
        presence, changes, calls = "available", 0, 0
        for r in records[w]:
            if r.code != 0:
                continue
            kind = kind_of(r.words)
            if kind in ("available", "break"):
                changes += kind != presence
                presence = kind
            elif kind == "call":
                calls += 1
        mine = [e for e in final if e["chat"] is None and e["agent"] == agent]
        assert sum(e["cause"] in ("available", "break") for e in mine) == changes, agent
        assert sum(e["cause"] == "call" for e in mine) == calls, agent
        assert sum(e["cause"] == "login" for e in mine) == 1, agent
        # the rest: its status changed by its chats' moves
        chat_causes = {"activate", "park", "customer", "wrapup", "finish", "timer", "transfer", "return", "take"}
        assert {e["cause"] for e in mine} - {"available", "break", "call", "login"} <= chat_causes, agent
    assert {e["agent"] for e in final if e["chat"] is None} <= {f"w{w}" for w in range(WORKERS)}

    # The clock moved by exactly the successful advances.
    advanced = sum(DURATIONS[r.words[2]] for r in ok if kind_of(r.words) == "advance")
    start = datetime.fromisoformat(START.replace("Z", "+00:00"))
    now = datetime.fromisoformat(cm.js("clock")["now"].replace("Z", "+00:00"))
    assert round((now - start).total_seconds() * 1000) == advanced

    # Event seq is gapless and ordered (db check checks it too, and every invariant).
    assert [e["seq"] for e in final] == list(range(1, len(final) + 1))
    check = cm.run("db", "check")
    assert check.code == 0, check
