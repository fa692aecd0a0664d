"""The discrete-event engine (specanalysis.sim.engine) and its metrics (sim.emit)."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from specanalysis.config import SpeculationConfig
from specanalysis.errors import ConfigError, WorkloadSpecError
from specanalysis.frames import validate_samples
from specanalysis.sim import Workload, simulate
from specanalysis.sim.workload import FAST_TIMINGS

# A runtime with no queueing: many workers, batches of one, no batch overhead,
# generous limits and timeouts (runtime-facts §4, q_i = 0).
IDEAL = SpeculationConfig(enabled=True, max_depth=20, max_parallel_branches=16,
                          confirmation_timeout_ms=300_000).replace(**{
    "proof.worker_threads": 32, "proof.batch_size": 1, "proof.timeout_ms": 600_000,
})


def one_chain(n, te, tp, tc, shape="chain"):
    """A workload offering exactly one chain of n tasks at t = 0 (duration 1 s)."""
    return Workload(rate=n / 1000.0, depth=f"fixed:{n}", arrivals="regular",
                    exec_time=f"fixed:{te}s", proof_time=f"fixed:{tp}s",
                    confirm_time=f"fixed:{tc}s", proof_overhead="fixed:0s",
                    shape=shape)


def recurrence(n, te, tp, tc):
    """runtime-facts §4: t_i = max(i*Te + Tp, t_{i-1}) + Tc, t_0 = 0."""
    t = 0.0
    out = []
    for i in range(1, n + 1):
        t = max(i * te + tp, t) + tc
        out.append(t)
    return out


CASES = [  # (n, Te, Tp, Tc): Te >= Tc, Te < Tc, Te << Tc, equal times
    (1, 2.0, 5.0, 2.0), (3, 2.0, 5.0, 2.0), (5, 2.0, 5.0, 2.0), (10, 2.0, 5.0, 2.0),
    (5, 3.0, 1.0, 0.5), (8, 0.5, 1.0, 2.0), (12, 0.1, 0.3, 1.5), (6, 1.0, 1.0, 1.0),
]


@pytest.mark.parametrize(("n", "te", "tp", "tc"), CASES)
def test_speculative_chain_matches_recurrence(n, te, tp, tc):
    r = simulate(IDEAL, one_chain(n, te, tp, tc), duration=1, seed=0, drain=True)
    assert r.chains.height == 1
    fin = (r.tasks.filter(pl.col("outcome") == "confirmed").sort("position")
           ["finalized"].to_list())
    assert fin == pytest.approx(recurrence(n, te, tp, tc), abs=1e-9)
    latency = r.chains["latency_s"].item()
    assert latency == pytest.approx(recurrence(n, te, tp, tc)[-1], abs=1e-9)
    # the closed form of §4 (derived general, q = 0)
    closed = tp + tc + max(n * te, te + (n - 1) * tc)
    assert latency == pytest.approx(closed, abs=1e-9)
    if te >= tc:
        assert latency == pytest.approx(n * te + tp + tc, abs=1e-9)


@pytest.mark.parametrize(("n", "te", "tp", "tc"), CASES)
def test_sequential_chain_latency(n, te, tp, tc):
    off = IDEAL.replace(enabled=False)
    r = simulate(off, one_chain(n, te, tp, tc), duration=1, seed=0, drain=True)
    assert r.chains["latency_s"].item() == pytest.approx(n * (te + tp + tc), abs=1e-9)
    assert r.tasks["depth"].max() == 0
    assert not r.tasks["speculative"].any()


def test_equal_times_speedup_is_3n_over_n_plus_2():
    n = 5
    spec = simulate(IDEAL, one_chain(n, 1.0, 1.0, 1.0), duration=1, seed=0, drain=True)
    seq = simulate(IDEAL.replace(enabled=False), one_chain(n, 1.0, 1.0, 1.0),
                   duration=1, seed=0, drain=True)
    s = seq.chains["latency_s"].item() / spec.chains["latency_s"].item()
    assert s == pytest.approx(3 * n / (n + 2))


def test_depth_counts_unconfirmed_ancestors_and_respects_max_depth():
    # Te << Tc: without a limit the chain would speculate 9 deep
    cfg = IDEAL.replace(max_depth=3)
    r = simulate(cfg, one_chain(10, 0.1, 0.2, 2.0), duration=1, seed=0, drain=True)
    depths = r.tasks.sort("position")["depth"].to_list()
    assert max(depths) == 2  # admission iff depth < max_depth
    assert depths[:3] == [0, 1, 2]
    # with slow proofs, waiting for the depth limit makes the chain slower
    limited = simulate(cfg, one_chain(10, 1.0, 5.0, 1.0), duration=1, seed=0, drain=True)
    unlimited = simulate(IDEAL, one_chain(10, 1.0, 5.0, 1.0), duration=1, seed=0,
                         drain=True)
    assert unlimited.chains["latency_s"].item() == pytest.approx(16.0)
    assert limited.chains["latency_s"].item() > 16.0
    # depth histogram buckets: le = 0..max(max_depth, 5) then +Inf, cumulative
    last = r.samples.filter(pl.col("metric") == "speculation_depth_histogram_bucket",
                            pl.col("timestamp") == pl.col("timestamp").max())
    les = last["le"].to_list()
    assert les == ["0.0", "1.0", "2.0", "3.0", "4.0", "5.0", "+Inf"]
    assert last["value"].to_list()[-1] == 10
    assert last["value"].to_list()[2] == 10  # every depth <= max_depth - 1


def test_star_shape_children_speculate_in_parallel():
    r = simulate(IDEAL, one_chain(4, 1.0, 2.0, 1.0, shape="star"), duration=1, seed=0,
                 drain=True)
    kids = r.tasks.filter(pl.col("position") > 0)
    assert kids["exec_start"].to_list() == pytest.approx([1.0, 1.0, 1.0])
    assert set(kids["depth"].to_list()) == {1}
    # each child: proof ready at 4, parent final at 1 + 2 + 1 = 4 -> final at 5
    assert r.chains["latency_s"].item() == pytest.approx(5.0)


# ----------------------------------------------------------------- workload runs

CFG = SpeculationConfig(enabled=True)


@pytest.fixture(scope="module")
def failing_run():
    # millisecond proofs: a busy but unsaturated pool at 30 tasks/s
    w = Workload(rate=30, depth="uniform:1-5", failures=0.1, **FAST_TIMINGS)
    return simulate(CFG, w, duration="3m", seed=11)


def test_invariants(failing_run):
    r = failing_run
    tk = r.tasks
    assert set(tk["outcome"].unique()) <= {"confirmed", "rolled_back", "in_flight"}
    # outcome columns agree with timestamps
    assert tk.filter(pl.col("outcome") == "confirmed")["finalized"].null_count() == 0
    assert tk.filter(pl.col("outcome") == "rolled_back")["rolled_back_at"].null_count() == 0
    assert tk.filter(pl.col("outcome") == "rolled_back")["reason"].null_count() == 0
    inflight = tk.filter(pl.col("outcome") == "in_flight")
    assert inflight["finalized"].null_count() == inflight.height
    assert inflight["rolled_back_at"].null_count() == inflight.height
    # per task: attempts numbered 0..k-1, only the last may be confirmed/in flight
    per = tk.sort("task_id", "attempt").group_by("task_id", maintain_order=True).agg(
        pl.col("attempt"), pl.col("outcome"))
    for _task, attempts, outcomes in per.iter_rows():
        assert attempts == list(range(len(attempts)))
        assert all(o == "rolled_back" for o in outcomes[:-1])
    # counters never decrease; the end values reconcile with the task frame
    s = r.samples
    counters = s.filter(pl.col("metric").str.ends_with("_total")
                        | pl.col("metric").str.ends_with("_bucket")
                        | pl.col("metric").str.ends_with("_count"))
    keys = [c for c in s.columns if c not in ("timestamp", "value")]
    bad = (counters.sort("timestamp").group_by(keys)
           .agg((pl.col("value").diff() < 0).any().alias("dec")).filter("dec"))
    assert bad.height == 0
    end = s.filter(pl.col("timestamp") == pl.col("timestamp").max())

    def val(metric, **labels):
        f = end.filter(pl.col("metric") == metric)
        for k, v in labels.items():
            f = f.filter(pl.col(k) == v)
        return f["value"].sum()

    last = r.end
    assert val("speculation_tasks_total") == tk.filter(pl.col("exec_start") <= last).height
    assert val("speculation_tasks_confirmed_total") == (tk["outcome"] == "confirmed").sum()
    assert val("speculation_rollback_total") == r.rollbacks.height
    assert val("speculation_tasks_rolled_back_total") == (tk["outcome"] == "rolled_back").sum()
    assert val("speculation_tasks_rolled_back_total") == r.rollbacks["size"].sum()
    assert val("speculation_active_tasks") == inflight.height
    # histogram buckets are cumulative, +Inf equals _count
    for fam in ("speculation_depth_histogram", "speculation_proof_generation_seconds",
                "speculation_e2e_latency_seconds", "solana_confirmation_seconds",
                "speculation_rollback_cascade_size"):
        b = end.filter(pl.col("metric") == fam + "_bucket").with_columns(
            pl.col("le").cast(pl.Float64).alias("b")).sort("b")
        assert (np.diff(b["value"].to_numpy()) >= 0).all(), fam
        assert b["le"][-1] == "+Inf"
        assert b["value"][-1] == val(fam + "_count"), fam
    assert val("speculation_e2e_latency_seconds_count") == (tk["outcome"] == "confirmed").sum()


def test_samples_frame_shape(failing_run):
    s = failing_run.samples
    assert validate_samples(s).equals(s)
    ts = s["timestamp"].unique().sort()
    assert set(ts.diff().drop_nulls().dt.total_seconds().to_list()) == {15}
    assert ts.len() == 3 * 4 + 1  # 0, 15, ..., 180 s
    from specanalysis.catalogue import lookup
    unknown = [m for m in s["metric"].unique().to_list() if lookup(m) is None]
    assert unknown == []
    comps = set(s.filter(pl.col("metric") == "speculation_memory_usage_bytes")
                ["component"].to_list())
    assert comps == {"state_snapshots", "pending_operations", "proof_cache",
                     "rollback_logs", "commitment_ledger"}


def test_rollback_reasons_and_blast_radius(failing_run):
    r = failing_run
    rb = r.rollbacks
    assert rb.height > 0
    assert set(rb["reason"].unique()) <= {"proof_invalid", "timeout"}
    undone = r.tasks.filter(pl.col("outcome") == "rolled_back")
    sizes = undone.group_by("rollback_id").len().sort("rollback_id")
    assert sizes["len"].to_list() == rb.sort("rollback_id")["size"].to_list()
    # descendants are labelled ancestor_failed, triggers by their own reason
    trig = undone.join(rb.select("rollback_id", tid="task_id"), on="rollback_id")
    is_trigger = trig["task_id"] == trig["tid"]
    assert (trig.filter(~is_trigger)["reason"] == "ancestor_failed").all()
    assert (trig.filter(is_trigger)["reason"] != "ancestor_failed").all()
    # rollback rate is about the injected failure rate (re-executions fail too)
    s = r.summary()
    assert 5 < s["rollback_rate_pct"] < 15
    assert s["avg_rollback_size"] >= 1


def test_determinism_for_a_seed():
    w = Workload(rate=20, depth="uniform:1-5", failures=0.05)
    a = simulate(CFG, w, duration="1m", seed=5)
    b = simulate(CFG, w, duration="1m", seed=5)
    c = simulate(CFG, w, duration="1m", seed=6)
    assert a.tasks.equals(b.tasks) and a.chains.equals(b.chains)
    assert a.samples.equals(b.samples) and a.rollbacks.equals(b.rollbacks)
    assert not a.tasks.equals(c.tasks)


def test_more_failures_more_rollbacks():
    counts = []
    for p in (0.0, 0.05, 0.2):
        r = simulate(CFG, Workload(rate=20, failures=p), duration="2m", seed=2)
        counts.append(r.rollbacks.height)
    assert counts[0] == 0
    assert counts[0] < counts[1] < counts[2]


def test_cascade_blast_radius_at_least_selective():
    w = Workload(rate=10, depth="fixed:6", failures=0.15, invalid_output_share=0.3,
                 confirm_time="lognormal:mean=2s,cv=0.3")
    cfg = CFG.replace(max_depth=6, max_parallel_branches=16)
    casc = simulate(cfg, w, duration="2m", seed=4)
    sel = simulate(cfg.replace(rollback_policy="selective"), w, duration="2m", seed=4)
    assert casc.rollbacks["size"].mean() > sel.rollbacks["size"].mean()
    assert casc.rollbacks["size"].max() >= sel.rollbacks["size"].max()
    assert (casc.tasks["outcome"] == "rolled_back").sum() > \
        (sel.tasks["outcome"] == "rolled_back").sum()


def test_selective_keeps_descendants_after_prover_fault():
    # every proof of the root fails once (prover fault: output unchanged)
    w = one_chain(4, 1.0, 1.0, 3.0)
    w = Workload(**{**{k: getattr(w, k) for k in (
        "rate", "depth", "arrivals", "exec_time", "proof_time", "confirm_time",
        "proof_overhead")}, "failures": 1.0, "invalid_output_share": 0.0})
    cfg = IDEAL.replace(rollback_policy="selective", **{"proof.max_retries": 2})
    r = simulate(cfg, w, duration=1, seed=0, drain=True)
    first = r.rollbacks.row(0, named=True)
    assert first["size"] == 1 and first["reason"] == "proof_invalid"
    casc = simulate(cfg.replace(rollback_policy="cascade"), w, duration=1, seed=0,
                    drain=True)
    assert casc.rollbacks.row(0, named=True)["size"] == 4  # root + 3 descendants


def test_timeouts_roll_back_with_reason_timeout():
    w = Workload(rate=5, depth="fixed:3", confirm_time="lognormal:mean=4s,cv=0.8")
    cfg = CFG.replace(confirmation_timeout_ms=5_000)
    r = simulate(cfg, w, duration="2m", seed=3)
    rb = r.rollbacks
    assert rb.height > 0 and set(rb["reason"].to_list()) == {"timeout"}
    # a timeout happens exactly timeout after submission
    trig = r.tasks.filter(pl.col("reason") == "timeout")
    gap = (trig["rolled_back_at"] - trig["submitted"]).to_numpy()
    assert np.allclose(gap, 5.0)


def test_memory_grows_with_branches_and_depth():
    w = Workload(rate=40, depth="fixed:6", confirm_time="lognormal:mean=2s,cv=0.3")

    def mem(**changes):
        r = simulate(CFG.replace(**changes), w, duration="2m", seed=1)
        return r.summary(warmup=30)["memory_avg_mb"]

    assert mem(max_parallel_branches=2) < mem(max_parallel_branches=8) \
        < mem(max_parallel_branches=16)
    assert mem(max_depth=2, max_parallel_branches=8) < mem(max_depth=5, max_parallel_branches=8)
    off = simulate(CFG.replace(enabled=False), w, duration="2m", seed=1)
    assert off.samples.filter(
        pl.col("metric") == "speculation_memory_usage_bytes",
        pl.col("component") == "state_snapshots")["value"].max() == 0


def test_branch_limit_bounds_active_branches():
    w = Workload(rate=40, depth="fixed:5", confirm_time="fixed:2s")
    r = simulate(CFG.replace(max_parallel_branches=3), w, duration="1m", seed=2)
    wdw = r.windows("5s")
    assert wdw["active_branches"].max() <= 3
    assert wdw["active_branches"].max() == 3
    br = r.samples.filter(pl.col("metric") == "speculation_active_branches")
    assert br["value"].max() <= 3


def test_queue_backpressure_keeps_queue_within_capacity():
    w = Workload(rate=200, depth="fixed:1", proof_time="fixed:50ms",
                 proof_overhead="fixed:0s")
    cfg = CFG.replace(**{"proof.worker_threads": 1, "proof.batch_size": 1,
                         "proof.queue_size": 100})
    r = simulate(cfg, w, duration="30s", seed=0)
    q = r.samples.filter(pl.col("metric") == "speculation_proof_queue_depth")
    assert q["value"].max() == 100  # full, never over
    # one worker, batches of one: 20 proofs/s whatever the offered load
    assert r.summary()["throughput_tps"] == pytest.approx(20, rel=0.1)


def test_batching_amortises_overhead():
    w = Workload(rate=50, depth="fixed:1", proof_time="fixed:10ms",
                 proof_overhead="fixed:400ms")

    def run(b):
        cfg = CFG.replace(**{"proof.worker_threads": 2, "proof.batch_size": b})
        return simulate(cfg, w, duration="1m", seed=0).summary(warmup=10)

    small, big = run(1), run(20)
    # capacity 2/0.41 = 4.9/s with b=1 (saturated), ~2*20/0.6 = 66/s with b=20
    assert small["throughput_tps"] < 6
    assert big["throughput_tps"] == pytest.approx(50, rel=0.1)
    assert big["mean_batch_size"] > 5


def test_snapshot_and_series(failing_run):
    r = failing_run
    s = r.samples_at(60)
    assert s["timestamp"].n_unique() == 1
    total = s.filter(pl.col("metric") == "speculation_tasks_total")["value"].item()
    assert total == r.tasks.filter(pl.col("exec_start") <= 60).height
    win = r.windows("10s")
    assert win.height == 18
    assert win["executed"].sum() == r.tasks.height
    assert win["confirmed"].sum() == (r.tasks["outcome"] == "confirmed").sum()


def test_summary_fields(failing_run):
    s = failing_run.summary(warmup="30s")
    for key in ("tasks_total", "throughput_tps", "latency_p50_s", "latency_p90_s",
                "latency_p99_s", "latency_max_s", "rollback_rate_pct",
                "avg_rollback_size", "memory_avg_mb", "memory_peak_mb",
                "memory_per_active_task_mb", "proof_p50_s", "proof_p99_s",
                "recovery_time_s"):
        assert key in s and math.isfinite(s[key]), key
    assert s["latency_p50_s"] <= s["latency_p90_s"] <= s["latency_p99_s"] <= s["latency_max_s"]
    assert s["memory_avg_mb"] <= s["memory_peak_mb"]
    assert s["throughput_tps"] == pytest.approx(30, rel=0.15)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"duration": -5}, "duration"), ({"duration": "soon"}, "duration"),
     ({"seed": -1}, "seed"), ({"workload": "fast"}, "workload"),
     ({"config": {"max_depth": 3}}, "config"), ({"drain": "x"}, "drain")],
)
def test_bad_arguments_are_typed(kwargs, field):
    args = {"config": CFG, "workload": Workload(rate=1), "duration": 10, "seed": 0}
    args.update(kwargs)
    config, workload = args.pop("config"), args.pop("workload")
    with pytest.raises(WorkloadSpecError) as err:
        simulate(config, workload, **args)
    assert err.value.field == field


def test_invalid_config_fails_validation():
    with pytest.raises(ConfigError, match="max_depth"):
        simulate(CFG.replace(max_depth=99), Workload(rate=1), duration=10, seed=0)


def test_retry_delay_backoff_and_abandon_after_max_retries():
    # every proof invalid: the root is retried max_retries times, then abandoned
    w = Workload(rate=0.003, depth="fixed:3", arrivals="regular", failures=1.0,
                 invalid_output_share=1.0, exec_time="fixed:1s", proof_time="fixed:1s",
                 confirm_time="fixed:1s", proof_overhead="fixed:0s")
    cfg = IDEAL.replace(**{"proof.max_retries": 2, "proof.retry_delay_ms": 1000,
                           "proof.retry_multiplier": 2.0})
    r = simulate(cfg, w, duration=1, seed=0, drain=True)
    root = r.tasks.filter(pl.col("position") == 0).sort("attempt")
    assert root.height == 3  # first try + 2 retries
    rb_at = root["rolled_back_at"].to_list()
    starts = root["exec_start"].to_list()
    # delays 1 s then 2 s (retry_delay * multiplier**(k-1))
    assert starts[1] - rb_at[0] == pytest.approx(1.0)
    assert starts[2] - rb_at[1] == pytest.approx(2.0)
    assert r.rollbacks["abandoned"].to_list() == [False, False, True]
    assert r.chains["status"].item() == "failed"
    assert (r.tasks["outcome"] != "in_flight").all()


def test_proof_timeout_with_an_overloaded_prover():
    w = Workload(rate=5, depth="fixed:1", proof_time="fixed:1s", proof_overhead="fixed:0s")
    cfg = CFG.replace(**{"proof.worker_threads": 1, "proof.batch_size": 1,
                         "proof.timeout_ms": 10_000})
    r = simulate(cfg, w, duration="1m", seed=0)
    timeouts = r.tasks.filter(pl.col("reason") == "timeout")
    assert timeouts.height > 0
    gap = (timeouts["rolled_back_at"] - timeouts["proof_requested"]).to_numpy()
    assert np.allclose(gap, 10.0)
    assert timeouts["submitted"].null_count() == timeouts.height


def test_snapshot_text_round_trips(failing_run):
    from specanalysis.io.exposition import parse_exposition

    r = failing_run
    text = r.snapshot(90)
    assert "# TYPE speculation_tasks_total counter" in text
    assert 'speculation_rollback_total{reason="proof_invalid"}' in text
    back = parse_exposition(text, timestamp=r.start_ms / 1000 + 90)
    assert back["timestamp"].n_unique() == 1
    want = r.samples_at(90)
    labels = ["metric", "component", "depth", "le", "reason", "parameter"]
    joined = want.join(back, on=labels, how="full", nulls_equal=True, suffix="_back")
    assert joined.height == want.height == back.height
    assert np.allclose(joined["value"].to_numpy(), joined["value_back"].to_numpy())


@pytest.mark.integration
def test_openmetrics_backfills_with_promtool(failing_run, tmp_path, prometheus_bin):
    import subprocess

    path = failing_run.write_openmetrics(tmp_path / "sim.om")
    out = subprocess.run([prometheus_bin["promtool"], "tsdb", "create-blocks-from",
                          "openmetrics", str(path), str(tmp_path / "blocks")],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    rows = [line.split() for line in out.stdout.splitlines()[1:] if line.strip()]
    n_samples = sum(int(row[4]) for row in rows)
    assert n_samples == failing_run.samples.height


def test_progress_bar_runs(capsys):
    r = simulate(CFG, Workload(rate=5), duration=30, seed=0, progress=True)
    assert r.tasks.height > 0


def test_non_optimistic_proofs_wait_for_the_parent():
    # proofs start only once the parent is final: t_i = max(i*Te, t_{i-1}) + Tp + Tc
    cfg = IDEAL.replace(**{"proof.optimistic_generation": False})
    n, te, tp, tc = 5, 1.0, 2.0, 1.0
    r = simulate(cfg, one_chain(n, te, tp, tc), duration=1, seed=0, drain=True)
    t, want = 0.0, []
    for i in range(1, n + 1):
        t = max(i * te, t) + tp + tc
        want.append(t)
    got = r.tasks.sort("position")["finalized"].to_list()
    assert got == pytest.approx(want)


def test_rollout_zero_means_no_speculation():
    cfg = CFG.replace(**{"features.rollout_percentage": 0.0})
    r = simulate(cfg, Workload(rate=20), duration="1m", seed=0)
    assert not r.tasks["speculative"].any()
    assert r.tasks["depth"].max() == 0


def test_memory_limit_refuses_speculative_admissions():
    w = Workload(rate=40, depth="fixed:6", state_mb=200.0,
                 confirm_time="lognormal:mean=2s,cv=0.3")
    cfg = CFG.replace(max_parallel_branches=16, **{"limits.max_memory_mb": 1024})
    r = simulate(cfg, w, duration="1m", seed=0)
    snaps = r.samples.filter(pl.col("metric") == "speculation_memory_usage_bytes",
                             pl.col("component") == "state_snapshots")["value"]
    assert 0 < snaps.max() <= 1024 * 1024 * 1024
    roomy = simulate(cfg.replace(**{"limits.max_memory_mb": 16384}), w,
                     duration="1m", seed=0)
    assert roomy.tasks["speculative"].sum() > r.tasks["speculative"].sum()
