"""`chatemu simulate` against queueing theory.

M/M/c (Poisson arrivals, exponential handle times, no wrap-up, no abandonment, c agents of
capacity 1, longest-wait routing, auto-present on, reply delay 0): the probability of waiting,
the mean wait and the service level at 20 s against Erlang C, at 70%, 85% and 95% occupancy.
M/M/c+M (exponential patience): the probability of abandoning, of waiting, and the mean wait
against the Erlang A model, computed exactly from its birth-death chain.  The wait is queued →
presented (or → abandoned), read from the event log.  Each figure must lie within the
simulation's own 95% confidence interval (batch means: the customers after a warm-up split
into 20 batches in arrival order, Student's t with 19 degrees of freedom).

By default the four cases simulate 28,000 customers in all (about 35 s of CPU on this project's
machine); ``CHATEMU_HEAVY=1`` simulates six to ten times as many.  ``python tests/test_simulate_theory.py`` prints the table of
docs/simulate.md.
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
T_975_19 = 2.093  # Student's t, 97.5th percentile, 19 degrees of freedom
BATCHES = 20

#: (name, occupancy, mean patience in seconds or None, customers by default, with CHATEMU_HEAVY)
#: A wait's correlation from customer to customer lasts about occupancy / (1 - sqrt(occupancy))^2
#: customers (M/M/c's relaxation): 26 at 70%, 140 at 85%, about 1,500 at 95%; each batch must be
#: several times that, so the 95% case needs the most customers.
CASES = [
    ("M/M/10 at 70%", 0.70, None, 2000, 20000),
    ("M/M/10 at 85%", 0.85, None, 4000, 40000),
    ("M/M/10 at 95%", 0.95, None, 20000, 120000),
    ("M/M/10+M at 95%, patience 2m", 0.95, 120.0, 2000, 20000),
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


def interval(values: list[float]) -> tuple[float, float, float]:
    """Batch means: the estimate and its 95% confidence interval."""
    size = len(values) // BATCHES
    means = [statistics.fmean(values[i * size:(i + 1) * size]) for i in range(BATCHES)]
    centre = statistics.fmean(means)
    half = T_975_19 * statistics.stdev(means) / math.sqrt(BATCHES)
    return centre, centre - half, centre + half


def measure(db: Path, occupancy: float, patience: float | None, customers: int) -> dict:
    seed = 1 + [case[1:3] for case in CASES].index((occupancy, patience))  # each case its own random numbers
    simulate(db, model_text(occupancy, patience, customers, seed))
    found = waits(db)
    found = found[len(found) // 10:]  # warm-up: the day starts with every agent free
    lam, mu = occupancy * AGENTS / HANDLE_S, 1 / HANDLE_S
    theory = erlang_c(AGENTS, lam, mu) if patience is None else erlang_a(AGENTS, lam, mu, 1 / patience)
    figures = {
        "p_wait": [1.0 if w > 0 else 0.0 for w, _ in found],
        "mean_wait": [w for w, _ in found],
        "service_level": [1.0 if w <= SL_S and not gave_up else 0.0 for w, gave_up in found],
        "p_abandon": [1.0 if gave_up else 0.0 for _, gave_up in found],
    }
    return {name: (theory[name], *interval(figures[name])) for name in theory}


@pytest.mark.parametrize("name, occupancy, patience, light, heavy", CASES, ids=[c[0] for c in CASES])
def test_simulation_matches_theory(tmp_path, name, occupancy, patience, light, heavy):
    found = measure(tmp_path / "theory.db", occupancy, patience, heavy if HEAVY else light)
    if patience is None:  # the engine's waits are exactly M/M/c's for its own draws
        assert fcfs_mismatches(tmp_path / "theory.db") == (0, pytest.approx(heavy if HEAVY else light, rel=0.1))
    for figure, (theory, centre, low, high) in found.items():
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
    show("| case | customers | figure | theory | simulation | 95% interval | within |")
    show("|---|---|---|---|---|---|---|")
    for name, occupancy, patience, light, many in CASES:
        customers = many if heavy else light
        with tempfile.TemporaryDirectory() as folder:
            found = measure(Path(folder) / "theory.db", occupancy, patience, customers)
        for figure, (theory, centre, low, high) in found.items():
            if figure == "p_abandon" and patience is None:
                continue
            digits = 2 if figure == "mean_wait" else 4
            show(f"| {name} | {customers:,} | {names[figure]} | {theory:.{digits}f} | {centre:.{digits}f} |"
                 f" [{low:.{digits}f}, {high:.{digits}f}] | {'yes' if low <= theory <= high else '**no**'} |")


if __name__ == "__main__":
    table(HEAVY or "--heavy" in sys.argv, lambda line: print(line, flush=True))
