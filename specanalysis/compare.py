"""Before/after verdicts an SRE can defend.

:func:`compare` judges a tuning change from two sets of measurements of the
same kind and returns a :class:`Comparison`:

* **benchmark runs** (:class:`~specanalysis.sim.bench.BenchResult` objects, result
  files or result directories): per benchmark test and figure, the medians with
  distribution-free intervals, the ratio after/before with a Hodges-Lehmann
  interval on logs, an exact Mann-Whitney p-value (benchstat's numbers),
  Holm-adjusted across the figures of each test. Rollback rates are also
  tested on the pooled counts with an exact Poisson test.
* **monitoring windows** (:func:`window` over any ``Source``, or two samples
  frames): autocorrelated series are cut into blocks at least as long as the
  PromQL range and five autocorrelation times; the test runs on the block
  means (Welch), with the effective sample size and a Newey-West (HAC)
  cross-check. Counts (rollbacks, timeouts) get exact Poisson rate tests;
  histogram quantiles carry their bucket-resolution bounds and a change inside
  them is never called a change.
* **/metrics snapshots** (two exposition texts or files, or two ``(pre, post)``
  pairs): counts and histogram buckets compared exactly; gauges shown but not
  judged (one value has no variability).

Each figure gets a direction-aware verdict: ``improved``, ``regressed``,
``equivalent`` (the 90 % interval of the change lies within the tolerance,
default :data:`specanalysis.catalogue.TOLERANCES`), ``inconclusive`` (with the
minimum detectable effect and what would resolve it), or ``changed`` for a
figure without a better direction. The overall verdict comes with the guide's
rigour checks (at least 3 runs, CV under 10 %, a warm-up cut, no drift across
run order, configurations that differ only in the announced change).

Examples
--------
>>> from specanalysis.sim.bench import default_config, run_benchmark
>>> kw = dict(duration="90s", rate=20, warmup="30s", progress=False)
>>> cfg = default_config()
>>> before = [run_benchmark(cfg, seed=s, **kw) for s in (1, 2, 3, 4, 5)]
>>> after = [run_benchmark(cfg.replace(max_depth=2), seed=s, **kw)
...          for s in (11, 12, 13, 14, 15)]
>>> c = compare(before, after, metrics=["memory_avg_mb"], change="max_depth")
>>> c.verdicts()
{'ad-hoc/memory_avg_mb': 'improved'}
>>> c.checks.filter(pl.col("check") == "only the announced change")["status"][0]
'pass'
"""

from __future__ import annotations

import html
import math
import sys
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from specanalysis._time import format_duration, parse_duration, to_datetime
from specanalysis.catalogue import (
    ACTIVE,
    CONFIRM,
    CONFIRMED,
    E2E,
    MEMORY,
    PROOF,
    QUEUE_DEPTH,
    ROLLBACKS,
    ROLLED_BACK,
    TASKS,
)
from specanalysis.errors import DataError, SpecAnalysisError

__all__ = [
    "compare",
    "Comparison",
    "Window",
    "window",
    "VERDICTS",
    "RUN_FIGURES",
    "WINDOW_FIGURES",
    "load_runs",
]

#: Per-figure verdicts.
VERDICTS = ("improved", "regressed", "equivalent", "inconclusive", "changed")
#: Colours of the verdicts in HTML (better green, worse red).
COLOURS = {"improved": "#1a7f37", "regressed": "#cf222e", "equivalent": "#57606a",
           "inconclusive": "#9a6700", "changed": "#0969da"}

#: Benchmark summary figures compared by default (the guide's key metrics).
RUN_FIGURES = (
    "throughput_tps", "latency_p50_s", "latency_p99_s", "rollback_rate_pct",
    "avg_rollback_size", "memory_avg_mb", "memory_per_active_task_mb",
    "proof_p99_s", "recovery_time_s",
)

POWER = 0.8
#: Mann-Whitney's asymptotic relative efficiency against the t test (normal data).
MW_ARE = 3.0 / math.pi

TIDY_SCHEMA: dict[str, pl.DataType] = {
    "metric": pl.String(), "test": pl.String(), "figure": pl.String(),
    "label": pl.String(), "unit": pl.String(), "better": pl.String(),
    "method": pl.String(), "n_before": pl.Int64(), "n_after": pl.Int64(),
    "before": pl.Float64(), "before_lo": pl.Float64(), "before_hi": pl.Float64(),
    "after": pl.Float64(), "after_lo": pl.Float64(), "after_hi": pl.Float64(),
    "change_pct": pl.Float64(), "change_lo_pct": pl.Float64(),
    "change_hi_pct": pl.Float64(), "p_value": pl.Float64(),
    "p_adjusted": pl.Float64(), "tolerance_pct": pl.Float64(),
    "verdict": pl.String(), "mde_pct": pl.Float64(), "n_needed": pl.Int64(),
    "needed": pl.String(), "reason": pl.String(),
    "ess_before": pl.Float64(), "ess_after": pl.Float64(),
}


