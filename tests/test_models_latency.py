"""Latency against depth (specanalysis.models.latency).

Truth: the simulator with known times (fixed: exact; random: over seeds), the
recurrence's closed forms and pace (runtime-facts §4), empirical quantiles.
"""

from __future__ import annotations

import json
import math

import numpy as np
import polars as pl
import pytest

from specanalysis.config import SpeculationConfig
from specanalysis.errors import DataError
from specanalysis.models.latency import fit_latency, latency_observations
from specanalysis.models.pipeline import pace
from specanalysis.sim import Workload, simulate

IDEAL = SpeculationConfig(enabled=True, max_depth=20, max_parallel_branches=16,
                          confirmation_timeout_ms=300_000).replace(**{
    "proof.worker_threads": 32, "proof.batch_size": 1, "proof.timeout_ms": 600_000,
})
SEQ = IDEAL.replace(enabled=False)


def workload(te, tp, tc, depth="uniform:1-8", rate=1.0, **kw):
    return Workload(rate=rate, depth=depth, exec_time=te, proof_time=tp,
                    proof_overhead="fixed:0s", confirm_time=tc, state_mb=0, **kw)


def runs(w, seed, duration=300, cfg=IDEAL):
    return [simulate(cfg, w, duration=duration, seed=seed, drain=True),
            simulate(cfg.replace(enabled=False), w, duration=duration, seed=seed,
                     drain=True)]


def term(tidy, name, mode="speculative", quantile=None):
    f = tidy.filter(pl.col("term") == name, pl.col("mode") == mode)
    if quantile is not None:
        f = f.filter(pl.col("quantile") == quantile)
    return f.row(0, named=True)


# ----------------------------------------------------------------- exact recovery

FIXED = [(2.5, 1.0, 1.0), (0.4, 1.3, 1.1), (1.0, 5.0, 1.0)]


@pytest.mark.parametrize(("te", "tp", "tc"), FIXED)
@pytest.mark.parametrize("unit", ["chain", "task"])
@pytest.mark.parametrize("estimator", ["ols", "robust", "quantile"])
def test_fixed_times_recover_the_recurrence_to_1e_6(te, tp, tc, unit, estimator):
    w = workload(f"fixed:{te}s", f"fixed:{tp}s", f"fixed:{tc}s")
    fit = fit_latency(runs(w, seed=3), unit=unit, estimator=estimator)
    t = fit.tidy()
    qs = (None,) if estimator != "quantile" else (0.5, 0.9, 0.99)
    for q in qs:
        assert term(t, "intercept", quantile=q)["estimate"] == pytest.approx(
            tp + min(te, tc), abs=1e-6)
        assert term(t, "per_task", quantile=q)["estimate"] == pytest.approx(
            max(te, tc), abs=1e-6)
        assert term(t, "intercept", "sequential", q)["estimate"] == pytest.approx(
            0.0, abs=1e-6)
        assert term(t, "per_task", "sequential", q)["estimate"] == pytest.approx(
            te + tp + tc, abs=1e-6)
        asym = term(t, "speedup_asymptote", "both", q)["estimate"]
        assert asym == pytest.approx((te + tp + tc) / max(te, tc), abs=1e-6)
    assert fit.speedup(8)["speedup"].item() == pytest.approx(
        8 * (te + tp + tc) / (tp + tc + max(8 * te, te + 7 * tc)), abs=1e-6)
    # the recurrence's prediction from measured component times agrees
    assert term(t, "recurrence_per_task", "measured")["estimate"] == pytest.approx(
        max(te, tc), abs=1e-9)
    regime = "execution" if te >= tc else "confirmation"
    assert any(f"{regime}-bound" in n for n in fit.notes)


@pytest.mark.parametrize(("te", "tp", "tc", "depth"), [(1.0, 2.0, 0.5, 3),
                                                       (0.5, 3.0, 1.0, 3),
                                                       (0.3, 2.0, 0.4, 4)])
def test_depth_limit_breakpoint_gives_the_pace(te, tp, tc, depth):
    cfg = IDEAL.replace(max_depth=depth)
    w = workload(f"fixed:{te}s", f"fixed:{tp}s", f"fixed:{tc}s", depth="uniform:1-24",
                 rate=1.5)
    r = simulate(cfg, w, duration=600, seed=2, drain=True)
    fit = fit_latency(r, breakpoint="max_depth")
    after = term(fit.tidy(), "per_task_after")["estimate"]
    # the staircase beyond the limit climbs at the analytic pace on average
    assert after == pytest.approx(pace(te, tp, tc, depth), rel=0.02)
    assert term(fit.tidy(), "breakpoint_n")["estimate"] == depth
    assert any("depth-bound" in n for n in fit.notes)


