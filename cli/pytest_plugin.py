"""chatemu's pytest plugin (registered through the ``pytest11`` entry point).

Fixtures:

- ``chatemu``: a fresh ``chatemu.cli.api.Emulator`` on a database of its own, its
  virtual clock at 2026-01-05T09:00:00Z, acting as ``agent-1``; a test marked
  ``@pytest.mark.chatemu(clock=ISO, config={KEY: VALUE})`` starts it at that time with that
  configuration;
- ``chatemu_scenario``: a function that runs a scenario file (``chatemu run`` syntax) on
  that same database and fails the test at the first failing line, naming FILE:LINE,
  the command and what happened.
"""

from __future__ import annotations

import os

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
