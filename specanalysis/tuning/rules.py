"""The tuning guide's rules: each one's condition, evaluator and texts kept together.

A :class:`Rule` is declared by decorating its evaluator with :func:`_rule`, so
the condition text, the action text and the code that decides sit side by
side. Texts are functions of :class:`TuningThresholds`: every number a text
shows is read from the threshold the evaluator uses, never typed twice
(``RULES_BY_ID["workers.queue_high"].condition_text(TuningThresholds(queue_high_pct=50))``
says 50 %).

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
  depth = p90 + 2, where the rule stops firing); saturation raises it by 1.
  Workers x1.5 rounded up when the queue is > 70 % used, -25 % (at least one)
  when it is < 30 % over the whole window (average and peak). Branches x1.5
  rounded up when every branch was busy, down to ``ceil(1.5 x peak)`` when the
  peak used at most half of them. Batch size down to ``ceil(1.5 x actual)``
  when the actual batch is < 50 % of the configured one ("actual <<
  configured"), x1.5 when the queue grows by >= 10 % of its capacity over the
  window. Every value is clamped to the config's valid range.
* **Timeout** target = 2 x p99 confirmation, rounded up to a whole second,
  clamped to the config's range (5-300 s); the rule fires when the configured
  value is below it (less buffer than the guide asks for: false timeouts) or
  more than 25 % above it (stale state held longer).
* **Sizing formulas** fire when the configured value is below the formula
  (too small) or at least twice the formula (oversized); they are evaluated on
  the configuration *after* the measured rules, so snapshots follow the proposed
  ``max_depth`` and pending operations and GC follow the proposed timeout.
  The memory formula uses the measured memory per branch as the state size
  (guide's example 200 MB when it is not measured); the peak task rate is the
  busiest minute when a source is given, otherwise the window's average rate.
* **Matrix.** The classification matrix (boundaries and settings) is
  :attr:`TuningThresholds.matrix`, the same object
  :func:`~specanalysis.classify.classify` and :data:`~specanalysis.config.QUADRANTS`
  read (:mod:`specanalysis.matrix`).

(The numbers above are the defaults.)

Examples
--------
>>> RULES_BY_ID["depth.blast_radius"].condition
'rollback blast radius p99 > 20 tasks'
>>> RULES_BY_ID["depth.blast_radius"].condition_text(TuningThresholds(blast_radius_tasks=30))
'rollback blast radius p99 > 30 tasks'
"""

from __future__ import annotations

import contextvars
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from specanalysis.config import (
    SpeculationConfig,
    _all_keys,
    gc_interval_ms,
    max_pending_operations,
    proof_queue_size,
    required_memory_mb,
    state_snapshots,
)
from specanalysis.matrix import MATRIX, ClassificationMatrix
from specanalysis.tuning.resolve import (
    LATENCY,
    MATRIX_DEFAULT,
    MEMORY,
    PRIORITIES,
    SAFETY,
    THROUGHPUT,
    _show,
)

__all__ = [
    "TuningThresholds",
    "Rule",
    "RULES",
    "RULES_BY_ID",
    "MATRIX_RULE",
    "SIZING_ORDER",
    "QuadrantAdvice",
    "rules_frame",
]

