"""Scenario files and ``chatemu run``.

- every ``examples/scenarios/*.chatemu`` passes with ``run --fresh`` (each checks itself with
  ``expect`` and ``!`` lines, so a passing run means chatemu behaved as the file says), and a second
  run gives the same output;
- ``chatemu run`` gives the same results and the same history as one ``chatemu`` process per
  line;
- how ``run`` reads a file (comments, blank lines, quoting, ``-``) and what it does when a line
  fails (stop, ``--keep-going``), and its output (default, ``--quiet``, ``--json``);
- the refusals at the edges of the scenarios, which a passing scenario cannot contain.
"""

from __future__ import annotations

import json
import re
import shlex
import time
from pathlib import Path

import pytest
from conftest import START, Chatemu

SCENARIOS_DIR = Path(__file__).resolve().parent.parent / "examples" / "scenarios"
SCENARIOS = sorted(SCENARIOS_DIR.glob("*.chatemu"))


def fresh(tmp_path: Path, name: str = "run.db") -> Chatemu:
    """A database that does not exist yet (not even its clock)."""
    return Chatemu(tmp_path / name)


def scenario_lines(path: Path) -> list[tuple[int, list[str]]]:
    """(line number, words) of each command line, as ``run`` splits them."""
    lines = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        words = shlex.split(line, comments=True)
        if words:
            lines.append((number, words))
    return lines


def write(tmp_path: Path, text: str, name: str = "case.chatemu") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# == the example scenarios =================================================================

# The behaviours of the engine and the edge cases each has a file for (issue 3, "Examples").
EXPECTED_SCENARIOS = {
    "park-and-resume", "activate-while-another-is-active", "call-during-wrapup", "call-customer-ends",
    "timer-during-long-advance", "presentation-at-capacity", "extension-limit", "finish-wrapup-early",
    "customer-leaves-parked-chat", "present-when-all-parked", "priority-order",
    "several-agents-idle-longest-first", "per-queue-wrapup-config", "queued-chat-abandoned",
    "break-stops-presentation", "auto-present-off", "agent-status", "time-accounting",
    "clock-and-durations", "snapshot-and-restore",
    "messages-and-unread", "templates", "return-to-queue", "transfer-to-queue", "transfer-to-agent",
    "classification-free-and-list", "classification-required", "flag-abusive", "contact-history",
    "login-logout-and-phantom-agents", "break-reasons", "queue-membership", "routing-queue-order",
    "per-agent-capacity",
}


def test_every_behaviour_has_its_scenario_and_each_is_listed_in_the_examples_readme():
    names = {path.stem for path in SCENARIOS}
    assert EXPECTED_SCENARIOS <= names, f"missing scenarios: {sorted(EXPECTED_SCENARIOS - names)}"
    readme = (SCENARIOS_DIR.parent / "README.md").read_text(encoding="utf-8")
    unlisted = [path.name for path in SCENARIOS if f"`{path.name}`" not in readme]
    assert not unlisted, f"examples/README.md does not list {unlisted}"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda path: path.stem)
def test_scenario_starts_at_the_fixed_instant_and_checks_itself(scenario: Path):
    lines = scenario_lines(scenario)
    assert lines[0][1] == ["clock", "set", START], f"{scenario.name}: the first command must be `clock set {START}`"
    expects = [number for number, words in lines if words[0] == "expect"]
    assert len(expects) >= 5, f"{scenario.name}: only {len(expects)} expect line(s)"
    assert lines[-1][1][0] == "expect", f"{scenario.name}: end with an expect, so the last step is checked"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda path: path.stem)
def test_scenario_passes_with_run_fresh_and_gives_the_same_output_every_time(scenario: Path, tmp_path: Path):
    """As examples/README.md says to run them: `chatemu run --fresh FILE`, twice."""
    db = fresh(tmp_path)  # the named database, which --fresh leaves alone
    done = db.run("run", "--fresh", str(scenario))
    # On failure, stdout shows every step that ran and stderr names FILE:LINE and what differed.
    assert done.code == 0, done
    assert done.err == "", done
    ran = [line for line in done.out.splitlines() if line.startswith(f"{scenario}:")]
    assert len(ran) == len(scenario_lines(scenario)), done
    again = db.run("run", "--fresh", str(scenario))
    assert (again.code, again.out, again.err) == (0, done.out, ""), again
    assert not db.db.exists()


