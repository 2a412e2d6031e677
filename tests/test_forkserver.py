"""The suite's forked command lines (tests/forkserver.py, tests/shim.py) behave as the installed
``chatemu`` does: the same script gives the same output through the shim as with the real one."""

from __future__ import annotations

import os
import subprocess

import pytest

from conftest import CHATEMU, script_chatemu, script_env

SCRIPT = r"""
set -u
cd "$WORK"
chatemu clock set 2026-01-05T09:00:00Z
printf 'chat new\nchat new\nchat park C9\nchat new\n' > s.chatemu
chatemu run s.chatemu 2>&1 | cat                       # stderr line-buffered: the error line in place
umask 077; chatemu export x.json; stat -c %a x.json    # the script's umask
CHATEMU_DB=$'nonutf8-\xff.db' chatemu db path          # undecodable bytes in the environment
TMPDIR="$WORK/tmp" chatemu run --keep kept.db s.chatemu >/dev/null 2>&1; echo "run: $?"
chatemu chat list --all >&-; echo "closed stdout: $?"
start=$SECONDS; timeout -s INT 1 chatemu events --follow >/dev/null; echo "follow: $? within $((SECONDS - start < 10))"
"""


@pytest.mark.skipif(bool(os.environ.get("CHATEMU_TEST_EXEC")), reason="every command line is exec'd already")
def test_a_script_gives_the_same_output_through_the_shim_as_with_the_installed_chatemu(tmp_path):
    outputs = []
    for name, shim in (("real", False), ("shim", True)):
        work = tmp_path / name
        (work / "tmp").mkdir(parents=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHATEMU_")}
        env.update(WORK=str(work), CHATEMU_DB=str(work / "chatemu.db"), NO_COLOR="1",
                   PATH=f"{os.path.dirname(CHATEMU)}{os.pathsep}{env['PATH']}")
        if shim:
            env = script_env(env)
        done = subprocess.run(["bash", "-c", SCRIPT], capture_output=True, text=True, errors="surrogateescape",
                              env=env, timeout=60)
        outputs.append((done.returncode, done.stdout.replace(str(work), "WORK"), done.stderr.replace(str(work), "WORK")))
        assert not os.listdir(work / "tmp"), "run's private database is removed from TMPDIR"
    assert outputs[0] == outputs[1]
    assert "follow: 130 within 1" in outputs[0][1] or "follow: 124 within 1" in outputs[0][1], outputs[0][1]


def test_the_shim_is_what_scripts_run():
    assert script_chatemu() != CHATEMU or os.environ.get("CHATEMU_TEST_EXEC")


@pytest.mark.skipif(bool(os.environ.get("CHATEMU_TEST_EXEC")), reason="every command line is exec'd already")
def test_a_caller_held_back_until_its_command_has_ended_still_gets_its_answer(monkeypatch, tmp_path):
    """On a loaded machine the caller may be descheduled right after sending its request, until
    the command has run, answered and the server has closed the connection: the caller must not
    then write to the closed connection."""
    import socket
    import time

    from conftest import _fork_server

    real = socket.send_fds

    def held_back(sock, buffers, fds, *args):
        sent = real(sock, buffers, fds, *args)
        sock.settimeout(30)
        while (seen := sock.recv(64, socket.MSG_PEEK)).count(b"\n") < 2:  # both answers: the server is done
            if not seen:
                break  # it hung up without answering: Server.run says so
            time.sleep(0.005)
        time.sleep(0.2)  # and it closes the connection just after the second
        return sent

    monkeypatch.setattr(socket, "send_fds", held_back)
    env = {**os.environ, "CHATEMU_DB": str(tmp_path / "c.db"), "NO_COLOR": "1"}
    code, out, err = _fork_server().run([CHATEMU, "chat", "new"], env, None, 60)
    assert (code, err) == (0, ""), err
    assert "C1" in out
