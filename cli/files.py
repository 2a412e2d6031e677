"""Reading and writing the files users name (scenarios, bundles); ``-`` is stdin/stdout."""

from __future__ import annotations

import os
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


def write_file(path: str, text: str) -> None:
    """Write atomically: the file is whole or untouched."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".chatemu-", suffix=".tmp")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        os.unlink(tmp)
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


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
def writing(path: str) -> Iterator[Callable[[str], None]]:
    """A function that writes text to the file, a piece at a time, atomically: the file
    is whole once the block ends, or untouched if anything in it fails."""
    folder = os.path.dirname(os.path.abspath(path))
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
        os.replace(tmp, path)
    except OSError as exc:
        os.unlink(tmp)
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        os.unlink(tmp)
        raise
