"""Benchmark the depth models (specanalysis.models).

Prints, each against a named baseline on the same input in the same run:

1. ``fit_latency`` (OLS, HC3 and cluster-robust) on 10^6 per-task observations
   vs a bare ``statsmodels.OLS(...).fit(cov_type=...)`` on the same numpy arrays;
2. ``fit_rollback`` (binomial GLM, cloglog, cluster-robust) on 10^6 attempts vs a
   bare ``statsmodels.GLM`` on the per-attempt Bernoulli arrays (the package
   aggregates attempts to one row per chain and depth first);
3. ``fit_latency(estimator="quantile")`` for p50/p90/p99 on its documented
   subsample (``quantile_max`` = 200 000 of the 10^6 rows) vs a bare
   ``statsmodels.QuantReg`` at p99 on the same subsample;
4. the analytic pipeline on a 10^4-task random DAG (exact times, both modes)
   vs simulating the same DAG once (``simulate`` with ``shape="dag"``).

Targets (issue 8): OLS and GLM fits of 10^6 observations under 5 s on 2 cores;
the pipeline on a 10^4-task DAG under 1 s.

Times are process CPU seconds (all threads), best of the repeats.

Run ``python benchmarks/bench_models.py``.
"""

from __future__ import annotations

import time

import numpy as np
import polars as pl

N_OBS = 1_000_000
N_DAG = 10_000
TARGET_FIT_S = 5.0
TARGET_DAG_S = 1.0


def timed(fn, repeat: int = 1):
    """Best process CPU seconds over ``repeat`` calls (all threads; on a shared,
    loaded machine wall time measures the neighbours), and the last result."""
    best = float("inf")
    out = None
    for _ in range(repeat):
        t0 = time.process_time()
        out = fn()
        best = min(best, time.process_time() - t0)
    return best, out


