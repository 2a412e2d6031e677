"""Kill -9: SIGKILL long ``chatemu run`` scenarios at random moments; nothing is lost or half-written.

The scenario is built so that **every line appends exactly one chat event** and nothing else does (chats
go straight into the inbox with ``--inbox``, so there are no presentations; the only timer runs out
on the ``clock advance 61s`` line that follows the ``chat end`` that started it).  After a kill that
leaves N chat events in the database, exactly the first N lines must have happened, whole (the agent's
status events come with the lines that change its status).  Each round:

1. copies a prepared database (clock set, agent created), starts ``chatemu run --json`` on it and
   sends SIGKILL after a random delay (within the time the whole run takes);
2. ``chatemu db check`` must be clean;
3. the number N of chat events is the number of completed lines: the whole database (every table, every
   row) equals a fresh copy on which only the first N lines were run;
4. every line the killed run reported on stdout (``--json``: printed after its commit; output is
   block-buffered, so it lags) is among those N;
5. running the remaining lines on the killed database ends in exactly the state of an uninterrupted
   run: it still works and nothing of the interrupted run is in the way.

Rounds: 8 by default; ``CHATEMU_HEAVY=1``: 50 (and a longer scenario).  The delays come from a fixed
seed, but where the kill lands depends on the machine's speed.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import CHATEMU, START, Chatemu

HEAVY = bool(os.environ.get("CHATEMU_HEAVY"))  # as in test_check.py: set and non-empty
ROUNDS = 50 if HEAVY else 3
CYCLES = 500 if HEAVY else 400  # six lines each
SEED = 20260105


def scenario(cycles: int) -> list[str]:
    """Lines that each append exactly one event (each chat's whole life, two ways, alternating)."""
    lines = []
    for i in range(cycles):
        k = f"K{i}"
        if i % 2 == 0:  # ends by the timer running out
            lines += [f"chat new --id {k} --inbox --customer 'Cust {i}'", f"chat activate {k}", f"chat park {k}",
                      f"chat activate {k}", f"chat end {k}", "clock advance 61s"]
        else:  # ends by the agent finishing wrap-up, paused and resumed on the way
            lines += [f"chat new --id {k} --inbox", f"chat activate {k}", f"chat wrapup {k}",
                      f"chat park {k}", f"chat activate {k}", f"chat wrapup {k} --finish"]
    return lines


def event_count(db: Path) -> int:
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT count(*) FROM events WHERE chat IS NOT NULL").fetchone()[0]
    finally:
        conn.close()


def run_lines(cm: Chatemu, lines: list[str], path: Path) -> None:
    if not lines:
        return
    path.write_text("\n".join(lines) + "\n")
    done = cm.run("run", "--quiet", str(path))
    assert done.code == 0 and done.err == "", done


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """The prepared database, the scenario, and the database after the whole scenario ran."""
    folder = tmp_path_factory.mktemp("kill")
    base = Chatemu(folder / "base.db")
    base.ok("clock", "set", START)
    base.ok("agent", "login")  # creates agent-1 (its status event is not a chat event)
    assert event_count(base.db) == 0
    lines = scenario(CYCLES)
    file = folder / "scenario.chatemu"
    file.write_text("\n".join(lines) + "\n")
    full = Chatemu(folder / "full.db")
    shutil.copyfile(base.db, full.db)
    started = time.monotonic()
    run_lines(full, lines, file)
    took = time.monotonic() - started
    assert event_count(full.db) == len(lines), "a scenario line did not append exactly one event"
    assert full.run("db", "check").code == 0
    return {"base": base.db, "lines": lines, "file": file, "full": full.dump(), "took": took}


def test_sigkill_mid_run_loses_nothing(prepared, tmp_path):
    rng = random.Random(SEED)
    lines, took = prepared["lines"], prepared["took"]
    kills, attempts, seen = 0, 0, []
    while kills < ROUNDS:
        attempts += 1
        assert attempts <= ROUNDS * 3, f"the run kept finishing before the kill: {seen}"
        folder = tmp_path / f"round{attempts}"
        folder.mkdir()
        cm = Chatemu(folder / "killed.db")
        shutil.copyfile(prepared["base"], cm.db)
        delay = rng.uniform(0.0, took * 0.9)
        out, err = folder / "stdout", folder / "stderr"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            proc = subprocess.Popen([CHATEMU, "run", "--json", str(prepared["file"])],
                                    env=cm.env, stdout=stdout, stderr=stderr)
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
            code = proc.wait(timeout=60)
        if code != -signal.SIGKILL:  # it finished first: not a kill
            assert code == 0, (code, err.read_text())
            seen.append(f"finished before {delay:.2f}s")
            continue
        kills += 1
        where = f"round {attempts} (killed after {delay:.3f}s)"

        check = cm.run("db", "check")
        assert check.code == 0, f"{where}: {check}"
        assert "Traceback" not in err.read_text(errors="replace"), where

        n = event_count(cm.db)
        seen.append(n)
        assert 0 <= n <= len(lines), where
        # Lines the killed run reported done (whole JSON lines only: the last one may be cut).
        reported = []
        for raw in out.read_text(errors="replace").splitlines(keepends=True):
            if raw.endswith("\n"):
                reported.append(json.loads(raw))
        assert [r["line"] for r in reported] == list(range(1, len(reported) + 1)), where
        assert all(r["exit"] == 0 for r in reported), where
        assert len(reported) <= n, f"{where}: {len(reported)} lines reported done but only {n} events stored"

        # The killed database is exactly the first n lines, run on their own.
        prefix = Chatemu(folder / "prefix.db")
        shutil.copyfile(prepared["base"], prefix.db)
        run_lines(prefix, lines[:n], folder / "prefix.chatemu")
        assert cm.dump() == prefix.dump(), f"{where}: {n} events, but the state is not that of the first {n} lines"

        # It carries on: the remaining lines end exactly where an uninterrupted run ends.
        run_lines(cm, lines[n:], folder / "rest.chatemu")
        assert cm.dump() == prepared["full"], f"{where}: resuming after line {n} did not end in the full run's state"
        assert cm.run("db", "check").code == 0, where
    # The kills landed at different places (not all before the first line, nor all after the last).
    assert len({n for n in seen if isinstance(n, int)}) > 1, seen
