"""Resource limits: every input and every evaluation is bounded, each limit by name.

One object, :data:`LIMITS`, holds them. A function that takes a limit also
accepts it as a keyword (``parse_exposition(..., max_line_length=10**8)``);
otherwise the value here applies. An input over a limit raises
:class:`~specanalysis.errors.LimitError` naming the limit and how to raise it.

=====================  ===============  ============================================
limit                  default          bounds
=====================  ===============  ============================================
max_file_bytes         2 GiB            a file read by a parser (exposition, Parquet)
max_config_bytes       1 MiB            a TOML configuration file
max_response_bytes     1 GiB            one HTTP answer from a Prometheus server
max_line_length        1 MiB            one line of exposition / OpenMetrics text
max_plan_points        10,000,000       steps of one range query (PrometheusSource)
max_eval_points        50,000,000       series x steps of one offline evaluation
=====================  ===============  ============================================

Special files (FIFOs, devices, directories, sockets) are never read: a FIFO
would block forever and ``/dev/zero`` never ends.

Examples
--------
>>> LIMITS.max_line_length
1048576
>>> check_limit("max_line_length", 2_000_000, "line 3 is 2,000,000 characters")
Traceback (most recent call last):
...
specanalysis.errors.LimitError: line 3 is 2,000,000 characters, over the limit max_line_length=1,048,576 (expected at most 1,048,576; raise it with specanalysis.limits.LIMITS.max_line_length = N or the max_line_length= argument)
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, fields
from os import PathLike

from specanalysis.errors import DataError, LimitError

__all__ = ["Limits", "LIMITS", "check_limit", "read_file"]


@dataclass
class Limits:
    """The package's resource limits (mutable: ``LIMITS.max_plan_points = 10**8``)."""

    max_file_bytes: int = 2 * 1024**3
    max_config_bytes: int = 1024**2
    max_response_bytes: int = 1024**3
    max_line_length: int = 1024**2
    max_plan_points: int = 10_000_000
    max_eval_points: int = 50_000_000

    def __setattr__(self, name: str, value: object) -> None:
        if name not in {f.name for f in fields(self)}:
            raise AttributeError(f"no limit named {name!r}")
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise LimitError(f"{value!r} is not a limit", field=name,
                             expected="a positive integer")
        object.__setattr__(self, name, value)


LIMITS = Limits()


def check_limit(name: str, actual: int, what: str, *, limit: int | None = None,
                source: str | None = None, line: int | None = None,
                field: str | None = None) -> None:
    """Raise :class:`LimitError` when ``actual`` exceeds the limit ``name``.

    ``limit`` overrides :data:`LIMITS` (a keyword argument the caller took).
    """
    value = getattr(LIMITS, name) if limit is None else limit
    if actual <= value:
        return
    raise LimitError(
        f"{what}, over the limit {name}={value:,}", source=source, line=line,
        field=field,
        expected=f"at most {value:,}; raise it with specanalysis.limits.LIMITS.{name} "
        f"= N or the {name}= argument",
    )


_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


def read_file(path: str | PathLike[str], *, what: str, limit: str = "max_file_bytes",
              max_bytes: int | None = None, field: str | None = None) -> bytes:
    """The bytes of a regular file, refusing special files and files over a limit.

    Raises
    ------
    DataError
        The file does not exist, cannot be read, or is not a regular file.
    LimitError
        The file is larger than ``max_bytes`` (default ``LIMITS.<limit>``).
    """
    cap = getattr(LIMITS, limit) if max_bytes is None else max_bytes
    shown = str(path)
    try:
        st = os.stat(path)
    except (OSError, ValueError) as exc:  # ValueError: embedded NUL byte
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise DataError(f"cannot read the file: {reason}", source=shown, field=field,
                        expected=what) from None
    for test, kind in _KINDS:
        if test(st.st_mode):
            raise DataError(f"not a file: it is {kind}", source=shown, field=field,
                            expected=what)
    check_limit(limit, st.st_size, f"the file has {st.st_size:,} bytes", limit=cap,
                source=shown, field=field)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped since the stat
                raise DataError("is not a regular file", source=shown, field=field,
                                expected=what)
            with os.fdopen(fd, "rb", closefd=False) as fh:
                data = fh.read(cap + 1)  # /proc files report size 0: read to the cap
        finally:
            os.close(fd)
    except OSError as exc:
        raise DataError(f"cannot read the file: {exc.strerror or exc}", source=shown,
                        field=field, expected=what) from None
    check_limit(limit, len(data), "the file has more bytes than its size said "
                f"(at least {len(data):,})", limit=cap, source=shown, field=field)
    return data