# ----------------------------------------------------------------- coverage


def coverage(cases, seeds, make):
    hits = dict.fromkeys(cases, 0)
    for seed in range(seeds):
        t = make(seed).tidy()
        for (name, mode), truth in cases.items():
            row = term(t, name, mode)
            hits[(name, mode)] += row["ci_low"] <= truth <= row["ci_high"]
    return {k: v / seeds for k, v in hits.items()}


@pytest.mark.slow
def test_intervals_cover_true_parameters_execution_bound():
    # Te in [2, 3] >= Tc in [0.5, 1.5] and Tp in [0.8, 1.2] so no task waits:
    # L_spec(n) = sum Te + Tp_n + Tc_n (mean 2 + 2.5 n); L_seq(n) = n * 4.5
    w = workload("uniform:2s-3s", "uniform:0.8s-1.2s", "uniform:0.5s-1.5s")
    truth = {("intercept", "speculative"): 2.0, ("per_task", "speculative"): 2.5,
             ("intercept", "sequential"): 0.0, ("per_task", "sequential"): 4.5,
             ("speedup_asymptote", "both"): 1.8}
    rates = coverage(truth, 200, lambda s: fit_latency(runs(w, s, duration=240)))
    print("coverage (execution-bound):", rates)
    for k, rate in rates.items():
        assert 0.90 <= rate <= 0.98, (k, rate)


@pytest.mark.slow
def test_intervals_cover_true_parameters_confirmation_bound_per_task():
    # Tc in [1, 1.5] > Te in [0.2, 0.4], Tp fixed: L_i = Te_1 + Tp + sum Tc
    # (intercept Tp + E Te = 1.3, per_task E Tc = 1.25); per-task rows share
    # chains, so the fit clusters by chain
    w = workload("uniform:0.2s-0.4s", "fixed:1s", "uniform:1s-1.5s")
    truth = {("intercept", "speculative"): 1.3, ("per_task", "speculative"): 1.25}
    rates = coverage(truth, 200, lambda s: fit_latency(
        simulate(IDEAL, w, duration=240, seed=s, drain=True), unit="task"))
    print("coverage (confirmation-bound, per task, cluster):", rates)
    for k, rate in rates.items():
        assert 0.90 <= rate <= 0.98, (k, rate)


def test_interval_holds_the_truth_in_one_large_run():
    w = workload("uniform:2s-3s", "uniform:0.8s-1.2s", "uniform:0.5s-1.5s")
    fit = fit_latency(runs(w, 11, duration=1200))
    t = fit.tidy()
    for name, mode, truth in (("per_task", "speculative", 2.5),
                              ("per_task", "sequential", 4.5),
                              ("speedup_asymptote", "both", 1.8)):
        row = term(t, name, mode)
        assert row["ci_low"] <= truth <= row["ci_high"]
        assert row["ci_high"] - row["ci_low"] < 0.25 * truth
    sp = fit.speedup([4])
    true = 4 * 4.5 / (2 + 2.5 * 4)
    assert sp["ci_low"].item() <= true <= sp["ci_high"].item()


# ----------------------------------------------------------------- quantiles, robust


def test_quantile_lines_recover_the_tail_of_a_location_model():
    # Te, Tp fixed, Tc uniform(0.5, 1.5) <= Te: L(n) = n Te + Tp + Tc, so the
    # q-quantile line is n * 2 + 1 + (0.5 + q): intercept 1.5 + q, slope 2
    w = workload("fixed:2s", "fixed:1s", "uniform:0.5s-1.5s", rate=4.0)
    r = simulate(IDEAL, w, duration=1500, seed=5, drain=True)
    fit = fit_latency(r, estimator="quantile", quantiles=(0.5, 0.9, 0.99))
    t = fit.tidy()
    for q in (0.5, 0.9, 0.99):
        a = term(t, "intercept", quantile=q)
        b = term(t, "per_task", quantile=q)
        assert a["estimate"] == pytest.approx(1.5 + q, abs=0.05)
        assert b["estimate"] == pytest.approx(2.0, abs=0.01)
        assert a["ci_low"] - 0.02 <= 1.5 + q <= a["ci_high"] + 0.02
    # the p99 line against the empirical p99 at each n
    emp = fit.observed_frame()
    pred = fit.predict(emp["n"].to_list()).filter(pl.col("quantile") == 0.99)
    assert np.allclose(pred["estimate"].to_numpy(), emp["p99"].to_numpy(), atol=0.05)


