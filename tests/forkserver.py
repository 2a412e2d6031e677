"""Run ``chatemu`` command lines as forked processes of one warmed-up interpreter.

Most of a ``chatemu`` process's time in the test suite is the interpreter
starting and importing; the command itself takes a few milliseconds.  The
server below imports chatemu's modules once, then forks one process per command
line: a separate process with the caller's argv, environment, working
directory and its own stdin, stdout and stderr (the caller's file descriptors,
passed over a Unix socket), which runs the console script's entry point
(``chatemu.cli.app:run``) and exits through the interpreter's normal shutdown,
as an exec'd ``chatemu`` does.  Only start-up is shared.

Two clients: ``Server.run`` (tests/conftest.py's ``launch``: output into
files, a timeout) and ``shim.py``, an executable named ``chatemu`` that a test
puts first on PATH so that shell scripts (the examples, the README's session)
reach the server too; it starts without ``site`` and forwards its own stdio.
A command line whose environment changes how an interpreter starts
(``PYTHON*``, locale) is exec'd instead, and ``CHATEMU_TEST_EXEC=1`` execs the
installed ``chatemu`` for every call.  Tests about start-up, terminals,
signals, killing and packaging exec it.

Protocol, one connection per command line: the client sends a request (argv,
env, cwd, umask: a dict in ``marshal``'s format, which a shim reads and writes
without importing anything, after its length as 8 decimal digits) with its three
file descriptors; the server answers one line with the command's pid, then one
with its exit status (``subprocess``'s convention: negative for a signal).
"""

from __future__ import annotations

import atexit
import io
import marshal
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

#: Environment variables read while an interpreter starts: a command line that
#: sets or changes one of these is exec'd, not forked.
STARTUP_PREFIXES = ("PYTHON", "LC_", "LANG")
#: Where a shim finds the server.
SOCKET_ENV = "CHATEMU_TEST_FORKSERVER"


def _warm() -> None:
    """Import what chatemu processes import and pay their first-use costs (Typer
    building commands, rich, SQLite) once, in a short session on a throwaway
    database, so that children need not.  chatemu keeps no module-level mutable
    state, so nothing of that session reaches a child but warm caches."""
    import gc
    import importlib
    import io

    from chatemu.cli import app

    for name in ("agents", "chats", "expect", "files", "follow", "qa", "queues", "render", "scenario",
                 "settings", "stats", "templates", "timeline"):
        importlib.import_module(f"chatemu.cli.{name}")
    for word in app.ORDER:
        group = getattr(app._slim_command(word), "commands", {}).get(word)
        for sub in getattr(group, "commands", ()):
            app._slim_command(word, sub)  # what a command line of a group builds: each of its commands
    app.root_command()
    saved = (os.environ.copy(), sys.stdout, sys.stderr)
    with tempfile.TemporaryDirectory() as folder:
        os.environ["CHATEMU_DB"] = os.path.join(folder, "warm.db")
        os.environ["NO_COLOR"] = "1"
        sys.stdout = sys.stderr = io.StringIO()
        try:
            for line in ("clock set 2026-01-05T09:00:00Z", "chat new --json", "chat new", "chat list --all",
                         "chat activate C1", "chat show C1", "expect chat C1 state=active", "events",
                         "agent show --json", "clock advance 10s", "config list", "db check"):
                app.main(line.split())
        finally:
            os.environ.clear()
            os.environ.update(saved[0])
            sys.stdout, sys.stderr = saved[1], saved[2]
    gc.collect()
    gc.freeze()  # children neither scan nor copy the warmed objects


