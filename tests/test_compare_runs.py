"""compare() on benchmark runs: benchstat's numbers, verdicts, rigour checks, bad input.

Independent truth: benchstat's published test data (tests/data/benchstat), exact
counting arguments, statsmodels' exact Poisson test, and the simulator's ground
truth (a smaller max_depth keeps less speculative state in memory).
"""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import polars as pl
import pytest

from specanalysis.compare import Comparison, compare, load_runs
from specanalysis.errors import DataError, SpecAnalysisError
from specanalysis.fixtures import fixtures_dir
from specanalysis.sim.bench import default_config, run_benchmark
from specanalysis.sim.workload import FAST_TIMINGS

DATA = Path(__file__).parent / "data" / "benchstat"
# millisecond proofs: 20 tasks/s stay within the default proof pool, so depth acts
KW = {"duration": "90s", "rate": 20, "warmup": "30s", "progress": False,
      "workload_options": FAST_TIMINGS}


@pytest.fixture(scope="module")
def template():
    return run_benchmark(default_config(), seed=1, **KW)


def with_summary(template, values: dict[str, float], *, run: int, test="latency",
                 **changes):
    return dataclasses.replace(template, summary={**template.summary, **values},
                               run=run, test=test, **changes)


def go_values(path: Path, name: str) -> list[float]:
    out = []
    for line in path.read_text().splitlines():
        m = re.match(r"Benchmark(\S+)\s+\d+\s+([\d.]+) ns/op", line)
        if m and m.group(1) == name:
            out.append(float(m.group(2)) * 1e-9)
    return out


def golden(name: str) -> dict[str, str]:
    for line in (DATA / "csvOldNew.stdout").read_text().splitlines():
        parts = line.split(",")
        if parts[0] == name:
            return dict(zip(["old", "old_ci", "new", "new_ci", "delta", "p"], parts[1:],
                            strict=True))
    raise AssertionError(name)


@pytest.mark.parametrize("name", ["Encode/format=json-48", "Encode/format=gob-48"])
def test_runs_reproduce_benchstat(template, name):
    """benchstat's runs as ten benchmark runs of a latency figure."""
    old, new = go_values(DATA / "old.txt", name), go_values(DATA / "new.txt", name)
    before = [with_summary(template, {"latency_p50_s": v}, run=i + 1)
              for i, v in enumerate(old)]
    after = [with_summary(template, {"latency_p50_s": v}, run=i + 1)
             for i, v in enumerate(new)]
    c = compare(before, after, metrics=["latency_p50_s"])
    row = c.tidy().row(0, named=True)
    want = golden(name)
    assert row["before"] == pytest.approx(float(want["old"]), rel=1e-12)
    assert row["after"] == pytest.approx(float(want["new"]), rel=1e-12)
    assert f"p={row['p_value']:.3f} n={row['n_before']}" == want["p"]
    assert row["p_adjusted"] == row["p_value"]  # a family of one
    if want["delta"] == "~":
        # not significant: benchstat prints "~"; we never call it a change
        assert row["verdict"] in ("equivalent", "inconclusive")
    else:
        # -17.20 % on a lower-is-better figure
        assert 100 * (row["after"] / row["before"] - 1) == pytest.approx(
            float(want["delta"].rstrip("%")), abs=0.005)
        assert row["verdict"] == "improved"
        assert row["change_lo_pct"] < row["change_pct"] < row["change_hi_pct"] < 0
        assert row["change_pct"] == pytest.approx(-17.2, abs=1.0)  # Hodges-Lehmann


def test_three_runs_cannot_be_significant_and_say_how_many_would(template):
    # 3 + 3 runs, completely separated: the smallest U-test p is 2/C(6,3) = 0.1
    before = [with_summary(template, {"latency_p50_s": v}, run=i + 1)
              for i, v in enumerate([1.0, 1.01, 1.02])]
    after = [with_summary(template, {"latency_p50_s": v}, run=i + 1)
             for i, v in enumerate([1.5, 1.51, 1.52])]
    row = compare(before, after, metrics=["latency_p50_s"]).tidy().row(0, named=True)
    assert row["p_value"] == pytest.approx(0.1)
    assert row["verdict"] == "inconclusive"
    assert math.isinf(row["mde_pct"])
    assert row["n_needed"] >= 4  # the U test needs >= 4 a side at 5 %
    assert "no change of any size" in row["reason"]


