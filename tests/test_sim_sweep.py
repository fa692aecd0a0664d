"""What-if sweeps (specanalysis.sim.sweep), on this machine.

The truth a sweep is held to is the simulator itself: every row must be what
``simulate(config_of_the_point, workload, seed=row.seed).summary()`` gives,
whichever executor ran it and whether it came from the cache. Intervals are
checked against the t distribution's published quantiles, the Pareto front
against its definition by brute force. Dask clusters: test_sim_sweep_dask.py.
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import multiprocessing
import os
import socket
import sys

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import specanalysis.sim.sweep as sweep_mod
from specanalysis.config import SpeculationConfig
from specanalysis.errors import ConfigError, MissingDependencyError, SweepError
from specanalysis.sim import Workload, simulate
from specanalysis.sim.sweep import (
    Sweep,
    heatmap_frame,
    pareto_frame,
    pareto_mask,
    sweep,
    sweep_seeds,
)

BASE = SpeculationConfig(enabled=True)
WL = Workload(rate=5, depth="fixed:3", failures=0.05)
GRID = {"max_depth": [2, 4], "proof.worker_threads": [1, 4]}
FAST = {"duration": "30s", "progress": False}


def _equal(a: pl.DataFrame, b: pl.DataFrame) -> bool:
    """Bit-for-bit: same columns, types and values (NaN equal to NaN)."""
    return a.columns == b.columns and a.dtypes == b.dtypes and a.equals(b)


@pytest.fixture(scope="module")
def serial() -> Sweep:
    return sweep(BASE, WL, GRID, seeds=3, executor="serial", **FAST)


def _forbid_simulation(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("simulate() was called")

    monkeypatch.setattr(sweep_mod, "simulate", boom)


# ----------------------------------------------------------------- the results


def test_every_row_is_the_simulators_own_result(serial):
    assert serial.frame.height == 4 * 3
    assert serial.parameters == ("max_depth", "proof.worker_threads")
    for row in serial.frame.iter_rows(named=True):
        cfg = BASE.replace(**{"max_depth": row["max_depth"],
                              "proof.worker_threads": row["proof.worker_threads"]})
        want = simulate(cfg, WL, duration=30, seed=row["seed"]).summary()
        got = {k: row[k] for k in want}
        for key, value in want.items():
            assert (math.isnan(value) and math.isnan(got[key])) or got[key] == value, key
    assert serial.config(1) == BASE.replace(**{"max_depth": 2,
                                               "proof.worker_threads": 4})


def test_one_row_per_point_and_seed_in_grid_order(serial):
    keys = serial.frame.select("point", "seed_index").rows()
    assert keys == [(p, k) for p in range(4) for k in range(3)]
    assert serial.points.rows() == [(0, 2, 1), (1, 2, 4), (2, 4, 1), (3, 4, 4)]
    # the figures are the simulator's summary keys, whatever they are
    assert set(serial.figures) == set(simulate(BASE, WL, duration=30).summary())


def test_seeds_come_from_one_seed_sequence():
    children = np.random.SeedSequence(42).spawn(4)
    expected = tuple(int(c.generate_state(1, dtype=np.uint64)[0]) >> 1
                     for c in children)
    assert sweep_seeds(4, seed=42) == expected
    assert len(set(expected)) == 4
    assert sweep_seeds(4, seed=43) != expected
    s = sweep(BASE, WL, {"max_depth": [2, 3]}, seeds=4, seed=42, executor="serial",
              **FAST)
    # the same seeds at every point (paired comparisons)
    per_point = s.frame.group_by("point", maintain_order=True).agg(pl.col("seed"))
    assert [tuple(v) for v in per_point["seed"].to_list()] == [expected, expected]


@pytest.mark.parametrize("executor", ["processes", "threads", "pool"])
def test_results_are_bit_identical_whichever_executor(serial, executor):
    if executor == "processes":
        other = sweep(BASE, WL, GRID, seeds=3, executor="processes", chunksize=2, **FAST)
        assert other.stats["mode"] == "processes"
        # one stamp per chunk, from a worker process, within the dispatch
        stamps, t0 = other.stats["timeline"], other.stats["dispatch_at"]
        assert len(stamps) == other.stats["chunks"] == 6
        assert all(t0 <= a <= b <= t0 + other.stats["wall_s"] + 1e-3 for _, a, b in stamps)
        processes = {w.split("/")[0] for w, _, _ in stamps}
        assert 1 <= len(processes) <= 2
        assert f"{socket.gethostname()}:{os.getpid()}" not in processes
    elif executor == "threads":
        with cf.ThreadPoolExecutor(2) as pool:
            other = sweep(BASE, WL, GRID, seeds=3, executor=pool, **FAST)
        assert other.stats["mode"] == "executor"
    else:
        ctx = multiprocessing.get_context("forkserver")
        with cf.ProcessPoolExecutor(2, mp_context=ctx) as pool:
            other = sweep(BASE, WL, GRID, seeds=3, executor=pool, chunksize=1, **FAST)
        assert other.stats["chunks"] == 12
    assert _equal(other.frame, serial.frame)


@pytest.mark.parametrize(("n", "size", "workers"), [(179, 11, 2), (1000, 40, 8), (5, 3, 2),
                                                 (1, 1, 1), (64, 8, 4)])
def test_guided_chunks_cover_every_run_once_and_shrink_at_the_end(n, size, workers):
    from specanalysis.sim.sweep import _chunk_sizes

    sizes = _chunk_sizes(n, size, workers)
    assert sum(sizes) == n and max(sizes) <= size and min(sizes) >= 1
    assert sizes == sorted(sizes, reverse=True)  # never grows again
    # the tail: once fewer than 2 x workers x size runs remain, a chunk is at most
    # remaining / (2 workers), down to single runs, so workers finish together
    left = n
    for k in sizes:
        if left < 2 * workers * size:
            assert k <= max(math.ceil(left / (2 * workers)), 1)
        left -= k
    assert sizes[-min(workers, len(sizes)):] == [1] * min(workers, len(sizes))
    fixed = _chunk_sizes(n, size, workers, guided=False)
    assert fixed[:-1] == [size] * (len(fixed) - 1) and sum(fixed) == n


def _probe() -> tuple[int, bool]:
    """What a pool worker has loaded: the modules a first simulation imports lazily."""
    return os.getpid(), {"numpy.random", "specanalysis.sim.emit"} <= set(sys.modules)


def test_pool_workers_are_all_warm_before_the_first_task_finishes():
    # the initializer simulates a second of a pending run in every worker and
    # holds each at a barrier until all are warm: whatever worker answers, and
    # whichever answers first, it has already paid the first-run imports, and so
    # has every other worker of the pool
    task = (0, BASE, WL, 7)
    pool, warming, _ = sweep_mod._process_pool(2, task)
    try:
        assert len({f.result(timeout=120) for f in warming}) >= 1
        first = [pool.submit(_probe) for _ in range(2)]
        answers = [f.result(timeout=120) for f in first]
        assert all(warm for _, warm in answers)
        assert len(pool._processes) == 2  # both started although one may answer both
        more = [pool.submit(_probe) for _ in range(8)]
        assert all(f.result(timeout=120)[1] for f in more)
    finally:
        pool.shutdown(wait=True)


def test_warming_tolerates_a_worker_that_never_arrives(monkeypatch):
    import threading

    monkeypatch.setattr(sweep_mod, "_READY_TIMEOUT_S", 0.05)
    lonely = threading.Barrier(2)  # the other party never comes
    assert sweep_mod._warm_worker((0, BASE, WL, 1), lonely) == os.getpid()
    assert sweep_mod._warm_worker(None, None) == os.getpid()
    aborted = threading.Barrier(2)
    aborted.abort()  # what sweep() does when it fails while workers wait
    assert sweep_mod._warm_worker(None, aborted) == os.getpid()


def test_old_objects_are_frozen_only_while_chunks_run():
    import gc

    assert gc.get_freeze_count() == 0
    with sweep_mod._old_objects_frozen():
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
    # chunks on two threads share one freeze: the first to end leaves the
    # other's in place, the last gives everything back
    first, second = sweep_mod._old_objects_frozen(), sweep_mod._old_objects_frozen()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert gc.get_freeze_count() > 0
    second.__exit__(None, None, None)
    assert gc.get_freeze_count() == 0
    gc.freeze()  # the host program's own freeze is left alone
    try:
        frozen = gc.get_freeze_count()
        with sweep_mod._old_objects_frozen():
            pass
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()


def test_workload_parameters_vary_too():
    s = sweep(BASE, WL, {"workload.rate": [2, 8], "workload.pattern":
                         ["constant", "burst:4x:5s:every:15s"]}, seeds=1,
              executor="serial", **FAST)
    assert s.parameters == ("workload.rate", "workload.pattern")
    row = s.frame.row(3, named=True)
    wl = Workload(rate=8, depth="fixed:3", failures=0.05,
                  pattern="burst:4x:5s:every:15s")
    assert row["workload.pattern"] == "burst:4x:5s:every:15s"
    assert row["tasks_total"] == simulate(BASE, wl, duration=30,
                                          seed=row["seed"]).summary()["tasks_total"]
    assert s.workloads[3] == wl


def test_a_list_of_configurations_is_a_grid():
    configs = [BASE, BASE.replace(max_depth=3), {"max_depth": 3, "mode": "balanced"}]
    s = sweep(BASE, WL, configs, seeds=1, executor="serial", **FAST)
    assert s.parameters == ("mode", "max_depth")
    assert s.points.rows() == [(0, "conservative", 5), (1, "conservative", 3),
                               (2, "balanced", 3)]
    assert s.configs[2] == BASE.replace(max_depth=3, mode="balanced")


def test_speculation_prefix_and_numpy_values_are_accepted():
    s = sweep(BASE, WL, {"speculation.max_depth": np.array([2, 3])}, seeds=1,
              executor="serial", **FAST)
    assert s.parameters == ("max_depth",)
    assert s.frame["max_depth"].to_list() == [2, 3]


# ----------------------------------------------------------------- bad input


def test_unknown_names_get_a_did_you_mean(monkeypatch):
    _forbid_simulation(monkeypatch)
    with pytest.raises(ConfigError) as err:
        sweep(BASE, WL, {"max_dept": [3], "proof.worker_thread": [4],
                         "workload.rat": [5]}, **FAST)
    problems = err.value.problems
    assert len(problems) == 3
    assert "did you mean max_depth?" in problems[0]
    assert "did you mean proof.worker_threads?" in problems[1]
    assert "did you mean workload.rate?" in problems[2]


def test_every_problem_is_reported_before_anything_runs(monkeypatch):
    _forbid_simulation(monkeypatch)
    with pytest.raises(ConfigError) as err:
        sweep(BASE, WL, {"max_depth": [0, 3, 21], "proof.batch_size": [],
                         "workload.rate": [-1, 5], "max_parallel_branches": [2, 2]},
              seeds=0, duration="1x", progress=False)
    text = "\n".join(err.value.problems)
    assert "speculation.max_depth: 0 is out of range (expected an integer in 1..20)" \
        in text
    assert "speculation.max_depth: 21 is out of range" in text
    assert "proof.batch_size: no values" in text
    assert "workload.rate: -1 is not a positive rate" in text
    assert "max_parallel_branches: value 2 is listed twice" in text
    assert "seeds: 0 is out of range" in text
    assert "duration:" in text
    assert len(err.value.problems) == 7


def test_invalid_combinations_are_named(monkeypatch):
    _forbid_simulation(monkeypatch)
    grid = {"stake.min_stake": [1_000, 5_000_000], "stake.max_stake": [2_000_000,
                                                                       9_000_000]}
    with pytest.raises(ConfigError) as err:
        sweep(BASE, WL, grid, **FAST)
    assert len(err.value.problems) == 1
    assert err.value.problems[0].startswith(
        "point (stake.min_stake=5000000, stake.max_stake=2000000): "
        "speculation.stake.min_stake: 5_000_000 exceeds max_stake 2_000_000")


@pytest.mark.parametrize(("grid", "message"), [
    ({}, "the grid is empty"),
    ([], "the list of configurations is empty"),
    ("max_depth=3", "is not a grid"),
    ([BASE, 3], "grid[1]: int is not a configuration"),
])
def test_empty_or_malformed_grids(grid, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        sweep(BASE, WL, grid, **FAST)


def test_other_arguments_are_checked():
    with pytest.raises(ConfigError) as err:
        sweep(BASE, WL, {"max_depth": [2]}, seeds=[1, 1], warmup="1m",
              chunksize=0, executor=42, **FAST)  # duration 30 s
    text = "\n".join(err.value.problems)
    assert "repeats a seed" in text
    assert "warmup: 60 s is not shorter than the duration 30 s" in text
    assert "chunksize: 0 is out of range" in text
    assert "executor: int is not an executor" in text
    with pytest.raises(ConfigError, match="exceeds max_runs=10"):
        sweep(BASE, WL, {"max_depth": [2, 3, 4]}, seeds=4, max_runs=10, **FAST)
    with pytest.raises(ConfigError, match="expected a SpeculationConfig"):
        sweep({"max_depth": 3}, WL, {"max_depth": [2]})


def test_a_forking_process_pool_is_refused_before_it_deadlocks(monkeypatch):
    _forbid_simulation(monkeypatch)
    with cf.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        with pytest.raises(ConfigError, match="forks can deadlock in polars"):
            sweep(BASE, WL, {"max_depth": [2]}, seeds=1, executor=pool, **FAST)


def test_dask_without_distributed_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(MissingDependencyError, match=r"specanalysis\[distributed\]"):
        sweep(BASE, WL, {"max_depth": [2]}, seeds=1, executor="tcp://127.0.0.1:1",
              **FAST)


# ----------------------------------------------------------------- cache


def test_a_repeated_sweep_costs_nothing(tmp_path, monkeypatch, serial):
    first = sweep(BASE, WL, GRID, seeds=3, executor="serial", cache=tmp_path, **FAST)
    assert first.stats["computed"] == 12 and first.stats["cached"] == 0
    assert list(tmp_path.glob("*.parquet"))
    _forbid_simulation(monkeypatch)
    again = sweep(BASE, WL, GRID, seeds=3, executor="serial", cache=tmp_path, **FAST)
    assert again.stats["computed"] == 0 and again.stats["cached"] == 12
    assert _equal(again.frame, serial.frame)


def test_the_cache_is_keyed_by_run(tmp_path, monkeypatch):
    sweep(BASE, WL, {"max_depth": [2, 3]}, seeds=2, executor="serial", cache=tmp_path,
          **FAST)
    # two more seeds and a new point: only the new runs are simulated
    more = sweep(BASE, WL, {"max_depth": [2, 3, 4]}, seeds=4, executor="serial",
                 cache=tmp_path, **FAST)
    assert more.stats["cached"] == 4 and more.stats["computed"] == 8
    # a different workload, duration or package version is a different run
    assert sweep(BASE, Workload(rate=6, depth="fixed:3"), {"max_depth": [2]}, seeds=1,
                 executor="serial", cache=tmp_path, **FAST).stats["cached"] == 0
    assert sweep(BASE, WL, {"max_depth": [2]}, seeds=1, executor="serial",
                 cache=tmp_path, duration="31s",
                 progress=False).stats["cached"] == 0
    import specanalysis

    monkeypatch.setattr(specanalysis, "__version__", "999.0")
    assert sweep(BASE, WL, {"max_depth": [2]}, seeds=1, executor="serial",
                 cache=tmp_path, **FAST).stats["cached"] == 0


def test_an_interrupted_sweep_resumes_where_it_stopped(tmp_path, monkeypatch, serial):
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 5:
            raise KeyboardInterrupt
        return simulate(*args, **kwargs)

    monkeypatch.setattr(sweep_mod, "simulate", flaky)
    with pytest.raises(KeyboardInterrupt):
        sweep(BASE, WL, GRID, seeds=3, executor="serial", chunksize=1, cache=tmp_path,
              **FAST)
    monkeypatch.setattr(sweep_mod, "simulate", simulate)
    resumed = sweep(BASE, WL, GRID, seeds=3, executor="serial", cache=tmp_path, **FAST)
    assert resumed.stats["cached"] == 5 and resumed.stats["computed"] == 7
    assert _equal(resumed.frame, serial.frame)


def test_a_damaged_cache_file_costs_its_runs_not_the_sweep(tmp_path):
    sweep(BASE, WL, {"max_depth": [2]}, seeds=1, executor="serial", cache=tmp_path,
          **FAST)
    (tmp_path / "junk.parquet").write_bytes(b"not parquet")
    with pytest.warns(UserWarning, match="junk.parquet: unreadable cache file"):
        s = sweep(BASE, WL, {"max_depth": [2]}, seeds=1, executor="serial",
                  cache=tmp_path, **FAST)
    assert s.stats["cached"] == 1


def test_an_unusable_cache_directory_is_a_typed_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SweepError, match="cache"):
        sweep(BASE, WL, {"max_depth": [2]}, seeds=1, cache=blocker, **FAST)


# ----------------------------------------------------------------- statistics


def _synthetic(values: dict[str, list[list[float]]], params=(("max_depth", [2, 3]),)
               ) -> Sweep:
    """A Sweep over hand-made figures: values[figure][point] = per-seed values."""
    name, levels = params[0]
    n_seeds = len(next(iter(values.values()))[0])
    data: dict = {"point": [], name: [], "seed_index": [], "seed": []}
    for p, level in enumerate(levels):
        for k in range(n_seeds):
            data["point"].append(p)
            data[name].append(level)
            data["seed_index"].append(k)
            data["seed"].append(k)
    for fig, per_point in values.items():
        data[fig] = [v for point in per_point for v in point]
    frame = pl.DataFrame(data, schema_overrides=dict.fromkeys(values, pl.Float64))
    return Sweep(frame, (name,), tuple(values), tuple(BASE for _ in levels),
                 tuple(WL for _ in levels), tuple(range(n_seeds)), 30.0, 0.0)


def test_intervals_are_t_intervals_of_the_mean():
    s = _synthetic({"latency_p99_s": [[1.0, 2.0, 3.0], [4.0, 4.0, 4.0]]})
    row = s.by_point().row(0, named=True)
    # t(0.975, 2) = 4.302653 (published tables); sd = 1, n = 3
    half = 4.302653 / math.sqrt(3)
    assert row["latency_p99_s"] == 2.0
    assert row["latency_p99_s_lo"] == pytest.approx(2.0 - half, rel=1e-6)
    assert row["latency_p99_s_hi"] == pytest.approx(2.0 + half, rel=1e-6)
    tidy = s.tidy(level=0.90)
    first = tidy.row(0, named=True)
    # t(0.95, 2) = 2.919986
    assert first["upper"] - first["estimate"] == pytest.approx(2.919986 / math.sqrt(3),
                                                               rel=1e-6)
    assert (first["figure"], first["unit"], first["n"], first["sd"]) == \
        ("latency_p99_s", "s", 3, 1.0)


def test_one_seed_has_no_interval_and_nan_runs_are_not_counted():
    one = _synthetic({"latency_p99_s": [[1.0], [2.0]]})
    row = one.by_point().row(0, named=True)
    assert row["latency_p99_s"] == 1.0 and row["latency_p99_s_lo"] is None
    gaps = _synthetic({"recovery_time_s": [[math.nan, 2.0, 4.0], [math.nan] * 3]})
    t = gaps.tidy()
    assert t["n"].to_list() == [2, 0]
    assert t["estimate"].to_list() == [3.0, None]


def test_targets_are_judged_with_their_intervals():
    s = _synthetic({
        "latency_p99_s": [[3.9, 4.0, 4.1], [4.0, 5.0, 6.0]],   # < 5 s
        "rollback_rate_pct": [[6.0, 6.1, 5.9], [1.0, 1.0, 1.0]],  # < 5 %
        "recovery_time_s": [[math.nan] * 3, [10.0, 11.0, 12.0]],  # < 30 s
    })
    long = s.targets_frame()
    status = {(r["point"], r["figure"]): r["status"] for r in long.iter_rows(named=True)}
    assert status == {(0, "latency_p99_s"): "met", (0, "rollback_rate_pct"): "missed",
                      (0, "recovery_time_s"): "n/a", (1, "latency_p99_s"): "uncertain",
                      (1, "rollback_rate_pct"): "met", (1, "recovery_time_s"): "met"}
    assert long.filter(pl.col("figure") == "latency_p99_s")["threshold"][0] == "< 5 s"
    wide = s.meets_targets()
    assert wide.columns[:2] == ["point", "max_depth"]
    assert wide["latency_p99_s"].to_list() == ["met", "uncertain"]
    assert wide.select("met", "missed", "uncertain").rows() == [(1, 1, 0), (2, 0, 1)]
    assert wide["meets_all"].to_list() == [False, False]
    good = _synthetic({"latency_p99_s": [[1.0, 1.1, 0.9], [9.0, 9.0, 9.0]]})
    assert good.meets_targets()["meets_all"].to_list() == [True, False]


def _dominated(i, xs, ys):
    return any(xs[j] <= xs[i] and ys[j] <= ys[i] and (xs[j] < xs[i] or ys[j] < ys[i])
               for j in range(len(xs)))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), min_size=1,
                max_size=25))
def test_pareto_mask_is_the_set_of_undominated_points(points):
    xs = [float(p[0]) for p in points]
    ys = [float(p[1]) for p in points]
    assert pareto_mask(xs, ys) == [not _dominated(i, xs, ys) for i in range(len(xs))]
    # "higher is better" is the mirror image
    assert pareto_mask(xs, [-y for y in ys], y_better="higher") == pareto_mask(xs, ys)


def test_pareto_and_heatmap_frames():
    s = _synthetic({"memory_peak_mb": [[100.0, 100.0], [300.0, 300.0], [200.0, 200.0]],
                    "latency_p99_s": [[5.0, 5.0], [2.0, 2.0], [6.0, 6.0]],
                    "throughput_tps": [[10.0, 10.0], [10.0, 10.0], [12.0, 12.0]]},
                   params=(("max_depth", [2, 3, 4]),))
    front = s.pareto("peak_memory", "latency_p99")
    assert front["point"].to_list() == [0, 1]  # point 2 is beaten by point 0
    pf = pareto_frame(s, "memory_peak_mb", "throughput_tps")
    assert pf.filter("on_front")["point"].to_list() == [0, 2]  # throughput: higher
    assert pf["label"].to_list() == ["max_depth=2", "max_depth=4", "max_depth=3"]
    hf = heatmap_frame(s, "latency_p99_s")
    assert hf.select("x", "y", "value").rows() == [(2, "latency_p99_s", 5.0),
                                                   (3, "latency_p99_s", 2.0),
                                                   (4, "latency_p99_s", 6.0)]
    with pytest.raises(ConfigError, match="did you mean max_depth"):
        heatmap_frame(s, "latency_p99_s", x="max_dept")


def test_heatmap_panels_for_a_third_parameter():
    s = sweep(BASE, WL, {"max_depth": [2, 3], "max_parallel_branches": [1, 2],
                         "proof.batch_size": [1, 5]}, seeds=1, executor="serial", **FAST)
    hf = s.heatmap_frame("memory_peak_mb")
    assert hf.height == 8
    assert hf["panel"].unique(maintain_order=True).to_list() == [
        "proof.batch_size=1", "proof.batch_size=5"]
    assert (hf["x_name"][0], hf["y_name"][0]) == ("max_depth", "max_parallel_branches")
    by = s.by_point(["memory_peak_mb"])
    assert sorted(hf["value"].to_list()) == sorted(by["memory_peak_mb"].to_list())


def test_figure_names_resolve_and_unknown_ones_are_typed_errors(serial):
    assert serial.figure("peak_memory") == "memory_peak_mb"
    assert serial.figure("latency_p99") == "latency_p99_s"
    with pytest.raises(ConfigError, match="did you mean"):
        serial.pareto(x="peak_memroy")


# ----------------------------------------------------------------- presentation


def test_summary_html_and_repr(serial):
    text = serial.summary()
    assert text.startswith("Sweep: 4 points x 3 seeds of 30s simulated")
    assert "latency_p99_s" in text and "Pareto front" in text
    assert len([ln for ln in text.splitlines() if ln[:1].isdigit()]) == 4
    page = serial._repr_html_()
    assert page.count("<tr>") == 5 and "proof.worker_threads" in page
    assert repr(serial).startswith("Sweep(4 points x 3 seeds")


def test_plot_builds_heatmaps_and_the_pareto_front(serial):
    import holoviews as hv

    layout = serial.plot()
    assert isinstance(layout, hv.Layout)
    assert len(layout) == 3  # two heatmaps and the Pareto overlay
    hv.render(layout, backend="bokeh")


def test_progress_is_shown_only_where_someone_watches(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(sweep_mod.sys.stderr, "isatty", lambda: True, raising=False)
    assert sweep_mod._show_progress(True) is True
    assert sweep_mod._show_progress(False) is False
    monkeypatch.setenv("CI", "true")
    assert sweep_mod._show_progress(True) is False


def test_progress_bar_counts_runs(monkeypatch, capsys):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(sweep_mod, "_show_progress", lambda progress: True)
    sweep(BASE, WL, {"max_depth": [2, 3]}, seeds=2, executor="serial", duration="30s")
    err = capsys.readouterr().err
    assert "sweep" in err and "4/4" in err


def test_scheduler_address_credentials_are_not_printed():
    assert sweep_mod._public_address("tls://user:s3cret@host:8786") == "tls://host:8786"



def test_an_unguarded_script_gets_a_typed_error_naming_the_fix(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    script = tmp_path / "unguarded.py"
    script.write_text(
        "from specanalysis.config import SpeculationConfig\n"
        "from specanalysis.errors import SweepError\n"
        "from specanalysis.sim import Workload\n"
        "from specanalysis.sim.sweep import sweep\n"
        "try:\n"
        "    sweep(SpeculationConfig(enabled=True), Workload(rate=5, depth='fixed:3'),\n"
        "          {'max_depth': [2, 3]}, seeds=2, duration='30s', executor='processes',\n"
        "          progress=False)\n"
        "except SweepError as exc:\n"
        "    print('TYPED:', exc)\n", encoding="utf-8")
    root = str(Path(__file__).resolve().parent.parent)
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": root})
    assert "TYPED:" in proc.stdout, proc.stderr[-2000:]
    assert "if __name__ == '__main__':" in proc.stdout
