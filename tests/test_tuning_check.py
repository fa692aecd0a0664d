"""Recommendations checked by simulation: acceptance on the reference cases.

For each of the guide's four scenario workloads and the burst, rollback-storm,
saturated-queue and oversized-memory cases: profile a simulated run, recommend
with the simulation check (on the generating workload: ground truth), apply what
is proposed, and re-simulate on seeds the check never saw. Applying the proposals
must not make latency p99, tasks rolled back per task or peak memory worse beyond
the paired-seed noise, and every kept proposal whose rule targets a figure must
improve it.
"""

from __future__ import annotations

import pytest

from specanalysis.profile import profile_workload
from specanalysis.sim import simulate
from specanalysis.sim.paired import predict_change
from specanalysis.sim.scenarios import reference_cases
from specanalysis.sources.offline import OfflineSource
from specanalysis.tuning import recommend
from specanalysis.tuning.check import RULE_TARGETS, capacity_check

CASES = reference_cases()
FRESH = [101, 102, 103, 104]
CHECK = {"seeds": 3, "duration": "6m"}


def _checked(name):
    case = CASES[name]
    run = simulate(case.config, case.workload, duration="12m", seed=11, progress=False)
    source = OfflineSource(run.samples)
    profile = profile_workload(source, window="10m")
    return case, recommend(profile, case.config, source=source, check=True,
                           workload=case.workload, progress=False, **CHECK)


@pytest.mark.parametrize("name", sorted(CASES))
def test_applied_proposals_do_no_harm_and_help_what_they_target(name):
    case, recs = _checked(name)
    assert recs.check is not None
    statuses = {p.status for p in recs.check.proposals}
    assert statuses <= {"proposed", "withheld"}
    # the applied set, on seeds the check never saw
    applied = recs.apply()
    verify = predict_change(case.config, applied, case.workload, seeds=FRESH,
                            duration="6m")
    for fig in ("latency_p99_s", "task_rollback_rate_pct", "memory_peak_mb"):
        assert verify.verdict(fig) != "worse", (name, verify.describe(fig))
    for p in recs.check.kept:
        if p.target is None:
            continue
        alone = predict_change(case.config,
                               case.config.replace(**{p.parameter: p.recommendation.proposed}),
                               case.workload, seeds=FRESH, duration="6m")
        assert alone.verdict(p.target) == "better", (name, p.line(), alone.describe(p.target))


def test_a_proposal_predicted_to_hurt_is_withheld_with_its_prediction():
    # the saturated queue: the guide's branch rule asks for more branches, which the
    # simulation says costs memory; the worker rule's proof-latency gain is kept
    _, recs = _checked("saturated-queue")
    withheld = {p.parameter: p for p in recs.withheld}
    kept = {r.parameter for r in recs}
    assert "speculation.proof.worker_threads" in kept
    assert recs.prediction("proof.worker_threads").verdict("proof_p99_s") == "better"
    for p in withheld.values():
        assert p.reason.startswith(("guide rule fired, predicted to hurt",
                                    "no predicted benefit", "withheld: the proposed set"))
        assert p.parameter not in kept
    text = recs.summary()
    assert "Withheld by the simulation check" in text and "predicted:" in text
    html = recs._repr_html_()
    assert "Withheld" in html and "predicted effect (simulated)" in html


def test_goals_let_a_stated_trade_through():
    # rollback storm: cutting depth trades latency for fewer rollbacks; only with
    # the goal does the cut go through, and the price is stated
    case = CASES["rollback-storm"]
    run = simulate(case.config, case.workload, duration="12m", seed=11, progress=False)
    src = OfflineSource(run.samples)
    prof = profile_workload(src, window="10m")
    # rollback shares vary from seed to seed: more and longer runs than usual
    opts = {"seeds": 5, "duration": "10m", "progress": False}
    plain = recommend(prof, case.config, source=src, workload=case.workload, **opts)
    traded = recommend(prof, case.config, source=src, workload=case.workload,
                       goals=("task_rollback_rate_pct",), **opts)
    depth = traded.get("max_depth")
    assert depth is not None and depth.rule == "depth.rollback_rate"
    reason = next(p.reason for p in traded.check.proposals
                  if p.parameter == "speculation.max_depth")
    assert "trade for your goal" in reason
    if plain.get("max_depth") is None:
        assert any(p.parameter == "speculation.max_depth" for p in plain.withheld)


