"""OfflineSource: Prometheus semantics checked against hand-computed values.

Expected numbers come from working the algorithms of
reference/prometheus-semantics.md §3 by hand (shown in comments), plus a
straightforward per-step re-implementation for randomised data.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone

import numpy as np
import polars as pl
import pytest

from specanalysis import query as q
from specanalysis.errors import DataError, QueryError, SchemaError
from specanalysis.sources.offline import OfflineSource

T0 = 1735689600  # 2025-01-01T00:00:00Z


def frame(rows: list[tuple]) -> pl.DataFrame:
    """rows: (seconds after T0, metric, value[, {labels}])."""
    labels = sorted({k for r in rows if len(r) > 3 for k in r[3]})
    data = {
        "timestamp": [datetime.fromtimestamp(T0 + r[0], tz=timezone.utc) for r in rows],
        "metric": [r[1] for r in rows],
        "value": [float(r[2]) for r in rows],
    }
    for lab in labels:
        data[lab] = [(r[3] if len(r) > 3 else {}).get(lab) for r in rows]
    return pl.DataFrame(data, schema={"timestamp": pl.Datetime("ms", "UTC"),
                                      "metric": pl.String, "value": pl.Float64,
                                      **dict.fromkeys(labels, pl.String)})


def series(name: str, points: list[tuple[float, float]], **labels) -> list[tuple]:
    return [(t, name, v, labels) for t, v in points]


def at(src: OfflineSource, expr: q.Expr, t: float) -> list[float]:
    return src.evaluate(expr, T0 + t)["value"].to_list()


def one(src: OfflineSource, expr: q.Expr, t: float) -> float | None:
    vals = at(src, expr, t)
    assert len(vals) <= 1, vals
    return vals[0] if vals else None


C = q.metric("c")


# ------------------------------------------------------------ rate / increase


def test_extrapolation_both_threshold_branches() -> None:
    # samples 10..40 s, values 10..40; window [0, 60] at t=60.
    # dStart=10 < 1.1*avg=11 -> extend 10; dEnd=20 >= 11 -> extend avg/2=5.
    # zero point: 30*10/30 = 10, not shorter. increase = 30 * 45/30 = 45.
    src = OfflineSource(frame(series("c", [(10, 10), (20, 20), (30, 30), (40, 40)])))
    assert one(src, q.increase(C, 60), 60) == pytest.approx(45.0, rel=1e-12)
    assert one(src, q.rate(C, 60), 60) == pytest.approx(0.75, rel=1e-12)
    # both ends within the threshold: at t=45, window [-15, 45]: dStart=25 >= 11
    # -> but zero point 10 < 25 -> dStart=10 < 11 -> +10; dEnd=5 -> +5 => 45 again
    assert one(src, q.increase(C, 60), 45) == pytest.approx(45.0, rel=1e-12)
    # delta has no zero clamp: dStart=25 >= 11 -> +5; dEnd=5 -> +5 => 30*40/30 = 40
    assert one(src, q.delta(C, 60), 45) == pytest.approx(40.0, rel=1e-12)


def test_zero_clamp_only_for_counters() -> None:
    # values 1, 11, 21, 31 at 10..40; at t=60 window 60 s: R=30, zero point
    # 30*1/30 = 1 < dStart=10 -> extend 1, end +5: increase = 30*36/30 = 36
    src = OfflineSource(frame(series("c", [(10, 1), (20, 11), (30, 21), (40, 31)])))
    assert one(src, q.increase(C, 60), 60) == pytest.approx(36.0, rel=1e-12)
    assert one(src, q.delta(C, 60), 60) == pytest.approx(45.0, rel=1e-12)


def test_clamp_order_prom2_vs_prom3() -> None:
    # values 8, 18, 28, 38 at 30..60; at t=60 window 60: dStart=30 >= thr 11,
    # zero point 30*8/30 = 8 (between avg/2=5 and thr=11), dEnd=0.
    # prom2: clamp first -> 8 < 11 -> +8: 30*38/30 = 38
    # prom3: threshold first -> 5, then min(5, 8) = 5: 30*35/30 = 35
    df = frame(series("c", [(30, 8), (40, 18), (50, 28), (60, 38)]))
    assert one(OfflineSource(df), q.increase(C, 60), 60) == pytest.approx(38.0)
    assert one(OfflineSource(df, semantics="prom3"), q.increase(C, 60), 60) == (
        pytest.approx(35.0))


def test_counter_reset() -> None:
    # 5, 10, 2, 6: R = 6-5 + 10 (reset 10 -> 2) = 11; zero point 30*5/11 > 10
    # -> +10 start, +5 end: increase = 11*45/30 = 16.5; delta ignores resets: 1.5
    src = OfflineSource(frame(series("c", [(10, 5), (20, 10), (30, 2), (40, 6)])))
    assert one(src, q.increase(C, 60), 60) == pytest.approx(16.5, rel=1e-12)
    assert one(src, q.delta(C, 60), 60) == pytest.approx(1.5, rel=1e-12)
    # irate on the last pair 2 -> 6 over 10 s; across the reset at t=30: 2/10
    assert one(src, q.irate(C, 60), 40) == pytest.approx(0.4)
    assert one(src, q.irate(C, 60), 30) == pytest.approx(0.2)
    # two resets in one window, one outside it
    pts = [(0, 50), (10, 1), (20, 5), (30, 3), (40, 4), (50, 9)]
    src = OfflineSource(frame(series("c", pts)))
    # window [10, 50] at t=50: 1,5,3,4,9 -> R = 8 + 5 = 13, no extrapolation
    # (dStart=0 -> zero clamp min(0, 40*1/13)=0; dEnd=0): 13
    assert one(src, q.increase(C, 40), 50) == pytest.approx(13.0, rel=1e-12)


def test_fewer_than_two_samples_is_absent() -> None:
    src = OfflineSource(frame(series("c", [(0, 1), (100, 2)])))
    assert at(src, q.rate(C, 60), 50) == []
    assert at(src, q.increase(C, 60), 100) == []
    assert at(src, q.irate(C, 60), 100) == []
    assert at(src, q.count_over_time(C, 60), 100) == [1.0]
    assert at(src, q.increase(C, 100), 100) == [1.0]


def test_left_edge_sample_prom2_vs_prom3() -> None:
    pts = [(0, 0), (15, 10), (30, 30), (45, 45), (60, 60)]
    df = frame(series("c", pts))
    p2, p3 = OfflineSource(df), OfflineSource(df, semantics="prom3")
    # prom2 [0, 60] holds 5 samples, prom3 (0, 60] holds 4
    assert one(p2, q.count_over_time(C, 60), 60) == 5
    assert one(p3, q.count_over_time(C, 60), 60) == 4
    # delta prom2: R=60, no extrapolation -> 60
    # prom3: first=(15,10), R=50, S=45, dStart=15 < 16.5 -> 50*60/45
    assert one(p2, q.delta(C, 60), 60) == pytest.approx(60.0)
    assert one(p3, q.delta(C, 60), 60) == pytest.approx(50 * 60 / 45)
    assert one(p2, q.sum_over_time(C, 60), 60) == 145.0
    assert one(p3, q.sum_over_time(C, 60), 60) == 145.0
    assert one(p2, q.min_over_time(C, 60), 60) == 0.0
    assert one(p3, q.min_over_time(C, 60), 60) == 10.0


def test_lookback_staleness() -> None:
    df = frame(series("g", [(0, 7)]))
    p2, p3 = OfflineSource(df), OfflineSource(df, semantics="prom3")
    g = q.metric("g")
    assert at(p2, g, 300) == [7.0]
    assert at(p2, g, 301) == []
    assert at(p3, g, 299.999) == [7.0]
    assert at(p3, g, 300) == []
    assert at(OfflineSource(df, lookback="10m"), g, 600) == [7.0]
    assert at(p2, g, -1) == []  # nothing before the first sample


# ------------------------------------------------------------ histogram_quantile


def hist(counts: dict[str, float], t: float = 0, name="h_bucket", **labels) -> list:
    return [(t, name, v, {"le": le, **labels}) for le, v in counts.items()]


H = q.metric("h_bucket")
BASIC = {"0.1": 10, "0.5": 30, "1": 40, "+Inf": 50}


@pytest.mark.parametrize(
    ("quantile", "expected"),
    [
        (0.5, 0.4),  # rank 25 in (0.1, 0.5]: 0.1 + 0.4 * (25-10)/(30-10)
        (0.05, 0.025),  # rank 2.5 in first bucket from 0: 0.1 * 2.5/10
        (0.99, 1.0),  # rank 49.5 falls in +Inf: second-highest bound
        (0.8, 1.0),  # rank 40 == count of le=1: 0.5 + 0.5 * 10/10
        (0.0, 0.0),  # rank 0: first bucket, 0 + 0.1 * 0/10
        (1.0, 1.0),  # rank 50 only reached by +Inf -> second-highest bound
        (-0.1, -math.inf),
        (1.5, math.inf),
    ],
)
def test_histogram_quantile_basic(quantile: float, expected: float) -> None:
    src = OfflineSource(frame(hist(BASIC)))
    assert one(src, q.histogram_quantile(quantile, H), 0) == pytest.approx(expected)


@pytest.mark.parametrize("semantics", ["prom2", "prom3"])
def test_histogram_quantile_edge_cases(semantics: str) -> None:
    def hq(counts, quantile=0.5):
        src = OfflineSource(frame(hist(counts)), semantics=semantics)
        return one(src, q.histogram_quantile(quantile, H), 0)

    assert math.isnan(hq(BASIC, float("nan")))
    assert math.isnan(hq({"0.1": 10, "0.5": 30, "1": 40}))  # no +Inf bucket
    assert math.isnan(hq({"+Inf": 50}))  # fewer than 2 buckets
    assert math.isnan(hq({"0.1": 0, "1": 0, "+Inf": 0}))  # no observations
    assert hq({"+Inf": 0}, -1) == -math.inf  # q checked before anything else
    # non-monotonic 10, 8 -> 10, 10; rank 25 in (0.5, 1]: 0.5 + 0.5*15/30
    assert hq({"0.1": 10, "0.5": 8, "1": 40, "+Inf": 50}) == pytest.approx(0.75)
    # first bucket bound <= 0 is returned as it is
    assert hq({"-1": 5, "1": 10, "+Inf": 10}, 0.2) == -1.0
    # equal bounds written differently are merged: "1" and "1.0" -> 40
    merged = hq({"0.5": 10, "1": 15, "1.0": 25, "+Inf": 50}, 0.6)
    assert merged == pytest.approx(0.5 + 0.5 * (30 - 10) / (40 - 10))
    # unparseable / missing le are skipped
    assert hq({**BASIC, "abc": 1000}) == pytest.approx(0.4)


def test_histogram_quantile_small_delta_prom3() -> None:
    # le=2 exceeds le=1 by a relative 5e-14: prom3 flattens it (>= v2.49), prom2 not.
    # rank slightly above 100 -> prom2 interpolates in (1, 2], prom3 lands in +Inf.
    counts = {"1": 100.0, "2": 100.0 + 1e-11, "+Inf": 200.0}
    quantile = (100.0 + 0.5e-11) / 200.0
    df = frame(hist(counts))
    r2 = one(OfflineSource(df), q.histogram_quantile(quantile, H), 0)
    r3 = one(OfflineSource(df, semantics="prom3"), q.histogram_quantile(quantile, H), 0)
    assert r2 == pytest.approx(1.5, abs=0.05)
    assert r3 == 2.0


def test_histogram_quantile_groups_and_drops_name() -> None:
    rows = hist(BASIC, instance="a") + hist({"1": 0, "2": 10, "+Inf": 10}, instance="b")
    rows += [(0, "h_bucket", 5.0, {"instance": "c"})]  # no le -> skipped
    out = OfflineSource(frame(rows)).evaluate(q.histogram_quantile(0.5, H), T0)
    assert out.columns == ["timestamp", "metric", "value", "instance"]
    assert out["metric"].to_list() == [None, None]
    assert out["instance"].to_list() == ["a", "b"]
    # group b: rank 5 in (1, 2]: 1 + 1 * 5/10
    assert out["value"].to_list() == pytest.approx([0.4, 1.5])


def test_histogram_quantile_over_rate_and_partial_buckets() -> None:
    # buckets grow linearly: increase over [0, 60] is exact (samples on both ends)
    rows = []
    for t in (0, 30, 60):
        k = t / 30
        rows += hist({"1": 10 * k, "2": 30 * k, "+Inf": 40 * k}, t=t)
    src = OfflineSource(frame(rows))
    expr = q.histogram_quantile(0.5, q.increase(H, 60))
    # increase: 20, 60, 80 -> rank 40 in (1, 2]: 1 + (40-20)/(60-20) = 1.5
    assert one(src, expr, 60) == pytest.approx(1.5)
    # at t=90 only le=+Inf... bucket "1" stops at t=60: remove it, range query mixes
    rows2 = rows + hist({"2": 90, "+Inf": 120}, t=90)
    src2 = OfflineSource(frame(rows2))
    out = src2.evaluate_range(q.histogram_quantile(0.5, H), T0 + 60, T0 + 90, 30)
    # t=60: 20,60,80 -> 1.5; t=90: le=1 still visible through lookback (value 20):
    # 20, 90, 120 -> rank 60 in (1, 2]: 1 + 40/70
    assert out["value"].to_list() == pytest.approx([1.5, 1 + 40 / 70])
    out = src2.evaluate_range(q.histogram_quantile(0.5, H), T0 + 361, T0 + 361, 30)
    # t=361: le=1 gone (last seen 60), others from t=90: 90, 120 -> rank 60 -> 2*60/90
    assert out["value"].to_list() == pytest.approx([2 * 60 / 90])


# ------------------------------------------------------------ over_time & NaN


def test_over_time_functions_and_nan() -> None:
    nan = float("nan")
    pts = [(0, nan), (10, 1), (20, nan), (30, 3), (40, nan)]
    src = OfflineSource(frame(series("g", pts)))
    g = q.metric("g")
    assert one(src, q.max_over_time(g, 60), 40) == 3.0
    assert one(src, q.min_over_time(g, 60), 40) == 1.0
    assert math.isnan(one(src, q.avg_over_time(g, 60), 40))
    assert math.isnan(one(src, q.sum_over_time(g, 60), 40))
    assert math.isnan(one(src, q.last_over_time(g, 60), 40))
    assert one(src, q.count_over_time(g, 60), 40) == 5
    assert math.isnan(one(src, q.max_over_time(g, 5), 40))  # only NaN in window
    assert one(src, q.avg_over_time(g, 5), 30) == 3.0  # [25, 30] holds only 3
    assert math.isnan(one(src, q.avg_over_time(g, 15), 30))  # [15, 30] has NaN@20
    inf = OfflineSource(frame(series("g", [(0, 1), (10, math.inf), (20, 2)])))
    assert one(inf, q.sum_over_time(g, 60), 20) == math.inf
    assert one(inf, q.avg_over_time(g, 60), 20) == math.inf
    assert one(inf, q.max_over_time(g, 60), 20) == math.inf
    both = OfflineSource(frame(series("g", [(0, -math.inf), (10, math.inf)])))
    assert math.isnan(one(both, q.sum_over_time(g, 60), 20))


def test_avg_over_time_precision() -> None:
    # large offset, small variation: compensated sums keep full precision
    vals = [1e9 + 0.1 * (i % 7) for i in range(2000)]
    src = OfflineSource(frame(series("g", list(zip(range(0, 30000, 15), vals, strict=True)))))
    got = one(src, q.avg_over_time(q.metric("g"), 3600), 29985)
    window = vals[-241:]
    assert got == pytest.approx(math.fsum(window) / len(window), rel=1e-13)


def test_name_kept_for_selectors_and_last_over_time_only() -> None:
    src = OfflineSource(frame(series("g", [(0, 1)], job="x")))
    g = q.metric("g")
    assert src.evaluate(g, T0)["metric"].to_list() == ["g"]
    assert src.evaluate(q.last_over_time(g, 60), T0)["metric"].to_list() == ["g"]
    for expr in (q.max_over_time(g, 60), g * 2, q.sum(g, by="job"), 2 - g):
        assert src.evaluate(expr, T0)["metric"].to_list() == [None], expr


# ------------------------------------------------------------ aggregation & arithmetic


def agg_src() -> OfflineSource:
    rows = (
        series("m", [(0, 1)], job="a", inst="1")
        + series("m", [(0, 2)], job="a", inst="2")
        + series("m", [(0, float("nan"))], job="b", inst="1")
        + series("m", [(0, 10)], job="b", inst="3")
        + series("other", [(0, 100)], job="a", inst="1")
    )
    return OfflineSource(frame(rows))


def test_aggregations_by_without() -> None:
    src, m = agg_src(), q.metric("m")
    out = src.evaluate(q.sum(m, by=["job"]), T0)
    assert out.columns == ["timestamp", "metric", "value", "job"]
    assert out["job"].to_list() == ["a", "b"]
    assert out["value"][0] == 3.0 and math.isnan(out["value"][1])
    out = src.evaluate(q.max(m, without=["inst"]), T0)
    assert out["value"].to_list() == [2.0, 10.0]  # NaN ignored by max
    assert src.evaluate(q.min(m, by="job"), T0)["value"].to_list() == [1.0, 10.0]
    assert src.evaluate(q.count(m), T0)["value"].to_list() == [4.0]
    assert src.evaluate(q.count(m, by="inst"), T0)["value"].to_list() == [2.0, 1.0, 1.0]
    assert src.evaluate(q.avg(m, by="job"), T0)["value"][0] == 1.5
    out = src.evaluate(q.sum(m, without=["job"]), T0)
    assert out["inst"].to_list() == ["1", "2", "3"]
    assert math.isnan(out["value"][0]) and out["value"].to_list()[1:] == [2.0, 10.0]
    assert src.evaluate(q.sum(q.metric("nope")), T0).height == 0


def test_scalar_arithmetic_and_precedence() -> None:
    src = agg_src()
    m = q.metric("m", job="a")
    assert at(src, 100 - m * 2, 0) == [98.0, 96.0]
    assert at(src, (100 - m) * 2, 0) == [198.0, 196.0]
    assert at(src, m / 0, 0) == [math.inf, math.inf]
    assert at(src, q.scalar(2) * 3 + 1, 0) == [7.0]
    out = src.evaluate(q.scalar(3) / 2, T0)
    assert out.columns == ["timestamp", "metric", "value"] and out["value"][0] == 1.5
    assert at(src, q.scalar(q.sum(m)) * m, 0) == [3.0, 6.0]
    assert math.isnan(at(src, q.scalar(m), 0)[0])  # two elements -> NaN


def test_vector_vector_matching() -> None:
    rows = (
        series("a", [(0, 6)], x="1") + series("a", [(0, 8)], x="2")
        + series("b", [(0, 2)], x="1") + series("b", [(0, 5)], x="3")
        + series("r", [(0, 4)], x="1", reason="t") + series("r", [(0, 2)], x="2", reason="u")
    )
    src = OfflineSource(frame(rows))
    a, b, r = q.metric("a"), q.metric("b"), q.metric("r")
    out = src.evaluate(a / b, T0)
    assert out["x"].to_list() == ["1"] and out["value"].to_list() == [3.0]
    assert out["metric"].to_list() == [None]
    # labels differ by `reason`: no match unless ignored
    assert src.evaluate(r / a, T0).height == 0
    out = src.evaluate(q.binop(r, "/", a, ignoring=["reason"]), T0)
    assert out.columns == ["timestamp", "metric", "value", "x"]
    assert out["value"].to_list() == [4 / 6, 2 / 8]
    out = src.evaluate(q.binop(r, "-", a, on=["x"]), T0)
    assert out["x"].to_list() == ["1", "2"] and out["value"].to_list() == [-2.0, -6.0]
    # many-to-many: right side duplicates on the match group
    with pytest.raises(QueryError, match="duplicate series"):
        src.evaluate(q.binop(a, "/", r, on=[]), T0)
    with pytest.raises(QueryError, match="many-to-one"):
        src.evaluate(q.binop(r, "/", q.sum(a), on=[]), T0)
    out = src.evaluate(q.sum(r) / q.sum(a) * 100, T0)
    assert out["value"].to_list() == [pytest.approx(600 / 14)]


# ------------------------------------------------------------ range evaluation


def test_range_grid_and_result_shape() -> None:
    rows = series("g", [(t, t) for t in range(0, 200, 10)], job="b")
    rows += series("g", [(t, -t) for t in range(0, 50, 10)], job="a")
    src = OfflineSource(frame(rows))
    out = src.evaluate_range(q.metric("g"), T0, T0 + 100, 30)
    assert out.schema == pl.Schema({"timestamp": pl.Datetime("ms", "UTC"),
                                    "metric": pl.String, "value": pl.Float64,
                                    "job": pl.String})
    b = out.filter(pl.col("job") == "b")
    assert [int(t.timestamp()) - T0 for t in b["timestamp"]] == [0, 30, 60, 90]
    assert b["value"].to_list() == [0.0, 30.0, 60.0, 90.0]
    # job=a (sorted first) last sample at 40 stays visible 5 min: to 340 > 100
    assert out["job"].to_list()[:4] == ["a"] * 4
    out = src.evaluate_range(q.metric("g", job="a"), T0 + 300, T0 + 400, 20)
    assert [int(t.timestamp()) - T0 for t in out["timestamp"]] == [300, 320, 340]
    one_step = src.evaluate_range(q.metric("g", job="b"), T0 + 5, T0 + 5, "1m")
    assert one_step.height == 1 and one_step["value"][0] == 0.0
    empty = src.evaluate_range(q.metric("zzz"), T0, T0 + 100, 30)
    assert empty.columns == ["timestamp", "metric", "value"] and empty.height == 0
    with pytest.raises(QueryError, match="end"):
        src.evaluate_range(q.metric("g"), T0 + 10, T0, 30)
    with pytest.raises(QueryError, match="step"):
        src.evaluate_range(q.metric("g"), T0, T0 + 10, 0)


def test_range_equals_instant_at_every_step() -> None:
    rng = np.random.default_rng(3)
    src = OfflineSource(random_frame(rng))
    expr = q.sum(q.rate(q.metric("c"), "2m"), by="job") / 2
    rng_out = src.evaluate_range(expr, T0 + 100, T0 + 1500, 37)
    inst = pl.concat([src.evaluate(expr, T0 + 100 + 37 * k) for k in range(38)])
    assert rng_out.equals(inst.sort(["metric", "job", "timestamp"], nulls_last=False))


def test_bad_input() -> None:
    df = frame(series("g", [(0, 1)]))
    src = OfflineSource(df)
    with pytest.raises(QueryError, match="PrometheusSource"):
        src.evaluate("rate(x[5m])", T0)  # type: ignore[arg-type]
    with pytest.raises(QueryError):
        src.evaluate(42, T0)  # type: ignore[arg-type]
    with pytest.raises(QueryError, match="semantics"):
        OfflineSource(df, semantics="prom4")  # type: ignore[arg-type]
    with pytest.raises(QueryError, match="lookback"):
        OfflineSource(df, lookback="-1m")
    with pytest.raises(SchemaError):
        OfflineSource(df.drop("value"))
    with pytest.raises(DataError, match="conflicting"):
        OfflineSource(frame(series("g", [(0, 1), (0, 2)])))
    dup = OfflineSource(frame(series("g", [(0, 1), (0, 1), (10, 2)])))
    assert at(dup, q.count_over_time(q.metric("g"), 60), 10) == [2.0]
    with pytest.raises(DataError, match="null value"):
        OfflineSource(df.with_columns(pl.lit(None, pl.Float64).alias("value")))


def test_metadata_and_catalogue_normalisation() -> None:
    rows = series("speculation_rollbacks_total", [(0, 1), (60, 2)], reason="timeout")
    rows += series("speculation_active_tasks", [(30, 5)])
    src = OfflineSource(frame(rows))
    assert src.metrics() == ["speculation_active_tasks", "speculation_rollback_total"]
    first, last = src.time_range()
    assert first == datetime.fromtimestamp(T0, tz=timezone.utc)
    assert last == datetime.fromtimestamp(T0 + 60, tz=timezone.utc)
    sel = q.metric("speculation_rollback_total", reason="timeout")
    assert at(src, sel, 60) == [2.0]
    empty = OfflineSource(frame([]))
    assert empty.time_range() is None and empty.metrics() == []
    assert empty.evaluate(q.rate(q.metric("x"), 60), T0).height == 0


def test_label_matchers_and_empty_labels() -> None:
    rows = series("m", [(0, 1)], reason="timeout") + series("m", [(0, 2)], reason="")
    rows += series("m", [(0, 3)], reason="manual")
    src = OfflineSource(frame(rows))
    assert at(src, q.metric("m", reason=""), 0) == [2.0]  # "" == absent
    assert at(src, q.metric("m", matchers=[("reason", "=~", "time.*|man")]), 0) == [1.0]
    assert sorted(at(src, q.metric("m", matchers=[("reason", "!~", "t.*")]), 0)) == [
        2.0, 3.0]
    assert sorted(at(src, q.metric("m", matchers=[("reason", "!=", "manual")]), 0)) == [
        1.0, 2.0]


# ------------------------------------------------------------ randomised check


def random_frame(rng: np.random.Generator, n_series: int = 3) -> pl.DataFrame:
    rows = []
    for s in range(n_series):
        t, v = 0, float(rng.integers(0, 5))
        while t < 2000:
            rows.append((t, "c", v, {"job": f"j{s % 2}", "i": str(s)}))
            t += int(rng.choice([10, 15, 15, 15, 30, 60, 120]))
            v = v + float(rng.integers(0, 20)) if rng.random() > 0.05 else float(
                rng.integers(0, 5))
            if rng.random() < 0.02:
                v = float("nan")
            elif math.isnan(v):
                v = 1.0
    return frame(rows)


def naive(func, pts, t, r, sem):
    """Per-step reference straight from reference §3."""
    if sem == "prom2":
        win = [(ts, v) for ts, v in pts if t - r <= ts <= t]
    else:
        win = [(ts, v) for ts, v in pts if t - r < ts <= t]
    if func in ("rate", "increase", "delta"):
        if len(win) < 2:
            return None
        counter = func != "delta"
        res = win[-1][1] - win[0][1]
        if counter:
            for (_, p), (_, c) in zip(win, win[1:], strict=False):
                if c < p:
                    res += p
        d_start = win[0][0] - (t - r)
        d_end = t - win[-1][0]
        span = win[-1][0] - win[0][0]
        avg = span / (len(win) - 1)
        thr = avg * 1.1
        zero = counter and res > 0 and win[0][1] >= 0
        if sem == "prom2":
            if zero:
                d_start = min(d_start, span * win[0][1] / res)
            d_start = d_start if d_start < thr else avg / 2
        else:
            d_start = d_start if d_start < thr else avg / 2
            if zero:
                d_start = min(d_start, span * win[0][1] / res)
        d_end = d_end if d_end < thr else avg / 2
        res = res * (span + d_start + d_end) / span
        return res / r if func == "rate" else res
    if not win:
        return None
    vals = [v for _, v in win]
    if func == "irate":
        if len(win) < 2:
            return None
        (t1, v1), (t2, v2) = win[-2], win[-1]
        return (v2 if v2 < v1 else v2 - v1) / (t2 - t1)
    finite = [v for v in vals if not math.isnan(v)]
    return {
        "avg_over_time": lambda: math.fsum(vals) / len(vals),
        "sum_over_time": lambda: math.fsum(vals),
        "max_over_time": lambda: max(finite) if finite else math.nan,
        "min_over_time": lambda: min(finite) if finite else math.nan,
        "count_over_time": lambda: float(len(vals)),
        "last_over_time": lambda: vals[-1],
    }[func]()


@pytest.mark.parametrize("semantics", ["prom2", "prom3"])
@pytest.mark.parametrize("func", q.RANGE_FUNCTIONS)
def test_matches_naive_per_step_reference(semantics: str, func: str) -> None:
    rng = np.random.default_rng(7)
    df = random_frame(rng)
    src = OfflineSource(df, semantics=semantics)
    for window in (60, 120, 300):
        out = src.evaluate_range(getattr(q, func)(q.metric("c"), window),
                                 T0, T0 + 2100, 7)
        got = {(i, int(ts.timestamp()) - T0): v for i, ts, v in
               out.select("i", "timestamp", "value").iter_rows()}
        expected = {}
        for i, part in df.partition_by("i", as_dict=True).items():
            pts = [(int(ts.timestamp()) - T0, v) for ts, v in
                   part.select("timestamp", "value").iter_rows()]
            for t in range(0, 2101, 7):
                val = naive(func, pts, t, window, semantics)
                if val is not None:
                    expected[(i[0], t)] = val
        assert got.keys() == expected.keys()
        for k, v in expected.items():
            if math.isnan(v):
                assert math.isnan(got[k]), k
            else:
                assert got[k] == pytest.approx(v, rel=1e-9, abs=1e-12), (k, window)
