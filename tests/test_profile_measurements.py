"""Measurements that mean what they say (issue 7 §3), on hand-built frames.

Every expected value is worked out by hand in the comments: bucket edges,
per-instance peaks that do not coincide, rollback counters that count events or
tasks, configuration gauges that disagree with the configuration passed, deferred
tasks that carry the depth the cap refused.
"""

from __future__ import annotations

import math
import warnings
from datetime import datetime, timedelta, timezone

import numpy as np
import polars as pl
import pytest

from specanalysis.buckets import bucket_table, fit_buckets, quantile_bounds
from specanalysis.catalogue import canonical_reason, normalize_samples
from specanalysis.config import SCENARIOS, SpeculationConfig
from specanalysis.errors import ConfigMismatchError, DataError
from specanalysis.profile import ConfigMismatchWarning, profile_workload

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
STEP = 15
N = 241  # one hour of 15 s scrapes
MiB = 1024.0 * 1024.0


def _series(metric, values, labels=None):
    labels = labels or {}
    n = len(values)
    data = {"timestamp": [T0 + timedelta(seconds=STEP * i) for i in range(n)],
            "metric": [metric] * n, "value": [float(v) for v in values]}
    for k, v in labels.items():
        data[k] = [v] * n
    return pl.DataFrame(data)


def _frame(*parts):
    out = pl.concat(parts, how="diagonal_relaxed")
    labels = sorted(c for c in out.columns if c not in ("timestamp", "metric", "value"))
    return out.select("timestamp", "metric", "value", *labels).with_columns(
        pl.col("timestamp").dt.cast_time_unit("ms").dt.convert_time_zone("UTC"))


def _counter(metric, per_scrape, labels=None, n=N):
    return _series(metric, [per_scrape * i for i in range(n)], labels)


def _gauge(metric, value, labels=None, n=N):
    return _series(metric, [value] * n, labels)


def _histogram(family, increments):
    parts = [_counter(family + "_bucket", inc, {"le": le}) for le, inc in increments.items()]
    parts.append(_counter(family + "_count", max(increments.values())))
    return parts


TASKS = _counter("speculation_tasks_total", 30)


# --------------------------------------------------------------------- bucket bounds


def test_quantiles_carry_the_edges_of_their_bucket_and_flag_straddled_targets():
    # e2e latency, per scrape: 50 obs <= 1 s, 40 in (1, 2], 8 in (2, 10], 2 above 10
    # p50: rank 50 of 100 -> the (0, 1] bucket is full at 50 -> [0, 1]
    # p99: rank 99 -> beyond 98 (<= 10 s) -> the +Inf bucket -> [10, inf)
    e2e = {"1": 50, "2": 90, "10": 98, "+Inf": 100}
    # proof: p99 rank 9.9 of 10 in (30, 120]: straddles the guide's 60 s target
    proof = {"1": 4, "30": 9, "120": 10, "+Inf": 10}
    p = profile_workload(_frame(TASKS, *_histogram("speculation_e2e_latency_seconds", e2e),
                                *_histogram("speculation_proof_generation_seconds", proof)))
    p50, p99 = p["latency_p50"], p["latency_p99"]
    assert (p50.low, p50.high) == (0.0, 1.0)
    assert p50.value == pytest.approx(1.0)  # Prometheus interpolates to the bucket top
    assert p50.flags == ()  # [0, 1] does not straddle the p50 target of 1 s
    assert p99.bounds == (10.0, math.inf)
    assert p99.value == 10.0  # Prometheus' answer in the +Inf bucket
    assert any("+Inf bucket" in f for f in p99.flags)
    assert not p99.resolves(0.5)
    pr = p["proof_p99"]
    assert pr.bounds == (30.0, 120.0)
    assert pr.straddles(60.0) and not pr.straddles(200.0)
    assert any("straddles the guide's target < 60" in f for f in pr.flags)
    assert pr in p.flagged and "Flags:" in p.summary()
    row = p.to_frame().filter(pl.col("name") == "proof_p99").row(0, named=True)
    assert (row["low"], row["high"]) == (30.0, 120.0) and "straddles" in row["flags"]
    # a 10 % change cannot be told apart from a 30-120 s bucket; a 4x change can
    assert not pr.resolves(0.10) and pr.resolves(4.0)
    assert p["task_rate"].bounds is None and p["task_rate"].resolves(0.01)