_P = "speculation."


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
    branch_increase, batch_increase
        Multiplicative steps up for branches and batch size (x1.5, rounded up).
    headroom_factor
        Sizing down to the measured use: ``ceil(factor x peak)`` branches,
        ``ceil(factor x actual)`` batch size (1.5).
    memory_headroom
        An oversized memory limit is not cut below this many times the
        measured average memory (1.2, the guide's 20 % margin).
    default_state_mb
        State per branch when memory per branch is not measured (guide: 200 MB).
    depth_excludes_timeouts
        Our refinement of the guide's "rollback rate > 10 % -> reduce max_depth":
        rollbacks caused by proof or confirmation timeouts are left out of the
        rate this rule reads (a shallower chain does not make a saturated prover
        faster; the worker, queue and timeout rules address them). ``False``
        applies the guide's rule to every rollback.
    matrix
        The classification matrix (boundaries, depth statistic and the cells'
        settings) the ``matrix.quadrant`` rule reads.
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
    branch_increase: float = 1.5
    batch_increase: float = 1.5
    headroom_factor: float = 1.5
    memory_headroom: float = 1.2
    matrix: ClassificationMatrix = field(default=MATRIX)


# --------------------------------------------------------------------------- outputs


class _Skip(Exception):
    """A rule cannot be evaluated (the message says why)."""


@dataclass
class _Outcome:
    fired: bool
    evidence: str
    changes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class QuadrantAdvice:
    """The classification matrix's quadrant for the measured workload.

    ``name`` keys :data:`specanalysis.config.QUADRANTS`; ``exact`` is False when
    the volume lies between the matrix's volume boundaries and ``name`` is the
    nearest cell. ``settings`` are that cell's settings in the matrix used.
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


# --------------------------------------------------------------------------- the rule


@dataclass(frozen=True)
class Rule:
    """One tuning rule of the guide: its texts, its evaluator and its place.

    Attributes
    ----------
    id
        Stable identifier (``"depth.rollback_rate"``).
    parameter
        Dotted config key it changes (``"speculation.max_depth"``); the matrix
        rule changes several and lists them comma-separated.
    when, then
        Functions of :class:`TuningThresholds` giving the condition and the
        action as text (see :meth:`condition_text`, :meth:`action_text`).
    evaluate
        The evaluator: reads the profile, configuration and thresholds of a
        context, says whether the rule fired, the evidence and the changes.
    priority
        Rank in :data:`~specanalysis.tuning.resolve.PRIORITIES` (1 = rollback
        safety wins every conflict).
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
    when: Callable[[TuningThresholds], str] = field(repr=False)
    then: Callable[[TuningThresholds], str] = field(repr=False)
    evaluate: Callable[[Any], _Outcome] = field(repr=False, compare=False)
    priority: int
    source: str
    figures: tuple[str, ...]
    effect: str
    stage: str = "measured"

    @property
    def category(self) -> str:
        """The priority's name (``"rollback safety"``, ...)."""
        return PRIORITIES[self.priority]

    def condition_text(self, thresholds: TuningThresholds | None = None) -> str:
        """The condition, with the numbers of ``thresholds`` (default: the guide's)."""
        return self.when(thresholds or TuningThresholds())

    def action_text(self, thresholds: TuningThresholds | None = None) -> str:
        """The action, with the numbers of ``thresholds`` (default: the guide's)."""
        return self.then(thresholds or TuningThresholds())

    @property
    def condition(self) -> str:
        """The condition with the default thresholds."""
        return self.condition_text()

    @property
    def action(self) -> str:
        """The action with the default thresholds."""
        return self.action_text()


_RULES: list[Rule] = []


def _rule(id: str, parameter: str, *, when: Callable[[TuningThresholds], str],
          then: Callable[[TuningThresholds], str], priority: int, source: str,
          figures: tuple[str, ...], effect: str, stage: str = "measured"
          ) -> Callable[[Callable[[_Context], _Outcome]], Callable[[_Context], _Outcome]]:
    """Declare a rule on its evaluator (rules run in declaration order)."""
    def register(evaluate: Callable[[_Context], _Outcome]) -> Callable[[_Context], _Outcome]:
        _RULES.append(Rule(id, parameter, when, then, evaluate, priority, source,
                           figures, effect, stage))
        return evaluate
    return register


# --------------------------------------------------------------------------- context


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


#: Clamps applied while one rule is evaluated (read by ``recommend``).
CLAMPS: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "specanalysis_tuning_clamps", default=None)


def _clamp(parameter: str, value: float) -> int:
    lo, hi = _bounds(parameter)
    v = int(value)
    if lo is not None:
        v = max(v, int(math.ceil(lo)))
    if hi is not None:
        v = min(v, int(math.floor(hi)))
    notes = CLAMPS.get()
    if notes is not None and v != int(value):
        name = parameter.removeprefix(_P)
        edge = "minimum" if lo is not None and v == int(math.ceil(lo)) else "maximum"
        verb = "raised" if v > value else "lowered"
        notes.append(f"{name}: {value:.4g} {verb} to the {v:g} {edge} of its range")
    return v


