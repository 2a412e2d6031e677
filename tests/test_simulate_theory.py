"""`chatemu simulate` against queueing theory.

M/M/c (Poisson arrivals, exponential handle times, no wrap-up, no abandonment, c agents of
capacity 1, longest-wait routing, auto-present on, reply delay 0): the probability of waiting,
the mean wait and the service level at 20 s against Erlang C, at 70%, 85% and 95% occupancy.
M/M/c+M (exponential patience of mean 2 minutes), at the same three loads: the probability of
abandoning, of waiting, and the mean wait against the Erlang A model, computed exactly from its
birth-death chain.  The wait is queued → presented (or → abandoned), read from the event log of
the engine's own runs.

Two checks:

* exactness: for M/M/c, every customer's wait is the one first-come-first-served M/M/c gives for
  the same arrival instants and handle times (``fcfs_mismatches`` is 0 on every run);
* theory: each figure lies within the simulation's confidence interval from independent
  replications (each run its own seed, starting with every agent free; its first customers are
  a warm-up and are left out), Student's t over the replications' means.

By default each case runs 4 replications of a few hundred customers (9,600 customers in all,
about 14 s of CPU on this project's machine) and the interval is a 99% one; ``CHATEMU_HEAVY=1`` runs 10 replications
of thousands (160,000 customers) with 95% intervals.  docs/simulate.md gives the intervals'
coverage measured at both sizes.  ``python tests/test_simulate_theory.py [--heavy]`` prints
docs/simulate.md's table.
"""

from __future__ import annotations

import math
import os
import sqlite3
import statistics
import sys
from pathlib import Path

import pytest

HEAVY = bool(os.environ.get("CHATEMU_HEAVY"))
HANDLE_S = 180.0  # mean handle time: 3 minutes
AGENTS = 10
SL_S = 20.0
PATIENCE_S = 120.0

#: Student's t quantiles by degrees of freedom: 99.5th (the default's 99% intervals) and 97.5th
#: (the heavy sizes' 95% intervals).
T_995 = {3: 5.841}
T_975 = {9: 2.262}

#: (name, occupancy, mean patience in seconds or None,
#:  (replications, customers each, warm-up customers) by default, and with CHATEMU_HEAVY).
#: A wait's correlation from customer to customer lasts about occupancy / (1 - sqrt(occupancy))^2
#: customers (M/M/c's relaxation): 26 at 70%, 140 at 85%, about 1,500 at 95%; patience cuts it
#: short.  The warm-up and the runs grow with it.
CASES = [
    ("M/M/10 at 70%", 0.70, None, (4, 200, 40), (10, 2000, 200)),
    ("M/M/10 at 85%", 0.85, None, (4, 250, 60), (10, 3000, 500)),
    ("M/M/10 at 95%", 0.95, None, (4, 1500, 500), (10, 8000, 2000)),
    ("M/M/10+M at 70%, patience 2m", 0.70, PATIENCE_S, (4, 150, 30), (10, 1000, 100)),
    ("M/M/10+M at 85%, patience 2m", 0.85, PATIENCE_S, (4, 150, 30), (10, 1000, 100)),
    ("M/M/10+M at 95%, patience 2m", 0.95, PATIENCE_S, (4, 150, 30), (10, 1000, 100)),
]


# -- theory ------------------------------------------------------------------------


def erlang_c(c: int, lam: float, mu: float) -> dict:
    """Erlang C: probability of waiting, mean wait, P(wait <= SL_S)."""
    a = lam / mu
    term, total = 1.0, 1.0
    for k in range(1, c):
        term *= a / k
        total += term
    top = term * a / c * c / (c - a)
    p_wait = top / (total + top)
    gap = c * mu - lam
    return {"p_wait": p_wait, "mean_wait": p_wait / gap, "service_level": 1 - p_wait * math.exp(-gap * SL_S),
            "p_abandon": 0.0}


