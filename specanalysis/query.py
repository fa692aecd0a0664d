"""Query expressions: a small, immutable PromQL vocabulary.

Analyses never embed PromQL strings. They build expressions from the builders
here; an expression renders itself as PromQL (``.promql``, also its ``str``)
that a person can paste into Grafana, and is evaluated by either engine
(:class:`~specanalysis.sources.offline.OfflineSource` or ``PrometheusSource``).

Expressions are frozen dataclasses: immutable, hashable, comparable.

Supported: selectors with ``=``, ``!=``, ``=~``, ``!~`` matchers; the range
functions ``rate``, ``increase``, ``delta``, ``irate`` and ``*_over_time``;
``histogram_quantile``; the aggregations ``sum``, ``avg``, ``min``, ``max``,
``count`` with ``by``/``without``; ``scalar``; arithmetic ``+ - * /`` between
expressions and numbers and between two vectors (one-to-one matching, with
optional ``on``/``ignoring`` via :func:`binop`).

Examples
--------
>>> from specanalysis import query as q
>>> q.rate(q.metric("speculation_tasks_total"), "1h") * 60
<PromQL rate(speculation_tasks_total[1h]) * 60>
>>> str(q.sum(q.increase(q.metric("speculation_depth_histogram_bucket"), 3600),
...           by=["le"]))
'sum by (le) (increase(speculation_depth_histogram_bucket[1h]))'
>>> (100 - q.metric("x") / 2).promql
'100 - x / 2'
>>> q.metric("speculation_rollback_total", reason="timeout").promql
'speculation_rollback_total{reason="timeout"}'
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from specanalysis._time import format_duration, parse_duration
from specanalysis.catalogue import ACTIVE, DEPTH, MEMORY, PROOF, ROLLBACKS, TASKS
from specanalysis.errors import QueryError, SpecAnalysisError

__all__ = [
    "Expr",
    "Matcher",
    "Selector",
    "RangeFunction",
    "HistogramQuantile",
    "Aggregation",
    "BinaryOp",
    "Number",
    "ScalarFunction",
    "RANGE_FUNCTIONS",
    "AGGREGATIONS",
    "ARITHMETIC",
    "metric",
    "rate",
    "increase",
    "delta",
    "irate",
    "avg_over_time",
    "min_over_time",
    "max_over_time",
    "sum_over_time",
    "count_over_time",
    "last_over_time",
    "range_function",
    "histogram_quantile",
    "sum",
    "avg",
    "min",
    "max",
    "count",
    "aggregate",
    "binop",
    "scalar",
    "number",
    "guide_queries",
]

RANGE_FUNCTIONS = (
    "rate",
    "increase",
    "delta",
    "irate",
    "avg_over_time",
    "min_over_time",
    "max_over_time",
    "sum_over_time",
    "count_over_time",
    "last_over_time",
)
AGGREGATIONS = ("sum", "avg", "min", "max", "count")
ARITHMETIC = ("+", "-", "*", "/")
MATCH_OPS = ("=", "!=", "=~", "!~")

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}
_ATOM = 100


def _check_label(name: object, field: str) -> str:
    if not isinstance(name, str) or not _LABEL_NAME.match(name):
        raise QueryError(f"{name!r} is not a valid label name", field=field,
                         expected="[a-zA-Z_][a-zA-Z0-9_]*")
    return name


def _label_list(names: Iterable[str] | str | None, field: str) -> tuple[str, ...] | None:
    if names is None:
        return None
    if isinstance(names, str):
        names = [names]
    return tuple(_check_label(n, field) for n in names)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _format_number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _window_ms(window: str | int | float, field: str = "window") -> int:
    try:
        seconds = parse_duration(window, field=field)
    except SpecAnalysisError as err:
        raise QueryError(err.message, field=field, expected=err.expected) from None
    ms = round(seconds * 1000)
    if ms <= 0:
        raise QueryError(f"{window!r} is shorter than a millisecond", field=field,
                         expected="a window of at least 1ms")
    return ms


class Expr:
    """Base class of every query expression.

    Subclasses are frozen dataclasses. ``promql`` renders the expression;
    ``kind`` is ``"vector"`` or ``"scalar"``. Arithmetic operators build
    :class:`BinaryOp` nodes.
    """

    __slots__ = ()

    @property
    def promql(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def kind(self) -> Literal["vector", "scalar"]:
        return "vector"

    @property
    def _precedence(self) -> int:
        return _ATOM

    def __str__(self) -> str:
        return self.promql

    def __repr__(self) -> str:
        return f"<PromQL {self.promql}>"

    def __add__(self, other):
        return binop(self, "+", other)

    def __radd__(self, other):
        return binop(other, "+", self)

    def __sub__(self, other):
        return binop(self, "-", other)

    def __rsub__(self, other):
        return binop(other, "-", self)

    def __mul__(self, other):
        return binop(self, "*", other)

    def __rmul__(self, other):
        return binop(other, "*", self)

    def __truediv__(self, other):
        return binop(self, "/", other)

    def __rtruediv__(self, other):
        return binop(other, "/", self)


@functools.lru_cache(maxsize=1024)
def _re2(pattern: str, label: str):
    """The pattern compiled with RE2, the regex engine (and dialect) Prometheus uses."""
    import re2

    options = re2.Options()
    options.log_errors = False
    try:
        return re2.compile(pattern, options)
    except re2.error as err:
        raise QueryError(f"invalid regular expression {pattern!r}: {err}",
                         field=label, expected="an RE2 regular expression") from None


@dataclass(frozen=True)
class Matcher:
    """A label matcher: ``label op "value"`` with op one of ``= != =~ !~``.

    Regular expressions are fully anchored and use RE2 (``google-re2``), the
    engine and dialect of Prometheus: ``(?i)`` inside a group is accepted,
    backreferences and lookarounds are not.

    Examples
    --------
    >>> Matcher("reason", "=~", "time.*").promql
    'reason=~"time.*"'
    """

    label: str
    op: str
    value: str

    def __post_init__(self) -> None:
        _check_label(self.label, "matcher label")
        if self.op not in MATCH_OPS:
            raise QueryError(f"unknown matcher operator {self.op!r}", field="matcher op",
                             expected="one of = != =~ !~")
        if not isinstance(self.value, str):
            raise QueryError(f"label value {self.value!r} for {self.label!r} is not a "
                             "string", field=self.label, expected="a str")
        if self.op in ("=~", "!~"):
            _re2(self.value, self.label)

    @property
    def promql(self) -> str:
        return f'{self.label}{self.op}"{_escape(self.value)}"'

    def matches(self, value: str | None) -> bool:
        """Whether a label value (None or "" = label absent) satisfies the matcher."""
        v = value or ""
        if self.op == "=":
            return v == self.value
        if self.op == "!=":
            return v != self.value
        hit = _re2(self.value, self.label).fullmatch(v) is not None
        return hit if self.op == "=~" else not hit


@dataclass(frozen=True, repr=False)
class Selector(Expr):
    """An instant-vector selector: a metric name plus label matchers."""

    name: str
    matchers: tuple[Matcher, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _METRIC_NAME.match(self.name):
            raise QueryError(f"{self.name!r} is not a valid metric name",
                             field="metric", expected="[a-zA-Z_:][a-zA-Z0-9_:]*")

    @property
    def promql(self) -> str:
        if not self.matchers:
            return self.name
        return self.name + "{" + ",".join(m.promql for m in self.matchers) + "}"


@dataclass(frozen=True, repr=False)
class RangeFunction(Expr):
    """``func(selector[window])`` for one of :data:`RANGE_FUNCTIONS`."""

    func: str
    selector: Selector
    window_ms: int

    def __post_init__(self) -> None:
        if self.func not in RANGE_FUNCTIONS:
            raise QueryError(f"unknown range function {self.func!r}", field="function",
                             expected=", ".join(RANGE_FUNCTIONS))
        if not isinstance(self.selector, Selector):
            raise QueryError(f"{self.func}() takes a metric selector, got "
                             f"{_describe(self.selector)}", field=self.func,
                             expected="q.metric(...)")
        if not isinstance(self.window_ms, int) or self.window_ms <= 0:
            raise QueryError(f"window {self.window_ms!r} ms is not positive",
                             field="window", expected="a window > 0")

    @property
    def window(self) -> float:
        """The range in seconds."""
        return self.window_ms / 1000

    @property
    def promql(self) -> str:
        return f"{self.func}({self.selector.promql}[{format_duration(self.window)}])"


@dataclass(frozen=True, repr=False)
class HistogramQuantile(Expr):
    """``histogram_quantile(q, expr)`` over classic ``_bucket`` series."""

    q: float
    expr: Expr

    def __post_init__(self) -> None:
        if isinstance(self.q, bool) or not isinstance(self.q, int | float):
            raise QueryError(f"quantile {self.q!r} is not a number",
                             field="histogram_quantile", expected="a float, e.g. 0.99")
        object.__setattr__(self, "q", float(self.q))
        _need_vector(self.expr, "histogram_quantile")

    @property
    def promql(self) -> str:
        return f"histogram_quantile({_format_number(self.q)}, {self.expr.promql})"


@dataclass(frozen=True, repr=False)
class Aggregation(Expr):
    """``op [by|without (labels)] (expr)`` for one of :data:`AGGREGATIONS`."""

    op: str
    expr: Expr
    by: tuple[str, ...] | None = None
    without: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.op not in AGGREGATIONS:
            raise QueryError(f"unknown aggregation {self.op!r}", field="aggregation",
                             expected=", ".join(AGGREGATIONS))
        if self.by is not None and self.without is not None:
            raise QueryError("by= and without= cannot both be given", field=self.op)
        _need_vector(self.expr, self.op)

    @property
    def promql(self) -> str:
        inner = self.expr.promql
        if self.by:
            return f"{self.op} by ({', '.join(self.by)}) ({inner})"
        if self.without is not None:
            return f"{self.op} without ({', '.join(self.without)}) ({inner})"
        return f"{self.op}({inner})"


@dataclass(frozen=True, repr=False)
class Number(Expr):
    """A number literal (a scalar)."""

    value: float

    def __post_init__(self) -> None:
        if isinstance(self.value, bool) or not isinstance(self.value, int | float):
            raise QueryError(f"{self.value!r} is not a number", field="number")
        object.__setattr__(self, "value", float(self.value))

    def __hash__(self) -> int:  # NaN-safe: hash of the rendered literal
        return hash(("Number", _format_number(self.value)))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Number) and (
            _format_number(self.value) == _format_number(other.value)
            and math.copysign(1, self.value) == math.copysign(1, other.value)
        )

    @property
    def kind(self) -> Literal["scalar"]:
        return "scalar"

    @property
    def promql(self) -> str:
        return _format_number(self.value)


@dataclass(frozen=True, repr=False)
class ScalarFunction(Expr):
    """``scalar(expr)``: the single element's value, NaN unless exactly one."""

    expr: Expr

    def __post_init__(self) -> None:
        _need_vector(self.expr, "scalar")

    @property
    def kind(self) -> Literal["scalar"]:
        return "scalar"

    @property
    def promql(self) -> str:
        return f"scalar({self.expr.promql})"


