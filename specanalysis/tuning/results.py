"""What :func:`~specanalysis.tuning.recommend` returns: proposals, conflicts, skips.

:class:`Recommendation` is one proposed change with its rule and evidence;
:class:`Recommendations` bundles the winners with the conflicts
(:class:`~specanalysis.tuning.resolve.Conflict`), the rules not evaluated
(:class:`SkippedRule`), every rule's outcome, the classification matrix's
advice (:class:`~specanalysis.tuning.rules.QuadrantAdvice`) and the proposed
configuration (TOML, diff, JSON).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from specanalysis.config import SpeculationConfig
from specanalysis.tuning.resolve import PRIORITIES, Conflict, _show
from specanalysis.tuning.rules import RULES_BY_ID, QuadrantAdvice

__all__ = ["Recommendation", "SkippedRule", "Recommendations"]

_P = "speculation."


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
class SkippedRule:
    """A rule that could not be evaluated, and why (a missing figure, no source)."""

    rule: str
    reason: str



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
    check
        The simulation check (:class:`~specanalysis.tuning.check.Check`): every
        proposal's predicted effect with its interval, the withheld ones, the
        set together and the proof-capacity headroom. None when unchecked.
    """

    items: tuple[Recommendation, ...]
    config: SpeculationConfig
    conflicts: tuple[Conflict, ...] = ()
    skipped: tuple[SkippedRule, ...] = ()
    evaluations: pl.DataFrame = field(default_factory=pl.DataFrame)
    quadrant: QuadrantAdvice | None = None
    notes: tuple[str, ...] = ()
    profile: Any = field(default=None, repr=False)
    check: Any = field(default=None, repr=False)

    @property
    def withheld(self) -> tuple[Any, ...]:
        """Proposals a rule made that the simulation check withheld (with why)."""
        return () if self.check is None else self.check.withheld

    def prediction(self, parameter: str) -> Any:
        """The simulated prediction of one proposal (None when unchecked)."""
        key = parameter if parameter.startswith(_P) else _P + parameter
        if self.check is None:
            return None
        for p in self.check.proposals:
            if p.parameter == key:
                return p.prediction
        raise KeyError(f"no checked proposal for {key}")

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
            "evaluations": self.evaluations.to_dicts(),
            "check": None if self.check is None else self.check.to_dict(),
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
            if self.check is not None:
                out.append(f"   predicted: {self._predicted(r.parameter)}")
        if self.check is not None:
            if self.withheld:
                out += ["", "Withheld by the simulation check (guide rule fired, not "
                            "proposed):"]
                out += [f"  - {p.recommendation.parameter}: "
                        f"{_show(p.recommendation.current)} -> "
                        f"{_show(p.recommendation.proposed)} "
                        f"[{p.recommendation.rule}]: {p.reason}" for p in self.withheld]
            out += ["", self.check.summary()]
        elif self.items:
            out += ["", "Not checked by simulation (the guide's rules read literally)."]
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

    def _predicted(self, parameter: str) -> str:
        for p in self.check.proposals:
            if p.parameter == parameter:
                return p.reason
        return "not simulated"

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
        if self.check is not None:
            rows = "".join(
                "<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in (
                    r.parameter, _show(r.current), _show(r.proposed), r.rule,
                    f"{r.priority} {r.category}", r.evidence,
                    self._predicted(r.parameter))) + "</tr>"
                for r in self.items)
            head = head.replace("expected effect", "predicted effect (simulated)")
        parts = [f"<div><b>Tuning recommendations</b><table><tr>{head}</tr>{rows}"
                 "</table>"]
        if self.withheld:
            parts.append("<p><b>Withheld</b> (a guide rule fired; the simulation "
                         "predicts harm or no benefit)</p><ul>" + "".join(
                             f"<li>{escape(p.recommendation.line())}: "
                             f"{escape(p.reason)}</li>" for p in self.withheld)
                         + "</ul>")
        if self.check is not None:
            parts.append(f"<pre>{escape(self.check.summary())}</pre>")
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



def _json_float(x: float) -> float | None:
    return None if x is None or math.isnan(x) or math.isinf(x) else float(x)


def _apply(config: SpeculationConfig, changes: Mapping[str, Any]) -> SpeculationConfig:
    return config.replace(**dict(changes)) if changes else config

