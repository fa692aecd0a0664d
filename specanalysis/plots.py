"""Plots of a workload: polars frame builders plus thin hvplot wrappers.

Every view has two functions:

* ``*_frame(source, ...)`` builds a tidy polars frame through the source's range
  queries (``evaluate_range``) — testable, usable without any plotting library;
* ``plot_*(source, ...)`` calls the frame builder and draws it with hvplot
  (imported on first use), returning a HoloViews object that renders in
  JupyterLab (``hv.render(obj, backend="bokeh")`` for a Bokeh figure).

Range arguments: ``start``/``end`` default to the source's data
(``source.time_range()``); the first point is placed one ``window`` after the
start of the data so every rate window is full. ``step`` is the resolution,
``window`` the ``rate()`` look-back of each point.

Examples
--------
>>> import polars as pl
>>> from datetime import datetime, timedelta, timezone
>>> t0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
>>> ts = [t0 + timedelta(seconds=15 * i) for i in range(81)]
>>> samples = pl.DataFrame({"timestamp": ts,
...     "metric": ["speculation_tasks_total"] * len(ts),
...     "value": [15.0 * i for i in range(len(ts))]})
>>> f = task_rate_frame(samples, window="5m", step="5m")
>>> f["tasks_per_min"].to_list()
[60.0, 60.0, 60.0, 60.0]
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from specanalysis._time import format_duration, parse_duration, to_datetime
from specanalysis.catalogue import (
    ACTIVE,
    BRANCHES,
    DEPTH,
    MEMORY,
    PROOF,
    ROLLBACKS,
    TASKS,
)
from specanalysis.errors import DataError
from specanalysis.profile import (
    Characterization,
    Thresholds,
    WorkloadProfile,
    _resolve_time,
    _time_range,
    characterize,
    profile_workload,
)
from specanalysis.sources._base import Source, as_source

__all__ = [
    "task_rate_frame",
    "depth_distribution_frame",
    "proof_latency_frame",
    "rollback_rate_frame",
    "memory_frame",
    "active_frame",
    "classification_frame",
    "plot_task_rate",
    "plot_depth_distribution",
    "plot_proof_latency",
    "plot_rollback_rate",
    "plot_memory",
    "plot_active",
    "plot_classification",
    "memory_groups",
]

_TS = pl.Datetime("ms", "UTC")


def _q():
    from specanalysis import query

    return query


def _range(
    source: Source, window: str | float, start: Any, end: Any, step: str | float
) -> tuple[datetime, datetime, str, str]:
    """Resolve (start, end, window text, step text), defaulting to the data's span."""
    w = format_duration(parse_duration(window, field="window"))
    st = format_duration(parse_duration(step, field="step"))
    rng = _time_range(source)
    if end is None:
        if rng is None:
            end_dt, _ = _resolve_time(source, None)
        else:
            end_dt = rng[1]
    else:
        end_dt = to_datetime(end, field="end")
    if start is None:
        if rng is None:
            start_dt = end_dt - timedelta(hours=1)
        else:
            start_dt = rng[0] + timedelta(seconds=parse_duration(w))
            if start_dt > end_dt:
                start_dt = rng[0]
    else:
        start_dt = to_datetime(start, field="start")
    if start_dt > end_dt:
        raise DataError(
            f"start {start_dt.isoformat()} is after end {end_dt.isoformat()}",
            field="start", expected="start <= end",
        )
    return start_dt, end_dt, w, st


def _eval(source: Source, expr: Any, start: datetime, end: datetime, step: str
          ) -> pl.DataFrame:
    return source.evaluate_range(expr, start, end, step)


def _label_or(frame: pl.DataFrame, label: str, default: str) -> pl.Expr:
    if label in frame.columns:
        return pl.col(label).fill_null(default)
    return pl.lit(default)


# ---------------------------------------------------------------------------
# frame builders