@dataclass(frozen=True, repr=False)
class BinaryOp(Expr):
    """``lhs op rhs`` (arithmetic), with ``on``/``ignoring`` for vector/vector."""

    op: str
    lhs: Expr
    rhs: Expr
    on: tuple[str, ...] | None = None
    ignoring: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.op not in ARITHMETIC:
            raise QueryError(f"unknown operator {self.op!r}", field="operator",
                             expected=" ".join(ARITHMETIC))
        for side in (self.lhs, self.rhs):
            if not isinstance(side, Expr):
                raise QueryError(f"cannot use {_describe(side)} in arithmetic",
                                 field="operand", expected="an expression or a number")
        if self.on is not None and self.ignoring is not None:
            raise QueryError("on= and ignoring= cannot both be given", field="matching")
        if (self.on is not None or self.ignoring is not None) and not (
            self.lhs.kind == "vector" and self.rhs.kind == "vector"
        ):
            raise QueryError("on=/ignoring= only apply between two vectors",
                             field="matching")

    @property
    def kind(self) -> Literal["vector", "scalar"]:
        if self.lhs.kind == "scalar" and self.rhs.kind == "scalar":
            return "scalar"
        return "vector"

    @property
    def _precedence(self) -> int:
        return _PRECEDENCE[self.op]

    @property
    def promql(self) -> str:
        p = self._precedence
        left = self.lhs.promql
        if self.lhs._precedence < p:
            left = f"({left})"
        right = self.rhs.promql
        if self.rhs._precedence <= p:  # left-associative: a - (b - c)
            right = f"({right})"
        op = self.op
        if self.on is not None:
            op += f" on ({', '.join(self.on)})"
        elif self.ignoring is not None:
            op += f" ignoring ({', '.join(self.ignoring)})"
        return f"{left} {op} {right}"