def latency_frame(seed: int = 0) -> pl.DataFrame:
    """10^6 per-task rows of chains of 1..8 tasks: L = 2 + 2.5 n + noise."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 9, N_OBS // 4)
    pos = np.concatenate([np.arange(k) for k in lengths])[:N_OBS]
    chain = np.repeat(np.arange(len(lengths)), lengths)[:N_OBS]
    n = pos + 1.0
    lat = 2.0 + 2.5 * n + rng.normal(0, 0.3 * np.sqrt(n))
    return pl.DataFrame({"n": n, "latency_s": lat, "chain_id": chain})


def rollback_frame(seed: int = 1) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    depth = rng.integers(0, 8, N_OBS)
    chain = np.arange(N_OBS) // 4
    p = 1 - (1 - 0.05) ** (depth + 1)
    return pl.DataFrame({"depth": depth, "rolled_back": rng.random(N_OBS) < p,
                         "chain_id": chain})


def bench_ols() -> list[dict]:
    import statsmodels.api as sm

    from specanalysis.models.latency import fit_latency

    f = latency_frame()
    X = np.column_stack([np.ones(f.height), f["n"].to_numpy()])
    y = f["latency_s"].to_numpy()
    g = f["chain_id"].to_numpy()
    rows = []
    for cov, kw in (("HC3", {"cov_type": "HC3"}),
                    ("cluster", {"cov_type": "cluster", "cov_kwds": {"groups": g}})):
        t_pkg, _ = timed(lambda cov=cov: fit_latency(
            f.drop("chain_id") if cov == "HC3" else f, cov_type=cov))
        t_sm, _ = timed(lambda kw=kw: sm.OLS(y, X).fit(**kw))
        rows.append({"what": f"fit_latency OLS {cov}, 1e6 rows", "seconds": t_pkg,
                     "baseline": "bare statsmodels OLS", "baseline_s": t_sm})
    return rows


def bench_glm() -> dict:
    import statsmodels.api as sm

    from specanalysis.models.rollback import fit_rollback

    f = rollback_frame()
    t_pkg, fit = timed(lambda: fit_rollback(f))
    y = f["rolled_back"].cast(pl.Float64).to_numpy()
    off = np.log(f["depth"].to_numpy() + 1.0)
    fam = sm.families.Binomial(link=sm.families.links.CLogLog())
    t_sm, _ = timed(lambda: sm.GLM(y, np.ones((len(y), 1)), family=fam, offset=off)
                    .fit(cov_type="cluster",
                         cov_kwds={"groups": f["chain_id"].to_numpy()}))
    return {"what": f"fit_rollback GLM cloglog cluster, 1e6 attempts (p = "
            f"{fit.p_fail:.4f})", "seconds": t_pkg,
            "baseline": "bare statsmodels GLM on 1e6 Bernoulli rows", "baseline_s": t_sm}


def bench_quantile() -> dict:
    import statsmodels.api as sm

    from specanalysis.models.latency import fit_latency

    f = latency_frame().drop("chain_id")
    t_pkg, _ = timed(lambda: fit_latency(f, estimator="quantile"))
    sub = f.sample(200_000, seed=0)
    X = np.column_stack([np.ones(sub.height), sub["n"].to_numpy()])
    t_sm, _ = timed(lambda: sm.QuantReg(sub["latency_s"].to_numpy(), X).fit(q=0.99))
    return {"what": "fit_latency quantile p50/p90/p99 (2e5-row subsample of 1e6)",
            "seconds": t_pkg, "baseline": "bare statsmodels QuantReg p99 on 2e5 rows",
            "baseline_s": t_sm}


def bench_pipeline() -> dict:
    from specanalysis.config import SpeculationConfig
    from specanalysis.models.pipeline import TaskGraph, pipeline
    from specanalysis.sim import Workload, simulate

    g = TaskGraph.random(N_DAG, max_parents=3, window=20, seed=0)
    t_model, m = timed(lambda: pipeline(g, 1.0, 2.35, 0.7), repeat=3)
    cfg = SpeculationConfig(enabled=True, max_depth=20, max_parallel_branches=16,
                            confirmation_timeout_ms=300_000).replace(**{
        "proof.worker_threads": 32, "proof.batch_size": 1,
        "proof.timeout_ms": 600_000, "limits.max_rollback_cascade_size": 10_000,
        "limits.max_pending_operations": 1_000_000,
        "limits.max_state_snapshots": 10_000})
    w = Workload(rate=N_DAG / 1000.0, shape="dag", graph=[list(p) for p in g.parents],
                 arrivals="regular", exec_time="fixed:1s", proof_time="fixed:2.35s",
                 confirm_time="fixed:0.7s", proof_overhead="fixed:0s", state_mb=0)
    t_sim, r = timed(lambda: simulate(cfg, w, duration=1, seed=0, drain=True,
                                      progress=False))
    agree = abs(r.chains["latency_s"].item() - m.latency_speculative) < 1e-6
    return {"what": f"pipeline() exact, {N_DAG}-task DAG ({g.n_edges} edges, "
            f"simulator agrees: {agree})", "seconds": t_model,
            "baseline": "simulate() the same DAG once", "baseline_s": t_sim}


def main() -> None:
    rows = [*bench_ols(), bench_glm(), bench_quantile(), bench_pipeline()]
    print("CPU seconds (process time, all threads)")
    print(f"{'what':<78} {'s':>8} {'baseline s':>11} {'ratio':>7}  baseline")
    for r in rows:
        ratio = r["seconds"] / r["baseline_s"]
        print(f"{r['what']:<78} {r['seconds']:8.3f} {r['baseline_s']:11.3f} "
              f"{ratio:7.2f}  {r['baseline']}")
    print(f"\ntargets: OLS/GLM fits of 1e6 rows < {TARGET_FIT_S:g} s; pipeline on a "
          f"{N_DAG}-task DAG < {TARGET_DAG_S:g} s (ratios > 1: slower than the "
          "baseline; the package adds diagnostics, aggregation and validation)")


if __name__ == "__main__":
    main()
