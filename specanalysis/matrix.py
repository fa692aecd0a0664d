"""The guide's workload classification matrix, in one place.

The tuning guide's *Workload Classification Matrix* splits workloads by volume
(low < 100 tasks/min, high > 1000 tasks/min) and typical speculation depth
(shallow <= 3, deep > 3) into four cells, each with suggested settings.
:class:`ClassificationMatrix` holds both halves together -- the boundaries and
the cells' settings -- so a custom boundary moves the placement
(:meth:`ClassificationMatrix.place`), the cells' :meth:`Quadrant.matches` and
the settings a placement carries at once. :data:`MATRIX` is the guide's matrix;
:data:`specanalysis.config.QUADRANTS` is its cells, the characterisation's
thresholds (:class:`specanalysis.classify.Thresholds`) extend it, and the
tuning rules and plots read the same object.

Examples
--------
>>> MATRIX.place(50, 2).quadrant
'Conservative'
>>> MATRIX.place(50, 2).cell.settings["proof.batch_size"]
10
>>> custom = ClassificationMatrix(low_volume=200)
>>> custom.place(150, 2).quadrant, MATRIX.place(150, 2).quadrant
('Conservative', None)
>>> custom.quadrants["conservative"].matches(150, 2)
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from specanalysis.errors import ConfigError, DataError

__all__ = [
    "Quadrant",
    "QuadrantPlacement",
    "ClassificationMatrix",
    "MATRIX",
    "DEFAULT_QUADRANT_SETTINGS",
    "DEPTH_STATS",
]

#: Depth figures the matrix can read (``depth_<stat>`` of a profile).
DEPTH_STATS = ("p90", "p50", "mean")

# the four cells: name -> (guide's title, volume class, depth class)
_CELLS: dict[str, tuple[str, str, str]] = {
    "conservative": ("Conservative", "low", "shallow"),
    "throughput-optimized": ("Throughput-optimized", "high", "shallow"),
    "reliability-focused": ("Reliability-focused", "low", "deep"),
    "scale-out": ("Scale-out required", "high", "deep"),
}

#: The guide's settings per cell (partial change sets for ``SpeculationConfig.replace``).
DEFAULT_QUADRANT_SETTINGS: Mapping[str, Mapping[str, Any]] = MappingProxyType({
    "conservative": MappingProxyType(
        {"max_depth": 3, "max_parallel_branches": 2, "proof.batch_size": 10}),
    "throughput-optimized": MappingProxyType(
        {"max_depth": 5, "max_parallel_branches": 8, "proof.batch_size": 50}),
    "reliability-focused": MappingProxyType(
        {"max_depth": 5, "max_parallel_branches": 4, "rollback_policy": "cascade"}),
    "scale-out": MappingProxyType(
        {"max_depth": 8, "max_parallel_branches": 16, "rollback_policy": "selective"}),
})


@dataclass(frozen=True)
class Quadrant:
    """One cell of the classification matrix.

    ``volume`` is ``"low"`` or ``"high"``, ``depth`` ``"shallow"`` or ``"deep"``;
    the conditions are ``(operator, bound)`` pairs generated from the matrix's
    boundaries (never typed separately). ``settings`` is a partial change set
    for :meth:`SpeculationConfig.replace <specanalysis.config.SpeculationConfig.replace>`.
    """

    name: str
    title: str
    volume: str
    depth: str
    volume_condition: tuple[str, float]
    depth_condition: tuple[str, float]
    settings: dict[str, Any]

    def matches(self, tasks_per_min: float, depth: float) -> bool:
        """Whether a workload falls in this cell (the band between the volume
        boundaries matches no cell).

        Examples
        --------
        >>> MATRIX.quadrants["scale-out"].matches(5000, 6)
        True
        >>> MATRIX.quadrants["conservative"].matches(500, 2)
        False
        """
        def holds(cond: tuple[str, float], x: float) -> bool:
            op, bound = cond
            return {"<": x < bound, "<=": x <= bound, ">": x > bound}[op]
        return holds(self.volume_condition, tasks_per_min) and holds(self.depth_condition, depth)

    def condition_text(self) -> str:
        """The cell's condition as text (``"volume < 100 tasks/min and depth <= 3"``)."""
        (vo, vb), (do, db) = self.volume_condition, self.depth_condition
        return f"volume {vo} {vb:g} tasks/min and depth {do} {db:g}"

    def apply(self, config: Any) -> Any:
        """``config`` (a ``SpeculationConfig``) with this cell's settings.

        Examples
        --------
        >>> from specanalysis.config import SpeculationConfig
        >>> MATRIX.quadrants["throughput-optimized"].apply(SpeculationConfig()).proof.batch_size
        50
        """
        return config.replace(**self.settings)