def task_rate_frame(
    source: Source | pl.DataFrame, *, window: str | float = "5m", start: Any = None,
    end: Any = None,
    step: str | float = "1m",
) -> pl.DataFrame:
    """Task rate over time: ``timestamp``, ``tasks_per_min``.

    Query: ``sum(rate(speculation_tasks_total[window])) * 60`` at each step.
    """
    source = as_source(source)
    start, end, w, st = _range(source, window, start, end, step)
    q = _q()
    res = _eval(source, q.sum(q.rate(q.metric(TASKS), w)) * 60, start, end, st)
    return res.select(
        pl.col("timestamp").cast(_TS), pl.col("value").alias("tasks_per_min")
    ).sort("timestamp")


def depth_distribution_frame(
    source: Source | pl.DataFrame, *, window: str | float = "1h", at: Any = None,
    profile: WorkloadProfile | None = None,
) -> pl.DataFrame:
    """Depth distribution over ``window`` ending at ``at`` (one row per bucket).

    Columns as :attr:`WorkloadProfile.depth_distribution` (``le``, ``depth``,
    ``cumulative``, ``count``, ``share``, ``cumulative_share``). Pass a
    ``profile`` to reuse its table.
    """
    if profile is None:
        profile = profile_workload(source, window=window, at=at)
    return profile.depth_distribution


def proof_latency_frame(
    source: Source | pl.DataFrame, *, window: str | float = "5m", start: Any = None,
    end: Any = None,
    step: str | float = "1m", quantiles: tuple[float, ...] = (0.5, 0.9, 0.99),
    family: str = PROOF,
) -> pl.DataFrame:
    """Histogram quantiles over time with the bucket each falls in.

    Columns: ``timestamp``, ``quantile`` (``"p50"``...), ``seconds``, and
    ``bucket_lo``/``bucket_hi``: the bounds of the histogram bucket holding the
    estimate. ``histogram_quantile`` interpolates linearly inside that bucket,
    so the true quantile is only known to lie somewhere in it: that is the
    resolution of the figure (``bucket_hi`` is +Inf above the last finite
    bound, ``bucket_lo`` is 0 below the first).

    Query per quantile: ``histogram_quantile(q, sum by (le) (rate(<family>_bucket[window])))``.
    ``family`` may name any seconds histogram (``solana_confirmation_seconds``,
    ``speculation_e2e_latency_seconds``).
    """
    source = as_source(source)
    start, end, w, st = _range(source, window, start, end, step)
    q = _q()
    parts = []
    for qu in quantiles:
        expr = q.histogram_quantile(
            qu, q.sum(q.rate(q.metric(family + "_bucket"), w), by=["le"]))
        res = _eval(source, expr, start, end, st)
        name = f"p{100 * qu:g}"
        parts.append(res.select(
            pl.col("timestamp").cast(_TS), pl.lit(name).alias("quantile"),
            pl.col("value").alias("seconds")))
    schema = {"timestamp": _TS, "quantile": pl.String, "seconds": pl.Float64,
              "bucket_lo": pl.Float64, "bucket_hi": pl.Float64}
    if not parts:
        return pl.DataFrame(schema=schema)
    out = pl.concat(parts)
    bounds = _bucket_bounds(source, family, w, start, end, st)
    lo, hi = [], []
    for v in out["seconds"].to_list():
        a, b = _bucket_of(v, bounds)
        lo.append(a)
        hi.append(b)
    return out.with_columns(pl.Series("bucket_lo", lo, pl.Float64),
                            pl.Series("bucket_hi", hi, pl.Float64)
                            ).select(list(schema)).sort("quantile", "timestamp")


def _bucket_bounds(source: Source | pl.DataFrame, family: str, window: str, start: datetime,
                   end: datetime, step: str) -> list[float]:
    """The finite ``le`` bounds of a histogram family in the range, ascending."""
    q = _q()
    res = _eval(source, q.sum(q.rate(q.metric(family + "_bucket"), window), by=["le"]),
                start, end, step)
    if "le" not in res.columns:
        return []
    out = set()
    for le in res["le"].drop_nulls().unique().to_list():
        try:
            v = float(le)
        except ValueError:
            continue
        if math.isfinite(v):
            out.add(v)
    return sorted(out)


