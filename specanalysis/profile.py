"""Workload profile and characterisation (the tuning guide's first step).

Two steps on a source, plus the pure decision they feed:

* :func:`profile_workload` runs the guide's *workload profiling script* as a
  function: every figure the script prints (task rate, depth distribution, proof
  generation p50/p99, rollback rate, average memory, peak active tasks) plus the
  figures the guide's tuning sections read (confirmation p99, proof queue
  utilisation, rollback size and blast radius, branches, memory per branch and per
  active task, actual batch size, end-to-end latency). Each figure carries the
  query expression that produced it, so its PromQL can be pasted into Grafana.
* :func:`characterize` measures the features the guide's *workload type* and
  *classification matrix* read (volume, depth, the per-minute rate series) and
  hands them to :func:`specanalysis.classify.classify`, the pure decision
  (thresholds in :class:`~specanalysis.classify.Thresholds`, which extend the
  one matrix of :mod:`specanalysis.matrix`). The names of :mod:`specanalysis.classify`
  (``classify_quadrant``, ``Thresholds``, ``rate_features``, ...) are
  re-exported here.

Only ``source.evaluate`` / ``source.evaluate_range`` are used, so the same code runs
on an :class:`~specanalysis.sources.OfflineSource` and a live
:class:`~specanalysis.sources.PrometheusSource`.

Two of the guide script's quirks are fixed, not copied (runtime-facts §1c):
the depth distribution is read from ``increase()`` of the buckets over the window
(the script sums raw cumulative counters since process start), and the "effective
depth" is a quantile of that distribution (the script prints the last line of the
``/metrics`` text, which is the ``+Inf`` bucket or ``_count``).

Examples: :func:`profile_workload` and :func:`characterize`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta, timezone
from typing import Any

import polars as pl

from specanalysis._time import (
    format_duration,
    parse_duration,
    to_datetime,
    window_start,
)
from specanalysis.catalogue import (
    ACTIVE,
    ACTIVE_BY_DEPTH,
    AUTO_DISABLED,
    BATCH,
    BATCH_DURATION,
    BRANCHES,
    CASCADE,
    CONFIG,
    CONFIRM,
    CONFIRMED,
    DEFERRAL_WAIT,
    DEFERRED,
    DEPTH,
    E2E,
    EXECUTION,
    MAX_DEPTH,
    MEMORY,
    MEMORY_LIMIT,
    PROOF,
    QUEUE_CAP,
    QUEUE_DEPTH,
    REJECTED,
    ROLLBACKS,
    ROLLED_BACK,
    SCHEDULED,
    TASKS,
    WORKERS,
    WORKERS_BUSY,
)
from specanalysis.classify import (
    QUADRANTS,
    WORKLOAD_TYPES,
    Classification,
    QuadrantPlacement,
    Thresholds,
    classify,
    classify_quadrant,
    rate_features,
)
from specanalysis.errors import DataError
from specanalysis.sources._base import Source, as_source

__all__ = [
    "ConfigMismatchWarning",
    "Figure",
    "WorkloadProfile",
    "profile_workload",
    "Thresholds",
    "QuadrantPlacement",
    "classify_quadrant",
    "Characterization",
    "characterize",
    "rate_features",
    "depth_table",
    "Classification",
    "classify",
    "QUADRANTS",
    "WORKLOAD_TYPES",
]

MB = 1024.0 * 1024.0


class ConfigMismatchWarning(UserWarning):
    """The configuration passed to :func:`profile_workload` disagrees with the data's
    configuration gauges (each parameter is named with both values)."""


_CONFIG_CHECK_SCHEMA = {"parameter": pl.String, "configured": pl.Float64,
                        "measured": pl.Float64, "instances": pl.String,
                        "agrees": pl.Boolean}


# ---------------------------------------------------------------------------
# results


@dataclass(frozen=True)
class Figure:
    """One measured figure of a workload profile.

    Attributes
    ----------
    name
        Stable key (``"task_rate"``, ``"proof_p99"``, ...).
    value
        The figure, or NaN when it could not be measured (``note`` says why).
    unit
        Unit of ``value`` (``"tasks/min"``, ``"s"``, ``"%"``, ``"MB"``, ...).
    expr
        The query expression evaluated (``expr.promql`` is the PromQL), or None
        for figures derived in Python (depth quantiles read from the table).
    note
        How the figure was computed or why it is missing; empty when unremarkable.
    label
        Display label used by :meth:`WorkloadProfile.summary`.
    """

    name: str
    value: float
    unit: str
    expr: Any = None
    note: str = ""
    label: str = ""
    low: float = float("nan")
    high: float = float("nan")
    flags: tuple[str, ...] = ()

    @property
    def bounds(self) -> tuple[float, float] | None:
        """``(low, high)``: the histogram bucket the true quantile lies in (None for
        figures that are not read from buckets)."""
        if math.isnan(self.low) and math.isnan(self.high):
            return None
        return self.low, self.high

    def straddles(self, threshold: float) -> bool:
        """True when ``threshold`` lies strictly inside the figure's bucket bounds:
        whether the true value is above or below it cannot be told."""
        b = self.bounds
        return b is not None and b[0] < threshold < b[1]

    def resolves(self, relative_effect: float) -> bool:
        """Whether a relative change of ``relative_effect`` (0.1 = 10 %) is larger
        than the bucket resolution (the bucket's width relative to the value).

        Always True for figures without bucket bounds.
        """
        b = self.bounds
        if b is None:
            return True
        if not (math.isfinite(b[1]) and self.value > 0):
            return False
        return abs(relative_effect) > (b[1] - b[0]) / self.value

    @property
    def promql(self) -> str | None:
        """PromQL of ``expr`` (None when the figure has no single query)."""
        return None if self.expr is None else _promql(self.expr)

    @property
    def available(self) -> bool:
        """True when ``value`` is a number (not NaN)."""
        return not math.isnan(self.value)

    def format_value(self, digits: int = 4) -> str:
        """The value with ``digits`` significant digits and its unit (``"n/a"`` if NaN)."""
        if math.isnan(self.value):
            return "n/a"
        if math.isinf(self.value):
            text = "+Inf" if self.value > 0 else "-Inf"
        else:
            text = f"{self.value:.{digits}g}"
        if not self.unit:
            return text
        sep = "" if self.unit in ("%", "s") else " "
        return f"{text}{sep}{self.unit}"

    def format_bounds(self) -> str:
        """``"[0.1, 0.25] s"`` when the figure has bucket bounds, else ``""``."""
        b = self.bounds
        if b is None:
            return ""
        hi = "+Inf" if math.isinf(b[1]) else f"{b[1]:.4g}"
        return f"[{b[0]:.4g}, {hi}] {self.unit}".rstrip()


def _promql(expr: Any) -> str:
    return expr if isinstance(expr, str) else expr.promql


@dataclass(frozen=True, eq=False)
class WorkloadProfile:
    """The guide's workload profile, measured over ``window`` ending at ``at``.

    Attributes
    ----------
    figures
        Figure name -> :class:`Figure`, in the order the guide's script prints them.
    depth_distribution
        One row per depth bucket: ``le`` (bucket bound as text), ``depth`` (Float64
        bound, ``inf`` for ``+Inf``), ``cumulative`` (tasks at depth <= bound in
        the window), ``count`` (tasks in this bucket), ``share`` and
        ``cumulative_share`` (0-1).
    window, at, start
        The window (PromQL duration text), its end and its start.
    missing
        Catalogue metric names the source lacks (their figures are NaN).
    notes
        Remarks about the whole profile (window longer than the data, ...).
    coverage
        Fraction of the window covered by data (None when the source cannot say).
    rollback_reasons
        One row per rollback reason in the runbooks' vocabulary (names of other
        documents normalised through :func:`~specanalysis.catalogue.canonical_reason`):
        ``reason``, ``events`` (``sum by (reason) (increase(speculation_rollback_total[w]))``),
        ``share`` (0-1) and ``raw_reasons`` (the names found in the data); empty
        when the source has no rollback counter.
    rollback_counting
        What ``speculation_rollback_total`` counts, detected from the data:
        ``"events"``, ``"tasks"``, ``"indistinguishable"`` (every rollback undid
        one task) or ``"unknown"``; ``rollback_counting_evidence`` says why.
    instances
        The ``instance`` label values seen (empty when the data has no such label).
    per_instance
        One row per instance (empty with fewer than two): ``instance`` and the
        per-instance figures (task and offered rates, peaks of active tasks,
        branches, memory and queue, limits), so per-instance limits meet
        per-instance peaks.
    config_gauges
        The configuration the data reports (``speculation_config{parameter}`` and
        ``speculation_max_depth``): dotted parameter -> value (the largest when
        instances disagree).
    config_check
        Reconciliation of the ``config=`` passed to :func:`profile_workload` with
        ``config_gauges``: ``parameter``, ``configured``, ``measured``,
        ``instances`` (which report ``measured``), ``agrees``; empty without
        either side.
    deferrals, rejections
        ``reason``, ``depth``, ``tasks``: tasks refused speculative admission
        (``speculation_tasks_deferred_total``) and ``reason``, ``tasks``: tasks
        refused at submission, in the window.
    offered_depth_distribution
        The depth the offered tasks wanted: the executed depth distribution with
        deferrals for ``depth_limit`` moved to the depth they would have had (the
        same columns as ``depth_distribution``). Equal to it when nothing was
        deferred.
    histograms
        Family name -> bucket table (:func:`specanalysis.buckets.bucket_table`
        plus the exact ``sum`` and ``count`` when exported): the raw material of
        calibration.
    offered_series
        ``timestamp``, ``tasks``: tasks scheduled (offered) in each scrape interval
        of the window, summed over instances (``tasks_per_min`` of executions when
        the source has no scheduled counter); ``scrape_interval_s`` its step.
    counter_series
        ``timestamp`` and the increase in each scrape interval (summed over
        instances, reset-aware) of ``scheduled``, ``executed``, ``confirmed``,
        ``batches``, ``batch_seconds``, ``proofs``, ``proof_seconds``,
        ``rollbacks``, ``rolled_back`` (null where the source lacks the counter).
    data_range
        First and last sample time of the source (None when it cannot say).
    """

    figures: dict[str, Figure]
    depth_distribution: pl.DataFrame
    window: str
    at: datetime
    start: datetime
    missing: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    coverage: float | None = None
    rollback_reasons: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(
        schema={"reason": pl.String, "events": pl.Float64, "share": pl.Float64,
                "raw_reasons": pl.String}))
    rollback_counting: str = "unknown"
    rollback_counting_evidence: str = ""
    instances: tuple[str, ...] = ()
    per_instance: pl.DataFrame = field(default_factory=pl.DataFrame)
    config_gauges: dict[str, float] = field(default_factory=dict)
    config_check: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(
        schema=_CONFIG_CHECK_SCHEMA))
    deferrals: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(
        schema={"reason": pl.String, "depth": pl.Int64, "tasks": pl.Float64}))
    rejections: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(
        schema={"reason": pl.String, "tasks": pl.Float64}))
    offered_depth_distribution: pl.DataFrame | None = None
    histograms: dict[str, Any] = field(default_factory=dict)
    offered_series: pl.DataFrame | None = None
    scrape_interval_s: float = float("nan")
    counter_series: pl.DataFrame | None = None
    data_range: tuple[datetime, datetime] | None = None

    def __getitem__(self, name: str) -> Figure:
        try:
            return self.figures[name]
        except KeyError:
            raise DataError(f"no figure named {name!r}", field="name",
                            expected=", ".join(self.figures)) from None

    def value(self, name: str) -> float:
        """Shortcut for ``profile[name].value``."""
        return self[name].value

    @property
    def unavailable(self) -> tuple[str, ...]:
        """Names of the figures whose value is NaN."""
        return tuple(n for n, f in self.figures.items() if not f.available)

    def to_frame(self) -> pl.DataFrame:
        """One row per figure: name, value, unit, promql, note."""
        figs = list(self.figures.values())
        return pl.DataFrame(
            {
                "name": [f.name for f in figs],
                "value": [f.value for f in figs],
                "unit": [f.unit for f in figs],
                "promql": [f.promql for f in figs],
                "note": [f.note for f in figs],
                "low": [f.low for f in figs],
                "high": [f.high for f in figs],
                "flags": ["; ".join(f.flags) for f in figs],
            },
            schema={"name": pl.String, "value": pl.Float64, "unit": pl.String,
                    "promql": pl.String, "note": pl.String, "low": pl.Float64,
                    "high": pl.Float64, "flags": pl.String},
        )

    @property
    def flagged(self) -> tuple[Figure, ...]:
        """Figures carrying a resolution or data-quality flag."""
        return tuple(f for f in self.figures.values() if f.flags)

    def measured_config(self, base: Any = None) -> Any:
        """The configuration the data reports: ``base`` (default: the runtime
        defaults with speculation enabled) with every parameter of
        :attr:`config_gauges` replaced. Parameters the gauges cannot carry
        (strings such as ``rollback_policy``) keep ``base``'s values.

        Examples
        --------
        >>> import polars as pl
        >>> from datetime import datetime, timedelta, timezone
        >>> t0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
        >>> ts = [t0 + timedelta(seconds=15 * i) for i in range(5)]
        >>> samples = pl.DataFrame({"timestamp": ts * 2,
        ...     "metric": ["speculation_tasks_total"] * 5 + ["speculation_config"] * 5,
        ...     "value": [float(i) for i in range(5)] + [3.0] * 5,
        ...     "parameter": [None] * 5 + ["max_depth"] * 5})
        >>> profile_workload(samples).measured_config().max_depth
        3
        """
        from specanalysis.config import SpeculationConfig

        cfg = base if base is not None else SpeculationConfig(enabled=True)
        changes = _config_changes(cfg, self.config_gauges)
        return cfg.replace(**changes) if changes else cfg

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python form (JSON-safe: NaN becomes None, times are RFC 3339)."""
        return {
            "window": self.window,
            "start": self.start.isoformat(),
            "at": self.at.isoformat(),
            "coverage": self.coverage,
            "figures": {
                f.name: {"value": _json_float(f.value), "unit": f.unit,
                         "promql": f.promql, "note": f.note,
                         "low": _json_float(f.low), "high": _json_float(f.high),
                         "flags": list(f.flags)}
                for f in self.figures.values()
            },
            "rollback_counting": self.rollback_counting,
            "rollback_counting_evidence": self.rollback_counting_evidence,
            "instances": list(self.instances),
            "per_instance": _rows(self.per_instance),
            "config_gauges": dict(self.config_gauges),
            "config_check": _rows(self.config_check),
            "deferrals": _rows(self.deferrals),
            "rejections": _rows(self.rejections),
            "depth_distribution": [
                {k: _json_float(v) if isinstance(v, float) else v for k, v in row.items()}
                for row in self.depth_distribution.to_dicts()
            ],
            "rollback_reasons": [
                {k: _json_float(v) if isinstance(v, float) else v for k, v in row.items()}
                for row in self.rollback_reasons.to_dicts()
            ],
            "missing": list(self.missing),
            "notes": list(self.notes),
        }

    def to_json(self, **kwargs: Any) -> str:
        """:meth:`to_dict` as JSON text (``kwargs`` go to :func:`json.dumps`)."""
        kwargs.setdefault("indent", 2)
        return json.dumps(self.to_dict(), allow_nan=False, **kwargs)

    def to_workload(self, config: Any = None, **overrides: Any) -> Any:
        """A simulator :class:`~specanalysis.sim.Workload` that reproduces this profile.

        The bridge from "what is my workload?" to "what if?": simulate a
        candidate configuration on the workload you measured. This is
        :func:`specanalysis.calibrate.calibrate` (which also returns every
        recovered parameter with its standard error, the measured configuration
        and the simulator settings) reduced to the workload: the offered rate and
        burst pattern from the scheduled counter, execution, confirmation and
        per-batch proof times fitted to histogram buckets, the batch overhead
        separated from the per-proof cost, chain lengths beyond the depth cap
        from simulated responses, the failure probability and the instances.

        Parameters
        ----------
        config
            The configuration the runtime ran with (its gauges in the data win);
            default: the runtime defaults with speculation enabled.
        **overrides
            :class:`~specanalysis.sim.Workload` fields taken as given (not fitted).

        Examples
        --------
        >>> import polars as pl
        >>> from datetime import datetime, timedelta, timezone
        >>> t0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
        >>> ts = [t0 + timedelta(seconds=15 * i) for i in range(241)]
        >>> samples = pl.DataFrame({"timestamp": ts,
        ...     "metric": ["speculation_tasks_total"] * len(ts),
        ...     "value": [30.0 * i for i in range(len(ts))]})
        >>> wl = profile_workload(samples, window="1h").to_workload(depth="fixed:2")
        >>> wl.rate, wl.depth
        (2.0, 'fixed:2')
        """
        from specanalysis.calibrate import calibrate

        return calibrate(self, config=config, fixed=overrides).workload

    def summary(self) -> str:
        """The profile as text, in the layout of the guide's profiling script."""
        f = self.figures
        lines = [
            "=== Workload Profile ===",
            f"Sample Period: {self.start:%Y-%m-%d %H:%M} UTC - {self.at:%Y-%m-%d %H:%M} UTC"
            f" ({self.window})",
            "",
            f"Task Rate: {f['task_rate'].format_value()}",
            "Depth Distribution:",
        ]
        if self.depth_distribution.height:
            for row in self.depth_distribution.iter_rows(named=True):
                bound = f"{row['depth']:g}" if math.isfinite(row["depth"]) else "+Inf"
                lines.append(
                    f"  Depth ≤{bound}: {row['cumulative']:.6g} "
                    f"({100 * row['cumulative_share']:.1f} %)"
                )
        else:
            lines.append(f"  n/a ({f['depth_p50'].note})")
        def bounded(fig: Figure) -> str:
            b = fig.format_bounds()
            return fig.format_value() + (f" (bucket {b})" if b else "")

        lines.append(
            f"Proof Generation: p50={bounded(f['proof_p50'])}, "
            f"p99={bounded(f['proof_p99'])}"
        )
        lines.append(f"Rollback Rate: {f['rollback_rate'].format_value()}"
                     f" (counter counts: {self.rollback_counting})")
        if self.rollback_reasons.height and self.rollback_reasons["events"].sum() > 0:
            lines.append("  by reason: " + ", ".join(
                f"{r['reason']} {100 * r['share']:.1f} %"
                + (f" [{r['raw_reasons']}]" if r.get("raw_reasons")
                   and r["raw_reasons"] != r["reason"] else "")
                for r in self.rollback_reasons.iter_rows(named=True)))
        lines.append(f"Avg Memory: {f['memory_avg'].format_value()}")
        lines.append(f"Peak Active Tasks: {f['peak_active_tasks'].format_value()}")
        lines.append("")
        lines.append("Further figures:")
        shown = {"task_rate", "proof_p50", "proof_p99", "rollback_rate", "memory_avg",
                 "peak_active_tasks"}
        for fig in f.values():
            if fig.name not in shown:
                lines.append(f"  {fig.label or fig.name}: {bounded(fig)}")
        if self.instances:
            lines.append("")
            lines.append(f"Instances ({len(self.instances)}): " + ", ".join(self.instances))
        if self.config_check.height:
            bad = self.config_check.filter(~pl.col("agrees"))
            lines.append("")
            lines.append(f"Configuration vs the data's gauges: {self.config_check.height} "
                         f"parameters compared, {bad.height} disagree")
            for r in bad.iter_rows(named=True):
                lines.append(f"  {r['parameter']}: configured {r['configured']:g}, "
                             f"data {r['measured']:g}")
        flagged = self.flagged
        if flagged:
            lines.append("")
            lines.append("Flags:")
            for fig in flagged:
                for flag in fig.flags:
                    lines.append(f"  {fig.label or fig.name}: {flag}")
        if self.missing:
            lines.append("")
            lines.append("Missing metrics: " + ", ".join(self.missing))
        for note in self.notes:
            lines.append(f"Note: {note}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        avail = len(self.figures) - len(self.unavailable)
        return (
            f"WorkloadProfile(window={self.window!r}, at={self.at.isoformat()}, "
            f"{avail}/{len(self.figures)} figures, "
            f"task_rate={self.figures['task_rate'].format_value()}, "
            f"missing={list(self.missing)})"
        )

    def _repr_html_(self) -> str:
        from html import escape

        rows = "".join(
            "<tr><td>{}</td><td style='text-align:right'>{}</td><td><code>{}</code>"
            "</td><td>{}</td></tr>".format(
                escape(fig.label or fig.name), escape(fig.format_value()),
                escape(fig.promql or ""), escape(fig.note),
            )
            for fig in self.figures.values()
        )
        notes = "".join(f"<li>{escape(n)}</li>" for n in self.notes)
        missing = (
            f"<p>Missing metrics: {escape(', '.join(self.missing))}</p>"
            if self.missing else ""
        )
        return (
            f"<div><b>Workload profile</b> {escape(self.start.isoformat())} – "
            f"{escape(self.at.isoformat())} ({escape(self.window)})"
            "<table><tr><th>figure</th><th>value</th><th>PromQL</th><th>note</th></tr>"
            f"{rows}</table>{missing}"
            f"{'<ul>' + notes + '</ul>' if notes else ''}</div>"
        )


def _rows(frame: pl.DataFrame | None) -> list[dict[str, Any]]:
    if frame is None or frame.height == 0:
        return []
    return [{k: _json_float(v) if isinstance(v, float) else v for k, v in row.items()}
            for row in frame.to_dicts()]


def _json_float(x: float | None) -> float | None:
    if x is None or (isinstance(x, float) and (math.isnan(x) or math.isinf(x))):
        return None
    return x


# ---------------------------------------------------------------------------
# helpers for talking to a source


def _q():
    from specanalysis import query

    return query


def _as_source(source_or_samples: Source | pl.DataFrame) -> Source:
    return as_source(source_or_samples)


def _time_range(source: Source) -> tuple[datetime, datetime] | None:
    try:
        rng = source.time_range()
    except NotImplementedError:
        return None
    if rng is None or rng[0] is None or rng[1] is None:
        return None
    return to_datetime(rng[0]), to_datetime(rng[1])


def _resolve_time(source: Source, at: Any
                  ) -> tuple[datetime, tuple[datetime, datetime] | None]:
    rng = _time_range(source)
    if at is not None:
        return to_datetime(at, field="at"), rng
    if rng is not None:
        return rng[1], rng
    return datetime.now(timezone.utc).replace(microsecond=0), rng


def _scalar(frame: pl.DataFrame) -> float | None:
    """The single value of an aggregated instant result (None when empty)."""
    if frame.height == 0:
        return None
    if frame.height > 1:  # pragma: no cover - aggregated queries give one row
        raise DataError(
            f"expected one series, got {frame.height}", field="result",
            expected="an aggregated (sum/avg/max) query result",
        )
    v = frame.get_column("value")[0]
    return float("nan") if v is None else float(v)


class _Probe:
    """Evaluate figures at one instant and explain the empty ones."""

    def __init__(self, source: Any, window: str, at: datetime) -> None:
        self.source = source
        self.window = window
        self.at = at
        self._present: dict[str, bool] = {}
        self.missing: set[str] = set()

    def present(self, sample_name: str) -> bool:
        if sample_name not in self._present:
            q = _q()
            res = self.source.evaluate(
                q.count(q.count_over_time(q.metric(sample_name), self.window)), self.at
            )
            val = _scalar(res)
            self._present[sample_name] = val is not None and val > 0
        return self._present[sample_name]

    def figure(self, name: str, label: str, unit: str, expr: Any,
               needs: tuple[str, ...], note: str = "") -> Figure:
        res = self.source.evaluate(expr, self.at)
        value = _scalar(res)
        if value is None or math.isnan(value) or math.isinf(value):
            absent = [m for m in needs if not self.present(m)]
            for m in absent:
                self.missing.add(_family(m))
            if absent:
                why = "; ".join(
                    f"metric {m} absent from source (no samples in the "
                    f"{self.window} window)" for m in absent
                )
            elif value is None:
                why = (f"no result: too few samples of {', '.join(needs)} in the "
                       f"{self.window} window")
            elif math.isinf(value):
                why = "division by zero (denominator is 0 in the window)"
            else:
                why = "undefined in the window (no observations or 0/0)"
            return Figure(name, float("nan"), unit, expr,
                          why + (f"; {note}" if note else ""), label)
        return Figure(name, value, unit, expr, note, label)


def _rollback_reasons(source: Any, q: Any, window: str, at: datetime) -> pl.DataFrame:
    """Rollback events by reason in the window (reason, events, share)."""
    expr = q.sum(q.increase(q.metric(ROLLBACKS), window), by=["reason"])
    res = source.evaluate(expr, at)
    if "reason" not in res.columns:
        res = res.with_columns(pl.lit(None, pl.String).alias("reason"))
    from specanalysis.catalogue import normalize_reasons

    table = res.select(pl.col("reason").fill_null("(none)"),
                       pl.col("value").fill_nan(0.0).alias("events"))
    table = normalize_reasons(table, value="events").sort("reason")
    total = table["events"].sum()
    return table.with_columns(
        (pl.col("events") / total if total > 0 else pl.lit(float("nan")))
        .cast(pl.Float64).alias("share")).select("reason", "events", "share",
                                                 "raw_reasons")


def _timeout_share(reasons: pl.DataFrame, q: Any, window: str) -> Figure:
    """Share of rollback events caused by timeouts (0 when no timeout series exists)."""
    import re

    inc = q.increase
    raw = ["timeout"]
    for r in reasons.filter(pl.col("reason") == "timeout")["raw_reasons"].to_list():
        raw.extend(x for x in (r or "").split(",") if x and x not in raw)
    sel = (q.metric(ROLLBACKS, reason="timeout") if len(raw) == 1 else
           q.metric(ROLLBACKS, matchers=[("reason", "=~",
                                          "|".join(re.escape(x) for x in raw))]))
    expr = (q.sum(inc(sel, window)) / q.sum(inc(q.metric(ROLLBACKS), window)) * 100)
    label = "Timeout share of rollbacks"
    total = reasons["events"].sum() if reasons.height else 0.0
    if not total > 0:
        return Figure("rollback_timeout_share", float("nan"), "%", expr,
                      f"no rollback events in the {window} window", label)
    timeouts = reasons.filter(pl.col("reason") == "timeout")["events"].sum()
    return Figure("rollback_timeout_share", 100.0 * timeouts / total, "%", expr,
                  "proof or confirmation timeouts: capacity and timeout settings, "
                  "not depth", label)


def _family(sample_name: str) -> str:
    for suffix in ("_bucket", "_sum", "_count"):
        if sample_name.endswith(suffix):
            return sample_name[: -len(suffix)]
    return sample_name


# ---------------------------------------------------------------------------
# depth distribution


def depth_table(buckets: pl.DataFrame) -> pl.DataFrame:
    """Per-depth counts and shares from cumulative histogram buckets.

    Parameters
    ----------
    buckets
        A frame with ``le`` (String bucket bound, ``"+Inf"`` allowed) and
        ``value`` (cumulative count of tasks with depth <= le), e.g. the result of
        ``sum by (le) (increase(speculation_depth_histogram_bucket[1h]))``.

    Returns
    -------
    polars.DataFrame
        ``le``, ``depth`` (Float64 bound), ``cumulative``, ``count``, ``share``,
        ``cumulative_share``, sorted by depth. Cumulative counts are made
        monotonic (a running maximum, as ``histogram_quantile`` does) because
        ``increase()`` extrapolates each bucket series separately.

    Examples
    --------
    >>> import polars as pl
    >>> t = depth_table(pl.DataFrame({"le": ["1", "2", "3", "+Inf"],
    ...                               "value": [10.0, 30.0, 40.0, 40.0]}))
    >>> t["count"].to_list(), t["share"].to_list()
    ([10.0, 20.0, 10.0, 0.0], [0.25, 0.5, 0.25, 0.0])
    """
    schema = {"le": pl.String, "depth": pl.Float64, "cumulative": pl.Float64,
              "count": pl.Float64, "share": pl.Float64, "cumulative_share": pl.Float64}
    if buckets.height == 0:
        return pl.DataFrame(schema=schema)
    frame = (
        buckets.select(
            pl.col("le"),
            pl.col("le").str.replace(r"^\+?Inf$", "inf").cast(pl.Float64, strict=False)
            .alias("depth"),
            pl.col("value").cast(pl.Float64).fill_nan(0.0).alias("raw"),
        )
    )
    bad = frame.filter(pl.col("depth").is_null())
    if bad.height:
        raise DataError(
            f"bucket bound {bad['le'][0]!r} is not a number", field="le",
            expected="numeric bucket bounds or '+Inf'",
        )
    frame = frame.sort("depth").with_columns(
        pl.col("raw").cum_max().clip(lower_bound=0.0).alias("cumulative")
    )
    total = frame.get_column("cumulative").max()
    frame = frame.with_columns(
        pl.col("cumulative").diff().fill_null(pl.col("cumulative")).alias("count")
    )
    if total and total > 0:
        frame = frame.with_columns(
            (pl.col("count") / total).alias("share"),
            (pl.col("cumulative") / total).alias("cumulative_share"),
        )
    else:
        frame = frame.with_columns(
            pl.lit(float("nan")).alias("share"),
            pl.lit(float("nan")).alias("cumulative_share"),
        )
    return frame.select(list(schema)).cast(schema)


def _depth_quantile(table: pl.DataFrame, q: float) -> float:
    """Smallest bucket bound whose cumulative share reaches ``q`` (discrete depths)."""
    if table.height == 0:
        return float("nan")
    hit = table.filter(pl.col("cumulative_share") >= q - 1e-12)
    if hit.height == 0:
        return float("nan")
    return float(hit.get_column("depth")[0])


def _depth_figures(probe: _Probe, window: str) -> tuple[pl.DataFrame, list[Figure]]:
    q = _q()
    bucket = DEPTH + "_bucket"
    expr = q.sum(q.increase(q.metric(bucket), window), by=["le"])
    raw = probe.source.evaluate(expr, probe.at)
    no_le = raw.height > 0 and "le" not in raw.columns
    table = depth_table(raw.select("le", "value")) if raw.height and not no_le else (
        depth_table(pl.DataFrame(schema={"le": pl.String, "value": pl.Float64})))
    figs: list[Figure] = []
    total = float(table.get_column("cumulative").max()) if table.height else 0.0
    if table.height == 0 or not total > 0:
        if not probe.present(bucket):
            probe.missing.add(DEPTH)
            why = f"metric {bucket} absent from source (no samples in the {window} window)"
        elif no_le:
            why = (f"the {bucket} series carry no 'le' label, so they are not "
                   "histogram buckets")
        elif table.height == 0:
            why = f"no result: too few samples of {bucket} in the {window} window"
        else:
            why = f"no tasks observed in the {window} window"
        for name, label in (("depth_mean", "Depth mean"), ("depth_p50", "Depth p50"),
                            ("depth_p90", "Depth p90"),
                            ("depth_max", "Max depth observed")):
            figs.append(Figure(name, float("nan"), "levels", expr, why, label))
        return table, figs

    finite = table.filter(pl.col("depth").is_finite())
    overflow = float(table.filter(~pl.col("depth").is_finite())
                     .get_column("count").sum()) if table.height else 0.0
    # mean: exact from _sum/_count when exported, otherwise from bucket bounds
    mean_expr = q.sum(q.increase(q.metric(DEPTH + "_sum"), window)) / q.sum(
        q.increase(q.metric(DEPTH + "_count"), window)
    )
    mean = _scalar(probe.source.evaluate(mean_expr, probe.at))
    if mean is not None and math.isfinite(mean):
        figs.append(Figure("depth_mean", mean, "levels", mean_expr,
                           "increase(_sum) / increase(_count)", "Depth mean"))
    else:
        weighted = float((finite["depth"] * finite["count"]).sum())
        n = float(finite["count"].sum())
        value = weighted / n if n > 0 else float("nan")
        figs.append(Figure("depth_mean", value, "levels", expr,
                           "from bucket bounds (each bucket counted at its upper "
                           "bound; _sum/_count not available)", "Depth mean"))
    note = "discrete quantile: smallest depth bucket whose cumulative share >= q"
    if overflow > 0:
        note += f"; {overflow:.6g} tasks deeper than the largest finite bucket"
    figs.append(Figure("depth_p50", _depth_quantile(table, 0.5), "levels", expr, note,
                       "Depth p50"))
    figs.append(Figure("depth_p90", _depth_quantile(table, 0.9), "levels", expr, note,
                       "Depth p90 (effective depth)"))
    seen = finite.filter(pl.col("count") > 0)
    max_note = "largest depth bucket with tasks in the window"
    if overflow > 0:
        max_note += (f" (lower bound: {overflow:.6g} tasks are in the +Inf bucket, "
                     "deeper than the largest finite bound)")
    max_depth = float(seen["depth"].max()) if seen.height else float("nan")
    if overflow > 0 and finite.height:
        max_depth = float(finite["depth"].max())
    figs.append(Figure("depth_max", max_depth, "levels", expr, max_note,
                       "Max depth observed"))
    return table, figs


# ---------------------------------------------------------------------------
# the profile


def _quantile_expr(q: Any, quantile: float, family: str, window: str) -> Any:
    return q.histogram_quantile(
        quantile, q.sum(q.rate(q.metric(family + "_bucket"), window), by=["le"])
    )


def profile_workload(
    source: Source | pl.DataFrame, *, window: str | float | None = None, at: Any = None,
    config: Any = None, strict: bool = False,
) -> WorkloadProfile:
    """Measure the guide's workload profile over ``window`` ending at ``at``.

    Parameters
    ----------
    source
        A :class:`~specanalysis.sources.Source` (:class:`OfflineSource`,
        :class:`PrometheusSource`) or a samples frame (wrapped in an
        ``OfflineSource``); anything else is a :class:`DataError`.
    window
        Look-back window (seconds or a duration such as ``"1h"``). Default: the
        guide's 1 h, shortened to the data the source holds when its
        ``time_range()`` says there is less.
    at
        End of the window; defaults to the newest sample of the source
        (``source.time_range()``), or now for a source that cannot say.
    config
        The configuration the user believes the runtime runs with (a
        ``SpeculationConfig`` or a TOML path/text). It is reconciled with the
        configuration gauges in the data (``speculation_config{parameter}``,
        ``speculation_max_depth``): each disagreeing parameter is named with both
        values in a :class:`ConfigMismatchWarning`.
    strict
        Raise :class:`~specanalysis.errors.ConfigMismatchError` instead of warning.

    Returns
    -------
    WorkloadProfile
        Every figure of the guide's script and tuning sections. A metric the
        source lacks gives NaN with a note and is listed in ``missing``.

    Raises
    ------
    DataError
        When the source has none of the metrics the profile reads, or the window
        holds no data at all.
    ConfigMismatchError
        ``strict=True`` and the data's configuration gauges disagree with ``config``.

    Notes
    -----
    Aggregation choices (all documented in each figure's PromQL):

    * task rate sums ``rate()`` over every series (instances, labels) × 60; the
      offered rate does the same on ``speculation_tasks_scheduled_total``;
    * average memory sums ``avg_over_time`` over the ``component`` series (the
      total speculation memory), then divides by 1024²;
    * peaks (active tasks, branches, memory, queue) are per instance: the largest
      instance's peak, which is what per-instance limits meet; the ``fleet_*``
      figures are the peak of the sum over instances at the same instant;
    * queue utilisation is ``avg(depth) / avg(capacity)`` over the window, which
      equals the average of depth/capacity while the capacity is constant;
    * rollback rate is rollback events per task, in % (the guide's reading);
      whether the counter really counts events is detected (``rollback_counting``);
    * ``avg_rollback_size`` is tasks rolled back per rollback event;
    * quantiles are ``histogram_quantile`` (linear interpolation in a bucket, as
      Grafana shows them) and carry the bucket's edges in ``low``/``high``: the
      true quantile lies between them. A quantile whose bucket straddles the
      guide's target for it is flagged.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, timedelta, timezone
    >>> t0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
    >>> ts = [t0 + timedelta(seconds=15 * i) for i in range(241)]
    >>> samples = pl.DataFrame({"timestamp": ts,
    ...     "metric": ["speculation_tasks_total"] * len(ts),
    ...     "value": [30.0 * i for i in range(len(ts))]})
    >>> p = profile_workload(samples, window="1h")
    >>> p["task_rate"].value
    120.0
    >>> p["task_rate"].promql
    'sum(rate(speculation_tasks_total[1h])) * 60'
    >>> p["proof_p99"].note
    'metric speculation_proof_generation_seconds_bucket absent from source (no samples in the 1h window)'
    """
    source = _as_source(source)
    at_dt, rng = _resolve_time(source, at)
    if window is None:
        seconds = 3600.0
        if rng is not None and at is None:
            span = (rng[1] - rng[0]).total_seconds()
            if 0 < span < seconds:
                seconds = span
    else:
        seconds = parse_duration(window, field="window")
    w = format_duration(seconds)
    start = window_start(at_dt, seconds)
    notes: list[str] = []
    coverage = None
    if rng is not None:
        first, last = rng
        if at_dt < first or start > last:
            raise DataError(
                f"the {w} window {start.isoformat()} - {at_dt.isoformat()} holds no "
                f"data (data spans {first.isoformat()} - {last.isoformat()})",
                field="window", expected="a window that overlaps the data",
            )
        covered = (min(at_dt, last) - max(start, first)).total_seconds()
        coverage = max(0.0, min(1.0, covered / seconds))
        if coverage < 0.999:
            notes.append(
                f"window {w} is longer than the data available: only "
                f"{format_duration(max(covered, 0.001))} ({100 * coverage:.0f} %) of it "
                "holds samples, so rate()-based figures (task rate, rollbacks/min, "
                "quantiles' weights) are underestimated; use a shorter window"
            )

    q = _q()
    probe = _Probe(source, w, at_dt)
    m = q.metric
    figs: list[Figure] = []
    hist = _Histograms(probe)

    def add(name: str, label: str, unit: str, expr: Any, needs: tuple[str, ...],
            note: str = "") -> None:
        figs.append(probe.figure(name, label, unit, expr, needs, note))

    def add_quantile(name: str, label: str, unit: str, family: str, quantile: float,
                     note: str = "", target: str | None = None) -> None:
        fig = probe.figure(name, label, unit, _quantile_expr(q, quantile, family, w),
                           (family + "_bucket",), note)
        figs.append(hist.bounded(fig, family, quantile, target))

    tasks_rate = q.sum(q.rate(m(TASKS), w))
    rb_rate = q.sum(q.rate(m(ROLLBACKS), w))
    add("task_rate", "Task Rate", "tasks/min", tasks_rate * 60, (TASKS,),
        "execution attempts, summed over all series")
    depth_tab, depth_figs = _depth_figures(probe, w)
    add_quantile("proof_p50", "Proof generation p50", "s", PROOF, 0.5)
    add_quantile("proof_p99", "Proof generation p99", "s", PROOF, 0.99,
                 target="proof_p99_s")
    add("rollback_rate", "Rollback Rate", "%", rb_rate / tasks_rate * 100,
        (ROLLBACKS, TASKS), "rollback events per task")
    add("memory_avg", "Avg Memory", "MB",
        q.sum(q.avg_over_time(m(MEMORY), w)) / 1024 / 1024, (MEMORY,),
        "sum of components' window averages")
    add("peak_active_tasks", "Peak Active Tasks", "tasks",
        q.max(q.max_over_time(m(ACTIVE), w)), (ACTIVE,),
        "largest per-instance peak (the fleet's is fleet_peak_active_tasks)")
    figs.extend(depth_figs)
    add("max_depth_configured", "Configured max_depth", "levels",
        q.max(q.last_over_time(m(MAX_DEPTH), w)), (MAX_DEPTH,))
    add("rollbacks_per_min", "Rollbacks per minute", "rollbacks/min", rb_rate * 60,
        (ROLLBACKS,))
    add("avg_rollback_size", "Avg rollback size", "tasks",
        q.sum(q.increase(m(ROLLED_BACK), w)) / q.sum(q.increase(m(ROLLBACKS), w)),
        (ROLLED_BACK, ROLLBACKS), "tasks rolled back per rollback event")
    add("tasks_rolled_back_per_task", "Tasks rolled back per task", "%",
        q.sum(q.increase(m(ROLLED_BACK), w)) / q.sum(q.increase(m(TASKS), w)) * 100,
        (ROLLED_BACK, TASKS), "tasks undone / execution attempts")
    reasons = _rollback_reasons(source, q, w, at_dt)
    figs.append(_timeout_share(reasons, q, w))
    add_quantile("blast_radius_p99", "Rollback blast radius p99", "tasks", CASCADE, 0.99,
                 target="blast_radius_tasks")
    add_quantile("confirmation_p50", "Confirmation p50", "s", CONFIRM, 0.5)
    add_quantile("confirmation_p99", "Confirmation p99", "s", CONFIRM, 0.99,
                 "guide: confirmation_timeout ≈ 2 × this")
    add_quantile("latency_p50", "E2E latency p50", "s", E2E, 0.5, target="latency_p50_s")
    add_quantile("latency_p99", "E2E latency p99", "s", E2E, 0.99, target="latency_p99_s")
    add("queue_utilization", "Proof queue utilisation", "%",
        q.sum(q.avg_over_time(m(QUEUE_DEPTH), w))
        / q.sum(q.avg_over_time(m(QUEUE_CAP), w)) * 100,
        (QUEUE_DEPTH, QUEUE_CAP), "avg depth / avg capacity over the window")
    add("queue_utilization_peak", "Proof queue peak utilisation", "%",
        q.max(q.max_over_time(m(QUEUE_DEPTH), w) / q.max_over_time(m(QUEUE_CAP), w))
        * 100, (QUEUE_DEPTH, QUEUE_CAP),
        "max depth / capacity over the window, of the busiest instance")
    add("active_tasks_avg", "Avg active tasks", "tasks",
        q.sum(q.avg_over_time(m(ACTIVE), w)), (ACTIVE,))
    add("active_branches_avg", "Avg active branches", "branches",
        q.sum(q.avg_over_time(m(BRANCHES), w)), (BRANCHES,))
    add("active_branches_peak", "Peak active branches", "branches",
        q.max(q.max_over_time(m(BRANCHES), w)), (BRANCHES,),
        "largest per-instance peak (compare with max_parallel_branches)")
    mem_mb = q.sum(q.avg_over_time(m(MEMORY), w)) / 1024 / 1024
    add("memory_per_branch", "Memory per branch", "MB",
        mem_mb / q.sum(q.avg_over_time(m(BRANCHES), w)), (MEMORY, BRANCHES),
        "avg memory / avg active branches (guide: ~100-200 MB)")
    add("memory_per_active_task", "Memory per active task", "MB",
        mem_mb / q.sum(q.avg_over_time(m(ACTIVE), w)), (MEMORY, ACTIVE),
        "avg memory / avg active tasks (target < 10 MB)")
    add("batch_size_avg", "Actual avg batch size", "proofs",
        q.avg(q.avg_over_time(m(BATCH), w)), (BATCH,))
    add("auto_disabled_share", "Time auto-disabled", "%",
        q.max(q.avg_over_time(m(AUTO_DISABLED), w)) * 100, (AUTO_DISABLED,),
        "share of the window the runtime had switched speculation off by itself "
        "(busiest instance)")
    add("snapshot_mb", "Memory per state snapshot", "MB",
        q.sum(q.avg_over_time(m(MEMORY, component="state_snapshots"), w)) / 1024 / 1024
        / q.sum(q.avg_over_time(m(ACTIVE_BY_DEPTH, matchers=[("depth", "!=", "0")]), w)),
        (MEMORY, ACTIVE_BY_DEPTH),
        "avg snapshot memory / avg in-flight speculative tasks (depth >= 1): the "
        "guide's avg_state_mb")

    # --- offered load, deferrals, timings of the parts of the pipeline
    sched_rate = q.sum(q.rate(m(SCHEDULED), w))
    add("offered_rate", "Offered task rate", "tasks/min", sched_rate * 60, (SCHEDULED,),
        "tasks submitted (speculation_tasks_scheduled_total), rejected ones included")
    add("rejected_share", "Rejected at submission", "%",
        q.sum(q.increase(m(REJECTED), w)) / q.sum(q.increase(m(SCHEDULED), w)) * 100,
        (REJECTED, SCHEDULED), "tasks refused at submission / tasks submitted")
    deferrals = _deferrals(source, q, w, at_dt)
    rejections = _rejections(source, q, w, at_dt)
    add_quantile("execution_p50", "Execution p50", "s", EXECUTION, 0.5)
    add_quantile("execution_p99", "Execution p99", "s", EXECUTION, 0.99)
    add_quantile("batch_duration_p50", "Proof batch service p50", "s", BATCH_DURATION,
                 0.5)
    add_quantile("batch_duration_p99", "Proof batch service p99", "s", BATCH_DURATION,
                 0.99)
    add_quantile("deferral_wait_p99", "Deferral wait p99", "s", DEFERRAL_WAIT, 0.99)
    add("proof_workers_utilization", "Proof worker utilisation", "%",
        q.sum(q.avg_over_time(m(WORKERS_BUSY), w))
        / q.sum(q.avg_over_time(m(WORKERS), w)) * 100, (WORKERS_BUSY, WORKERS),
        "avg busy workers / avg workers over the window")
    add("proofs_per_batch", "Proofs per batch", "proofs",
        q.sum(q.increase(m(PROOF + "_count"), w))
        / q.sum(q.increase(m(BATCH_DURATION + "_count"), w)),
        (PROOF + "_count", BATCH_DURATION + "_count"),
        "proofs done / batches served (exact mean, unlike the 60 s batch-size gauge)")

    # --- fleet
    instances = _instances(source, q, w, at_dt)
    step = _scrape_interval(source, q, w, at_dt, seconds)
    fleet = _FleetPeaks(source, q, max(start, rng[0]) if rng else start, at_dt, step)
    figs.append(fleet.figure("fleet_peak_active_tasks", "Fleet peak active tasks",
                             "tasks", m(ACTIVE), 1.0, "sum", probe))
    figs.append(fleet.figure("memory_peak", "Peak memory", "MB", m(MEMORY), MB, "max",
                             probe))
    figs.append(fleet.figure("fleet_memory_peak", "Fleet peak memory", "MB", m(MEMORY),
                             MB, "sum", probe))
    add("memory_limit", "Memory limit", "MB",
        q.max(q.last_over_time(m(MEMORY_LIMIT), w)) / 1024 / 1024, (MEMORY_LIMIT,),
        "per instance (largest)")
    per_instance = (_per_instance(source, q, w, at_dt, fleet)
                    if len(instances) > 1 else pl.DataFrame())

    figures = {f.name: f for f in figs}
    counting, evidence = _rollback_counting(source, q, w, at_dt)
    if counting == "tasks":
        rr = figures["rollback_rate"]
        figures["rollback_rate"] = Figure(
            rr.name, rr.value, rr.unit, rr.expr,
            "speculation_rollback_total counts tasks here, not events: this is tasks "
            "rolled back per task", rr.label, flags=("rollback counter counts tasks",))
    # --- offered depth, censoring
    md = figures["max_depth_configured"].value
    offered_tab = _offered_depth(depth_tab, deferrals, md)
    figs_extra = _censoring_figures(depth_tab, offered_tab, deferrals, md,
                                    figures.get("offered_rate"), w)
    figures.update({f.name: f for f in figs_extra})

    # --- configuration
    gauges, gauge_table = _config_gauges(source, q, w, at_dt)
    check = pl.DataFrame(schema=_CONFIG_CHECK_SCHEMA)
    if config is not None:
        check = _reconcile(config, gauge_table, strict=strict)

    core = {TASKS, ROLLBACKS, ROLLED_BACK, DEPTH, PROOF, CONFIRM, E2E, CASCADE, MEMORY,
            ACTIVE, BRANCHES, QUEUE_DEPTH, QUEUE_CAP, BATCH, MAX_DEPTH}
    if not any(f.available for f in figures.values()):
        if core <= probe.missing:
            raise DataError(
                "the source has none of the metrics a workload profile reads "
                f"(no samples in the {w} window ending {at_dt.isoformat()})",
                field="source", expected="e.g. " + ", ".join(sorted(core)[:4]) + " ...",
            )
        raise DataError(
            f"no figure could be measured in the {w} window ending {at_dt.isoformat()}",
            field="window", expected="a window with at least two samples per series",
        )
    for family in (PROOF, E2E, CONFIRM, CASCADE, EXECUTION, BATCH_DURATION,
                   DEFERRAL_WAIT):
        hist.table(family)  # the raw material of calibration
    first = max(start, rng[0]) if rng else start
    offered = _offered_series(source, q, first, at_dt, step)
    counters = _counter_series(source, q, first, at_dt, step, {
        "scheduled": SCHEDULED, "executed": TASKS, "confirmed": CONFIRMED,
        "batches": BATCH_DURATION + "_count", "batch_seconds": BATCH_DURATION + "_sum",
        "proofs": PROOF + "_count", "proof_seconds": PROOF + "_sum",
        "rollbacks": ROLLBACKS, "rolled_back": ROLLED_BACK})
    return WorkloadProfile(
        figures=figures,
        depth_distribution=depth_tab,
        window=w,
        at=at_dt,
        start=start,
        missing=tuple(sorted(probe.missing)),
        notes=tuple(notes),
        coverage=coverage,
        rollback_reasons=reasons,
        rollback_counting=counting,
        rollback_counting_evidence=evidence,
        instances=instances,
        per_instance=per_instance,
        config_gauges=gauges,
        config_check=check,
        deferrals=deferrals,
        rejections=rejections,
        offered_depth_distribution=offered_tab,
        histograms=hist.tables,
        offered_series=offered,
        scrape_interval_s=step,
        counter_series=counters,
        data_range=rng,
    )


# ---------------------------------------------------------------------------
# histograms with resolution bounds


class _Histograms:
    """Bucket tables (with exact sum and count) of each histogram family, fetched once."""

    def __init__(self, probe: _Probe) -> None:
        self.probe = probe
        self.tables: dict[str, dict[str, Any]] = {}

    def table(self, family: str) -> dict[str, Any]:
        if family not in self.tables:
            from specanalysis.buckets import bucket_table

            q = _q()
            src, w, at = self.probe.source, self.probe.window, self.probe.at
            raw = src.evaluate(q.sum(q.increase(q.metric(family + "_bucket"), w),
                                     by=["le"]), at)
            if raw.height and "le" in raw.columns:
                tab = bucket_table(raw.select("le", "value"))
            else:
                tab = bucket_table(pl.DataFrame(schema={"le": pl.String,
                                                        "value": pl.Float64}))
            total = _scalar(src.evaluate(
                q.sum(q.increase(q.metric(family + "_sum"), w)), at))
            count = _scalar(src.evaluate(
                q.sum(q.increase(q.metric(family + "_count"), w)), at))
            nan = float("nan")
            self.tables[family] = {
                "buckets": tab,
                "sum": nan if total is None else total,
                "count": nan if count is None else count,
            }
        return self.tables[family]

    def bounded(self, fig: Figure, family: str, quantile: float,
                target: str | None) -> Figure:
        """``fig`` with the edges of the bucket its quantile lies in, and flags."""
        if not fig.available:
            return fig
        from dataclasses import replace

        from specanalysis.buckets import quantile_bounds
        from specanalysis.catalogue import TARGETS

        b = quantile_bounds(self.table(family)["buckets"], quantile)
        if math.isnan(b.low):
            return fig
        flags: list[str] = []
        hi = "+Inf" if math.isinf(b.high) else f"{b.high:g}"
        text = f"true value in bucket [{b.low:g}, {hi}] {fig.unit}".rstrip()
        if math.isinf(b.high):
            flags.append(f"in the +Inf bucket: above {b.low:g} {fig.unit}, how far "
                         "above the histogram cannot tell")
        tgt = TARGETS.get(target) if target else None
        if tgt is not None and b.straddles(tgt.value):
            flags.append(f"bucket [{b.low:g}, {hi}] {fig.unit} straddles the guide's "
                         f"target {tgt.op} {tgt.value:g} {tgt.unit}: whether it is met "
                         "cannot be told at this bucket resolution")
        note = text if not fig.note else f"{fig.note}; {text}"
        return replace(fig, low=b.low, high=b.high, flags=tuple(flags), note=note)


# ---------------------------------------------------------------------------
# rollbacks: what the counter counts


def _rollback_counting(source: Any, q: Any, window: str, at: datetime) -> tuple[str, str]:
    """Whether ``speculation_rollback_total`` counts events or tasks, from the data."""
    def total(name: str) -> float:
        v = _scalar(source.evaluate(q.sum(q.increase(q.metric(name), window)), at))
        return float("nan") if v is None else v

    r = total(ROLLBACKS)
    if not r > 0:
        return "unknown", f"no rollbacks counted in the {window} window"
    n_events = total(CASCADE + "_count")
    n_tasks = total(CASCADE + "_sum")
    undone = total(ROLLED_BACK)
    tol = 0.05

    def close(a: float, b: float) -> bool:
        return abs(a - b) <= tol * max(abs(a), abs(b))

    if n_events > 0 and math.isfinite(n_tasks):
        size = n_tasks / n_events
        head = (f"{r:.6g} counted; the cascade histogram holds {n_events:.6g} rollbacks "
                f"undoing {n_tasks:.6g} tasks (avg size {size:.3g})")
        if size <= 1 + tol:
            return "indistinguishable", (head + ": every rollback undid one task, so "
                                         "events and tasks coincide")
        if close(r, n_events):
            return "events", head + ": the counter matches the number of rollbacks"
        if close(r, n_tasks):
            return "tasks", head + ": the counter matches the number of tasks undone"
        return "unknown", head + ": the counter matches neither"
    if undone > 0:
        head = f"{r:.6g} counted, {undone:.6g} tasks rolled back"
        if r < undone * (1 - tol):
            return "events", (head + f": fewer than the tasks undone (avg size "
                              f"{undone / r:.3g}), so it counts events")
        if close(r, undone):
            return "indistinguishable", (
                head + ": equal to the tasks counter, so either it counts tasks or every "
                "rollback undid one task (the same rates either way)")
        return "unknown", head + ": more rollbacks than tasks undone, the counters disagree"
    return "unknown", ("needs speculation_tasks_rolled_back_total or the "
                       "speculation_rollback_cascade_size histogram to tell")


# ---------------------------------------------------------------------------
# offered load: deferrals, rejections, offered depth


def _deferrals(source: Any, q: Any, window: str, at: datetime) -> pl.DataFrame:
    schema = {"reason": pl.String, "depth": pl.Int64, "tasks": pl.Float64}
    res = source.evaluate(q.sum(q.increase(q.metric(DEFERRED), window),
                                by=["reason", "depth"]), at)
    if res.height == 0:
        return pl.DataFrame(schema=schema)
    for col in ("reason", "depth"):
        if col not in res.columns:
            res = res.with_columns(pl.lit(None, pl.String).alias(col))
    return (res.select(pl.col("reason").fill_null("(none)"),
                       pl.col("depth").cast(pl.Int64, strict=False),
                       pl.col("value").fill_nan(0.0).alias("tasks"))
            .sort("reason", "depth").cast(schema))


def _rejections(source: Any, q: Any, window: str, at: datetime) -> pl.DataFrame:
    schema = {"reason": pl.String, "tasks": pl.Float64}
    res = source.evaluate(q.sum(q.increase(q.metric(REJECTED), window), by=["reason"]),
                          at)
    if res.height == 0:
        return pl.DataFrame(schema=schema)
    if "reason" not in res.columns:
        res = res.with_columns(pl.lit(None, pl.String).alias("reason"))
    return (res.select(pl.col("reason").fill_null("(none)"),
                       pl.col("value").fill_nan(0.0).alias("tasks"))
            .sort("reason").cast(schema))


def _offered_depth(executed: pl.DataFrame, deferrals: pl.DataFrame,
                   max_depth: float) -> pl.DataFrame:
    """The depth offered tasks wanted: executed depths, with depth-limit deferrals
    moved from ``max_depth - 1`` (where they execute once an ancestor confirms) to
    the depth they were refused at."""
    d = deferrals.filter((pl.col("reason") == "depth_limit") & pl.col("depth").is_not_null()
                         & (pl.col("tasks") > 0))
    if d.height == 0 or executed.height == 0:
        return executed
    counts: dict[float, float] = {}
    for row in executed.iter_rows(named=True):
        counts[row["depth"]] = counts.get(row["depth"], 0.0) + row["count"]
    deferred = {float(k): float(v) for k, v in
                d.group_by("depth").agg(pl.col("tasks").sum()).iter_rows()}
    cap = (max_depth - 1) if math.isfinite(max_depth) else min(deferred) - 1
    moved = sum(deferred.values())
    if cap in counts:
        counts[cap] = max(counts[cap] - moved, 0.0)
    for k, v in deferred.items():
        counts[k] = counts.get(k, 0.0) + v
    finite = sorted(k for k in counts if math.isfinite(k))
    inf = counts.get(math.inf, 0.0)
    cum, run = [], 0.0
    for k in finite:
        run += counts[k]
        cum.append(run)
    les = [f"{k:g}" for k in finite] + ["+Inf"]
    return depth_table(pl.DataFrame({"le": les, "value": [*cum, run + inf]}))


def _censoring_figures(executed: pl.DataFrame, offered: pl.DataFrame,
                       deferrals: pl.DataFrame, max_depth: float,
                       offered_rate: Figure | None, window: str) -> list[Figure]:
    """Offered depth figures and how much ``max_depth`` censors the executed depths."""
    nan = float("nan")
    out: list[Figure] = []
    has_deferrals = deferrals.height > 0
    total = float(offered["count"].sum()) if offered.height else 0.0
    if total > 0:
        fin = offered.filter(pl.col("depth").is_finite())
        mean = float((fin["depth"] * fin["count"]).sum() / total)
        basis = ("executed depths with depth-limit deferrals at the depth they wanted"
                 if has_deferrals else
                 "no deferral counter: the executed depths (censored by max_depth "
                 "if the runtime deferred tasks)")
        out.append(Figure("offered_depth_mean", mean, "levels", None, basis,
                          "Offered depth mean"))
        for qq, name in ((0.5, "offered_depth_p50"), (0.9, "offered_depth_p90")):
            out.append(Figure(name, _depth_quantile(offered, qq), "levels", None, basis,
                              f"Offered depth p{int(qq * 100)}"))
    else:
        for name in ("offered_depth_mean", "offered_depth_p50", "offered_depth_p90"):
            out.append(Figure(name, nan, "levels", None,
                              f"no tasks observed in the {window} window",
                              name.replace("_", " ").capitalize()))
    label = "Depth censored by max_depth"
    if not has_deferrals:
        note = "metric speculation_tasks_deferred_total absent: censoring cannot be measured"
        if executed.height and math.isfinite(max_depth) and total > 0:
            top = executed.filter(pl.col("depth") == max_depth - 1)
            share = float(top["count"].sum()) / float(executed["count"].sum())
            if share > 0:
                note += (f"; {100 * share:.1f} % of executions ran at max_depth - 1 = "
                         f"{max_depth - 1:g}, the cap")
        out.append(Figure("depth_censored_share", nan, "%", None, note, label))
        return out
    limited = float(deferrals.filter(pl.col("reason") == "depth_limit")["tasks"].sum())
    share = 100.0 * limited / total if total > 0 else nan
    flags: tuple[str, ...] = ()
    if limited > 0:
        cap = f"{max_depth:g}" if math.isfinite(max_depth) else "max_depth"
        note = (f"{limited:.6g} task attempts wanted depth >= {cap} and were deferred: "
                "the executed depth distribution is censored at max_depth - 1; the "
                "offered depth figures put them back")
        flags = (f"depth distribution censored by max_depth: {share:.3g} % of tasks "
                 "deferred for depth",)
    else:
        note = "no task was deferred for depth: the depth distribution is not censored"
    out.append(Figure("depth_censored_share", share, "%", None, note, label,
                      flags=flags))
    return out


# ---------------------------------------------------------------------------
# fleet: instances, per-instance peaks


def _instances(source: Any, q: Any, window: str, at: datetime) -> tuple[str, ...]:
    seen: set[str] = set()
    for name in (TASKS, SCHEDULED, ACTIVE, MEMORY, QUEUE_DEPTH):
        res = source.evaluate(q.count(q.count_over_time(q.metric(name), window),
                                      by=["instance"]), at)
        if res.height and "instance" in res.columns:
            seen.update(v for v in res["instance"].to_list() if v)
    return tuple(sorted(seen))


def _scrape_interval(source: Any, q: Any, window: str, at: datetime,
                     seconds: float) -> float:
    """Seconds between samples, from the number of samples in the window."""
    for name in (TASKS, SCHEDULED, ACTIVE):
        res = source.evaluate(q.max(q.count_over_time(q.metric(name), window)), at)
        n = _scalar(res)
        if n is not None and n > 1:
            rng = _time_range(source)
            span = seconds
            if rng is not None:
                first = max(rng[0], at - timedelta(seconds=seconds))
                span = (min(rng[1], at) - first).total_seconds()
            step = span / (n - 1)
            if step > 0:
                return float(round(step, 3))
    return 15.0


class _FleetPeaks:
    """Peaks of gauges summed per instance or over the fleet, from range queries."""

    def __init__(self, source: Any, q: Any, start: datetime, end: datetime,
                 step: float) -> None:
        self.source, self.q, self.start, self.end, self.step = source, q, start, end, step
        self.cache: dict[tuple[str, str], pl.DataFrame] = {}

    def series(self, selector: Any, mode: str) -> pl.DataFrame:
        key = (selector.promql, mode)
        if key not in self.cache:
            q = self.q
            expr = q.sum(selector) if mode == "sum" else q.sum(selector, by=["instance"])
            try:
                res = self.source.evaluate_range(expr, self.start, self.end, self.step)
            except Exception:  # noqa: BLE001 - a range the source refuses: no peak
                res = pl.DataFrame()
            self.cache[key] = res
        return self.cache[key]

    def per_instance_peaks(self, selector: Any, scale: float) -> dict[str, float]:
        res = self.series(selector, "max")
        if res.height == 0:
            return {}
        if "instance" not in res.columns:
            res = res.with_columns(pl.lit("").alias("instance"))
        agg = res.group_by("instance").agg(pl.col("value").max())
        return {(k or ""): float(v) / scale for k, v in agg.iter_rows()}

    def figure(self, name: str, label: str, unit: str, selector: Any, scale: float,
               mode: str, probe: _Probe) -> Figure:
        w = format_duration(self.step)
        inner = (f"sum({selector.promql})" if mode == "sum"
                 else f"sum by (instance) ({selector.promql})")
        promql = f"max(max_over_time({inner}[{probe.window}:{w}]))"
        if scale != 1.0:
            promql += " / 1024 / 1024"
        res = self.series(selector, mode)
        vals = res["value"].drop_nans().drop_nulls() if res.height else pl.Series([], dtype=pl.Float64)
        if vals.len() == 0:
            present = probe.present(selector.name if hasattr(selector, "name")
                                    else str(selector))
            why = ("no samples in the window" if present
                   else f"metric {selector.promql} absent from source")
            if not present:
                probe.missing.add(_family(selector.promql))
            return Figure(name, float("nan"), unit, promql, why, label)
        what = ("the sum over instances at the same instant" if mode == "sum"
                else "the largest instance's own peak")
        return Figure(name, float(vals.max()) / scale, unit, promql,
                      f"peak of {what}, at {w} steps", label)


def _per_instance(source: Any, q: Any, window: str, at: datetime,
                  fleet: _FleetPeaks) -> pl.DataFrame:
    m = q.metric
    exprs = {
        "task_rate": q.sum(q.rate(m(TASKS), window), by=["instance"]) * 60,
        "offered_rate": q.sum(q.rate(m(SCHEDULED), window), by=["instance"]) * 60,
        "peak_active_tasks": q.max(q.max_over_time(m(ACTIVE), window), by=["instance"]),
        "active_branches_peak": q.max(q.max_over_time(m(BRANCHES), window),
                                      by=["instance"]),
        "queue_peak": q.max(q.max_over_time(m(QUEUE_DEPTH), window), by=["instance"]),
        "queue_capacity": q.max(q.last_over_time(m(QUEUE_CAP), window), by=["instance"]),
        "memory_limit_mb": q.max(q.last_over_time(m(MEMORY_LIMIT), window),
                                 by=["instance"]) / 1024 / 1024,
        "rollback_rate": q.sum(q.rate(m(ROLLBACKS), window), by=["instance"])
        / q.sum(q.rate(m(TASKS), window), by=["instance"]) * 100,
    }
    cols: dict[str, dict[str, float]] = {}
    names: set[str] = set()
    for col, expr in exprs.items():
        res = source.evaluate(expr, at)
        vals: dict[str, float] = {}
        if res.height and "instance" in res.columns:
            for inst, v in res.select("instance", "value").iter_rows():
                if inst:
                    vals[inst] = float("nan") if v is None else float(v)
        cols[col] = vals
        names.update(vals)
    mem = fleet.per_instance_peaks(m(MEMORY), MB)
    cols["memory_peak_mb"] = mem
    names.update(k for k in mem if k)
    order = sorted(names)
    data: dict[str, Any] = {"instance": order}
    for col, vals in cols.items():
        data[col] = [vals.get(i, float("nan")) for i in order]
    return pl.DataFrame(data, schema={"instance": pl.String,
                                      **dict.fromkeys(cols, pl.Float64)})


def _offered_series(source: Any, q: Any, start: datetime, end: datetime,
                    step: float) -> pl.DataFrame | None:
    """Tasks offered per scrape interval (from the scheduled counter, reset-aware)."""
    for name in (SCHEDULED, TASKS):
        inc = _increments(source, q, name, start, end, step)
        if inc is not None:
            return inc.rename({"d": "tasks"})
    return None


def _increments(source: Any, q: Any, name: str, start: datetime, end: datetime,
                step: float) -> pl.DataFrame | None:
    """``timestamp``, ``d``: a counter's increase per scrape interval, summed over
    instances (a drop is a reset: the new value is the increase)."""
    try:
        res = source.evaluate_range(q.sum(q.metric(name), by=["instance"]), start, end,
                                    step)
    except Exception:  # noqa: BLE001 - a range the source refuses: no series
        return None
    if res.height == 0:
        return None
    if "instance" not in res.columns:
        res = res.with_columns(pl.lit("").alias("instance"))
    res = (res.sort("instance", "timestamp")
           .with_columns(pl.col("value").diff().over("instance").alias("d"))
           .with_columns(pl.when(pl.col("d") < 0).then(pl.col("value"))
                         .otherwise(pl.col("d")).alias("d"))
           .drop_nulls("d"))
    return (res.group_by("timestamp").agg(pl.col("d").sum()).sort("timestamp")
            .cast({"timestamp": pl.Datetime("ms", "UTC"), "d": pl.Float64}))


def _counter_series(source: Any, q: Any, start: datetime, end: datetime, step: float,
                    names: dict[str, str]) -> pl.DataFrame | None:
    out: pl.DataFrame | None = None
    for col, name in names.items():
        inc = _increments(source, q, name, start, end, step)
        if inc is None:
            continue
        inc = inc.rename({"d": col})
        out = inc if out is None else out.join(inc, on="timestamp", how="full",
                                               coalesce=True)
    if out is None:
        return None
    missing = [c for c in names if c not in out.columns]
    return out.with_columns(pl.lit(None, pl.Float64).alias(c) for c in missing).select(
        "timestamp", *names).sort("timestamp")


# ---------------------------------------------------------------------------
# configuration gauges


def _config_gauges(source: Any, q: Any, window: str, at: datetime
                   ) -> tuple[dict[str, float], pl.DataFrame]:
    rows: list[tuple[str, str, float]] = []
    res = source.evaluate(q.last_over_time(q.metric(CONFIG), window), at)
    if res.height and "parameter" in res.columns:
        inst = res["instance"] if "instance" in res.columns else [None] * res.height
        for p, i, v in zip(res["parameter"].to_list(), list(inst),
                           res["value"].to_list(), strict=True):
            if p and v is not None and not math.isnan(v):
                rows.append((_param_name(p), i or "", float(v)))
    res = source.evaluate(q.last_over_time(q.metric(MAX_DEPTH), window), at)
    if res.height:
        have = {(p, i) for p, i, _ in rows}
        inst = res["instance"] if "instance" in res.columns else [None] * res.height
        for i, v in zip(list(inst), res["value"].to_list(), strict=True):
            if v is not None and not math.isnan(v) and ("max_depth", i or "") not in have:
                rows.append(("max_depth", i or "", float(v)))
    table = pl.DataFrame(rows, schema={"parameter": pl.String, "instance": pl.String,
                                       "value": pl.Float64}, orient="row")
    gauges: dict[str, float] = {}
    for p, _i, v in rows:
        gauges[p] = max(v, gauges.get(p, -math.inf))
    return dict(sorted(gauges.items())), table


def _param_name(name: str) -> str:
    return name[len("speculation."):] if name.startswith("speculation.") else name


def _flat_config(config: Any) -> dict[str, Any]:
    return {_param_name(k): v for k, v in config.to_dict(flat=True).items()}


def _as_config(config: Any) -> Any:
    from specanalysis.config import SpeculationConfig

    if isinstance(config, SpeculationConfig):
        return config
    if isinstance(config, str) or hasattr(config, "__fspath__"):
        return SpeculationConfig.from_toml(config)
    raise DataError(f"got {type(config).__name__}", field="config",
                    expected="a SpeculationConfig or the path of a TOML file")


def _numeric(value: Any) -> float | None:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    return None


def _reconcile(config: Any, table: pl.DataFrame, *, strict: bool) -> pl.DataFrame:
    """Compare ``config`` with the data's configuration gauges; warn or raise."""
    import warnings

    from specanalysis.errors import ConfigMismatchError

    cfg = _as_config(config)
    flat = _flat_config(cfg)
    rows = []
    problems = []
    if table.height:
        grouped = (table.group_by("parameter", "value")
                   .agg(pl.col("instance").unique().sort().str.join(","))
                   .sort("parameter", "value"))
        for param, measured, insts in grouped.iter_rows():
            configured = _numeric(flat.get(param))
            if configured is None:
                continue  # a parameter the config does not have, or not numeric
            agrees = abs(configured - measured) <= 1e-9 * max(1.0, abs(configured))
            rows.append((param, configured, measured, insts, agrees))
            if not agrees:
                where = f" (instances {insts})" if insts else ""
                problems.append(f"{param}: the configuration says {configured:g}, "
                                f"the data's gauge says {measured:g}{where}")
    out = pl.DataFrame(rows, schema=_CONFIG_CHECK_SCHEMA, orient="row")
    if problems:
        if strict:
            raise ConfigMismatchError(problems,
                                      source="config vs speculation_config gauges")
        warnings.warn(
            "the configuration passed disagrees with the data's configuration gauges "
            "(the runtime runs with the gauges' values): " + "; ".join(problems),
            ConfigMismatchWarning, stacklevel=3)
    return out


def _config_changes(cfg: Any, gauges: dict[str, float]) -> dict[str, Any]:
    flat = _flat_config(cfg)
    changes: dict[str, Any] = {}
    for param, value in gauges.items():
        cur = flat.get(param)
        if isinstance(cur, bool):
            new: Any = bool(round(value))
        elif isinstance(cur, int):
            new = int(round(value))
        elif isinstance(cur, float):
            new = float(value)
        else:
            continue
        if new != cur:
            changes[param] = new
    return changes


# ---------------------------------------------------------------------------
# characterisation: measure the features on a source, decide with classify()


def _with_evidence(decided: Any, extra: list[str]) -> Any:
    """``decided`` with ``extra`` sentences added to its evidence."""
    from dataclasses import replace

    return replace(decided, evidence=tuple(decided.evidence) + tuple(extra))


@dataclass(frozen=True, eq=False)
class Characterization(Classification):
    """A :class:`~specanalysis.classify.Classification` measured on a source.

    Adds to the decision (type, pattern, quadrant, features, evidence,
    thresholds) what was measured: ``rate_series`` (``timestamp``,
    ``tasks_per_min``: tasks in each minute of the window), the ``window``, its
    end ``at`` and the ``profile`` the volume and depth figures came from.
    """

    rate_series: pl.DataFrame = field(default_factory=pl.DataFrame, repr=False)
    window: str = ""
    at: datetime | None = None
    profile: WorkloadProfile | None = field(default=None, repr=False)


def _rate_series(source: Any, start: datetime, end: datetime,
                 metric: str = TASKS) -> pl.DataFrame:
    """Tasks in each minute ``(t-1m, t]`` for t = start+1m ... end."""
    q = _q()
    expr = q.sum(q.increase(q.metric(metric), "1m"))
    first = start + timedelta(minutes=1)
    schema = {"timestamp": pl.Datetime("ms", "UTC"), "tasks_per_min": pl.Float64}
    if first > end:
        return pl.DataFrame(schema=schema)
    res = source.evaluate_range(expr, first, end, "1m")
    return res.select("timestamp", pl.col("value").alias("tasks_per_min")).sort(
        "timestamp").cast(schema)


def characterize(
    source_or_samples: Source | pl.DataFrame,
    *,
    window: str | float | None = None,
    at: Any = None,
    thresholds: Thresholds | None = None,
    profile: WorkloadProfile | None = None,
) -> Characterization:
    """Decide the guide's workload type and matrix quadrant from measured features.

    Parameters
    ----------
    source_or_samples
        A source (``evaluate``/``evaluate_range``) or a samples frame.
    window
        Window to characterise; default: all the data the source holds (from
        ``time_range()``), or ``"1h"`` when the source cannot say.
    at
        End of the window (default: end of data, or now).
    thresholds
        Decision thresholds (see :class:`Thresholds` for the defaults' reasons).
    profile
        A profile already measured over the same window (saves the queries).

    Returns
    -------
    Characterization

    Notes
    -----
    Features are measured on the *offered* load, so the same workload gets the
    same type and quadrant whatever the configuration admits: volume =
    ``sum(rate(speculation_tasks_scheduled_total[w])) * 60`` (submitted tasks;
    executions only when the source has no scheduled counter); depth mean/p90
    from the offered depth distribution (the depth histogram with tasks deferred
    for depth put back at the depth they wanted); the per-minute series is
    ``sum(increase(speculation_tasks_scheduled_total[1m]))`` at 1 m steps (the
    runtime's queues smooth executions), from which peak-to-mean, index of
    dispersion, CV and the OLS trend come (:func:`rate_features`).

    The decision on these features is :func:`specanalysis.classify.classify`
    (pure; its Notes give the rules).

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, timedelta, timezone
    >>> t0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
    >>> ts = [t0 + timedelta(seconds=15 * i) for i in range(241)]
    >>> samples = pl.DataFrame({"timestamp": ts,
    ...     "metric": ["speculation_tasks_total"] * len(ts),
    ...     "value": [500.0 * i for i in range(len(ts))]})
    >>> c = characterize(samples)  # 2000 tasks/min, perfectly even
    >>> c.label, c.pattern, c.quadrant  # no depth histogram: no quadrant
    ('Steady State', 'steady', None)
    """
    th = thresholds or Thresholds()
    source = _as_source(source_or_samples)
    at_dt, rng = _resolve_time(source, at)
    if window is None:
        if rng is not None and at is None:
            span = (rng[1] - rng[0]).total_seconds()
            if span <= 0:
                raise DataError("the source holds a single instant of data",
                                field="window", expected="at least two scrapes")
            window = span
        else:
            window = "1h"
    seconds = parse_duration(window, field="window")
    w = format_duration(seconds)
    if profile is None:
        profile = profile_workload(source, window=w, at=at_dt)
    start = window_start(at_dt, seconds)
    if rng is not None and start < rng[0]:
        start = rng[0]
    # the OFFERED load decides: what was submitted (scheduled counter) and the depth
    # tasks wanted (deferrals put back), not what the configuration admitted
    offered = profile.figures.get("offered_rate")
    use_offered = offered is not None and offered.available
    series = _rate_series(source, start, at_dt, SCHEDULED if use_offered else TASKS)
    volume = offered if use_offered else profile["task_rate"]
    off_depth = profile.figures.get("offered_depth_p90")
    depth_src = ("offered_depth" if off_depth is not None and off_depth.available
                 else "depth")
    feats: dict[str, float] = {
        "volume_per_min": volume.value,
        "depth_mean": profile[f"{depth_src}_mean"].value,
        "depth_p50": profile[f"{depth_src}_p50"].value,
        "depth_p90": profile[f"{depth_src}_p90"].value,
        "depth_max": profile["depth_max"].value,
        "executed_volume_per_min": profile["task_rate"].value,
        "executed_depth_p90": profile["depth_p90"].value,
        "depth_censored_share": profile["depth_censored_share"].value
        if "depth_censored_share" in profile.figures else float("nan"),
    }
    if profile.offered_depth_distribution is not None and \
            profile.offered_depth_distribution.height:
        seen = profile.offered_depth_distribution.filter(
            pl.col("depth").is_finite() & (pl.col("count") > 0))
        if seen.height:
            feats["depth_max"] = float(seen["depth"].max())
    feats.update(rate_features(series))
    notes = {f"depth_{stat}": profile[f"{depth_src}_{stat}"].note
             for stat in ("mean", "p50", "p90")}
    notes["volume_per_min"] = volume.note
    decided = classify(feats, thresholds=th, notes=notes)
    extra = [f"measured on the offered load: {volume.label or volume.name} "
             f"{volume.value:.4g} tasks/min"
             + (f" (executions {profile['task_rate'].value:.4g}/min)"
                if use_offered else " (no scheduled counter: executions, which the "
                "runtime's queues smooth)")]
    cens = profile.figures.get("depth_censored_share")
    if cens is not None and cens.available and cens.value > 0:
        extra.append(f"depth: {cens.value:.3g} % of tasks wanted depth >= max_depth; "
                     f"the offered depth p90 is {feats['depth_p90']:g} where the "
                     f"executed p90 is {feats['executed_depth_p90']:g}")
    elif cens is not None and not cens.available:
        extra.append("depth: " + cens.note)
    decided = _with_evidence(decided, extra)
    return Characterization(
        **{f.name: getattr(decided, f.name) for f in fields(Classification)},
        rate_series=series,
        window=w,
        at=at_dt,
        profile=profile,
    )
