"""Reading and writing the files users name (scenarios, bundles); ``-`` is stdin/stdout."""

from __future__ import annotations

import os
import stat
import sys
from contextlib import contextmanager
from typing import Callable, Iterator

from chatemu.store import staging
from chatemu.store.errors import UsageError


#: The most text a scenario or drill file may hold (characters): more is refused having read only
#: that much, so an endless input (``yes | chatemu run -``, ``/dev/zero``) costs bounded memory.
MAX_TEXT = 64 * 1024 * 1024


def read_file(path: str) -> tuple[str, str]:
    """The file's text and how to name it in messages."""
    name = "<stdin>" if path == "-" else path
    try:
        if path == "-":
            text = sys.stdin.read(MAX_TEXT + 1)
        else:
            with open(path, encoding="utf-8") as handle:
                text = handle.read(MAX_TEXT + 1)
    except IsADirectoryError:
        raise UsageError(f"cannot read {path}: it is a folder") from None
    except UnicodeDecodeError:
        raise UsageError(f"<stdin> is not UTF-8 text" if path == "-" else f"cannot read {path}: not UTF-8 text") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(text) > MAX_TEXT:
        raise UsageError(f"cannot read {name}: longer than {MAX_TEXT:,} characters, the most a "
                         "scenario or drill file may hold")
    return text, name


def check_target(path: str, force: bool = False, protect: str | None = None) -> None:
    """Refuse (``UsageError``) to write ``path``: a folder; an existing file
    without ``force``; ``protect`` (a database file) whatever the spelling (a
    symlink, a hard link, ``..``), or its ``-wal``, ``-shm`` or ``-journal``."""
    if protect is not None and _is_database_file(path, protect):
        raise UsageError(f"cannot write {path}: it is the database {protect} (or one of its files)")
    if os.path.isdir(path):
        raise UsageError(f"cannot write {path}: it is a folder")
    if os.path.lexists(path) and not force:
        raise UsageError(f"cannot write {path}: it exists (use --force to overwrite it)")


def write_file(path: str, text: str, force: bool = False, protect: str | None = None) -> None:
    """Write atomically: the file is whole or untouched (``check_target`` first)."""
    with writing(path, force, protect) as write:
        write(text)


def _is_database_file(path: str, db: str) -> bool:
    """Is ``path`` the database ``db`` or one of its side files, however spelled?"""
    target = os.path.realpath(path)
    names = set()
    for base in {os.path.abspath(db), os.path.realpath(db)}:
        names |= {base, base + "-wal", base + "-shm", base + "-journal"}
    if target in {os.path.realpath(name) for name in names}:
        return True
    for name in names:  # a hard link is the same file under another name
        try:
            if os.path.samefile(name, target):
                return True
        except OSError:  # one of them does not exist
            pass
    return False


class _Text:
    """A text stream whose ``read(n)`` turns undecodable bytes and read errors into usage errors."""

    def __init__(self, handle, path: str, where: str):
        self.handle, self.path, self.where = handle, path, where

    def read(self, size: int = -1) -> str:
        try:
            return self.handle.read(size)
        except UnicodeDecodeError:
            if self.path == "-":
                raise UsageError("<stdin> is not UTF-8 text") from None
            raise UsageError(f"cannot read {self.path}: not UTF-8 text") from None
        except OSError as exc:
            raise UsageError(f"cannot read {self.where}: {exc.strerror or exc}") from None


@contextmanager
def reading(path: str) -> Iterator[tuple[_Text, str]]:
    """The file as a text stream, to be read a piece at a time, and how to name it in messages."""
    if path == "-":
        yield _Text(sys.stdin, path, "<stdin>"), "<stdin>"
        return
    try:
        handle = open(path, encoding="utf-8")
    except IsADirectoryError:
        raise UsageError(f"cannot read {path}: it is a folder") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    with handle:
        yield _Text(handle, path, path), path