def erlang_a(c: int, lam: float, mu: float, theta: float, states: int = 2000) -> dict:
    """Erlang A from its birth-death chain (truncated where the probabilities vanish): by PASTA
    an arrival waits when it finds c or more in the system; abandonments are theta * Lq per unit
    of time; the mean wait (served and abandoned alike) is Lq / lambda (Little)."""
    weights = [1.0]
    for n in range(1, states):
        weights.append(weights[-1] * lam / (min(n, c) * mu + max(n - c, 0) * theta))
    z = sum(weights)
    pi = [w / z for w in weights]
    lq = sum((n - c) * p for n, p in enumerate(pi) if n > c)
    return {"p_wait": sum(pi[c:]), "mean_wait": lq / lam, "p_abandon": theta * lq / lam}


# -- simulation ----------------------------------------------------------------------


def model_text(occupancy: float, patience: float | None, customers: int, seed: int = 1) -> str:
    per_hour = occupancy * AGENTS * 3600 / HANDLE_S
    hours = customers / per_hour
    lines = [f"seed = {seed}", f'length = "{round(hours * 3600)}s"', 'start = "2026-01-05T00:00:00Z"', "",
             "[[queue]]", 'name = "q"', f"arrivals_per_hour = {per_hour}",
             f'handle_time = {{ mean = "{HANDLE_S:g}s", distribution = "exponential" }}']
    if patience is not None:
        lines.append(f'patience = {{ mean = "{patience:g}s", distribution = "exponential" }}')
    lines += ["", "[[agents]]", f"count = {AGENTS}", 'queues = ["q"]', "max_chats = 1", 'reply_delay = "0s"',
              'wrapup = "0s"', ""]
    return "\n".join(lines)


def simulate(db: Path, text: str) -> None:
    import tomllib

    from chatemu.store import simulate as sim
    from chatemu.store.simulation import SimEngine, Simulation

    engine = SimEngine(str(db), "sim-1")
    with engine.kept_open():
        run = Simulation(engine, sim.parse(tomllib.loads(text)))
        run.prepare()
        assert run.run()


