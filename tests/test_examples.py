"""Run every examples/*.sh against the installed chatemu: each must pass, and each must be able to fail.

The scripts find ``chatemu`` on PATH; here PATH starts with the directory of the running Python
(the venv's bin, where the ``chatemu`` console script is installed).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.sh") if p.name != "lib.sh")  # lib.sh: shared helpers
BIN = Path(sys.executable).parent
BASH = shutil.which("bash") or "/bin/bash"

# A stand-in for chatemu that answers every command plausibly but wrongly: every --json
# document says the chat is queued.  Each example must notice and exit non-zero.
FAKE_CHATEMU = """#!/usr/bin/env bash
for arg in "$@"; do
  if [[ $arg == --json ]]; then
    echo '{"now": "2026-01-05T09:00:00.000Z", "mode": "virtual", "id": "C1", "state": "queued",
           "agent": null, "presence": "available", "status": "available", "on_call": false,
           "active_chat": null, "wrapup_remaining": null, "parked_by_call": false, "closed_reason": null}'
    exit 0
  fi
done
echo "fake chatemu: $*"
"""


def env_with(path_dirs: list[Path], tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATEMU_")}
    env["PATH"] = os.pathsep.join([*map(str, path_dirs), env.get("PATH", "")])
    env["TMPDIR"] = str(tmp_path)  # the scripts' temp databases go here, so cleanup can be checked
    return env


def run_script(script: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([BASH, str(script)], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


def test_there_is_one_example_per_behaviour():
    assert {p.name for p in EXAMPLES} >= {
        "park-and-resume-wrapup.sh",
        "present-when-all-parked.sh",
        "call-customer-ends.sh",
        "extend-and-finish.sh",
    }
    readme = (ROOT / "examples" / "README.md").read_text()
    for script in EXAMPLES:
        assert script.name in readme, f"{script.name} is not listed in examples/README.md"


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_passes(script: Path, tmp_path: Path):
    done = run_script(script, env_with([BIN], tmp_path))
    report = f"exit {done.returncode}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    assert done.returncode == 0, report
    assert "FAIL" not in done.stderr, report
    assert f"OK: {script.stem} behaved as documented." in done.stdout, report
    assert re.search(r"^\s+ok: ", done.stdout, re.M), report  # it checked something
    # Its temp database is gone.
    assert not list(tmp_path.glob("chatemu-example.*")), report


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_fails_when_chatemu_deviates(script: Path, tmp_path: Path):
    fake_bin = tmp_path / "fake-bin"
    fake_bin.mkdir()
    fake = fake_bin / "chatemu"
    fake.write_text(FAKE_CHATEMU)
    fake.chmod(0o755)
    done = run_script(script, env_with([fake_bin, BIN], tmp_path))
    report = f"exit {done.returncode}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    assert done.returncode != 0, report
    assert "FAIL: " in done.stderr, report
    assert re.search(r"expected \S+, got queued", done.stderr), report
    assert "OK:" not in done.stdout, report
    assert not list(tmp_path.glob("chatemu-example.*")), report


def test_example_without_chatemu_says_so(tmp_path: Path):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    env = env_with([], tmp_path)
    env["PATH"] = str(empty)
    done = run_script(EXAMPLES[0], env)
    assert done.returncode != 0
    assert "chatemu is not on PATH" in done.stderr
