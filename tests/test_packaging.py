"""The package installs as ``chatemu`` (a regular package) with ``chatemu.cli``,
``chatemu.store`` and ``chatemu.server``: no top-level `cli`, `store` or `server`; its entry points are the console script and the
pytest plugin, and installing it changes no one else's pytest run."""

import functools
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@functools.lru_cache(maxsize=None)
def _wheel(folder: str) -> Path:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", folder, str(ROOT)],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel,) = Path(folder).glob("chatemu-*.whl")
    return wheel


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    return _wheel(str(tmp_path_factory.mktemp("wheel")))


def test_wheel_holds_only_the_chatemu_package(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    code = [n for n in names if not n.startswith("chatemu-") or not n.split("/")[0].endswith(".dist-info")]
    tops = {n.split("/")[0] for n in code}
    assert tops == {"chatemu"}, tops
    packages = {n.rsplit("/", 1)[0] for n in code if n.endswith(".py")}
    assert packages == {"chatemu", "chatemu/cli", "chatemu/store", "chatemu/server"}, packages
    # A regular package (pytest's plugin loader rewrites `chatemu`, not a stray `__main__`),
    # with `python -m chatemu`.
    assert "chatemu/__main__.py" in names and "chatemu/__init__.py" in names
    for module in ("chatemu/cli/app.py", "chatemu/store/core.py", "chatemu/store/engine.py", "chatemu/cli/__main__.py",
                   "chatemu/server/tokens.py", "chatemu/server/webhooks.py", "chatemu/server/app.py"):
        assert module in names
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "chatemu = chatemu.cli.app:run" in entry_points
    # pytest finds the `chatemu` fixtures through this group.
    groups = entry_points.split("[pytest11]", 1)
    assert len(groups) == 2, entry_points
    assert "chatemu = chatemu.cli.pytest_plugin" in groups[1].split("\n[", 1)[0], entry_points
    for module in ("chatemu/cli/api.py", "chatemu/cli/pytest_plugin.py"):
        assert module in names
    # the desk and the room that `chatemu serve` shows: pages, script and style sheet
    for page in ("desk.html", "room.html", "app.js", "app.css"):
        assert f"chatemu/server/static/{page}" in names, page


@pytest.fixture(scope="module")
def wheel_venv(wheel, tmp_path_factory) -> Path:
    """A new virtual environment with the built wheel installed (not editable) and, for pytest
    and chatemu's dependencies, this environment's packages behind it."""
    venv = tmp_path_factory.mktemp("venv") / "v"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "behind.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    done = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    where = subprocess.run([str(python), "-c", "import chatemu.cli; print(chatemu.cli.__file__)"],
                           capture_output=True, text=True, check=True).stdout
    assert where.startswith(purelib), where  # the wheel's chatemu, not this checkout's
    return venv


@pytest.mark.parametrize("options", [[], ["-p", "no:chatemu"], ["-o", "filterwarnings=error"]])
def test_installing_chatemu_changes_no_one_elses_pytest_run(wheel_venv, tmp_path, options):
    (tmp_path / "test_x.py").write_text("def test_x(): pass\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "CHATEMU"))}
    done = subprocess.run(
        [str(wheel_venv / "bin" / "python"), "-m", "pytest", "-W", "error", "-p", "no:cacheprovider",
         "-p", "no:xdist", *options, "test_x.py"],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout and "warning" not in done.stdout.lower(), done.stdout


def test_the_installed_package_runs_as_a_module_and_exports_the_python_api(wheel_venv, tmp_path):
    python = str(wheel_venv / "bin" / "python")
    done = subprocess.run([python, "-m", "chatemu", "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("chatemu "), done.stdout + done.stderr
    code = ("import sys, chatemu; assert 'chatemu.cli.api' not in sys.modules; "
            "from chatemu import Emulator, Refused, UnknownChat, UsageError, ChatemuError; "
            "from chatemu.cli import api; assert Emulator is api.Emulator and Refused is api.Refused; "
            "assert issubclass(UnknownChat, ChatemuError) and issubclass(UsageError, ChatemuError); "
            f"e = Emulator({str(tmp_path / 'x.db')!r}); print(e.new(customer='Ann')['state'])")
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() in {"queued", "new"}, done.stdout
