"""Shared fixtures: run the installed ``chatemu`` as users do, one process per step."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
CHATEMU = shutil.which("chatemu", path=str(BIN)) or shutil.which("chatemu")
START = "2026-01-05T09:00:00Z"


@dataclass
class Done:
    args: list[str]
    code: int
    out: str
    err: str

    @property
    def json(self):
        return json.loads(self.out)

    def __repr__(self):
        return f"chatemu {' '.join(self.args)} -> exit {self.code}\nstdout: {self.out}\nstderr: {self.err}"


class Chatemu:
    """A temp database and a way to run ``chatemu`` on it, one process per call."""

    def __init__(self, db: Path):
        self.db = db
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CHATEMU_")}
        self.env["CHATEMU_DB"] = str(db)
        self.env["PATH"] = f"{BIN}{os.pathsep}{self.env.get('PATH', '')}"
        self.env["NO_COLOR"] = "1"
        self.env.pop("FORCE_COLOR", None)  # it would win over NO_COLOR

    def run(self, *args: str, agent: str | None = None, env: dict | None = None, stdin: str | None = None) -> Done:
        argv = [CHATEMU, *(["--agent", agent] if agent else []), *args]
        proc = subprocess.run(
            argv, capture_output=True, text=True, env={**self.env, **(env or {})}, input=stdin, timeout=60
        )
        return Done(list(args), proc.returncode, proc.stdout, proc.stderr)

    def ok(self, *args: str, **kw) -> Done:
        done = self.run(*args, **kw)
        assert done.code == 0, done
        assert done.err == "", done
        return done

    def js(self, *args: str, **kw):
        """Run with --json; return the parsed document."""
        return self.ok(*args, "--json", **kw).json

    def chat(self, chat_id: str) -> dict:
        return self.js("chat", "show", chat_id)

    def fails(self, code: int, *args: str, match: str | None = None, **kw) -> Done:
        """A refused command: its exit code, one `error:` line, nothing on stdout, nothing changed."""
        before = self.dump()
        done = self.run(*args, **kw)
        assert done.code == code, done
        assert done.out == "", done
        lines = done.err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), done
        assert "Traceback" not in done.err
        if match is not None:
            assert match in lines[0], done
        assert self.dump() == before, f"state changed by a refused command: {done}"
        return done

    def dump(self) -> str:
        """The whole stored state, to compare before and after."""
        if not self.db.exists():
            return ""
        import sqlite3

        conn = sqlite3.connect(self.db)
        try:
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
            return json.dumps({t: conn.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall() for t in tables},
                              default=bytes.hex)  # snapshots are compressed BLOBs
        finally:
            conn.close()


@pytest.fixture
def cm(tmp_path) -> Chatemu:
    """A fresh database whose virtual clock starts at 2026-01-05T09:00:00Z."""
    c = Chatemu(tmp_path / "chatemu.db")
    c.ok("clock", "set", START)
    return c
