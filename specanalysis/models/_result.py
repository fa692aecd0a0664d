"""What every model result shares: the tidy frame, text and HTML rendering.

A tidy frame has one row per term with ``term`` (String), ``estimate``,
``std_error``, ``ci_low`` and ``ci_high`` (Float64); models may add columns
after these (``unit``, ``note``). Exact (deterministic) quantities carry a
standard error of 0 and an interval of zero width.

Examples
--------
>>> f = tidy_frame([("slope", 2.0, 0.1, 1.8, 2.2)])
>>> f.columns
['term', 'estimate', 'std_error', 'ci_low', 'ci_high']
>>> print(format_tidy(f))  # doctest: +NORMALIZE_WHITESPACE
term   estimate  std_error  ci_low  ci_high
slope  2         0.1        1.8     2.2
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

import polars as pl

__all__ = ["TIDY_COLUMNS", "tidy_frame", "format_tidy", "html_block", "fmt"]

TIDY_COLUMNS = ("term", "estimate", "std_error", "ci_low", "ci_high")


def tidy_frame(rows: Iterable[Sequence[Any]], *, extra: Sequence[str] = ()) -> pl.DataFrame:
    """A tidy frame from ``(term, estimate, std_error, ci_low, ci_high, *extra)`` rows."""
    rows = list(rows)
    cols: dict[str, Any] = {}
    names = list(TIDY_COLUMNS) + list(extra)
    for k, name in enumerate(names):
        values = [r[k] for r in rows]
        if k == 0 or name in ("unit", "note", "regime", "mode", "policy"):
            cols[name] = pl.Series(name, values, dtype=pl.String)
        else:
            cols[name] = pl.Series(name, [_f(v) for v in values], dtype=pl.Float64)
    return pl.DataFrame(cols)


def _f(v: Any) -> float | None:
    if v is None:
        return None
    v = float(v)
    return None if math.isnan(v) else v


def fmt(x: Any, digits: int = 4) -> str:
    """A number with ``digits`` significant digits ('-' for null/NaN)."""
    if x is None:
        return "-"
    if isinstance(x, str):
        return x
    x = float(x)
    if math.isnan(x):
        return "-"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.{digits}g}"


def format_tidy(frame: pl.DataFrame, digits: int = 4) -> str:
    """A tidy frame as an aligned text table."""
    cols = frame.columns
    body = [[fmt(v, digits) if not isinstance(v, str) else v for v in row]
            for row in frame.iter_rows()]
    widths = [max(len(c), *(len(r[k]) for r in body)) if body else len(c)
              for k, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip()
              for r in body]
    return "\n".join(lines)


def html_block(title: str, frame: pl.DataFrame, notes: Iterable[str] = (),
               digits: int = 4) -> str:
    """``<div>`` with a bold title, the frame as a table and a list of notes."""
    head = "".join(f"<th>{escape(c)}</th>" for c in frame.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{escape(fmt(v, digits) if not isinstance(v, str) else v)}"
                         "</td>" for v in row) + "</tr>"
        for row in frame.iter_rows())
    notes = list(notes)
    items = ("<ul>" + "".join(f"<li>{escape(n)}</li>" for n in notes) + "</ul>"
             if notes else "")
    return (f"<div><b>{escape(title)}</b><table><tr>{head}</tr>{rows}</table>"
            f"{items}</div>")
