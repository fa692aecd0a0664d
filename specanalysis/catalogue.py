"""The metric catalogue: canonical names, aliases, types, units and the guide's targets.

The runtime's documents name the same quantity several ways
(``speculation_rollback_total`` in the runbooks, ``speculation_rollbacks_total``
in the design doc, millisecond histograms in the performance plan). The
catalogue maps each alias to one canonical metric and converts units while
normalising, so every analysis downstream speaks one vocabulary.

Examples
--------
>>> from specanalysis.catalogue import lookup, canonical_name
>>> lookup("speculation_rollbacks_total").name
'speculation_rollback_total'
>>> canonical_name("speculation_proof_generation_duration_ms_bucket")
('speculation_proof_generation_seconds_bucket', 0.001)
>>> lookup("speculation_proof_generation_seconds_bucket").type
'histogram'
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Literal

import polars as pl

__all__ = [
    "Metric",
    "Target",
    "CATALOGUE",
    "TARGETS",
    "TOLERANCES",
    "DEFAULT_TOLERANCE",
    "UnknownMetricsWarning",
    "lookup",
    "canonical_name",
    "normalize_samples",
    "describe_metrics",
    "metric_types",
    "ROLLBACK_REASONS",
    "REASON_ALIASES",
    "DEFERRAL_REASONS",
    "canonical_reason",
    "normalize_reasons",
]

MetricType = Literal["counter", "gauge", "histogram"]
Better = Literal["higher", "lower"] | None

HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


@dataclass(frozen=True)
class Metric:
    """One metric of the speculation runtime.

    ``name`` is what PromQL selects: the full sample name for counters and
    gauges (``speculation_tasks_total``), the family name for histograms
    (``speculation_proof_generation_seconds``; samples add ``_bucket``,
    ``_sum``, ``_count``). ``aliases`` maps other names of the same quantity
    to the factor that converts their values into this metric's unit.
    """

    name: str
    type: MetricType
    unit: str
    help: str
    better: Better = None
    labels: tuple[str, ...] = ()
    aliases: dict[str, float] = field(default_factory=dict)
    target: str | None = None

    @property
    def family(self) -> str:
        """OpenMetrics family name (counters drop ``_total``)."""
        if self.type == "counter" and self.name.endswith("_total"):
            return self.name[: -len("_total")]
        return self.name

    @property
    def sample_names(self) -> tuple[str, ...]:
        """The sample names this metric appears under in exposition text."""
        if self.type == "histogram":
            return tuple(self.name + s for s in HISTOGRAM_SUFFIXES)
        return (self.name,)


@dataclass(frozen=True)
class Target:
    """A target or threshold the tuning guide states for a derived figure."""

    name: str
    description: str
    op: Literal["<", ">", "<=", ">="]
    value: float
    unit: str
    source: str

    def met(self, observed: float) -> bool | None:
        """Whether ``observed`` meets the target (None when it is NaN/missing)."""
        if observed is None or observed != observed:
            return None
        return {
            "<": observed < self.value,
            ">": observed > self.value,
            "<=": observed <= self.value,
            ">=": observed >= self.value,
        }[self.op]


_MS = 0.001
_METRICS: list[Metric] = [
    Metric("speculation_tasks_total", "counter", "tasks",
           "Speculative tasks executed; the rollback-rate denominator.", "higher",
           aliases={"agenc_speculation_executions_total": 1.0}),
    Metric("speculation_tasks_scheduled_total", "counter", "tasks",
           "Tasks submitted to the runtime (the offered load), rejected ones "
           "included; unlike speculation_tasks_total it is not shaped by the "
           "runtime's queues and limits.",
           aliases={"speculation_tasks_scheduled": 1.0}),
    Metric("speculation_tasks_rejected_total", "counter", "tasks",
           "Tasks refused at submission (load shedding), by reason "
           "(proof_queue_full).", "lower", labels=("reason",)),
    Metric("speculation_tasks_deferred_total", "counter", "tasks",
           "Ready tasks refused speculative admission, once per task attempt and "
           "reason (depth_limit, branch_limit, snapshot_limit, pending_ops_limit, "
           "memory_limit, cascade_limit, proof_queue_full, disabled, rollout); "
           "depth is the task's structural dependency depth (root 0), so "
           "depth_limit deferrals show how deep offered chains go beyond the cap.",
           "lower",
           labels=("reason", "depth")),
    Metric("speculation_deferral_wait_seconds", "histogram", "seconds",
           "Time a deferred task waited, first refusal to execution start.",
           "lower", aliases={"speculation_timing_deferral_wait_ms": _MS}),
    Metric("speculation_execution_seconds", "histogram", "seconds",
           "Execution time of each task attempt.",
           aliases={"speculation_execution_latency_ms": _MS}),
    Metric("speculation_proof_batch_duration_seconds", "histogram", "seconds",
           "Service time of each proof batch (fixed batch cost plus the proofs "
           "in it), without queueing."),
    Metric("speculation_proof_workers_busy", "gauge", "workers",
           "Proof workers busy generating a batch."),
    Metric("speculation_proof_workers", "gauge", "workers",
           "Proof workers (proof.worker_threads)."),
    Metric("speculation_config", "gauge", "value",
           "The configuration the runtime runs with, one series per parameter "
           "(dotted name; booleans 1/0).", labels=("parameter",)),
    Metric("speculation_tasks_confirmed_total", "counter", "tasks",
           "Tasks whose proof was confirmed on chain (finalised).", "higher",
           aliases={"speculation_proofs_confirmed_total": 1.0}),
    Metric("speculation_rollback_total", "counter", "rollbacks",
           "Rollback events by reason (ancestor_failed, proof_invalid, timeout, "
           "state_conflict, manual).", "lower", labels=("reason",),
           aliases={"speculation_rollbacks_total": 1.0,
                    "agenc_speculation_rollbacks_total": 1.0}),
    Metric("speculation_tasks_rolled_back_total", "counter", "tasks",
           "Tasks undone by rollbacks (trigger and descendants); "
           "divided by rollback events it gives the average rollback size.", "lower",
           labels=("reason",)),
    Metric("speculation_depth_histogram", "histogram", "levels",
           "Speculation depth (unconfirmed ancestors) of each task at execution.",
           aliases={"speculation_chain_depth": 1.0}),
    Metric("speculation_rollback_cascade_size", "histogram", "tasks",
           "Blast radius of each rollback (trigger plus descendants undone).", "lower",
           target="TG: reduce max_depth when blast radius > 20 tasks"),
    Metric("speculation_proof_generation_seconds", "histogram", "seconds",
           "Proof generation time.", "lower",
           aliases={"speculation_proof_generation_duration_ms": _MS,
                    "speculation_proof_latency_ms": _MS},
           target="TG: proof p99 < 60 s"),
    Metric("speculation_e2e_latency_seconds", "histogram", "seconds",
           "End-to-end task latency, arrival to on-chain finality.", "lower",
           aliases={"speculation_e2e_latency_ms": _MS},
           target="TG: p50 < 1 s, p99 < 5 s"),
    Metric("solana_confirmation_seconds", "histogram", "seconds",
           "On-chain confirmation time; its p99 sizes confirmation_timeout_ms.",
           "lower",
           aliases={"speculation_confirmation_latency_ms": _MS,
                    "speculation_confirm_latency_ms": _MS}),
    Metric("speculation_memory_usage_bytes", "gauge", "bytes",
           "Speculation state memory, by component (state_snapshots, "
           "pending_operations, proof_cache, rollback_logs, commitment_ledger).",
           "lower", labels=("component",),
           aliases={"speculation_memory_bytes": 1.0,
                    "speculation_resources_memory_mb": 1024.0 * 1024.0}),
    Metric("speculation_memory_limit_bytes", "gauge", "bytes",
           "Configured memory limit (alert denominator)."),
    Metric("speculation_active_tasks", "gauge", "tasks",
           "Tasks in flight (executed, not yet finalised or rolled back).",
           aliases={"speculation_tasks_in_flight": 1.0,
                    "agenc_speculation_active_count": 1.0}),
    Metric("speculation_active_tasks_by_depth", "gauge", "tasks",
           "Tasks in flight by current depth.", labels=("depth",)),
    Metric("speculation_active_branches", "gauge", "branches",
           "Concurrently speculating branches (real parallelism)."),
    Metric("speculation_proof_queue_depth", "gauge", "proofs",
           "Proofs waiting for a worker.", "lower",
           aliases={"speculation_pending_proofs": 1.0},
           target="TG: utilisation 30-70 % of capacity"),
    Metric("speculation_proof_queue_capacity", "gauge", "proofs",
           "Proof queue capacity (proof.queue_size)."),
    Metric("speculation_proof_batch_size", "gauge", "proofs",
           "Mean number of proofs per batch actually formed."),
    Metric("speculation_current_depth", "gauge", "levels",
           "Deepest speculation depth currently in flight.",
           aliases={"speculation_depth_current": 1.0,
                    "speculation_max_depth_current": 1.0}),
    Metric("speculation_max_depth", "gauge", "levels",
           "Configured speculation.max_depth."),
    Metric("speculation_stake_locked_lamports", "gauge", "lamports",
           "Stake bonded by in-flight speculation.",
           aliases={"speculation_locked_stake_lamports": 1.0,
                    "speculation_active_stakes_lamports": 1.0}),
    Metric("speculation_stake_slashed_total", "counter", "events",
           "Slashing events; any rise in 1 h alerts.", "lower"),
    Metric("speculation_auto_disabled", "gauge", "flag",
           "1 when the runtime switched speculation off by itself.", "lower"),
    Metric("speculation_enabled", "gauge", "flag", "Master switch (1 = on)."),
]

#: Canonical metrics by name.
CATALOGUE: dict[str, Metric] = {m.name: m for m in _METRICS}


def _name(name: str) -> str:
    """A catalogue name as a constant (a typo fails at import, not at query time)."""
    if name not in CATALOGUE:
        raise KeyError(f"{name} is not in the catalogue")
    return name


#: Why a ready task was refused speculative admission: the ``reason`` label of
#: ``speculation_tasks_deferred_total`` (the simulator records the index).
DEFER_REASONS = ("depth_limit", "branch_limit", "snapshot_limit", "pending_ops_limit",
                 "memory_limit", "cascade_limit", "proof_queue_full", "disabled",
                 "rollout")

# Canonical names as constants: the package names a metric only through these
# (or :func:`lookup`); tests/test_catalogue_names.py holds it to that.
TASKS = _name("speculation_tasks_total")
SCHEDULED = _name("speculation_tasks_scheduled_total")
REJECTED = _name("speculation_tasks_rejected_total")
DEFERRED = _name("speculation_tasks_deferred_total")
DEFERRAL_WAIT = _name("speculation_deferral_wait_seconds")
EXECUTION = _name("speculation_execution_seconds")
BATCH_DURATION = _name("speculation_proof_batch_duration_seconds")
WORKERS_BUSY = _name("speculation_proof_workers_busy")
WORKERS = _name("speculation_proof_workers")
CONFIG = _name("speculation_config")
CONFIRMED = _name("speculation_tasks_confirmed_total")
ROLLBACKS = _name("speculation_rollback_total")
ROLLED_BACK = _name("speculation_tasks_rolled_back_total")
DEPTH = _name("speculation_depth_histogram")
CASCADE = _name("speculation_rollback_cascade_size")
PROOF = _name("speculation_proof_generation_seconds")
E2E = _name("speculation_e2e_latency_seconds")
CONFIRM = _name("solana_confirmation_seconds")
MEMORY = _name("speculation_memory_usage_bytes")
MEMORY_LIMIT = _name("speculation_memory_limit_bytes")
ACTIVE = _name("speculation_active_tasks")
ACTIVE_BY_DEPTH = _name("speculation_active_tasks_by_depth")
BRANCHES = _name("speculation_active_branches")
QUEUE_DEPTH = _name("speculation_proof_queue_depth")
QUEUE_CAP = _name("speculation_proof_queue_capacity")
BATCH = _name("speculation_proof_batch_size")
CURRENT_DEPTH = _name("speculation_current_depth")
MAX_DEPTH = _name("speculation_max_depth")
STAKE_LOCKED = _name("speculation_stake_locked_lamports")
STAKE_SLASHED = _name("speculation_stake_slashed_total")
AUTO_DISABLED = _name("speculation_auto_disabled")
ENABLED = _name("speculation_enabled")

#: The guide's targets for derived figures (benchmark targets and tuning thresholds).
TARGETS: dict[str, Target] = {
    t.name: t
    for t in [
        Target("latency_p50_s", "End-to-end latency p50", "<", 1.0, "s",
               "TG key metrics"),
        Target("latency_p99_s", "End-to-end latency p99", "<", 5.0, "s",
               "TG key metrics"),
        Target("rollback_rate_pct", "Rollbacks / total tasks", "<", 5.0, "%",
               "TG key metrics"),
        Target("memory_per_active_task_mb", "Memory per active task", "<", 10.0, "MB",
               "TG key metrics"),
        Target("proof_p99_s", "Proof generation p99", "<", 60.0, "s",
               "TG key metrics"),
        Target("recovery_time_s", "Time to recover from failure", "<", 30.0, "s",
               "TG key metrics"),
        Target("benchmark_cv_pct", "Coefficient of variation across runs", "<", 10.0,
               "%", "TG statistical significance"),
        Target("blast_radius_tasks", "Tasks touched by one rollback", "<=", 20.0,
               "tasks", "TG max_depth rules"),
    ]
}

#: The runbooks' rollback reasons (the ``reason`` label of ``speculation_rollback_total``):
#: the vocabulary every other naming is normalised to.
ROLLBACK_REASONS: tuple[str, ...] = ("ancestor_failed", "proof_invalid", "timeout",
                                     "state_conflict", "manual")

#: Rollback reason names of the other documents -> the runbooks' vocabulary
#: (runtime-facts §1c). Matched case-insensitively after these exact names, so the
#: API's UPPER_CASE forms of the runbook names map too.
REASON_ALIASES: dict[str, str] = {
    # design document and runtime code
    "proof_failed": "proof_invalid",
    "proof_timeout": "timeout",
    "confirmation_timeout": "timeout",
    "claim_expired": "timeout",
    "commitment_expired": "timeout",
    "manual_cancel": "manual",
    # API (UPPER_CASE)
    "ANCESTOR_PROOF_FAILED": "ancestor_failed",
    "ANCESTOR_EXECUTION_FAILED": "ancestor_failed",
    "ANCESTOR_EXPIRED": "ancestor_failed",
    "ANCESTOR_SLASHED": "ancestor_failed",
    "MANUAL_REQUEST": "manual",
    "CONSISTENCY_CHECK_FAILED": "state_conflict",
    "CLAIM_EXPIRED": "timeout",
    "CONFIG_CHANGE": "manual",
    "EMERGENCY_SHUTDOWN": "manual",
    # on-chain events
    "ParentVoided": "ancestor_failed",
    "ParentCancelled": "ancestor_failed",
    "ParentDisputed": "ancestor_failed",
    "Expired": "timeout",
}

#: Reasons of ``speculation_tasks_deferred_total`` (why a ready task was not admitted
#: speculatively), each with the configuration parameter that binds.
DEFERRAL_REASONS: dict[str, str] = {
    "depth_limit": "max_depth",
    "branch_limit": "max_parallel_branches",
    "snapshot_limit": "limits.max_state_snapshots",
    "pending_ops_limit": "limits.max_pending_operations",
    "memory_limit": "limits.max_memory_mb",
    "cascade_limit": "limits.max_rollback_cascade_size",
    "proof_queue_full": "proof.queue_size",
    "disabled": "enabled",
    "rollout": "features.rollout_percentage",
}

_REASON_LOWER = {k.lower(): v for k, v in REASON_ALIASES.items()}


def canonical_reason(name: str | None) -> str | None:
    """The runbooks' name of a rollback reason written in any document's vocabulary.

    Unknown names come back unchanged (lower-cased when their lower-case form is a
    runbook name); None stays None.

    Examples
    --------
    >>> canonical_reason("proof_timeout"), canonical_reason("ANCESTOR_SLASHED")
    ('timeout', 'ancestor_failed')
    >>> canonical_reason("PROOF_INVALID"), canonical_reason("cosmic_ray")
    ('proof_invalid', 'cosmic_ray')
    """
    if name is None:
        return None
    if name in ROLLBACK_REASONS:
        return name
    if name in REASON_ALIASES:
        return REASON_ALIASES[name]
    low = name.lower()
    if low in ROLLBACK_REASONS:
        return low
    return _REASON_LOWER.get(low, name)


def normalize_reasons(frame: pl.DataFrame, *, column: str = "reason",
                      value: str = "value") -> pl.DataFrame:
    """Rename reasons to the runbooks' vocabulary and add up rows that now coincide.

    For aggregated results (one row per reason and any other label), not raw
    samples: the rows of two raw names that map to one reason are summed. A
    ``raw_reasons`` column keeps the original names (comma-separated).

    Examples
    --------
    >>> import polars as pl
    >>> f = pl.DataFrame({"reason": ["proof_timeout", "timeout", "proof_failed"],
    ...                   "value": [2.0, 3.0, 1.0]})
    >>> normalize_reasons(f).sort("reason").rows()
    [('proof_invalid', 1.0, 'proof_failed'), ('timeout', 5.0, 'proof_timeout,timeout')]
    """
    if frame.height == 0:
        return frame.with_columns(pl.lit(None, pl.String).alias("raw_reasons"))
    raw = frame.get_column(column).to_list()
    mapped = [canonical_reason(r) for r in raw]
    keys = [c for c in frame.columns if c not in (column, value)]
    out = frame.with_columns(pl.Series(column, mapped, dtype=pl.String),
                             pl.Series("_raw", raw, dtype=pl.String))
    return (out.group_by([column, *keys], maintain_order=True)
            .agg(pl.col(value).sum(),
                 pl.col("_raw").unique().sort().str.join(",").alias("raw_reasons"))
            .select(column, *keys, value, "raw_reasons"))


#: Equivalence margins for before/after comparisons (relative change, ±): a
#: change smaller than this counts as "no change" (``compare``'s default
#: ``tolerance``). Tail and count figures are noisier than medians and means,
#: so their margins are wider; the guide's own example report calls a 3.5 %
#: throughput drop "slightly worse", so throughput keeps a 3 % margin.
TOLERANCES: dict[str, float] = {
    "throughput_tps": 0.03,
    "task_rate_tps": 0.03,
    "latency_p50_s": 0.05,
    "latency_p90_s": 0.05,
    "latency_p99_s": 0.10,
    "latency_max_s": 0.20,
    "chain_latency_p50_s": 0.05,
    "chain_latency_p99_s": 0.10,
    "rollback_rate_pct": 0.10,
    "timeout_rollback_rate_pct": 0.20,
    "task_rollback_rate_pct": 0.10,
    "avg_rollback_size": 0.10,
    "blast_radius_max": 0.20,
    "memory_avg_mb": 0.05,
    "memory_peak_mb": 0.10,
    "memory_mb": 0.05,
    "memory_per_active_task_mb": 0.05,
    "proof_p50_s": 0.05,
    "proof_p99_s": 0.10,
    "confirmation_p99_s": 0.10,
    "recovery_time_s": 0.10,
    "recovery_time_p99_s": 0.15,
    "proof_queue_depth": 0.20,
    "active_tasks": 0.05,
}
#: Equivalence margin of a figure without an entry in :data:`TOLERANCES`.
DEFAULT_TOLERANCE = 0.05

# alias sample name -> (canonical sample name, value factor); built once.
_ALIASES: dict[str, tuple[str, float]] = {}
_SAMPLES: dict[str, Metric] = {}
for _m in _METRICS:
    suffixes = HISTOGRAM_SUFFIXES if _m.type == "histogram" else ("",)
    for _s in suffixes:
        _SAMPLES[_m.name + _s] = _m
        for _alias, _factor in _m.aliases.items():
            # _count is a number of observations: never scaled.
            _ALIASES[_alias + _s] = (_m.name + _s, 1.0 if _s == "_count" else _factor)


class UnknownMetricsWarning(UserWarning):
    """Samples of metrics the catalogue does not know were kept as they are."""


def lookup(name: str) -> Metric | None:
    """The catalogue entry for a metric, sample or alias name (None if unknown).

    Examples
    --------
    >>> lookup("solana_confirmation_seconds_count").name
    'solana_confirmation_seconds'
    >>> lookup("node_cpu_seconds_total") is None
    True
    """
    if name in CATALOGUE:
        return CATALOGUE[name]
    if name in _SAMPLES:
        return _SAMPLES[name]
    if name in _ALIASES:
        return _SAMPLES[_ALIASES[name][0]]
    return None


def canonical_name(name: str) -> tuple[str, float]:
    """Canonical sample name and the factor that converts values to its unit.

    Unknown names come back unchanged with factor 1.0.
    """
    if name in _SAMPLES:
        return name, 1.0
    return _ALIASES.get(name, (name, 1.0))


def metric_types() -> dict[str, MetricType]:
    """Metric (family) name -> type, for writers that need ``# TYPE`` lines."""
    return {m.name: m.type for m in _METRICS}