def _bucket_of(value: float | None, bounds: list[float]) -> tuple[float, float]:
    """``(lo, hi]``: the histogram bucket holding ``value`` (NaN for NaN/none)."""
    if value is None or math.isnan(value) or not bounds:
        return math.nan, math.nan
    lo = 0.0
    for b in bounds:
        if value <= b:
            return lo, b
        lo = b
    return lo, math.inf


def rollback_rate_frame(
    source: Source | pl.DataFrame, *, window: str | float = "5m", start: Any = None,
    end: Any = None,
    step: str | float = "1m",
) -> pl.DataFrame:
    """Rollbacks over time by reason: ``timestamp``, ``reason``, ``rollbacks_per_min``, ``pct_of_tasks``.

    Queries: ``sum by (reason) (rate(speculation_rollback_total[window])) * 60`` and
    the task rate; ``pct_of_tasks`` = rollbacks per task × 100 at the same step
    (NaN when no tasks ran). A series without a ``reason`` label shows as
    ``"unlabelled"``.
    """
    source = as_source(source)
    start, end, w, st = _range(source, window, start, end, step)
    q = _q()
    rb = _eval(source, q.sum(q.rate(q.metric(ROLLBACKS), w), by=["reason"]) * 60,
               start, end, st)
    tasks = _eval(source, q.sum(q.rate(q.metric(TASKS), w)) * 60, start, end, st)
    schema = {"timestamp": _TS, "reason": pl.String, "rollbacks_per_min": pl.Float64,
              "pct_of_tasks": pl.Float64}
    if rb.height == 0:
        return pl.DataFrame(schema=schema)
    rb = rb.select(pl.col("timestamp").cast(_TS),
                   _label_or(rb, "reason", "unlabelled").alias("reason"),
                   pl.col("value").alias("rollbacks_per_min"))
    tasks = tasks.select(pl.col("timestamp").cast(_TS),
                         pl.col("value").alias("_tasks"))
    out = rb.join(tasks, on="timestamp", how="left").with_columns(
        pl.when(pl.col("_tasks") > 0)
        .then(pl.col("rollbacks_per_min") / pl.col("_tasks") * 100)
        .otherwise(float("nan")).alias("pct_of_tasks")
    )
    return out.select(list(schema)).sort("reason", "timestamp")


def memory_frame(
    source: Source | pl.DataFrame, *, start: Any = None, end: Any = None, step: str | float = "1m",
) -> pl.DataFrame:
    """Memory by component over time: ``timestamp``, ``component``, ``mb``.

    Query: ``sum by (component) (speculation_memory_usage_bytes) / 1024 / 1024``
    (the gauge's value at each step, within the engine's lookback). Series
    without a ``component`` label show as ``"total"``.
    """
    source = as_source(source)
    start, end, _, st = _range(source, step, start, end, step)
    q = _q()
    res = _eval(source, q.sum(q.metric(MEMORY), by=["component"]) / 1024 / 1024,
                start, end, st)
    return res.select(
        pl.col("timestamp").cast(_TS),
        _label_or(res, "component", "total").alias("component"),
        pl.col("value").alias("mb"),
    ).sort("component", "timestamp")


def active_frame(
    source: Source | pl.DataFrame, *, start: Any = None, end: Any = None, step: str | float = "1m",
) -> pl.DataFrame:
    """Active tasks and branches over time: ``timestamp``, ``series``, ``value``.

    Queries: ``sum(speculation_active_tasks)``, ``sum(speculation_active_branches)``;
    ``series`` is ``"active_tasks"`` or ``"active_branches"`` (a metric the source
    lacks contributes no rows).
    """
    source = as_source(source)
    start, end, _, st = _range(source, step, start, end, step)
    q = _q()
    parts = []
    for name, metric in (("active_tasks", ACTIVE), ("active_branches", BRANCHES)):
        res = _eval(source, q.sum(q.metric(metric)), start, end, st)
        parts.append(res.select(pl.col("timestamp").cast(_TS),
                                pl.lit(name).alias("series"), pl.col("value")))
    return pl.concat(parts).sort("series", "timestamp")