def _pct(share: float) -> str:
    return f"{100 * share:g} %"


# --------------------------------------------------------------------------- max_depth


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


@_rule("depth.rollback_rate", _P + "max_depth",
       when=lambda th: (f"rollback rate > {th.rollback_rate_pct:g} % (tasks rolled back "
                        "per execution attempt"
                        + (", timeout rollbacks left out" if th.depth_excludes_timeouts
                           else "") + ")"),
       then=lambda th: (f"reduce max_depth x {th.rollback_rate_pct:g} % / measured, at "
                        "least by 1"),
       priority=SAFETY, source="TG §Tuning Parameters, max_depth table",
       figures=("rollback_rate",),
       effect="smaller rollback blast radius and fewer tasks undone per failure; less "
              "memory; costs some pipeline parallelism")
def _eval_depth_rollback(ctx: _Context) -> _Outcome:
    share, text = _rolled_back_share(ctx)
    th = ctx.th.rollback_rate_pct
    cur = ctx.config.max_depth
    if share <= th:
        return _Outcome(False, f"{text} <= {th:g}%")
    new = _proportional_depth(cur, share, th)
    return _Outcome(True, f"{text} > {th:g}%; max_depth scaled by {th:g}/{share:.3g}",
                    {_P + "max_depth": new})


@_rule("depth.blast_radius", _P + "max_depth",
       when=lambda th: f"rollback blast radius p99 > {th.blast_radius_tasks:g} tasks",
       then=lambda th: (f"reduce max_depth x {th.blast_radius_tasks:g} / measured, at "
                        "least by 1"),
       priority=SAFETY, source="TG §Tuning Parameters, max_depth table",
       figures=("blast_radius_p99",),
       effect="smaller rollbacks when failures occur; less memory")
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


@_rule("depth.headroom", _P + "max_depth",
       when=lambda th: ("effective depth (p90) < top admissible depth (max_depth - 1) - "
                        f"{th.depth_headroom}"),
       then=lambda th: f"reduce max_depth to ceil(p90) + {th.depth_headroom + 1}",
       priority=MEMORY, source="TG §Tuning Parameters, max_depth table",
       figures=("depth_p90",),
       effect="less memory held for levels the workload never reaches; no throughput "
              "loss while the effective depth stays below the new limit")
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


@_rule("depth.saturated", _P + "max_depth",
       when=lambda th: (f">= {_pct(th.top_depth_share)} of tasks at the top admissible "
                        "depth (max_depth - 1)"),
       then=lambda th: "increase max_depth by 1",
       priority=THROUGHPUT, source="TG §Tuning Parameters, max_depth table",
       figures=("depth distribution",),
       effect="higher throughput and better latency (fewer tasks waiting for "
              "confirmation); larger rollbacks and more memory")
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


# --------------------------------------------------------------------------- branches


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


@_rule("branches.memory_fit", _P + "max_parallel_branches",
       when=lambda th: ("max_parallel_branches x measured memory per branch (+ pending "
                        "ops, proof cache, 20 %) exceeds limits.max_memory_mb"),
       then=lambda th: "reduce to the largest branch count that fits",
       priority=MEMORY,
       source="TG §max_parallel_branches (memory per branch) and §max_memory_mb formula",
       figures=("memory_per_branch",),
       effect="keeps speculation state within the memory limit; less parallelism")
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


@_rule("branches.saturated", _P + "max_parallel_branches",
       when=lambda th: "peak active branches >= max_parallel_branches",
       then=lambda th: (f"increase x{th.branch_increase:g} (rounded up), capped by what "
                        "the memory limit holds"),
       priority=THROUGHPUT, source="TG §max_parallel_branches (actual parallelism)",
       figures=("active_branches_peak",),
       effect="higher parallelism and resource utilisation; ~100-200 MB more memory "
              "per branch")
def _eval_branches_saturated(ctx: _Context) -> _Outcome:
    peak = ctx.fig("active_branches_peak")
    b = ctx.config.max_parallel_branches
    if peak < b:
        return _Outcome(False, f"peak active branches {peak:g} < {b} configured")
    new = _clamp(_P + "max_parallel_branches",
                 max(b + 1, math.ceil(b * ctx.th.branch_increase)))
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