def test_a_scenario_with_a_wrong_expectation_fails_at_that_line(tmp_path: Path):
    """The examples can fail: the same file with one expectation changed stops there, exit 1."""
    original = SCENARIOS_DIR / "call-during-wrapup.chatemu"
    text = original.read_text(encoding="utf-8")
    wrong = text.replace("closed_at=2026-01-05T09:06:00Z", "closed_at=2026-01-05T09:06:00.001Z")
    assert wrong != text
    path = write(tmp_path, wrong, "call-during-wrapup.chatemu")
    number = next(n for n, line in enumerate(wrong.splitlines(), 1) if "09:06:00.001Z" in line)
    done = fresh(tmp_path).run("run", "--quiet", str(path))
    assert done.code == 1, done
    assert done.err.splitlines() == [
        f"error: {path}:{number}: {wrong.splitlines()[number - 1].strip()}: "
        "C1.closed_at: expected 2026-01-05T09:06:00.001Z, got 2026-01-05T09:06:00.000Z"
    ], done


# == run and separate processes agree ======================================================


# One process per line costs ~0.15 s a line: one rich scenario (two agents, root options at the
# start of lines, timers running out inside one advance, presentation at their instants).
@pytest.mark.parametrize("name", ["timer-during-long-advance"])
def test_run_gives_the_same_results_and_history_as_one_process_per_line(name: str, tmp_path: Path):
    scenario = SCENARIOS_DIR / f"{name}.chatemu"
    lines = scenario_lines(scenario)

    one = fresh(tmp_path, "one-process.db")
    done = one.run("run", "--json", str(scenario))
    assert done.code == 0, done
    records = [json.loads(line) for line in done.out.splitlines()]
    assert [r["line"] for r in records] == [number for number, _ in lines]

    many = fresh(tmp_path, "many-processes.db")
    for (number, words), record in zip(lines, records):
        step = many.run(*words, "--json")  # every command takes --json: the same document
        assert step.code == 0, f"{scenario.name}:{number}: {step}"
        assert record["exit"] == 0
        assert step.json == record["result"], f"{scenario.name}:{number}: {' '.join(words)}"

    assert one.js("events") == many.js("events")
    assert one.js("chat", "list", "--all") == many.js("chat", "list", "--all")
    assert one.js("agent", "list") == many.js("agent", "list")
    assert one.js("clock") == many.js("clock")
    assert one.js("config", "show") == many.js("config", "show")


def test_one_long_advance_in_a_scenario_equals_sixty_short_ones(tmp_path: Path):
    setup = (
        f"clock set {START}\n"
        "config set wrapup 90s\n"
        "chat new --inbox\nchat activate C1\nchat end C1\n"
        "--agent agent-2 agent login\n--agent agent-2 chat new --inbox\n--agent agent-2 chat activate C2\n"
        "clock advance 7s\n--agent agent-2 chat end C2\n"
        "chat new\nchat new --priority 2\nchat new\n"
    )
    long, short = fresh(tmp_path, "long.db"), fresh(tmp_path, "short.db")
    long.ok("run", "--quiet", str(write(tmp_path, setup + "clock advance 1h\n", "long.chatemu")))
    short.ok("run", "--quiet", str(write(tmp_path, setup + "clock advance 1m\n" * 60, "short.chatemu")))
    assert long.js("events") == short.js("events")
    assert long.js("chat", "list", "--all") == short.js("chat", "list", "--all")


# == reading a scenario file ===============================================================


def test_comments_blank_lines_quoting_and_a_leading_chatemu(cm, tmp_path: Path):
    path = write(
        tmp_path,
        "# a comment line\n"
        "\n"
        "   \n"
        'chat new --customer "Ann Lee"        # a trailing comment\n'
        "chat new --customer 'Room #5'        # a # inside quotes is text\n"
        "chatemu chat new --customer O\\'Brien  # the leading chatemu is tolerated\n"
        "\t# an indented comment\n"
        'expect chat C1 customer="Ann Lee"\n'
        "expect chat C2 'customer=Room #5'\n"
        "expect chat C3 customer=O\\'Brien\n",
    )
    done = cm.ok("run", str(path))
    assert [c["customer"] for c in cm.js("chat", "list", "--all")] == ["Ann Lee", "Room #5", "O'Brien"]
    # One line per step, numbered as in the file (comments and blank lines counted, not run).
    numbers = [line.split(":")[1] for line in done.out.splitlines() if not line.startswith("  ")]  # not the events
    assert numbers == ["4", "5", "6", "8", "9", "10"], done