def waits(db: Path) -> list[tuple[float, bool]]:
    """Each customer's wait in seconds (queued → presented or abandoned) and whether it abandoned,
    in arrival order."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT min(CASE WHEN from_state IS NULL THEN at_ms END),"
            " min(CASE WHEN from_state = 'queued' THEN at_ms END),"
            " max(CASE WHEN from_state = 'queued' AND to_state = 'closed' THEN 1 ELSE 0 END)"
            " FROM events WHERE chat IS NOT NULL GROUP BY chat ORDER BY min(seq)").fetchall()
    return [((left - came) / 1000, bool(gave_up)) for came, left, gave_up in rows]


def fcfs_mismatches(db: Path) -> tuple[int, int]:
    """How many customers' waits differ from what first-come-first-served M/M/c gives for the same
    arrival instants and handle times (each customer starts when it arrives or when the first of
    the c agents frees up, whichever is later), and how many customers there are."""
    import heapq

    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT min(CASE WHEN from_state IS NULL THEN at_ms END),"
            " min(CASE WHEN from_state = 'queued' THEN at_ms END),"
            " min(CASE WHEN to_state = 'active' THEN at_ms END), max(CASE WHEN to_state = 'closed' THEN at_ms END)"
            " FROM events WHERE chat IS NOT NULL GROUP BY chat ORDER BY min(seq)").fetchall()
    free = [rows[0][0]] * AGENTS
    wrong = 0
    for came, left, activated, closed in rows:
        start = max(came, heapq.heappop(free))
        wrong += start != left
        heapq.heappush(free, start + (closed - activated))
    return wrong, len(rows)


def sizes(case, heavy: bool = HEAVY) -> tuple[int, int, int]:
    return case[4] if heavy else case[3]


def replicate(folder: Path, case, heavy: bool = HEAVY) -> list[Path]:
    """The case's independent replications, each a run of ``chatemu simulate``'s engine with a
    seed of its own; their databases."""
    name, occupancy, patience, _, _ = case
    runs, customers, _ = sizes(case, heavy)
    number = [c[0] for c in CASES].index(name)
    found = []
    for run in range(runs):
        db = folder / f"theory-{number}-{run}.db"
        simulate(db, model_text(occupancy, patience, customers, seed=100 * number + run + 1))
        found.append(db)
    return found


def measure(dbs: list[Path], case, heavy: bool = HEAVY) -> dict:
    """Each figure: (theory, the replications' mean, its confidence interval's low and high end)."""
    _, occupancy, patience, _, _ = case
    warm = sizes(case, heavy)[2]
    lam, mu = occupancy * AGENTS / HANDLE_S, 1 / HANDLE_S
    theory = erlang_c(AGENTS, lam, mu) if patience is None else erlang_a(AGENTS, lam, mu, 1 / patience)
    per_run = {name: [] for name in theory}
    for db in dbs:
        found = waits(db)[warm:]  # warm-up: each run starts with every agent free
        per_run["p_wait"].append(statistics.fmean(1.0 if w > 0 else 0.0 for w, _ in found))
        per_run["mean_wait"].append(statistics.fmean(w for w, _ in found))
        if "service_level" in per_run:
            per_run["service_level"].append(statistics.fmean(1.0 if w <= SL_S and not gave_up else 0.0
                                                             for w, gave_up in found))
        per_run["p_abandon"].append(statistics.fmean(1.0 if gave_up else 0.0 for _, gave_up in found))
    t = (T_975 if heavy else T_995)[len(dbs) - 1]
    result = {}
    for name, values in per_run.items():
        centre = statistics.fmean(values)
        half = t * statistics.stdev(values) / math.sqrt(len(values))
        result[name] = (theory[name], centre, centre - half, centre + half)
    return result


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_simulation_matches_theory(tmp_path, case):
    name, _, patience, _, _ = case
    dbs = replicate(tmp_path, case)
    if patience is None:  # the engine's waits are exactly M/M/c's for its own draws, customer by customer
        customers = sizes(case)[1]
        for db in dbs:
            assert fcfs_mismatches(db) == (0, pytest.approx(customers, rel=0.25))
    for figure, (theory, centre, low, high) in measure(dbs, case).items():
        if figure == "p_abandon" and patience is None:
            assert centre == 0.0
            continue
        assert low <= theory <= high, f"{name}: {figure}: theory {theory:.4f}, simulation {centre:.4f} [{low:.4f}, {high:.4f}]"


def test_the_theory_functions_agree_with_known_values():
    # Erlang C from Erlang B's recursion (B(0) = 1, B(k) = aB(k-1) / (k + aB(k-1)), C = cB / (c - a(1 - B)));
    # Erlang A tends to Erlang C as patience grows
    b = 1.0
    for k in range(1, 11):
        b = 9.5 * b / (k + 9.5 * b)
    c = erlang_c(10, 9.5, 1.0)
    assert abs(c["p_wait"] - 10 * b / (10 - 9.5 * (1 - b))) < 1e-12
    a = erlang_a(10, 9.5, 1.0, 1e-6, states=20000)
    assert abs(a["p_wait"] - c["p_wait"]) < 0.01 and a["p_abandon"] < 0.001
    # a lone agent with impatient customers: M/M/1+M against its chain summed by hand
    one = erlang_a(1, 1.0, 1.0, 1.0, states=200)
    assert abs(one["p_wait"] - (1 - 1 / math.e)) < 1e-9


def table(heavy: bool, show=print) -> None:
    """docs/simulate.md's table, a line at a time."""
    import tempfile

    names = {"p_wait": "P(wait)", "mean_wait": "mean wait (s)", "service_level": "service level 20 s",
             "p_abandon": "P(abandon)"}
    show(f"| case | runs × customers (warm-up) | figure | theory | simulation | {'95' if heavy else '99'}% interval | within |")
    show("|---|---|---|---|---|---|---|")
    for case in CASES:
        name, _, patience, _, _ = case
        runs, customers, warm = sizes(case, heavy)
        with tempfile.TemporaryDirectory() as folder:
            found = measure(replicate(Path(folder), case, heavy), case, heavy)
        for figure, (theory, centre, low, high) in found.items():
            if figure == "p_abandon" and patience is None:
                continue
            digits = 2 if figure == "mean_wait" else 4
            show(f"| {name} | {runs} × {customers:,} ({warm:,}) | {names[figure]} | {theory:.{digits}f} | {centre:.{digits}f} |"
                 f" [{low:.{digits}f}, {high:.{digits}f}] | {'yes' if low <= theory <= high else '**no**'} |")


if __name__ == "__main__":
    table(HEAVY or "--heavy" in sys.argv, lambda line: print(line, flush=True))