@_rule("branches.underused", _P + "max_parallel_branches",
       when=lambda th: (f"peak active branches <= {_pct(th.branch_underuse)} of "
                        "max_parallel_branches"),
       then=lambda th: f"reduce to ceil({th.headroom_factor:g} x peak)",
       priority=THROUGHPUT, source="TG §max_parallel_branches (actual parallelism)",
       figures=("active_branches_peak",),
       effect="lower memory footprint with the parallelism actually used")
def _eval_branches_underused(ctx: _Context) -> _Outcome:
    peak = ctx.fig("active_branches_peak")
    b = ctx.config.max_parallel_branches
    th = ctx.th.branch_underuse
    if peak > th * b:
        return _Outcome(False, f"peak active branches {peak:g} > {100 * th:g} % of {b}")
    new = _clamp(_P + "max_parallel_branches",
                 max(1, math.ceil(ctx.th.headroom_factor * peak)))
    return _Outcome(True, f"peak active branches {peak:g} <= {100 * th:g} % of {b} "
                    "configured", {_P + "max_parallel_branches": new})


# --------------------------------------------------------------------------- timeout


def _timeout_range_s() -> str:
    lo, hi = _bounds(_P + "confirmation_timeout_ms")
    return f"{(lo or 0) / 1000:g}-{(hi or math.inf) / 1000:g} s"


@_rule("timeout.confirmation", _P + "confirmation_timeout_ms",
       when=lambda th: (f"configured timeout below {th.timeout_factor:g} x p99 "
                        f"confirmation, or more than {_pct(th.timeout_tolerance)} above "
                        "it"),
       then=lambda th: (f"set to {th.timeout_factor:g} x p99 confirmation (whole "
                        f"seconds, {_timeout_range_s()})"),
       priority=LATENCY,
       source="TG §confirmation_timeout_ms (recommended: 2x p99 confirmation time)",
       figures=("confirmation_p99",),
       effect="raising it: fewer false timeouts (and timeout rollbacks) during "
              "congestion; lowering it: faster failure detection and cleanup")
def _eval_timeout(ctx: _Context) -> _Outcome:
    p99 = ctx.fig("confirmation_p99")
    cur = ctx.config.confirmation_timeout_ms
    target = _clamp(_P + "confirmation_timeout_ms",
                    math.ceil(ctx.th.timeout_factor * p99) * 1000)
    rel = abs(cur - target) / target
    text = (f"p99 confirmation {ctx.fmt('confirmation_p99')}: "
            f"{ctx.th.timeout_factor:g} x p99 = {ctx.th.timeout_factor * p99:.3g} s "
            f"-> {target} ms")
    if cur >= target and rel <= ctx.th.timeout_tolerance:
        return _Outcome(False, f"{text}; configured {cur} ms is at most "
                        f"{100 * ctx.th.timeout_tolerance:g} % above it")
    if cur == target:
        return _Outcome(False, f"{text}; configured {cur} ms matches")
    where = "below" if cur < target else "above"
    extra = " (at or below p99 itself: false timeouts)" if cur <= p99 * 1000 else ""
    return _Outcome(True, f"{text}; configured {cur} ms is {100 * rel:.0f} % {where}"
                    f"{extra}", {_P + "confirmation_timeout_ms": target})


# --------------------------------------------------------------------------- proof workers


@_rule("workers.queue_high", _P + "proof.worker_threads",
       when=lambda th: f"proof queue utilisation > {th.queue_high_pct:g} %",
       then=lambda th: f"increase worker threads x{th.worker_increase:g} (rounded up)",
       priority=LATENCY, source="TG §proof.worker_threads",
       figures=("queue_utilization",),
       effect="faster proof throughput, lower queue depth and queue latency; more CPU")
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


@_rule("workers.queue_low", _P + "proof.worker_threads",
       when=lambda th: (f"proof queue utilisation < {th.queue_low_pct:g} % consistently "
                        "(average and peak)"),
       then=lambda th: (f"reduce worker threads by {_pct(1 - th.worker_decrease)} (at "
                        "least 1)"),
       priority=THROUGHPUT, source="TG §proof.worker_threads",
       figures=("queue_utilization", "queue_utilization_peak"),
       effect="lower CPU usage; somewhat higher queue latency")
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