def test_holm_across_the_figures_of_a_test(template):
    figs = ["latency_p50_s", "latency_p99_s", "memory_avg_mb"]
    vals_b = [[1.0 + 0.01 * i, 4.0 + 0.01 * i, 300 + i] for i in range(5)]
    vals_a = [[1.2 + 0.01 * i, 4.0 + 0.013 * i, 300.5 + i] for i in range(5)]
    before = [with_summary(template, dict(zip(figs, v, strict=True)), run=i + 1)
              for i, v in enumerate(vals_b)]
    after = [with_summary(template, dict(zip(figs, v, strict=True)), run=i + 1)
             for i, v in enumerate(vals_a)]
    t = compare(before, after, metrics=figs).tidy()
    from statsmodels.stats.multitest import multipletests

    expected = multipletests(t["p_value"].to_list(), method="holm")[1]
    assert t["p_adjusted"].to_list() == pytest.approx(list(expected))
    # 5 + 5 separated: p = 2/252; Holm x3 still < 0.05 -> regressed (latency up)
    assert t.filter(pl.col("figure") == "latency_p50_s")["verdict"][0] == "regressed"


def test_direction_higher_is_better(template):
    before = [with_summary(template, {"throughput_tps": 100 + i}, run=i + 1)
              for i in range(6)]
    after = [with_summary(template, {"throughput_tps": 120 + i}, run=i + 1)
             for i in range(6)]
    assert compare(before, after, metrics=["throughput_tps"]).verdicts() == {
        "latency/throughput_tps": "improved"}
    assert compare(after, before, metrics=["throughput_tps"]).verdicts() == {
        "latency/throughput_tps": "regressed"}


def test_equivalence_within_tolerance(template):
    before = [with_summary(template, {"memory_avg_mb": 300 + (i % 3)}, run=i + 1)
              for i in range(6)]
    after = [with_summary(template, {"memory_avg_mb": 300.5 + (i % 3)}, run=i + 1)
             for i in range(6)]
    row = compare(before, after, metrics=["memory_avg_mb"],
                  tolerance=0.05).tidy().row(0, named=True)
    assert row["verdict"] == "equivalent"
    assert row["tolerance_pct"] == pytest.approx(5.0)
    # and not equivalent with a margin smaller than the noise
    row = compare(before, after, metrics=["memory_avg_mb"],
                  tolerance=0.001).tidy().row(0, named=True)
    assert row["verdict"] == "inconclusive"


def test_pooled_rollback_counts_match_statsmodels():
    from statsmodels.stats.rates import test_poisson_2indep

    base = fixtures_dir() / "bench"
    c = compare(base / "baseline", base / "after-max-depth-3", metrics=["rollback_rate_pct"])
    runs_b, runs_a = load_runs(base / "baseline"), load_runs(base / "after-max-depth-3")
    for test in ("throughput", "rollback"):
        rb = [r for r in runs_b if r.test == test]
        ra = [r for r in runs_a if r.test == test]
        cb = sum(r.series["rollbacks"].sum() for r in rb)
        eb = sum(r.series["executed"].sum() for r in rb)
        ca = sum(r.series["rollbacks"].sum() for r in ra)
        ea = sum(r.series["executed"].sum() for r in ra)
        row = c.tidy().filter(
            pl.col("metric") == f"{test}/rollback_rate_pct (pooled counts)").row(
            0, named=True)
        ref = test_poisson_2indep(ca, ea, cb, eb, method="exact-cond")
        assert row["p_value"] == pytest.approx(ref.pvalue, rel=1e-9)
        assert row["before"] == pytest.approx(100 * cb / eb)
        assert row["after"] == pytest.approx(100 * ca / ea)


