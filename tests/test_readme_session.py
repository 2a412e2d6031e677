"""The README's short session runs as shown: every command's output, byte for byte, on a fresh
database of its own, and the same again on another fresh database."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from conftest import BIN, script_env

README = Path(__file__).resolve().parent.parent / "README.md"


def session() -> list[tuple[str, str]]:
    """(command, the output shown under it) for each `$ ` line of the short session."""
    text = README.read_text(encoding="utf-8")
    block = re.search(r"## A short session\n.*?```console\n(.*?)```", text, re.S).group(1)
    steps: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            command = re.sub(r"\s+#.*$", "", line[2:])  # the comment is the reader's
            steps.append((command, []))
        else:
            steps[-1][1].append(line)
    return [(command, "".join(f"{line}\n" for line in shown)) for command, shown in steps]


def play(db: Path) -> list[tuple[str, str]]:
    env = {**os.environ, "CHATEMU_DB": str(db), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "COLUMNS": "100"}
    for name in ("FORCE_COLOR", "CHATEMU_AGENT"):
        env.pop(name, None)
    env = script_env(env)
    played = []
    for command, _ in session():
        if command.startswith("export CHATEMU_DB="):
            # The session's own database, new at every run (as a reader's run gets): here, ``db``.
            assert "$(mktemp -d)" in command, command
            played.append((command, ""))
            continue
        done = subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and done.stderr == "", (command, done)
        played.append((command, done.stdout))
    return played


def test_the_short_session_prints_what_the_readme_shows_on_every_fresh_run(tmp_path):
    shown = session()
    assert len(shown) > 10
    first = play(tmp_path / "first.db")
    assert first == shown
    assert play(tmp_path / "second.db") == first
