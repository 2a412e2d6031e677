"""A ``chatemu`` for shell scripts under test: runs the command line on the test process's fork
server (tests/forkserver.py) with this process's stdio, argv, environment, folder and umask, passes
on the signals a shell sends it (Ctrl-C, ``timeout``, ``kill``), and exits as the command did.
The server writes it out with a call of ``main`` appended.  It imports only built-in modules
(``_socket``, ``_signal``, ``marshal``), as a script runs it hundreds of times."""

import _signal
import _socket
import marshal
import os
import sys

STARTUP_PREFIXES = ("PYTHON", "LC_", "LANG")
FORWARDED = (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP, _signal.SIGQUIT)


def main(real: str, startup: dict) -> None:
    """``real``: the installed chatemu, exec'd when the server cannot run this command line (no
    server, an environment that changes how an interpreter starts, a closed standard stream)."""
    path = os.environ.get("CHATEMU_TEST_FORKSERVER")
    usable = path is not None and {k: v for k, v in os.environ.items() if k.startswith(STARTUP_PREFIXES)} == startup
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            usable = False  # closed by the script (`>&-`): the real program meets that itself
    conn = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM) if usable else None
    try:
        if conn is not None:
            conn.connect(path)
    except OSError:
        conn = None
    if conn is None:
        os.execv(real, [real, *sys.argv[1:]])
    mask = os.umask(0)
    os.umask(mask)
    request = {"argv": [real, *sys.argv[1:]], "env": dict(os.environ), "cwd": os.getcwd(), "umask": mask}
    data = marshal.dumps(request)
    data = b"%08d" % len(data) + data  # as forkserver.encode writes it
    fds = b"".join(fd.to_bytes(4, sys.byteorder) for fd in (0, 1, 2))
    sent = conn.sendmsg([data], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fds)])
    if sent < len(data):  # never an empty send: the command may have ended and closed the connection
        conn.sendall(data[sent:])
    data = b""
    while b"\n" not in data:
        data += conn.recv(64) or sys.exit(70)
    pid = int(data.split(b"\n")[0])
    def forward(number, frame):
        try:
            os.kill(pid, number)
        except ProcessLookupError:  # it has ended already: its exit status is on its way
            pass

    for sig in FORWARDED:
        _signal.signal(sig, forward)
    while data.count(b"\n") < 2:
        chunk = conn.recv(64)
        if not chunk:
            sys.exit(70)
        data += chunk
    code = int(data.split(b"\n")[1])
    if code < 0:
        _signal.signal(-code, _signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    sys.exit(code)