def test_run_reads_stdin_with_a_dash(cm):
    done = cm.run("run", "-", stdin="chat new --inbox\nchat activate C1\nexpect chat C1 state=active\n")
    assert done.code == 0, done
    assert done.out.splitlines()[0].startswith("<stdin>:1: chat new --inbox"), done
    assert cm.chat("C1")["state"] == "active"
    failed = cm.run("run", "-", stdin="\nchat park C9\n")
    assert (failed.code, failed.err.splitlines()) == (4, ["error: <stdin>:2: chat park C9: unknown chat C9"]), failed


def test_run_options_apply_to_every_line_and_root_options_may_start_a_line(cm, tmp_path: Path):
    path = write(tmp_path, "chat new --inbox\n--agent agent-3 agent login\n--agent agent-3 chat new --inbox\nchat new --inbox\n")
    cm.ok("--agent", "agent-2", "run", str(path))
    assert [(c["id"], c["agent"]) for c in cm.js("chat", "list", "--all")] == [
        ("C1", "agent-2"), ("C2", "agent-3"), ("C3", "agent-2"),
    ]


def test_an_empty_or_comment_only_scenario_does_nothing_and_succeeds(cm, tmp_path: Path):
    before = cm.dump()
    assert cm.run("run", str(write(tmp_path, "# nothing to do\n\n"))).code == 0
    assert cm.dump() == before


# == a failing line ========================================================================


STOPS = (
    "chat new --inbox --customer Ann\n"   # 1
    "# a comment\n"                       # 2
    "chat activate C1\n"                  # 3
    "{failing}\n"                         # 4
    "chat new --customer Bob\n"           # 5: must not run
)


@pytest.mark.parametrize(
    "failing, code, message",
    [
        ("chat take C1", 3, "cannot take C1"),               # refused by the model
        ("chat park C7", 4, "unknown chat C7"),              # unknown chat
        ("clock advance soon", 2, "soon"),                   # usage
        ("chat activate", 2, "Missing argument"),            # usage (Typer's own parsing)
        ("expect chat C1 state=new", 1, "C1.state: expected new, got active"),  # a check
    ],
)
def test_run_stops_at_the_first_failing_line_with_its_exit_code_and_names_it(cm, tmp_path, failing, code, message):
    path = write(tmp_path, STOPS.format(failing=failing))
    done = cm.run("run", str(path))
    assert done.code == code, done
    errors = done.err.splitlines()
    assert len(errors) == 1, done
    assert errors[0].startswith(f"error: {path}:4: {failing}: "), done
    assert message in errors[0], done
    assert "Traceback" not in done.err
    # Lines 1 and 3 ran (one output line each); line 5 did not.
    assert [line.split(":")[1] for line in done.out.splitlines() if not line.startswith("  ")] == ["1", "3"], done
    assert [c["id"] for c in cm.js("chat", "list", "--all")] == ["C1"]
    assert cm.chat("C1")["state"] == "active"


def test_each_line_is_its_own_transaction(cm, tmp_path: Path):
    """The lines before a failing one stay done; the failing line itself changes nothing."""
    cm.ok("run", str(write(tmp_path, "chat new --inbox\nchat activate C1\nchat end C1\n", "setup.chatemu")))
    done = cm.run("run", str(write(tmp_path, "clock advance 10s\nchat end C1\n")))
    assert done.code == 3, done  # the customer cannot end a chat already in wrap-up
    assert cm.chat("C1")["wrapup_remaining"] == 50  # line 1 was committed
    # exit 3, one error line, nothing on stdout, the database byte-for-byte as before:
    cm.fails(3, "run", str(write(tmp_path, "chat end C1\n", "only.chatemu")), match=":1: chat end C1: ")


