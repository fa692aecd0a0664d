"""Offline query engine: evaluates :mod:`specanalysis.query` expressions over samples.

:class:`OfflineSource` gives the same answers as a Prometheus server holding the
same samples (backfilled, so without staleness markers), for the subset of
PromQL that :mod:`specanalysis.query` builds. ``semantics`` picks the version:

``"prom2"`` (Prometheus 2.42)
    range and lookback windows closed ``[t - r, t]``; in ``rate``/``increase``
    the counter zero-point clamp is applied *before* the extrapolation
    threshold test; ``histogram_quantile`` only forces monotonicity.
``"prom3"`` (Prometheus 3.x)
    windows left-open ``(t - r, t]``; the threshold test comes first and the
    zero clamp second (v2.51+); ``histogram_quantile`` also flattens bucket
    differences within a relative 1e-12 (v2.49+).

Evaluation is vectorised over the evaluation steps: per series, window bounds
for every step come from ``numpy.searchsorted`` and aggregates from prefix sums
or sparse tables, so a range query costs O(samples + steps) per series.

Examples
--------
>>> import polars as pl
>>> from datetime import datetime, timezone
>>> from specanalysis import query as q
>>> t0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
>>> df = pl.DataFrame({
...     "timestamp": pl.datetime_range(t0, t0.replace(minute=5), "1m", eager=True),
...     "metric": "speculation_tasks_total",
...     "value": [0.0, 60, 120, 180, 240, 300],
... })
>>> src = OfflineSource(df)
>>> src
OfflineSource(1 metrics, 1 series, 6 samples, semantics='prom2', lookback='5m')
>>> src.evaluate(q.rate(q.metric("speculation_tasks_total"), "5m") * 60,
...              "2025-01-01T00:05:00Z")["value"].to_list()
[60.0]
>>> src.evaluate_range(q.metric("speculation_tasks_total"), t0.timestamp() + 240,
...                    t0.timestamp() + 900, 300)["value"].to_list()
[240.0, 300.0]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import numpy as np
import polars as pl

from specanalysis import query as q
from specanalysis._time import (
    TimeLike,
    format_duration,
    parse_duration,
    to_datetime,
    to_ms,
)
from specanalysis.catalogue import normalize_samples
from specanalysis.errors import DataError, QueryError, SpecAnalysisError
from specanalysis.frames import SAMPLES_CORE, TIMESTAMP, empty_samples, label_columns
from specanalysis.limits import check_limit

__all__ = ["OfflineSource", "SEMANTICS"]

SEMANTICS = ("prom2", "prom3")
NAME = "__name__"
_MIN_NORMAL = 2.2250738585072014e-308
_SMALL_DELTA = 1e-12

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class _Series:
    labels: Labels  # sorted, including __name__
    ts: np.ndarray  # int64 ms, strictly increasing
    values: np.ndarray  # float64


@dataclass
class _Vector:
    labels: list[Labels]
    values: np.ndarray  # (series, steps) float64
    present: np.ndarray  # (series, steps) bool

    @classmethod
    def empty(cls, n_steps: int) -> _Vector:
        return cls([], np.empty((0, n_steps)), np.zeros((0, n_steps), dtype=bool))


@dataclass
class _Scalar:
    values: np.ndarray  # (steps,)


def _drop(labels: Labels, names: Sequence[str] = (NAME,)) -> Labels:
    return tuple(kv for kv in labels if kv[0] not in names)


def _keep(labels: Labels, names: Sequence[str]) -> Labels:
    return tuple(kv for kv in labels if kv[0] in names)


def _parse_le(text: str | None) -> float | None:
    """Upper bound like Go's strconv.ParseFloat (None when it would fail)."""
    if not text or "_" in text or text != text.strip():
        return None
    try:
        return float(text)
    except ValueError:
        if not text.lower().lstrip("+-").startswith("0x"):
            return None
        try:
            return float.fromhex(text)
        except ValueError:
            return None


