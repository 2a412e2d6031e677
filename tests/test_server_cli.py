"""``chatemu --server URL``: real ``chatemu`` processes against a real ``chatemu serve`` (the
plugin's ``chatemu_server`` fixture), compared with the same command lines run locally on an
equivalent database (``cm``: a new database, its clock at the same instant)."""

from __future__ import annotations

import http.server
import os
import threading
from pathlib import Path

import pytest

from conftest import CHATEMU, launch

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
BASE_ENV = {k: v for k, v in os.environ.items() if not k.startswith("CHATEMU_")}

# (words, the exit code they end with) in order, one namespace: writes, reads, refusals,
# unknowns, usage, --json, help.
SESSION = [
    (["chat", "new", "--customer", "Ann"], 0),
    (["chat", "new", "--customer", "Bob", "--json"], 0),
    (["chat", "park", "C1"], 3),
    (["chat", "activate", "C1"], 0),
    (["chat", "send", "C1", "Hello"], 0),
    (["chat", "show", "C9"], 4),
    (["--agent", "agent-2", "agent", "login"], 0),
    (["chat", "list", "--all"], 0),
    (["chat", "list", "--all", "--json"], 0),
    (["clock", "advance", "soon"], 2),
    (["chat", "frobnicate"], 2),
    (["expect", "chat", "C1", "state=parked"], 1),
    (["refusals", "--json"], 0),
    (["events"], 0),
    (["chat", "--help"], 0),
]


def local(cm, *args, stdin=None):
    return launch([CHATEMU, "--db", str(cm.db), *args], BASE_ENV, stdin=stdin)


def remote(server, *args, env=None, stdin=None):
    return launch([CHATEMU, "--server", server.url, "--ns", server.ns, "--token", server.trainer, *args],
                  env if env is not None else BASE_ENV, stdin=stdin)


def test_every_command_prints_and_ends_as_it_does_locally(cm, chatemu_server):
    for words, code in SESSION:
        here, there = local(cm, *words), remote(chatemu_server, *words)
        assert there == here, words
        assert here[0] == code, (words, here)


def test_a_scenario_file_runs_unchanged_with_the_same_output(cm, chatemu_server, tmp_path):
    scenario = str(ROOT / "examples" / "scenarios" / "park-and-resume.chatemu")
    here, there = local(cm, "run", scenario), remote(chatemu_server, "run", scenario)
    assert there == here and here[0] == 0 and here[1].count("-> holds") > 5
    assert remote(chatemu_server, "run", "--json", scenario)[1] == local(cm, "run", "--json", scenario)[1]
    failing = tmp_path / "failing.chatemu"
    failing.write_text("chat new\nchat park C9\nexpect clock mode=real\n")
    for options in ([], ["--keep-going"], ["--quiet"]):
        here, there = local(cm, "run", *options, str(failing)), remote(chatemu_server, "run", *options, str(failing))
        assert there == here and here[0] == 4 and f"error: {failing}:2: chat park C9" in here[2], options


def test_the_environment_names_the_server_namespace_token_and_agent(cm, chatemu_server):
    env = {**BASE_ENV, "CHATEMU_SERVER": chatemu_server.url, "CHATEMU_NS": chatemu_server.ns,
           "CHATEMU_TOKEN": chatemu_server.trainer}
    assert launch([CHATEMU, "chat", "new"], env)[0] == 0
    assert launch([CHATEMU, "agent", "login"], {**env, "CHATEMU_AGENT": "agent-2"})[0] == 0
    code, out, _ = chatemu_server.cli("agent", "list", "--json")
    assert code == 0 and '"id": "agent-2"' in out
    # a local command with CHATEMU_SERVER unset is untouched by CHATEMU_NS or CHATEMU_TOKEN
    assert launch([CHATEMU, "--db", str(cm.db), "clock"], {**BASE_ENV, "CHATEMU_NS": "x", "CHATEMU_TOKEN": "y"})[0] == 0


@pytest.mark.parametrize("argv, message", [
    (["--db", "x.db", "chat", "list"], "error: --db and --server: on a server the namespace (--ns) is the database"),
    (["chat", "list", "--db", "x.db"], "error: --db and --server: on a server the namespace (--ns) is the database"),
    (["console"], "error: console does not run against a server"),
    (["serve"], "error: serve does not run against a server"),
    (["simulate", "examples/models/small-class.toml"], "error: simulate does not run against a server"),
    (["run", "--fresh", "x.chatemu"], "error: run --fresh does not run against a server"),
])
def test_what_makes_no_sense_on_a_server_is_a_usage_error(chatemu_server, argv, message):
    code, out, err = remote(chatemu_server, *argv)
    assert (code, out) == (2, "") and err.startswith(message) and err.count("\n") == 1


def test_server_options_without_a_server_are_a_usage_error(cm):
    code, out, err = local(cm, "--ns", "demo", "chat", "list")
    assert (code, out, err) == (2, "", "error: --ns is for a server: give --server URL (or set CHATEMU_SERVER)\n")
    assert launch([CHATEMU, "--server", "127.0.0.1:1", "clock"], BASE_ENV)[0] == 2


