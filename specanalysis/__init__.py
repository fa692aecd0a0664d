"""specanalysis: profiling, tuning and before/after analysis for a speculative-execution runtime.

Load the runtime's Prometheus metrics into polars (live or from files),
characterise the workload, simulate a configuration before deploying it, and
turn the tuning guide's rules into recommendations.

Public names are loaded lazily (PEP 562), so ``import specanalysis`` is cheap and
never imports galois, statsmodels, hvplot, ipywidgets or dask.

Examples
--------
>>> import specanalysis as sa
>>> sa.lookup("speculation_rollbacks_total").name
'speculation_rollback_total'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it
_LAZY: dict[str, str] = {
    # errors
    "SpecAnalysisError": "specanalysis.errors",
    "ParseError": "specanalysis.errors",
    "SchemaError": "specanalysis.errors",
    "QueryError": "specanalysis.errors",
    "PrometheusError": "specanalysis.errors",
    "PrometheusUnavailable": "specanalysis.errors",
    "PrometheusTimeout": "specanalysis.errors",
    "ConfigError": "specanalysis.errors",
    "WorkloadSpecError": "specanalysis.errors",
    "DataError": "specanalysis.errors",
    "MissingDependencyError": "specanalysis.errors",
    "SweepError": "specanalysis.errors",
    "SchedulerUnavailable": "specanalysis.errors",
    # frames and catalogue
    "validate_samples": "specanalysis.frames",
    "CATALOGUE": "specanalysis.catalogue",
    "TARGETS": "specanalysis.catalogue",
    "lookup": "specanalysis.catalogue",
    "normalize_samples": "specanalysis.catalogue",
    "describe_metrics": "specanalysis.catalogue",
    # configuration (guide TOML, scenarios, matrix, sizing formulas)
    "SpeculationConfig": "specanalysis.config",
    "SCENARIOS": "specanalysis.config",
    "QUADRANTS": "specanalysis.config",
    "required_memory_mb": "specanalysis.config",
    "state_snapshots": "specanalysis.config",
    "max_pending_operations": "specanalysis.config",
    "gc_interval_ms": "specanalysis.config",
    "proof_queue_size": "specanalysis.config",
    "sizing_for": "specanalysis.config",
    # loaders and writers
    "parse_exposition": "specanalysis.io",
    "read_exposition": "specanalysis.io",
    "format_exposition": "specanalysis.io",
    "write_openmetrics": "specanalysis.io",
    "write_samples": "specanalysis.io",
    "read_samples": "specanalysis.io",
    "parse_query_response": "specanalysis.io",
    "QueryResponse": "specanalysis.io",
    "make_samples": "specanalysis.datasets",
    # query engines
    "OfflineSource": "specanalysis.sources.offline",
    "PrometheusSource": "specanalysis.sources.prometheus",
    # profiling and characterisation
    "profile_workload": "specanalysis.profile",
    "WorkloadProfile": "specanalysis.profile",
    "Figure": "specanalysis.profile",
    "characterize": "specanalysis.profile",
    "Characterization": "specanalysis.profile",
    "CalibratedWorkload": "specanalysis.calibrate",
    "classify_quadrant": "specanalysis.classify",
    "Classification": "specanalysis.classify",
    "ClassificationMatrix": "specanalysis.matrix",
    # simulated runtime
    "simulate": "specanalysis.sim",
    "Workload": "specanalysis.sim",
    "SimResult": "specanalysis.sim",
    "SimSettings": "specanalysis.sim",
    # what-if sweeps (local processes, any executor, a Dask cluster)
    "sweep": "specanalysis.sim.sweep",
    "Sweep": "specanalysis.sim.sweep",
    # tuning recommendations
    "recommend": "specanalysis.tuning",
    "Recommendations": "specanalysis.tuning",
    "Recommendation": "specanalysis.tuning",
    "RULES": "specanalysis.tuning",
    # benchmark suite and fixtures
    "run_benchmark": "specanalysis.sim.bench",
    "run_suite": "specanalysis.sim.bench",
    "suite_report": "specanalysis.sim.bench",
    "suite_table": "specanalysis.sim.bench",
    "read_bench_result": "specanalysis.io.benchmarks",
    "BenchResult": "specanalysis.io.benchmarks",
    "GUIDE_SUITE": "specanalysis.sim.bench",
    "load_fixture": "specanalysis.fixtures",
    # before/after verdicts
    "compare": "specanalysis.compare",
    "Comparison": "specanalysis.compare",
    "window": "specanalysis.compare",
    "Window": "specanalysis.compare",
    "tuning_report": "specanalysis.report",
    "TuningReport": "specanalysis.report",
    # models: analytic pipeline latency
    "pipeline": "specanalysis.models.pipeline",
    "TaskGraph": "specanalysis.models.pipeline",
    "PipelineModel": "specanalysis.models.pipeline",
    # models: latency and rollbacks against depth
    "fit_latency": "specanalysis.models.latency",
    "LatencyFit": "specanalysis.models.latency",
    "fit_rollback": "specanalysis.models.rollback",
    "RollbackFit": "specanalysis.models.rollback",
    "blast_radius": "specanalysis.models.rollback",
    "optimal_depth": "specanalysis.models.rollback",
    "DepthChoice": "specanalysis.models.rollback",
    "predict_at_depth": "specanalysis.models.rollback",
    "fixture_names": "specanalysis.fixtures",
    "fixture_path": "specanalysis.fixtures",
    # notebooks: plots and widgets that render offline
    "setup_notebook": "specanalysis.notebook",
    "load_config": "specanalysis.fixtures",
    "config_names": "specanalysis.fixtures",
    "config_path": "specanalysis.fixtures",
    # proof cost and the proof pool (galois op counts, calibration, M/G/c)
    "groth16_ops": "specanalysis.models.proofcost",
    "ProofCostModel": "specanalysis.models.proofcost",
    "proof_pool": "specanalysis.models.proofcost",
    "size_proof_pool": "specanalysis.models.proofcost",
    "capacity_headroom": "specanalysis.models.proofcost",
}

# submodules reachable as attributes (specanalysis.query, specanalysis.plots, ...)
_SUBMODULES = {
    "errors", "frames", "catalogue", "query", "io", "sources", "config", "sim",
    "datasets", "matrix", "classify",
    "profile", "tuning", "plots", "widgets", "fixtures", "cli", "models", "stats",
    "report", "buckets", "calibrate",
    "notebook",
}

__all__ = sorted([*_LAZY, "__version__"])


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        module = importlib.import_module(f"specanalysis.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'specanalysis' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY, *_SUBMODULES})


if TYPE_CHECKING:  # pragma: no cover
    from specanalysis.catalogue import (  # noqa: F401
        CATALOGUE,
        TARGETS,
        describe_metrics,
        lookup,
        normalize_samples,
    )
    from specanalysis.errors import *  # noqa: F401,F403
    from specanalysis.frames import validate_samples  # noqa: F401
