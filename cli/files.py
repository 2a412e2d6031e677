"""Reading and writing the files users name (scenarios, bundles); ``-`` is stdin/stdout."""

from __future__ import annotations

import os
import sys
import tempfile

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