def classification_frame(
    workload: Characterization | tuple[float, float],
    *, thresholds: Thresholds | None = None,
) -> pl.DataFrame:
    """The workload's point on the classification matrix.

    Parameters
    ----------
    workload
        A :class:`Characterization`, a source (characterised over all its data)
        or ``(tasks_per_min, depth)``.

    Returns
    -------
    polars.DataFrame
        One row: ``volume_per_min``, ``depth``, ``quadrant`` (None in the
        100-1000/min band), ``nearest_quadrant``, ``label``.

    Examples
    --------
    >>> classification_frame((50.0, 2.0))["quadrant"].to_list()
    ['Conservative']
    """
    if isinstance(workload, Characterization):
        th = thresholds or workload.thresholds
        volume = workload.features["volume_per_min"]
        depth = workload.features[f"depth_{th.depth_stat}"]
        label = workload.label
    elif isinstance(workload, Source | pl.DataFrame):  # characterise it first
        return classification_frame(characterize(workload, thresholds=thresholds),
                                    thresholds=thresholds)
    else:
        th = thresholds or Thresholds()
        try:
            volume, depth = (float(x) for x in workload)
        except (TypeError, ValueError):
            raise DataError(f"cannot place {type(workload).__name__} on the matrix",
                            field="workload",
                            expected="a Characterization, a source, or "
                            "(tasks_per_min, depth)") from None
        label = "workload"
    if math.isnan(depth):
        raise DataError("the workload's depth is unknown; cannot place it on the matrix",
                        field="depth", expected="a depth histogram in the source")
    p = th.place(volume, depth)
    return pl.DataFrame(
        {"volume_per_min": [volume], "depth": [depth], "quadrant": [p.quadrant],
         "nearest_quadrant": [p.nearest], "label": [label]},
        schema={"volume_per_min": pl.Float64, "depth": pl.Float64,
                "quadrant": pl.String, "nearest_quadrant": pl.String,
                "label": pl.String},
    )


# ---------------------------------------------------------------------------
# hvplot wrappers


def _hv():
    from specanalysis._optional import require

    hv = require("holoviews")  # in a kernel: switches to offline rendering first
    if not hasattr(pl.DataFrame, "hvplot"):  # hvplot re-imports itself per cell
        require("hvplot.polars")
    return hv


def _empty_guard(frame: pl.DataFrame, what: str) -> None:
    if frame.height == 0:
        raise DataError(f"nothing to plot: no {what} in the range", field="source",
                        expected=f"samples of {what}")


_TIME = "time (UTC)"
_TIME_TIP = ("time", "@{timestamp}{%F %T} UTC")
_TIME_FMT = {"@{timestamp}": "datetime"}


def _tips(*tips: tuple[str, str]) -> dict[str, Any]:
    """Hover tooltips: the time in UTC first, then each value with its unit."""
    return {"hover_tooltips": [_TIME_TIP, *tips], "hover_formatters": _TIME_FMT}


def _with_tips(obj: Any, *tips: tuple[str, str]) -> Any:
    """Apply :func:`_tips` to every curve and area of ``obj`` (also inside overlays)."""
    hv = _hv()
    spec = _tips(*tips)
    return obj.opts(hv.opts.Curve(**spec), hv.opts.Area(**spec))


def _target(name: str) -> Any:
    from specanalysis.catalogue import TARGETS

    return TARGETS.get(name)


def _target_line(hv: Any, value: float, text: str, data_max: float, x0: Any
                 ) -> tuple[list[Any], tuple[float, float] | None]:
    """A dashed target line with its label, and the y range that shows both.

    A target more than three times the largest value would squash the data into
    the bottom of the plot; then only a note in the top-left corner says where
    the target is, and the range stays the data's.
    """
    if not math.isfinite(data_max) or data_max <= 0:
        return [], None
    if value > 3 * data_max:
        note = hv.Text(x0, data_max, f" {text}: far above the data, off the scale",
                       halign="left", valign="top").opts(text_color="crimson",
                                                          text_font_size="9pt")
        return [note], None
    line = hv.HLine(value).opts(color="crimson", line_dash="dashed", line_width=1.5)
    label = hv.Text(x0, value, f" {text}", halign="left", valign="bottom").opts(
        text_color="crimson", text_font_size="9pt")
    return [line, label], (0.0, 1.15 * max(value, data_max))


