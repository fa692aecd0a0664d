"""Workload type and matrix quadrant from measured features (pure: no source access).

The tuning guide's first step names the workload: a *workload type* (high
volume / shallow, deep chains, burst traffic, steady state, mixed) and a cell
of the *classification matrix* (:mod:`specanalysis.matrix`). This module is the
decision alone, on features already measured:

* :func:`classify` -- type, time pattern, quadrant and the evidence, from a
  features mapping (or a ``feature``/``value`` frame);
* :func:`rate_features` -- burstiness and trend features of a per-minute rate
  series (a polars frame);
* :func:`classify_quadrant` -- the matrix alone, from volume and depth.

Measuring the features on a source is :func:`specanalysis.profile.characterize`,
which calls :func:`classify`.

Examples
--------
>>> p = classify_quadrant(250.0, 2.0)
>>> p.quadrant is None, p.nearest
(True, 'Conservative')
>>> print(p.sentence)  # doctest: +ELLIPSIS
between low and high volume (250 tasks/min is in 100-1000/min): nearest quadrant Conservative ...
>>> c = classify({"volume_per_min": 50.0, "depth_p90": 6.0})
>>> c.label, c.quadrant, c.pattern
('Deep Chains', 'Reliability-focused', 'undetermined')
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from specanalysis.catalogue import TASKS
from specanalysis.errors import DataError
from specanalysis.matrix import MATRIX, ClassificationMatrix, QuadrantPlacement

__all__ = [
    "Thresholds",
    "QuadrantPlacement",
    "classify_quadrant",
    "rate_features",
    "RATE_FEATURES",
    "Classification",
    "classify",
    "QUADRANTS",
    "WORKLOAD_TYPES",
]

#: (volume class, depth class) -> the cell's title, read from :data:`~specanalysis.matrix.MATRIX`.
QUADRANTS: dict[tuple[str, str], str] = {
    (q.volume, q.depth): q.title for q in MATRIX.quadrants.values()}

#: Workload type keys -> the guide's names.
WORKLOAD_TYPES: dict[str, str] = {
    "high_volume_shallow": "High Volume / Shallow",
    "deep_chains": "Deep Chains",
    "burst_traffic": "Burst Traffic",
    "steady_state": "Steady State",
    "mixed": "Mixed",
}

#: Keys :func:`rate_features` returns.
RATE_FEATURES = ("minutes", "mean_per_min", "peak_per_min", "peak_to_mean",
                 "dispersion_index", "cv", "trend_per_hour", "dispersion_detrended")


@dataclass(frozen=True)
class Thresholds(ClassificationMatrix):
    """Decision thresholds of :func:`classify`: the classification matrix plus the time pattern's.

    The matrix's fields (``low_volume``, ``high_volume``, ``shallow_depth``,
    ``depth_stat``, ``quadrant_settings``) come from
    :class:`~specanalysis.matrix.ClassificationMatrix`, so custom thresholds
    move the quadrant and its settings together.

    Attributes
    ----------
    burst_peak_to_mean, burst_dispersion
        Burst traffic when the busiest minute has at least ``burst_peak_to_mean``
        × the mean rate AND the detrended index of dispersion (variance of the
        per-minute counts around their linear trend / mean; 1 for Poisson
        arrivals) is at least ``burst_dispersion``. The dispersion guard keeps a
        low-rate stream, whose busiest minute is often 1.5-2.5× the mean by
        chance, from counting as bursty; detrending keeps a ramp from counting.
        1.5 rather than 2: at one-minute resolution a burst of 10× for 30 s
        every 2 min has a peak/mean of only 1.7.
    steady_dispersion, steady_cv
        Steady state when the detrended dispersion < ``steady_dispersion``
        or the coefficient of variation < ``steady_cv`` (small relative wobble
        at very high rates), and there is no trend.

    Why 15 and 20, not ~1: tasks arrive in dependency chains, so even a constant
    offered load gives per-minute counts over-dispersed by about E[L²]/E[L] for
    chains of L tasks (≈ 2.3 for 1-3 tasks, 3.7 for 1-5, 8 for 8-task chains;
    measured on the simulator at constant load: 2-13). Bursts of 3-10× measured
    9-1400 there. The band 15-20 is left "variable" rather than forced either way;
    very mild bursts at very low rates (a few chains per minute) cannot be told
    from chance with an hour of data and land in steady or variable.
    trend_per_hour
        |OLS slope| of the per-minute rate relative to its mean, per hour, above
        which the load is trending (not steady).
    min_minutes
        Fewer per-minute points than this and the time pattern is undetermined.
    """

    burst_peak_to_mean: float = 1.5
    burst_dispersion: float = 20.0
    steady_dispersion: float = 15.0
    steady_cv: float = 0.10
    trend_per_hour: float = 0.25
    min_minutes: int = 10


def classify_quadrant(
    volume_per_min: float, depth: float, *, thresholds: ClassificationMatrix | None = None
) -> QuadrantPlacement:
    """Place (tasks/min, depth) on the classification matrix (``thresholds.place``).

    Volume below ``low_volume`` is low, above ``high_volume`` is high; the band
    in between (boundaries included) has no quadrant of its own, so the answer
    names the nearest one (in log10 volume, midpoint ≈ 316/min) and the blend of
    the two quadrants of the row, weighted by log-distance.

    Examples
    --------
    >>> classify_quadrant(50, 2).quadrant
    'Conservative'
    >>> classify_quadrant(5000, 4).quadrant
    'Scale-out required'
    >>> p = classify_quadrant(10 ** 2.5, 5)  # ≈ 316/min, log-midpoint
    >>> p.quadrant, p.blend
    (None, {'Reliability-focused': 0.5, 'Scale-out required': 0.5})
    """
    return (thresholds or MATRIX).place(volume_per_min, depth)


# ---------------------------------------------------------------------------
# time-pattern features


def rate_features(rate_series: pl.DataFrame, *, column: str = "tasks_per_min") -> dict[str, float]:
    """Burstiness and trend features of a per-minute rate series.

    Parameters
    ----------
    rate_series
        ``timestamp`` and ``column`` (tasks in each minute), one row per minute.

    Returns
    -------
    dict
        ``minutes`` (points), ``mean_per_min``, ``peak_per_min``,
        ``peak_to_mean`` (max / mean), ``dispersion_index`` (sample variance /
        mean, 1 for Poisson counts), ``cv`` (std / mean), ``trend_per_hour``
        (OLS slope × 60 / mean: relative change per hour) and
        ``dispersion_detrended`` (variance of the OLS residuals / mean, so a
        ramp is not mistaken for bursts). NaN where undefined.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, timedelta, timezone
    >>> t0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
    >>> s = pl.DataFrame({"timestamp": [t0 + timedelta(minutes=i) for i in range(4)],
    ...                   "tasks_per_min": [10.0, 10.0, 10.0, 50.0]})
    >>> f = rate_features(s)
    >>> f["peak_to_mean"], f["dispersion_index"]
    (2.5, 20.0)
    """
    import numpy as np

    values = rate_series.get_column(column).cast(pl.Float64).drop_nulls().drop_nans()
    y = values.to_numpy()
    n = len(y)
    nan = float("nan")
    out = dict.fromkeys(RATE_FEATURES, nan)
    out["minutes"] = float(n)
    if n == 0:
        return out
    mean = float(y.mean())
    out["mean_per_min"] = mean
    out["peak_per_min"] = float(y.max())
    if mean > 0:
        out["peak_to_mean"] = float(y.max()) / mean
    if n >= 2 and mean > 0:
        var = float(y.var(ddof=1))
        out["dispersion_index"] = var / mean
        out["cv"] = math.sqrt(var) / mean
        ts = rate_series.filter(pl.col(column).is_not_null() & pl.col(column).is_not_nan())
        minutes = (
            (ts.get_column("timestamp") - ts.get_column("timestamp").min())
            .dt.total_milliseconds().to_numpy() / 60000.0
        )
        if np.ptp(minutes) > 0:
            slope, intercept = (float(c) for c in np.polyfit(minutes, y, 1))
            out["trend_per_hour"] = slope * 60.0 / mean
            if n >= 3:
                resid = y - (slope * minutes + intercept)
                out["dispersion_detrended"] = float(resid.var(ddof=2)) / mean
    return out


# ---------------------------------------------------------------------------
# the decision


@dataclass(frozen=True, eq=False)
class Classification:
    """The guide's workload type and matrix placement, with the evidence.

    Attributes
    ----------
    workload_type
        Key in :data:`WORKLOAD_TYPES` (``"burst_traffic"``, ...); ``label`` is the
        guide's name.
    traits
        Every type whose criteria were met (``workload_type`` is ``"mixed"`` when
        they combine structure and a spiky pattern, or when none is met).
    pattern
        ``"burst"``, ``"steady"``, ``"variable"`` or ``"undetermined"``.
    quadrant, nearest_quadrant, placement
        Classification-matrix result (``quadrant`` None between the volume
        boundaries; all None when the depth is unknown).
    features
        The features decided on (volume, depth statistics, per-minute rate
        statistics).
    evidence
        Readable sentences: which feature crossed which threshold.
    thresholds
        The thresholds used (matrix included).
    """

    workload_type: str
    label: str
    traits: tuple[str, ...]
    pattern: str
    quadrant: str | None
    nearest_quadrant: str | None
    placement: QuadrantPlacement | None
    features: dict[str, float]
    evidence: tuple[str, ...]
    thresholds: Thresholds

    def features_frame(self) -> pl.DataFrame:
        """``feature``, ``value`` rows of :attr:`features`."""
        return pl.DataFrame(
            {"feature": list(self.features), "value": list(self.features.values())},
            schema={"feature": pl.String, "value": pl.Float64},
        )

    @property
    def settings(self) -> dict | None:
        """The matrix cell's settings (nearest cell between the boundaries; None
        when the depth is unknown)."""
        if self.placement is None or self.placement.nearest_cell is None:
            return None
        return dict(self.placement.nearest_cell.settings)

    def summary(self) -> str:
        """Type, quadrant and evidence as text."""
        lines = [f"Workload type: {self.label}"
                 + (f" (traits: {', '.join(WORKLOAD_TYPES[t] for t in self.traits)})"
                    if self.traits else "")]
        if self.placement is not None:
            lines.append(f"Matrix: {self.placement.sentence}")
        lines.append("Evidence:")
        lines.extend(f"  - {e}" for e in self.evidence)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.label!r}, quadrant={self.quadrant!r}, "
                f"nearest={self.nearest_quadrant!r}, "
                f"volume={self.features.get('volume_per_min', float('nan')):.4g}/min, "
                f"pattern={self.pattern!r})")

    def _repr_html_(self) -> str:
        from html import escape

        items = "".join(f"<li>{escape(e)}</li>" for e in self.evidence)
        matrix = escape(self.placement.sentence) if self.placement else "n/a"
        return (f"<div><b>Workload type:</b> {escape(self.label)}<br>"
                f"<b>Matrix:</b> {matrix}<ul>{items}</ul></div>")


def _features_dict(features: Mapping[str, float] | pl.DataFrame) -> dict[str, float]:
    if isinstance(features, pl.DataFrame):
        if not {"feature", "value"} <= set(features.columns):
            raise DataError(f"columns {features.columns}", field="features",
                            expected="a frame with columns feature and value")
        pairs = zip(features["feature"].to_list(), features["value"].to_list(), strict=True)
        features = dict(pairs)
    if not isinstance(features, Mapping):
        raise DataError(f"got {type(features).__name__}", field="features",
                        expected="a mapping feature -> value or a feature/value frame")
    out: dict[str, float] = {}
    for key, value in features.items():
        try:
            out[str(key)] = float("nan") if value is None else float(value)
        except (TypeError, ValueError):
            raise DataError(f"{value!r} is not a number", field=f"features.{key}",
                            expected="a number or NaN") from None
    return out


def _pattern(f: Mapping[str, float], th: Thresholds, evidence: list[str]) -> str:
    ptm, disp, cv, trend = (f["peak_to_mean"], f["dispersion_detrended"], f["cv"],
                            f["trend_per_hour"])
    minutes = f["minutes"]
    if math.isnan(minutes) or minutes < th.min_minutes or math.isnan(disp):
        shown = 0 if math.isnan(minutes) else int(minutes)
        evidence.append(f"time pattern undetermined: {shown} per-minute points "
                        f"(need >= {th.min_minutes})")
        return "undetermined"
    bursty = ptm >= th.burst_peak_to_mean and disp >= th.burst_dispersion
    trending = abs(trend) >= th.trend_per_hour
    calm = disp < th.steady_dispersion or cv < th.steady_cv
    if bursty:
        evidence.append(
            f"bursty: busiest minute {f['peak_per_min']:.4g} tasks = {ptm:.2f} × "
            f"the mean (>= {th.burst_peak_to_mean:g}) and detrended index of dispersion "
            f"{disp:.3g} (>= {th.burst_dispersion:g}; Poisson ≈ 1, chained arrivals a "
            "few units)")
        return "burst"
    if calm and not trending:
        evidence.append(
            f"steady: detrended index of dispersion {disp:.3g} "
            f"({'<' if disp < th.steady_dispersion else '>='} "
            f"{th.steady_dispersion:g}), CV {cv:.3g}, trend "
            f"{100 * trend:+.1f} %/h (|trend| < {100 * th.trend_per_hour:g} %/h), "
            f"peak/mean {ptm:.2f}")
        return "steady"
    why = []
    if trending:
        why.append(f"trend {100 * trend:+.1f} %/h (|trend| >= "
                   f"{100 * th.trend_per_hour:g} %/h)")
    if not calm:
        why.append(f"detrended index of dispersion {disp:.3g} >= "
                   f"{th.steady_dispersion:g}"
                   f" and CV {cv:.3g} >= {th.steady_cv:g}")
    if not bursty:
        why.append(f"not bursty (peak/mean {ptm:.2f}, needs >= "
                   f"{th.burst_peak_to_mean:g} with dispersion >= "
                   f"{th.burst_dispersion:g})")
    evidence.append("variable load, neither steady nor bursty: " + "; ".join(why))
    return "variable"


def classify(
    features: Mapping[str, float] | pl.DataFrame,
    *,
    thresholds: Thresholds | None = None,
    notes: Mapping[str, str] | None = None,
) -> Classification:
    """Decide the guide's workload type and matrix quadrant from measured features.

    Parameters
    ----------
    features
        Feature -> value (or a ``feature``/``value`` frame). Read:
        ``volume_per_min`` (required), ``depth_<stat>`` for the matrix's
        ``depth_stat`` (``depth_p90`` by default), and the per-minute rate
        features of :func:`rate_features` (absent ones are NaN: pattern
        undetermined). Missing depth means no structure trait and no quadrant.
    thresholds
        Decision thresholds (:class:`Thresholds`; defaults: the guide's matrix).
    notes
        Why a figure is missing, by feature name (shown in the evidence).

    Returns
    -------
    Classification

    Raises
    ------
    DataError
        No volume (``volume_per_min`` absent or NaN), or a non-numeric feature.

    Notes
    -----
    Decision, in order:

    1. *pattern*: ``burst`` if peak/mean >= 1.5 and detrended dispersion >= 20;
       ``steady`` if (detrended dispersion < 15 or CV < 0.10) and |trend| < 25 %/h;
       else ``variable`` (``undetermined`` with fewer than 10 minutes of data);
    2. *structure*: ``high_volume_shallow`` if volume > 1000/min and depth
       (``depth_stat``, default p90) <= 3; ``deep_chains`` if depth > 3 and
       volume <= 1000/min; high volume *and* deep is a combination -> mixed;
    3. type: a structure trait alone or with a steady pattern -> that trait; a
       pattern alone -> burst traffic / steady state; a structure trait with a
       burst pattern, or nothing matched -> mixed.

    (Numbers are the defaults of :class:`Thresholds`.)

    Examples
    --------
    >>> c = classify({"volume_per_min": 3000.0, "depth_p90": 2.0})
    >>> c.workload_type, c.quadrant, c.settings["proof.batch_size"]
    ('high_volume_shallow', 'Throughput-optimized', 50)
    >>> classify({"volume_per_min": 3000.0, "depth_p90": 2.0},
    ...          thresholds=Thresholds(high_volume=5000.0)).quadrant is None
    True
    """
    th = thresholds or Thresholds()
    notes = dict(notes or {})
    feats = _features_dict(features)
    for key in ("volume_per_min", f"depth_{th.depth_stat}", *RATE_FEATURES):
        feats.setdefault(key, float("nan"))
    evidence: list[str] = []
    volume = feats["volume_per_min"]
    if math.isnan(volume):
        why = notes.get("volume_per_min", "volume_per_min is missing or NaN")
        raise DataError("cannot characterise the workload without a task rate: " + why,
                        field=TASKS,
                        expected="a tasks counter with samples")
    depth = feats[f"depth_{th.depth_stat}"]

    pattern = _pattern(feats, th, evidence)

    traits: list[str] = []
    placement = None
    if math.isnan(depth):
        note = notes.get(f"depth_{th.depth_stat}", f"depth_{th.depth_stat} not measured")
        evidence.append(f"depth unknown ({note}); structure and matrix quadrant not "
                        "decided")
        if volume > th.high_volume:
            evidence.append(f"volume {volume:.4g} tasks/min > {th.high_volume:g}/min")
    else:
        placement = th.place(volume, depth)
        deep = depth > th.shallow_depth
        high = volume > th.high_volume
        vtext = (f"volume {volume:.4g} tasks/min "
                 + (f"> {th.high_volume:g}" if high else f"<= {th.high_volume:g}")
                 + "/min")
        dtext = (f"depth {th.depth_stat} {depth:g} "
                 + (f"> {th.shallow_depth:g}" if deep else f"<= {th.shallow_depth:g}"))
        if high and not deep:
            traits.append("high_volume_shallow")
            evidence.append(f"high volume / shallow: {vtext} and {dtext}")
        elif deep and not high:
            traits.append("deep_chains")
            evidence.append(f"deep chains: {dtext} and {vtext}")
        elif deep and high:
            evidence.append(f"high volume and deep at once ({vtext}, {dtext}): a "
                            "combination of high-volume and deep-chain traits")
        else:
            evidence.append(f"neither high volume nor deep ({vtext}, {dtext})")
        evidence.append("matrix: " + placement.sentence)
    if pattern == "burst":
        traits.append("burst_traffic")
    elif pattern == "steady":
        traits.append("steady_state")

    structural = [t for t in traits if t in ("high_volume_shallow", "deep_chains")]
    if (not math.isnan(depth)) and depth > th.shallow_depth and volume > th.high_volume:
        wtype = "mixed"
    elif structural and pattern == "burst":
        wtype = "mixed"
        evidence.append(f"mixed: {WORKLOAD_TYPES[structural[0]]} with burst traffic")
    elif structural:
        wtype = structural[0]
    elif pattern == "burst":
        wtype = "burst_traffic"
    elif pattern == "steady":
        wtype = "steady_state"
    else:
        wtype = "mixed"
        evidence.append("mixed: no single workload type's criteria were met")

    return Classification(
        workload_type=wtype,
        label=WORKLOAD_TYPES[wtype],
        traits=tuple(traits),
        pattern=pattern,
        quadrant=placement.quadrant if placement else None,
        nearest_quadrant=placement.nearest if placement else None,
        placement=placement,
        features=feats,
        evidence=tuple(evidence),
        thresholds=th,
    )
