"""Reading and writing the files users name (scenarios, bundles); ``-`` is stdin/stdout."""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from contextlib import contextmanager
from typing import Callable, Iterator

from chatemu.store.errors import UsageError


def read_file(path: str) -> tuple[str, str]:
    """The file's text and how to name it in messages."""
    if path == "-":
        try:
            return sys.stdin.read(), "<stdin>"
        except UnicodeDecodeError:
            raise UsageError("<stdin> is not UTF-8 text") from None
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read(), path
    except IsADirectoryError:
        raise UsageError(f"cannot read {path}: it is a folder") from None
    except UnicodeDecodeError:
        raise UsageError(f"cannot read {path}: not UTF-8 text") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None


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


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


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
    """A function that writes text to the file, a piece at a time, atomically: the file
    is whole once the block ends, or untouched if anything in it fails (``check_target``
    first).  An existing file (``force``) keeps its mode; a new one gets ``0666`` less
    the umask, as a shell's ``>`` gives."""
    check_target(path, force, protect)
    target = os.path.realpath(path) if os.path.islink(path) else path  # write through a symlink
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode) if os.path.exists(target) else 0o666 & ~_umask()
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    folder = os.path.dirname(os.path.abspath(target))
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".chatemu-", suffix=".tmp")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            def write(text: str) -> None:
                try:
                    handle.write(text)
                except OSError as exc:
                    raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None

            yield write
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException as exc:
        os.unlink(tmp)
        if isinstance(exc, OSError):
            raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise
