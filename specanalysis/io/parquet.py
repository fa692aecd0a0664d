"""Parquet round trip of the samples frame.

Parquet keeps every dtype of the samples frame (Datetime(ms, UTC), Float64
with NaN, nullable String labels), so a frame written with
:func:`write_samples` comes back equal from :func:`read_samples`, which
validates it on the way in.

Examples
--------
>>> import polars as pl, tempfile, pathlib
>>> from datetime import datetime, timezone
>>> df = pl.DataFrame({"timestamp": [datetime(2025, 1, 1, tzinfo=timezone.utc)],
...                    "metric": ["speculation_active_tasks"], "value": [3.0]})
>>> p = write_samples(df, pathlib.Path(tempfile.mkdtemp()) / "s.parquet")
>>> read_samples(p).equals(df)
True
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path

import polars as pl

from specanalysis.errors import DataError, ParseError
from specanalysis.frames import validate_samples

__all__ = ["write_samples", "read_samples"]


def write_samples(frame: pl.DataFrame, path: str | PathLike[str]) -> Path:
    """Validate a samples frame and write it to a Parquet file.

    Parameters
    ----------
    frame
        A samples frame (:func:`specanalysis.frames.validate_samples` is applied
        first, so compatible dtypes are cast and label columns sorted).
    path
        Destination file; its parent directory must exist.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    SchemaError
        When ``frame`` is not a samples frame.
    DataError
        When the file cannot be written.
    """
    path = Path(path)
    frame = validate_samples(frame, source=str(path))
    try:
        frame.write_parquet(path, compression="zstd", statistics=True)
    except OSError as exc:
        raise DataError(f"cannot write the file: {exc.strerror or exc}",
                        source=str(path), expected="a writable path") from None
    return path


def read_samples(path: str | PathLike[str]) -> pl.DataFrame:
    """Read a Parquet file written by :func:`write_samples`, validated.

    Raises
    ------
    DataError
        When the file does not exist or cannot be opened.
    ParseError
        When it is not a readable Parquet file.
    SchemaError
        When it holds something other than a samples frame (the message lists
        every missing or mistyped column and names the file).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("no such file" if not path.exists() else "not a file",
                        source=str(path), expected="a Parquet samples file")
    try:
        frame = pl.read_parquet(path)
    except OSError as exc:
        raise DataError(f"cannot read the file: {exc.strerror or exc}",
                        source=str(path), expected="a readable file") from None
    except Exception as exc:  # polars raises ComputeError etc. on corrupt input
        raise ParseError(f"not a readable Parquet file ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''})",
                         source=str(path),
                         expected="a Parquet file written by write_samples") from None
    return validate_samples(frame, source=str(path))