def test_every_rule_has_a_declared_target():
    from specanalysis.tuning import RULES

    assert {r.id for r in RULES} == set(RULE_TARGETS)


def test_capacity_check_is_the_pool_formula():
    from specanalysis.config import SpeculationConfig
    from specanalysis.sim import Workload

    cfg = SpeculationConfig().replace(**{"proof.worker_threads": 3, "proof.batch_size": 5})
    wl = Workload(rate=2, pattern="burst:10x:30s:every:2m", proof_time="fixed:200ms",
                  proof_overhead="fixed:1s")
    row = capacity_check({"current": cfg}, wl).row(0, named=True)
    assert row["peak_rate"] == pytest.approx(20.0)          # 10 x 2 tasks/s
    assert row["capacity_tps"] == pytest.approx(3 * 5 / (1 + 5 * 0.2))
    assert row["headroom_pct"] == pytest.approx(100 * (1 - 20 / 7.5))


def test_unchecked_when_the_profile_cannot_calibrate():
    from datetime import datetime, timezone

    import polars as pl

    from specanalysis.config import SpeculationConfig
    from specanalysis.profile import Figure, WorkloadProfile, depth_table

    t = datetime(2025, 1, 1, tzinfo=timezone.utc)
    figs = {"rollback_rate": Figure("rollback_rate", 7.0, "%"),
            "avg_rollback_size": Figure("avg_rollback_size", 2.0, "tasks")}
    prof = WorkloadProfile(figs, depth_table(pl.DataFrame({"le": ["1"], "value": [1.0]})),
                           "1h", t, t)
    recs = recommend(prof, SpeculationConfig(max_depth=8))  # no source: not checked
    assert recs.check is None and len(recs) > 0
    assert any("not checked by simulation" in n for n in recs.notes)
    from specanalysis.errors import DataError

    with pytest.raises(DataError, match="check mode"):
        recommend(prof, SpeculationConfig(max_depth=8), check="sometimes")


def test_a_clamp_is_named_in_the_evidence():
    from datetime import datetime, timezone

    import polars as pl

    from specanalysis.config import SpeculationConfig
    from specanalysis.profile import Figure, WorkloadProfile, depth_table

    t = datetime(2025, 1, 1, tzinfo=timezone.utc)
    prof = WorkloadProfile({"confirmation_p99": Figure("confirmation_p99", 1.3, "s")},
                           depth_table(pl.DataFrame({"le": ["1"], "value": [1.0]})),
                           "1h", t, t)
    recs = recommend(prof, SpeculationConfig(), check=False)
    ev = recs["confirmation_timeout_ms"].evidence
    # 2 x 1.3 s = 2.6 s, whole seconds 3000 ms, below the parameter's 5000 ms minimum
    assert recs["confirmation_timeout_ms"].proposed == 5000
    assert "2 x p99 = 2.6 s" in ev and "3000 raised to the 5000 minimum" in ev


def test_recommend_cli_reconciles_the_configuration_with_the_data(capsys):
    from specanalysis.cli import main

    # cost-optimized says max_depth 3; the baseline fixture's gauges say 5
    code = main(["recommend", "--config", "cost-optimized", "--fixture", "baseline",
                 "--no-check"])
    out = capsys.readouterr().out
    assert code == 0
    assert "disagrees with the data's configuration gauges" in out
    assert "max_depth: configured 3, the data's gauge says 5" in out
    assert main(["recommend", "--config", "cost-optimized", "--fixture", "baseline",
                 "--no-check", "--strict-config"]) == 2
    err = capsys.readouterr().err
    assert "max_depth" in err