# --------------------------------------------------------------------------- batch size


@_rule("batch.underfilled", _P + "proof.batch_size",
       when=lambda th: (f"actual avg batch < {_pct(th.batch_ratio)} of configured "
                        "batch_size (actual << configured)"),
       then=lambda th: f"reduce batch_size to ceil({th.headroom_factor:g} x actual)",
       priority=LATENCY, source="TG §proof.batch_size", figures=("batch_size_avg",),
       effect="lower latency per proof (tasks are not waiting to fill batches)")
def _eval_batch_underfilled(ctx: _Context) -> _Outcome:
    actual = ctx.fig("batch_size_avg")
    cur = ctx.config.proof.batch_size
    th = ctx.th.batch_ratio
    if actual >= th * cur:
        return _Outcome(False, f"actual avg batch {actual:.3g} >= {100 * th:g} % of "
                        f"batch_size {cur}")
    new = _clamp(_P + "proof.batch_size",
                 max(1, math.ceil(ctx.th.headroom_factor * actual)))
    return _Outcome(True, f"actual avg batch {actual:.3g} proofs < {100 * th:g}% of "
                    f"batch_size {cur} (batches leave before they fill)",
                    {_P + "proof.batch_size": new})


@_rule("batch.queue_growing", _P + "proof.batch_size",
       when=lambda th: (f"proof queue depth grows by >= {th.queue_growth_pct:g} % of its "
                        "capacity over the window"),
       then=lambda th: f"increase batch_size x{th.batch_increase:g} (rounded up)",
       priority=THROUGHPUT, source="TG §proof.batch_size",
       figures=("queue depth trend (needs a source)",),
       effect="better proof throughput (amortised per-batch overhead); higher latency "
              "per proof")
def _eval_batch_growing(ctx: _Context) -> _Outcome:
    growth, text = ctx.extra("queue_growth_pct")
    if math.isnan(growth):
        raise _Skip(f"queue growth not measurable: {text}")
    th = ctx.th.queue_growth_pct
    cur = ctx.config.proof.batch_size
    if growth < th:
        return _Outcome(False, f"{text}: < {th:g}% of capacity")
    new = _clamp(_P + "proof.batch_size",
                 max(cur + 1, math.ceil(ctx.th.batch_increase * cur)))
    return _Outcome(True, f"{text}: >= {th:g}% of capacity (queue growing)",
                    {_P + "proof.batch_size": new})


# --------------------------------------------------------------------------- matrix

#: The classification-matrix rule (advice only unless ``quadrant="apply"``).
MATRIX_RULE = "matrix.quadrant"


def _quadrant_placement(ctx: _Context) -> QuadrantAdvice:
    matrix = ctx.th.matrix
    volume = ctx.fig("task_rate")
    depth = ctx.fig(f"depth_{matrix.depth_stat}")
    placement = matrix.place(volume, depth)
    cell = placement.cell or placement.nearest_cell
    return QuadrantAdvice(cell.name, cell.title, placement.cell is not None,
                          volume, depth, dict(cell.settings), placement.sentence, ())


def _matrix_condition(th: TuningThresholds) -> str:
    m = th.matrix
    return (f"the workload's quadrant of the classification matrix (volume: low < "
            f"{m.low_volume:g}, high > {m.high_volume:g} tasks/min; depth "
            f"{m.depth_stat}: shallow <= {m.shallow_depth:g} < deep)")


@_rule(MATRIX_RULE, _P + "max_depth, max_parallel_branches, proof.batch_size, "
       "rollback_policy",
       when=_matrix_condition,
       then=lambda th: "the quadrant's settings (only with quadrant='apply')",
       priority=MATRIX_DEFAULT, source="TG §Workload Classification Matrix",
       figures=("task_rate", "depth_p90"),
       effect="the guide's starting point for this kind of workload")
