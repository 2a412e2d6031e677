"""The files chatemu writes and opens, at their edges: ``--force`` writes into what is not a
regular file (a FIFO, a device, ``/dev/stdout``) as a shell's ``>`` does and replaces only regular
files; a killed ``export`` leaves no temporary file behind (or the next write removes it), nor does
a killed ``import`` (the next import or export there removes it, never a live writer's); a
``--db`` that is not a regular file is refused with nothing created beside it; a command that fails
on a full disk leaves an older database's bytes as they were; the journal of refusals keeps a
bounded copy of what was typed.

Device nodes and FIFOs are made inside the test's own temp folder (``mknod`` needs root: skipped
otherwise), never the system's.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import CHATEMU, Chatemu

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="FIFOs, device nodes and /proc are Linux's here")


def temp_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".chatemu-"))


def null_device(folder: Path) -> Path:
    """A character device with /dev/null's numbers (1, 3), made inside ``folder``."""
    node = folder / "null"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("mknod needs root")
    return node


# == --force writes into what is not a regular file, replaces only regular files ===================


def test_export_force_into_a_fifo_feeds_its_reader_and_leaves_a_fifo(cm, tmp_path):
    cm.ok("chat", "new", "--customer", "Ann")
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    done = cm.run("export", "--force", str(fifo))
    reader.join(30)
    assert done.code == 0, done
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert got and got[0].decode() == cm.ok("export", "-").out
    assert temp_files(tmp_path) == []


def test_export_and_timeline_force_into_a_device_node_leave_it_a_device(cm, tmp_path):
    cm.ok("chat", "new", "--customer", "Ann")
    node = null_device(tmp_path)
    cm.ok("export", "--force", str(node))
    assert stat.S_ISCHR(node.lstat().st_mode) and node.lstat().st_rdev == os.makedev(1, 3)
    svg = tmp_path / "null.svg"  # timeline -o names an .svg or .html file
    os.symlink(node, svg)
    cm.ok("timeline", "-o", str(svg), "--force")
    assert svg.is_symlink() and stat.S_ISCHR(node.lstat().st_mode)
    assert temp_files(tmp_path) == []


def test_export_force_to_dev_stdout_writes_the_stream(cm, tmp_path):
    """``/dev/stdout`` redirected to a file: the bundle goes down the stream (after what the
    shell wrote before it), the file is not replaced (same inode)."""
    cm.ok("chat", "new", "--customer", "Ann")
    out = tmp_path / "out.json"
    out.write_text("")
    inode = out.stat().st_ino
    with open(out, "a") as handle:
        handle.write("before\n")
        handle.flush()
        proc = subprocess.run([CHATEMU, "export", "--force", "/dev/stdout"], stdout=handle, stderr=subprocess.PIPE,
                              text=True, env=cm.env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_ino == inode
    assert out.read_text() == "before\n" + cm.ok("export", "-").out
    piped = subprocess.run([CHATEMU, "export", "--force", "/dev/stdout"], capture_output=True, text=True,
                           env=cm.env, timeout=60)
    assert (piped.returncode, piped.stderr) == (0, "")
    assert json.loads(piped.stdout)["format"] == "chatemu-bundle"
    assert temp_files(tmp_path) == []


# == a killed export leaves nothing behind ========================================================


def many_messages(cm: Chatemu, count: int = 20_000, size: int = 2_000) -> None:
    """A database whose export (and the import of that) takes a while: one chat with ``count``
    long messages."""
    cm.ok("chat", "new", "--customer", "Ann")
    conn = sqlite3.connect(cm.db, isolation_level=None)
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO messages (chat, seq, at_ms, sender, text)"
                     " SELECT 'C1', ?, created_at_ms, 'customer', ? FROM chats WHERE id = 'C1'",
                     ((n, f"{n:08d}" + "x" * size) for n in range(1, count + 1)))
    conn.execute("COMMIT")
    conn.close()


def open_in(pid: int, folder: Path) -> bool:
    """Whether process ``pid`` has a file in ``folder`` open."""
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith(f"{folder}/"):
                return True
        except OSError:
            pass
    return False


def kill_mid_way(argv: list[str], env: dict, folder: Path, into: float) -> None:
    """Run ``argv`` and kill -9 it ``into`` seconds after it has opened a file in ``folder``."""
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not open_in(proc.pid, folder):
            assert proc.poll() is None and time.monotonic() < deadline, f"{argv[1:]} ended before it was killed"
            time.sleep(0.005)
        time.sleep(into)
        assert proc.poll() is None, f"{argv[1:]} ended before it was killed"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(30)


