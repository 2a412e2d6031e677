"""Simulation models and plans (pure): what ``chatemu simulate`` reads and decides.

A model file (TOML) describes a day: queues with their arrivals, handle times, patience
and messages, and groups of virtual agents.  ``parse`` checks it (one clear ``UsageError``
per mistake) and returns a ``Model``.  A ``Plan`` holds what is still to happen: a heap of
virtual instants (the next arrival of each queue, each virtual agent's and customer's next
step), the random streams (one ``random.Random`` per purpose and queue, seeded from the
model's seed) and the customers' drawn figures.  The plan is saved as JSON in the database
between runs (``Plan.dumps``/``Plan.loads``), so a second run carries on exactly.

Nothing here reads a clock or the database: times are integer milliseconds.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import math
import random

from .errors import UsageError
from .timefmt import parse_duration, parse_time
from .validate import check_name

#: The instant a fresh database's day starts at when the model names none (a Monday).
DEFAULT_START = "2026-01-05T08:00:00Z"
HOUR_MS = 3_600_000
DISTRIBUTIONS = ("fixed", "exponential", "lognormal")
MESSAGE_DISTRIBUTIONS = ("poisson", "fixed")
#: Limits that keep a model within what one machine can simulate.
MAX_AGENTS = 10_000
MAX_RATE = 1_000_000  # arrivals per hour
MAX_LENGTH_MS = 366 * 24 * HOUR_MS
MAX_MESSAGES = 1_000

_TOP = ("seed", "length", "start", "queue", "agents")
_QUEUE = ("name", "arrivals_per_hour", "arrivals_by_hour", "handle_time", "patience", "messages", "priority")
_AGENTS = ("count", "queues", "max_chats", "reply_delay", "wrapup", "name")
_DIST = ("mean", "distribution", "sd")
_MESSAGES = ("mean", "distribution")


class Dist:
    """A duration drawn at random: ``fixed``, ``exponential`` or ``lognormal`` (mean and sd, ms)."""

    __slots__ = ("kind", "mean", "sd", "mu", "sigma")

    def __init__(self, kind: str, mean: int, sd: int | None = None):
        self.kind, self.mean, self.sd = kind, mean, sd
        self.mu = self.sigma = 0.0
        if kind == "lognormal":
            self.sigma = math.sqrt(math.log(1 + (sd / mean) ** 2))
            self.mu = math.log(mean) - self.sigma ** 2 / 2

    def draw(self, rng: random.Random) -> int:
        if self.kind == "fixed":
            return self.mean
        if self.kind == "exponential":
            return round(rng.expovariate(1.0) * self.mean)
        return round(rng.lognormvariate(self.mu, self.sigma))

    def shown(self) -> dict:
        return {"mean": self.mean, "distribution": self.kind, **({"sd": self.sd} if self.sd is not None else {})}


class Queue:
    __slots__ = ("name", "rates", "handle", "patience", "messages", "message_kind", "priority")

    def __init__(self, name, rates, handle, patience, messages, message_kind, priority):
        self.name = name
        self.rates = rates  # 24 arrivals per hour, by the hour of the day (UTC)
        self.handle, self.patience = handle, patience
        self.messages, self.message_kind = messages, message_kind
        self.priority = priority


class Group:
    __slots__ = ("ids", "queues", "max_chats", "reply_delay", "wrapup")

    def __init__(self, ids, queues, max_chats, reply_delay, wrapup):
        self.ids, self.queues, self.max_chats = ids, queues, max_chats
        self.reply_delay = reply_delay
        self.wrapup = wrapup  # ms, or None: the wrap-up timer runs out


class Model:
    __slots__ = ("seed", "length", "start", "queues", "groups", "digest")

    def __init__(self, seed, length, start, queues, groups, digest):
        self.seed, self.length, self.start = seed, length, start
        self.queues: list[Queue] = queues
        self.groups: list[Group] = groups
        self.digest = digest  # what a saved plan is checked against

    def agents(self) -> dict[str, Group]:
        return {agent: group for group in self.groups for agent in group.ids}


# -- parsing and checking -----------------------------------------------------------


def load(path: str) -> Model:
    """Read and check a model file; any mistake is one ``UsageError`` (exit 2)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as exc:
        raise UsageError(f"cannot read model {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"model {path} is not valid TOML: {exc}") from None
    return parse(data, path)


def _fail(where: str, what: str):
    raise UsageError(f"{where}: {what}")


def _keys(where: str, table, allowed: tuple[str, ...]) -> None:
    if not isinstance(table, dict):
        _fail(where, "must be a table")
    for key in table:
        if key not in allowed:
            _fail(where, f"unknown key {key!r} (keys: {', '.join(allowed)})")


def _number(where: str, value, low: float = 0, high: float = MAX_RATE, whole: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (whole and not isinstance(value, int)):
        _fail(where, f"{value!r} is not {'a whole number' if whole else 'a number'}")
    if not (low <= value <= high) or value != value:
        _fail(where, f"{value!r} is out of range ({low} to {high})")
    return value


def _duration(where: str, value, positive: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        _fail(where, f"{value!r} is not a duration (e.g. \"90s\", \"3m\", \"1h\")")
    if isinstance(value, (int, float)) and value < 0:
        _fail(where, f"{value!r} is negative")
    try:
        ms = parse_duration(str(value))
    except UsageError as exc:
        _fail(where, exc.message)
    if positive and ms <= 0:
        _fail(where, f"{value!r} must be longer than 0s")
    return ms


def _dist(where: str, table) -> Dist:
    _keys(where, table, _DIST)
    if "mean" not in table:
        _fail(where, "mean is missing")
    mean = _duration(f"{where}.mean", table["mean"])
    kind = table.get("distribution", "exponential")
    if kind not in DISTRIBUTIONS:
        _fail(f"{where}.distribution", f"{kind!r} is not one of {', '.join(DISTRIBUTIONS)}")
    sd = None
    if kind == "lognormal":
        if "sd" not in table:
            _fail(where, "a lognormal distribution needs sd")
        sd = _duration(f"{where}.sd", table["sd"], positive=True)
        if mean <= 0:
            _fail(f"{where}.mean", "a lognormal distribution needs a mean longer than 0s")
    elif "sd" in table:
        _fail(f"{where}.sd", f"only a lognormal distribution takes sd (this one is {kind})")
    if kind == "exponential" and mean <= 0:
        _fail(f"{where}.mean", "an exponential distribution needs a mean longer than 0s")
    return Dist(kind, mean, sd)


def _queue(path: str, where: str, table) -> Queue:
    _keys(where, table, _QUEUE)
    if "name" not in table:
        _fail(where, "name is missing")
    name = table["name"]
    if not isinstance(name, str):
        _fail(f"{where}.name", f"{name!r} is not a name")
    try:
        check_name("queue", name)
    except UsageError as exc:
        _fail(f"{where}.name", exc.message)
    where = f"{path}: queue {name}"
    per_hour, by_hour = table.get("arrivals_per_hour"), table.get("arrivals_by_hour")
    if (per_hour is None) == (by_hour is None):
        _fail(where, "give arrivals_per_hour or arrivals_by_hour (one of them)")
    if per_hour is not None:
        rates = (float(_number(f"{where}.arrivals_per_hour", per_hour)),) * 24
    else:
        if not isinstance(by_hour, list) or len(by_hour) != 24:
            _fail(f"{where}.arrivals_by_hour", "must be a list of 24 numbers (arrivals per hour, hour 0 to 23 UTC)")
        rates = tuple(float(_number(f"{where}.arrivals_by_hour[{i}]", v)) for i, v in enumerate(by_hour))
    if "handle_time" not in table:
        _fail(where, "handle_time is missing")
    handle = _dist(f"{where}.handle_time", table["handle_time"])
    patience = _dist(f"{where}.patience", table["patience"]) if "patience" in table else None
    messages, message_kind = 0.0, "fixed"
    if "messages" in table:
        spec = table["messages"]
        _keys(f"{where}.messages", spec, _MESSAGES)
        if "mean" not in spec:
            _fail(f"{where}.messages", "mean is missing")
        messages = float(_number(f"{where}.messages.mean", spec["mean"], high=MAX_MESSAGES))
        message_kind = spec.get("distribution", "poisson")
        if message_kind not in MESSAGE_DISTRIBUTIONS:
            _fail(f"{where}.messages.distribution", f"{message_kind!r} is not one of {', '.join(MESSAGE_DISTRIBUTIONS)}")
        if message_kind == "fixed" and messages != int(messages):
            _fail(f"{where}.messages.mean", f"{messages!r}: a fixed number of messages is a whole number")
    priority = int(_number(f"{where}.priority", table.get("priority", 0), low=-1000, high=1000, whole=True))
    return Queue(name, rates, handle, patience, messages, message_kind, priority)


def _group(where: str, table, queues: set[str], taken: set[str], numbered: list[int]) -> Group:
    _keys(where, table, _AGENTS)
    if "count" not in table:
        _fail(where, "count is missing")
    count = int(_number(f"{where}.count", table["count"], low=1, high=MAX_AGENTS, whole=True))
    served = table.get("queues")
    if served is None:
        _fail(where, "queues is missing")
    if not isinstance(served, list) or not served or not all(isinstance(q, str) for q in served):
        _fail(f"{where}.queues", "must be a list of queue names")
    for queue in served:
        if queue not in queues:
            _fail(f"{where}.queues", f"unknown queue {queue!r} (the model's queues: {', '.join(sorted(queues))})")
    if len(set(served)) != len(served):
        _fail(f"{where}.queues", "a queue is named twice")
    max_chats = int(_number(f"{where}.max_chats", table.get("max_chats", 1), low=1, high=1000, whole=True))
    delay = _duration(f"{where}.reply_delay", table.get("reply_delay", "0s"))
    wrapup_text = table.get("wrapup", "0s")
    wrapup = None if wrapup_text == "timer" else _duration(f"{where}.wrapup", wrapup_text)
    prefix = table.get("name", "sim")
    if not isinstance(prefix, str):
        _fail(f"{where}.name", f"{prefix!r} is not a name")
    ids = []
    for _ in range(count):
        numbered[0] += 1 if prefix == "sim" else 0
        ids.append(f"sim-{numbered[0]}" if prefix == "sim" else f"{prefix}-{len(ids) + 1}")
    for agent in ids:
        try:
            check_name("agent id", agent)
        except UsageError as exc:
            _fail(f"{where}.name", exc.message)
        if agent in taken:
            _fail(f"{where}.name", f"agent {agent} is in two groups")
        taken.add(agent)
    return Group(tuple(ids), tuple(served), max_chats, delay, wrapup)


def parse(data: dict, path: str = "model") -> Model:
    """The model a TOML document describes, checked."""
    _keys(path, data, _TOP)
    for key in ("seed", "length", "queue", "agents"):
        if key not in data:
            _fail(path, f"{key} is missing")
    seed = int(_number(f"{path}: seed", data["seed"], high=2 ** 63, whole=True))
    length = _duration(f"{path}: length", data["length"], positive=True)
    if length > MAX_LENGTH_MS:
        _fail(f"{path}: length", "is longer than 366 days")
    start = None
    if "start" in data:
        text = data["start"]
        if not isinstance(text, str):
            _fail(f"{path}: start", f"{text!r} is not a time (a string, e.g. \"2026-01-05T08:00:00Z\")")
        try:
            start = parse_time(text)
        except UsageError as exc:
            _fail(f"{path}: start", exc.message)
    tables = data["queue"]
    if not isinstance(tables, list) or not tables:
        _fail(f"{path}: queue", "must be one or more [[queue]] tables")
    queues = [_queue(path, f"{path}: queue #{i + 1}", t) for i, t in enumerate(tables)]
    names = [q.name for q in queues]
    if len(set(names)) != len(names):
        _fail(f"{path}: queue", "a queue name is given twice")
    groups_in = data["agents"]
    if not isinstance(groups_in, list) or not groups_in:
        _fail(f"{path}: agents", "must be one or more [[agents]] tables")
    taken: set[str] = set()
    numbered = [0]
    groups = [_group(f"{path}: agents #{i + 1}", t, set(names), taken, numbered) for i, t in enumerate(groups_in)]
    if len(taken) > MAX_AGENTS:
        _fail(f"{path}: agents", f"more than {MAX_AGENTS} agents")
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return Model(seed, length, start, queues, groups, digest)


# -- the plan: what is still to happen ------------------------------------------------

#: Kinds of step, in the order two steps at one instant are taken when scheduled together.
ARRIVE, ABANDON, ACTIVATE, RECEIVE, SEND, END, FINISH, TICK = (
    "arrive", "abandon", "activate", "receive", "send", "end", "finish", "tick")


def stream(seed: int, purpose: str, queue: str) -> random.Random:
    """One purpose's random stream for one queue: adding a queue or a draw elsewhere leaves it alone."""
    return random.Random(f"chatemu-simulate/{seed}/{purpose}/{queue}")


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson-distributed count (Knuth's method, in pieces for a large mean)."""
    count = 0
    while mean > 0:
        part = min(mean, 30.0)
        mean -= part
        limit, product = math.exp(-part), rng.random()
        while product > limit:
            count += 1
            product *= rng.random()
    return count


class Plan:
    """The heap of next steps, the random streams and the customers still being served."""

    def __init__(self, model: Model, start: int):
        self.model = model
        self.start = start
        self.end = start + model.length  # customers arrive until then
        self.heap: list[list] = []
        self.seq = 0
        self.rngs: dict[str, random.Random] = {}
        self.customers: dict[str, list] = {}  # chat id → [handle ms, messages]
        self.arrived = 0
        self.queues = {q.name: q for q in model.queues}
        for queue in model.queues:
            for purpose in ("arrivals", "handle", "patience", "messages"):
                self.rngs[f"{purpose}/{queue.name}"] = stream(model.seed, purpose, queue.name)
            self.next_arrival(queue.name, start)

    # the heap: [at, seq, kind, chat or queue, agent]
    def push(self, at: int, kind: str, subject: str, agent: str | None = None) -> None:
        self.seq += 1
        heapq.heappush(self.heap, [at, self.seq, kind, subject, agent])

    def pop(self) -> list:
        return heapq.heappop(self.heap)

    def next_at(self) -> int | None:
        return self.heap[0][0] if self.heap else None

    def next_arrival(self, queue_name: str, after: int) -> None:
        """Schedule the queue's next arrival after ``after`` (a Poisson process whose rate
        follows the hour of the day, drawn by thinning), if it comes before the end."""
        queue = self.queues[queue_name]
        top = max(queue.rates)
        if top <= 0:
            return
        rng = self.rngs[f"arrivals/{queue_name}"]
        at = float(after)
        while True:
            at += rng.expovariate(top) * HOUR_MS
            if at >= self.end:
                return
            rate = queue.rates[int(at // HOUR_MS) % 24]
            if rate >= top or rng.random() * top < rate:
                self.push(int(at), ARRIVE, queue_name)
                return

    def customer(self, queue_name: str) -> tuple[int, int, int | None]:
        """A new customer's handle time, number of messages and patience (None: waits for ever)."""
        queue = self.queues[queue_name]
        handle = queue.handle.draw(self.rngs[f"handle/{queue_name}"])
        rng = self.rngs[f"messages/{queue_name}"]
        messages = int(queue.messages) if queue.message_kind == "fixed" else poisson(rng, queue.messages)
        patience = None if queue.patience is None else queue.patience.draw(self.rngs[f"patience/{queue_name}"])
        self.arrived += 1
        return handle, messages, patience

    # -- saved between runs -----------------------------------------------------------

    def dumps(self, now: int) -> str:
        return json.dumps({
            "model": self.model.digest, "start": self.start, "now": now, "seq": self.seq, "arrived": self.arrived,
            "heap": sorted(self.heap), "customers": self.customers,
            "rngs": {name: [rng.getstate()[0], list(rng.getstate()[1]), rng.getstate()[2]]
                     for name, rng in sorted(self.rngs.items())},
        }, separators=(",", ":"), sort_keys=True)

    @classmethod
    def loads(cls, model: Model, text: str) -> "Plan":
        saved = json.loads(text)
        if saved.get("model") != model.digest:
            from .errors import Refused

            raise Refused("cannot simulate this model here: the database holds an unfinished simulation of another"
                          " model (or seed); finish it with that model, or start afresh (chatemu reset)")
        plan = cls.__new__(cls)
        plan.model = model
        plan.start = saved["start"]
        plan.end = plan.start + model.length
        plan.heap = [list(item) for item in saved["heap"]]
        heapq.heapify(plan.heap)
        plan.seq = saved["seq"]
        plan.arrived = saved["arrived"]
        plan.customers = {k: list(v) for k, v in saved["customers"].items()}
        plan.queues = {q.name: q for q in model.queues}
        plan.rngs = {}
        for name, (version, internal, gauss) in saved["rngs"].items():
            rng = random.Random()
            rng.setstate((version, tuple(internal), gauss))
            plan.rngs[name] = rng
        return plan
