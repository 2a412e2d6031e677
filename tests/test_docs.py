"""The docs stay true: docs/reference.md is the CLI's --help, CI runs the README's test command, and the
exit codes documented (README and docs/json.md) are the engine's."""

import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import CHATEMU, launch

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
REFERENCE = (ROOT / "docs" / "reference.md").read_text()
JSON_DOC = (ROOT / "docs" / "json.md").read_text()


def test_command_reference_matches_help():
    done = subprocess.run(
        [sys.executable, "-m", "cogapp", "--check", "docs/reference.md"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, f"docs/reference.md is stale: run `cog -r docs/reference.md`\n{done.stdout}{done.stderr}"


def test_every_command_is_in_the_reference():
    """Each command `chatemu --help` lists (and each of its groups' commands) has a section."""
    sections = set(re.findall(r"^### `(chatemu[^`]*)`$", REFERENCE, re.M))
    env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1"}

    def commands(words):
        code, text, err = launch([CHATEMU, *words, "--help"], env)
        assert code == 0, (words, err)
        listed = text.split("Commands:\n", 1)
        if len(listed) == 1:
            return [words]
        names = re.findall(r"^  (\S+)", listed[1], re.M)
        found = []
        for name in names:
            found += commands([*words, name])
        return found + ([words] if words in (["clock"],) else [])

    for words in commands([]):
        assert " ".join(["chatemu", *words]) in sections, f"no docs/reference.md section for chatemu {' '.join(words)}"


def test_ci_runs_the_readme_test_command():
    blocks = re.findall(r"```bash\n(.*?)\n```", README, re.S)
    test_command = next(b for b in blocks if "pytest" in b)
    ci = (ROOT / ".ci" / "run").read_text()
    assert test_command in ci.splitlines()
    assert "bash .ci/run" in blocks  # the one command that also installs the Debian packages


def test_exit_codes_documented_match_the_engine():
    from chatemu.store.errors import EXIT_CODES

    for name, doc in (("README.md", README), ("docs/json.md", JSON_DOC)):
        table = dict(re.findall(r"^\| (\d+) \| ([^|]+) \|$", doc, re.M))
        for code in EXIT_CODES:
            assert str(code) in table, f"exit code {code} is not in {name}"


def test_the_root_help_names_every_exit_code(cm):
    from chatemu.store.errors import EXIT_CODES

    words = " ".join(cm.ok("--help").out.split())
    said = words.split("Exit codes:", 1)[1].split("Examples:", 1)[0]
    for code in EXIT_CODES:
        assert re.search(rf"(^|, ){code} \w", said.strip()), f"exit code {code} is not in chatemu --help: {said}"
