"""`chatemu simulate`: model files, determinism, the summary, --until and carrying on, the
examples; as real `chatemu` processes (the model's parsing in-process)."""

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from chatemu.store import simulate as sim
from chatemu.store.errors import UsageError

from conftest import Chatemu

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "examples" / "models"

SMALL = """\
seed = 3
length = "30m"
start = "2026-01-05T09:00:00Z"

[[queue]]
name = "sales"
arrivals_per_hour = 50
handle_time = { mean = "3m", distribution = "exponential" }
patience = { mean = "1m", distribution = "exponential" }
messages = { mean = 2 }

[[queue]]
name = "billing"
arrivals_by_hour = [0, 0, 0, 0, 0, 0, 0, 0, 0, 20, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
handle_time = { mean = "4m", distribution = "lognormal", sd = "2m" }

[[agents]]
count = 2
queues = ["sales"]
reply_delay = "5s"
wrapup = "20s"

[[agents]]
name = "floor"
count = 1
queues = ["sales", "billing"]
max_chats = 2
wrapup = "timer"
"""


def write(tmp_path: Path, text: str, name: str = "model.toml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def export(c: Chatemu, tmp_path: Path, name: str) -> bytes:
    out = tmp_path / name
    c.ok("export", str(out))
    return out.read_bytes()


def fresh(tmp_path: Path, name: str, cm: Chatemu) -> Chatemu:
    other = Chatemu(tmp_path / name)
    shutil.copyfile(cm.db, other.db)
    return other


# -- the model file ----------------------------------------------------------------

BAD = [
    ("seed = 1\nlength = '1h'\n", "queue is missing"),
    (SMALL.replace('seed = 3', 'seed = 3\ncolour = "red"'), "unknown key 'colour'"),
    (SMALL.replace("arrivals_per_hour = 50", "arrivals_per_hour = -5"), "-5 is out of range"),
    (SMALL.replace('length = "30m"', 'length = "0s"'), "length: '0s' must be longer than 0s"),
    (SMALL.replace('length = "30m"', 'length = "-1h"'), "bad duration"),
    (SMALL.replace('distribution = "exponential" }\npatience', 'distribution = "gamma" }\npatience'),
     "'gamma' is not one of fixed, exponential, lognormal"),
    (SMALL.replace(', sd = "2m"', ""), "a lognormal distribution needs sd"),
    (SMALL.replace('queues = ["sales", "billing"]', 'queues = ["sales", "support"]'), "unknown queue 'support'"),
    (SMALL.replace("count = 2", "count = 0"), "count: 0 is out of range"),
    (SMALL.replace("count = 2", "count = 2.5"), "not a whole number"),
    (SMALL.replace("[0, 0, 0, 0, 0, 0, 0, 0, 0, 20,", "[0, 0, 0, 20,"), "must be a list of 24 numbers"),
    (SMALL.replace("arrivals_per_hour = 50", "arrivals_per_hour = 50\narrivals_by_hour = [1]"),
     "give arrivals_per_hour or arrivals_by_hour (one of them)"),
    (SMALL.replace('wrapup = "20s"', 'wrapup = "soon"'), "bad duration"),
    (SMALL.replace("messages = { mean = 2 }", "messages = { mean = 2, per = 1 }"), "unknown key 'per'"),
    (SMALL.replace('[[agents]]\ncount = 2', '[[agents]]\nname = "floor"\ncount = 2'), "agent floor-1 is in two groups"),
    (SMALL.replace("max_chats = 2", "max_chats = 0"), "max_chats: 0 is out of range"),
    (SMALL + "\n[[queue]]\nname = 'sales'\narrivals_per_hour = 1\nhandle_time = { mean = '1m' }\n",
     "a queue name is given twice"),
    ("seed = 1\nlength = [\n", "is not valid TOML"),
    (SMALL.replace("seed = 3", "seed = 99999999999999999999999"), "out of range"),
    (SMALL.replace("seed = 3", "seed = -1"), "out of range"),
    (SMALL.replace("arrivals_per_hour = 50", "arrivals_per_hour = 1e300"), "out of range"),
    (SMALL.replace("arrivals_per_hour = 50", "arrivals_per_hour = nan"), "out of range"),
    (SMALL.replace("arrivals_per_hour = 50", "arrivals_per_hour = inf"), "out of range"),
    (SMALL.replace("count = 2", "count = 99999999999999999999"), "out of range"),
    (SMALL.replace('length = "30m"', 'length = "99999999999h"'), "longer than 100 years"),
    (SMALL.replace('length = "30m"', 'length = "400d"'), "bad duration"),
    (SMALL.replace('mean = "3m"', 'mean = "inf"'), "bad duration"),
    (SMALL.replace('mean = "3m", distribution = "exponential"', 'mean = "0s", distribution = "exponential"'),
     "needs a mean longer than 0s"),
    (SMALL.replace('start = "2026-01-05T09:00:00Z"', 'start = "tomorrow"'), "bad time"),
]


@pytest.mark.parametrize("text, message", BAD, ids=[m for _, m in BAD])
def test_a_bad_model_is_one_usage_error_and_changes_nothing(cm, tmp_path, text, message):
    cm.ok("chat", "new")  # something to keep
    cm.fails(2, "simulate", write(tmp_path, text), match=message)


def test_a_missing_model_file_is_a_usage_error(cm, tmp_path):
    cm.fails(2, "simulate", str(tmp_path / "nowhere.toml"), match="cannot read model")


def test_parse_reads_every_key_of_the_contract():
    import tomllib

    model = sim.parse(tomllib.loads(SMALL))
    assert model.seed == 3 and model.length == 30 * 60_000
    sales, billing = model.queues
    assert sales.rates == (50.0,) * 24 and sales.handle.kind == "exponential" and sales.handle.mean == 180_000
    assert sales.patience.mean == 60_000 and sales.messages == 2 and sales.message_kind == "poisson"
    assert billing.rates[9] == 20 and billing.rates[8] == 0 and billing.handle.sd == 120_000
    assert billing.patience is None
    first, floor = model.groups
    assert first.ids == ("sim-1", "sim-2") and first.reply_delay == 5_000 and first.wrapup == 20_000
    assert floor.ids == ("floor-1",) and floor.max_chats == 2 and floor.wrapup is None
    with pytest.raises(UsageError, match="reply_delay"):
        sim.parse(tomllib.loads(SMALL.replace('reply_delay = "5s"', 'reply_delay = true')))


def test_draws_follow_their_distributions():
    import random
    import statistics

    rng = random.Random(1)
    assert sim.Dist("fixed", 5000).draw(rng) == 5000
    exp = [sim.Dist("exponential", 60_000).draw(rng) for _ in range(20_000)]
    assert 58_000 < statistics.mean(exp) < 62_000 and 58_000 < statistics.pstdev(exp) < 62_000
    logn = [sim.Dist("lognormal", 60_000, 30_000).draw(rng) for _ in range(20_000)]
    assert 58_500 < statistics.mean(logn) < 61_500 and 28_000 < statistics.pstdev(logn) < 32_000
    counts = [sim.poisson(rng, 3.5) for _ in range(20_000)]
    assert 3.4 < statistics.mean(counts) < 3.6 and 3.3 < statistics.pvariance(counts) < 3.7
    assert 44.5 < statistics.mean(sim.poisson(rng, 45) for _ in range(5000)) < 45.5


# -- running -----------------------------------------------------------------------


def test_a_run_is_deterministic_batched_or_not_and_the_database_checks_clean(cm, tmp_path):
    model = write(tmp_path, SMALL)
    other, single = fresh(tmp_path, "other.db", cm), fresh(tmp_path, "single.db", cm)
    reseeded = fresh(tmp_path, "reseeded.db", cm)
    done = cm.js("simulate", model, "--json")
    assert done["finished"] and done["customers"] > 20
    assert other.js("simulate", model, "--json") == done
    assert single.js("simulate", model, "--commit-every", "1", "--json") == done
    cm.ok("db", "check")
    first = export(cm, tmp_path, "a.json")
    assert first == export(other, tmp_path, "b.json") == export(single, tmp_path, "c.json")
    bundle = json.loads(first)
    chats = bundle["state"]["chats"]
    assert {c["state"] for c in chats} == {"closed"}
    reasons = {c["closed_reason"] for c in chats}
    assert {"abandoned", "wrapup-finished", "wrapup-expired"} <= reasons, reasons
    assert bundle["state"]["messages"], "customers and agents exchanged messages"
    # another seed is another day
    reseeded.ok("simulate", write(tmp_path, SMALL.replace("seed = 3", "seed = 4"), "m4.toml"))
    assert export(reseeded, tmp_path, "d.json") != first


def test_the_summary_is_stats_queues_over_the_simulated_time(cm, tmp_path):
    done = cm.js("simulate", write(tmp_path, SMALL), "--json")
    assert done["start"] == "2026-01-05T09:00:00.000Z"
    stats = cm.js("stats", "queues", "--since", done["start"], "--json")
    assert done["queues"] == stats["queues"]
    assert sum(q["offered"] for q in done["queues"]) == done["customers"]
    plain = cm.ok("simulate", write(tmp_path, SMALL.replace('start = "2026-01-05T09:00:00Z"', ""), "m5.toml")).out
    # a second model on the same database goes on from its clock; its figures are printed as `stats queues`
    assert "customers" in plain and "SERVICE LEVEL" in plain and "sales" in plain


def test_until_stops_and_the_next_run_carries_on_exactly(cm, tmp_path):
    model = write(tmp_path, SMALL)
    whole = fresh(tmp_path, "whole.db", cm)
    whole.ok("simulate", model)
    part = cm.js("simulate", model, "--until", "10m", "--json")
    assert not part["finished"] and part["now"] == "2026-01-05T09:10:00.000Z"
    cm.ok("db", "check")
    assert cm.js("clock", "--json")["now"] == "2026-01-05T09:10:00.000Z"
    later = cm.js("simulate", model, "--until", "2026-01-05T09:25:00Z", "--json")
    assert not later["finished"] and later["start"] == part["start"]
    cm.ok("db", "check")
    last = cm.js("simulate", model, "--json")
    assert last["finished"]
    assert export(cm, tmp_path, "split.json") == export(whole, tmp_path, "whole.json")
    # the plan kept between runs belongs to its model
    cm.ok("reset", "--yes")
    cm.ok("simulate", model, "--until", "5m")
    cm.fails(3, "simulate", write(tmp_path, SMALL.replace("seed = 3", "seed = 9"), "m9.toml"),
             match="unfinished simulation of another model")


def test_ctrl_c_stops_between_steps_keeping_everything_and_the_plan(cm, tmp_path):
    import signal
    import time

    from conftest import CHATEMU

    running = subprocess.Popen([CHATEMU, "simulate", str(MODELS / "busy-monday.toml"), "--json"], env=cm.env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and running.poll() is None:  # until its 200 agents are set up
            time.sleep(0.2)
            try:
                with sqlite3.connect(f"file:{cm.db}?mode=ro", uri=True) as conn:
                    if conn.execute("SELECT count(*) FROM agent_queues").fetchone()[0] >= 360:  # every agent assigned
                        break
            except sqlite3.Error:
                pass
        time.sleep(1)
        running.send_signal(signal.SIGINT)
        out, err = running.communicate(timeout=120)
    finally:
        if running.poll() is None:
            running.kill()
    assert running.returncode == 0, err
    stopped = json.loads(out)
    assert not stopped["finished"]
    cm.ok("db", "check")
    assert cm.js("clock", "--json")["now"] == stopped["now"]
    more = cm.js("simulate", str(MODELS / "busy-monday.toml"), "--until", "2026-01-05T06:30:00Z", "--json")
    assert more["start"] == stopped["start"] and more["customers"] >= stopped["customers"]
    cm.ok("db", "check")


def test_stats_of_a_simulated_day_equal_those_of_its_export_imported_elsewhere(cm, tmp_path):
    cm.ok("simulate", write(tmp_path, SMALL))
    bundle = tmp_path / "day.json"
    cm.ok("export", str(bundle))
    elsewhere = Chatemu(tmp_path / "elsewhere.db")
    elsewhere.ok("import", str(bundle))
    for what in ("queues", "agents"):
        assert cm.js("stats", what, "--json") == elsewhere.js("stats", what, "--json")


def test_usage_errors_of_the_options(cm, tmp_path):
    model = write(tmp_path, SMALL)
    cm.fails(2, "simulate", model, "--speed", "3", match="--speed goes with --live")
    cm.fails(2, "simulate", model, "--until", "lunchtime", match="bad --until")
    cm.fails(2, "simulate", model, "--commit-every", "0", match="bad --commit-every")
    cm.fails(2, "simulate", model, "--commit-every", "99999999999999999999999", match="--commit-every")
    cm.fails(2, "simulate", model, "--live", "--speed", "1e400", match="bad --speed")
    cm.fails(2, "simulate", model, "--live", "--speed", "nan", match="bad --speed")
    cm.fails(2, "simulate", model, "--until", "99999999999999999999h", match="bad --until")


def test_a_real_clock_is_refused_without_live(cm, tmp_path):
    cm.ok("clock", "real")
    cm.fails(3, "simulate", write(tmp_path, SMALL), match="real clock")


@pytest.mark.parametrize("name", sorted(p.name for p in MODELS.glob("*.toml")))
def test_each_example_model_runs(cm, tmp_path, name):
    text = (MODELS / name).read_text()
    sim.parse(__import__("tomllib").loads(text))
    args = ["simulate", str(MODELS / name), "--json"]
    if "busy" in name:
        args += ["--until", "10m"]  # its whole day is the benchmark's (benchmarks/bench.py --only simulate)
    done = cm.js(*args)
    assert done["customers"] > 0 and done["events"] > 0
    cm.ok("db", "check")


def test_ordinary_commands_do_not_import_the_simulator():
    code = ("import sys; from chatemu.cli.app import main; main(['--db', ':memory:', 'clock', '--json']);"
            " print(sorted(m for m in sys.modules if 'simul' in m or m in ('tomllib', 'random')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip().splitlines()[-1] == "[]", done


def test_a_terminal_gets_a_progress_bar_then_the_summary(cm):
    import pexpect

    from conftest import CHATEMU

    env = {k: v for k, v in cm.env.items() if k != "NO_COLOR"} | {"TERM": "xterm"}
    child = pexpect.spawn(CHATEMU, ["simulate", str(MODELS / "busy-monday.toml"), "--until", "2h"], env=env,
                          encoding="utf-8", timeout=300, dimensions=(40, 200))
    child.expect("simulating")
    child.expect("SERVICE LEVEL")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_db_check_reads_the_kept_plan(cm, tmp_path):
    cm.ok("simulate", write(tmp_path, SMALL), "--until", "5m")
    cm.ok("db", "check")
    with sqlite3.connect(cm.db) as conn:
        conn.execute("UPDATE config SET value = 'half a plan' WHERE key = 'simulation'")
    done = cm.run("db", "check")
    assert done.code == 1 and "simulation holds 'half a plan', not a simulation's plan" in done.out + done.err, done
