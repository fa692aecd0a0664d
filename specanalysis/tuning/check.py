"""Recommendations checked by simulation before they are shown.

The guide's rules are heuristics written for people; :func:`check_recommendations`
turns each proposal into a prediction. Every proposed change is simulated against
the current configuration on the (calibrated) workload with paired seeds
(:func:`~specanalysis.sim.paired.predict_change`); the key figures get an effect and
an interval. A proposal is **withheld** (listed with its prediction, not applied)
when it is predicted to make a protected figure worse beyond noise (by default
latency p99, tasks rolled back per task, peak memory and refused submissions), or
when the figure its rule targets is not predicted to improve. The set that remains
is simulated together as well; while the set hurts, its lowest-priority member is
withheld. A capacity check states the proof pool's headroom at the peak offered
rate before and after.

Examples
--------
>>> from specanalysis.tuning.check import RULE_TARGETS
>>> RULE_TARGETS["depth.rollback_rate"], RULE_TARGETS["workers.queue_high"]
('task_rollback_rate_pct', 'proof_p99_s')
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from specanalysis.config import SpeculationConfig
from specanalysis.errors import DataError

__all__ = ["RULE_TARGETS", "PROTECTED", "CheckedProposal", "Check",
           "check_recommendations", "capacity_check"]

#: The key figure each rule means to improve (None: a bound or a resource
#: reservation the simulator does not price; such a change must only not hurt).
RULE_TARGETS: dict[str, str | None] = {
    "depth.rollback_rate": "task_rollback_rate_pct",
    "depth.blast_radius": "avg_rollback_size",
    "depth.headroom": None,
    "depth.saturated": "latency_p50_s",
    "branches.memory_fit": "memory_peak_mb",
    "branches.saturated": "latency_p50_s",
    "branches.underused": None,
    "timeout.confirmation": None,
    "workers.queue_high": "proof_p99_s",
    "workers.queue_low": None,
    "batch.underfilled": "proof_p50_s",
    "batch.queue_growing": "proof_p99_s",
    "matrix.quadrant": None,
    "pending_ops.undersized": None,
    "pending_ops.oversized": None,
    "snapshots.undersized": None,
    "snapshots.oversized": None,
    "gc.interval": None,
    "queue_size.undersized": None,
    "queue_size.oversized": None,
    "memory.undersized": None,
    "memory.oversized": None,
}

#: Figures a proposal must not make worse beyond noise (unless allowed).
PROTECTED: tuple[str, ...] = ("latency_p99_s", "task_rollback_rate_pct",
                              "memory_peak_mb", "rejected_pct")


@dataclass(frozen=True)
class CheckedProposal:
    """One rule's proposal with its simulated prediction and the decision."""

    recommendation: Any
    prediction: Any
    target: str | None
    status: str          # "proposed" or "withheld"
    reason: str

    @property
    def parameter(self) -> str:
        return self.recommendation.parameter

    def line(self) -> str:
        """``parameter: a -> b [rule]: status (reason)``."""
        return f"{self.recommendation.line()}: {self.status} ({self.reason})"


