"""Tests of specanalysis.io.parquet: exact round trip, validation on read, typed errors."""

from __future__ import annotations

import math
from datetime import datetime, timezone

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from specanalysis.errors import DataError, ParseError, SchemaError
from specanalysis.frames import validate_samples
from specanalysis.io import read_samples, write_samples

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)


def _frame() -> pl.DataFrame:
    return validate_samples(pl.DataFrame({
        "timestamp": [T0, T0, T0],
        "metric": ["speculation_active_tasks", "speculation_rollback_total",
                   "speculation_proof_generation_seconds_bucket"],
        "value": [float("nan"), math.inf, 3.0],
        "le": [None, None, "+Inf"],
        "reason": [None, 'a "b"\n\\c', None],
    }))


def test_round_trip_keeps_nan_nulls_and_dtypes(tmp_path):
    df = _frame()
    p = write_samples(df, tmp_path / "s.parquet")
    assert p == tmp_path / "s.parquet" and p.is_file()
    back = read_samples(p)
    assert_frame_equal(back, df)
    assert math.isnan(back["value"][0]) and back["le"][0] is None
    assert back.schema["timestamp"] == pl.Datetime("ms", "UTC")


def test_write_validates_and_canonicalises(tmp_path):
    # labels out of order, int values, microsecond timestamps: cast on write
    df = pl.DataFrame({
        "timestamp": [T0], "value": [2], "metric": ["m"], "z": ["1"], "a": ["2"],
    }).with_columns(pl.col("timestamp").dt.cast_time_unit("us"))
    back = read_samples(write_samples(df, tmp_path / "c.parquet"))
    assert back.columns == ["timestamp", "metric", "value", "a", "z"]
    assert back.schema["value"] == pl.Float64
    with pytest.raises(SchemaError, match="metric"):
        write_samples(pl.DataFrame({"timestamp": [T0], "value": [1.0]}),
                      tmp_path / "bad.parquet")


def test_read_rejects_missing_corrupt_and_foreign_files(tmp_path):
    with pytest.raises(DataError) as info:
        read_samples(tmp_path / "nope.parquet")
    assert info.value.source.endswith("nope.parquet")
    with pytest.raises(DataError, match="not a file"):
        read_samples(tmp_path)
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"this is not parquet at all")
    with pytest.raises(ParseError) as info:
        read_samples(junk)
    assert "junk.parquet" in str(info.value)
    other = tmp_path / "other.parquet"
    pl.DataFrame({"x": [1]}).write_parquet(other)
    with pytest.raises(SchemaError) as info:
        read_samples(other)
    assert "other.parquet" in str(info.value) and "timestamp" in str(info.value)


def test_write_to_missing_directory_is_a_typed_error(tmp_path):
    with pytest.raises(DataError):
        write_samples(_frame(), tmp_path / "no" / "such" / "dir.parquet")


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    values=st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=0,
                    max_size=20),
    label=st.one_of(st.none(), st.text(max_size=6)),
)
def test_property_round_trip_exact(values, label, tmp_path_factory):
    n = len(values)
    df = pl.DataFrame({
        "timestamp": pl.datetime_range(T0, T0.replace(hour=1), "1m", eager=True,
                                       time_unit="ms")[:n],
        "metric": pl.Series(["m"] * n, dtype=pl.String), "value": pl.Series(values, dtype=pl.Float64),
        "lab": pl.Series([label] * n, dtype=pl.String),
    })
    p = write_samples(df, tmp_path_factory.mktemp("pq") / "p.parquet")
    assert_frame_equal(read_samples(p), df)
