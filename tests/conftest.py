"""Shared fixtures: run the installed ``chatemu`` as users do, one process per step."""

from __future__ import annotations

import functools
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


def pytest_configure(config):
    """Compile chatemu's modules once: with PYTHONDONTWRITEBYTECODE set (as on CI's machines) an
    editable install would otherwise compile every module at every exec'd start, as a normal
    ``pip install`` does not."""
    import compileall

    root = Path(__file__).resolve().parent.parent
    for folder in ("cli", "store", "top"):
        compileall.compile_dir(root / folder, quiet=1)


def launch(argv: list[str], env: dict, stdin: str | None = None, timeout: float = 60, cwd=None,
           umask: int | None = None) -> tuple[int, str, str]:
    """Run a ``chatemu`` command line as a process; return (exit status, stdout, stderr).

    Forked from a warmed-up interpreter (``tests/forkserver.py``) unless the
    environment changes how an interpreter starts, or ``CHATEMU_TEST_EXEC=1``
    asks for the installed script to be exec'd every time."""
    if argv[0] == CHATEMU and not os.environ.get("CHATEMU_TEST_EXEC"):
        server = _fork_server()
        if server.can_run(env):
            # As an exec'd process decodes its argv: bytes that are not UTF-8 become surrogates.
            argv = [os.fsdecode(word) if isinstance(word, bytes) else word for word in argv]
            return server.run(argv, env, stdin, timeout, cwd=cwd, umask=umask)
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, input=stdin, timeout=timeout, cwd=cwd,
                          preexec_fn=(lambda: os.umask(umask)) if umask is not None else None)
    return proc.returncode, proc.stdout, proc.stderr


def script_env(env: dict, on_path: bool = True) -> dict:
    """``env`` for a shell script whose ``chatemu`` commands should run on the fork server:
    a ``chatemu`` shim first on PATH (``on_path``) and where to find the server."""
    if os.environ.get("CHATEMU_TEST_EXEC"):
        return env
    server = _fork_server()
    return server.shim_env(env) if on_path else {**env, **server.shim_env({})} | {"PATH": env.get("PATH", "")}


def script_chatemu() -> str:
    """The ``chatemu`` a shell script under test should exec: the shim (see ``script_env``)."""
    if os.environ.get("CHATEMU_TEST_EXEC"):
        return CHATEMU
    return os.path.join(_fork_server().shim_folder, "chatemu")


@functools.lru_cache(maxsize=None)
def _fork_server():
    from forkserver import Server

    return Server()


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
        code, out, err = launch(argv, {**self.env, **(env or {})}, stdin)
        return Done(list(args), code, out, err)

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
