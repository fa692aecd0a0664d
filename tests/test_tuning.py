"""Tuning rules: each rule on hand-built profiles, conflicts, skips, then the simulator.

Hand-built profiles use the profile module's public constructors (Figure,
WorkloadProfile, depth_table), so the rules are checked against known inputs.
The simulator-backed tests mis-tune a configuration on purpose, profile a short
simulation through the offline engine, recommend, and simulate the proposal on
the same workload and seed: the targeted metric must improve.
"""

from __future__ import annotations

import math
import tomllib
from datetime import datetime, timezone

import polars as pl
import pytest

from specanalysis.config import SpeculationConfig, required_memory_mb, state_snapshots
from specanalysis.profile import Figure, WorkloadProfile, depth_table, profile_workload
from specanalysis.tuning import (
    PRIORITIES,
    RULES,
    Recommendations,
    TuningThresholds,
    recommend,
    rules_frame,
)

T = datetime(2025, 1, 1, 1, tzinfo=timezone.utc)
UNITS = {"rollback_rate": "%", "avg_rollback_size": "tasks", "blast_radius_p99": "tasks",
         "depth_p90": "levels", "confirmation_p99": "s", "queue_utilization": "%",
         "queue_utilization_peak": "%", "batch_size_avg": "proofs",
         "active_branches_peak": "branches", "memory_per_branch": "MB",
         "memory_avg": "MB", "task_rate": "tasks/min", "proof_p50": "s",
         "peak_active_tasks": "tasks"}


def make_profile(depth_counts: dict[str, float] | None = None, **values: float
                 ) -> WorkloadProfile:
    """A profile with exactly the given figures (others absent)."""
    figs = {k: Figure(k, float(v), UNITS[k], note="" if v == v else "hand-made NaN")
            for k, v in values.items()}
    counts = depth_counts or {}
    cum, running = [], 0.0
    for le, n in counts.items():
        running += n
        cum.append((le, running))
    table = depth_table(pl.DataFrame(cum, schema={"le": pl.String, "value": pl.Float64},
                                     orient="row"))
    return WorkloadProfile(figs, table, "1h", T, T.replace(hour=0))


BASE = SpeculationConfig(enabled=True)


def fired(recs: Recommendations) -> set[str]:
    return set(recs.evaluations.filter(pl.col("status") == "fired")["rule"])


# ----------------------------------------------------------------------- rule table


def test_rules_table_is_complete_and_documented():
    frame = rules_frame()
    assert frame.height == len(RULES)
    assert frame["id"].n_unique() == len(RULES)
    assert set(frame["priority"]) <= set(PRIORITIES)
    assert all(s.startswith("TG §") for s in frame["source"])
    params = set(frame["parameter"])
    for key in ("speculation.max_depth", "speculation.max_parallel_branches",
                "speculation.confirmation_timeout_ms", "speculation.proof.worker_threads",
                "speculation.proof.batch_size", "speculation.limits.max_memory_mb",
                "speculation.limits.max_state_snapshots",
                "speculation.limits.max_pending_operations",
                "speculation.limits.gc_interval_ms", "speculation.proof.queue_size"):
        assert key in params
    # the four max_depth conditions of the guide's table
    depth_rules = frame.filter(pl.col("parameter") == "speculation.max_depth")["id"]
    assert len(depth_rules) == 4


# ----------------------------------------------------------------------- max_depth


def test_rollback_rate_rule_reduces_depth_in_proportion():
    # 6 % events/task x 2.5 tasks/event = 15 % of attempts rolled back > 10 %
    p = make_profile(rollback_rate=6.0, avg_rollback_size=2.5)
    recs = recommend(p, BASE.replace(max_depth=8))
    r = recs["max_depth"]
    assert (r.current, r.rule, r.priority) == (8, "depth.rollback_rate", 1)
    assert r.proposed == math.floor(8 * 10 / 15) == 5
    assert "15% of execution attempts rolled back" in r.evidence
    assert "> 10%" in r.evidence
    assert r.direction == "decrease"