def _become(request: dict, fds: list[int]) -> None:
    """In the command's process: take the caller's stdio, argv, environment and folder."""
    for fd, target in zip(fds, (0, 1, 2)):
        os.dup2(fd, target)
    for fd in fds:
        if fd > 2:
            os.close(fd)
    os.chdir(request["cwd"])
    if request.get("umask") is not None:
        os.umask(request["umask"])
    os.environ.clear()
    os.environ.update(request["env"])
    time.tzset()
    tempfile.tempdir = None  # found again from TMPDIR, as a new interpreter finds it
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the dispositions an interpreter starts with
    signal.signal(signal.SIGINT, signal.default_int_handler)
    # The standard streams as an interpreter makes them: the server's encoding and error
    # handlers (they follow the locale, which a forked command line cannot change), stderr
    # line-buffered, stdout line-buffered on a terminal, both unbuffered with PYTHONUNBUFFERED.
    unbuffered = bool(os.environ.get("PYTHONUNBUFFERED"))
    streams = []
    for fd, model in ((0, sys.stdin), (1, sys.stdout), (2, sys.stderr)):
        mode = "r" if fd == 0 else "w"
        raw = io.FileIO(fd, mode, closefd=False)
        buffered = io.BufferedReader(raw) if fd == 0 else io.BufferedWriter(raw)
        streams.append(io.TextIOWrapper(
            buffered, encoding=model.encoding, errors=model.errors,
            line_buffering=fd == 2 or (fd == 1 and raw.isatty()), write_through=fd > 0 and unbuffered,
        ))
    sys.stdin, sys.stdout, sys.stderr = streams
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = sys.stdin, sys.stdout, sys.stderr
    sys.argv = request["argv"]


def serve(path: str) -> None:
    """Accept command lines on a Unix socket at ``path`` until the parent goes away.

    The server forks each command itself and waits for it through a pidfd in the same
    ``select`` as new connections.  Returns only in a command's process, which the caller
    then runs."""
    _warm()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    print("ready", flush=True)
    parent = os.getppid()
    running: dict[int, tuple[int, socket.socket]] = {}  # pidfd -> (pid, the caller's connection)
    while True:
        ready, _, _ = select.select([listener, *running], [], [], 1.0)
        if os.getppid() != parent:
            os._exit(0)  # the test process ended
        for pidfd in [fd for fd in ready if fd in running]:
            pid, conn = running.pop(pidfd)
            os.close(pidfd)
            _, status = os.waitpid(pid, 0)
            try:
                conn.sendall(f"{os.waitstatus_to_exitcode(status)}\n".encode())
            except OSError:
                pass  # the caller went away
            conn.close()
        if listener not in ready:
            continue
        conn, _ = listener.accept()
        request, fds = _request(conn)
        if request is None:
            conn.close()  # the client went away before asking for anything
            continue
        pid = os.fork()
        if pid == 0:
            listener.close()
            conn.close()
            for pidfd, (_, other) in running.items():
                os.close(pidfd)
                other.close()
            _become(request, fds)
            return
        for fd in fds:
            os.close(fd)
        try:
            conn.sendall(f"{pid}\n".encode())
        except OSError:
            pass  # the caller went away: the command still runs to its end, and is reaped
        running[os.pidfd_open(pid)] = (pid, conn)


def _request(conn: socket.socket) -> tuple[dict | None, list[int]]:
    """A caller's request (``encode``) and its three file descriptors; None if it sent none.
    Callers send it as soon as they are connected, so the server waits for it (however loaded
    the machine, which may hold a caller back for seconds)."""
    data, fds, size = b"", [], 0
    try:
        data, fds, _, _ = socket.recv_fds(conn, 1 << 20, 3)
        while data and len(data) < 8:  # a loaded machine may hand over even the length in pieces
            more = conn.recv(1 << 20)
            if not more:
                break
            data += more
        size = int(data[:8]) + 8 if len(data) >= 8 and data[:8].isdigit() else 0
        while data and len(data) < size:
            more = conn.recv(1 << 20)
            if not more:
                break
            data += more
    except OSError:
        size = 0
    if not size or len(data) != size or len(fds) != 3:
        for fd in fds:
            os.close(fd)
        return None, []
    return marshal.loads(data[8:]), fds


def encode(request: dict) -> bytes:
    """A request as the server reads it: its length, then the dict in ``marshal``'s format."""
    data = marshal.dumps(request)
    return b"%08d" % len(data) + data


