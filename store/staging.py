"""Files chatemu writes under a temporary name beside their target, then renames (``export``,
``timeline -o``: ``.chatemu-*.tmp``) or links (``import`` into a new database:
``.chatemu-import-*.db`` with SQLite's ``-wal``, ``-shm`` and ``-journal`` beside it).

Each is locked (``flock``) by its writer from the moment it is made until it is gone, so a
killed writer's file is one whose lock is free.  ``sweep`` removes those: this user's, locked by
no process, and not written for ``STALE_S`` seconds (a file just made is not locked yet).
"""

from __future__ import annotations

import os
import stat

#: The names of the files: prefix and suffix (``export``'s, then ``import``'s).
TEMP_PREFIX, TEMP_SUFFIX = ".chatemu-", ".tmp"
IMPORT_PREFIX, IMPORT_SUFFIX = ".chatemu-import-", ".db"
KINDS = ((TEMP_PREFIX, TEMP_SUFFIX), (IMPORT_PREFIX, IMPORT_SUFFIX))
#: The files SQLite keeps beside a database: made after it, removed before it.
SIDES = ("-wal", "-shm", "-journal")
#: How long a file may go unwritten before ``sweep`` may remove it (if no process holds its lock).
STALE_S = 30.0


def lock(fd: int) -> None:
    """Hold the lock that tells ``sweep`` the file's writer is alive (until ``fd`` is closed)."""
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_EX)


def umask() -> int:
    """This process's umask."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def create(folder: str, prefix: str, suffix: str, mode: int = 0o600) -> tuple[int, str]:
    """A new, empty file ``folder/prefix*suffix`` with the permissions ``mode``, locked: its
    descriptor (to close once the file is gone) and its path.  ``OSError`` if it cannot be made."""
    import tempfile

    fd, path = tempfile.mkstemp(dir=folder, prefix=prefix, suffix=suffix)
    try:
        os.fchmod(fd, mode)
        lock(fd)
    except BaseException:
        os.close(fd)
        os.unlink(path)
        raise
    return fd, path


def remove(path: str) -> None:
    """Remove the file ``path`` and the SQLite files beside it (those first), where they exist."""
    for name in [path + side for side in SIDES] + [path]:
        try:
            os.unlink(name)
        except FileNotFoundError:
            pass


def sweep(folder: str) -> None:
    """Remove the files killed writers left in ``folder`` (and their SQLite files): this user's,
    unwritten for ``STALE_S`` seconds, and locked by no process.  Best effort: never raises."""
    import fcntl
    import time

    try:
        names = [name for name in os.listdir(folder)
                 if any(name.startswith(prefix) and name.endswith(suffix) for prefix, suffix in KINDS)]
    except OSError:
        return
    for name in names:
        path = os.path.join(folder, name)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY)
        except OSError:
            continue
        try:
            found = os.fstat(fd)
            if not stat.S_ISREG(found.st_mode) or found.st_uid != os.geteuid():
                continue
            if _last_written(path, found) > time.time() - STALE_S:
                continue
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # OSError: its writer still runs
            now = os.lstat(path)
            if (now.st_dev, now.st_ino) == (found.st_dev, found.st_ino):
                for side in SIDES:
                    _unlink_own(path + side)
                os.unlink(path)
        except OSError:
            pass
        finally:
            os.close(fd)


def _last_written(path: str, found: os.stat_result) -> float:
    """When the file (``found``) or one of the SQLite files beside it was last written."""
    last = found.st_mtime
    for side in SIDES:
        try:
            last = max(last, os.lstat(path + side).st_mtime)
        except OSError:
            pass
    return last


def _unlink_own(path: str) -> None:
    """Remove ``path`` if it is this user's (a symlink itself, never what it names)."""
    try:
        if os.lstat(path).st_uid == os.geteuid():
            os.unlink(path)
    except OSError:
        pass