def test_rollback_rate_below_threshold_does_not_fire():
    p = make_profile(rollback_rate=3.0, avg_rollback_size=2.0)  # 6 %
    recs = recommend(p, BASE)
    assert recs.get("max_depth") is None
    row = recs.evaluations.filter(pl.col("rule") == "depth.rollback_rate")
    assert row["status"][0] == "not fired"


def test_rollback_rate_just_above_threshold_steps_one_level():
    p = make_profile(rollback_rate=10.5)  # no size: event rate used
    r = recommend(p, BASE.replace(max_depth=5))["max_depth"]
    assert r.proposed == 4
    assert "events per task" in r.evidence


def test_blast_radius_rule():
    p = make_profile(blast_radius_p99=40.0)
    r = recommend(p, BASE.replace(max_depth=10))["max_depth"]
    assert (r.rule, r.proposed) == ("depth.blast_radius", 5)
    assert "> 20 tasks" in r.evidence
    assert recommend(make_profile(blast_radius_p99=12.0), BASE).get("max_depth") is None


def test_headroom_rule_uses_top_admissible_depth():
    # max_depth 8 admits depths 0..7; p90 = 3 < 7 - 2 -> reduce to 3 + 3 = 6
    p = make_profile(depth_p90=3.0)
    r = recommend(p, BASE.replace(max_depth=8))["max_depth"]
    assert (r.rule, r.proposed, r.priority) == ("depth.headroom", 6, 2)
    assert "top admissible depth 7" in r.evidence
    # p90 = 5 with max_depth 8: 5 >= 7 - 2, not fired; and the proposal is stable
    assert recommend(make_profile(depth_p90=5.0), BASE.replace(max_depth=8)).get(
        "max_depth") is None
    assert recommend(make_profile(depth_p90=3.0), BASE.replace(max_depth=6)).get(
        "max_depth") is None


def test_saturated_rule_reads_the_top_bucket():
    # max_depth 5: top admissible depth 4; 30 % of tasks at depth 4
    counts = {"0": 20, "1": 20, "2": 15, "3": 15, "4": 30, "5": 0, "+Inf": 0}
    r = recommend(make_profile(counts), BASE)["max_depth"]
    assert (r.rule, r.proposed, r.priority) == ("depth.saturated", 6, 4)
    assert "30.0 % of 100 tasks" in r.evidence
    # 10 % at the top: not frequent
    counts = {"0": 40, "1": 20, "2": 15, "3": 15, "4": 10, "5": 0, "+Inf": 0}
    assert recommend(make_profile(counts), BASE).get("max_depth") is None


def test_saturated_rule_skips_when_histogram_cannot_resolve_depth():
    counts = {"1": 50, "2": 30, "5": 20, "+Inf": 0}
    recs = recommend(make_profile(counts), BASE.replace(max_depth=10))
    assert "depth.saturated" in {s.rule for s in recs.skipped}
    reason = next(s.reason for s in recs.skipped if s.rule == "depth.saturated")
    assert "cannot resolve depth 9" in reason


# ----------------------------------------------------------------------- branches


def test_branches_memory_fit_uses_the_guide_formula():
    # 8 branches x 400 MB needs (3200 + 10 + 512) x 1.2 = 4466 MB > 4096
    p = make_profile(memory_per_branch=400.0)
    r = recommend(p, BASE.replace(max_parallel_branches=8))["max_parallel_branches"]
    assert r.rule == "branches.memory_fit"
    expected = max(b for b in range(1, 17)
                   if required_memory_mb(b, 400.0, 10_000, 512).total_mb <= 4096)
    assert r.proposed == expected == 7
    assert "4466 MB" in r.evidence


def test_branches_saturated_and_underused():
    up = recommend(make_profile(active_branches_peak=4.0), BASE)["max_parallel_branches"]
    assert (up.rule, up.proposed) == ("branches.saturated", 6)
    down = recommend(make_profile(active_branches_peak=2.0),
                     BASE.replace(max_parallel_branches=8))["max_parallel_branches"]
    assert (down.rule, down.proposed) == ("branches.underused", 3)


# ----------------------------------------------------------------------- timeout


