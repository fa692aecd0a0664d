"""Every tuned parameter acts on the simulated runtime as the runtime's documents say.

For each parameter of ``[speculation]`` the guide tunes, one workload where it binds
(changing it moves the metrics the guide says it moves, in the guide's direction)
and one where it does not (changing it changes nothing: the same seed gives the same
summary). Paired runs share the seed, so a difference is the parameter's effect.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from specanalysis.config import SpeculationConfig
from specanalysis.sim import Workload, simulate
from specanalysis.sim.engine import SimSettings
from specanalysis.sim.workload import FAST_TIMINGS

BASE = SpeculationConfig(enabled=True)
WARM = "30s"


def run(cfg, wl, *, seed=1, duration="4m", settings=None):
    return simulate(cfg, wl, duration=duration, seed=seed, settings=settings,
                    progress=False)


def summary(cfg, wl, **kw):
    return run(cfg, wl, **kw).summary(warmup=WARM)


def same(a: dict, b: dict) -> bool:
    return all((math.isnan(a[k]) and math.isnan(b[k])) or a[k] == b[k] for k in a)


# ------------------------------------------------------------- where it binds


def test_max_depth_trades_latency_for_rollbacks_and_memory():
    # deep chains, 5 % invalid proofs, branches not limiting: the guide's trade-off
    wl = Workload(rate=3, depth="fixed:8", failures=0.05)
    cfg = BASE.replace(max_parallel_branches=16)
    deep, shallow = summary(cfg.replace(max_depth=8), wl), summary(cfg.replace(max_depth=2), wl)
    assert deep["latency_p50_s"] < 0.8 * shallow["latency_p50_s"]
    assert deep["task_rollback_rate_pct"] > shallow["task_rollback_rate_pct"]
    assert deep["avg_rollback_size"] > shallow["avg_rollback_size"]
    assert deep["memory_peak_mb"] > shallow["memory_peak_mb"]


def test_branches_bound_parallel_speculation():
    wl = Workload(rate=8, depth="uniform:2-6")
    few = run(BASE.replace(max_parallel_branches=2), wl)
    many = run(BASE.replace(max_parallel_branches=16), wl)
    sf, sm = few.summary(warmup=WARM), many.summary(warmup=WARM)
    assert sm["latency_p50_s"] < sf["latency_p50_s"]
    assert sm["memory_peak_mb"] > sf["memory_peak_mb"]
    branches = few.samples.filter(pl.col("metric") == "speculation_active_branches")
    assert branches["value"].max() <= 2
    deferred = few.samples.filter(pl.col("metric") == "speculation_tasks_deferred_total",
                                  pl.col("reason") == "branch_limit")
    assert deferred["value"].max() > 0


def test_confirmation_timeout_turns_slow_confirmations_into_rollbacks():
    wl = Workload(rate=3, confirm_time="lognormal:mean=3s,cv=1")
    short = run(BASE.replace(confirmation_timeout_ms=5_000), wl)
    long = run(BASE.replace(confirmation_timeout_ms=120_000), wl)
    assert (short.rollbacks["reason"] == "timeout").sum() > 20
    assert (long.rollbacks["reason"] == "timeout").sum() == 0


def test_selective_rollback_keeps_descendants_of_prover_faults():
    # all invalid proofs are prover faults (output unchanged): selective undoes less
    wl = Workload(rate=3, depth="fixed:6", failures=0.08, invalid_output_share=0.0)
    cfg = BASE.replace(max_parallel_branches=16)
    cas = summary(cfg.replace(rollback_policy="cascade"), wl)
    sel = summary(cfg.replace(rollback_policy="selective"), wl)
    assert sel["avg_rollback_size"] < cas["avg_rollback_size"]
    assert sel["avg_rollback_size"] == pytest.approx(1.0)


def test_more_proof_workers_shorten_proof_latency_under_load():
    wl = Workload(rate=8, depth="uniform:1-3")
    one = summary(BASE.replace(**{"proof.worker_threads": 1}), wl)
    eight = summary(BASE.replace(**{"proof.worker_threads": 8}), wl)
    assert eight["proof_p99_s"] < 0.5 * one["proof_p99_s"]


def test_queue_size_bounds_the_backlog_by_shedding_submissions():
    # 1 worker, ~3 proofs/s capacity, 10 tasks/s offered: overload
    wl = Workload(rate=10, depth="uniform:1-3")
    cfg = BASE.replace(**{"proof.worker_threads": 1})
    small = run(cfg.replace(**{"proof.queue_size": 100}), wl)
    big = run(cfg.replace(**{"proof.queue_size": 2000}), wl)
    ss, sb = small.summary(warmup=WARM), big.summary(warmup=WARM)
    assert ss["rejected_pct"] > sb["rejected_pct"]
    assert ss["proof_p99_s"] < sb["proof_p99_s"]
    q = small.samples.filter(pl.col("metric") == "speculation_proof_queue_depth")["value"]
    assert q.max() <= 100
    # with the backpressure-only reading the queue bounds nothing but the queue
    deferring = run(cfg.replace(**{"proof.queue_size": 100}), wl,
                    settings=SimSettings(on_full_queue="defer")).summary(warmup=WARM)
    assert deferring["rejected_pct"] == 0
    assert deferring["proof_p99_s"] > ss["proof_p99_s"]


def test_batch_size_trades_fill_wait_for_capacity():
    cfg = BASE
    light = Workload(rate=2, depth="uniform:1-3")
    # light load: a big batch waits to fill (up to the batch timeout)
    small_b = summary(cfg.replace(**{"proof.batch_size": 1}), light)
    big_b = summary(cfg.replace(**{"proof.batch_size": 20}), light)
    assert small_b["mean_batch_size"] == 1
    assert big_b["mean_batch_size"] > 1.5
    # heavy load: one proof per batch pays the ~2 s batch cost for every proof
    heavy = Workload(rate=6, depth="uniform:1-3")
    small_h = summary(cfg.replace(**{"proof.batch_size": 1}), heavy)
    big_h = summary(cfg.replace(**{"proof.batch_size": 20}), heavy)
    assert small_h["proof_p99_s"] > 2 * big_h["proof_p99_s"]


def test_batch_timeout_is_how_long_a_batch_waits_to_fill():
    wl = Workload(rate=1, depth="fixed:1", proof_overhead="fixed:0s",
                  proof_time="fixed:100ms")
    cfg = BASE.replace(**{"proof.batch_size": 100})
    r = run(cfg, wl, settings=SimSettings(batch_timeout=2.0))
    # workers are free: each batch starts when its oldest proof has waited 2 s
    waits = (r.tasks.drop_nulls("proof_start")
             .group_by("proof_start")
             .agg((pl.col("proof_start") - pl.col("proof_requested")).max().alias("w")))
    assert np.allclose(waits["w"].to_numpy(), 2.0)
    r0 = run(cfg, wl, settings=SimSettings(batch_timeout=0.0))
    w0 = (r0.tasks["proof_start"] - r0.tasks["proof_requested"]).drop_nulls()
    assert w0.max() == 0.0


def test_proof_timeout_rolls_back_slow_proofs():
    wl = Workload(rate=6, depth="uniform:1-3")
    cfg = BASE.replace(**{"proof.worker_threads": 1, "proof.queue_size": 5000})
    short = run(cfg.replace(**{"proof.timeout_ms": 10_000}), wl)
    long = run(cfg.replace(**{"proof.timeout_ms": 600_000}), wl)
    assert (short.rollbacks["reason"] == "timeout").sum() > 0
    assert (long.rollbacks["reason"] == "timeout").sum() == 0


def test_max_retries_decides_when_a_chain_is_abandoned():
    wl = Workload(rate=3, depth="fixed:3", failures=0.3)
    none = run(BASE.replace(**{"proof.max_retries": 0}), wl)
    many = run(BASE.replace(**{"proof.max_retries": 10}), wl)
    assert (none.chains["status"] == "failed").sum() > (many.chains["status"] == "failed").sum()


def test_retry_delay_lengthens_recovery():
    wl = Workload(rate=3, depth="fixed:3", failures=0.1)
    quick = summary(BASE.replace(**{"proof.retry_delay_ms": 100}), wl)
    slow = summary(BASE.replace(**{"proof.retry_delay_ms": 20_000}), wl)
    assert slow["recovery_time_s"] > quick["recovery_time_s"] + 10


def test_optimistic_proofs_overlap_proving_with_ancestors():
    wl = Workload(rate=2, depth="fixed:5")
    cfg = BASE.replace(max_parallel_branches=16)
    on = summary(cfg, wl)
    off = summary(cfg.replace(**{"proof.optimistic_generation": False}), wl)
    assert on["latency_p50_s"] < off["latency_p50_s"]


def test_memory_limit_caps_speculation_state():
    wl = Workload(rate=6, depth="uniform:2-6", state_mb=200)
    cfg = BASE.replace(max_parallel_branches=16)
    tight = run(cfg.replace(**{"limits.max_memory_mb": 1024}), wl)
    roomy = run(cfg.replace(**{"limits.max_memory_mb": 16384}), wl)
    st, sr = tight.summary(warmup=WARM), roomy.summary(warmup=WARM)
    assert st["memory_peak_mb"] <= 1024
    assert sr["memory_peak_mb"] > 1024
    assert tight.log.defer_reason.tolist().count(4) > 0  # memory_limit


def test_state_snapshots_limit_speculative_work():
    wl = Workload(rate=12, depth="uniform:2-6", **FAST_TIMINGS)
    cfg = BASE.replace(max_parallel_branches=16)
    free = summary(cfg, wl)
    snaps = summary(cfg.replace(**{"limits.max_state_snapshots": 10}), wl)
    assert free["active_tasks_peak"] > 10
    assert snaps["memory_peak_mb"] < free["memory_peak_mb"]
    assert snaps["latency_p50_s"] > free["latency_p50_s"]


def test_pending_operations_limit_defers_speculation_when_much_is_in_flight():
    # 16 workers keep up with 20 tasks/s of second-long proofs: > 100 tasks in flight
    wl = Workload(rate=20, depth="uniform:2-6")
    cfg = BASE.replace(max_parallel_branches=16, **{"proof.worker_threads": 16})
    free = run(cfg, wl)
    tight = run(cfg.replace(**{"limits.max_pending_operations": 100}), wl)
    assert free.summary(warmup=WARM)["active_tasks_peak"] > 100
    assert 3 in tight.log.defer_reason.tolist()  # pending_ops_limit
    assert 3 not in free.log.defer_reason.tolist()
    assert (tight.summary(warmup=WARM)["latency_p50_s"]
            > free.summary(warmup=WARM)["latency_p50_s"])


def test_gc_interval_sets_how_long_rollback_logs_are_held():
    wl = Workload(rate=3, depth="fixed:4", failures=0.1)
    short = run(BASE.replace(**{"limits.gc_interval_ms": 5_000}), wl)
    long = run(BASE.replace(**{"limits.gc_interval_ms": 300_000}), wl)
    t = np.arange(60.0, 240.0)
    assert (long.memory_series(t)["rollback_logs"].mean()
            > 5 * short.memory_series(t)["rollback_logs"].mean())


def test_cascade_cap_bounds_the_blast_radius():
    # wide trees: every task a child of the root, 30 tasks, 10 % invalid proofs
    wl = Workload(rate=3, depth="fixed:30", shape="star", failures=0.1, **FAST_TIMINGS)
    cfg = BASE.replace(max_depth=3, max_parallel_branches=16)
    capped = run(cfg.replace(**{"limits.max_rollback_cascade_size": 10}), wl)
    free = run(cfg, wl)
    assert capped.rollbacks["size"].max() <= 10
    assert free.rollbacks["size"].max() > 10


def test_rollout_percentage_zero_means_no_speculation():
    wl = Workload(rate=3, depth="fixed:4")
    r = run(BASE.replace(**{"features.rollout_percentage": 0}), wl)
    assert not r.tasks["speculative"].any()
    reasons = r.samples.filter(pl.col("metric") == "speculation_tasks_deferred_total")
    assert set(reasons["reason"].unique()) == {"rollout"}


# --------------------------------------------------------- where it does not bind


@pytest.mark.parametrize("changes, wl", [
    ({"max_depth": 8}, Workload(rate=2, depth="fixed:2")),          # depth <= 1 anyway
    ({"max_parallel_branches": 16}, Workload(rate=0.2, depth="fixed:3")),
    ({"confirmation_timeout_ms": 120_000}, Workload(rate=2, confirm_time="fixed:1s")),
    ({"rollback_policy": "selective"}, Workload(rate=2, depth="fixed:4")),  # no failures
    ({"proof.worker_threads": 16}, Workload(rate=0.05, depth="fixed:1")),
    ({"proof.queue_size": 10_000}, Workload(rate=2, depth="uniform:1-3")),
    ({"proof.timeout_ms": 600_000}, Workload(rate=2, depth="uniform:1-3")),
    ({"proof.max_retries": 10}, Workload(rate=2, depth="fixed:3")),
    ({"limits.max_memory_mb": 16_384}, Workload(rate=2, depth="fixed:3", state_mb=1)),
    ({"limits.max_state_snapshots": 10_000}, Workload(rate=1, depth="fixed:3")),
    ({"limits.gc_interval_ms": 300_000}, Workload(rate=2, depth="fixed:3")),
    ({"limits.max_rollback_cascade_size": 10}, Workload(rate=2, depth="fixed:3",
                                                        failures=0.1)),
])
def test_a_parameter_that_does_not_bind_changes_nothing(changes, wl):
    a = summary(BASE, wl, duration="3m")
    b = summary(BASE.replace(**changes), wl, duration="3m")
    # the one figure defined relative to a parameter: queue depth / queue_size
    a.pop("queue_utilisation_peak_pct")
    b.pop("queue_utilisation_peak_pct")
    assert same(a, b), {k: (a[k], b[k]) for k in a if a[k] != b[k]}


# -------------------------------------------------------- behaviours under stress


def test_policy_auto_disable_switches_speculation_off_in_a_rollback_storm():
    wl = Workload(rate=4, depth="fixed:6", failures=0.5, **FAST_TIMINGS)
    cfg = BASE.replace(max_parallel_branches=16)
    r = run(cfg, wl, duration="6m")
    s = r.summary(warmup=WARM)
    assert s["auto_disabled_pct"] > 0
    gauge = r.samples.filter(pl.col("metric") == "speculation_auto_disabled")
    enabled = r.samples.filter(pl.col("metric") == "speculation_enabled")
    assert gauge["value"].max() == 1
    assert (gauge["value"] + enabled["value"] == 1).all()
    # while disabled nothing executes speculatively
    t_off = r.log.auto_t[r.log.auto_d > 0][0]
    during = r.tasks.filter(pl.col("exec_start").is_between(t_off + 1, t_off + 500))
    assert during.height > 0 and not during["speculative"].any()
    off = run(cfg, wl, duration="6m", settings=SimSettings(auto_disable="off"))
    assert off.summary(warmup=WARM)["auto_disabled_pct"] == 0


def test_code_auto_disable_is_cumulative_and_permanent():
    wl = Workload(rate=4, depth="fixed:4", failures=0.3, **FAST_TIMINGS)
    r = run(BASE, wl, settings=SimSettings(auto_disable="code"))
    assert r.log.auto_d.tolist() == [1.0]  # off once, never back on
    t_off = r.log.auto_t[0]
    spec = r.tasks.filter(pl.col("speculative"))
    # the cumulative share at the switch exceeded 20 %
    before = spec.filter(pl.col("exec_start") <= t_off)
    undone = before.filter(pl.col("outcome") == "rolled_back").height
    assert 100 * undone / before.height > 15
    assert spec.filter(pl.col("exec_start") > t_off + 1e-9).height == 0


# ------------------------------------------------------------- what is emitted


def test_offered_load_shows_bursts_that_executions_smooth():
    wl = Workload(rate=2, depth="uniform:1-3", pattern="burst:10x:30s:every:2m")
    cfg = BASE.replace(**{"proof.worker_threads": 2})
    r = run(cfg, wl, duration="8m")
    s = r.samples

    def per_minute(metric):
        v = (s.filter(pl.col("metric") == metric).sort("timestamp")["value"]
             .to_numpy())
        inc = np.diff(v[::4])  # 15 s scrapes -> per minute
        return inc.max() / inc.mean()

    scheduled = s.filter(pl.col("metric") == "speculation_tasks_scheduled_total")
    assert scheduled["value"].max() == r.chains["length"].sum()
    assert per_minute("speculation_tasks_scheduled_total") > per_minute(
        "speculation_tasks_confirmed_total")
    assert per_minute("speculation_tasks_scheduled_total") > 1.5


def test_depth_limit_deferrals_carry_the_depth_beyond_the_cap():
    wl = Workload(rate=1, depth="fixed:8")
    cfg = BASE.replace(max_depth=3, max_parallel_branches=16)
    r = run(cfg, wl)
    d = r.samples.filter(pl.col("metric") == "speculation_tasks_deferred_total",
                         pl.col("reason") == "depth_limit")
    depths = {int(x) for x in d["depth"].unique()}
    # tasks at dependency depth 3..7 of the 8-task chains reach the cap
    assert depths == {3, 4, 5, 6, 7}


def test_several_instances_apply_limits_each_and_label_every_series():
    wl = Workload(rate=8, depth="uniform:2-6", instances=2)
    cfg = BASE.replace(max_parallel_branches=3)
    r = run(cfg, wl)
    s = r.samples
    assert set(s["instance"].unique()) == {"runtime-0", "runtime-1"}
    br = s.filter(pl.col("metric") == "speculation_active_branches")
    per = br.group_by("instance").agg(pl.col("value").max())["value"]
    fleet = br.group_by("timestamp").agg(pl.col("value").sum())["value"].max()
    assert per.max() <= 3 < fleet  # each instance has its own limit
    assert r.tasks["task_id"].n_unique() == r.tasks.select("task_id", "attempt"
                                                           ).unique()["task_id"].n_unique()
    assert set(r.tasks["instance"].unique()) == {"runtime-0", "runtime-1"}
    # one instance at the same per-instance rate behaves like each part
    assert len(r.instances) == 2
    assert r.summary(warmup=WARM)["memory_peak_mb"] == max(
        p.summary(warmup=WARM)["memory_peak_mb"] for p in r.instances)


def test_configuration_gauges_state_the_configuration():
    cfg = BASE.replace(max_depth=4, **{"proof.batch_size": 7})
    r = run(cfg, Workload(rate=1), duration="1m")
    g = r.samples.filter(pl.col("metric") == "speculation_config")
    last = dict(g.group_by("parameter").agg(pl.col("value").last()).iter_rows())
    assert last["max_depth"] == 4 and last["proof.batch_size"] == 7
    assert last["proof.worker_threads"] == cfg.proof.worker_threads


def test_worker_utilisation_and_batch_durations_are_emitted():
    wl = Workload(rate=3, depth="fixed:1", proof_overhead="fixed:2s",
                  proof_time="fixed:100ms")
    r = run(BASE, wl)
    lg = r.log
    # batch service = 2 s + 0.1 s per proof, exactly
    assert np.allclose(lg.batch_dur, 2.0 + 0.1 * lg.batch_k)
    busy = r.samples.filter(pl.col("metric") == "speculation_proof_workers_busy")
    assert 0 < busy["value"].mean() <= BASE.proof.worker_threads


# ------------------------------------------------------------- bench CLI timings


def test_bench_run_takes_time_distributions_from_flags_and_a_file(tmp_path):
    import json

    from specanalysis.cli import main

    wl = tmp_path / "w.toml"
    wl.write_text('[workload]\nexec_time = "fixed:50ms"\nproof_time = "fixed:10ms"\n'
                  'proof_overhead = "fixed:100ms"\n', encoding="utf-8")
    out = tmp_path / "r.json"
    code = main(["bench", "run", "--duration", "90s", "--warmup", "30s", "--rate", "5",
                 "--workload", str(wl), "--confirm-time", "fixed:300ms",
                 "--output", str(out)])
    assert code == 0
    doc = json.loads(out.read_text())
    assert doc["workload"] == {"exec_time": "fixed:50ms", "proof_time": "fixed:10ms",
                               "proof_overhead": "fixed:100ms",
                               "confirm_time": "fixed:300ms"}
    # fixed 0.3 s confirmations: no task is final sooner than exec + proof + confirm
    assert doc["summary"]["latency_p50_s"] >= 0.05 + 0.11 + 0.3 - 1e-9


def test_bench_run_names_a_bad_timing_flag(capsys):
    from specanalysis.cli import main

    code = main(["bench", "run", "--duration", "90s", "--proof-time", "weibull:2"])
    assert code == 2
    assert "--proof-time" in capsys.readouterr().err
