"""Tests for specanalysis.widgets: predict() and the tuning panel."""

from __future__ import annotations

import math

import polars as pl
import pytest

from specanalysis.config import SizingInputError, SpeculationConfig, sizing_for
from specanalysis.errors import ConfigError, WorkloadSpecError
from specanalysis.sim import Workload, simulate
from specanalysis.widgets import (
    KNOBS,
    PREDICTED,
    compare_runs,
    format_interval,
    knob_bounds,
    predict,
    predict_runs,
    tuning_panel,
)

pytest.importorskip("ipywidgets")

CFG = SpeculationConfig(enabled=True, mode="balanced")
WL = Workload(rate=5.0, depth="uniform:1-5", failures=0.05)


def test_predict_matches_simulator_summary():
    row = predict(CFG, WL, duration="90s", seed=4)
    summary = simulate(CFG, WL, duration="90s", seed=4, progress=False).summary()
    assert row.height == 1
    assert row.columns == [*KNOBS, *PREDICTED]
    assert row.row(0, named=True)["max_depth"] == CFG.max_depth
    assert row["proof.worker_threads"].item() == CFG.proof.worker_threads
    assert row["proof.batch_size"].item() == CFG.proof.batch_size
    for key in PREDICTED:
        got, want = row[key].item(), summary[key]
        assert (math.isnan(got) and math.isnan(want)) or got == want, key
    assert row.schema["throughput_tps"] == pl.Float64
    assert row.schema["max_depth"] == pl.Int64


def test_predict_no_failures_no_rollbacks_and_throughput_near_offered_rate():
    row = predict(CFG, Workload(rate=5.0, failures=0.0), duration="5m", seed=0)
    assert row["rollback_rate_pct"].item() == 0.0
    assert math.isnan(row["avg_rollback_size"].item())
    # unsaturated: what is finalised per second is what is offered (flow balance)
    assert row["throughput_tps"].item() == pytest.approx(5.0, rel=0.2)
    assert row["latency_p99_s"].item() >= row["latency_p50_s"].item() > 0


def test_predict_failures_give_rollbacks():
    row = predict(CFG, Workload(rate=5.0, failures=0.2), duration="2m", seed=0)
    assert row["rollback_rate_pct"].item() > 0
    assert row["avg_rollback_size"].item() >= 1


def test_predict_seeded():
    a = predict(CFG, WL, duration="60s", seed=1)
    assert a.equals(predict(CFG, WL, duration="60s", seed=1))
    assert not a.equals(predict(CFG, WL, duration="60s", seed=2))


def test_predict_memory_grows_with_max_depth():
    deep = Workload(rate=5.0, depth="fixed:8")
    mem = [predict(CFG.replace(max_depth=d), deep, duration="2m", seed=0)
           ["memory_avg_mb"].item() for d in (1, 2, 4, 8)]
    assert mem == sorted(mem)
    assert mem[-1] > 10 * mem[0]


def test_predict_bad_input():
    with pytest.raises(WorkloadSpecError) as err:
        predict({"max_depth": 3}, WL)
    assert err.value.field == "config"
    with pytest.raises(WorkloadSpecError) as err:
        predict(CFG, "uniform:1-5")
    assert err.value.field == "workload"
    with pytest.raises(WorkloadSpecError):
        predict(CFG, WL, duration="soon")


@pytest.mark.parametrize("knob", list(KNOBS))
def test_knob_bounds_are_the_config_range(knob):
    lo, hi = knob_bounds(knob)
    assert CFG.replace(**{knob: lo}) and CFG.replace(**{knob: hi})
    with pytest.raises(ConfigError):
        CFG.replace(**{knob: hi + 1})
    with pytest.raises(ConfigError):
        CFG.replace(**{knob: lo - 1})


def test_knob_bounds_unknown():
    with pytest.raises(WorkloadSpecError, match="unknown knob"):
        knob_bounds("proof.queue_size")


