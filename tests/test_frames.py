from __future__ import annotations

from datetime import datetime, timezone

import polars as pl
import pytest

from specanalysis.errors import SchemaError
from specanalysis.frames import canonical_samples, label_columns, validate_samples

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)


def test_casts_compatible_types_and_orders_columns():
    df = pl.DataFrame({
        "value": [1, 2],
        "zone": ["a", None],
        "metric": ["m", "m"],
        "timestamp": pl.Series([T0, T0]).dt.cast_time_unit("us"),
        "le": pl.Series(["1.0", "+Inf"], dtype=pl.Categorical),
    })
    out = validate_samples(df)
    assert out.columns == ["timestamp", "metric", "value", "le", "zone"]
    assert out.schema["value"] == pl.Float64
    assert out.schema["timestamp"] == pl.Datetime("ms", "UTC")
    assert out.schema["le"] == pl.String


def test_reports_every_problem_at_once():
    df = pl.DataFrame({"value": ["x"], "lbl": [1]})
    with pytest.raises(SchemaError) as info:
        validate_samples(df, source="f.parquet")
    msg = str(info.value)
    assert "f.parquet" in msg
    for part in ("'timestamp'", "'metric'", "'value'", "'lbl'"):
        assert part in msg


def test_naive_timestamps_are_refused():
    df = pl.DataFrame({"timestamp": [datetime(2025, 1, 1)], "metric": ["m"],
                       "value": [1.0]})
    with pytest.raises(SchemaError, match="naive"):
        validate_samples(df)


def test_strict_mode_refuses_casts():
    df = pl.DataFrame({"timestamp": [T0], "metric": ["m"], "value": [1]})
    with pytest.raises(SchemaError, match="Int64"):
        validate_samples(df, cast=False)


def test_not_a_frame():
    with pytest.raises(SchemaError, match="dict"):
        validate_samples({"timestamp": []})


def test_canonical_sorts_and_adds_labels():
    df = pl.DataFrame({"timestamp": [T0, T0], "metric": ["b", "a"], "value": [1.0, 2.0]})
    out = canonical_samples(df, extra_labels=["reason"])
    assert out["metric"].to_list() == ["a", "b"]
    assert label_columns(out) == ["reason"]