def test_fixture_suites_compare_and_announce_the_change():
    base = fixtures_dir() / "bench"
    c = compare(base / "baseline", base / "after-max-depth-3")
    assert isinstance(c, Comparison) and c.kind == "runs"
    checks = dict(zip(c.checks["check"], c.checks["status"], strict=True))
    assert checks["at least 3 runs per side"] == "pass"
    assert checks["warm-up cut"] == "pass"
    assert checks["only the announced change"] == "pass"
    assert "speculation.max_depth 5 -> 3" in c.checks.filter(
        pl.col("check") == "only the announced change")["detail"][0]
    # five tests compared, every verdict one of the allowed words
    assert set(c.tidy()["test"].str.replace(r" \(counts\)", "").unique()) == {
        "throughput", "latency", "deep_chain", "burst", "rollback"}
    assert set(c.tidy()["verdict"]) <= {"improved", "regressed", "equivalent",
                                        "inconclusive"}
    # with 3 runs a side, a U test alone never calls a change
    mw = c.tidy().filter(pl.col("method").str.starts_with("Mann"))
    assert not set(mw["verdict"]) & {"improved", "regressed"}


def test_simulator_truth_smaller_depth_uses_less_memory():
    cfg = default_config()
    before = [run_benchmark(cfg, seed=s, **KW) for s in range(1, 7)]
    after = [run_benchmark(cfg.replace(max_depth=2), seed=s, **KW)
             for s in range(101, 107)]
    c = compare(before, after, metrics=["memory_avg_mb", "avg_rollback_size"],
                change=["max_depth"])
    v = c.verdicts()
    assert v["ad-hoc/memory_avg_mb"] == "improved"
    assert v["ad-hoc/avg_rollback_size"] in ("improved", "inconclusive")
    assert c.overall in ("improved", "mixed")
    # an A/A with the same configuration calls nothing improved or regressed
    aa = compare(before[:3] + after[:0] + before[3:], [
        run_benchmark(cfg, seed=s, **KW) for s in range(201, 207)],
        metrics=["memory_avg_mb", "avg_rollback_size", "latency_p50_s"])
    assert not set(aa.verdicts().values()) & {"improved", "regressed"}
    status = aa.checks.filter(pl.col("check") == "only the announced change")
    assert status["status"][0] == "warn"  # identical configurations: an A/A


# ----------------------------------------------------------------- rigour checks


def test_rigour_checks_fail_on_few_runs_no_warmup_and_extra_changes(template):
    cfg = default_config()
    before = [with_summary(template, {"latency_p50_s": 1.0 + 0.01 * i}, run=i + 1)
              for i in range(2)]
    no_warm = dataclasses.replace(template.parameters, warmup_s=0.0)
    other = cfg.replace(max_depth=3, **{"proof.batch_size": 20}).to_dict()
    after = [with_summary(template, {"latency_p50_s": 1.1 + 0.01 * i}, run=i + 1,
                          parameters=no_warm, config=other) for i in range(2)]
    c = compare(before, after, metrics=["latency_p50_s"])
    checks = dict(zip(c.checks["check"], c.checks["status"], strict=True))
    assert checks["at least 3 runs per side"] == "fail"
    assert checks["warm-up cut"] == "fail"
    assert checks["only the announced change"] == "fail"
    assert "proof.batch_size" in c.checks.filter(
        pl.col("check") == "only the announced change")["detail"][0]
    assert c.failed("inconclusive") and not c.failed("regression")
    # announcing both keys makes the config check pass (the flags still differ)
    c2 = compare(before, after, metrics=["latency_p50_s"],
                 change=["max_depth", "proof.batch_size"])
    detail = c2.checks.filter(pl.col("check") == "only the announced change")["detail"][0]
    assert "differ beyond" not in detail and "flags" in detail


def test_cv_and_drift_checks(template):
    drifting = [1.0, 1.1, 1.2, 1.3, 1.4, 1.5]  # CV ~ 15 %, monotone in run order
    before = [with_summary(template, {"latency_p50_s": v}, run=i + 1)
              for i, v in enumerate(drifting)]
    after = [with_summary(template, {"latency_p50_s": 1.2 + 0.001 * (i % 2)}, run=i + 1)
             for i in range(6)]
    c = compare(before, after, metrics=["latency_p50_s"])
    checks = {r["check"]: r for r in c.checks.iter_rows(named=True)}
    assert checks["CV under 10 %"]["status"] == "warn"
    assert "before" in checks["CV under 10 %"]["detail"]
    assert checks["no drift across run order"]["status"] == "warn"
    # Kendall's tau of a perfect trend over 6 runs: exact p = 2/720
    assert "p=0.0028" in checks["no drift across run order"]["detail"]


# -------------------------------------------------------------------- bad input