def _describe(obj: object) -> str:
    if isinstance(obj, Expr):
        return f"{type(obj).__name__} {obj.promql!r}"
    return f"{type(obj).__name__} {obj!r}"


def _need_vector(expr: object, where: str) -> None:
    if not isinstance(expr, Expr):
        raise QueryError(f"{where}() takes a query expression, got {_describe(expr)}",
                         field=where, expected="an instant-vector expression")
    if expr.kind != "vector":
        raise QueryError(f"{where}() takes an instant vector, got scalar "
                         f"{expr.promql!r}", field=where)


def _operand(x: object) -> Expr:
    if isinstance(x, Expr):
        return x
    if isinstance(x, int | float) and not isinstance(x, bool):
        return Number(x)
    raise QueryError(f"cannot use {_describe(x)} in arithmetic", field="operand",
                     expected="an expression or a number")


# --------------------------------------------------------------------- builders


def metric(
    name: str,
    *,
    matchers: Iterable[Matcher | tuple[str, str, str]] = (),
    **equal_labels: str,
) -> Selector:
    """Select the series of a metric, optionally filtered by labels.

    Parameters
    ----------
    name
        Metric (sample) name, e.g. ``"speculation_tasks_total"`` or a
        histogram's ``"..._bucket"``.
    matchers
        :class:`Matcher` objects (or ``(label, op, value)`` tuples).
    **equal_labels
        ``label="value"`` equality matchers, rendered first.

    Examples
    --------
    >>> metric("x", reason="timeout", matchers=[("le", "!=", "+Inf")]).promql
    'x{reason="timeout",le!="+Inf"}'
    """
    ms: list[Matcher] = [Matcher(k, "=", v) for k, v in equal_labels.items()]
    for m in matchers:
        if isinstance(m, Matcher):
            ms.append(m)
        elif isinstance(m, tuple) and len(m) == 3:
            ms.append(Matcher(*m))
        else:
            raise QueryError(f"{m!r} is not a matcher", field="matchers",
                             expected="Matcher(label, op, value) or a 3-tuple")
    return Selector(name, tuple(ms))


