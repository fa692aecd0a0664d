"""Plots, widgets and tables in a Jupyter kernel, with no internet access.

The machinery behind :func:`specanalysis.notebook.setup` (see there), kept in
the bottom layer so that :func:`specanalysis._optional.require` can switch it on
the moment any part of the package first imports HoloViews or hvplot inside a
kernel: every plot the package draws renders offline, whether or not the
notebook called the setup itself.
"""

from __future__ import annotations

from typing import Any

__all__ = ["setup", "ensure", "is_setup", "in_kernel", "frame_html", "MAX_ROWS"]

_DONE = False


def is_setup() -> bool:
    """Whether :func:`setup` has run in this process."""
    return _DONE


def in_kernel() -> bool:
    """Whether this code runs in a Jupyter kernel (where outputs are displayed)."""
    import sys

    if "IPython" not in sys.modules:
        return False
    from IPython import get_ipython

    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def _inline_stylesheets(viewable: Any, root: Any, *_: Any) -> None:
    """Panel preprocessing hook: CDN stylesheet links -> the installed CSS text."""
    from bokeh.models import UIElement
    from panel.io.notebook import patch_inline_stylesheets

    for model in root.select({"type": UIElement}):
        patch_inline_stylesheets(model)


def setup(*, quiet: bool = True) -> None:
    """Render plots and widgets from the installed packages, never from a CDN.

    Call once per kernel, in the first code cell after the parameters; calling
    again is harmless (the JavaScript is sent again, as after a kernel restart).
    Outside IPython it only sets the options (nothing to display).

    Parameters
    ----------
    quiet
        Hide the HoloViews/Panel logos (default).

    Raises
    ------
    MissingDependencyError
        holoviews, hvplot or panel is not installed.
    """
    global _DONE
    import polars as pl

    require = _import

    pl.Config.set_tbl_rows(60)
    pl.Config.set_tbl_cols(-1)
    pl.Config.set_fmt_str_lengths(300)
    pl.Config.set_tbl_hide_dataframe_shape(True)
    pl.Config.set_tbl_hide_column_data_types(True)
    if in_kernel():
        from IPython import get_ipython
        from IPython.display import HTML, display

        html = get_ipython().display_formatter.formatters["text/html"]
        html.for_type(pl.DataFrame, frame_html)
        # JupyterLab right-aligns every table cell; result objects' tables are text
        display(HTML("<style>.jp-RenderedHTMLCommon td, .jp-RenderedHTMLCommon th "
                     "{text-align: left; vertical-align: top;}</style>"))

    hv = require("holoviews")
    pn = require("panel")
    require("hvplot")
    import hvplot

    # class defaults: every later hv.extension() call -- including the one hvplot
    # makes when ``hvplot.polars`` is imported -- inlines its resources
    hv.extension.inline = True
    pn.config.inline = True
    from panel.viewable import Viewable

    if _inline_stylesheets not in Viewable._preprocessing_hooks:
        Viewable._preprocessing_hooks.append(_inline_stylesheets)
    # hvplot drops ``hvplot.<backend>`` from sys.modules before every cell so that
    # re-running an import re-sends the extension; with the JavaScript inlined
    # that would add megabytes to every plot cell, so keep the modules cached
    import sys

    if "hvplot.polars" in sys.modules:
        # imported earlier with CDN resources: send the inline extension now
        hvplot.extension("bokeh", logo=not quiet)
    else:
        require("hvplot.polars")  # registers .hvplot on polars; sends the extension
    module_extensions = getattr(hvplot, "_module_extensions", None)
    if module_extensions is not None:
        module_extensions.clear()
    _DONE = True




_BUSY = False


def _import(module: str) -> Any:
    from specanalysis._optional import require

    return require(module, offline=False)


def ensure() -> None:
    """Run :func:`setup` once, in a kernel only (called before any plotting import)."""
    global _BUSY
    if _DONE or _BUSY or not in_kernel():
        return
    _BUSY = True
    try:
        setup()
    finally:
        _BUSY = False


#: Most rows :func:`frame_html` shows (the first and last half of them beyond).
MAX_ROWS = 200

_TH = ("padding:4px 10px;border-bottom:2px solid #8c959f;text-align:{a};"
       "vertical-align:bottom")
_TD = "padding:3px 10px;border-bottom:1px solid #d0d7de;text-align:{a};vertical-align:top"


def _cell_text(value: Any) -> str:
    import math
    from html import escape

    if value is None:
        return "<span style='color:#8c959f'>null</span>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        if math.isinf(value):
            return "+Inf" if value > 0 else "-Inf"
        if value == int(value) and abs(value) < 1e15:
            return f"{int(value):,}"
        mag = math.floor(math.log10(abs(value)))
        if -4 <= mag < 15:
            return f"{value:,.{max(0, 3 - mag)}f}"  # four significant digits
        return f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    if hasattr(value, "strftime") and hasattr(value, "tzinfo"):
        text = value.strftime("%Y-%m-%d %H:%M:%S")
        return escape(text + (" UTC" if value.tzinfo is not None else ""))
    return escape(str(value))


def frame_html(frame: Any) -> str:
    """A polars frame as a readable HTML table (what notebooks display).

    Text columns are left-aligned and unquoted, numeric columns right-aligned
    with tabular digits and at most four significant digits (integers in full),
    timestamps in UTC; no shape line, no dtype row. Frames longer than
    :data:`MAX_ROWS` show their first and last rows with a count of the rest.

    Examples
    --------
    >>> import polars as pl
    >>> html = frame_html(pl.DataFrame({"name": ["a<b"], "value": [3.14159]}))
    >>> "a&lt;b" in html and "3.142" in html and "&quot;" not in html
    True
    """
    from html import escape

    numeric = {c: frame.schema[c].is_numeric() for c in frame.columns}
    head = "".join(
        f"<th style='{_TH.format(a='right' if numeric[c] else 'left')}'>{escape(c)}</th>"
        for c in frame.columns)
    n = frame.height
    parts = [frame] if n <= MAX_ROWS else [frame.head(MAX_ROWS // 2),
                                            frame.tail(MAX_ROWS // 2)]
    body = []
    for k, part in enumerate(parts):
        if k:
            body.append(f"<tr><td colspan='{len(frame.columns)}' style='{_TD.format(a='left')}"
                        f";color:#57606a'>… {n - MAX_ROWS:,} more rows …</td></tr>")
        for row in part.iter_rows():
            body.append("<tr>" + "".join(
                f"<td style='{_TD.format(a='right' if numeric[c] else 'left')}'>"
                f"{_cell_text(v)}</td>" for c, v in zip(frame.columns, row, strict=True))
                + "</tr>")
    return ("<table style='border-collapse:collapse;font-size:13px;"
            "font-variant-numeric:tabular-nums;margin:4px 0'>"
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")
