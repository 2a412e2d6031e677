"""A ``chatemu`` for shell scripts under test: runs the command line on the test process's fork
server (tests/forkserver.py) with this process's stdio, argv, environment and folder, and exits
as the command did.  The server writes it out with a call of ``main`` appended."""

import json
import os
import socket
import sys

STARTUP_PREFIXES = ("PYTHON", "LC_", "LANG")


def main(real: str, startup: dict) -> None:
    """``real``: the installed chatemu, exec'd when the server cannot run this command line
    (no server, or an environment that changes how an interpreter starts)."""
    path = os.environ.get("CHATEMU_TEST_FORKSERVER")
    if path is None or {k: v for k, v in os.environ.items() if k.startswith(STARTUP_PREFIXES)} != startup:
        os.execv(real, [real, *sys.argv[1:]])
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(path)
    request = {"argv": [real, *sys.argv[1:]], "env": dict(os.environ), "cwd": os.getcwd()}
    socket.send_fds(conn, [json.dumps(request).encode() + b"\n"], [0, 1, 2])
    data = b""
    while data.count(b"\n") < 2:
        chunk = conn.recv(64)
        if not chunk:
            sys.exit(70)
        data += chunk
    code = int(data.split(b"\n")[1])
    if code < 0:
        os.kill(os.getpid(), -code)
    sys.exit(code)
