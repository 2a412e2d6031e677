#!/usr/bin/env python3
"""chatemu's speed, measured as ratios against baselines timed in the same run.

Every shell-script step is a new ``chatemu`` process, so start-up is the
product's speed.  This script (not a test: it asserts nothing unless
``--check``) measures on this machine, in one run:

1. start-up: ``chatemu chat park L1`` / ``activate`` (alternating, on a prepared
   database) against ``baseline_app.py``, a minimal Typer app with the same
   Typer that does the same kind of SQLite transaction with ``sqlite3`` only;
   plus ``python -c pass``, ``import typer``, ``import chatemu.cli.app`` and
   ``chatemu --help`` for context, and what ``python -X importtime`` says
   ``chatemu chat park`` imports (rich and sqlite_utils must not be among them);
2. batch: state-changing steps per second through the engine API in one
   process (with the connection kept open, ``Engine.kept_open()``, and with a
   connection per call), against a bare ``sqlite3`` loop doing the same
   transactions (one ``BEGIN IMMEDIATE`` … ``COMMIT`` each); and ``chatemu run
   FILE`` on a realistic mix of lines (``mixed_scenario``; the sustained rate: a
   long file minus a 2-line file) against a bare loop of as many transactions;
3. scale: ``chat list`` and a state change on a database holding 100,000
   closed chats and 1,000,000 events against an empty one, and the cost of
   settling N due wrap-up timers against history size;
3b. queue: ``clock advance 2m`` running out N wrap-up timers (N agents at
   capacity 1) with N chats queued, each expiry presenting one, N up to 3,000:
   its time and the cost per timer at each N; and the same with the clocks beyond wrap-up
   (each queued chat's reply alert and N more queued chats' patience running out, 3N
   timers of three kinds interleaved in time);
3c. routing: ``chatemu run`` of 300 ``chat new`` lines (each chat queued) with 20 and with
   2,000 agents, all busy; and building N agents in wrap-up with N chats queued (N = 250,
   500, 1,000): what a queued chat costs must not grow with the number of agents;
4. peak memory (max RSS) of those processes, empty against big database;
5. whole: ``export``, ``import``, ``snapshot save/list/restore``, ``events`` and
   ``stats agents``/``stats queues`` and ``timeline`` on databases of two sizes: peak RSS and
   time, and time per row (``timeline`` draws the latest chats whatever the size; it and the
   statistics: at most 3 s);
6. serve: the requests per second and p50/p99 latency of 16 HTTP clients at once (keep-alive
   connections, each client its own agent and chats, one namespace) sending a state-changing
   mix to ``chatemu serve``, against ``chatemu run`` of the same lines (sustained) in the same run.

Runs are interleaved (candidate, baseline, candidate, … in rotating order)
and summarised as min and median of many repetitions, because these machines
are noisy; ratios are median/median (min/min in brackets).

    .venv/bin/python benchmarks/bench.py            # the full run, a few minutes
    .venv/bin/python benchmarks/bench.py --quick    # a smoke run, seconds
    .venv/bin/python benchmarks/bench.py --json     # the numbers as one JSON document
    .venv/bin/python benchmarks/bench.py --check    # exit 1 if a target is missed
    .venv/bin/python benchmarks/bench.py --only startup --tmpdir /dev/shm --keep
    .venv/bin/python benchmarks/bench.py --only serve

Exit codes: 0 done (any result without ``--check``), 1 a target missed (only
with ``--check``), 2 the benchmark itself could not run a section.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
BASELINE_APP = HERE / "baseline_app.py"

#: The virtual clock every benchmark database starts at.
START_ISO = "2026-01-05T09:00:00Z"
START_MS = 1767603600000
#: The chat every state change toggles (active <-> parked); not C1, which big history uses.
LIVE = "L1"
#: Agents the history is spread over (agent-1, the acting agent, is one of them).
HISTORY_AGENTS = 100
EVENTS_PER_CHAT = 10
NO_PYC = {"PYTHONDONTWRITEBYTECODE": "1"}


# -- configuration --------------------------------------------------------------------


@dataclass
class Plan:
    """How much to measure: --quick is a smoke run, the default a full one."""

    startup_rounds: int
    importtime_runs: int
    batch_steps: int
    batch_rounds: int
    run_lines: int
    scale_chats: int
    scale_rounds: int
    settle_timers: tuple[int, ...]
    settle_rounds: int
    memory_runs: int
    warmup: int
    queue_sizes: tuple[int, ...]
    queue_rounds: int
    whole_sizes: tuple[int, ...]
    whole_rounds: int
    serve_chats: int
    serve_rounds: int
    busy_agents: tuple[int, int]
    busy_lines: int
    busy_rounds: int
    ending_sizes: tuple[int, ...]
    ending_rounds: int
    simulate_until: str | None = None  # `simulate --until` (None: the whole day)

    @classmethod
    def quick(cls) -> "Plan":
        return cls(
            startup_rounds=2, importtime_runs=1, batch_steps=100, batch_rounds=1, run_lines=100,
            scale_chats=300, scale_rounds=2, settle_timers=(0, 10), settle_rounds=1,
            memory_runs=1, warmup=1, queue_sizes=(20, 40), queue_rounds=1,
            whole_sizes=(100, 400), whole_rounds=1, serve_chats=2, serve_rounds=1,
            busy_agents=(5, 50), busy_lines=30, busy_rounds=1, ending_sizes=(10, 20), ending_rounds=1,
            simulate_until="20m",
        )

    @classmethod
    def full(cls) -> "Plan":
        return cls(
            startup_rounds=41, importtime_runs=7, batch_steps=2_000, batch_rounds=9, run_lines=4_000,
            scale_chats=100_000, scale_rounds=25, settle_timers=(0, 10, 100, 1000), settle_rounds=7,
            memory_runs=5, warmup=3, queue_sizes=(500, 1000, 2000, 3000), queue_rounds=5,
            whole_sizes=(25_000, 100_000), whole_rounds=2, serve_chats=14, serve_rounds=5,
            busy_agents=(20, 2_000), busy_lines=300, busy_rounds=7, ending_sizes=(250, 500, 1_000), ending_rounds=3,
        )


class BenchError(Exception):
    """The benchmark could not do what it needed (a command failed, a tool is missing)."""


# -- statistics and formatting --------------------------------------------------------


def summary(samples: list[float]) -> dict:
    return {"min": min(samples), "median": statistics.median(samples), "n": len(samples)}


def ms(value: float) -> str:
    return f"{value:.1f} ms" if value < 1000 else f"{value / 1000:.2f} s"


def ms_pair(s: dict) -> str:
    return f"{ms(s['min'])} / {ms(s['median'])}"


def rate_pair(s: dict) -> str:
    return f"{s['max']:,.0f} / {s['median']:,.0f} steps/s"


def mb(kb: float) -> str:
    return f"{kb / 1024:.1f} MB"


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# -- processes ------------------------------------------------------------------------


def script_interpreter(script: str) -> str | None:
    """The Python a console script runs with (its shebang), if it is one."""
    try:
        with open(script, "rb") as f:
            first = f.readline().decode("utf-8", "replace").strip()
    except OSError:
        return None
    if not (first.startswith("#!") and "python" in first):
        return None
    words = first[2:].split()
    if words and os.path.basename(words[0]) == "env":  # #!/usr/bin/env python3
        words = [w for w in words[1:] if not w.startswith("-")]
        found = shutil.which(words[0]) if words else None
        return found
    return words[0] if words and os.path.isfile(words[0]) else None


def base_env() -> dict:
    """The environment children run with: no CHATEMU_* settings, no profiling, no colour."""
    drop = {"PYTHONPROFILEIMPORTTIME", "PYTHONDEVMODE", "PYTHONTRACEMALLOC", "PYTHONMALLOC",
            "COVERAGE_PROCESS_START", "PYTHONBREAKPOINT"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATEMU_") and k not in drop}
    env["NO_COLOR"] = "1"
    return env


class Runner:
    """Starts processes: timed ones with ``posix_spawn`` + ``wait4`` (low, equal overhead
    for every command), checked ones with ``subprocess``, memory ones with ``/usr/bin/time``."""

    def __init__(self, tmp: Path, chatemu: str, python: str):
        self.tmp = tmp
        self.chatemu = chatemu
        self.python = python
        self.env = base_env()
        # Bytecode is cached as on any normal install, in a private folder so the
        # source tree gets no __pycache__ (PYTHONDONTWRITEBYTECODE would otherwise
        # make every process recompile chatemu's editable sources).
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
        self.err = str(tmp / "stderr.txt")
        self.time_bin = shutil.which("time", path="/usr/bin:/bin")
        if self.time_bin and subprocess.run(
            [self.time_bin, "-f", "%M", "-o", os.devnull, "true"], capture_output=True
        ).returncode != 0:
            self.time_bin = None  # not GNU time

    def env_for(self, db: Path | None, extra: dict | None = None) -> dict:
        env = dict(self.env)
        env.update(extra or {})
        if db is not None:
            env["CHATEMU_DB"] = str(db)
        return env

    def timed(self, argv: list[str], db: Path | None = None, extra_env: dict | None = None) -> float:
        """Wall milliseconds from spawn to reaped; raises BenchError on a non-zero exit."""
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
            (os.POSIX_SPAWN_OPEN, 2, self.err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
        ]
        env = self.env_for(db, extra_env)
        if extra_env and extra_env.get("PYTHONDONTWRITEBYTECODE"):
            env.pop("PYTHONPYCACHEPREFIX", None)
        t0 = time.perf_counter()
        pid = os.posix_spawn(argv[0], argv, env, file_actions=actions)
        _, status, _ = os.wait4(pid, 0)
        elapsed = (time.perf_counter() - t0) * 1000
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            raise BenchError(f"{' '.join(argv)} exited {code}: {Path(self.err).read_text()[-500:].strip()}")
        return elapsed

    def check(self, argv: list[str], db: Path | None = None, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess:
        proc = subprocess.run(argv, capture_output=True, text=True, env=self.env_for(db), timeout=600)
        if proc.returncode not in ok:
            raise BenchError(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr[-500:].strip()}")
        return proc

    def cm(self, db: Path, *args: str) -> subprocess.CompletedProcess:
        return self.check([self.chatemu, *args], db)

    @property
    def memory_method(self) -> str:
        return "/usr/bin/time -f %M" if self.time_bin else "python -S launcher, wait4 ru_maxrss"

    def peak_kb(self, argv: list[str], db: Path | None = None) -> int:
        """The child's peak RSS in KiB.

        Not ``getrusage(RUSAGE_CHILDREN)`` of this process: on Linux a child's
        ru_maxrss starts at its parent's RSS (fork/vfork copy the parent's
        memory map before exec), so every child of a Python parent would read
        at least as big as the parent.  ``/usr/bin/time`` is a small C program,
        so the child it forks starts from almost nothing.
        """
        out = self.tmp / "peak.txt"
        if self.time_bin:
            wrapped = [self.time_bin, "-f", "%M", "-o", str(out), *argv]
        else:
            launcher = (
                "import os,sys\n"
                "pid=os.posix_spawn(sys.argv[2],sys.argv[2:],os.environ)\n"
                "_,st,ru=os.wait4(pid,0)\n"
                "open(sys.argv[1],'w').write(str(ru.ru_maxrss))\n"
                "sys.exit(os.waitstatus_to_exitcode(st))\n"
            )
            wrapped = [self.python, "-S", "-c", launcher, str(out), *argv]
        self.check(wrapped, db)
        return int(out.read_text().split()[-1])


class Toggle:
    """``chat park L1`` / ``chat activate L1`` alternating on one database (L1 starts active)."""

    def __init__(self, argv_prefix: list[str], db: Path):
        self.prefix = argv_prefix
        self.db = db
        self.active = True

    def argv(self) -> list[str]:
        command = "park" if self.active else "activate"
        self.active = not self.active
        return [*self.prefix, "chat", command, LIVE]


def prepare_db(runner: Runner, db: Path) -> Path:
    """A real chatemu database: virtual clock at START, L1 active in agent-1's inbox."""
    runner.cm(db, "clock", "set", START_ISO)
    runner.cm(db, "chat", "new", "--inbox", "--id", LIVE, "--customer", "bench")
    runner.cm(db, "chat", "activate", LIVE)
    return db


