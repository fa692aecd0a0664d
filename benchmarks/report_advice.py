"""Checked advice on the reference cases: predicted against re-simulated effects.

For each reference case (the guide's four scenario workloads, burst, rollback
storm, saturated queue, oversized memory): simulate 12 minutes, profile the last
10, recommend with the simulation check on the generating workload (4 paired seeds
x 8 min), then re-simulate current vs applied on 4 fresh seeds. Prints, per case,
what was proposed and withheld and, for the key figures, the effect the check
predicted for the applied set against the effect re-simulated on fresh seeds
(means with 95 % paired intervals).

Run ``python benchmarks/report_advice.py`` (a few minutes on 2 cores).
"""

from __future__ import annotations

import time

FIGS = ("latency_p50_s", "latency_p99_s", "task_rollback_rate_pct", "memory_peak_mb",
        "proof_p99_s")


def fmt(pred, fig: str) -> str:
    r = pred.effects.filter(pred.effects["figure"] == fig).row(0, named=True)
    if r["effect_pct"] is None:
        return "n/a"
    lo, hi = r["ci_low_pct"], r["ci_high_pct"]
    return f"{r['effect_pct']:+.0f} [{lo:+.0f},{hi:+.0f}]"


def main() -> int:
    from specanalysis.profile import profile_workload
    from specanalysis.sim import simulate
    from specanalysis.sim.paired import predict_change
    from specanalysis.sim.scenarios import reference_cases
    from specanalysis.sources.offline import OfflineSource
    from specanalysis.tuning import recommend

    print("effect % of the applied proposals: predicted (check seeds 0-3) | "
          "re-simulated (seeds 101-104)")
    for name, case in reference_cases().items():
        t0 = time.perf_counter()
        run = simulate(case.config, case.workload, duration="12m", seed=11,
                       progress=False)
        src = OfflineSource(run.samples)
        recs = recommend(profile_workload(src, window="10m"), case.config, source=src,
                         workload=case.workload, progress=False)
        chk = recs.check
        print(f"\n== {name}: {len(recs)} proposed, {len(recs.withheld)} withheld "
              f"({time.perf_counter() - t0:.0f} s)")
        for p in chk.proposals:
            print(f"   {p.status:8s} {p.recommendation.line()}")
        if chk.combined is None:
            print("   nothing applied")
            continue
        fresh = predict_change(case.config, recs.apply(), case.workload,
                               seeds=[101, 102, 103, 104], duration="8m")
        for fig in FIGS:
            print(f"   {fig:24s} predicted {fmt(chk.combined, fig):>18s} | "
                  f"re-simulated {fmt(fresh, fig):>18s}  ({fresh.verdict(fig)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
