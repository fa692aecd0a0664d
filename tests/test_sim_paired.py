"""Paired predictions: intervals against scipy, verdicts against known effects."""

from __future__ import annotations

import numpy as np
import pytest

from specanalysis.config import SpeculationConfig
from specanalysis.sim import Workload
from specanalysis.sim.paired import paired_interval, predict_change
from specanalysis.sim.scenarios import SCENARIO_WORKLOADS, STRESS_CASES, reference_cases


def test_paired_interval_is_scipys_paired_t_interval():
    from scipy import stats

    rng = np.random.default_rng(4)
    for _ in range(20):
        a = rng.lognormal(1, 0.3, 6)
        b = a * rng.lognormal(0.05, 0.1, 6)
        eff, lo, hi, n = paired_interval(a, b, 0.9)
        scale = a.mean()
        ci = stats.ttest_rel(b / scale, a / scale).confidence_interval(0.9)
        assert n == 6
        assert eff == pytest.approx((b - a).mean() / scale, rel=1e-12)
        assert (lo, hi) == pytest.approx((ci.low, ci.high), rel=1e-9)


def test_paired_interval_skips_undefined_pairs():
    eff, lo, hi, n = paired_interval([1.0, np.nan, 2.0], [1.5, 3.0, np.nan])
    assert n == 1 and eff == pytest.approx(0.5) and np.isnan(lo)


def test_a_change_that_does_not_bind_is_exactly_nothing():
    cfg = SpeculationConfig(enabled=True)
    wl = Workload(rate=1, depth="fixed:2")
    pred = predict_change(cfg, cfg.replace(max_depth=10), wl, seeds=3, duration="2m",
                          warmup="20s")
    assert set(pred.effects["verdict"]) <= {"within noise", "undefined"}
    assert (pred.effects["effect_pct"].drop_nulls() == 0).all()
    assert pred.changes == {"speculation.max_depth": ("5", "10")}


def test_verdicts_follow_the_direction_of_each_figure():
    # more branches on a branch-bound workload: latency better, memory worse
    cur = SpeculationConfig(enabled=True, max_parallel_branches=2)
    pred = predict_change(cur, cur.replace(max_parallel_branches=16),
                          Workload(rate=6, depth="uniform:2-6"), seeds=3,
                          duration="3m", warmup="30s")
    assert pred.verdict("latency_p50_s") == "better"
    assert pred.verdict("memory_peak_mb") == "worse"
    assert "memory_peak_mb" in pred.worse()
    assert "peak memory" in pred.summary()
    assert "<table>" in pred._repr_html_()


def test_reference_cases_cover_the_scenarios_and_stress_situations():
    from specanalysis.config import SCENARIOS

    cases = reference_cases()
    assert set(SCENARIO_WORKLOADS) == set(SCENARIOS)
    assert set(cases) == set(SCENARIOS) | set(STRESS_CASES)
    assert cases["low-latency-trading"].config == SCENARIOS["low-latency-trading"].config
    # the burst case is the guide's burst test pattern
    assert STRESS_CASES["burst"].workload.pattern == "burst:10x:30s:every:2m"