def _eval_matrix(ctx: _Context) -> _Outcome:
    advice = _quadrant_placement(ctx)
    changes = {}
    cur = ctx.config.to_dict(flat=True)
    for key, value in advice.settings.items():
        dotted = _P + key
        if cur[dotted] != value:
            changes[dotted] = value
    return _Outcome(bool(changes), f"task rate {ctx.fmt('task_rate')}, depth "
                    f"{ctx.th.matrix.depth_stat} {advice.depth:g}: {advice.title}",
                    changes)


# --------------------------------------------------------------------------- sizing formulas


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


def _oversized(formula: str) -> Callable[[TuningThresholds], str]:
    return lambda th: f"configured >= {th.oversize_factor:g} x ({formula})"


_PENDING = "peak task rate/s x timeout_s x 2"


def _pending(ctx: _Context, direction: str) -> _Outcome:
    rate, rate_text = _peak_rate(ctx)
    timeout_s = ctx.config.confirmation_timeout_ms / 1000
    formula = max_pending_operations(rate, timeout_s)
    text = f"peak {rate:.4g} tasks/s x {timeout_s:g} s x 2 ({rate_text})"
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


@_rule("pending_ops.undersized", _P + "limits.max_pending_operations",
       when=lambda th: f"configured < {_PENDING}", then=lambda th: "set to the formula",
       priority=MEMORY, source="TG §Resource Limit Parameters", figures=("task_rate",),
       effect="room for every operation pending during one confirmation timeout",
       stage="sizing")
def _eval_pending_under(ctx: _Context) -> _Outcome:
    return _pending(ctx, "under")


@_rule("pending_ops.oversized", _P + "limits.max_pending_operations",
       when=_oversized(_PENDING), then=lambda th: "set to the formula",
       priority=THROUGHPUT, source="TG §Resource Limit Parameters",
       figures=("task_rate",), effect="less memory reserved for pending operations",
       stage="sizing")
def _eval_pending_over(ctx: _Context) -> _Outcome:
    return _pending(ctx, "over")


_SNAPSHOTS = "max_depth x max_parallel_branches x 2.5"


def _snapshots(ctx: _Context, direction: str) -> _Outcome:
    c = ctx.config
    formula = state_snapshots(c.max_depth, c.max_parallel_branches)
    return _sized(ctx, _P + "limits.max_state_snapshots", formula,
                  f"{c.max_depth} x {c.max_parallel_branches} x 2.5", direction)


@_rule("snapshots.undersized", _P + "limits.max_state_snapshots",
       when=lambda th: f"configured < {_SNAPSHOTS}", then=lambda th: "set to the formula",
       priority=MEMORY, source="TG §max_state_snapshots", figures=(),
       effect="a snapshot for every speculative level and branch, so rollbacks can "
              "restore state", stage="sizing")
def _eval_snapshots_under(ctx: _Context) -> _Outcome:
    return _snapshots(ctx, "under")


@_rule("snapshots.oversized", _P + "limits.max_state_snapshots",
       when=_oversized(_SNAPSHOTS), then=lambda th: "set to the formula",
       priority=THROUGHPUT, source="TG §max_state_snapshots", figures=(),
       effect="less memory held by stale snapshots", stage="sizing")
def _eval_snapshots_over(ctx: _Context) -> _Outcome:
    return _snapshots(ctx, "over")


@_rule("gc.interval", _P + "limits.gc_interval_ms",
       when=lambda th: (f"configured more than {_pct(th.timeout_tolerance)} away from "
                        "max(5000, timeout_ms / 4)"),
       then=lambda th: "set to the formula",
       priority=MEMORY, source="TG §Resource Limit Parameters", figures=(),
       effect="expired speculation state freed at a pace matching the timeout",
       stage="sizing")
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


_QUEUE = "peak task rate/s x avg proof time_s x 3"


def _queue_size(ctx: _Context, direction: str) -> _Outcome:
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


@_rule("queue_size.undersized", _P + "proof.queue_size",
       when=lambda th: f"configured < {_QUEUE}", then=lambda th: "set to the formula",
       priority=LATENCY, source="TG §Resource Limit Parameters",
       figures=("task_rate", "proof_p50"),
       effect="room for proofs during bursts without rejecting tasks", stage="sizing")
def _eval_queue_size_under(ctx: _Context) -> _Outcome:
    return _queue_size(ctx, "under")