def test_quantile_bounds_match_prometheus_interpolation_by_hand():
    t = bucket_table(pl.DataFrame({"le": ["0.1", "0.25", "0.5", "+Inf"],
                                   "value": [10.0, 60.0, 100.0, 100.0]}))
    # p50: rank 50, bucket (0.1, 0.25] holds ranks 10-60: 0.1 + 0.15 * 40/50 = 0.22
    b = quantile_bounds(t, 0.5)
    assert (b.low, b.high) == (0.1, 0.25) and b.value == pytest.approx(0.22)
    # p99: rank 99 in (0.25, 0.5], ranks 60-100: 0.25 + 0.25 * 39/40
    b = quantile_bounds(t, 0.99)
    assert b.value == pytest.approx(0.25 + 0.25 * 39 / 40) and b.width == 0.25
    assert math.isnan(quantile_bounds(bucket_table(pl.DataFrame(
        {"le": ["1", "+Inf"], "value": [0.0, 0.0]})), 0.5).value)
    with pytest.raises(DataError, match="not a number"):
        bucket_table(pl.DataFrame({"le": ["x"], "value": [1.0]}))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fits_to_bucket_counts_recover_the_distribution(seed):
    """Interval-censored MLE against the generating lognormal, within 3 standard errors."""
    rng = np.random.default_rng(seed)
    mean, cv = 2.0, 0.6
    s2 = math.log1p(cv**2)
    x = rng.lognormal(math.log(mean) - s2 / 2, math.sqrt(s2), 5000)
    bounds = [0.25, 0.5, 1.0, 2.5, 5.0, 10.0]
    t = bucket_table(pl.DataFrame({
        "le": [str(b) for b in bounds] + ["+Inf"],
        "value": [float((x <= b).sum()) for b in bounds] + [float(len(x))]}))
    free = fit_buckets(t)
    assert abs(free.mean - mean) < 3 * free.mean_se + 0.01
    assert abs(free.cv - cv) < 3 * free.cv_se + 0.01
    held = fit_buckets(t, mean=float(x.mean()))
    assert held.exact_mean and held.mean == pytest.approx(x.mean())
    assert abs(held.cv - cv) < 3 * held.cv_se + 0.01
    # the fitted median sits much closer to the true one than the interpolated p50
    true_p50 = mean / math.exp(s2 / 2)
    assert abs(held.quantile(0.5) / true_p50 - 1) < 0.05
    # a single populated bucket without the mean: the spread is not identifiable
    one = bucket_table(pl.DataFrame({"le": ["1", "+Inf"], "value": [5.0, 5.0]}))
    with pytest.raises(DataError, match="one bucket"):
        fit_buckets(one)


# --------------------------------------------------------------------- rollback reasons


def test_reason_aliases_map_every_vocabulary_to_the_runbooks():
    assert canonical_reason("proof_timeout") == "timeout"          # DD, code
    assert canonical_reason("proof_failed") == "proof_invalid"     # DD, code
    assert canonical_reason("CLAIM_EXPIRED") == "timeout"          # API
    assert canonical_reason("ANCESTOR_PROOF_FAILED") == "ancestor_failed"
    assert canonical_reason("CONSISTENCY_CHECK_FAILED") == "state_conflict"
    assert canonical_reason("TIMEOUT") == "timeout"
    assert canonical_reason("ParentVoided") == "ancestor_failed"  # on-chain
    assert canonical_reason("manual") == "manual"
    assert canonical_reason("something_else") == "something_else"


def test_design_document_reasons_give_the_real_timeout_share():
    # per scrape: 2 proof_timeout + 1 CLAIM_EXPIRED (both timeouts) + 1 proof_failed
    # -> 3 of 4 rollback events are timeouts: 75 %, not 0 %
    s = _frame(TASKS,
               _counter("speculation_rollbacks_total", 2, {"reason": "proof_timeout"}),
               _counter("speculation_rollbacks_total", 1, {"reason": "CLAIM_EXPIRED"}),
               _counter("speculation_rollbacks_total", 1, {"reason": "proof_failed"}))
    p = profile_workload(normalize_samples(s))
    t = p.rollback_reasons.sort("reason")
    assert t["reason"].to_list() == ["proof_invalid", "timeout"]
    assert t["events"].to_list() == pytest.approx([240.0, 720.0])
    assert t.filter(pl.col("reason") == "timeout")["raw_reasons"][0] == \
        "CLAIM_EXPIRED,proof_timeout"
    share = p["rollback_timeout_share"]
    assert share.value == pytest.approx(75.0)
    assert 'reason=~"timeout|CLAIM_EXPIRED|proof_timeout"' in share.promql
    assert "[CLAIM_EXPIRED,proof_timeout]" in p.summary()