def test_a_server_that_cannot_be_reached_is_exit_5():
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code, out, err = launch([CHATEMU, "--server", f"http://127.0.0.1:{port}", "chat", "list"], BASE_ENV)
    assert (code, out) == (5, "") and err.startswith(f"error: cannot reach the server at http://127.0.0.1:{port}")


class _Fake(http.server.BaseHTTPRequestHandler):
    """A server answering each request with the status the test sets, recording its headers."""

    seen: list = []
    status = 200

    def do_POST(self):
        self.seen.append({**self.headers, "path": self.path})
        self.rfile.read(int(self.headers["Content-Length"]))
        body = (b'{"exit_code": 0, "stdout": "ok\\n", "stderr": ""}' if self.status == 200 else
                b'{"type": "/problems/x", "status": %d, "detail": "no way"}' % self.status)
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Fake)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Fake.seen, _Fake.status = [], 200
    yield f"http://127.0.0.1:{server.server_address[1]}", _Fake
    server.shutdown()
    server.server_close()


def test_the_token_is_sent_as_a_bearer_and_refusals_have_their_exit_codes(fake):
    url, handler = fake
    assert launch([CHATEMU, "--server", url, "--token", "cet_abc", "clock"], BASE_ENV) == (0, "ok\n", "")
    assert launch([CHATEMU, "clock"], {**BASE_ENV, "CHATEMU_SERVER": url, "CHATEMU_TOKEN": "cet_env"})[0] == 0
    launch([CHATEMU, "--server", url, "clock"], BASE_ENV)
    assert [seen.get("Authorization") for seen in handler.seen] == ["Bearer cet_abc", "Bearer cet_env", None]
    assert [seen["path"] for seen in handler.seen] == ["/v1/ns/default/cli"] * 3  # no namespace named: default
    launch([CHATEMU, "clock"], {**BASE_ENV, "CHATEMU_SERVER": url, "CHATEMU_NS": "from-env"})
    launch([CHATEMU, "--ns", "given", "clock"], {**BASE_ENV, "CHATEMU_SERVER": url, "CHATEMU_NS": "from-env"})
    assert [seen["path"] for seen in handler.seen[3:]] == ["/v1/ns/from-env/cli", "/v1/ns/given/cli"]
    for status, code in ((401, 2), (403, 3), (500, 5), (503, 5)):
        handler.status = status
        done = launch([CHATEMU, "--server", url, "clock"], BASE_ENV)
        assert done[:2] == (code, "") and done[2].startswith("error: no way") and done[2].count("\n") == 1, status


def test_token_and_completion_run_here(chatemu_server, tmp_path):
    code, out, _ = remote(chatemu_server, "token", "add", "--data-dir", str(tmp_path), "--ns", "x", "--role", "trainer")
    assert code == 0 and out.startswith("cet_") and (tmp_path / ".tokens.db").exists()