def _z(p: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(p)


# ============================================================== input: windows


@dataclass(frozen=True)
class Window:
    """A time window of a metrics source (``Source`` with ``evaluate_range``)."""

    source: Any
    start: datetime
    end: datetime
    label: str = ""

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    def __repr__(self) -> str:
        return (f"Window({type(self.source).__name__}, {self.start.isoformat()} - "
                f"{self.end.isoformat()})")


def window(source: Any, start: Any = None, end: Any = None, *, label: str = "") -> Window:
    """A :class:`Window` of ``source`` (a ``Source`` or a samples frame).

    ``start``/``end`` default to the source's data range (``time_range()``);
    ``end`` may also be a duration after ``start`` (``"2h"``).

    Raises
    ------
    DataError
        A reversed or empty window, or a source without a known range and no
        explicit times.
    """
    src = _as_source(source)
    rng = None
    fn = getattr(src, "time_range", None)
    if fn is not None:
        try:
            rng = fn()
        except NotImplementedError:
            rng = None
    if start is None or end is None:
        if rng is None or rng[0] is None:
            raise DataError("the source cannot say its time range", field="window",
                            expected="explicit start and end")
    s = to_datetime(start, field="start") if start is not None else to_datetime(rng[0])
    if end is None:
        e = to_datetime(rng[1])
    elif isinstance(end, str):
        try:
            e = s + timedelta(seconds=parse_duration(end, field="end"))
        except SpecAnalysisError:
            e = to_datetime(end, field="end")
    else:
        e = to_datetime(end, field="end")
    if e <= s:
        raise DataError(f"window end {e.isoformat()} is not after its start "
                        f"{s.isoformat()}", field="window",
                        expected="start < end (a reversed window?)")
    return Window(src, s, e, label)


def _as_source(obj: Any) -> Any:
    if isinstance(obj, pl.DataFrame):
        from specanalysis.sources.offline import OfflineSource

        return OfflineSource(obj)
    if hasattr(obj, "evaluate_range") and hasattr(obj, "evaluate"):
        return obj
    raise DataError(f"got {type(obj).__name__}", field="source",
                    expected="an OfflineSource, a PrometheusSource or a samples frame")


# ================================================================= input: runs


def load_runs(obj: Any) -> list[Any]:
    """Benchmark runs from results, result files, or result directories.

    Accepts a :class:`~specanalysis.sim.bench.BenchResult`, a path to a result
    JSON file, a directory (every ``*.json`` result in it; ``manifest.json`` is
    skipped), or a list of any of these.

    Raises
    ------
    DataError
        Nothing that is a benchmark result was found.
    """
    from specanalysis.sim.bench import BenchResult, read_bench_result

    items = list(obj) if isinstance(obj, list | tuple) else [obj]
    out: list[BenchResult] = []
    for item in items:
        if isinstance(item, BenchResult):
            out.append(item)
            continue
        path = Path(item)
        if path.is_dir():
            files = sorted(p for p in path.glob("*.json") if p.name != "manifest.json")
            if not files:
                raise DataError("no benchmark result files (*.json)", source=str(path),
                                expected="a directory written by `specanalysis bench "
                                "suite` or result files")
            out.extend(read_bench_result(p) for p in files)
        else:
            out.append(read_bench_result(path))
    if not out:
        raise DataError("no benchmark runs given", field="runs",
                        expected="at least one result")
    return out


# ======================================================================== result


@dataclass(frozen=True)
class Comparison:
    """A judged before/after comparison (see :func:`compare`).

    Attributes
    ----------
    kind
        ``"runs"``, ``"windows"`` or ``"snapshots"``.
    metrics
        One row per figure (the :meth:`tidy` frame).
    checks
        The rigour checks: ``check``, ``status`` (``pass``/``warn``/``fail``/
        ``n/a``) and ``detail``.
    values
        The observations behind each figure (run values or block means):
        ``metric``, ``side``, ``order``, ``value``.
    overall
        ``improved``, ``regressed``, ``mixed``, ``equivalent`` or
        ``inconclusive``.
    """

    kind: str
    metrics: pl.DataFrame
    checks: pl.DataFrame
    values: pl.DataFrame = field(repr=False)
    overall: str = "inconclusive"
    overall_reason: str = ""
    alpha: float = 0.05
    confidence: float = 0.95
    labels: tuple[str, str] = ("before", "after")
    sources: tuple[str, str] = ("", "")
    config_diff: pl.DataFrame | None = field(default=None, repr=False)
    notes: tuple[str, ...] = ()

    # ---------------------------------------------------------------- protocol
    def tidy(self) -> pl.DataFrame:
        """One row per figure: estimates, intervals, p-values, verdict, MDE."""
        return self.metrics

    def verdicts(self) -> dict[str, str]:
        """Figure -> verdict."""
        return dict(zip(self.metrics["metric"].to_list(),
                        self.metrics["verdict"].to_list(), strict=True))

    def failed(self, fail_on: str) -> bool:
        """Whether a CI gate ``fail_on`` (``regression``/``inconclusive``) is met.

        ``regression``: any figure regressed. ``inconclusive``: any figure
        regressed or inconclusive, or a rigour check failed.
        """
        v = set(self.metrics["verdict"].to_list())
        if fail_on == "regression":
            return "regressed" in v
        if fail_on == "inconclusive":
            failed_checks = "fail" in set(self.checks["status"].to_list())
            return bool({"regressed", "inconclusive"} & v) or failed_checks
        raise DataError(f"unknown gate {fail_on!r}", field="fail_on",
                        expected="'regression' or 'inconclusive'")

    def summary(self) -> str:
        """The verdicts as a text table with the rigour checks and notes."""
        lines = [f"Comparison of {self.kind}: {self.labels[0]} -> {self.labels[1]}",
                 f"Overall: {self.overall.upper()}"
                 + (f" ({self.overall_reason})" if self.overall_reason else ""), ""]
        header = f"{'metric':<36} {'before':>11} {'after':>11} {'change':>22}  verdict"
        lines += [header, "-" * len(header)]
        for r in self.metrics.iter_rows(named=True):
            lines.append(
                f"{r['metric'][:36]:<36} {_num(r['before']):>11} {_num(r['after']):>11} "
                f"{_change_text(r):>22}  {r['verdict']}"
                + (f": {r['reason']}" if r["reason"] and r["verdict"] != "improved"
                   and r["verdict"] != "regressed" else ""))
        lines += ["", "Rigour checks:"]
        for r in self.checks.iter_rows(named=True):
            lines.append(f"  [{r['status']:>4}] {r['check']}: {r['detail']}")
        if self.notes:
            lines += ["", "Notes:"] + [f"  - {n}" for n in self.notes]
        return "\n".join(lines)

    def __repr__(self) -> str:
        counts = self.metrics.group_by("verdict").len().sort("verdict")
        parts = ", ".join(f"{v} {n}" for v, n in counts.iter_rows())
        return (f"Comparison(kind={self.kind!r}, overall={self.overall!r}, "
                f"{self.metrics.height} figures: {parts})")

    def _repr_html_(self) -> str:
        e = html.escape
        rows = []
        for r in self.metrics.iter_rows(named=True):
            colour = COLOURS.get(r["verdict"], "#000")
            rows.append(
                "<tr>"
                f"<td>{e(r['metric'])}</td><td>{e(r['unit'] or '')}</td>"
                f"<td style='text-align:right'>{e(_num(r['before']))}</td>"
                f"<td style='text-align:right'>{e(_num(r['after']))}</td>"
                f"<td style='text-align:right'>{e(_change_text(r))}</td>"
                f"<td style='color:{colour};font-weight:bold' "
                f"class='verdict-{e(r['verdict'])}'>{e(r['verdict'])}</td>"
                f"<td>{e(r['reason'] or '')}</td></tr>")
        checks = "".join(
            f"<li><b>{e(r['status'])}</b> {e(r['check'])}: {e(r['detail'])}</li>"
            for r in self.checks.iter_rows(named=True))
        colour = COLOURS.get(self.overall, "#000")
        return (
            "<div class='specanalysis-comparison'>"
            f"<p><b>{e(self.labels[0])} → {e(self.labels[1])}</b> ({e(self.kind)}): "
            f"overall <span style='color:{colour};font-weight:bold'>"
            f"{e(self.overall)}</span> {e(self.overall_reason)}</p>"
            "<table><thead><tr><th>metric</th><th>unit</th><th>before</th>"
            "<th>after</th><th>change (CI)</th><th>verdict</th><th>why</th></tr>"
            f"</thead><tbody>{''.join(rows)}</tbody></table>"
            f"<p>Rigour checks:</p><ul>{checks}</ul></div>")

    # ------------------------------------------------------------------ plots
    def compare_frame(self) -> pl.DataFrame:
        """Change per figure with its interval, tolerance and verdict colour."""
        return self.metrics.select(
            "metric", "label", "verdict", "change_pct", "change_lo_pct",
            "change_hi_pct", "tolerance_pct",
        ).with_columns(pl.col("verdict").replace_strict(COLOURS, default="#000")
                       .alias("colour"))

    def plot_frame(self) -> pl.DataFrame:
        """Before/after observations per figure plus each side's centre and interval.

        Columns ``metric``, ``side``, ``kind`` (``"value"`` for an observation,
        ``"center"`` for the median/mean with ``lo``/``hi``), ``value``, ``lo``,
        ``hi``.
        """
        obs = self.values.select(
            "metric", "side", pl.lit("value").alias("kind"), "value",
            pl.lit(None, pl.Float64).alias("lo"), pl.lit(None, pl.Float64).alias("hi"))
        centers = []
        for r in self.metrics.iter_rows(named=True):
            for side in ("before", "after"):
                centers.append((r["metric"], self.labels[0 if side == "before" else 1],
                                "center", r[side], r[f"{side}_lo"], r[f"{side}_hi"]))
        cen = pl.DataFrame(centers, schema=obs.schema, orient="row")
        return pl.concat([obs, cen]).with_columns(
            pl.col("value").fill_nan(None), pl.col("lo").fill_nan(None),
            pl.col("hi").fill_nan(None))

    def plot(self, *, metrics: Sequence[str] | None = None, cols: int = 3) -> Any:
        """Before/after distributions per figure with their intervals (holoviews)."""
        from specanalysis._optional import require

        hv = require("holoviews")
        require("hvplot.polars")
        frame = self.plot_frame()
        names = list(metrics) if metrics else self.metrics["metric"].to_list()
        if not names:
            raise DataError("nothing to plot: the comparison has no figures",
                            field="metrics")
        panels = []
        for name in names:
            f = frame.filter(pl.col("metric") == name)
            pts = f.filter(pl.col("kind") == "value").drop_nulls("value")
            cen = f.filter(pl.col("kind") == "center").drop_nulls("value")
            verdict = self.verdicts().get(name, "")
            el = hv.Scatter(pts.select("side", "value").rows(), "side", "value").opts(
                size=6, alpha=0.6, color="#444")
            if cen.height:
                bars = [(s, v, (v - lo) if lo is not None and math.isfinite(lo) else 0.0,
                         (hi - v) if hi is not None and math.isfinite(hi) else 0.0)
                        for s, v, lo, hi in cen.select("side", "value", "lo", "hi").rows()]
                el = el * hv.ErrorBars(bars, "side", ["value", "neg", "pos"]).opts(
                    color=COLOURS.get(verdict, "#000"), line_width=2) * hv.Scatter(
                    [(s, v) for s, v, _, _ in bars], "side", "value").opts(
                    color=COLOURS.get(verdict, "#000"), size=10, marker="diamond")
            panels.append(el.opts(title=f"{name} ({verdict})", width=300, height=240))
        return hv.Layout(panels).cols(cols)


def _num(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    a = abs(x)
    if a != 0 and (a >= 1e5 or a < 1e-3):
        return f"{x:.3g}"
    return f"{x:.4g}"


def _change_text(r: Mapping[str, Any]) -> str:
    c = r["change_pct"]
    if c is None or math.isnan(c):
        return "-"
    lo, hi = r["change_lo_pct"], r["change_hi_pct"]
    if lo is None or hi is None or math.isnan(lo) or math.isnan(hi):
        return f"{c:+.1f}%"
    fmt = (lambda v: "inf" if math.isinf(v) else f"{v:+.1f}")  # noqa: E731
    return f"{c:+.1f}% [{fmt(lo)}, {fmt(hi)}]"


# ==================================================================== verdicts


def _tolerance(figure: str, tolerance: Any) -> float:
    from specanalysis.catalogue import DEFAULT_TOLERANCE, TOLERANCES

    if tolerance is None:
        return TOLERANCES.get(figure, DEFAULT_TOLERANCE)
    if isinstance(tolerance, Mapping):
        if figure in tolerance:
            return _check_tol(tolerance[figure], figure)
        return TOLERANCES.get(figure, DEFAULT_TOLERANCE)
    return _check_tol(tolerance, "tolerance")


def _check_tol(value: Any, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = math.nan
    if not (0 < v < 1):
        raise DataError(f"tolerance {value!r} for {name} is not a fraction in (0, 1)",
                        field="tolerance", expected="e.g. 0.05 for ±5 %")
    return v


def _verdict(better: str | None, ratio: float, lo: float, hi: float, lo90: float,
             hi90: float, p_adj: float, alpha: float, tol: float) -> tuple[str, str]:
    """Verdict and reason from a ratio after/before with 95 % and 90 % intervals."""
    if not all(math.isfinite(v) for v in (ratio,)) or math.isnan(p_adj):
        return "inconclusive", "no estimate"
    within = (math.isfinite(lo90) and math.isfinite(hi90)
              and lo90 >= 1 - tol and hi90 <= 1 + tol)
    significant = p_adj < alpha and (lo > 1 or hi < 1)
    if significant and not within:
        if better is None:
            return "changed", f"p={p_adj:.3g} (no better direction for this figure)"
        up = ratio > 1
        good = up if better == "higher" else not up
        return ("improved" if good else "regressed"), f"p={p_adj:.3g}"
    if within:
        extra = "; detectable but smaller than the tolerance" if significant else ""
        level = 100 * (1 - 2 * alpha)
        return "equivalent", (f"{level:.0f}% interval of the change "
                              f"[{100 * (lo90 - 1):+.1f}%, {100 * (hi90 - 1):+.1f}%] "
                              f"within ±{100 * tol:.0f}%" + extra)
    return "inconclusive", ""


def _needed_runs(s_log: float, tol: float, alpha_family: float) -> int:
    """Runs per side for a U test to detect a change of ``tol`` with 80 % power."""
    from specanalysis.stats import mw_min_p

    n_min = 2
    while mw_min_p(n_min, n_min) > alpha_family and n_min < 200:
        n_min += 1
    n_min = max(n_min, 3)
    if not math.isfinite(s_log) or s_log <= 0:
        return n_min
    za, zb = _z(1 - alpha_family / 2), _z(POWER)
    n = math.ceil(2 * (za + zb) ** 2 * s_log**2 / (MW_ARE * math.log1p(tol) ** 2))
    return max(n_min, n)


# ======================================================================= runs


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, Mapping):
            out.update(_flatten(v, key))
        else:
            out[key] = v
    return out


def _config_diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> pl.DataFrame:
    fb, fa = _flatten(before), _flatten(after)
    rows = [(k, _show(fb.get(k)), _show(fa.get(k)))
            for k in sorted(set(fb) | set(fa)) if fb.get(k) != fa.get(k)]
    return pl.DataFrame(rows, schema={"parameter": pl.String, "before": pl.String,
                                      "after": pl.String}, orient="row")


def _show(v: Any) -> str:
    if v is None:
        return "(absent)"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _config_check(diff: pl.DataFrame, change: Sequence[str] | None) -> tuple[str, str]:
    keys = diff["parameter"].to_list()
    if change:
        norm = {c.removeprefix("speculation.") for c in change}
        extra = [k for k in keys if k.removeprefix("speculation.") not in norm]
        if extra:
            return "fail", ("configurations differ beyond the announced change: "
                            + ", ".join(_diff_text(diff, extra)))
        if not keys:
            return "warn", "configurations are identical (an A/A comparison)"
        return "pass", "only the announced change: " + ", ".join(_diff_text(diff, keys))
    if not keys:
        return "warn", "configurations are identical (an A/A comparison)"
    if len(keys) == 1:
        return "pass", "one change: " + ", ".join(_diff_text(diff, keys))
    return "fail", (f"configurations differ in {len(keys)} keys (announce the change "
                    "with change=...): " + ", ".join(_diff_text(diff, keys)))


def _diff_text(diff: pl.DataFrame, keys: Sequence[str]) -> list[str]:
    d = {p: (b, a) for p, b, a in diff.iter_rows()}
    return [f"{k} {d[k][0]} -> {d[k][1]}" for k in keys][:8]


def _cv_pct(v: np.ndarray) -> float:
    if v.size < 2 or v.mean() == 0:
        return math.nan
    return float(100 * v.std(ddof=1) / abs(v.mean()))


def _row(**kw: Any) -> dict[str, Any]:
    row = dict.fromkeys(TIDY_SCHEMA)
    row.update(kw)
    return row


def _runs_rows(test: str, before: list[Any], after: list[Any], figures: Sequence[str],
               alpha: float, confidence: float, tolerance: Any,
               values: list[tuple]) -> list[dict[str, Any]]:
    from specanalysis.sim.bench import SUMMARY_FIELDS
    from specanalysis.stats import hodges_lehmann, mann_whitney, median_ci, mw_min_p

    rows = []
    fam = len(figures)
    for fig in figures:
        unit, better, desc = SUMMARY_FIELDS[fig]
        metric = f"{test}/{fig}"
        raw_b = np.array([float(r.summary.get(fig, math.nan)) for r in before])
        raw_a = np.array([float(r.summary.get(fig, math.nan)) for r in after])
        for side, arr in (("before", raw_b), ("after", raw_a)):
            for i, v in enumerate(arr):
                values.append((metric, side, i + 1, float(v)))
        b, a = raw_b[~np.isnan(raw_b)], raw_a[~np.isnan(raw_a)]
        tol = _tolerance(fig, tolerance)
        base = {"metric": metric, "test": test, "figure": fig, "label": desc, "unit": unit,
                "better": better, "n_before": int(b.size), "n_after": int(a.size),
                "tolerance_pct": 100 * tol}
        if b.size == 0 or a.size == 0:
            side = "before" if b.size == 0 else "after"
            rows.append(_row(**base, method="none", verdict="inconclusive",
                             reason=f"no values {side} (missing or NaN in every run)",
                             mde_pct=math.inf))
            continue
        mb, bl, bh, _ = median_ci(b, confidence)
        ma, al, ah, _ = median_ci(a, confidence)
        positive = bool((b > 0).all() and (a > 0).all())
        if positive:
            lb, la = np.log(b), np.log(a)
            shift, lo, hi = hodges_lehmann(lb, la, confidence)
            _, lo90, hi90 = hodges_lehmann(lb, la, 1 - 2 * alpha)
            ratio, rlo, rhi = math.exp(shift), math.exp(lo), math.exp(hi)
            r90lo, r90hi = math.exp(lo90), math.exp(hi90)
            pooled = np.concatenate([lb - np.median(lb), la - np.median(la)])
        else:
            shift, lo, hi = hodges_lehmann(b, a, confidence)
            _, lo90, hi90 = hodges_lehmann(b, a, 1 - 2 * alpha)
            den = abs(mb) if mb != 0 else math.nan
            ratio, rlo, rhi = 1 + shift / den, 1 + lo / den, 1 + hi / den
            r90lo, r90hi = 1 + lo90 / den, 1 + hi90 / den
            pooled = np.concatenate([b - np.median(b), a - np.median(a)]) / den
        mw = mann_whitney(b, a)
        s_log = float(np.std(pooled, ddof=1)) * 1.2533 if pooled.size > 2 else math.nan
        n_needed = _needed_runs(s_log, tol, alpha / fam)
        if mw_min_p(b.size, a.size) * fam > alpha:
            mde = math.inf
        else:
            za, zb = _z(1 - alpha / fam / 2), _z(POWER)
            se = s_log * math.sqrt(1 / b.size + 1 / a.size) / math.sqrt(MW_ARE)
            mde = 100 * math.expm1((za + zb) * se) if math.isfinite(se) else math.inf
        rows.append(_row(
            **base, method="Mann-Whitney (exact)" if mw.method == "exact"
            else "Mann-Whitney (normal approx.)",
            before=mb, before_lo=bl, before_hi=bh, after=ma, after_lo=al, after_hi=ah,
            change_pct=100 * (ratio - 1), change_lo_pct=100 * (rlo - 1),
            change_hi_pct=100 * (rhi - 1), p_value=mw.p_value,
            _r90=(r90lo, r90hi), _ratio=(ratio, rlo, rhi), mde_pct=mde,
            n_needed=n_needed, _note=mw.note))
    return rows


def _pooled_rollback_row(test: str, before: list[Any], after: list[Any], alpha: float,
                         confidence: float, tolerance: Any) -> dict[str, Any] | None:
    """Rollbacks per execution attempt on the pooled counts of the runs' series."""
    from scipy.stats import chi2

    from specanalysis.stats import poisson_rate_test

    def counts(runs: list[Any]) -> tuple[np.ndarray, np.ndarray] | None:
        c, e = [], []
        for r in runs:
            s = r.series
            if "rollbacks" not in s.columns or "executed" not in s.columns:
                return None
            c.append(float(s["rollbacks"].sum()))
            e.append(float(s["executed"].sum()))
        return np.array(c), np.array(e)

    cb, ca = counts(before), counts(after)
    if cb is None or ca is None or cb[1].sum() <= 0 or ca[1].sum() <= 0:
        return None
    notes = []
    for side, (c, e) in (("before", cb), ("after", ca)):
        if c.size >= 2 and c.sum() > 0:
            expected = e * c.sum() / e.sum()
            stat = float(((c - expected) ** 2 / expected).sum())
            p = float(chi2.sf(stat, c.size - 1))
            if p < 0.01:
                notes.append(f"{side} runs are over-dispersed (chi2 p={p:.2g}): "
                             "run-to-run variation exceeds Poisson noise")
    t = poisson_rate_test(cb[0].sum(), cb[1].sum(), ca[0].sum(), ca[1].sum(),
                          confidence=confidence)
    t90 = poisson_rate_test(cb[0].sum(), cb[1].sum(), ca[0].sum(), ca[1].sum(),
                            confidence=1 - 2 * alpha)
    tol = _tolerance("rollback_rate_pct", tolerance)
    rb, ra = 100 * cb[0].sum() / cb[1].sum(), 100 * ca[0].sum() / ca[1].sum()
    return _row(
        metric=f"{test}/rollback_rate_pct (pooled counts)", test=test,
        figure="rollback_rate_pct", label="Rollback events / execution attempts",
        unit="%", better="lower", method="exact Poisson (pooled counts)",
        n_before=int(cb[0].sum()), n_after=int(ca[0].sum()), before=rb, after=ra,
        change_pct=100 * (t.ratio - 1), change_lo_pct=100 * (t.ratio_lo - 1),
        change_hi_pct=100 * (t.ratio_hi - 1), p_value=t.p_value, tolerance_pct=100 * tol,
        _r90=(t90.ratio_lo, t90.ratio_hi), _ratio=(t.ratio, t.ratio_lo, t.ratio_hi),
        _overdispersed="; ".join(notes), mde_pct=_poisson_mde(cb[0].sum(), ca[0].sum(),
                                                              alpha),
        n_needed=None)


def _poisson_mde(c1: float, c2: float, alpha: float) -> float:
    if c1 <= 0 or c2 <= 0:
        return math.inf
    se = math.sqrt(1 / c1 + 1 / c2)
    return 100 * math.expm1((_z(1 - alpha / 2) + _z(POWER)) * se)


def _finish(rows: list[dict[str, Any]], alpha: float, family_key: str = "test"
            ) -> pl.DataFrame:
    """Holm within each family, verdicts, inconclusive reasons; the tidy frame."""
    from specanalysis.stats import holm

    fams: dict[Any, list[int]] = {}
    for i, r in enumerate(rows):
        if r.get("p_value") is not None and not math.isnan(r["p_value"]):
            fams.setdefault(r.get(family_key), []).append(i)
    for idx in fams.values():
        adj = holm([rows[i]["p_value"] for i in idx])
        for i, p in zip(idx, adj, strict=True):
            rows[i]["p_adjusted"] = p
    for r in rows:
        if r.get("verdict"):
            continue
        ratio, lo, hi = r.get("_ratio") or (math.nan, math.nan, math.nan)
        lo90, hi90 = r.get("_r90") or (math.nan, math.nan)
        tol = r["tolerance_pct"] / 100
        p_adj = r.get("p_adjusted")
        p_adj = math.nan if p_adj is None else p_adj
        verdict, reason = _verdict(r["better"], ratio, lo, hi, lo90, hi90, p_adj, alpha,
                                   tol)
        if r.get("_bucket_same"):
            if verdict in ("improved", "regressed", "changed"):
                verdict = "inconclusive"
            if verdict != "equivalent" or not r.get("_bucket_narrow"):
                verdict = "inconclusive"
                reason = r["_bucket_same"]
        if verdict == "inconclusive" and not reason:
            reason = _inconclusive_reason(r, alpha)
        extra = [x for x in (r.get("_note"), r.get("_overdispersed"), r.get("_extra"))
                 if x]
        if extra:
            reason = "; ".join([reason, *extra]) if reason else "; ".join(extra)
        r["verdict"], r["reason"] = verdict, reason
        if r.get("needed") is None and r.get("n_needed") is not None:
            unit = r.get("_needed_unit", "runs per side")
            r["needed"] = f"{r['n_needed']} {unit}"
    clean = [{k: r.get(k) for k in TIDY_SCHEMA} for r in rows]
    for r in clean:
        for k, v in r.items():
            if TIDY_SCHEMA[k] == pl.Float64() and v is not None:
                r[k] = float(v)
    return pl.DataFrame(clean, schema=TIDY_SCHEMA, orient="row")


def _inconclusive_reason(r: Mapping[str, Any], alpha: float) -> str:
    mde = r.get("mde_pct")
    tol = r["tolerance_pct"]
    parts = []
    if mde is not None and math.isinf(mde):
        parts.append(f"with {r['n_before']}+{r['n_after']} observations no change of "
                     "any size can reach significance after the multiple-comparison "
                     "correction")
    elif mde is not None and not math.isnan(mde):
        parts.append(f"minimum detectable change ±{abs(mde):.1f}% (80% power), "
                     f"tolerance ±{tol:.0f}%")
    if r.get("n_needed") is not None:
        parts.append(f"{r['n_needed']} {r.get('_needed_unit', 'runs per side')} "
                     "would resolve a change of the tolerance's size")
    return "; ".join(parts) or "neither a change nor equivalence is established"


def _compare_runs(before: Any, after: Any, *, metrics: Sequence[str] | None,
                  alpha: float, confidence: float, tolerance: Any,
                  change: Sequence[str] | None) -> dict[str, Any]:
    from specanalysis.sim.bench import SUMMARY_FIELDS

    rb, ra = load_runs(before), load_runs(after)
    figures = list(metrics) if metrics else list(RUN_FIGURES)
    unknown = [f for f in figures if f not in SUMMARY_FIELDS]
    if unknown:
        raise DataError(f"unknown benchmark figure(s): {', '.join(unknown)}",
                        field="metrics", expected="names from SUMMARY_FIELDS: "
                        + ", ".join(SUMMARY_FIELDS))

    def by_test(runs: list[Any]) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {}
        for r in runs:
            out.setdefault(r.test or "ad-hoc", []).append(r)
        for v in out.values():
            v.sort(key=lambda r: (r.run or 0, r.seed))
        return out

    tb, ta = by_test(rb), by_test(ra)
    common = [t for t in tb if t in ta]
    notes = []
    if not common:
        raise DataError(
            "the two sides ran different benchmarks: before has "
            f"{', '.join(sorted(tb))}, after has {', '.join(sorted(ta))}",
            field="runs", expected="runs of the same benchmark tests on both sides")
    for t in sorted(set(tb) ^ set(ta)):
        side = "before" if t in tb else "after"
        notes.append(f"test {t!r} only in the {side} runs: not compared")
    rows: list[dict[str, Any]] = []
    values: list[tuple] = []
    checks: list[tuple[str, str, str]] = []
    few, cv_high, no_warmup, drift, param_diff = [], [], [], [], []
    for t in common:
        b, a = tb[t], ta[t]
        test_rows = _runs_rows(t, b, a, figures, alpha, confidence, tolerance, values)
        if "rollback_rate_pct" in figures:
            pooled = _pooled_rollback_row(t, b, a, alpha, confidence, tolerance)
            if pooled is not None:
                pooled["test"] = f"{t} (counts)"
                test_rows.append(pooled)
        rows.extend(test_rows)
        if min(len(b), len(a)) < 3:
            few.append(f"{t}: {len(b)}+{len(a)}")
        for side, runs in (("before", b), ("after", a)):
            for fig in figures:
                v = np.array([float(r.summary.get(fig, math.nan)) for r in runs])
                v = v[~np.isnan(v)]
                cv = _cv_pct(v)
                if not math.isnan(cv) and cv > 10:
                    cv_high.append(f"{t}/{fig} {side} {cv:.0f}%")
                if v.size >= 4:
                    from scipy.stats import kendalltau

                    res = kendalltau(np.arange(v.size), v)
                    if res.pvalue is not None and res.pvalue < alpha:
                        drift.append(f"{t}/{fig} {side} (Kendall p={res.pvalue:.2g})")
            no_warmup += [f"{t} {side} run {r.run or '?'}" for r in runs
                          if r.parameters.warmup_s <= 0]
        pb = {r.parameters for r in b} | {r.parameters for r in a}
        wb = {tuple(sorted(r.workload.items())) for r in b + a}
        if len(pb) > 1 or len(wb) > 1:
            param_diff.append(t)
    n_min = min(min(len(tb[t]), len(ta[t])) for t in common)
    checks.append(("at least 3 runs per side", "fail" if few else "pass",
                   "too few runs: " + ", ".join(few) if few
                   else f"{n_min}+ runs per side in every test"))
    checks.append(("CV under 10 %", "warn" if cv_high else "pass",
                   ("noisy: " + ", ".join(cv_high[:10])) if cv_high
                   else "every figure's coefficient of variation is under 10 %"))
    checks.append(("warm-up cut", "fail" if no_warmup else "pass",
                   ("no warm-up discarded in " + ", ".join(no_warmup[:6]))
                   if no_warmup else "every run discarded its warm-up"))
    if n_min >= 4:
        checks.append(("no drift across run order", "warn" if drift else "pass",
                       ("trend with run order: " + ", ".join(drift[:6])) if drift
                       else "no monotone trend with run order (Kendall tau)"))
    else:
        checks.append(("no drift across run order", "n/a",
                       f"needs >= 4 runs per side to test (have {n_min})"))
    cfg_b, cfg_a = rb[0].config, ra[0].config
    inconsistent = [side for side, runs in (("before", rb), ("after", ra))
                    if len({repr(_flatten(r.config)) for r in runs}) > 1]
    diff = _config_diff(cfg_b, cfg_a)
    status, detail = _config_check(diff, change)
    if inconsistent:
        status, detail = "fail", ("runs within a side used different configurations "
                                  f"({', '.join(inconsistent)}); " + detail)
    if param_diff:
        status = "fail"
        detail += ("; benchmark flags or simulated workload differ in "
                   + ", ".join(param_diff))
    checks.append(("only the announced change", status, detail))
    tidy = _finish(rows, alpha)
    return {"kind": "runs", "metrics": tidy, "checks": checks, "values": values, "notes": notes,
                "config_diff": diff, "sources": (_describe(before), _describe(after))}


def _describe(obj: Any) -> str:
    if isinstance(obj, str | Path):
        return str(obj)
    if isinstance(obj, list | tuple):
        kinds = {type(x).__name__ for x in obj}
        return f"{len(obj)} × {', '.join(sorted(kinds))}"
    if isinstance(obj, Window):
        return (f"{type(obj.source).__name__} {obj.start:%Y-%m-%d %H:%M} – "
                f"{obj.end:%Y-%m-%d %H:%M} UTC")
    if isinstance(obj, pl.DataFrame):
        return f"samples frame ({obj.height} rows)"
    return type(obj).__name__


# ==================================================================== windows

#: Window figures: name -> (kind, label, unit, better, definition).
#: kind "series": a gauge-like series (expression over ``range``), compared on
#: block means; "counts": numerator / denominator counters over the window
#: (exact Poisson); "quantile": a histogram quantile (family, q) with bucket
#: bounds; "ratio": numerator / denominator increases per block (tasks undone
#: per rollback: cascades make those counts over-dispersed, so no Poisson test).
WINDOW_FIGURES: dict[str, tuple[str, str, str, str | None, Any]] = {
    "throughput_tps": ("series", "Tasks finalised per second", "tasks/s", "higher",
                       ("rate", CONFIRMED, 1.0)),
    "task_rate_tps": ("series", "Tasks executed per second", "tasks/s", None,
                      ("rate", TASKS, 1.0)),
    "rollback_rate_pct": ("counts", "Rollback events / tasks", "%", "lower",
                          (ROLLBACKS, {}, TASKS)),
    "timeout_rollback_rate_pct": ("counts", "Timeout rollbacks / tasks", "%", "lower",
                                  (ROLLBACKS, {"reason": "timeout"}, TASKS)),
    "avg_rollback_size": ("ratio", "Tasks undone per rollback (blast radius)", "tasks",
                          "lower", (ROLLED_BACK, ROLLBACKS)),
    "latency_p50_s": ("quantile", "End-to-end latency p50", "s", "lower",
                      (E2E, 0.5)),
    "latency_p99_s": ("quantile", "End-to-end latency p99", "s", "lower",
                      (E2E, 0.99)),
    "proof_p99_s": ("quantile", "Proof generation p99", "s", "lower",
                    (PROOF, 0.99)),
    "confirmation_p99_s": ("quantile", "Confirmation p99", "s", "lower",
                           (CONFIRM, 0.99)),
    "memory_mb": ("series", "Speculation memory", "MB", "lower",
                  ("gauge", MEMORY, 1 / 1024 / 1024)),
    "active_tasks": ("series", "Tasks in flight", "tasks", None,
                     ("gauge", ACTIVE, 1.0)),
    "proof_queue_depth": ("series", "Proofs waiting", "proofs", "lower",
                          ("gauge", QUEUE_DEPTH, 1.0)),
}


def _series_expr(defn: tuple, rng: str) -> Any:
    from specanalysis import query as q

    kind, name, _factor = defn
    if kind == "rate":
        return q.sum(q.rate(q.metric(name), rng))
    return q.sum(q.metric(name))


def _eval_series(w: Window, expr: Any, step: float) -> np.ndarray:
    frame = w.source.evaluate_range(expr, w.start, w.end, step)
    if frame.height == 0:
        return np.array([])
    return frame.sort("timestamp")["value"].to_numpy().astype(float)


def _bucket_counts(w: Window, family: str) -> pl.DataFrame:
    from specanalysis import query as q

    expr = q.sum(q.increase(q.metric(family + "_bucket"), format_duration(w.seconds)),
                 by=["le"])
    f = w.source.evaluate(expr, w.end)
    if f.height == 0 or "le" not in f.columns:
        return pl.DataFrame(schema={"le": pl.Float64, "count": pl.Float64})
    return (f.select(pl.col("le").cast(pl.Float64, strict=False).alias("le"),
                     pl.col("value").alias("count"))
            .drop_nulls("le").sort("le"))


def bucket_quantile(buckets: pl.DataFrame, q: float) -> tuple[float, float, float]:
    """``(interpolated quantile, bucket lower bound, bucket upper bound)``.

    ``buckets`` has ``le`` (Float64, ``inf`` for +Inf) and cumulative ``count``.
    Linear interpolation inside the bucket as ``histogram_quantile`` does
    (:func:`specanalysis.buckets.quantile_bounds`); the true quantile lies
    somewhere in ``[lower, upper]`` (the bucket-resolution bounds).

    Examples
    --------
    >>> b = pl.DataFrame({"le": [0.5, 1.0, 2.0, float("inf")],
    ...                   "count": [10.0, 50.0, 99.0, 100.0]})
    >>> bucket_quantile(b, 0.45)
    (0.9375, 0.5, 1.0)
    """
    from specanalysis.buckets import bucket_table, quantile_bounds

    if buckets.height == 0:
        return math.nan, math.nan, math.nan
    le = ["+Inf" if math.isinf(x) else repr(float(x)) for x in buckets["le"].to_list()]
    table = bucket_table(pl.DataFrame({"le": le, "value": buckets["count"]}))
    b = quantile_bounds(table, q)
    return float(b.value), float(b.low), float(b.high)


def _count(w: Window, name: str, labels: Mapping[str, str]) -> float:
    from specanalysis import query as q

    f = w.source.evaluate(q.sum(q.increase(q.metric(name, **labels),
                                           format_duration(w.seconds))), w.end)
    if f.height == 0:
        return math.nan
    return float(f["value"][0])


def _check_windows(wb: Window, wa: Window) -> list[str]:
    notes = []
    if wb.source is wa.source and wb.start < wa.end and wa.start < wb.end:
        raise DataError(
            f"the windows overlap ({wb.start.isoformat()} - {wb.end.isoformat()} and "
            f"{wa.start.isoformat()} - {wa.end.isoformat()})", field="window",
            expected="disjoint before and after windows")
    ratio = max(wb.seconds, wa.seconds) / min(wb.seconds, wa.seconds)
    if ratio > 1.5:
        notes.append(f"window lengths differ ({format_duration(wb.seconds)} vs "
                     f"{format_duration(wa.seconds)}): counts are compared as rates")
    return notes


def _window_rows(wb: Window, wa: Window, figures: Sequence[str], *, alpha: float,
                 confidence: float, tolerance: Any, rng: str, step: float,
                 values: list[tuple], checks: dict[str, list[str]]
                 ) -> list[dict[str, Any]]:
    from specanalysis import query as q
    from specanalysis.stats import BlockTest, block_test, hac_test

    rows = []
    min_block = max(1, int(round(parse_duration(rng) / step)))
    block_seconds: float | None = None
    series_figs = [f for f in figures if WINDOW_FIGURES[f][0] == "series"]
    others = [f for f in figures if WINDOW_FIGURES[f][0] != "series"]
    for fig in series_figs + others:
        kind, label, unit, better, defn = WINDOW_FIGURES[fig]
        tol = _tolerance(fig, tolerance)
        base = {"metric": fig, "test": "windows", "figure": fig, "label": label, "unit": unit,
                "better": better, "tolerance_pct": 100 * tol}
        if kind == "series":
            expr = _series_expr(defn, rng)
            b = _eval_series(wb, expr, step) * defn[2]
            a = _eval_series(wa, expr, step) * defn[2]
            b, a = b[np.isfinite(b)], a[np.isfinite(a)]
            if b.size == 0 or a.size == 0:
                rows.append(_row(**base, method="none", verdict="inconclusive",
                                 reason=f"no samples of {defn[1]} in the "
                                 f"{'before' if b.size == 0 else 'after'} window"))
                continue
            try:
                bt: BlockTest = block_test(b, a, min_block=min_block,
                                           confidence=confidence)
            except DataError as exc:
                rows.append(_row(**base, method="block means", verdict="inconclusive",
                                 n_before=int(b.size), n_after=int(a.size),
                                 before=float(b.mean()), after=float(a.mean()),
                                 reason=exc.message))
                continue
            if block_seconds is None and fig in ("throughput_tps", "task_rate_tps"):
                block_seconds = bt.block * step
            bt90 = block_test(b, a, min_block=min_block, confidence=1 - 2 * alpha,
                              tau=bt.tau)
            try:
                _, p_hac = hac_test(b, a, maxlags=bt.block)
            except SpecAnalysisError:
                p_hac = math.nan
            for side, blocks in (("before", bt.before_blocks), ("after", bt.after_blocks)):
                values.extend((fig, side, i + 1, float(v)) for i, v in enumerate(blocks))
            mean_b = bt.mean_before
            den = abs(mean_b) if mean_b != 0 else math.nan
            hb = _half(bt.before_blocks, confidence)
            ha = _half(bt.after_blocks, confidence)
            za, zb = _z(1 - alpha / 2), _z(POWER)
            mde = 100 * (za + zb) * bt.se / den if den == den else math.nan
            s_blocks = math.sqrt((bt.before_blocks.var(ddof=1)
                                  + bt.after_blocks.var(ddof=1)) / 2)
            n_blocks = (math.ceil(2 * (za + zb) ** 2 * s_blocks**2 / (tol * den) ** 2)
                        if den == den and den > 0 else None)
            n_blocks = max(n_blocks or 0, 3)
            rows.append(_row(
                **base, method=f"Welch on block means (block {format_duration(bt.block * step)}, "
                f"tau {bt.tau:.1f} samples, ESS {bt.ess_before:.0f}+{bt.ess_after:.0f}, "
                f"HAC p={p_hac:.2g})",
                n_before=bt.blocks_before, n_after=bt.blocks_after,
                before=mean_b, before_lo=mean_b - hb, before_hi=mean_b + hb,
                after=bt.mean_after, after_lo=bt.mean_after - ha,
                after_hi=bt.mean_after + ha,
                change_pct=100 * bt.diff / den, change_lo_pct=100 * bt.diff_lo / den,
                change_hi_pct=100 * bt.diff_hi / den, p_value=bt.p_value,
                _ratio=(1 + bt.diff / den, 1 + bt.diff_lo / den, 1 + bt.diff_hi / den),
                _r90=(1 + bt90.diff_lo / den, 1 + bt90.diff_hi / den), mde_pct=mde,
                n_needed=n_blocks, ess_before=bt.ess_before, ess_after=bt.ess_after,
                needed=(f"{n_blocks} blocks per side = windows of "
                        f"{format_duration(n_blocks * bt.block * step)}"),
                _needed_unit="blocks per side"))
            for side, blocks in (("before", bt.before_blocks), ("after", bt.after_blocks)):
                if blocks.size >= 3 and fig in ("throughput_tps", "latency_p99_s",
                                                "memory_mb"):
                    slope_p = _trend_p(blocks)
                    if slope_p < alpha:
                        checks["drift"].append(f"{fig} {side} (trend p={slope_p:.2g})")
                if blocks.size < 3:
                    checks["few"].append(f"{fig} {side}: {blocks.size} blocks")
                cv = _cv_pct(blocks)
                if not math.isnan(cv) and cv > 10:
                    checks["cv"].append(f"{fig} {side} {cv:.0f}%")
        elif kind == "counts":
            num, labels, den_name = defn
            cb, eb = _count(wb, num, labels), _count(wb, den_name, {})
            ca, ea = _count(wa, num, labels), _count(wa, den_name, {})
            if any(math.isnan(v) for v in (eb, ea)) or eb <= 0 or ea <= 0:
                rows.append(_row(**base, method="none", verdict="inconclusive",
                                 reason=f"no {den_name} counted in a window"))
                continue
            cb = 0.0 if math.isnan(cb) else cb
            ca = 0.0 if math.isnan(ca) else ca
            rows.append(_count_row(base, cb, eb, ca, ea, alpha=alpha,
                                   confidence=confidence, tol=tol,
                                   method="exact Poisson rate test (counts over the "
                                   "window)"))
        elif kind == "ratio":
            num, den_name = defn
            bs = block_seconds or max(parse_duration(rng), 300.0)
            blk = format_duration(bs)
            expr = (q.sum(q.increase(q.metric(num), blk))
                    / q.sum(q.increase(q.metric(den_name), blk)))
            rb_, ra_ = _block_values(wb, expr, bs), _block_values(wa, expr, bs)
            rows.append(_block_row(base, rb_, ra_, fig, values, alpha=alpha,
                                   confidence=confidence, tol=tol,
                                   method=f"Welch on per-block ratios (blocks of {blk})"))
        else:  # quantile
            family, qq = defn
            bb, ba = _bucket_counts(wb, family), _bucket_counts(wa, family)
            if bb.height == 0 or ba.height == 0:
                rows.append(_row(**base, method="none", verdict="inconclusive",
                                 reason=f"no {family} histogram in a window"))
                continue
            eb_, lob, hib = bucket_quantile(bb, qq)
            ea_, loa, hia = bucket_quantile(ba, qq)
            bs = block_seconds or max(parse_duration(rng), 300.0)
            blk = format_duration(bs)
            expr = q.histogram_quantile(qq, q.sum(q.rate(q.metric(family + "_bucket"),
                                                         blk), by=["le"]))
            qb = _block_values(wb, expr, bs)
            qa = _block_values(wa, expr, bs)
            for side, blocks in (("before", qb), ("after", qa)):
                values.extend((fig, side, i + 1, float(v)) for i, v in enumerate(blocks))
            same = (lob == loa and hib == hia)
            overlap = not (hib <= loa or hia <= lob)
            res_note = (f"bucket resolution: before in ({_num(lob)}, {_num(hib)}], "
                        f"after in ({_num(loa)}, {_num(hia)}]")
            row = _row(**base, before=eb_, before_lo=lob, before_hi=hib, after=ea_,
                       after_lo=loa, after_hi=hia,
                       change_pct=100 * (ea_ / eb_ - 1) if eb_ else math.nan,
                       n_before=int(qb.size), n_after=int(qa.size),
                       _extra=res_note)
            if qb.size >= 2 and qa.size >= 2:
                from specanalysis.stats import welch

                diff, se, _df, p, half = welch(qb, qa, confidence)
                _, _, _, _, half90 = welch(qb, qa, 1 - 2 * alpha)
                den = abs(float(qb.mean())) or math.nan
                row.update(
                    method=(f"Welch on per-block quantiles (blocks of {blk}); "
                            "interval = bucket bounds"),
                    p_value=p, change_lo_pct=100 * (diff - half) / den,
                    change_hi_pct=100 * (diff + half) / den,
                    _ratio=(1 + diff / den, 1 + (diff - half) / den,
                            1 + (diff + half) / den),
                    _r90=(1 + (diff - half90) / den, 1 + (diff + half90) / den),
                    mde_pct=100 * (_z(1 - alpha / 2) + _z(POWER)) * se / den)
            else:
                row.update(method="bucket bounds only", verdict="inconclusive",
                           reason=f"too few blocks of {blk} for a test; {res_note}")
            if same or overlap:
                width = (hib - lob) / max(abs(eb_), 1e-300) if math.isfinite(hib) else 1
                row["_bucket_same"] = (
                    f"change inside the bucket resolution: both {qq:g}-quantiles lie "
                    f"in ({_num(lob)}, {_num(hib)}], the histogram cannot resolve it")
                row["_bucket_narrow"] = width <= tol
                row["_extra"] = ""
            rows.append(row)
    return rows


def _count_row(base: Mapping[str, Any], cb: float, eb: float, ca: float, ea: float, *,
               alpha: float, confidence: float, tol: float, method: str
               ) -> dict[str, Any]:
    """A figure that is events per exposure (in %), tested exactly (Poisson)."""
    from specanalysis.stats import poisson_rate_test

    t = poisson_rate_test(cb, eb, ca, ea, confidence=confidence)
    t90 = poisson_rate_test(cb, eb, ca, ea, confidence=1 - 2 * alpha)
    return _row(
        **base, method=method, n_before=t.count_before, n_after=t.count_after,
        before=100 * t.count_before / eb, after=100 * t.count_after / ea,
        change_pct=100 * (t.ratio - 1), change_lo_pct=100 * (t.ratio_lo - 1),
        change_hi_pct=100 * (t.ratio_hi - 1), p_value=t.p_value,
        _ratio=(t.ratio, t.ratio_lo, t.ratio_hi), _r90=(t90.ratio_lo, t90.ratio_hi),
        mde_pct=_poisson_mde(t.count_before, t.count_after, alpha),
        needed=_counts_needed(t.count_before, eb, tol, alpha),
        _extra=("no events on either side: no rate to compare"
                if t.count_before + t.count_after == 0 else ""))


def _counts_needed(c: float, exposure: float, tol: float, alpha: float) -> str:
    if c <= 0:
        return "events are needed to estimate a rate"
    za, zb = _z(1 - alpha / 2), _z(POWER)
    need = 2 * (za + zb) ** 2 / math.log1p(tol) ** 2
    factor = need / c
    return (f"about {need:.0f} events per side (x{factor:.1f} the exposure) to detect "
            f"±{100 * tol:.0f}%")


def _block_row(base: Mapping[str, Any], vb: np.ndarray, va: np.ndarray, fig: str,
               values: list[tuple], *, alpha: float, confidence: float, tol: float,
               method: str) -> dict[str, Any]:
    """A figure measured once per block, compared with Welch's t on the blocks."""
    from specanalysis.stats import welch

    for side, blocks in (("before", vb), ("after", va)):
        values.extend((fig, side, i + 1, float(v)) for i, v in enumerate(blocks))
    if vb.size < 2 or va.size < 2:
        return _row(**base, method=method, verdict="inconclusive",
                    n_before=int(vb.size), n_after=int(va.size),
                    reason=f"too few blocks with data ({vb.size} before, {va.size} "
                    "after)")
    diff, se, _df, p, half = welch(vb, va, confidence)
    _, _, _, _, half90 = welch(vb, va, 1 - 2 * alpha)
    mb, ma = float(vb.mean()), float(va.mean())
    den = abs(mb) or math.nan
    hb, ha = _half(vb, confidence), _half(va, confidence)
    return _row(
        **base, method=method, n_before=int(vb.size), n_after=int(va.size),
        before=mb, before_lo=mb - hb, before_hi=mb + hb, after=ma, after_lo=ma - ha,
        after_hi=ma + ha, change_pct=100 * diff / den,
        change_lo_pct=100 * (diff - half) / den, change_hi_pct=100 * (diff + half) / den,
        p_value=p, _ratio=(1 + diff / den, 1 + (diff - half) / den,
                           1 + (diff + half) / den),
        _r90=(1 + (diff - half90) / den, 1 + (diff + half90) / den),
        mde_pct=100 * (_z(1 - alpha / 2) + _z(POWER)) * se / den)


def _block_values(w: Window, expr: Any, block_s: float) -> np.ndarray:
    first = w.start + timedelta(seconds=block_s)
    if first > w.end:
        return np.array([])
    frame = w.source.evaluate_range(expr, first, w.end, block_s)
    if frame.height == 0:
        return np.array([])
    v = frame.sort("timestamp")["value"].to_numpy().astype(float)
    return v[np.isfinite(v)]


def _half(blocks: np.ndarray, confidence: float) -> float:
    from scipy.stats import t as t_dist

    if blocks.size < 2:
        return math.nan
    return float(t_dist.ppf(0.5 + confidence / 2, blocks.size - 1)
                 * blocks.std(ddof=1) / math.sqrt(blocks.size))


def _trend_p(blocks: np.ndarray) -> float:
    from scipy.stats import linregress

    if blocks.size < 3 or np.all(blocks == blocks[0]):
        return 1.0
    return float(linregress(np.arange(blocks.size), blocks).pvalue)


def _compare_windows(before: Window, after: Window, *, metrics: Sequence[str] | None,
                     alpha: float, confidence: float, tolerance: Any, rng: str,
                     step: Any, configs: tuple | None, change: Sequence[str] | None
                     ) -> dict[str, Any]:
    figures = list(metrics) if metrics else list(WINDOW_FIGURES)
    unknown = [f for f in figures if f not in WINDOW_FIGURES]
    if unknown:
        raise DataError(f"unknown window figure(s): {', '.join(unknown)}",
                        field="metrics", expected="names from WINDOW_FIGURES: "
                        + ", ".join(WINDOW_FIGURES))
    notes = _check_windows(before, after)
    step_s = parse_duration(step, field="step")
    rng_s = parse_duration(rng, field="range")
    if rng_s < 2 * step_s:
        raise DataError(f"range {rng} is shorter than two steps of {step}",
                        field="range", expected="a PromQL range covering >= 2 scrapes")
    for w, side in ((before, "before"), (after, "after")):
        if w.seconds < 4 * rng_s:
            notes.append(f"the {side} window ({format_duration(w.seconds)}) is shorter "
                         f"than four PromQL ranges ({rng}): few blocks")
    values: list[tuple] = []
    checks_acc: dict[str, list[str]] = {"drift": [], "few": [], "cv": []}
    rows = _window_rows(before, after, figures, alpha=alpha, confidence=confidence,
                        tolerance=tolerance, rng=format_duration(rng_s), step=step_s,
                        values=values, checks=checks_acc)
    if all(r.get("method") == "none" for r in rows):
        raise DataError("none of the compared metrics has data in both windows",
                        field="window", expected="windows holding the runtime's metrics")
    checks = [
        ("at least 3 blocks per window", "fail" if checks_acc["few"] else "pass",
         ("too few independent blocks: " + ", ".join(checks_acc["few"][:6]))
         if checks_acc["few"] else "every series gives >= 3 blocks per window"),
        ("CV under 10 %", "warn" if checks_acc["cv"] else "pass",
         ("block means vary: " + ", ".join(checks_acc["cv"][:8])) if checks_acc["cv"]
         else "block means vary by less than 10 %"),
    ]
    warm = []
    for w, side in ((before, "before"), (after, "after")):
        rngf = getattr(w.source, "time_range", None)
        try:
            data_range = rngf() if rngf else None
        except NotImplementedError:
            data_range = None
        if data_range and data_range[0] is not None:
            first = to_datetime(data_range[0])
            if (w.start - first).total_seconds() < 60:
                warm.append(side)
    checks.append(("warm-up cut", "warn" if warm else "pass",
                   (f"the {' and '.join(warm)} window starts within a minute of the "
                    "data (no warm-up discarded)") if warm
                   else "windows start after the data's first minute"))
    checks.append(("no drift within windows", "warn" if checks_acc["drift"] else "pass",
                   ("trend across blocks: " + ", ".join(checks_acc["drift"]))
                   if checks_acc["drift"] else "no trend across blocks"))
    diff = None
    if configs is not None:
        cb, ca = configs
        diff = _config_diff(_cfg_dict(cb), _cfg_dict(ca))
        status, detail = _config_check(diff, change)
        checks.append(("only the announced change", status, detail))
    else:
        checks.append(("only the announced change", "n/a",
                       "no configurations given (pass configs=(before, after))"))
    tidy = _finish(rows, alpha)
    return {"kind": "windows", "metrics": tidy, "checks": checks, "values": values,
                "notes": notes, "config_diff": diff,
                "sources": (_describe(before), _describe(after))}


def _cfg_dict(cfg: Any) -> Mapping[str, Any]:
    if cfg is None:
        return {}
    if hasattr(cfg, "to_dict"):
        return cfg.to_dict()
    if isinstance(cfg, Mapping):
        return cfg
    if isinstance(cfg, str | Path):
        from specanalysis.config import SpeculationConfig

        return SpeculationConfig.from_toml(cfg).to_dict()
    raise DataError(f"got {type(cfg).__name__}", field="configs",
                    expected="SpeculationConfig, mapping or TOML path")


# ================================================================== snapshots


#: Time stamped on snapshot samples without one (only totals are compared).
_SNAPSHOT_TIME = 0


def _read_snapshot(obj: Any) -> tuple[pl.DataFrame, str]:
    from specanalysis.io import parse_exposition, read_exposition

    if isinstance(obj, Path) or (isinstance(obj, str) and "\n" not in obj
                                 and Path(obj).exists()):
        return read_exposition(obj, timestamp=_SNAPSHOT_TIME), str(obj)
    if isinstance(obj, str | bytes):
        return (parse_exposition(obj, source="snapshot", timestamp=_SNAPSHOT_TIME),
                "snapshot text")
    raise DataError(f"got {type(obj).__name__}", field="snapshot",
                    expected="exposition text or a file path")


def _snap_totals(frame: pl.DataFrame) -> dict[tuple[str, str | None, str | None], float]:
    """(metric, le, reason) -> value summed over other labels."""
    le = pl.col("le") if "le" in frame.columns else pl.lit(None, pl.String)
    reason = pl.col("reason") if "reason" in frame.columns else pl.lit(None, pl.String)
    g = (frame.with_columns(le.alias("_le"), reason.alias("_reason"))
         .group_by("metric", "_le", "_reason").agg(pl.col("value").sum()))
    return {(m, a, b): float(v) for m, a, b, v in g.iter_rows()}


def _snap_side(obj: Any) -> tuple[dict, str, bool]:
    if isinstance(obj, tuple) and len(obj) == 2:
        pre, s1 = _read_snapshot(obj[0])
        post, s2 = _read_snapshot(obj[1])
        tp, tq = _snap_totals(pre), _snap_totals(post)
        out = {}
        for k, v in tq.items():
            from specanalysis.catalogue import lookup

            m = lookup(k[0])
            if m is not None and m.type in ("counter", "histogram"):
                out[k] = v - tp.get(k, 0.0)
            else:
                out[k] = v
        return out, f"{s1} -> {s2}", True
    frame, src = _read_snapshot(obj)
    return _snap_totals(frame), src, False


def _compare_snapshots(before: Any, after: Any, *, metrics: Sequence[str] | None,
                       alpha: float, confidence: float, tolerance: Any,
                       configs: tuple | None, change: Sequence[str] | None
                       ) -> dict[str, Any]:
    from scipy.stats import fisher_exact


    tb, sb, pair_b = _snap_side(before)
    ta, sa, pair_a = _snap_side(after)
    if pair_b != pair_a:
        raise DataError("one side is a (pre, post) pair of snapshots, the other a "
                        "single snapshot", field="snapshot",
                        expected="the same kind of snapshot on both sides")
    rows: list[dict[str, Any]] = []
    values: list[tuple] = []
    figures = list(metrics) if metrics else list(WINDOW_FIGURES)

    def total(t: dict, name: str, reason: str | None = None) -> float:
        return sum(v for (m, le, r), v in t.items()
                   if m == name and le is None and (reason is None or r == reason))

    def buckets(t: dict, family: str) -> pl.DataFrame:
        rows_ = [(float(le), v) for (m, le, _r), v in t.items()
                 if m == family + "_bucket" and le is not None]
        if not rows_:
            return pl.DataFrame(schema={"le": pl.Float64, "count": pl.Float64})
        return (pl.DataFrame(rows_, schema={"le": pl.Float64, "count": pl.Float64},
                             orient="row").group_by("le").agg(pl.col("count").sum())
                .sort("le"))

    for fig in figures:
        if fig not in WINDOW_FIGURES:
            raise DataError(f"unknown figure {fig!r}", field="metrics",
                            expected=", ".join(WINDOW_FIGURES))
        kind, label, unit, better, defn = WINDOW_FIGURES[fig]
        tol = _tolerance(fig, tolerance)
        base = {"metric": fig, "test": "snapshots", "figure": fig, "label": label, "unit": unit,
                "better": better, "tolerance_pct": 100 * tol}
        if kind == "counts":
            num, labels, den = defn
            reason = labels.get("reason")
            cb, eb = total(tb, num, reason), total(tb, den)
            ca, ea = total(ta, num, reason), total(ta, den)
            if eb <= 0 or ea <= 0:
                rows.append(_row(**base, method="none", verdict="inconclusive",
                                 reason=f"{den} is absent or zero in a snapshot"))
                continue
            rows.append(_count_row(base, cb, eb, ca, ea, alpha=alpha,
                                   confidence=confidence, tol=tol,
                                   method="exact Poisson rate test (counter totals)"))
        elif kind == "quantile":
            family, qq = defn
            bb, ba = buckets(tb, family), buckets(ta, family)
            if bb.height == 0 or ba.height == 0:
                rows.append(_row(**base, method="none", verdict="inconclusive",
                                 reason=f"no {family} histogram in a snapshot"))
                continue
            eb_, lob, hib = bucket_quantile(bb, qq)
            ea_, loa, hia = bucket_quantile(ba, qq)
            row = _row(**base, before=eb_, before_lo=lob, before_hi=hib, after=ea_,
                       after_lo=loa, after_hi=hia,
                       change_pct=100 * (ea_ / eb_ - 1) if eb_ else math.nan,
                       n_before=int(bb["count"].max()), n_after=int(ba["count"].max()))
            overlap = not (hib <= loa or hia <= lob)
            if overlap:
                row.update(method="bucket bounds", verdict=(
                    "equivalent" if math.isfinite(hib) and (hib - lob) / max(eb_, 1e-300)
                    <= tol else "inconclusive"),
                    reason=(f"change inside the bucket resolution: both {qq:g}-quantiles"
                            f" lie in ({_num(lob)}, {_num(hib)}]"))
            else:
                # the boundary between the two buckets: compare the share above it
                edge = min(hib, hia)
                nb, na = float(bb["count"].max()), float(ba["count"].max())
                below_b = float(bb.filter(pl.col("le") == edge)["count"].sum())
                below_a = float(ba.filter(pl.col("le") == edge)["count"].sum())
                table = [[int(round(nb - below_b)), int(round(below_b))],
                         [int(round(na - below_a)), int(round(below_a))]]
                _, p = fisher_exact(table)
                up = ea_ > eb_
                row.update(method=f"Fisher exact test on the share above {_num(edge)}",
                           p_value=float(p),
                           _ratio=(ea_ / eb_, ea_ / eb_ if up else 0.0,
                                   math.inf if up else ea_ / eb_),
                           _r90=(math.nan, math.nan),
                           _extra=(f"quantiles in different buckets: before "
                                   f"({_num(lob)}, {_num(hib)}], after "
                                   f"({_num(loa)}, {_num(hia)}]"))
            rows.append(row)
        elif kind == "ratio":
            num, den_name = defn
            db, da = total(tb, den_name), total(ta, den_name)
            if db <= 0 or da <= 0:
                continue
            vb, va = total(tb, num) / db, total(ta, num) / da
            rows.append(_row(**base, method="ratio of counter totals", before=vb,
                             after=va, change_pct=100 * (va / vb - 1) if vb else math.nan,
                             n_before=1, n_after=1, verdict="inconclusive",
                             reason="one ratio per side: cascades make these counts "
                             "over-dispersed, so a snapshot gives no variance to test "
                             "against (compare windows or runs instead)"))
        else:
            _k, name, factor = defn
            if _k == "rate":
                continue  # a rate needs two points in time
            vb, va = total(tb, name) * factor, total(ta, name) * factor
            if not any(k[0] == name for k in tb) or not any(k[0] == name for k in ta):
                continue
            rows.append(_row(**base, method="single value", before=vb, after=va,
                             change_pct=100 * (va / vb - 1) if vb else math.nan,
                             n_before=1, n_after=1, verdict="inconclusive",
                             reason="one value per side: a /metrics snapshot of a gauge "
                             "has no variability to test against"))
        for side in ("before", "after"):
            r = rows[-1] if rows and rows[-1]["metric"] == fig else None
            if r is not None and r.get(side) is not None:
                values.append((fig, side, 1, float(r[side])))
    checks = [("at least 3 runs per side", "n/a",
               "snapshots: counters and buckets are tested on their counts")]
    diff = None
    if configs is not None:
        diff = _config_diff(_cfg_dict(configs[0]), _cfg_dict(configs[1]))
        status, detail = _config_check(diff, change)
        checks.append(("only the announced change", status, detail))
    else:
        checks.append(("only the announced change", "n/a",
                       "no configurations given (pass configs=(before, after))"))
    if not rows:
        raise DataError("the snapshots hold none of the compared metrics",
                        field="snapshot", expected="speculation_* metrics")
    tidy = _finish(rows, alpha)
    notes = [] if pair_b else [
        "single snapshots: counters are totals since the process started"]
    return {"kind": "snapshots", "metrics": tidy, "checks": checks, "values": values,
                "notes": notes, "config_diff": diff, "sources": (sb, sa)}


# ======================================================================= entry


def _kind(obj: Any) -> str:
    from specanalysis.sim.bench import BenchResult

    if isinstance(obj, Window):
        return "windows"
    if isinstance(obj, pl.DataFrame) or hasattr(obj, "evaluate_range"):
        return "windows"
    if isinstance(obj, BenchResult):
        return "runs"
    if isinstance(obj, tuple) and len(obj) == 2 and all(
            isinstance(x, str | bytes | Path) for x in obj) and _kind(obj[0]) == "snapshots":
        return "snapshots"
    if isinstance(obj, tuple) and len(obj) == 3 and not isinstance(obj[0], str | Path):
        return "windows"
    if isinstance(obj, list | tuple):
        kinds = {_kind(x) for x in obj}
        if kinds == {"runs"}:
            return "runs"
        raise DataError(f"a list mixing {', '.join(sorted(kinds))}", field="input",
                        expected="a list of benchmark results")
    if isinstance(obj, bytes) or (isinstance(obj, str) and "\n" in obj):
        return "snapshots"
    if isinstance(obj, str | Path):
        p = Path(obj)
        if p.is_dir():
            if (p / "samples.parquet").exists():
                return "windows"
            if any(x.name != "manifest.json" for x in p.glob("*.json")):
                return "runs"
            raise DataError("no benchmark results or samples.parquet", source=str(p),
                            expected="a benchmark result directory or a fixture folder")
        if not p.exists():
            raise DataError("no such file or directory", source=str(p),
                            expected="benchmark results, a snapshot or samples file")
        if p.suffix == ".json":
            return "runs"
        if p.suffix == ".parquet":
            return "windows"
        return "snapshots"
    raise DataError(f"cannot compare a {type(obj).__name__}", field="input",
                    expected="benchmark results, windows, samples frames or snapshots")


def _as_window(obj: Any) -> Window:
    if isinstance(obj, Window):
        return obj
    if isinstance(obj, tuple) and len(obj) == 3:
        return window(obj[0], obj[1], obj[2])
    if isinstance(obj, str | Path):
        from specanalysis.io.parquet import read_samples

        p = Path(obj)
        return window(read_samples(p / "samples.parquet" if p.is_dir() else p))
    return window(obj)


def compare(
    before: Any,
    after: Any,
    *,
    metrics: Sequence[str] | None = None,
    alpha: float = 0.05,
    tolerance: float | Mapping[str, float] | None = None,
    confidence: float = 0.95,
    change: str | Sequence[str] | None = None,
    configs: tuple[Any, Any] | None = None,
    range: str = "5m",  # noqa: A002 - the PromQL word
    step: str | float = "15s",
    labels: tuple[str, str] = ("before", "after"),
) -> Comparison:
    """Judge a change from before/after measurements of the same kind.

    Parameters
    ----------
    before, after
        Benchmark runs (``BenchResult`` objects, result files, result
        directories or lists of them); monitoring windows (:func:`window`,
        ``(source, start, end)`` tuples, samples frames or ``samples.parquet``
        files); or ``/metrics`` snapshots (exposition text or files, or
        ``(pre, post)`` pairs of them).
    metrics
        Figures to compare (default: :data:`RUN_FIGURES` for runs,
        :data:`WINDOW_FIGURES` otherwise).
    alpha
        Significance level (family-wise per benchmark test, Holm).
    tolerance
        Equivalence margin as a fraction (0.05 = ±5 %), one for all figures or
        a mapping per figure; default from
        :data:`specanalysis.catalogue.TOLERANCES`.
    confidence
        Level of the displayed intervals.
    change
        The announced change (config key or keys, e.g. ``"max_depth"``); the
        rigour check fails when the configurations differ in anything else.
    configs
        ``(before, after)`` configurations for windows and snapshots (runs carry
        their own).
    range, step
        PromQL range of the rate series and the evaluation step (windows).
    labels
        Names of the two sides in output.

    Returns
    -------
    Comparison

    Raises
    ------
    DataError
        Sides of different kinds, runs of different benchmarks, unknown figures,
        reversed or overlapping windows, no usable data.
    """
    if not (0 < alpha < 0.5):
        raise DataError(f"alpha {alpha!r} is not in (0, 0.5)", field="alpha",
                        expected="e.g. 0.05")
    if not (0.5 < confidence < 1):
        raise DataError(f"confidence {confidence!r} is not in (0.5, 1)",
                        field="confidence", expected="e.g. 0.95")
    if isinstance(tolerance, int | float):
        _check_tol(tolerance, "tolerance")
    change_list = [change] if isinstance(change, str) else (list(change) if change
                                                            else None)
    kb, ka = _kind(before), _kind(after)
    if kb != ka:
        raise DataError(f"before is {kb}, after is {ka}", field="input",
                        expected="the same kind of measurement on both sides")
    if kb == "runs":
        out = _compare_runs(before, after, metrics=metrics, alpha=alpha,
                            confidence=confidence, tolerance=tolerance,
                            change=change_list)
    elif kb == "windows":
        out = _compare_windows(_as_window(before), _as_window(after), metrics=metrics,
                               alpha=alpha, confidence=confidence, tolerance=tolerance,
                               rng=range, step=step, configs=configs,
                               change=change_list)
    else:
        out = _compare_snapshots(before, after, metrics=metrics, alpha=alpha,
                                 confidence=confidence, tolerance=tolerance,
                                 configs=configs, change=change_list)
    checks = pl.DataFrame(out["checks"], schema={"check": pl.String,
                                                 "status": pl.String,
                                                 "detail": pl.String}, orient="row")
    values = pl.DataFrame(out["values"], schema={"metric": pl.String, "side": pl.String,
                                                 "order": pl.Int64, "value": pl.Float64},
                          orient="row").with_columns(
        pl.col("side").replace_strict({"before": labels[0], "after": labels[1]},
                                      default=pl.col("side")))
    overall, reason = _overall(out["metrics"], checks)
    return Comparison(kind=out["kind"], metrics=out["metrics"], checks=checks,
                      values=values, overall=overall, overall_reason=reason,
                      alpha=alpha, confidence=confidence, labels=tuple(labels),
                      sources=out["sources"], config_diff=out["config_diff"],
                      notes=tuple(out["notes"]))


def _overall(metrics: pl.DataFrame, checks: pl.DataFrame) -> tuple[str, str]:
    v = metrics["verdict"].to_list()
    failed = checks.filter(pl.col("status") == "fail")["check"].to_list()
    n_imp, n_reg = v.count("improved"), v.count("regressed")
    n_eq, n_inc = v.count("equivalent"), v.count("inconclusive")
    counts = (f"{n_imp} improved, {n_reg} regressed, {n_eq} equivalent, "
              f"{n_inc} inconclusive")
    if n_reg and n_imp:
        overall = "mixed"
    elif n_reg:
        overall = "regressed"
    elif n_imp:
        overall = "improved"
    elif v and n_eq == len([x for x in v if x != "changed"]):
        overall = "equivalent"
    else:
        overall = "inconclusive"
    if failed:
        return overall, f"{counts}; rigour checks failed: {', '.join(failed)}"
    return overall, counts


class _CallableModule(types.ModuleType):
    """This module, callable as :func:`compare`.

    Importing ``specanalysis.compare`` binds the package attribute
    ``specanalysis.compare`` to the module, which would hide the function of the
    same name; a callable module keeps ``specanalysis.compare(before, after)``
    working in either case.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Comparison:
        return compare(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
