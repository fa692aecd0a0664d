"""Output paths of the commands: checked before any work, never creating parents.

A command that writes asks here first, so a wrong ``--output`` fails in a
second with exit code 2 and a message naming the flag, not after a long run
with a traceback (or by creating ``/nonexistent/dir``).
"""

from __future__ import annotations

import os
from pathlib import Path

from specanalysis.errors import DataError

__all__ = ["output_file", "output_dir"]


def output_file(path: str | os.PathLike[str], flag: str) -> Path:
    """A file path to write: not a directory, in an existing, writable directory."""
    p = Path(path)
    if p.is_dir():
        raise DataError("is a directory", source=str(p), field=flag,
                        expected="a file path (e.g. DIR/report.md)")
    if p.exists() and not p.is_file():
        raise DataError("exists and is not a regular file", source=str(p), field=flag,
                        expected="a new or regular file")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise DataError(f"the directory {str(parent)!r} does not exist", source=str(p),
                        field=flag, expected="a path in an existing directory (it is "
                        "not created for you)")
    if not os.access(parent, os.W_OK | os.X_OK) or (p.exists()
                                                    and not os.access(p, os.W_OK)):
        raise DataError("cannot be written (permission denied)", source=str(p),
                        field=flag, expected="a writable path")
    return p


def output_dir(path: str | os.PathLike[str], flag: str) -> Path:
    """A directory to write into: existing, or new inside an existing directory."""
    p = Path(path)
    if p.exists():
        if not p.is_dir():
            raise DataError("exists and is not a directory", source=str(p), field=flag,
                            expected="a directory (or a new one to create)")
        if not os.access(p, os.W_OK | os.X_OK):
            raise DataError("cannot be written (permission denied)", source=str(p),
                            field=flag, expected="a writable directory")
        return p
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise DataError(f"the directory {str(parent)!r} does not exist", source=str(p),
                        field=flag, expected="a directory whose parent exists (only "
                        "the last level is created)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise DataError("cannot be created (permission denied)", source=str(p),
                        field=flag, expected="a writable location")
    return p