def test_the_fixture_through_pytester(pytester):
    pytester.makepyfile(test_user="""
        import json, subprocess, sys

        def test_one(chatemu_server):
            assert chatemu_server.url.startswith("http://127.0.0.1:")
            code, out, err = chatemu_server.cli("chat", "new", "--customer", "Ann", "--json")
            assert (code, err) == (0, [])
            assert json.loads(out)["created_at"] == "2026-01-05T09:00:00.000Z"
            assert [e["to"] for e in chatemu_server.events()] == ["available", "queued", "new"]
            assert [e["seq"] for e in chatemu_server.events(since=2)] == [3]
            assert chatemu_server.token("agent", "agent-2").startswith("cet_")
            done = subprocess.run([sys.executable, "-m", "chatemu", "chat", "list", "--all"],
                                  env=chatemu_server.env, capture_output=True, text=True)
            assert done.returncode == 0 and "Ann" in done.stdout

        def test_two_is_a_namespace_of_its_own(chatemu_server):
            assert chatemu_server.events() == []
            assert chatemu_server.cli("chat", "show", "C1")[0] == 4
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_no_command_shows_the_root_help_as_locally(chatemu_server):
    here, there = launch([CHATEMU], BASE_ENV), remote(chatemu_server)
    assert there == here and here[0] == 0 and "--server URL" in here[1]


def test_reset_on_a_terminal_asks_here_then_empties_the_namespace(chatemu_server):
    import pexpect

    assert chatemu_server.cli("chat", "new")[0] == 0
    env = {**BASE_ENV, **{k: v for k, v in chatemu_server.env.items() if k.startswith("CHATEMU_")}}
    child = pexpect.spawn(CHATEMU, ["reset"], env=env, encoding="utf-8", timeout=20)
    child.expect(f"Empty the namespace {chatemu_server.ns} on {chatemu_server.url}\\?")
    child.sendline("n")
    child.expect("nothing changed")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1 and chatemu_server.cli("chat", "show", "C1")[0] == 0
    child = pexpect.spawn(CHATEMU, ["reset"], env=env, encoding="utf-8", timeout=20)
    child.expect("Empty the namespace")
    child.sendline("y")
    child.expect("reset .*; clock")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0 and chatemu_server.cli("chat", "show", "C1")[0] == 4


def test_run_acts_as_the_agent_named(cm, chatemu_server, tmp_path):
    scenario = tmp_path / "agent.chatemu"
    scenario.write_text("agent login\nexpect agent status=available\n")
    here = local(cm, "--agent", "agent-7", "run", str(scenario))
    there = remote(chatemu_server, "--agent", "agent-7", "run", str(scenario))
    assert there == here and here[0] == 0 and "agent-7: (none) -> available" in here[1]
    assert launch([CHATEMU, "run", "-"], {**BASE_ENV, **{k: v for k, v in chatemu_server.env.items()
                                                         if k.startswith("CHATEMU_")}},
                  stdin="expect agent agent-7 status=available\n")[0] == 0


def test_export_and_import_move_bundles_between_this_machine_and_the_namespace(cm, chatemu_server, tmp_path):
    for words in (["chat", "new", "--customer", "Ann"], ["chat", "activate", "C1"], ["snapshot", "save", "s1"]):
        assert remote(chatemu_server, *words)[0] == local(cm, *words)[0] == 0
    here, there = local(cm, "export", "-"), remote(chatemu_server, "export", "-")
    assert there == here and here[0] == 0 and '"format":"chatemu-bundle"' in here[1]
    bundle = tmp_path / "b.json"
    assert remote(chatemu_server, "export", "--pretty", str(bundle)) == (0, "", "")
    assert bundle.read_text() == local(cm, "export", "--pretty", "-")[1]
    assert remote(chatemu_server, "export", str(bundle)) == local(cm, "export", str(bundle))  # exists: exit 2
    assert remote(chatemu_server, "import", str(bundle)) == local(cm, "import", str(bundle))  # in use: exit 3
    for options in (["--replace"], ["--replace", "--json"]):
        here, there = local(cm, "import", *options, str(bundle)), remote(chatemu_server, "import", *options, str(bundle))
        assert there == here and here[0] == 0 and str(bundle) in here[1], options
    assert remote(chatemu_server, "import", "--replace", "-", stdin="{") == local(cm, "import", "--replace", "-", stdin="{")
    bundle.write_text('{"format": 1}')
    here, there = local(cm, "import", "--replace", str(bundle)), remote(chatemu_server, "import", "--replace", str(bundle))
    assert there == here and here[0] == 2 and here[2].startswith(f"error: {bundle} is not a chatemu bundle")


def _follow(argv, env):
    import subprocess

    return subprocess.Popen([CHATEMU, *argv], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _lines(process, count, timeout=20):
    """The first ``count`` lines ``process`` prints (fewer if it prints no more in ``timeout``)."""
    import queue

    got = queue.Queue()
    threading.Thread(target=lambda: [got.put(line) for line in process.stdout], daemon=True).start()
    lines = []
    try:
        while len(lines) < count:
            lines.append(got.get(timeout=timeout))
    except queue.Empty:
        pass
    return lines


@pytest.mark.parametrize("options, count", [([], 5), (["--chat", "C1", "--jsonl"], 3)])
def test_events_follow_prints_as_a_local_follow_until_ctrl_c(cm, chatemu_server, options, count):
    import signal

    here = _follow(["--db", str(cm.db), "events", "--follow", *options], BASE_ENV)
    there = _follow(["--server", chatemu_server.url, "--ns", chatemu_server.ns, "--token", chatemu_server.trainer,
                     "events", "--follow", *options], BASE_ENV)
    try:
        for words in (["chat", "new"], ["chat", "activate", "C1"]):
            assert local(cm, *words)[0] == remote(chatemu_server, *words)[0] == 0
        shown = _lines(here, count), _lines(there, count)
        assert shown[0] == shown[1] and len(shown[0]) == count and "C1" in "".join(shown[0])
    finally:
        for process in (here, there):
            process.send_signal(signal.SIGINT)
    assert [process.wait(20) for process in (here, there)] == [0, 0]
    assert there.stderr.read() == here.stderr.read() == ""
    here.stderr.close(), there.stderr.close()


def test_a_scenario_line_cannot_name_a_server(cm, tmp_path):
    scenario = tmp_path / "s.chatemu"
    scenario.write_text("--server http://127.0.0.1:1 chat list\n")
    code, out, err = local(cm, "run", str(scenario))
    assert (code, out) == (2, "")
    assert err == (f"error: {scenario}:1: --server http://127.0.0.1:1 chat list: --server, --ns and --token are "
                   "given to the chatemu program, before its command\n")


def test_a_local_command_loads_nothing_of_the_remote_command_line(tmp_path):
    import subprocess
    import sys

    code = ("import sys\nfrom chatemu.cli.app import main\n"
            f"main(['--db', {str(tmp_path / 'x.db')!r}, 'chat', 'new', '--json'])\n"
            "print(sorted(m for m in sys.modules if m in ('chatemu.cli.remote', 'chatemu.server.client',"
            " 'urllib.request', 'http.client')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**BASE_ENV, "CHATEMU_NS": "demo", "CHATEMU_TOKEN": "cet_x"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]", done.stdout