@pytest.mark.parametrize(("p99", "current", "proposed"), [
    (20.0, 30_000, 40_000),    # too tight: 2 x 20 s
    (3.2, 60_000, 7_000),      # too loose: 2 x 3.2 s = 6.4 -> 7 s
    (1.0, 30_000, 5_000),      # clamped to the 5 s minimum
    (14.0, 30_000, None),      # 28 s is within 25 % of 30 s
])
def test_confirmation_timeout_is_twice_p99(p99, current, proposed):
    recs = recommend(make_profile(confirmation_p99=p99),
                     BASE.replace(confirmation_timeout_ms=current))
    r = recs.get("confirmation_timeout_ms")
    if proposed is None:
        assert r is None
    else:
        assert r.proposed == proposed
        assert "2 x p99" in r.evidence


# ----------------------------------------------------------------------- workers, batch


def test_worker_threads_from_queue_utilisation():
    up = recommend(make_profile(queue_utilization=85.0, queue_utilization_peak=99.0),
                   BASE)["proof.worker_threads"]
    assert (up.rule, up.current, up.proposed) == ("workers.queue_high", 4, 6)
    assert "85% > 70%" in up.evidence
    down = recommend(make_profile(queue_utilization=10.0, queue_utilization_peak=20.0),
                     BASE.replace(**{"proof.worker_threads": 8}))["proof.worker_threads"]
    assert (down.rule, down.proposed) == ("workers.queue_low", 6)
    # low on average but a peak above 30 %: not "consistently" low
    mid = recommend(make_profile(queue_utilization=10.0, queue_utilization_peak=60.0),
                    BASE)
    assert mid.get("proof.worker_threads") is None


def test_one_worker_cannot_go_lower_and_says_so():
    recs = recommend(make_profile(queue_utilization=1.0, queue_utilization_peak=2.0),
                     BASE.replace(**{"proof.worker_threads": 1}))
    assert recs.get("proof.worker_threads") is None
    assert any("workers.queue_low" in n for n in recs.notes)


def test_batch_size_underfilled():
    r = recommend(make_profile(batch_size_avg=3.0),
                  BASE.replace(**{"proof.batch_size": 20}))["proof.batch_size"]
    assert (r.rule, r.proposed) == ("batch.underfilled", 5)
    assert recommend(make_profile(batch_size_avg=12.0),
                     BASE.replace(**{"proof.batch_size": 20})).get("proof.batch_size") is None


def test_queue_growth_rule_needs_a_source():
    recs = recommend(make_profile(batch_size_avg=10.0), BASE)
    skipped = {s.rule: s.reason for s in recs.skipped}
    assert "needs a data source" in skipped["batch.queue_growing"]


# ----------------------------------------------------------------------- sizing formulas


def test_sizing_rules_follow_the_proposed_depth_and_timeout():
    # rollback storm cuts max_depth 10 -> 5; snapshots must follow 5 x 8 x 2.5
    cfg = BASE.replace(max_depth=10, max_parallel_branches=8, confirmation_timeout_ms=60_000,
                       **{"limits.max_state_snapshots": 10,
                          "limits.gc_interval_ms": 60_000})
    p = make_profile(rollback_rate=20.0, confirmation_p99=10.0, task_rate=6000.0)
    recs = recommend(p, cfg)
    assert recs["max_depth"].proposed == 5
    assert recs["limits.max_state_snapshots"].proposed == state_snapshots(5, 8) == 100
    assert recs["confirmation_timeout_ms"].proposed == 20_000
    assert recs["limits.gc_interval_ms"].proposed == 5_000          # max(5000, 20000/4)
    # pending ops: 100/s x 20 s x 2 = 4000 < 10000/2 -> oversized -> 4000
    assert recs["limits.max_pending_operations"].proposed == 4_000


