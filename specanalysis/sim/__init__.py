"""The simulated speculation runtime: workloads, the event engine, metrics emission.

What-if sweeps over configurations are in :mod:`specanalysis.sim.sweep`
(``from specanalysis.sim.sweep import sweep``, or ``specanalysis.sweep``).

Examples
--------
>>> from specanalysis.sim import Workload, simulate
>>> Workload(rate=20, depth="fixed:8").chain_rate
2.5
"""

from __future__ import annotations

from specanalysis.sim.engine import (
    DEFAULT_START,
    MemoryModel,
    SimResult,
    SimSettings,
    simulate,
)
from specanalysis.sim.sweep import Sweep
from specanalysis.sim.workload import (
    FAST_TIMINGS,
    REALISTIC_TIMINGS,
    DepthDistribution,
    Distribution,
    RatePattern,
    TimeDistribution,
    Workload,
    parse_depth,
    parse_distribution,
    parse_pattern,
)

__all__ = [
    "DEFAULT_START",
    "DepthDistribution",
    "FAST_TIMINGS",
    "REALISTIC_TIMINGS",
    "Distribution",
    "MemoryModel",
    "RatePattern",
    "SimResult",
    "SimSettings",
    "Sweep",
    "TimeDistribution",
    "Workload",
    "parse_depth",
    "parse_distribution",
    "parse_pattern",
    "simulate",
]
