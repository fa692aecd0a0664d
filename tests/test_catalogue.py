"""The metric catalogue: every name the guide uses, aliases with unit conversion."""

from __future__ import annotations

import re
import warnings
from datetime import datetime, timezone
from pathlib import Path

import polars as pl
import pytest

from specanalysis import catalogue
from specanalysis.errors import DataError

GUIDE = Path(__file__).parent / "data" / "tuning-guide.md"  # verbatim copy
T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)


def frame(rows):
    return pl.DataFrame(
        rows, schema={"metric": pl.String, "value": pl.Float64, "le": pl.String},
        orient="row",
    ).with_columns(pl.lit(T0).dt.cast_time_unit("ms").alias("timestamp"))


def test_every_metric_the_guide_names_is_catalogued():
    text = GUIDE.read_text()
    names = set(re.findall(r"\b((?:speculation|solana)_[a-z0-9_]+)", text))
    unknown = sorted(n for n in names if catalogue.lookup(n) is None)
    assert unknown == []


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("speculation_rollbacks_total", "speculation_rollback_total"),
        ("speculation_memory_bytes", "speculation_memory_usage_bytes"),
        ("speculation_pending_proofs", "speculation_proof_queue_depth"),
        ("speculation_chain_depth_bucket", "speculation_depth_histogram_bucket"),
        ("speculation_tasks_in_flight", "speculation_active_tasks"),
    ],
)
def test_aliases_resolve(alias, canonical):
    assert catalogue.canonical_name(alias) == (canonical, 1.0)


def test_millisecond_histogram_is_converted_to_seconds():
    df = frame([
        ("speculation_proof_generation_duration_ms_bucket", 3.0, "250"),
        ("speculation_proof_generation_duration_ms_bucket", 5.0, "+Inf"),
        ("speculation_proof_generation_duration_ms_sum", 1500.0, None),
        ("speculation_proof_generation_duration_ms_count", 5.0, None),
    ])
    out = catalogue.normalize_samples(df)
    assert out["metric"].to_list() == [
        "speculation_proof_generation_seconds_bucket",
        "speculation_proof_generation_seconds_bucket",
        "speculation_proof_generation_seconds_sum",
        "speculation_proof_generation_seconds_count",
    ]
    # bucket counts and _count are counts: unchanged; _sum and le are converted
    assert out["value"].to_list() == [3.0, 5.0, 1.5, 5.0]
    assert out["le"].to_list() == ["0.25", "+Inf", None, None]


def test_megabyte_gauge_alias_is_converted_to_bytes():
    out = catalogue.normalize_samples(frame([("speculation_resources_memory_mb", 2.0, None)]))
    assert out.row(0, named=True)["value"] == 2 * 1024 * 1024


def test_unknown_metrics_are_kept_and_reported_on_request():
    df = frame([("node_load1", 0.5, None), ("speculation_tasks_total", 1.0, None)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kept = catalogue.normalize_samples(df)  # default: keep quietly
    assert kept.height == 2
    with pytest.warns(catalogue.UnknownMetricsWarning, match="node_load1"):
        warned = catalogue.normalize_samples(df, on_unknown="warn")
    assert warned["metric"].to_list() == ["node_load1", "speculation_tasks_total"]
    with pytest.raises(DataError, match="node_load1"):
        catalogue.normalize_samples(df, on_unknown="raise")


def test_describe_metrics_marks_unknown():
    df = frame([("node_load1", 0.5, None), ("speculation_rollbacks_total", 1.0, None)])
    desc = catalogue.describe_metrics(df)
    known = dict(zip(desc["metric"], desc["known"], strict=True))
    assert known == {"node_load1": False, "speculation_rollbacks_total": True}


def test_histogram_and_counter_families():
    m = catalogue.CATALOGUE["speculation_tasks_total"]
    assert (m.type, m.family) == ("counter", "speculation_tasks")
    h = catalogue.CATALOGUE["speculation_proof_generation_seconds"]
    assert h.sample_names[0] == "speculation_proof_generation_seconds_bucket"


def test_targets_follow_the_guide():
    t = catalogue.TARGETS
    assert (t["latency_p99_s"].op, t["latency_p99_s"].value) == ("<", 5.0)
    assert t["rollback_rate_pct"].met(4.9) is True
    assert t["rollback_rate_pct"].met(5.0) is False
    assert t["proof_p99_s"].met(float("nan")) is None