def test_robust_estimator_resists_outliers():
    w = workload("uniform:2s-3s", "uniform:0.8s-1.2s", "uniform:0.5s-1.5s", rate=2.0)
    r = simulate(IDEAL, w, duration=1200, seed=8, drain=True)
    obs = latency_observations(r)
    rng = np.random.default_rng(0)
    bad = rng.random(obs.height) < 0.05
    dirty = obs.with_columns(latency_s=pl.Series(np.where(
        bad, obs["latency_s"].to_numpy() * 10, obs["latency_s"].to_numpy())))
    ols = term(fit_latency(dirty).tidy(), "per_task")["estimate"]
    rob = term(fit_latency(dirty, estimator="robust").tidy(), "per_task")["estimate"]
    assert abs(rob - 2.5) < 0.15 < abs(ols - 2.5)


# ----------------------------------------------------------------- other sources


def test_depth_labelled_histogram_gives_the_per_task_point_estimates():
    w = workload("uniform:2s-3s", "uniform:0.8s-1.2s", "uniform:0.5s-1.5s")
    r = simulate(IDEAL, w, duration=600, seed=4, drain=True)
    per_task = fit_latency(r, unit="task")
    # a cumulative _sum/_count pair per depth, scraped twice, as the runtime
    # would expose speculation_e2e_latency_ms by depth
    t = r.tasks.filter(pl.col("outcome") == "confirmed")
    agg = t.group_by("position").agg(pl.len().alias("c"),
                                     pl.col("latency_s").sum().alias("s"))
    rows = []
    for pos, c, s in agg.iter_rows():
        for ts, k in ((0, 0.0), (60_000, 1.0)):
            rows.append((ts, "speculation_e2e_latency_ms_count", c * k, str(pos)))
            rows.append((ts, "speculation_e2e_latency_ms_sum", s * 1000 * k, str(pos)))
    samples = pl.DataFrame(rows, schema={"timestamp": pl.Int64, "metric": pl.String,
                                         "value": pl.Float64, "depth": pl.String},
                           orient="row").with_columns(
        pl.col("timestamp").cast(pl.Datetime("ms", "UTC")))
    hist = fit_latency(samples)
    for name in ("intercept", "per_task"):
        assert term(hist.tidy(), name)["estimate"] == pytest.approx(
            term(per_task.tidy(), name)["estimate"], rel=1e-9)
    # the same through a source's query engine (increase() by depth over a window)
    from specanalysis.models.latency import latency_from_source
    from specanalysis.sources.offline import OfflineSource

    more = pl.concat([samples, samples.filter(pl.col("timestamp") == pl.col(
        "timestamp").max()).with_columns(pl.col("timestamp") + pl.duration(seconds=60))])
    via = fit_latency(latency_from_source(OfflineSource(more), window="2m"))
    for name in ("intercept", "per_task"):
        assert term(via.tidy(), name)["estimate"] == pytest.approx(
            term(per_task.tidy(), name)["estimate"], rel=1e-9)


def test_benchmark_result_directory(tmp_path):
    from specanalysis.fixtures import fixtures_dir
    from specanalysis.sim.workload import parse_depth

    d = fixtures_dir() / "bench" / "baseline"
    obs = latency_observations(d)
    files = sorted(d.glob("*.json"))
    docs = [x for x in (json.loads(f.read_text()) for f in files)
            if x["kind"] == "specanalysis.bench_result"]
    want = sorted(parse_depth(x["parameters"]["depth_distribution"]).mean for x in docs
                  if x["summary"].get("chain_latency_p50_s") is not None)
    assert sorted(obs["n"].to_list()) == pytest.approx(want)
    fit = fit_latency(d)
    assert term(fit.tidy(), "per_task")["estimate"] > 0


# ----------------------------------------------------------------- bad input