def test_panel_starts_at_the_config():
    panel = tuning_panel(CFG, WL, duration="60s", seeds=3, seed=3)
    assert {k: s.value for k, s in panel.sliders.items()} == {
        "max_depth": 5, "max_parallel_branches": 4, "proof.worker_threads": 4,
        "proof.batch_size": 10}
    st = panel.state
    assert st.config == CFG
    assert st.prediction["seed"].to_list() == [3, 4, 5]
    assert st.comparison["figure"].to_list() == list(PREDICTED)
    # the start compared with itself: identical runs, no change
    for r in st.comparison.iter_rows(named=True):
        if r["verdict"] == "n/a":
            continue
        assert r["start"] == r["chosen"] and r["change"] == 0.0, r
        assert r["verdict"] in ("same", "too few rollbacks"), r
    assert st.sizing.equals(sizing_for(CFG, peak_task_rate=5.0))
    assert st.error == ""


def test_panel_recomputes_when_a_slider_moves():
    panel = tuning_panel(CFG, WL, duration="60s", seeds=2, seed=3, peak_task_rate=100)
    before = panel.state
    panel.sliders["max_depth"].value = 2
    panel.sliders["max_parallel_branches"].value = 8
    st = panel.state
    assert st is not before
    assert st.config.max_depth == 2 and st.config.max_parallel_branches == 8
    assert st.prediction["max_depth"].to_list() == [2, 2]
    assert st.prediction.equals(
        predict_runs(CFG.replace(max_depth=2, max_parallel_branches=8), WL,
                     duration="60s", seeds=[3, 4]))
    # the start column does not move; the chosen one is the new runs' mean
    assert st.comparison["start"].to_list() == before.comparison["start"].to_list()
    p99 = st.comparison.filter(pl.col("figure") == "latency_p99_s")
    assert p99["chosen"].item() == pytest.approx(st.prediction["latency_p99_s"].mean())
    sizing = dict(zip(st.sizing["parameter"], st.sizing["recommended"], strict=True))
    # guide: snapshots = max_depth x branches x 2.5 = 2 x 8 x 2.5
    assert sizing["speculation.limits.max_state_snapshots"] == 40
    # guide: memory = (8 x 200) + (10000 x 1 KB) + 512 MB = 2122, + 20 % = 2546.4 -> 4096
    assert sizing["speculation.limits.max_memory_mb"] == 4096
    # guide: pending = 100/s x 30 s x 2
    assert sizing["speculation.limits.max_pending_operations"] == 6000
    html = panel.children[5].value
    assert "chosen" in html and "latency p99 (s)" in html and "±" in html


def test_panel_worker_and_batch_sliders_reach_the_simulator():
    panel = tuning_panel(CFG, WL, duration="60s", seeds=2)
    panel.sliders["proof.worker_threads"].value = 1
    panel.sliders["proof.batch_size"].value = 40
    pred = panel.state.prediction
    assert pred["proof.worker_threads"].to_list() == [1, 1]
    assert pred["proof.batch_size"].to_list() == [40, 40]
    assert panel.state.config.proof.worker_threads == 1


def test_panel_says_when_a_change_is_beyond_noise():
    # depth-8 chains: max_depth 1 holds almost no speculative state, 8 holds a lot
    deep = Workload(rate=5.0, depth="fixed:8", failures=0.05)
    panel = tuning_panel(CFG.replace(max_depth=1), deep, duration="10m", seeds=3)
    panel.sliders["max_depth"].value = 8
    verdicts = dict(zip(panel.state.comparison["figure"],
                        panel.state.comparison["verdict"], strict=True))
    assert verdicts["memory_avg_mb"] == "worse"
    assert "Beyond the noise" in panel.children[6].value


