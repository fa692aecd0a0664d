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

The package, one concept per module:

* :mod:`~specanalysis.tuning.rules` -- :class:`TuningThresholds` and each
  :class:`Rule`: condition and action texts generated from the thresholds,
  declared on the evaluator that decides (the guide's reading is documented
  there);
* :mod:`~specanalysis.tuning.resolve` -- :data:`PRIORITIES` and how
  disagreeing rules are settled (opposite directions: priority; same direction:
  the larger move);
* :mod:`~specanalysis.tuning.results` -- :class:`Recommendation`,
  :class:`Recommendations` and friends;
* :mod:`~specanalysis.tuning.advise` -- :func:`recommend`.

A figure the profile lacks (NaN) means its rules are not evaluated; they are
listed in :attr:`Recommendations.skipped` with the figure's note.

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

import polars as pl  # noqa: F401  (used by the module doctest)

from specanalysis.tuning.advise import recommend
from specanalysis.tuning.check import Check, check_recommendations
from specanalysis.tuning.resolve import PRIORITIES, Conflict, resolve
from specanalysis.tuning.results import Recommendation, Recommendations, SkippedRule
from specanalysis.tuning.rules import (
    RULES,
    RULES_BY_ID,
    QuadrantAdvice,
    Rule,
    TuningThresholds,
    rules_frame,
)

__all__ = [
    "Check",
    "check_recommendations",
    "PRIORITIES",
    "Rule",
    "RULES",
    "RULES_BY_ID",
    "rules_frame",
    "TuningThresholds",
    "Recommendation",
    "Conflict",
    "SkippedRule",
    "QuadrantAdvice",
    "Recommendations",
    "recommend",
    "resolve",
]