def test_keep_going_runs_every_line_and_exits_with_the_first_failures_code(cm, tmp_path: Path):
    path = write(
        tmp_path,
        "chat new --inbox\n"          # 1
        "chat park C1\n"              # 2: refused (3), C1 is new
        "chat new --customer Bob\n"   # 3: runs
        "chat show C9\n"              # 4: unknown (4)
        "expect chat C2 state=queued customer=Bob\n",  # 5: holds
    )
    done = cm.run("run", "--keep-going", str(path))
    assert done.code == 3, done
    errors = done.err.splitlines()
    assert len(errors) == 2, done
    assert errors[0].startswith(f"error: {path}:2: chat park C1: "), done
    assert errors[1] == f"error: {path}:4: chat show C9: unknown chat C9", done
    assert [line.split(":")[1] for line in done.out.splitlines() if not line.startswith("  ")] == ["1", "3", "5"], done
    assert [c["id"] for c in cm.js("chat", "list", "--all")] == ["C1", "C2"]


def test_keep_going_with_json_records_every_line(cm, tmp_path: Path):
    path = write(tmp_path, "chat new --inbox\nchat park C1\nchat activate C1\nchat take C1\nchat park C1\n")
    done = cm.run("run", "--keep-going", "--json", str(path))
    assert done.code == 3, done
    assert [(r["line"], r["exit"]) for r in map(json.loads, done.out.splitlines())] == [
        (1, 0), (2, 3), (3, 0), (4, 3), (5, 0),
    ], done
    assert cm.chat("C1")["state"] == "parked"


def test_keep_going_with_only_a_failing_expect_exits_1(cm, tmp_path: Path):
    path = write(tmp_path, "chat new --inbox\nexpect chat C1 state=active agent=nobody\nchat activate C1\n")
    done = cm.run("run", "--keep-going", "--quiet", str(path))
    assert done.code == 1, done
    assert done.err.splitlines() == [
        f"error: {path}:2: expect chat C1 state=active agent=nobody: C1.state: expected active, got new",
        f"error: {path}:2: expect chat C1 state=active agent=nobody: C1.agent: expected nobody, got agent-1",
    ], done
    assert cm.chat("C1")["state"] == "active"  # line 3 ran


# == output ================================================================================


def test_quiet_prints_nothing_on_success_and_only_the_error_on_failure(cm, tmp_path: Path):
    ok = cm.run("run", "--quiet", str(write(tmp_path, "chat new\nexpect chat C1 state=new\n", "ok.chatemu")))
    assert (ok.code, ok.out, ok.err) == (0, "", ""), ok
    bad = cm.run("run", "-q", str(path := write(tmp_path, "chat new\nchat take C1\nchat new\n")))
    assert (bad.code, bad.out) == (3, ""), bad
    assert len(bad.err.splitlines()) == 1 and bad.err.startswith(f"error: {path}:2: chat take C1: "), bad


def test_default_output_is_one_line_per_step_naming_file_line_and_command(cm, tmp_path: Path):
    path = write(tmp_path, "chat new --customer Ann\nclock advance 30s\nexpect chat C1 state=new\n")
    done = cm.ok("run", str(path))
    lines = [line for line in done.out.splitlines() if not line.startswith("  ")]  # each step's events are indented
    assert len(lines) == 3, done
    assert lines[0].startswith(f"{path}:1: chat new --customer Ann") and "C1" in lines[0], done
    assert lines[1].startswith(f"{path}:2: clock advance 30s") and "09:00:30" in lines[1], done
    assert lines[2].startswith(f"{path}:3: expect chat C1 state=new"), done