def interleave(rounds: int, jobs: dict, warmup: int = 0) -> dict[str, list[float]]:
    """Run every job once per round, in an order that rotates (and reverses every
    other round) so no job always runs first or after the same neighbour."""
    names = list(jobs)
    for _ in range(warmup):
        for name in names:
            jobs[name]()
    samples: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        k = r % len(names)
        order = names[k:] + names[:k]
        if r % 2:
            order.reverse()
        for name in order:
            samples[name].append(jobs[name]())
    return samples


# -- targets --------------------------------------------------------------------------


@dataclass
class Report:
    targets: list[dict] = field(default_factory=list)
    sections: dict = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def target(self, check: str, measured: str, baseline: str, value: float, op: str, limit: float,
               shown_value: str, shown_limit: str) -> None:
        ok = value <= limit if op == "<=" else value >= limit
        self.targets.append({
            "check": check, "measured": measured, "baseline": baseline, "value": value,
            "shown": shown_value, "op": op, "limit": limit, "target": shown_limit, "ok": ok,
        })


def paired(candidate: list[float], baseline: list[float]) -> float:
    """The median of per-round ratios: each candidate run against the baseline run of the
    same round, so load that comes and goes hits both sides of each ratio alike."""
    return statistics.median(c / b for c, b in zip(candidate, baseline))


def ratio_text(med: float, low: float) -> str:
    return f"{med:.2f} ({low:.2f})"


# -- 1. start-up ----------------------------------------------------------------------


def parse_importtime(text: str) -> list[tuple[str, int, int, int]]:
    """``-X importtime`` lines → (module, self µs, cumulative µs, depth), in print order."""
    rows = []
    for line in text.splitlines():
        if not line.startswith("import time:") or "imported package" in line:
            continue
        try:
            self_us, cum_us, name = line[len("import time:"):].split("|", 2)
            depth = (len(name) - len(name.lstrip(" ")) - 1) // 2
            rows.append((name.strip(), int(self_us), int(cum_us), depth))
        except ValueError:
            continue
    return rows


def importers(rows: list[tuple[str, int, int, int]]) -> dict[str, str]:
    """Module → the module whose import pulled it in (importtime prints children first)."""
    parent: dict[str, str] = {}
    pending: dict[int, list[str]] = {}
    for name, _s, _c, depth in rows:
        for child in pending.pop(depth + 1, []):
            parent[child] = name
        pending.setdefault(depth, []).append(name)
    for names in pending.values():
        for child in names:
            parent.setdefault(child, "(top level)")
    return parent


def charged_to(name: str, parents: dict[str, str]) -> str:
    """Who a module's import time is charged to: the nearest of chatemu, typer (with
    its vendored click) or the editable-install finder that imported it, with the
    standard library modules each pulled in first; else the interpreter's start-up."""
    seen = set()
    while name not in seen:
        seen.add(name)
        root = name.split(".")[0]
        if root in ("chatemu", "typer", "click"):
            return f"{root} (with the stdlib it pulls in first)"
        if root.startswith("__editable__"):
            return "editable-install finder (run by site)"
        name = parents.get(name, "(top level)")
        if name == "(top level)":
            break
    return "interpreter start-up (site, encodings, io)"


def aggregate_imports(runs: list[list[tuple[str, int, int, int]]]) -> dict:
    """Medians over runs of each module's self and cumulative time, in ms."""
    per: dict[str, dict] = {}
    for rows in runs:
        for name, s, c, depth in rows:
            entry = per.setdefault(name, {"self": [], "cum": [], "depth": depth})
            entry["self"].append(s / 1000)
            entry["cum"].append(c / 1000)
    totals = [sum(c for _n, _s, c, d in rows if d == 0) / 1000 for rows in runs]
    return {
        "modules": {
            name: {"self_ms": statistics.median(e["self"]), "cumulative_ms": statistics.median(e["cum"]), "depth": e["depth"]}
            for name, e in per.items()
        },
        "total_ms": statistics.median(totals),
        "parents": importers(runs[-1]),
    }


#: Run in a fresh process: where chatemu's start-up goes, phase by phase.
BREAKDOWN = r"""
import importlib.util, json, sys, time
t = [time.perf_counter()]
import typer
t.append(time.perf_counter())
import chatemu.cli.app as app_module
t.append(time.perf_counter())
group = typer.main.get_command(app_module.app)
t.append(time.perf_counter())
from chatemu.store.engine import Engine
engine = Engine(sys.argv[1])
t.append(time.perf_counter())
engine.chat_park(sys.argv[3])
t.append(time.perf_counter())
engine.chat_activate(sys.argv[3])
spec = importlib.util.spec_from_file_location("baseline_app", sys.argv[2])
baseline = importlib.util.module_from_spec(spec)
t.append(time.perf_counter())
spec.loader.exec_module(baseline)
typer.main.get_command(baseline.app)
t.append(time.perf_counter())

def count(cmd):
    subs = getattr(cmd, "commands", None)
    return sum(count(c) for c in subs.values()) if subs else 1

ms = [(b - a) * 1000 for a, b in zip(t, t[1:])]
print(json.dumps({
    "import typer": ms[0],
    "import chatemu.cli.app (typer already imported)": ms[1],
    f"typer builds chatemu's click commands (get_command, {count(group)} commands)": ms[2],
    "one engine state change: Engine.chat_park (connect, transaction, close)": ms[4],
    "baseline app: import it and build its click commands (2 commands)": ms[6],
}))
"""


def bench_startup(runner: Runner, plan: Plan, report: Report) -> None:
    tmp = runner.tmp
    py = runner.python
    cm_db = prepare_db(runner, tmp / "startup-chatemu.db")
    base_db = prepare_db(runner, tmp / "startup-baseline.db")
    imp_db = prepare_db(runner, tmp / "startup-importtime.db")
    imp_base_db = prepare_db(runner, tmp / "startup-importtime-baseline.db")

    baseline_launch = [py, str(BASELINE_APP)]
    cm_toggle = Toggle([runner.chatemu], cm_db)
    base_toggle = Toggle(baseline_launch, base_db)
    jobs = {
        "chatemu chat park/activate": lambda: runner.timed(cm_toggle.argv(), cm_db),
        "baseline chat park/activate": lambda: runner.timed(base_toggle.argv(), base_db),
        "python -c pass": lambda: runner.timed([py, "-c", "pass"]),
        "python -c 'import typer'": lambda: runner.timed([py, "-c", "import typer"]),
        "python -c 'import chatemu.cli.app'": lambda: runner.timed([py, "-c", "import chatemu.cli.app"]),
        "chatemu --help": lambda: runner.timed([runner.chatemu, "--help"]),
        # As a shell with PYTHONDONTWRITEBYTECODE=1 runs it: sources without a
        # __pycache__ beside them (an editable install's) are compiled every time.
        "chatemu chat park/activate, PYTHONDONTWRITEBYTECODE=1": lambda: runner.timed(cm_toggle.argv(), cm_db, NO_PYC),
        "baseline chat park/activate, PYTHONDONTWRITEBYTECODE=1": lambda: runner.timed(base_toggle.argv(), base_db, NO_PYC),
    }
    progress(f"start-up: {plan.startup_rounds} interleaved rounds of {len(jobs)} commands")
    samples = interleave(plan.startup_rounds, jobs, warmup=plan.warmup)
    stats = {name: summary(values) for name, values in samples.items()}
    # Both databases must have moved: the events prove each run really committed.
    for db in (cm_db, base_db):
        conn = sqlite3.connect(db)
        try:
            n = conn.execute("SELECT count(*) FROM events WHERE chat = ?", (LIVE,)).fetchone()[0]
        finally:
            conn.close()
        if n < plan.startup_rounds:
            raise BenchError(f"{db.name}: only {n} events for {LIVE}; the state changes did not commit")

    cand, base = stats["chatemu chat park/activate"], stats["baseline chat park/activate"]
    med_ratio = paired(samples["chatemu chat park/activate"], samples["baseline chat park/activate"])
    min_ratio = cand["min"] / base["min"]
    report.target(
        "start-up: `chatemu chat park`/`activate` vs minimal Typer + sqlite3 app",
        ms_pair(cand), ms_pair(base), med_ratio, "<=", 1.15, ratio_text(med_ratio, min_ratio), "≤ 1.15",
    )

    # What `chatemu chat park` imports, and what the baseline does not.
    progress(f"start-up: python -X importtime, {plan.importtime_runs} run(s) each")
    cm_runs, base_runs = [], []
    for _ in range(plan.importtime_runs):
        runner.cm(imp_db, "chat", "park", LIVE)
        runner.cm(imp_db, "chat", "activate", LIVE)
        proc = runner.check([py, "-X", "importtime", runner.chatemu, "chat", "park", LIVE], imp_db)
        cm_runs.append(parse_importtime(proc.stderr))
        runner.cm(imp_db, "chat", "activate", LIVE)
        proc = runner.check([py, "-X", "importtime", str(BASELINE_APP), "chat", "park", LIVE], imp_base_db)
        base_runs.append(parse_importtime(proc.stderr))
        runner.check([py, str(BASELINE_APP), "chat", "activate", LIVE], imp_base_db)
    cm_imp, base_imp = aggregate_imports(cm_runs), aggregate_imports(base_runs)
    phases: dict[str, list[float]] = {}
    for _ in range(max(3, plan.importtime_runs)):
        proc = runner.check([py, "-c", BREAKDOWN, str(imp_db), str(BASELINE_APP), LIVE])
        for phase, value in json.loads(proc.stdout).items():
            phases.setdefault(phase, []).append(value)
    breakdown = {phase: summary(values) for phase, values in phases.items()}
    names = set(cm_imp["modules"])
    forbidden = sorted(n for n in names if n.split(".")[0] in ("rich", "sqlite_utils", "pydantic"))
    extra = {n: m for n, m in cm_imp["modules"].items() if n not in base_imp["modules"]}
    by_package: dict[str, float] = {}
    for name, m in cm_imp["modules"].items():
        key = charged_to(name, cm_imp["parents"])
        by_package[key] = by_package.get(key, 0.0) + m["self_ms"]

    report.sections["startup"] = {
        "commands": stats,
        "ratio_paired_median": med_ratio,
        "ratio_min": min_ratio,
        "breakdown": breakdown,
        "importtime": {
            "chatemu_total_ms": cm_imp["total_ms"],
            "baseline_total_ms": base_imp["total_ms"],
            "modules_imported": len(names),
            "baseline_modules_imported": len(base_imp["modules"]),
            "forbidden_imported": forbidden,
            "top_level": sorted(
                ((n, m["cumulative_ms"]) for n, m in cm_imp["modules"].items() if m["depth"] == 0),
                key=lambda x: -x[1],
            )[:10],
            "top_self": sorted(((n, m["self_ms"]) for n, m in cm_imp["modules"].items()), key=lambda x: -x[1])[:12],
            "not_in_baseline_self_ms": sum(m["self_ms"] for m in extra.values()),
            "not_in_baseline": sorted(
                ((n, m["self_ms"], cm_imp["parents"].get(n, "?")) for n, m in extra.items()), key=lambda x: -x[1]
            )[:15],
            "self_ms_by_package": dict(sorted(by_package.items(), key=lambda x: -x[1])),
        },
    }


# -- 2. batch -------------------------------------------------------------------------


def load_baseline_module():
    spec = importlib.util.spec_from_file_location("chatemu_bench_baseline_app", BASELINE_APP)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: What ``mixed_scenario`` runs, for the tables.
MIX_NOTE = ("per chat, 10 lines: chat new, take, activate, park, activate, end (every other chat: wrapup), "
            "clock advance 20s, expect (active-wrapup), clock advance 1m (its timer runs out), expect (closed)")