def range_function(func: str, selector: Selector, window: str | int | float) -> RangeFunction:
    """``func(selector[window])``; ``window`` is a duration string or seconds."""
    return RangeFunction(func, selector, _window_ms(window))


def rate(selector: Selector, window: str | int | float) -> RangeFunction:
    """Per-second rate of a counter, extrapolated (``rate(x[w])``).

    Examples
    --------
    >>> rate(metric("speculation_tasks_total"), "5m").promql
    'rate(speculation_tasks_total[5m])'
    """
    return range_function("rate", selector, window)


def increase(selector: Selector, window: str | int | float) -> RangeFunction:
    """Increase of a counter over the window, extrapolated (``increase(x[w])``)."""
    return range_function("increase", selector, window)


def delta(selector: Selector, window: str | int | float) -> RangeFunction:
    """Change of a gauge over the window, extrapolated (``delta(x[w])``)."""
    return range_function("delta", selector, window)


def irate(selector: Selector, window: str | int | float) -> RangeFunction:
    """Per-second rate from the last two samples (``irate(x[w])``)."""
    return range_function("irate", selector, window)


def avg_over_time(selector: Selector, window: str | int | float) -> RangeFunction:
    """Mean of the samples in the window."""
    return range_function("avg_over_time", selector, window)


def min_over_time(selector: Selector, window: str | int | float) -> RangeFunction:
    """Minimum of the samples in the window (NaN only if all are NaN)."""
    return range_function("min_over_time", selector, window)


def max_over_time(selector: Selector, window: str | int | float) -> RangeFunction:
    """Maximum of the samples in the window (NaN only if all are NaN).

    Examples
    --------
    >>> max_over_time(metric("speculation_active_tasks"), 3600).promql
    'max_over_time(speculation_active_tasks[1h])'
    """
    return range_function("max_over_time", selector, window)


def sum_over_time(selector: Selector, window: str | int | float) -> RangeFunction:
    """Sum of the samples in the window."""
    return range_function("sum_over_time", selector, window)


def count_over_time(selector: Selector, window: str | int | float) -> RangeFunction:
    """Number of samples in the window."""
    return range_function("count_over_time", selector, window)


def last_over_time(selector: Selector, window: str | int | float) -> RangeFunction:
    """Newest sample in the window (keeps the metric name, as in Prometheus)."""
    return range_function("last_over_time", selector, window)


def histogram_quantile(q: float, expr: Expr) -> HistogramQuantile:
    """Quantile ``q`` of classic histogram buckets (series with an ``le`` label).

    Examples
    --------
    >>> histogram_quantile(0.99, rate(metric(
    ...     "speculation_proof_generation_seconds_bucket"), "1h")).promql
    'histogram_quantile(0.99, rate(speculation_proof_generation_seconds_bucket[1h]))'
    """
    return HistogramQuantile(q, expr)


def aggregate(
    op: str,
    expr: Expr,
    *,
    by: Iterable[str] | str | None = None,
    without: Iterable[str] | str | None = None,
) -> Aggregation:
    """Aggregate ``expr`` with ``op`` in ``("sum", "avg", "min", "max", "count")``."""
    return Aggregation(op, expr, _label_list(by, f"{op} by"),
                       _label_list(without, f"{op} without"))