def test_json_prints_one_object_per_line_run(cm, tmp_path: Path):
    path = write(
        tmp_path,
        "# setup\n"
        "chat new --customer Ann\n"            # 2
        "clock advance 1m\n"                   # 3
        "expect chat C1 state=new\n"           # 4
        "chat park C1\n"                       # 5: refused
        "chat new\n",                          # 6: not run
    )
    done = cm.run("run", "--json", str(path))
    assert done.code == 3, done
    records = [json.loads(line) for line in done.out.splitlines()]  # each line one JSON object
    assert [(r["line"], r["command"], r["exit"]) for r in records] == [
        (2, "chat new --customer Ann", 0),
        (3, "clock advance 1m", 0),
        (4, "expect chat C1 state=new", 0),
        (5, "chat park C1", 3),
    ]
    created = records[0]["result"]  # the chat after the change, as `chat new --json` prints it
    assert (created["id"], created["state"], created["customer"]) == ("C1", "new", "Ann")
    assert "error" not in records[0]
    assert records[1]["result"] == {"now": "2026-01-05T09:01:00.000Z", "mode": "virtual"}
    assert records[2]["result"]["ok"] is True and records[2]["result"]["subject"] == "C1"
    assert "result" not in records[3] and "C1" in records[3]["error"] and "park" in records[3]["error"]
    assert done.err.startswith(f"error: {path}:5: chat park C1: "), done


def test_json_records_a_failing_expect_with_its_checks(cm, tmp_path: Path):
    done = cm.run("run", "--json", str(write(tmp_path, "chat new\nexpect chat C1 state=active\n")))
    assert done.code == 1, done
    record = json.loads(done.out.splitlines()[-1])
    assert (record["line"], record["exit"]) == (2, 1)
    assert record["error"] == "C1.state: expected active, got new"


# == lines that cannot run =================================================================


def test_a_line_with_bad_quoting_is_a_usage_failure_naming_the_line(cm, tmp_path: Path):
    path = write(tmp_path, 'chat new --customer Ann\nchat new --customer "Bob\nchat new\n')
    done = cm.run("run", str(path))
    assert done.code == 2, done
    assert len(done.err.splitlines()) == 1, done
    assert done.err.startswith(f'error: {path}:2: chat new --customer "Bob: '), done
    assert [c["customer"] for c in cm.js("chat", "list", "--all")] == ["Ann"]  # 1 ran, 3 did not


def test_run_inside_a_scenario_is_refused(cm, tmp_path: Path):
    inner = write(tmp_path, "chat new\n", "inner.chatemu")
    path = write(tmp_path, f"chat new --customer Ann\nrun {inner}\nchat new --customer Bob\n")
    done = cm.run("run", str(path))
    assert done.code == 2, done
    assert done.err.startswith(f"error: {path}:2: run {inner}: "), done
    assert [c["customer"] for c in cm.js("chat", "list", "--all")] == ["Ann"]
    also = cm.run("run", str(write(tmp_path, f"chatemu run {inner}\n", "also.chatemu")))
    assert also.code == 2, also


def test_a_missing_scenario_file_is_a_usage_error(cm, tmp_path: Path):
    cm.fails(2, "run", str(tmp_path / "no-such.chatemu"), match="no-such.chatemu")
    cm.fails(2, "run", str(tmp_path), match="folder")  # a directory is not a scenario


def test_thousands_of_steps_without_thousands_of_start_ups(cm, tmp_path: Path):
    """The fast path: 1000 lines in one process take far less than 1000 processes would."""
    started = time.monotonic()
    cm.ok("clock")
    one_process = time.monotonic() - started
    steps = "".join(
        f"chat new\nchat activate C{i}\nchat end C{i}\nclock advance 1m\n" for i in range(1, 251)
    )
    path = write(tmp_path, steps + "expect chat C250 state=closed closed_reason=wrapup-expired\n")
    started = time.monotonic()
    cm.ok("run", "--quiet", str(path))
    elapsed = time.monotonic() - started
    assert elapsed < 100 * one_process, f"1001 steps took {elapsed:.1f}s; one process takes {one_process:.2f}s"
    events = cm.js("events")
    assert sum(e["chat"] is not None for e in events) == 250 * 5  # queued, presented, active, wrap-up, closed
    assert sum(e["chat"] is None for e in events) == 1 + 250 * 3  # login; handling-chat, wrap-up, available


# == refusals at the edges of the scenarios ================================================
# A scenario's `!` line checks the exit code (and message) of a refusal; here each edge case's
# refusal also runs as its own process: one `error:` line, nothing on stdout, the database unchanged.