class OfflineSource:
    """Evaluate query expressions over a samples frame like Prometheus does (a ``Source``).

    Parameters
    ----------
    samples
        A samples frame (:mod:`specanalysis.frames`); aliases are normalised
        through the catalogue. Each series must have unique timestamps
        (exact duplicate rows are merged; conflicting ones raise).
    semantics
        ``"prom2"`` (Prometheus 2.42) or ``"prom3"`` (3.x), see the module doc.
    lookback
        Lookback delta of instant selectors (Prometheus default ``5m``).
    max_eval_points
        Most points (series x steps) one evaluation may hold in memory; default
        ``specanalysis.limits.LIMITS.max_eval_points`` (50 million, 0.45 GB).

    Raises
    ------
    SchemaError
        When ``samples`` is not a samples frame.
    DataError
        Null timestamps, names or values, or conflicting duplicate samples.
    QueryError
        Unknown ``semantics`` or a bad ``lookback``.
    """

    def __init__(
        self,
        samples: pl.DataFrame,
        *,
        semantics: Literal["prom2", "prom3"] = "prom2",
        lookback: str | float = "5m",
        max_eval_points: int | None = None,
    ) -> None:
        self.max_eval_points = max_eval_points
        if semantics not in SEMANTICS:
            raise QueryError(f"unknown semantics {semantics!r}", field="semantics",
                             expected="'prom2' (Prometheus 2.42) or 'prom3' (3.x)")
        self.semantics = semantics
        try:
            self.lookback_ms = round(parse_duration(lookback, field="lookback") * 1000)
        except SpecAnalysisError as err:
            raise QueryError(err.message, field="lookback", expected=err.expected) from None
        frame = normalize_samples(samples)
        self._index = self._build_index(frame)
        ts = frame.get_column("timestamp")
        self._range = (ts.min(), ts.max()) if len(frame) else None

    # ------------------------------------------------------------------ data

    @staticmethod
    def _build_index(frame: pl.DataFrame) -> dict[str, list[_Series]]:
        for col in SAMPLES_CORE:
            nulls = frame.get_column(col).null_count()
            if nulls:
                raise DataError(f"{nulls} row(s) have a null {col}", field=col,
                                expected="every sample to have a timestamp, metric "
                                "and value (NaN is allowed, missing is not)")
        labels = label_columns(frame)
        # Prometheus does not store empty label values: "" means absent.
        frame = frame.with_columns(
            pl.when(pl.col(c) == "").then(None).otherwise(pl.col(c)).alias(c)
            for c in labels
        )
        key = ["metric", *labels]
        groups = frame.group_by(key, maintain_order=True).agg(
            pl.col("timestamp").sort().dt.epoch("ms").alias("_ts"),
            pl.col("value").sort_by("timestamp", maintain_order=True).alias("_v"),
        )
        lengths = groups.get_column("_ts").list.len().to_numpy().astype(np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        ts_all = groups.get_column("_ts").explode().to_numpy().astype(np.int64)
        val_all = groups.get_column("_v").explode().to_numpy().astype(np.float64)
        groups = groups.drop("_ts", "_v").with_columns(
            pl.Series("_start", offsets[:-1]), pl.Series("_n", lengths))
        index: dict[str, list[_Series]] = {}
        for row in groups.iter_rows(named=True):
            start, n = row["_start"], row["_n"]
            ts, vals = ts_all[start:start + n], val_all[start:start + n]
            lab = tuple(sorted(
                [(NAME, row["metric"])]
                + [(c, row[c]) for c in labels if row[c] is not None]
            ))
            dup = np.flatnonzero(np.diff(ts) == 0)
            if dup.size:
                a, b = vals[dup], vals[dup + 1]
                same = (a == b) | (np.isnan(a) & np.isnan(b))
                if not same.all():
                    bad = int(dup[~same][0])
                    raise DataError(
                        f"series {_fmt_labels(lab)} has {int((~same).sum())} "
                        f"timestamp(s) with conflicting values, first at "
                        f"{to_datetime(int(ts[bad]) / 1000).isoformat()}",
                        field="timestamp", expected="one value per series and time")
                keep = np.ones(n, dtype=bool)
                keep[dup + 1] = False
                ts, vals = ts[keep], vals[keep]
            index.setdefault(row["metric"], []).append(
                _Series(lab, np.ascontiguousarray(ts), np.ascontiguousarray(vals)))
        return index

    def __repr__(self) -> str:
        n_series = sum(len(v) for v in self._index.values())
        n_samples = sum(s.ts.size for v in self._index.values() for s in v)
        return (f"OfflineSource({len(self._index)} metrics, {n_series} series, "
                f"{n_samples} samples, semantics={self.semantics!r}, "
                f"lookback={format_duration(self.lookback_ms / 1000)!r})")

    def time_range(self) -> tuple[datetime, datetime] | None:
        """First and last sample time of the data (None when it has no rows)."""
        return self._range

    def metrics(self) -> list[str]:
        """Sorted names of the metrics (sample names) present in the data."""
        return sorted(self._index)

    # ---------------------------------------------------------------- public

    def evaluate(self, expr: q.Expr, at: TimeLike) -> pl.DataFrame:
        """Instant query: the value of ``expr`` at time ``at``.

        Returns a result frame (contracts.md): one row per result series with
        ``at`` as timestamp, ``metric`` null when the name was dropped.
        """
        self._check_expr(expr)
        steps = np.array([to_ms(at, field="at")], dtype=np.int64)
        return self._to_frame(self._eval(expr, steps), steps)

    def evaluate_range(
        self, expr: q.Expr, start: TimeLike, end: TimeLike, step: str | float
    ) -> pl.DataFrame:
        """Range query at ``start + k*step <= end`` (both ends inclusive)."""
        self._check_expr(expr)
        s, e = to_ms(start, field="start"), to_ms(end, field="end")
        try:
            step_ms = round(parse_duration(step, field="step") * 1000)
        except SpecAnalysisError as err:
            raise QueryError(err.message, field="step", expected=err.expected) from None
        if step_ms <= 0:
            raise QueryError(f"step {step!r} is shorter than 1ms", field="step")
        if e < s:
            raise QueryError("end is before start", field="end",
                             expected="end >= start")
        self._check_points((e - s) // step_ms + 1, 1)
        steps = s + step_ms * np.arange((e - s) // step_ms + 1, dtype=np.int64)
        return self._to_frame(self._eval(expr, steps), steps)

    def _check_points(self, n_steps: int, n_series: int) -> None:
        check_limit("max_eval_points", n_steps * max(n_series, 1),
                    f"the evaluation needs {n_series:,} series x {n_steps:,} steps"
                    if n_series > 1 else f"the evaluation needs {n_steps:,} steps",
                    limit=self.max_eval_points, field="step")

    @staticmethod
    def _check_expr(expr: object) -> None:
        if isinstance(expr, str):
            raise QueryError(
                "the offline engine takes query expressions built with "
                "specanalysis.query (e.g. q.rate(q.metric('x'), '5m')); PromQL "
                f"strings such as {expr!r} need PrometheusSource", field="expr")
        if not isinstance(expr, q.Expr):
            raise QueryError(f"{type(expr).__name__} is not a query expression",
                             field="expr", expected="a specanalysis.query expression")

    # ------------------------------------------------------------ evaluation

    def _eval(self, node: q.Expr, steps: np.ndarray) -> _Vector | _Scalar:
        if isinstance(node, q.Number):
            return _Scalar(np.full(steps.size, node.value))
        if isinstance(node, q.Selector):
            return self._instant(node, steps)
        if isinstance(node, q.RangeFunction):
            return self._range_function(node, steps)
        if isinstance(node, q.HistogramQuantile):
            return self._histogram_quantile(node, self._eval(node.expr, steps))
        if isinstance(node, q.Aggregation):
            return _aggregate(node, self._eval(node.expr, steps), self.semantics)
        if isinstance(node, q.ScalarFunction):
            vec = self._eval(node.expr, steps)
            n = vec.present.sum(axis=0)
            only = np.where(vec.present, vec.values, 0.0).sum(axis=0)
            return _Scalar(np.where(n == 1, only, np.nan))
        if isinstance(node, q.BinaryOp):
            return _binop(node, self._eval(node.lhs, steps), self._eval(node.rhs, steps))
        raise QueryError(f"the offline engine cannot evaluate {type(node).__name__}",
                         field="expr")

    def _select(self, sel: q.Selector) -> list[_Series]:
        out = []
        for s in self._index.get(sel.name, ()):
            d = dict(s.labels)
            if all(m.matches(d.get(m.label)) for m in sel.matchers):
                out.append(s)
        return out

    def _bounds(self, s: _Series, steps: np.ndarray, width: int):
        """Index range [lo, hi) of each step's window ending at the step."""
        hi = np.searchsorted(s.ts, steps, side="right")
        side = "left" if self.semantics == "prom2" else "right"
        lo = np.searchsorted(s.ts, steps - width, side=side)
        return lo, hi

    def _instant(self, sel: q.Selector, steps: np.ndarray) -> _Vector:
        series = self._select(sel)
        if not series:
            return _Vector.empty(steps.size)
        self._check_points(steps.size, len(series))
        vals = np.empty((len(series), steps.size))
        pres = np.empty((len(series), steps.size), dtype=bool)
        for i, s in enumerate(series):
            lo, hi = self._bounds(s, steps, self.lookback_ms)
            pres[i] = hi > lo
            vals[i] = s.values[np.maximum(hi - 1, 0)]
        return _Vector([s.labels for s in series], vals, pres)

    def _range_function(self, node: q.RangeFunction, steps: np.ndarray) -> _Vector:
        series = self._select(node.selector)
        if not series:
            return _Vector.empty(steps.size)
        self._check_points(steps.size, len(series))
        vals = np.empty((len(series), steps.size))
        pres = np.empty((len(series), steps.size), dtype=bool)
        keep_name = node.func == "last_over_time"
        labels = []
        with np.errstate(all="ignore"):
            for i, s in enumerate(series):
                lo, hi = self._bounds(s, steps, node.window_ms)
                vals[i], pres[i] = _window_function(
                    node.func, s, lo, hi, steps, node.window_ms, self.semantics)
                labels.append(s.labels if keep_name else _drop(s.labels))
        return _Vector(labels, vals, pres)

    def _histogram_quantile(self, node: q.HistogramQuantile, vec) -> _Vector:
        n_steps = vec.values.shape[1]
        groups: dict[Labels, list[tuple[float, int]]] = {}
        for i, lab in enumerate(vec.labels):
            bound = _parse_le(dict(lab).get("le"))
            if bound is None:
                continue
            groups.setdefault(_drop(lab, (NAME, "le")), []).append((bound, i))
        out_labels, out_vals, out_pres = [], [], []
        with np.errstate(all="ignore"):
            for key, members in groups.items():
                bounds = np.array([b for b, _ in members])
                order = np.argsort(bounds, kind="stable")
                bounds = bounds[order]
                rows = np.array([r for _, r in members])[order]
                counts, present = vec.values[rows], vec.present[rows]
                res = np.full(n_steps, np.nan)
                any_present = present.any(axis=0)
                cols_all = np.flatnonzero(any_present)
                for pattern, cols in _presence_patterns(present, cols_all):
                    res[cols] = _bucket_quantile(
                        node.q, bounds[pattern], counts[pattern][:, cols],
                        self.semantics)
                out_labels.append(key)
                out_vals.append(res)
                out_pres.append(any_present)
        if not out_labels:
            return _Vector.empty(n_steps)
        return _Vector(out_labels, np.array(out_vals), np.array(out_pres))

    # ---------------------------------------------------------------- output

    @staticmethod
    def _to_frame(result: _Vector | _Scalar, steps: np.ndarray) -> pl.DataFrame:
        if isinstance(result, _Scalar):
            result = _Vector([()], result.values[None, :],
                             np.ones((1, steps.size), dtype=bool))
        if not result.present.any():
            return empty_samples()
        label_rows = [dict(lab) for lab in result.labels]
        names = sorted({k for i, d in enumerate(label_rows) if result.present[i].any()
                        for k in d if k != NAME})
        meta = pl.DataFrame(
            {
                "metric": [d.get(NAME) for d in label_rows],
                **{c: [d.get(c) for d in label_rows] for c in names},
            },
            schema={"metric": pl.String, **dict.fromkeys(names, pl.String)},
        )
        # order series by their labels; rows then come out sorted by (labels, time)
        order = (
            meta.with_row_index("_i")
            .sort(["metric", *names], nulls_last=False, maintain_order=True)
            .get_column("_i").to_numpy()
        )
        sid, col = np.nonzero(result.present[order])
        data = pl.DataFrame({
            "timestamp": pl.Series(steps[col], dtype=pl.Int64).cast(TIMESTAMP),
            "value": pl.Series(result.values[order][sid, col], dtype=pl.Float64),
        })
        labels = meta[order].select(pl.all().gather(sid))
        return pl.concat([data, labels], how="horizontal").select(
            "timestamp", "metric", "value", *names)


# ------------------------------------------------------------------ helpers


def _fmt_labels(labels: Labels) -> str:
    d = dict(labels)
    name = d.pop(NAME, "")
    inner = ",".join(f'{k}="{v}"' for k, v in d.items())
    return f"{name}{{{inner}}}"


def _window_function(
    func: str, s: _Series, lo: np.ndarray, hi: np.ndarray, steps: np.ndarray,
    width: int, semantics: str,
) -> tuple[np.ndarray, np.ndarray]:
    """One series' ``func(series[width])`` at every step: (values, present)."""
    v, ts = s.values, s.ts
    n = hi - lo
    last = np.maximum(hi - 1, 0)
    if func in ("rate", "increase", "delta"):
        ok = n >= 2
        first = np.minimum(lo, v.size - 1)
        return _extrapolated_rate(
            s, first, last, n, steps, width,
            counter=func != "delta", is_rate=func == "rate", semantics=semantics,
        ), ok
    if func == "irate":
        ok = n >= 2
        prev = np.maximum(hi - 2, 0)
        lv, pv = v[last], v[prev]
        res = np.where(lv < pv, lv, lv - pv)
        res = res / ((ts[last] - ts[prev]).astype(np.float64) / 1000)
        return res, ok
    ok = n >= 1
    if func == "count_over_time":
        return n.astype(np.float64), ok
    if func == "last_over_time":
        return v[last], ok
    if func in ("sum_over_time", "avg_over_time"):
        if func == "sum_over_time":
            return _window_sums(v, lo, hi), ok
        return _window_means(v, lo, hi), ok
    if func in ("max_over_time", "min_over_time"):
        ufunc = np.fmax if func == "max_over_time" else np.fmin
        return _window_extreme(v, lo, hi, ufunc), ok
    raise QueryError(f"unknown range function {func!r}", field="function")


def _extrapolated_rate(
    s: _Series, first: np.ndarray, last: np.ndarray, n: np.ndarray,
    steps: np.ndarray, width: int, *, counter: bool, is_rate: bool, semantics: str,
) -> np.ndarray:
    """Prometheus' extrapolatedRate, vectorised over steps."""
    v, ts = s.values, s.ts
    fv, lv = v[first], v[last]
    result = lv - fv
    if counter and v.size > 1:
        # resets[i] = v[i-1] where v[i] < v[i-1]; the window adds resets in (lo, hi).
        prevs = v[:-1]
        is_reset = v[1:] < prevs
        corr = np.where(is_reset, prevs, 0.0)
        finite = np.isfinite(corr)
        fin = np.concatenate([[0.0], np.cumsum(np.where(finite, corr, 0.0),
                                               dtype=np.longdouble)])
        infs = np.concatenate([[0], np.cumsum(~finite)])
        # corr index j corresponds to sample j+1: window samples first+1..last
        a, b = first, np.maximum(last, first)
        add = (fin[b] - fin[a]).astype(np.float64)
        add = np.where(infs[b] - infs[a] > 0, np.inf, add)
        result = result + add
    range_start = steps - width
    d_start = (ts[first] - range_start).astype(np.float64) / 1000
    d_end = (steps - ts[last]).astype(np.float64) / 1000
    sampled = (ts[last] - ts[first]).astype(np.float64) / 1000
    avg = sampled / np.maximum(n - 1, 1)
    threshold = avg * 1.1
    zero_ok = (result > 0) & (fv >= 0) if counter else np.zeros_like(result, dtype=bool)
    to_zero = sampled * (fv / result)
    if semantics == "prom2":
        d_start = np.where(zero_ok & (to_zero < d_start), to_zero, d_start)
        ext = sampled + np.where(d_start < threshold, d_start, avg / 2)
        ext = ext + np.where(d_end < threshold, d_end, avg / 2)
        out = result * (ext / sampled)
        if is_rate:
            out = out / (width / 1000)
        return out
    d_start = np.where(d_start >= threshold, avg / 2, d_start)
    d_start = np.where(zero_ok & (to_zero < d_start), to_zero, d_start)
    d_end = np.where(d_end >= threshold, avg / 2, d_end)
    factor = (sampled + d_start + d_end) / sampled
    if is_rate:
        factor = factor / (width / 1000)
    return result * factor


def _kahan_inc(inc: np.ndarray, total: np.ndarray, comp: np.ndarray):
    """Prometheus' kahanSumInc (Neumaier), elementwise: ``(total, compensation)``."""
    t = total + inc
    big = np.abs(total) >= np.abs(inc)
    comp = comp + np.where(big, (total - t) + inc, (inc - t) + total)
    comp = np.where(np.isinf(t), 0.0, comp)
    return t, comp


def _kahan_rows(rows: np.ndarray) -> np.ndarray:
    """Compensated sum over axis 0 (in row order) of a (rows, steps) array."""
    total = np.zeros(rows.shape[1])
    comp = np.zeros(rows.shape[1])
    for row in rows:
        total, comp = _kahan_inc(row, total, comp)
    return np.where(np.isinf(total), total, total + comp)


def _window_kahan(v: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                  scale: np.ndarray | None = None) -> np.ndarray:
    """Compensated sum of ``v[lo:hi] * scale`` per window, sample by sample."""
    n = hi - lo
    total = np.zeros(lo.shape)
    comp = np.zeros(lo.shape)
    for k in range(int(n.max()) if n.size else 0):
        live = k < n
        inc = np.where(live, v[np.minimum(lo + k, v.size - 1)], 0.0)
        if scale is not None:
            inc = inc * scale
        total, comp = _kahan_inc(inc, total, comp)
    return np.where(np.isinf(total), total, total + comp)


def _window_sums(v: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Sum of v[lo:hi] per step, compensated like Prometheus' (Kahan-Neumaier) sums.

    Extended-precision prefix sums answer most windows in O(1); a window whose
    prefixes are much larger than its sum (cancellation, e.g. ``1 1e100 1
    -1e100``) is summed sample by sample with compensation instead.
    """
    finite = np.isfinite(v)
    pref = np.concatenate([[0.0], np.cumsum(np.where(finite, v, 0.0),
                                            dtype=np.longdouble)])
    wide = pref[hi] - pref[lo]
    total = wide.astype(np.float64)
    apref = np.concatenate([[0.0], np.cumsum(np.where(finite, np.abs(v), 0.0))])
    scale = np.maximum((np.abs(pref[hi]) + np.abs(pref[lo])).astype(np.float64),
                       apref[hi] - apref[lo])
    with np.errstate(invalid="ignore"):
        redo = np.flatnonzero((hi > lo) & ~(scale <= 256.0 * np.abs(total)))
    if redo.size:
        total[redo] = _window_kahan(np.where(finite, v, 0.0), lo[redo], hi[redo])
    if not finite.all():
        def count(mask: np.ndarray) -> np.ndarray:
            c = np.concatenate([[0], np.cumsum(mask)])
            return c[hi] - c[lo]
        nan, pinf, ninf = count(np.isnan(v)), count(v == np.inf), count(v == -np.inf)
        total = np.where(pinf > 0, np.inf, total)
        total = np.where(ninf > 0, -np.inf, total)
        total = np.where((nan > 0) | ((pinf > 0) & (ninf > 0)), np.nan, total)
    return total


def _window_means(v: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """avg_over_time: the compensated sum / n; where the sum overflows but the mean
    does not (values near +-1e308), the compensated sum of v / n."""
    n = np.maximum(hi - lo, 1)
    total = _window_sums(v, lo, hi)
    mean = total / n
    over = np.flatnonzero(np.isinf(total))
    if over.size:
        finite = np.isfinite(v)
        c = np.concatenate([[0], np.cumsum(~finite)])
        clean = over[(c[hi[over]] - c[lo[over]]) == 0]  # overflow, not an Inf input
        if clean.size:
            mean[clean] = _window_kahan(v, lo[clean], hi[clean], 1.0 / n[clean])
    return mean


def _window_extreme(v: np.ndarray, lo: np.ndarray, hi: np.ndarray, ufunc) -> np.ndarray:
    """fmax/fmin of v[lo:hi] per step via a sparse table (O(1) per step)."""
    n = hi - lo
    out = np.full(lo.shape, np.nan)
    ok = n >= 1
    if not ok.any() or v.size == 0:
        return out
    k = np.zeros(n.shape, dtype=np.int64)
    k[ok] = np.floor(np.log2(n[ok])).astype(np.int64)
    table = [v]
    for _ in range(int(k.max())):
        prev, half = table[-1], 1 << (len(table) - 1)
        table.append(ufunc(prev[:-half], prev[half:]))
    for level in np.unique(k[ok]):
        sel = ok & (k == level)
        t = table[level]
        out[sel] = ufunc(t[lo[sel]], t[hi[sel] - (1 << level)])
    return out


def _presence_patterns(present: np.ndarray, cols: np.ndarray):
    """Yield (bucket mask, step columns) for each distinct set of present buckets."""
    if cols.size == 0:
        return
    sub = present[:, cols]
    if sub.all():
        yield np.ones(present.shape[0], dtype=bool), cols
        return
    patterns, inverse = np.unique(sub.T, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    for p, pattern in enumerate(patterns):
        yield pattern, cols[inverse == p]


def _almost_equal(a: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    both_nan = np.isnan(a) & np.isnan(b)
    abs_sum = np.abs(a) + np.abs(b)
    diff = np.abs(a - b)
    small = (a == 0) | (b == 0) | (abs_sum < _MIN_NORMAL)
    rel = diff / np.minimum(abs_sum, np.finfo(np.float64).max)
    return both_nan | (a == b) | np.where(small, diff < eps * _MIN_NORMAL, rel < eps)


def _bucket_quantile(q_: float, bounds: np.ndarray, counts: np.ndarray,
                     semantics: str) -> np.ndarray:
    """Prometheus' bucketQuantile for sorted ``bounds`` (B,) and ``counts`` (B, K)."""
    k = counts.shape[1]
    if math.isnan(q_):
        return np.full(k, np.nan)
    if q_ < 0:
        return np.full(k, -np.inf)
    if q_ > 1:
        return np.full(k, np.inf)
    if not (bounds.size and bounds[-1] == np.inf):
        return np.full(k, np.nan)
    # coalesce equal bounds
    starts = np.flatnonzero(np.concatenate([[True], bounds[1:] != bounds[:-1]]))
    if starts.size != bounds.size:
        counts = np.add.reduceat(counts, starts, axis=0)
        bounds = bounds[starts]
    counts = counts.copy()
    if semantics == "prom2":
        running = np.fmax.accumulate(counts, axis=0)
        counts = np.where(np.isnan(counts), np.nan, running)
    else:
        prev = counts[0].copy()
        for i in range(1, counts.shape[0]):
            curr = counts[i]
            eq = curr == prev
            fix = ~eq & (_almost_equal(prev, curr, _SMALL_DELTA) | (curr < prev))
            counts[i] = np.where(fix, prev, curr)
            prev = np.where(~eq & ~fix, curr, prev)
    nb = bounds.size
    if nb < 2:
        return np.full(k, np.nan)
    obs = counts[-1]
    rank = q_ * obs
    # sort.Search(nb-1, counts[i] >= rank), replicated exactly (also for NaN counts)
    cols = np.arange(k)
    lo = np.zeros(k, dtype=np.int64)
    hi = np.full(k, nb - 1, dtype=np.int64)
    while True:
        active = lo < hi
        if not active.any():
            break
        mid = (lo + hi) // 2
        f = counts[np.minimum(mid, nb - 2), cols] >= rank
        lo = np.where(active & ~f, mid + 1, lo)
        hi = np.where(active & f, mid, hi)
    b = lo
    bc = np.minimum(b, nb - 2)
    end = bounds[bc]
    cnt = counts[bc, cols]
    has_prev = bc > 0
    start = np.where(has_prev, bounds[np.maximum(bc - 1, 0)], 0.0)
    prev_cnt = np.where(has_prev, counts[np.maximum(bc - 1, 0), cols], 0.0)
    interp = start + (end - start) * ((rank - prev_cnt) / (cnt - prev_cnt))
    res = np.where((b == 0) & (bounds[0] <= 0), bounds[0], interp)
    res = np.where(b == nb - 1, bounds[nb - 2], res)
    return np.where(obs == 0, np.nan, res)


def _group_keys(labels: list[Labels], by: tuple[str, ...] | None,
                without: tuple[str, ...] | None) -> list[Labels]:
    if by is not None:
        return [_keep(lab, by) for lab in labels]
    if without is not None:
        return [_drop(lab, (NAME, *without)) for lab in labels]
    return [() for _ in labels]


def _avg_prom2(vals: np.ndarray, pres: np.ndarray) -> np.ndarray:
    """Prometheus 2.x avg: the running mean ``m += v/n - m/n`` (no overflow)."""
    mean = np.zeros(vals.shape[1])
    count = np.zeros(vals.shape[1])
    for v, p in zip(vals, pres, strict=True):
        count = count + p
        first = p & (count == 1)
        keep = np.isinf(mean) & ((np.isinf(v) & ((mean > 0) == (v > 0)))
                                 | (~np.isinf(v) & ~np.isnan(v)))
        upd = p & ~first & ~keep
        step = v / np.maximum(count, 1) - mean / np.maximum(count, 1)
        mean = np.where(first, v, np.where(upd, mean + step, mean))
    return mean


def _avg_prom3(vals: np.ndarray, pres: np.ndarray, cnt: np.ndarray) -> np.ndarray:
    """Prometheus 3.x avg: compensated sum / n, or a compensated running mean
    where the sum overflows."""
    rows = np.where(pres, vals, 0.0)
    total = _kahan_rows(rows)
    mean = total / np.maximum(cnt, 1)
    inf_in = (np.isinf(vals) & pres).any(axis=0)
    over = np.isinf(total) & ~inf_in
    if over.any():
        mean = np.where(over, _kahan_rows(rows / np.maximum(cnt, 1)), mean)
    return mean


def _aggregate(node: q.Aggregation, vec, semantics: str = "prom2") -> _Vector:
    n_steps = vec.values.shape[1]
    groups: dict[Labels, list[int]] = {}
    for i, key in enumerate(_group_keys(vec.labels, node.by, node.without)):
        groups.setdefault(key, []).append(i)
    if not groups:
        return _Vector.empty(n_steps)
    out_vals = np.empty((len(groups), n_steps))
    out_pres = np.empty((len(groups), n_steps), dtype=bool)
    with np.errstate(all="ignore"):
        for g, rows in enumerate(groups.values()):
            vals, pres = vec.values[rows], vec.present[rows]
            cnt = pres.sum(axis=0)
            if node.op == "count":
                res = cnt.astype(np.float64)
            elif node.op == "sum":
                rows = np.where(pres, vals, 0.0)
                res = _kahan_rows(rows) if semantics == "prom3" else rows.sum(axis=0)
            elif node.op == "avg":
                res = (_avg_prom3(vals, pres, cnt) if semantics == "prom3"
                       else _avg_prom2(vals, pres))
            else:
                ufunc = np.fmax if node.op == "max" else np.fmin
                res = ufunc.reduce(np.where(pres, vals, np.nan), axis=0)
            out_vals[g], out_pres[g] = res, cnt > 0
    return _Vector(list(groups), out_vals, out_pres)


_OPS = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide}


def _binop(node: q.BinaryOp, lhs, rhs) -> _Vector | _Scalar:
    op = _OPS[node.op]
    with np.errstate(all="ignore"):
        if isinstance(lhs, _Scalar) and isinstance(rhs, _Scalar):
            return _Scalar(op(lhs.values, rhs.values))
        if isinstance(rhs, _Scalar):
            return _merge(_Vector([_drop(x) for x in lhs.labels],
                                  op(lhs.values, rhs.values[None, :]), lhs.present))
        if isinstance(lhs, _Scalar):
            return _merge(_Vector([_drop(x) for x in rhs.labels],
                                  op(lhs.values[None, :], rhs.values), rhs.present))
        return _vector_binop(node, op, lhs, rhs)


def _signature(lab: Labels, node: q.BinaryOp) -> Labels:
    if node.on is not None:
        return _keep(lab, node.on)
    return _drop(lab, (NAME, *(node.ignoring or ())))


def _vector_binop(node: q.BinaryOp, op, lhs: _Vector, rhs: _Vector) -> _Vector:
    n_steps = lhs.values.shape[1]
    right: dict[Labels, list[int]] = {}
    for i, lab in enumerate(rhs.labels):
        right.setdefault(_signature(lab, node), []).append(i)
    right_val: dict[Labels, tuple[np.ndarray, np.ndarray]] = {}
    for sig, rows in right.items():
        pres = rhs.present[rows]
        if len(rows) > 1 and (pres.sum(axis=0) > 1).any():
            raise QueryError(
                f"found duplicate series for the match group {_fmt_labels(sig)} on the "
                "right hand-side of the operation; many-to-many matching not allowed: "
                "matching labels must be unique on one side", field=node.op)
        right_val[sig] = (np.where(pres, rhs.values[rows], 0.0).sum(axis=0),
                          pres.any(axis=0))
    labels, vals, pres_out = [], [], []
    matched: dict[Labels, np.ndarray] = {}
    for i, lab in enumerate(lhs.labels):
        sig = _signature(lab, node)
        if sig not in right_val:
            continue
        rv, rp = right_val[sig]
        both = lhs.present[i] & rp
        seen = matched.setdefault(sig, np.zeros(n_steps, dtype=bool))
        if (seen & both).any():
            raise QueryError("multiple matches for labels: many-to-one matching must "
                             "be explicit (group_left/group_right)", field=node.op)
        seen |= both
        out = _drop(lab)
        if node.on is not None:
            out = _keep(out, node.on)
        elif node.ignoring is not None:
            out = _drop(out, node.ignoring)
        labels.append(out)
        vals.append(op(lhs.values[i], rv))
        pres_out.append(both)
    if not labels:
        return _Vector.empty(n_steps)
    return _merge(_Vector(labels, np.array(vals), np.array(pres_out)))


def _merge(vec: _Vector) -> _Vector:
    """Merge rows with equal label sets (disjoint in time), as Prometheus' range eval."""
    if len(set(vec.labels)) == len(vec.labels):
        return vec
    rows: dict[Labels, list[int]] = {}
    for i, lab in enumerate(vec.labels):
        rows.setdefault(lab, []).append(i)
    vals = np.empty((len(rows), vec.values.shape[1]))
    pres = np.empty((len(rows), vec.values.shape[1]), dtype=bool)
    for g, idx in enumerate(rows.values()):
        p = vec.present[idx]
        if (p.sum(axis=0) > 1).any():
            raise QueryError("vector cannot contain metrics with the same labelset",
                             field="expr")
        vals[g] = np.where(p, vec.values[idx], 0.0).sum(axis=0)
        pres[g] = p.any(axis=0)
    return _Vector(list(rows), vals, pres)
