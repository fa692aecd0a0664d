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

The package also runs it by itself the first time anything in it imports
HoloViews or hvplot inside a kernel (``specanalysis._optional.require``), so a
plot made through the package renders offline even where a notebook forgot; a
plot drawn with hvplot directly *before* that still points at a CDN, hence the
explicit call.
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

from specanalysis._display import MAX_ROWS, frame_html, in_kernel, is_setup, setup

__all__ = ["setup", "setup_notebook", "is_setup", "in_kernel", "external_resources",
           "export_html", "frame_html", "MAX_ROWS"]

#: The name the package exports (``sa.setup_notebook()``).
setup_notebook = setup

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

