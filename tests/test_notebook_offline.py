"""Notebook outputs render offline: a real kernel, real HoloViews/Panel outputs.

A notebook is executed with nbclient (nbmake's engine). Its first plot is drawn
the way hvplot does by default, before ``setup_notebook()``, and must show the
CDN links (so the scanner is proven to see them); every output after
``setup_notebook()`` must load nothing from the network. The exported HTML of
the same outputs carries no network link either.
"""

from __future__ import annotations

import pytest

from specanalysis.notebook import export_html, external_resources

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("hvplot")

CELLS = [
    # hvplot's default: BokehJS and Panel from public CDNs
    "import polars as pl\nimport hvplot.polars\n"
    "df = pl.DataFrame({'x': [1, 2, 3], 'y': [3.0, 1.0, 2.0]})\ndf.hvplot.line(x='x', y='y')",
    "import specanalysis as sa\nsa.setup_notebook()",
    "from specanalysis import plots\n"
    "src = sa.OfflineSource(sa.load_fixture('baseline'))\n"
    "plots.plot_task_rate(src, step='5m')",
    "plots.plot_memory(src, step='10m')",
    "df.hvplot.scatter(x='x', y='y')",
]


def _loaded_urls(html: str) -> list[str]:
    from html.parser import HTMLParser

    found: list[str] = []

    class Tags(HTMLParser):
        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            url = a.get("src") if tag in ("script", "img", "iframe") else (
                a.get("href") if tag == "link" else None)
            if url and url.startswith(("http://", "https://", "//")):
                found.append(url)

    Tags().feed(html)
    return found


def _plot_outputs(cell) -> list:
    return [o for o in cell.get("outputs", [])
            if "application/vnd.holoviews_exec.v0+json" in o.get("data", {})
            and "text/plain" in o.get("data", {})]


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(
                                         tmp_path_factory.mktemp("nb"))}})
    client.execute()
    return nb


def test_without_setup_the_outputs_load_from_cdns(executed):
    urls = external_resources({"cells": executed.cells[:1]})
    assert any("cdn.bokeh.org" in u for u in urls), urls


def test_after_setup_nothing_loads_from_the_network(executed):
    after = {"cells": executed.cells[1:]}
    assert external_resources(after) == []
    # the extension (BokehJS inlined) is sent once, by the setup cell
    loads = [o for c in executed.cells[1:] for o in c.get("outputs", [])
             if "application/vnd.holoviews_load.v0+json" in o.get("data", {})]
    big = [o for o in loads if len(o["data"]["application/javascript"]) > 1_000_000]
    assert len(big) == 1
    assert executed.cells[1].outputs and big[0] in executed.cells[1].outputs
    for cell in executed.cells[2:]:
        assert _plot_outputs(cell), cell.source


def test_exported_html_has_no_network_links(executed, tmp_path):
    nb = nbformat.from_dict({**executed, "cells": executed.cells[1:]})
    html = export_html(nb, str(tmp_path / "out.html"))
    assert (tmp_path / "out.html").read_text(encoding="utf-8") == html
    # what the page loads: <script src>, <link href> (library code inlined in the
    # scripts may mention URLs it fetches only for features these plots do not use)
    assert _loaded_urls(html) == []
    assert "application/vnd.holoviews_exec" not in html or "Bokeh" in html


def test_scanner_reads_script_link_and_loader_urls():
    out = {"output_type": "display_data", "data": {
        "text/html": '<link rel="stylesheet" href="https://x.org/a.css">'
                     '<a href="https://docs.example.org">docs</a>',
        "application/javascript": 'var js_urls = ["https://cdn.example.org/b.js"];',
    }}
    urls = external_resources({"cells": [{"cell_type": "code", "outputs": [out]}]})
    assert urls == ["https://x.org/a.css", "https://cdn.example.org/b.js"]
