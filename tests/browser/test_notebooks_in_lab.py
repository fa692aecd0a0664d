"""Every notebook in a real JupyterLab in headless Chromium, with no internet access.

For each notebook in ``notebooks/`` (whatever is there: new notebooks are
covered when they land): open it, Run All, and check what a reader would see:

* no cell produced an error;
* every cell that displays a plot shows a rendered Bokeh canvas of non-zero size;
* the page requested nothing from any host but 127.0.0.1 (the JavaScript came
  from the installed packages);
* where the notebook has the tuning panel, moving a slider updates its table.

Screenshots of each notebook, page by page, are written to the screenshot folder
(``build/screenshots/`` unless ``SPECANALYSIS_SCREENSHOTS`` names one).
"""

from __future__ import annotations

import time

import pytest

from .conftest import NOTEBOOKS
from .lab import external_requests

pytestmark = pytest.mark.browser

RUN_TIMEOUT = 900  # s for Run All of one notebook on a loaded 2-core machine

_JS_FIND_CANVASES = """
function canvases(root, out) {
  for (const el of root.querySelectorAll('*')) {
    if (el.tagName === 'CANVAS') out.push(el);
    if (el.shadowRoot) canvases(el.shadowRoot, out);
  }
  return out;
}
"""

_JS_PANEL = """
const app = window.jupyterapp;
if (!app) return null;
const w = app.shell.currentWidget;
if (!w || !w.sessionContext || !w.content || !w.content.model) return null;
"""