def test_bad_input_is_typed_and_names_what_is_missing():
    ok = pl.DataFrame({"n": [1, 2, 3, 4], "latency_s": [1.0, 2.1, 2.9, 4.2]})
    with pytest.raises(DataError, match=r"2 speculative observation\(s\) for 2 terms"):
        fit_latency(ok.head(2))
    with pytest.raises(DataError, match="every speculative observation is at n = 2"):
        fit_latency(pl.DataFrame({"n": [2] * 5, "latency_s": [1.0, 2, 3, 4, 5]}))
    with pytest.raises(DataError, match=r"1 latency value\(s\) are NaN.*row 2"):
        fit_latency(ok.with_columns(latency_s=pl.Series([1.0, 2.0, math.nan, 4.0])))
    with pytest.raises(DataError, match="null"):
        fit_latency(ok.with_columns(latency_s=pl.Series([1.0, None, 3.0, 4.0])))
    with pytest.raises(DataError, match="estimator"):
        fit_latency(ok, estimator="lasso")
    with pytest.raises(DataError, match="no depth column"):
        fit_latency(ok.rename({"n": "x"}))
    with pytest.raises(DataError, match="no latency_s"):
        fit_latency(ok.rename({"latency_s": "y"}))
    with pytest.raises(DataError, match="outside the data"):
        fit_latency(ok, breakpoint=9)
    with pytest.raises(DataError, match="quantiles"):
        fit_latency(ok, estimator="quantile", quantiles=(0.5, 1.5))
    with pytest.raises(DataError, match="mode"):
        fit_latency(ok.with_columns(mode=pl.lit("fast")))
    with pytest.raises(DataError, match="latency histograms labelled by depth"):
        fit_latency(pl.DataFrame({"timestamp": [0], "metric": ["x"], "value": [1.0],
                                  "depth": ["1"]}))


# ----------------------------------------------------------------- protocol


def test_result_protocol_and_diagnostics():
    import holoviews as hv

    w = workload("uniform:2s-3s", "uniform:0.8s-1.2s", "uniform:0.5s-1.5s", rate=3.0)
    fit = fit_latency(runs(w, 1, duration=900))
    t = fit.tidy()
    assert t.columns[:5] == ["term", "estimate", "std_error", "ci_low", "ci_high"]
    assert (t["ci_low"] <= t["estimate"]).all() and (t["estimate"] <= t["ci_high"]).all()
    text = fit.summary()
    assert "L(n) = intercept + per_task * n" in text and "execution-bound" in text
    assert "<table>" in fit._repr_html_()
    p = fit.predict(pl.DataFrame({"n": [1.0, 5.0], "mode": ["speculative"] * 2}))
    assert p.columns[:8] == ["n", "mode", "quantile", "estimate", "std_error", "ci_low",
                             "ci_high", "pi_low"]
    assert (p["pi_low"] < p["ci_low"]).all()
    res = fit.residuals()
    assert res.height == fit.observations.height
    assert abs(res["resid"].mean()) < 1e-6  # OLS residuals average zero
    diag = fit.diagnostics()
    seq = diag.filter(pl.col("mode") == "sequential").row(0, named=True)
    # variance of a sum of n draws grows with n: Breusch-Pagan sees it
    assert seq["breusch_pagan_p"] < 0.05
    assert fit.cov_type == "HC3"
    pf = fit.plot_frame()
    assert set(pf["mode"]) == {"speculative", "sequential"} and pf.height == 100
    assert hv.render(fit.plot(), backend="bokeh") is not None
    assert hv.render(fit.plot_residuals(), backend="bokeh") is not None


def test_statsmodels_stays_lazy():
    import subprocess
    import sys

    code = ("import sys; import specanalysis.models.latency, specanalysis.models.rollback,"
            " specanalysis.models.pipeline; "
            "print([m for m in ('statsmodels', 'pandas', 'hvplot') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_breusch_pagan_matches_statsmodels():
    from statsmodels.stats.diagnostic import het_breuschpagan

    from specanalysis.models._sm import _breusch_pagan

    rng = np.random.default_rng(0)
    x = rng.integers(1, 9, 3000).astype(float)
    X = np.column_stack([np.ones_like(x), x])
    for s in (0.0, 0.2):
        e = rng.normal(0, 1 + s * x)
        assert _breusch_pagan(e, X) == pytest.approx(het_breuschpagan(e, X)[1],
                                                     rel=1e-9, abs=1e-300)