@dataclass(frozen=True)
class QuadrantPlacement:
    """Where a workload falls on the classification matrix.

    ``quadrant`` (the cell's title) is None when the volume is in the band
    between the boundaries, which the matrix does not cover; ``nearest`` is then
    the closer cell in log-volume and ``blend`` weights the two cells of that
    row (summing to 1). ``distance_decades`` is the log10 distance to the volume
    boundary of ``nearest`` (0 inside a cell). ``cell`` / ``nearest_cell`` are
    the :class:`Quadrant` objects (with their settings) of the same matrix.
    """

    volume: float
    depth: float
    volume_class: str  # "low", "high", "between"
    depth_class: str  # "shallow", "deep"
    quadrant: str | None
    nearest: str
    blend: dict[str, float]
    distance_decades: float
    sentence: str
    cell: Quadrant | None = None
    nearest_cell: Quadrant | None = None


def _settings_default() -> dict[str, dict[str, Any]]:
    return {k: dict(v) for k, v in DEFAULT_QUADRANT_SETTINGS.items()}


@dataclass(frozen=True)
class ClassificationMatrix:
    """The classification matrix: volume and depth boundaries plus each cell's settings.

    Attributes
    ----------
    low_volume, high_volume
        tasks/min; the guide: low < 100/min, high > 1000/min. The band in
        between (boundaries included) has no cell of its own.
    shallow_depth
        The depth split: shallow <= 3, deep > 3.
    depth_stat
        Which depth figure the matrix reads: ``"p90"`` (the depth tasks rarely
        exceed, the guide's "effective depth"), ``"p50"`` or ``"mean"``.
    quadrant_settings
        Cell name -> settings (:data:`DEFAULT_QUADRANT_SETTINGS`); a mapping
        with only some cells replaces those cells' settings.

    Raises
    ------
    ConfigError
        Boundaries that are not positive and increasing, an unknown depth
        statistic or cell name.
    """

    low_volume: float = 100.0
    high_volume: float = 1000.0
    shallow_depth: float = 3.0
    depth_stat: str = "p90"
    quadrant_settings: Mapping[str, Mapping[str, Any]] = field(
        default_factory=_settings_default, compare=True, repr=False)

    def __post_init__(self) -> None:
        problems = []
        for name in ("low_volume", "high_volume", "shallow_depth"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) \
                    or v <= 0:
                problems.append(f"{name} = {v!r} (expected a finite number > 0)")
        if not problems and not self.low_volume < self.high_volume:
            problems.append(f"low_volume {self.low_volume:g} is not below high_volume "
                            f"{self.high_volume:g}")
        if self.depth_stat not in DEPTH_STATS:
            problems.append(f"depth_stat {self.depth_stat!r} (expected one of "
                            + ", ".join(repr(s) for s in DEPTH_STATS) + ")")
        unknown = sorted(set(self.quadrant_settings) - set(_CELLS))
        if unknown:
            problems.append("unknown quadrant(s) " + ", ".join(unknown)
                            + " (expected " + ", ".join(_CELLS) + ")")
        if problems:
            raise ConfigError(problems, field="classification matrix")
        merged = _settings_default()
        merged.update({k: dict(v) for k, v in self.quadrant_settings.items()})
        object.__setattr__(self, "quadrant_settings", merged)

    # ----------------------------------------------------------------- cells
    @property
    def volume_conditions(self) -> dict[str, tuple[str, float]]:
        """``{"low": ("<", low_volume), "high": (">", high_volume)}``."""
        return {"low": ("<", float(self.low_volume)), "high": (">", float(self.high_volume))}

    @property
    def depth_conditions(self) -> dict[str, tuple[str, float]]:
        """``{"shallow": ("<=", shallow_depth), "deep": (">", shallow_depth)}``."""
        return {"shallow": ("<=", float(self.shallow_depth)),
                "deep": (">", float(self.shallow_depth))}

    @property
    def quadrants(self) -> dict[str, Quadrant]:
        """Cell name -> :class:`Quadrant` (conditions from this matrix's boundaries)."""
        vc, dc = self.volume_conditions, self.depth_conditions
        return {name: Quadrant(name, title, vol, dep, vc[vol], dc[dep],
                               dict(self.quadrant_settings[name]))
                for name, (title, vol, dep) in _CELLS.items()}

    def quadrant(self, volume: str, depth: str) -> Quadrant:
        """The cell of a volume class (``"low"``/``"high"``) and depth class."""
        for q in self.quadrants.values():
            if q.volume == volume and q.depth == depth:
                return q
        raise DataError(f"no cell ({volume!r}, {depth!r})", field="quadrant",
                        expected="volume 'low'/'high' and depth 'shallow'/'deep'")

    # ------------------------------------------------------------- placement
    def place(self, volume_per_min: float, depth: float) -> QuadrantPlacement:
        """Place (tasks/min, depth) on the matrix.

        Volume below ``low_volume`` is low, above ``high_volume`` is high; the
        band in between has no cell, so the answer names the nearest one (in
        log10 volume: with the guide's boundaries the midpoint is about 316/min)
        and the blend of the two cells of the row, weighted by log-distance.

        Raises
        ------
        DataError
            A volume that is not a rate >= 0, or a depth that is not a number.

        Examples
        --------
        >>> MATRIX.place(5000, 4).quadrant
        'Scale-out required'
        >>> p = MATRIX.place(10 ** 2.5, 5)  # about 316/min, the log-midpoint
        >>> p.quadrant, p.blend
        (None, {'Reliability-focused': 0.5, 'Scale-out required': 0.5})
        """
        if volume_per_min is None or math.isnan(volume_per_min) or volume_per_min < 0:
            raise DataError(f"volume {volume_per_min!r} is not a rate", field="volume",
                            expected="tasks/min >= 0")
        if depth is None or math.isnan(depth):
            raise DataError(f"depth {depth!r} is not a depth", field="depth",
                            expected="a number of levels")
        dclass = "shallow" if depth <= self.shallow_depth else "deep"
        depth_text = (f"depth {depth:g} {'≤' if dclass == 'shallow' else '>'} "
                      f"{self.shallow_depth:g}")
        low_cell, high_cell = self.quadrant("low", dclass), self.quadrant("high", dclass)
        low_q, high_q = low_cell.title, high_cell.title
        if volume_per_min < self.low_volume:
            sentence = (f"{low_q}: {volume_per_min:.4g} tasks/min < {self.low_volume:g}/min "
                        f"(low volume) and {depth_text} ({dclass})")
            return QuadrantPlacement(volume_per_min, depth, "low", dclass, low_q, low_q,
                                     {low_q: 1.0}, 0.0, sentence, low_cell, low_cell)
        if volume_per_min > self.high_volume:
            sentence = (f"{high_q}: {volume_per_min:.4g} tasks/min > "
                        f"{self.high_volume:g}/min (high volume) and {depth_text} "
                        f"({dclass})")
            return QuadrantPlacement(volume_per_min, depth, "high", dclass, high_q, high_q,
                                     {high_q: 1.0}, 0.0, sentence, high_cell, high_cell)
        lo, hi = math.log10(self.low_volume), math.log10(self.high_volume)
        x = math.log10(volume_per_min)
        w_high = round((x - lo) / (hi - lo), 6)
        w_low = round(1.0 - w_high, 6)
        d_low, d_high = x - lo, hi - x
        nearest = low_cell if d_low <= d_high else high_cell
        dist = min(d_low, d_high)
        sentence = (
            f"between low and high volume ({volume_per_min:.4g} tasks/min is in "
            f"{self.low_volume:g}-{self.high_volume:g}/min): nearest quadrant "
            f"{nearest.title} ({d_low:.2f} decades above {self.low_volume:g}/min, "
            f"{d_high:.2f} below {self.high_volume:g}/min; {depth_text}); blend of "
            f"{low_q} ({100 * w_low:.0f} %) and {high_q} ({100 * w_high:.0f} %)"
        )
        return QuadrantPlacement(volume_per_min, depth, "between", dclass, None,
                                 nearest.title, {low_q: w_low, high_q: w_high},
                                 round(dist, 6), sentence, None, nearest)


#: The guide's matrix.
MATRIX = ClassificationMatrix()
