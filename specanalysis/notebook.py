"""Notebook setup: plots and widgets that render with no internet access.

By default HoloViews, hvplot and Panel tell the browser to fetch BokehJS, Panel's
JavaScript and its stylesheets from public CDNs. On a network without internet
access (most production networks) every plot is then an empty box, with no
message. :func:`setup` switches all of it to the copies inside the installed
Python packages:

* BokehJS, the HoloViews/Panel models and the comm manager are **inlined** into
  the notebook's first output (so the page, and HTML exported from an executed
  notebook, carries its own JavaScript);
* Panel's stylesheets, which a HoloViews plot references by CDN URL, are
  replaced by their text read from the installed ``panel`` package;
* hvplot's habit of re-importing itself (and re-sending the JavaScript) in
  every cell is turned off, so the bundle is sent once per kernel;
* polars frames display as plain readable tables (:func:`frame_html`): every
  column, strings uncut and unquoted (a PromQL query is not cut), text
  left-aligned and numbers right-aligned with their digits, no shape line and
  no dtype row.

ipywidgets need nothing: JupyterLab serves the widget manager from the
``jupyterlab_widgets`` package it has installed.

Every notebook calls it in the first code cell after its parameters::

    import specanalysis as sa

    sa.setup_notebook()

:mod:`specanalysis.plots` also calls it on its first plot, so a plot made
through the package renders offline even where a notebook forgot.
:func:`external_resources` lists what an executed notebook would still fetch
from the network (the tests hold it empty). :func:`export_html` writes an
executed notebook as one HTML file that opens with no network: the plots carry
their JavaScript, widgets show the static snapshot they publish next to their
live view (the tuning panel's tables), and nbconvert's own require.js and
MathJax links are left out.

Examples
--------
>>> external_resources({"cells": [{"cell_type": "code", "outputs": [
...     {"output_type": "display_data",
...      "data": {"text/html": '<script src="https://cdn.example.org/x.js"></script>'}}]}]})
['https://cdn.example.org/x.js']
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["setup", "setup_notebook", "is_setup", "in_kernel", "external_resources",
           "export_html", "frame_html"]

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

    from specanalysis._optional import require

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


#: The name the package exports (``sa.setup_notebook()``).
setup_notebook = setup

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


_SRC = re.compile(
    r"""(?:<script[^>]*\ssrc|<link[^>]*\shref|@import\s+url\(|"url")\s*[=:(]?\s*["']?"""
    r"""(https?://[^"'\s)\\]+)""",
    re.IGNORECASE,
)


def external_resources(notebook: dict[str, Any] | str) -> list[str]:
    """URLs an executed notebook's outputs would load from the network.

    Looks for ``<script src=...>``, ``<link href=...>``, CSS ``@import url(...)``
    and Bokeh stylesheet models (``"url": "https://..."``) in every output, and
    for JavaScript that loads scripts from a list of ``http(s)`` URLs (Bokeh's
    CDN loader). Links in text (``<a href>``) are not resources and are ignored.

    Parameters
    ----------
    notebook
        The notebook as parsed JSON, or a path to an ``.ipynb`` file.

    Returns
    -------
    list of str
        Distinct URLs, in order of first appearance (empty: renders offline).
    """
    if isinstance(notebook, str):
        with open(notebook, encoding="utf-8") as fh:
            notebook = json.load(fh)
    found: list[str] = []
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []) or []:
            for mime, data in (output.get("data") or {}).items():
                text = data if isinstance(data, str) else json.dumps(data)
                text = text.replace('\\"', '"').replace("\\/", "/")
                urls = [m.group(1) for m in _SRC.finditer(text)]
                if "javascript" in mime or "holoviews_load" in mime:
                    # Bokeh's loader: var js_urls = ["https://cdn.bokeh.org/...js"]
                    for arr in re.finditer(r"(?:js_urls|css_urls|js_modules|js_exports)"
                                           r"\s*=\s*(\[[^\]]*\]|\{[^}]*\})", text):
                        urls += re.findall(r"https?://[^\"'\s,\]}]+", arr.group(1))
                for url in urls:
                    if url not in found:
                        found.append(url)
    return found


_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def export_html(notebook: dict[str, Any] | str, output: str | None = None) -> str:
    """An executed notebook as self-contained HTML that renders with no network.

    Parameters
    ----------
    notebook
        The executed notebook (parsed JSON or an ``.ipynb`` path), e.g. saved
        from JupyterLab or written by ``pytest --nbmake --overwrite``.
    output
        Where to write the HTML (default: return it only).

    Returns
    -------
    str
        The HTML document.

    Notes
    -----
    A widget output that also carries ``text/html`` (the tuning panel does) is
    exported as that HTML: a live widget needs a kernel, and nbconvert would
    otherwise fetch the widget manager from a CDN. require.js and MathJax,
    which nbconvert's template loads from a CDN, are replaced by empty
    ``data:`` scripts (the notebooks' outputs need neither).
    """
    import nbformat
    from nbconvert import HTMLExporter

    if isinstance(notebook, str):
        nb = nbformat.read(notebook, as_version=4)
    else:  # through JSON: nbformat's reader joins multi-line sources
        nb = nbformat.reads(json.dumps(notebook), as_version=4)
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        kept = []
        for out in cell.get("outputs", []) or []:
            data = out.get("data")
            if data is not None and not data:
                continue  # an empty display (Panel publishes one): nothing to show
            if data and _WIDGET_VIEW in data and "text/html" in data:
                del data[_WIDGET_VIEW]
            kept.append(out)
        cell["outputs"] = kept
    nb.metadata.pop("widgets", None)
    exporter = HTMLExporter(require_js_url="data:,", mathjax_url="data:,")
    html, _ = exporter.from_notebook_node(nb)
    if output is not None:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(html)
    return html

