"""Evaluate the guide's rules on a profile and propose a configuration.

:func:`recommend` runs :data:`~specanalysis.tuning.rules.RULES` in two stages
(measured rules on the current configuration, then the sizing formulas on the
configuration proposed so far), settles disagreements with
:func:`~specanalysis.tuning.resolve.resolve` and returns
:class:`~specanalysis.tuning.results.Recommendations`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import polars as pl

from specanalysis.catalogue import PROOF, QUEUE_DEPTH
from specanalysis.config import SpeculationConfig
from specanalysis.errors import DataError
from specanalysis.sources._base import Source, as_source
from specanalysis.tuning.resolve import _show, resolve
from specanalysis.tuning.results import (
    Recommendation,
    Recommendations,
    SkippedRule,
    _apply,
)
from specanalysis.tuning.rules import (
    CLAMPS,
    MATRIX_RULE,
    ORDER,
    RULES,
    SIZING_ORDER,
    QuadrantAdvice,
    Rule,
    TuningThresholds,
    _Context,
    _quadrant_placement,
    _Skip,
)

__all__ = ["recommend"]

_P = "speculation."


def _measure_extras(source: Source, profile: Any, config: SpeculationConfig
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
    fam = PROOF
    mean_expr = (q.sum(q.increase(q.metric(fam + "_sum"), w))
                 / q.sum(q.increase(q.metric(fam + "_count"), w)))
    res = source.evaluate(mean_expr, at)
    if res.height and math.isfinite(float(res["value"][0])):
        mean = float(res["value"][0])
        extras["proof_mean"] = (mean, f"mean proof time {mean:.4g} s")
    # queue depth trend over the window, in % of the configured capacity
    seconds = (at - start).total_seconds()
    step = max(15.0, seconds / 120)
    series = source.evaluate_range(q.sum(q.metric(QUEUE_DEPTH)),
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
                                      f"{QUEUE_DEPTH} in the window")
    return extras, notes


def recommend(profile: Any, config: SpeculationConfig, *,
              source: Source | pl.DataFrame | None = None,
              thresholds: TuningThresholds | None = None,
              quadrant: str = "advise", check: bool | str = "auto",
              workload: Any = None, seeds: int | Sequence[int] = 4,
              duration: str | float = "8m", goals: Sequence[str] = (),
              settings: Any = None, progress: bool | None = None) -> Recommendations:
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
    check
        Check every proposal by simulation before it is shown
        (:func:`~specanalysis.tuning.check.check_recommendations`): ``"auto"``
        (default) checks when a workload is given, or when ``source`` is given
        and the profile calibrates to a workload (``profile.to_workload()``),
        and says why not otherwise; ``True``
        requires it; ``False`` gives the guide's rules read literally, unchecked.
        Checked, :attr:`Recommendations.items` holds only the proposals predicted
        to help and not to hurt; the others are in
        :attr:`Recommendations.withheld` with their predictions.
    workload
        The workload to simulate (default: calibrated on ``profile``).
    seeds, duration
        Paired seeds and simulated time per run of the check.
    goals
        Figures you accept to trade for (see ``check_recommendations``).
    settings
        :class:`~specanalysis.sim.SimSettings` of the check's simulations.
    progress
        Progress bar of the check (None: on a terminal, outside CI).

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
    if check not in (True, False, "auto"):
        raise DataError(f"unknown check mode {check!r}", field="check",
                        expected="True, False or 'auto'")
    if quadrant not in ("advise", "apply"):
        raise DataError(f"unknown quadrant mode {quadrant!r}", field="quadrant",
                        expected="'advise' or 'apply'")
    th = thresholds or TuningThresholds()
    notes: list[str] = []
    extras: dict[str, tuple[float, str]] = {}
    if source is not None:
        source = as_source(source)
        extras, extra_notes = _measure_extras(source, profile, config)
        notes += extra_notes

    evaluations: list[tuple[str, str, str, str]] = []
    skipped: list[SkippedRule] = []
    fired: list[Recommendation] = []

    def run(rule: Rule, cfg: SpeculationConfig) -> list[Recommendation]:
        ctx = _Context(profile, cfg, th, extras, config.proof.queue_size)
        clamps: list[str] = []
        token = CLAMPS.set(clamps)
        try:
            out = rule.evaluate(ctx)
            if clamps:
                out = dataclasses.replace(out, evidence=out.evidence + "; "
                                          + "; ".join(clamps))
        except _Skip as why:
            skipped.append(SkippedRule(rule.id, str(why)))
            evaluations.append((rule.id, rule.parameter, "skipped", str(why)))
            return []
        finally:
            CLAMPS.reset(token)
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
        if rule.id == MATRIX_RULE:
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
    winners, conflicts = resolve(fired, ORDER)
    proposed = _apply(config, {p: r.proposed for p, r in winners.items()})

    # stage 2: sizing formulas, each on the configuration proposed so far
    for param in SIZING_ORDER:
        group = [r for r in RULES if r.stage == "sizing" and r.parameter == param]
        recs = [rec for rule in group for rec in run(rule, proposed)]
        fired += recs
        w, c = resolve(recs, ORDER)
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
                         key=lambda r: (ORDER[r.rule], r.parameter)))
    if advice is not None:
        final = proposed.to_dict(flat=True)
        diffs = tuple((_P + k, final[_P + k], v) for k, v in advice.settings.items()
                      if final[_P + k] != v)
        advice = QuadrantAdvice(advice.name, advice.title, advice.exact,
                                advice.volume_per_min, advice.depth, advice.settings,
                                advice.sentence, diffs, applied=quadrant == "apply")
    ev = pl.DataFrame(sorted(evaluations, key=lambda e: ORDER[e[0]]),
                      schema={"rule": pl.String, "parameter": pl.String,
                              "status": pl.String, "detail": pl.String}, orient="row")
    recs = Recommendations(items=items, config=config, conflicts=tuple(conflicts),
                           skipped=tuple(skipped), evaluations=ev, quadrant=advice,
                           notes=tuple(dict.fromkeys(notes)), profile=profile)
    if check is False or not items:
        return recs
    if workload is None and source is None and check == "auto":
        return dataclasses.replace(recs, notes=recs.notes + (
            "not checked by simulation: no source to calibrate a workload on; pass "
            "source= (the profile's source) or workload= to check",))
    if workload is None:
        try:
            workload = profile.to_workload(config)
        except Exception as exc:  # noqa: BLE001 - any failure means "cannot calibrate"
            if check is True:
                raise DataError(f"the profile does not calibrate to a workload: {exc}",
                                field="check", expected="a profile with rates and "
                                "proof/confirmation times, or workload=") from None
            return dataclasses.replace(recs, notes=recs.notes + (
                "not checked by simulation: the profile does not calibrate to a "
                f"workload ({exc}); pass workload= to check",))
    from specanalysis.tuning.check import check_recommendations

    return check_recommendations(recs, workload, seeds=seeds, duration=duration,
                                 goals=goals, settings=settings, progress=progress)

