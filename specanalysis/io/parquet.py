"""Parquet round trip of the samples frame.

Parquet keeps every dtype of the samples frame (Datetime(ms, UTC), Float64
with NaN, nullable String labels), so a frame written with
:func:`write_samples` comes back equal from :func:`read_samples`, which
validates it on the way in.

Integrity: :func:`write_samples` stores two SHA-256 checksums in the file's
key-value metadata: ``specanalysis.samples.sha256`` of the samples (column
names, dtypes, every value and null, in order), verified after decoding, and
``specanalysis.file.sha256`` of the file's own bytes (with the digest's 64
characters read as zeros), verified *before* the Parquet reader sees a byte --
a damaged page header can make the reader allocate exabytes and abort the
process, which no ``except`` can catch. Files written by other tools carry no
checksum and are read unverified; a panic of the Parquet reader on them
becomes a :class:`~specanalysis.errors.ParseError`.

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

import hashlib
import io
import re
from os import PathLike
from pathlib import Path

import polars as pl

from specanalysis.errors import DataError, ParseError, SpecAnalysisError
from specanalysis.frames import validate_samples
from specanalysis.limits import read_file

__all__ = ["write_samples", "read_samples", "samples_checksum", "CHECKSUM_KEY"]

#: Key of the samples checksum in the Parquet key-value metadata.
CHECKSUM_KEY = "specanalysis.samples.sha256"
#: Key of the whole-file checksum (its value counts as 64 zeros when hashing).
FILE_CHECKSUM_KEY = "specanalysis.file.sha256"
_PLACEHOLDER = "0" * 64
_FILE_DIGEST = re.compile(re.escape(FILE_CHECKSUM_KEY.encode()) + rb"[\x00-\xff]{1,6}?"
                          rb"([0-9a-f]{64})")
_TAIL = 1 << 16  # the footer (and so the key) lies in the last bytes


def _file_digest(data: bytes, start: int) -> str:
    h = hashlib.sha256()
    h.update(memoryview(data)[:start])
    h.update(_PLACEHOLDER.encode())
    h.update(memoryview(data)[start + 64:])
    return h.hexdigest()


def _verify_file(data: bytes, source: str) -> bool:
    """Check the whole-file digest; True when the file carries one and it matches."""
    offset = max(0, len(data) - _TAIL)
    tail = data[offset:]
    m = _FILE_DIGEST.search(tail)
    if m is None:
        if b"specanalysis." in tail:
            raise DataError("the checksum metadata is damaged", source=source,
                            field=FILE_CHECKSUM_KEY,
                            expected="the file as write_samples wrote it")
        return False
    start = offset + m.start(1)
    if _file_digest(data, start) != m.group(1).decode():
        raise DataError("the file does not match the checksum written into it (it "
                        "was changed or damaged)", source=source, field=FILE_CHECKSUM_KEY,
                        expected="the file as write_samples wrote it")
    return True


def samples_checksum(frame: pl.DataFrame) -> str:
    """SHA-256 (hex) of a frame's column names, dtypes, values and nulls, in order.

    Independent of Parquet's encoding and of polars' hashing, so a file
    rewritten by another polars version keeps the same checksum.

    Examples
    --------
    >>> a = pl.DataFrame({"x": [1.0, float("nan")], "s": ["a", None]})
    >>> samples_checksum(a) == samples_checksum(a.clone())
    True
    >>> samples_checksum(a) == samples_checksum(a.with_columns(pl.lit("b").alias("s")))
    False
    """
    h = hashlib.sha256()
    h.update(b"%d\n" % frame.height)
    for col in frame.get_columns():
        h.update(f"{col.name}\x00{col.dtype}\x00".encode())
        nulls = col.is_null()
        h.update(nulls.to_numpy().tobytes())
        if col.dtype == pl.String:
            filled = col.fill_null("")
            h.update(filled.str.len_bytes().cast(pl.UInt64).to_numpy().tobytes())
            h.update(filled.str.join("").item().encode("utf-8"))
        elif col.dtype.is_temporal():
            h.update(col.to_physical().fill_null(0).to_numpy().tobytes())
        else:
            h.update(col.cast(pl.Float64).fill_null(0.0).to_numpy().tobytes())
    return h.hexdigest()


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
    buf = io.BytesIO()
    frame.write_parquet(buf, compression="zstd", statistics=True,
                        metadata={CHECKSUM_KEY: samples_checksum(frame),
                                  FILE_CHECKSUM_KEY: _PLACEHOLDER})
    data = bytearray(buf.getvalue())
    key = FILE_CHECKSUM_KEY.encode()
    at = data.rfind(key)
    start = data.find(_PLACEHOLDER.encode(), at + len(key))
    data[start:start + 64] = _file_digest(bytes(data), start).encode()
    try:
        with open(path, "wb") as fh:
            fh.write(data)
    except OSError as exc:
        raise DataError(f"cannot write the file: {exc.strerror or exc}",
                        source=str(path), expected="a writable path") from None
    return path


def read_samples(path: str | PathLike[str]) -> pl.DataFrame:
    """Read a Parquet file written by :func:`write_samples`, validated.

    Raises
    ------
    DataError
        When the file does not exist, cannot be opened or is not a regular
        file; or when its samples do not match the checksum it carries.
    LimitError
        When the file is larger than ``LIMITS.max_file_bytes``.
    ParseError
        When it is not a readable Parquet file (including a reader panic).
    SchemaError
        When it holds something other than a samples frame (the message lists
        every missing or mistyped column and names the file).
    """
    path = Path(path)
    data = read_file(path, what="a Parquet samples file")
    _verify_file(data, str(path))
    failure: SpecAnalysisError | None = None
    try:
        meta = pl.read_parquet_metadata(io.BytesIO(data))
        frame = pl.read_parquet(io.BytesIO(data))
        expected = meta.get(CHECKSUM_KEY)
        if expected is not None and samples_checksum(frame) != expected:
            failure = DataError(
                "the samples do not match the checksum written with them (the file "
                "was changed or damaged)", source=str(path), field=CHECKSUM_KEY,
                expected="the file as write_samples wrote it")
    except (KeyboardInterrupt, SystemExit, GeneratorExit, MemoryError):
        raise
    except BaseException as exc:  # noqa: BLE001 - a Rust panic is a BaseException
        first = str(exc).splitlines()[0] if str(exc) else ""
        failure = ParseError(f"not a readable Parquet file ({type(exc).__name__}: "
                             f"{first[:200]})", source=str(path),
                             expected="a Parquet file written by write_samples")
    if failure is not None:
        raise failure
    return validate_samples(frame, source=str(path))