def sum(expr: Expr, *, by=None, without=None) -> Aggregation:
    """``sum [by|without (...)] (expr)``.

    Examples
    --------
    >>> sum(rate(metric("speculation_rollback_total"), "1h")).promql
    'sum(rate(speculation_rollback_total[1h]))'
    """
    return aggregate("sum", expr, by=by, without=without)


def avg(expr: Expr, *, by=None, without=None) -> Aggregation:
    """``avg [by|without (...)] (expr)``."""
    return aggregate("avg", expr, by=by, without=without)


def min(expr: Expr, *, by=None, without=None) -> Aggregation:
    """``min [by|without (...)] (expr)`` (NaN only if every value is NaN)."""
    return aggregate("min", expr, by=by, without=without)


def max(expr: Expr, *, by=None, without=None) -> Aggregation:
    """``max [by|without (...)] (expr)`` (NaN only if every value is NaN)."""
    return aggregate("max", expr, by=by, without=without)


def count(expr: Expr, *, by=None, without=None) -> Aggregation:
    """``count [by|without (...)] (expr)``: number of series."""
    return aggregate("count", expr, by=by, without=without)


def binop(
    lhs: Expr | float,
    op: str,
    rhs: Expr | float,
    *,
    on: Iterable[str] | str | None = None,
    ignoring: Iterable[str] | str | None = None,
) -> BinaryOp:
    """Arithmetic between expressions and numbers.

    Between two vectors the match is one-to-one on identical label sets after
    dropping the metric name, or on the ``on`` labels only, or ignoring the
    ``ignoring`` labels.

    Examples
    --------
    >>> a = rate(metric("speculation_rollback_total"), "1h")
    >>> b = rate(metric("speculation_tasks_total"), "1h")
    >>> binop(a, "/", b, ignoring=["reason"]).promql
    'rate(speculation_rollback_total[1h]) / ignoring (reason) rate(speculation_tasks_total[1h])'
    """
    return BinaryOp(op, _operand(lhs), _operand(rhs), _label_list(on, "on"),
                    _label_list(ignoring, "ignoring"))


def scalar(x: Expr | float) -> Expr:
    """A number literal, or ``scalar(vector)`` (its single value, NaN unless one).

    Examples
    --------
    >>> scalar(2).promql, scalar(sum(metric("x"))).promql
    ('2', 'scalar(sum(x))')
    """
    if isinstance(x, Expr):
        return x if x.kind == "scalar" else ScalarFunction(x)
    return Number(x)


def number(value: float) -> Number:
    """A number literal."""
    return Number(value)


def guide_queries(window: str | int | float = "1h") -> Mapping[str, Expr]:
    """The tuning guide's workload-profiling queries, over ``window``.

    Fixes the guide's quirks: the depth distribution is
    ``sum by (le) (increase(..._bucket[w]))`` (the guide summed raw cumulative
    bucket counters, i.e. counts since process start).

    Examples
    --------
    >>> for k, v in guide_queries("1h").items():
    ...     print(f"{k}: {v}")
    task_rate_per_min: rate(speculation_tasks_total[1h]) * 60
    depth_distribution: sum by (le) (increase(speculation_depth_histogram_bucket[1h]))
    proof_p50_seconds: histogram_quantile(0.5, rate(speculation_proof_generation_seconds_bucket[1h]))
    proof_p99_seconds: histogram_quantile(0.99, rate(speculation_proof_generation_seconds_bucket[1h]))
    rollback_rate_percent: sum(rate(speculation_rollback_total[1h])) / sum(rate(speculation_tasks_total[1h])) * 100
    avg_memory_mb: avg_over_time(speculation_memory_usage_bytes[1h]) / 1024 / 1024
    peak_active_tasks: max_over_time(speculation_active_tasks[1h])
    """
    w = window
    proof = rate(metric(PROOF + "_bucket"), w)
    return {
        "task_rate_per_min": rate(metric(TASKS), w) * 60,
        "depth_distribution": sum(
            increase(metric(DEPTH + "_bucket"), w), by=["le"]
        ),
        "proof_p50_seconds": histogram_quantile(0.5, proof),
        "proof_p99_seconds": histogram_quantile(0.99, proof),
        "rollback_rate_percent": sum(rate(metric(ROLLBACKS), w))
        / sum(rate(metric(TASKS), w))
        * 100,
        "avg_memory_mb": avg_over_time(metric(MEMORY), w)
        / 1024
        / 1024,
        "peak_active_tasks": max_over_time(metric(ACTIVE), w),
    }