REFUSALS = {
    "one-extension-too-many": (
        "config set wrapup-extensions 2\nchat new --inbox\nchat activate C1\nchat wrapup C1\n"
        "chat wrapup C1 --extend\nchat wrapup C1 --extend\n",
        ["chat", "wrapup", "C1", "--extend"], 3, "no extensions left",
    ),
    "extend-a-paused-wrapup": (
        "chat new --inbox\nchat activate C1\nchat end C1\nchat park C1\n",
        ["chat", "wrapup", "C1", "--extend"], 3, "C1",
    ),
    "activate-during-a-call": (
        "chat new --inbox\nchat activate C1\nchat call-start\n",
        ["chat", "activate", "C1"], 3, "on a call",
    ),
    "activate-a-wrapup-during-a-call": (
        "chat new --inbox\nchat activate C1\nchat end C1\nchat call-start\n",
        ["chat", "activate", "C1"], 3, "on a call",
    ),
    "take-at-capacity": (
        "config set max-chats 1\nchat new --inbox\nchat new\n",
        ["chat", "take", "C2"], 3, "capacity 1/1",
    ),
    "inbox-at-capacity": (
        "config set max-chats 1\nchat new --inbox\n",
        ["chat", "new", "--inbox"], 3, "capacity 1/1",
    ),
    "customer-ends-a-chat-in-wrapup": (
        "chat new --inbox\nchat activate C1\nchat end C1\n",
        ["chat", "end", "C1"], 3, "C1",
    ),
    "activate-the-active-chat": (
        "chat new --inbox\nchat activate C1\n",
        ["chat", "activate", "C1"], 3, "C1",
    ),
    "another-agents-chat": (
        "chat new --inbox\n--agent agent-2 agent login\n",
        ["--agent", "agent-2", "chat", "activate", "C1"], 3, "agent-1",
    ),
    "second-call": (
        "chat call-start\n",
        ["chat", "call-start"], 3, "already on a call",
    ),
    "anything-on-a-closed-chat": (
        "chat new --inbox\nchat activate C1\nchat wrapup C1\nchat wrapup C1 --finish\n",
        ["chat", "activate", "C1"], 3, "C1",
    ),
    "clock-backwards-after-the-story-began": (
        "chat new\nclock advance 1m\n",
        ["clock", "set", "2026-01-05T09:00:30Z"], 3, "backwards",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_refusals_at_the_edges_of_the_scenarios(cm, tmp_path: Path, case: str):
    setup, command, code, match = REFUSALS[case]
    cm.ok("run", "--quiet", str(write(tmp_path, setup)))
    cm.fails(code, *command, match=match)  # exit code, one error line, nothing changed


# -- every event a line causes, chat and agent, is shown and counted alike ---------------------

#: A scenario whose lines cause every kind of agent event a command line can.
EVERY_CAUSE = f"""clock set {START}
chat new
chat activate C1
chat park C1
chat activate C1
chat end C1
chat wrapup C1 --finish
chat new
chat activate C2
chat wrapup C2
clock advance 2m
chat new
chat activate C3
chat call-start
chat call-end
chat activate C3
chat return C3
agent break
agent available
agent disconnect
agent available
--agent agent-2 agent login
chat activate C3
chat transfer C3 --agent agent-2
agent logout
config set customer-idle-timeout 10s
--agent agent-2 chat activate C3
--agent agent-2 chat send C3 hi
clock advance 10s
clock advance 1m
config set offer-timeout 10s
chat new
clock advance 10s
break-reason add lunch --limit 10s
--agent agent-2 agent break --reason lunch
clock advance 10s
"""


def change_line(event: dict) -> str:
    """An event as a command line prints it, from ``events --json``'s fields."""
    return (f"{event['at']}  {event['chat'] or event['agent']}: {event['from'] or '(none)'}"
            f" -> {event['to']} ({event['cause']})")


def documented_agent_causes() -> set[str]:
    """The agent event causes docs/json.md names, between "Agent events" and "A command shows"."""
    text = (Path(__file__).resolve().parent.parent / "docs" / "json.md").read_text(encoding="utf-8")
    section = text[text.index("Agent events have"):text.index("A vendor profile applied")]
    return set(re.findall(r"`([a-z-]+)`", section)) - {"chat", "from", "cause", "chat end"}


def test_every_event_a_line_causes_is_shown_by_single_commands_run_and_run_json_and_counted(tmp_path):
    file = tmp_path / "s.chatemu"
    file.write_text(EVERY_CAUSE, encoding="utf-8")
    lines = scenario_lines(file)

    # One process per line: what each printed above its result is what `events` says it appended.
    single = fresh(tmp_path, "single.db")
    per_line: list[list[dict]] = []
    for _, words in lines:
        before = single.js("events")
        done = single.run(*words)
        assert done.code == 0, done
        caused = single.js("events", "--since", str(before[-1]["seq"] if before else 0))
        per_line.append(caused)
        assert done.out.splitlines()[:len(caused)] == [change_line(e) for e in caused], words
        assert not any(" -> " in line and line.endswith(")") for line in done.out.splitlines()[len(caused):])
        if caused:  # expect events-since counts exactly those
            mark = str(caused[0]["seq"] - 1)
            assert single.run("expect", "events-since", mark, str(len(caused))).code == 0
    every = single.js("events")
    agent_causes = {e["cause"] for e in every if e["chat"] is None and e["agent"] is not None}
    assert agent_causes == documented_agent_causes() - {"upgrade"}  # docs/json.md names each one
    assert {"customer", "timer", "login", "park", "transfer", "activate"} <= agent_causes

    # `run`: under each line, that line's events, as a single command printed them.
    ran = fresh(tmp_path, "run.db")
    done = ran.run("run", str(file))
    assert done.code == 0, done
    out = done.out.splitlines()
    heads = [next(at for at, line in enumerate(out) if line.startswith(f"{file}:{number}: {' '.join(words)}  -> "))
             for number, words in lines]
    for at, following, caused in zip(heads, heads[1:] + [len(out)], per_line):
        assert out[at + 1:following] == ["  " + change_line(e) for e in caused]
    assert ran.js("events") == every

    # `run --json`: each record's events are that line's, as `events --json` lists them.
    records = [json.loads(line) for line in fresh(tmp_path, "json.db").run("run", "--json", str(file)).out.splitlines()]
    assert [r["events"] for r in records] == per_line

    # Marks count what the run printed: one line's events after a mark.
    counted = tmp_path / "counted.chatemu"
    counted.write_text(f"clock set {START}\nchat new\nchat activate C1\nchat end C1\nmark m\nclock advance 2m\n"
                       f"expect events-since m {len(per_line[10])}\n", encoding="utf-8")
    assert fresh(tmp_path, "counted.db").run("run", str(counted)).code == 0


NO_CLOCK_SET = """clock
chat new --customer Ann
chat activate C1
chat end C1
clock advance 90s
events
timeline
"""


def test_a_fresh_run_without_clock_set_prints_the_same_bytes_every_time(tmp_path, cm):
    file = tmp_path / "s.chatemu"
    file.write_text(NO_CLOCK_SET, encoding="utf-8")
    first, second = (cm.run("run", "--fresh", str(file)) for _ in range(2))
    assert first.code == 0 and first.out == second.out, (first, second)
    assert f"{file}:1: clock  -> 2026-01-05T09:00:00.000Z (virtual)" in first.out  # the documented start
    as_json = [cm.run("run", "--fresh", "--json", str(file)).out for _ in range(2)]
    assert as_json[0] == as_json[1] and json.loads(as_json[0].splitlines()[0])["result"]["now"] == "2026-01-05T09:00:00.000Z"
    kept = tmp_path / "kept.db"
    assert cm.run("run", "--keep", str(kept), str(file)).code == 0
    assert Chatemu(kept).js("clock")["now"] == "2026-01-05T09:01:30.000Z"
    unread = tmp_path / "unread.db"  # a file that cannot be read: no new database either
    assert cm.run("run", "--keep", str(unread), str(tmp_path / "missing.chatemu")).code == 2
    assert not unread.exists()
    # a clock set line still starts the story where it says, earlier or later
    file.write_text("clock set 2025-03-01T12:00:00Z\nchat new\n", encoding="utf-8")
    assert "C1 new" in cm.ok("run", "--fresh", str(file)).out
    assert cm.ok("run", "--fresh", "--json", str(file)).out.count("2025-03-01T12:00:00.000Z") >= 2