def plot_task_rate(source: Source | pl.DataFrame, **kwargs: Any) -> Any:
    """Line plot of :func:`task_rate_frame` (kwargs go to the frame builder)."""
    _hv()
    f = task_rate_frame(source, **kwargs)
    _empty_guard(f, TASKS)
    return _with_tips(
        f.hvplot.line(x="timestamp", y="tasks_per_min", title="Task rate",
                      xlabel=_TIME, ylabel="tasks/min", responsive=True, height=300),
        ("task rate", "@{tasks_per_min}{0.0} tasks/min"))


def plot_depth_distribution(source: Source | pl.DataFrame, *, max_depth: int | None = None,
                            **kwargs: Any) -> Any:
    """Bar chart of tasks per depth bucket (:func:`depth_distribution_frame`).

    ``max_depth`` (the configured limit) adds a marker: depth counts unconfirmed
    ancestors, so the deepest allowed level is ``max_depth - 1``.
    """
    hv = _hv()
    f = depth_distribution_frame(source, **kwargs)
    _empty_guard(f, DEPTH + "_bucket")
    # integer bucket bounds: bucket ``le=d`` holds the tasks at depth d exactly
    f = f.with_columns(
        pl.when(pl.col("depth").is_finite())
        .then(pl.col("depth").cast(pl.Int64).cast(pl.String))
        .otherwise(pl.lit("+Inf")).alias("bucket"),
        (pl.col("share") * 100).alias("share_pct"))
    deepest = None if max_depth is None else str(int(max_depth) - 1)
    f = f.with_columns(pl.when(pl.col("bucket") == (deepest or ""))
                       .then(pl.lit("crimson")).otherwise(pl.lit("#30a2da"))
                       .alias("color"))
    title = "Speculation depth distribution"
    if deepest is not None:
        title += (f" — red: depth {deepest}, the deepest level max_depth = "
                  f"{max_depth} allows")
    return f.hvplot.bar(x="bucket", y="count", title=title,
                        xlabel="depth (unconfirmed ancestors)", ylabel="tasks",
                        hover_cols=["share_pct", "color"], responsive=True,
                        height=300).opts(
        color=hv.dim("color"),
        hover_tooltips=[("depth", "@{bucket}"), ("tasks", "@{count}{0,0}"),
                        ("share", "@{share_pct}{0.0} %")])


def plot_proof_latency(source: Source | pl.DataFrame, **kwargs: Any) -> Any:
    """p50/p90/p99 of :func:`proof_latency_frame`, each inside its histogram bucket.

    Each quantile is a line (``histogram_quantile``'s interpolation) over a band
    spanning the bucket it falls in: the histogram cannot place the quantile
    more precisely than that band. The guide's target for proof generation
    (p99 < 60 s, :data:`~specanalysis.catalogue.TARGETS`) is a dashed line.
    """
    f = proof_latency_frame(source, **kwargs)
    family = kwargs.get("family", PROOF)
    _empty_guard(f, family)
    hv = _hv()
    colors = {"p50": "#1f77b4", "p90": "#ff7f0e", "p99": "#d62728"}
    layers = []
    size = {"responsive": True, "height": 320}
    for name in f["quantile"].unique(maintain_order=True).to_list():
        part = f.filter(pl.col("quantile") == name).with_columns(
            pl.when(pl.col("bucket_hi").is_finite()).then(pl.col("bucket_hi"))
            .otherwise(pl.col("seconds")).alias("band_hi"))
        color = colors.get(name, "gray")
        layers.append(part.hvplot.area(
            x="timestamp", y="bucket_lo", y2="band_hi", alpha=0.12, color=color,
            line_alpha=0, hover=False, label=f"{name} bucket", **size))
        layers.append(_with_tips(
            part.hvplot.line(x="timestamp", y="seconds", label=name, color=color,
                             hover_cols=["bucket_lo", "bucket_hi"], **size),
            (name, "@{seconds}{0.000} s"),
            ("in bucket", "@{bucket_lo}{0.000} – @{bucket_hi}{0.000} s")))
    finite_hi = f.filter(pl.col("bucket_hi").is_finite())["bucket_hi"].max()
    data_max = max(f["seconds"].drop_nans().max() or 0.0, finite_hi or 0.0)
    target = _target("proof_p99_s") if family == PROOF else (
        _target("latency_p99_s") if family.endswith("e2e_latency_seconds") else None)
    ylim = None
    if target is not None:
        extra, ylim = _target_line(hv, target.value,
                                   f"guide target: p99 {target.op} {target.value:g} s",
                                   float(data_max), f["timestamp"].min())
        layers.extend(extra)
    what = "Proof generation time" if family == PROOF else family
    opts: dict[str, Any] = {"title": f"{what}: p50/p90/p99, each in its histogram "
                            "bucket (band)", "ylabel": "s", "xlabel": _TIME,
                            "legend_position": "right", **size}
    if ylim is not None:
        opts["ylim"] = ylim
    return hv.Overlay(layers).opts(**opts)


