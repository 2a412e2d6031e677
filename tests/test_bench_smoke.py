"""The benchmark script still runs: each section of `benchmarks/bench.py --quick` completes and reports.

A smoke test only: timings are never asserted here (the script's own `--check`
does that, on purpose, outside the test suite).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench.py"


def run_bench(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATEMU_")}
    return subprocess.run(
        [sys.executable, str(BENCH), "--quick", *args], capture_output=True, text=True, env=env, timeout=600
    )


HEAVY = bool(os.environ.get("CHATEMU_HEAVY"))  # as in test_check.py: set and non-empty


def test_quick_run_prints_the_table():
    """The queue and routing sections as a table (every section at once with ``CHATEMU_HEAVY``)."""
    done = run_bench() if HEAVY else run_bench("--only", "queue", "--only", "routing")
    assert done.returncode == 0, f"exit {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr[-3000:]}"
    out = done.stdout
    assert "| check | chatemu | baseline | ratio / value | target | result |" in out
    for row in ("start-up:", "batch:", "scale:", "memory:", "queue:", "routing:", "serve:") if HEAVY else ("queue:", "routing:"):
        assert f"| {row}" in out, f"no {row} row in:\n{out}"
    assert "**error**" not in out
    if HEAVY:  # the import check is reported either way (a regression shows as a WARNING line)
        assert "NOT imported by `chatemu chat park`" in out or "WARNING: `chatemu chat park` imports" in out, out


#: The lightest sections by default; every one with ``CHATEMU_HEAVY`` (the suite stays fast).
SECTIONS = ["startup", "batch", "scale", "queue", "routing", "memory", "whole", "serve"] if HEAVY else ["memory"]


@pytest.mark.parametrize("section", SECTIONS)
def test_each_section_runs_and_reports_json(section):
    done = run_bench("--json", "--only", section)
    assert done.returncode == 0, f"exit {done.returncode}\nstderr:\n{done.stderr[-3000:]}"
    doc = json.loads(done.stdout)
    assert doc["errors"] == []
    assert list(doc["sections"]) == [section] and doc["sections"][section]
    assert all({"check", "value", "target", "ok"} <= set(t) for t in doc["targets"])
    assert doc["targets"] or section == "memory"  # its target compares with the scale section's runs