def test_memory_oversized_and_undersized():
    over = recommend(make_profile(memory_per_branch=150.0, memory_avg=500.0),
                     BASE.replace(**{"limits.max_memory_mb": 65_536}))
    r = over["limits.max_memory_mb"]
    expected = required_memory_mb(4, 150.0, 10_000, 512).recommended_mb
    assert (r.rule, r.proposed) == ("memory.oversized", expected)
    assert r.proposed == 2048
    # limit below the formula: the memory-fit rule first cuts branches to what the
    # limit holds (2 x 300 MB do not fit in 512 MB), then the formula sizes the
    # limit for the remaining branch
    under = recommend(make_profile(memory_per_branch=300.0),
                      BASE.replace(max_parallel_branches=2,
                                   **{"limits.max_memory_mb": 512}))
    assert under["max_parallel_branches"].proposed == 1
    u = under["limits.max_memory_mb"]
    assert u.rule == "memory.undersized"
    assert u.proposed == required_memory_mb(1, 300.0, 10_000, 512).recommended_mb == 1024
    assert "configured 512 is below it" in u.evidence


def test_memory_oversized_respects_measured_memory():
    # formula says 2048 but 3000 MB are in use on average -> at least 4096
    recs = recommend(make_profile(memory_per_branch=150.0, memory_avg=3000.0),
                     BASE.replace(**{"limits.max_memory_mb": 65_536}))
    assert recs["limits.max_memory_mb"].proposed == 4096


# ----------------------------------------------------------------------- conflicts, skips


def test_conflict_safety_beats_throughput():
    # 30 % at the top depth wants +1; rollbacks at 14 % want fewer levels
    counts = {"0": 20, "1": 20, "2": 15, "3": 15, "4": 30, "5": 0, "+Inf": 0}
    recs = recommend(make_profile(counts, rollback_rate=14.0), BASE)
    r = recs["max_depth"]
    assert (r.rule, r.proposed) == ("depth.rollback_rate", 3)
    [c] = [c for c in recs.conflicts if c.parameter == "speculation.max_depth"]
    assert c.kept.rule == "depth.rollback_rate"
    assert (c.overruled.rule, c.overruled.proposed) == ("depth.saturated", 6)
    assert "priority 1 (rollback safety) beats 4 (throughput/cost)" in c.reason
    assert "depth.saturated" in recs.summary()
    overruled = recs.evaluations.filter(pl.col("status") == "overruled")["rule"]
    assert list(overruled) == ["depth.saturated"]


def test_memory_limit_caps_branch_increase():
    p = make_profile(memory_per_branch=600.0, active_branches_peak=8.0)
    recs = recommend(p, BASE.replace(max_parallel_branches=8))
    r = recs["max_parallel_branches"]
    assert r.rule == "branches.memory_fit" and r.proposed < 8
    # all branches busy, but none more fit: the throughput rule cannot move
    assert any("branches.saturated" in n and "no more branches fit" in n
               for n in recs.notes)


def test_conflict_memory_beats_throughput_on_branches_when_both_move():
    # underused wants 8 -> 3, saturated impossible; memory wants fewer still: allies
    p = make_profile(memory_per_branch=1500.0, active_branches_peak=2.0)
    recs = recommend(p, BASE.replace(max_parallel_branches=8))
    r = recs["max_parallel_branches"]
    assert (r.rule, r.proposed) == ("branches.memory_fit", 1)
    [c] = recs.conflicts
    assert (c.overruled.rule, c.overruled.proposed) == ("branches.underused", 3)


def test_same_direction_takes_the_larger_move_and_reports_it():
    # rollback 12 % -> 10 x 10/12 = 8; headroom p90 2 -> 5: both reduce, 5 wins
    p = make_profile(rollback_rate=12.0, depth_p90=2.0)
    recs = recommend(p, BASE.replace(max_depth=10))
    assert recs["max_depth"].proposed == 5
    [c] = recs.conflicts
    assert c.overruled.rule == "depth.rollback_rate" and c.overruled.proposed == 8
    assert "same direction" in c.reason


def test_nan_figures_are_skipped_not_crashed():
    nan = float("nan")
    p = make_profile(rollback_rate=nan, blast_radius_p99=nan, confirmation_p99=nan,
                     queue_utilization=nan, batch_size_avg=nan, memory_per_branch=nan)
    recs = recommend(p, BASE)
    skipped = {s.rule: s.reason for s in recs.skipped}
    for rule in ("depth.rollback_rate", "depth.blast_radius", "timeout.confirmation",
                 "workers.queue_high", "batch.underfilled", "branches.memory_fit"):
        assert rule in skipped
    assert "not measured" in skipped["timeout.confirmation"]
    assert "hand-made NaN" in skipped["timeout.confirmation"]
    # the memory formula falls back to the guide's 200 MB per branch
    assert recs["limits.max_memory_mb"].proposed == 2048
    assert "guide's 200 MB per branch" in recs["limits.max_memory_mb"].evidence


