"""Rollbacks against depth (specanalysis.models.rollback).

Truth: the simulator's injected failure probability over seeds, WP §7.2.1's
worked E[C], blast radii derived by hand for isolated failures, the analytic
pipeline (no failures), and a brute-force simulator sweep of max_depth.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import polars as pl
import pytest

from specanalysis.config import SpeculationConfig
from specanalysis.errors import DataError
from specanalysis.models.pipeline import chain_latency
from specanalysis.models.rollback import (
    ModelWarning,
    blast_radius,
    depth_curve,
    depth_mixture_p,
    expected_wasted_work,
    fit_rollback,
    optimal_depth,
    predict_at_depth,
    rollback_observations,
    rollback_probability,
)
from specanalysis.sim import Workload
from specanalysis.sim import simulate as _simulate
from specanalysis.sim.engine import SimSettings

# the models leave out the runtime's auto-disable policy (speculation switched
# off for 10 minutes after a burst of rollbacks): compare with it off
NO_AUTO = SimSettings(auto_disable="off")


def simulate(*args, **kw):
    kw.setdefault("settings", NO_AUTO)
    return _simulate(*args, **kw)

BASE = SpeculationConfig(enabled=True, max_depth=20, max_parallel_branches=16,
                         confirmation_timeout_ms=300_000).replace(**{
    "proof.worker_threads": 32, "proof.batch_size": 1, "proof.timeout_ms": 600_000,
    "proof.max_retries": 10, "proof.retry_delay_ms": 500,
    "proof.retry_multiplier": 1.0})


def random_workload(p, **kw):
    return Workload(rate=2.0, depth="uniform:1-8", exec_time="uniform:0.5s-1.5s",
                    proof_time="uniform:1s-2s", proof_overhead="fixed:0s",
                    confirm_time="uniform:0.3s-1.2s", state_mb=0, failures=p, **kw)


def chain_workload(te, tp, tc, p, n, chains_per_min=1.0, **kw):
    return Workload(rate=n * chains_per_min / 60.0, depth=f"fixed:{n}",
                    arrivals="regular", exec_time=f"fixed:{te}s",
                    proof_time=f"fixed:{tp}s", proof_overhead="fixed:0s",
                    confirm_time=f"fixed:{tc}s", state_mb=0, failures=p, **kw)


# ----------------------------------------------------------------- formulas


def test_expected_wasted_work_matches_the_whitepaper_example():
    s, b = expected_wasted_work(0.02, 3, 2.0, 10 * 1000)
    assert s == pytest.approx(0.12) and b == pytest.approx(600.0)
    assert rollback_probability(0.1, 0) == pytest.approx(0.1)
    assert rollback_probability(0.1, [0, 1, 2]).tolist() == pytest.approx(
        [0.1, 0.19, 0.271])
    with pytest.raises(DataError, match="probability"):
        expected_wasted_work(1.5, 3, 2.0)


def test_glm_recovers_p_exactly_from_expected_counts():
    p = 0.07
    d = np.arange(6)
    frame = pl.DataFrame({"depth": d, "trials": np.full(6, 1e5),
                          "events": 1e5 * (1 - (1 - p) ** (d + 1))})
    for exposure in ("cascade", "free"):
        fit = fit_rollback(frame, exposure=exposure)
        assert fit.p_fail == pytest.approx(p, abs=1e-9)
        assert fit.exposure_coef == pytest.approx(1.0, abs=1e-6)
        lo, hi = fit.p_interval
        assert lo < p < hi


# ----------------------------------------------------------------- against the simulator


@pytest.mark.slow
def test_p_interval_covers_the_injected_failure_probability():
    hits = 0
    free_hits = 0
    seeds = 200
    for seed in range(seeds):
        r = simulate(BASE, random_workload(0.05), duration=240, seed=seed, drain=True)
        lo, hi = fit_rollback(r).p_interval
        hits += lo <= 0.05 <= hi
        t = fit_rollback(r, exposure="free").tidy().filter(
            pl.col("term") == "log_exposure")
        free_hits += t["ci_low"].item() <= 1.0 <= t["ci_high"].item()
    print(f"p coverage {hits / seeds:.3f}, exposure coefficient coverage "
          f"{free_hits / seeds:.3f}")
    assert 0.90 <= hits / seeds <= 0.98
    assert 0.88 <= free_hits / seeds <= 0.99


def test_one_long_run_estimates_p_and_the_exposure():
    r = simulate(BASE, random_workload(0.05), duration=1800, seed=1, drain=True)
    fit = fit_rollback(r)
    lo, hi = fit.p_interval
    assert lo <= 0.05 <= hi and hi - lo < 0.03
    assert fit.cov_type == "cluster"
    pred = fit.predict([0, 1, 2, 3])
    assert pred["estimate"].to_list() == pytest.approx(
        rollback_probability(fit.p_fail, [0, 1, 2, 3]).tolist())
    # observed shares sit inside the fitted band (within their own noise)
    ok = pred.filter(pl.col("trials") > 200)
    se = np.sqrt(ok["observed"] * (1 - ok["observed"]) / ok["trials"]) * 3
    assert ((ok["observed"] - ok["estimate"]).abs() < se + 0.01).all()
    free = fit_rollback(r, exposure="free")
    row = free.tidy().filter(pl.col("term") == "log_exposure").row(0, named=True)
    assert row["ci_low"] <= 1.0 <= row["ci_high"]


def test_selective_policy_breaks_the_cascade_exposure():
    # selective + prover faults only: descendants are never undone, so P does not
    # grow with depth and the free exposure coefficient is near 0, not 1
    r = simulate(BASE.replace(rollback_policy="selective"),
                 random_workload(0.08, invalid_output_share=0.0), duration=1500, seed=2,
                 drain=True)
    free = fit_rollback(r, exposure="free")
    row = free.tidy().filter(pl.col("term") == "log_exposure").row(0, named=True)
    assert row["ci_high"] < 0.5
    assert any("not independent" in n for n in free.notes)
    assert blast_radius(r).tidy().filter(pl.col("term") == "p99")["estimate"].max() == 1


def test_blast_radius_of_isolated_failures_by_depth():
    # Te = 1, Tp + Tc = 3.05: task i executes over [i, i + 1] and its failure is
    # seen at i + 1 + 3.05; descendant i + m started at i + m, so m = 1..4 have
    # started (fewer near the chain's end): an isolated failure of task i of a
    # 10-chain undoes 1 + min(4, 9 - i) tasks
    r = simulate(BASE, chain_workload(1.0, 2.35, 0.7, 0.004, 10, chains_per_min=6),
                 duration=6 * 3600, seed=3, drain=True)
    rb = r.rollbacks.join(r.tasks.select("task_id", "position").unique(), on="task_id")
    first = rb.filter(pl.col("reason") == "proof_invalid")
    expect = 1 + np.minimum(4, 9 - first["position"].to_numpy())
    # isolated failures (no earlier rollback in the chain) follow the formula
    isolated = first.with_columns(expect=pl.Series(expect)).sort("time").unique(
        "chain_id", keep="first")
    assert (isolated["size"] == isolated["expect"]).mean() > 0.97
    br = blast_radius(r)
    pooled = br.tidy().filter(pl.col("depth").is_null(), pl.col("term") == "p99")
    assert pooled["estimate"].item() == 5
    assert br.predict([0])["count"].min() > 0
    with pytest.raises(DataError, match="no rollbacks were observed at depth"):
        br.predict([17])
    sel = simulate(BASE.replace(rollback_policy="selective"),
                   chain_workload(1.0, 2.35, 0.7, 0.004, 10, chains_per_min=6,
                                  invalid_output_share=0.0),
                   duration=3600, seed=3, drain=True)
    both = blast_radius([r, sel]).tidy()
    assert set(both["policy"]) == {"cascade", "selective"}
    assert both.filter(pl.col("policy") == "selective")["estimate"].max() == 1


def test_depth_curve_without_failures_is_the_pipeline():
    for D in (1, 2, 3, 5):
        c = depth_curve(exec_time=1.0, proof_time=2.35, confirm_time=0.7, p_fail=0.0,
                        chain_length=10, depths=[D], samples=50)
        assert c["latency_s"].item() == pytest.approx(
            chain_latency(10, 1.0, 2.35, 0.7, max_depth=D))
        assert c["rollback_share"].item() == 0.0


def test_depth_curve_matches_the_simulator_per_depth():
    te, tp, tc, p, n = 1.0, 2.35, 0.7, 0.1, 10
    curve = depth_curve(exec_time=te, proof_time=tp, confirm_time=tc, p_fail=p,
                        chain_length=n, depths=[1, 2, 4, 8], retry_delay=0.5,
                        retry_multiplier=1.0, samples=4000)
    for row in curve.iter_rows(named=True):
        r = simulate(BASE.replace(max_depth=row["max_depth"]),
                     chain_workload(te, tp, tc, p, n), duration=300 * 60, seed=5,
                     drain=True)
        c = r.chains
        att = r.tasks.filter(pl.col("outcome") != "in_flight")
        share = (att["outcome"] == "rolled_back").mean()
        assert c["latency_s"].mean() == pytest.approx(row["latency_s"], rel=0.03)
        assert share == pytest.approx(row["rollback_share"], abs=0.025)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "te", "tp", "tc", "p", "n"), [
    ("execution-bound", 1.0, 2.35, 0.7, 0.10, 10),
    ("confirmation-bound", 0.3, 1.15, 0.8, 0.08, 12),
    ("flaky", 0.7, 1.55, 0.45, 0.25, 8),
])
def test_optimal_depth_matches_a_brute_force_simulator_sweep(name, te, tp, tc, p, n):
    w = chain_workload(te, tp, tc, p, n)
    # p is fitted on one run at the configured depth, as a user would
    fit = fit_rollback(simulate(BASE.replace(max_depth=5), w, duration=300 * 60,
                                seed=99, drain=True))
    depths = range(1, 8)
    choice = fit.optimal_depth(exec_time=te, proof_time=tp, confirm_time=tc,
                               chain_length=n, depths=depths, retry_delay=0.5,
                               retry_multiplier=1.0)
    sim = []
    for D in depths:
        r = simulate(BASE.replace(max_depth=D), w, duration=600 * 60, seed=1,
                     drain=True)
        c = r.chains
        eff = (c["length"] - c["rolled_back_tasks"]).cast(pl.Float64).to_numpy()
        sim.append(eff.sum() / c["latency_s"].sum())
    best = int(np.argmax(sim)) + 1
    print(f"{name}: model {choice.depth} {choice.interval}, brute force {best}, "
          f"p {fit.p_fail:.4f} {fit.p_interval}")
    assert choice.depth == best
    lo, hi = choice.interval
    assert lo <= best <= hi
    pred = choice.prediction()
    assert pred["rollback_share_low"] <= pred["rollback_share"] <= \
        pred["rollback_share_high"]


# ----------------------------------------------------------------- bad input


def test_bad_input_is_typed():
    r = simulate(BASE, random_workload(0.0), duration=120, seed=1, drain=True)
    with pytest.raises(DataError, match="no rollbacks in .* attempts.*rule of three"):
        fit_rollback(r)
    one = pl.DataFrame({"depth": [2, 2], "trials": [100.0, 100.0],
                        "events": [10.0, 12.0]})
    with pytest.warns(ModelWarning, match="every attempt is at depth 2"):
        fit = fit_rollback(one)
    assert 0 < fit.p_fail < 1
    with pytest.raises(DataError, match="two or more depths"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit_rollback(one, exposure="free")
    with pytest.raises(DataError, match="more rolled-back attempts than attempts"):
        fit_rollback(one.with_columns(events=pl.Series([200.0, 1.0])))
    with pytest.raises(DataError, match="all 200 attempts were rolled back"):
        fit_rollback(one.with_columns(events=pl.col("trials")))
    with pytest.raises(DataError, match="no depth column"):
        fit_rollback(pl.DataFrame({"trials": [1.0]}))
    with pytest.raises(DataError, match="exposure"):
        fit_rollback(one, exposure="linear")
    with pytest.raises(DataError, match="depth label"):
        rollback_observations(pl.DataFrame({"timestamp": [0], "metric": ["m"],
                                            "value": [1.0]}))
    with pytest.raises(DataError, match="failure probability"):
        depth_curve(exec_time=1, proof_time=1, confirm_time=1, p_fail=1.2)
    with pytest.raises(DataError, match="objective"):
        optimal_depth(exec_time=1, proof_time=1, confirm_time=1, p_fail=0.1,
                      objective="cost")


def test_depth_mixture_estimate_from_aggregate_counters():
    p = 0.04
    mix = {0: 300.0, 1: 250.0, 2: 200.0, 4: 100.0}
    share = sum(w * (1 - (1 - p) ** (d + 1)) for d, w in mix.items()) / 850
    est, lo, hi = depth_mixture_p(mix, share * 85_000, 85_000)
    assert est == pytest.approx(p, abs=1e-9) and lo < p < hi


def test_counters_by_depth_feed_the_glm():
    p = 0.05
    rows = []
    for d in range(4):
        trials = 20_000.0
        for ts, k in ((0, 0.0), (60_000, 1.0)):
            rows.append((ts, "speculation_tasks_total", trials * k, str(d)))
            rows.append((ts, "speculation_tasks_rolled_back_total",
                         trials * (1 - (1 - p) ** (d + 1)) * k, str(d)))
    samples = pl.DataFrame(rows, schema={"timestamp": pl.Int64, "metric": pl.String,
                                         "value": pl.Float64, "depth": pl.String},
                           orient="row")
    assert fit_rollback(samples).p_fail == pytest.approx(p, abs=1e-9)


# ----------------------------------------------------------------- protocol


def test_protocol_and_prediction_hook():
    import holoviews as hv

    r = simulate(BASE, random_workload(0.05), duration=600, seed=4, drain=True)
    fit = fit_rollback(r)
    t = fit.tidy()
    assert t.columns == ["term", "estimate", "std_error", "ci_low", "ci_high"]
    assert t["term"].to_list() == ["p_fail", "cloglog_intercept", "log_exposure"]
    assert "per-attempt failure probability" in fit.summary()
    assert "<table>" in fit._repr_html_()
    f = fit.plot_frame()
    assert (f["obs_low"] <= f["observed"]).all() and (f["observed"] <= f["obs_high"]).all()
    assert hv.render(fit.plot(), backend="bokeh") is not None
    pred = fit.predict_at_depth(3, exec_time=1.0, proof_time=1.5, confirm_time=0.75,
                                chain_length="uniform:1-8", samples=400)
    for key in ("rollback_share", "latency_s", "effective_tps"):
        assert pred[f"{key}_low"] <= pred[key] <= pred[f"{key}_high"]
    choice = optimal_depth(exec_time=1.0, proof_time=2.35, confirm_time=0.7,
                           p_fail=0.1, p_interval=(0.08, 0.12), chain_length=10,
                           depths=range(1, 7), samples=500)
    assert "Recommended max_depth" in choice.summary()
    assert choice.tidy()["term"].to_list()[0] == "max_depth"
    pf = choice.plot_frame()
    assert set(pf["metric"]) == {"rollback_share", "latency_s", "effective_tps"}
    assert hv.render(choice.plot(), backend="bokeh") is not None
    assert "<table>" in choice._repr_html_()
    assert choice.predict([1, 2]).height == 2
    br = blast_radius(r)
    assert "Blast radius" in br.summary() and "<table>" in br._repr_html_()
    assert hv.render(br.plot(), backend="bokeh") is not None
    assert predict_at_depth(1, exec_time=1, proof_time=1, confirm_time=1, p_fail=0.0,
                            chain_length=3, samples=10)["latency_s"] == 9.0
    assert math.isfinite(fit.deviance)


def test_event_rate_from_benchmark_results_covers_the_injected_share():
    from specanalysis.fixtures import fixtures_dir
    from specanalysis.models.rollback import rollback_from_bench

    # the deep-chain runs of the bundled suite: 1 % background invalid proofs
    # (fixtures/README.md), provers not overloaded (no auto-disable)
    est = rollback_from_bench(fixtures_dir() / "bench" / "baseline", test="deep_chain")
    assert est["method"] == "event_rate" and len(est["runs"]) == 3
    assert est["p_low"] <= 0.01 <= est["p_high"]
    with pytest.raises(DataError, match="no benchmark result"):
        rollback_from_bench(fixtures_dir() / "bench" / "baseline", test="nope")


def test_a_depth_that_would_trip_auto_disable_is_flagged():
    # p = 0.3 at depth 4: 1 - 0.7^k of attempts undone, far above 20 %
    c = optimal_depth(exec_time=1.0, proof_time=2.35, confirm_time=0.7, p_fail=0.3,
                      chain_length=10, depths=[4], samples=200)
    assert c.prediction()["rollback_share"] > 0.2
    assert "20 % auto-disable" in c.summary()
    calm = optimal_depth(exec_time=1.0, proof_time=2.35, confirm_time=0.7,
                         p_fail=0.01, chain_length=10, depths=[2], samples=200)
    assert "auto-disable (runtime" not in calm.summary()
