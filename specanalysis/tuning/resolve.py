"""Settling fired rules that disagree: priorities, opposite and same-direction moves.

When fired rules propose different values for one parameter:

* rules pulling in *opposite* directions: the higher priority wins,
  1 rollback safety > 2 memory > 3 latency/timeouts > 4 throughput/cost >
  5 classification-matrix defaults (ties: the order of the rules);
* rules agreeing on the direction: the larger move wins, since it satisfies
  both (``depth.rollback_rate`` asks for 10 -> 9, ``depth.headroom`` for
  10 -> 7: 7 answers the safety rule too); matrix defaults never outbid a
  measured rule this way.

Every rule whose proposal was not taken becomes a :class:`Conflict` with the
reason.

Examples
--------
>>> PRIORITIES[SAFETY], PRIORITIES[MATRIX_DEFAULT]
('rollback safety', 'matrix default')
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = [
    "PRIORITIES",
    "SAFETY",
    "MEMORY",
    "LATENCY",
    "THROUGHPUT",
    "MATRIX_DEFAULT",
    "Conflict",
    "resolve",
]

#: Priority rank -> category (lower rank wins a conflict).
PRIORITIES: dict[int, str] = {
    1: "rollback safety",
    2: "memory",
    3: "latency/timeouts",
    4: "throughput/cost",
    5: "matrix default",
}
SAFETY, MEMORY, LATENCY, THROUGHPUT, MATRIX_DEFAULT = 1, 2, 3, 4, 5


class _Proposal(Protocol):
    """What :func:`resolve` reads of a recommendation."""

    parameter: str
    current: Any
    proposed: Any
    rule: str
    priority: int

    @property
    def direction(self) -> str: ...

    @property
    def category(self) -> str: ...


def _show(value: Any) -> str:
    """A configuration value as shown in texts (booleans as TOML literals)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class Conflict:
    """Two fired rules proposing different values for one parameter, and who won."""

    parameter: str
    kept: Any
    overruled: Any
    reason: str

    def line(self) -> str:
        """One-line text form."""
        return (f"{self.parameter}: kept {self.kept.rule} "
                f"({_show(self.kept.current)} -> {_show(self.kept.proposed)}) over "
                f"{self.overruled.rule} ({_show(self.overruled.current)} -> "
                f"{_show(self.overruled.proposed)}): {self.reason}")


def _move(rec: _Proposal) -> float:
    try:
        return abs(float(rec.proposed) - float(rec.current))
    except (TypeError, ValueError):
        return 0.0


def resolve(fired: Iterable[_Proposal], order: Mapping[str, int]
            ) -> tuple[dict[str, Any], list[Conflict]]:
    """The winning proposal per parameter, and the conflicts.

    Opposite directions: the higher priority wins (then ``order``, the rules'
    evaluation order). Same direction: the larger move wins, because it
    satisfies both rules (a reduction asked for by a memory rule also answers a
    safety rule asking for less) -- except that matrix defaults never outbid a
    measured rule.

    Parameters
    ----------
    fired
        Recommendations of fired rules (``parameter``, ``current``,
        ``proposed``, ``rule``, ``priority``, ``direction``, ``category``).
    order
        Rule id -> position in the rule table (tie-breaker).
    """
    by_param: dict[str, list[_Proposal]] = {}
    for rec in fired:
        by_param.setdefault(rec.parameter, []).append(rec)
    winners: dict[str, Any] = {}
    conflicts: list[Conflict] = []
    for param, recs in by_param.items():
        top = min(recs, key=lambda r: (r.priority, order[r.rule]))
        allies = [r for r in recs if r.direction == top.direction
                  and (r.priority != MATRIX_DEFAULT or top.priority == MATRIX_DEFAULT)]
        win = max(allies, key=lambda r: (_move(r), -r.priority, -order[r.rule]))
        winners[param] = win
        for other in sorted(recs, key=lambda r: (r.priority, order[r.rule])):
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