def test_thresholds_are_configurable():
    p = make_profile(queue_utilization=60.0, queue_utilization_peak=60.0)
    assert recommend(p, BASE).get("proof.worker_threads") is None
    strict = recommend(p, BASE, thresholds=TuningThresholds(queue_high_pct=50.0))
    assert strict["proof.worker_threads"].proposed == 6


# ----------------------------------------------------------------------- result object


def test_apply_toml_diff_and_reprs():
    p = make_profile(rollback_rate=14.0, confirmation_p99=20.0, depth_p90=4.0,
                     task_rate=50.0)
    recs = recommend(p, BASE.replace(max_depth=8))
    new = recs.apply()
    assert new.max_depth == recs["max_depth"].proposed
    assert new.confirmation_timeout_ms == 40_000
    assert SpeculationConfig.from_toml(recs.to_toml()) == new
    doc = tomllib.loads(recs.to_toml())
    assert doc["speculation"]["max_depth"] == new.max_depth
    assert "speculation.max_depth" in recs.diff_text()
    assert recs.diff().height == len(recs)
    frame = recs.to_frame()
    assert frame.columns[:4] == ["parameter", "current", "proposed", "direction"]
    assert frame.height == len(recs)
    assert "<table>" in recs._repr_html_()
    text = recs.summary()
    for r in recs:
        assert r.parameter in text and r.evidence in text and r.expected_effect in text
    # classification matrix: 50/min, p90 4 -> low volume, deep
    assert recs.quadrant.name == "reliability-focused" and recs.quadrant.exact
    assert "Reliability-focused" in text
    assert recs.to_dict()["quadrant"]["name"] == "reliability-focused"


def test_quadrant_apply_mode_is_lowest_priority():
    p = make_profile(task_rate=5000.0, depth_p90=2.0, rollback_rate=14.0)
    advise = recommend(p, BASE)
    assert advise.quadrant.name == "throughput-optimized"
    assert advise.get("rollback_policy") is None and advise.get("proof.batch_size") is None
    applied = recommend(p, BASE, quadrant="apply")
    assert applied["proof.batch_size"].proposed == 50
    assert applied["max_parallel_branches"].proposed == 8
    # the matrix's max_depth 5 (keep) vs safety's 3: safety wins
    assert applied["max_depth"].rule == "depth.rollback_rate"


def test_bad_arguments_raise_typed_errors():
    from specanalysis.errors import DataError

    with pytest.raises(DataError, match="config"):
        recommend(make_profile(), {"max_depth": 3})
    with pytest.raises(DataError, match="profile"):
        recommend({"task_rate": 1}, BASE)
    with pytest.raises(DataError, match="quadrant"):
        recommend(make_profile(), BASE, quadrant="maybe")


# ----------------------------------------------------------------------- simulator


def _profile_sim(cfg, workload, seed=3, settings=None):
    from specanalysis.sim import simulate
    from specanalysis.sources.offline import OfflineSource

    result = simulate(cfg, workload, duration="6m", seed=seed, progress=False,
                      settings=settings)
    source = OfflineSource(result.samples)
    return profile_workload(source, window="5m"), source


def _rolled_back_pct(p):
    return p["rollback_rate"].value * p["avg_rollback_size"].value


def test_sim_rollback_storm_from_too_deep_speculation():
    from specanalysis.sim import Workload

    cfg = BASE.replace(max_depth=12, max_parallel_branches=16,
                       **{"limits.max_memory_mb": 16_384,
                          "limits.max_state_snapshots": 1000})
    w = Workload(rate=10, depth="fixed:12", failures=0.1,
                 exec_time="lognormal:mean=200ms,cv=0.3",
                 confirm_time="lognormal:mean=3s,cv=0.3")
    before, source = _profile_sim(cfg, w)
    assert _rolled_back_pct(before) > 20
    recs = recommend(before, cfg, source=source, check=False)
    r = recs["max_depth"]
    assert r.direction == "decrease"
    assert "depth.rollback_rate" in fired(recs)
    after, _ = _profile_sim(recs.apply(), w)
    assert _rolled_back_pct(after) < _rolled_back_pct(before)
    assert after["blast_radius_p99"].value < before["blast_radius_p99"].value
    assert after["memory_avg"].value < before["memory_avg"].value


