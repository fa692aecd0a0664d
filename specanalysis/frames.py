"""Documented frame schemas and their validation.

The **samples frame** is the one shape every loader returns (DESIGN.md):
long format, one row per sample.

============  ========================  ===========================================
column        dtype                     meaning
============  ========================  ===========================================
timestamp     Datetime("ms", "UTC")     sample time, millisecond precision, UTC
metric        String                    sample name (``speculation_tasks_total``,
                                        ``..._bucket``), canonical where known
value         Float64                   NaN stays NaN; a missing sample is absent
<label>...    String                    one column per label (``le``, ``reason``,
                                        ...), null where a series lacks it
============  ========================  ===========================================

The label columns follow the three core columns, sorted by name. ``le`` holds
the bucket bound as Prometheus prints it in canonical float form (``"0.5"``,
``"1.0"``, ``"+Inf"``).

Examples
--------
>>> import polars as pl
>>> from datetime import datetime, timezone
>>> from specanalysis.frames import validate_samples, label_columns
>>> df = pl.DataFrame({
...     "timestamp": [datetime(2025, 1, 1, tzinfo=timezone.utc)],
...     "metric": ["speculation_tasks_total"],
...     "value": [42.0],
...     "reason": [None],
... })
>>> validate_samples(df).schema["timestamp"]
Datetime(time_unit='ms', time_zone='UTC')
>>> label_columns(df)
['reason']
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from specanalysis.errors import SchemaError

__all__ = [
    "SAMPLES_CORE",
    "TIMESTAMP",
    "validate_samples",
    "empty_samples",
    "label_columns",
    "series_key",
    "canonical_samples",
]

TIMESTAMP = pl.Datetime("ms", "UTC")

#: The three columns every samples frame starts with, with their dtypes.
SAMPLES_CORE: dict[str, pl.DataType] = {
    "timestamp": TIMESTAMP,
    "metric": pl.String(),
    "value": pl.Float64(),
}


def empty_samples(labels: Iterable[str] = ()) -> pl.DataFrame:
    """An empty samples frame with the given label columns.

    Examples
    --------
    >>> empty_samples(["le"]).columns
    ['timestamp', 'metric', 'value', 'le']
    """
    schema = dict(SAMPLES_CORE)
    for name in sorted(set(labels)):
        schema[name] = pl.String()
    return pl.DataFrame(schema=schema)


def label_columns(frame: pl.DataFrame | pl.LazyFrame) -> list[str]:
    """Names of the label columns of a samples frame (everything after the core three)."""
    names = (
        frame.collect_schema().names()
        if isinstance(frame, pl.LazyFrame)
        else frame.columns
    )
    return [c for c in names if c not in SAMPLES_CORE]


def series_key(frame: pl.DataFrame) -> list[str]:
    """Columns that identify a series: ``metric`` plus every label column."""
    return ["metric", *label_columns(frame)]


def validate_samples(
    frame: pl.DataFrame, *, source: str | None = None, cast: bool = True
) -> pl.DataFrame:
    """Check that ``frame`` is a samples frame and return it in canonical form.

    Parameters
    ----------
    frame
        The frame to check.
    source
        Where it came from (a path), for the error message.
    cast
        Cast compatible dtypes (integer values to Float64, other datetime units
        or zones to ms/UTC, Categorical labels to String). With ``cast=False``
        any dtype difference is an error.

    Returns
    -------
    polars.DataFrame
        The core columns first, then the label columns sorted by name.

    Raises
    ------
    SchemaError
        Listing every missing or mistyped column.
    """
    if not isinstance(frame, pl.DataFrame):
        raise SchemaError(
            f"got {type(frame).__name__}",
            source=source,
            expected="a polars.DataFrame in the samples-frame shape",
        )
    problems: list[str] = []
    exprs: list[pl.Expr] = []
    schema = frame.schema
    for name, dtype in SAMPLES_CORE.items():
        if name not in schema:
            problems.append(f"missing column {name!r} ({dtype})")
            continue
        have = schema[name]
        if have == dtype:
            exprs.append(pl.col(name))
        elif not cast:
            problems.append(f"column {name!r} is {have}, expected {dtype}")
        elif name == "timestamp" and isinstance(have, pl.Datetime):
            col = pl.col(name)
            if have.time_zone is None:
                problems.append(
                    "column 'timestamp' is a naive Datetime; "
                    "samples frames hold UTC (use .dt.replace_time_zone('UTC'))"
                )
                continue
            exprs.append(col.dt.convert_time_zone("UTC").dt.cast_time_unit("ms"))
        elif name == "value" and have.is_numeric():
            exprs.append(pl.col(name).cast(pl.Float64))
        elif name == "metric" and isinstance(have, pl.Categorical | pl.Enum):
            exprs.append(pl.col(name).cast(pl.String))
        else:
            problems.append(f"column {name!r} is {have}, expected {dtype}")
    labels = sorted(c for c in frame.columns if c not in SAMPLES_CORE)
    for name in labels:
        have = schema[name]
        if have == pl.String:
            exprs.append(pl.col(name))
        elif have == pl.Null or (cast and isinstance(have, pl.Categorical | pl.Enum)):
            exprs.append(pl.col(name).cast(pl.String))
        else:
            problems.append(f"label column {name!r} is {have}, expected String")
    if problems:
        raise SchemaError(
            "not a samples frame: " + "; ".join(problems),
            source=source,
            expected="timestamp Datetime(ms, UTC), metric String, value Float64, "
            "labels String",
        )
    return frame.select(exprs)


def canonical_samples(
    frame: pl.DataFrame, *, extra_labels: Iterable[str] = ()
) -> pl.DataFrame:
    """Validate, sort by series then time, and add any missing label columns as null.

    Useful before comparing two samples frames or writing one to disk.
    """
    frame = validate_samples(frame)
    missing = [c for c in extra_labels if c not in frame.columns]
    if missing:
        frame = frame.with_columns(pl.lit(None, pl.String).alias(c) for c in missing)
        frame = validate_samples(frame)
    return frame.sort([*series_key(frame), "timestamp"], nulls_last=False)

