"""Reading and writing metric samples: exposition text, OpenMetrics, Parquet, API JSON.

``parse_*`` functions take text or bytes, ``read_*`` a path, ``write_*`` a
frame and a path. Everything returns or takes a samples frame
(:mod:`specanalysis.frames`). Benchmark result files (versioned JSON) are
:mod:`specanalysis.io.benchmarks`.

Examples
--------
>>> from specanalysis.io import parse_exposition
>>> parse_exposition("speculation_active_tasks 3 1735689600000\\n")["value"].to_list()
[3.0]
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from specanalysis.io.exposition import (
    format_exposition,
    parse_exposition,
    read_exposition,
    write_openmetrics,
)
from specanalysis.io.parquet import read_samples, write_samples

__all__ = [
    "parse_exposition",
    "read_exposition",
    "format_exposition",
    "write_openmetrics",
    "write_samples",
    "read_samples",
    "parse_query_response",
    "QueryResponse",
]

# names loaded on first use (PEP 562), from modules that may be heavier
_LAZY = {
    "parse_query_response": "specanalysis.io.promapi",
    "QueryResponse": "specanalysis.io.promapi",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'specanalysis.io' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


if TYPE_CHECKING:  # pragma: no cover
    from specanalysis.io.promapi import QueryResponse, parse_query_response  # noqa: F401