def test_export_killed_mid_write_leaves_no_temporary_file(cm, tmp_path):
    many_messages(cm)
    out = tmp_path / "out"
    out.mkdir()
    kill_mid_way([CHATEMU, "export", str(out / "bundle.json")], cm.env, out, 0.05)  # into the writing, well before its end
    assert sorted(p.name for p in out.iterdir()) == []


KEEP_WRITING = """
import os, sys
del os.O_TMPFILE  # a file system without unnamed files: the named fallback
from chatemu.cli.files import writing
with writing(sys.argv[1], True) as write:
    write("x" * 100000)
    print("writing", flush=True)
    sys.stdin.read()
"""


def test_a_killed_writers_named_temporary_file_is_removed_by_the_next_write(cm, tmp_path):
    """Where the file system has no unnamed files, the temporary file is named; once its writer
    is gone (its lock free) and it has not been written for a while, the next write there removes it."""
    cm.ok("chat", "new")
    target = tmp_path / "bundle.json"
    writer = subprocess.Popen([sys.executable, "-c", KEEP_WRITING, str(target)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline() == "writing\n"
    left = temp_files(tmp_path)
    assert len(left) == 1
    old = time.time() - 120
    os.utime(tmp_path / left[0], (old, old))
    cm.ok("export", "--force", str(target))  # its writer still holds the lock: kept
    assert temp_files(tmp_path) == left
    writer.kill()
    writer.wait(30)
    fresh = tmp_path / ".chatemu-fresh.tmp"  # not written for long enough: perhaps just made
    fresh.write_text("")
    cm.ok("export", "--force", str(target))
    assert temp_files(tmp_path) == [fresh.name]
    assert json.loads(target.read_text())["format"] == "chatemu-bundle"


# == a killed import leaves nothing that the next import or export there does not remove ==========


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def age(folder: Path, files: list[str]) -> None:
    """Make ``files`` look unwritten for two minutes."""
    old = time.time() - 120
    for name in files:
        os.utime(folder / name, (old, old))


@pytest.fixture(scope="module")
def big_bundle(tmp_path_factory) -> Path:
    """A bundle whose import takes seconds (``many_messages``)."""
    folder = tmp_path_factory.mktemp("big")
    maker = Chatemu(folder / "big.db")
    many_messages(maker)
    maker.ok("export", str(folder / "big.json"))
    return folder / "big.json"


@pytest.mark.parametrize("replace, then", [([], "import"), (["--replace"], "export")],
                         ids=["import-then-import", "import-replace-then-export"])
def test_an_import_into_a_new_database_killed_mid_way_leaves_what_the_next_write_there_removes(
        cm, tmp_path, big_bundle, replace, then):
    """The import writes a new database under a temporary name beside it (``.chatemu-import-*.db``,
    SQLite's ``-journal`` beside it), locked: killed, it leaves those, and the next import or
    export into the folder removes them once they have not been written for a while."""
    small = tmp_path / "small.json"
    cm.ok("export", str(small))
    new = tmp_path / "new"
    new.mkdir()
    kill_mid_way([CHATEMU, "--db", str(new / "new.db"), "import", *replace, str(big_bundle)], cm.env, new, 0.25)
    left = names(new)
    assert left and all(name.startswith(".chatemu-import-") for name in left), left  # no new.db
    cm.ok("export", "--force", str(new / "out.json"))  # just written: perhaps by an import still running
    assert names(new) == sorted(left + ["out.json"])
    age(new, left)
    if then == "import":
        cm.ok("--db", str(new / "other.db"), "import", str(small))
    else:
        cm.ok("export", "--force", str(new / "out.json"))
    assert names(new) == (["other.db", "out.json"] if then == "import" else ["out.json"])


def test_an_import_whose_writer_is_alive_keeps_its_file_however_old_it_looks(cm, tmp_path):
    """An import reading its bundle from a pipe still open: its file stays through the next
    import and export into the folder; then the import ends whole and leaves only the database."""
    cm.ok("chat", "new", "--customer", "Ann")
    text = cm.ok("export", "-").out
    new = tmp_path / "new"
    new.mkdir()
    proc = subprocess.Popen([CHATEMU, "--db", str(new / "live.db"), "import", "-"], env=cm.env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not temp_files(new):
            assert proc.poll() is None and time.monotonic() < deadline, "the import ended before its bundle"
            time.sleep(0.005)
        proc.stdin.write(text[: len(text) // 2])
        proc.stdin.flush()
        for then in (["--db", str(new / "other.db"), "import", "-"], ["export", str(new / "out.json")]):
            left = temp_files(new)  # the file, and SQLite's beside it once it writes
            assert any(name.endswith(".db") for name in left), left
            age(new, left)
            cm.ok(*then, stdin=text)
            assert set(left) <= set(temp_files(new)), (left, then)
        out, err = proc.communicate(text[len(text) // 2:], timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    assert proc.returncode == 0, err
    assert names(new) == ["live.db", "other.db", "out.json"]
    assert cm.ok("--db", str(new / "live.db"), "export", "-").out == text


def test_an_import_replace_into_a_database_killed_mid_way_leaves_it_as_it_was(cm, tmp_path, big_bundle):
    """``import --replace`` into a database is one transaction in it: killed, it leaves only the
    database's own files, which the next command (even a read) folds back, the state untouched."""
    folder = tmp_path / "here"
    folder.mkdir()
    db = Chatemu(folder / "kept.db")
    db.ok("chat", "new", "--customer", "Bob")
    before = db.ok("export", "-").out
    kill_mid_way([CHATEMU, "--db", str(db.db), "import", "--replace", str(big_bundle)], cm.env, folder, 0.25)
    assert db.ok("export", "-").out == before
    assert names(folder) == ["kept.db"]


# == a --db that is not a regular file: refused, nothing created ===================================


@pytest.mark.parametrize("kind", ["device", "fifo", "symlink-to-device"])
@pytest.mark.parametrize("args", [["chat", "new"], ["chat", "list"], ["db", "check"]], ids=" ".join)
def test_a_db_that_is_not_a_regular_file_is_refused_and_nothing_is_created(tmp_path, kind, args):
    folder = tmp_path / "here"
    folder.mkdir()
    if kind == "fifo":
        db = folder / "db"
        os.mkfifo(db)
    else:
        db = null_device(folder)
        if kind == "symlink-to-device":
            os.symlink(db, folder / "link.db")
            db = folder / "link.db"
    before = sorted(p.name for p in folder.iterdir())
    done = Chatemu(tmp_path / "unused.db").run("--db", str(db), *args)
    assert done.code == 5, done
    lines = done.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "not a regular file" in lines[0], done
    assert sorted(p.name for p in folder.iterdir()) == before


# == a full disk: a failed command leaves an older database's bytes as they were ==================


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs mounted inside ``tmp_path`` (root only), unmounted afterwards."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    try:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)],
                                 capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        mounted = False
    if not mounted:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True, timeout=30)


@pytest.mark.parametrize("free_kib", [0, 8, 16, 32, 48, 64, 96, 160, 400])
def test_a_command_failing_on_a_full_disk_leaves_a_rollback_journal_database_as_it_was(cm, small_disk, free_kib):
    """A database in the rollback-journal mode (an older chatemu's, or one a switch never
    reached) on a disk with only ``free_kib`` KiB left: ``chat new`` either works (and the file
    may have switched to WAL: then whole, with nothing half-done) or fails with exit 5, the file's
    bytes as they were and nothing beside it."""
    for _ in range(3):
        cm.ok("chat", "new")
    conn = sqlite3.connect(cm.db)
    assert conn.execute("PRAGMA journal_mode=DELETE").fetchone() == ("delete",)
    conn.close()
    db = small_disk / "old.db"
    db.write_bytes(cm.db.read_bytes())
    room = os.statvfs(small_disk)
    fill = room.f_bavail * room.f_frsize - free_kib * 1024
    if fill < 0:
        pytest.skip("the disk is smaller than this test expects")
    (small_disk / "fill").write_bytes(b"\0" * fill)
    before = db.read_bytes()
    done = Chatemu(db).run("chat", "new", "--json")
    assert sorted(p.name for p in small_disk.iterdir()) == ["fill", "old.db"]  # no -journal, -wal, -shm
    if done.code != 0:
        assert done.code == 5 and done.err.startswith("error: "), done
        assert db.read_bytes() == before
        return
    assert done.json["id"] == "C4"
    # The switch to WAL (header bytes 18 and 19: 1 rollback journal, 2 WAL) only with room for it.
    if free_kib <= 96 or free_kib >= 400:
        assert db.read_bytes()[18:20] == (b"\2\2" if free_kib >= 400 else b"\1\1")
    (small_disk / "fill").unlink()
    assert Chatemu(db).js("chat", "show", "C4")["id"] == "C4"
    check = sqlite3.connect(db)
    assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    check.close()