@contextmanager
def writing(path: str, force: bool = False, protect: str | None = None) -> Iterator[Callable[[str], None]]:
    """A function that writes text to the file, a piece at a time (``check_target`` first).

    A regular file (or a new one) is written atomically: whole once the block ends, or
    untouched if anything in it fails.  The text goes to a temporary file beside it,
    renamed over it at the end: an unnamed one where the system has them (``O_TMPFILE``),
    so a killed process leaves nothing; otherwise ``.chatemu-*.tmp``, locked while
    written, which a later write into the same folder removes once its writer is gone.
    An existing file (``force``) keeps its mode; a new one gets ``0666`` less the umask,
    as a shell's ``>`` gives.  Anything else (a FIFO, a device, a socket, ``/dev/stdout``
    or ``/dev/fd/N``) is written into as a shell's ``>`` does, never replaced."""
    check_target(path, force, protect)
    fd = _stream(path)
    if fd is not None:
        out = _Writer(fd, path)
        try:
            yield out.write
            out.flush()
        finally:
            out.close()
        return
    target = os.path.realpath(path) if os.path.islink(path) else path  # write through a symlink
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode) if os.path.exists(target) else 0o666 & ~staging.umask()
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    folder = os.path.dirname(os.path.abspath(target))
    staging.sweep(folder)
    tmp = None
    try:
        fd, tmp = _temporary(folder)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    out = _Writer(fd, path)
    try:
        yield out.write
        out.flush()
        os.fchmod(fd, mode)
        if tmp is None:  # unnamed until now: named (still locked), then renamed
            tmp = _link(fd, folder)
        os.replace(tmp, target)
        tmp = None
    except BaseException as exc:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        if isinstance(exc, OSError):
            raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise
    finally:
        out.close()


class _Writer:
    """Text written onto the descriptor ``fd``, which it closes; errors as usage errors."""

    def __init__(self, fd: int, path: str):
        try:
            self.handle = os.fdopen(fd, "w", encoding="utf-8")
        except BaseException:
            os.close(fd)
            raise
        self.path = path

    def write(self, text: str) -> None:
        try:
            self.handle.write(text)
        except OSError as exc:
            raise UsageError(f"cannot write {self.path}: {exc.strerror or exc}") from None

    def flush(self) -> None:
        try:
            self.handle.flush()
        except OSError as exc:
            raise UsageError(f"cannot write {self.path}: {exc.strerror or exc}") from None

    def close(self) -> None:
        try:
            self.handle.close()
        except OSError:
            pass  # what failed was said by ``flush``, or the block failed before


def _stream(path: str) -> int | None:
    """A descriptor to write ``path`` into as a shell's ``>`` does, when it is not a regular
    file to replace: one of this process's descriptors (``/dev/stdout``, ``/dev/fd/N``:
    the stream itself, wherever it leads), or an existing FIFO, device or socket, opened
    (a FIFO waits for its reader).  None: a regular file, or nothing there yet."""
    number = _own_descriptor(path)
    try:
        if number is not None:
            return os.dup(number)
        try:
            if stat.S_ISREG(os.stat(path).st_mode):
                return None
        except FileNotFoundError:
            return None
        return os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_NOCTTY)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def _own_descriptor(path: str) -> int | None:
    """The number N when ``path`` leads, through symlinks, to ``/proc/<this process>/fd/N``
    (``/dev/stdout``, ``/dev/fd/1``, ``/proc/self/fd/1``), whatever N is open on."""
    import re

    own = re.compile(rf"/proc/{os.getpid()}(/task/[0-9]+)?/fd")
    name = os.path.abspath(path)
    for _ in range(40):  # as many symlinks as the system follows
        folder, base = os.path.split(name)
        if base.isdigit() and base.isascii() and own.fullmatch(os.path.realpath(folder)):
            return int(base)
        try:
            name = os.path.normpath(os.path.join(folder, os.readlink(name)))
        except OSError:  # not a symlink (or not there)
            return None
    return None


def _temporary(folder: str) -> tuple[int, str | None]:
    """A new file in ``folder`` to write, locked: unnamed (``O_TMPFILE``) where the system has
    it, then (its name None) or else a named ``.chatemu-*.tmp``."""
    if hasattr(os, "O_TMPFILE") and os.path.isdir("/proc/self/fd"):
        try:
            fd = os.open(folder, os.O_TMPFILE | os.O_WRONLY, 0o600)
        except OSError as exc:
            import errno

            if exc.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT):
                raise
        else:
            staging.lock(fd)
            return fd, None
    return staging.create(folder, staging.TEMP_PREFIX, staging.TEMP_SUFFIX)


def _link(fd: int, folder: str) -> str:
    """Give the unnamed file ``fd`` a new ``.chatemu-*.tmp`` name in ``folder`` (``linkat``
    following ``/proc/self/fd/N``: a folder's descriptor makes ``os.link`` call it)."""
    where = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        while True:
            name = f"{staging.TEMP_PREFIX}{os.urandom(6).hex()}{staging.TEMP_SUFFIX}"
            try:
                os.link(f"/proc/self/fd/{fd}", name, dst_dir_fd=where, follow_symlinks=True)
                return os.path.join(folder, name)
            except FileExistsError:
                continue
    finally:
        os.close(where)