def answers(conn: socket.socket, timeout: float | None, argv) -> tuple[int, int]:
    """Read the server's two answer lines (pid, exit status); past ``timeout``, kill the command."""
    data = b""
    pid = None
    conn.settimeout(timeout)
    while data.count(b"\n") < 2:
        try:
            chunk = conn.recv(64)
        except socket.timeout:
            if pid is not None:
                os.kill(pid, signal.SIGKILL)
                conn.settimeout(10)
                try:
                    while data.count(b"\n") < 2 and (chunk := conn.recv(64)):  # its status: it is gone
                        data += chunk
                except OSError:
                    pass
            raise subprocess.TimeoutExpired(argv, timeout) from None
        if not chunk:
            raise RuntimeError(f"the fork server hung up on {argv}")
        data += chunk
        if pid is None and b"\n" in data:
            pid = int(data.split(b"\n")[0])
    first, second = data.split(b"\n")[:2]
    return int(first), int(second)


def finish(code) -> None:
    """End the command's process as an interpreter's shutdown would, less tearing down
    every module: exit handlers, then stdio flushed, then the exit status."""
    import atexit

    atexit._run_exitfuncs()
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        print(code, file=sys.stderr)
        status = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            status = 120 if status == 0 else status  # as Python does when stdout cannot be flushed
    os._exit(status & 0xFF)


class Server:
    """The client side: one server per test process, started on first use."""

    def __init__(self):
        self.folder = tempfile.mkdtemp(prefix="chatemu-fork-")
        self.path = os.path.join(self.folder, "socket")
        self.proc = subprocess.Popen([sys.executable, __file__, self.path], stdout=subprocess.PIPE,
                                     env=os.environ.copy())
        if self.proc.stdout.readline() != b"ready\n":
            raise RuntimeError("the fork server did not start")
        self.startup_env = {k: v for k, v in os.environ.items() if k.startswith(STARTUP_PREFIXES)}
        atexit.register(self.close)
        self.shim_folder = os.path.join(self.folder, "bin")
        os.mkdir(self.shim_folder)
        shim = os.path.join(self.shim_folder, "chatemu")
        with open(shim, "w") as f:
            f.write(f"#!{sys.executable} -SE\n")
            f.write(open(os.path.join(os.path.dirname(__file__), "shim.py")).read())
            real = shutil.which("chatemu", path=os.path.dirname(sys.executable))
            f.write(f"\n\nmain({real!r}, {self.startup_env!r})\n")
        os.chmod(shim, 0o755)

    def close(self) -> None:
        """Stop the server and remove its folder (commands still running finish on their own)."""
        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.folder, ignore_errors=True)

    def can_run(self, env: dict) -> bool:
        return {k: v for k, v in env.items() if k.startswith(STARTUP_PREFIXES)} == self.startup_env

    def shim_env(self, env: dict) -> dict:
        """``env`` with a ``chatemu`` first on PATH that runs on this server."""
        return {**env, "PATH": f"{self.shim_folder}{os.pathsep}{env.get('PATH', '')}", SOCKET_ENV: self.path}

    def run(self, argv: list[str], env: dict, stdin: str | None, timeout: float, cwd: str | None = None,
            umask: int | None = None):
        """Run one command line; return (exit status, stdout, stderr) as text."""
        files = [tempfile.TemporaryFile(dir=self.folder) for _ in range(3)]
        try:
            if stdin is not None:
                files[0].write(stdin.encode())
                files[0].seek(0)
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                conn.connect(self.path)
                request = encode({"argv": argv, "env": env, "cwd": str(cwd or os.getcwd()), "umask": umask})
                sent = socket.send_fds(conn, [request], [f.fileno() for f in files])
                if sent < len(request):  # never an empty send: the command may have ended and its
                    conn.sendall(request[sent:])  # connection closed already, which would fail it
                pid, code = answers(conn, timeout, argv)
            out, err = (self._text(f) for f in files[1:])
            return code, out, err
        finally:
            for f in files:
                f.close()

    @staticmethod
    def _text(f) -> str:
        f.seek(0)
        return f.read().decode("utf-8", "replace").replace("\r\n", "\n")


if __name__ == "__main__":
    sys.path.pop(0)  # this file's folder: not where chatemu is imported from
    serve(sys.argv[1])
    from chatemu.cli.app import run

    try:
        run()
    except SystemExit as exc:
        code = exc.code
    if os.environ.get("CHATEMU_TEST_FORK_SLOW_EXIT"):
        sys.exit(code)  # the interpreter's whole shutdown
    finish(code)
