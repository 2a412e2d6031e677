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


def test_chatemu_stays_a_namespace_package():
    import chatemu

    assert getattr(chatemu, "__file__", None) is None  # no chatemu/__init__.py: cli and store are its parts


def test_version_names_schema_and_bundle_format(cm):
    from importlib.metadata import version

    out = cm.ok("--version").out
    assert out == f"chatemu {version('chatemu')} {VERSION_LINE}\n"