def normalize_samples(
    samples: pl.DataFrame,
    *,
    on_unknown: Literal["keep", "warn", "raise"] = "keep",
) -> pl.DataFrame:
    """Rename aliases to canonical names and convert their units.

    Bucket bounds (``le``) of aliased millisecond histograms are converted too,
    and re-rendered in canonical float form. Metrics the catalogue does not
    know are kept unchanged; ``on_unknown`` decides whether that is silent,
    a :class:`UnknownMetricsWarning` naming them, or a ``DataError``.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, timezone
    >>> t = datetime(2025, 1, 1, tzinfo=timezone.utc)
    >>> df = pl.DataFrame({"timestamp": [t, t], "value": [1.0, 250.0],
    ...     "metric": ["speculation_rollbacks_total",
    ...                "speculation_proof_generation_duration_ms_bucket"],
    ...     "le": [None, "500"]})
    >>> out = normalize_samples(df)
    >>> out["metric"].to_list()
    ['speculation_rollback_total', 'speculation_proof_generation_seconds_bucket']
    >>> out["value"].to_list(), out["le"].to_list()
    ([1.0, 250.0], [None, '0.5'])
    """
    from specanalysis.errors import DataError
    from specanalysis.frames import validate_samples

    samples = validate_samples(samples)
    names = samples.get_column("metric").unique().to_list()
    mapping = {n: _ALIASES[n] for n in names if n in _ALIASES}
    unknown = sorted(n for n in names if n not in _SAMPLES and n not in _ALIASES)
    if unknown and on_unknown != "keep":
        msg = f"{len(unknown)} metric(s) not in the catalogue, kept as they are: " + (
            ", ".join(unknown[:20]) + (" ..." if len(unknown) > 20 else "")
        )
        if on_unknown == "raise":
            raise DataError(msg, field="metric", expected="catalogue metrics only")
        warnings.warn(msg, UnknownMetricsWarning, stacklevel=2)
    if not mapping:
        return samples
    old = pl.col("metric")
    new_name = old.replace_strict(
        {k: v[0] for k, v in mapping.items()}, default=old, return_dtype=pl.String
    )
    factor = old.replace_strict(
        {k: v[1] for k, v in mapping.items()}, default=1.0, return_dtype=pl.Float64
    )
    is_bucket = old.str.ends_with("_bucket")
    exprs = [
        new_name.alias("metric"),
        pl.when(is_bucket).then(pl.col("value")).otherwise(pl.col("value") * factor)
        .alias("value"),
    ]
    if "le" in samples.columns:
        scaled = pl.col("le").cast(pl.Float64, strict=False) * factor
        exprs.append(
            pl.when(is_bucket & (factor != 1.0) & scaled.is_not_null())
            .then(_format_le(scaled))
            .otherwise(pl.col("le"))
            .alias("le")
        )
    return samples.with_columns(exprs)