def _wait(predicate, timeout: float, what: str, interval: float = 1.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def _kernel_status(driver) -> str | None:
    return driver.execute_script(_JS_PANEL + """
        const s = w.sessionContext.session;
        return s && s.kernel ? s.kernel.status : null;""")


def _cells(driver) -> list[dict]:
    """Every cell: index, type, execution count/state, outputs (type, mime types, text)."""
    return driver.execute_script(_JS_PANEL + """
        const cells = w.content.model.cells, out = [];
        for (let i = 0; i < cells.length; i++) {
          const c = cells.get(i);
          const outputs = c.type === 'code' ? c.outputs.toJSON() : [];
          out.push({index: i, type: c.type,
                    count: c.type === 'code' ? c.executionCount : null,
                    state: c.type === 'code' ? (c.executionState || 'idle') : 'idle',
                    outputs: outputs.map(o => ({
                      type: o.output_type, mimes: Object.keys(o.data || {}),
                      name: o.name || null,
                      ename: o.ename || null, evalue: o.evalue || null,
                      text: (typeof o.text === 'string' ? o.text
                             : Array.isArray(o.text) ? o.text.join('') : '')
                    }))});
        }
        return out;""")


def _done(cells: list[dict]) -> bool:
    code = [c for c in cells if c["type"] == "code"]
    if any(c["state"] == "running" for c in code):
        return False
    errored = any(o["type"] == "error" for c in code for o in c["outputs"])
    return errored or all(c["count"] is not None for c in code)


def _open_and_run(driver, lab, name: str) -> list[dict]:
    driver.get(lab.notebook_url(name))
    _wait(lambda: _kernel_status(driver) == "idle", 240, f"the kernel of {name}")
    driver.execute_script("window.jupyterapp.shell.collapseLeft();")
    driver.execute_script("window.jupyterapp.commands.execute('notebook:run-all-cells');")
    time.sleep(2)

    def finished():
        if _kernel_status(driver) != "idle":
            return None
        cells = _cells(driver)
        return cells if _done(cells) else None

    _wait(finished, RUN_TIMEOUT, f"Run All of {name}", interval=2)
    time.sleep(2)  # let the last outputs render
    return _cells(driver)


def _plot_cells(cells: list[dict]) -> list[int]:
    """Cells that display a HoloViews object (a plot), not just the extension."""
    return [c["index"] for c in cells
            if any("application/vnd.holoviews_exec.v0+json" in o["mimes"]
                   and "text/plain" in o["mimes"] for o in c["outputs"])]


def _canvas_sizes(driver, index: int) -> list[list[float]]:
    return driver.execute_script(_JS_FIND_CANVASES + _JS_PANEL + """
        const node = w.content.widgets[arguments[0]].node;
        node.scrollIntoView({block: 'center'});
        return canvases(node, []).map(c => {
          const r = c.getBoundingClientRect();
          return [c.width, c.height, r.width, r.height];
        });""", index)


def _screenshots(driver, shots, stem: str) -> list:
    """Page through the notebook and save one screenshot per screen."""
    for old in shots.glob(f"{stem}_p*.png"):
        old.unlink()
    height = driver.execute_script(_JS_PANEL + """
        const sc = w.content.node.querySelector('.jp-WindowedPanel-outer') || w.content.node;
        window.__sc = sc; sc.scrollTop = 0; return [sc.scrollHeight, sc.clientHeight];""")
    total, page = height
    paths, top, k = [], 0, 1
    while True:
        driver.execute_script("window.__sc.scrollTop = arguments[0];", top)
        time.sleep(0.7)
        path = shots / f"{stem}_p{k:02d}.png"
        driver.save_screenshot(str(path))
        paths.append(path)
        top += max(page - 80, 200)
        k += 1
        if top >= total - 40 or k > 60:
            break
    return paths


def _panel_cell(driver, cells: list[dict]) -> int | None:
    """The first cell showing a widget with a slider (the tuning panel)."""
    for c in cells:
        if not any("application/vnd.jupyter.widget-view+json" in o["mimes"]
                   for o in c["outputs"]):
            continue
        if driver.execute_script(_JS_PANEL + """
                const node = w.content.widgets[arguments[0]].node;
                return node.querySelectorAll('.widget-slider .noUi-handle').length > 0;""",
                                 c["index"]):
            return c["index"]
    return None


def _move_panel_slider(driver, cells: list[dict]) -> tuple[str, str] | None:
    """Press ArrowRight on the panel's first slider; return its tables before and after."""
    from selenium.webdriver.common.keys import Keys

    index = _panel_cell(driver, cells)
    if index is None:
        return None
    tables_js = _JS_PANEL + """
        const node = w.content.widgets[arguments[0]].node;
        return Array.from(node.querySelectorAll('.widget-html-content table'))
               .map(t => t.innerText).join('\\n----\\n');"""

    def tables():
        return driver.execute_script(tables_js, index)

    before = _wait(tables, 120, "the tuning panel's table")
    driver.execute_script(_JS_PANEL + """
        const node = w.content.widgets[arguments[0]].node;
        node.scrollIntoView({block: 'start'});
        node.querySelector('.widget-slider .noUi-handle').focus();""", index)
    driver.switch_to.active_element.send_keys(Keys.ARROW_RIGHT)
    after = _wait(lambda: (t := tables()) != before and t, 300,
                  "the tuning panel's table to change after moving a slider", interval=2)
    return before, after


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_and_renders_offline(path, lab, browser, shots):
    external_requests(browser)  # drain what earlier pages requested
    cells = _open_and_run(browser, lab, path.name)

    errors = [(c["index"], o["ename"], o["evalue"]) for c in cells
              for o in c["outputs"] if o["type"] == "error"]
    assert not errors, f"{path.name}: cells raised {errors}"
    stderr_tracebacks = [c["index"] for c in cells for o in c["outputs"]
                         if o["type"] == "stream" and o["name"] == "stderr"
                         and "Traceback" in o["text"]]
    assert not stderr_tracebacks, f"{path.name}: tracebacks on stderr in {stderr_tracebacks}"

    plots = _plot_cells(cells)
    for index in plots:
        sizes = _wait(lambda i=index: [s for s in _canvas_sizes(browser, i)
                                       if min(s) > 0] or None,
                      120, f"a rendered Bokeh canvas in cell {index} of {path.name}")
        assert sizes, f"{path.name}: cell {index} shows no plot"

    moved = _move_panel_slider(browser, cells)
    if path.stem.startswith("02-"):
        assert moved is not None, f"{path.name}: no tuning panel with a slider found"
        before, after = moved
        assert before != after

    _screenshots(browser, shots, path.stem)
    ext = external_requests(browser)
    assert not ext, f"{path.name}: the page requested resources from the network: {ext}"
    if path.stem.startswith(("00-", "01-")):
        assert plots, f"{path.name}: expected at least one plot"

    # the same outputs, saved by JupyterLab and exported as HTML, render offline too
    _exported_html_renders(browser, lab, path, shots, n_plots=len(plots),
                           panel=moved is not None)


def _save(driver, lab, name: str) -> dict:
    import json

    driver.execute_script("window.jupyterapp.commands.execute('docmanager:save');")

    def saved():
        try:
            nb = json.loads((lab.root / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        ran = [c for c in nb["cells"] if c["cell_type"] == "code"
               and c.get("execution_count") is not None]
        return nb if ran else None

    return _wait(saved, 60, f"JupyterLab to save {name}")


def _exported_html_renders(driver, lab, path, shots, *, n_plots: int, panel: bool):
    from specanalysis.notebook import export_html

    nb = _save(driver, lab, path.name)
    html_path = shots / f"{path.stem}.html"
    export_html(nb, str(html_path))
    external_requests(driver)
    driver.get(html_path.resolve().as_uri())
    if n_plots:
        def rendered():
            sizes = driver.execute_script(_JS_FIND_CANVASES + """
                return canvases(document, []).filter(c => c.width > 0 && c.height > 0
                    && c.getBoundingClientRect().width > 0).length;""")
            return sizes >= n_plots and sizes
        _wait(rendered, 120, f"the plots of the exported {path.name} to render")
    if panel:
        text = driver.execute_script("return document.body.innerText;")
        assert "Tuning panel" in text and "static snapshot" in text
    time.sleep(1)
    driver.save_screenshot(str(shots / f"{path.stem}_exported.png"))
    ext = external_requests(driver)
    assert not ext, f"exported {path.name} requested resources from the network: {ext}"