def test_predict_runs_one_row_per_seed_matching_predict():
    runs = predict_runs(CFG, WL, duration="60s", seeds=[7, 9])
    assert runs["seed"].to_list() == [7, 9]
    for s in (7, 9):
        one = predict(CFG, WL, duration="60s", seed=s)
        row = runs.filter(pl.col("seed") == s)
        for key in PREDICTED:
            a, b = row[key].item(), one[key].item()
            assert (math.isnan(a) and math.isnan(b)) or a == b
    summary = simulate(CFG, WL, duration="60s", seed=7, progress=False).summary()
    assert runs["tasks_total"][0] == summary["tasks_total"]
    assert runs["rollback_events"][0] == pytest.approx(
        summary["tasks_total"] * summary["rollback_rate_pct"] / 100)


@pytest.mark.parametrize("seeds", [1, [3], [1, 1], "many", True])
def test_predict_runs_needs_two_distinct_seeds(seeds):
    with pytest.raises(WorkloadSpecError) as err:
        predict_runs(CFG, WL, duration="30s", seeds=seeds)
    assert err.value.field == "seeds"


def test_compare_runs_paired_t_interval():
    # differences 1, 2, 3: mean 2, sd 1, n 3; t(0.975, 2) = 4.302652729911275
    a = pl.DataFrame({"seed": [0, 1, 2], "latency_p99_s": [10.0, 20.0, 30.0]})
    b = pl.DataFrame({"seed": [2, 0, 1], "latency_p99_s": [33.0, 11.0, 22.0]})
    row = compare_runs(a, b).row(0, named=True)
    half = 4.302652729911275 / math.sqrt(3)
    assert row["change"] == pytest.approx(2.0)
    assert row["change_lo"] == pytest.approx(2.0 - half)
    assert row["change_hi"] == pytest.approx(2.0 + half)
    assert row["verdict"] == "within noise"  # the interval contains 0
    # the same differences with less spread: beyond noise, and higher latency is worse
    b2 = a.with_columns(pl.col("latency_p99_s") + pl.Series([2.0, 2.1, 1.9]))
    assert compare_runs(a, b2)["verdict"].item() == "worse"
    # higher throughput is better
    t = pl.DataFrame({"seed": [0, 1, 2], "throughput_tps": [5.0, 6.0, 7.0]})
    t2 = t.with_columns(pl.col("throughput_tps") + pl.Series([1.0, 1.1, 0.9]))
    assert compare_runs(t, t2)["verdict"].item() == "better"
    # the 95 % interval of the start's mean: 20 +- t * 10 / sqrt(3)
    assert row["start_hi"] - row["start"] == pytest.approx(4.302652729911275 * 10
                                                           / math.sqrt(3))


def test_compare_runs_too_few_rollbacks_and_mismatched_seeds():
    a = pl.DataFrame({"seed": [0, 1], "rollback_rate_pct": [1.0, 3.0],
                      "rollback_events": [2.0, 6.0]})
    b = a.with_columns(pl.col("rollback_rate_pct") * 3)
    assert compare_runs(a, b)["verdict"].item() == "too few rollbacks"
    with pytest.raises(WorkloadSpecError):
        compare_runs(a, a.with_columns(pl.col("seed") + 5))


@pytest.mark.parametrize(("args", "text"), [
    ((5.2345, 4.9, 5.569), "5.23 ± 0.33"),
    ((0.012344, 0.0120, 0.0127), "0.01234 ± 0.00035"),
    ((1234.5, 1000.0, 1469.0), "1230 ± 230"),
    ((7.0, 7.0, 7.0), "7"),
])
def test_format_interval_digits_follow_the_interval(args, text):
    assert format_interval(*args) == text


def test_panel_bad_arguments():
    with pytest.raises(SizingInputError):
        tuning_panel(CFG, WL, duration="30s", peak_task_rate=-1)
    with pytest.raises(WorkloadSpecError):
        tuning_panel(CFG, {"rate": 5}, duration="30s")
    with pytest.raises(WorkloadSpecError):
        tuning_panel("baseline.toml", WL, duration="30s")