@dataclass(frozen=True)
class Check:
    """What the simulation said about a set of recommendations.

    Attributes
    ----------
    proposals
        Every proposal with its prediction, ``proposed`` or ``withheld``.
    combined
        The prediction for the proposed set applied together (None when empty).
    capacity
        Proof-pool headroom at the peak offered rate: a frame with ``config``
        (current/proposed), ``peak_rate``, ``capacity_tps``, ``utilisation``,
        ``headroom_pct``.
    workload
        The workload simulated (calibrated on the profile, or given).
    seeds, duration_s, warmup_s, protect
        How it was checked.
    """

    proposals: tuple[CheckedProposal, ...]
    combined: Any
    capacity: pl.DataFrame
    workload: Any
    seeds: tuple[int, ...]
    duration_s: float
    warmup_s: float
    protect: tuple[str, ...]
    notes: tuple[str, ...] = ()

    @property
    def withheld(self) -> tuple[CheckedProposal, ...]:
        return tuple(p for p in self.proposals if p.status == "withheld")

    @property
    def kept(self) -> tuple[CheckedProposal, ...]:
        return tuple(p for p in self.proposals if p.status == "proposed")

    def tidy(self) -> pl.DataFrame:
        """One row per (proposal, key figure): the predicted effect and interval."""
        frames = []
        for p in self.proposals:
            r = p.recommendation
            frames.append(p.prediction.effects.with_columns(
                pl.lit(r.parameter).alias("parameter"), pl.lit(r.rule).alias("rule"),
                pl.lit(str(r.current)).alias("current_value"),
                pl.lit(str(r.proposed)).alias("proposed_value"),
                pl.lit(p.status).alias("status"),
                pl.lit(p.target, dtype=pl.String).alias("target")))
        if self.combined is not None:
            frames.append(self.combined.effects.with_columns(
                pl.lit("(all proposed together)").alias("parameter"),
                pl.lit("set").alias("rule"), pl.lit("").alias("current_value"),
                pl.lit("").alias("proposed_value"), pl.lit("proposed").alias("status"),
                pl.lit(None, dtype=pl.String).alias("target")))
        if not frames:
            return pl.DataFrame()
        cols = ["parameter", "rule", "current_value", "proposed_value", "status",
                "target", "figure", "label", "current", "proposed", "effect_pct",
                "ci_low_pct", "ci_high_pct", "n", "verdict"]
        return pl.concat(frames, how="diagonal").select(cols)

    def summary(self) -> str:
        lines = [f"Checked by simulation: {len(self.seeds)} paired seeds x "
                 f"{self.duration_s:g} s (first {self.warmup_s:g} s dropped); "
                 "protected: " + ", ".join(self.protect)]
        for p in self.proposals:
            lines.append(f"  {p.status.upper():9s} {p.recommendation.parameter}: "
                         f"{p.recommendation.current} -> {p.recommendation.proposed} "
                         f"[{p.recommendation.rule}] {p.reason}")
        if self.combined is not None:
            lines.append("  together: " + "; ".join(
                self.combined.describe(f) for f in
                ("latency_p50_s", "latency_p99_s", "task_rollback_rate_pct",
                 "memory_peak_mb", "proof_p99_s")))
        for r in self.capacity.iter_rows(named=True):
            lines.append(f"  proof capacity ({r['config']}): {r['capacity_tps']:.3g} "
                         f"proofs/s for a peak of {r['peak_rate']:.3g}/s, headroom "
                         f"{r['headroom_pct']:+.0f} %")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        def fl(x: Any) -> Any:
            return None if isinstance(x, float) and math.isnan(x) else x

        return {
            "seeds": list(self.seeds), "duration_s": self.duration_s,
            "warmup_s": self.warmup_s, "protect": list(self.protect),
            "proposals": [{
                "parameter": p.parameter, "rule": p.recommendation.rule,
                "current": p.recommendation.current,
                "proposed": p.recommendation.proposed, "status": p.status,
                "reason": p.reason, "target": p.target,
                "effects": [{k: fl(v) for k, v in row.items()}
                            for row in p.prediction.effects.iter_rows(named=True)],
            } for p in self.proposals],
            "combined": None if self.combined is None else [
                {k: fl(v) for k, v in row.items()}
                for row in self.combined.effects.iter_rows(named=True)],
            "capacity": [{k: fl(v) for k, v in r.items()}
                         for r in self.capacity.iter_rows(named=True)],
            "notes": list(self.notes),
        }

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **{"indent": 2, "default": str, **kwargs})


def _peak_rate(workload: Any) -> float:
    pattern = workload.rate_pattern
    segs = pattern.segments(max(600.0, getattr(pattern, "period", 0.0) or 0.0) * 2)
    peak = max((m for _, _, m in segs), default=1.0)
    return workload.rate * max(peak, 1.0)


def capacity_check(configs: dict[str, SpeculationConfig], workload: Any) -> pl.DataFrame:
    """Proof-pool capacity against the workload's peak offered rate, per config.

    Capacity = workers x batch / (batch overhead + batch x per-proof cost), with
    the workload's mean costs (:func:`specanalysis.models.proofcost.capacity_headroom`).

    Examples
    --------
    >>> from specanalysis.sim import Workload
    >>> cfg = SpeculationConfig()
    >>> f = capacity_check({"current": cfg},
    ...                    Workload(rate=3, proof_time="fixed:1s", proof_overhead="fixed:2s"))
    >>> f.select("capacity_tps", "utilisation").row(0)
    (3.3333333333333335, 0.8999999999999999)
    """
    from specanalysis.models.proofcost import capacity_headroom

    peak = _peak_rate(workload)
    per = float(workload.dist("proof_time").mean)
    over = float(workload.dist("proof_overhead").mean)
    rows = []
    for name, cfg in configs.items():
        h = capacity_headroom(peak, workers=cfg.proof.worker_threads,
                              batch_size=cfg.proof.batch_size,
                              proof_time_s=max(per, 1e-9), overhead_s=over)
        rows.append({"config": name, "peak_rate": peak, "capacity_tps": h.capacity_tps,
                     "utilisation": h.utilisation, "headroom_pct": 100 * h.headroom})
    return pl.DataFrame(rows)