@pytest.mark.parametrize("per_scrape, sizes, expected", [
    (2, (2, 6), "events"),          # counter = rollback events (cascade _count)
    (6, (2, 6), "tasks"),           # counter = tasks undone (cascade _sum)
    (2, (2, 2), "indistinguishable"),  # every rollback undid one task
    (4, (2, 6), "unknown"),         # matches neither
])
def test_rollback_counter_semantics_detected_from_the_cascade_histogram(
        per_scrape, sizes, expected):
    n_events, n_tasks = sizes
    s = _frame(TASKS, _counter("speculation_rollback_total", per_scrape,
                               {"reason": "proof_invalid"}),
               _counter("speculation_rollback_cascade_size_count", n_events),
               _counter("speculation_rollback_cascade_size_sum", n_tasks))
    p = profile_workload(s)
    assert p.rollback_counting == expected
    assert p.rollback_counting_evidence
    if expected == "tasks":
        assert p["rollback_rate"].flags == ("rollback counter counts tasks",)


def test_rollback_counter_semantics_from_the_tasks_counter():
    # 2 events undo 6 tasks per scrape: fewer rollbacks than tasks -> events
    s = _frame(TASKS, _counter("speculation_rollback_total", 2),
               _counter("speculation_tasks_rolled_back_total", 6))
    p = profile_workload(s)
    assert p.rollback_counting == "events"
    assert "avg size 3" in p.rollback_counting_evidence
    assert p["tasks_rolled_back_per_task"].value == pytest.approx(20.0)  # 6 / 30
    same = profile_workload(_frame(TASKS, _counter("speculation_rollback_total", 6),
                                   _counter("speculation_tasks_rolled_back_total", 6)))
    assert same.rollback_counting == "indistinguishable"
    none = profile_workload(_frame(TASKS, _counter("speculation_rollback_total", 2)))
    assert none.rollback_counting == "unknown"


# --------------------------------------------------------------------- configuration


def _with_config(**params):
    parts = [TASKS]
    for name, value in params.items():
        parts.append(_gauge("speculation_config", value,
                            {"parameter": name.replace("__", ".")}))
    return _frame(*parts)


def test_configuration_passed_is_reconciled_with_the_gauges():
    # the data runs max_depth 5, batch 10; cost-optimized says 3 and 30
    s = _with_config(max_depth=5, proof__batch_size=10, proof__worker_threads=2,
                     features__enable_optimistic_proofs=1)
    cfg = SCENARIOS["cost-optimized"].config
    with pytest.warns(ConfigMismatchWarning) as rec:
        p = profile_workload(s, config=cfg)
    msg = str(rec[0].message)
    assert "max_depth: the configuration says 3, the data's gauge says 5" in msg
    assert "proof.batch_size: the configuration says 30, the data's gauge says 10" in msg
    assert "worker_threads" not in msg  # 2 = 2 agrees
    chk = p.config_check.sort("parameter")
    assert chk["parameter"].to_list() == ["features.enable_optimistic_proofs",
                                          "max_depth", "proof.batch_size",
                                          "proof.worker_threads"]
    assert chk["agrees"].to_list() == [True, False, False, True]
    assert "2 disagree" in p.summary()
    with pytest.raises(ConfigMismatchError) as err:
        profile_workload(s, config=cfg, strict=True)
    assert len(err.value.problems) == 2
    # agreeing configuration: silence
    ok = cfg.replace(max_depth=5, **{"proof.batch_size": 10})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        profile_workload(s, config=ok)
    # the configuration the data says
    mc = p.measured_config(cfg)
    assert (mc.max_depth, mc.proof.batch_size, mc.proof.worker_threads) == (5, 10, 2)
    assert mc.rollback_policy == cfg.rollback_policy  # a string no gauge carries


def test_max_depth_gauge_and_per_instance_disagreement_are_named():
    s = _frame(TASKS, _gauge("speculation_max_depth", 5, {"instance": "a"}),
               _gauge("speculation_max_depth", 4, {"instance": "b"}))
    with pytest.raises(ConfigMismatchError) as err:
        profile_workload(s, config=SpeculationConfig(max_depth=5), strict=True)
    assert err.value.problems == [
        "max_depth: the configuration says 5, the data's gauge says 4 (instances b)"]


