"""Reference workloads: the situations the guide's advice is checked on.

The guide's four scenarios give configurations and expected metrics but not the
workloads they are meant for; :data:`SCENARIO_WORKLOADS` is this package's reading
of each situation (volume and depth from the classification matrix's quadrants,
documented timings), paired with the scenario's configuration in
``specanalysis.config.SCENARIOS``. :data:`STRESS_CASES` adds the situations where
advice matters most (the guide's burst test, a rollback storm, a saturated proof
queue, an oversized memory limit), each with the configuration that is in trouble.
Calibration round trips and checked recommendations are tested on all of them.

Examples
--------
>>> sorted(SCENARIO_WORKLOADS)
['burst-traffic', 'cost-optimized', 'high-reliability', 'low-latency-trading']
>>> case = STRESS_CASES["rollback-storm"]
>>> case.workload.failures, case.config.max_depth
(0.08, 8)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from specanalysis.sim.workload import Workload

__all__ = ["SCENARIO_WORKLOADS", "STRESS_CASES", "Case", "reference_cases"]

#: Scenario name (as in ``config.SCENARIOS``) -> the workload it is meant for.
SCENARIO_WORKLOADS: dict[str, Workload] = {
    # high volume (> 1000 tasks/min), deep chains, a few invalid proofs
    "low-latency-trading": Workload(rate=20.0, depth="uniform:2-8", failures=0.02),
    # low volume (< 100 tasks/min), shallow chains, rare failures
    "high-reliability": Workload(rate=1.2, depth="uniform:1-3", failures=0.005),
    # moderate volume, shallow-to-medium chains
    "cost-optimized": Workload(rate=4.0, depth="uniform:1-4", failures=0.02),
    # the guide's burst test: 10x for 30 s every 2 minutes
    "burst-traffic": Workload(rate=3.0, depth="uniform:1-5", failures=0.02,
                              pattern="burst:10x:30s:every:2m"),
}


@dataclass(frozen=True)
class Case:
    """A workload and the configuration it runs under, with what is wrong."""

    name: str
    workload: Workload
    config: Any
    trouble: str


def _stress() -> dict[str, Case]:
    from specanalysis.config import SpeculationConfig

    base = SpeculationConfig(enabled=True, mode="balanced")
    return {c.name: c for c in (
        Case("burst", Workload(rate=4.0, depth="uniform:1-8", failures=0.03,
                               pattern="burst:10x:30s:every:2m"),
             base.replace(max_parallel_branches=16),
             "the guide's burst pattern on the fixture workload"),
        Case("rollback-storm", Workload(rate=3.0, depth="fixed:8", failures=0.08),
             base.replace(max_depth=8, max_parallel_branches=16),
             "8 % invalid proofs under depth-8 speculation: a quarter of the work "
             "is undone (below the auto-disable policy's 50 %)"),
        Case("saturated-queue", Workload(rate=6.0, depth="uniform:1-3"),
             base.replace(**{"proof.worker_threads": 1, "proof.queue_size": 500}),
             "one proof worker for twice its capacity; the queue fills"),
        Case("oversized-memory", Workload(rate=2.0, depth="uniform:1-4", state_mb=5.0),
             base.replace(**{"limits.max_memory_mb": 16384}),
             "a 16 GB limit for a workload that peaks near 100 MB"),
    )}


#: Stress situations: name -> :class:`Case`.
STRESS_CASES: dict[str, Case] = _stress()


def reference_cases() -> dict[str, Case]:
    """The four scenarios (with their configurations) and the stress cases."""
    from specanalysis.config import SCENARIOS

    out = {name: Case(name, wl, SCENARIOS[name].config, "the guide's scenario")
           for name, wl in SCENARIO_WORKLOADS.items()}
    out.update(STRESS_CASES)
    return out
