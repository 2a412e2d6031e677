"""Command-line conventions other tools share: ``python -m``, ``--version``, colour
variables, options after the subcommand, tables that fit the terminal, consistent words."""

from __future__ import annotations

import subprocess
import sys

from chatemu.store.bundle import FORMAT_VERSION
from chatemu.store.schema import SCHEMA_VERSION

VERSION_LINE = f"(schema {SCHEMA_VERSION}, bundle format {FORMAT_VERSION})"


def test_python_m_chatemu_is_the_command(tmp_path):
    for module in ("chatemu", "chatemu.cli"):
        done = subprocess.run([sys.executable, "-m", module, "--version"], capture_output=True, text=True,
                              cwd=tmp_path, timeout=60)
        assert done.returncode == 0, done
        assert done.stdout.startswith("chatemu ") and done.stdout.rstrip().endswith(VERSION_LINE), done.stdout
    done = subprocess.run([sys.executable, "-m", "chatemu", "--help"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=60)
    assert done.returncode == 0 and "Usage: chatemu" in done.stdout, done


def test_the_chatemu_package_costs_a_command_line_nothing():
    """``chatemu`` is a regular package whose Python API names are imported on first use: the
    command line imports ``chatemu`` on its way to ``chatemu.cli.app``, and nothing more of it."""
    code = ("import sys, chatemu.cli.app, chatemu; before = set(sys.modules); "
            "from chatemu import Emulator; print(chatemu.__file__ is not None, "
            "'chatemu.cli.api' in before, 'chatemu.cli.api' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "False", "True"], out


def test_version_names_schema_and_bundle_format(cm):
    from importlib.metadata import version

    out = cm.ok("--version").out
    assert out == f"chatemu {version('chatemu')} {VERSION_LINE}\n"


# -- colour: NO_COLOR (no-color.org) and FORCE_COLOR (force-color.org) -------------------

BOX = "┏"  # rich's table border: the rich output, not the plain one


def _list(cm, **env):
    cm.ok("chat", "new", "--customer", "Ann")
    base = {k: v for k, v in cm.env.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    import subprocess as sp

    from conftest import CHATEMU

    return sp.run([CHATEMU, "chat", "list", "--all"], capture_output=True, text=True, env={**base, **env},
                  timeout=60).stdout


def test_force_color_gives_rich_output_into_a_pipe(cm):
    out = _list(cm, FORCE_COLOR="1")
    assert BOX in out and "\x1b[" in out, out
    assert "C1" in out and "new" in out


def test_force_color_wins_over_no_color_and_dumb_terminal(cm):
    out = _list(cm, FORCE_COLOR="1", NO_COLOR="1", TERM="dumb")
    assert BOX in out and "\x1b[" in out, out


def test_empty_variables_count_as_unset(cm):
    out = _list(cm, FORCE_COLOR="")
    assert BOX not in out and "\x1b[" not in out
    assert out.splitlines()[1].split() == ["ID", "STATE", "AGENT", "CUSTOMER", "QUEUE", "PRIO", "WRAP-UP", "EXT", "CALL"]


def test_json_is_never_coloured(cm):
    cm.ok("chat", "new", "--customer", "Ann")
    import json

    done = cm.run("chat", "list", "--all", "--json", env={"FORCE_COLOR": "1"})
    assert json.loads(done.out)[0]["id"] == "C1"


def test_empty_no_color_on_a_terminal_keeps_colour(cm):
    import pexpect

    from conftest import CHATEMU

    cm.ok("chat", "new", "--customer", "Ann")
    env = {k: v for k, v in cm.env.items() if k != "FORCE_COLOR"} | {"NO_COLOR": "", "TERM": "xterm"}
    child = pexpect.spawn(CHATEMU, ["chat", "list", "--all"], env=env, dimensions=(40, 120), encoding="utf-8",
                          timeout=20)
    out = child.read()
    assert BOX in out, out


# -- --db after the command -------------------------------------------------------------


def test_db_after_the_command(cm, tmp_path):
    other = str(tmp_path / "other.db")
    env = {"CHATEMU_DB": ""}
    cm.ok("clock", "set", "2026-01-05T09:00:00Z", "--db", other, env=env)
    cm.ok("chat", "new", "--customer", "Ann", "--db", other, env=env)
    assert [c["id"] for c in cm.js("chat", "list", "--all", "--db", other)] == ["C1"]
    assert [c["id"] for c in cm.js("chat", "list", "--all", f"--db={other}")] == ["C1"]
    assert cm.js("chat", "list", "--all") == []  # CHATEMU_DB's database is untouched
    # After the command it wins over one before it, as the nearer one.
    assert [c["id"] for c in cm.js("--db", str(cm.db), "chat", "list", "--all", "--db", other)] == ["C1"]
    # An option's value is never taken for --db; nothing after `--` moves.
    done = cm.run("chat", "new", "--customer", "--db", "--db", other)
    assert done.code == 0, done
    assert cm.js("chat", "show", "C2", "--db", other)["customer"] == "--db"


def test_db_after_the_command_in_a_scenario_is_that_line_only(cm, tmp_path):
    other = tmp_path / "other.db"
    cm.ok("--db", str(other), "clock", "set", "2026-01-05T09:00:00Z")
    script = tmp_path / "s.chatemu"
    script.write_text(f"chat new --customer Ann --db {other}\nchat new --customer Bob\n")
    cm.ok("run", str(script))
    assert [c["customer"] for c in cm.js("--db", str(other), "chat", "list", "--all")] == ["Ann"]
    assert [c["customer"] for c in cm.js("chat", "list", "--all")] == ["Bob"]


# -- tables that fit the terminal -------------------------------------------------------


def _on_terminal(cm, columns: int, *args: str) -> str:
    import pexpect

    from conftest import CHATEMU

    env = {k: v for k, v in cm.env.items() if k not in ("NO_COLOR", "FORCE_COLOR", "COLUMNS", "LINES")}
    env["TERM"] = "xterm-256color"
    child = pexpect.spawn(CHATEMU, list(args), env=env, dimensions=(60, columns), encoding="utf-8", timeout=20)
    import re

    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", child.read()).replace("\r\n", "\n")


def test_tables_never_cut_ids_states_or_times(cm):
    cm.ok("chat", "new", "--customer", "Annabelle Fitzgerald-Smythe of Somewhere Rather Far")
    cm.ok("chat", "new", "--customer", "Bob")
    cm.ok("chat", "activate", "C1")
    cm.ok("chat", "end", "C1")
    cm.ok("clock", "advance", "20s")
    cm.ok("chat", "park", "C1")
    for columns in (60, 80, 120):
        listed = _on_terminal(cm, columns, "chat", "list", "--all")
        assert "…" not in listed, listed
        assert max(len(line) for line in listed.splitlines()) <= columns, listed
        for word in ("C1", "C2", "parked-wrapup", "new", "agent-1", "40s"):
            assert word in listed, (columns, listed)
        shown = _on_terminal(cm, columns, "events")
        assert "…" not in shown, shown
        assert max(len(line) for line in shown.splitlines()) <= columns, shown
        assert "events of 2026-01-05 (UTC)" in shown
        for word in ("09:00:00.000", "09:00:20.000", "active-wrapup", "parked-wrapup", "handling-chat"):
            assert word in shown, (columns, shown)
        assert "2026-01-05T09" not in shown  # one day: times without the date


def test_agent_events_show_the_agent_under_agent_on_a_terminal(cm):
    cm.ok("chat", "new", "--customer", "Ann")  # agent-1 logs in and is presented the chat
    shown = _on_terminal(cm, 120, "events")
    line = next(line for line in shown.splitlines() if "available" in line)
    cells = [cell.strip() for cell in line.strip("│ ").split("│")]
    assert cells[2] == "-" and cells[-1] == "agent-1", cells
