"""Tests for specanalysis.widgets: predict() and the tuning panel."""

from __future__ import annotations

import math

import polars as pl
import pytest

from specanalysis.config import SizingInputError, SpeculationConfig, sizing_for
from specanalysis.errors import ConfigError, WorkloadSpecError
from specanalysis.sim import Workload, simulate
from specanalysis.widgets import KNOBS, PREDICTED, knob_bounds, predict, tuning_panel

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
    panel = tuning_panel(CFG, WL, duration="60s", seed=3)
    assert {k: s.value for k, s in panel.sliders.items()} == {
        "max_depth": 5, "max_parallel_branches": 4, "proof.worker_threads": 4,
        "proof.batch_size": 10}
    st = panel.state
    assert st.config == CFG
    assert st.comparison["config"].to_list() == ["start", "chosen"]
    assert st.comparison.drop("config").row(0) == st.comparison.drop("config").row(1)
    assert st.sizing.equals(sizing_for(CFG, peak_task_rate=5.0))
    assert st.error == ""


def test_panel_recomputes_when_a_slider_moves():
    panel = tuning_panel(CFG, WL, duration="60s", seed=3, peak_task_rate=100)
    before = panel.state
    panel.sliders["max_depth"].value = 2
    panel.sliders["max_parallel_branches"].value = 8
    st = panel.state
    assert st is not before
    assert st.config.max_depth == 2 and st.config.max_parallel_branches == 8
    assert st.prediction["max_depth"].item() == 2
    assert st.prediction.equals(
        predict(CFG.replace(max_depth=2, max_parallel_branches=8), WL, duration="60s",
                seed=3))
    # the start row does not move
    assert st.comparison.row(0) == before.comparison.row(0)
    assert st.comparison["max_depth"].to_list() == [5, 2]
    sizing = dict(zip(st.sizing["parameter"], st.sizing["recommended"], strict=True))
    # guide: snapshots = max_depth x branches x 2.5 = 2 x 8 x 2.5
    assert sizing["speculation.limits.max_state_snapshots"] == 40
    # guide: memory = (8 x 200) + (10000 x 1 KB) + 512 MB = 2122, + 20 % = 2546.4 -> 4096
    assert sizing["speculation.limits.max_memory_mb"] == 4096
    # guide: pending = 100/s x 30 s x 2
    assert sizing["speculation.limits.max_pending_operations"] == 6000
    html = panel.children[5].value
    assert "chosen" in html and "latency p99 (s)" in html


def test_panel_worker_and_batch_sliders_reach_the_simulator():
    panel = tuning_panel(CFG, WL, duration="60s", seed=0)
    panel.sliders["proof.worker_threads"].value = 1
    panel.sliders["proof.batch_size"].value = 40
    pred = panel.state.prediction
    assert pred["proof.worker_threads"].item() == 1
    assert pred["proof.batch_size"].item() == 40
    assert panel.state.config.proof.worker_threads == 1


def test_panel_bad_arguments():
    with pytest.raises(SizingInputError):
        tuning_panel(CFG, WL, duration="30s", peak_task_rate=-1)
    with pytest.raises(WorkloadSpecError):
        tuning_panel(CFG, {"rate": 5}, duration="30s")
    with pytest.raises(WorkloadSpecError):
        tuning_panel("baseline.toml", WL, duration="30s")
