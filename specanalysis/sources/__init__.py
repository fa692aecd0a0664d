"""Query engines: a live Prometheus and an offline polars engine with the same interface.

Both offer ``evaluate(expr, at)`` and ``evaluate_range(expr, start, end, step)``
and return the same frame for the same data.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "OfflineSource": "specanalysis.sources.offline",
    "PrometheusSource": "specanalysis.sources.prometheus",
}
__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'specanalysis.sources' has no attribute {name!r}")
