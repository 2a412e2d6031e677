"""chatemu's pytest plugin (registered through the ``pytest11`` entry point).

Fixtures:

- ``chatemu``: a fresh ``chatemu.cli.api.Emulator`` on a database of its own, its
  virtual clock at 2026-01-05T09:00:00Z, acting as ``agent-1``; a test marked
  ``@pytest.mark.chatemu(clock=ISO, config={KEY: VALUE})`` starts it at that time with that
  configuration;
- ``chatemu_scenario``: a function that runs a scenario file (``chatemu run`` syntax) on
  that same database and fails the test at the first failing line, naming FILE:LINE,
  the command and what happened;
- ``chatemu_server``: a namespace of its own on a ``chatemu serve`` process shared by the
  whole test session (``.url``, ``.ns``, ``.token(role, agent=None)``, ``.events(since=0)``,
  ``.cli(*args)``, ``.env``): docs/python-api.md.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

# Imported with the plugin, not by the first test: pytest's ``pytester`` forgets the modules a
# run in the same process imported, and a second copy of sqlite3 would not accept the first's.
from chatemu.cli.api import START, ChatemuError, Emulator


MARKER = "chatemu(clock=ISO, config={KEY: VALUE}): start the chatemu fixture's virtual clock at ISO and set these configuration keys"


def pytest_configure(config):
    config.addinivalue_line("markers", MARKER)


@pytest.fixture
def chatemu(tmp_path_factory, request):
    """A fresh chatemu on a temporary database, its clock virtual at 2026-01-05T09:00:00Z (or the
    ``chatemu`` marker's ``clock``), with the marker's ``config``."""
    marker = request.node.get_closest_marker("chatemu")
    preset = {"clock": START, "config": None}
    if marker is not None:
        unknown = [repr(arg) for arg in marker.args] + sorted(set(marker.kwargs) - set(preset))
        if unknown:
            pytest.fail(f"@pytest.mark.chatemu takes clock= and config= only, not {', '.join(unknown)}", pytrace=False)
        preset.update(marker.kwargs)
    emulator = Emulator(tmp_path_factory.mktemp("chatemu") / "chatemu.db")
    try:
        emulator.preset(**preset)
    except ChatemuError as error:
        problem = error.message
    else:
        return emulator
    pytest.fail(f"@pytest.mark.chatemu: {problem}", pytrace=False)


@pytest.fixture
def chatemu_scenario(chatemu, request):
    """``chatemu_scenario(path)``: run a scenario file on the ``chatemu`` fixture's database.

    A relative path is taken from the test file's folder.  Returns one record per line (as
    ``chatemu run --json`` prints them); the first failing line fails the test with
    ``FILE:LINE: COMMAND: what happened (exit N)``."""
    folder = os.path.dirname(str(request.path))

    def run(path, emulator=None):
        shown = os.fspath(path)
        target = shown if os.path.isabs(shown) else os.path.join(folder, shown)
        try:
            return (emulator or chatemu).run(target)
        except ChatemuError as error:
            failure = getattr(error, "scenario", None)
            if failure is None:
                raise
        # Failed outside the except block: the message once, not chained to the error it came from.
        failure.path = shown
        pytest.fail(f"{failure} (exit {failure.exit_code})", pytrace=False)

    return run


class ServerNamespace:
    """One test's namespace on the session's server, its clock virtual at 2026-01-05T09:00:00Z:
    ``url`` (the server's base URL), ``ns``, and
    ``trainer``, a trainer token of the namespace, which ``cli`` and ``events`` send and ``env``
    carries (once a folder has a token every request needs one: docs/tokens.md)."""

    def __init__(self, url: str, data_dir: str, ns: str):
        self.url, self.data_dir, self.ns = url, data_dir, ns
        self.trainer = self.token("trainer")
        code, _, errors = self.cli("clock", "set", START)
        if code:
            pytest.fail(f"chatemu_server: {' '.join(errors)}", pytrace=False)

    @property
    def env(self) -> dict:
        """``os.environ`` with ``CHATEMU_SERVER``, ``CHATEMU_NS`` and ``CHATEMU_TOKEN`` (the trainer's)
        set: a ``chatemu`` process run with it runs its command in this namespace."""
        return {**os.environ, "CHATEMU_SERVER": self.url, "CHATEMU_NS": self.ns, "CHATEMU_TOKEN": self.trainer}

    def token(self, role: str, agent=None) -> str:
        """A new token of this namespace for ``role`` (``trainer``, ``agent`` with ``agent``, or
        ``customer``), made by ``chatemu token add``."""
        argv = [sys.executable, "-m", "chatemu", "token", "add", "--data-dir", self.data_dir, "--ns", self.ns, "--role", role]
        done = subprocess.run(argv + (["--agent", agent] if agent is not None else []), capture_output=True, text=True)
        if done.returncode:
            raise ValueError(done.stderr.strip().removeprefix("error: "))
        return done.stdout.strip()

    def cli(self, *args: str, token=None):
        """Run a command line (the words after ``chatemu``) in this namespace, as
        ``chatemu --server URL --ns NS`` would (``token``: another token than the trainer's):
        ``(exit code, stdout, stderr lines)``."""
        from chatemu.server.client import call

        return call(self.url, self.ns, list(args), token=token or self.trainer)

    def events(self, since: int = 0) -> list:
        """The namespace's events after ``since`` (``GET /events``), as ``events --json`` lists them."""
        import json
        import urllib.request

        request = urllib.request.Request(f"{self.url}/v1/ns/{self.ns}/events" + (f"?since={since}" if since else ""),
                                         headers={"Authorization": f"Bearer {self.trainer}"})
        with urllib.request.urlopen(request, timeout=60) as answer:
            return json.load(answer)

    def __repr__(self) -> str:
        return f"<chatemu server {self.url} namespace {self.ns}>"


@pytest.fixture(scope="session")
def _chatemu_serve(tmp_path_factory):
    """One ``chatemu serve --port 0`` process for the test session: (base URL, data folder)."""
    import selectors

    data_dir = str(tmp_path_factory.mktemp("chatemu-serve"))
    process = subprocess.Popen([sys.executable, "-m", "chatemu", "serve", "--port", "0", "--data-dir", data_dir],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with selectors.DefaultSelector() as wait:
        wait.register(process.stdout, selectors.EVENT_READ)
        url = process.stdout.readline().strip() if wait.select(timeout=60) else ""
    if not url.startswith("http"):
        process.kill()
        pytest.fail(f"chatemu serve did not start: {process.communicate()[1].strip()}", pytrace=False)
    try:
        yield url, data_dir
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()


_namespaces = iter(range(1, 1 << 62))


@pytest.fixture
def chatemu_server(_chatemu_serve, request):
    """A namespace of its own on the session's ``chatemu serve`` process, with a trainer token."""
    url, data_dir = _chatemu_serve
    slug = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")
    return ServerNamespace(url, data_dir, f"t{next(_namespaces)}-{slug}"[:64].rstrip("-"))
