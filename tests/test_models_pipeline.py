"""The analytic pipeline model (specanalysis.models.pipeline).

Truth: runtime-facts §4 (recurrence, closed forms, 3n/(n+2), asymptote 4.5x),
hand-worked graphs, and the simulator with fixed times and no contention.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from specanalysis.config import SpeculationConfig
from specanalysis.errors import DataError, WorkloadSpecError
from specanalysis.models.pipeline import (
    TaskGraph,
    chain_latency,
    chain_speedup,
    finish_times,
    pace,
    pipeline,
    regime,
    saturation_depth,
    speedup_asymptote,
    speedup_floor,
    task_depths,
)
from specanalysis.sim import Workload, simulate

IDEAL = SpeculationConfig(enabled=True, max_depth=20, max_parallel_branches=16,
                          confirmation_timeout_ms=300_000).replace(**{
    "proof.worker_threads": 32, "proof.batch_size": 1, "proof.timeout_ms": 600_000,
})


def one_chain(n, te, tp, tc, shape="chain"):
    return Workload(rate=n / 1000.0, depth=f"fixed:{n}", arrivals="regular",
                    exec_time=f"fixed:{te}s", proof_time=f"fixed:{tp}s",
                    confirm_time=f"fixed:{tc}s", proof_overhead="fixed:0s",
                    shape=shape)


def recurrence(n, te, tp, tc, q=0.0):
    """runtime-facts §4: t_i = max(i*Te + Tp, t_{i-1}) + Tc + q_i, q_1 = 0."""
    t, out = 0.0, []
    for i in range(1, n + 1):
        t = max(i * te + tp, t) + tc + (q if i > 1 else 0.0)
        out.append(t)
    return out


CASES = [(1, 2.0, 5.0, 2.0), (3, 2.0, 5.0, 2.0), (10, 2.0, 5.0, 2.0),
         (5, 3.0, 1.0, 0.5), (8, 0.5, 1.0, 2.0), (12, 0.1, 0.3, 1.5),
         (6, 1.0, 1.0, 1.0), (20, 0.25, 4.0, 0.75)]


@pytest.mark.parametrize(("n", "te", "tp", "tc"), CASES)
def test_chain_matches_recurrence_and_closed_forms(n, te, tp, tc):
    t = finish_times(TaskGraph.chain(n), te, tp, tc)
    assert t["finalized"].tolist() == pytest.approx(recurrence(n, te, tp, tc), abs=1e-12)
    m = pipeline(n, te, tp, tc)
    assert m.exact
    assert m.latency_speculative == pytest.approx(tp + tc + max(n * te, te + (n - 1) * tc))
    assert m.latency_sequential == pytest.approx(n * (te + tp + tc))
    assert chain_latency(n, te, tp, tc) == pytest.approx(m.latency_speculative)
    if te >= tc:
        assert m.latency_speculative == pytest.approx(n * te + tp + tc)


def test_queue_delay_enters_as_in_the_recurrence():
    q = np.r_[0.0, np.full(6, 0.3)]
    t = finish_times(7, 1.0, 2.0, 1.5, queue_delay=q)
    assert t["finalized"].tolist() == pytest.approx(recurrence(7, 1.0, 2.0, 1.5, q=0.3))


@pytest.mark.parametrize("n", [2, 3, 5, 10, 50])
def test_equal_times_speedup_is_3n_over_n_plus_2(n):
    assert chain_speedup(n, 1.0, 1.0, 1.0) == pytest.approx(3 * n / (n + 2))
    assert pipeline(n, 2.0, 2.0, 2.0).speedup == pytest.approx(3 * n / (n + 2))


def test_asymptote_floor_crossover_from_the_whitepaper():
    assert speedup_asymptote(2, 5, 2) == pytest.approx(4.5)
    assert speedup_floor(2, 2) == pytest.approx(2.0)
    assert speedup_floor(3, 1) == pytest.approx(4 / 3)
    # the speedup of ever longer chains approaches the asymptote from below
    s = [chain_speedup(n, 2, 5, 2) for n in (10, 100, 1000, 10000)]
    assert all(a < b for a, b in zip(s, s[1:], strict=False))
    assert s[-1] == pytest.approx(4.5, rel=1e-3)
    # crossover: confirmation takes over from execution at Tc = Te
    assert regime(1.0, 2.0, 0.99) == "execution"
    assert regime(1.0, 2.0, 1.01) == "confirmation"
    tidy = pipeline(4, 2, 5, 2).tidy()
    row = dict(zip(tidy["term"], tidy["estimate"], strict=True))
    assert row["crossover_confirm_s"] == 2.0
    assert row["chain_speedup_asymptote"] == pytest.approx(4.5)
    assert row["saturation_depth"] == 5  # ceil(9 / 2)


def test_hand_worked_diamond_and_fan_out():
    # A -> {B, C} -> D with Te=1, Tp=2, Tc=1: A final at 4; B, C executed by 2,
    # proved at 4, final at 5; D executes 2..3, proved at 5, final at 6.
    m = pipeline(TaskGraph.diamond(), 1, 2, 1)
    spec = m.tasks.filter(pl.col("mode") == "speculative").sort("task")
    assert spec["finalized"].to_list() == [4.0, 5.0, 5.0, 6.0]
    assert spec["depth"].to_list() == [0, 1, 1, 2]
    assert m.latency_sequential == 12.0  # three levels of 4 s
    # unequal branches: D waits for the slower parent on every edge
    t = finish_times(TaskGraph.diamond(), [1, 1, 4, 1], 2, 1)
    assert t["exec_start"].tolist() == [0, 1, 1, 5]
    assert t["finalized"].tolist() == [4, 5, 8, 9]
    fan = pipeline(TaskGraph.fan_out(5), 1, 2, 1)
    assert fan.latency_speculative == 5.0 and fan.latency_sequential == 8.0


def test_graph_checks():
    with pytest.raises(DataError, match="cycle through task 0"):
        TaskGraph.from_parents([[2], [0], [1]])
    with pytest.raises(DataError, match="unknown parent 7"):
        TaskGraph.from_parents([[], [7]])
    with pytest.raises(DataError, match="its own parent"):
        TaskGraph.from_parents([[], [1]])
    with pytest.raises(DataError, match="no tasks"):
        TaskGraph.from_parents([])
    # any order of ids: a topological order is found
    g = TaskGraph.from_parents({0: [2], 1: [], 2: [1]})
    assert g.order == (1, 2, 0) and g.longest_path == 3
    assert finish_times(g, 1, 1, 1)["finalized"].tolist() == \
        finish_times(3, 1, 1, 1)["finalized"][[2, 0, 1]].tolist()
    assert TaskGraph.from_parents([None, -1, 0]).parents == ((), (), (0,))


def test_bad_times_are_typed_errors():
    with pytest.raises(DataError, match="exec_time.*not a time"):
        pipeline(3, -1, 1, 1)
    with pytest.raises(DataError, match="proof_time.*2 per-task values for 3"):
        pipeline(3, 1, [1, 1], 1)
    with pytest.raises(DataError, match="confirm_time.*task 1"):
        pipeline(3, 1, 1, [1, math.nan, 1])
    with pytest.raises(WorkloadSpecError, match="exec_time"):
        pipeline(3, "weibull:2", 1, 1)
    with pytest.raises(DataError, match="max_depth"):
        pipeline(3, 1, 1, 1, max_depth=0)
    with pytest.raises(DataError, match="mode"):
        finish_times(3, 1, 1, 1, mode="fast")
    with pytest.raises(DataError, match="cells"):
        pipeline(TaskGraph.chain(1000), "exponential:mean=1s", 1, 1, samples=10**6)


# ------------------------------------------------------------ against the simulator


def sim_times(r):
    tk = (r.tasks.filter(pl.col("outcome") == "confirmed")
          .sort("chain_id", "position"))
    return tk


@pytest.mark.parametrize(("n", "te", "tp", "tc"), CASES)
@pytest.mark.parametrize("max_depth", [None, 1, 2, 3])
def test_chain_agrees_with_simulator(n, te, tp, tc, max_depth):
    cfg = IDEAL if max_depth is None else IDEAL.replace(max_depth=max_depth)
    r = simulate(cfg, one_chain(n, te, tp, tc), duration=1, seed=0, drain=True)
    tk = sim_times(r)
    t = finish_times(n, te, tp, tc, max_depth=max_depth)
    assert tk["finalized"].to_list() == pytest.approx(t["finalized"].tolist(), abs=1e-9)
    assert tk["exec_start"].to_list() == pytest.approx(t["exec_start"].tolist(),
                                                       abs=1e-9)
    assert tk["depth"].to_list() == task_depths(n, t["exec_start"],
                                                t["finalized"]).tolist()


@pytest.mark.parametrize("shape", ["star", "tree"])
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("max_depth", [None, 2, 4])
def test_single_parent_graphs_agree_with_simulator(shape, seed, max_depth):
    cfg = IDEAL if max_depth is None else IDEAL.replace(max_depth=max_depth)
    te, tp, tc = (1.0, 3.0, 0.5) if seed % 2 else (0.5, 2.0, 1.5)
    r = simulate(cfg, one_chain(12, te, tp, tc, shape=shape), duration=1, seed=seed,
                 drain=True)
    tk = sim_times(r)
    parents = [[] if p is None else [p] for p in tk["parent_id"].to_list()]
    g = TaskGraph.from_parents(parents)
    m = pipeline(g, te, tp, tc, max_depth=max_depth)
    spec = m.tasks.filter(pl.col("mode") == "speculative").sort("task")
    assert tk["finalized"].to_list() == pytest.approx(spec["finalized"].to_list(),
                                                      abs=1e-9)
    assert tk["depth"].to_list() == spec["depth"].to_list()
    seq = simulate(IDEAL.replace(enabled=False), one_chain(12, te, tp, tc, shape=shape),
                   duration=1, seed=seed, drain=True)
    assert seq.chains["latency_s"].item() == pytest.approx(m.latency_sequential)


@pytest.mark.parametrize(("te", "tp", "tc"), [(1.0, 2.0, 0.5), (0.5, 3.0, 1.0),
                                               (1.0, 5.0, 1.0)])
@pytest.mark.parametrize("max_depth", [1, 2, 3, 4, 6, 9])
def test_pace_and_saturation_depth_in_the_simulator(te, tp, tc, max_depth):
    # slope of latency over chain length, measured in the simulator, is the pace
    cfg = IDEAL.replace(max_depth=max_depth)
    lat = {}
    for n in (40, 40 + 2 * 3 * 4 * 5):
        r = simulate(cfg, one_chain(n, te, tp, tc), duration=1, seed=0, drain=True)
        lat[n] = r.chains["latency_s"].item()
    slope = (lat[160] - lat[40]) / 120
    assert slope == pytest.approx(pace(te, tp, tc, max_depth), rel=1e-9)
    unlimited = chain_latency(40, te, tp, tc)
    if max_depth >= saturation_depth(te, tp, tc):
        assert lat[40] == pytest.approx(unlimited)
    else:
        assert lat[40] > unlimited + 1e-9
        assert regime(te, tp, tc, max_depth) == "depth"


# ------------------------------------------------------------ Monte Carlo


def test_vector_pass_equals_scalar_pass_draw_by_draw():
    g = TaskGraph.random(60, max_parents=3, window=6, seed=4)
    rng = np.random.default_rng(0)
    te, tp, tc = (rng.exponential(m, (5, 60)) for m in (1.0, 2.0, 0.7))
    for md in (None, 1, 2, 5):
        v = finish_times(g, te, tp, tc, max_depth=md)
        for s in range(5):
            one = finish_times(g, te[s], tp[s], tc[s], max_depth=md)
            for k in one:
                assert v[k][s] == pytest.approx(one[k], abs=1e-12)


def test_monte_carlo_intervals_cover_the_linear_regime_mean():
    # Te >= max Tc always: L = 5 Te + Tp + Tc_5 exactly, mean 10 + 5 + 1 = 16
    covered = 0
    for seed in range(40):
        mc = pipeline(5, 2, 5, "uniform:0.5s-1.5s", samples=500, seed=seed)
        t = mc.tidy().filter(pl.col("term") == "latency_speculative_s")
        covered += t["ci_low"].item() <= 16.0 <= t["ci_high"].item()
        assert mc.latency_sequential == pytest.approx(5 * 8, rel=0.05)
    assert 33 <= covered <= 40
    # p50 of Tc uniform(0.5, 1.5) is 1.0: the p50 interval holds 16
    q = mc.tidy().filter(pl.col("term") == "latency_speculative_p50_s")
    assert q["ci_low"].item() <= 16.0 <= q["ci_high"].item()


def test_monte_carlo_with_fixed_distributions_is_exact():
    a = pipeline(TaskGraph.diamond(3), "fixed:1s", "fixed:2s", "fixed:500ms")
    b = pipeline(TaskGraph.diamond(3), 1, 2, 0.5)
    assert a.exact and a.latency_speculative == b.latency_speculative


# ------------------------------------------------------------ protocol


def test_result_protocol():
    m = pipeline(TaskGraph.diamond(), 1, 2, 1)
    tidy = m.tidy()
    assert tidy.columns[:5] == ["term", "estimate", "std_error", "ci_low", "ci_high"]
    assert "Pipeline latency of diamond(2)" in m.summary()
    assert "<table>" in m._repr_html_()
    p = m.predict(pl.DataFrame({"exec_time": [1.0, 2.0], "proof_time": [2.0, 5.0],
                                "confirm_time": [1.0, 2.0]}))
    # Te=2, Tp=5, Tc=2: A final at 9, B and C at 11, D (executed 4..6) at 13
    assert p["latency_speculative_s"].to_list() == [6.0, 13.0]
    assert p["latency_sequential_s"].to_list() == [12.0, 27.0]
    with pytest.raises(DataError, match="proof_time"):
        m.predict(pl.DataFrame({"exec_time": [1.0], "confirm_time": [1.0]}))
    f = m.plot_frame()
    assert set(f["phase"]) <= {"execute", "prove", "wait", "confirm"}
    # phases of a task tile [exec_start, finalized] without overlap
    for _key, grp in f.group_by(["mode", "task"]):
        s = grp.sort("start")
        assert s["start"].to_list()[1:] == s["end"].to_list()[:-1]
    spec_end = f.filter(pl.col("mode") == "speculative")["end"].max()
    assert spec_end == m.latency_speculative
    mc = pipeline(4, "exponential:mean=1s", 1, 1, samples=200)
    assert set(mc.plot_frame()["mode"]) == {"speculative", "sequential"}


def test_plot_renders_without_a_browser():
    import holoviews as hv

    m = pipeline(TaskGraph.diamond(), 1, 2, 1)
    fig = hv.render(m.plot(), backend="bokeh")
    assert fig is not None
    mc = pipeline(4, "exponential:mean=1s", 1, 1, samples=200)
    assert hv.render(mc.plot(), backend="bokeh") is not None


# ------------------------------------------------------------ multi-parent DAGs

DAGS = [TaskGraph.diamond(), TaskGraph.diamond(4),
        TaskGraph.from_parents([[], [0], [0], [1, 2], [3], [1, 4], [5, 2]]),
        *(TaskGraph.random(25, max_parents=3, window=5, seed=s) for s in range(3))]
# times chosen so that no two events coincide (ties are ordered arbitrarily)
DAG_TIMES = [(1.0, 2.35, 0.7), (0.45, 1.3, 1.05), (0.8, 4.1, 0.35)]


def dag_workload(g, te, tp, tc):
    return Workload(rate=g.n_tasks / 1000.0, shape="dag",
                    graph=[list(p) for p in g.parents], arrivals="regular",
                    exec_time=f"fixed:{te}s", proof_time=f"fixed:{tp}s",
                    confirm_time=f"fixed:{tc}s", proof_overhead="fixed:0s")


@pytest.mark.parametrize("g", DAGS, ids=lambda g: g.name)
@pytest.mark.parametrize(("te", "tp", "tc"), DAG_TIMES)
@pytest.mark.parametrize("max_depth", [None, 2, 3])
def test_dags_agree_with_simulator_exactly(g, te, tp, tc, max_depth):
    cfg = IDEAL if max_depth is None else IDEAL.replace(max_depth=max_depth)
    r = simulate(cfg, dag_workload(g, te, tp, tc), duration=1, seed=0, drain=True)
    tk = r.tasks.filter(pl.col("outcome") == "confirmed").sort("position")
    m = pipeline(g, te, tp, tc, max_depth=max_depth)
    spec = m.tasks.filter(pl.col("mode") == "speculative").sort("task")
    assert tk["exec_start"].to_list() == pytest.approx(spec["exec_start"].to_list(),
                                                       abs=1e-9)
    assert tk["finalized"].to_list() == pytest.approx(spec["finalized"].to_list(),
                                                      abs=1e-9)
    assert tk["depth"].to_list() == spec["depth"].to_list()
    seq = simulate(IDEAL.replace(enabled=False), dag_workload(g, te, tp, tc),
                   duration=1, seed=0, drain=True)
    assert seq.chains["latency_s"].item() == pytest.approx(m.latency_sequential)


def test_diamond_and_fan_out_shapes_of_the_workload():
    w = Workload(rate=0.006, depth="fixed:6", shape="diamond", arrivals="regular",
                 exec_time="fixed:1s", proof_time="fixed:2.35s", confirm_time="fixed:0.7s",
                 proof_overhead="fixed:0s")
    r = simulate(IDEAL, w, duration=1, seed=0, drain=True)
    m = pipeline(TaskGraph.diamond(4), 1.0, 2.35, 0.7)
    assert r.chains["latency_s"].item() == pytest.approx(m.latency_speculative)
    f = simulate(IDEAL, one_chain(5, 1.0, 2.35, 0.7, shape="fan_out"), duration=1,
                 seed=0, drain=True)
    assert f.chains["latency_s"].item() == pytest.approx(
        pipeline(TaskGraph.fan_out(4), 1.0, 2.35, 0.7).latency_speculative)


def test_dag_rollback_cascades_to_every_descendant():
    from specanalysis.sim.engine import SimSettings

    # the root's failure is seen at 4.05; B and C (started at 1) and D (at 2)
    # have executed on it: one rollback of 4 tasks, then everything confirms
    g = TaskGraph.diamond()
    w = Workload(rate=4 / 60.0, shape="dag", graph=[list(p) for p in g.parents],
                 arrivals="regular", exec_time="fixed:1s", proof_time="fixed:2.35s",
                 confirm_time="fixed:0.7s", proof_overhead="fixed:0s", failures=0.15)
    cfg = IDEAL.replace(**{"proof.max_retries": 10})
    r = simulate(cfg, w, duration=4 * 3600, seed=1, drain=True,
                 settings=SimSettings(auto_disable="off"))
    assert (r.chains["status"] == "finalized").all()
    pos = r.tasks.select("task_id", "position").unique()
    rb = r.rollbacks.join(pos, on="task_id")
    root = rb.filter(pl.col("position") == 0, pl.col("reason") == "proof_invalid")
    assert root.height > 15
    first = root.sort("time").unique("chain_id", keep="first")
    assert (first["size"] == 4).all()


def test_dag_workload_checks_its_graph():
    with pytest.raises(WorkloadSpecError, match="needs a graph"):
        Workload(shape="dag")
    with pytest.raises(WorkloadSpecError, match="not below it"):
        Workload(shape="dag", graph=[[], [2], [0]])
    with pytest.raises(WorkloadSpecError, match="shape is 'chain'"):
        Workload(graph=[[], [0]])
    w = Workload(shape="dag", graph=[[], [0], [0], [1, 2]])
    assert w.depth_dist.mean == 4
