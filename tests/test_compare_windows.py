"""compare() on monitoring windows and /metrics snapshots.

Independent truth: injected shifts in seeded synthetic series, hand-built
histograms whose quantile buckets are known, statsmodels' exact Poisson test,
the raw counter values, the simulator's exact summary of the bundled fixtures,
and (slow tier) 1000 A/A replications.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone

import numpy as np
import polars as pl
import pytest

from specanalysis.compare import bucket_quantile, compare, window
from specanalysis.datasets import ar1_counts, make_rate_samples
from specanalysis.errors import DataError
from specanalysis.fixtures import fixture_path, load_fixture
from specanalysis.frames import TIMESTAMP
from specanalysis.sources.offline import OfflineSource

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
SERIES = ["throughput_tps", "task_rate_tps", "memory_mb"]


def frame(rows: list[tuple[datetime, str, float, dict]]) -> pl.DataFrame:
    labels = sorted({k for *_, lab in rows for k in lab})
    data = {"timestamp": [r[0] for r in rows], "metric": [r[1] for r in rows],
            "value": [float(r[2]) for r in rows]}
    for k in labels:
        data[k] = [r[3].get(k) for r in rows]
    return pl.DataFrame(data, schema={"timestamp": TIMESTAMP, "metric": pl.String,
                                      "value": pl.Float64,
                                      **dict.fromkeys(labels, pl.String)})


# ------------------------------------------------------------------- series


def test_aa_windows_call_nothing_a_change():
    b = make_rate_samples(seed=11, duration="4h", phi=0.9)
    a = make_rate_samples(seed=12, duration="4h", phi=0.9)
    c = compare(b, a, metrics=SERIES)
    assert not set(c.verdicts().values()) & {"improved", "regressed", "changed"}
    for r in c.tidy().iter_rows(named=True):
        # blocks are at least the 5 m range (20 samples) long: 4 h -> <= 48 blocks
        assert r["n_before"] <= 48
        assert "ESS" in r["method"] and "HAC p=" in r["method"]
        # effective sample size: fewer independent points than samples (4 h at 15 s)
        assert 0 < r["ess_before"] < 961


def test_injected_shift_is_found_with_its_direction():
    b = make_rate_samples(seed=21, duration="6h", phi=0.5)
    a = make_rate_samples(seed=22, duration="6h", phi=0.5, shift=0.20)
    c = compare(b, a, metrics=SERIES)
    v = c.verdicts()
    assert v["throughput_tps"] == "improved"      # higher is better
    assert v["memory_mb"] == "regressed"          # lower is better
    assert v["task_rate_tps"] == "changed"        # no better direction
    row = c.tidy().filter(pl.col("metric") == "throughput_tps").row(0, named=True)
    assert row["change_lo_pct"] < 20 < row["change_hi_pct"]
    assert row["before"] == pytest.approx(8.0, rel=0.1)


def test_window_too_short_for_its_autocorrelation_is_inconclusive():
    b = make_rate_samples(seed=31, duration="20m", phi=0.98)
    a = make_rate_samples(seed=32, duration="20m", phi=0.98)
    c = compare(b, a, metrics=["throughput_tps"])
    row = c.tidy().row(0, named=True)
    assert row["verdict"] == "inconclusive"
    assert "too short for their autocorrelation" in row["reason"]


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("SPECANALYSIS_SLOW") != "1",
                    reason="1000 A/A replications: set SPECANALYSIS_SLOW=1")
def test_aa_false_alarm_rate_1000_replications():
    from scipy.stats import mannwhitneyu

    from specanalysis.stats import block_test

    rng = np.random.default_rng(2024)
    alarms = naive = 0
    reps = 1000
    for _ in range(reps):
        pair = []
        for _side in range(2):
            c = np.cumsum(ar1_counts(rng, 500, rate=8.0, phi=0.5, sd=0.1, step=15.0))
            pair.append((c[20:] - c[:-20]) / 300.0)  # rate(x[5m]) at 15 s
        try:
            alarms += block_test(*pair, min_block=20).p_value < 0.05
        except DataError:
            pass  # inconclusive: not an alarm
        naive += mannwhitneyu(*pair).pvalue < 0.05
    assert alarms / reps <= 0.06
    assert naive / reps > 0.3  # the naive test cries wolf


# ------------------------------------------------------------------- counts


def counter_frame(seed: int, rate_tasks: float, p_rollback: float, hours: float = 2.0):
    rng = np.random.default_rng(seed)
    n = int(hours * 240) + 1
    tasks = rng.poisson(rate_tasks * 15, n)
    rb = rng.binomial(tasks, p_rollback)
    ts = [T0 + timedelta(seconds=15 * i) for i in range(n)]
    rows = [(t, "speculation_tasks_total", v, {}) for t, v in zip(ts, np.cumsum(tasks),
                                                                  strict=True)]
    rows += [(t, "speculation_rollback_total", v, {"reason": "proof_invalid"})
             for t, v in zip(ts, np.cumsum(rb), strict=True)]
    return frame(rows), np.cumsum(tasks), np.cumsum(rb)


def test_rollback_rate_is_an_exact_poisson_test_on_the_counts():
    from statsmodels.stats.rates import test_poisson_2indep

    fb, tb, rbb = counter_frame(1, 8.0, 0.03)
    fa, ta, rba = counter_frame(2, 8.0, 0.02)
    c = compare(fb, fa, metrics=["rollback_rate_pct"])
    row = c.tidy().row(0, named=True)
    # the counts are the window's increases: within 2 % of the raw counters'
    assert row["n_before"] == pytest.approx(rbb[-1] - rbb[0], rel=0.02)
    assert row["n_after"] == pytest.approx(rba[-1] - rba[0], rel=0.02)
    eb = 100 * row["n_before"] / row["before"]
    ea = 100 * row["n_after"] / row["after"]
    assert eb == pytest.approx(tb[-1] - tb[0], rel=0.02)
    ref = test_poisson_2indep(row["n_after"], ea, row["n_before"], eb,
                              method="exact-cond")
    assert row["p_value"] == pytest.approx(ref.pvalue, rel=1e-6)
    assert row["verdict"] == "improved"  # 3 % -> 2 % of tasks, lower is better
    assert "Poisson" in row["method"]


# ---------------------------------------------------------------- quantiles


LE = ["0.5", "1.0", "2.0", "5.0", "10.0", "+Inf"]


def histogram_frame(share_per_bucket: list[float], per_scrape: int, seed: int,
                    hours: float = 2.0, family="speculation_e2e_latency_seconds"):
    """Observations spread over the buckets in fixed shares, every 15 s."""
    rng = np.random.default_rng(seed)
    n = int(hours * 240) + 1
    counts = rng.multinomial(per_scrape, share_per_bucket, size=n)  # (n, buckets)
    cum_time = np.cumsum(counts, axis=0)
    cum_le = np.cumsum(cum_time, axis=1)
    ts = [T0 + timedelta(seconds=15 * i) for i in range(n)]
    rows = []
    for j, le in enumerate(LE):
        rows += [(t, family + "_bucket", v, {"le": le})
                 for t, v in zip(ts, cum_le[:, j], strict=True)]
    return frame(rows)


def test_change_inside_the_bucket_is_never_called_a_change():
    # p99 in (5, 10] on both sides, but the share in that bucket moves, so the
    # interpolated p99 moves a lot while the exact one may not move at all
    before = [0.05, 0.30, 0.40, 0.235, 0.0149, 0.0001]
    after = [0.05, 0.30, 0.40, 0.23, 0.0199, 0.0001]
    fb, fa = histogram_frame(before, 200, 1), histogram_frame(after, 200, 2)
    c = compare(fb, fa, metrics=["latency_p99_s"])
    row = c.tidy().row(0, named=True)
    assert (row["before_lo"], row["before_hi"]) == (5.0, 10.0)
    assert (row["after_lo"], row["after_hi"]) == (5.0, 10.0)
    assert abs(row["change_pct"]) > 5          # interpolation moves ...
    assert row["verdict"] == "inconclusive"    # ... but it is not a change
    assert "bucket resolution" in row["reason"]


def test_bucket_quantile_matches_histogram_quantile_of_the_engine():
    fb = histogram_frame([0.1, 0.3, 0.3, 0.2, 0.09, 0.01], 100, 3)
    src = OfflineSource(fb)
    from specanalysis import query as q

    end = T0 + timedelta(hours=2)
    fam = "speculation_e2e_latency_seconds_bucket"
    for qq in (0.5, 0.9, 0.99):
        engine = src.evaluate(q.histogram_quantile(qq, q.sum(q.increase(
            q.metric(fam), "2h"), by=["le"])), end)["value"][0]
        buckets = src.evaluate(q.sum(q.increase(q.metric(fam), "2h"), by=["le"]), end)
        b = buckets.select(pl.col("le").cast(pl.Float64), pl.col("value").alias("count"))
        est, lo, hi = bucket_quantile(b.sort("le"), qq)
        assert est == pytest.approx(engine, rel=1e-9)
        assert lo <= est <= hi


# ---------------------------------------------------------------- fixtures


def test_fixture_windows_agree_with_the_simulators_exact_figures():
    b, a = load_fixture("baseline"), load_fixture("after-max-depth-3")
    start = b["timestamp"].min() + timedelta(minutes=5)
    end = b["timestamp"].max()
    c = compare(window(b, start, end), window(a, start, end))
    t = {r["metric"]: r for r in c.tidy().iter_rows(named=True)}
    truth_b = json.loads(fixture_path("baseline", "summary.json").read_text())["summary"]
    truth_a = json.loads(fixture_path("after-max-depth-3", "summary.json").read_text())[
        "summary"]
    # quantiles: inside overlapping bucket bounds no change is ever called
    for name in ("latency_p50_s", "latency_p99_s", "proof_p99_s", "confirmation_p99_s"):
        r = t[name]
        overlap = not (r["before_hi"] <= r["after_lo"] or r["after_hi"] <= r["before_lo"])
        if overlap:
            assert r["verdict"] not in ("improved", "regressed"), name
    # the simulator's exact latency quantiles lie in the reported buckets
    for name in ("latency_p50_s", "latency_p99_s"):
        assert t[name]["before_lo"] <= truth_b[name] <= t[name]["before_hi"]
        assert t[name]["after_lo"] <= truth_a[name] <= t[name]["after_hi"]
    # memory: a verdict only in the direction the exact figures moved
    true_change = truth_a["memory_avg_mb"] / truth_b["memory_avg_mb"] - 1
    mem = t["memory_mb"]
    if mem["verdict"] == "improved":
        assert true_change < 0
    if abs(true_change) > 0.10:
        assert mem["verdict"] == ("improved" if true_change < 0 else "regressed")
    # any change called has the sign of the simulator's exact change
    exact = {"latency_p50_s": "latency_p50_s", "latency_p99_s": "latency_p99_s",
             "proof_p99_s": "proof_p99_s", "memory_mb": "memory_avg_mb",
             "avg_rollback_size": "avg_rollback_size",
             "rollback_rate_pct": "rollback_rate_pct"}
    for name, key in exact.items():
        r = t[name]
        if r["verdict"] in ("improved", "regressed"):
            true = truth_a[key] / truth_b[key] - 1
            assert (r["change_pct"] > 0) == (true > 0), name
            better_lower = r["better"] == "lower"
            assert (r["verdict"] == "improved") == ((true < 0) == better_lower), name
    # every window figure is judged or explained
    for r in t.values():
        assert r["verdict"] in ("improved", "regressed", "equivalent", "inconclusive",
                                "changed")
        if r["verdict"] == "inconclusive":
            assert r["reason"]


# ---------------------------------------------------------------- bad input


def test_reversed_overlapping_and_empty_windows():
    b = make_rate_samples(seed=41, duration="2h")
    src = OfflineSource(b)
    with pytest.raises(DataError, match="reversed"):
        window(src, T0 + timedelta(hours=1), T0)
    w1 = window(src, T0, T0 + timedelta(hours=1, minutes=10))
    w2 = window(src, T0 + timedelta(hours=1), T0 + timedelta(hours=2))
    with pytest.raises(DataError, match="overlap"):
        compare(w1, w2, metrics=SERIES)
    far = window(src, T0 + timedelta(days=3), T0 + timedelta(days=3, hours=2))
    with pytest.raises(DataError, match="none of the compared metrics"):
        compare(w1, far, metrics=SERIES)
    with pytest.raises(DataError, match="range"):
        compare(b, make_rate_samples(seed=42), metrics=SERIES, range="20s")
    with pytest.raises(DataError, match="unknown window figure"):
        compare(b, b, metrics=["nope"])
    # "2h" after the start is a duration
    assert window(src, T0, "30m").end == T0 + timedelta(minutes=30)


def test_missing_metric_is_inconclusive_with_reason():
    b = make_rate_samples(seed=51, duration="2h")
    a = make_rate_samples(seed=52, duration="2h")
    c = compare(b, a, metrics=["throughput_tps", "proof_queue_depth", "latency_p99_s"])
    t = {r["metric"]: r for r in c.tidy().iter_rows(named=True)}
    assert t["proof_queue_depth"]["verdict"] == "inconclusive"
    assert "no samples of speculation_proof_queue_depth" in t["proof_queue_depth"][
        "reason"]
    assert "histogram" in t["latency_p99_s"]["reason"]


# ---------------------------------------------------------------- snapshots


def test_snapshot_pairs_of_the_bundled_suites():
    from specanalysis.fixtures import fixtures_dir

    d = fixtures_dir() / "bench"
    before = (d / "baseline" / "pre_metrics.txt", d / "baseline" / "post_metrics.txt")
    after = (d / "after-max-depth-3" / "pre_metrics.txt",
             d / "after-max-depth-3" / "post_metrics.txt")
    c = compare(before, after)
    assert c.kind == "snapshots"
    t = {r["metric"]: r for r in c.tidy().iter_rows(named=True)}
    assert "Poisson" in t["rollback_rate_pct"]["method"]
    assert t["memory_mb"]["verdict"] == "inconclusive"
    assert "no variability" in t["memory_mb"]["reason"]
    with pytest.raises(DataError, match="pair"):
        compare(before, d / "after-max-depth-3" / "post_metrics.txt")


def _snapshot(le_counts: dict[str, float], unit: str = "seconds") -> str:
    name = ("speculation_e2e_latency_seconds" if unit == "seconds"
            else "speculation_e2e_latency_ms")
    lines = [f"# TYPE {name} histogram"]
    for le, v in le_counts.items():
        lines.append(f'{name}_bucket{{le="{le}"}} {v}')
    total = le_counts["+Inf"]
    lines += [f"{name}_sum {total}", f"{name}_count {total}",
              "# TYPE speculation_tasks_total counter",
              "speculation_tasks_total 100000",
              "# TYPE speculation_rollback_total counter",
              'speculation_rollback_total{reason="timeout"} 300']
    return "\n".join(lines) + "\n"


def test_snapshot_quantile_in_another_bucket_is_tested_exactly():
    from scipy.stats import fisher_exact

    before = _snapshot({"1.0": 9000, "2.0": 9800, "5.0": 9960, "10.0": 10000,
                        "+Inf": 10000})
    after = _snapshot({"1.0": 9000, "2.0": 9700, "5.0": 9880, "10.0": 10000,
                       "+Inf": 10000})
    c = compare(before, after, metrics=["latency_p99_s"])
    row = c.tidy().row(0, named=True)
    assert (row["before_lo"], row["before_hi"]) == (2.0, 5.0)
    assert (row["after_lo"], row["after_hi"]) == (5.0, 10.0)
    # share above 5 s: 40 of 10000 before, 120 of 10000 after
    _, p = fisher_exact([[40, 9960], [120, 9880]])
    assert row["p_value"] == pytest.approx(p)
    assert row["verdict"] == "regressed"


def test_snapshot_units_are_normalised_before_comparing():
    secs = _snapshot({"1.0": 9000, "2.0": 9800, "5.0": 9960, "10.0": 10000,
                      "+Inf": 10000})
    ms = _snapshot({"1000": 9000, "2000": 9800, "5000": 9960, "10000": 10000,
                    "+Inf": 10000}, unit="ms")
    row = compare(secs, ms, metrics=["latency_p99_s"]).tidy().row(0, named=True)
    assert row["before"] == pytest.approx(row["after"])
    assert row["verdict"] not in ("improved", "regressed")
