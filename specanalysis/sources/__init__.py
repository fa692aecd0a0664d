"""Query engines: a live Prometheus and an offline polars engine with the same interface.

Both satisfy the :class:`~specanalysis.sources._base.Source` protocol
(``evaluate(expr, at)``, ``evaluate_range(expr, start, end, step)``,
``time_range()``) and return the same frame for the same data;
:func:`~specanalysis.sources._base.as_source` is the acceptance check the
loaders use.
"""

from __future__ import annotations

import importlib
from typing import Any

from specanalysis.sources._base import Source, as_source

_LAZY = {
    "OfflineSource": "specanalysis.sources.offline",
    "PrometheusSource": "specanalysis.sources.prometheus",
}
__all__ = ["OfflineSource", "PrometheusSource", "Source", "as_source"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'specanalysis.sources' has no attribute {name!r}")
