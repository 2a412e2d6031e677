"""The package installs as chatemu.cli and chatemu.store only: no top-level `cli` or `store`;
its entry points are the console script and the pytest plugin."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_holds_only_the_chatemu_namespace(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel,) = tmp_path.glob("chatemu-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    code = [n for n in names if not n.startswith("chatemu-") or not n.split("/")[0].endswith(".dist-info")]
    tops = {n.split("/")[0] for n in code}
    assert tops == {"chatemu"}, tops
    packages = {n.rsplit("/", 1)[0] for n in code if n.endswith(".py")}
    assert packages == {"chatemu", "chatemu/cli", "chatemu/store"}, packages
    # `python -m chatemu`: one module at the top, and chatemu stays a namespace package.
    assert "chatemu/__main__.py" in names and "chatemu/__init__.py" not in names
    for module in ("chatemu/cli/app.py", "chatemu/store/core.py", "chatemu/store/engine.py", "chatemu/cli/__main__.py"):
        assert module in names
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "chatemu = chatemu.cli.app:run" in entry_points
    # pytest finds the `chatemu` fixtures through this group.
    groups = entry_points.split("[pytest11]", 1)
    assert len(groups) == 2, entry_points
    assert "chatemu = chatemu.cli.pytest_plugin" in groups[1].split("\n[", 1)[0], entry_points
    for module in ("chatemu/cli/api.py", "chatemu/cli/pytest_plugin.py"):
        assert module in names
