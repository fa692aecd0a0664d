"""Predicted effect of a configuration change: paired simulations over several seeds.

:func:`predict_change` simulates the current and the proposed configuration on the
same workload with the same seeds (common random numbers: the same arrivals, chain
lengths and time draws), so that the seed-to-seed noise largely cancels in each
pair. Per key figure it reports the mean under each configuration, the effect
(proposed minus current, relative to the current mean) and a paired-t interval of
the effect across seeds, and a verdict that names noise as noise: ``better``,
``worse``, ``within noise`` (the interval holds zero or the effect is below the
practical threshold) or ``undefined``.

Examples
--------
>>> from specanalysis.config import SpeculationConfig
>>> from specanalysis.sim import Workload
>>> cur = SpeculationConfig(enabled=True, max_parallel_branches=2)
>>> pred = predict_change(cur, cur.replace(max_parallel_branches=16),
...                       Workload(rate=6, depth="uniform:2-6"), seeds=3,
...                       duration="3m", warmup="30s")
>>> pred.verdict("latency_p50_s"), pred.verdict("memory_peak_mb")
('better', 'worse')
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from specanalysis.errors import WorkloadSpecError

__all__ = ["KEY_FIGURES", "Prediction", "predict_change", "paired_interval"]

#: Figures a change is judged on: summary key -> (label, which direction is better).
KEY_FIGURES: dict[str, tuple[str, str]] = {
    "latency_p50_s": ("latency p50", "lower"),
    "latency_p99_s": ("latency p99", "lower"),
    "task_rollback_rate_pct": ("tasks rolled back per task", "lower"),
    "avg_rollback_size": ("average rollback size", "lower"),
    "memory_peak_mb": ("peak memory", "lower"),
    "memory_avg_mb": ("average memory", "lower"),
    "proof_p50_s": ("proof p50", "lower"),
    "proof_p99_s": ("proof p99", "lower"),
    "rejected_pct": ("submissions refused", "lower"),
    "throughput_tps": ("throughput", "higher"),
}


def paired_interval(current: Sequence[float], proposed: Sequence[float],
                    confidence: float = 0.95) -> tuple[float, float, float, int]:
    """Relative effect of paired samples and its paired-t interval.

    Returns ``(effect, low, high, n)``: ``mean(proposed - current) / mean(current)``
    and its interval (fractions; multiply by 100 for %), over the ``n`` pairs where
    both values are finite. With a current mean of 0 the effect is absolute.

    Examples
    --------
    >>> e, lo, hi, n = paired_interval([10, 12, 11], [9, 11, 10])
    >>> round(e, 4), round(lo, 4), round(hi, 4), n
    (-0.0909, -0.0909, -0.0909, 3)
    """
    from scipy import stats

    a = np.asarray(current, dtype=np.float64)
    b = np.asarray(proposed, dtype=np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    n = len(a)
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    base = float(a.mean())
    scale = abs(base) if base != 0 else 1.0
    d = (b - a) / scale
    mean = float(d.mean())
    if n < 2:
        return mean, math.nan, math.nan, n
    sd = float(d.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n)
    return mean, mean - half, mean + half, n


@dataclass(frozen=True)
class Prediction:
    """Paired simulations of a current and a proposed configuration.

    Attributes
    ----------
    runs
        One row per (configuration, seed): ``config`` (``current``/``proposed``),
        ``seed`` and every summary figure.
    effects
        One row per key figure: ``figure``, ``label``, ``better`` (lower/higher),
        ``current``, ``proposed`` (means over seeds), ``effect_pct``,
        ``ci_low_pct``, ``ci_high_pct`` (the paired interval), ``n``, ``verdict``.
    seeds, duration_s, warmup_s, confidence, min_effect_pct
        How it was computed.
    """

    runs: pl.DataFrame
    effects: pl.DataFrame
    seeds: tuple[int, ...]
    duration_s: float
    warmup_s: float
    confidence: float = 0.95
    min_effect_pct: float = 1.0
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    def verdict(self, figure: str) -> str:
        """``better``, ``worse``, ``within noise`` or ``undefined`` for one figure."""
        row = self.effects.filter(pl.col("figure") == figure)
        if not row.height:
            raise KeyError(f"no key figure {figure!r}; known: {', '.join(KEY_FIGURES)}")
        return row["verdict"][0]

    def worse(self, figures: Sequence[str] | None = None) -> list[str]:
        """The key figures predicted worse beyond noise (optionally among ``figures``)."""
        f = self.effects.filter(pl.col("verdict") == "worse")
        if figures is not None:
            f = f.filter(pl.col("figure").is_in(list(figures)))
        return f["figure"].to_list()

    def tidy(self) -> pl.DataFrame:
        """The effects table (one row per key figure)."""
        return self.effects

    def describe(self, figure: str) -> str:
        """``"latency p99 -12 % [-18, -6] (better)"``: one figure, readable."""
        r = self.effects.filter(pl.col("figure") == figure).row(0, named=True)
        if r["verdict"] == "undefined":
            return f"{r['label']}: undefined"
        lo, hi = r["ci_low_pct"], r["ci_high_pct"]
        ci = "" if lo is None or math.isnan(lo) else f" [{lo:+.0f}, {hi:+.0f}]"
        return f"{r['label']} {r['effect_pct']:+.1f} %{ci} ({r['verdict']})"

    def summary(self) -> str:
        """The effects as text, with how they were computed."""
        lines = [f"Predicted effect over {len(self.seeds)} paired seeds "
                 f"({self.duration_s:g} s simulated, first {self.warmup_s:g} s dropped; "
                 f"{100 * self.confidence:.0f} % paired-t intervals; changes under "
                 f"{self.min_effect_pct:g} % count as noise):"]
        for fig in self.effects["figure"]:
            lines.append("  " + self.describe(fig))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Prediction({len(self.seeds)} seeds, worse: {self.worse() or 'none'})"

    def _repr_html_(self) -> str:
        colour = {"better": "#1a7f37", "worse": "#cf222e"}
        rows = []
        for r in self.effects.iter_rows(named=True):
            c = colour.get(r["verdict"], "#57606a")
            lo, hi = r["ci_low_pct"], r["ci_high_pct"]
            ci = "" if lo is None or math.isnan(lo) else f"[{lo:+.1f}, {hi:+.1f}]"
            eff = "" if r["effect_pct"] is None or math.isnan(r["effect_pct"]) \
                else f"{r['effect_pct']:+.1f} %"
            rows.append(f"<tr><td>{r['label']}</td><td>{_num(r['current'])}</td>"
                        f"<td>{_num(r['proposed'])}</td><td>{eff}</td><td>{ci}</td>"
                        f"<td style='color:{c}'>{r['verdict']}</td></tr>")
        return ("<table><thead><tr><th>figure</th><th>current</th><th>proposed</th>"
                "<th>effect</th><th>95 % interval</th><th>verdict</th></tr></thead>"
                f"<tbody>{''.join(rows)}</tbody></table>"
                f"<p><small>{len(self.seeds)} paired seeds, {self.duration_s:g} s "
                "simulated each.</small></p>")


def _num(x: Any) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:.4g}"


def _run(cfg: Any, workload: Any, duration: float, warmup: float, seed: int,
         settings: Any) -> dict[str, float]:
    from specanalysis.sim.engine import simulate

    return simulate(cfg, workload, duration=duration, seed=seed, settings=settings,
                    progress=False).summary(warmup=warmup)


def predict_change(current: Any, proposed: Any, workload: Any, *, seeds: int | Sequence[int] = 5,
                   duration: str | float = "10m", warmup: str | float = "1m",
                   settings: Any = None, confidence: float = 0.95,
                   min_effect_pct: float = 1.0, current_runs: dict | None = None,
                   progress: Any = None) -> Prediction:
    """Simulate ``current`` and ``proposed`` on ``workload`` with paired seeds.

    Parameters
    ----------
    current, proposed
        ``SpeculationConfig`` objects.
    workload
        The (calibrated) :class:`~specanalysis.sim.Workload`.
    seeds
        How many seeds (``0..n-1``) or the seeds themselves (at least 2 for an
        interval).
    duration, warmup
        Simulated time per run and the part dropped before measuring.
    settings
        :class:`~specanalysis.sim.SimSettings` for both runs.
    confidence
        Of the paired-t intervals.
    min_effect_pct
        Effects smaller than this (in %) are ``within noise`` even when the
        interval excludes zero: practically nothing.
    current_runs
        Summaries of ``current`` by seed already simulated (reused, not re-run:
        several proposals checked against one current configuration).
    progress
        A callable called once per finished simulation (a progress bar's update).

    Returns
    -------
    Prediction

    Raises
    ------
    WorkloadSpecError
        Fewer than one seed, or a bad duration/warm-up.
    """
    from specanalysis._time import parse_duration

    seed_list = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seed_list:
        raise WorkloadSpecError("no seeds", field="seeds", expected="at least 1 seed")
    dur = parse_duration(duration, field="duration")
    warm = parse_duration(warmup, field="warmup") if warmup else 0.0
    cache = current_runs if current_runs is not None else {}
    rows = []
    for s in seed_list:
        if s not in cache:
            cache[s] = _run(current, workload, dur, warm, s, settings)
            if progress:
                progress()
        rows.append({"config": "current", "seed": s, **cache[s]})
    for s in seed_list:
        rows.append({"config": "proposed", "seed": s,
                     **_run(proposed, workload, dur, warm, s, settings)})
        if progress:
            progress()
    runs = pl.DataFrame(rows)
    return _prediction(runs, seed_list, dur, warm, confidence, min_effect_pct,
                       _changes(current, proposed))


def _changes(current: Any, proposed: Any) -> dict[str, tuple[Any, Any]]:
    try:
        diff = current.diff(proposed)
    except AttributeError:
        return {}
    return {r["parameter"]: (r["before"], r["after"]) for r in diff.iter_rows(named=True)}


def _prediction(runs: pl.DataFrame, seeds: list[int], dur: float, warm: float,
                confidence: float, min_effect_pct: float,
                changes: dict[str, tuple[Any, Any]]) -> Prediction:
    cur = runs.filter(pl.col("config") == "current").sort("seed")
    new = runs.filter(pl.col("config") == "proposed").sort("seed")
    out = []
    for fig, (label, better) in KEY_FIGURES.items():
        a = cur[fig].to_numpy().astype(np.float64)
        b = new[fig].to_numpy().astype(np.float64)
        eff, lo, hi, n = paired_interval(a, b, confidence)
        if n == 0:
            verdict = "undefined"
        elif n < 2 or math.isnan(lo):
            verdict = "within noise"
        else:
            big = abs(eff) * 100 >= min_effect_pct
            up, down = lo > 0 and big, hi < 0 and big
            if not (up or down):
                verdict = "within noise"
            else:
                verdict = "better" if (down if better == "lower" else up) else "worse"
        out.append({"figure": fig, "label": label, "better": better,
                    "current": float(np.nanmean(a)) if np.isfinite(a).any() else math.nan,
                    "proposed": float(np.nanmean(b)) if np.isfinite(b).any() else math.nan,
                    "effect_pct": 100 * eff, "ci_low_pct": 100 * lo,
                    "ci_high_pct": 100 * hi, "n": n, "verdict": verdict})
    effects = pl.DataFrame(out).with_columns(pl.col(pl.Float64).fill_nan(None))
    return Prediction(runs=runs, effects=effects, seeds=tuple(seeds), duration_s=dur,
                      warmup_s=warm, confidence=confidence,
                      min_effect_pct=min_effect_pct, changes=changes)