def check_recommendations(recs: Any, workload: Any, *, seeds: int | Sequence[int] = 4,
                          duration: str | float = "8m", warmup: str | float = "1m",
                          settings: Any = None, protect: Sequence[str] = PROTECTED,
                          goals: Sequence[str] = (), progress: bool | None = None
                          ) -> Any:
    """Simulate each recommendation and keep only those predicted to help.

    Parameters
    ----------
    recs
        :class:`~specanalysis.tuning.Recommendations` from :func:`recommend`.
    workload
        The workload to simulate (``profile.to_workload()``, or the known one).
    seeds, duration, warmup
        Paired seeds and simulated time per run (see
        :func:`~specanalysis.sim.paired.predict_change`).
    settings
        :class:`~specanalysis.sim.SimSettings`.
    protect
        Figures no proposal may make worse beyond noise.
    goals
        Figures you want improved at a price: a proposal whose rule targets one
        of them and is predicted to improve it is kept even when it makes a
        protected figure worse, and the trade is stated (e.g.
        ``goals=("task_rollback_rate_pct",)`` accepts a depth cut that raises
        the latency tail in exchange for fewer rollbacks).
    progress
        A progress bar (None: on a terminal, outside CI).

    Returns
    -------
    Recommendations
        A copy whose ``items`` are the proposals kept, with :attr:`check`
        holding every prediction and the withheld proposals.
    """
    from specanalysis._time import parse_duration
    from specanalysis.sim.paired import KEY_FIGURES, predict_change

    unknown = [f for f in (*protect, *goals) if f not in KEY_FIGURES]
    if unknown:
        raise DataError(f"unknown figure(s) {', '.join(unknown)}", field="protect",
                        expected="figures of " + ", ".join(KEY_FIGURES))
    guard = tuple(protect)
    seed_list = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    current = recs.config
    items = list(recs.items)
    bar = _bar(progress, len(seed_list) * (len(items) + 2))
    tick = bar.update if bar is not None else None
    cache: dict[int, dict[str, float]] = {}
    kw = {"seeds": seed_list, "duration": duration, "warmup": warmup,
          "settings": settings, "current_runs": cache, "progress": tick}
    checked: list[CheckedProposal] = []
    traded: set[str] = set()
    try:
        for r in items:
            proposed = current.replace(**{r.parameter: r.proposed})
            pred = predict_change(current, proposed, workload, **kw)
            target = RULE_TARGETS.get(r.rule)
            hurt = pred.worse(guard)
            if hurt and target in goals and pred.verdict(target) == "better":
                status = "proposed"
                reason = (f"trade for your goal: {pred.describe(target)}; at the price "
                          "of " + "; ".join(pred.describe(f) for f in hurt))
                traded.update(hurt)
            elif hurt:
                status = "withheld"
                reason = "guide rule fired, predicted to hurt: " + "; ".join(
                    pred.describe(f) for f in hurt)
            elif target is not None and pred.verdict(target) != "better":
                status = "withheld"
                reason = "no predicted benefit: " + pred.describe(target)
            else:
                status = "proposed"
                reason = ("predicted: " + pred.describe(target) if target
                          else "a bound; predicted effect within noise")
            checked.append(CheckedProposal(r, pred, target, status, reason))
        combined = None
        while True:
            kept = [p for p in checked if p.status == "proposed"]
            if not kept:
                break
            cfg = current.replace(**{p.parameter: p.recommendation.proposed for p in kept})
            combined = predict_change(current, cfg, workload, **kw)
            hurt = combined.worse([f for f in guard if f not in traded])
            if not hurt:
                break
            drop = max(kept, key=lambda p: p.recommendation.priority)
            checked[checked.index(drop)] = dataclasses.replace(
                drop, status="withheld",
                reason="withheld: the proposed set together is predicted to hurt ("
                + "; ".join(combined.describe(f) for f in hurt)
                + "); lowest priority dropped")
            combined = None
    finally:
        if bar is not None:
            bar.close()
    kept_recs = tuple(p.recommendation for p in checked if p.status == "proposed")
    final = current.replace(**{r.parameter: r.proposed for r in kept_recs}) \
        if kept_recs else current
    check = Check(
        proposals=tuple(checked), combined=combined,
        capacity=capacity_check({"current": current, "proposed": final}, workload),
        workload=workload, seeds=tuple(seed_list),
        duration_s=parse_duration(duration, field="duration"),
        warmup_s=parse_duration(warmup, field="warmup") if warmup else 0.0,
        protect=guard)
    return dataclasses.replace(recs, items=kept_recs, check=check)


def _bar(progress: bool | None, total: int) -> Any:
    import os
    import sys

    if progress is None:
        progress = sys.stderr.isatty() and not os.environ.get("CI")
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="sim", desc="checking recommendations", leave=False)