@_rule("queue_size.oversized", _P + "proof.queue_size",
       when=lambda th: (_oversized(_QUEUE)(th) + " and the observed peak depth would "
                        f"stay < {th.queue_high_pct:g} % of the smaller queue"),
       then=lambda th: f"set to max(formula, peak depth / {th.queue_high_pct / 100:g})",
       priority=THROUGHPUT, source="TG §Resource Limit Parameters",
       figures=("task_rate", "proof_p50"),
       effect="less memory reserved for the proof queue", stage="sizing")
def _eval_queue_size_over(ctx: _Context) -> _Outcome:
    return _queue_size(ctx, "over")


_MEMORY = ("(branches x state MB + pending ops x 1 KB + proof cache) x 1.2, rounded up "
           "to a power of two")


def _memory(ctx: _Context, direction: str) -> _Outcome:
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
        need = ctx.th.memory_headroom * avg
        floor = 2 ** math.ceil(math.log2(max(need, 1)))
        floor_text = (f"measured average memory {avg:.4g} MB x "
                      f"{ctx.th.memory_headroom:g} -> {floor}")
    return _sized(ctx, param, m.recommended_mb, text + " -> power of two", "over",
                  floor, floor_text)


@_rule("memory.undersized", _P + "limits.max_memory_mb",
       when=lambda th: ("configured < (branches x state MB + pending ops x 1 KB + proof "
                        "cache) x 1.2"),
       then=lambda th: "set to the formula rounded up to a power of two",
       priority=MEMORY, source="TG §max_memory_mb sizing formula",
       figures=("memory_per_branch",),
       effect="room for the speculation state the configuration allows", stage="sizing")
def _eval_memory_under(ctx: _Context) -> _Outcome:
    return _memory(ctx, "under")


@_rule("memory.oversized", _P + "limits.max_memory_mb",
       when=_oversized(_MEMORY),
       then=lambda th: (f"set to the formula, at least {th.memory_headroom:g} x measured "
                        "average memory"),
       priority=THROUGHPUT, source="TG §max_memory_mb sizing formula",
       figures=("memory_per_branch", "memory_avg"),
       effect="frees memory reserved but never needed (cost)", stage="sizing")
def _eval_memory_over(ctx: _Context) -> _Outcome:
    return _memory(ctx, "over")


# --------------------------------------------------------------------------- the table

#: Every rule, in evaluation order (measured rules, then sizing formulas).
RULES: tuple[Rule, ...] = tuple(_RULES)
RULES_BY_ID: dict[str, Rule] = {r.id: r for r in RULES}
#: Rule id -> position in :data:`RULES` (the conflict tie-breaker).
ORDER: dict[str, int] = {r.id: i for i, r in enumerate(RULES)}

#: Sizing rules run in this order of parameters: each sees the previous ones.
SIZING_ORDER = (
    _P + "limits.max_pending_operations",
    _P + "limits.max_state_snapshots",
    _P + "limits.gc_interval_ms",
    _P + "proof.queue_size",
    _P + "limits.max_memory_mb",
)


def rules_frame(thresholds: TuningThresholds | None = None) -> pl.DataFrame:
    """:data:`RULES` as a frame (for notebooks): one row per rule.

    Conditions and actions are written with the numbers of ``thresholds``
    (default: the guide's).

    Examples
    --------
    >>> rules_frame().columns
    ['id', 'parameter', 'condition', 'action', 'priority', 'category', 'stage',
     'source', 'figures', 'effect']
    >>> rules_frame(TuningThresholds(queue_high_pct=50)).filter(
    ...     pl.col("id") == "workers.queue_high")["condition"].item()
    'proof queue utilisation > 50 %'
    """
    th = thresholds or TuningThresholds()
    return pl.DataFrame(
        [(r.id, r.parameter, r.condition_text(th), r.action_text(th), r.priority,
          r.category, r.stage, r.source, ", ".join(r.figures), r.effect) for r in RULES],
        schema={"id": pl.String, "parameter": pl.String, "condition": pl.String,
                "action": pl.String, "priority": pl.Int64, "category": pl.String,
                "stage": pl.String, "source": pl.String, "figures": pl.String,
                "effect": pl.String},
        orient="row",
    )
