"""Workload spec parsing and seeded sampling (specanalysis.sim.workload)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from specanalysis.errors import WorkloadSpecError
from specanalysis.sim.workload import (
    Workload,
    arrival_times,
    parse_depth,
    parse_distribution,
    parse_pattern,
)


@pytest.mark.parametrize(
    ("spec", "mean", "cv"),
    [
        ("fixed:2s", 2.0, 0.0),
        ("2s", 2.0, 0.0),
        (0.5, 0.5, 0.0),
        ("exponential:mean=2s", 2.0, 1.0),
        ("lognormal:mean=2s,cv=0.5", 2.0, 0.5),
        ("gamma:mean=500ms,cv=0.3", 0.5, 0.3),
        ("uniform:1s-3s", 2.0, (2 / math.sqrt(12)) / 2.0),
        ("normal:mean=2s,sd=200ms", 2.0, 0.1),
    ],
)
def test_distribution_moments_match_spec(spec, mean, cv):
    d = parse_distribution(spec)
    assert d.mean == pytest.approx(mean)
    x = d.sample(np.random.default_rng(1), 200_000)
    assert (x >= 0).all()
    assert x.mean() == pytest.approx(mean, rel=0.01)
    assert x.std() / x.mean() == pytest.approx(cv, abs=0.01)


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("weibull:shape=2", "unknown distribution 'weibull'"),
        ("lognormal:mean=2s", "lacks cv"),
        ("lognormal:mean=2s,cv=x", "'x'"),
        ("lognormal:mean=-2s,cv=0.5", "not a positive duration"),
        ("lognormal:mean=2s,sd=1", "unknown parameter 'sd'"),
        ("uniform:3s-1s", "reversed"),
        ("fixed:soon", "not a positive duration"),
    ],
)
def test_bad_distribution_names_field(spec, fragment):
    with pytest.raises(WorkloadSpecError) as err:
        parse_distribution(spec, field="proof_time")
    assert err.value.field == "proof_time"
    assert fragment in str(err.value)


def test_depth_specs():
    assert parse_depth("uniform:1-5").values == (1, 2, 3, 4, 5)
    assert parse_depth("uniform:1-5").mean == 3.0
    assert parse_depth("fixed:8").mean == 8.0
    d = parse_depth("choice:1=0.5,3=0.25,8=0.25")
    assert d.mean == pytest.approx(0.5 + 0.75 + 2.0)
    x = d.sample(np.random.default_rng(0), 100_000)
    assert set(np.unique(x)) == {1, 3, 8}
    assert (x == 1).mean() == pytest.approx(0.5, abs=0.01)
    assert parse_depth({2: 1, 4: 1}).mean == 3.0


@pytest.mark.parametrize("spec", ["uniform:5-1", "fixed:0", "fixed:x", "zipf:2",
                                  "choice:1=-1", {0: 1.0}])
def test_bad_depth(spec):
    with pytest.raises(WorkloadSpecError) as err:
        Workload(depth=spec)
    assert err.value.field == "depth"


def test_burst_pattern_segments_and_mean():
    p = parse_pattern("burst:10x:30s:every:2m")
    # 90 s at 1x then 30 s at 10x: mean (90 + 300) / 120
    assert p.mean_multiplier == pytest.approx(390 / 120)
    segs = p.segments(600)
    assert sum(b - a for a, b, m in segs if m == 10) == pytest.approx(150)
    early = parse_pattern("burst:10x:30s:every:2m:at:0s")
    assert early.segments(120) == [(0.0, 30.0, 10.0), (30.0, 120.0, 1.0)]
    pw = parse_pattern("piecewise:60s@1x,30s@20x")
    assert pw.period_s == 90 and pw.mean_multiplier == pytest.approx((60 + 600) / 90)


@pytest.mark.parametrize("spec", ["burst:10x:3m:every:2m", "sometimes", "burst:x:1s:every:2s"])
def test_bad_pattern(spec):
    with pytest.raises(WorkloadSpecError) as err:
        Workload(pattern=spec)
    assert err.value.field == "pattern"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"rate": -1}, "rate"), ({"rate": 0}, "rate"), ({"rate": "fast"}, "rate"),
     ({"failures": 1.5}, "failures"), ({"exec_time": "gauss:1"}, "exec_time"),
     ({"confirm_time": "lognormal:cv=1"}, "confirm_time"), ({"shape": "ring"}, "shape")],
)
def test_workload_errors_name_the_field(kwargs, field):
    with pytest.raises(WorkloadSpecError) as err:
        Workload(**kwargs)
    assert err.value.field == field
    assert field in str(err.value)


def test_poisson_arrivals_follow_pattern_and_seed():
    w = Workload(rate=30, depth="fixed:3", pattern="burst:10x:30s:every:2m")
    a = arrival_times(w, 1200, np.random.default_rng(7))
    b = arrival_times(w, 1200, np.random.default_rng(7))
    assert np.array_equal(a, b)
    assert (np.diff(a) >= 0).all() and a.min() >= 0 and a.max() < 1200
    # chains per second: 10/s baseline, 100/s in bursts
    in_burst = ((a % 120) >= 90).sum() / (10 * 30)
    base = ((a % 120) < 90).sum() / (10 * 90)
    assert in_burst == pytest.approx(100, rel=0.05)
    assert base == pytest.approx(10, rel=0.05)


def test_regular_arrivals_are_evenly_spaced():
    w = Workload(rate=4, depth="fixed:2", arrivals="regular")
    assert arrival_times(w, 3, np.random.default_rng(0)).tolist() == [
        0.0, 0.5, 1.0, 1.5, 2.0, 2.5]


def test_custom_distribution_object_is_accepted():
    class Const:
        mean = 0.25

        def sample(self, rng, n):
            return np.full(n, 0.25)

    w = Workload(proof_time=Const())
    assert w.dist("proof_time").mean == 0.25