def mixed_scenario(lines: int, prefix: str) -> str:
    """A scenario file of ``lines`` lines, every one of which succeeds (with auto-present
    off): chats ``{prefix}1``, ``{prefix}2`` … each going through a life of ten lines."""
    out: list[str] = []
    i = 0
    while len(out) < lines:
        i += 1
        c = f"{prefix}{i}"
        out += [f"chat new --id {c} --customer cust{i}", f"chat take {c}", f"chat activate {c}", f"chat park {c}",
                f"chat activate {c}", f"chat end {c}" if i % 2 else f"chat wrapup {c}", "clock advance 20s",
                f"expect chat {c} state=active-wrapup", "clock advance 1m",
                f"expect chat {c} state=closed closed_reason=wrapup-expired"]
    return "".join(f"{line}\n" for line in out[:lines])


def bench_batch(runner: Runner, plan: Plan, report: Report) -> None:
    from chatemu.store import engine as engine_module

    baseline = load_baseline_module()
    tmp = runner.tmp
    n = plan.batch_steps - plan.batch_steps % 2  # even: L1 ends active again
    slow_n = max(20, n // 20)  # for the paths that open a connection per step (1-10 ms each: fsync)
    engine = engine_module.Engine(str(prepare_db(runner, tmp / "batch-engine.db")))
    engine_shared = engine_module.Engine(str(prepare_db(runner, tmp / "batch-engine-shared.db")))
    bare_db = prepare_db(runner, tmp / "batch-bare.db")
    reconnect_db = prepare_db(runner, tmp / "batch-reconnect.db")

    def engine_steps(eng, steps: int) -> float:
        t0 = time.perf_counter()
        for _ in range(steps // 2):
            eng.chat_park(LIVE)
            eng.chat_activate(LIVE)
        return steps / (time.perf_counter() - t0)

    def engine_shared_loop() -> float:
        with engine_shared.kept_open():
            return engine_steps(engine_shared, n)

    def bare_loop() -> float:
        conn = baseline.connect(str(bare_db))
        try:
            t0 = time.perf_counter()
            for _ in range(n // 2):
                baseline.transact(conn, LIVE, "park")
                baseline.transact(conn, LIVE, "activate")
            return n / (time.perf_counter() - t0)
        finally:
            conn.close()

    def reconnect_loop() -> float:
        t0 = time.perf_counter()
        for i in range(slow_n):
            conn = baseline.connect(str(reconnect_db))
            baseline.transact(conn, LIVE, "park" if i % 2 == 0 else "activate")
            conn.close()
        return slow_n / (time.perf_counter() - t0)

    jobs = {}
    jobs["engine API, connection kept open (one process)"] = engine_shared_loop
    jobs["engine API, a connection per call (one process)"] = lambda: engine_steps(engine, slow_n)
    jobs["bare sqlite3 loop, one connection"] = bare_loop
    jobs["bare sqlite3 loop, a connection per step"] = reconnect_loop

    has_run = runner.check([runner.chatemu, "run", "--help"], ok=(0, 1, 2)).returncode == 0
    run_lines = plan.run_lines - plan.run_lines % 2
    run_times: dict[str, list[float]] = {"long": [], "short": []}
    if has_run:
        run_db = prepare_db(runner, tmp / "batch-run.db")
        runner.cm(run_db, "config", "set", "auto-present", "off")  # chats wait for `chat take`
        long_file, short_file = tmp / "scenario-long.txt", tmp / "scenario-short.txt"
        short_file.write_text("expect clock mode=virtual\nexpect clock mode=virtual\n")
        rounds = iter(range(1_000_000))

        def run_long() -> float:
            long_file.write_text(mixed_scenario(run_lines, f"R{next(rounds)}M"))
            t = runner.timed([runner.chatemu, "run", str(long_file)], run_db)
            run_times["long"].append(t)
            return run_lines / (t / 1000)

        def run_short() -> float:
            t = runner.timed([runner.chatemu, "run", str(short_file)], run_db)
            run_times["short"].append(t)
            return 2 / (t / 1000)

        def bare_as_many() -> float:
            conn = baseline.connect(str(bare_db))
            try:
                t0 = time.perf_counter()
                for _ in range(run_lines // 2):
                    baseline.transact(conn, LIVE, "park")
                    baseline.transact(conn, LIVE, "activate")
                return run_lines / (time.perf_counter() - t0)
            finally:
                conn.close()

        jobs[f"`chatemu run FILE`, {run_lines}-line mix, whole process"] = run_long
        jobs["`chatemu run FILE`, 2 lines, whole process"] = run_short
        jobs[f"bare sqlite3 loop, one connection, {run_lines} transactions"] = bare_as_many
    else:
        report.notes.append("`chatemu run` does not exist (its --help failed): batch measured through the engine API only.")

    progress(f"batch: {plan.batch_rounds} interleaved rounds; {n} steps per fast path, {slow_n} per "
             f"connection-per-step path, {run_lines} `run` lines")
    samples = interleave(plan.batch_rounds, jobs, warmup=1)
    for key in run_times:
        del run_times[key][0]  # the warm-up
    stats = {name: {"max": max(v), "median": statistics.median(v), "n": len(v)} for name, v in samples.items()}
    bare = stats["bare sqlite3 loop, one connection"]
    section = {"steps_per_round": n, "slow_steps_per_round": slow_n, "rates": stats}

    name = next(iter(jobs))  # the engine's best path: shared connections if it has them
    eng = stats[name]
    label = "engine API (connection kept open)"
    bare_rates = samples["bare sqlite3 loop, one connection"]
    r = paired(samples[name], bare_rates)
    report.target(f"batch: {label} throughput", rate_pair(eng), "", eng["median"], ">=", 5000,
                  f"{eng['median']:,.0f} steps/s", "≥ 5,000 steps/s")
    report.target(f"batch: {label} vs bare sqlite3 loop", rate_pair(eng), rate_pair(bare), r, ">=", 0.20,
                  ratio_text(r, eng["max"] / bare["max"]), "≥ 0.20")
    if has_run:
        # Sustained rate: the extra lines over the extra time, so start-up is not counted.
        # Per round: the long file's extra lines over its extra time, against the 2-line file.
        long_s, short_s = summary(run_times["long"]), summary(run_times["short"])
        rates = [(run_lines - 2) / ((lo - sh) / 1000) if lo > sh else float("inf")
                 for lo, sh in zip(run_times["long"], run_times["short"])]
        marginal = {"median": statistics.median(rates), "max": max(rates)}
        as_many = f"bare sqlite3 loop, one connection, {run_lines} transactions"
        bare_run = stats[as_many]
        r = paired(rates, samples[as_many])
        section["run"] = {"lines": run_lines, "long_ms": long_s, "short_ms": short_s, "sustained_steps_per_s": marginal,
                          "mix": MIX_NOTE}
        report.target(f"batch: `chatemu run` sustained, {run_lines}-line mix (minus a 2-line file)",
                      rate_pair(marginal), "", marginal["median"], ">=", 6000, f"{marginal['median']:,.0f} steps/s",
                      "≥ 6,000 steps/s")
        report.target(f"batch: `chatemu run` mix vs bare sqlite3 loop of {run_lines} transactions", rate_pair(marginal),
                      rate_pair(bare_run), r, ">=", 0.20, ratio_text(r, marginal["max"] / bare_run["max"]), "≥ 0.20")
    report.sections["batch"] = section


# -- simulate ------------------------------------------------------------------------

SIMULATE_MODEL = HERE.parent / "examples" / "models" / "busy-monday.toml"


def bench_simulate(runner: Runner, plan: Plan, report: Report) -> None:
    """`chatemu simulate` of the busy Monday (200 agents): wall time, peak RSS, simulated
    events per second, against the engine API's steps per second (kept connection) measured
    just before and just after it in the same run."""
    import sqlite3

    from chatemu.store import engine as engine_module

    tmp = runner.tmp
    engine = engine_module.Engine(str(prepare_db(runner, tmp / "simulate-engine.db")))

    def engine_rate() -> float:
        with engine.kept_open():
            t0 = time.perf_counter()
            for _ in range(1000):
                engine.chat_park(LIVE)
                engine.chat_activate(LIVE)
            return 2000 / (time.perf_counter() - t0)

    before = [engine_rate() for _ in range(3)]
    db = tmp / "simulate.db"
    argv = [runner.chatemu, "simulate", str(SIMULATE_MODEL)] + (["--until", plan.simulate_until] if plan.simulate_until else [])
    progress(f"simulate: {' '.join(argv[1:])}")
    seconds, peak = run_measured(runner, argv, db)
    after = [engine_rate() for _ in range(3)]
    with sqlite3.connect(db) as conn:
        events = conn.execute("SELECT count(*) FROM events").fetchone()[0]
        chats = conn.execute("SELECT count(*) FROM chats").fetchone()[0]
        abandoned = conn.execute("SELECT count(*) FROM chats WHERE closed_reason = 'abandoned'").fetchone()[0]
        messages = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
    steps = statistics.median(before + after)
    rate = events / seconds
    report.sections["simulate"] = {"model": SIMULATE_MODEL.name, "until": plan.simulate_until, "seconds": seconds,
                                   "peak_kb": peak, "events": events, "chats": chats, "abandoned": abandoned,
                                   "messages": messages, "events_per_s": rate, "engine_steps_per_s": steps}
    what = f"{chats:,} chats, {messages:,} messages, {abandoned:,} abandoned, {events:,} events"
    report.target(f"simulate: busy Monday, 200 agents ({what}), wall time", f"{seconds:.1f} s", "", seconds, "<=",
                  60, f"{seconds:.1f} s", "< 60 s")
    report.target("simulate: peak RSS", mb(peak), "", peak / 1024, "<=", 100, mb(peak), "< 100 MiB")
    report.target("simulate: simulated events/s vs engine API steps/s (kept connection), same run",
                  f"{rate:,.0f} events/s", f"{steps:,.0f} steps/s", rate / steps, ">=", 0.0, f"{rate / steps:.2f}", "–")


# -- 3. scale -------------------------------------------------------------------------


def fill_history(db: Path, chats: int, end_ms: int) -> dict:
    """Direct SQL into a real (schema-bearing) chatemu database: ``chats`` closed chats,
    each with the ten events a real life leaves (queued, presented, activated, parked,
    activated, parked, activated, ended by the customer, extended, then expired or
    finished), spread over HISTORY_AGENTS agents, in time order, ending before
    ``end_ms``; the clock is set to ``end_ms``; each chat's customer is a contact (schema 3).
    From schema 5 on, each event names its chat's queue, and each agent is ``available``
    since a login event before the first chat.  Indexes are dropped and rebuilt around the
    bulk insert (the schema's own SQL), which is much faster."""
    spacing = 30_000
    t0 = end_ms - 3_600_000 - (chats + 1) * spacing - 400_000
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("BEGIN IMMEDIATE")
        indexes = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('chats', 'events')"
            " AND sql IS NOT NULL"
        ).fetchall()
        for name, _sql in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        params = {"n": chats, "t0": t0, "gap": spacing, "agents": HISTORY_AGENTS}
        agent_columns = {row[1] for row in conn.execute("PRAGMA table_info(agents)")}
        with_status = "status" in agent_columns  # schema 5: derived status, logged as events
        with_queue = "queue" in {row[1] for row in conn.execute("PRAGMA table_info(events)")}
        conn.execute(
            f"""
            INSERT OR IGNORE INTO agents (id, presence, on_call, last_activity_ms, created_at_ms
                {", status, status_since_ms" if with_status else ""})
            WITH RECURSIVE a(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM a WHERE i < :agents)
            SELECT 'agent-' || i, 'available', 0, :t0 + (:n + 1) * :gap + 370000, :t0
                {", 'available', :t0" if with_status else ""} FROM a
            """,
            params,
        )
        if with_status:
            conn.execute(
                """
                INSERT INTO events (at_ms, agent, chat, from_state, to_state, cause)
                SELECT created_at_ms, id, NULL, NULL, 'available', 'login' FROM agents
                WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.agent = agents.id AND e.chat IS NULL)
                ORDER BY id
                """
            )
        # Every fourth chat is finished by the agent at +310 s; the others expire at +370 s
        # (wrap-up 60 s from +250 s, one 60 s extension at +280 s).
        conn.execute(
            """
            INSERT INTO chats (id, number, state, agent, customer, queue, priority, created_at_ms, closed_at_ms,
                closed_reason, parked_by_call, wrapup_deadline_ms, wrapup_remaining_ms, extension_ms,
                extensions_left, state_since_ms, active_ms, parked_ms, wrapup_ms, origin_queue, contact)
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :n)
            SELECT 'C' || i, i, 'closed', 'agent-' || ((i - 1) % :agents + 1), 'customer ' || i,
                CASE i % 3 WHEN 0 THEN 'default' WHEN 1 THEN 'sales' ELSE 'support' END,
                CASE WHEN i % 10 = 0 THEN 5 ELSE 0 END,
                :t0 + i * :gap,
                :t0 + i * :gap + CASE WHEN i % 4 = 0 THEN 310000 ELSE 370000 END,
                CASE WHEN i % 4 = 0 THEN 'wrapup-finished' ELSE 'wrapup-expired' END,
                0, NULL, NULL, 60000, 2,
                :t0 + i * :gap + CASE WHEN i % 4 = 0 THEN 310000 ELSE 370000 END,
                180000, 60000, CASE WHEN i % 4 = 0 THEN 60000 ELSE 120000 END,
                CASE i % 3 WHEN 0 THEN 'default' WHEN 1 THEN 'sales' ELSE 'support' END, 'customer ' || i
            FROM n
            """,
            params,
        )
        conn.execute("INSERT INTO contacts (name, created_at_ms) SELECT contact, created_at_ms FROM chats"
                     " WHERE contact LIKE 'customer %'")
        conn.execute(
            f"""
            INSERT INTO events (at_ms, agent, chat, from_state, to_state, cause{", queue" if with_queue else ""})
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :n),
            steps(k, dt, from_state, to_state, cause) AS (VALUES
                (1, 0, NULL, 'queued', 'customer'),
                (2, 5000, 'queued', 'new', 'presentation'),
                (3, 10000, 'new', 'active', 'activate'),
                (4, 70000, 'active', 'parked', 'park'),
                (5, 100000, 'parked', 'active', 'activate'),
                (6, 160000, 'active', 'parked', 'park'),
                (7, 190000, 'parked', 'active', 'activate'),
                (8, 250000, 'active', 'active-wrapup', 'customer'),
                (9, 280000, 'active-wrapup', 'active-wrapup', 'extend'),
                (10, 370000, 'active-wrapup', 'closed', 'timer'))
            SELECT :t0 + i * :gap + CASE WHEN k = 10 AND i % 4 = 0 THEN 310000 ELSE dt END AS at,
                CASE WHEN k = 1 THEN NULL ELSE 'agent-' || ((i - 1) % :agents + 1) END,
                'C' || i, from_state, to_state,
                CASE WHEN k = 10 AND i % 4 = 0 THEN 'finish' ELSE cause END
                {", CASE i % 3 WHEN 0 THEN 'default' WHEN 1 THEN 'sales' ELSE 'support' END" if with_queue else ""}
            FROM n CROSS JOIN steps ORDER BY at, i, k
            """,
            params,
        )
        conn.execute("UPDATE meta SET now_ms = ?, next_chat = ? WHERE id = 1", (end_ms, chats + 1))
        for _name, sql in indexes:
            conn.execute(sql)
        conn.execute("COMMIT")
        conn.execute("PRAGMA journal_mode=WAL")
        counts = {
            "closed_chats": conn.execute("SELECT count(*) FROM chats WHERE state = 'closed'").fetchone()[0],
            "events": conn.execute("SELECT count(*) FROM events").fetchone()[0],
        }
    finally:
        conn.close()
    return counts


@contextmanager
def _bookkeeping(db: Path):
    """A connection to ``db`` in one immediate transaction, committed at the end (closed without
    committing on an error): the set-up and undoing around a timed command, not measured."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous=OFF")  # bookkeeping, not measured
        conn.execute("BEGIN IMMEDIATE")
        yield conn
        conn.execute("COMMIT")
    finally:
        conn.close()


class Timers:
    """Arms N wrap-up timers due within two minutes (N agents, each with one
    ``active-wrapup`` chat and its events, as the engine would leave them) and
    puts the database back exactly afterwards, so one database serves every run."""

    def __init__(self, db: Path):
        self.db = db

    def arm(self, n: int) -> dict:
        with _bookkeeping(self.db) as conn:
            meta = conn.execute("SELECT mode, now_ms, offset_ms, next_chat FROM meta WHERE id = 1").fetchone()
            seq = conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]
            mode, now, offset, next_chat = meta
            for j in range(n):
                agent, chat = f"tmr-{j + 1}", f"TMR{j + 1}"
                conn.execute(
                    "INSERT INTO agents (id, presence, on_call, last_activity_ms, created_at_ms)"
                    " VALUES (?, 'available', 0, ?, ?)", (agent, now, now),
                )
                conn.execute(
                    "INSERT INTO chats (id, number, state, agent, customer, queue, priority, created_at_ms,"
                    " parked_by_call, wrapup_deadline_ms, extension_ms, extensions_left, state_since_ms,"
                    " active_ms, parked_ms, wrapup_ms)"
                    " VALUES (?, ?, 'active-wrapup', ?, 'timer', 'default', 0, ?, 0, ?, 60000, 3, ?, 0, 0, 0)",
                    (chat, next_chat + j, agent, now, now + 60_000, now),
                )
                for frm, to, cause, who in ((None, "queued", "customer", None), ("queued", "new", "presentation", agent),
                                            ("new", "active", "activate", agent), ("active", "active-wrapup", "wrapup", agent)):
                    conn.execute(
                        "INSERT INTO events (at_ms, agent, chat, from_state, to_state, cause) VALUES (?, ?, ?, ?, ?, ?)",
                        (now, who, chat, frm, to, cause),
                    )
            conn.execute("UPDATE meta SET next_chat = ? WHERE id = 1", (next_chat + n,))
        return {"meta": meta, "seq": seq, "n": n}

    def disarm(self, saved: dict) -> int:
        """Undo ``arm`` and what the timed command did; returns how many timer chats had closed."""
        mode, now, offset, next_chat = saved["meta"]
        with _bookkeeping(self.db) as conn:
            closed = conn.execute(
                "SELECT count(*) FROM chats WHERE number >= ? AND state = 'closed'", (next_chat,)
            ).fetchone()[0]
            conn.execute("DELETE FROM events WHERE seq > ?", (saved["seq"],))
            conn.execute("DELETE FROM chats WHERE number >= ?", (next_chat,))
            conn.execute("DELETE FROM agents WHERE id LIKE 'tmr-%'")
            conn.execute(
                "UPDATE meta SET mode = ?, now_ms = ?, offset_ms = ?, next_chat = ? WHERE id = 1",
                (mode, now, offset, next_chat),
            )
        return closed


def bench_scale(runner: Runner, plan: Plan, report: Report) -> dict:
    tmp = runner.tmp
    empty_db = prepare_db(runner, tmp / "scale-empty.db")
    big_db = tmp / "scale-big.db"
    progress(f"scale: building {plan.scale_chats:,} closed chats and {plan.scale_chats * EVENTS_PER_CHAT:,} events")
    t0 = time.perf_counter()
    runner.cm(big_db, "clock", "set", "2024-01-01T00:00:00Z")  # creates the schema, nothing else
    counts = fill_history(big_db, plan.scale_chats, START_MS)
    runner.cm(big_db, "chat", "new", "--inbox", "--id", LIVE, "--customer", "bench")
    runner.cm(big_db, "chat", "activate", LIVE)
    build_s = time.perf_counter() - t0
    size_mb = (big_db.stat().st_size + sum(p.stat().st_size for p in tmp.glob("scale-big.db-*"))) / 1e6
    section = {"chats": plan.scale_chats, "build_s": build_s, "db_mb": size_mb, **counts}

    # Do the history rows pass chatemu's own invariant checker, if it has one?
    check = subprocess.run([runner.chatemu, "db", "check"], capture_output=True, text=True, env=runner.env_for(big_db))
    if check.returncode in (0, 1) and "No such command" not in check.stderr:
        section["db_check_exit"] = check.returncode
        if check.returncode != 0:
            report.notes.append(f"`chatemu db check` on the big database: exit {check.returncode}: "
                                f"{(check.stdout + check.stderr).strip()[:300]}")

    toggles = {"empty": Toggle([runner.chatemu], empty_db), "big": Toggle([runner.chatemu], big_db)}
    dbs = {"empty": empty_db, "big": big_db}
    jobs = {}
    for label, db in dbs.items():
        jobs[f"chat list ({label})"] = (lambda db=db: runner.timed([runner.chatemu, "chat", "list"], db))
        jobs[f"chat park/activate ({label})"] = (
            lambda label=label, db=db: runner.timed(toggles[label].argv(), db)
        )
    progress(f"scale: {plan.scale_rounds} interleaved rounds of {len(jobs)} commands")
    samples = interleave(plan.scale_rounds, jobs, warmup=plan.warmup)
    stats = {name: summary(v) for name, v in samples.items()}
    section["commands"] = stats
    for what, label in (("chat list", "`chat list`"), ("chat park/activate", "`chat park`/`activate`")):
        big, empty = stats[f"{what} (big)"], stats[f"{what} (empty)"]
        r_med, r_min = paired(samples[f"{what} (big)"], samples[f"{what} (empty)"]), big["min"] / empty["min"]
        report.target(f"scale: {label}, {plan.scale_chats:,} chats + {counts['events']:,} events vs empty db",
                      ms_pair(big), ms_pair(empty), r_med, "<=", 1.2, ratio_text(r_med, r_min), "≤ 1.2")

    # Settling timers: N due wrap-up timers, empty history against big history.
    timers = {label: Timers(db) for label, db in dbs.items()}
    settle: dict[str, list[float]] = {}
    combos = [(label, n) for n in plan.settle_timers for label in dbs]
    progress(f"scale: settling {plan.settle_timers} due timers, {plan.settle_rounds} interleaved rounds")
    for r in range(plan.settle_rounds + 1):  # round 0 is a warm-up
        order = combos[r % len(combos):] + combos[:r % len(combos)]
        for label, n in order:
            saved = timers[label].arm(n)
            try:
                t = runner.timed([runner.chatemu, "clock", "advance", "2m"], dbs[label])
            finally:
                closed = timers[label].disarm(saved)
            if closed != n:
                raise BenchError(f"clock advance settled {closed} of {n} timers on the {label} database")
            if r:
                settle.setdefault(f"{label} {n}", []).append(t)
    settle_stats = {key: summary(v) for key, v in settle.items()}
    rows = []
    n0, nmax = plan.settle_timers[0], plan.settle_timers[-1]
    for n in plan.settle_timers:
        e, b = settle_stats[f"empty {n}"], settle_stats[f"big {n}"]
        rows.append({"timers": n, "empty": e, "big": b, "ratio": paired(settle[f"big {n}"], settle[f"empty {n}"])})
    per_timer = {
        label: (settle_stats[f"{label} {nmax}"]["median"] - settle_stats[f"{label} {n0}"]["median"]) / max(nmax - n0, 1)
        for label in dbs
    }
    section["settle"] = {"rows": rows, "per_timer_ms": per_timer}
    e, b = settle_stats[f"empty {nmax}"], settle_stats[f"big {nmax}"]
    r = rows[-1]["ratio"]
    report.target(f"scale: settling {nmax} due timers, big vs empty history", ms_pair(b), ms_pair(e),
                  r, "<=", 1.2, ratio_text(r, b["min"] / e["min"]), "≤ 1.2")
    report.sections["scale"] = section
    return {"dbs": dbs, "toggles": toggles, "timers": timers}


# -- 3b. settling with a queue --------------------------------------------------------


class QueueTimers(Timers):
    """``Timers`` plus a queue: N agents, each with one running wrap-up due within two
    minutes, ``max-chats`` 1 (so each agent is full until its timer runs out), and N
    queued chats.  ``clock advance 2m`` then runs N timers out, one by one at their
    instants, and presents a queued chat to each agent it frees."""

    def arm(self, n: int) -> dict:
        saved = super().arm(n)
        mode, now, offset, next_chat = saved["meta"]
        first = next_chat + n
        with _bookkeeping(self.db) as conn:
            # Deadlines spread over the minute, so the timers run out one by one.
            conn.execute("UPDATE chats SET wrapup_deadline_ms = ? + 30000 + (number - ?) * 7 WHERE number >= ?"
                         " AND number < ?", (now, next_chat, next_chat, first))
            for j in range(n):
                chat = f"Q{j + 1}"
                conn.execute(
                    "INSERT INTO chats (id, number, state, agent, customer, queue, priority, created_at_ms,"
                    " parked_by_call, state_since_ms, origin_queue, contact)"
                    " VALUES (?, ?, 'queued', NULL, NULL, 'default', 0, ?, 0, ?, 'default', NULL)",
                    (chat, first + j, now, now),
                )
                conn.execute(
                    "INSERT INTO events (at_ms, agent, chat, from_state, to_state, cause)"
                    " VALUES (?, NULL, ?, NULL, 'queued', 'customer')", (now, chat),
                )
            conn.execute("INSERT INTO config (queue, key, value) VALUES ('', 'max-chats', '1')")
            conn.execute("UPDATE meta SET next_chat = ? WHERE id = 1", (first + n,))
        return saved

    def disarm(self, saved: dict) -> tuple[int, int]:
        """Undo; returns (timer chats closed, queued chats presented)."""
        next_chat, n = saved["meta"][3], saved["n"]
        conn = sqlite3.connect(self.db)
        try:
            presented = conn.execute(
                "SELECT count(*) FROM chats WHERE number >= ? AND state = 'new'", (next_chat + n,)
            ).fetchone()[0]
            conn.execute("DELETE FROM config WHERE queue = '' AND key = 'max-chats'")
            conn.commit()
        finally:
            conn.close()
        return super().disarm(saved), presented


class ClockTimers(QueueTimers):
    """``QueueTimers`` plus the clocks beyond wrap-up: each queued chat awaits a reply whose
    alert runs out within the minute (it alerts in the inbox it is presented to), and N more
    queued chats behind them give up within the minute (patience: abandoned).  ``clock
    advance 2m`` then runs 3N timers of three kinds out, interleaved in time."""

    def arm(self, n: int) -> dict:
        saved = super().arm(n)
        mode, now, offset, next_chat = saved["meta"]
        queued, behind = next_chat + n, next_chat + 2 * n
        with _bookkeeping(self.db) as conn:
            conn.execute("UPDATE chats SET awaiting_since_ms = ?, alert_deadline_ms = ? + 30000 + (number - ?) * 7 + 3"
                         " WHERE number >= ? AND number < ?", (now, now, queued, queued, behind))
            for j in range(n):
                chat = f"P{j + 1}"
                conn.execute(
                    "INSERT INTO chats (id, number, state, agent, customer, queue, priority, created_at_ms,"
                    " parked_by_call, state_since_ms, origin_queue, contact, waiting_since_ms, patience_deadline_ms)"
                    " VALUES (?, ?, 'queued', NULL, NULL, 'default', 0, ?, 0, ?, 'default', NULL, ?, ?)",
                    (chat, behind + j, now, now, now, now + 30_000 + j * 7 + 5),
                )
                conn.execute(
                    "INSERT INTO events (at_ms, agent, chat, from_state, to_state, cause)"
                    " VALUES (?, NULL, ?, NULL, 'queued', 'customer')", (now, chat),
                )
            conn.execute("UPDATE meta SET next_chat = ? WHERE id = 1", (behind + n,))
        return saved

    def disarm(self, saved: dict) -> tuple[int, int]:
        """Undo; returns (timers run out, queued chats presented): 3N and N when all ran."""
        next_chat, n = saved["meta"][3], saved["n"]
        conn = sqlite3.connect(self.db)
        try:
            alerting = conn.execute("SELECT count(alerting_since_ms) FROM chats WHERE number >= ?",
                                    (next_chat + n,)).fetchone()[0]
        finally:
            conn.close()
        closed, presented = super().disarm(saved)  # closed: the N wrap-ups and the N who gave up
        return closed + alerting, presented


def _settle_rounds(runner: Runner, plan: Plan, db: Path, timers: QueueTimers, per_n: int,
                   failure) -> tuple[dict, list[dict], float]:
    """``clock advance 2m`` with ``timers`` armed for each of the plan's queue sizes N (``per_n``
    timers and N presentations each; ``failure(n, got)`` says what else came out), against the
    same command with nothing due, in interleaved rounds: the nothing-due figures, one row per N
    (per timer, against nothing due) and the per-timer cost's growth from the first to the last."""
    sizes = (0, *plan.queue_sizes)
    samples: dict[int, list[float]] = {n: [] for n in sizes}
    for r in range(plan.queue_rounds + 1):  # round 0 is a warm-up
        order = list(sizes[r % len(sizes):] + sizes[:r % len(sizes)])
        if r % 2:
            order.reverse()
        for n in order:
            saved = timers.arm(n)
            try:
                t = runner.timed([runner.chatemu, "clock", "advance", "2m"], db)
            finally:
                got = timers.disarm(saved)
            if got != (per_n * n, n):
                raise BenchError(failure(n, got))
            if r:
                samples[n].append(t)
    stats = {n: summary(v) for n, v in samples.items()}
    rows = []
    for n in plan.queue_sizes:
        per = [(t - t0) / (per_n * n) for t, t0 in zip(samples[n], samples[0])]  # per round, against nothing due
        rows.append({"timers": per_n * n, "time": stats[n], "per_timer_ms": statistics.median(per),
                     "ratio": paired(samples[n], samples[0])})
    first, last = rows[0], rows[-1]
    growth = last["per_timer_ms"] / first["per_timer_ms"] if first["per_timer_ms"] > 0 else float("inf")
    return stats[0], rows, growth


def bench_queue(runner: Runner, plan: Plan, report: Report) -> None:
    """``clock advance 2m`` running out N wrap-up timers with N chats queued (each expiry
    presents one), against the same command with nothing due, on the same database."""
    db = prepare_db(runner, runner.tmp / "queue.db")
    progress(f"queue: settling {plan.queue_sizes} timers with as many queued chats, "
             f"{plan.queue_rounds} interleaved rounds")
    nothing_due, rows, growth = _settle_rounds(
        runner, plan, db, QueueTimers(db), 1,
        lambda n, got: f"clock advance closed {got[0]} and presented {got[1]} of {n}")
    first, last = rows[0], rows[-1]
    report.sections["queue"] = {"nothing_due": nothing_due, "rows": rows, "per_timer_growth": growth}
    _bench_clock_queue(runner, plan, report, db)
    nmax = last["timers"]
    report.target(f"queue: `clock advance 2m`, {nmax:,} timers and {nmax:,} queued chats (whole process)",
                  ms_pair(last["time"]), ms_pair(nothing_due), last["time"]["median"], "<=", 500,
                  ms(last["time"]["median"]), "≤ 0.5 s")
    report.target(f"queue: per-timer cost at {nmax:,} vs at {first['timers']:,} (linear: ≤ 1.2)",
                  f"{last['per_timer_ms']:.3f} ms", f"{first['per_timer_ms']:.3f} ms", growth, "<=", 1.2,
                  f"{growth:.2f}", "≤ 1.2")


def _bench_clock_queue(runner: Runner, plan: Plan, report: Report, db: Path) -> None:
    """The queue's settle with the clocks beyond wrap-up (``ClockTimers``): 3N timers of three
    kinds, against the same command with nothing due; per timer, as the queue row."""
    progress(f"queue: the same with the clocks, 3 timers per N, {plan.queue_rounds} interleaved rounds")
    nothing_due, rows, growth = _settle_rounds(
        runner, plan, db, ClockTimers(db), 3,
        lambda n, got: f"clock advance ran {got[0]} of {3 * n} timers and presented {got[1]} of {n}")
    first, last = rows[0], rows[-1]
    report.sections["queue_clocks"] = {"nothing_due": nothing_due, "rows": rows, "per_timer_growth": growth}
    report.target(f"queue + clocks: per-timer cost at {last['timers']:,} vs at {first['timers']:,} timers (linear: ≤ 1.2)",
                  f"{last['per_timer_ms']:.3f} ms", f"{first['per_timer_ms']:.3f} ms", growth, "<=", 1.2,
                  f"{growth:.2f}", "≤ 1.2")


# -- 3c. routing: queued chats with every agent busy ---------------------------------------


def busy_centre(n: int) -> str:
    """A scenario: ``n`` agents log in, each with a new chat in its inbox (so each is busy)."""
    return "".join(f"--agent bz-{i} agent login\n--agent bz-{i} chat new --inbox --id BZ{i}\n" for i in range(1, n + 1))


def queued_chats(lines: int, prefix: str) -> str:
    """A scenario of ``lines`` customers' chats, each queued (every agent is busy)."""
    return "".join(f"chat new --id {prefix}{i} --customer c{i}\n" for i in range(1, lines + 1))


def ending_centre(n: int) -> str:
    """``n`` agents each ending a chat (in wrap-up, its timer running), then ``n`` chats queued."""
    out = []
    for i in range(1, n + 1):
        out += [f"--agent en-{i} agent login", f"--agent en-{i} chat new --inbox --id EN{i}",
                f"--agent en-{i} chat activate EN{i}", f"chat end EN{i}"]
    out += [f"chat new --id EQ{i}" for i in range(1, n + 1)]
    out.append(f"expect chat EQ{n} state=queued")
    return "".join(f"{line}\n" for line in out)


def bench_routing(runner: Runner, plan: Plan, report: Report) -> None:
    """What a queued chat costs against the number of agents: ``chatemu run`` of ``busy_lines``
    ``chat new`` lines (each chat queued) with few and with many agents, all busy; and
    building a centre of N agents in wrap-up with N chats queued, at several N."""
    tmp = runner.tmp
    few, many = plan.busy_agents
    built: dict[int, Path] = {}
    for n in (few, many):
        path = tmp / f"routing-{n}.db"
        (tmp / f"routing-{n}.txt").write_text(busy_centre(n))
        runner.check([runner.chatemu, "run", "--quiet", "--keep", str(path), str(tmp / f"routing-{n}.txt")])
        built[n] = path
    work = {n: tmp / f"routing-work-{n}.db" for n in built}
    scenario = tmp / "routing-queued.txt"
    scenario.write_text(queued_chats(plan.busy_lines, "QC"))

    def queued_run(n: int) -> float:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{work[n]}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(built[n], work[n])
        return runner.timed([runner.chatemu, "run", "--quiet", str(scenario)], work[n])

    progress(f"routing: {plan.busy_lines} queued `chat new` lines with {few} and {many} busy agents, "
             f"{plan.busy_rounds} interleaved rounds")
    jobs = {f"{n} agents": (lambda n=n: queued_run(n)) for n in (few, many)}
    samples = interleave(plan.busy_rounds, jobs, warmup=1)
    conn = sqlite3.connect(work[many])
    try:
        queued = conn.execute("SELECT count(*) FROM chats WHERE state = 'queued'").fetchone()[0]
    finally:
        conn.close()
    if queued != plan.busy_lines:
        raise BenchError(f"{queued} of {plan.busy_lines} chats queued with {many} busy agents")
    stats = {name: summary(v) for name, v in samples.items()}
    r = paired(samples[f"{many} agents"], samples[f"{few} agents"])
    big, small = stats[f"{many} agents"], stats[f"{few} agents"]
    section = {"queued_lines": plan.busy_lines, "agents": [few, many], "runs": stats, "ratio": r}
    report.target(f"routing: `run` of {plan.busy_lines} queued `chat new`, {many:,} vs {few} agents all busy",
                  ms_pair(big), ms_pair(small), r, "<=", 1.2, ratio_text(r, big["min"] / small["min"]), "≤ 1.2")

    # Building N agents in wrap-up and N chats queued: its time should grow linearly with N.
    files = {}
    for n in plan.ending_sizes:
        files[n] = tmp / f"routing-ending-{n}.txt"
        files[n].write_text(ending_centre(n))
    progress(f"routing: building {plan.ending_sizes} agents in wrap-up with as many chats queued, "
             f"{plan.ending_rounds} interleaved rounds")
    ending = interleave(plan.ending_rounds, {
        n: (lambda n=n: runner.timed([runner.chatemu, "run", "--quiet", "--fresh", str(files[n])]))
        for n in plan.ending_sizes})
    rows = [{"agents": n, "lines": 5 * n + 1, "time": summary(ending[n])} for n in plan.ending_sizes]
    section["ending"] = rows
    half, whole = plan.ending_sizes[-2], plan.ending_sizes[-1]
    g = paired(ending[whole], ending[half])
    section["ending_growth"] = g
    report.target(f"routing: building {whole:,} agents in wrap-up + {whole:,} queued chats vs {half:,} (linear: ≤ 2.5)",
                  ms_pair(summary(ending[whole])), ms_pair(summary(ending[half])), g, "<=", 2.5,
                  ratio_text(g, min(ending[whole]) / min(ending[half])), "≤ 2.5")
    report.sections["routing"] = section


# -- 5. whole-state commands ------------------------------------------------------------------


#: The whole-state commands measured: (label, arguments, what the database needs first).
WHOLE = (
    ("events", ["events"], None),
    ("events --json", ["events", "--json"], None),
    ("stats agents", ["stats", "agents"], None),
    ("stats queues", ["stats", "queues"], None),
    ("export FILE", ["export", "--force", "{bundle}"], None),
    ("export --pretty FILE", ["export", "--pretty", "--force", "{pretty}"], None),
    ("snapshot save", ["snapshot", "save", "s1"], None),
    ("snapshot list", ["snapshot", "list"], "saved"),
    ("snapshot restore", ["snapshot", "restore", "s1"], "saved"),
    ("import FILE (into an empty database)", ["import", "{bundle}"], "bundle"),
    ("import --pretty's FILE (into an empty database)", ["import", "{pretty}"], "bundle"),
    ("timeline", ["timeline"], None),
    ("timeline -o FILE.svg", ["timeline", "-o", "{svg}", "--force"], None),
    ("timeline --agent agent-7 -o FILE.html", ["timeline", "--agent", "agent-7", "-o", "{html}", "--force"], None),
    ("timeline --from (2 h back) --limit 1000 -o FILE.svg",
     ["timeline", "--from", "{from_}", "--limit", "1000", "-o", "{svg}", "--force"], None),
)
#: The timeline commands: what they read does not grow with the database (the latest chats and
#: their agents), so their time per row is not a measure of them; each must take at most 3 s.
TIMELINE = tuple(w[0] for w in WHOLE if w[0].startswith("timeline"))

#: The statistics among them: each must take at most 3 s on the big database.
STATS = ("stats agents", "stats queues")


def run_measured(runner: Runner, argv: list[str], db: Path) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one run, stdout to /dev/null."""
    out = runner.tmp / "peak.txt"
    if runner.time_bin:
        wrapped = [runner.time_bin, "-f", "%M", "-o", str(out), *argv]
    else:
        launcher = (
            "import os,sys\n"
            "pid=os.posix_spawn(sys.argv[2],sys.argv[2:],os.environ)\n"
            "_,st,ru=os.wait4(pid,0)\n"
            "open(sys.argv[1],'w').write(str(ru.ru_maxrss))\n"
            "sys.exit(os.waitstatus_to_exitcode(st))\n"
        )
        wrapped = [runner.python, "-S", "-c", launcher, str(out), *argv]
    t0 = time.perf_counter()
    proc = subprocess.run(wrapped, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          env=runner.env_for(db), timeout=3600)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise BenchError(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr[-500:].strip()}")
    return elapsed, int(out.read_text().split()[-1])


def file_mb(db: Path) -> float:
    return sum(p.stat().st_size for p in db.parent.glob(db.name + "*")) / 1e6


def bench_whole(runner: Runner, plan: Plan, report: Report) -> None:
    """``export``, ``import``, ``snapshot save/list/restore``, ``events`` and ``stats`` on databases of
    N closed chats with ten events each (``fill_history``), at two sizes: peak RSS
    (against ``chatemu clock`` on the same database), time, time per 1,000 rows, and what a
    snapshot adds to the file."""
    rows = {}
    for n in plan.whole_sizes:
        db = runner.tmp / f"whole-{n}.db"
        runner.cm(db, "clock", "set", "2024-01-01T00:00:00Z")
        events = fill_history(db, n, START_MS)["events"]
        runner.cm(db, "chat", "list")  # checkpoints the fill into the file
        bundle = runner.tmp / f"whole-{n}.json"
        pretty = runner.tmp / f"whole-{n}-pretty.json"
        empty = runner.tmp / f"whole-{n}-import.db"
        picture = runner.tmp / f"whole-{n}-timeline"
        # Two hours back: fill_history's chats (one every 30 s) end an hour before the clock, so
        # the window holds its last hundred or so, every one of them drawn, and every agent.
        from_ = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime((START_MS - 2 * 3_600_000) / 1000))
        size_before = file_mb(db)
        progress(f"whole: {n:,} chats, {events:,} events ({size_before:.0f} MB), "
                 f"{plan.whole_rounds} round(s) of {len(WHOLE) + 1} commands")
        found: dict[str, list[tuple[float, int]]] = {}
        snapshot_mb = None
        for _ in range(plan.whole_rounds):
            for label, args, _needs in WHOLE:
                argv = [runner.chatemu, *(a.format(bundle=bundle, pretty=pretty, svg=picture.with_suffix(".svg"),
                                                   html=picture.with_suffix(".html"), from_=from_) for a in args)]
                target = db
                if label.startswith("import"):
                    for p in runner.tmp.glob(empty.name + "*"):
                        p.unlink()
                    target = empty
                found.setdefault(label, []).append(run_measured(runner, argv, target))
                if label == "snapshot save":
                    snapshot_mb = file_mb(db) - size_before
            found.setdefault("clock (baseline)", []).append(run_measured(runner, [runner.chatemu, "clock"], db))
        rows[n] = {
            "chats": n, "events": events, "db_mb": size_before, "bundle_mb": bundle.stat().st_size / 1e6,
            "pretty_bundle_mb": pretty.stat().st_size / 1e6,
            "snapshot_adds_mb": snapshot_mb,
            "commands": {label: {"seconds": min(t for t, _ in v), "peak_kb": max(k for _, k in v)}
                         for label, v in found.items()},
        }
        for p in [bundle, pretty, *runner.tmp.glob(db.name + "*"), *runner.tmp.glob(empty.name + "*"),
                  *runner.tmp.glob(picture.name + ".*")]:
            p.unlink()
    small, big = (rows[n] for n in (plan.whole_sizes[0], plan.whole_sizes[-1]))
    scale = big["chats"] / small["chats"]
    for label in (*(w[0] for w in WHOLE),):
        t_small, t_big = small["commands"][label]["seconds"], big["commands"][label]["seconds"]
        big["commands"][label]["growth"] = t_big / t_small / scale if t_small else float("inf")
    report.sections["whole"] = {"sizes": rows, "scale": scale}
    worst = max(big["commands"][w[0]]["peak_kb"] for w in WHOLE)
    worst_label = max((w[0] for w in WHOLE), key=lambda w: big["commands"][w]["peak_kb"])
    base = big["commands"]["clock (baseline)"]["peak_kb"]
    report.target(f"whole: peak RSS of export/import/snapshot/events/timeline, {big['chats']:,} chats + {big['events']:,} events "
                  f"(worst: {worst_label})", mb(worst), mb(base), worst / 1024, "<=", 100, mb(worst), "≤ 100 MiB")
    for label in STATS:
        took = big["commands"][label]["seconds"]
        report.target(f"whole: `chatemu {label}`, {big['chats']:,} chats + {big['events']:,} events", f"{took:.2f} s",
                      "", took, "<=", 3.0, f"{took:.2f} s", "≤ 3 s")
    growth = max(big["commands"][w[0]]["growth"] for w in WHOLE if w[0] != "snapshot list" and w[0] not in TIMELINE)
    slowest = max(TIMELINE, key=lambda w: big["commands"][w]["seconds"])
    seconds = big["commands"][slowest]["seconds"]
    report.target(f"whole: `chatemu timeline`, {big['chats']:,} chats + {big['events']:,} events (slowest: `{slowest}`)",
                  f"{seconds:.2f} s", "", seconds, "<=", 3.0, f"{seconds:.2f} s", "≤ 3 s")
    report.target(f"whole: time per row at {big['chats']:,} vs {small['chats']:,} chats (worst; linear: ≤ 1.3)",
                  "", "", growth, "<=", 1.3, f"{growth:.2f}", "≤ 1.3")


# -- 4. memory ------------------------------------------------------------------------


def bench_memory(runner: Runner, plan: Plan, report: Report, scale: dict | None) -> None:
    py = runner.python
    tmp = runner.tmp
    base_db = prepare_db(runner, tmp / "memory-baseline.db")
    base_toggle = Toggle([py, str(BASELINE_APP)], base_db)
    jobs = {
        "python -c pass": lambda: runner.peak_kb([py, "-c", "pass"]),
        "baseline chat park/activate": lambda: runner.peak_kb(base_toggle.argv(), base_db),
        "chatemu --help": lambda: runner.peak_kb([runner.chatemu, "--help"]),
    }
    if scale:
        dbs, toggles, timers = scale["dbs"], scale["toggles"], scale["timers"]
        nmax = plan.settle_timers[-1]
        for label, db in dbs.items():
            jobs[f"chatemu chat park/activate ({label})"] = (
                lambda label=label, db=db: runner.peak_kb([runner.chatemu, *toggles[label].argv()[1:]], db))
            jobs[f"chatemu chat list ({label})"] = (
                lambda db=db: runner.peak_kb([runner.chatemu, "chat", "list"], db))

            def settle(label=label, db=db):
                saved = timers[label].arm(nmax)
                try:
                    return runner.peak_kb([runner.chatemu, "clock", "advance", "2m"], db)
                finally:
                    timers[label].disarm(saved)

            jobs[f"chatemu clock advance, {nmax} timers ({label})"] = settle
    has_run = runner.check([runner.chatemu, "run", "--help"], ok=(0, 1, 2)).returncode == 0
    if has_run and scale:
        lines = plan.run_lines - plan.run_lines % 2

        def run_big():
            toggle = scale["toggles"]["big"]
            first, second = ("park", "activate") if toggle.active else ("activate", "park")
            scenario = tmp / "scenario-memory.txt"
            scenario.write_text(f"chat {first} {LIVE}\nchat {second} {LIVE}\n" * (lines // 2))
            return runner.peak_kb([runner.chatemu, "run", str(scenario)], scale["dbs"]["big"])

        jobs[f"chatemu run FILE, {lines} lines (big)"] = run_big
    progress(f"memory: {plan.memory_runs} run(s) of {len(jobs)} commands ({runner.memory_method})")
    samples = interleave(plan.memory_runs, jobs)
    peaks = {name: {"median_kb": statistics.median(v), "max_kb": max(v)} for name, v in samples.items()}
    report.sections["memory"] = {"method": runner.memory_method, "peaks": peaks}
    if scale:
        worst = max(
            peaks[f"chatemu {what} (big)"]["median_kb"] / peaks[f"chatemu {what} (empty)"]["median_kb"]
            for what in ("chat park/activate", "chat list")
        )
        big = peaks["chatemu chat list (big)"]["median_kb"]
        empty = peaks["chatemu chat list (empty)"]["median_kb"]
        report.target("memory: peak RSS, big vs empty db (worst of list, park)", mb(big), mb(empty), worst, "<=", 1.2,
                      f"{worst:.2f}", "≤ 1.2")


# -- 6. serve -------------------------------------------------------------------------

#: Concurrent HTTP clients of the serve section, each its own agent and its own chats.
SERVE_CLIENTS = 16
#: One chat's life in the serve mix: (verb, the route's JSON body, the command line's extra words).
SERVE_LIFE = [("take", None, []), ("activate", None, []), ("receive", {"text": "where is my order"}, ["'where is my order'"]),
              ("send", {"text": "on its way"}, ["'on its way'"]), ("park", None, []), ("activate", None, []),
              ("end", None, []), ("wrapup", {"finish": True}, ["--finish"])]
SERVE_MIX_NOTE = ("per chat, 9 requests: chat new, take, activate, receive, send, park, activate, end, "
                  f"wrapup --finish; {SERVE_CLIENTS} clients, each its own agent and chats, in one namespace")


def serve_steps(client: int, chats: int, prefix: str) -> list[tuple[str, str, dict | None, list[str]]]:
    """One client's requests: (method, path, body, the same command line)."""
    agent, out = f"agent-{client}", []
    for i in range(1, chats + 1):
        c = f"{prefix}c{client}x{i}"
        out.append(("POST", "/chats", {"id": c, "customer": f"cust{i}"},
                    ["--agent", agent, "chat", "new", "--id", c, "--customer", f"cust{i}"]))
        for verb, body, extra in SERVE_LIFE:
            out.append(("POST", f"/chats/{c}/{verb}", body, ["--agent", agent, "chat", verb, c, *extra]))
    return out


class Served:
    """A ``chatemu serve`` process on a free loopback port, stopped by ``close``."""

    def __init__(self, runner: Runner, folder: Path):
        folder.mkdir(exist_ok=True)
        self.proc = subprocess.Popen([runner.chatemu, "serve", "--port", "0", "--data-dir", str(folder)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=runner.env)
        line = self.proc.stdout.readline().strip()
        if not line.startswith("http://127.0.0.1:"):
            self.close()
            raise BenchError(f"chatemu serve did not start: {line!r} {self.proc.stderr.read()[-500:]}")
        self.port = int(line.rsplit(":", 1)[1])

    def connection(self):
        import http.client

        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)

    def close(self) -> None:
        import signal

        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


def request(conn, method: str, path: str, body: dict | None, agent: str | None = None) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if agent:
        headers["X-Chatemu-Agent"] = agent
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    answer = conn.getresponse()
    return answer.status, answer.read()


def prepare_namespace(served: Served, ns: str) -> None:
    conn = served.connection()
    try:
        for method, path, body in [("POST", "/clock", {"set": START_ISO}),
                                   ("PUT", "/config", {"key": "auto-present", "value": "off"}),
                                   *[("POST", f"/agents/agent-{k}/login", None) for k in range(1, SERVE_CLIENTS + 1)]]:
            status, text = request(conn, method, f"/v1/ns/{ns}{path}", body)
            if status >= 300:
                raise BenchError(f"{method} {path}: {status} {text[:300]!r}")
    finally:
        conn.close()


def raw_request(method: str, path: str, body: dict | None, agent: str) -> bytes:
    """One HTTP/1.1 request on a keep-alive connection, as bytes (made before the clock starts)."""
    data = json.dumps(body).encode() if body is not None else b""
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Chatemu-Agent: {agent}\r\n"
    if body is not None:
        head += "Content-Type: application/json\r\n"
    return (head + f"Content-Length: {len(data)}\r\n\r\n").encode() + data


def serve_round(served: Served, ns: str, chats: int) -> tuple[float, list[float]]:
    """Every client's steps at once; (requests per second, each request's latency in ms).

    The 16 clients are 16 keep-alive connections, each sending its next request as soon as the
    answer to its last one is in, driven by one thread of this process with prebuilt requests
    (so that the clients take as little as possible of the CPU the server runs on)."""
    import selectors
    import socket

    plans = [[raw_request(method, f"/v1/ns/{ns}{path}", body, f"agent-{k}")
              for method, path, body, _argv in serve_steps(k, chats, ns)] for k in range(1, SERVE_CLIENTS + 1)]
    latencies: list[float] = []
    failures: list[str] = []
    selector = selectors.DefaultSelector()
    state = []  # per client: [socket, next step, bytes received, sent at]
    for k, steps in enumerate(plans):
        sock = socket.create_connection(("127.0.0.1", served.port), timeout=60)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        state.append([sock, 0, b"", 0.0])
        selector.register(sock, selectors.EVENT_READ, k)
    clock = time.perf_counter
    t0 = clock()
    for k, entry in enumerate(state):
        entry[3] = clock()
        entry[0].sendall(plans[k][0])
    busy = len(state)
    deadline = t0 + 600
    while busy and not failures:
        events = selector.select(max(0.0, deadline - clock()))
        if not events:
            failures.append("a client did not finish")
            break
        for key, _ in events:
            k = key.data
            entry = state[k]
            chunk = entry[0].recv(1 << 16)
            if not chunk:
                failures.append(f"client {k + 1}: the server closed the connection")
                break
            got = entry[2] + chunk
            end = got.find(b"\r\n\r\n")
            if end < 0:
                entry[2] = got
                continue
            head = got[:end].decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            if len(got) < end + 4 + length:
                entry[2] = got
                continue
            now = clock()
            latencies.append((now - entry[3]) * 1000)
            status = int(head.split(" ", 2)[1])
            if status >= 300:
                failures.append(f"{plans[k][entry[1]][:60]!r}: {status} {got[end + 4:][:300]!r}")
                break
            entry[1], entry[2] = entry[1] + 1, got[end + 4 + length:]
            if entry[1] == len(plans[k]):
                busy -= 1
                selector.unregister(entry[0])
                continue
            entry[3] = clock()
            entry[0].sendall(plans[k][entry[1]])
    elapsed = clock() - t0
    selector.close()
    for entry in state:
        entry[0].close()
    if failures:
        raise BenchError(f"serve: {failures[:3]}")
    return len(latencies) / elapsed, latencies


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def bench_serve(runner: Runner, plan: Plan, report: Report) -> None:
    """The serve mix over HTTP (16 clients at once, one namespace) against ``chatemu run`` of the
    same lines (round-robin over the clients, each line with its ``--agent``) in the same run."""
    tmp = runner.tmp
    run_db = prepare_db(runner, tmp / "serve-run.db")
    runner.cm(run_db, "config", "set", "auto-present", "off")
    for k in range(1, SERVE_CLIENTS + 1):
        runner.cm(run_db, "--agent", f"agent-{k}", "agent", "login")
    short_file, long_file = tmp / "serve-short.txt", tmp / "serve-long.txt"
    short_file.write_text("expect clock mode=virtual\nexpect clock mode=virtual\n")
    lines_per_round = SERVE_CLIENTS * plan.serve_chats * (1 + len(SERVE_LIFE))
    rounds = iter(range(1_000_000))
    served = Served(runner, tmp / "serve-data")
    run_times: dict[str, list[float]] = {"long": [], "short": []}
    latencies: list[float] = []
    try:
        def over_http() -> float:
            ns = f"r{next(rounds)}"
            prepare_namespace(served, ns)
            rate, lat = serve_round(served, ns, plan.serve_chats)
            latencies.extend(lat)
            return rate

        def run_long() -> float:
            prefix = f"R{next(rounds)}"
            plans = [serve_steps(k, plan.serve_chats, prefix) for k in range(1, SERVE_CLIENTS + 1)]
            lines = [" ".join(step[3]) for i in range(len(plans[0])) for steps in plans for step in steps[i:i + 1]]
            long_file.write_text("".join(f"{line}\n" for line in lines))
            t = runner.timed([runner.chatemu, "run", str(long_file)], run_db)
            run_times["long"].append(t)
            return len(lines) / (t / 1000)

        def run_short() -> float:
            t = runner.timed([runner.chatemu, "run", str(short_file)], run_db)
            run_times["short"].append(t)
            return 2 / (t / 1000)

        progress(f"serve: {plan.serve_rounds} interleaved rounds of {lines_per_round} requests "
                 f"({SERVE_CLIENTS} clients) and as many `run` lines")
        samples = interleave(plan.serve_rounds, {"http": over_http, "run": run_long, "short": run_short}, warmup=1)
    finally:
        served.close()
    if served.proc.returncode not in (0, None):
        raise BenchError(f"chatemu serve exited {served.proc.returncode}: {served.proc.stderr.read()[-500:]}")
    latencies = latencies[lines_per_round:]  # the warm-up round's
    for key in run_times:
        del run_times[key][0]
    run_rates = [(lines_per_round - 2) / ((lo - sh) / 1000) if lo > sh else float("inf")
                 for lo, sh in zip(run_times["long"], run_times["short"])]
    http = {"max": max(samples["http"]), "median": statistics.median(samples["http"]), "n": len(samples["http"])}
    run = {"max": max(run_rates), "median": statistics.median(run_rates), "n": len(run_rates)}
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    r = paired(samples["http"], run_rates)
    report.sections["serve"] = {"clients": SERVE_CLIENTS, "requests_per_round": lines_per_round, "mix": SERVE_MIX_NOTE,
                                "requests_per_s": http, "run_sustained_steps_per_s": run,
                                "latency_ms": {"p50": p50, "p99": p99, "n": len(latencies)}}
    report.target(f"serve: {SERVE_CLIENTS} HTTP clients, requests/s (p50 {p50:.1f} ms, p99 {p99:.1f} ms)",
                  f"{http['max']:,.0f} / {http['median']:,.0f} req/s", "", http["median"], ">=", 0,
                  f"{http['median']:,.0f} req/s", "–")
    report.target("serve: requests/s vs `chatemu run` steps/s, same mix", f"{http['max']:,.0f} / {http['median']:,.0f} req/s",
                  rate_pair(run), r, ">=", 0.5, ratio_text(r, http["max"] / run["max"]), "≥ 0.50")


# -- output ---------------------------------------------------------------------------


def environment(runner: Runner) -> dict:
    code = (
        "import importlib.metadata as m, json, platform, sqlite3, sys\n"
        "v = lambda p: (m.version(p) if p else None)\n"
        "out = {'python': platform.python_version(), 'sqlite': sqlite3.sqlite_version}\n"
        "for p in ('typer', 'chatemu', 'rich', 'sqlite-utils'):\n"
        "    try: out[p] = m.version(p)\n"
        "    except Exception: out[p] = None\n"
        "print(json.dumps(out))\n"
    )
    info = json.loads(runner.check([runner.python, "-c", code]).stdout)
    info.update({"machine": f"{platform.system()} {platform.release()} {platform.machine()}", "cpus": os.cpu_count()})
    return info


def filesystem(path: Path) -> str:
    """The file system type a path is on, from /proc/mounts (Linux), else '?'."""
    best, kind = "", "?"
    try:
        with open("/proc/mounts") as f:
            for line in f:
                parts = line.split()
                if len(parts) > 2 and str(path).startswith(parts[1]) and len(parts[1]) > len(best):
                    best, kind = parts[1], parts[2]
    except OSError:
        pass
    return kind


def markdown(report: Report, info: dict, plan_name: str) -> str:
    out = []
    add = out.append
    add(f"## chatemu benchmark ({plan_name} run)\n")
    add(f"Python {info['python']}, typer {info['typer']}, SQLite {info['sqlite']}, {info['machine']}, "
        f"{info['cpus']} CPUs, databases in {info['tmpdir']}, 1-minute load average {info.get('load', '?')} "
        "(start → end). Times are min / median over interleaved repetitions; a ratio is "
        "the median of per-round ratios (each run against the baseline run of the same round), min/min in brackets; "
        "throughput is best / median.\n")
    for warning in report.warnings:
        add(f"{warning}\n")
    add("| check | chatemu | baseline | ratio / value | target | result |")
    add("|---|---|---|---|---|---|")
    for t in report.targets:
        add(f"| {t['check']} | {t['measured']} | {t['baseline'] or '–'} | {t['shown']} | {t['target']} | "
            f"{'ok' if t['ok'] else '**MISS**'} |")
    for err in report.errors:
        add(f"| **error** | {err} | | | | |")

    s = report.sections.get("startup")
    if s:
        add("\n### Start-up, for context\n")
        add("| command | min / median |")
        add("|---|---|")
        for name, st in s["commands"].items():
            add(f"| `{name}` | {ms_pair(st)} |")
        add("\n### Where the start-up goes (in-process phases, fresh processes)\n")
        add("| phase | min / median |")
        add("|---|---|")
        for name, st in s["breakdown"].items():
            add(f"| {name} | {ms_pair(st)} |")
        imp = s["importtime"]
        add("\n### What `chatemu chat park` imports (`python -X importtime`, median ms)\n")
        add(f"{imp['modules_imported']} modules, {imp['chatemu_total_ms']:.1f} ms of imports "
            f"(baseline app: {imp['baseline_modules_imported']} modules, {imp['baseline_total_ms']:.1f} ms); "
            f"modules the baseline does not import cost {imp['not_in_baseline_self_ms']:.1f} ms of self time.\n")
        if imp["forbidden_imported"]:
            add(f"**WARNING: `chatemu chat park` imports {', '.join(imp['forbidden_imported'][:8])}**\n")
        else:
            add("rich and sqlite_utils (and pydantic) are NOT imported by `chatemu chat park`.\n")
        add("| top-level import | cumulative ms |   | heaviest module | self ms |")
        add("|---|---|---|---|---|")
        top, heavy = imp["top_level"], imp["top_self"]
        for i in range(max(len(top), len(heavy))):
            a = top[i] if i < len(top) else ("", None)
            b = heavy[i] if i < len(heavy) else ("", None)
            add(f"| {a[0] and f'`{a[0]}`'} | {'' if a[1] is None else f'{a[1]:.1f}'} | | "
                f"{b[0] and f'`{b[0]}`'} | {'' if b[1] is None else f'{b[1]:.1f}'} |")
        add("\n| imported by chatemu, not by the baseline | self ms | imported by |")
        add("|---|---|---|")
        for name, self_ms, parent in imp["not_in_baseline"]:
            add(f"| `{name}` | {self_ms:.1f} | `{parent}` |")
        add("\nImport time (self, summed) charged to whoever imported a module first: " + ", ".join(f"{k} {v:.1f} ms" for k, v in imp["self_ms_by_package"].items()))

    b = report.sections.get("batch")
    if b:
        add("\n### Batch: steps per second (engine API and bare loop: park/activate; `run`: the mix below)\n")
        add("| path | best / median steps/s |")
        add("|---|---|")
        for name, st in b["rates"].items():
            add(f"| {name} | {st['max']:,.0f} / {st['median']:,.0f} |")
        if "run" in b:
            r = b["run"]
            add(f"| `chatemu run FILE`, sustained ({r['lines']}-line mix minus 2-line file) | "
                f"{r['sustained_steps_per_s']['max']:,.0f} / {r['sustained_steps_per_s']['median']:,.0f} |")
            add(f"\nThe `run` mix: {r['mix']}.")

    for key, heading, first in (
        ("queue", "Settling with a queue: `clock advance 2m`, N due wrap-up timers, N queued chats, max-chats 1", "N"),
        ("queue_clocks", "The same with the clocks: N wrap-ups, N reply alerts, N customers giving up (3N timers)",
         "timers"),
    ):
        qs = report.sections.get(key)
        if qs:
            add(f"\n### {heading}\n")
            add(f"{'Nothing due (the same command, same database)' if key == 'queue' else 'Nothing due'}:"
                f" {ms_pair(qs['nothing_due'])}.\n")
            add(f"| {first} | min / median | vs nothing due | per timer (median of rounds) |")
            add("|---|---|---|---|")
            for row in qs["rows"]:
                add(f"| {row['timers']:,} | {ms_pair(row['time'])} | {row['ratio']:.2f} | {row['per_timer_ms']:.3f} ms |")

    rt = report.sections.get("routing")
    if rt:
        few, many = rt["agents"]
        add(f"\n### Routing: a `run` of {rt['queued_lines']} `chat new` lines, each chat queued (every agent busy)\n")
        add("| agents, all busy | min / median |")
        add("|---|---|")
        for n in (few, many):
            add(f"| {n:,} | {ms_pair(rt['runs'][f'{n} agents'])} |")
        add("\n| building N agents in wrap-up + N queued chats (`run --fresh`, 5 N + 1 lines) | min / median |")
        add("|---|---|")
        for row in rt["ending"]:
            add(f"| {row['agents']:,} | {ms_pair(row['time'])} |")

    wh = report.sections.get("whole")
    if wh:
        sizes = list(wh["sizes"].values())
        add("\n### Whole-state commands (peak RSS and wall time; databases of N closed chats, 10 events each,"
            " and a login event per agent)\n")
        add("| command | " + " | ".join(f"{r['chats']:,} chats, {r['events']:,} events ({r['db_mb']:.0f} MB)"
                                         for r in sizes) + " | time per row, big vs small |")
        add("|---|" + "---|" * len(sizes) + "---|")
        for label in sizes[-1]["commands"]:
            cells = [f"{mb(r['commands'][label]['peak_kb'])}, {r['commands'][label]['seconds']:.2f} s" for r in sizes]
            growth = sizes[-1]["commands"][label].get("growth")
            add(f"| `chatemu {label}` | " + " | ".join(cells) + f" | {'' if growth is None else f'{growth:.2f}'} |")
        add("\nBundle: " + ", ".join(f"{r['bundle_mb']:.0f} MB" for r in sizes) + " (--pretty: "
            + ", ".join(f"{r['pretty_bundle_mb']:.0f} MB" for r in sizes) + "); one snapshot adds "
            + ", ".join(f"{r['snapshot_adds_mb']:.1f} MB" for r in sizes) + " to the database file.")

    sc = report.sections.get("scale")
    if sc:
        add(f"\n### Scale ({sc['closed_chats']:,} closed chats, {sc['events']:,} events, {sc['db_mb']:.0f} MB, "
            f"built in {sc['build_s']:.1f} s" + (f", `db check` exit {sc['db_check_exit']}" if "db_check_exit" in sc else "")
            + ")\n")
        add("| command | empty db | big db |")
        add("|---|---|---|")
        for what in ("chat list", "chat park/activate"):
            add(f"| `chatemu {what}` | {ms_pair(sc['commands'][f'{what} (empty)'])} | "
                f"{ms_pair(sc['commands'][f'{what} (big)'])} |")
        add("\n| due timers settled by `clock advance 2m` | empty db | big db | ratio |")
        add("|---|---|---|---|")
        for row in sc["settle"]["rows"]:
            add(f"| {row['timers']} | {ms_pair(row['empty'])} | {ms_pair(row['big'])} | {row['ratio']:.2f} |")
        pt = sc["settle"]["per_timer_ms"]
        add(f"\nPer due timer: {pt['empty']:.3f} ms (empty history), {pt['big']:.3f} ms (big history).")

    sv = report.sections.get("serve")
    if sv:
        lat = sv["latency_ms"]
        add(f"\n### Serve: {sv['clients']} HTTP clients at once, {sv['requests_per_round']:,} requests a round\n")
        add("| path | best / median |")
        add("|---|---|")
        add(f"| `chatemu serve`, keep-alive connections | {sv['requests_per_s']['max']:,.0f} / "
            f"{sv['requests_per_s']['median']:,.0f} requests/s (latency p50 {lat['p50']:.1f} ms, p99 {lat['p99']:.1f} ms) |")
        add(f"| `chatemu run FILE` of the same lines, sustained | {rate_pair(sv['run_sustained_steps_per_s'])} |")
        add(f"\nThe serve mix: {sv['mix']}.")

    m = report.sections.get("memory")
    if m:
        add(f"\n### Peak memory (max RSS, median; {m['method']})\n")
        add("| command | peak RSS |")
        add("|---|---|")
        for name, p in m["peaks"].items():
            add(f"| `{name}` | {mb(p['median_kb'])} |")

    for note in report.notes:
        add(f"\nNote: {note}")
    return "\n".join(out) + "\n"


# -- main -----------------------------------------------------------------------------

SECTIONS = ["startup", "batch", "scale", "queue", "routing", "memory", "whole", "serve", "simulate"]


def find_chatemu(explicit: str | None) -> str:
    if explicit:
        return explicit
    beside = Path(sys.executable).parent / "chatemu"
    if beside.is_file():
        return str(beside)
    repo_venv = HERE.parent / ".venv" / "bin" / "chatemu"
    if repo_venv.is_file():
        return str(repo_venv)
    found = shutil.which("chatemu")
    if not found:
        raise SystemExit("bench: cannot find the chatemu command; pass --chatemu PATH")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smoke run: small sizes, few repetitions (seconds)")
    parser.add_argument("--json", action="store_true", help="print the numbers as one JSON document instead of markdown")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--chatemu", help="the chatemu command to measure [default: the one beside this Python]")
    parser.add_argument("--only", choices=SECTIONS, action="append",
                        help="run only these sections (repeatable)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary databases and print where")
    parser.add_argument("--tmpdir", help="where to make the temporary databases [default: the system's temp folder]; "
                        "e.g. /dev/shm to take disk latency out of the batch figures")
    args = parser.parse_args(argv)

    chatemu = os.path.abspath(find_chatemu(args.chatemu))
    python = script_interpreter(chatemu) or sys.executable
    # The engine batch runs in this process: it must be chatemu's Python.
    if importlib.util.find_spec("chatemu") is None and os.path.realpath(python) != os.path.realpath(sys.executable):
        os.execv(python, [python, str(Path(__file__).resolve()), *(sys.argv[1:] if argv is None else argv)])

    plan = Plan.quick() if args.quick else Plan.full()
    sections = args.only or SECTIONS
    report = Report()
    tmp = Path(tempfile.mkdtemp(prefix="chatemu-bench-", dir=args.tmpdir))
    started = time.perf_counter()
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    timings: dict[str, float] = {}
    try:
        runner = Runner(tmp, chatemu, python)
        info = environment(runner)
        info["tmpdir"] = f"{tmp.parent} ({filesystem(tmp)})"
        progress(f"{'quick' if args.quick else 'full'} run of {chatemu} (typer {info['typer']}), temp dir {tmp}")
        scale = None
        for name in sections:
            section_started = time.perf_counter()
            try:
                if name == "startup":
                    bench_startup(runner, plan, report)
                elif name == "batch":
                    bench_batch(runner, plan, report)
                elif name == "scale":
                    scale = bench_scale(runner, plan, report)
                elif name == "queue":
                    bench_queue(runner, plan, report)
                elif name == "routing":
                    bench_routing(runner, plan, report)
                elif name == "whole":
                    bench_whole(runner, plan, report)
                elif name == "memory":
                    bench_memory(runner, plan, report, scale)
                elif name == "serve":
                    bench_serve(runner, plan, report)
                elif name == "simulate":
                    bench_simulate(runner, plan, report)
            except Exception as exc:  # report it, go on with the other sections
                report.errors.append(f"{name}: {type(exc).__name__}: {exc}")
                progress(f"{name} failed:\n{traceback.format_exc()}")
            timings[name] = time.perf_counter() - section_started
    finally:
        if args.keep:
            progress(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    elapsed = time.perf_counter() - started
    if hasattr(os, "getloadavg"):
        load_after = os.getloadavg()[0]
        info["load"] = f"{load_before:.1f} → {load_after:.1f}"
        if max(load_before, load_after) > (os.cpu_count() or 1) * 0.75:
            report.warnings.append(f"**The machine was busy** (1-minute load average {info['load']} on "
                                f"{os.cpu_count()} CPUs): other processes competed with every measurement, so "
                                "medians are inflated and ratios less reliable; prefer the min columns or rerun.")
    report.notes.append(
        f"benchmark took {elapsed:.0f} s (" + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items())
        + f"); command: `.venv/bin/python benchmarks/bench.py{' --quick' if args.quick else ''}"
        + "".join(f" --only {name}" for name in args.only or []) + "`"
    )

    if args.json:
        print(json.dumps({
            "plan": "quick" if args.quick else "full", "environment": info, "targets": report.targets,
            "sections": report.sections, "errors": report.errors, "notes": report.notes,
            "warnings": report.warnings, "seconds": elapsed,
        }, indent=2, default=str))
    else:
        print(markdown(report, info, "quick" if args.quick else "full"))
    if report.errors:
        return 2
    if args.check and not all(t["ok"] for t in report.targets):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