def plot_rollback_rate(source: Source | pl.DataFrame, *, y: str = "rollbacks_per_min", **kwargs: Any
                       ) -> Any:
    """Rollback rate by reason (``y``: ``"rollbacks_per_min"`` or ``"pct_of_tasks"``).

    As ``pct_of_tasks`` the reasons are stacked (their sum is the guide's
    rollback rate) and the guide's target (< 5 % of tasks) is a dashed line.
    """
    hv = _hv()
    f = rollback_rate_frame(source, **kwargs)
    _empty_guard(f, ROLLBACKS)
    if y == "pct_of_tasks":
        plot = _with_tips(
            f.hvplot.area(x="timestamp", y=y, by="reason", stacked=True,
                          title="Rollbacks as a share of tasks, by reason",
                          xlabel=_TIME, ylabel="% of tasks", responsive=True,
                          height=300),
            ("reason", "@{reason}"), ("rollbacks", "@{pct_of_tasks}{0.00} % of tasks"))
        target = _target("rollback_rate_pct")
        total = f.group_by("timestamp").agg(pl.col(y).sum())[y].drop_nans().max()
        extra, ylim = _target_line(hv, target.value,
                                   f"guide target: {target.op} {target.value:g} % of tasks",
                                   float(total or 0.0), f["timestamp"].min())
        out = hv.Overlay([plot, *extra])
        return out.opts(ylim=ylim) if ylim is not None else out
    return _with_tips(
        f.hvplot.line(x="timestamp", y=y, by="reason", title="Rollbacks by reason",
                      xlabel=_TIME, ylabel="rollbacks/min", responsive=True, height=300),
        ("reason", "@{reason}"), ("rollbacks", "@{rollbacks_per_min}{0.00}/min"))


def memory_groups(frame: pl.DataFrame, *, min_share: float = 0.05) -> dict[str, str]:
    """Component -> display group: components under ``min_share`` of the total mean
    memory are grouped as ``"other (n components)"``.

    Examples
    --------
    >>> f = pl.DataFrame({"component": ["a", "b", "c"], "mb": [95.0, 3.0, 2.0]})
    >>> memory_groups(f)
    {'a': 'a', 'b': 'other (2 components)', 'c': 'other (2 components)'}
    """
    means = frame.group_by("component").agg(pl.col("mb").mean()).sort("mb",
                                                                      descending=True)
    total = float(means["mb"].sum() or 0.0)
    small = [c for c, m in means.iter_rows() if total > 0 and m / total < min_share]
    if len(small) < 2:
        return {c: c for c in means["component"]}
    other = f"other ({len(small)} components)"
    return {c: (other if c in small else c) for c in means["component"]}


