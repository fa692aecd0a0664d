"""The ``Source`` protocol: what every query engine offers, and the one acceptance check.

A source evaluates query expressions (:mod:`specanalysis.query`) on metric
data: :class:`~specanalysis.sources.offline.OfflineSource` in polars,
:class:`~specanalysis.sources.prometheus.PrometheusSource` on any server that
speaks the Prometheus HTTP API. The loaders, plots and the profile take any
:class:`Source` (or a samples frame, wrapped in an ``OfflineSource``) and
refuse anything else with a typed error (:func:`as_source`).

Examples
--------
>>> import polars as pl
>>> from datetime import datetime, timezone
>>> frame = pl.DataFrame({"timestamp": [datetime(2025, 1, 1, tzinfo=timezone.utc)],
...                       "metric": ["speculation_active_tasks"], "value": [3.0]})
>>> src = as_source(frame)
>>> isinstance(src, Source), type(src).__name__
(True, 'OfflineSource')
>>> as_source(42)
Traceback (most recent call last):
...
specanalysis.errors.DataError: source: got int (expected a Source (OfflineSource, PrometheusSource: evaluate, evaluate_range, time_range) or a samples frame)
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from specanalysis.errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl

__all__ = ["Source", "as_source"]


@runtime_checkable
class Source(Protocol):
    """A query engine over metric samples.

    ``evaluate(expr, at)``
        Instant query: the value of ``expr`` at ``at`` (a frame with
        ``timestamp``, ``metric``, ``value`` and one column per label).
    ``evaluate_range(expr, start, end, step)``
        Range query on the grid ``start + k*step <= end``; the same frame shape.
    ``time_range()``
        ``(first, last)`` sample times of the data (tz-aware datetimes), or None
        when the source holds no data it can date.

    ``expr`` is a :class:`specanalysis.query.Expr`; times are anything
    :func:`specanalysis._time.to_ms` reads. ``isinstance(x, Source)`` checks
    that the three methods exist.
    """

    def evaluate(self, expr: Any, at: Any) -> pl.DataFrame: ...

    def evaluate_range(self, expr: Any, start: Any, end: Any, step: Any) -> pl.DataFrame: ...

    def time_range(self) -> tuple[datetime, datetime] | None: ...


def as_source(obj: Any, *, field: str = "source") -> Source:
    """``obj`` as a :class:`Source`: itself, or a samples frame in an ``OfflineSource``.

    Raises
    ------
    DataError
        ``obj`` is neither (the error names ``field`` and what was expected).
    """
    if isinstance(obj, Source):
        return obj
    import polars as pl

    if isinstance(obj, pl.DataFrame):
        from specanalysis.sources.offline import OfflineSource

        return OfflineSource(obj)
    raise DataError(f"got {type(obj).__name__}", field=field,
                    expected="a Source (OfflineSource, PrometheusSource: evaluate, "
                    "evaluate_range, time_range) or a samples frame")
