"""The example scripts (examples/*.sh): each gives the same output every time, and its checks can fail.

- every script, run twice in a row, exits 0 both times with identical output (each makes a fresh
  database of its own and removes it at the end);
- every script, run against a sabotaged ``chatemu`` (a wrapper first on PATH that passes every
  command to the real one but changes one behaviour), is stopped by its own ``chatemu expect``
  lines: exit 1, naming what differs;
- the scripts are plain bash and chatemu: no helper library, no Python, no jq, no eval.

The scenario files (examples/scenarios) are run, twice each with ``run --fresh``, in test_scenarios.py.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import BIN, script_chatemu, script_env

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.sh"))
BASH = shutil.which("bash") or "/bin/bash"
DONE = "# All checks held."

# One sabotage per script: the command line (a bash `case` pattern over "$*"), what the wrapper
# does instead (bash), and the expect failure the script must stop with (stderr).
SABOTAGES = {
    "park-and-resume-wrapup.sh": (
        '"chat park "*', "exit 0",  # the park is dropped: the wrap-up timer runs on
        "C1.state: expected parked-wrapup, got active-wrapup",
    ),
    "present-when-all-parked.sh": (
        '"chat new --customer Dee --priority 5"', "set -- chat new --customer Dee",  # priority ignored
        "queue default: expected C4 C3, got C3:queued C4:queued",
    ),
    "call-customer-ends.sh": (
        '"clock set "*', '"$REAL" config set wrapup 80s --queue default >/dev/null',  # a queue's own wrap-up wins
        "C1.wrapup_remaining: expected 90s, got 1m20s",
    ),
    "extend-and-finish.sh": (
        '"config set wrapup-extensions 2 --queue sales"', "set -- config set wrapup-extensions 3 --queue sales",
        "C1.extensions_left: expected 2, got 3",
    ),
}

WRAPPER = """#!/usr/bin/env bash
# chatemu with one behaviour changed; everything else goes to the real one.
REAL={real}
case "$*" in
  {pattern}) touch {marker}; {action} ;;
esac
exec "$REAL" "$@"
"""


def env_with(bin_dir: Path, tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATEMU_")}
    env["PATH"] = os.pathsep.join([str(bin_dir), env.get("PATH", "")])
    env["TMPDIR"] = str(tmp)  # the scripts' temp databases go here, so their removal can be checked
    env["NO_COLOR"] = "1"
    env.pop("FORCE_COLOR", None)
    return env


def run_script(script: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([BASH, str(script)], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


def report(done: subprocess.CompletedProcess) -> str:
    return f"exit {done.returncode}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"


def test_each_behaviour_has_a_plain_script_listed_in_the_readme():
    assert {p.name for p in EXAMPLES} == set(SABOTAGES)  # a new script needs its sabotage too
    assert not (ROOT / "examples" / "lib.sh").exists()
    readme = (ROOT / "examples" / "README.md").read_text()
    for script in EXAMPLES:
        assert f"`{script.name}`" in readme, f"{script.name} is not listed in examples/README.md"
        text = script.read_text()
        assert text.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail\n" in text
        assert 'export CHATEMU_DB="$dir/chatemu.db"' in text, f"{script.name}: a fresh database of its own"
        for word in ("source ", "python", "jq", "eval", "lib.sh"):
            assert word not in text, f"{script.name} uses {word!r}: plain chatemu commands only"
        assert len(re.findall(r"^chatemu expect ", text, re.M)) >= 10, f"{script.name}: check each step"


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_passes_with_the_same_output_every_time(script: Path, tmp_path: Path):
    env = script_env(env_with(BIN, tmp_path))
    first, second = run_script(script, env), run_script(script, env)
    assert first.returncode == 0, report(first)
    assert first.stderr == "", report(first)
    assert first.stdout.splitlines()[-1] == DONE, report(first)
    assert (second.returncode, second.stdout, second.stderr) == (0, first.stdout, first.stderr), report(second)
    assert list(tmp_path.iterdir()) == [], "the temp database was left behind"


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_stops_at_its_own_check_when_chatemu_misbehaves(script: Path, tmp_path: Path):
    pattern, action, failure = SABOTAGES[script.name]
    bin_dir, marker, temp = tmp_path / "bin", tmp_path / "sabotaged", tmp_path / "tmp"
    bin_dir.mkdir()
    temp.mkdir()
    wrapper = bin_dir / "chatemu"
    wrapper.write_text(WRAPPER.format(real=script_chatemu(), pattern=pattern, marker=marker, action=action))
    wrapper.chmod(0o755)
    done = run_script(script, script_env(env_with(bin_dir, temp), on_path=False))
    assert marker.exists(), f"the sabotage {pattern} never applied: {report(done)}"
    assert done.returncode == 1, report(done)
    assert failure in done.stderr.splitlines(), report(done)
    assert DONE not in done.stdout, report(done)
    assert list(temp.iterdir()) == [], "the temp database was left behind"
