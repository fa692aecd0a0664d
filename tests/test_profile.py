"""Workload profile, characterisation and classification matrix.

Truth comes from hand-built sample frames with known rates and bucket counts
(every expected value below is computed by hand in the comments), and from the
simulator for the time patterns.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone

import numpy as np
import polars as pl
import pytest

from specanalysis.errors import DataError
from specanalysis.profile import (
    Thresholds,
    characterize,
    classify_quadrant,
    depth_table,
    profile_workload,
    rate_features,
)

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
STEP = 15  # seconds between scrapes
MiB = 1024.0 * 1024.0


def _series(metric: str, values, labels: dict | None = None, step: int = STEP,
            t0: datetime = T0) -> pl.DataFrame:
    labels = labels or {}
    n = len(values)
    data = {
        "timestamp": [t0 + timedelta(seconds=step * i) for i in range(n)],
        "metric": [metric] * n,
        "value": [float(v) for v in values],
    }
    for k, v in labels.items():
        data[k] = [v] * n
    return pl.DataFrame(data)


def _frame(*parts: pl.DataFrame) -> pl.DataFrame:
    out = pl.concat(parts, how="diagonal_relaxed")
    labels = sorted(c for c in out.columns if c not in ("timestamp", "metric", "value"))
    return out.select("timestamp", "metric", "value", *labels).with_columns(
        pl.col("timestamp").dt.cast_time_unit("ms").dt.convert_time_zone("UTC"))


def _counter(metric, per_scrape, n, labels=None, **kw):
    return _series(metric, [per_scrape * i for i in range(n)], labels, **kw)


def _histogram(family: str, increments: dict[str, float], n: int, sum_per_scrape=None):
    """Cumulative buckets growing by ``increments[le]`` every scrape."""
    parts = [_counter(family + "_bucket", inc, n, {"le": le})
             for le, inc in increments.items()]
    total = max(increments.values())
    parts.append(_counter(family + "_count", total, n))
    if sum_per_scrape is not None:
        parts.append(_counter(family + "_sum", sum_per_scrape, n))
    return parts


N = 2 * 240 + 1  # two hours of 15 s scrapes

# depth: per scrape 10 tasks at depth 1, 10 at 2, 5 at 3, 3 at 4, 2 at 5 (30 tasks)
DEPTH_INC = {"1": 10, "2": 20, "3": 25, "4": 28, "5": 30, "+Inf": 30}
DEPTH_SUM = 10 * 1 + 10 * 2 + 5 * 3 + 3 * 4 + 2 * 5  # 67 -> mean 67/30
# proof: 0 obs <= 1 s, 4 in (1,2], 4 in (2,5], 2 in (5,10]
PROOF_INC = {"1": 0, "2": 4, "5": 8, "10": 10, "+Inf": 10}


@pytest.fixture(scope="module")
def full_samples() -> pl.DataFrame:
    active = [40 + 2 * math.sin(i / 7) for i in range(N)]
    active[300] = 42.0 + 5  # one spike: peak 47
    return _frame(
        _counter("speculation_tasks_total", 30, N),  # 30 per 15 s = 120/min
        _counter("speculation_rollback_total", 3, N, {"reason": "timeout"}),
        _counter("speculation_rollback_total", 3, N, {"reason": "proof_invalid"}),
        _counter("speculation_tasks_rolled_back_total", 15, N, {"reason": "timeout"}),
        *_histogram("speculation_depth_histogram", DEPTH_INC, N, DEPTH_SUM),
        *_histogram("speculation_proof_generation_seconds", PROOF_INC, N),
        _series("speculation_memory_usage_bytes", [100 * MiB] * N,
                {"component": "state_snapshots"}),
        _series("speculation_memory_usage_bytes", [50 * MiB] * N,
                {"component": "proof_cache"}),
        _series("speculation_active_tasks", active),
        _series("speculation_active_branches", [3.0] * N),
        _series("speculation_proof_queue_depth", [25.0, 75.0] * (N // 2) + [50.0]),
        _series("speculation_proof_queue_capacity", [100.0] * N),
        _series("speculation_proof_batch_size", [8.0] * N),
        _series("speculation_max_depth", [5.0] * N),
    )


@pytest.fixture(scope="module")
def profile(full_samples):
    return profile_workload(full_samples, window="1h")


def test_task_rate_is_exactly_the_counter_slope(profile):
    f = profile["task_rate"]
    assert f.value == pytest.approx(120.0)
    assert f.unit == "tasks/min"
    assert f.promql == "sum(rate(speculation_tasks_total[1h])) * 60"


def test_rollback_rate_and_size(profile):
    # 6 rollback events per 30 tasks = 20 %; 24 rollbacks/min; 15 tasks / 6 events
    assert profile.value("rollback_rate") == pytest.approx(20.0)
    assert profile.value("rollbacks_per_min") == pytest.approx(24.0)
    assert profile.value("avg_rollback_size") == pytest.approx(2.5)
    assert "sum(rate(speculation_rollback_total[1h]))" in profile["rollback_rate"].promql


def test_depth_distribution_from_increase_not_raw_counters(profile):
    d = profile.depth_distribution
    assert d["le"].to_list() == ["1", "2", "3", "4", "5", "+Inf"]
    # 240 scrape intervals in the hour: 2400 tasks at depth 1, 2400 at 2, ...
    assert d["count"].to_list() == pytest.approx([2400, 2400, 1200, 720, 480, 0])
    assert d["share"].to_list() == pytest.approx([1 / 3, 1 / 3, 1 / 6, 0.1, 1 / 15, 0])
    assert profile.value("depth_p50") == 2.0  # cumulative share 1/3 -> 2/3
    assert profile.value("depth_p90") == 4.0  # 0.833 at 3, 0.933 at 4
    assert profile.value("depth_max") == 5.0
    assert profile.value("depth_mean") == pytest.approx(67 / 30)
    assert "increase(speculation_depth_histogram_bucket[1h])" in profile[
        "depth_p90"].promql


def test_histogram_quantiles_interpolate_like_prometheus(profile):
    # p50: rank 5 of 10 falls in (2, 5] holding ranks 4..8 -> 2 + 3 * 1/4 = 2.75
    assert profile.value("proof_p50") == pytest.approx(2.75)
    # p99: rank 9.9 in (5, 10] holding 8..10 -> 5 + 5 * 1.9/2 = 9.75
    assert profile.value("proof_p99") == pytest.approx(9.75)


def test_memory_gauges_sum_components_and_derived_ratios(profile):
    assert profile.value("memory_avg") == pytest.approx(150.0)
    assert profile.value("memory_per_branch") == pytest.approx(50.0)
    assert profile.value("active_branches_avg") == pytest.approx(3.0)
    assert profile.value("peak_active_tasks") == pytest.approx(47.0)
    assert profile.value("memory_per_active_task") == pytest.approx(
        150.0 / profile.value("active_tasks_avg"))
    assert profile.value("queue_utilization") == pytest.approx(50.0, abs=0.5)
    assert profile.value("queue_utilization_peak") == pytest.approx(75.0)
    assert profile.value("batch_size_avg") == pytest.approx(8.0)
    assert profile.value("max_depth_configured") == 5.0


def test_missing_metric_is_nan_with_a_note_never_zero(profile):
    for name, metric in (("confirmation_p99", "solana_confirmation_seconds_bucket"),
                         ("latency_p99", "speculation_e2e_latency_seconds_bucket"),
                         ("blast_radius_p99",
                          "speculation_rollback_cascade_size_bucket")):
        f = profile[name]
        assert math.isnan(f.value)
        assert f"metric {metric} absent from source" in f.note
    # the fixture predates the offered-load and pipeline-timing metrics: they are
    # named missing too, and nothing the fixture has is
    assert set(profile.missing) == {
        "solana_confirmation_seconds", "speculation_e2e_latency_seconds",
        "speculation_rollback_cascade_size", "speculation_tasks_scheduled_total",
        "speculation_tasks_rejected_total", "speculation_execution_seconds",
        "speculation_proof_batch_duration_seconds", "speculation_deferral_wait_seconds",
        "speculation_proof_workers_busy", "speculation_proof_workers",
        "speculation_memory_limit_bytes", "speculation_active_tasks_by_depth",
        "speculation_auto_disabled"}
    assert "confirmation_p99" in profile.unavailable


def test_rollback_rate_without_rollback_counter_is_nan_not_zero(full_samples):
    s = full_samples.filter(pl.col("metric") != "speculation_rollback_total")
    p = profile_workload(s, window="1h")
    assert math.isnan(p.value("rollback_rate"))
    assert "speculation_rollback_total absent" in p["rollback_rate"].note
    assert math.isnan(p.value("avg_rollback_size"))
    assert p.value("task_rate") == pytest.approx(120.0)


def test_source_without_any_profile_metric_is_a_data_error():
    s = _frame(_counter("node_cpu_seconds_total", 1, 100))
    with pytest.raises(DataError, match="none of the metrics"):
        profile_workload(s, window="10m")


def test_window_outside_the_data_is_a_data_error(full_samples):
    with pytest.raises(DataError, match="holds no data"):
        profile_workload(full_samples, window="1h", at=T0 + timedelta(days=1))


def test_window_longer_than_the_data_is_marked(full_samples):
    short = full_samples.filter(pl.col("timestamp") <= T0 + timedelta(minutes=30))
    p = profile_workload(short, window="1h")
    assert p.coverage == pytest.approx(0.5)
    assert any("longer than the data" in n for n in p.notes)
    # the guide's rate() divides by the full window: half the data, half the rate
    assert p.value("task_rate") < 120.0


def test_at_defaults_to_end_of_data_and_can_be_given(full_samples):
    p = profile_workload(full_samples, window="30m", at="2025-01-01T01:00:00Z")
    assert p.at == T0 + timedelta(hours=1)
    assert p.start == T0 + timedelta(minutes=30)
    assert p.value("task_rate") == pytest.approx(120.0)
    assert profile_workload(full_samples, window="1h").at == T0 + timedelta(hours=2)


def test_prom3_semantics_gives_the_same_profile(full_samples):
    from specanalysis.sources.offline import OfflineSource

    p2 = profile_workload(OfflineSource(full_samples, semantics="prom2"), window="1h")
    p3 = profile_workload(OfflineSource(full_samples, semantics="prom3"), window="1h")
    for name in ("task_rate", "rollback_rate", "proof_p99", "memory_avg",
                 "depth_p90"):
        assert p3.value(name) == pytest.approx(p2.value(name), rel=1e-9)


def test_outputs_frame_json_summary_and_reprs(profile):
    f = profile.to_frame()
    assert f.columns == ["name", "value", "unit", "promql", "note", "low", "high",
                         "flags"]
    assert f.height == len(profile.figures)
    row = f.filter(pl.col("name") == "task_rate").row(0, named=True)
    assert row["value"] == pytest.approx(120.0) and row["unit"] == "tasks/min"
    d = json.loads(profile.to_json())
    assert d["figures"]["confirmation_p99"]["value"] is None  # NaN -> null
    assert d["figures"]["task_rate"]["promql"].startswith("sum(rate(")
    assert len(d["depth_distribution"]) == 6
    text = profile.summary()
    assert "Task Rate: 120 tasks/min" in text
    assert "Depth ≤2: 4800 (66.7 %)" in text
    # interpolated like Grafana, with the bucket the true quantile is in:
    # rank 5 of 10 falls in (2, 5], rank 9.9 in (5, 10]
    assert ("Proof Generation: p50=2.75s (bucket [2, 5] s), "
            "p99=9.75s (bucket [5, 10] s)") in text
    assert "Rollback Rate: 20%" in text
    assert "Avg Memory: 150 MB" in text
    assert "Peak Active Tasks: 47 tasks" in text
    assert "Confirmation p99: n/a" in text
    assert "Missing metrics: solana_confirmation_seconds" in text
    headline = {"task_rate", "proof_p50", "proof_p99", "rollback_rate", "memory_avg",
                "peak_active_tasks"}
    for fig in profile.figures.values():  # every other figure with value and unit
        if fig.name not in headline:
            assert f"{fig.label}: {fig.format_value()}" in text
    assert "task_rate=120 tasks/min" in repr(profile)
    html = profile._repr_html_()
    assert "<table>" in html and "sum(rate(speculation_tasks_total[1h])) * 60" in html


# --------------------------------------------------------------------- depth table


def test_depth_table_repairs_non_monotonic_extrapolated_buckets():
    t = depth_table(pl.DataFrame({"le": ["+Inf", "1", "2"],
                                  "value": [10.0, 6.0, 5.9]}))
    assert t["le"].to_list() == ["1", "2", "+Inf"]
    assert t["cumulative"].to_list() == [6.0, 6.0, 10.0]
    assert t["count"].to_list() == [6.0, 0.0, 4.0]


def test_depth_table_rejects_non_numeric_bounds():
    with pytest.raises(DataError, match="'deep'"):
        depth_table(pl.DataFrame({"le": ["deep"], "value": [1.0]}))


def test_deeper_than_largest_bucket_is_reported(full_samples):
    inc = {"1": 10, "2": 20, "3": 25, "+Inf": 30}
    s = _frame(_counter("speculation_tasks_total", 30, N),
               *_histogram("speculation_depth_histogram", inc, N))
    p = profile_workload(s, window="1h")
    assert p.value("depth_max") == 3.0
    assert "+Inf bucket" in p["depth_max"].note
    assert math.isinf(p.value("depth_p90"))  # 0.833 at 3 -> the +Inf bucket
    # no _sum: the mean comes from bucket bounds and says so
    assert "bucket bounds" in p["depth_mean"].note


# --------------------------------------------------------------------- quadrants


@pytest.mark.parametrize(("volume", "depth", "quadrant", "nearest"), [
    (0.0, 1.0, "Conservative", "Conservative"),
    (99.99, 3.0, "Conservative", "Conservative"),
    (99.99, 3.01, "Reliability-focused", "Reliability-focused"),
    (1000.01, 3.0, "Throughput-optimized", "Throughput-optimized"),
    (5000.0, 8.0, "Scale-out required", "Scale-out required"),
    (100.0, 2.0, None, "Conservative"),       # 100 is not < 100
    (1000.0, 2.0, None, "Throughput-optimized"),  # 1000 is not > 1000
    (316.0, 2.0, None, "Conservative"),       # log10(316) = 2.4997 < 2.5
    (317.0, 2.0, None, "Throughput-optimized"),
    (500.0, 4.0, None, "Scale-out required"),
])
def test_quadrant_boundaries(volume, depth, quadrant, nearest):
    p = classify_quadrant(volume, depth)
    assert p.quadrant == quadrant
    assert p.nearest == nearest
    assert sum(p.blend.values()) == pytest.approx(1.0)


def test_between_band_is_an_honest_blend():
    p = classify_quadrant(200.0, 2.0)
    w_high = math.log10(2.0)  # log10(200/100) / log10(1000/100)
    assert p.volume_class == "between"
    assert p.blend["Throughput-optimized"] == pytest.approx(w_high, abs=1e-6)
    assert p.blend["Conservative"] == pytest.approx(1 - w_high, abs=1e-6)
    assert p.distance_decades == pytest.approx(w_high, abs=1e-6)
    assert "between low and high volume" in p.sentence
    assert "nearest quadrant Conservative" in p.sentence
    assert "blend of Conservative (70 %) and Throughput-optimized (30 %)" in p.sentence


def test_quadrant_rejects_nan():
    with pytest.raises(DataError):
        classify_quadrant(float("nan"), 2.0)
    with pytest.raises(DataError):
        classify_quadrant(10.0, float("nan"))


# --------------------------------------------------------------------- rate features


def _per_minute(counts) -> pl.DataFrame:
    return pl.DataFrame({
        "timestamp": [T0 + timedelta(minutes=i) for i in range(len(counts))],
        "tasks_per_min": [float(c) for c in counts],
    })


def test_rate_features_match_numpy():
    y = np.array([60, 60, 600, 60, 60, 60, 60, 60, 60, 600], dtype=float)
    f = rate_features(_per_minute(y))
    assert f["minutes"] == 10
    assert f["mean_per_min"] == pytest.approx(y.mean())
    assert f["peak_to_mean"] == pytest.approx(600 / y.mean())
    assert f["dispersion_index"] == pytest.approx(y.var(ddof=1) / y.mean())
    assert f["cv"] == pytest.approx(y.std(ddof=1) / y.mean())


def test_rate_features_trend_is_relative_per_hour():
    # 100/min rising by 1/min each minute: slope 60/h over mean 100 + 29.5
    y = 100 + np.arange(60.0)
    f = rate_features(_per_minute(y))
    assert f["trend_per_hour"] == pytest.approx(60 / y.mean())
    assert f["dispersion_detrended"] == pytest.approx(0.0, abs=1e-9)


# --------------------------------------------------------------------- characterize


def _tasks_from_minutes(counts, depth_inc=None) -> pl.DataFrame:
    """A tasks counter scraped every 15 s whose per-minute increments are ``counts``."""
    values = [0.0]
    for c in counts:
        for _ in range(4):
            values.append(values[-1] + c / 4)
    parts = [_series("speculation_tasks_total", values)]
    if depth_inc is not None:
        n = len(values)
        parts.extend(_histogram("speculation_depth_histogram", depth_inc, n))
    return _frame(*parts)


SHALLOW = {"1": 5, "2": 9, "3": 10, "4": 10, "5": 10, "+Inf": 10}  # p90 2
DEEP = {"1": 0, "2": 1, "3": 1, "4": 2, "5": 10, "+Inf": 10}  # p90 5


def test_burst_pattern_is_burst_traffic():
    rng = np.random.default_rng(1)
    counts = rng.poisson(60, 120).astype(float)
    counts[::10] += 600  # a spike every 10 minutes
    c = characterize(_tasks_from_minutes(counts, SHALLOW))
    assert c.workload_type == "burst_traffic", c.summary()
    assert c.pattern == "burst"
    assert c.features["peak_to_mean"] > 1.5
    assert any("bursty" in e for e in c.evidence)
    assert c.rate_series.height == 120


def test_poisson_constant_is_steady_state():
    rng = np.random.default_rng(2)
    counts = rng.poisson(300, 120).astype(float)  # in the 100-1000/min band
    c = characterize(_tasks_from_minutes(counts, SHALLOW))
    assert c.workload_type == "steady_state", c.summary()
    assert c.features["dispersion_detrended"] < 15
    assert c.quadrant is None and c.nearest_quadrant == "Conservative"


def test_low_rate_poisson_is_not_mistaken_for_bursts():
    rng = np.random.default_rng(3)
    counts = rng.poisson(3, 120).astype(float)  # busiest minute often 2-3x the mean
    c = characterize(_tasks_from_minutes(counts, SHALLOW))
    assert c.features["peak_to_mean"] >= 1.5
    assert c.pattern == "steady"
    assert c.quadrant == "Conservative"


def test_ramp_is_variable_not_burst():
    counts = np.linspace(50, 200, 120)
    c = characterize(_tasks_from_minutes(counts, SHALLOW))
    assert c.pattern == "variable"
    assert c.features["trend_per_hour"] > 0.25
    assert c.workload_type == "mixed"
    assert any("trend" in e for e in c.evidence)


def test_high_volume_shallow_and_deep_chains():
    rng = np.random.default_rng(4)
    hv = characterize(_tasks_from_minutes(rng.poisson(3000, 60).astype(float),
                                          SHALLOW))
    assert hv.workload_type == "high_volume_shallow"
    assert hv.quadrant == "Throughput-optimized"
    assert "steady_state" in hv.traits
    deep = characterize(_tasks_from_minutes(rng.poisson(40, 60).astype(float), DEEP))
    assert deep.workload_type == "deep_chains"
    assert deep.quadrant == "Reliability-focused"
    assert deep.features["depth_p90"] == 5.0
    both = characterize(_tasks_from_minutes(rng.poisson(3000, 60).astype(float),
                                            DEEP))
    assert both.workload_type == "mixed"
    assert both.quadrant == "Scale-out required"


def test_depth_stat_threshold_is_configurable():
    rng = np.random.default_rng(5)
    s = _tasks_from_minutes(rng.poisson(40, 60).astype(float), DEEP)
    # mean depth of DEEP: (2*1 + 0*... ) computed from bounds: 1*2 + 1*4 + 8*5 = 46/10
    c = characterize(s, thresholds=Thresholds(depth_stat="mean"))
    assert c.features["depth_mean"] == pytest.approx(4.6)
    assert c.quadrant == "Reliability-focused"


def test_short_data_leaves_the_pattern_undetermined():
    c = characterize(_tasks_from_minutes([60.0] * 5, SHALLOW))
    assert c.pattern == "undetermined"
    assert any("undetermined" in e for e in c.evidence)
    assert c.quadrant == "Conservative"


def test_characterize_without_tasks_counter_is_a_data_error():
    s = _frame(*_histogram("speculation_depth_histogram", SHALLOW, 100))
    with pytest.raises(DataError, match="task rate"):
        characterize(s)


def test_characterization_outputs():
    rng = np.random.default_rng(6)
    c = characterize(_tasks_from_minutes(rng.poisson(60, 30).astype(float), SHALLOW))
    ff = c.features_frame()
    assert set(ff["feature"]) >= {"volume_per_min", "depth_p90", "peak_to_mean",
                                  "dispersion_index", "trend_per_hour"}
    assert "Workload type:" in c.summary()
    assert "Characterization(" in repr(c)
    assert "<li>" in c._repr_html_()


# --------------------------------------------------------------------- simulator


def _simulate(pattern: str, rate: float, seed: int, depth: str = "uniform:1-3"):
    sim = pytest.importorskip("specanalysis.sim")
    if not hasattr(sim, "simulate"):
        pytest.skip("specanalysis.sim.simulate not available yet")
    from specanalysis.config import SpeculationConfig

    wl = sim.Workload(rate=rate, depth=depth, pattern=pattern)
    return sim.simulate(SpeculationConfig(), wl, duration="40m", seed=seed)


@pytest.mark.parametrize("depth", ["uniform:1-3", "fixed:8"])
def test_simulated_burst_and_constant_workloads(depth):
    burst = _simulate("burst:10x:30s:every:5m", 2.0, 11, depth)
    const = _simulate("constant", 2.0, 11, depth)
    cb = characterize(burst.samples)
    cc = characterize(const.samples)
    assert cb.pattern == "burst", cb.summary()
    assert cb.workload_type == "burst_traffic"
    # chained arrivals are over-dispersed (not Poisson) yet still steady
    assert cc.features["dispersion_detrended"] > 1.5
    assert cc.pattern == "steady", cc.summary()
    assert cc.workload_type == "steady_state"
    # 2 tasks/s = 120/min offered: the profile measures about that
    assert cc.features["volume_per_min"] == pytest.approx(120, rel=0.15)
    # burst pattern 10x for 30 s every 5 min: mean multiplier 1 + 9 * 30/300 = 1.9
    assert cb.features["volume_per_min"] == pytest.approx(120 * 1.9, rel=0.15)


def test_to_workload_recovers_the_simulated_workload():
    """Simulate a known workload, profile the last 30 minutes, get the workload back."""
    from specanalysis.config import SpeculationConfig
    from specanalysis.sim import Workload, simulate

    truth = Workload(rate=6.0, depth="uniform:1-4", failures=0.04,
                     exec_time="fixed:10ms", confirm_time="lognormal:mean=2s,cv=0.5",
                     proof_time="fixed:20ms", proof_overhead="fixed:1ms")
    cfg = SpeculationConfig(enabled=True).replace(
        max_depth=10, max_parallel_branches=16, **{"limits.max_state_snapshots": 1000})
    samples = simulate(cfg, truth, duration="40m", seed=5).samples
    prof = profile_workload(samples, window="30m")
    got = prof.to_workload()
    assert got.rate == pytest.approx(6.0, rel=0.05)
    assert got.failures == pytest.approx(0.04, abs=0.01)
    assert got.depth_dist.mean == pytest.approx(2.5, rel=0.1)
    # fitted to the buckets with the exact mean, not read off interpolated quantiles
    conf = got.dist("confirm_time")
    assert conf.mean == pytest.approx(2.0, rel=0.05)
    assert conf.cv == pytest.approx(0.5, abs=0.05)
    assert got.dist("exec_time").mean == pytest.approx(0.010, rel=0.05)
    # overrides win, and the result is a valid workload for the simulator
    assert prof.to_workload(rate=1.0, depth="fixed:2").rate == 1.0
    simulate(cfg, got, duration="1m", seed=1)


def test_to_workload_without_figures_keeps_defaults():
    from specanalysis.sim import Workload

    t0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
    ts = [t0 + timedelta(seconds=15 * i) for i in range(241)]
    samples = pl.DataFrame({"timestamp": ts,
                            "metric": ["speculation_tasks_total"] * len(ts),
                            "value": [15.0 * i for i in range(len(ts))]})
    wl = profile_workload(samples, window="1h").to_workload()
    default = Workload()
    assert wl.rate == pytest.approx(1.0)
    assert (wl.depth, wl.confirm_time, wl.failures) == (
        default.depth, default.confirm_time, default.failures)


def test_rollback_reasons_and_timeout_share():
    samples = _frame(
        _counter("speculation_tasks_total", 100, N),
        _counter("speculation_rollback_total", 3, N, {"reason": "timeout"}),
        _counter("speculation_rollback_total", 1, N, {"reason": "proof_invalid"}),
    )
    prof = profile_workload(samples, window="1h")
    table = dict(zip(prof.rollback_reasons["reason"], prof.rollback_reasons["share"],
                     strict=True))
    assert table == pytest.approx({"proof_invalid": 0.25, "timeout": 0.75})
    assert prof.value("rollback_timeout_share") == pytest.approx(75.0)
    assert prof.value("rollback_rate") == pytest.approx(4.0)
    assert "timeout" in prof.summary()


def test_timeout_share_is_zero_without_timeout_series_and_nan_without_rollbacks():
    only_invalid = _frame(
        _counter("speculation_tasks_total", 100, N),
        _counter("speculation_rollback_total", 2, N, {"reason": "proof_invalid"}),
    )
    assert profile_workload(only_invalid, window="1h").value(
        "rollback_timeout_share") == 0.0
    no_rollbacks = _frame(_counter("speculation_tasks_total", 100, N))
    prof = profile_workload(no_rollbacks, window="1h")
    assert math.isnan(prof.value("rollback_timeout_share"))
    assert prof.rollback_reasons.height == 0