def test_runs_of_different_benchmarks_are_a_typed_error(template):
    b = [with_summary(template, {}, run=i + 1, test="latency") for i in range(3)]
    a = [with_summary(template, {}, run=i + 1, test="burst") for i in range(3)]
    with pytest.raises(DataError, match="different benchmarks"):
        compare(b, a)


def test_nan_only_metric_and_one_run_are_inconclusive_with_reason(template):
    b = [with_summary(template, {"avg_rollback_size": math.nan, "latency_p50_s": 1.0},
                      run=1)]
    a = [with_summary(template, {"avg_rollback_size": math.nan, "latency_p50_s": 2.0},
                      run=1)]
    c = compare(b, a, metrics=["avg_rollback_size", "latency_p50_s"])
    rows = {r["figure"]: r for r in c.tidy().iter_rows(named=True)}
    assert rows["avg_rollback_size"]["verdict"] == "inconclusive"
    assert "no values" in rows["avg_rollback_size"]["reason"]
    assert rows["latency_p50_s"]["verdict"] == "inconclusive"
    assert c.overall == "inconclusive"
    assert "at least 3 runs per side" in c.overall_reason


def test_unknown_metric_mixed_inputs_and_bad_arguments(template, tmp_path):
    runs = [with_summary(template, {}, run=i + 1) for i in range(3)]
    with pytest.raises(DataError, match="unknown benchmark figure"):
        compare(runs, runs, metrics=["nope"])
    with pytest.raises(DataError, match="before is runs, after is snapshots"):
        compare(runs, "# TYPE x gauge\nx 1\n")
    with pytest.raises(DataError, match="tolerance"):
        compare(runs, runs, tolerance=5)
    with pytest.raises(DataError, match="alpha"):
        compare(runs, runs, alpha=1.5)
    with pytest.raises(DataError, match="no benchmark result files"):
        (tmp_path / "empty").mkdir()
        (tmp_path / "empty" / "manifest.json").write_text("{}")
        load_runs(tmp_path / "empty")
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema_version": 1}')
    with pytest.raises(SpecAnalysisError, match="bad.json"):
        compare([bad], runs)


def test_result_protocol(template):
    before = [with_summary(template, {"latency_p50_s": 1.0 + 0.01 * i}, run=i + 1)
              for i in range(5)]
    after = [with_summary(template, {"latency_p50_s": 1.3 + 0.01 * i}, run=i + 1)
             for i in range(5)]
    c = compare(before, after, metrics=["latency_p50_s", "throughput_tps"])
    t = c.tidy()
    assert {"metric", "before", "after", "change_pct", "p_value", "p_adjusted",
            "verdict", "mde_pct", "n_needed", "reason"} <= set(t.columns)
    text = c.summary()
    assert "latency/latency_p50_s" in text and "regressed" in text
    h = c._repr_html_()
    assert "class='verdict-regressed'" in h and "#cf222e" in h
    pf = c.plot_frame()
    pts = pf.filter((pl.col("metric") == "latency/latency_p50_s")
                    & (pl.col("kind") == "value"))
    assert sorted(pts.filter(pl.col("side") == "before")["value"].to_list()) == \
        pytest.approx([1.0, 1.01, 1.02, 1.03, 1.04])
    centre = pf.filter((pl.col("kind") == "center") & (pl.col("side") == "after")
                       & (pl.col("metric") == "latency/latency_p50_s"))
    assert centre["value"][0] == pytest.approx(1.32)
    cf = c.compare_frame()
    assert cf.filter(pl.col("verdict") == "regressed")["colour"][0] == "#cf222e"
    assert "Comparison(kind='runs'" in repr(c)
    # the plot is built from plot_frame: one panel per figure, no browser needed
    layout = c.plot()
    assert len(layout) == 2
    assert "regressed" in layout[0].label or "regressed" in str(layout[0].opts.get(
        "plot").kwargs.get("title", ""))


def test_package_attribute_stays_callable_after_importing_the_module(template):
    import importlib

    import specanalysis

    importlib.import_module("specanalysis.compare")
    runs = [with_summary(template, {"latency_p50_s": 1.0 + 0.1 * i}, run=i + 1)
            for i in range(3)]
    c = specanalysis.compare(runs, runs, metrics=["latency_p50_s"])
    assert isinstance(c, Comparison)
