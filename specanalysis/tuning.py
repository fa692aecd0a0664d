"""The tuning guide's rules as data: a workload profile in, a proposed configuration out.

:data:`RULES` holds every rule table of the guide's *Tuning Parameters* section
(``max_depth``'s four conditions, parallel branches against memory per branch,
the confirmation timeout at 2 x p99 confirmation, proof workers from queue
utilisation, batch size from actual vs configured batch) and its sizing
formulas (memory, snapshots, pending operations, GC interval, proof queue size,
computed with the functions of :mod:`specanalysis.config`), plus the
classification matrix's quadrant settings. :func:`recommend` evaluates them
on a :class:`~specanalysis.profile.WorkloadProfile` and the current
:class:`~specanalysis.config.SpeculationConfig` and returns
:class:`Recommendations`: what to change, why (the rule and the measured
evidence), what to expect, which rules disagreed and how that was settled,
and which rules could not be evaluated.

Reading of the guide (choices it leaves open; all in :class:`TuningThresholds`)
-------------------------------------------------------------------------------
* **Depth semantics.** The runtime admits a task iff ``depth < max_depth``
  (DESIGN-DOCUMENT; depth = unconfirmed ancestors, a root is 0), so the deepest
  level a task can reach is ``max_depth - 1``: the *top admissible depth*. The
  guide's "actual depth = configured" therefore means tasks reaching the top
  admissible depth, and "actual < configured - 2" means the effective depth
  (depth p90, the depth tasks rarely exceed) is more than 2 levels below it.
* **"Frequently at max"** = at least 20 % of the window's tasks in the depth
  histogram bucket(s) at or above the top admissible depth.
* **Rollback rate** is read per task, as PERF's ``rate(tasks_rolled_back_total)
  / rate(tasks_total)``: the profile's rollback rate (events per task) times its
  average rollback size (tasks per event) -- the reading under which lowering
  ``max_depth`` helps (an event *rate* hardly depends on depth). Without the size,
  the event rate is used.
* **Steps.** For rollback rate and blast radius, ``max_depth`` is scaled by
  threshold / measured (rounded down, at least one level lower): for a small
  failure probability p a task at depth d is rolled back with probability
  1 - (1 - p)^d ~ p d (runtime-facts §4), so both grow about linearly with
  depth. Headroom reduction goes straight to ``ceil(p90) + 3`` (top admissible
  depth = p90 + 2, where the rule stops firing); saturation raises it by 1. Workers x1.5 rounded up when the queue is > 70 % used,
  -25 % (at least one) when it is < 30 % over the whole window (average and
  peak). Branches x1.5 rounded up when every branch was busy, down to
  ``ceil(1.5 x peak)`` when the peak used at most half of them. Batch size down
  to ``ceil(1.5 x actual)`` when the actual batch is < 50 % of the configured
  one ("actual << configured"), x1.5 when the queue grows by >= 10 % of its
  capacity over the window. Every value is clamped to the config's valid range.
* **Timeout** target = 2 x p99 confirmation, rounded up to a whole second,
  clamped to 5-300 s; the rule fires when the configured value is below it
  (less buffer than the guide asks for: false timeouts) or more than 25 % above
  it (stale state held longer).
* **Sizing formulas** fire when the configured value is below the formula
  (too small) or at least twice the formula (oversized); they are evaluated on
  the configuration *after* the measured rules, so snapshots follow the proposed
  ``max_depth`` and pending operations and GC follow the proposed timeout.
  The memory formula uses the measured memory per branch as the state size
  (guide's example 200 MB when it is not measured); the peak task rate is the
  busiest minute when a source is given, otherwise the window's average rate.

Conflicts
---------
When fired rules propose different values for one parameter:

* rules pulling in *opposite* directions: the higher priority wins,
  1 rollback safety > 2 memory > 3 latency/timeouts > 4 throughput/cost >
  5 classification-matrix defaults (ties: the order of :data:`RULES`);
* rules agreeing on the direction: the larger move wins, since it satisfies
  both (``depth.rollback_rate`` asks for 10 -> 9, ``depth.headroom`` for
  10 -> 7: 7 answers the safety rule too); matrix defaults never outbid a
  measured rule this way.

Every rule whose proposal was not taken is reported in
:attr:`Recommendations.conflicts` with the reason. A figure the profile lacks
(NaN) means its rules are not evaluated; they are listed in
:attr:`Recommendations.skipped` with the figure's note.

Examples
--------
>>> from specanalysis.tuning import RULES, rules_frame
>>> len(RULES) >= 20
True
>>> rules_frame().filter(pl.col("parameter").str.contains("max_depth,?"))["id"].to_list()
['depth.rollback_rate', 'depth.blast_radius', 'depth.headroom', 'depth.saturated',
 'matrix.quadrant']
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import polars as pl

from specanalysis.config import (
    QUADRANTS,
    SpeculationConfig,
    _all_keys,
    gc_interval_ms,
    max_pending_operations,
    proof_queue_size,
    required_memory_mb,
    state_snapshots,
)
from specanalysis.errors import DataError

__all__ = [
    "PRIORITIES",
    "Rule",
    "RULES",
    "rules_frame",
    "TuningThresholds",
    "Recommendation",
    "Conflict",
    "SkippedRule",
    "QuadrantAdvice",
    "Recommendations",
    "recommend",
]

#: Priority rank -> category (lower rank wins a conflict).
PRIORITIES: dict[int, str] = {
    1: "rollback safety",
    2: "memory",
    3: "latency/timeouts",
    4: "throughput/cost",
    5: "matrix default",
}

_SAFETY, _MEMORY, _LATENCY, _THROUGHPUT, _MATRIX = 1, 2, 3, 4, 5


@dataclass(frozen=True)
class Rule:
    """One tuning rule of the guide.

    Attributes
    ----------
    id
        Stable identifier (``"depth.rollback_rate"``).
    parameter
        Dotted config key it changes (``"speculation.max_depth"``); the matrix
        rule changes several and lists them comma-separated.
    condition, action
        The guide's condition and action, with this package's numbers.
    priority
        Rank in :data:`PRIORITIES` (1 = rollback safety wins every conflict).
    source
        Where in the tuning guide (TG) the rule comes from.
    figures
        Profile figures the rule reads.
    effect
        Expected effect of the change (the guide's trade-off table).
    stage
        ``"measured"`` rules run on the current config; ``"sizing"`` rules on the
        config with the measured rules' proposals applied.
    """

    id: str
    parameter: str
    condition: str
    action: str
    priority: int
    source: str
    figures: tuple[str, ...]
    effect: str
    stage: str = "measured"

    @property
    def category(self) -> str:
        """The priority's name (``"rollback safety"``, ...)."""
        return PRIORITIES[self.priority]


_P = "speculation."

#: Every rule, in evaluation order (measured rules, then sizing formulas).
RULES: tuple[Rule, ...] = (
    Rule("depth.rollback_rate", _P + "max_depth",
         "rollback rate > 10 % (tasks rolled back per execution attempt)",
         "reduce max_depth x 10 % / measured, at least by 1", _SAFETY,
         "TG §Tuning Parameters, max_depth table", ("rollback_rate",),
         "smaller rollback blast radius and fewer tasks undone per failure; less "
         "memory; costs some pipeline parallelism"),
    Rule("depth.blast_radius", _P + "max_depth",
         "rollback blast radius p99 > 20 tasks",
         "reduce max_depth x 20 / measured, at least by 1", _SAFETY,
         "TG §Tuning Parameters, max_depth table", ("blast_radius_p99",),
         "smaller rollbacks when failures occur; less memory"),
    Rule("depth.headroom", _P + "max_depth",
         "effective depth (p90) < top admissible depth (max_depth - 1) - 2",
         "reduce max_depth to ceil(p90) + 3", _MEMORY,
         "TG §Tuning Parameters, max_depth table", ("depth_p90",),
         "less memory held for levels the workload never reaches; no throughput "
         "loss while the effective depth stays below the new limit"),
    Rule("depth.saturated", _P + "max_depth",
         ">= 20 % of tasks at the top admissible depth (max_depth - 1)",
         "increase max_depth by 1", _THROUGHPUT,
         "TG §Tuning Parameters, max_depth table", ("depth distribution",),
         "higher throughput and better latency (fewer tasks waiting for "
         "confirmation); larger rollbacks and more memory"),
    Rule("branches.memory_fit", _P + "max_parallel_branches",
         "max_parallel_branches x measured memory per branch (+ pending ops, proof "
         "cache, 20 %) exceeds limits.max_memory_mb",
         "reduce to the largest branch count that fits", _MEMORY,
         "TG §max_parallel_branches (memory per branch) and §max_memory_mb formula",
         ("memory_per_branch",),
         "keeps speculation state within the memory limit; less parallelism"),
    Rule("branches.saturated", _P + "max_parallel_branches",
         "peak active branches >= max_parallel_branches",
         "increase x1.5 (rounded up), capped by what the memory limit holds",
         _THROUGHPUT, "TG §max_parallel_branches (actual parallelism)",
         ("active_branches_peak",),
         "higher parallelism and resource utilisation; ~100-200 MB more memory "
         "per branch"),
    Rule("branches.underused", _P + "max_parallel_branches",
         "peak active branches <= 50 % of max_parallel_branches",
         "reduce to ceil(1.5 x peak)", _THROUGHPUT,
         "TG §max_parallel_branches (actual parallelism)", ("active_branches_peak",),
         "lower memory footprint with the parallelism actually used"),
    Rule("timeout.confirmation", _P + "confirmation_timeout_ms",
         "configured timeout below 2 x p99 confirmation, or more than 25 % above it",
         "set to 2 x p99 confirmation (whole seconds, 5-300 s)", _LATENCY,
         "TG §confirmation_timeout_ms (recommended: 2x p99 confirmation time)",
         ("confirmation_p99",),
         "raising it: fewer false timeouts (and timeout rollbacks) during "
         "congestion; lowering it: faster failure detection and cleanup"),
    Rule("workers.queue_high", _P + "proof.worker_threads",
         "proof queue utilisation > 70 %", "increase worker threads x1.5 (rounded up)",
         _LATENCY, "TG §proof.worker_threads", ("queue_utilization",),
         "faster proof throughput, lower queue depth and queue latency; more CPU"),
    Rule("workers.queue_low", _P + "proof.worker_threads",
         "proof queue utilisation < 30 % consistently (average and peak)",
         "reduce worker threads by 25 % (at least 1)", _THROUGHPUT,
         "TG §proof.worker_threads", ("queue_utilization", "queue_utilization_peak"),
         "lower CPU usage; somewhat higher queue latency"),
    Rule("batch.underfilled", _P + "proof.batch_size",
         "actual avg batch < 50 % of configured batch_size (actual << configured)",
         "reduce batch_size to ceil(1.5 x actual)", _LATENCY,
         "TG §proof.batch_size", ("batch_size_avg",),
         "lower latency per proof (tasks are not waiting to fill batches)"),
    Rule("batch.queue_growing", _P + "proof.batch_size",
         "proof queue depth grows by >= 10 % of its capacity over the window",
         "increase batch_size x1.5 (rounded up)", _THROUGHPUT,
         "TG §proof.batch_size", ("queue depth trend (needs a source)",),
         "better proof throughput (amortised per-batch overhead); higher latency "
         "per proof"),
    Rule("matrix.quadrant", _P + "max_depth, max_parallel_branches, "
         "proof.batch_size, rollback_policy",
         "the workload's quadrant of the classification matrix (volume x depth p90)",
         "the quadrant's settings (only with quadrant='apply')", _MATRIX,
         "TG §Workload Classification Matrix", ("task_rate", "depth_p90"),
         "the guide's starting point for this kind of workload"),
    Rule("pending_ops.undersized", _P + "limits.max_pending_operations",
         "configured < peak task rate/s x timeout_s x 2",
         "set to the formula", _MEMORY,
         "TG §Resource Limit Parameters", ("task_rate",),
         "room for every operation pending during one confirmation timeout",
         stage="sizing"),
    Rule("pending_ops.oversized", _P + "limits.max_pending_operations",
         "configured >= 2 x (peak task rate/s x timeout_s x 2)",
         "set to the formula", _THROUGHPUT,
         "TG §Resource Limit Parameters", ("task_rate",),
         "less memory reserved for pending operations", stage="sizing"),
    Rule("snapshots.undersized", _P + "limits.max_state_snapshots",
         "configured < max_depth x max_parallel_branches x 2.5",
         "set to the formula", _MEMORY,
         "TG §max_state_snapshots", (), "a snapshot for every speculative level "
         "and branch, so rollbacks can restore state", stage="sizing"),
    Rule("snapshots.oversized", _P + "limits.max_state_snapshots",
         "configured >= 2 x (max_depth x max_parallel_branches x 2.5)",
         "set to the formula", _THROUGHPUT,
         "TG §max_state_snapshots", (), "less memory held by stale snapshots",
         stage="sizing"),
    Rule("gc.interval", _P + "limits.gc_interval_ms",
         "configured more than 25 % away from max(5000, timeout_ms / 4)",
         "set to the formula", _MEMORY,
         "TG §Resource Limit Parameters", (),
         "expired speculation state freed at a pace matching the timeout",
         stage="sizing"),
    Rule("queue_size.undersized", _P + "proof.queue_size",
         "configured < peak task rate/s x avg proof time_s x 3",
         "set to the formula", _LATENCY,
         "TG §Resource Limit Parameters", ("task_rate", "proof_p50"),
         "room for proofs during bursts without rejecting tasks", stage="sizing"),
    Rule("queue_size.oversized", _P + "proof.queue_size",
         "configured >= 2 x formula (and the observed peak depth would stay "
         "< 70 % of the smaller queue)",
         "set to max(formula, peak depth / 0.7)", _THROUGHPUT,
         "TG §Resource Limit Parameters", ("task_rate", "proof_p50"),
         "less memory reserved for the proof queue", stage="sizing"),
    Rule("memory.undersized", _P + "limits.max_memory_mb",
         "configured < (branches x state MB + pending ops x 1 KB + proof cache) "
         "x 1.2", "set to the formula rounded up to a power of two", _MEMORY,
         "TG §max_memory_mb sizing formula", ("memory_per_branch",),
         "room for the speculation state the configuration allows",
         stage="sizing"),
    Rule("memory.oversized", _P + "limits.max_memory_mb",
         "configured >= 2 x the formula (rounded to a power of two)",
         "set to the formula, at least 1.2 x measured average memory", _THROUGHPUT,
         "TG §max_memory_mb sizing formula", ("memory_per_branch", "memory_avg"),
         "frees memory reserved but never needed (cost)", stage="sizing"),
)

RULES_BY_ID: dict[str, Rule] = {r.id: r for r in RULES}
_ORDER = {r.id: i for i, r in enumerate(RULES)}

# sizing rules run in this order of parameters: each sees the previous ones
_SIZING_ORDER = (
    _P + "limits.max_pending_operations",
    _P + "limits.max_state_snapshots",
    _P + "limits.gc_interval_ms",
    _P + "proof.queue_size",
    _P + "limits.max_memory_mb",
)


def rules_frame() -> pl.DataFrame:
    """:data:`RULES` as a frame (for notebooks): one row per rule.

    Examples
    --------
    >>> rules_frame().columns
    ['id', 'parameter', 'condition', 'action', 'priority', 'category', 'stage',
     'source', 'figures', 'effect']
    """
    return pl.DataFrame(
        [(r.id, r.parameter, r.condition, r.action, r.priority, r.category, r.stage,
          r.source, ", ".join(r.figures), r.effect) for r in RULES],
        schema={"id": pl.String, "parameter": pl.String, "condition": pl.String,
                "action": pl.String, "priority": pl.Int64, "category": pl.String,
                "stage": pl.String, "source": pl.String, "figures": pl.String,
                "effect": pl.String},
        orient="row",
    )


@dataclass(frozen=True)
class TuningThresholds:
    """The numbers behind :data:`RULES` (defaults: the guide's, or documented choices).

    Attributes
    ----------
    rollback_rate_pct
        Guide: rollback rate > 10 % -> reduce max_depth.
    blast_radius_tasks
        Guide: blast radius > 20 tasks -> reduce max_depth.
    depth_headroom
        Guide: actual depth < configured - 2 -> reduce (levels of headroom).
    top_depth_share
        Our reading of "frequently": share of tasks at the top admissible depth.
    queue_high_pct, queue_low_pct
        Guide: > 70 % -> more workers, < 30 % consistently -> fewer.
    worker_increase, worker_decrease
        Multiplicative steps for worker threads (x1.5 up, x0.75 down).
    batch_ratio
        "actual << configured": actual batch < this share of the configured one.
    queue_growth_pct
        "queue growing": rise of the queue-depth trend over the window, in % of
        the queue capacity.
    timeout_factor, timeout_tolerance
        Guide: timeout = 2 x p99 confirmation; fire when more than 25 % away.
    oversize_factor
        A sized limit at least this many times its formula is "oversized".
    branch_underuse
        Peak active branches at most this share of the configured ones.
    default_state_mb
        State per branch when memory per branch is not measured (guide: 200 MB).
    depth_excludes_timeouts
        Our refinement of the guide's "rollback rate > 10 % -> reduce max_depth":
        rollbacks caused by proof or confirmation timeouts are left out of the
        rate this rule reads (a shallower chain does not make a saturated prover
        faster; the worker, queue and timeout rules address them). ``False``
        applies the guide's rule to every rollback.
    """

    rollback_rate_pct: float = 10.0
    blast_radius_tasks: float = 20.0
    depth_headroom: int = 2
    top_depth_share: float = 0.20
    queue_high_pct: float = 70.0
    queue_low_pct: float = 30.0
    worker_increase: float = 1.5
    worker_decrease: float = 0.75
    batch_ratio: float = 0.5
    queue_growth_pct: float = 10.0
    timeout_factor: float = 2.0
    timeout_tolerance: float = 0.25
    oversize_factor: float = 2.0
    branch_underuse: float = 0.5
    default_state_mb: float = 200.0
    depth_excludes_timeouts: bool = True


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Recommendation:
    """One proposed change: the parameter, its values, the rule and the evidence.

    ``parameter`` is the dotted config key (``"speculation.max_depth"``);
    ``priority`` the rule's rank in :data:`PRIORITIES`.
    """

    parameter: str
    current: Any
    proposed: Any
    rule: str
    evidence: str
    expected_effect: str
    priority: int

    @property
    def category(self) -> str:
        """The priority's name."""
        return PRIORITIES[self.priority]

    @property
    def direction(self) -> str:
        """``"increase"``, ``"decrease"``, ``"change"`` (non-numeric) or ``"keep"``."""
        if self.proposed == self.current:
            return "keep"
        if isinstance(self.current, int | float) and not isinstance(self.current, bool):
            return "increase" if self.proposed > self.current else "decrease"
        return "change"

    def line(self) -> str:
        """One-line text form: ``parameter: current -> proposed [rule]``."""
        return (f"{self.parameter}: {_show(self.current)} -> {_show(self.proposed)} "
                f"[{self.rule}, priority {self.priority} {self.category}]")


@dataclass(frozen=True)
class Conflict:
    """Two fired rules proposing different values for one parameter, and who won."""

    parameter: str
    kept: Recommendation
    overruled: Recommendation
    reason: str

    def line(self) -> str:
        """One-line text form."""
        return (f"{self.parameter}: kept {self.kept.rule} "
                f"({_show(self.kept.current)} -> {_show(self.kept.proposed)}) over "
                f"{self.overruled.rule} ({_show(self.overruled.current)} -> "
                f"{_show(self.overruled.proposed)}): {self.reason}")


@dataclass(frozen=True)
class SkippedRule:
    """A rule that could not be evaluated, and why (a missing figure, no source)."""

    rule: str
    reason: str


@dataclass(frozen=True)
class QuadrantAdvice:
    """The classification matrix's quadrant for the measured workload.

    ``name`` keys :data:`specanalysis.config.QUADRANTS`; ``exact`` is False when
    the volume lies in the 100-1000/min band and ``name`` is the nearest cell.
    ``differences`` lists ``(parameter, proposed-by-rules, matrix value)`` where
    the matrix's settings differ from the proposed configuration.
    """

    name: str
    title: str
    exact: bool
    volume_per_min: float
    depth: float
    settings: dict[str, Any]
    sentence: str
    differences: tuple[tuple[str, Any, Any], ...]
    applied: bool = False

    def text(self) -> str:
        """Readable advice."""
        head = (f"Classification matrix: {self.title}"
                + ("" if self.exact else " (nearest quadrant)")
                + f" -- {self.sentence}")
        if not self.differences:
            return head + "\n  the proposed configuration already has its settings"
        verb = "applied (lowest priority)" if self.applied else "advice, not applied"
        lines = [head, f"  matrix settings ({verb}):"]
        lines += [f"    {p}: proposed {_show(a)}, matrix {_show(b)}"
                  for p, a, b in self.differences]
        return "\n".join(lines)


@dataclass(frozen=True, eq=False)
class Recommendations:
    """What :func:`recommend` found.

    Attributes
    ----------
    items
        The winning recommendations (one per changed parameter), in rule order.
    config
        The current configuration.
    conflicts
        Rules overruled by a higher-priority (or larger) proposal.
    skipped
        Rules not evaluated (missing figures, no source), with the reason.
    evaluations
        Frame of every rule's outcome: ``rule``, ``parameter``, ``status``
        (``fired``, ``not fired``, ``skipped``, ``overruled``, ``no change``),
        ``detail``.
    quadrant
        The classification matrix's advice (None when volume or depth is unknown).
    notes
        Remarks (estimates used in place of missing measurements, ...).
    profile
        The profile the rules read.
    """

    items: tuple[Recommendation, ...]
    config: SpeculationConfig
    conflicts: tuple[Conflict, ...] = ()
    skipped: tuple[SkippedRule, ...] = ()
    evaluations: pl.DataFrame = field(default_factory=pl.DataFrame)
    quadrant: QuadrantAdvice | None = None
    notes: tuple[str, ...] = ()
    profile: Any = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self):
        return iter(self.items)

    def __getitem__(self, parameter: str) -> Recommendation:
        """The recommendation for ``parameter`` (dotted, ``speculation.`` optional)."""
        key = parameter if parameter.startswith(_P) else _P + parameter
        for item in self.items:
            if item.parameter == key:
                return item
        raise KeyError(f"no recommendation for {key}")

    def get(self, parameter: str) -> Recommendation | None:
        """Like ``self[parameter]`` but None when there is none."""
        try:
            return self[parameter]
        except KeyError:
            return None

    def to_frame(self) -> pl.DataFrame:
        """One row per recommendation (values shown as TOML literals)."""
        return pl.DataFrame(
            [(r.parameter, _show(r.current), _show(r.proposed), r.direction, r.rule,
              r.priority, r.category, r.evidence, r.expected_effect)
             for r in self.items],
            schema={"parameter": pl.String, "current": pl.String, "proposed": pl.String,
                    "direction": pl.String, "rule": pl.String, "priority": pl.Int64,
                    "category": pl.String, "evidence": pl.String,
                    "expected_effect": pl.String},
            orient="row",
        )

    def apply(self) -> SpeculationConfig:
        """The proposed configuration (the current one with every item applied)."""
        return _apply(self.config, {r.parameter: r.proposed for r in self.items})

    def to_toml(self, *, header: str | None = None) -> str:
        """The proposed configuration as TOML (with a header naming the rules)."""
        if header is None:
            lines = ["Proposed by specanalysis.tuning.recommend from the tuning guide's "
                     "rules."]
            lines += [f"{r.parameter}: {_show(r.current)} -> {_show(r.proposed)} "
                      f"({r.rule})" for r in self.items]
            header = "\n".join(lines)
        return self.apply().to_toml(header=header)

    def diff(self) -> pl.DataFrame:
        """``SpeculationConfig.diff`` of the current against the proposed config."""
        return self.config.diff(self.apply())

    def diff_text(self) -> str:
        """The readable diff ``key : before -> after``."""
        return self.config.diff_text(self.apply())

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe plain form (what ``specanalysis recommend --json`` prints)."""
        def rec(r: Recommendation) -> dict[str, Any]:
            return {"parameter": r.parameter, "current": r.current,
                    "proposed": r.proposed, "direction": r.direction, "rule": r.rule,
                    "priority": r.priority, "category": r.category,
                    "evidence": r.evidence, "expected_effect": r.expected_effect}
        q = self.quadrant
        return {
            "recommendations": [rec(r) for r in self.items],
            "conflicts": [{"parameter": c.parameter, "kept": rec(c.kept),
                           "overruled": rec(c.overruled), "reason": c.reason}
                          for c in self.conflicts],
            "skipped": [{"rule": s.rule, "reason": s.reason} for s in self.skipped],
            "quadrant": None if q is None else {
                "name": q.name, "title": q.title, "exact": q.exact,
                "volume_per_min": _json_float(q.volume_per_min),
                "depth": _json_float(q.depth), "settings": q.settings,
                "sentence": q.sentence, "applied": q.applied,
                "differences": [list(d) for d in q.differences]},
            "notes": list(self.notes),
            "diff": [dict(zip(("parameter", "before", "after"), row, strict=True))
                     for row in self.diff().iter_rows()],
        }

    def to_json(self, **kwargs: Any) -> str:
        """:meth:`to_dict` as JSON text."""
        kwargs.setdefault("indent", 2)
        return json.dumps(self.to_dict(), allow_nan=False, **kwargs)

    def summary(self) -> str:
        """Everything as readable text: changes, conflicts, skipped rules, matrix, diff."""
        n = len(self.items)
        out = [f"=== Tuning recommendations ({n} change{'s' if n != 1 else ''}, "
               f"{len(self.conflicts)} conflict{'s' if len(self.conflicts) != 1 else ''}"
               f", {len(self.skipped)} rule{'s' if len(self.skipped) != 1 else ''} "
               "skipped) ==="]
        prof = self.profile
        if prof is not None and getattr(prof, "window", None):
            out.append(f"Profile window: {prof.window} ending {prof.at.isoformat()}")
        out.append("")
        if not self.items:
            out.append("No change recommended: every evaluated rule is satisfied.")
        for i, r in enumerate(self.items, 1):
            out.append(f"{i}. {r.parameter}: {_show(r.current)} -> {_show(r.proposed)}")
            out.append(f"   rule:     {r.rule} (priority {r.priority}, {r.category}; "
                       f"{RULES_BY_ID[r.rule].source})")
            out.append(f"   evidence: {r.evidence}")
            out.append(f"   expected: {r.expected_effect}")
        if self.conflicts:
            out += ["", "Conflicts (priority: rollback safety > memory > "
                        "latency/timeouts > throughput/cost > matrix defaults):"]
            out += [f"  - {c.line()}" for c in self.conflicts]
        if self.skipped:
            out += ["", "Rules not evaluated:"]
            out += [f"  - {s.rule}: {s.reason}" for s in self.skipped]
        if self.quadrant is not None:
            out += ["", self.quadrant.text()]
        if self.notes:
            out += ["", "Notes:"]
            out += [f"  - {n}" for n in self.notes]
        out += ["", "Proposed configuration diff:", self.diff_text()]
        return "\n".join(out)

    def __repr__(self) -> str:
        changes = ", ".join(f"{r.parameter.removeprefix(_P)} {_show(r.current)}->"
                            f"{_show(r.proposed)}" for r in self.items)
        return (f"Recommendations({len(self.items)} changes: {changes or 'none'}; "
                f"{len(self.conflicts)} conflicts, {len(self.skipped)} skipped)")

    def _repr_html_(self) -> str:
        from html import escape

        rows = "".join(
            "<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in (
                r.parameter, _show(r.current), _show(r.proposed), r.rule,
                f"{r.priority} {r.category}", r.evidence, r.expected_effect)) + "</tr>"
            for r in self.items)
        head = "".join(f"<th>{h}</th>" for h in (
            "parameter", "current", "proposed", "rule", "priority", "evidence",
            "expected effect"))
        parts = [f"<div><b>Tuning recommendations</b><table><tr>{head}</tr>{rows}"
                 "</table>"]
        if self.conflicts:
            parts.append("<p><b>Conflicts</b></p><ul>" + "".join(
                f"<li>{escape(c.line())}</li>" for c in self.conflicts) + "</ul>")
        if self.skipped:
            parts.append("<p><b>Not evaluated</b></p><ul>" + "".join(
                f"<li>{escape(s.rule)}: {escape(s.reason)}</li>" for s in self.skipped)
                + "</ul>")
        if self.quadrant is not None:
            parts.append(f"<pre>{escape(self.quadrant.text())}</pre>")
        parts.append("</div>")  # the table already shows current -> proposed
        return "".join(parts)


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _json_float(x: float) -> float | None:
    return None if x is None or math.isnan(x) or math.isinf(x) else float(x)


def _apply(config: SpeculationConfig, changes: Mapping[str, Any]) -> SpeculationConfig:
    return config.replace(**dict(changes)) if changes else config


# --------------------------------------------------------------------------- evaluation


class _Skip(Exception):
    """A rule cannot be evaluated (the message says why)."""


@dataclass
class _Outcome:
    fired: bool
    evidence: str
    changes: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Context:
    profile: Any
    config: SpeculationConfig
    th: TuningThresholds
    extras: dict[str, tuple[float, str]]
    queue_capacity: int = 1000  # capacity the profile was measured with

    def fig(self, name: str) -> float:
        figs = getattr(self.profile, "figures", {})
        fig = figs.get(name)
        if fig is None:
            raise _Skip(f"figure {name} is not in the profile")
        value = float(fig.value)
        if math.isnan(value):
            why = f": {fig.note}" if getattr(fig, "note", "") else ""
            raise _Skip(f"{name} not measured{why}")
        return value

    def fmt(self, name: str, value: float | None = None) -> str:
        fig = self.profile.figures[name]
        return fig.format_value() if value is None else f"{value:.4g} {fig.unit}"

    def current(self, parameter: str) -> Any:
        return self.config.to_dict(flat=True)[parameter]

    def extra(self, name: str) -> tuple[float, str]:
        if name not in self.extras:
            raise _Skip(f"{name} needs a data source (pass source= to recommend)")
        return self.extras[name]


def _bounds(parameter: str) -> tuple[float | None, float | None]:
    meta = _all_keys()[parameter]
    return meta["lo"], meta["hi"]


def _clamp(parameter: str, value: float) -> int:
    lo, hi = _bounds(parameter)
    v = int(value)
    if lo is not None:
        v = max(v, int(math.ceil(lo)))
    if hi is not None:
        v = min(v, int(math.floor(hi)))
    return v


def _top_depth(max_depth: int) -> int:
    """Deepest admissible depth: tasks are admitted iff depth < max_depth."""
    return max_depth - 1


def _top_share(profile: Any, top: int) -> tuple[float, str]:
    """Share of the window's tasks at depth >= ``top`` from the depth histogram.

    Only buckets whose whole range lies at or above ``top`` count (integer depths:
    a bucket ``(lo, hi]`` holds depths lo+1..hi), so the share is exact for
    one-level buckets and a lower bound otherwise.
    """
    table = getattr(profile, "depth_distribution", None)
    if table is None or table.height == 0:
        fig = profile.figures.get("depth_p90")
        why = f": {fig.note}" if fig is not None and fig.note else ""
        raise _Skip("depth distribution not measured" + why)
    total = float(table.get_column("count").sum())
    if not total > 0:
        raise _Skip("depth distribution holds no tasks in the window")
    bounds = table.get_column("depth").to_list()
    counts = table.get_column("count").to_list()
    finite = [b for b in bounds if math.isfinite(b)]
    if finite and top - 1 > max(finite):
        raise _Skip(f"the depth histogram cannot resolve depth {top} (largest finite "
                    f"bucket le={max(finite):g}; deeper tasks share the +Inf bucket)")
    above = 0.0
    lower = -math.inf
    for bound, count in zip(bounds, counts, strict=True):
        if lower >= top - 1:
            above += count
        lower = bound
    return above / total, f"{100 * above / total:.1f} % of {total:.6g} tasks"


def _rolled_back_share(ctx: _Context) -> tuple[float, str]:
    """Share of execution attempts rolled back (%), with its derivation.

    ``rollback_rate`` (events per task) x ``avg_rollback_size`` (tasks per event) =
    tasks rolled back per task: PERF's ``rate(tasks_rolled_back_total) /
    rate(tasks_total)``. Falls back to the event rate when the size is unknown.
    """
    rr = ctx.fig("rollback_rate")
    try:
        size = ctx.fig("avg_rollback_size")
    except _Skip:
        return rr, (f"rollback rate {ctx.fmt('rollback_rate')} (events per task; "
                    "avg rollback size not measured)")
    share = rr * size
    text = (f"{share:.4g}% of execution attempts rolled back (rollback rate "
            f"{ctx.fmt('rollback_rate')} events per task x avg rollback size "
            f"{size:.4g} tasks)")
    if ctx.th.depth_excludes_timeouts:
        try:
            timeouts = ctx.fig("rollback_timeout_share")
        except _Skip:
            return share, text
        if timeouts > 0:
            kept = share * (1.0 - timeouts / 100.0)
            text = (f"{kept:.4g}% of execution attempts rolled back by causes other "
                    f"than timeouts ({text}, of which {timeouts:.3g}% of rollback "
                    "events were timeouts, left to the worker/queue/timeout rules)")
            share = kept
    return share, text


def _proportional_depth(cur: int, measured: float, threshold: float) -> int:
    """max_depth scaled by threshold / measured, at least one level lower."""
    return _clamp(_P + "max_depth", min(cur - 1, math.floor(cur * threshold / measured)))


def _eval_depth_rollback(ctx: _Context) -> _Outcome:
    share, text = _rolled_back_share(ctx)
    th = ctx.th.rollback_rate_pct
    cur = ctx.config.max_depth
    if share <= th:
        return _Outcome(False, f"{text} <= {th:g}%")
    new = _proportional_depth(cur, share, th)
    return _Outcome(True, f"{text} > {th:g}%; max_depth scaled by {th:g}/{share:.3g}",
                    {_P + "max_depth": new})


def _eval_depth_blast(ctx: _Context) -> _Outcome:
    br = ctx.fig("blast_radius_p99")
    th = ctx.th.blast_radius_tasks
    cur = ctx.config.max_depth
    if br <= th:
        return _Outcome(False, f"blast radius p99 {ctx.fmt('blast_radius_p99')} "
                        f"<= {th:g} tasks")
    return _Outcome(True, f"rollback blast radius p99 {ctx.fmt('blast_radius_p99')} "
                    f"> {th:g} tasks; max_depth scaled by {th:g}/{br:.3g}",
                    {_P + "max_depth": _proportional_depth(cur, br, th)})


def _eval_depth_headroom(ctx: _Context) -> _Outcome:
    p90 = ctx.fig("depth_p90")
    cur = ctx.config.max_depth
    top = _top_depth(cur)
    limit = top - ctx.th.depth_headroom
    if not p90 < limit:
        return _Outcome(False, f"effective depth p90 {p90:g} >= top admissible depth "
                        f"{top} - {ctx.th.depth_headroom} = {limit}")
    new = _clamp(_P + "max_depth", math.ceil(p90) + ctx.th.depth_headroom + 1)
    return _Outcome(True, f"effective depth p90 {p90:g} < top admissible depth {top} "
                    f"(max_depth {cur} - 1) - {ctx.th.depth_headroom} = {limit}: "
                    f"{top - math.ceil(p90)} levels rarely used",
                    {_P + "max_depth": new})


def _eval_depth_saturated(ctx: _Context) -> _Outcome:
    cur = ctx.config.max_depth
    top = _top_depth(cur)
    share, text = _top_share(ctx.profile, top)
    th = ctx.th.top_depth_share
    if share < th:
        return _Outcome(False, f"{text} at depth >= {top} (top admissible), "
                        f"< {100 * th:g} %")
    return _Outcome(True, f"{text} at the top admissible depth {top} (max_depth "
                    f"{cur} - 1), >= {100 * th:g} %: tasks frequently hit the limit",
                    {_P + "max_depth": _clamp(_P + "max_depth", cur + 1)})


def _memory_total(cfg: SpeculationConfig, branches: int, state_mb: float) -> float:
    return required_memory_mb(branches, state_mb, cfg.limits.max_pending_operations,
                              cfg.proof.cache_size_mb).total_mb


def _branches_fit(cfg: SpeculationConfig, state_mb: float) -> int:
    """Largest branch count whose memory formula total fits max_memory_mb (>= 0)."""
    hi = _bounds(_P + "max_parallel_branches")[1] or 16
    fit = 0
    for b in range(1, int(hi) + 1):
        if _memory_total(cfg, b, state_mb) <= cfg.limits.max_memory_mb:
            fit = b
    return fit


def _eval_branches_memory(ctx: _Context) -> _Outcome:
    mpb = ctx.fig("memory_per_branch")
    cfg = ctx.config
    b = cfg.max_parallel_branches
    need = _memory_total(cfg, b, mpb)
    limit = cfg.limits.max_memory_mb
    if need <= limit:
        return _Outcome(False, f"{b} branches x {mpb:.4g} MB (+ pending ops, cache, "
                        f"20 %) = {need:.0f} MB <= max_memory_mb {limit}")
    fit = max(1, _branches_fit(cfg, mpb))
    return _Outcome(True, f"memory per branch {ctx.fmt('memory_per_branch')}: {b} "
                    f"branches need {need:.0f} MB by the guide's formula, above "
                    f"max_memory_mb {limit}; {fit} fit",
                    {_P + "max_parallel_branches": fit})


def _eval_branches_saturated(ctx: _Context) -> _Outcome:
    peak = ctx.fig("active_branches_peak")
    b = ctx.config.max_parallel_branches
    if peak < b:
        return _Outcome(False, f"peak active branches {peak:g} < {b} configured")
    new = _clamp(_P + "max_parallel_branches", max(b + 1, math.ceil(b * 1.5)))
    note = ""
    try:
        mpb = ctx.fig("memory_per_branch")
    except _Skip:
        mpb = None
    if mpb is not None:
        fit = _branches_fit(ctx.config, mpb)
        if fit < new:
            new, note = max(b, fit), f"; capped at {fit} by the memory limit"
    if new == b:
        return _Outcome(True, f"peak active branches {peak:g} >= {b} configured, "
                        f"but no more branches fit in max_memory_mb{note}", {})
    return _Outcome(True, f"peak active branches {peak:g} >= {b} configured (all "
                    f"branches busy){note}", {_P + "max_parallel_branches": new})


def _eval_branches_underused(ctx: _Context) -> _Outcome:
    peak = ctx.fig("active_branches_peak")
    b = ctx.config.max_parallel_branches
    th = ctx.th.branch_underuse
    if peak > th * b:
        return _Outcome(False, f"peak active branches {peak:g} > {100 * th:g} % of {b}")
    new = _clamp(_P + "max_parallel_branches", max(1, math.ceil(1.5 * peak)))
    return _Outcome(True, f"peak active branches {peak:g} <= {100 * th:g} % of {b} "
                    "configured", {_P + "max_parallel_branches": new})


def _eval_timeout(ctx: _Context) -> _Outcome:
    p99 = ctx.fig("confirmation_p99")
    cur = ctx.config.confirmation_timeout_ms
    target = _clamp(_P + "confirmation_timeout_ms",
                    math.ceil(ctx.th.timeout_factor * p99) * 1000)
    rel = abs(cur - target) / target
    text = (f"p99 confirmation {ctx.fmt('confirmation_p99')}: "
            f"{ctx.th.timeout_factor:g} x p99 -> {target} ms")
    if cur >= target and rel <= ctx.th.timeout_tolerance:
        return _Outcome(False, f"{text}; configured {cur} ms is at most "
                        f"{100 * ctx.th.timeout_tolerance:g} % above it")
    if cur == target:
        return _Outcome(False, f"{text}; configured {cur} ms matches")
    where = "below" if cur < target else "above"
    extra = " (at or below p99 itself: false timeouts)" if cur <= p99 * 1000 else ""
    return _Outcome(True, f"{text}; configured {cur} ms is {100 * rel:.0f} % {where}"
                    f"{extra}", {_P + "confirmation_timeout_ms": target})


def _eval_workers_high(ctx: _Context) -> _Outcome:
    u = ctx.fig("queue_utilization")
    th = ctx.th.queue_high_pct
    cur = ctx.config.proof.worker_threads
    if u <= th:
        return _Outcome(False, f"queue utilisation {ctx.fmt('queue_utilization')} "
                        f"<= {th:g}%")
    new = _clamp(_P + "proof.worker_threads",
                 max(cur + 1, math.ceil(cur * ctx.th.worker_increase)))
    return _Outcome(True, f"proof queue utilisation {ctx.fmt('queue_utilization')} "
                    f"> {th:g}%", {_P + "proof.worker_threads": new})


def _eval_workers_low(ctx: _Context) -> _Outcome:
    u = ctx.fig("queue_utilization")
    try:
        peak = ctx.fig("queue_utilization_peak")
        ptext = f", peak {ctx.fmt('queue_utilization_peak')}"
    except _Skip:
        peak, ptext = u, " (peak not measured: average used)"
    th = ctx.th.queue_low_pct
    cur = ctx.config.proof.worker_threads
    if not (u < th and peak < th):
        return _Outcome(False, f"queue utilisation {ctx.fmt('queue_utilization')}"
                        f"{ptext}: not consistently < {th:g}%")
    new = _clamp(_P + "proof.worker_threads",
                 min(cur - 1, math.floor(cur * ctx.th.worker_decrease)))
    return _Outcome(True, f"proof queue utilisation {ctx.fmt('queue_utilization')}"
                    f"{ptext}: consistently < {th:g}%",
                    {_P + "proof.worker_threads": new})


def _eval_batch_underfilled(ctx: _Context) -> _Outcome:
    actual = ctx.fig("batch_size_avg")
    cur = ctx.config.proof.batch_size
    th = ctx.th.batch_ratio
    if actual >= th * cur:
        return _Outcome(False, f"actual avg batch {actual:.3g} >= {100 * th:g} % of "
                        f"batch_size {cur}")
    new = _clamp(_P + "proof.batch_size", max(1, math.ceil(1.5 * actual)))
    return _Outcome(True, f"actual avg batch {actual:.3g} proofs < {100 * th:g}% of "
                    f"batch_size {cur} (batches leave before they fill)",
                    {_P + "proof.batch_size": new})


def _eval_batch_growing(ctx: _Context) -> _Outcome:
    growth, text = ctx.extra("queue_growth_pct")
    if math.isnan(growth):
        raise _Skip(f"queue growth not measurable: {text}")
    th = ctx.th.queue_growth_pct
    cur = ctx.config.proof.batch_size
    if growth < th:
        return _Outcome(False, f"{text}: < {th:g}% of capacity")
    new = _clamp(_P + "proof.batch_size", max(cur + 1, math.ceil(1.5 * cur)))
    return _Outcome(True, f"{text}: >= {th:g}% of capacity (queue growing)",
                    {_P + "proof.batch_size": new})


def _quadrant_placement(ctx: _Context) -> QuadrantAdvice:
    from specanalysis.profile import classify_quadrant

    volume = ctx.fig("task_rate")
    depth = ctx.fig("depth_p90")
    placement = classify_quadrant(volume, depth)
    title = placement.quadrant or placement.nearest
    by_title = {q.title: q for q in QUADRANTS.values()}
    quad = by_title[title]
    return QuadrantAdvice(quad.name, quad.title, placement.quadrant is not None,
                          volume, depth, dict(quad.settings), placement.sentence, ())


def _eval_matrix(ctx: _Context) -> _Outcome:
    advice = _quadrant_placement(ctx)
    changes = {}
    cur = ctx.config.to_dict(flat=True)
    for key, value in advice.settings.items():
        dotted = _P + key
        if cur[dotted] != value:
            changes[dotted] = value
    return _Outcome(bool(changes), f"task rate {ctx.fmt('task_rate')}, depth p90 "
                    f"{advice.depth:g}: {advice.title}", changes)


def _peak_rate(ctx: _Context) -> tuple[float, str]:
    if "peak_task_rate" in ctx.extras:
        return ctx.extras["peak_task_rate"]
    rate = ctx.fig("task_rate") / 60.0
    return rate, (f"average task rate {rate:.4g}/s used as the peak (pass a source "
                  "for the busiest minute)")


def _sized(ctx: _Context, parameter: str, formula: int, formula_text: str,
           direction: str, floor: int | None = None, floor_text: str = "") -> _Outcome:
    cur = ctx.current(parameter)
    target = _clamp(parameter, formula)
    clamp_note = f" (clamped to {target})" if target != formula else ""
    text = f"{formula_text} = {formula}{clamp_note}; configured {cur}"
    if direction == "under":
        if cur >= formula:
            return _Outcome(False, text + " is not below it")
        return _Outcome(True, text + " is below the formula", {parameter: target})
    if cur < ctx.th.oversize_factor * max(formula, 1):
        return _Outcome(False, text + f" is < {ctx.th.oversize_factor:g} x the formula")
    if floor is not None and floor > target:
        target = _clamp(parameter, floor)
        text += f"; {floor_text}"
    if target >= cur:
        return _Outcome(False, text + " is oversized, but the measured demand needs it")
    return _Outcome(True, text + f" is >= {ctx.th.oversize_factor:g} x the formula "
                    "(oversized)", {parameter: target})


def _pending_formula(ctx: _Context) -> tuple[int, str]:
    rate, rate_text = _peak_rate(ctx)
    timeout_s = ctx.config.confirmation_timeout_ms / 1000
    return (max_pending_operations(rate, timeout_s),
            f"peak {rate:.4g} tasks/s x {timeout_s:g} s x 2 ({rate_text})")


def _eval_pending(direction: str) -> Callable[[_Context], _Outcome]:
    def run(ctx: _Context) -> _Outcome:
        formula, text = _pending_formula(ctx)
        floor, floor_text = None, ""
        if direction == "over":
            try:
                peak = ctx.fig("peak_active_tasks")
            except _Skip:
                peak = float("nan")
            if not math.isnan(peak):
                floor = math.ceil(peak / (ctx.th.queue_high_pct / 100))
                floor_text = (f"peak active tasks {peak:.4g} need >= {floor} to stay "
                              f"< {ctx.th.queue_high_pct:g}%")
        return _sized(ctx, _P + "limits.max_pending_operations", formula, text,
                      direction, floor, floor_text)
    return run


def _eval_snapshots(direction: str) -> Callable[[_Context], _Outcome]:
    def run(ctx: _Context) -> _Outcome:
        c = ctx.config
        formula = state_snapshots(c.max_depth, c.max_parallel_branches)
        return _sized(ctx, _P + "limits.max_state_snapshots", formula,
                      f"{c.max_depth} x {c.max_parallel_branches} x 2.5", direction)
    return run


def _eval_gc(ctx: _Context) -> _Outcome:
    t = ctx.config.confirmation_timeout_ms
    target = _clamp(_P + "limits.gc_interval_ms", gc_interval_ms(t))
    cur = ctx.config.limits.gc_interval_ms
    rel = abs(cur - target) / target
    text = f"max(5000, {t} / 4) = {target} ms; configured {cur} ms"
    if rel <= ctx.th.timeout_tolerance:
        return _Outcome(False, text + f" is within {100 * ctx.th.timeout_tolerance:g} %")
    return _Outcome(True, text + f" is {100 * rel:.0f} % away",
                    {_P + "limits.gc_interval_ms": target})


def _proof_time(ctx: _Context) -> tuple[float, str]:
    if "proof_mean" in ctx.extras:
        return ctx.extras["proof_mean"]
    p50 = ctx.fig("proof_p50")
    return p50, f"proof p50 {p50:.4g} s used as the average"


def _eval_queue_size(direction: str) -> Callable[[_Context], _Outcome]:
    def run(ctx: _Context) -> _Outcome:
        rate, rate_text = _peak_rate(ctx)
        proof_s, proof_text = _proof_time(ctx)
        formula = proof_queue_size(rate, proof_s)
        text = f"peak {rate:.4g} tasks/s x {proof_s:.4g} s x 3 ({rate_text}; {proof_text})"
        floor, floor_text = None, ""
        if direction == "over":
            try:
                peak_pct = ctx.fig("queue_utilization_peak")
            except _Skip:
                peak_pct = float("nan")
            if not math.isnan(peak_pct):
                depth = peak_pct / 100 * ctx.queue_capacity
                floor = math.ceil(depth / (ctx.th.queue_high_pct / 100))
                floor_text = (f"observed peak queue depth {depth:.4g} needs >= {floor} "
                              f"to stay < {ctx.th.queue_high_pct:g} %")
        return _sized(ctx, _P + "proof.queue_size", formula, text, direction,
                      floor, floor_text)
    return run


def _eval_memory(direction: str) -> Callable[[_Context], _Outcome]:
    def run(ctx: _Context) -> _Outcome:
        c = ctx.config
        try:
            state = ctx.fig("memory_per_branch")
            state_text = f"measured {state:.4g} MB per branch"
        except _Skip as why:
            state = ctx.th.default_state_mb
            state_text = (f"guide's {state:g} MB per branch (memory per branch not "
                          f"measured: {why})")
        m = required_memory_mb(c.max_parallel_branches, state,
                               c.limits.max_pending_operations, c.proof.cache_size_mb)
        text = (f"({c.max_parallel_branches} x {state:.4g} MB) + "
                f"({c.limits.max_pending_operations} ops x 1 KB) + "
                f"{c.proof.cache_size_mb} MB + 20 % = {m.total_mb:.0f} MB [{state_text}]")
        param = _P + "limits.max_memory_mb"
        if direction == "under":
            cur = c.limits.max_memory_mb
            if cur >= m.total_mb:
                return _Outcome(False, text + f"; configured {cur} is not below it")
            return _Outcome(True, text + f" -> {m.recommended_mb}; configured {cur} is "
                            "below it", {param: _clamp(param, m.recommended_mb)})
        floor, floor_text = None, ""
        try:
            avg = ctx.fig("memory_avg")
        except _Skip:
            avg = float("nan")
        if not math.isnan(avg):
            need = 1.2 * avg
            floor = 2 ** math.ceil(math.log2(max(need, 1)))
            floor_text = f"measured average memory {avg:.4g} MB x 1.2 -> {floor}"
        return _sized(ctx, param, m.recommended_mb, text + " -> power of two", "over",
                      floor, floor_text)
    return run


_EVALUATORS: dict[str, Callable[[_Context], _Outcome]] = {
    "depth.rollback_rate": _eval_depth_rollback,
    "depth.blast_radius": _eval_depth_blast,
    "depth.headroom": _eval_depth_headroom,
    "depth.saturated": _eval_depth_saturated,
    "branches.memory_fit": _eval_branches_memory,
    "branches.saturated": _eval_branches_saturated,
    "branches.underused": _eval_branches_underused,
    "timeout.confirmation": _eval_timeout,
    "workers.queue_high": _eval_workers_high,
    "workers.queue_low": _eval_workers_low,
    "batch.underfilled": _eval_batch_underfilled,
    "batch.queue_growing": _eval_batch_growing,
    "matrix.quadrant": _eval_matrix,
    "pending_ops.undersized": _eval_pending("under"),
    "pending_ops.oversized": _eval_pending("over"),
    "snapshots.undersized": _eval_snapshots("under"),
    "snapshots.oversized": _eval_snapshots("over"),
    "gc.interval": _eval_gc,
    "queue_size.undersized": _eval_queue_size("under"),
    "queue_size.oversized": _eval_queue_size("over"),
    "memory.undersized": _eval_memory("under"),
    "memory.oversized": _eval_memory("over"),
}
assert set(_EVALUATORS) == set(RULES_BY_ID)


def _measure_extras(source: Any, profile: Any, config: SpeculationConfig
                    ) -> tuple[dict[str, tuple[float, str]], list[str]]:
    """Figures the profile does not carry, measured on ``source`` over its window."""
    from specanalysis import query as q
    from specanalysis.profile import characterize

    extras: dict[str, tuple[float, str]] = {}
    notes: list[str] = []
    w, at, start = profile.window, profile.at, profile.start
    # busiest minute -> peak task rate (tasks/s)
    try:
        ch = characterize(source, window=w, at=at, profile=profile)
        peak = ch.features.get("peak_per_min", float("nan"))
        if not math.isnan(peak):
            extras["peak_task_rate"] = (peak / 60.0, f"busiest minute {peak:.4g} tasks "
                                        f"= {peak / 60:.4g}/s")
    except DataError as exc:
        notes.append(f"peak task rate not measured ({exc}); average rate used")
    # mean proof generation time
    fam = "speculation_proof_generation_seconds"
    mean_expr = (q.sum(q.increase(q.metric(fam + "_sum"), w))
                 / q.sum(q.increase(q.metric(fam + "_count"), w)))
    res = source.evaluate(mean_expr, at)
    if res.height and math.isfinite(float(res["value"][0])):
        mean = float(res["value"][0])
        extras["proof_mean"] = (mean, f"mean proof time {mean:.4g} s")
    # queue depth trend over the window, in % of the configured capacity
    seconds = (at - start).total_seconds()
    step = max(15.0, seconds / 120)
    series = source.evaluate_range(q.sum(q.metric("speculation_proof_queue_depth")),
                                   start + timedelta(seconds=step), at, step)
    cap = config.proof.queue_size
    if series.height >= 3:
        import numpy as np

        t = series["timestamp"].dt.epoch("ms").to_numpy() / 1000.0
        y = series["value"].to_numpy().astype(float)
        ok = np.isfinite(y)
        if ok.sum() >= 3 and np.ptp(t[ok]) > 0:
            slope = float(np.polyfit(t[ok], y[ok], 1)[0])
            rise = slope * float(np.ptp(t[ok]))
            pct = 100.0 * rise / cap
            extras["queue_growth_pct"] = (
                pct, f"queue depth trend {rise:+.4g} proofs over the window "
                f"({pct:+.1f} % of capacity {cap})")
    if "queue_growth_pct" not in extras:
        extras["queue_growth_pct"] = (float("nan"), "fewer than 3 points of "
                                      "speculation_proof_queue_depth in the window")
    return extras, notes


def _move(rec: Recommendation) -> float:
    try:
        return abs(float(rec.proposed) - float(rec.current))
    except (TypeError, ValueError):
        return 0.0


def _resolve(fired: list[Recommendation]) -> tuple[dict[str, Recommendation],
                                                   list[Conflict]]:
    """Winner per parameter.

    Opposite directions: the higher priority wins (then rule order). Same
    direction: the larger move wins, because it satisfies both rules (a reduction
    asked for by a memory rule also answers a safety rule asking for less) --
    except that matrix defaults never outbid a measured rule.
    """
    by_param: dict[str, list[Recommendation]] = {}
    for rec in fired:
        by_param.setdefault(rec.parameter, []).append(rec)
    winners: dict[str, Recommendation] = {}
    conflicts: list[Conflict] = []
    for param, recs in by_param.items():
        top = min(recs, key=lambda r: (r.priority, _ORDER[r.rule]))
        allies = [r for r in recs if r.direction == top.direction
                  and (r.priority != _MATRIX or top.priority == _MATRIX)]
        win = max(allies, key=lambda r: (_move(r), -r.priority, -_ORDER[r.rule]))
        winners[param] = win
        for other in sorted(recs, key=lambda r: (r.priority, _ORDER[r.rule])):
            if other is win or other.proposed == win.proposed:
                continue
            if other.direction != win.direction:
                reason = (f"opposite directions: priority {top.priority} "
                          f"({top.category}) beats {other.priority} ({other.category})")
            else:
                reason = (f"same direction: the larger move to {_show(win.proposed)} "
                          "satisfies both rules")
            conflicts.append(Conflict(param, win, other, reason))
    return winners, conflicts


def recommend(profile: Any, config: SpeculationConfig, *, source: Any = None,
              thresholds: TuningThresholds | None = None,
              quadrant: str = "advise") -> Recommendations:
    """Evaluate the guide's rules on a workload profile and propose a configuration.

    Parameters
    ----------
    profile
        A :class:`~specanalysis.profile.WorkloadProfile` (from
        :func:`~specanalysis.profile.profile_workload`).
    config
        The configuration the profile was measured under.
    source
        The source the profile came from (optional). With it the busiest
        minute's task rate (sizing formulas' peak rate), the mean proof time and
        the proof-queue trend (``batch.queue_growing``) are measured; without
        it the average rate and proof p50 stand in and that rule is skipped.
    thresholds
        The numbers behind the rules (:class:`TuningThresholds`).
    quadrant
        ``"advise"`` (default): the classification matrix's settings are
        reported in :attr:`Recommendations.quadrant` only; ``"apply"``: they
        become lowest-priority recommendations (every measured rule beats them).

    Returns
    -------
    Recommendations

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> from specanalysis.profile import Figure, WorkloadProfile, depth_table
    >>> t = datetime(2025, 1, 1, tzinfo=timezone.utc)
    >>> figs = {"rollback_rate": Figure("rollback_rate", 7.0, "%"),
    ...         "avg_rollback_size": Figure("avg_rollback_size", 2.0, "tasks"),
    ...         "confirmation_p99": Figure("confirmation_p99", 10.0, "s")}
    >>> prof = WorkloadProfile(figs, depth_table(pl.DataFrame(
    ...     {"le": ["1"], "value": [1.0]})), "1h", t, t)
    >>> recs = recommend(prof, SpeculationConfig(max_depth=8))
    >>> print(recs["max_depth"].line())
    speculation.max_depth: 8 -> 5 [depth.rollback_rate, priority 1 rollback safety]
    >>> print(recs["max_depth"].evidence)
    14% of execution attempts rolled back (rollback rate 7% events per task x avg rollback size 2 tasks) > 10%; max_depth scaled by 10/14
    >>> print(recs.diff_text())
    speculation.max_depth                  : 8 -> 5
    speculation.confirmation_timeout_ms    : 30000 -> 20000
    speculation.limits.max_memory_mb       : 4096 -> 2048
    speculation.limits.max_state_snapshots : 100 -> 50
    speculation.limits.gc_interval_ms      : 30000 -> 5000
    >>> recs.apply().max_depth
    5
    """
    if not isinstance(config, SpeculationConfig):
        raise DataError(f"got {type(config).__name__}", field="config",
                        expected="a SpeculationConfig")
    if not hasattr(profile, "figures"):
        raise DataError(f"got {type(profile).__name__}", field="profile",
                        expected="a WorkloadProfile (specanalysis.profile_workload)")
    if quadrant not in ("advise", "apply"):
        raise DataError(f"unknown quadrant mode {quadrant!r}", field="quadrant",
                        expected="'advise' or 'apply'")
    th = thresholds or TuningThresholds()
    notes: list[str] = []
    extras: dict[str, tuple[float, str]] = {}
    if source is not None:
        extras, extra_notes = _measure_extras(source, profile, config)
        notes += extra_notes

    evaluations: list[tuple[str, str, str, str]] = []
    skipped: list[SkippedRule] = []
    fired: list[Recommendation] = []

    def run(rule: Rule, cfg: SpeculationConfig) -> list[Recommendation]:
        ctx = _Context(profile, cfg, th, extras, config.proof.queue_size)
        try:
            out = _EVALUATORS[rule.id](ctx)
        except _Skip as why:
            skipped.append(SkippedRule(rule.id, str(why)))
            evaluations.append((rule.id, rule.parameter, "skipped", str(why)))
            return []
        if not out.fired:
            evaluations.append((rule.id, rule.parameter, "not fired", out.evidence))
            return []
        flat = cfg.to_dict(flat=True)
        recs = [Recommendation(p, flat[p], v, rule.id, out.evidence, rule.effect,
                               rule.priority)
                for p, v in out.changes.items() if v != flat[p]]
        if not recs:
            evaluations.append((rule.id, rule.parameter, "no change",
                                out.evidence + " (value already at its limit)"))
            notes.append(f"{rule.id} fired but cannot move {rule.parameter} further: "
                         f"{out.evidence}")
        return recs

    # stage 1: measured rules on the current configuration
    advice: QuadrantAdvice | None = None
    for rule in RULES:
        if rule.stage != "measured":
            continue
        if rule.id == "matrix.quadrant":
            try:
                advice = _quadrant_placement(_Context(profile, config, th, extras))
            except _Skip as why:
                skipped.append(SkippedRule(rule.id, str(why)))
                evaluations.append((rule.id, rule.parameter, "skipped", str(why)))
                continue
            if quadrant != "apply":
                evaluations.append((rule.id, rule.parameter, "advice",
                                    f"{advice.title}: {advice.sentence}"))
                continue
        fired += run(rule, config)
    winners, conflicts = _resolve(fired)
    proposed = _apply(config, {p: r.proposed for p, r in winners.items()})

    # stage 2: sizing formulas, each on the configuration proposed so far
    for param in _SIZING_ORDER:
        group = [r for r in RULES if r.stage == "sizing" and r.parameter == param]
        recs = [rec for rule in group for rec in run(rule, proposed)]
        fired += recs
        w, c = _resolve(recs)
        winners.update(w)
        conflicts += c
        proposed = _apply(config, {p: r.proposed for p, r in winners.items()})

    # outcome of fired rules in the evaluation table
    kept_ids = {(r.parameter, r.rule) for r in winners.values()}
    for rec in fired:
        status = "fired" if (rec.parameter, rec.rule) in kept_ids else "overruled"
        evaluations.append((rec.rule, rec.parameter, status,
                            f"{_show(rec.current)} -> {_show(rec.proposed)}: "
                            f"{rec.evidence}"))
    items = tuple(sorted((r for r in winners.values() if r.proposed != r.current),
                         key=lambda r: (_ORDER[r.rule], r.parameter)))
    if advice is not None:
        final = proposed.to_dict(flat=True)
        diffs = tuple((_P + k, final[_P + k], v) for k, v in advice.settings.items()
                      if final[_P + k] != v)
        advice = QuadrantAdvice(advice.name, advice.title, advice.exact,
                                advice.volume_per_min, advice.depth, advice.settings,
                                advice.sentence, diffs, applied=quadrant == "apply")
    order = {r.id: i for i, r in enumerate(RULES)}
    ev = pl.DataFrame(sorted(evaluations, key=lambda e: order[e[0]]),
                      schema={"rule": pl.String, "parameter": pl.String,
                              "status": pl.String, "detail": pl.String}, orient="row")
    return Recommendations(items=items, config=config, conflicts=tuple(conflicts),
                           skipped=tuple(skipped), evaluations=ev, quadrant=advice,
                           notes=tuple(dict.fromkeys(notes)), profile=profile)