def plot_memory(source: Source | pl.DataFrame, *, min_share: float = 0.05, **kwargs: Any) -> Any:
    """Memory by component (:func:`memory_frame`), every component visible.

    Top: stacked area of the components, those under ``min_share`` of the total
    grouped (:func:`memory_groups`). Below: the grouped small components on a
    log scale, so none is an invisible sliver. Returns a ``holoviews.Layout``
    (or just the stack when nothing is small).
    """
    hv = _hv()
    f = memory_frame(source, **kwargs)
    _empty_guard(f, MEMORY)
    groups = memory_groups(f, min_share=min_share)
    grouped = f.with_columns(pl.col("component").replace_strict(groups).alias("group")
                             ).group_by("timestamp", "group").agg(pl.col("mb").sum()
                                                                  ).sort("group", "timestamp")
    stack = _with_tips(
        grouped.hvplot.area(x="timestamp", y="mb", by="group", stacked=True,
                            title="Speculation memory by component (stacked)",
                            xlabel=_TIME, ylabel="MB", width=900, height=300),
        ("component", "@{group}"), ("memory", "@{mb}{0.0} MB"))
    small = sorted(c for c, g in groups.items() if g != c)
    if not small:
        return stack
    detail = f.filter(pl.col("component").is_in(small)).with_columns(
        pl.when(pl.col("mb") > 0).then(pl.col("mb")).otherwise(None).alias("mb")
    ).hvplot.line(
        x="timestamp", y="mb", by="component", logy=True,
        title=f"The {len(small)} small components (log scale: each visible)",
        xlabel=_TIME, ylabel="MB (log)", width=900, height=240)
    detail = _with_tips(detail, ("component", "@{component}"),
                        ("memory", "@{mb}{0.000} MB"))
    return hv.Layout([stack, detail]).cols(1).opts(shared_axes=False)


def plot_active(source: Source | pl.DataFrame, **kwargs: Any) -> Any:
    """Active tasks and branches over time (:func:`active_frame`)."""
    _hv()
    f = active_frame(source, **kwargs)
    _empty_guard(f, ACTIVE)
    return _with_tips(
        f.hvplot.line(x="timestamp", y="value", by="series",
                      title="Active tasks and branches", xlabel=_TIME, ylabel="count",
                      responsive=True, height=300),
        ("series", "@{series}"), ("in flight", "@{value}{0}"))


def plot_classification(
    workload: Characterization | tuple[float, float], *,
    thresholds: Thresholds | None = None,
) -> Any:
    """The guide's classification matrix (log volume × depth) with the workload on it.

    Dashed lines at the volume boundaries (100 and 1000 tasks/min) and the depth
    split (3); the 100-1000/min band the matrix leaves open is shaded; each
    quadrant is labelled with its name.
    """
    hv = _hv()
    point = classification_frame(workload, thresholds=thresholds)
    th = thresholds or (workload.thresholds if isinstance(workload, Characterization)
                        else Thresholds())
    vol = float(point["volume_per_min"][0])
    depth = float(point["depth"][0])
    x_lo = min(th.low_volume / 10, vol / 2) if vol > 0 else th.low_volume / 10
    x_hi = max(th.high_volume * 10, vol * 2)
    y_hi = max(2 * th.shallow_depth + 2, depth + 1)
    y_lo = 0.0
    labels = pl.DataFrame({
        "x": [math.sqrt(x_lo * th.low_volume), math.sqrt(th.high_volume * x_hi)] * 2,
        "y": [th.shallow_depth / 2] * 2 + [(th.shallow_depth + y_hi) / 2] * 2,
        "text": [th.quadrant(v, d).title
                 for d in ("shallow", "deep") for v in ("low", "high")],
    })
    band = hv.VSpan(th.low_volume, th.high_volume).opts(color="lightgray", alpha=0.3)
    lines = (hv.VLine(th.low_volume).opts(line_dash="dashed", color="gray")
             * hv.VLine(th.high_volume).opts(line_dash="dashed", color="gray")
             * hv.HLine(th.shallow_depth).opts(line_dash="dashed", color="gray"))
    text = hv.Labels(list(labels.iter_rows()), kdims=["x", "y"], vdims=["text"]).opts(
        text_font_size="9pt", text_color="dimgray")
    dot = point.hvplot.scatter(
        x="volume_per_min", y="depth", hover_cols=["label", "quadrant",
                                                   "nearest_quadrant"],
        size=120, color="crimson", logx=True,
    )
    return (band * lines * text * dot).opts(
        title="Workload classification matrix", logx=True,
        xlim=(x_lo, x_hi), ylim=(y_lo, y_hi),
        xlabel="volume (tasks/min, log)", ylabel="depth",
    )