def test_sim_saturated_proof_queue():
    from specanalysis.sim import Workload
    from specanalysis.sim.engine import SimSettings
    from specanalysis.sim.workload import FAST_TIMINGS

    cfg = BASE.replace(**{"proof.worker_threads": 1, "proof.batch_size": 10})
    w = Workload(rate=30, depth="uniform:1-3",
                 **{**FAST_TIMINGS, "proof_time": "lognormal:mean=40ms,cv=0.3"})
    # a growing backlog (no load shedding), the situation the guide's rule reads
    before, source = _profile_sim(cfg, w, settings=SimSettings(on_full_queue="defer"))
    assert before["queue_utilization"].value > 70
    recs = recommend(before, cfg, source=source, check=False)
    assert recs["proof.worker_threads"].proposed > 1
    assert recs["proof.worker_threads"].rule == "workers.queue_high"
    # the queue grew during the window: larger batches too (guide: "queue growing")
    assert recs["proof.batch_size"].direction == "increase"
    # the rollbacks here are proof timeouts from the saturated prover: the
    # capacity rules act on them, the depth rule does not cut speculation
    assert before["rollback_timeout_share"].value > 50
    depth = recs.get("max_depth")
    assert depth is None or depth.rule != "depth.rollback_rate"
    literal = recommend(before, cfg, source=source, check=False,
                        thresholds=TuningThresholds(depth_excludes_timeouts=False))
    assert literal["max_depth"].direction == "decrease"  # the guide read literally
    after, _ = _profile_sim(recs.apply(), w, settings=SimSettings(on_full_queue="defer"))
    assert after["queue_utilization"].value < before["queue_utilization"].value
    assert after["proof_p99"].value < before["proof_p99"].value


def test_sim_oversized_memory_limit():
    from specanalysis.sim import Workload

    cfg = BASE.replace(**{"limits.max_memory_mb": 65_536})
    w = Workload(rate=10, depth="uniform:1-3")
    before, source = _profile_sim(cfg, w)
    recs = recommend(before, cfg, source=source, check=False)
    r = recs["limits.max_memory_mb"]
    assert (r.rule, r.direction) == ("memory.oversized", "decrease")
    new = recs.apply()
    formula = required_memory_mb(new.max_parallel_branches,
                                 before["memory_per_branch"].value,
                                 new.limits.max_pending_operations,
                                 new.proof.cache_size_mb).recommended_mb
    assert abs(new.limits.max_memory_mb - formula) < abs(65_536 - formula)
    after, _ = _profile_sim(new, w)
    # the smaller limit still holds the measured memory with the guide's 20 % buffer
    assert after["memory_avg"].value * 1.2 < new.limits.max_memory_mb


@pytest.mark.parametrize("name", ["low-latency-trading", "high-reliability",
                                  "cost-optimized", "burst-traffic"])
def test_sim_scenarios_produce_valid_proposals(name):
    from specanalysis.config import SCENARIOS
    from specanalysis.sim import Workload

    cfg = SCENARIOS[name].config
    w = Workload(rate=15, depth="uniform:1-5", failures=0.02)
    before, source = _profile_sim(cfg, w, seed=5)
    recs = recommend(before, cfg, source=source, check=False)
    new = recs.apply()
    assert SpeculationConfig.from_toml(recs.to_toml()) == new
    # every change names a rule of the table and carries evidence
    ids = {r.id for r in RULES}
    for r in recs:
        assert r.rule in ids and r.evidence and r.expected_effect
    # sizing stays consistent with the proposal
    assert new.limits.max_state_snapshots >= state_snapshots(new.max_depth,
                                                             new.max_parallel_branches)