def test_config_from_a_toml_path_and_bad_config(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(SpeculationConfig(max_depth=3).to_toml())
    with pytest.warns(ConfigMismatchWarning, match="max_depth"):
        profile_workload(_with_config(max_depth=5), config=str(path))
    with pytest.raises(DataError, match="config"):
        profile_workload(_with_config(max_depth=5), config=42)


# --------------------------------------------------------------------- fleet


def test_fleet_peaks_are_per_instance_not_a_sum_of_peaks():
    # instance a peaks at 20 (scrape 10), b at 24 (scrape 100); otherwise 10 each.
    # sum of the per-series peaks would be 44; the fleet's real peak is 20+10 = 30
    # or 10+24 = 34 -> 34. Per-instance limits meet per-instance peaks (24, 20).
    a = [10.0] * N
    b = [10.0] * N
    a[10], b[100] = 20.0, 24.0
    br_a, br_b = [2.0] * N, [2.0] * N
    br_a[50], br_b[60] = 6.0, 8.0
    s = _frame(
        _counter("speculation_tasks_total", 30, {"instance": "a"}),
        _counter("speculation_tasks_total", 10, {"instance": "b"}),
        _series("speculation_active_tasks", a, {"instance": "a"}),
        _series("speculation_active_tasks", b, {"instance": "b"}),
        _series("speculation_active_branches", br_a, {"instance": "a"}),
        _series("speculation_active_branches", br_b, {"instance": "b"}),
        _gauge("speculation_memory_usage_bytes", 100 * MiB,
               {"instance": "a", "component": "state_snapshots"}),
        _gauge("speculation_memory_usage_bytes", 50 * MiB,
               {"instance": "a", "component": "proof_cache"}),
        _gauge("speculation_memory_usage_bytes", 120 * MiB,
               {"instance": "b", "component": "state_snapshots"}),
        _gauge("speculation_memory_limit_bytes", 4096 * MiB, {"instance": "a"}),
        _gauge("speculation_memory_limit_bytes", 4096 * MiB, {"instance": "b"}),
    )
    p = profile_workload(s)
    assert p.instances == ("a", "b")
    assert p["peak_active_tasks"].value == 24.0
    assert p["fleet_peak_active_tasks"].value == 34.0
    assert p["active_branches_peak"].value == 8.0
    assert p["memory_peak"].value == pytest.approx(150.0)        # a: 100 + 50
    assert p["fleet_memory_peak"].value == pytest.approx(270.0)  # a + b
    assert p["memory_limit"].value == pytest.approx(4096.0)
    assert p["task_rate"].value == pytest.approx(160.0)  # (30 + 10) per 15 s
    per = p.per_instance.sort("instance")
    assert per["instance"].to_list() == ["a", "b"]
    assert per["peak_active_tasks"].to_list() == [20.0, 24.0]
    assert per["active_branches_peak"].to_list() == [6.0, 8.0]
    assert per["task_rate"].to_list() == pytest.approx([120.0, 40.0])
    assert per["memory_peak_mb"].to_list() == pytest.approx([150.0, 120.0])
    assert "Instances (2): a, b" in p.summary()
    d = p.to_dict()
    assert d["instances"] == ["a", "b"] and len(d["per_instance"]) == 2


def test_single_instance_has_no_per_instance_table():
    p = profile_workload(_frame(TASKS, _series("speculation_active_tasks", [5.0] * N)))
    assert p.instances == () and p.per_instance.height == 0
    assert p["fleet_peak_active_tasks"].value == p["peak_active_tasks"].value == 5.0


# --------------------------------------------------------------------- offered load


def test_offered_load_and_depth_censoring():
    # max_depth 3. Per scrape: 40 tasks scheduled; executions at depth 0: 10,
    # depth 1: 10, depth 2: 20 (10 ran there from the start, 10 are deferred tasks
    # that ran once an ancestor confirmed). Deferred for depth: 6 wanted depth 3,
    # 4 wanted depth 4. Offered depths: 0:10, 1:10, 2:10, 3:6, 4:4 of 40.
    s = _frame(
        _counter("speculation_tasks_total", 40),
        _counter("speculation_tasks_scheduled_total", 40),
        *_histogram("speculation_depth_histogram",
                    {"0": 10, "1": 20, "2": 40, "3": 40, "4": 40, "5": 40, "+Inf": 40}),
        _counter("speculation_tasks_deferred_total", 6,
                 {"reason": "depth_limit", "depth": "3"}),
        _counter("speculation_tasks_deferred_total", 4,
                 {"reason": "depth_limit", "depth": "4"}),
        _counter("speculation_tasks_deferred_total", 2,
                 {"reason": "branch_limit", "depth": "1"}),
        _gauge("speculation_max_depth", 3),
    )
    p = profile_workload(s)
    assert p["offered_rate"].value == pytest.approx(160.0)
    assert p["depth_p90"].value == 2.0  # what the cap admitted
    off = p.offered_depth_distribution
    got = dict(zip(off["depth"].to_list(), off["count"].to_list(), strict=True))
    assert got[0.0] == 10 * 240 and got[2.0] == 10 * 240
    assert got[3.0] == 6 * 240 and got[4.0] == 4 * 240
    assert p["offered_depth_p90"].value == 3.0  # 36 of 40 (90 %) at <= 3, past the cap
    # offered mean: (0*10 + 1*10 + 2*10 + 3*6 + 4*4) / 40 = 64/40
    assert p["offered_depth_mean"].value == pytest.approx(1.6)
    cens = p["depth_censored_share"]
    assert cens.value == pytest.approx(25.0)  # 10 of 40 tasks wanted depth >= 3
    assert cens.flags and "censored" in cens.flags[0]
    d = p.deferrals
    assert set(d["reason"].to_list()) == {"depth_limit", "branch_limit"}
    assert d.filter(pl.col("reason") == "branch_limit")["tasks"].sum() == \
        pytest.approx(480.0)
    # offered series: 40 tasks in every 15 s interval
    assert p.scrape_interval_s == 15.0
    assert p.offered_series["tasks"].to_list() == [40.0] * (N - 1)


def test_without_deferral_metrics_censoring_is_unknown_and_says_so():
    s = _frame(TASKS, *_histogram("speculation_depth_histogram",
                                  {"0": 10, "1": 20, "2": 30, "+Inf": 30}),
               _gauge("speculation_max_depth", 3))
    c = profile_workload(s)["depth_censored_share"]
    assert math.isnan(c.value)
    assert "cannot be measured" in c.note and "33.3 % of executions" in c.note


# --------------------------------------------------------------------- time range


def test_default_window_is_the_data_when_shorter_than_an_hour():
    s = _frame(_counter("speculation_tasks_total", 30, n=41))  # 10 minutes
    p = profile_workload(s)
    assert p.window == "10m" and p.notes == () and p.coverage == 1.0
    assert p["task_rate"].value == pytest.approx(120.0)
    long = _frame(_counter("speculation_tasks_total", 30, n=2 * N))
    assert profile_workload(long).window == "1h"


# --------------------------------------------------------------------- offered load decides


def _characterize_sim(cfg, workload, duration="15m", seed=3):
    from specanalysis.profile import characterize
    from specanalysis.sim import simulate

    run = simulate(cfg, workload, duration=duration, seed=seed, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return characterize(run.samples)


def test_same_offered_workload_same_type_whatever_max_depth_admits():
    from specanalysis.sim import Workload

    # 6-task chains at 1 task/s (60/min, low volume): deep. max_depth 3 admits
    # depths 0-2 only; the offered depth is the same under both limits.
    wl = Workload(rate=1.0, depth="fixed:6")
    base = SpeculationConfig(enabled=True, max_parallel_branches=16)
    deep = _characterize_sim(base.replace(max_depth=8), wl)
    capped = _characterize_sim(base.replace(max_depth=3), wl)
    assert capped.profile["depth_p90"].value <= 2  # what the cap admitted
    assert capped.features["depth_p90"] > 3        # what was offered
    assert (capped.workload_type, capped.quadrant) == (deep.workload_type, deep.quadrant)
    assert deep.quadrant == "Reliability-focused"
    assert any("wanted depth >= max_depth" in e for e in capped.evidence)


def test_guide_burst_test_is_burst_traffic_on_the_offered_load():
    from specanalysis.sim import Workload

    # the guide's burst test (10x for 30 s every 2 min) on a pool that smooths it
    wl = Workload(rate=1.0, depth="uniform:1-3", pattern="burst:10x:30s:every:2m")
    cfg = SpeculationConfig(enabled=True).replace(**{"proof.worker_threads": 2})
    c = _characterize_sim(cfg, wl, duration="20m")
    assert c.pattern == "burst", c.evidence
    assert c.features["peak_to_mean"] >= 1.5
    assert c.features["volume_per_min"] == pytest.approx(
        c.profile["offered_rate"].value)
    assert any("offered load" in e for e in c.evidence)