def _format_le(expr: pl.Expr) -> pl.Expr:
    """Render bucket bounds the way Prometheus prints floats (``1.0``, ``+Inf``)."""
    # repr-like shortest form: polars' Float64 -> String cast gives "0.5", "1.0", "inf".
    s = expr.cast(pl.String)
    return (
        pl.when(expr == float("inf"))
        .then(pl.lit("+Inf"))
        .when(expr == float("-inf"))
        .then(pl.lit("-Inf"))
        .otherwise(s)
    )


def describe_metrics(samples: pl.DataFrame) -> pl.DataFrame:
    """One row per metric in ``samples``: rows, series, first/last time, known?, type, unit.

    The report a loader's user reads to see what arrived and what the catalogue
    did not recognise.
    """
    from specanalysis.frames import label_columns, validate_samples

    samples = validate_samples(samples)
    labels = label_columns(samples)
    key = pl.struct(labels) if labels else pl.lit(0)
    out = (
        samples.group_by("metric")
        .agg(
            pl.len().alias("rows"),
            key.n_unique().alias("series"),
            pl.col("timestamp").min().alias("first"),
            pl.col("timestamp").max().alias("last"),
        )
        .sort("metric")
    )
    info = [
        (n, m.name if m else None, m.type if m else None, m.unit if m else None)
        for n in out["metric"].to_list()
        for m in [lookup(n)]
    ]
    meta = pl.DataFrame(
        info,
        schema={"metric": pl.String, "canonical": pl.String, "type": pl.String,
                "unit": pl.String},
        orient="row",
    )
    return out.join(meta, on="metric", how="left").with_columns(
        pl.col("canonical").is_not_null().alias("known")
    )
